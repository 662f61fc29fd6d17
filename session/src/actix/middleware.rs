//! [`SessionMiddleware`] and its service: give every request a lazily loaded session, then
//! commit it after the handler (append `Set-Cookie`, add `Vary: Cookie`), unless the handler
//! failed with a 5xx or never touched the session; a failure becomes the error hook's response.

use std::fmt;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, COOKIE, HeaderValue, SET_COOKIE, VARY};
use actix_web::{HttpMessage as _, HttpResponse};

use crate::error::Error;
use crate::manager::SessionManager;
use crate::storage::Storage;
use crate::tower::PlainText;
use crate::tower::handle::{CookieHeader, LoadSession, SessionHandle, lossy};
use crate::tower::settle::{Settlement, settle, varies_on_cookie};

/// What the middleware answers when the session fails: a storage error on load or save, a
/// login refused by an [`OwnerLimit`](crate::owner::OwnerLimit), or a `session::Error` a
/// handler returned. Any `Fn(&Error) -> HttpResponse + Clone` is one; [`PlainText`] is the
/// default.
///
/// # Examples
///
/// ```
/// use actix_web::HttpResponse;
/// use session::Error;
/// use session::actix::ErrorResponse;
///
/// fn busy(error: &Error) -> HttpResponse {
///     match error {
///         Error::Storage(_) => HttpResponse::ServiceUnavailable().body("Back in a moment."),
///         _ => HttpResponse::InternalServerError().body("Something went wrong."),
///     }
/// }
/// assert_eq!(busy.respond(&Error::AlreadyLocked).status(), 500);
/// ```
pub trait ErrorResponse: Clone + 'static {
    /// The response for `error` (already logged by the middleware).
    fn respond(&self, error: &Error) -> HttpResponse;
}

impl<F> ErrorResponse for F
where
    F: Fn(&Error) -> HttpResponse + Clone + 'static,
{
    fn respond(&self, error: &Error) -> HttpResponse {
        self(error)
    }
}

impl ErrorResponse for PlainText {
    fn respond(&self, error: &Error) -> HttpResponse {
        let (status, text) = PlainText::status_and_text(error);
        HttpResponse::build(
            StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("text/plain; charset=utf-8")
        .body(text)
    }
}

/// The actix-web middleware that gives every request a session, under the rules of the tower
/// layer:
///
/// - The session is loaded only when a handler extracts it ([`SessionHandle`],
///   [`Typed`](super::Typed)): a route that never touches it makes no storage call and gets
///   neither `Vary` nor `Set-Cookie`.
/// - A touched session is committed after the handler: its `Set-Cookie` is **appended** (other
///   `Set-Cookie` headers stay), and `Vary: Cookie` is added once (merged with an existing
///   `Vary`).
/// - A 5xx response saves nothing.
/// - When loading or saving fails, a login is refused by an owner limit, or a handler returns
///   a `session::Error`, the response is the error hook's ([`on_error`](Self::on_error);
///   [`PlainText`] by default: a 500, or a 409 for the refused login), keeping the
///   `Set-Cookie` and `Vary` the commit added. The cause is logged through `tracing`.
///
/// # Examples
///
/// ```
/// use actix_web::{App, web};
/// use session::actix::SessionMiddleware;
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionMiddleware::new(SessionManager::new(cookie, MemoryStorage::new()));
/// let app = App::new().wrap(sessions).route("/", web::get().to(|| async { "hello" }));
/// # let _ = app;
/// # Ok::<(), session::Error>(())
/// ```
pub struct SessionMiddleware<S, H = PlainText> {
    manager: Arc<SessionManager<S>>,
    on_error: H,
}

impl<S: Storage + 'static> SessionMiddleware<S> {
    /// Wraps a session manager (whose configuration was checked when it was built).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::actix::SessionMiddleware;
    /// use session::{CookieStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionMiddleware::new(SessionManager::new(cookie, CookieStorage::new()));
    /// assert_eq!(sessions.manager().cookie().name(), "sid");
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

impl<S, H> SessionMiddleware<S, H> {
    /// The manager, shared with every request.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::actix::SessionMiddleware;
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionMiddleware::new(SessionManager::new(cookie, MemoryStorage::new()));
    /// let manager = std::sync::Arc::clone(sessions.manager()); // for a background task
    /// # let _ = manager;
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn manager(&self) -> &Arc<SessionManager<S>> {
        &self.manager
    }

