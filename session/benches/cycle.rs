//! The request cycle the round-trip benchmarks time (`round_trip`, `encrypted_cookie`): the
//! seeded session, the handler, and one request through the real stack.

use session::{Session, SessionManager, Storage};

/// The handler under test: increment a counter.
pub(crate) fn handle(session: &mut Session) {
    let count: u64 = session.get("count").expect("a number").expect("a count");
    session.set("count", count + 1).expect("serializable");
}

/// The request `Cookie` header holding `{user_id, name, cart, count}` plus a flash message.
pub(crate) fn seeded_header<S: Storage>(
    rt: &tokio::runtime::Runtime,
    sessions: &SessionManager<S>,
) -> String {
    rt.block_on(async {
        let mut session = sessions.load(None).await.expect("load");
        session.set("user_id", 4_217_u64).expect("set");
        session.set("name", "Ada Lovelace").expect("set");
        session.set("cart", [101, 202, 303, 404, 505]).expect("set");
        session.set("count", 0_u64).expect("set");
        session
            .flash("notice", "Your cart was saved")
            .expect("flash");
        let commit = sessions.commit(&session).await.expect("commit");
        let set_cookie = commit.header().expect("a Set-Cookie");
        format!(
            "theme=dark; {}",
            set_cookie.split(';').next().expect("a pair")
        )
    })
}

/// One request through the real stack: load, handle, commit.
pub(crate) fn request<S: Storage>(
    rt: &tokio::runtime::Runtime,
    sessions: &SessionManager<S>,
    header: &str,
) -> session::Commit {
    rt.block_on(async {
        let mut session = sessions.load(Some(header)).await.expect("load");
        handle(&mut session);
        sessions.commit(&session).await.expect("commit")
    })
}

/// A current-thread runtime, as the benchmarks drive the manager.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}
