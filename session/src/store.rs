//! The store contract: [`SessionStore`] keeps [`Record`]s by id and executes the
//! [`WritePlan`]s that the [`SessionManager`](crate::SessionManager) makes. The manager owns the
//! save protocol (when to write, timestamps and deadline, collisions of drawn ids, regeneration,
//! forwards, destroyed sessions); a store only executes it, so a new store, in this crate or in
//! another, is a few dozen lines of its backend's code.
//!
//! # Implementing a store
//!
//! - [`load`](SessionStore::load) returns what is stored under an id: a record with its
//!   version, a forward, or nothing. It never creates anything, and never decides expiry (the
//!   manager does); it may leave out forwards and records past their deadline.
//! - [`write`](SessionStore::write) executes a plan **atomically** with respect to other writes
//!   of the same ids: read what is under [`WritePlan::base`] and pass it to
//!   [`WritePlan::check`], which gives the outcome to answer without writing (a forward
//!   [`Moved`](WriteOutcome::Moved), a record [`Gone`](WriteOutcome::Gone), a drawn id
//!   [`Taken`](WriteOutcome::Taken)) or how to write ([`Write::Whole`] or [`Write::Merge`]
//!   with [`Record::apply`]). Write the result under [`WritePlan::target`] (a moving plan's
//!   target must be vacant, else [`Taken`](WriteOutcome::Taken)) and, when the plan
//!   [moves](WritePlan::moves), [retire](Retire) the base.
//! - [`delete`](SessionStore::delete) removes records and forwards; missing ids are fine.
//! - Failures are [`Error::Storage`](crate::Error::Storage) or [`Error::Io`](crate::Error::Io);
//!   a corrupt entry is logged and treated as absent, never an error or a panic.
//!
//! The [`testing`](crate::testing) kit (feature `test-kit`) checks all of this against a store
//! with one macro call.

mod plan;
mod record;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use plan::{Expect, Found, OwnedWritePlan, Retire, Write, WritePlan};
pub use record::Record;
pub(crate) use record::{
    Entry, forward_json, is_newer_format, parse_entry, parse_object, superseded_json,
};

use crate::error::Result;
use crate::id::SessionId;

/// The version of a stored record, as its store counts them: it tells a write whether the
/// record changed since its request loaded it. Stores that keep no versions use
/// [`Version::UNVERSIONED`] and always merge.
///
/// # Examples
///
/// ```
/// use session::store::Version;
///
/// assert_eq!(Version::new(3).get(), 3);
/// assert_eq!(Version::UNVERSIONED, Version::new(0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Version(u64);

impl Version {
    /// The version of every record of a store that keeps none.
    pub const UNVERSIONED: Self = Self(0);

    /// Wraps a store's version number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::store::Version::new(9).get(), 9);
    /// ```
    #[must_use]
    pub const fn new(version: u64) -> Self {
        Self(version)
    }

    /// Returns the version number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::store::Version::default().get(), 0);
    /// ```
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// What a store holds under an id.
///
/// # Examples
///
/// ```
/// use session::Map;
/// use session::expiry::Timestamps;
/// use session::store::{Record, Stored, Version};
///
/// let stored = Stored::Record {
///     record: Record::new(Map::new(), Map::new(), Timestamps::at(0)),
///     version: Version::UNVERSIONED,
/// };
/// assert!(matches!(stored, Stored::Record { .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Stored {
    /// A session's record.
    Record {
        /// The record.
        record: Record,
        /// Its version ([`Version::UNVERSIONED`] for a store that keeps none).
        version: Version,
    },
    /// The id of a session that moved to `to` in a regeneration, kept for a short grace
    /// window so that requests which loaded the session before it moved still land their
    /// changes. A load never serves it; only the manager's writes follow it.
    Forward {
        /// The id the session moved to.
        to: SessionId,
    },
    /// The id of a session that was [started over](crate::Session::start_over), kept for a
    /// short grace window so that requests which loaded it before drop their changes quietly
    /// instead of clearing the new cookie. A load never serves it.
    Superseded,
}