    /// Answers session failures with `hook`'s responses instead of plain text.
    ///
    /// # Examples
    ///
    /// ```
    /// use actix_web::HttpResponse;
    /// use session::actix::SessionMiddleware;
    /// use session::{Error, MemoryStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionMiddleware::new(SessionManager::new(cookie, MemoryStorage::new()))
    ///     .on_error(|error: &Error| match error {
    ///         Error::OwnerLimit { .. } => HttpResponse::Conflict().body("Too many devices."),
    ///         _ => HttpResponse::ServiceUnavailable().body("Back in a moment."),
    ///     });
    /// # let _ = sessions;
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn on_error<H2: ErrorResponse>(self, hook: H2) -> SessionMiddleware<S, H2> {
        SessionMiddleware {
            manager: self.manager,
            on_error: hook,
        }
    }
}

impl<S, H: Clone> Clone for SessionMiddleware<S, H> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
            on_error: self.on_error.clone(),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for SessionMiddleware<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("manager", &self.manager)
            .field("on_error", &std::any::type_name::<H>())
            .finish()
    }
}

impl<I, S, H, B> Transform<I, ServiceRequest> for SessionMiddleware<S, H>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S: Storage + 'static,
    H: ErrorResponse,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<I, S, H>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: I) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            inner: Rc::new(service),
            manager: Arc::clone(&self.manager),
            on_error: self.on_error.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around an actix-web service.
///
/// # Examples
///
/// ```
/// use actix_web::{App, test, web};
/// use session::actix::SessionMiddleware;
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// # actix_rt::System::new().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionMiddleware::new(SessionManager::new(cookie, MemoryStorage::new()));
/// // `init_service` runs the middleware's `new_transform`, which makes this service.
/// let app = test::init_service(App::new().wrap(sessions).route("/", web::get().to(|| async { "hi" }))).await;
/// let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert!(response.headers().get("set-cookie").is_none()); // the route never touched it
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
pub struct SessionMiddlewareService<I, S, H = PlainText> {
    inner: Rc<I>,
    manager: Arc<SessionManager<S>>,
    on_error: H,
}

impl<I, S: fmt::Debug, H> fmt::Debug for SessionMiddlewareService<I, S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("inner", &std::any::type_name::<I>())
            .field("manager", &self.manager)
            .field("on_error", &std::any::type_name::<H>())
            .finish()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<I, S, H, B> Service<ServiceRequest> for SessionMiddlewareService<I, S, H>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S: Storage + 'static,
    H: ErrorResponse,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(inner);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let loader: Arc<dyn LoadSession> = Arc::clone(&self.manager) as Arc<dyn LoadSession>;
        let handle = SessionHandle::new(cookie_header(request.headers()), loader);
        request.extensions_mut().insert(handle.clone());
        let inner = Rc::clone(&self.inner);
        let manager = Arc::clone(&self.manager);
        let on_error = self.on_error.clone();
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(commit(&manager, &handle, &on_error, response).await)
        })
    }
}

/// Every `Cookie` header of the request, joined as one (HTTP/2 may split them).
fn cookie_header(headers: &header::HeaderMap) -> Option<CookieHeader> {
    let mut values = headers.get_all(COOKIE);
    let first = values.next()?;
    let mut joined = lossy(first.as_bytes()).into_owned();
    for value in values {
        joined.push_str("; ");
        joined.push_str(&lossy(value.as_bytes()));
    }
    Some(CookieHeader::Joined(joined))
}

async fn commit<S: Storage, H: ErrorResponse, B>(
    manager: &SessionManager<S>,
    handle: &SessionHandle,
    on_error: &H,
    mut response: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    let set_cookie = match settle(manager, handle, response.status().is_server_error()).await {
        Settlement::Untouched => None,
        Settlement::Failed(error) => return replace(response, on_error.respond(&error)),
        Settlement::Committed(set_cookie) => {
            add_vary_cookie(response.headers_mut());
            set_cookie
        }
    };
    if let Some(set_cookie) = set_cookie {
        match HeaderValue::try_from(set_cookie) {
            Ok(value) => response.headers_mut().append(SET_COOKIE, value),
            Err(error) => {
                // The cookie's encoder writes only header-safe bytes: not reached.
                tracing::error!(%error, "session Set-Cookie is not a valid header value");
                return replace(response, on_error.respond(&Error::storage(error)));
            }
        }
    }
    // A handler's `session::Error` (or a failed load in an extractor), as actix-web carries
    // it on the response: the hook answers it, keeping the session's headers.
    let hooked = response
        .response()
        .error()
        .and_then(actix_web::Error::as_error::<Error>)
        .map(|error| on_error.respond(error));
    let Some(mut hooked) = hooked else {
        return response.map_into_left_body();
    };
    for name in [SET_COOKIE, VARY] {
        for value in response.headers().get_all(&name) {
            hooked.headers_mut().append(name.clone(), value.clone());
        }
    }
    replace(response, hooked)
}

/// `response`'s request with `replacement` as its response.
fn replace<B>(
    response: ServiceResponse<B>,
    replacement: HttpResponse,
) -> ServiceResponse<EitherBody<B>> {
    response.into_response(replacement).map_into_right_body()
}

/// Adds `Vary: Cookie` unless the response already varies on it (or on everything).
fn add_vary_cookie(headers: &mut header::HeaderMap) {
    let varies = headers
        .get_all(VARY)
        .any(|value| varies_on_cookie(value.as_bytes()));
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}
