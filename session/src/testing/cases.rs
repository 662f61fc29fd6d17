//! The conformance cases, one `async fn` each, run by [`store_conformance!`](crate::store_conformance)
//! or one at a time with [`run_case`](super::run_case):
//!
//! ```
//! use session::MemoryStorage;
//! use session::testing::{cases, run_case};
//!
//! run_case(cases::a_save_racing_a_login_lands_in_the_new_session, MemoryStorage::new);
//! ```

use super::{Browser, START, manager};
use crate::data::OldId;
use crate::expiry::Expiry;
use crate::id::SessionId;
use crate::manager::Commit;
use crate::store::SessionStore;

mod concurrency;
mod owners;

pub use concurrency::*;
pub use owners::*;

/// The id a browser's cookie carries.
pub(super) async fn id_of<S: SessionStore>(
    browser: &Browser,
    sessions: &crate::SessionManager<S>,
) -> SessionId {
    browser.load(sessions).await.id().clone()
}

/// Values set in one request are there in the next, and the next.
pub async fn persists_session_data_across_requests<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    assert_eq!(browser.count(&sessions).await, 1);
    assert_eq!(browser.count(&sessions).await, 2);
    assert_eq!(browser.count(&sessions).await, 3);
}

/// A request that only reads sends no `Set-Cookie` (before half the idle window).
pub async fn read_only_requests_write_nothing<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let ((), commit) = browser.request(&sessions, |_| ()).await;
    assert_eq!(commit, Commit::Unchanged, "an untouched new session");
    browser.count(&sessions).await;
    let (seen, commit) = browser
        .request(&sessions, |s| s.get::<u64>("count").expect("a number"))
        .await;
    assert_eq!(seen, Some(1));
    assert_eq!(commit, Commit::Unchanged, "a read-only request");
}

/// Flash set in one request is readable in the next one only, and consuming it writes.
pub async fn flash_is_readable_on_exactly_the_next_request<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let (seen, _) = browser
        .request(&sessions, |s| {
            s.flash("message", "saved").expect("flash");
            s.get::<String>("message").expect("a string")
        })
        .await;
    assert_eq!(seen, None, "not visible in the request that set it");
    let read = |s: &mut crate::Session| s.get::<String>("message").expect("a string");
    let (seen, commit) = browser.request(&sessions, read).await;
    assert_eq!(seen.as_deref(), Some("saved"));
    assert!(matches!(commit, Commit::Set(_)), "consuming flash writes");
    let (seen, commit) = browser.request(&sessions, read).await;
    assert_eq!(seen, None);
    assert_eq!(commit, Commit::Unchanged);
}

/// Destroying clears the cookie, deletes the record, and a copy of the old cookie then gets a
/// new, empty session.
pub async fn destroy_clears_the_cookie_and_revokes_it<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let id = id_of(&browser, &sessions).await;
    let mut replay = browser.clone();
    let ((), commit) = browser
        .request(&sessions, super::super::data::Session::destroy)
        .await;
    assert!(matches!(commit, Commit::Cleared(_)), "{commit:?}");
    assert_eq!(browser.jar, None);
    assert!(sessions.storage().load(&id).await.expect("load").is_none());
    assert_eq!(
        replay.count(&sessions).await,
        1,
        "the old cookie is revoked"
    );
    let ((), commit) = Browser::default()
        .request(&sessions, super::super::data::Session::destroy)
        .await;
    assert_eq!(
        commit,
        Commit::Unchanged,
        "nothing to clear without a cookie"
    );
}

/// A save that loaded the session before another request destroyed it writes nothing and
/// clears its cookie (rack CVE-2025-46336), for a plain write and for a regeneration.
pub async fn a_late_save_does_not_resurrect_a_destroyed_session<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    for old in [None, Some(OldId::Keep), Some(OldId::Delete)] {
        let mut browser = Browser::default();
        browser.count(&sessions).await;
        let id = id_of(&browser, &sessions).await;
        let mut slow = browser.load(&sessions).await;
        let mut logout = browser.load(&sessions).await;
        logout.destroy();
        assert!(matches!(
            sessions.commit(&logout).await.expect("commit"),
            Commit::Cleared(_)
        ));
        match old {
            Some(old) => slow.regenerate_id(old).expect("regenerate"),
            None => slow.set("late", true).expect("set"),
        }
        let commit = sessions.commit(&slow).await.expect("commit");
        assert!(
            matches!(commit, Commit::Interrupted(_)),
            "{old:?}: {commit:?}"
        );
        assert!(sessions.storage().load(&id).await.expect("load").is_none());
        assert!(
            sessions
                .storage()
                .load(slow.id())
                .await
                .expect("load")
                .is_none()
        );
    }
}

