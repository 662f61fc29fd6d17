//! Reading and writing a [`Session`]'s values and flash, under Remix's rules: what makes a
//! session dirty, what a destroyed session refuses, and the change log a save applies.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Json, Map, Session};
use crate::error::{Error, Result};

impl Session {
    /// How many arrays and objects deep a value may nest. serde_json's parser stops at 128
    /// levels, and a record or cookie payload wraps each value in up to three of its own; a
    /// deeper value is refused at [`set`](Self::set) and [`flash`](Self::flash) rather than
    /// written and then unreadable.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    ///
    /// let mut session = session::Session::new();
    /// let mut deep = json!(1);
    /// for _ in 0..session::Session::MAX_DEPTH {
    ///     deep = json!([deep]);
    /// }
    /// session.set("ok", &deep)?;
    /// let err = session.set("too-deep", json!([deep])).unwrap_err();
    /// assert!(matches!(err, session::Error::TooDeep { limit: 100, .. }));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub const MAX_DEPTH: usize = 100;

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

    /// Returns the JSON text under `key`, by the same rules as [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.set("n", [1.0, 2.5])?;
    /// assert_eq!(session.value("n").map(session::Json::as_str), Some("[1,2.5]"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&Json> {
        if self.destroyed {
            return None;
        }
        let present = |value: &&Json| !value.is_null();
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
    /// use session::{Map, Session, SessionId};
    ///
    /// let values: Map = serde_json::from_str(r#"{"notice": "stored"}"#)?;
    /// let flash: Map = serde_json::from_str(r#"{"notice": "flashed"}"#)?;
    /// let session = Session::from_parts(SessionId::generate(), values, flash);
    /// assert_eq!(session.get::<String>("notice")?.as_deref(), Some("stored"));
    /// assert_eq!(session.flashed::<String>("notice")?.as_deref(), Some("flashed"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// value cannot become JSON (a map with non-string keys, say); [`Error::TooDeep`] when it
    /// nests deeper than [`MAX_DEPTH`](Self::MAX_DEPTH). The session is unchanged then.
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
            self.values.remove(key);
            self.touch(key);
        } else {
            let shared = self.values.set(key, value);
            self.touched.insert_shared(shared);
        }
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
        self.values.remove(key);
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
        for key in self.values.shared_keys() {
            self.touched.insert_shared(key);
        }
        self.values.clear();
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
    /// let notice = session.outgoing_flash().get("notice").unwrap();
    /// assert_eq!(notice.as_str(), r#""Saved""#);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn flash(&mut self, key: &str, value: impl Serialize) -> Result<()> {
        self.ensure_live()?;
        let value = encode(key, &value)?;
        self.dirty = true;
        self.flash_out.set(key, value);
        Ok(())
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
    /// let keys: Vec<&str> = session.values().keys().collect();
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
    /// let changes: Vec<_> = changes.iter().map(|(key, value)| (*key, value.map(|v| v.as_str()))).collect();
    /// assert_eq!(changes, [("a", Some("1")), ("b", None)]);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn changes(&self) -> impl Iterator<Item = (&str, Option<&Json>)> {
        self.touched.iter().map(|key| (key, self.values.get(key)))
    }

    pub(super) fn ensure_live(&self) -> Result<()> {
        if self.destroyed {
            Err(Error::Destroyed)
        } else {
            Ok(())
        }
    }

    fn touch(&mut self, key: &str) {
        self.touched.insert(key);
    }
}

/// The JSON of a value to store, if every store can read it back: nested at most
/// [`Session::MAX_DEPTH`] arrays and objects deep.
fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Json> {
    let (text, depth) = crate::json::encode(value).map_err(|source| Error::Serialize {
        key: key.to_owned(),
        source,
    })?;
    if depth > Session::MAX_DEPTH {
        return Err(Error::TooDeep {
            key: key.to_owned(),
            limit: Session::MAX_DEPTH,
        });
    }
    Ok(Json::from_encoded(text))
}

fn decode<T: DeserializeOwned>(key: &str, value: &Json) -> Result<T> {
    value.decode().map_err(|source| Error::Deserialize {
        key: key.to_owned(),
        source,
    })
}
