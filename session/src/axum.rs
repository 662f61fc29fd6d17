//! Sessions in axum: the extractors [`SessionHandle`] and [`Typed`] hand handlers the session
//! that [`SessionLayer`] (from [`session::tower`](crate::tower), re-exported here) reads
//! lazily from the request's `Cookie` header and commits into the response's `Set-Cookie`.
//! A `session::Error` a handler returns, and a failed load, become the layer's error response
//! ([`SessionLayer::on_error`]).
//!
//! ```
//! use axum::{Router, routing::get};
//! use session::axum::{SessionLayer, Typed};
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
//!     Ok(format!("{hits}"))
//! }
//!
//! # fn main() -> Result<(), session::Error> {
//! let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
//! let app: Router = Router::new()
//!     .route("/", get(count))
//!     .layer(SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new())));
//! # let _ = app;
//! # Ok(()) }
//! ```

mod extract;

pub use crate::tower::typed::Typed;
pub use crate::tower::{SessionGuard, SessionHandle, SessionLayer, SessionService};
pub use extract::SessionRejection;
