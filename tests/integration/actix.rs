//! `session::actix`: the middleware and extractors on actix-web's own test service, under the
//! rules of the tower layer: lazy load, `Vary: Cookie`, an appended `Set-Cookie`, no save on a
//! 5xx, and the error hook for storage failures and a handler's `session::Error`; and on
//! actix-web's own server, concurrent requests of one browser losing no update.

use std::sync::atomic::Ordering;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use session::actix::{SessionHandle, SessionMiddleware, Typed};
use session::{
    CookieStorage, Error, FileStorage, MemoryStorage, OldId, PostgresStorage, RedisStorage,
    SessionManager, SessionSchema, SqliteStorage, Storage,
};

use crate::common::{Flaky, TempDir, cookie};

fn run<F: Future>(work: F) -> F::Output {
    actix_rt::System::new().block_on(work)
}

#[derive(SessionSchema)]
struct Account {
    user: Option<String>,
    #[session(default)]
    visits: u64,
    #[session(flash)]
    notice: Option<String>,
}

async fn visit(account: Typed<Account>) -> session::Result<String> {
    let mut account = account.view()?;
    account.set_visits(account.visits() + 1)?;
    let notice = account.notice()?.unwrap_or_default();
    Ok(format!(
        "{} {} {notice}",
        account.user()?.unwrap_or_default(),
        account.visits()
    ))
}

async fn login(account: Typed<Account>) -> session::Result<&'static str> {
    account.handle().lock()?.regenerate_id(OldId::Delete)?;
    let mut view = account.view()?;
    view.set_user("ada".to_owned())?;
    view.flash_notice("welcome".to_owned())?;
    Ok("in")
}

async fn logout(session: SessionHandle) -> session::Result<&'static str> {
    session.lock()?.destroy();
    Ok("out")
}

/// Sets a value, then fails with a 500: nothing may be saved.
async fn fail_after_writing(session: SessionHandle) -> session::Result<HttpResponse> {
    session.lock()?.set("half", true)?;
    Ok(HttpResponse::InternalServerError().body("boom"))
}

/// Returns a `session::Error` of its own.
async fn handler_error(session: SessionHandle) -> session::Result<&'static str> {
    session.lock()?.destroy();
    session.lock()?.set("after", 1)?; // Err(Destroyed)
    Ok("unreachable")
}

/// Touches the session and sets a cookie of its own, with a `Vary` of its own.
async fn own_cookie(session: SessionHandle) -> session::Result<HttpResponse> {
    session.lock()?.set("theme", "dark")?;
    Ok(HttpResponse::Ok()
        .append_header(("set-cookie", "theme=dark; Path=/"))
        .insert_header(("vary", "Accept-Encoding"))
        .body("ok"))
}

/// The test app: every route above behind `$sessions`, as actix-web's own test service.
macro_rules! app {
    ($sessions:expr) => {
        test::init_service(
            App::new()
                .wrap($sessions)
                .route("/", web::get().to(visit))
                .route("/login", web::post().to(login))
                .route("/logout", web::post().to(logout))
                .route("/fail", web::post().to(fail_after_writing))
                .route("/handler-error", web::post().to(handler_error))
                .route("/own-cookie", web::post().to(own_cookie))
                .route("/untouched", web::get().to(|| async { "no session" })),
        )
        .await
    };
}

/// The `name=value` of the response's session cookie, if it set one.
fn session_pair<B>(response: &ServiceResponse<B>) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("sid="))
        .map(|value| value.split(';').next().unwrap().to_owned())
}

async fn call<S, B>(app: &S, method: &str, path: &str, jar: Option<&str>) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let mut request = match method {
        "POST" => test::TestRequest::post(),
        _ => test::TestRequest::get(),
    }
    .uri(path);
    if let Some(jar) = jar {
        request = request.insert_header(("cookie", jar));
    }
    test::call_service(app, request.to_request()).await
}

async fn body<B: actix_web::body::MessageBody>(response: ServiceResponse<B>) -> String {
    String::from_utf8(test::read_body(response).await.to_vec()).unwrap()
}

async fn status_and_body<B: actix_web::body::MessageBody>(
    response: ServiceResponse<B>,
) -> (u16, String) {
    (response.status().as_u16(), body(response).await)
}

/// The default answer when the storage fails.
const UNAVAILABLE: &str = "Internal Server Error: the session storage is unavailable";

