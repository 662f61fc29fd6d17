//! What the store benchmarks share: a manager over the store under test, driven through the
//! public API as an application drives it, the session they save, its round trip, and the
//! runtime of the networked stores.

#![allow(dead_code, reason = "each bench uses what it needs")]

use std::hint::black_box;

use session::expiry::ManualClock;
use session::{Commit, Expiry, SessionCookie, SessionManager, Storage};

/// The public API over `storage`: the default expiry on a clock that stands still.
pub(crate) fn manager<S: Storage>(storage: S) -> SessionManager<S> {
    let cookie = SessionCookie::builder("sid")
        .secret("benchmark-secret-of-at-least-32-bytes")
        .build()
        .expect("a valid cookie");
    SessionManager::new(cookie, storage)
        .with_expiry(Expiry::default())
        .with_clock(ManualClock::new(1_700_000_000))
}

/// The benches' session (four values), saved, with `owner` if any; the `Cookie`
/// header that carries it.
pub(crate) async fn new_session<S: Storage>(
    sessions: &SessionManager<S>,
    owner: Option<&str>,
) -> String {
    let mut session = sessions.load(None).await.expect("load");
    session.set("user_id", 4_217_u64).expect("set");
    session.set("name", "Ada Lovelace").expect("set");
    session.set("cart", [101, 202, 303, 404, 505]).expect("set");
    session.set("count", 0_u64).expect("set");
    if let Some(owner) = owner {
        session.set_owner(owner).expect("an owner");
        session.set_label("Firefox on Linux").expect("a label");
    }
    let set_cookie = sessions.commit(&session).await.expect("save").into_header();
    set_cookie
        .expect("saved")
        .split(';')
        .next()
        .expect("a pair")
        .to_owned()
}

/// One load, one change, one save through the public API.
pub(crate) async fn round_trip<S: Storage>(sessions: &SessionManager<S>, header: &str) {
    let mut session = sessions.load(Some(black_box(header))).await.expect("load");
    let count: u64 = session.get("count").expect("a number").unwrap_or(0);
    session.set("count", count + 1).expect("set");
    let outcome = sessions.commit(&session).await.expect("save");
    assert!(matches!(outcome, Commit::Set(_)), "{outcome:?}");
}

/// The runtime of the networked stores: two workers, as a server's, driven from the bench's
/// thread.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
