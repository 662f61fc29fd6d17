//! The cases of sessions per owner: the index a store keeps follows every write (logins,
//! regenerations, owner changes, destroy, expiry), ending sessions is final, and the owner
//! limit holds, even for logins that race past it and endings that race a save.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use super::super::{Browser, START, manager};
use super::id_of;
use crate::data::OldId;
use crate::error::Error;
use crate::expiry::Expiry;
use crate::manager::{Commit, SessionManager};
use crate::owner::{OwnedSession, OwnerLimit};
use crate::store::SessionStore;

impl Browser {
    /// A login as `owner` on a device named `label`: a new id, the old one revoked.
    async fn log_in<S: SessionStore>(
        &mut self,
        sessions: &SessionManager<S>,
        owner: &str,
        label: &str,
    ) -> Commit {
        self.request(sessions, |session| {
            session.regenerate_id(OldId::Delete).expect("regenerate");
            session.set_owner(owner).expect("an owner");
            session.set_label(label).expect("a label");
            session.set("user", owner).expect("set");
        })
        .await
        .1
    }

    /// Whom this browser's session belongs to, as its next request sees it.
    async fn owner<S: SessionStore>(&self, sessions: &SessionManager<S>) -> Option<String> {
        let session = self.load(sessions).await;
        session.owner().map(|owner| owner.as_str().to_owned())
    }
}

/// `owner`'s sessions as the manager lists them.
async fn listed<S: SessionStore>(sessions: &SessionManager<S>, owner: &str) -> Vec<OwnedSession> {
    sessions
        .owner_sessions(owner, None)
        .await
        .expect("the store lists an owner's sessions")
}

/// The labels of `owner`'s sessions, sorted.
async fn labels<S: SessionStore>(sessions: &SessionManager<S>, owner: &str) -> Vec<String> {
    let mut labels: Vec<String> = listed(sessions, owner)
        .await
        .into_iter()
        .map(|entry| {
            entry
                .label
                .map(|label| label.to_string())
                .unwrap_or_default()
        })
        .collect();
    labels.sort();
    labels
}

/// An owner's sessions are listed with their label, creation and last use and lifetime, and
/// nobody else's; the current one is marked; a handle is neither the id nor in the cookie.
pub async fn an_owner_lists_its_sessions_and_nobody_else_s<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, clock) = manager(store, expiry);
    let (mut laptop, mut phone, mut other) =
        (Browser::default(), Browser::default(), Browser::default());
    for (browser, owner, label) in [
        (&mut laptop, "ada", "Laptop"),
        (&mut phone, "ada", "Phone"),
        (&mut other, "grace", "Desktop"),
    ] {
        browser.count(&sessions).await;
        clock.advance(Duration::from_secs(10));
        assert!(matches!(
            browser.log_in(&sessions, owner, label).await,
            Commit::Set(_)
        ));
    }
    Browser::default().count(&sessions).await;
    assert_eq!(labels(&sessions, "ada").await, ["Laptop", "Phone"]);
    assert_eq!(labels(&sessions, "grace").await, ["Desktop"]);
    assert!(listed(&sessions, "nobody").await.is_empty());

    clock.advance(Duration::from_secs(5));
    laptop.count(&sessions).await;
    let current = laptop.load(&sessions).await;
    let ada = sessions
        .owner_sessions("ada", Some(&current))
        .await
        .expect("the store lists");
    assert_eq!(ada.len(), 2);
    assert!(ada[0].current && !ada[1].current, "the current one first");
    assert_eq!(
        ada[0].label.as_ref().map(crate::owner::Label::as_str),
        Some("Laptop")
    );
    assert_eq!(ada[0].created, START, "a login keeps the creation time");
    assert_eq!(ada[0].last_seen, START + 35);
    assert_eq!(ada[1].last_seen, START + 20);
    let cookie = laptop.jar.clone().expect("a cookie");
    for entry in &ada {
        assert!(!cookie.contains(entry.handle.as_str()));
        assert_ne!(entry.handle.as_str(), current.id().as_str());
    }
}

