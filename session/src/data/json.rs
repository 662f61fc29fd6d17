//! [`Json`]: one session value, held as the JSON text it is stored and sent as. A value read
//! from a cookie or a store keeps its exact bytes (key order, number spelling, escapes), so
//! writing it back changes nothing; a value set from Rust is written once, the way
//! JavaScript's `JSON.stringify` would write it. Nothing here depends on serde_json's
//! `preserve_order` or `float_roundtrip` features, so the crate never turns them on for an
//! application.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::text::Text;

/// One value of a session: valid JSON text, cheap to clone (shared, never changed in place).
/// The values read from one cookie payload or stored record share that text's single
/// allocation.
///
/// [`Session::get`](crate::Session::get) decodes it into any `Deserialize` type and
/// [`Session::set`](crate::Session::set) makes one from any `Serialize` type; this type is
/// what [`Map`](crate::Map), [`Session::value`](crate::Session::value) and the store
/// contract hand around.
///
/// `Debug` shows the length only, since a value may be a token; [`as_str`](Self::as_str) and
/// `Display` show the text.
///
/// # Examples
///
/// ```
/// use session::Json;
///
/// let json = Json::encode(&serde_json::json!([1.0, 1e21, "é"]))?;
/// assert_eq!(json.as_str(), r#"[1,1e+21,"é"]"#); // as JSON.stringify writes it
/// assert_eq!(json.decode::<(u8, f64, String)>()?, (1, 1e21, "é".to_owned()));
/// let read = Json::from_text(r#"{"b": 1.50, "a": 2}"#)?;
/// assert_eq!(read.as_str(), r#"{"b":1.5,"a":2}"#); // as JSON.stringify writes it
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Json(Text);

impl Json {
    /// Serializes `value` as JavaScript's `JSON.stringify` would: integer-like object keys
    /// first in ascending order, then the others in the order they were written, and
    /// ECMAScript number formatting (`1`, `1e+21`). Non-finite floats become `null`.
    ///
    /// # Errors
    ///
    /// The serializer's error when `value` cannot be JSON (a map with non-string keys, a
    /// failing `Serialize` impl).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// let map = BTreeMap::from([("b", 1), ("10", 2), ("2", 3)]);
    /// assert_eq!(session::Json::encode(&map)?.as_str(), r#"{"2":3,"10":2,"b":1}"#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        crate::json::encode(value).map(|(text, _)| Self(text.into()))
    }

    /// Reads JSON text, written the way `JSON.stringify` would write the same value (no
    /// whitespace, integer-like keys first, ECMAScript numbers), so that a session holding
    /// it is byte-identical to the one a JavaScript app makes.
    ///
    /// # Errors
    ///
    /// serde_json's error when `text` is not one JSON value, or nests past 128 levels.
    ///
    /// # Examples
    ///
    /// ```
    /// let json = session::Json::from_text(r#" {"b": 1.50, "a": [1E2], "1": "A"} "#)?;
    /// assert_eq!(json.as_str(), r#"{"1":"A","b":1.5,"a":[100]}"#);
    /// assert!(session::Json::from_text("[1,").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        let _: &RawValue = serde_json::from_str(text)?;
        crate::json::canonical(text).map(|text| Self(text.into()))
    }

    /// Text a store holds, checked to be one JSON value and kept as it is.
    #[cfg(feature = "redis")]
    pub(crate) fn from_stored(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Ok(Self::from_raw(raw))
    }

    /// Text [`crate::json::encode`] wrote.
    pub(crate) fn from_encoded(text: Arc<str>) -> Self {
        Self(text.into())
    }

    /// A value already checked by a parser (a `RawValue` it produced): a slice of the
    /// payload being parsed when the parse shares it (see [`super::text::within`]).
    pub(crate) fn from_raw(raw: &RawValue) -> Self {
        Self(Text::read(raw.get()))
    }

    /// JSON `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Json::null().is_null());
    /// ```
    #[must_use]
    pub fn null() -> Self {
        Self("null".into())
    }

    /// Returns the JSON text.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::Json::encode(&true)?.as_str(), "true");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Returns whether this is JSON `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::Json::encode(&0)?.is_null());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn is_null(&self) -> bool {
        &*self.0 == "null"
    }

    /// Decodes the value into `T`. A string holding a lone UTF-16 surrogate (which
    /// JavaScript can write and a Rust `String` cannot hold) reads with U+FFFD in its place.
    ///
    /// # Errors
    ///
    /// serde_json's error when the value does not fit `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let json = session::Json::from_text(r#""caf\u00e9 \ud800""#)?;
    /// assert_eq!(json.decode::<String>()?, "café \u{fffd}");
    /// assert!(json.decode::<u32>().is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0).or_else(|error| {
            match crate::json::replace_lone_surrogates(&self.0) {
                Some(repaired) => serde_json::from_str(&repaired),
                None => Err(error),
            }
        })
    }

    /// Decodes the value into a [`serde_json::Value`].
    ///
    /// # Errors
    ///
    /// serde_json's error when the value nests deeper than its parser allows (128 levels).
    ///
    /// # Examples
    ///
    /// ```
    /// let json = session::Json::encode(&[1, 2])?;
    /// assert_eq!(json.to_value()?, serde_json::json!([1, 2]));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.decode()
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json({} bytes, redacted)", self.0.len())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serializes as the JSON value itself (through serde_json, the text as it is).
impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Reads any JSON value, as [`from_text`](Json::from_text) does.
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_text(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// Compares the decoded value (key order does not count).
///
/// # Examples
///
/// ```
/// let json = session::Json::from_text(r#"{"b":1.5,"a":2}"#)?;
/// assert_eq!(json, serde_json::json!({"a": 2, "b": 1.5}));
/// # Ok::<(), serde_json::Error>(())
/// ```
impl PartialEq<serde_json::Value> for Json {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

impl From<&Json> for serde_json::Value {
    /// The value, or `null` when it nests past serde_json's parser limit.
    fn from(json: &Json) -> Self {
        json.to_value().unwrap_or(Self::Null)
    }
}
