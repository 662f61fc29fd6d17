//! Sessions in actix-web: [`SessionMiddleware`] reads the session lazily from the request's
//! `Cookie` header and commits it into the response's `Set-Cookie`, under the same rules as
//! the [tower layer](crate::tower::SessionLayer); the extractors [`SessionHandle`] and
//! [`Typed`] hand it to handlers. A `session::Error` a handler returns, and a failed load,
//! become the middleware's error response ([`SessionMiddleware::on_error`]).
//!
//! ```
//! use actix_web::{App, test, web};
//! use session::actix::{SessionMiddleware, Typed};
//! use session::{MemoryStorage, SessionCookie, SessionManager, SessionSchema};
//!
//! #[derive(SessionSchema)]
//! struct Counter {
//!     #[session(default)]
//!     hits: u64,
//! }
//!
//! async fn count(counter: Typed<Counter>) -> session::Result<String> {
//!     let mut counter = counter.view()?;
//!     let hits = counter.hits() + 1;
//!     counter.set_hits(hits)?;
//!     Ok(hits.to_string())
//! }
//!
//! # actix_rt::System::new().block_on(async {
//! let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
//! let sessions = SessionMiddleware::new(SessionManager::new(cookie, MemoryStorage::new()));
//! let app = test::init_service(App::new().wrap(sessions).route("/", web::get().to(count))).await;
//!
//! let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert_eq!(test::read_body(response).await, "1");
//! # Ok::<(), session::Error>(()) }).unwrap();
//! ```

mod extract;
mod middleware;

pub use crate::tower::typed::Typed;
pub use crate::tower::{SessionGuard, SessionHandle};
pub use middleware::{ErrorResponse, SessionMiddleware, SessionMiddlewareService};
