//! The axum extractors: [`SessionHandle`] for the dynamic session and [`Typed`] for a
//! [`SessionSchema`] struct, so that a handler's signature names its schema.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::error::Error;
use crate::schema::SessionSchema;
use crate::tower::typed::Typed;
use crate::tower::{SessionFailure, SessionHandle};

/// Why a handler's session extractor ([`SessionHandle`], [`Typed`]) rejected the request: the
/// route has no [`SessionLayer`] (a programming mistake), or the storage failed to load the
/// session. Either way the response is a plain-text 500, and the cause is logged through
/// `tracing`, never sent to the client; the layer's error hook
/// ([`SessionLayer::on_error`](super::SessionLayer::on_error)) replaces a failed load's
/// response with its own.
///
/// [`SessionLayer`]: super::SessionLayer
///
/// # Examples
///
/// ```
/// use axum_core::response::IntoResponse as _;
/// use session::axum::SessionRejection;
///
/// assert_eq!(SessionRejection::NoLayer.to_string(), "no SessionLayer wraps this route");
/// assert_eq!(SessionRejection::NoLayer.into_response().status(), 500);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The route is not wrapped in a `SessionLayer`.
    #[error("no SessionLayer wraps this route")]
    NoLayer,
    /// The storage failed to load the session.
    #[error("the session could not be loaded")]
    Load(#[source] Error),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error: the session is unavailable",
        )
            .into_response();
        match self {
            Self::NoLayer => tracing::error!("a handler extracts a session, but {self}"),
            Self::Load(error) => {
                tracing::error!(error = %error, source = ?std::error::Error::source(&error), "the session could not be loaded");
                response.extensions_mut().insert(SessionFailure::new(error));
            }
        }
        response
    }
}

/// A session error in a handler (`?` on a session call) becomes a plain-text 500, or the
/// layer's error hook's response ([`SessionLayer::on_error`](super::SessionLayer::on_error));
/// the cause is logged through `tracing`, never sent to the client.
///
/// # Examples
///
/// ```
/// use axum_core::response::IntoResponse as _;
///
/// let response = session::Error::Destroyed.into_response();
/// assert_eq!(response.status(), 500);
/// ```
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, source = ?std::error::Error::source(&self), "session error in a handler");
        let mut response = (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error: session error",
        )
            .into_response();
        response.extensions_mut().insert(SessionFailure::new(self));
        response
    }
}

impl<St: Send + Sync> FromRequestParts<St> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let handle = parts
            .extensions
            .get::<SessionHandle>()
            .cloned()
            .ok_or(SessionRejection::NoLayer)?;
        handle
            .ensure_loaded()
            .await
            .map_err(SessionRejection::Load)?;
        Ok(handle)
    }
}

impl<T: SessionSchema, St: Send + Sync> FromRequestParts<St> for Typed<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        Ok(Typed::new(
            SessionHandle::from_request_parts(parts, state).await?,
        ))
    }
}
