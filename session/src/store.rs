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
//! - Failures are [`Error::Storage`] or [`Error::Io`];
//!   a corrupt entry is logged and treated as absent, never an error or a panic.
//!
//! # Sessions per owner
//!
//! A store that keeps an owner → sessions index (every store in this crate does) implements
//! [`owned`](SessionStore::owned) and [`end_owned`](SessionStore::end_owned); without them the
//! [owner calls](crate::owner) answer [`Error::Unsupported`].
//!
//! - In the same atomic step as each write, it applies [`WritePlan::index_change`] (the owner
//!   of the base record before, of the written record after): the base leaves one owner's
//!   index, the target joins one. A write that joins runs [`WritePlan::admit`] on the
//!   owner's live sessions first, ends the sessions it returns, or answers
//!   [`OwnerFull`](WriteOutcome::OwnerFull) and writes nothing.
//! - [`delete`](SessionStore::delete), expiry and sweeps take sessions out of the index, or
//!   the index is checked against the records when it is read: [`owned`](SessionStore::owned)
//!   never lists a session that is gone or that belongs to someone else, and never misses one.
//! - [`end_owned`](SessionStore::end_owned) ends sessions atomically with respect to writes:
//!   a save of an ended session finds it [`Gone`](WriteOutcome::Gone), and a regeneration that
//!   moved one before is ended under its new id.
//!
//! The [`testing`](crate::testing) kit (feature `test-kit`) checks all of this against a store
//! with one macro call.

mod plan;
mod record;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use plan::{Change, Expect, Found, OwnedWritePlan, OwnerIndex, Retire, Write, WritePlan};
pub use record::Record;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use record::parse_object;
pub(crate) use record::{Entry, forward_json, is_newer_format, parse_entry, superseded_json};

use crate::error::{Error, Result};
use crate::expiry::{Lifetime, Timestamps};
use crate::id::SessionId;
use crate::owner::{Label, Owner};

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
    /// The write would give an owner more sessions than the plan's
    /// [limit](WritePlan::owner_limit), which refuses ([`WritePlan::admit`]): nothing was
    /// written.
    OwnerFull {
        /// The limit.
        limit: usize,
    },
}

/// One of an owner's sessions, as a store lists it for [`SessionStore::owned`]: its id and
/// what the owner may be shown.
///
/// # Examples
///
/// ```
/// use session::{Map, SessionId};
/// use session::expiry::Timestamps;
/// use session::store::{OwnedRecord, Record};
///
/// let record = Record::new(Map::new(), Map::new(), Timestamps::at(5)).with_deadline(Some(9));
/// let listed = OwnedRecord::of(SessionId::generate(), &record);
/// assert_eq!((listed.timestamps.created, listed.deadline), (5, Some(9)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedRecord {
    /// The session's id (never shown to anyone; the manager turns it into a handle).
    pub id: SessionId,
    /// When it was created and last written.
    pub timestamps: Timestamps,
    /// Its lifetime.
    pub lifetime: Lifetime,
    /// Its label.
    pub label: Option<Label>,
    /// The Unix second after which it is dead; `None`: never.
    pub deadline: Option<u64>,
}

impl OwnedRecord {
    /// What a listing shows of `record`, stored under `id`.
    ///
    /// # Examples
    ///
    /// See [`OwnedRecord`].
    #[must_use]
    pub fn of(id: SessionId, record: &Record) -> Self {
        Self {
            id,
            timestamps: record.timestamps(),
            lifetime: record.lifetime(),
            label: record.label().cloned(),
            deadline: record.deadline(),
        }
    }

    /// Whether it is live at `now`.
    pub(crate) fn is_live(&self, now: u64) -> bool {
        self.deadline.is_none_or(|deadline| deadline >= now)
    }
}