/// A session ended by its handle is final: its next request gets a new, empty session, a save
/// it had under way is interrupted, and the handle then ends nothing. Another owner's handle
/// ends nothing.
pub async fn ending_one_session_by_its_handle_is_final<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let (mut laptop, mut phone, mut other) =
        (Browser::default(), Browser::default(), Browser::default());
    let _ = laptop.log_in(&sessions, "ada", "Laptop").await;
    let _ = phone.log_in(&sessions, "ada", "Phone").await;
    let _ = other.log_in(&sessions, "grace", "Desktop").await;
    let mut in_flight = phone.load(&sessions).await;

    let ada = listed(&sessions, "ada").await;
    let phone_handle = ada
        .iter()
        .find(|entry| entry.label.as_ref().is_some_and(|l| l.as_str() == "Phone"))
        .expect("the phone is listed")
        .handle
        .clone();
    let grace_handle = listed(&sessions, "grace").await[0].handle.clone();
    assert!(
        !sessions
            .end_owner_session("ada", &grace_handle)
            .await
            .expect("end"),
        "another owner's handle"
    );
    assert!(
        sessions
            .end_owner_session("ada", &phone_handle)
            .await
            .expect("end")
    );
    assert!(
        !sessions
            .end_owner_session("ada", &phone_handle)
            .await
            .expect("end")
    );
    assert_eq!(labels(&sessions, "ada").await, ["Laptop"]);
    assert_eq!(labels(&sessions, "grace").await, ["Desktop"]);

    in_flight.set("late", true).expect("set");
    let commit = sessions.commit(&in_flight).await.expect("commit");
    assert!(matches!(commit, Commit::Interrupted(_)), "{commit:?}");
    assert_eq!(phone.owner(&sessions).await, None);
    assert!(phone.load(&sessions).await.is_empty());
    assert_eq!(laptop.owner(&sessions).await.as_deref(), Some("ada"));
}

/// "Log out all other devices" ends every session of the owner but the current one.
pub async fn ending_the_others_keeps_the_current_one<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let mut browsers: Vec<Browser> = vec![Browser::default(); 4];
    for (n, browser) in browsers.iter_mut().enumerate() {
        let _ = browser
            .log_in(&sessions, "ada", &format!("device {n}"))
            .await;
    }
    let mut other = Browser::default();
    let _ = other.log_in(&sessions, "grace", "Desktop").await;
    let current = browsers[2].load(&sessions).await;
    assert_eq!(sessions.end_other_sessions(&current).await.expect("end"), 3);
    assert_eq!(labels(&sessions, "ada").await, ["device 2"]);
    for (n, browser) in browsers.iter().enumerate() {
        let expected = (n == 2).then(|| "ada".to_owned());
        assert_eq!(browser.owner(&sessions).await, expected, "device {n}");
    }
    assert_eq!(other.owner(&sessions).await.as_deref(), Some("grace"));
    let anonymous = Browser::default().load(&sessions).await;
    assert_eq!(
        sessions.end_other_sessions(&anonymous).await.expect("end"),
        0
    );
}

/// "Log out everywhere" ends every session of the owner, including one that a login moved to
/// a new id just before and one whose request saves just after: that save finds it gone.
pub async fn ending_all_is_final_even_for_a_save_under_way<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    let (mut laptop, mut phone, mut tablet) =
        (Browser::default(), Browser::default(), Browser::default());
    let _ = laptop.log_in(&sessions, "ada", "Laptop").await;
    let _ = phone.log_in(&sessions, "ada", "Phone").await;
    let _ = tablet.log_in(&sessions, "ada", "Tablet").await;
    // The tablet logs in again: a new id, the old one a forward.
    let _ = tablet.log_in(&sessions, "ada", "Tablet").await;
    let mut saving = laptop.load(&sessions).await;
    let mut regenerating = phone.load(&sessions).await;

    assert_eq!(sessions.end_owner_sessions("ada").await.expect("end"), 3);
    assert!(listed(&sessions, "ada").await.is_empty());

    saving.set("late", true).expect("set");
    regenerating
        .regenerate_id(OldId::Delete)
        .expect("regenerate");
    for late in [&saving, &regenerating] {
        let commit = sessions.commit(late).await.expect("commit");
        assert!(matches!(commit, Commit::Interrupted(_)), "{commit:?}");
    }
    assert!(listed(&sessions, "ada").await.is_empty());
    for browser in [&laptop, &phone, &tablet] {
        assert_eq!(browser.owner(&sessions).await, None);
    }
    assert_eq!(sessions.end_owner_sessions("ada").await.expect("end"), 0);
}

