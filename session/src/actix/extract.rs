//! The actix-web extractors: [`SessionHandle`] for the dynamic session and [`Typed`] for a
//! [`SessionSchema`] struct; and `session::Error` as an actix-web error, so that a handler can
//! return it with `?` and the middleware's error hook answers it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};

use crate::error::Error;
use crate::schema::SessionSchema;
use crate::tower::SessionHandle;
use crate::tower::typed::Typed;

/// A `session::Error` as actix-web's error: logged, then a plain-text 500 (or 409 for a login
/// refused by an owner limit), which [`SessionMiddleware`](super::SessionMiddleware) replaces
/// with its error hook's response.
///
/// # Examples
///
/// ```
/// use actix_web::ResponseError as _;
///
/// let response = session::Error::AlreadyLocked.error_response();
/// assert_eq!(response.status(), 500);
/// ```
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::OwnerLimit { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, source = ?std::error::Error::source(self), "session error");
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body("Internal Server Error: session error")
    }
}

/// Extracts the request's session, loading it on first use (a failed load is the error
/// `session::Error`, answered by the middleware's error hook).
///
/// # Examples
///
/// ```
/// use session::actix::SessionHandle;
///
/// async fn logout(session: SessionHandle) -> session::Result<&'static str> {
///     session.lock()?.destroy();
///     Ok("bye")
/// }
/// # let _ = logout;
/// ```
impl FromRequest for SessionHandle {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let handle = request.extensions().get::<SessionHandle>().cloned();
        Box::pin(async move {
            let Some(handle) = handle else {
                tracing::error!(
                    "a handler extracts a session, but no SessionMiddleware wraps this route"
                );
                return Err(actix_web::error::ErrorInternalServerError(
                    "Internal Server Error: the session is unavailable",
                ));
            };
            // Logged when actix-web turns it into the response.
            handle.ensure_loaded().await?;
            Ok(handle)
        })
    }
}

/// Extracts the request's session as a schema's typed view.
///
/// # Examples
///
/// ```
/// use session::SessionSchema;
/// use session::actix::Typed;
///
/// #[derive(SessionSchema)]
/// struct Account {
///     user: Option<String>,
/// }
///
/// async fn whoami(account: Typed<Account>) -> session::Result<String> {
///     Ok(account.view()?.user()?.unwrap_or_else(|| "guest".to_owned()))
/// }
/// # let _ = whoami;
/// ```
impl<T: SessionSchema> FromRequest for Typed<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let handle = SessionHandle::from_request(request, payload);
        Box::pin(async move { Ok(Typed::new(handle.await?)) })
    }
}