/// What executing a [`WritePlan`] did.
///
/// # Examples
///
/// ```
/// assert_ne!(session::store::WriteOutcome::Written, session::store::WriteOutcome::Gone);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum WriteOutcome {
    /// The plan was carried out.
    Written,
    /// The base record the plan expected is gone (destroyed or expired): nothing was written.
    Gone,
    /// The plan's newly drawn target id is already taken: nothing was written.
    Taken,
    /// The base holds a forward: the session moved to `to`, and nothing was written.
    Moved {
        /// The id the session moved to.
        to: SessionId,
    },
    /// The base was [started over](crate::Session::start_over) by another request: this
    /// request's changes belonged to the old session, and nothing was written.
    Superseded,
}

/// Where a server-side storage keeps records: the contract every store implements, in this
/// crate ([`MemoryStorage`](crate::MemoryStorage), [`FileStorage`](crate::FileStorage),
/// `RedisStorage`) or in another. See the [module docs](crate::store) for the rules.
///
/// `&S`, `Arc<S>` and `Arc<dyn DynSessionStore>` are stores too.
///
/// # Examples
///
/// ```
/// use session::{SessionId, SessionStore, MemoryStorage};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStorage::new();
/// assert!(store.load(&SessionId::generate()).await?.is_none());
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
pub trait SessionStore: Send + Sync {
    /// Returns what is stored under `id`, if anything.
    ///
    /// # Errors
    ///
    /// Only for a failing backend; a corrupt entry is `None`.
    fn load(&self, id: &SessionId) -> impl Future<Output = Result<Option<Stored>>> + Send;

    /// Executes one plan, atomically.
    ///
    /// # Errors
    ///
    /// Only for a failing backend.
    fn write(&self, plan: &WritePlan<'_>) -> impl Future<Output = Result<WriteOutcome>> + Send;

    /// Deletes whatever is stored under each id.
    ///
    /// # Errors
    ///
    /// Only for a failing backend.
    fn delete(&self, ids: &[&SessionId]) -> impl Future<Output = Result<()>> + Send;
}

impl<S: SessionStore + ?Sized> SessionStore for &S {
    fn load(&self, id: &SessionId) -> impl Future<Output = Result<Option<Stored>>> + Send {
        (**self).load(id)
    }

    fn write(&self, plan: &WritePlan<'_>) -> impl Future<Output = Result<WriteOutcome>> + Send {
        (**self).write(plan)
    }

    fn delete(&self, ids: &[&SessionId]) -> impl Future<Output = Result<()>> + Send {
        (**self).delete(ids)
    }
}

impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    fn load(&self, id: &SessionId) -> impl Future<Output = Result<Option<Stored>>> + Send {
        (**self).load(id)
    }

    fn write(&self, plan: &WritePlan<'_>) -> impl Future<Output = Result<WriteOutcome>> + Send {
        (**self).write(plan)
    }

    fn delete(&self, ids: &[&SessionId]) -> impl Future<Output = Result<()>> + Send {
        (**self).delete(ids)
    }
}

/// A boxed, sendable future, as [`DynSessionStore`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`SessionStore`] as a trait object: every store is one, and `Arc<dyn DynSessionStore>` is a
/// store again, for picking a store at run time. Each call boxes its future, one allocation
/// beside a store's own I/O.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use session::{MemoryStorage, SessionCookie, SessionManager};
/// use session::store::DynSessionStore;
///
/// let store: Arc<dyn DynSessionStore> = Arc::new(MemoryStorage::new());
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, store);
/// # let _ = sessions;
/// # Ok::<(), session::Error>(())
/// ```
pub trait DynSessionStore: Send + Sync {
    /// [`SessionStore::load`], boxed.
    fn load_boxed<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Stored>>>;

    /// [`SessionStore::write`], boxed.
    fn write_boxed<'a>(&'a self, plan: &'a WritePlan<'_>) -> BoxFuture<'a, Result<WriteOutcome>>;

    /// [`SessionStore::delete`], boxed.
    fn delete_boxed<'a>(&'a self, ids: &'a [&'a SessionId]) -> BoxFuture<'a, Result<()>>;
}

impl<S: SessionStore> DynSessionStore for S {
    fn load_boxed<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Stored>>> {
        Box::pin(self.load(id))
    }

    fn write_boxed<'a>(&'a self, plan: &'a WritePlan<'_>) -> BoxFuture<'a, Result<WriteOutcome>> {
        Box::pin(self.write(plan))
    }

    fn delete_boxed<'a>(&'a self, ids: &'a [&'a SessionId]) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete(ids))
    }
}

impl SessionStore for dyn DynSessionStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.load_boxed(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        self.write_boxed(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        self.delete_boxed(ids).await
    }
}