/// The index follows the session: a regeneration lists it once under its new id (a new
/// handle), an owner change moves it, clearing the owner takes it out, and destroy and
/// expiry end it.
pub async fn the_owner_index_follows_every_write<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, clock) = manager(store, expiry);
    let mut browser = Browser::default();
    let _ = browser.log_in(&sessions, "ada", "Laptop").await;
    let before = listed(&sessions, "ada").await;
    for old in [OldId::Keep, OldId::Delete] {
        let _ = browser
            .request(&sessions, |s| s.regenerate_id(old).expect("regenerate"))
            .await;
    }
    let after = listed(&sessions, "ada").await;
    // `Keep` left a copy of the old record, which is still the owner's.
    let kept = 1;
    assert_eq!(after.len(), 1 + kept, "{after:?}");
    let moved = after
        .iter()
        .filter(|entry| entry.handle != before[0].handle);
    assert_eq!(moved.count(), 1, "the regenerated session has a new handle");

    let _ = browser
        .request(&sessions, |s| s.set_owner("grace").expect("owner"))
        .await;
    assert_eq!(listed(&sessions, "ada").await.len(), kept);
    assert_eq!(labels(&sessions, "grace").await, ["Laptop"]);
    let _ = browser
        .request(&sessions, |s| s.clear_owner().expect("clear"))
        .await;
    assert!(listed(&sessions, "grace").await.is_empty());
    assert_eq!(browser.owner(&sessions).await, None);

    let _ = browser.log_in(&sessions, "grace", "Laptop").await;
    assert_eq!(listed(&sessions, "grace").await.len(), 1);
    let _ = browser.request(&sessions, crate::Session::destroy).await;
    assert!(listed(&sessions, "grace").await.is_empty());

    let _ = browser.log_in(&sessions, "grace", "Laptop").await;
    if let Some(idle) = expiry.idle_timeout() {
        clock.advance(idle + Duration::from_secs(1));
        assert!(listed(&sessions, "grace").await.is_empty(), "expired");
        assert_eq!(browser.owner(&sessions).await, None);
        assert_eq!(sessions.end_owner_sessions("grace").await.expect("end"), 0);
    }
}

/// A request that loaded the session before the login and saves after it keeps the login's
/// owner, with and without a regeneration in between.
pub async fn a_late_save_keeps_the_login_s_owner<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    for regenerate in [false, true] {
        let mut browser = Browser::default();
        browser.count(&sessions).await;
        let mut late = browser.load(&sessions).await;
        let _ = browser
            .request(&sessions, |s| {
                if regenerate {
                    s.regenerate_id(OldId::Delete).expect("regenerate");
                }
                s.set_owner("ada").expect("owner");
            })
            .await;
        late.set("late", true).expect("set");
        let _ = sessions.commit(&late).await.expect("commit");
        let session = browser.load(&sessions).await;
        assert_eq!(
            session.owner().map(crate::owner::Owner::as_str),
            Some("ada")
        );
        assert_eq!(session.get::<bool>("late").expect("a bool"), Some(true));
        assert_eq!(listed(&sessions, "ada").await.len(), 1, "{regenerate}");
        assert_eq!(sessions.end_owner_sessions("ada").await.expect("end"), 1);
    }
}

/// Past the limit, a login ends the owner's least recently used session.
pub async fn the_owner_limit_ends_the_least_recently_used<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, clock) = manager(store, expiry);
    let sessions = sessions.with_owner_limit(OwnerLimit::end_least_recent(2));
    let mut browsers: Vec<Browser> = vec![Browser::default(); 3];
    for (n, browser) in browsers.iter_mut().take(2).enumerate() {
        let _ = browser
            .log_in(&sessions, "ada", &format!("device {n}"))
            .await;
        clock.advance(Duration::from_secs(10));
    }
    // Device 0 is used after device 1 logged in: device 1 is the least recently used.
    browsers[0].count(&sessions).await;
    clock.advance(Duration::from_secs(10));
    assert!(matches!(
        browsers[2].log_in(&sessions, "ada", "device 2").await,
        Commit::Set(_)
    ));
    assert_eq!(labels(&sessions, "ada").await, ["device 0", "device 2"]);
    assert_eq!(browsers[1].owner(&sessions).await, None);
    assert_eq!(browsers[0].owner(&sessions).await.as_deref(), Some("ada"));
    // Logging in again on a device already counted replaces its own session.
    let _ = browsers[2].log_in(&sessions, "ada", "device 2").await;
    assert_eq!(labels(&sessions, "ada").await, ["device 0", "device 2"]);
    assert_eq!(browsers[0].owner(&sessions).await.as_deref(), Some("ada"));
}

