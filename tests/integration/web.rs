//! Sessions in a real web server: the demo app and the tower layer over real HTTP on
//! loopback, driven by reqwest with a cookie jar, for every storage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use reqwest::cookie::CookieStore as _;
use session::axum::{SessionHandle, SessionLayer};
use session::store::{Stored, WriteOutcome, WritePlan};
use session::{Error, Expiry, FileStorage, MemoryStorage, SessionId, SessionManager, SessionStore};
use session_examples::{Config, Storage};

use crate::common::{SECRET, TempDir, cookie};

/// Serves `router` on a free loopback port for the rest of the test.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A browser-like client: it keeps cookies and follows redirects.
struct Client {
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
}

impl Client {
    fn new(addr: SocketAddr) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .build()
            .unwrap();
        Self {
            http,
            jar,
            base: format!("http://{addr}").parse().unwrap(),
        }
    }

    /// The session cookie pair the client holds (`sid=...`), if any.
    fn session_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find(|pair| pair.starts_with("sid="))
            .map(str::to_owned)
    }

    async fn page(&self, path: &str) -> String {
        let response = self
            .http
            .get(self.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> String {
        let response = self
            .http
            .post(self.base.join(path).unwrap())
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "after the redirect");
        response.text().await.unwrap()
    }
}

/// A request carrying exactly `cookie`, outside any jar.
async fn page_with(addr: SocketAddr, cookie: &str) -> String {
    reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn greeting(page: &str) -> &str {
    let start = page.find("<h1 id=\"greeting\">").unwrap() + 18;
    &page[start..start + page[start..].find("</h1>").unwrap()]
}

fn count(page: &str) -> u64 {
    let start = page.find("<span id=\"count\">").unwrap() + 17;
    page[start..start + page[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

/// The sessions the "Your sessions" page lists: each one's handle, and whether it is this
/// browser's.
fn handles(page: &str) -> Vec<(String, bool)> {
    page.split("<li class=\"session\" data-handle=\"")
        .skip(1)
        .map(|item| {
            let handle = item[..item.find('"').unwrap()].to_owned();
            let current = item[..item.find("</li>").unwrap()].contains("(this browser)");
            (handle, current)
        })
        .collect()
}

fn notice(page: &str) -> Option<&str> {
    let start = page.find("<p id=\"notice\">")? + 15;
    Some(&page[start..start + page[start..].find("</p>").unwrap()])
}

macro_rules! app_over_http {
    ($name:ident, $storage:expr, server_side = $server_side:expr) => {
        mod $name {
            use super::*;

            async fn start() -> (SocketAddr, TempDir) {
                let dir = TempDir::new();
                let storage = match $storage {
                    "memory" => Storage::Memory,
                    "cookie" => Storage::Cookie,
                    "encrypted-cookie" => Storage::EncryptedCookie,
                    "redis" => Storage::Redis(crate::common::redis_url()),
                    "postgres" => Storage::Postgres(crate::databases::postgres_url()),
                    "sqlite" => {
                        std::fs::create_dir_all(&dir.0).unwrap();
                        Storage::Sqlite(format!("sqlite://{}", dir.0.join("sessions.db").display()))
                    }
                    _ => Storage::File(dir.0.clone()),
                };
                let app = session_examples::app(&Config {
                    storage,
                    secret: SECRET.to_owned(),
                    secure_cookies: true,
                })
                .await
                .unwrap();
                (serve(app).await, dir)
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn login_regenerates_the_id_against_fixation() {
                let (addr, _dir) = start().await;
                let client = Client::new(addr);
                assert_eq!(greeting(&client.page("/").await), "Hello, guest!");
                let planted = client.session_cookie().unwrap();
                let page = client.post("/login", &[("name", "ada")]).await;
                assert_eq!(greeting(&page), "Hello, ada!");
                let logged_in = client.session_cookie().unwrap();
                assert_ne!(planted, logged_in, "the id changes on login");
                // Whoever held the old cookie does not reach the logged-in session.
                let old = page_with(addr, &planted).await;
                assert_eq!(greeting(&old), "Hello, guest!");
                if $server_side {
                    assert_eq!(count(&old), 1, "the old record is gone");
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_flash_is_shown_exactly_once_after_post_redirect_get() {
                let (addr, _dir) = start().await;
                let client = Client::new(addr);
                client.post("/login", &[("name", "ada")]).await;
                let page = client.post("/notes", &[("text", "hello <world>")]).await;
                assert_eq!(notice(&page), Some("Saved: hello &lt;world&gt;"));
                assert_eq!(notice(&client.page("/").await), None);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_counter_rises_and_logout_is_final() {
                let (addr, _dir) = start().await;
                let client = Client::new(addr);
                client.post("/login", &[("name", "ada")]).await;
                let before = count(&client.page("/").await);
                assert_eq!(count(&client.page("/").await), before + 1);
                let pre_logout = client.session_cookie().unwrap();
                let page = client.post("/logout", &[]).await;
                assert_eq!(greeting(&page), "Hello, guest!");
                assert_eq!(count(&page), 1);
                let replay = page_with(addr, &pre_logout).await;
                if $server_side {
                    assert_eq!(greeting(&replay), "Hello, guest!", "logout is final");
                } else {
                    // Documented: a cookie-storage cookie stays valid until it expires.
                    assert_eq!(greeting(&replay), "Hello, ada!");
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn your_sessions_lists_both_browsers_and_ends_one_from_the_other() {
                let (addr, _dir) = start().await;
                // A name of its own: the server-side stores are shared between tests.
                let name = format!("grace-{}", SessionId::generate());
                let (laptop, phone) = (Client::new(addr), Client::new(addr));
                laptop.post("/login", &[("name", &name)]).await;
                phone.post("/login", &[("name", &name)]).await;
                let page = laptop.page("/sessions").await;
                if !$server_side {
                    assert!(page.contains("id=\"unsupported\""), "{page}");
                    return;
                }
                let listed = handles(&page);
                assert_eq!(listed.len(), 2, "{page}");
                assert_eq!(page.matches("(this browser)").count(), 1);
                let other = listed
                    .iter()
                    .find(|(_, current)| !current)
                    .map(|(handle, _)| handle.clone())
                    .unwrap();
                let page = laptop.post("/sessions/end", &[("handle", &other)]).await;
                assert_eq!(notice(&page), Some("That session is logged out."));
                assert_eq!(handles(&page).len(), 1);
                assert_eq!(greeting(&phone.page("/").await), "Hello, guest!");
                assert_eq!(greeting(&laptop.page("/").await), format!("Hello, {name}!"));

                phone.post("/login", &[("name", &name)]).await;
                let page = phone.post("/sessions/end-others", &[]).await;
                assert_eq!(notice(&page), Some("Logged out 1 other session(s)."));
                assert_eq!(greeting(&laptop.page("/").await), "Hello, guest!");
                assert_eq!(greeting(&phone.page("/").await), format!("Hello, {name}!"));
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_tampered_cookie_gives_a_fresh_session() {
                let (addr, _dir) = start().await;
                let client = Client::new(addr);
                client.post("/login", &[("name", "ada")]).await;
                let mut cookie = client.session_cookie().unwrap();
                let last = cookie.pop().unwrap();
                cookie.push(if last == 'A' { 'B' } else { 'A' });
                let page = page_with(addr, &cookie).await;
                assert_eq!(greeting(&page), "Hello, guest!");
                assert_eq!(count(&page), 1);
            }
        }
    };
}

app_over_http!(memory, "memory", server_side = true);
app_over_http!(cookie_storage, "cookie", server_side = false);
app_over_http!(
    encrypted_cookie_storage,
    "encrypted-cookie",
    server_side = false
);
app_over_http!(file, "file", server_side = true);
app_over_http!(redis, "redis", server_side = true);
app_over_http!(postgres, "postgres", server_side = true);
app_over_http!(sqlite, "sqlite", server_side = true);

/// A router that bumps the key named in the path, for the layer's own tests.
fn bump_router<S: session::Storage + 'static>(storage: S) -> Router {
    async fn bump(Path(key): Path<String>, session: SessionHandle) -> session::Result<String> {
        let mut session = session.lock().unwrap();
        let n = session.get::<u64>(&key)?.unwrap_or(0) + 1;
        session.set(&key, n)?;
        Ok(n.to_string())
    }
    async fn read(session: SessionHandle) -> session::Result<String> {
        let session = session.lock().unwrap();
        Ok(serde_json::to_string(session.values()).unwrap())
    }
    Router::new()
        .route("/bump/{key}", get(bump))
        .route("/read", get(read))
        .layer(SessionLayer::new(
            SessionManager::new(cookie(), storage).with_expiry(Expiry::none()),
        ))
}

async fn two_hundred_concurrent_requests_lose_nothing<S: session::Storage + 'static>(storage: S) {
    let addr = serve(bump_router(storage)).await;
    let client = Client::new(addr);
    client.page("/bump/first").await;
    let cookie = client.session_cookie().unwrap();
    let requests = (0..200).map(|i| {
        let cookie = cookie.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .get(format!("http://{addr}/bump/k{i}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    for request in requests.collect::<Vec<_>>() {
        request.await.unwrap();
    }
    let values: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&client.page("/read").await).unwrap();
    for i in 0..200 {
        assert_eq!(
            values.get(&format!("k{i}")),
            Some(&serde_json::json!(1)),
            "k{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_on_memory_storage_lose_nothing() {
    two_hundred_concurrent_requests_lose_nothing(MemoryStorage::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_on_redis_storage_lose_nothing() {
    two_hundred_concurrent_requests_lose_nothing(crate::common::redis_storage()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_on_file_storage_lose_nothing() {
    let dir = TempDir::new();
    two_hundred_concurrent_requests_lose_nothing(FileStorage::new(&dir.0).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_on_postgres_storage_lose_nothing() {
    two_hundred_concurrent_requests_lose_nothing(crate::databases::SqlStore::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_on_sqlite_storage_lose_nothing() {
    two_hundred_concurrent_requests_lose_nothing(crate::databases::SqlStore::sqlite()).await;
}

/// Counts storage calls and can be made to fail.
#[derive(Debug, Default)]
struct Probe {
    inner: MemoryStorage,
    calls: AtomicUsize,
    failing: std::sync::atomic::AtomicBool,
}

/// What the late write of `/late` saw: 0 not yet, 1 `Error::Destroyed`, 2 anything else.
static LATE_WRITE: AtomicUsize = AtomicUsize::new(0);

/// `Probe` shared between the test and the server.
#[derive(Debug, Clone)]
struct Shared(Arc<Probe>);

impl SessionStore for Shared {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        self.0.inner.load(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        if self.0.failing.load(Ordering::SeqCst) {
            return Err(Error::storage(std::io::Error::other("disk full")));
        }
        self.0.inner.write(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        self.0.inner.delete(ids).await
    }
}

fn probe_router(probe: Arc<Probe>) -> Router {
    async fn set(session: SessionHandle) -> session::Result<(HeaderMap, &'static str)> {
        session.lock().unwrap().set("touched", true)?;
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", "theme=dark; Path=/".parse().unwrap());
        headers.append("vary", "Accept-Encoding".parse().unwrap());
        Ok((headers, "set"))
    }
    async fn fail(session: SessionHandle) -> (StatusCode, &'static str) {
        session.lock().unwrap().set("half-done", true).unwrap();
        (StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
    }
    async fn read(session: SessionHandle) -> String {
        format!(
            "{:?}",
            session.lock().unwrap().get::<bool>("half-done").unwrap()
        )
    }
    async fn late(session: SessionHandle) -> &'static str {
        // A handle that outlives its request: a spawned task writes after the response.
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let result = session.lock().unwrap().set("late", true);
            let outcome = if matches!(result, Err(Error::Destroyed)) {
                1
            } else {
                2
            };
            LATE_WRITE.store(outcome, Ordering::SeqCst);
        });
        "spawned"
    }
    Router::new()
        .route("/plain", get(|| async { "no session" }))
        .route("/set", get(set))
        .route("/fail", get(fail))
        .route("/read", get(read))
        .route("/late", get(late))
        .layer(SessionLayer::new(
            SessionManager::new(cookie(), Shared(probe)).with_expiry(Expiry::none()),
        ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_that_never_touches_the_session_makes_no_storage_call_and_no_vary() {
    let probe = Arc::new(Probe::default());
    let addr = serve(probe_router(Arc::clone(&probe))).await;
    let response = reqwest::get(format!("http://{addr}/plain")).await.unwrap();
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
    assert!(response.headers().get("vary").is_none());
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_cookie_is_appended_and_vary_merged() {
    // J4, J5
    let probe = Arc::new(Probe::default());
    let addr = serve(probe_router(probe)).await;
    let response = reqwest::get(format!("http://{addr}/set")).await.unwrap();
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with("theme=dark"));
    assert!(cookies[1].starts_with("sid="));
    let vary: Vec<&str> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_response_saves_nothing() {
    let probe = Arc::new(Probe::default());
    let addr = serve(probe_router(probe)).await;
    let client = Client::new(addr);
    client.page("/set").await;
    let response = client
        .http
        .get(client.base.join("/fail").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.headers().get("vary").unwrap(), "Cookie");
    assert_eq!(client.page("/read").await, "None");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_error_is_a_500_with_a_body() {
    let probe = Arc::new(Probe::default());
    probe.failing.store(true, Ordering::SeqCst);
    let addr = serve(probe_router(probe)).await;
    let response = reqwest::get(format!("http://{addr}/set")).await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(!response.text().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_that_outlives_its_request_neither_deadlocks_nor_panics() {
    let probe = Arc::new(Probe::default());
    let addr = serve(probe_router(probe)).await;
    let response = reqwest::get(format!("http://{addr}/late")).await.unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..100 {
        if LATE_WRITE.load(Ordering::SeqCst) != 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        LATE_WRITE.load(Ordering::SeqCst),
        1,
        "the late write failed with Destroyed"
    );
    assert_eq!(
        reqwest::get(format!("http://{addr}/plain"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_misconfiguration_fails_at_startup_with_a_clear_message() {
    let err = session_examples::app(&Config {
        storage: Storage::Memory,
        secret: "short".to_owned(),
        secure_cookies: true,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("configuration"), "{err}");
    let Error::Config(config) = err else {
        panic!("a config error")
    };
    assert!(
        config.to_string().contains("at least 32 random bytes"),
        "{config}"
    );
    // A database that cannot be reached stops the app at startup too.
    let port = crate::databases::free_port();
    let err = session_examples::app(&Config {
        storage: Storage::Postgres(format!("postgres://postgres@127.0.0.1:{port}/app")),
        secret: SECRET.to_owned(),
        secure_cookies: true,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
}

/// A login racing another request of the same browser, over real HTTP: both requests load the
/// session (a barrier makes sure), the login regenerates the id and commits first, and the
/// other request commits after it. The other response must not clear the cookie (which would
/// log the browser out if it arrived last), and its change must land in the new session.
/// The app of the login race: `/login` regenerates, `/bump` counts and commits after it.
fn login_race_router<S: session::Storage + 'static>(storage: S) -> Router {
    use axum::extract::State;
    use tokio::sync::Barrier;

    async fn login(State(barrier): State<Arc<Barrier>>, session: SessionHandle) -> &'static str {
        barrier.wait().await;
        let mut session = session.lock().unwrap();
        session.regenerate_id(session::OldId::Delete).unwrap();
        session.set("user", "ada").unwrap();
        "logged in"
    }
    async fn bump(State(barrier): State<Arc<Barrier>>, session: SessionHandle) -> &'static str {
        barrier.wait().await;
        {
            let mut session = session.lock().unwrap();
            let count = session.get::<u64>("count").unwrap().unwrap_or(0);
            session.set("count", count + 1).unwrap();
        }
        // Commit after the login did.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        "bumped"
    }
    async fn seed(session: SessionHandle) -> &'static str {
        session.lock().unwrap().set("count", 1).unwrap();
        "seeded"
    }
    async fn whoami(session: SessionHandle) -> String {
        let session = session.lock().unwrap();
        format!(
            "{:?} {:?}",
            session.get::<String>("user").unwrap(),
            session.get::<u64>("count").unwrap()
        )
    }
    let sessions = SessionManager::new(cookie(), storage).with_expiry(Expiry::none());
    Router::new()
        .route("/login", axum::routing::post(login))
        .route("/bump", get(bump))
        .route("/seed", get(seed))
        .route("/whoami", get(whoami))
        .with_state(Arc::new(Barrier::new(2)))
        .layer(SessionLayer::new(sessions))
}

async fn a_login_racing_a_request_never_logs_out<S: session::Storage + 'static>(storage: S) {
    let router = login_race_router(storage);
    let addr = serve(router).await;
    let http = reqwest::Client::new();
    let set_cookie = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    };
    let pair = |set_cookie: &str| set_cookie.split(';').next().unwrap().to_owned();
    // What `/whoami` says to a browser holding `cookie`.
    let whoami = |cookie: &str| {
        let request = http
            .get(format!("http://{addr}/whoami"))
            .header("cookie", cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    for round in 0..100 {
        let seeded = http
            .get(format!("http://{addr}/seed"))
            .send()
            .await
            .unwrap();
        let old = pair(&set_cookie(&seeded)[0]);
        let login = http
            .post(format!("http://{addr}/login"))
            .header("cookie", &old)
            .send();
        let bump = http
            .get(format!("http://{addr}/bump"))
            .header("cookie", &old)
            .send();
        let (login, bump) = tokio::join!(login, bump);
        let (login, bump) = (login.unwrap(), bump.unwrap());
        assert_eq!(
            (login.status().as_u16(), bump.status().as_u16()),
            (200, 200),
            "round {round}"
        );
        let new = pair(&set_cookie(&login)[0]);
        assert_ne!(new, old, "round {round}: the login regenerated the id");
        assert_eq!(
            set_cookie(&bump),
            Vec::<String>::new(),
            "round {round}: the racing response sends no Set-Cookie, so none that clears"
        );
        // The browser applies the login's cookie, then the other response's (nothing).
        let seen = whoami(&new).await;
        assert_eq!(
            seen, r#"Some("ada") Some(2)"#,
            "round {round}: logged in, bump landed"
        );
        let stale = whoami(&old).await;
        assert_eq!(
            stale, "None None",
            "round {round}: the old cookie is revoked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_request_never_logs_out_memory() {
    a_login_racing_a_request_never_logs_out(MemoryStorage::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_request_never_logs_out_file() {
    let dir = TempDir::new();
    a_login_racing_a_request_never_logs_out(FileStorage::new(&dir.0).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_request_never_logs_out_redis() {
    a_login_racing_a_request_never_logs_out(crate::common::redis_storage()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_past_a_refusing_owner_limit_is_a_409_and_saves_nothing() {
    async fn login(session: SessionHandle) -> session::Result<&'static str> {
        let mut session = session.lock()?;
        session.regenerate_id(session::OldId::Delete)?;
        session.set_owner("ada")?;
        Ok("welcome")
    }
    let sessions = SessionManager::new(cookie(), MemoryStorage::new())
        .with_owner_limit(session::owner::OwnerLimit::refuse(1));
    let app = Router::new()
        .route("/login", get(login))
        .layer(SessionLayer::new(sessions));
    let addr = serve(app).await;
    let first = reqwest::get(format!("http://{addr}/login")).await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("set-cookie").is_some());
    let second = reqwest::get(format!("http://{addr}/login")).await.unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert!(
        second.headers().get("set-cookie").is_none(),
        "nothing saved"
    );
    assert!(second.text().await.unwrap().contains("1 devices"));
}
