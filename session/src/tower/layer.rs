//! [`SessionLayer`] and its service: give every request a lazily loaded session, then commit
//! it after the handler (append `Set-Cookie`, add `Vary: Cookie`), unless the handler failed
//! with a 5xx or never touched the session; a failure becomes the error hook's response.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::error_response::{ErrorResponse, PlainText, SessionFailure};
use super::handle::{BoxFuture, CookieHeader, LoadSession, SessionHandle, lossy};
use super::settle::{Settlement, settle, varies_on_cookie};
use crate::error::Error;
use crate::manager::SessionManager;
use crate::storage::Storage;

/// A tower layer that gives every request a session.
///
/// - The session is loaded only when a handler asks for it (the axum extractors, or
///   [`SessionHandle::load`]): a route that never touches the session makes no storage call
///   and gets no `Vary` or `Set-Cookie`.
/// - A touched session is committed after the handler: its `Set-Cookie` is **appended**
///   (other `Set-Cookie` headers stay), and `Vary: Cookie` is added once (merged with an
///   existing `Vary`).
/// - When the handler's response is a 5xx, nothing is saved: a failed request does not leave
///   half its changes behind.
/// - When saving fails, or a login is refused by an [`OwnerLimit`](crate::owner::OwnerLimit)
///   that refuses, nothing is saved and the response is the error hook's
///   ([`on_error`](Self::on_error); [`PlainText`] by default: a 500, or a 409 for the refused
///   login). The cause is logged through `tracing`, never sent to the client.
/// - A handler's response that carries a [`SessionFailure`] is replaced by the hook's
///   response for its error.
///
/// It wraps any service over `http` requests and responses, whatever their bodies; the
/// default error hook needs a response body that can be made from a `String`.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use session::tower::SessionLayer;
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "no session here" }))
///     .layer(SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new())));
/// # let _ = app;
/// # Ok::<(), session::Error>(())
/// ```
pub struct SessionLayer<S, H = PlainText> {
    manager: Arc<SessionManager<S>>,
    on_error: H,
}

impl<S: Storage + 'static> SessionLayer<S> {
    /// Wraps a session manager (whose configuration was checked when it was built).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionLayer;
    /// use session::{CookieStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let layer = SessionLayer::new(SessionManager::new(cookie, CookieStorage::new()));
    /// # let _ = layer;
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn new(manager: SessionManager<S>) -> Self {
        Self {
            manager: Arc::new(manager),
            on_error: PlainText,
        }
    }
}

impl<S, H> SessionLayer<S, H> {
    /// Returns the manager, for what a handler's own session cannot do: an admin page ending
    /// another user's sessions (`end_owner_sessions`), a background task sweeping a store.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    /// use session::tower::SessionLayer;
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()));
    /// let sessions = std::sync::Arc::clone(layer.manager()); // for the app's state
    /// assert!(sessions.storage().is_empty());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn manager(&self) -> &Arc<SessionManager<S>> {
        &self.manager
    }

    /// Sets the hook that turns a session failure into the response (see [`ErrorResponse`]):
    /// a closure `Fn(&session::Error) -> http::Response<B>`, where `B` is the wrapped
    /// service's response body.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::response::{IntoResponse as _, Response};
    /// use axum::{Router, routing::get};
    /// use session::tower::SessionLayer;
    /// use session::{Error, MemoryStorage, SessionCookie, SessionManager};
    ///
    /// fn session_trouble(error: &Error) -> Response {
    ///     match error {
    ///         Error::OwnerLimit { limit } => {
    ///             (http::StatusCode::CONFLICT, format!("Signed in on {limit} devices already")).into_response()
    ///         }
    ///         _ => (http::StatusCode::SERVICE_UNAVAILABLE, "Please try again in a moment").into_response(),
    ///     }
    /// }
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()))
    ///     .on_error(session_trouble);
    /// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(layer);
    /// # let _ = app;
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn on_error<H2>(self, hook: H2) -> SessionLayer<S, H2> {
        SessionLayer {
            manager: self.manager,
            on_error: hook,
        }
    }
}

impl<S, H: Clone> Clone for SessionLayer<S, H> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
            on_error: self.on_error.clone(),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for SessionLayer<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.manager)
            .field("on_error", &std::any::type_name::<H>())
            .finish()
    }
}

impl<I, S, H: Clone> Layer<I> for SessionLayer<S, H> {
    type Service = SessionService<I, S, H>;

