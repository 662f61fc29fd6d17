//! A tour of the session stack without a web server: a browser (a cookie jar) makes requests to
//! a small app that counts visits, logs in (regenerating the id), flashes a notice after a form
//! post, and logs out, first on memory storage and then on cookie storage.
//!
//! Run it with `cargo run -p session-examples --example quickstart`.
#![expect(clippy::print_stdout, reason = "an example shows its work")]

use session::{
    Commit, CookieStorage, MemoryStorage, Session, SessionCookie, SessionManager, SessionStorage,
};

/// The app: one function per route, each given the request's session.
fn route(path: &str, session: &mut Session) -> session::Result<String> {
    Ok(match path {
        "/" => {
            let visits = session.get::<u32>("visits")?.unwrap_or(0) + 1;
            session.set("visits", visits)?;
            let user = session.get::<String>("user")?;
            let notice = session.get::<String>("notice")?;
            format!(
                "visit #{visits} as {}{}",
                user.as_deref().unwrap_or("a guest"),
                notice
                    .map(|n| format!(" — notice: {n}"))
                    .unwrap_or_default()
            )
        }
        "/login" => {
            // A new id on every change of privilege defeats session fixation.
            session.regenerate_id(true)?;
            session.set("user", "ada")?;
            "logged in".to_owned()
        }
        "/profile" => {
            session.flash("notice", "Profile saved")?;
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
async fn browse<S: SessionStorage>(
    title: &str,
    sessions: &SessionManager<S>,
) -> session::Result<()> {
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
                let header = other.set_cookie().unwrap_or_default();
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
    Ok(())
}
