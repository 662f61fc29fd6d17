//! One login shared by a Remix 3 app and a Rust app, behind one port: sign in on the Rust side
//! and the Remix side greets you (with the flash Rust set); sign out on the Remix side and
//! the Rust side has signed you out too. Both keep the session in one signed cookie, in
//! Remix's format, with the same secret (`session_examples::shared_login` has the details).
//!
//! Run it with `cargo run -p session-examples --example remix` (after `scripts/setup`, which
//! installs Node and the pinned Remix packages) and open <http://localhost:3003>.
//! `SESSION_SECRET` sets the shared secret. `-- --check` serves on a free port, walks one
//! browser through both apps and exits.
#![expect(clippy::print_stdout, reason = "an example shows its work")]

use std::net::SocketAddr;

use session_examples::shared_login::{RemixApp, app};
use tokio::net::TcpListener;

#[path = "../support/client.rs"]
mod client;

/// The example's secret; set `SESSION_SECRET` to your own for anything but a try-out.
const EXAMPLE_SECRET: &str = "an example secret shared by the Rust and the Remix app";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|arg| arg == "--check");
    let secret = std::env::var("SESSION_SECRET").unwrap_or_else(|_| EXAMPLE_SECRET.to_owned());
    // Plain http on localhost (and the check's client sends its cookie by hand); keep
    // `Secure` (the default) behind TLS.
    let secure = false;
    let remix = RemixApp::start(&secret, secure).await?;
    let router = app(&secret, secure, remix.address())?;
    let listener = TcpListener::bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3003"
    })
    .await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    if !check {
        println!("listening on http://{address} (the Remix app: http://{address}/remix/)");
        server.await??;
        return Ok(());
    }
    let checked = walk_through(address).await;
    server.abort();
    remix.stop().await?;
    checked
}

/// One browser: signs in on the Rust side, is greeted by Remix, is counted by both, signs out
/// on the Remix side and is a guest again on the Rust side.
async fn walk_through(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let mut jar = None::<String>;
    let mut visit = async |method: &str, path: &str, form: Option<&str>| {
        let reply = client::send(address, method, path, jar.as_deref(), form).await?;
        if let Some(pair) = &reply.set_cookie {
            // A cleared cookie (`sid=`) empties the jar.
            jar = (!pair.ends_with('=')).then(|| pair.clone());
        }
        println!("{method} {path}: {}", reply.status);
        Ok::<_, std::io::Error>(reply)
    };
    let rust = visit("GET", "/", None).await?;
    assert!(rust.body.contains("Not signed in"), "{}", rust.body);
    let signed_in = visit("POST", "/login", Some("name=ada")).await?;
    assert_eq!(signed_in.status, 303);
    let remix = visit("GET", "/remix/", None).await?;
    assert!(remix.body.contains("Remix 3"), "{}", remix.body);
    assert!(remix.body.contains("Signed in as ada"), "{}", remix.body);
    assert!(remix.body.contains("Welcome, ada: signed in by Rust."));
    assert!(
        remix.body.contains("Visits: 2"),
        "Remix counts on from Rust's count"
    );
    let rust = visit("GET", "/", None).await?;
    assert!(rust.body.contains("Signed in as ada"), "{}", rust.body);
    assert!(
        rust.body.contains("Visits: 3"),
        "Rust counts on from Remix's count"
    );
    assert!(
        !rust.body.contains("Welcome"),
        "the flash was shown once, by Remix"
    );
    let signed_out = visit("POST", "/remix/logout", None).await?;
    assert_eq!(signed_out.status, 303);
    let rust = visit("GET", "/", None).await?;
    assert!(
        rust.body.contains("Not signed in"),
        "signed out on both sides"
    );
    Ok(())
}
