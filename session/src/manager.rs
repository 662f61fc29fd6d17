//! [`SessionManager`]: a cookie paired with a storage and an expiry policy. It loads a session
//! from a request's `Cookie` header and commits it to the response's `Set-Cookie`, and it owns
//! the save protocol that every store executes; web framework integrations are thin layers
//! over these two calls.

mod commit;
mod loaded;
mod owners;
mod protocol;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::{Instrument, Span};

pub use commit::Commit;
pub(crate) use loaded::Arrival;
pub use loaded::LoadedSession;
#[cfg(feature = "tower")]
pub(crate) use owners::current_ids;

use crate::cookie::{Age, Incoming, SessionCookie};
use crate::data::OldId;
use crate::error::Result;
use crate::expiry::{Clock, Expiry, Lifetime, SystemClock};
use crate::owner::OwnerLimit;
use crate::storage::{Decoded, Mode, Storage, decode_payload, encode_payload};
use crate::store::{SessionStore, WritePlan};
use crate::telemetry::Probe;
use loaded::{Base, Origin};
use protocol::{Policy, Saved};

/// How long, by default, the old id of a session regenerated with [`OldId::Delete`] forwards
/// to the new one, for requests that loaded the session before the regeneration.
pub const DEFAULT_REGENERATION_GRACE: Duration = Duration::from_secs(30);

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
/// let set_cookie = commit.header().unwrap();
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
    use_unknown_ids: bool,
    /// Seconds; see [`DEFAULT_REGENERATION_GRACE`].
    regeneration_grace: u64,
    owner_limit: Option<OwnerLimit>,
}

impl<S: Storage> SessionManager<S> {
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
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn new(cookie: SessionCookie, storage: S) -> Self {
        Self {
            cookie,
            storage,
            expiry: Expiry::default(),
            clock: Arc::new(SystemClock),
            use_unknown_ids: false,
            regeneration_grace: DEFAULT_REGENERATION_GRACE.as_secs(),
            owner_limit: None,
        }
    }

