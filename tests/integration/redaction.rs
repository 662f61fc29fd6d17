//! No public type's `Debug` prints a secret, a session id or a replayable signed token
//! (review defect 7): each is formatted with `{:?}` and `{:#?}` in every state a request
//! puts it in, and the output is searched for all three.

use axum::Router;
use axum::routing::get;
use session::axum::{SessionHandle, SessionLayer};
use session::store::SessionStore as _;
use session::{
    Commit, CookieStorage, Expiry, FileStorage, MemoryStorage, RedisStorage, SessionCookie,
    SessionManager,
};

use crate::common::TempDir;

const SECRET: &str = "the-redaction-test-secret-0123456789";
const PASSWORD: &str = "hunter2-redis-password";

fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secrets([SECRET, "an-older-secret-of-32-bytes-or-more!!"])
        .build()
        .unwrap()
}

/// Everything `{:?}` and `{:#?}` print for the values, one string.
macro_rules! debug_all {
    ($($value:expr),* $(,)?) => {{
        let mut all = String::new();
        $(
            all.push_str(&format!("{:?}\n{:#?}\n", $value, $value));
        )*
        all
    }};
}

/// Asserts that `printed` holds none of the secrets, ids or tokens.
fn assert_redacted(printed: &str, forbidden: &[&str]) {
    for needle in forbidden {
        assert!(
            !printed.contains(needle),
            "Debug output leaks {needle:?}:\n{printed}"
        );
    }
}

async fn one_request<S: session::Storage + std::fmt::Debug>(
    sessions: &SessionManager<S>,
) -> String {
    let mut session = sessions.load(None).await.unwrap();
    session.set("user", "ada").unwrap();
    session.flash("notice", "hi").unwrap();
    let id = session.id().as_str().to_owned();
    let plan = sessions.plan(&session);
    let commit = sessions.commit(&session).await.unwrap();
    let set_cookie = commit.header().unwrap().to_owned();
    let token = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    // The storage while it holds the session (the destroy below removes it).
    let live_storage = debug_all!(sessions.storage());
    let incoming = sessions.cookie().read(Some(&pair));
    let again = sessions.load(Some(&pair)).await.unwrap();
    let unchanged = sessions.commit(&again).await.unwrap();
    let cleared = {
        let mut gone = sessions.load(Some(&pair)).await.unwrap();
        gone.destroy();
        sessions.commit(&gone).await.unwrap()
    };
    let printed = debug_all!(
        sessions,
        sessions.cookie(),
        session,
        *session,
        session.id(),
        plan,
        commit,
        incoming,
        again,
        unchanged,
        cleared,
        Commit::Set(set_cookie.clone()),
        sessions.storage(),
    );
    assert_redacted(&(printed + &live_storage), &[SECRET, &id, &token]);
    id
}

#[tokio::test]
async fn no_debug_output_holds_a_secret_an_id_or_a_token() {
    let builder = SessionCookie::builder("sid").secret(SECRET);
    assert_redacted(&debug_all!(builder, cookie()), &[SECRET]);

    one_request(&SessionManager::new(cookie(), CookieStorage::new())).await;
    let memory = SessionManager::new(cookie(), MemoryStorage::new()).with_expiry(Expiry::none());
    let id = one_request(&memory).await;
    let parsed: session::SessionId = id.parse().unwrap();

    let dir = TempDir::new();
    let file = SessionManager::new(cookie(), FileStorage::new(&dir.0).unwrap());
    one_request(&file).await;

    let url = format!("redis://:{PASSWORD}@127.0.0.1:1/");
    let redis_builder = RedisStorage::builder(url.as_str());
    let redis = redis_builder.clone().build().unwrap();
    let failure = redis.load(&parsed).await.unwrap_err();
    assert_redacted(&debug_all!(redis_builder, redis, failure), &[PASSWORD]);
    assert_redacted(&failure.to_string(), &[PASSWORD]);

    // A PostgreSQL server that is not there, with a password in the URL: neither the builder,
    // the store nor the error it gives prints it.
    let port = crate::databases::free_port();
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/app");
    let postgres_builder = session::PostgresStorage::builder(url.as_str())
        .timeout(std::time::Duration::from_millis(300));
    let printed_builder = format!("{postgres_builder:?}");
    let postgres = postgres_builder.build().unwrap();
    let failure = postgres.load(&parsed).await.unwrap_err();
    assert_redacted(
        &(printed_builder + &debug_all!(postgres, failure)),
        &[PASSWORD],
    );
    assert_redacted(&failure.to_string(), &[PASSWORD]);
    let sqlite = session::SqliteStorage::builder(format!("sqlite://{}/s.db", dir.0.display()));
    assert_redacted(&format!("{sqlite:?}"), &[PASSWORD]);
}

#[tokio::test]
async fn the_axum_handle_and_its_guard_print_no_id() {
    async fn handler(session: SessionHandle) -> String {
        let mut guard = session.lock().unwrap();
        guard.set("user", "ada").unwrap();
        let id = guard.id().as_str().to_owned();
        let printed = debug_all!(guard);
        drop(guard);
        let printed = printed + &debug_all!(session);
        if printed.contains(&id) {
            "leak".to_owned()
        } else {
            "ok".to_owned()
        }
    }
    let layer = SessionLayer::new(SessionManager::new(cookie(), MemoryStorage::new()));
    assert!(!format!("{layer:?}").contains(SECRET));
    let router = Router::new().route("/", get(handler)).layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let body = reqwest::get(format!("http://{addr}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
}