    fn layer(&self, inner: I) -> Self::Service {
        SessionService {
            inner,
            manager: Arc::clone(&self.manager),
            on_error: self.on_error.clone(),
        }
    }
}

/// The service [`SessionLayer`] makes.
///
/// # Examples
///
/// ```
/// use session::tower::{SessionLayer, SessionService};
/// use session::{MemoryStorage, SessionCookie, SessionManager};
/// use tower_layer::Layer as _;
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()));
/// let service: SessionService<(), MemoryStorage> = layer.layer(());
/// # let _ = service;
/// # Ok::<(), session::Error>(())
/// ```
pub struct SessionService<I, S, H = PlainText> {
    inner: I,
    manager: Arc<SessionManager<S>>,
    on_error: H,
}

impl<I: Clone, S, H: Clone> Clone for SessionService<I, S, H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            manager: Arc::clone(&self.manager),
            on_error: self.on_error.clone(),
        }
    }
}

impl<I: fmt::Debug, S: fmt::Debug, H> fmt::Debug for SessionService<I, S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("manager", &self.manager)
            .field("on_error", &std::any::type_name::<H>())
            .finish()
    }
}

impl<I, S, H, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<I, S, H>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    S: Storage + 'static,
    H: ErrorResponse<ResBody>,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let cookie_header = cookie_header(&request);
        let loader: Arc<dyn LoadSession> = Arc::clone(&self.manager) as Arc<dyn LoadSession>;
        let handle = SessionHandle::new(cookie_header, loader);
        request.extensions_mut().insert(handle.clone());
        // The clone that was ready is used; a fresh clone waits for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let manager = Arc::clone(&self.manager);
        let on_error = self.on_error.clone();
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(commit(&manager, &handle, &on_error, response).await)
        })
    }
}

/// Every `Cookie` header of the request, joined as one (HTTP/2 may split them). A single
/// header is shared with the request, not copied.
fn cookie_header<B>(request: &Request<B>) -> Option<CookieHeader> {
    let mut values = request.headers().get_all(COOKIE).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(CookieHeader::One(first.clone()));
    };
    let mut joined = lossy(first.as_bytes()).into_owned();
    for value in std::iter::once(second).chain(values) {
        joined.push_str("; ");
        joined.push_str(&lossy(value.as_bytes()));
    }
    Some(CookieHeader::Joined(joined))
}

async fn commit<S: Storage, B, H: ErrorResponse<B>>(
    manager: &SessionManager<S>,
    handle: &SessionHandle,
    on_error: &H,
    mut response: Response<B>,
) -> Response<B> {
    let failure = response.extensions_mut().remove::<SessionFailure>();
    let set_cookie = match settle(manager, handle, response.status().is_server_error()).await {
        Settlement::Untouched => return answer(on_error, failure, response),
        Settlement::Failed(error) => return on_error.respond(&error),
        Settlement::Committed(set_cookie) => set_cookie,
    };
    // Room for `Vary` and `Set-Cookie` at once: one growth of the header map at most.
    response.headers_mut().reserve(2);
    add_vary_cookie(response.headers_mut());
    if let Some(set_cookie) = set_cookie {
        // Moved into `Bytes`, so the header value is not copied.
        match HeaderValue::from_maybe_shared(bytes::Bytes::from(set_cookie)) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Err(error) => {
                // The cookie's encoder writes only header-safe bytes: not reached.
                tracing::error!(%error, "session Set-Cookie is not a valid header value");
                return on_error.respond(&Error::storage(error));
            }
        }
    }
    answer(on_error, failure, response)
}

/// The handler's response, or the hook's for the session error it stands for. The hook's
/// response keeps the `Set-Cookie` and `Vary` the commit added.
fn answer<B, H: ErrorResponse<B>>(
    on_error: &H,
    failure: Option<SessionFailure>,
    response: Response<B>,
) -> Response<B> {
    let Some(failure) = failure else {
        return response;
    };
    let mut replaced = on_error.respond(failure.error());
    for name in [SET_COOKIE, VARY] {
        for value in response.headers().get_all(&name) {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    replaced
}

/// Adds `Vary: Cookie` unless the response already varies on it (or on everything).
fn add_vary_cookie(headers: &mut http::HeaderMap) {
    let varies = headers
        .get_all(VARY)
        .iter()
        .any(|value| varies_on_cookie(value.as_bytes()));
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}