/// Which of an owner's sessions [`SessionStore::end_owned`] ends.
///
/// # Examples
///
/// ```
/// use session::SessionId;
/// use session::store::Ending;
///
/// let current = [SessionId::generate()];
/// assert_ne!(Ending::All, Ending::AllExcept(&current));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending<'a> {
    /// Every one of them.
    All,
    /// Every one but these ids (the current request's session, as loaded and as it is saved).
    AllExcept(&'a [SessionId]),
    /// This one, if it belongs to the owner.
    One(&'a SessionId),
}

impl Ending<'_> {
    /// Whether a session of the owner under `id` is to be ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionId;
    /// use session::store::Ending;
    ///
    /// let id = SessionId::generate();
    /// assert!(!Ending::AllExcept(std::slice::from_ref(&id)).includes(&id));
    /// assert!(Ending::All.includes(&id));
    /// ```
    #[must_use]
    pub fn includes(&self, id: &SessionId) -> bool {
        match self {
            Self::All => true,
            Self::AllExcept(kept) => !kept.contains(id),
            Self::One(one) => *one == id,
        }
    }
}

/// What [`SessionStore::owned`] and [`SessionStore::end_owned`] answer on a store that keeps
/// no owner index.
/// `a::b::Thing<c::D>` as `Thing`: the default [`SessionStore::kind`].
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let plain = full.split('<').next().unwrap_or(full);
    plain.rsplit("::").next().unwrap_or(plain)
}

fn unsupported<T>() -> Result<T> {
    Err(Error::Unsupported {
        what: "sessions per owner",
    })
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

    /// Lists `owner`'s sessions that are live at `now` (Unix seconds), in any order.
    ///
    /// # Errors
    ///
    /// A failing backend; [`Error::Unsupported`] (the default) for
    /// a store that keeps no owner index.
    fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> impl Future<Output = Result<Vec<OwnedRecord>>> + Send {
        let _ = (owner, now);
        async { unsupported() }
    }

    /// Ends `owner`'s sessions that `which` names, atomically with respect to writes (see the
    /// [module docs](crate::store)), and returns how many it ended. A session that is not
    /// `owner`'s is never ended.
    ///
    /// # Errors
    ///
    /// A failing backend; [`Error::Unsupported`] (the default) for
    /// a store that keeps no owner index.
    fn end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
        now: u64,
    ) -> impl Future<Output = Result<usize>> + Send {
        let _ = (owner, which, now);
        async { unsupported() }
    }

    /// A short, stable name for this kind of store, for traces and metrics (the `storage`
    /// field and label): `"memory"`, `"file"`, `"redis"`, `"postgres"`, `"sqlite"` for the
    /// built-in stores. The default is the type's name without its path; a store may return
    /// its own. Never includes an address, a key or anything secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{MemoryStorage, SessionStore};
    ///
    /// assert_eq!(MemoryStorage::new().kind(), "memory");
    /// ```
    fn kind(&self) -> &'static str {
        short_type_name::<Self>()
    }
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

    fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> impl Future<Output = Result<Vec<OwnedRecord>>> + Send {
        (**self).owned(owner, now)
    }

    fn end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
        now: u64,
    ) -> impl Future<Output = Result<usize>> + Send {
        (**self).end_owned(owner, which, now)
    }

    fn kind(&self) -> &'static str {
        (**self).kind()
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

    fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> impl Future<Output = Result<Vec<OwnedRecord>>> + Send {
        (**self).owned(owner, now)
    }

    fn end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
        now: u64,
    ) -> impl Future<Output = Result<usize>> + Send {
        (**self).end_owned(owner, which, now)
    }

    fn kind(&self) -> &'static str {
        (**self).kind()
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

    /// [`SessionStore::owned`], boxed.
    fn owned_boxed<'a>(
        &'a self,
        owner: &'a Owner,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<OwnedRecord>>>;

    /// [`SessionStore::end_owned`], boxed.
    fn end_owned_boxed<'a>(
        &'a self,
        owner: &'a Owner,
        which: Ending<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<usize>>;

    /// [`SessionStore::kind`].
    fn kind_of_store(&self) -> &'static str {
        "dyn"
    }
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

    fn owned_boxed<'a>(
        &'a self,
        owner: &'a Owner,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<OwnedRecord>>> {
        Box::pin(self.owned(owner, now))
    }

    fn end_owned_boxed<'a>(
        &'a self,
        owner: &'a Owner,
        which: Ending<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(self.end_owned(owner, which, now))
    }

    fn kind_of_store(&self) -> &'static str {
        self.kind()
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

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        self.owned_boxed(owner, now).await
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        self.end_owned_boxed(owner, which, now).await
    }

    fn kind(&self) -> &'static str {
        self.kind_of_store()
    }
}