/// Visits, logs in (a new id and a flash), reads the flash once, logs out. A server-side
/// storage also forgets the old id and the destroyed session.
async fn round_trip<S: Storage + 'static>(storage: S, server_side: bool) {
    let app = app!(SessionMiddleware::new(SessionManager::new(
        cookie(),
        storage
    )));
    let first = call(&app, "GET", "/", None).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers().get("vary").unwrap(), "Cookie");
    let jar = session_pair(&first).expect("a new session sends its cookie");
    assert_eq!(body(first).await, " 1 ");

    let login = call(&app, "POST", "/login", Some(&jar)).await;
    let logged_in = session_pair(&login).expect("a regenerated id sends a cookie");
    assert_ne!(logged_in, jar, "login moves the session to a new id");
    assert_eq!(body(login).await, "in");

    // The new id carries the data and the flash, once. (A cookie storage sends a new cookie
    // with every change.)
    let next = call(&app, "GET", "/", Some(&logged_in)).await;
    let logged_in = session_pair(&next).unwrap_or(logged_in);
    assert_eq!(body(next).await, "ada 2 welcome");
    let after = call(&app, "GET", "/", Some(&logged_in)).await;
    let logged_in = session_pair(&after).unwrap_or(logged_in);
    assert_eq!(body(after).await, "ada 3 ");

    let logout = call(&app, "POST", "/logout", Some(&logged_in)).await;
    let cleared = logout
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cleared.starts_with("sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    if server_side {
        let stale = call(&app, "GET", "/", Some(&jar)).await;
        assert_eq!(body(stale).await, " 1 ", "the pre-login id is gone");
        let gone = call(&app, "GET", "/", Some(&logged_in)).await;
        assert_eq!(body(gone).await, " 1 ", "the destroyed session is gone");
    }
}

#[test]
fn a_session_round_trips_with_vary_and_a_flash_for_the_next_request_only_on_every_storage() {
    run(async {
        let dir = TempDir::new();
        round_trip(MemoryStorage::new(), true).await;
        round_trip(CookieStorage::new(), false).await;
        round_trip(CookieStorage::encrypted(), false).await;
        round_trip(FileStorage::new(&dir.0).unwrap(), true).await;
        let sqlite = format!("sqlite://{}", dir.0.join("sessions.db").display());
        let sqlite = SqliteStorage::builder(sqlite.as_str()).build().unwrap();
        sqlite.migrate().await.unwrap();
        round_trip(sqlite, true).await;
        let redis = crate::common::redis_url();
        round_trip(RedisStorage::builder(redis.as_str()).build().unwrap(), true).await;
        let postgres = PostgresStorage::builder(crate::databases::postgres_url().as_str())
            .table(crate::databases::unique_table())
            .build()
            .unwrap();
        postgres.migrate().await.unwrap();
        round_trip(postgres, true).await;
    });
}

#[test]
fn a_route_that_never_extracts_the_session_makes_no_storage_call_and_no_headers() {
    run(async {
        let store = Flaky::default();
        let app = app!(SessionMiddleware::new(SessionManager::new(
            cookie(),
            store.clone()
        )));
        let first = call(&app, "GET", "/", None).await;
        let jar = session_pair(&first).unwrap();
        let before = store.loads.load(Ordering::SeqCst);

        let untouched = call(&app, "GET", "/untouched", Some(&jar)).await;
        assert!(untouched.headers().get("set-cookie").is_none());
        assert!(untouched.headers().get("vary").is_none());
        assert_eq!(body(untouched).await, "no session");
        assert_eq!(store.loads.load(Ordering::SeqCst), before);
    });
}

#[test]
fn a_5xx_saves_nothing_and_the_handler_s_cookie_and_vary_stay_beside_the_session_s() {
    run(async {
        let app = app!(SessionMiddleware::new(SessionManager::new(
            cookie(),
            MemoryStorage::new()
        )));
        let first = call(&app, "GET", "/", None).await;
        let jar = session_pair(&first).unwrap();

        let failed = call(&app, "POST", "/fail", Some(&jar)).await;
        assert_eq!(failed.status(), 500);
        assert!(
            failed.headers().get("set-cookie").is_none(),
            "a 5xx saves nothing"
        );
        assert_eq!(body(failed).await, "boom");
        let next = call(&app, "GET", "/", Some(&jar)).await;
        assert_eq!(
            body(next).await,
            " 2 ",
            "the failed request's write is not kept"
        );

        let own = call(&app, "POST", "/own-cookie", Some(&jar)).await;
        let cookies: Vec<_> = own
            .headers()
            .get_all("set-cookie")
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        assert!(
            cookies.iter().any(|c| c.starts_with("theme=dark")),
            "{cookies:?}"
        );
        assert!(cookies.iter().any(|c| c.starts_with("sid=")), "{cookies:?}");
        let vary: Vec<_> = own
            .headers()
            .get_all("vary")
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
    });
}

/// The app's hook: a 503 naming the kind of failure (never its cause).
fn hook(error: &Error) -> HttpResponse {
    let kind = match error {
        Error::Storage(_) => "storage",
        Error::Destroyed => "destroyed",
        _ => "other",
    };
    HttpResponse::ServiceUnavailable().body(format!("hook: {kind}"))
}

