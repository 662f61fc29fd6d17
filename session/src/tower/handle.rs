//! [`SessionHandle`]: one request's session, shared between the layer and the handler. It is
//! loaded on first use, locked only for the length of a synchronous borrow, and detached when
//! the layer commits it, so a handle that outlives its request can neither deadlock nor panic.

use std::borrow::Cow;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use crate::data::Session;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::manager::{LoadedSession, SessionManager, current_ids};
use crate::owner::{Handle, OwnedSession, Owner};
use crate::storage::Storage;

/// A boxed, sendable future: what a type-erased manager returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session manager whose storage type is erased, so that a handle need not be generic.
pub(crate) trait LoadSession: Send + Sync {
    fn load<'a>(&'a self, cookie_header: Option<&'a str>) -> BoxFuture<'a, Result<LoadedSession>>;

    fn list_owned<'a>(
        &'a self,
        owner: &'a Owner,
        current: &'a [SessionId],
    ) -> BoxFuture<'a, Result<Vec<OwnedSession>>>;

    fn end_by_handle<'a>(
        &'a self,
        owner: &'a Owner,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<bool>>;

    fn end_all_but<'a>(
        &'a self,
        owner: &'a Owner,
        kept: &'a [SessionId],
    ) -> BoxFuture<'a, Result<usize>>;

    /// `Err(Unsupported)` when the storage keeps no owner index (cookie storage).
    fn supports_owners(&self) -> Result<()>;
}

impl<S: Storage + 'static> LoadSession for SessionManager<S> {
    fn load<'a>(&'a self, cookie_header: Option<&'a str>) -> BoxFuture<'a, Result<LoadedSession>> {
        Box::pin(SessionManager::load(self, cookie_header))
    }

    fn list_owned<'a>(
        &'a self,
        owner: &'a Owner,
        current: &'a [SessionId],
    ) -> BoxFuture<'a, Result<Vec<OwnedSession>>> {
        Box::pin(SessionManager::list_owned(self, owner, current))
    }

    fn end_by_handle<'a>(
        &'a self,
        owner: &'a Owner,
        handle: &'a Handle,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(SessionManager::end_by_handle(self, owner, handle))
    }

    fn end_all_but<'a>(
        &'a self,
        owner: &'a Owner,
        kept: &'a [SessionId],
    ) -> BoxFuture<'a, Result<usize>> {
        Box::pin(SessionManager::end_all_but(self, owner, kept))
    }

    fn supports_owners(&self) -> Result<()> {
        self.owner_store().map(drop)
    }
}

/// A request's `Cookie` header as the layer found it: the one header, shared with the request
/// (no copy), or several joined into one text.
pub(crate) enum CookieHeader {
    One(http::HeaderValue),
    Joined(String),
}

impl CookieHeader {
    /// The header as text. A byte that is not UTF-8 (a sibling subdomain's cookie may hold
    /// one) becomes U+FFFD in that neighbour's value, and the session cookie is still found
    /// if it is well formed itself; `HeaderValue::to_str` would drop the whole header instead.
    fn text(&self) -> Cow<'_, str> {
        match self {
            Self::One(value) => lossy(value.as_bytes()),
            Self::Joined(text) => Cow::Borrowed(text),
        }
    }
}

/// `bytes` as UTF-8, replacing what is not; valid text (nearly every header) is checked
/// with the fast validator and borrowed.
pub(crate) fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

/// Where one request's session is.
enum Phase {
    /// Nobody asked for it yet: no storage call was made.
    Unloaded,
    /// Loaded and in use.
    Loaded(LoadedSession),
    /// Taken by the layer for the commit; nothing to show yet.
    Committed,
    /// Locked after the commit (or never loaded): the handle shows an empty, destroyed
    /// session, so late reads see nothing and late writes fail.
    Detached(Session),
}

struct Shared {
    phase: Mutex<Phase>,
    /// The [`thread_token`] of the thread holding `phase` through a [`SessionGuard`], 0 when
    /// none does: a second `lock` from that thread would wait on itself forever.
    holder: AtomicUsize,
    /// The request's `Cookie` header, kept for a lazy load.
    cookie_header: Option<CookieHeader>,
    loader: Arc<dyn LoadSession>,
}

/// The session of the current request, as a handler extracts it (axum), or finds it in the
/// request's extensions (any tower service under a [`SessionLayer`](super::SessionLayer)).
///
/// Clones share one session. [`load`](Self::load) loads it on first use and borrows it for a
/// synchronous stretch of code, and [`lock`](Self::lock) borrows it once loaded (the axum
/// extractors load it before the handler runs). The guard is not `Send`, so it cannot be held
/// across an `.await` in a handler, and a second borrow while this thread holds a guard is an
/// error, not a deadlock.
/// After the response is committed, the handle shows an empty, destroyed session: reads see
/// nothing and writes fail with [`Error::Destroyed`](crate::Error::Destroyed).
///
/// # Examples
///
/// ```
/// use session::tower::SessionHandle;
///
/// async fn handler(session: SessionHandle) -> session::Result<String> {
///     let mut session = session.lock()?;
///     let visits = session.get::<u32>("visits")?.unwrap_or(0) + 1;
///     session.set("visits", visits)?;
///     Ok(format!("visit {visits}"))
/// }
/// # let _ = handler;
/// ```
#[derive(Clone)]
pub struct SessionHandle {
    shared: Arc<Shared>,
}

