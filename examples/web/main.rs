//! Serves the demo app (`web/app.rs`).
//!
//! ```text
//! cargo run -p session-examples --example web -- [--storage memory|cookie|file|redis|postgres|sqlite]
//!     [--encrypted] [--dir PATH] [--redis-url redis://127.0.0.1:6379/]
//!     [--database-url postgres://...|sqlite://...] [--port 3000]
//!     [--insecure-cookies] [--no-sessions] [--check]
//! ```
//!
//! The secret comes from `SESSION_SECRET` (at least 32 bytes); without it a random one is made
//! for this run. `--encrypted` (with `--storage cookie`) encrypts the cookie instead of
//! signing it. `--insecure-cookies` drops `Secure` for plain-HTTP development on another
//! host than localhost. `--no-sessions` serves only `/counter` without sessions (for the HTTP
//! benchmark). `--check` starts the server, makes one request and exits: CI runs it.
#![expect(clippy::print_stdout, reason = "a server says where it listens")]

use std::net::SocketAddr;

use session_examples::{Config, Storage, app, app_without_sessions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

struct Args {
    storage: Storage,
    port: u16,
    insecure: bool,
    no_sessions: bool,
    check: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        storage: Storage::Memory,
        port: 3000,
        insecure: false,
        no_sessions: false,
        check: false,
    };
    let mut dir = std::env::temp_dir().join("session-web-example");
    let mut kind = "memory".to_owned();
    let mut redis_url = "redis://127.0.0.1:6379/".to_owned();
    let mut database_url = None;
    let mut encrypted = false;
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--storage" => kind = iter.next().ok_or("--storage needs a value")?,
            "--dir" => dir = iter.next().ok_or("--dir needs a value")?.into(),
            "--redis-url" => redis_url = iter.next().ok_or("--redis-url needs a value")?,
            "--database-url" => {
                database_url = Some(iter.next().ok_or("--database-url needs a value")?);
            }
            "--port" => {
                args.port = iter
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--encrypted" => encrypted = true,
            "--insecure-cookies" => args.insecure = true,
            "--no-sessions" => args.no_sessions = true,
            "--check" => args.check = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    args.storage = match (kind.as_str(), encrypted) {
        ("cookie", true) => Storage::EncryptedCookie,
        (_, true) => return Err("--encrypted goes with --storage cookie".to_owned()),
        ("memory", false) => Storage::Memory,
        ("cookie", false) => Storage::Cookie,
        ("file", false) => Storage::File(dir),
        ("redis", false) => Storage::Redis(redis_url),
        ("postgres", false) => Storage::Postgres(
            database_url.ok_or("--storage postgres needs --database-url postgres://...")?,
        ),
        ("sqlite", false) => Storage::Sqlite(
            database_url.unwrap_or_else(|| "sqlite://session-web-example.db".to_owned()),
        ),
        (other, false) => {
            return Err(format!(
                "unknown storage {other}: use memory, cookie, file, redis, postgres or sqlite"
            ));
        }
    };
    Ok(args)
}

fn secret() -> String {
    std::env::var("SESSION_SECRET").unwrap_or_else(|_| {
        println!("SESSION_SECRET is not set: using a random secret for this run");
        // Two session ids: 384 bits from the OS CSPRNG, 64 characters.
        format!(
            "{}{}",
            session::SessionId::generate().as_str(),
            session::SessionId::generate().as_str()
        )
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let router = if args.no_sessions {
        app_without_sessions()
    } else {
        // A bad configuration stops the server here, with the reason.
        app(&Config {
            storage: args.storage.clone(),
            secret: secret(),
            secure_cookies: !args.insecure,
        })
        .await
        .map_err(|error| format!("invalid session configuration: {error}"))?
    };
    let port = if args.check { 0 } else { args.port };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr} ({:?} storage)", args.storage);
    if args.check {
        tokio::spawn(async move { axum::serve(listener, router).await });
        let response = get(addr, if args.no_sessions { "/counter" } else { "/" }).await?;
        let ok = response.starts_with("HTTP/1.1 200")
            && (args.no_sessions || response.to_ascii_lowercase().contains("set-cookie: sid="));
        println!("{}", response.lines().next().unwrap_or_default());
        return if ok {
            Ok(())
        } else {
            Err("the check request failed".into())
        };
    }
    axum::serve(listener, router).await?;
    Ok(())
}

/// A minimal HTTP/1.1 GET, so that `--check` needs no client library.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}
