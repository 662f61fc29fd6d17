//! [`Session`]: one visitor's data for the length of a request: values in insertion order, the
//! flash that arrived and the flash set now, what this request changed, the id and whether it
//! is to be regenerated, and whether the session was destroyed. It follows Remix's rules for
//! reads, writes, destroy and id regeneration. Where the session came from (a cookie, a stored
//! record of some version) is the manager's business and lives beside it, in
//! [`LoadedSession`](crate::LoadedSession).

use std::fmt;

use crate::error::Result;
use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::owner::{Label, Owner};
use crate::store::Change;

mod access;
mod json;
mod map;
pub(crate) mod text;

pub use self::json::Json;
pub use self::map::Map;
pub(crate) use self::map::{Borrowed, KeySet};

/// What [`Session::regenerate_id`] does with the record stored under the id the session had.
///
/// # Examples
///
/// ```
/// use session::{OldId, Session};
///
/// let mut session = Session::new();
/// session.regenerate_id(OldId::Delete)?; // on login: the old cookie stops working
/// assert_eq!(session.regeneration(), Some(OldId::Delete));
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OldId {
    /// Keep the old record: a copy of the old cookie still loads the session as it was
    /// (Remix's `regenerateId(false)`).
    Keep,
    /// Delete the old record when the session is saved: the old cookie is revoked, which is
    /// what a login or any change of privilege needs (Remix's `regenerateId(true)`).
    Delete,
}

/// One visitor's session for the length of one request.
///
/// Values are JSON, kept in insertion order. [`get`](Self::get) reads a stored value, falling
/// back to a flash value that arrived with this request; [`set`](Self::set) writes one (JSON
/// `null` removes the key, as in Remix); [`flash`](Self::flash) sets a value readable on the
/// next request only. Every write marks the session dirty, and only a dirty, regenerated or
/// destroyed session is written back.
///
/// A `Session` is plain data: clone it, build one with [`Session::new`] to test a handler, and
/// let a [`SessionManager`](crate::SessionManager) load and commit the real ones.
///
/// # Examples
///
/// ```
/// use session::Session;
///
/// let mut session = Session::new();
/// session.set("user_id", 42)?;
/// session.flash("notice", "Welcome back")?;
/// assert_eq!(session.get::<u64>("user_id")?, Some(42));
/// // Flash set in this request is for the next one.
/// assert_eq!(session.get::<String>("notice")?, None);
/// assert!(session.is_dirty());
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Clone)]
pub struct Session {
    /// The id the session answers to now; `regenerate_id` replaces it.
    id: SessionId,
    /// `Some` once `regenerate_id` ran, with the strongest request made: a `Delete` is never
    /// weakened by a later `Keep`.
    regeneration: Option<OldId>,
    /// `true` once `start_over` ran: nothing stored under the old id carries over.
    started_over: bool,
    /// Persistent values, in insertion order. May hold `null` only if a loaded record did.
    values: Map,
    /// Flash values that arrived with this request: readable now, gone after this save.
    flash_in: Map,
    /// Flash values set during this request, for the next one. Never readable now.
    flash_out: Map,
    /// Keys of `values` written or removed during this request; their current state in
    /// `values` is the change to apply.
    touched: KeySet,
    /// How long the browser keeps the cookie, as stored (or as this request set it).
    lifetime: Lifetime,
    /// The lifetime as loaded: a save writes `lifetime` only when it differs, so a concurrent
    /// request that did not touch it never undoes another's choice.
    stored_lifetime: Lifetime,
    /// Whom the session belongs to (see [`set_owner`](Self::set_owner)) and its label, as
    /// stored or as this request set them; a save writes them only when they differ from
    /// `stored_owner`, for the same reason as the lifetime.
    owner: Owned,
    stored_owner: Owned,
    /// `true` once `destroy` ran; reads then see nothing and writes fail.
    destroyed: bool,
    /// `true` when the session must be written back: any write, a regeneration, or flash that
    /// arrived (it must be cleared). Never reset.
    dirty: bool,
}

