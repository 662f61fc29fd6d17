//! The bridge between async callers and blocking file work: on a multi-threaded tokio runtime
//! the work runs in place under `block_in_place` (the worker's other tasks move to another
//! thread first); on a current-thread runtime it runs on the blocking pool; outside a runtime,
//! inline.

use crate::error::{Error, Result};

/// Where blocking work may run from the current context.
pub(super) enum Bridge {
    /// Outside a runtime: run it here.
    Inline,
    /// On a multi-threaded runtime: run it here, under `block_in_place`.
    InPlace,
    /// On a current-thread runtime: hand it to the blocking pool (it must own its data).
    Pool(tokio::runtime::Handle),
}

impl Bridge {
    pub(super) fn current() -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                Self::InPlace
            }
            Ok(handle) => Self::Pool(handle),
            Err(_) => Self::Inline,
        }
    }
}

/// Runs work that borrows nothing: in place, or on the blocking pool.
pub(super) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match Bridge::current() {
        Bridge::Inline => work(),
        Bridge::InPlace => tokio::task::block_in_place(work),
        Bridge::Pool(handle) => on_pool(&handle, work).await,
    }
}

/// Runs work on the blocking pool; it logs to the caller's subscriber, inside the caller's
/// span.
pub(super) async fn on_pool<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let span = tracing::Span::current();
    let traced = move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(work));
    handle
        .spawn_blocking(traced)
        .await
        .map_err(Error::storage)?
}
