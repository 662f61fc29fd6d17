//! The cases where requests overlap: merges per key, flash consumed once, a drawn id that is
//! taken, and the races around a login (regeneration) and a logout.

use std::time::Duration;

use super::super::{Browser, START, manager};
use super::id_of;
use crate::data::OldId;
use crate::expiry::Expiry;
use crate::manager::Commit;
use crate::store::{SessionStore, Stored};

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
        .request(&sessions, crate::data::Session::destroy)
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

/// A user switch: request A loads the session and starts it over (a login as someone else)
/// while request C, which loaded it too, stores a key A never saw, and request B, loaded
/// before A saved, saves after. The new session holds only what A set after starting over;
/// B's changes are dropped with no `Set-Cookie`, so the browser keeps A's cookie; the old
/// cookie loads a fresh session.
pub async fn starting_over_carries_nothing_and_a_late_save_is_dropped<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.set("user", "ada").expect("set"))
        .await;
    let old = browser.clone();
    let mut switch = browser.load(&sessions).await;
    let mut late = browser.load(&sessions).await;
    let mut unseen = browser.clone();
    let _ = unseen
        .request(&sessions, |s| s.set("cart", [1, 2, 3]).expect("set"))
        .await;
    switch.start_over().expect("start over");
    switch.set("user", "grace").expect("set");
    assert!(matches!(
        browser.commit(&sessions, &switch).await,
        Commit::Set(_)
    ));
    late.set("count", 7).expect("set");
    let commit = sessions.commit(&late).await.expect("commit");
    assert_eq!(commit, Commit::Superseded, "dropped, and no cookie");
    let after = browser.load(&sessions).await;
    assert_eq!(after.id(), switch.id(), "the browser keeps the new cookie");
    assert_eq!(
        after.values().len(),
        1,
        "only what the switch set: {:?}",
        after.values()
    );
    assert_eq!(
        after.get::<String>("user").expect("a string").as_deref(),
        Some("grace")
    );
    assert!(
        old.load(&sessions).await.is_empty(),
        "the old cookie is revoked"
    );
    assert!(
        matches!(
            sessions.storage().load(switch.id()).await.expect("load"),
            Some(Stored::Record { .. })
        ),
        "the new session is stored"
    );
}

/// The session's [`Lifetime`](crate::expiry::Lifetime) is kept with it, and only a request
/// that changed it writes it: a save that loaded the session before a "remember me" login
/// (which regenerates the id) lands in the new session and keeps the login's lifetime, which
/// then sets the record's deadline. Without a timeout the month becomes the idle timeout.
pub async fn the_lifetime_is_kept_and_a_racing_save_keeps_the_login_s<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    use crate::expiry::Lifetime;
    use std::time::Duration;
    let month = Lifetime::Persistent(Duration::from_hours(30 * 24));
    let (sessions, clock) = manager(store, expiry);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut login = browser.load(&sessions).await;
    let mut other = browser.load(&sessions).await;
    login.regenerate_id(OldId::Delete).expect("regenerate");
    login.set_lifetime(month).expect("a lifetime");
    let _ = browser.commit(&sessions, &login).await;
    other.set("count", 2).expect("set");
    let _ = sessions.commit(&other).await.expect("commit");
    let after = browser.load(&sessions).await;
    assert_eq!(
        after.lifetime(),
        month,
        "the racing save kept the login's lifetime"
    );
    assert_eq!(after.get::<u64>("count").expect("a number"), Some(2));
    // Past the policy's idle timeout, inside the month: still there.
    clock.advance(Duration::from_hours(20 * 24));
    let later = browser.load(&sessions).await;
    assert_eq!(later.get::<u64>("count").expect("a number"), Some(2));
    // Back to the policy: written, and read back.
    let ((), _) = browser
        .request(&sessions, |s| {
            s.set_lifetime(Lifetime::Policy).expect("a lifetime");
        })
        .await;
    assert_eq!(browser.load(&sessions).await.lifetime(), Lifetime::Policy);
}
