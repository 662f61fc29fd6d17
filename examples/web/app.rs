//! A small but real web app on axum and `session`: log in (which regenerates the session id;
//! "remember me" makes the cookie persistent for 30 days, otherwise it lasts as long as the
//! browser), log out (which destroys the session), a per-visitor counter, and a form that
//! flashes a message after POST-redirect-GET. Plain HTML, no build step. `web/main.rs` serves it; the
//! integration tests serve it in-process.
//!
//! The handlers reach the session only through the accessors `#[derive(SessionSchema)]`
//! generates, plus `regenerate_id` and `destroy`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Form;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use session::axum::{SessionLayer, Typed};
use session::expiry::Lifetime;
use session::{
    CookieStorage, FileStorage, MemoryStorage, OldId, PostgresStorage, RedisStorage, SessionCookie,
    SessionManager, SessionSchema, SqliteStorage,
};

/// How often a SQL storage's expired sessions are swept.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_mins(10);

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
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/notes", post(note))
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

async fn login(visitor: Typed<Visitor>, Form(form): Form<LoginForm>) -> Result<Redirect, Failure> {
    let name = form.name.trim();
    if name.is_empty() {
        visitor
            .view()?
            .flash_notice("Please enter a name.".to_owned())?;
        return Ok(Redirect::to("/"));
    }
    // A new id on login defeats session fixation; the old id stops working.
    visitor.handle().lock()?.regenerate_id(OldId::Delete)?;
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
