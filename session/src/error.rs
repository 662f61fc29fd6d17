//! The crate's error types: [`Error`] for everything a request can hit, and [`ConfigError`] for
//! mistakes in a configuration, which surface once, at startup.
//!
//! Bad client input is never an error: a tampered, expired or malformed cookie loads as a fresh
//! session. Errors are for the server's side: a value of the wrong type, a store that failed, a
//! cookie that grew too large to send.

use std::error::Error as StdError;

/// A `Result` whose error defaults to [`Error`].
///
/// # Examples
///
/// ```
/// fn visits(session: &session::Session) -> session::Result<u32> {
///     Ok(session.get("visits")?.unwrap_or(0))
/// }
/// # assert_eq!(visits(&session::Session::new()).unwrap(), 0);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while a request uses its session.
///
/// # Examples
///
/// ```
/// let mut session = session::Session::new();
/// session.set("visits", "three")?;
/// let err = session.get::<u32>("visits").unwrap_err();
/// assert!(matches!(err, session::Error::Deserialize { ref key, .. } if key == "visits"));
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session was destroyed earlier in this request, so it can no longer be written.
    #[error("session has been destroyed")]
    Destroyed,

    /// The request's session is already borrowed by this thread (a guard or a typed view that
    /// is still alive), so borrowing it again would wait forever. Drop the first borrow, or
    /// use it for both jobs.
    #[error("the session is already borrowed by this thread; drop the earlier guard or view")]
    AlreadyLocked,

    /// A value could not be turned into JSON.
    #[error("failed to serialize the session value `{key}`")]
    Serialize {
        /// The session key being written.
        key: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },

    /// A value nests deeper than [`Session::MAX_DEPTH`](crate::Session::MAX_DEPTH), so a
    /// store could not read it back; it was not set.
    #[error("the session value `{key}` nests more than {limit} levels deep")]
    TooDeep {
        /// The session key being written.
        key: String,
        /// The deepest nesting allowed.
        limit: usize,
    },

    /// A stored value does not fit the type it was read as.
    #[error("the session value `{key}` does not have the requested type")]
    Deserialize {
        /// The session key being read.
        key: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },

    /// A schema field that is neither an `Option` nor has a default found no value.
    #[error("the session has no value for `{key}`")]
    MissingValue {
        /// The session key.
        key: String,
    },

    /// The `Set-Cookie` pair `name=value` would pass the browser limit, so it was not emitted.
    #[error("the session cookie is {size} bytes, over the {limit}-byte limit")]
    CookieTooLarge {
        /// Bytes in `name=value`.
        size: usize,
        /// The limit it passed.
        limit: usize,
    },

    /// An owner, label or session handle breaks its rules (see [`owner`](crate::owner)).
    #[error("invalid session owner: {reason}")]
    InvalidOwner {
        /// The rule it broke.
        reason: &'static str,
    },

    /// A login was refused: its owner already has as many sessions as the manager's
    /// [`OwnerLimit`](crate::owner::OwnerLimit) allows, and the limit refuses rather than ends
    /// the least recently used. Nothing was saved.
    #[error("the owner already has {limit} sessions, the most allowed")]
    OwnerLimit {
        /// The limit.
        limit: usize,
    },

    /// The storage cannot do what was asked (listing an owner's sessions in cookie storage,
    /// which keeps nothing on the server).
    #[error("this session storage does not support {what}")]
    Unsupported {
        /// What it cannot do.
        what: &'static str,
    },

    /// A configuration was refused.
    #[error("invalid session configuration")]
    Config(#[from] ConfigError),

    /// A storage backend's I/O failed (permission denied, disk full, ...).
    #[error("session storage I/O failed")]
    Io(#[from] std::io::Error),

    /// A storage backend failed (network, protocol, a corrupt record it cannot recover from).
    #[error("session storage failed")]
    Storage(#[source] Box<dyn StdError + Send + Sync>),
}

impl Error {
    /// Wraps a backend failure, for implementors of [`SessionStore`](crate::SessionStore).
    ///
    /// # Examples
    ///
    /// ```
    /// let io = std::io::Error::other("disk on fire");
    /// let err = session::Error::storage(io);
    /// assert_eq!(err.to_string(), "session storage failed");
    /// ```
    pub fn storage(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Storage(source.into())
    }
}

/// A configuration mistake, found when the configuration is built.
///
/// Every fallible `build()` in the crate returns [`Result`], with these mistakes as
/// [`Error::Config`] and the environment's failures (a directory that cannot be made) as
/// [`Error::Io`]; builders that cannot fail return their value.
///
/// # Examples
///
/// ```
/// use session::{ConfigError, Error, SessionCookie};
///
/// let err = SessionCookie::builder("__session").build().unwrap_err();
/// assert!(matches!(err, Error::Config(ConfigError::NoSecret)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given: session cookies must be signed.
    #[error("session cookies must be signed: give at least one secret")]
    NoSecret,

    /// A secret was empty.
    #[error("secret #{index} is empty")]
    EmptySecret {
        /// Position of the secret in the list.
        index: usize,
    },

    /// A secret is shorter than [`MIN_SECRET_LEN`](crate::cookie::MIN_SECRET_LEN) bytes and short secrets
    /// were not explicitly allowed.
    #[error(
        "secret #{index} is {len} bytes; use at least 32 random bytes, or call `allow_short_secrets()`"
    )]
    ShortSecret {
        /// Position of the secret in the list.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },

    /// The cookie name is not an RFC 6265 token.
    #[error("cookie name {name:?} is not a valid token")]
    InvalidName {
        /// The name given.
        name: String,
    },

    /// A `Path` or `Domain` attribute holds a character that would break the header.
    #[error("cookie attribute {attribute} = {value:?} holds a forbidden character")]
    InvalidAttribute {
        /// `"Path"` or `"Domain"`.
        attribute: &'static str,
        /// The value given.
        value: String,
    },

    /// A cookie name with the `__Host-` or `__Secure-` prefix breaks the prefix's rules.
    #[error("cookie {name:?} breaks the rules of its prefix: {rule}")]
    PrefixRule {
        /// The cookie name.
        name: String,
        /// The rule broken.
        rule: &'static str,
    },

    /// A storage directory path names something that is not a directory.
    #[error("path {path:?} is not a directory")]
    NotADirectory {
        /// The path given.
        path: std::path::PathBuf,
    },

    /// An `Expires` date before 1970 or after 9999, which an HTTP date cannot say.
    #[error("the cookie's Expires date must lie between 1970 and 9999")]
    InvalidExpires,

    /// A storage URL could not be read. The message names what is wrong, never the URL, which
    /// may hold a password.
    #[error("the storage URL is not valid: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },

    /// A key prefix that the storage cannot use as it is: on a Redis Cluster, one holding
    /// `{` or `}`, which would move the keys' hash slots.
    #[error("the key prefix cannot be used: {reason}")]
    InvalidPrefix {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A TLS connection that cannot be set up as configured.
    #[error("TLS cannot be set up: {reason}")]
    Tls {
        /// What is missing.
        reason: &'static str,
    },

    /// A storage directory that another user owns or can write to: they could plant a
    /// forged session, or hold its locks.
    #[error("the session directory {path:?} is not private: {reason}")]
    UnsafeDirectory {
        /// The directory.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A schema or table name that is not a plain SQL identifier: ASCII letters, digits and
    /// `_`, not starting with a digit, and short enough for the names derived from it.
    #[error("{what} name {name:?} is not a plain SQL identifier: {reason}")]
    InvalidIdentifier {
        /// `"schema"` or `"table"`.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A timeout of zero seconds would expire every session at once.
    #[error("the {which} timeout must be at least one second")]
    ZeroTimeout {
        /// `"idle"` or `"absolute"`.
        which: &'static str,
    },
}
