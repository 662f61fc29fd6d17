//! Sessions in tower and axum: [`SessionLayer`] reads the session lazily from the request's
//! `Cookie` header and commits it into the response's `Set-Cookie`; the extractors
//! [`SessionHandle`] and [`Typed`] hand it to handlers.
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
mod handle;
mod layer;

pub use extract::{SessionRejection, Typed};
pub use handle::{SessionGuard, SessionHandle};
pub use layer::{SessionLayer, SessionService};
