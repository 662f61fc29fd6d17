//! What a handler can do with the axum extractors beyond the happy path: borrowing the
//! session twice, and the rejection a route without the layer gives.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use session::axum::{SessionHandle, SessionLayer, SessionRejection, Typed};
use session::{Error, MemoryStorage, SessionManager, SessionSchema};

use crate::common::cookie;

#[derive(SessionSchema)]
struct Visits {
    #[session(default)]
    visits: u32,
}

/// Serves `router` and returns the status and body of one `GET path`, within five seconds.
async fn get_once(router: Router, path: &str) -> (u16, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let request = async {
        let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .expect("the handler answered instead of deadlocking its worker")
}

fn layer() -> SessionLayer<MemoryStorage> {
    SessionLayer::new(SessionManager::new(cookie(), MemoryStorage::new()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_beside_a_live_typed_view_is_an_error_not_a_deadlock() {
    async fn both(visits: Typed<Visits>) -> String {
        let mut view = visits.view().unwrap();
        view.set_visits(1).unwrap();
        let second = visits.handle().lock().map(|_| ());
        let again = visits.view().map(|_| ());
        format!("{second:?} {again:?} {}", view.visits())
    }
    async fn after(visits: Typed<Visits>) -> String {
        drop(visits.view().unwrap());
        let relocked = visits.handle().lock().map(|_| ());
        format!("{relocked:?}")
    }
    let router = Router::new()
        .route("/both", get(both))
        .route("/after", get(after))
        .layer(layer());
    let (status, body) = get_once(router.clone(), "/both").await;
    assert_eq!(status, 200);
    assert_eq!(body, "Err(AlreadyLocked) Err(AlreadyLocked) 1");
    assert_eq!(
        Error::AlreadyLocked.to_string(),
        "the session is already borrowed by this thread; drop the earlier guard or view"
    );
    // Once the first borrow is dropped, the session can be borrowed again.
    assert_eq!(get_once(router, "/after").await, (200, "Ok(())".to_owned()));
}

#[tokio::test]
async fn another_thread_waits_for_the_guard_instead_of_failing() {
    async fn handler(session: SessionHandle) -> String {
        let guard = session.lock().unwrap();
        let other = session.clone();
        let waiter = std::thread::spawn(move || {
            other.lock().unwrap().set("from-thread", true).unwrap();
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(guard);
        waiter.join().unwrap();
        let written = session.lock().unwrap().get::<bool>("from-thread").unwrap();
        format!("{written:?}")
    }
    let router = Router::new().route("/", get(handler)).layer(layer());
    assert_eq!(get_once(router, "/").await, (200, "Some(true)".to_owned()));
}

#[tokio::test]
async fn a_route_without_the_layer_is_rejected_with_a_500() {
    async fn handler(session: SessionHandle) -> &'static str {
        let _ = session;
        "unreachable"
    }
    let router = Router::new().route("/", get(handler));
    let (status, body) = get_once(router, "/").await;
    assert_eq!(status, 500);
    assert_eq!(body, "Internal Server Error: the session is unavailable");
    let rejection = SessionRejection::NoLayer;
    assert_eq!(rejection.to_string(), "no SessionLayer wraps this route");
    let load = SessionRejection::Load(Error::storage("down"));
    assert!(std::error::Error::source(&load).is_some());
}

#[tokio::test]
async fn a_neighbour_cookie_with_non_ascii_bytes_does_not_lose_the_session() {
    // Review defect 4: the layer dropped a whole `Cookie` header that was not visible ASCII.
    async fn count(visits: Typed<Visits>) -> session::Result<String> {
        let mut view = visits.view()?;
        view.set_visits(view.visits() + 1)?;
        Ok(view.visits().to_string())
    }
    let router = Router::new().route("/", get(count)).layer(layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/");
    let first = client.get(&url).send().await.unwrap();
    let set_cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    assert_eq!(first.text().await.unwrap(), "1");
    for neighbours in [
        b"theme=caf\xc3\xa9".as_slice(), // UTF-8, but not visible ASCII
        b"legacy=\xff\xfe\x80",          // not UTF-8 at all
    ] {
        let mut header = neighbours.to_vec();
        header.extend_from_slice(b"; ");
        header.extend_from_slice(pair.as_bytes());
        header.extend_from_slice(b"; after=\xe9");
        let value = reqwest::header::HeaderValue::from_bytes(&header).unwrap();
        let response = client
            .get(&url)
            .header("cookie", value)
            .send()
            .await
            .unwrap();
        assert!(
            response.text().await.unwrap() != "1",
            "the session was kept"
        );
    }
}
