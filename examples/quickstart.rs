//! A tour of the session stack without a web server: a browser (a cookie jar) makes requests to
//! a small app that counts visits, logs in (regenerating the id), flashes a notice after a form
//! post, and logs out, on memory, cookie and file storage. The handlers touch the session only
//! through the accessors `#[derive(SessionSchema)]` generates: no string keys.
//!
//! Run it with `cargo run -p session-examples --example quickstart`.
#![expect(clippy::print_stdout, reason = "an example shows its work")]

use session::{
    Commit, CookieStorage, FileStorage, MemoryStorage, OldId, Session, SessionCookie,
    SessionManager, SessionSchema, Storage,
};

/// What this app keeps in a session.
#[derive(SessionSchema)]
struct Visitor {
    user: Option<String>,
    #[session(default)]
    visits: u32,
    #[session(flash)]
    notice: Option<String>,
}

/// The app: one function per route, each given the request's session.
fn route(path: &str, session: &mut Session) -> session::Result<String> {
    Ok(match path {
        "/" => {
            let mut visitor = Visitor::view(session);
            let visits = visitor.visits() + 1;
            visitor.set_visits(visits)?;
            let greeting = match visitor.user()? {
                Some(user) => format!("visit #{visits} as {user}"),
                None => format!("visit #{visits} as a guest"),
            };
            match visitor.notice()? {
                Some(notice) => format!("{greeting} — notice: {notice}"),
                None => greeting,
            }
        }
        "/login" => {
            // A new id on every change of privilege defeats session fixation.
            session.regenerate_id(OldId::Delete)?;
            Visitor::view(session).set_user("ada".to_owned())?;
            "logged in".to_owned()
        }
        "/profile" => {
            Visitor::view(session).flash_notice("Profile saved".to_owned())?;
            "303 See Other → /".to_owned()
        }
        "/logout" => {
            session.destroy();
            "logged out".to_owned()
        }
        _ => "404".to_owned(),
    })
}

/// A browser: it keeps the cookie pair from each `Set-Cookie` and sends it back.
async fn browse<S: Storage>(title: &str, sessions: &SessionManager<S>) -> session::Result<()> {
    println!("== {title}");
    let mut jar: Option<String> = None;
    for path in [
        "/", "/", "/login", "/", "/profile", "/", "/", "/logout", "/",
    ] {
        let mut session = sessions.load(jar.as_deref()).await?;
        let body = route(path, &mut session)?;
        let commit = sessions.commit(&session).await?;
        let sent = match &commit {
            Commit::Unchanged => "no Set-Cookie".to_owned(),
            other => {
                let header = other.header().unwrap_or_default();
                let pair = header.split(';').next().unwrap_or_default();
                jar = (!pair.ends_with('=')).then(|| pair.to_owned());
                format!("Set-Cookie: {}…", &header[..header.len().min(48)])
            }
        };
        println!("GET {path:<9} {body:<48} [{sent}]");
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> session::Result<()> {
    // In production the secret comes from the environment, never from the source.
    let secret = std::env::var("SESSION_SECRET")
        .unwrap_or_else(|_| "example-secret-of-at-least-32-bytes!!".to_owned());
    let cookie = || {
        SessionCookie::builder("__Host-session")
            .secret(&secret)
            .build()
    };

    let memory = SessionManager::new(cookie()?, MemoryStorage::new());
    browse(
        "memory storage: the id in the cookie, the data in this process",
        &memory,
    )
    .await?;
    // The logged-out session is gone; the one record left is the guest session of the last visit.
    println!("records stored: {}\n", memory.storage().len());

    let cookies = SessionManager::new(cookie()?, CookieStorage::new());
    browse(
        "cookie storage: the whole session in the signed cookie",
        &cookies,
    )
    .await?;
    println!();

    let dir = std::env::temp_dir().join(format!("session-quickstart-{}", std::process::id()));
    let files = SessionManager::new(cookie()?, FileStorage::new(&dir)?);
    browse("file storage: one fsynced file per session", &files).await?;
    std::fs::remove_dir_all(&dir).map_err(session::Error::Io)?;
    Ok(())
}
