//! [`Typed`]: a request's session seen through a [`SessionSchema`], the one type behind the
//! axum and actix-web extractors of that name.

use std::marker::PhantomData;

use super::handle::{SessionGuard, SessionHandle};
use crate::error::Error;
use crate::schema::SessionSchema;

/// The request's session as a [`SessionSchema`] struct's typed view: an extractor in axum
/// (`session::axum::Typed`) and in actix-web (`session::actix::Typed`).
///
/// # Examples
///
/// ```
/// use session::SessionSchema;
/// use session::axum::Typed;
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
pub struct Typed<T> {
    handle: SessionHandle,
    schema: PhantomData<fn() -> T>,
}

impl<T> Typed<T> {
    /// The typed view of the session behind `handle`.
    pub(crate) fn new(handle: SessionHandle) -> Self {
        Self {
            handle,
            schema: PhantomData,
        }
    }
}

impl<T: SessionSchema> Typed<T> {
    /// Borrows the session through the schema's typed view, until the view is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyLocked`] while this thread holds the session through another view or
    /// a [`SessionGuard`].
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionSchema;
    /// use session::axum::Typed;
    ///
    /// #[derive(SessionSchema)]
    /// struct Counter {
    ///     #[session(default)]
    ///     hits: u64,
    /// }
    ///
    /// async fn count(counter: Typed<Counter>) -> session::Result<String> {
    ///     let mut counter = counter.view()?;
    ///     counter.set_hits(counter.hits() + 1)?;
    ///     Ok(counter.hits().to_string())
    /// }
    /// # let _ = count;
    /// ```
    pub fn view(&self) -> Result<T::View<SessionGuard<'_>>, Error> {
        Ok(T::view(self.handle.lock()?))
    }

    /// Returns the untyped handle, for `regenerate_id`, `destroy` and the like.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionSchema;
    /// use session::axum::Typed;
    ///
    /// #[derive(SessionSchema)]
    /// struct Account {
    ///     user: Option<String>,
    /// }
    ///
    /// async fn logout(account: Typed<Account>) -> session::Result<&'static str> {
    ///     account.handle().lock()?.destroy();
    ///     Ok("bye")
    /// }
    /// # let _ = logout;
    /// ```
    #[must_use]
    pub fn handle(&self) -> &SessionHandle {
        &self.handle
    }
}

impl<T> std::fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("schema", &std::any::type_name::<T>())
            .field("handle", &self.handle)
            .finish()
    }
}
