//! The owner calls of [`SessionManager`]: list an owner's sessions with what is safe to show,
//! end one by its handle, end all but the current one, end all. Each is one or two calls of
//! the store's owner index ([`SessionStore::owned`], [`SessionStore::end_owned`]).

use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::manager::{LoadedSession, SessionManager};
use crate::owner::{Handle, OwnedSession, Owner};
use crate::storage::{Mode, Storage};
use crate::store::{Ending, OwnedRecord, SessionStore};
use crate::telemetry;

impl<S: Storage> SessionManager<S> {
    /// Lists `owner`'s live sessions, the most recently used first: when each was created and
    /// last used, its lifetime and label, whether it is `current`'s, and a
    /// [handle](Handle) to [end it](Self::end_owner_session) by. Nothing listed
    /// reveals an id or can be replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOwner`] for an owner that breaks the [rules](Owner::new);
    /// [`Error::Unsupported`] on cookie storage (see [`owner`](crate::owner)) or a store
    /// without an owner index; a failing storage.
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
    /// session.set_owner("user-42")?;
    /// session.set_label("Laptop")?;
    /// let _ = sessions.commit(&session).await?;
    ///
    /// let listed = sessions.owner_sessions("user-42", Some(&session)).await?;
    /// assert_eq!(listed.len(), 1);
    /// assert!(listed[0].current);
    /// assert_eq!(listed[0].label.as_ref().map(|label| label.as_str()), Some("Laptop"));
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn owner_sessions(
        &self,
        owner: &str,
        current: Option<&LoadedSession>,
    ) -> Result<Vec<OwnedSession>> {
        let owner = Owner::new(owner)?;
        let current = current.map(current_ids).unwrap_or_default();
        self.list_owned(&owner, &current).await
    }

    /// [`owner_sessions`](Self::owner_sessions), marking the sessions stored under `current`.
    pub(crate) async fn list_owned(
        &self,
        owner: &Owner,
        current: &[SessionId],
    ) -> Result<Vec<OwnedSession>> {
        let (store, now) = (self.owner_store()?, self.clock.now());
        let mut listed: Vec<OwnedSession> = self
            .live(owners_call(store, store.owned(owner, now).await)?, now)
            .map(|entry| OwnedSession {
                handle: self.cookie.handle_of(&entry.id),
                created: entry.timestamps.created,
                last_seen: entry.timestamps.renewed,
                lifetime: entry.lifetime,
                label: entry.label,
                current: current.contains(&entry.id),
            })
            .collect();
        listed.sort_by(|a, b| {
            (b.current, b.last_seen, b.created).cmp(&(a.current, a.last_seen, a.created))
        });
        Ok(listed)
    }

    /// Ends the session of `owner` that `handle` names (from
    /// [`owner_sessions`](Self::owner_sessions)): its next request gets a new, empty session,
    /// and a save already under way finds it gone, exactly as after a logout. Returns whether
    /// it found the session; a handle of a session that already ended, or of someone else's,
    /// ends nothing.
    ///
    /// # Errors
    ///
    /// As [`owner_sessions`](Self::owner_sessions).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut phone = sessions.load(None).await?;
    /// phone.set_owner("user-42")?;
    /// let _ = sessions.commit(&phone).await?;
    ///
    /// let handle = sessions.owner_sessions("user-42", None).await?[0].handle.clone();
    /// assert!(sessions.end_owner_session("user-42", &handle).await?);
    /// assert!(!sessions.end_owner_session("user-42", &handle).await?, "already ended");
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn end_owner_session(&self, owner: &str, handle: &Handle) -> Result<bool> {
        self.end_by_handle(&Owner::new(owner)?, handle).await
    }

    /// [`end_owner_session`](Self::end_owner_session) for a checked owner.
    pub(crate) async fn end_by_handle(&self, owner: &Owner, handle: &Handle) -> Result<bool> {
        let (store, now) = (self.owner_store()?, self.clock.now());
        let listed = owners_call(store, store.owned(owner, now).await)?;
        let Some(entry) = listed
            .iter()
            .find(|entry| self.cookie.handle_names(handle, &entry.id))
        else {
            return Ok(false);
        };
        let ended = owners_call(
            store,
            store.end_owned(owner, Ending::One(&entry.id), now).await,
        )?;
        Ok(ended > 0)
    }

    /// Ends every session of `current`'s owner except `current` ("log out all other
    /// devices"), and returns how many it ended. A session without an owner ends nothing.
    ///
    /// # Errors
    ///
    /// As [`owner_sessions`](Self::owner_sessions).
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut logins = Vec::new();
    /// for _ in 0..3 {
    ///     let mut session = sessions.load(None).await?;
    ///     session.set_owner("user-42")?;
    ///     let _ = sessions.commit(&session).await?;
    ///     logins.push(session);
    /// }
    /// assert_eq!(sessions.end_other_sessions(&logins[0]).await?, 2);
    /// assert_eq!(sessions.owner_sessions("user-42", None).await?.len(), 1);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn end_other_sessions(&self, current: &LoadedSession) -> Result<usize> {
        let Some(owner) = current.owner() else {
            return Ok(0);
        };
        self.end_all_but(owner, &current_ids(current)).await
    }

    /// Ends every session of `owner` but those stored under `kept` (none: all of them).
    pub(crate) async fn end_all_but(&self, owner: &Owner, kept: &[SessionId]) -> Result<usize> {
        let (store, now) = (self.owner_store()?, self.clock.now());
        let which = if kept.is_empty() {
            Ending::All
        } else {
            Ending::AllExcept(kept)
        };
        owners_call(store, store.end_owned(owner, which, now).await)
    }

    /// Ends every session of `owner` (a password change, an account deleted: "log out
    /// everywhere"), and returns how many it ended. Each ends exactly as after a logout,
    /// including one whose request is saving at the same moment.
    ///
    /// # Errors
    ///
    /// As [`owner_sessions`](Self::owner_sessions).
    ///
    /// # Examples
    ///
    /// See [`owner`](crate::owner).
    pub async fn end_owner_sessions(&self, owner: &str) -> Result<usize> {
        self.end_all_but(&Owner::new(owner)?, &[]).await
    }

    /// The store behind the owner calls; cookie storage has none.
    pub(crate) fn owner_store(&self) -> Result<&S::Store> {
        match self.storage.mode() {
            Mode::Store(store) => Ok(store),
            Mode::Cookie { .. } => Err(Error::Unsupported {
                what: "sessions per owner (cookie storage keeps nothing on the server)",
            }),
        }
    }

    /// The entries the expiry policy still serves: a store lists by the deadline it wrote,
    /// and the policy may have tightened since.
    fn live(&self, listed: Vec<OwnedRecord>, now: u64) -> impl Iterator<Item = OwnedRecord> {
        let expiry = self.expiry;
        listed.into_iter().filter(move |entry| {
            entry.is_live(now)
                && expiry
                    .for_lifetime(entry.lifetime)
                    .check(entry.timestamps, now)
                    .is_ok()
        })
    }
}

/// Counts a failed owner-index call in the store-error metric, and passes its result on.
fn owners_call<T, S: SessionStore + ?Sized>(store: &S, result: Result<T>) -> Result<T> {
    result.inspect_err(|error| telemetry::store_error(store.kind(), "owners", error))
}

/// The ids `current` may be stored under: the one it was loaded from, and the one it is
/// saved under if this request moves it.
pub(crate) fn current_ids(current: &LoadedSession) -> Vec<SessionId> {
    if &current.origin.base_id == current.id() {
        vec![current.id().clone()]
    } else {
        vec![current.origin.base_id.clone(), current.id().clone()]
    }
}
