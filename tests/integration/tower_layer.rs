//! `session::tower` without axum: the layer over a bare hyper server and plain tower services
//! with bodies of their own, and the error hook (`SessionLayer::on_error`) for every failure
//! it answers: a save that fails, a load that fails, a refused login, a handler's own error.

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse as _;
use axum::routing::get;
use http::{Request, Response, StatusCode};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use session::tower::{SessionFailure, SessionHandle, SessionLayer};
use session::{Error, MemoryStorage, SessionManager};
use tower::{ServiceBuilder, ServiceExt as _, service_fn};

use crate::common::{Flaky, cookie};

/// A plain tower handler over `String` bodies: counts visits, or fails as the path says.
async fn counter(request: Request<String>) -> Result<Response<String>, Infallible> {
    let handle = request
        .extensions()
        .get::<SessionHandle>()
        .cloned()
        .expect("a SessionLayer");
    if request.uri().path() == "/untouched" {
        return Ok(Response::new("no session".to_owned()));
    }
    let counted = async {
        let mut session = handle.load().await?;
        let hits = session.get::<u64>("hits")?.unwrap_or(0) + 1;
        session.set("hits", hits)?;
        Ok::<_, Error>(hits)
    };
    let mut response = match counted.await {
        Ok(hits) => Response::new(hits.to_string()),
        Err(error) => {
            let mut response = Response::new(String::new());
            response.extensions_mut().insert(SessionFailure::new(error));
            response
        }
    };
    if request.uri().path() == "/marked" {
        // The handler reports a session error of its own, with a status below 500.
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
            .extensions_mut()
            .insert(SessionFailure::new(Error::MissingValue {
                key: "form".to_owned(),
            }));
    }
    Ok(response)
}

/// The `name=value` of a response's `Set-Cookie`.
fn pair<B>(response: &Response<B>) -> Option<String> {
    let value = response.headers().get("set-cookie")?.to_str().ok()?;
    Some(value.split(';').next()?.to_owned())
}

fn get_with(path: &str, cookie: Option<&str>) -> Request<String> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(String::new()).unwrap()
}

