//! [`LoadedSession`]: a [`Session`] together with what the manager knows about where it came
//! from (the cookie, the stored record and its version, the timestamps), which the commit
//! needs and nobody else touches.

use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::data::Session;
use crate::expiry::Timestamps;
use crate::id::SessionId;
use crate::store::Version;

/// A request's session, as [`SessionManager::load`](crate::SessionManager::load) hands it out
/// and [`SessionManager::commit`](crate::SessionManager::commit) takes it back. It derefs to
/// [`Session`]; the rest is the manager's bookkeeping.
///
/// # Examples
///
/// ```
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
/// let mut session = sessions.load(None).await?;
/// session.set("n", 1)?; // a `Session` method, through `DerefMut`
/// assert!(!session.arrived_with_cookie());
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct LoadedSession {
    pub(crate) session: Session,
    pub(crate) origin: Origin,
}

/// Where a session came from.
#[derive(Clone)]
pub(crate) struct Origin {
    /// Whether the request carried a verified session cookie, and whether only an old secret
    /// verified it (so it must be sent again, signed by the current one).
    pub(crate) cookie: Arrival,
    /// The id the session was loaded under (or drawn for it): the base of its first write.
    pub(crate) base_id: SessionId,
    /// What the store held under `base_id`.
    pub(crate) base: Base,
    /// When the session was created and last written, as loaded.
    pub(crate) timestamps: Timestamps,
    /// The cookie's signed text, when it names `base_id` and re-sending it is the same as
    /// signing `base_id` again (see `SessionCookie::read_keeping_signature`).
    pub(crate) signed_base: Option<Box<str>>,
}

/// What the request's `Cookie` header held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// No usable session cookie.
    None,
    /// A verified one; `resend` when this response must send it again even if nothing
    /// changed: only an older secret verified it, or it carried no timestamps and must be
    /// stamped.
    Verified { resend: bool },
}

/// What a store held for a session at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// Nothing: a new session under an id drawn in this request (or one in the cookie).
    Fresh,
    /// Nothing, but the id came from the client and is kept (`adopt_unknown_ids`).
    Adopted,
    /// A record of this version.
    Stored(Version),
}

impl LoadedSession {
    pub(crate) fn new(session: Session, origin: Origin) -> Self {
        Self { session, origin }
    }

    /// Returns the session.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// # let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let loaded = sessions.load(None).await?;
    /// assert!(loaded.session().is_empty());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Returns the session, to change it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// # let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut loaded = sessions.load(None).await?;
    /// loaded.session_mut().set("theme", "dark")?;
    /// assert!(loaded.is_dirty());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Takes the session out, dropping the bookkeeping: it can no longer be committed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// # let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let session: session::Session = sessions.load(None).await?.into_session();
    /// assert!(session.is_empty());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn into_session(self) -> Session {
        self.session
    }

    /// Returns when the session was created and last written, as loaded (a new session: now).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # use session::expiry::ManualClock;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new())
    ///     .with_clock(ManualClock::new(1_000));
    /// assert_eq!(sessions.load(None).await?.timestamps().created, 1_000);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn timestamps(&self) -> Timestamps {
        self.origin.timestamps
    }

    /// Returns whether the request carried a verified session cookie. Only then does
    /// destroying the session send a `Set-Cookie` that clears it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// # let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// assert!(!sessions.load(Some("sid=forged.value")).await?.arrived_with_cookie());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn arrived_with_cookie(&self) -> bool {
        matches!(self.origin.cookie, Arrival::Verified { .. })
    }

    /// Returns whether the session was loaded from a stored record (always `false` for cookie
    /// storage, whose sessions are in the cookie).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// # let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// assert!(!sessions.load(None).await?.is_stored());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn is_stored(&self) -> bool {
        matches!(self.origin.base, Base::Stored(_))
    }
}

impl Deref for LoadedSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl DerefMut for LoadedSession {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl AsRef<Session> for LoadedSession {
    fn as_ref(&self) -> &Session {
        &self.session
    }
}

impl AsMut<Session> for LoadedSession {
    fn as_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl fmt::Debug for LoadedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedSession")
            .field("session", &self.session)
            .field("arrived_with_cookie", &self.arrived_with_cookie())
            .field("stored", &self.is_stored())
            .finish_non_exhaustive()
    }
}
