//! [`SessionManager`]: a cookie paired with a storage and an expiry policy. It loads a session
//! from a request's `Cookie` header and commits it to the response's `Set-Cookie`; web
//! framework integrations are thin layers over these two calls.

use std::fmt;
use std::sync::Arc;

use crate::cookie::{Incoming, SessionCookie};
use crate::dynamic::Session;
use crate::error::Result;
use crate::expiry::{Clock, Expiry, SystemClock, Timestamps, Timing};
use crate::storage::{SaveOutcome, SessionStorage};

/// What committing a session asks of the response.
///
/// # Examples
///
/// ```
/// use session::Commit;
///
/// let commit = Commit::Set("sid=abc.def; Path=/".into());
/// assert_eq!(commit.set_cookie(), Some("sid=abc.def; Path=/"));
/// assert_eq!(Commit::Unchanged.set_cookie(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Commit {
    /// Nothing changed: send no `Set-Cookie`.
    Unchanged,
    /// Send this `Set-Cookie` value.
    Set(String),
    /// The session was destroyed: send this `Set-Cookie`, which clears the cookie.
    Cleared(String),
    /// Another request destroyed the session (or it expired) while this one ran; nothing was
    /// saved. Send this `Set-Cookie`, which clears the cookie.
    Interrupted(String),
}

impl Commit {
    /// Returns the `Set-Cookie` value to append to the response, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let commit = session::Commit::Cleared("sid=; Max-Age=0".into());
    /// assert_eq!(commit.set_cookie(), Some("sid=; Max-Age=0"));
    /// ```
    #[must_use]
    pub fn set_cookie(&self) -> Option<&str> {
        match self {
            Self::Unchanged => None,
            Self::Set(header) | Self::Cleared(header) | Self::Interrupted(header) => Some(header),
        }
    }

    /// Takes the `Set-Cookie` value out of the commit, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let commit = session::Commit::Set("sid=abc.def; Path=/".into());
    /// assert_eq!(commit.into_set_cookie().as_deref(), Some("sid=abc.def; Path=/"));
    /// ```
    #[must_use]
    pub fn into_set_cookie(self) -> Option<String> {
        match self {
            Self::Unchanged => None,
            Self::Set(header) | Self::Cleared(header) | Self::Interrupted(header) => Some(header),
        }
    }
}

/// Loads sessions from requests and commits them to responses.
///
/// # Examples
///
/// ```
/// use session::{Commit, MemoryStorage, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
///
/// // First request: no cookie.
/// let mut session = sessions.load(None).await?;
/// session.set("count", 1)?;
/// let commit = sessions.commit(&session).await?;
/// let set_cookie = commit.set_cookie().unwrap();
///
/// // The browser sends the pair back.
/// let pair = set_cookie.split(';').next().unwrap();
/// let session = sessions.load(Some(pair)).await?;
/// assert_eq!(session.get::<u32>("count")?, Some(1));
/// assert_eq!(sessions.commit(&session).await?, Commit::Unchanged);
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
pub struct SessionManager<S> {
    cookie: SessionCookie,
    storage: S,
    expiry: Expiry,
    clock: Arc<dyn Clock>,
}

impl<S: SessionStorage> SessionManager<S> {
    /// Pairs a cookie with a storage, with the default [`Expiry`] and the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{CookieStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, CookieStorage::new());
    /// assert_eq!(sessions.cookie().name(), "sid");
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn new(cookie: SessionCookie, storage: S) -> Self {
        Self {
            cookie,
            storage,
            expiry: Expiry::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the expiry policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{CookieStorage, Expiry, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, CookieStorage::new()).with_expiry(Expiry::none());
    /// assert_eq!(sessions.expiry(), Expiry::none());
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Replaces the clock, for tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{CookieStorage, ManualClock, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let clock = ManualClock::new(1_000);
    /// let sessions = SessionManager::new(cookie, CookieStorage::new()).with_clock(clock.clone());
    /// # let _ = sessions;
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Returns the cookie configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{CookieStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, CookieStorage::new());
    /// assert!(sessions.cookie().secure());
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn cookie(&self) -> &SessionCookie {
        &self.cookie
    }

    /// Returns the storage.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// assert!(sessions.storage().is_empty());
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Takes the storage back, dropping the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let storage: MemoryStorage = sessions.into_storage();
    /// # let _ = storage;
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// Returns the expiry policy.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// assert!(sessions.expiry().idle_timeout().is_some());
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// Loads the session for a request from its `Cookie` header (`None` when it has none).
    ///
    /// A missing, empty, tampered, wrongly signed, oversized or expired cookie gives a fresh
    /// session; the storage is not even asked about a cookie that failed verification.
    ///
    /// # Errors
    ///
    /// Only a failing storage ([`Error::Storage`](crate::Error::Storage)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let session = sessions.load(Some("sid=tampered.cookie; theme=dark")).await?;
    /// assert!(session.is_empty());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn load(&self, cookie_header: Option<&str>) -> Result<Session> {
        let timing = self.timing();
        let (incoming, signed_text) = self.cookie.read_with_text(cookie_header);
        match incoming {
            Incoming::Verified {
                value,
                stale_secret,
            } => {
                let mut session = self.storage.load(Some(&value), timing).await?;
                session.mark_arrived_with_cookie();
                if stale_secret {
                    session.require_resign();
                }
                if let Some(signed) = signed_text {
                    session.keep_incoming_cookie(value, signed);
                }
                Ok(session)
            }
            Incoming::Absent | Incoming::Empty | Incoming::Rejected => {
                self.storage.load(None, timing).await
            }
        }
    }

    /// Saves the session if it needs saving and says what `Set-Cookie` the response needs.
    ///
    /// A destroyed session that arrived without a cookie sends nothing.
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`](crate::Error::CookieTooLarge) when the cookie would pass the
    /// browser limit (nothing is sent); a failing storage
    /// ([`Error::Storage`](crate::Error::Storage)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{Commit, MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut session = sessions.load(None).await?;
    /// session.set("user", "mj")?;
    /// assert!(matches!(sessions.commit(&session).await?, Commit::Set(_)));
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn commit(&self, session: &Session) -> Result<Commit> {
        let timing = self.timing();
        let outcome = self.storage.save(session, timing).await?;
        Ok(match outcome {
            SaveOutcome::Unchanged => Commit::Unchanged,
            SaveOutcome::Saved { value } => {
                let written = Timestamps {
                    created: session.timestamps().created,
                    renewed: timing.now(),
                };
                let max_age = self.expiry.max_age(written, timing.now());
                Commit::Set(match session.incoming_signed(&value) {
                    // Same value, signed by the current secret: no need to sign it again.
                    Some(signed) => self.cookie.to_set_cookie_presigned(signed, max_age)?,
                    None => self.cookie.to_set_cookie(&value, max_age)?,
                })
            }
            SaveOutcome::Destroyed if !session.arrived_with_cookie() => Commit::Unchanged,
            SaveOutcome::Destroyed => Commit::Cleared(self.cookie.to_clear_cookie()),
            SaveOutcome::Interrupted => {
                tracing::info!(
                    target: "session::security",
                    reason = "interrupted",
                    "session was destroyed by another request; nothing saved"
                );
                Commit::Interrupted(self.cookie.to_clear_cookie())
            }
        })
    }

    fn timing(&self) -> Timing {
        Timing::new(self.expiry, self.clock.now())
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionManager<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.cookie)
            .field("storage", &self.storage)
            .field("expiry", &self.expiry)
            .field("clock", &self.clock)
            .finish()
    }
}
