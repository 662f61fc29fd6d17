//! The conformance cases, one `async fn` each, run by [`store_conformance!`](crate::store_conformance)
//! or one at a time with [`run_case`](super::run_case):
//!
//! ```
//! use session::MemoryStorage;
//! use session::testing::{cases, run_case};
//!
//! run_case(cases::a_save_racing_a_login_lands_in_the_new_session, MemoryStorage::new);
//! ```

use std::time::Duration;

use super::{Browser, START, manager};
use crate::data::OldId;
use crate::expiry::Expiry;
use crate::id::SessionId;
use crate::manager::Commit;
use crate::store::{SessionStore, Stored};

/// The id a browser's cookie carries.
async fn id_of<S: SessionStore>(
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

/// Two requests that change different keys of one session both land.
pub async fn concurrent_requests_on_different_keys_lose_nothing<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.set("n", 1).expect("set"))
        .await;
    let mut a = browser.load(&sessions).await;
    let mut b = browser.load(&sessions).await;
    a.set("a", 1).expect("set");
    b.set("b", 2).expect("set");
    b.remove("n").expect("remove");
    let _ = sessions.commit(&a).await.expect("commit");
    let _ = sessions.commit(&b).await.expect("commit");
    let merged = browser.load(&sessions).await;
    assert_eq!(merged.get::<i32>("a").expect("a number"), Some(1));
    assert_eq!(merged.get::<i32>("b").expect("a number"), Some(2));
    assert_eq!(merged.get::<i32>("n").expect("a number"), None);
}

/// Two requests that change the same key: the last save wins.
pub async fn on_the_same_key_the_last_save_wins<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.set("n", "first").expect("set"))
        .await;
    let mut a = browser.load(&sessions).await;
    let mut b = browser.load(&sessions).await;
    b.set("n", "b").expect("set");
    a.set("n", "a").expect("set");
    let _ = sessions.commit(&b).await.expect("commit");
    let _ = sessions.commit(&a).await.expect("commit");
    let merged = browser.load(&sessions).await;
    assert_eq!(
        merged.get::<String>("n").expect("a string").as_deref(),
        Some("a")
    );
}

/// A request that saw a flash consumes it, even when a concurrent request saves afterwards
/// (remix-run/remix#5647).
pub async fn concurrent_loaders_do_not_resurrect_consumed_flash<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.flash("m", "hi").expect("flash"))
        .await;
    let a = browser.load(&sessions).await;
    let mut b = browser.load(&sessions).await;
    b.set("other", 1).expect("set");
    let _ = sessions.commit(&a).await.expect("commit");
    let _ = sessions.commit(&b).await.expect("commit");
    let after = browser.load(&sessions).await;
    assert_eq!(after.get::<String>("m").expect("a string"), None);
    assert_eq!(after.get::<i32>("other").expect("a number"), Some(1));
}

/// Consuming a flash removes it only while it holds the value that was read.
pub async fn a_newer_flash_survives_the_consumption_of_an_older_one<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.flash("m", "old").expect("flash"))
        .await;
    let consumer = browser.load(&sessions).await;
    let mut producer = browser.load(&sessions).await;
    producer.flash("m", "new").expect("flash");
    let _ = sessions.commit(&producer).await.expect("commit");
    let _ = sessions.commit(&consumer).await.expect("commit");
    let next = browser.load(&sessions).await;
    assert_eq!(
        next.get::<String>("m").expect("a string").as_deref(),
        Some("new")
    );
}

/// An id drawn for a new or regenerated session that turns out to be taken (planted here
/// through adoption) is replaced, never merged into the stored session (checklist G3).
pub async fn a_generated_id_never_overwrites_a_stored_session<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(&store, expiry);
    let (adopting, _) = manager(&store, expiry);
    let adopting = adopting.adopt_unknown_ids();
    for regenerate in [false, true] {
        let mut browser = Browser::default();
        let mut session = if regenerate {
            browser.count(&sessions).await;
            let mut session = browser.load(&sessions).await;
            session.regenerate_id(OldId::Delete).expect("regenerate");
            session
        } else {
            browser.load(&sessions).await
        };
        let taken = session.id().clone();
        let mut victim = Browser::holding(taken.as_str());
        let _ = victim
            .request(&adopting, |s| s.set("owner", "victim").expect("set"))
            .await;
        session.set("owner", "intruder").expect("set");
        let _ = browser.commit(&sessions, &session).await;
        let saved = browser.load(&sessions).await;
        assert_ne!(saved.id(), &taken, "a new id was drawn");
        assert_eq!(
            saved.get::<String>("owner").expect("a string").as_deref(),
            Some("intruder")
        );
        let victim = victim.load(&sessions).await;
        assert_eq!(
            victim.get::<String>("owner").expect("a string").as_deref(),
            Some("victim")
        );
        assert_eq!(victim.values().len(), 1, "nothing merged into the victim");
    }
}

