//! [`SessionLayer`] and its service: give every request a lazily loaded session, then commit
//! it after the handler (append `Set-Cookie`, add `Vary: Cookie`), unless the handler failed
//! with a 5xx or never touched the session.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::body::Body;
use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::handle::{BoxFuture, CookieHeader, LoadSession, SessionHandle, TakeOutcome, lossy};
use crate::error::Error;
use crate::manager::SessionManager;
use crate::storage::Storage;

/// A tower layer that gives every request a session.
///
/// - The session is loaded only when a handler extracts it: a route that never touches the
///   session makes no storage call and gets no `Vary` or `Set-Cookie`.
/// - A touched session is committed after the handler: its `Set-Cookie` is **appended**
///   (other `Set-Cookie` headers stay), and `Vary: Cookie` is added once (merged with an
///   existing `Vary`).
/// - When the handler's response is a 5xx, nothing is saved: a failed request does not leave
///   half its changes behind.
/// - A storage error becomes a plain-text 500 whose cause is logged through `tracing`; a login
///   refused by an [`OwnerLimit`](crate::owner::OwnerLimit) that refuses becomes a plain-text
///   `409 Conflict`, and nothing is saved.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use session::axum::SessionLayer;
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "no session here" }))
///     .layer(SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new())));
/// # let _ = app;
/// # Ok::<(), session::Error>(())
/// ```
pub struct SessionLayer<S> {
    manager: Arc<SessionManager<S>>,
}

impl<S: Storage + 'static> SessionLayer<S> {
    /// Wraps a session manager (whose configuration was checked when it was built).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::axum::SessionLayer;
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
        }
    }
}

impl<S> SessionLayer<S> {
    /// Returns the manager, for what a handler's own session cannot do: an admin page ending
    /// another user's sessions (`end_owner_sessions`), a background task sweeping a store.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    /// use session::axum::SessionLayer;
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
}

impl<S> Clone for SessionLayer<S> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.manager)
            .finish()
    }
}

impl<I, S> Layer<I> for SessionLayer<S> {
    type Service = SessionService<I, S>;

    fn layer(&self, inner: I) -> Self::Service {
        SessionService {
            inner,
            manager: Arc::clone(&self.manager),
        }
    }
}

/// The service [`SessionLayer`] makes.
///
/// # Examples
///
/// ```
/// use session::axum::{SessionLayer, SessionService};
/// use session::{MemoryStorage, SessionCookie, SessionManager};
/// use tower_layer::Layer as _;
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let layer = SessionLayer::new(SessionManager::new(cookie, MemoryStorage::new()));
/// let service: SessionService<(), MemoryStorage> = layer.layer(());
/// # let _ = service;
/// # Ok::<(), session::Error>(())
/// ```
pub struct SessionService<I, S> {
    inner: I,
    manager: Arc<SessionManager<S>>,
}

impl<I: Clone, S> Clone for SessionService<I, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            manager: Arc::clone(&self.manager),
        }
    }
}

impl<I: fmt::Debug, S: fmt::Debug> fmt::Debug for SessionService<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("manager", &self.manager)
            .finish()
    }
}

impl<I, S, B> Service<Request<B>> for SessionService<I, S>
where
    I: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    S: Storage + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = I::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let cookie_header = cookie_header(&request);
        let loader: Arc<dyn LoadSession> = Arc::clone(&self.manager) as Arc<dyn LoadSession>;
        let handle = SessionHandle::new(cookie_header, loader);
        request.extensions_mut().insert(handle.clone());
        // The clone that was ready is used; a fresh clone waits for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let manager = Arc::clone(&self.manager);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(commit(&manager, &handle, response).await)
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

async fn commit<S: Storage>(
    manager: &SessionManager<S>,
    handle: &SessionHandle,
    mut response: Response<Body>,
) -> Response<Body> {
    let session = match handle.take_for_commit().await {
        TakeOutcome::NeverLoaded => return response,
        TakeOutcome::Loaded(session) => session,
        TakeOutcome::Busy => {
            tracing::error!("the session was still locked after the handler; nothing saved");
            return internal_error();
        }
    };
    // Room for `Vary` and `Set-Cookie` at once: one growth of the header map at most.
    response.headers_mut().reserve(2);
    add_vary_cookie(&mut response);
    if response.status().is_server_error() {
        return response;
    }
    match manager.commit(&session).await {
        Ok(commit) => {
            if let Some(set_cookie) = commit.into_header() {
                // Moved into `Bytes`, so the header value is not copied.
                match HeaderValue::from_maybe_shared(bytes::Bytes::from(set_cookie)) {
                    Ok(value) => {
                        response.headers_mut().append(SET_COOKIE, value);
                    }
                    Err(error) => {
                        tracing::error!(%error, "session Set-Cookie is not a valid header value");
                        return internal_error();
                    }
                }
            }
            response
        }
        // A login past an `OwnerLimit` that refuses: nothing was saved, and the client is
        // told why rather than shown a server error.
        Err(Error::OwnerLimit { limit }) => owner_limit_reached(limit),
        Err(error) => {
            tracing::error!(error = %error, source = ?std::error::Error::source(&error), "saving the session failed");
            internal_error()
        }
    }
}

/// `409 Conflict` for a login refused by the owner limit.
fn owner_limit_reached(limit: usize) -> Response<Body> {
    let mut response = Response::new(Body::from(format!(
        "This account is already signed in on {limit} devices, the most allowed: sign out of one first.\n"
    )));
    *response.status_mut() = StatusCode::CONFLICT;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Adds `Vary: Cookie` unless the response already varies on it (or on everything).
fn add_vary_cookie(response: &mut Response<Body>) {
    let varies = response.headers().get_all(VARY).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case("cookie") || item.trim() == "*")
        })
    });
    if !varies {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Cookie"));
    }
}

fn internal_error() -> Response<Body> {
    let mut response = Response::new(Body::from(
        "Internal Server Error: the session could not be saved",
    ));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