impl Session {
    /// Starts an empty session with a fresh random id.
    ///
    /// # Examples
    ///
    /// ```
    /// let session = session::Session::new();
    /// assert!(session.is_empty());
    /// assert!(!session.is_dirty());
    /// assert!(!session.is_destroyed());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::from_parts(SessionId::generate(), Map::new(), Map::new())
    }

    /// Rebuilds a session from its stored parts: an id, its values, and the flash that arrives
    /// with this request.
    ///
    /// A session that arrives with flash is dirty from the start, so that saving it clears the
    /// flash (Remix's rule).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Map, Session, SessionId};
    ///
    /// let values: Map = serde_json::from_str(r#"{"hello": "world"}"#)?;
    /// let flash: Map = serde_json::from_str(r#"{"notice": "saved"}"#)?;
    /// let session = Session::from_parts(SessionId::generate(), values, flash);
    /// assert_eq!(session.get::<String>("notice")?.as_deref(), Some("saved"));
    /// assert!(session.is_dirty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn from_parts(id: SessionId, values: Map, flash: Map) -> Self {
        let dirty = !flash.is_empty();
        Self {
            id,
            regeneration: None,
            started_over: false,
            values,
            flash_in: flash,
            flash_out: Map::new(),
            touched: KeySet::default(),
            lifetime: Lifetime::Policy,
            stored_lifetime: Lifetime::Policy,
            owner: Owned::default(),
            stored_owner: Owned::default(),
            destroyed: false,
            dirty,
        }
    }

    /// How long the browser keeps this session's cookie: what was stored with it, or what
    /// this request set; [`Lifetime::Policy`] unless one was set. Reading it is not a write.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::expiry::Lifetime;
    ///
    /// assert_eq!(session::Session::new().lifetime(), Lifetime::Policy);
    /// ```
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// Chooses how long the browser keeps this session's cookie, from this response on: a
    /// [`Persistent`](Lifetime::Persistent) cookie ("remember me for 30 days", which is also
    /// this session's idle timeout on the server), a [`BrowserSession`](Lifetime::BrowserSession)
    /// cookie (no `Max-Age`, gone when the browser closes, the policy's timeouts still hold on
    /// the server), or the manager's [`Policy`](Lifetime::Policy). It is kept with the
    /// session. A different lifetime is a write (the cookie is sent again); the same one is
    /// not.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::expiry::Lifetime;
    ///
    /// let mut session = session::Session::new();
    /// session.set_lifetime(Lifetime::Policy)?;
    /// assert!(!session.is_dirty(), "the same lifetime: nothing to write");
    /// session.set_lifetime(Lifetime::Persistent(Duration::from_secs(30 * 86_400)))?;
    /// assert!(session.is_dirty());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn set_lifetime(&mut self, lifetime: Lifetime) -> Result<()> {
        self.ensure_live()?;
        let lifetime = lifetime.normalized();
        if lifetime != self.lifetime {
            self.lifetime = lifetime;
            self.dirty = true;
        }
        Ok(())
    }

    /// The lifetime a loaded session was stored with (not a change).
    pub(crate) fn restore_lifetime(&mut self, lifetime: Lifetime) {
        self.lifetime = lifetime.normalized();
        self.stored_lifetime = self.lifetime;
    }

    /// The lifetime this request chose, if it changed it.
    pub(crate) fn lifetime_change(&self) -> Option<Lifetime> {
        (self.lifetime != self.stored_lifetime).then_some(self.lifetime)
    }

    /// Returns whom the session belongs to, if a login said so with
    /// [`set_owner`](Self::set_owner). Reading it is not a write.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// assert_eq!(session.owner(), None);
    /// session.set_owner("user-42")?;
    /// assert_eq!(session.owner().map(|owner| owner.as_str()), Some("user-42"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.owner.as_ref()
    }

    /// Marks whom the session belongs to: call it when the user logs in, with their user id.
    /// A server-side store then lists the session among that owner's, where
    /// [`SessionManager::owner_sessions`](crate::SessionManager::owner_sessions) shows it and
    /// the `end_*` calls end it ("log out everywhere"), and the manager's
    /// [`OwnerLimit`](crate::owner::OwnerLimit) caps how many an owner has. The store updates
    /// its index in the same atomic step as the save. A different owner is a write; the same
    /// one is not.
    ///
    /// Pair it with [`regenerate_id`](Self::regenerate_id) (or
    /// [`start_over`](Self::start_over)), as every login should.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy);
    /// [`Error::InvalidOwner`](crate::Error::InvalidOwner) for an owner that is empty, longer
    /// than [`Owner::MAX_LEN`] bytes, or holds a control character.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{OldId, Session};
    ///
    /// let mut session = Session::new();
    /// session.regenerate_id(OldId::Delete)?;
    /// session.set_owner("user-42")?;
    /// assert!(session.set_owner("").is_err());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn set_owner(&mut self, owner: impl Into<String>) -> Result<()> {
        self.ensure_live()?;
        let owner = Owner::new(owner)?;
        if self.owner.owner.as_ref() != Some(&owner) {
            self.owner.owner = Some(owner);
            self.dirty = true;
        }
        Ok(())
    }

    /// Removes the owner: the session is no longer listed among anyone's (a logout that keeps
    /// the session, such as a cart, calls it; [`destroy`](Self::destroy) ends it instead).
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set_owner("user-42")?;
    /// session.clear_owner()?;
    /// assert_eq!(session.owner(), None);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn clear_owner(&mut self) -> Result<()> {
        self.ensure_live()?;
        if self.owner.owner.is_some() {
            self.owner.owner = None;
            self.dirty = true;
        }
        Ok(())
    }

    /// Returns the session's label, if one was set with [`set_label`](Self::set_label).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set_label("Firefox on Linux")?;
    /// assert_eq!(session.label().map(|label| label.as_str()), Some("Firefox on Linux"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn label(&self) -> Option<&Label> {
        self.owner.label.as_ref()
    }

    /// Sets a small label the owner sees in the list of their sessions, such as a device
    /// name. It is shown to the owner as it is, so keep it to what you would print.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy);
    /// [`Error::InvalidOwner`](crate::Error::InvalidOwner) for a label longer than
    /// [`Label::MAX_LEN`] bytes or holding a control character.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set_label("Phone")?;
    /// assert!(session.set_label("x".repeat(1_000)).is_err());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn set_label(&mut self, label: impl Into<String>) -> Result<()> {
        self.ensure_live()?;
        let label = Label::new(label)?;
        if self.owner.label.as_ref() != Some(&label) {
            self.owner.label = Some(label);
            self.dirty = true;
        }
        Ok(())
    }

    /// The owner and label a loaded session was stored with (not a change).
    pub(crate) fn restore_owner(&mut self, owner: Option<Owner>, label: Option<Label>) {
        self.owner = Owned { owner, label };
        self.stored_owner = self.owner.clone();
    }

    /// The owner this request chose, if it changed it.
    pub(crate) fn owner_change(&self) -> Change<&Owner> {
        Change::between(
            self.stored_owner.owner.as_ref().as_ref(),
            self.owner.owner.as_ref(),
        )
    }

    /// The label this request chose, if it changed it.
    pub(crate) fn label_change(&self) -> Change<&Label> {
        Change::between(
            self.stored_owner.label.as_ref().as_ref(),
            self.owner.label.as_ref(),
        )
    }

    /// Returns the session's current id.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{OldId, Session};
    ///
    /// let mut session = Session::new();
    /// let before = session.id().clone();
    /// session.regenerate_id(OldId::Keep)?;
    /// assert_ne!(session.id(), &before);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Returns whether [`regenerate_id`](Self::regenerate_id) ran, and what it asked for the
    /// old record: `Delete` if any call asked to delete it.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{OldId, Session};
    ///
    /// let mut session = Session::new();
    /// assert_eq!(session.regeneration(), None);
    /// session.regenerate_id(OldId::Delete)?;
    /// session.regenerate_id(OldId::Keep)?;
    /// assert_eq!(session.regeneration(), Some(OldId::Delete));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn regeneration(&self) -> Option<OldId> {
        self.regeneration
    }

    /// Gives the session a new random id, against session fixation: call it on login and on
    /// any change of privilege, with [`OldId::Delete`] so that the old cookie stops working.
    /// The data moves to the new id when the session is saved.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy).
    ///
    /// # Security
    ///
    /// Cookie storage keeps nothing on the server, so the old cookie stays valid until it
    /// expires; a warning is logged when [`OldId::Delete`] is asked of it.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{OldId, Session};
    ///
    /// let mut session = Session::new();
    /// let old = session.id().clone();
    /// session.regenerate_id(OldId::Delete)?;
    /// assert_ne!(session.id(), &old);
    /// assert!(session.is_dirty());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn regenerate_id(&mut self, old: OldId) -> Result<()> {
        self.ensure_live()?;
        self.id = SessionId::generate();
        self.regeneration = self.regeneration.max(Some(old));
        self.dirty = true;
        Ok(())
    }

    /// Starts the session over for someone else: drops every value and flash, including
    /// those another request stored that this one never saw, and moves to a new id, ending
    /// the old one. What a login that changes *who* is logged in calls (Django's `flush` then
    /// a new key); [`regenerate_id`](Self::regenerate_id) keeps the data, for a login that
    /// only raises privilege. Values set afterwards are the new session's only content.
    ///
    /// The save is one atomic write on every store. A request that loaded the old session
    /// before it and saves after it writes nothing and sends no `Set-Cookie`
    /// ([`Commit::Superseded`](crate::Commit::Superseded)): its changes belonged to the
    /// previous user, and the browser keeps the new cookie.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`](crate::Error::Destroyed) after [`destroy`](Self::destroy).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Session;
    ///
    /// let mut session = Session::new();
    /// session.set("user", "ada")?;
    /// session.set("cart", [1, 2])?;
    /// let old = session.id().clone();
    /// session.start_over()?;
    /// session.set("user", "grace")?;
    /// assert_ne!(session.id(), &old);
    /// assert_eq!(session.get::<Vec<u32>>("cart")?, None);
    /// assert!(session.started_over());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn start_over(&mut self) -> Result<()> {
        self.ensure_live()?;
        self.values.clear();
        self.flash_in.clear();
        self.flash_out.clear();
        self.touched.clear();
        self.lifetime = Lifetime::Policy;
        self.owner = Owned::default();
        self.id = SessionId::generate();
        self.regeneration = Some(OldId::Delete);
        self.started_over = true;
        self.dirty = true;
        Ok(())
    }

    /// Returns whether [`start_over`](Self::start_over) ran in this request.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::Session::new().started_over());
    /// ```
    #[must_use]
    pub fn started_over(&self) -> bool {
        self.started_over
    }

    /// Destroys the session: saving deletes it and clears the cookie. Reads then see nothing
    /// and writes fail. Calling it twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("user", "mj")?;
    /// session.destroy();
    /// assert!(session.is_destroyed());
    /// assert_eq!(session.get::<String>("user")?, None);
    /// assert!(session.set("user", "x").is_err());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn destroy(&mut self) {
        self.destroyed = true;
    }

    /// Returns whether [`destroy`](Self::destroy) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::Session::new().is_destroyed());
    /// ```
    #[must_use]
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Returns whether the session must be written back: it was changed, regenerated, or
    /// arrived with flash that must be cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// assert!(!session.is_dirty());
    /// session.remove("nothing")?; // even a no-op write counts, as in Remix
    /// assert!(session.is_dirty());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

/// A session's owner and label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Owned {
    owner: Option<Owner>,
    label: Option<Label>,
}

impl AsRef<Session> for Session {
    fn as_ref(&self) -> &Session {
        self
    }
}

impl AsMut<Session> for Session {
    fn as_mut(&mut self) -> &mut Session {
        self
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Session {
    /// Shows the shape of the session, never its values or its full id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .field("incoming_flash", &self.flash_in.keys().collect::<Vec<_>>())
            .field("outgoing_flash", &self.flash_out.keys().collect::<Vec<_>>())
            .field("lifetime", &self.lifetime)
            .field("owned", &self.owner.owner.is_some())
            .field("dirty", &self.dirty)
            .field("destroyed", &self.destroyed)
            .finish_non_exhaustive()
    }
}