/// A limit that refuses fails the login past it and saves nothing.
pub async fn the_owner_limit_refuses_past_it<S: SessionStore>(store: S, expiry: Expiry) {
    let (sessions, _) = manager(store, expiry);
    let sessions = sessions.with_owner_limit(OwnerLimit::refuse(2));
    let (mut laptop, mut phone) = (Browser::default(), Browser::default());
    let _ = laptop.log_in(&sessions, "ada", "Laptop").await;
    let _ = phone.log_in(&sessions, "ada", "Phone").await;
    let mut third = Browser::default();
    third.count(&sessions).await;
    let id = id_of(&third, &sessions).await;
    let mut login = third.load(&sessions).await;
    login.regenerate_id(OldId::Delete).expect("regenerate");
    login.set_owner("ada").expect("owner");
    let refused = sessions.commit(&login).await;
    assert!(
        matches!(refused, Err(Error::OwnerLimit { limit: 2 })),
        "{refused:?}"
    );
    assert_eq!(labels(&sessions, "ada").await, ["Laptop", "Phone"]);
    assert_eq!(third.owner(&sessions).await, None);
    assert_eq!(
        id_of(&third, &sessions).await,
        id,
        "the old session is untouched"
    );
    // A session already counted logs in again within the limit.
    assert!(matches!(
        phone.log_in(&sessions, "ada", "Phone").await,
        Commit::Set(_)
    ));
    assert_eq!(listed(&sessions, "ada").await.len(), 2);
}

/// Two logins racing past the limit leave the owner with at most the limit: with a limit that
/// ends the least recently used, both get in and one earlier session goes; with one that
/// refuses, exactly one gets in.
pub async fn two_logins_racing_past_the_owner_limit_never_pass_it<S: SessionStore>(
    store: S,
    expiry: Expiry,
) {
    let (sessions, _) = manager(store, expiry);
    for (owner, limit) in [
        ("ada", OwnerLimit::end_least_recent(2)),
        ("grace", OwnerLimit::refuse(2)),
    ] {
        let clock = crate::expiry::ManualClock::new(START);
        let sessions = SessionManager::new(super::super::cookie(), sessions.storage())
            .with_expiry(expiry)
            .with_clock(clock.clone())
            .with_owner_limit(limit);
        let mut first = Browser::default();
        let _ = first.log_in(&sessions, owner, "first").await;
        clock.advance(Duration::from_secs(10));
        let (a, b) = (Browser::default(), Browser::default());
        let mut logins = [a.load(&sessions).await, b.load(&sessions).await];
        for login in &mut logins {
            login.regenerate_id(OldId::Delete).expect("regenerate");
            login.set_owner(owner).expect("owner");
        }
        let (one, two) = both(sessions.commit(&logins[0]), sessions.commit(&logins[1])).await;
        let admitted = [&one, &two].iter().filter(|commit| commit.is_ok()).count();
        let count = listed(&sessions, owner).await.len();
        if limit == OwnerLimit::refuse(2) {
            assert_eq!(admitted, 1, "{one:?} {two:?}");
            assert_eq!(count, 2);
        } else {
            assert_eq!(admitted, 2, "{one:?} {two:?}");
            assert_eq!(count, 2);
            assert_eq!(first.owner(&sessions).await, None, "the least recent ended");
        }
    }
}

/// Runs two futures at once (on the case's one thread), as two requests of a server would.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    poll_fn(|cx| {
        if done_a.is_none()
            && let Poll::Ready(output) = a.as_mut().poll(cx)
        {
            done_a = Some(output);
        }
        if done_b.is_none()
            && let Poll::Ready(output) = b.as_mut().poll(cx)
        {
            done_b = Some(output);
        }
        match (done_a.take(), done_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (done_a, done_b) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}