/// Regenerating with [`OldId::Keep`] moves the data to a new id and leaves the old record.
pub async fn regeneration_keeping_the_old_id_leaves_both<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut old = browser.clone();
    let _ = browser
        .request(&sessions, |s| {
            s.regenerate_id(OldId::Keep).expect("regenerate");
        })
        .await;
    assert_ne!(browser.jar, old.jar);
    assert_eq!(browser.count(&sessions).await, 2);
    assert_eq!(old.count(&sessions).await, 2);
}

/// Regenerating with [`OldId::Delete`] (twice, even) moves the data and revokes the old id.
pub async fn regeneration_deleting_the_old_id_revokes_it<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut old = browser.clone();
    let _ = browser
        .request(&sessions, |s| {
            s.regenerate_id(OldId::Delete).expect("regenerate");
            s.regenerate_id(OldId::Keep).expect("regenerate");
        })
        .await;
    assert_eq!(
        browser.count(&sessions).await,
        2,
        "the data follows the new id"
    );
    assert_eq!(
        old.count(&sessions).await,
        1,
        "the old cookie gets a new session"
    );
}

/// A well-formed id the store does not hold is replaced by a new one, unless the manager
/// adopts unknown ids; a malformed id is never adopted.
pub async fn unknown_ids_are_replaced_unless_adopted<S: SessionStore>(store: S, expiry: Expiry) {
    let (strict, _) = manager(&store, expiry);
    let (adopting, _) = manager(&store, expiry);
    let adopting = adopting.adopt_unknown_ids();
    let unknown = "unknown-but-well-formed-session-id";
    let session = Browser::holding(unknown).load(&strict).await;
    assert_ne!(session.id().as_str(), unknown);
    assert!(session.is_empty());
    let mut browser = Browser::holding(unknown);
    assert_eq!(id_of(&browser, &adopting).await.as_str(), unknown);
    browser.count(&adopting).await;
    assert_eq!(
        id_of(&browser, &adopting).await.as_str(),
        unknown,
        "saved under it"
    );
    for bad in ["short", "../../etc/passwd", "a b c d e f g h i j k l m"] {
        let session = Browser::holding(bad).load(&adopting).await;
        assert_ne!(session.id().as_str(), bad);
    }
}

/// Loading, even with adoption on, stores nothing: what was never saved cannot be loaded.
pub async fn a_load_never_creates_a_record<S: SessionStore>(store: S, expiry: Expiry) {
    let (adopting, _) = manager(&store, expiry);
    let adopting = adopting.adopt_unknown_ids();
    let id = "loaded-but-never-saved-session-id";
    let session = Browser::holding(id).load(&adopting).await;
    assert_eq!(session.id().as_str(), id);
    let fresh = Browser::default().load(&adopting).await;
    let parsed: SessionId = id.parse().expect("a valid id");
    assert!(store.load(&parsed).await.expect("load").is_none());
    assert!(store.load(fresh.id()).await.expect("load").is_none());
}

/// A clock stepped back (or an instance whose clock lags the one that wrote the record)
/// deletes nothing: written at T, the session loads intact at T − 120 s, is written there,
/// and loads intact at T again. Only servers write the timestamps, so they are trusted.
pub async fn a_clock_step_back_deletes_nothing<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, clock) = manager(store, expiry);
    let mut browser = Browser::default();
    assert_eq!(browser.count(&sessions).await, 1);
    let id = id_of(&browser, &sessions).await;
    clock.set(START - 120);
    let lagging = browser.clone();
    let session = lagging.load(&sessions).await;
    assert_eq!(session.get::<u64>("count").expect("a number"), Some(1));
    assert!(sessions.storage().load(&id).await.expect("load").is_some());
    assert_eq!(
        browser.count(&sessions).await,
        2,
        "written by the lagging clock"
    );
    clock.set(START);
    assert_eq!(
        browser.count(&sessions).await,
        3,
        "intact when the clock is back"
    );
    assert!(sessions.storage().load(&id).await.expect("load").is_some());
}

/// A value nested [`Session::MAX_DEPTH`](crate::Session::MAX_DEPTH) levels deep, as a value
/// and as a flash, reads back from the store: what `set` accepts, every store keeps.
pub async fn the_deepest_value_allowed_reads_back<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut deep = serde_json::json!("bottom");
    for _ in 0..crate::Session::MAX_DEPTH {
        deep = serde_json::Value::Array(vec![deep]);
    }
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| {
            s.set("deep", &deep).expect("set at the limit");
            s.flash("flash", &deep).expect("flash at the limit");
        })
        .await;
    let session = browser.load(&sessions).await;
    let read = |json: Option<&crate::Json>| json.map(|json| json.to_value().expect("decodes"));
    assert_eq!(read(session.value("deep")), Some(deep.clone()));
    assert_eq!(read(session.incoming_flash().get("flash")), Some(deep));
}