impl SessionHandle {
    pub(crate) fn new(cookie_header: Option<CookieHeader>, loader: Arc<dyn LoadSession>) -> Self {
        Self {
            shared: Arc::new(Shared {
                phase: Mutex::new(Phase::Unloaded),
                holder: AtomicUsize::new(0),
                cookie_header,
                loader,
            }),
        }
    }

    /// Loads the session from the storage unless it is loaded already, then borrows it until
    /// the guard is dropped: what a plain tower service calls first. No lock is held across
    /// the storage call.
    ///
    /// # Errors
    ///
    /// The storage's, when it fails to load the session; [`Error::AlreadyLocked`] as for
    /// [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionHandle;
    ///
    /// async fn visit(request: http::Request<String>) -> session::Result<u32> {
    ///     let handle = request.extensions().get::<SessionHandle>().expect("a SessionLayer").clone();
    ///     let mut session = handle.load().await?;
    ///     let visits = session.get::<u32>("visits")?.unwrap_or(0) + 1;
    ///     session.set("visits", visits)?;
    ///     Ok(visits)
    /// }
    /// # let _ = visit;
    /// ```
    pub async fn load(&self) -> Result<SessionGuard<'_>> {
        self.ensure_loaded().await?;
        self.lock()
    }

    /// Loads the session from the storage unless it is loaded already. No lock is held
    /// across the storage call.
    pub(crate) async fn ensure_loaded(&self) -> Result<()> {
        if !matches!(*self.phase(), Phase::Unloaded) {
            return Ok(());
        }
        let header = self.shared.cookie_header.as_ref().map(CookieHeader::text);
        let session = self.shared.loader.load(header.as_deref()).await?;
        let mut phase = self.phase();
        if matches!(*phase, Phase::Unloaded) {
            *phase = Phase::Loaded(session);
        }
        Ok(())
    }

    /// Borrows the loaded session until the guard is dropped (a handle nobody loaded shows an
    /// empty, destroyed session: see [`load`](Self::load)). Another thread that locks it meanwhile
    /// waits; the guard is not `Send`, so in an axum handler it cannot be held across an
    /// `.await`.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyLocked`] when this thread holds the session already, through another
    /// guard or a typed view (`session::axum::Typed`) that is still alive: waiting would deadlock the
    /// worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionHandle;
    ///
    /// async fn logout(session: SessionHandle) -> session::Result<&'static str> {
    ///     session.lock()?.destroy();
    ///     Ok("bye")
    /// }
    /// # let _ = logout;
    /// ```
    pub fn lock(&self) -> Result<SessionGuard<'_>> {
        let me = thread_token();
        if self.shared.holder.load(Ordering::Relaxed) == me {
            return Err(Error::AlreadyLocked);
        }
        let mut phase = self.phase();
        if matches!(*phase, Phase::Unloaded | Phase::Committed) {
            *phase = Phase::Detached(detached());
        }
        // Only the thread holding `phase` writes `holder`, and each thread compares it with its
        // own token only, which it alone writes: program order is all the ordering needed.
        self.shared.holder.store(me, Ordering::Relaxed);
        Ok(SessionGuard {
            holder: &self.shared.holder,
            phase,
        })
    }

    /// Takes the session for the commit, leaving a detached one behind. Never blocks the
    /// executor: a guard held elsewhere (say, by a thread the handler started) is waited for
    /// by yielding, for at most a second.
    pub(crate) async fn take_for_commit(&self) -> TakeOutcome {
        if let Some(outcome) = self.try_take() {
            return outcome;
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            tokio::task::yield_now().await;
            if let Some(outcome) = self.try_take() {
                return outcome;
            }
            if Instant::now() >= deadline {
                return TakeOutcome::Busy;
            }
        }
    }

    /// One attempt; `None` while someone else holds the lock.
    fn try_take(&self) -> Option<TakeOutcome> {
        match self.shared.phase.try_lock() {
            Ok(mut phase) => Some(take(&mut phase)),
            Err(TryLockError::Poisoned(poisoned)) => Some(take(&mut poisoned.into_inner())),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Lists the sessions of this session's owner (see [`owner`](crate::owner)), the current
    /// one first and marked; none when the session has no owner. The "Your sessions" page of
    /// an app.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on cookie storage; a failing storage.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionHandle;
    ///
    /// async fn devices(session: SessionHandle) -> session::Result<String> {
    ///     let listed = session.owner_sessions().await?;
    ///     Ok(format!("logged in on {} devices", listed.len()))
    /// }
    /// # let _ = devices;
    /// ```
    pub async fn owner_sessions(&self) -> Result<Vec<OwnedSession>> {
        let Some((owner, current)) = self.owner_and_ids().await? else {
            return Ok(Vec::new());
        };
        self.shared.loader.list_owned(&owner, &current).await
    }

    /// Ends the session of this session's owner that `handle` names ("log out this one");
    /// `false` when it names none of theirs.
    ///
    /// # Errors
    ///
    /// As [`owner_sessions`](Self::owner_sessions).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionHandle;
    /// use session::owner::Handle;
    ///
    /// async fn log_out_one(session: SessionHandle, handle: Handle) -> session::Result<bool> {
    ///     session.end_owner_session(&handle).await
    /// }
    /// # let _ = log_out_one;
    /// ```
    pub async fn end_owner_session(&self, handle: &Handle) -> Result<bool> {
        let Some((owner, _)) = self.owner_and_ids().await? else {
            return Ok(false);
        };
        self.shared.loader.end_by_handle(&owner, handle).await
    }

    /// Ends every other session of this session's owner ("log out all other devices") and
    /// returns how many it ended.
    ///
    /// # Errors
    ///
    /// As [`owner_sessions`](Self::owner_sessions).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::tower::SessionHandle;
    ///
    /// async fn log_out_others(session: SessionHandle) -> session::Result<String> {
    ///     Ok(format!("{} other sessions ended", session.end_other_sessions().await?))
    /// }
    /// # let _ = log_out_others;
    /// ```
    pub async fn end_other_sessions(&self) -> Result<usize> {
        let Some((owner, current)) = self.owner_and_ids().await? else {
            return Ok(0);
        };
        self.shared.loader.end_all_but(&owner, &current).await
    }

    /// The session's owner and the ids it is stored under, once loaded; no lock is held
    /// after this returns.
    async fn owner_and_ids(&self) -> Result<Option<(Owner, Vec<SessionId>)>> {
        self.shared.loader.supports_owners()?;
        self.ensure_loaded().await?;
        Ok(match &*self.phase() {
            Phase::Loaded(loaded) => loaded
                .owner()
                .cloned()
                .map(|owner| (owner, current_ids(loaded))),
            Phase::Unloaded | Phase::Committed | Phase::Detached(_) => None,
        })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // Every change to the phase is one assignment, so a panic elsewhere cannot leave it
        // half-made: a poisoned lock is still usable.
        self.shared
            .phase
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the layer found when it came to commit.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per request and moved once; boxing would cost an allocation"
)]
pub(crate) enum TakeOutcome {
    NeverLoaded,
    Loaded(LoadedSession),
    /// Something held the session's lock past the end of the handler.
    Busy,
}

/// An empty, destroyed session standing in for one that is gone: reads see nothing, writes
/// fail with [`Error::Destroyed`](crate::Error::Destroyed).
fn detached() -> Session {
    let mut session = Session::new();
    session.destroy();
    session
}

fn take(phase: &mut Phase) -> TakeOutcome {
    match std::mem::replace(phase, Phase::Committed) {
        Phase::Loaded(session) => TakeOutcome::Loaded(session),
        Phase::Unloaded | Phase::Committed | Phase::Detached(_) => TakeOutcome::NeverLoaded,
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match self.shared.phase.try_lock().as_deref() {
            Ok(Phase::Unloaded) => "unloaded",
            Ok(Phase::Loaded(_)) => "loaded",
            Ok(Phase::Committed | Phase::Detached(_)) => "detached",
            Err(_) => "locked",
        };
        f.debug_struct("SessionHandle")
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

/// A borrow of the request's session; derefs to [`Session`].
///
/// # Examples
///
/// ```
/// use session::tower::SessionHandle;
///
/// async fn handler(session: SessionHandle) -> session::Result<()> {
///     let mut guard = session.lock()?;
///     guard.flash("notice", "saved")?;
///     Ok(())
/// }
/// # let _ = handler;
/// ```
pub struct SessionGuard<'a> {
    holder: &'a AtomicUsize,
    phase: MutexGuard<'a, Phase>,
}

/// Clears the holder before the lock is released (fields drop after this runs).
impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.holder.store(0, Ordering::Relaxed);
    }
}

/// A number that tells the live threads apart, never 0: the address of a thread-local.
fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|token| std::ptr::from_ref(token) as usize)
}

impl Deref for SessionGuard<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        match &*self.phase {
            Phase::Loaded(loaded) => loaded,
            Phase::Detached(session) => session,
            Phase::Unloaded | Phase::Committed => {
                unreachable!("`lock` detaches a session it cannot show")
            }
        }
    }
}

impl DerefMut for SessionGuard<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        match &mut *self.phase {
            Phase::Loaded(loaded) => loaded,
            Phase::Detached(session) => session,
            Phase::Unloaded | Phase::Committed => {
                unreachable!("`lock` detaches a session it cannot show")
            }
        }
    }
}

impl AsRef<Session> for SessionGuard<'_> {
    fn as_ref(&self) -> &Session {
        self
    }
}

impl AsMut<Session> for SessionGuard<'_> {
    fn as_mut(&mut self) -> &mut Session {
        self
    }
}

impl std::fmt::Debug for SessionGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}
