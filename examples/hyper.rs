//! Sessions on a bare hyper server, no web framework: a tower `service_fn` counts visits in a
//! typed session, under `session::tower::SessionLayer`. The handler finds the request's
//! session in its extensions and loads it on first use; the layer commits it into
//! `Set-Cookie`.
//!
//! Run it with `cargo run -p session-examples --example hyper` and open
//! <http://localhost:3001>; `-- --check` serves on a free port, makes three requests as one
//! browser and exits.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example shows its work"
)]

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use session::tower::{SessionHandle, SessionLayer};
use session::{MemoryStorage, SessionCookie, SessionManager, SessionSchema};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, service_fn};

#[path = "support/client.rs"]
mod client;

/// What this app keeps in a session.
#[derive(SessionSchema)]
struct Visits {
    #[session(default)]
    count: u64,
}

/// The one route: counts this browser's visits.
async fn count(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let Some(handle) = request.extensions().get::<SessionHandle>().cloned() else {
        return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, "no SessionLayer"));
    };
    let counted = async {
        let mut session = handle.load().await?;
        let mut visits = Visits::view(&mut session);
        let count = visits.count() + 1;
        visits.set_count(count)?;
        Ok::<_, session::Error>(count)
    };
    Ok(match counted.await {
        Ok(count) => text(StatusCode::OK, &format!("visit #{count}\n")),
        // The layer's error hook answers for a session failure this response carries.
        Err(error) => {
            let mut response = text(StatusCode::INTERNAL_SERVER_ERROR, "");
            response
                .extensions_mut()
                .insert(session::tower::SessionFailure::new(error));
            response
        }
    })
}

fn text(status: StatusCode, body: &str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = status;
    response
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|arg| arg == "--check");
    let cookie = SessionCookie::builder("sid")
        .secret("an example secret that is long enough to sign")
        // Plain http on localhost; keep `Secure` (the default) behind TLS.
        .secure(false)
        .build()?;
    let sessions = SessionManager::new(cookie, MemoryStorage::new());
    let service = ServiceBuilder::new()
        .layer(SessionLayer::new(sessions))
        .service(service_fn(count));

    let listener = TcpListener::bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3001"
    })
    .await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let served = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(error) = served {
                    eprintln!("connection failed: {error}");
                }
            });
        }
    });
    if !check {
        println!("listening on http://{address}");
        server.await?;
        return Ok(());
    }
    // One browser: each request sends the cookie the previous response set.
    let mut cookie = None::<String>;
    for expected in 1..=3 {
        let reply = client::send(address, "GET", "/", cookie.as_deref(), None).await?;
        println!("{}", reply.body.trim_end());
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, format!("visit #{expected}\n"));
        cookie = reply.set_cookie.or(cookie);
    }
    server.abort();
    Ok(())
}
