//! A small but real web app on axum and `session`: log in (which regenerates the session id;
//! "remember me" makes the cookie persistent for 30 days, otherwise it lasts as long as the
//! browser), log out (which destroys the session), a per-visitor counter, a form that
//! flashes a message after POST-redirect-GET, and a "Your sessions" page listing every browser
//! logged in as the same user, with "log out this one" and "log out all others". Plain HTML,
//! no build step. `web/main.rs` serves it; the integration tests serve it in-process.
//!
//! The handlers reach the session only through the accessors `#[derive(SessionSchema)]`
//! generates, plus `regenerate_id`, `set_owner`, `set_label` and `destroy`, and the owner calls
//! of the request's `SessionHandle`.

#[path = "../remix/front.rs"]
pub mod shared_login;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use session::axum::{SessionLayer, Typed};
use session::expiry::Lifetime;
use session::owner::{Handle, OwnerLimit};
use session::{
    CookieStorage, FileStorage, MemoryStorage, OldId, PostgresStorage, RedisStorage, SessionCookie,
    SessionManager, SessionSchema, SqliteStorage,
};

/// How often a SQL storage's expired sessions are swept.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_mins(10);

/// The most browsers one user is logged in on at once: an eleventh login ends the least
/// recently used.
pub const SESSIONS_PER_USER: usize = 10;

/// How long "remember me" keeps a login.
pub const REMEMBER_FOR: std::time::Duration = std::time::Duration::from_hours(30 * 24);

/// What the app keeps in a visitor's session.
#[derive(Debug, SessionSchema)]
pub struct Visitor {
    /// The logged-in user's name.
    pub user: Option<String>,
    /// Pages seen in this session.
    #[session(default)]
    pub count: u64,
    /// A message for the next page only.
    #[session(flash)]
    pub notice: Option<String>,
    /// How long the browser keeps the cookie: chosen at login.
    #[session(lifetime)]
    pub lifetime: Lifetime,
}

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In this process.
    Memory,
    /// In the signed cookie (Remix's format).
    Cookie,
    /// In an encrypted cookie (XChaCha20-Poly1305): the browser cannot read it.
    EncryptedCookie,
    /// One file per session under a directory.
    File(PathBuf),
    /// A Redis server, by URL.
    Redis(String),
    /// A PostgreSQL database, by URL (`postgres://user@host/db`); the table is made at start.
    Postgres(String),
    /// A SQLite database, by URL (`sqlite://sessions.db`, made if missing), likewise.
    Sqlite(String),
}

/// How the app is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The storage strategy.
    pub storage: Storage,
    /// The secret that signs cookies (at least 32 bytes).
    pub secret: String,
    /// Whether the cookie carries `Secure` (turn it off only for plain-HTTP development).
    pub secure_cookies: bool,
}

/// Builds the app; a SQL storage's table is created here if missing, and a task that sweeps
/// expired sessions every ten minutes is spawned.
///
/// # Errors
///
/// A configuration mistake (a short secret, an unusable directory, a database that cannot be
/// reached) surfaces here, at startup.
pub async fn app(config: &Config) -> Result<Router, session::Error> {
    let cookie = SessionCookie::builder("sid")
        .secret(&config.secret)
        .secure(config.secure_cookies)
        .build()?;
    Ok(match &config.storage {
        Storage::Memory => routes(SessionManager::new(cookie, MemoryStorage::new())),
        Storage::Cookie => routes(SessionManager::new(cookie, CookieStorage::new())),
        Storage::EncryptedCookie => routes(SessionManager::new(cookie, CookieStorage::encrypted())),
        Storage::File(dir) => routes(SessionManager::new(cookie, FileStorage::new(dir)?)),
        Storage::Redis(url) => routes(SessionManager::new(
            cookie,
            RedisStorage::builder(url.as_str()).build()?,
        )),
        Storage::Postgres(url) => {
            let storage = PostgresStorage::builder(url.as_str()).build()?;
            storage.migrate().await?;
            tokio::spawn(storage.clone().sweep_every(SWEEP_EVERY));
            routes(SessionManager::new(cookie, storage))
        }
        Storage::Sqlite(url) => {
            let storage = SqliteStorage::builder(url.as_str()).build()?;
            storage.migrate().await?;
            tokio::spawn(storage.clone().sweep_every(SWEEP_EVERY));
            routes(SessionManager::new(cookie, storage))
        }
    })
}

