//! Sessions in actix-web: log in (a new session id, a flash for the next page), count visits,
//! log out (the session is destroyed), through `session::actix::SessionMiddleware` and the
//! typed accessors `#[derive(SessionSchema)]` generates. The same app runs on any storage.
//!
//! Run it with `cargo run -p session-examples --example actix` and open
//! <http://localhost:3002>. `-- --storage cookie` keeps the session in the signed cookie
//! (`encrypted-cookie`, `file:<dir>` and `redis://...` work too); `-- --check` serves on a
//! free port, walks through a login and a logout as one browser, and exits.
#![expect(clippy::print_stdout, reason = "an example shows its work")]

use std::net::SocketAddr;
use std::ops::Not as _;

use actix_web::http::header::{ContentType, LOCATION};
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use session::actix::{SessionHandle, SessionMiddleware, Typed};
use session::{
    CookieStorage, FileStorage, MemoryStorage, OldId, RedisStorage, SessionCookie, SessionManager,
    SessionSchema, Storage,
};

#[path = "support/client.rs"]
mod client;

/// What this app keeps in a session.
#[derive(SessionSchema)]
struct Visitor {
    /// The logged-in user.
    user: Option<String>,
    /// Pages seen in this session.
    #[session(default)]
    visits: u64,
    /// A message for the next page only.
    #[session(flash)]
    notice: Option<String>,
}

/// The home page: who is logged in, the visit count, and the notice of the last action.
async fn home(visitor: Typed<Visitor>) -> session::Result<HttpResponse> {
    let mut visitor = visitor.view()?;
    let visits = visitor.visits() + 1;
    visitor.set_visits(visits)?;
    let notice = visitor.notice()?.unwrap_or_default();
    let form = match visitor.user()? {
        Some(user) => format!(
            "<p>Hello, {}!</p><form method=post action=/logout><button>Log out</button></form>",
            escape(&user)
        ),
        None => "<p>Hello, guest!</p><form method=post action=/login>\
                 <input name=name placeholder=name required><button>Log in</button></form>"
            .to_owned(),
    };
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(format!(
            "<!doctype html><title>actix-web sessions</title>\
         <p id=notice>{}</p>{form}<p>Visit #{visits}</p>",
            escape(&notice)
        )))
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

/// Logs in: the session moves to a new id (against fixation) before it holds the user.
async fn login(visitor: Typed<Visitor>, form: web::Form<Login>) -> session::Result<HttpResponse> {
    let name = form.into_inner().name;
    visitor.handle().lock()?.regenerate_id(OldId::Delete)?;
    let mut visitor = visitor.view()?;
    visitor.flash_notice(format!("Welcome, {name}."))?;
    visitor.set_user(name)?;
    Ok(see_home())
}

/// Logs out: the record is deleted and the cookie cleared.
async fn logout(session: SessionHandle) -> session::Result<HttpResponse> {
    session.lock()?.destroy();
    Ok(see_home())
}

fn see_home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/"))
        .finish()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves the app over `storage` on `address` (port 0: a free one); returns the bound
/// address and the running server.
fn serve<S: Storage + 'static>(
    storage: S,
    address: &str,
) -> Result<(SocketAddr, actix_web::dev::Server), Box<dyn std::error::Error>> {
    let cookie = SessionCookie::builder("sid")
        .secret("an example secret that is long enough to sign")
        // Plain http on localhost; keep `Secure` (the default) behind TLS.
        .secure(false)
        .build()?;
    // One manager for every worker: the middleware shares it behind an `Arc`.
    let sessions = SessionMiddleware::new(SessionManager::new(cookie, storage));
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(home))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
    })
    .workers(2)
    .bind(address)?;
    let bound = server.addrs()[0];
    Ok((bound, server.run()))
}

/// A browser: keeps the session cookie from one response to the next request.
struct Browser {
    address: SocketAddr,
    jar: Option<String>,
}

impl Browser {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> std::io::Result<client::Reply> {
        let reply = client::send(self.address, method, path, self.jar.as_deref(), form).await?;
        if let Some(pair) = &reply.set_cookie {
            // A cleared cookie (`sid=`) empties the jar.
            self.jar = pair.ends_with('=').not().then(|| pair.clone());
        }
        println!("{method} {path}: {}", reply.status);
        Ok(reply)
    }
}

/// One browser through a login and a logout, checking each page.
async fn check(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let mut browser = Browser { address, jar: None };
    let page = browser.send("GET", "/", None).await?;
    assert!(page.body.contains("Hello, guest!") && page.body.contains("Visit #1"));
    let planted = browser.jar.clone().expect("a new session sets its cookie");

    let login = browser.send("POST", "/login", Some("name=ada")).await?;
    assert_eq!(login.status, 303);
    assert_ne!(
        browser.jar,
        Some(planted),
        "login moves the session to a new id"
    );
    let page = browser.send("GET", "/", None).await?;
    assert!(page.body.contains("Hello, ada!") && page.body.contains("Welcome, ada."));
    assert!(page.body.contains("Visit #2"));
    let page = browser.send("GET", "/", None).await?;
    assert!(!page.body.contains("Welcome"), "a flash shows once");

    let logout = browser.send("POST", "/logout", None).await?;
    assert_eq!(logout.status, 303);
    assert_eq!(browser.jar, None, "logging out clears the cookie");
    let page = browser.send("GET", "/", None).await?;
    assert!(page.body.contains("Hello, guest!") && page.body.contains("Visit #1"));
    Ok(())
}

async fn run(storage: &str, check_only: bool) -> Result<(), Box<dyn std::error::Error>> {
    let address = if check_only {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3002"
    };
    let (bound, server) = match storage {
        "memory" => serve(MemoryStorage::new(), address)?,
        "cookie" => serve(CookieStorage::new(), address)?,
        "encrypted-cookie" => serve(CookieStorage::encrypted(), address)?,
        url if url.starts_with("redis://") => serve(RedisStorage::builder(url).build()?, address)?,
        other => match other.strip_prefix("file:") {
            Some(dir) => serve(FileStorage::new(dir)?, address)?,
            None => return Err(format!("unknown storage {other:?}").into()),
        },
    };
    if !check_only {
        println!("listening on http://{bound} (sessions: {storage})");
        server.await?;
        return Ok(());
    }
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let checked = check(bound).await;
    handle.stop(true).await;
    checked
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let check_only = args.iter().any(|arg| arg == "--check");
    let storage = args
        .iter()
        .position(|arg| arg == "--storage")
        .and_then(|at| args.get(at + 1))
        .map_or("memory", String::as_str);
    actix_web::rt::System::new().block_on(run(storage, check_only))
}
