//! Sessions in any tower stack: [`SessionLayer`] reads the session lazily from the request's
//! `Cookie` header and commits it into the response's `Set-Cookie`, for every service over
//! `http::Request` and `http::Response`, whatever their bodies (hyper, tonic, axum, or a stack
//! of plain tower services). A handler reaches the request's session through the
//! [`SessionHandle`] the layer puts in the request's extensions.
//!
//! When the storage fails, or a login is refused by an [`OwnerLimit`](crate::owner::OwnerLimit),
//! the layer answers with a response of its [`ErrorResponse`] hook: plain text by default
//! ([`PlainText`]), or whatever the app chose with [`SessionLayer::on_error`]. A handler's own
//! session error reaches the same hook when its response carries a [`SessionFailure`].
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{Request, Response};
//! use session::tower::{SessionHandle, SessionLayer};
//! use session::{MemoryStorage, SessionCookie, SessionManager};
//! use tower::{Layer as _, Service as _};
//!
//! // A plain tower service: no framework.
//! async fn count(request: Request<String>) -> Result<Response<String>, Infallible> {
//!     let handle = request.extensions().get::<SessionHandle>().expect("a SessionLayer").clone();
//!     let counted = async {
//!         let mut session = handle.load().await?;
//!         let hits = session.get::<u64>("hits")?.unwrap_or(0) + 1;
//!         session.set("hits", hits)?;
//!         Ok::<_, session::Error>(hits)
//!     };
//!     Ok(Response::new(match counted.await {
//!         Ok(hits) => hits.to_string(),
//!         Err(_) => "no session".to_owned(),
//!     }))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
//! let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()));
//! let mut service = layer.layer(tower::service_fn(count));
//!
//! let response = service.call(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.body(), "1");
//! assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("sid="));
//! # Ok::<(), session::Error>(()) }).unwrap();
//! ```

mod error_response;
pub(crate) mod handle;
mod layer;
pub(crate) mod settle;
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) mod typed;

pub use error_response::{ErrorResponse, PlainText, SessionFailure};
pub use handle::{SessionGuard, SessionHandle};
pub use layer::{SessionLayer, SessionService};