    /// Adopts a well-formed id that the store does not hold instead of issuing a new one (off
    /// by default; Remix's `useUnknownIds`). Cookie storage has no ids to adopt.
    ///
    /// # Security
    ///
    /// Adopting ids a client chose opens the door to session fixation. Leave it off unless
    /// ids are shared with another system that creates them.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new()).adopt_unknown_ids();
    /// assert!(sessions.adopts_unknown_ids());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn adopt_unknown_ids(mut self) -> Self {
        self.use_unknown_ids = true;
        self
    }

    /// Returns whether unknown ids are adopted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// assert!(!SessionManager::new(cookie, MemoryStorage::new()).adopts_unknown_ids());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn adopts_unknown_ids(&self) -> bool {
        self.use_unknown_ids
    }

    /// Sets how long the old id of a session regenerated with [`OldId::Delete`] forwards to
    /// the new one ([`DEFAULT_REGENERATION_GRACE`]; whole seconds; zero deletes it at once).
    ///
    /// A request that loaded the session before the regeneration (a second tab, a prefetch)
    /// and saves after it follows the forward: its changes land in the regenerated session,
    /// and its response sends no `Set-Cookie` ([`Commit::Forwarded`]), so it neither logs the
    /// browser out nor hands the new id to whoever holds the old one. A load never follows a
    /// forward: the old cookie gets a new, empty session.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new())
    ///     .with_regeneration_grace(Duration::from_secs(10));
    /// assert_eq!(sessions.regeneration_grace(), Duration::from_secs(10));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn with_regeneration_grace(mut self, grace: Duration) -> Self {
        self.regeneration_grace = grace.as_secs();
        self
    }

    /// Returns the regeneration grace window.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager, DEFAULT_REGENERATION_GRACE};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// assert_eq!(sessions.regeneration_grace(), DEFAULT_REGENERATION_GRACE);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn regeneration_grace(&self) -> Duration {
        Duration::from_secs(self.regeneration_grace)
    }

    /// Caps how many sessions one owner has (none by default): a login past the cap ends the
    /// owner's least recently used sessions, or is refused
    /// ([`Error::OwnerLimit`](crate::Error::OwnerLimit)), as the limit says. The store
    /// enforces it in the same atomic step as the login's save, so racing logins cannot pass
    /// it. See [`owner`](crate::owner).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{MemoryStorage, SessionCookie, SessionManager};
    /// use session::owner::OwnerLimit;
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new())
    ///     .with_owner_limit(OwnerLimit::end_least_recent(5));
    /// assert_eq!(sessions.owner_limit(), Some(OwnerLimit::end_least_recent(5)));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn with_owner_limit(mut self, limit: OwnerLimit) -> Self {
        self.owner_limit = Some(limit);
        self
    }

    /// Returns the cap on sessions per owner, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// assert_eq!(SessionManager::new(cookie, MemoryStorage::new()).owner_limit(), None);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn owner_limit(&self) -> Option<OwnerLimit> {
        self.owner_limit
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
    /// # Ok::<(), session::Error>(())
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
    /// use session::{CookieStorage, SessionCookie, SessionManager};
    /// use session::expiry::ManualClock;
    ///
    /// let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let clock = ManualClock::new(1_000);
    /// let sessions = SessionManager::new(cookie, CookieStorage::new()).with_clock(clock.clone());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(sessions.load(None).await?.timestamps().created, 1_000);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// # Ok::<(), session::Error>(())
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
    /// # Ok::<(), session::Error>(())
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
    /// # Ok::<(), session::Error>(())
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
    /// assert!(storage.is_empty());
    /// # Ok::<(), session::Error>(())
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
    /// # Ok::<(), session::Error>(())
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
    pub async fn load(&self, cookie_header: Option<&str>) -> Result<LoadedSession> {
        let probe = Probe::load(self.storage_kind());
        let now = self.clock.now();
        let (value, arrival, signed) = probe.span().in_scope(|| self.read_cookie(cookie_header));
        let (result, resumed) = match self.storage.mode() {
            Mode::Cookie { .. } => {
                let (loaded, resumed) = probe
                    .span()
                    .in_scope(|| self.load_cookie(value.as_deref(), arrival, now));
                (Ok(loaded), resumed)
            }
            Mode::Store(store) => {
                let result = protocol::load(store, value.as_deref(), arrival, self.policy(), now)
                    .instrument(probe.span().clone())
                    .await
                    .map(|mut loaded| {
                        if value.as_deref() == Some(loaded.origin.base_id.as_str()) {
                            loaded.origin.signed_base = signed.map(Box::from);
                        }
                        loaded
                    });
                let resumed = result.as_ref().is_ok_and(LoadedSession::is_stored);
                (result, resumed)
            }
        };
        probe.loaded(&result, resumed);
        result
    }

    /// Reads and verifies the session cookie: its value, how it arrived, and for signed
    /// cookies the signed token as it came (to send back unchanged).
    fn read_cookie<'h>(
        &self,
        cookie_header: Option<&'h str>,
    ) -> (Option<String>, Arrival, Option<Cow<'h, str>>) {
        let (incoming, signed) = match self.storage.mode() {
            #[cfg(feature = "encrypted")]
            Mode::Cookie { encrypted: true } => (self.cookie.read_sealed(cookie_header), None),
            _ => self.cookie.read_keeping_signature(cookie_header),
        };
        match incoming {
            Incoming::Verified {
                value,
                stale_secret,
            } => (
                Some(value),
                Arrival::Verified {
                    resend: stale_secret,
                },
                signed,
            ),
            Incoming::Absent | Incoming::Empty | Incoming::Rejected => {
                (None, Arrival::None, signed)
            }
        }
    }

    /// The `storage` field and label of this manager's spans and metrics.
    fn storage_kind(&self) -> &'static str {
        match self.storage.mode() {
            Mode::Cookie { encrypted: true } => "encrypted-cookie",
            Mode::Cookie { encrypted: false } => "cookie",
            Mode::Store(store) => store.kind(),
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
    /// ([`Error::Storage`](crate::Error::Storage), [`Error::Io`](crate::Error::Io)).
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
    pub async fn commit(&self, loaded: &LoadedSession) -> Result<Commit> {
        let probe = Probe::commit(self.storage_kind());
        let result = self.commit_in(loaded, probe.span()).await;
        probe.committed(&result, matches!(self.storage.mode(), Mode::Store(_)));
        result
    }

    /// [`commit`](Self::commit), with the store's calls in `span`.
    async fn commit_in(&self, loaded: &LoadedSession, span: &Span) -> Result<Commit> {
        let now = self.clock.now();
        let (store, encrypted) = match self.storage.mode() {
            Mode::Store(store) => (Some(store), false),
            Mode::Cookie { encrypted } => (None, encrypted),
        };
        if store.is_none() && loaded.regeneration() == Some(OldId::Delete) {
            tracing::warn!(
                "Session ID was regenerated, but the old session cannot be deleted when using \
                 cookie storage: a copy of the old cookie stays valid until it expires"
            );
        }
        if loaded.is_destroyed() {
            if let Some(store) = store {
                protocol::delete(store, loaded)
                    .instrument(span.clone())
                    .await?;
            }
            return Ok(if loaded.arrived_with_cookie() {
                Commit::Cleared(self.cookie.to_clear_cookie())
            } else {
                Commit::Unchanged
            });
        }
        if !protocol::needs_write(loaded, self.expiry, now) {
            return Ok(Commit::Unchanged);
        }
        let written = loaded.timestamps().renewed_at(now);
        // The session's own lifetime adjusts the policy and says how long the cookie lives.
        let lifetime = loaded.lifetime();
        let expiry = self.expiry.for_lifetime(lifetime);
        let age = match lifetime {
            Lifetime::BrowserSession => Age::BrowserSession,
            Lifetime::Policy | Lifetime::Persistent(_) => Age::Policy(expiry.max_age(written, now)),
        };
        let Some(store) = store else {
            // Cookie storage: the whole session is written into the cookie.
            let stamp = expiry.is_enforced().then_some(written);
            let payload = encode_payload(loaded, stamp);
            return Ok(Commit::Set(if encrypted {
                self.sealed_cookie(&payload, age)?
            } else {
                self.cookie.to_set_cookie_aged(&payload, age)?
            }));
        };
        Ok(
            match protocol::write(store, loaded, self.policy(), now)
                .instrument(span.clone())
                .await?
            {
                Saved::Written(id) => {
                    Commit::Set(match &loaded.origin.signed_base {
                        // The same id, signed by the current secret already: no new MAC.
                        Some(signed) if id == loaded.origin.base_id => {
                            self.cookie.to_set_cookie_signed(signed, age)?
                        }
                        _ => self.cookie.to_set_cookie_aged(id.as_str(), age)?,
                    })
                }
                Saved::Forwarded => Commit::Forwarded,
                Saved::Superseded => Commit::Superseded,
                Saved::Interrupted => Commit::Interrupted(self.cookie.to_clear_cookie()),
            },
        )
    }

    /// Returns the first write a commit of `loaded` would hand its store now, or `None` when
    /// it would write nothing (or the storage is cookie storage, which has no store). A commit
    /// may go on to other plans: a new id when a drawn one is taken, or the regenerated
    /// session when the record moved.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut session = sessions.load(None).await?;
    /// assert!(sessions.plan(&session).is_none(), "nothing to write");
    /// session.set("n", 1)?;
    /// assert_eq!(sessions.plan(&session).unwrap().target(), session.id());
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn plan<'a>(&self, loaded: &'a LoadedSession) -> Option<WritePlan<'a>> {
        let now = self.clock.now();
        let writes = matches!(self.storage.mode(), Mode::Store(_))
            && !loaded.is_destroyed()
            && protocol::needs_write(loaded, self.expiry, now);
        writes.then(|| protocol::first_plan(loaded, self.policy(), now))
    }

    fn policy(&self) -> Policy {
        Policy {
            expiry: self.expiry,
            use_unknown_ids: self.use_unknown_ids,
            grace: self.regeneration_grace,
            owner_limit: self.owner_limit,
        }
    }

    /// Encrypts a payload into a `Set-Cookie` (encrypted cookie storage, which exists only
    /// with the `encrypted` feature).
    #[cfg(feature = "encrypted")]
    fn sealed_cookie(&self, payload: &str, age: Age) -> Result<String> {
        self.cookie.to_set_cookie_sealed(payload, age)
    }

    #[cfg(not(feature = "encrypted"))]
    fn sealed_cookie(&self, payload: &str, age: Age) -> Result<String> {
        // `CookieStorage::encrypted` does not exist without the feature.
        self.cookie.to_set_cookie_aged(payload, age)
    }

    /// Cookie storage: the session is the verified payload.
    /// Also says whether a session was resumed (rather than a fresh one started).
    fn load_cookie(
        &self,
        payload: Option<&str>,
        cookie: Arrival,
        now: u64,
    ) -> (LoadedSession, bool) {
        let decoded = payload
            .filter(|payload| !payload.is_empty())
            .and_then(|payload| decode_payload(payload, self.expiry, now));
        let Some(Decoded {
            session,
            timestamps,
            unstamped,
        }) = decoded
        else {
            return (protocol::fresh(cookie, now), false);
        };
        let cookie = match cookie {
            Arrival::Verified { resend } => Arrival::Verified {
                resend: resend || unstamped,
            },
            Arrival::None => Arrival::None,
        };
        let origin = Origin {
            cookie,
            base_id: session.id().clone(),
            base: Base::Fresh,
            timestamps,
            signed_base: None,
        };
        (LoadedSession::new(session, origin), true)
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionManager<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.cookie)
            .field("storage", &self.storage)
            .field("expiry", &self.expiry)
            .field("clock", &self.clock)
            .field("use_unknown_ids", &self.use_unknown_ids)
            .field("regeneration_grace", &self.regeneration_grace)
            .field("owner_limit", &self.owner_limit)
            .finish()
    }
}
