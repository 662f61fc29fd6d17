//! The [`SessionStorage`] trait that maps a verified cookie value to a [`Session`] and back,
//! and the storages this crate ships: [`CookieStorage`] (the whole session in the cookie),
//! [`MemoryStorage`] (the data in this process), [`FileStorage`] (one file per session) and,
//! with the `redis` feature, `RedisStorage` (a Redis hash per session); the last three keep
//! the id in the cookie.
//!
//! # Implementing a storage
//!
//! A storage receives the *verified, decoded* cookie value (signing belongs to
//! [`SessionCookie`](crate::SessionCookie)) and returns the value to sign next. It must:
//!
//! - give a fresh session for `None`, for an id it does not hold (unless it adopts unknown ids
//!   on purpose), and for a record that is expired or corrupt, without creating a record;
//! - validate an id with [`SessionId::parse`](crate::SessionId::parse) before touching its
//!   backend;
//! - on save, apply only [`Session::changes`], the consumed flash and the new flash onto the
//!   stored record, atomically, and report [`SaveOutcome::Interrupted`] instead of recreating a
//!   record that disappeared while the request ran.

mod cookie;
mod file;
mod memory;
mod record;
#[cfg(feature = "redis")]
mod redis;

use std::future::Future;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{DEFAULT_PREFIX, RedisStorage, RedisStorageBuilder};
pub use cookie::CookieStorage;
pub use file::{FileStorage, FileStorageBuilder};
pub use memory::{MemoryStorage, MemoryStorageBuilder};
pub use record::{Delta, Record};

use crate::dynamic::{Map, Session};
use crate::error::Result;
use crate::expiry::{Timestamps, Timing};
use crate::id::SessionId;

/// The id in a verified cookie value, if it has the shape of one: what the id storages look
/// up. An empty value is no id; a malformed one is logged and is no id either.
pub(crate) fn incoming_id(value: Option<&str>) -> Option<SessionId> {
    let raw = value.filter(|value| !value.is_empty())?;
    let id = SessionId::parse(raw);
    if id.is_none() {
        crate::audit::rejected("invalid-id");
    }
    id
}

/// A new, empty session under a freshly generated id, born at the request's time: what every
/// storage serves when a request brings no usable session.
pub(crate) fn fresh_session(timing: Timing) -> Session {
    let mut session = Session::from_parts(
        SessionId::generate(),
        Map::new(),
        Map::new(),
        Timestamps::at(timing.now()),
    );
    session.mark_id_generated();
    session
}

/// What a save did, and so what the response's `Set-Cookie` must say.
///
/// # Examples
///
/// ```
/// use session::{Expiry, MemoryStorage, SaveOutcome, Session, SessionStorage, Timing};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let storage = MemoryStorage::new();
/// let timing = Timing::new(Expiry::none(), 0);
/// let mut session = storage.load(None, timing).await?;
/// assert_eq!(storage.save(&session, timing).await?, SaveOutcome::Unchanged);
/// session.set("n", 1)?;
/// assert!(matches!(storage.save(&session, timing).await?, SaveOutcome::Saved { .. }));
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveOutcome {
    /// Nothing needed writing: send no `Set-Cookie`.
    Unchanged,
    /// The session was written; sign and send `value`.
    Saved {
        /// The cookie value before signing: a JSON payload or a session id.
        value: String,
    },
    /// The session was destroyed and deleted: clear the cookie.
    Destroyed,
    /// Another request destroyed this session (or it expired) while this request ran. Nothing
    /// was written, so a logout stays final; the cookie should be cleared.
    Interrupted,
}

/// Where sessions live between requests.
///
/// Methods are async so that network and disk storages fit; [`CookieStorage`] and
/// [`MemoryStorage`] do no I/O and hold no lock across an await, [`FileStorage`] keeps its I/O
/// off the executor, and `RedisStorage` talks to Redis without blocking. See the [module
/// docs](crate::storage) for the contract.
///
/// # Examples
///
/// ```
/// use session::{CookieStorage, Expiry, SessionStorage, Timing};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let storage = CookieStorage::new();
/// let timing = Timing::new(Expiry::none(), 0);
/// let session = storage
///     .load(Some(r#"{"i":"a","d":[{"count":1},{}]}"#), timing)
///     .await?;
/// assert_eq!(session.get::<u32>("count")?, Some(1));
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
pub trait SessionStorage: Send + Sync {
    /// Loads the session for a verified cookie value, or a fresh one for `None`.
    ///
    /// # Errors
    ///
    /// Only for a failing backend ([`Error::Storage`](crate::Error::Storage)); bad input gives
    /// a fresh session.
    fn load(
        &self,
        value: Option<&str>,
        timing: Timing,
    ) -> impl Future<Output = Result<Session>> + Send;

    /// Writes the session back if it needs it.
    ///
    /// # Errors
    ///
    /// Only for a failing backend ([`Error::Storage`](crate::Error::Storage)).
    fn save(
        &self,
        session: &Session,
        timing: Timing,
    ) -> impl Future<Output = Result<SaveOutcome>> + Send;
}