#[test]
fn failures_are_plain_text_by_default_and_the_hook_s_response_when_set() {
    run(async {
        let store = Flaky::default();
        let plain = app!(SessionMiddleware::new(SessionManager::new(
            cookie(),
            store.clone()
        )));
        let hooked = app!(
            SessionMiddleware::new(SessionManager::new(cookie(), store.clone())).on_error(hook)
        );
        let first = call(&plain, "GET", "/", None).await;
        let jar = session_pair(&first).unwrap();

        let storage_down = || (500, UNAVAILABLE.to_owned());
        let hooked_storage = || (503, "hook: storage".to_owned());

        // A failed save: no cookie either way.
        store.writes_fail.store(true, Ordering::SeqCst);
        let failed = call(&plain, "GET", "/", Some(&jar)).await;
        assert!(failed.headers().get("set-cookie").is_none());
        assert_eq!(status_and_body(failed).await, storage_down());
        let failed = call(&hooked, "GET", "/", Some(&jar)).await;
        assert_eq!(status_and_body(failed).await, hooked_storage());
        store.writes_fail.store(false, Ordering::SeqCst);

        // A failed load, in the extractor.
        store.loads_fail.store(true, Ordering::SeqCst);
        let failed = call(&plain, "GET", "/", Some(&jar)).await;
        assert_eq!(status_and_body(failed).await, storage_down());
        let failed = call(&hooked, "GET", "/", Some(&jar)).await;
        assert_eq!(status_and_body(failed).await, hooked_storage());
        store.loads_fail.store(false, Ordering::SeqCst);

        // A handler's own `session::Error`, returned with `?`.
        let failed = call(&hooked, "POST", "/handler-error", Some(&jar)).await;
        assert_eq!(
            status_and_body(failed).await,
            (503, "hook: destroyed".to_owned())
        );
        let failed = call(&plain, "POST", "/handler-error", Some(&jar)).await;
        assert_eq!(
            status_and_body(failed).await,
            (500, "Internal Server Error: session error".to_owned())
        );

        // Nothing of the failures was saved: the count goes on from the first visit.
        let next = call(&plain, "GET", "/", Some(&jar)).await;
        assert_eq!(body(next).await, " 2 ");
    });
}

/// Sets this request's own key, `k{n}`.
async fn mark(session: SessionHandle, n: web::Path<u32>) -> session::Result<&'static str> {
    session.lock()?.set(&format!("k{n}"), true)?;
    Ok("marked")
}

/// How many keys the session holds.
async fn keys(session: SessionHandle) -> session::Result<String> {
    Ok(session.lock()?.len().to_string())
}

/// 40 requests of one browser at once, each setting its own key after the first request's, on actix-web's own server
/// with two workers (two runtimes sharing one manager and one store connection): all 41 keys
/// are saved.
async fn concurrent_marks_all_land<S: Storage + 'static>(storage: S) {
    let sessions = SessionMiddleware::new(SessionManager::new(cookie(), storage));
    let server = actix_web::HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/keys", web::get().to(keys))
            .route("/mark/{n}", web::post().to(mark))
    })
    .workers(2)
    .bind("127.0.0.1:0")
    .unwrap();
    let base = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let client = reqwest::Client::new();
    let first = client.post(format!("{base}/mark/40")).send().await.unwrap();
    let set_cookie = first.headers()["set-cookie"].to_str().unwrap();
    let jar = crate::common::pair_of(set_cookie).unwrap();
    let marks: Vec<_> = (0..40)
        .map(|n| {
            let request = client
                .post(format!("{base}/mark/{n}"))
                .header("cookie", &jar)
                .send();
            actix_rt::spawn(async move { request.await.unwrap().status() })
        })
        .collect();
    for mark in marks {
        assert_eq!(mark.await.unwrap(), 200);
    }
    let counted = client
        .get(format!("{base}/keys"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.text().await.unwrap(), "41", "no update is lost");
    handle.stop(true).await;
}

#[test]
fn concurrent_requests_on_actix_web_s_own_server_lose_no_update() {
    run(async {
        concurrent_marks_all_land(MemoryStorage::new()).await;
        let redis = crate::common::redis_url();
        concurrent_marks_all_land(RedisStorage::builder(redis.as_str()).build().unwrap()).await;
        let postgres = PostgresStorage::builder(crate::databases::postgres_url().as_str())
            .table(crate::databases::unique_table())
            .build()
            .unwrap();
        postgres.migrate().await.unwrap();
        concurrent_marks_all_land(postgres).await;
    });
}

#[test]
fn a_handler_without_the_middleware_gets_a_500_not_a_panic() {
    run(async {
        let app = test::init_service(App::new().route("/", web::get().to(visit))).await;
        let response = call(&app, "GET", "/", None).await;
        assert_eq!(response.status(), 500);
    });
}