fn routes<S: session::Storage + 'static>(sessions: SessionManager<S>) -> Router {
    let sessions = sessions.with_owner_limit(OwnerLimit::end_least_recent(SESSIONS_PER_USER));
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/notes", post(note))
        .route("/sessions", get(your_sessions))
        .route("/sessions/end", post(end_one))
        .route("/sessions/end-others", post(end_others))
        .route("/counter", get(counter))
        .route("/health", get(|| async { "ok" }))
        .layer(SessionLayer::new(sessions))
}

/// The same app without sessions: the counter endpoint counts in one process-wide number.
/// The HTTP benchmark compares against it.
pub fn app_without_sessions() -> Router {
    let hits = Arc::new(AtomicU64::new(0));
    Router::new().route(
        "/counter",
        get(move || {
            let hits = Arc::clone(&hits);
            async move { (hits.fetch_add(1, Ordering::Relaxed) + 1).to_string() }
        }),
    )
}

/// A failed session operation, as a plain 500.
struct Failure(session::Error);

impl From<session::Error> for Failure {
    fn from(error: session::Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("session error: {}", self.0),
        )
            .into_response()
    }
}

async fn home(visitor: Typed<Visitor>) -> Result<Html<String>, Failure> {
    let mut view = visitor.view()?;
    let count = view.count() + 1;
    view.set_count(count)?;
    let user = view.user()?;
    let notice = view.notice()?;
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>session demo</title></head><body>",
    );
    match &user {
        Some(name) => {
            let _ = write!(page, "<h1 id=\"greeting\">Hello, {}!</h1>", escape(name));
        }
        None => page.push_str("<h1 id=\"greeting\">Hello, guest!</h1>"),
    }
    if let Some(notice) = notice {
        let _ = write!(page, "<p id=\"notice\">{}</p>", escape(&notice));
    }
    let _ = write!(
        page,
        "<p>Visits this session: <span id=\"count\">{count}</span></p>"
    );
    if user.is_some() {
        page.push_str(
            "<form method=\"post\" action=\"/notes\"><input id=\"note\" name=\"text\" placeholder=\"A note\">\
             <button id=\"save\" type=\"submit\">Save note</button></form>\
             <p><a id=\"sessions\" href=\"/sessions\">Your sessions</a></p>\
             <form method=\"post\" action=\"/logout\"><button id=\"logout\" type=\"submit\">Log out</button></form>",
        );
    } else {
        page.push_str(
            "<form method=\"post\" action=\"/login\"><input id=\"name\" name=\"name\" placeholder=\"Your name\">\
             <label><input id=\"remember\" name=\"remember\" type=\"checkbox\" value=\"on\"> Remember me for 30 days</label>\
             <button id=\"login\" type=\"submit\">Log in</button></form>",
        );
    }
    page.push_str("</body></html>");
    Ok(Html(page))
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    /// Present when "remember me" is ticked.
    remember: Option<String>,
}

async fn login(
    visitor: Typed<Visitor>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Redirect, Failure> {
    let name = form.name.trim();
    if name.is_empty() {
        visitor
            .view()?
            .flash_notice("Please enter a name.".to_owned())?;
        return Ok(Redirect::to("/"));
    }
    {
        let mut session = visitor.handle().lock()?;
        // A new id on login defeats session fixation; the old id stops working.
        session.regenerate_id(OldId::Delete)?;
        // The name is the user here; a real app uses its user id. The label is what the
        // user sees on "Your sessions".
        session.set_owner(name)?;
        session.set_label(device(&headers))?;
    }
    let mut view = visitor.view()?;
    view.set_user(name.to_owned())?;
    // Remembered: a persistent cookie for 30 days. Otherwise a browser-session cookie, gone
    // when the browser closes; the server's idle timeout holds either way.
    view.set_lifetime(if form.remember.is_some() {
        Lifetime::Persistent(REMEMBER_FOR)
    } else {
        Lifetime::BrowserSession
    })?;
    view.flash_notice(format!("Welcome, {name}."))?;
    Ok(Redirect::to("/"))
}

async fn logout(visitor: Typed<Visitor>) -> Result<Redirect, Failure> {
    visitor.handle().lock()?.destroy();
    Ok(Redirect::to("/"))
}

#[derive(Deserialize)]
struct NoteForm {
    text: String,
}

async fn note(visitor: Typed<Visitor>, Form(form): Form<NoteForm>) -> Result<Redirect, Failure> {
    visitor
        .view()?
        .flash_notice(format!("Saved: {}", form.text.trim()))?;
    Ok(Redirect::to("/"))
}

async fn counter(visitor: Typed<Visitor>) -> Result<impl IntoResponse, Failure> {
    let mut view = visitor.view()?;
    let count = view.count() + 1;
    view.set_count(count)?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], count.to_string()))
}

