//! The Rust half of the shared-login example, and the one port both apps are reached on: an
//! axum app that serves `/` and `/login` itself and forwards `/remix/...` to the Remix 3 app
//! (`examples/remix/app.mjs`, started here as a child process). Both keep the session in the
//! same signed cookie (this crate's `CookieStorage` writes Remix's format) with the same
//! secret, name and keys, so a login made on one side is seen on the other, a flash set by
//! Rust is shown once by Remix, and a logout on the Remix side signs the Rust side out too.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use session::axum::{SessionLayer, Typed};
use session::{CookieStorage, Expiry, OldId, SessionCookie, SessionManager, SessionSchema};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// The cookie both apps use.
pub const COOKIE_NAME: &str = "sid";

/// How long a session may sit unused before the Rust side refuses it.
const IDLE_TIMEOUT: Duration = Duration::from_hours(14 * 24);

/// The session both apps read and write: the same keys on both sides.
#[derive(Debug, SessionSchema)]
pub struct Shared {
    /// Who is signed in.
    pub user: Option<String>,
    /// Pages seen, on either side.
    #[session(default)]
    pub visits: u64,
    /// A message for the next page, on either side.
    #[session(flash)]
    pub notice: Option<String>,
}

/// The Remix 3 app, as a child process that is stopped when this is dropped.
#[derive(Debug)]
pub struct RemixApp {
    child: Child,
    address: SocketAddr,
}

impl RemixApp {
    /// Starts `node examples/remix/app.mjs` with the shared secret and waits until it listens.
    ///
    /// # Errors
    ///
    /// When Node or the app's packages are missing (`npm ci --prefix examples/remix`, which
    /// `scripts/setup` runs), or the app does not start within ten seconds.
    pub async fn start(secret: &str, secure: bool) -> std::io::Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("remix/app.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("SESSION_SECRET", secret)
            .env("SESSION_COOKIE", COOKIE_NAME)
            .env("SESSION_INSECURE", if secure { "0" } else { "1" })
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the Remix app's output is not piped"))?;
        let first_line = async { BufReader::new(stdout).lines().next_line().await };
        let line = tokio::time::timeout(Duration::from_secs(10), first_line)
            .await
            .map_err(|_| std::io::Error::other("the Remix app did not start in 10 s"))??
            .ok_or_else(|| std::io::Error::other("the Remix app exited before listening"))?;
        let port = line
            .trim()
            .strip_prefix("{\"port\":")
            .and_then(|rest| rest.strip_suffix('}'))
            .and_then(|port| port.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other(format!("the Remix app said {line:?}")))?;
        Ok(Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// Where the Remix app listens (loopback only: it is reached through the Rust app).
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops the Remix app.
    ///
    /// # Errors
    ///
    /// When the process cannot be signalled.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.child.kill().await
    }
}

/// The Rust app and the front of the Remix app at `remix`, sharing sessions through the
/// cookie signed with `secret`.
///
/// # Errors
///
/// A secret shorter than 32 bytes.
pub fn app(secret: &str, secure: bool, remix: SocketAddr) -> Result<Router, session::Error> {
    let cookie = SessionCookie::builder(COOKIE_NAME)
        .secret(secret)
        .secure(secure)
        .build()?;
    // Remix writes no timestamps into the cookie, so a cookie it wrote last carries none:
    // served and stamped again when Rust next writes, instead of refused.
    let expiry = Expiry::builder()
        .idle_timeout(IDLE_TIMEOUT)
        .accept_unstamped_cookies()
        .build()?;
    let sessions = SessionManager::new(cookie, CookieStorage::new()).with_expiry(expiry);
    let rust = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .layer(SessionLayer::new(sessions));
    let forward = Router::new()
        .route("/remix", any(to_remix))
        .route("/remix/", any(to_remix))
        .route("/remix/{*rest}", any(to_remix))
        .with_state(Remix {
            address: remix,
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
    Ok(rust.merge(forward))
}

async fn home(shared: Typed<Shared>) -> session::Result<Html<String>> {
    let mut shared = shared.view()?;
    let visits = shared.visits() + 1;
    shared.set_visits(visits)?;
    let notice = shared.notice()?.unwrap_or_default();
    let (user, form) = match shared.user()? {
        Some(user) => (format!("Signed in as {}", escape(&user)), ""),
        None => (
            "Not signed in".to_owned(),
            "<form method=\"post\" action=\"/login\"><input id=\"name\" name=\"name\" required>\
             <button id=\"login\">Sign in</button></form>\n",
        ),
    };
    Ok(Html(format!(
        "<!doctype html><title>Rust</title>\n<h1>Rust (axum)</h1>\n\
         <p id=\"user\">{user}</p>\n<p id=\"notice\">{}</p>\n<p id=\"visits\">Visits: {visits}</p>\n\
         {form}<p><a id=\"to-remix\" href=\"/remix/\">To the Remix app</a></p>",
        escape(&notice)
    )))
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

/// Signs in on the Rust side (a new session id, against fixation), then shows the Remix app,
/// which greets the user with the flash set here.
async fn login(shared: Typed<Shared>, Form(login): Form<Login>) -> session::Result<Redirect> {
    shared.handle().lock()?.regenerate_id(OldId::Delete)?;
    let mut shared = shared.view()?;
    shared.flash_notice(format!("Welcome, {}: signed in by Rust.", login.name))?;
    shared.set_user(login.name)?;
    Ok(Redirect::to("/remix/"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Clone)]
struct Remix {
    address: SocketAddr,
    client: Client<HttpConnector, Body>,
}

/// Headers that describe one connection, not the message: not forwarded.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Forwards the request to the Remix app, cookies and all, and its answer back.
async fn to_remix(State(remix): State<Remix>, mut request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let Ok(uri) = Uri::try_from(format!("http://{}{path}", remix.address)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if let Ok(host) = HeaderValue::try_from(remix.address.to_string()) {
        headers.insert(header::HOST, host);
    }
    match remix.client.request(request).await {
        Ok(mut response) => {
            for name in &HOP_BY_HOP {
                response.headers_mut().remove(name);
            }
            response.map(Body::new)
        }
        Err(error) => {
            report(&error);
            (StatusCode::BAD_GATEWAY, "the Remix app is not answering").into_response()
        }
    }
}

#[expect(clippy::print_stderr, reason = "an example reports a failed forward")]
fn report(error: &dyn std::error::Error) {
    eprintln!("forwarding to the Remix app failed: {error}");
}