/// Request A logs in (regenerates, deleting the old id); request B loaded the session before
/// A saved and saves after it. B's changes land in the new session, B's response sends no
/// `Set-Cookie` (it neither logs the browser out nor hands the new id to a holder of the old
/// one), and the old cookie stays revoked.
pub async fn a_save_racing_a_login_lands_in_the_new_session<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    for b_regenerates in [false, true] {
        let mut browser = Browser::default();
        browser.count(&sessions).await;
        let old = browser.clone();
        let mut login = browser.load(&sessions).await;
        let mut other = browser.load(&sessions).await;
        login.regenerate_id(OldId::Delete).expect("regenerate");
        login.set("user", "ada").expect("set");
        assert!(matches!(
            browser.commit(&sessions, &login).await,
            Commit::Set(_)
        ));
        other.set("count", 2).expect("set");
        other.flash("notice", "counted").expect("flash");
        if b_regenerates {
            other.regenerate_id(OldId::Delete).expect("regenerate");
        }
        let commit = sessions.commit(&other).await.expect("commit");
        assert_eq!(
            commit,
            Commit::Forwarded,
            "B follows the forward, sends nothing"
        );
        let after = browser.load(&sessions).await;
        assert_eq!(
            after.id(),
            login.id(),
            "the browser keeps the login's cookie"
        );
        assert_eq!(
            after.get::<String>("user").expect("a string").as_deref(),
            Some("ada")
        );
        assert_eq!(
            after.get::<u64>("count").expect("a number"),
            Some(2),
            "B's change landed"
        );
        assert_eq!(
            after.get::<String>("notice").expect("a string").as_deref(),
            Some("counted")
        );
        assert!(
            old.load(&sessions).await.is_empty(),
            "the old cookie stays revoked"
        );
    }
}

/// Whoever holds the old id of a regenerated session gets a new, empty session: the forward
/// only serves saves of requests that loaded the session before it moved. A destroy through
/// the old id clears that cookie and leaves the moved session alone.
pub async fn a_forward_is_never_served<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut old = browser.clone();
    let old_id = id_of(&old, &sessions).await;
    let _ = browser
        .request(&sessions, |s| {
            s.regenerate_id(OldId::Delete).expect("regenerate");
        })
        .await;
    assert!(matches!(
        sessions.storage().load(&old_id).await.expect("load"),
        Some(Stored::Forward { .. }) | None
    ));
    let session = old.load(&sessions).await;
    assert_ne!(session.id(), &old_id);
    assert!(session.is_empty());
    assert_eq!(
        old.count(&sessions).await,
        1,
        "a new session, not the moved one"
    );
    let mut stale = Browser::holding(old_id.as_str());
    let ((), commit) = stale
        .request(&sessions, super::super::data::Session::destroy)
        .await;
    assert!(
        matches!(commit, Commit::Cleared(_)),
        "the stale cookie is cleared: {commit:?}"
    );
    assert_eq!(
        browser.count(&sessions).await,
        2,
        "the moved session is intact"
    );
}

/// With the grace window off, a save racing a login finds the old record gone: nothing is
/// written and its cookie is cleared, as for a destroyed session.
pub async fn without_a_grace_window_a_save_racing_a_login_is_interrupted<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let sessions = sessions.with_regeneration_grace(Duration::ZERO);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut login = browser.load(&sessions).await;
    let mut other = browser.load(&sessions).await;
    login.regenerate_id(OldId::Delete).expect("regenerate");
    let _ = browser.commit(&sessions, &login).await;
    other.set("count", 5).expect("set");
    let commit = sessions.commit(&other).await.expect("commit");
    assert!(matches!(commit, Commit::Interrupted(_)), "{commit:?}");
    assert_eq!(
        browser.count(&sessions).await,
        2,
        "the login's session is untouched"
    );
}

/// Under an idle timeout, a session idle for longer is not served, and its record is deleted.
pub async fn an_expired_session_is_not_served_and_is_deleted<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let Some(idle) = expiry.idle_timeout() else {
        return;
    };
    let (sessions, clock) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let id = id_of(&browser, &sessions).await;
    clock.set(START + idle.as_secs() + 1);
    assert!(browser.load(&sessions).await.is_empty());
    assert!(
        sessions.storage().load(&id).await.expect("load").is_none(),
        "deleted when met"
    );
}

/// More keys than one Redis script call can unpack at once survive every kind of write.
pub async fn thousands_of_keys_survive_a_save_an_update_and_a_regeneration<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    const KEYS: usize = 5_000;
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| {
            for key in 0..KEYS {
                s.set(&format!("k{key}"), key).expect("set");
                s.flash(&format!("f{key}"), key).expect("flash");
            }
        })
        .await;
    let mut session = browser.load(&sessions).await;
    assert_eq!(session.len(), 2 * KEYS, "the values and the flash");
    assert_eq!(
        session.get::<usize>("f4999").expect("a number"),
        Some(4_999)
    );
    for key in 0..KEYS {
        if key % 2 == 0 {
            session.remove(&format!("k{key}")).expect("remove");
        } else {
            session.set(&format!("k{key}"), key * 2).expect("set");
        }
    }
    session.regenerate_id(OldId::Delete).expect("regenerate");
    let _ = browser.commit(&sessions, &session).await;
    let session = browser.load(&sessions).await;
    assert_eq!(session.len(), KEYS / 2);
    assert_eq!(
        session.get::<usize>("k4999").expect("a number"),
        Some(9_998)
    );
    assert_eq!(session.get::<usize>("k0").expect("a number"), None);
    assert_eq!(
        session.get::<usize>("f1").expect("a number"),
        None,
        "the flash was consumed"
    );
}