async fn your_sessions(visitor: Typed<Visitor>) -> Result<Html<String>, Failure> {
    let (user, notice) = {
        let view = visitor.view()?;
        (view.user()?, view.notice()?)
    };
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Your sessions</title></head><body>\
         <h1>Your sessions</h1>",
    );
    if let Some(notice) = notice {
        let _ = write!(page, "<p id=\"notice\">{}</p>", escape(&notice));
    }
    if user.is_none() {
        page.push_str(
            "<p id=\"none\">Log in first.</p><p><a href=\"/\">Home</a></p></body></html>",
        );
        return Ok(Html(page));
    }
    let listed = match visitor.handle().owner_sessions().await {
        Ok(listed) => listed,
        Err(session::Error::Unsupported { .. }) => {
            page.push_str(
                "<p id=\"unsupported\">This demo keeps its sessions in cookies, which the server \
                 cannot list or end. Run it with a server-side storage.</p>\
                 <p><a href=\"/\">Home</a></p></body></html>",
            );
            return Ok(Html(page));
        }
        Err(error) => return Err(error.into()),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    page.push_str("<ul id=\"list\">");
    for entry in &listed {
        let label = entry
            .label
            .as_ref()
            .map_or("A browser", |label| label.as_str());
        let _ = write!(
            page,
            "<li class=\"session\" data-handle=\"{handle}\"><span class=\"label\">{label}</span>, \
             signed in {created}, last seen {seen}",
            handle = entry.handle,
            label = escape(label),
            created = ago(now, entry.created),
            seen = ago(now, entry.last_seen),
        );
        if entry.current {
            page.push_str(" <strong class=\"current\">(this browser)</strong>");
        } else {
            let _ = write!(
                page,
                " <form method=\"post\" action=\"/sessions/end\" style=\"display:inline\">\
                 <input type=\"hidden\" name=\"handle\" value=\"{}\">\
                 <button class=\"end\" type=\"submit\">Log out this one</button></form>",
                entry.handle
            );
        }
        page.push_str("</li>");
    }
    page.push_str(
        "</ul><form method=\"post\" action=\"/sessions/end-others\">\
         <button id=\"end-others\" type=\"submit\">Log out all others</button></form>\
         <p><a href=\"/\">Home</a></p></body></html>",
    );
    Ok(Html(page))
}

#[derive(Deserialize)]
struct EndForm {
    handle: Handle,
}

async fn end_one(visitor: Typed<Visitor>, Form(form): Form<EndForm>) -> Result<Redirect, Failure> {
    let ended = visitor.handle().end_owner_session(&form.handle).await?;
    let notice = if ended {
        "That session is logged out."
    } else {
        "That session had already ended."
    };
    visitor.view()?.flash_notice(notice.to_owned())?;
    Ok(Redirect::to("/sessions"))
}

async fn end_others(visitor: Typed<Visitor>) -> Result<Redirect, Failure> {
    let ended = visitor.handle().end_other_sessions().await?;
    visitor
        .view()?
        .flash_notice(format!("Logged out {ended} other session(s)."))?;
    Ok(Redirect::to("/sessions"))
}

/// A short name for the browser a request came from, from its `User-Agent`.
fn device(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// How long before `now` the Unix second `then` was, in words.
fn ago(now: u64, then: u64) -> String {
    match now.saturating_sub(then) {
        0..=59 => "just now".to_owned(),
        seconds @ 60..=3_599 => format!("{} min ago", seconds / 60),
        seconds @ 3_600..=86_399 => format!("{} h ago", seconds / 3_600),
        seconds => format!("{} days ago", seconds / 86_400),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
