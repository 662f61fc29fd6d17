//! Where a [`SessionManager`](crate::SessionManager) keeps sessions: [`CookieStorage`] puts the
//! whole session in the signed cookie; every [`SessionStore`] keeps records on the server under
//! the id the cookie carries: [`MemoryStorage`] (this process), [`FileStorage`] (one file per
//! session), with the `redis` feature `RedisStorage` (a Redis hash per session), with the
//! `postgres` and `sqlite` features `PostgresStorage` and `SqliteStorage` (a row per
//! session), or a store of your own. [`Storage`] names the two kinds.

mod cookie;
mod file;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlite"))))]
pub mod sql;

#[cfg(all(feature = "redis", feature = "fuzzing"))]
pub(crate) use self::redis::redis_hash;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisConnection, RedisStorage, RedisStorageBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::sql::postgres::{PostgresStorage, PostgresStorageBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sql::sqlite::{SqliteStorage, SqliteStorageBuilder};
pub use cookie::CookieStorage;
pub(crate) use cookie::{Decoded, decode_payload, encode_payload};
pub use file::{FileStorage, FileStorageBuilder};
pub use memory::{MemoryStorage, MemoryStorageBuilder};

use crate::store::SessionStore;

/// What a [`SessionManager`](crate::SessionManager) can keep sessions in: [`CookieStorage`],
/// or any [`SessionStore`]. Implemented by the crate; implement [`SessionStore`] to add a store.
///
/// # Examples
///
/// ```
/// use session::{CookieStorage, MemoryStorage, Storage};
///
/// fn is_storage<S: Storage>(_: &S) {}
/// is_storage(&CookieStorage::new());
/// is_storage(&MemoryStorage::new());
/// is_storage(&std::sync::Arc::new(MemoryStorage::new()));
/// ```
pub trait Storage: Send + Sync + sealed::Sealed {
    #[doc(hidden)]
    type Store: SessionStore;

    #[doc(hidden)]
    fn mode(&self) -> Mode<'_, Self::Store>;
}

/// How a manager reaches its sessions; not public API.
#[doc(hidden)]
#[derive(Debug)]
pub enum Mode<'a, S> {
    /// The whole session travels in the cookie, signed or encrypted.
    Cookie {
        /// Sealed by [`CookieStorage::encrypted`] rather than signed.
        encrypted: bool,
    },
    /// The cookie carries an id; the record is in this store.
    Store(&'a S),
}

impl<S: SessionStore> Storage for S {
    type Store = S;

    fn mode(&self) -> Mode<'_, S> {
        Mode::Store(self)
    }
}

impl Storage for CookieStorage {
    type Store = sealed::NoStore;

    fn mode(&self) -> Mode<'_, sealed::NoStore> {
        Mode::Cookie {
            encrypted: self.is_encrypted(),
        }
    }
}

mod sealed {
    use crate::error::Result;
    use crate::id::SessionId;
    use crate::store::{SessionStore, Stored, WriteOutcome, WritePlan};

    pub trait Sealed {}

    impl<S: SessionStore> Sealed for S {}

    impl Sealed for super::CookieStorage {}

    /// The store of cookie storage, which has none: it cannot be made.
    #[derive(Debug)]
    pub enum NoStore {}

    impl SessionStore for NoStore {
        async fn load(&self, _: &SessionId) -> Result<Option<Stored>> {
            match *self {}
        }

        async fn write(&self, _: &WritePlan<'_>) -> Result<WriteOutcome> {
            match *self {}
        }

        async fn delete(&self, _: &[&SessionId]) -> Result<()> {
            match *self {}
        }
    }
}
