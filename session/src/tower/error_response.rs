//! What the layer answers when the session fails: the [`ErrorResponse`] hook, its default
//! [`PlainText`], and [`SessionFailure`], the mark a handler's response carries when it stands
//! for a session error.

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode};

use crate::error::Error;

/// Turns a session failure into the response the client gets.
///
/// The layer calls it when saving fails (the storage is down: [`Error::Storage`],
/// [`Error::Io`]), when a login is refused by an [`OwnerLimit`](crate::owner::OwnerLimit)
/// that refuses ([`Error::OwnerLimit`]), when a guard outlived the handler
/// ([`Error::AlreadyLocked`]), and when the handler's response carries a [`SessionFailure`]
/// (the axum integration marks every `session::Error` a handler returns, and every failed
/// load). Nothing is saved in any of these cases, except that a handler's marked response
/// with a status below 500 still commits, as any other such response does.
///
/// Any `Fn(&Error) -> Response<B>` that is `Clone + Send + Sync + 'static` is one; the
/// default is [`PlainText`]. The cause is logged through `tracing` before the hook runs, so
/// the hook need not log it, and it should not send it to the client.
///
/// # Examples
///
/// ```
/// use http::{Response, StatusCode};
/// use session::tower::SessionLayer;
/// use session::{Error, MemoryStorage, SessionCookie, SessionManager};
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()))
///     .on_error(|error: &Error| {
///         let status = match error {
///             Error::OwnerLimit { .. } => StatusCode::CONFLICT,
///             _ => StatusCode::SERVICE_UNAVAILABLE,
///         };
///         let mut response = Response::new(format!("<h1>{status}</h1>"));
///         *response.status_mut() = status;
///         response
///     });
/// # let _ = layer;
/// # Ok::<(), session::Error>(())
/// ```
pub trait ErrorResponse<B>: Clone + Send + Sync + 'static {
    /// The response for `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::{ErrorResponse as _, PlainText};
    ///
    /// let response: http::Response<String> = PlainText.respond(&session::Error::Destroyed);
    /// assert_eq!(response.status(), 500);
    /// ```
    fn respond(&self, error: &Error) -> Response<B>;
}

impl<B, F> ErrorResponse<B> for F
where
    F: Fn(&Error) -> Response<B> + Clone + Send + Sync + 'static,
{
    fn respond(&self, error: &Error) -> Response<B> {
        self(error)
    }
}

/// The default [`ErrorResponse`]: a short plain-text body that names no cause. A refused
/// login is `409 Conflict`; everything else is `500 Internal Server Error`. It works for every
/// response body that can be made from a `String` (axum's, `http_body_util::Full<Bytes>`,
/// `String`); for others, give the layer your own hook.
///
/// # Examples
///
/// ```
/// use session::tower::{ErrorResponse as _, PlainText};
///
/// let response: http::Response<String> = PlainText.respond(&session::Error::OwnerLimit { limit: 3 });
/// assert_eq!(response.status(), 409);
/// assert!(response.body().contains("3 devices"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainText;

impl<B: From<String>> ErrorResponse<B> for PlainText {
    fn respond(&self, error: &Error) -> Response<B> {
        let (status, text) = Self::status_and_text(error);
        let mut response = Response::new(B::from(text));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

impl PlainText {
    /// The status and text of the plain-text response for `error`.
    pub(crate) fn status_and_text(error: &Error) -> (StatusCode, String) {
        match error {
            Error::OwnerLimit { limit } => (
                StatusCode::CONFLICT,
                format!(
                    "This account is already signed in on {limit} devices, the most allowed: sign out of one first.\n"
                ),
            ),
            Error::Storage(_) | Error::Io(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the session storage is unavailable".to_owned(),
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: session error".to_owned(),
            ),
        }
    }
}

/// Marks a response as standing for a session error, so that the layer's [`ErrorResponse`]
/// hook replaces it with the app's own response. The axum integration adds it to the
/// response of every `session::Error` a handler returns; a plain tower service adds it
/// itself.
///
/// # Examples
///
/// ```
/// use session::tower::SessionFailure;
///
/// let mut response = http::Response::new(String::new());
/// response.extensions_mut().insert(SessionFailure::new(session::Error::Destroyed));
/// let failure = response.extensions().get::<SessionFailure>().unwrap();
/// assert!(matches!(failure.error(), session::Error::Destroyed));
/// ```
#[derive(Clone)]
pub struct SessionFailure(Arc<Error>);

impl SessionFailure {
    /// Marks `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// let failure = session::tower::SessionFailure::new(session::Error::Destroyed);
    /// assert_eq!(failure.error().to_string(), "session has been destroyed");
    /// ```
    #[must_use]
    pub fn new(error: Error) -> Self {
        Self(Arc::new(error))
    }

    /// The error.
    ///
    /// # Examples
    ///
    /// ```
    /// let failure = session::tower::SessionFailure::new(session::Error::AlreadyLocked);
    /// assert!(matches!(failure.error(), session::Error::AlreadyLocked));
    /// ```
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.0
    }
}

impl fmt::Debug for SessionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionFailure").field(&self.0).finish()
    }
}
