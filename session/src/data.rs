//! [`Session`]: one visitor's data for the length of a request: values in insertion order, the
//! flash that arrived and the flash set now, what this request changed, the id and whether it
//! is to be regenerated, and whether the session was destroyed. It follows Remix's rules for
//! reads, writes, destroy and id regeneration. Where the session came from (a cookie, a stored
//! record of some version) is the manager's business and lives beside it, in
//! [`LoadedSession`](crate::LoadedSession).

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::id::SessionId;

/// An insertion-ordered JSON object: the values or the flash of a session.
pub type Map = serde_json::Map<String, Value>;

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
    /// Persistent values, in insertion order. May hold `null` only if a loaded record did.
    values: Map,
    /// Flash values that arrived with this request: readable now, gone after this save.
    flash_in: Map,
    /// Flash values set during this request, for the next one. Never readable now.
    flash_out: Map,
    /// Keys of `values` written or removed during this request; their current state in
    /// `values` is the change to apply.
    touched: HashSet<String>,
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
    /// use serde_json::json;
    /// use session::{Session, SessionId};
    ///
    /// let values = json!({"hello": "world"}).as_object().unwrap().clone();
    /// let flash = json!({"notice": "saved"}).as_object().unwrap().clone();
    /// let session = Session::from_parts(SessionId::generate(), values, flash);
    /// assert_eq!(session.get::<String>("notice")?.as_deref(), Some("saved"));
    /// assert!(session.is_dirty());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn from_parts(id: SessionId, values: Map, flash: Map) -> Self {
        let dirty = !flash.is_empty();
        Self {
            id,
            regeneration: None,
            values,
            flash_in: flash,
            flash_out: Map::new(),
            touched: HashSet::new(),
            destroyed: false,
            dirty,
        }
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

    /// Reads the value under `key` as a `T`.
    ///
    /// A stored value shadows a flash value with the same key; a flash value that arrived with
    /// this request is returned when no value is stored; flash set in this request is not
    /// visible. A destroyed session reads as empty.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialize`] when the value does not fit `T` (written by an older deploy, by
    /// another app, or by hand). It never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("cart", vec![1, 2, 3])?;
    /// assert_eq!(session.get::<Vec<u32>>("cart")?, Some(vec![1, 2, 3]));
    /// assert_eq!(session.get::<u32>("missing")?, None);
    /// assert!(session.get::<String>("cart").is_err());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.value(key).map(|value| decode(key, value)).transpose()
    }

    /// Returns the raw JSON under `key`, by the same rules as [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("n", 1)?;
    /// assert_eq!(session.value("n"), Some(&serde_json::json!(1)));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&Value> {
        if self.destroyed {
            return None;
        }
        let present = |value: &&Value| !value.is_null();
        self.values
            .get(key)
            .filter(present)
            .or_else(|| self.flash_in.get(key).filter(present))
    }

    /// Reads only the flash value that arrived with this request under `key`, even when a
    /// stored value has the same key.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialize`] when the value does not fit `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use session::{Session, SessionId};
    ///
    /// let values = json!({"notice": "stored"}).as_object().unwrap().clone();
    /// let flash = json!({"notice": "flashed"}).as_object().unwrap().clone();
    /// let session = Session::from_parts(SessionId::generate(), values, flash);
    /// assert_eq!(session.get::<String>("notice")?.as_deref(), Some("stored"));
    /// assert_eq!(session.flashed::<String>("notice")?.as_deref(), Some("flashed"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn flashed<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        if self.destroyed {
            return Ok(None);
        }
        self.flash_in
            .get(key)
            .filter(|value| !value.is_null())
            .map(|value| decode(key, value))
            .transpose()
    }

    /// Returns whether a value or an arriving flash is held under `key` (true even for a stored
    /// `null`, as in Remix). Flash set in this request does not count.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("a", 1)?;
    /// assert!(session.contains_key("a"));
    /// session.remove("a")?;
    /// assert!(!session.contains_key("a"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[doc(alias = "has")]
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        !self.destroyed && (self.values.contains_key(key) || self.flash_in.contains_key(key))
    }

    /// Stores `value` under `key`. A value that serializes to JSON `null` (`None`, `()`)
    /// removes the key instead. Re-setting a key keeps its position.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] after [`destroy`](Self::destroy); [`Error::Serialize`] when the
    /// value cannot become JSON (a map with non-string keys, say). The session is unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("theme", "dark")?;
    /// session.set("theme", None::<String>)?;
    /// assert!(!session.contains_key("theme"));
    /// assert!(session.is_dirty());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn set(&mut self, key: &str, value: impl Serialize) -> Result<()> {
        self.ensure_live()?;
        let value = encode(key, &value)?;
        self.dirty = true;
        if value.is_null() {
            self.values.shift_remove(key);
        } else if let Some(slot) = self.values.get_mut(key) {
            *slot = value;
        } else {
            self.values.insert(key.to_owned(), value);
        }
        self.touch(key);
        Ok(())
    }

    /// Removes the value under `key`. A flash value with the same key stays readable.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] after [`destroy`](Self::destroy).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("a", 1)?;
    /// session.remove("a")?;
    /// assert_eq!(session.get::<i32>("a")?, None);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[doc(alias = "unset")]
    pub fn remove(&mut self, key: &str) -> Result<()> {
        self.ensure_live()?;
        self.dirty = true;
        self.values.shift_remove(key);
        self.touch(key);
        Ok(())
    }

    /// Removes every stored value (the flash that arrived stays readable for this request).
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] after [`destroy`](Self::destroy).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("a", 1)?;
    /// session.set("b", 2)?;
    /// session.clear()?;
    /// assert!(session.is_empty());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn clear(&mut self) -> Result<()> {
        self.ensure_live()?;
        self.dirty = true;
        let keys: Vec<String> = self.values.keys().cloned().collect();
        self.values.clear();
        self.touched.extend(keys);
        Ok(())
    }

    /// Sets a flash value: readable on the next request only, then gone. The last call for a
    /// key wins.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] after [`destroy`](Self::destroy); [`Error::Serialize`] when the
    /// value cannot become JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.flash("notice", "Saved")?;
    /// assert_eq!(session.outgoing_flash().get("notice"), Some(&serde_json::json!("Saved")));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn flash(&mut self, key: &str, value: impl Serialize) -> Result<()> {
        self.ensure_live()?;
        let value = encode(key, &value)?;
        self.dirty = true;
        self.flash_out.insert(key.to_owned(), value);
        Ok(())
    }

    /// Gives the session a new random id, against session fixation: call it on login and on
    /// any change of privilege, with [`OldId::Delete`] so that the old cookie stops working.
    /// The data moves to the new id when the session is saved.
    ///
    /// # Errors
    ///
    /// [`Error::Destroyed`] after [`destroy`](Self::destroy).
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

    /// Returns the number of stored values plus arriving flash values (a key in both counts
    /// twice, as in Remix). A destroyed session has none.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("a", 1)?;
    /// session.flash("b", 2)?; // for the next request: not counted
    /// assert_eq!(session.len(), 1);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        if self.destroyed {
            0
        } else {
            self.values.len() + self.flash_in.len()
        }
    }

    /// Returns whether [`len`](Self::len) is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Session::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the stored values, in insertion order (empty once destroyed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("b", 1)?;
    /// session.set("a", 2)?;
    /// let keys: Vec<&String> = session.values().keys().collect();
    /// assert_eq!(keys, ["b", "a"]);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn values(&self) -> &Map {
        static EMPTY: std::sync::LazyLock<Map> = std::sync::LazyLock::new(Map::new);
        if self.destroyed { &EMPTY } else { &self.values }
    }

    /// Returns the flash that arrived with this request.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Session::new().incoming_flash().is_empty());
    /// ```
    #[must_use]
    pub fn incoming_flash(&self) -> &Map {
        &self.flash_in
    }

    /// Returns the flash set during this request, which saving hands to the next request.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.flash("n", 1)?;
    /// assert_eq!(session.outgoing_flash().len(), 1);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn outgoing_flash(&self) -> &Map {
        &self.flash_out
    }

    /// Returns what this request did to each value it wrote: `Some(value)` for a key set,
    /// `None` for a key removed. A storage applies exactly these onto its stored record, so
    /// concurrent requests that touch different keys do not undo each other.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("a", 1)?;
    /// session.remove("b")?;
    /// let mut changes: Vec<_> = session.changes().collect();
    /// changes.sort_by_key(|(key, _)| *key);
    /// assert_eq!(changes, [("a", Some(&serde_json::json!(1))), ("b", None)]);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn changes(&self) -> impl Iterator<Item = (&str, Option<&Value>)> {
        self.touched
            .iter()
            .map(|key| (key.as_str(), self.values.get(key)))
    }

    fn ensure_live(&self) -> Result<()> {
        if self.destroyed {
            Err(Error::Destroyed)
        } else {
            Ok(())
        }
    }

    fn touch(&mut self, key: &str) {
        if !self.touched.contains(key) {
            self.touched.insert(key.to_owned());
        }
    }
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
            .field("dirty", &self.dirty)
            .field("destroyed", &self.destroyed)
            .finish_non_exhaustive()
    }
}

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|source| Error::Serialize {
        key: key.to_owned(),
        source,
    })
}

fn decode<T: DeserializeOwned>(key: &str, value: &Value) -> Result<T> {
    T::deserialize(value).map_err(|source| Error::Deserialize {
        key: key.to_owned(),
        source,
    })
}
