//! What a framework layer does with a session once the handler has answered, whatever the
//! framework: commit it, skip the save after a 5xx, or name the error whose response replaces
//! the handler's. The tower layer and the actix-web middleware apply the outcome to their own
//! response types.

use super::handle::{SessionHandle, TakeOutcome};
use crate::error::Error;
use crate::manager::SessionManager;
use crate::storage::Storage;

/// The outcome of [`settle`].
pub(crate) enum Settlement {
    /// No handler loaded the session: the response gets neither `Vary` nor `Set-Cookie`.
    Untouched,
    /// The session was loaded: the response gets `Vary: Cookie` and, when the commit sent
    /// one, this `Set-Cookie` (none after a 5xx, which saves nothing).
    Committed(Option<String>),
    /// Nothing was saved, and the error hook's response for this error replaces the
    /// handler's (the cause is logged already).
    Failed(Error),
}

/// Commits the request's session unless the handler never loaded it or answered with a 5xx
/// (`server_error`).
pub(crate) async fn settle<S: Storage>(
    manager: &SessionManager<S>,
    handle: &SessionHandle,
    server_error: bool,
) -> Settlement {
    let session = match handle.take_for_commit().await {
        TakeOutcome::NeverLoaded => return Settlement::Untouched,
        TakeOutcome::Loaded(session) => session,
        TakeOutcome::Busy => {
            tracing::error!("the session was still locked after the handler; nothing saved");
            return Settlement::Failed(Error::AlreadyLocked);
        }
    };
    if server_error {
        return Settlement::Committed(None);
    }
    match manager.commit(&session).await {
        Ok(commit) => Settlement::Committed(commit.into_header()),
        // A login past an `OwnerLimit` that refuses: nothing was saved, and the client is
        // told why rather than shown a server error.
        Err(error @ Error::OwnerLimit { .. }) => Settlement::Failed(error),
        Err(error) => {
            tracing::error!(error = %error, source = ?std::error::Error::source(&error), "saving the session failed");
            Settlement::Failed(error)
        }
    }
}

/// Whether a `Vary` header value already covers `Cookie` (or everything).
pub(crate) fn varies_on_cookie(value: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok_and(|value| {
        value
            .split(',')
            .any(|item| item.trim().eq_ignore_ascii_case("cookie") || item.trim() == "*")
    })
}