#[tokio::test]
async fn a_bare_hyper_server_keeps_a_session_without_axum() {
    let layer = SessionLayer::new(SessionManager::new(cookie(), MemoryStorage::new()));
    // hyper's own body type in, `String` out: nothing of axum's.
    let service = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<hyper::body::Incoming>| {
            let (parts, _) = request.into_parts();
            counter(Request::from_parts(parts, String::new()))
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    for expected in 1..=3 {
        let response = client
            .get(format!("http://{addr}/count"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["vary"], "Cookie");
        assert_eq!(response.text().await.unwrap(), expected.to_string());
    }
    let untouched = client
        .get(format!("http://{addr}/untouched"))
        .send()
        .await
        .unwrap();
    assert!(untouched.headers().get("set-cookie").is_none());
    assert!(untouched.headers().get("vary").is_none());
}

/// The app's hook: a 503 naming the kind of failure (never its cause).
fn hook(error: &Error) -> Response<String> {
    let kind = match error {
        Error::Storage(_) => "storage",
        Error::OwnerLimit { .. } => "owner limit",
        Error::Destroyed => "destroyed",
        Error::MissingValue { .. } => "missing value",
        _ => "other",
    };
    let mut response = Response::new(format!("hook: {kind}"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[tokio::test]
async fn a_failing_save_is_the_hooks_response_or_plain_text_by_default() {
    let store = Flaky::default();
    let plain = ServiceBuilder::new()
        .layer(SessionLayer::new(SessionManager::new(
            cookie(),
            store.clone(),
        )))
        .service(service_fn(counter));
    let hooked = ServiceBuilder::new()
        .layer(SessionLayer::new(SessionManager::new(cookie(), store.clone())).on_error(hook))
        .service(service_fn(counter));

    let first = plain.clone().oneshot(get_with("/", None)).await.unwrap();
    assert_eq!(first.body(), "1");
    let browser = pair(&first).expect("a cookie");

    store.writes_fail.store(true, Ordering::SeqCst);
    let failed = plain.oneshot(get_with("/", Some(&browser))).await.unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(
        failed.body(),
        "Internal Server Error: the session storage is unavailable"
    );
    assert!(pair(&failed).is_none(), "nothing saved, no cookie");
    let failed = hooked
        .clone()
        .oneshot(get_with("/", Some(&browser)))
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.body(), "hook: storage");

    store.writes_fail.store(false, Ordering::SeqCst);
    let after = hooked.oneshot(get_with("/", Some(&browser))).await.unwrap();
    assert_eq!(
        after.body(),
        "2",
        "the failed saves left the session as it was"
    );
}

#[tokio::test]
async fn a_failing_load_reaches_the_hook_through_the_handlers_mark() {
    let store = Flaky::default();
    let service = ServiceBuilder::new()
        .layer(SessionLayer::new(SessionManager::new(cookie(), store.clone())).on_error(hook))
        .service(service_fn(counter));
    let first = service.clone().oneshot(get_with("/", None)).await.unwrap();
    let browser = pair(&first).expect("a cookie");
    store.loads_fail.store(true, Ordering::SeqCst);
    let failed = service
        .oneshot(get_with("/", Some(&browser)))
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.body(), "hook: storage");
}

#[tokio::test]
async fn a_marked_response_below_500_still_saves_and_keeps_its_cookie() {
    let service = ServiceBuilder::new()
        .layer(
            SessionLayer::new(SessionManager::new(cookie(), MemoryStorage::new())).on_error(hook),
        )
        .service(service_fn(counter));
    let marked = service
        .clone()
        .oneshot(get_with("/marked", None))
        .await
        .unwrap();
    assert_eq!(marked.body(), "hook: missing value");
    assert_eq!(marked.headers()["vary"], "Cookie");
    let browser = pair(&marked).expect("the save's cookie survives the hook");
    let next = service
        .oneshot(get_with("/", Some(&browser)))
        .await
        .unwrap();
    assert_eq!(next.body(), "2");
}

/// Serves one request through `app`: status and body.
async fn call(app: Router, path: &str) -> (StatusCode, String) {
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A handler that writes to a session it destroyed: a `session::Error` of its own.
async fn destroyed(session: SessionHandle) -> session::Result<&'static str> {
    let mut session = session.lock()?;
    session.destroy();
    session.set("after", true)?;
    Ok("unreachable")
}

#[tokio::test]
async fn an_axum_handlers_session_error_and_a_refused_login_reach_the_hook() {
    async fn login(session: SessionHandle) -> session::Result<&'static str> {
        let mut session = session.lock()?;
        session.regenerate_id(session::OldId::Delete)?;
        session.set_owner("ada")?;
        Ok("welcome")
    }
    fn axum_hook(error: &Error) -> axum::response::Response {
        let (parts, body) = hook(error).into_parts();
        (parts.status, body).into_response()
    }
    let sessions = SessionManager::new(cookie(), MemoryStorage::new())
        .with_owner_limit(session::owner::OwnerLimit::refuse(1));
    let app = Router::new()
        .route("/destroyed", get(destroyed))
        .route("/login", get(login))
        .layer(SessionLayer::new(sessions).on_error(axum_hook));
    assert_eq!(
        call(app.clone(), "/destroyed").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "hook: destroyed".to_owned()
        )
    );
    assert_eq!(call(app.clone(), "/login").await.0, StatusCode::OK);
    assert_eq!(
        call(app, "/login").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "hook: owner limit".to_owned()
        )
    );
}

#[tokio::test]
async fn without_a_hook_axum_errors_keep_their_plain_text() {
    let app = Router::new()
        .route("/", get(destroyed))
        .layer(SessionLayer::new(SessionManager::new(
            cookie(),
            MemoryStorage::new(),
        )));
    assert_eq!(
        call(app, "/").await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error: session error".to_owned()
        )
    );
}

#[tokio::test]
async fn an_axum_extractors_failed_load_reaches_the_hook() {
    async fn visit(session: SessionHandle) -> session::Result<String> {
        let mut session = session.lock()?;
        let hits = session.get::<u64>("hits")?.unwrap_or(0) + 1;
        session.set("hits", hits)?;
        Ok(hits.to_string())
    }
    fn axum_hook(error: &Error) -> axum::response::Response {
        let (parts, body) = hook(error).into_parts();
        (parts.status, body).into_response()
    }
    let store = Flaky::default();
    let app = Router::new()
        .route("/", get(visit))
        .layer(SessionLayer::new(SessionManager::new(cookie(), store.clone())).on_error(axum_hook));
    let first = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let browser = pair(&first).expect("a cookie");
    store.loads_fail.store(true, Ordering::SeqCst);
    let failed = app
        .oneshot(
            Request::get("/")
                .header("cookie", browser)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(failed.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(&body[..], b"hook: storage");
}
