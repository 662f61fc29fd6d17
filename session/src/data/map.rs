//! [`Map`]: the values or the flash of a session, keys in insertion order, each value its
//! [`Json`] text. The order is the crate's own (an `IndexMap`), not serde_json's, so it holds
//! whatever features the application's serde_json has.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::json::Json;
use super::text::Text;

/// An insertion-ordered map of keys to JSON values: the values or the flash of a session.
///
/// `Debug` shows the keys only. A clone shares the entries until one of the two changes
/// (copy on write), so handing a stored record to a session and back copies nothing.
///
/// # Examples
///
/// ```
/// use session::{Json, Map};
///
/// let mut map = Map::new();
/// map.insert("b".into(), Json::encode(&1)?);
/// map.insert("a".into(), Json::encode(&[1, 2])?);
/// assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a"]);
/// assert_eq!(serde_json::to_string(&map)?, r#"{"b":1,"a":[1,2]}"#);
/// let back: Map = serde_json::from_str(r#"{"z":1,"y":{"k":true}}"#)?;
/// assert_eq!(back.get("y").unwrap().as_str(), r#"{"k":true}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Map {
    /// `None` while empty, so an empty map allocates nothing.
    entries: Option<Arc<Entries>>,
}

/// A key, shared by every copy of the map that holds it (and, when read from a payload, a
/// slice of the payload's text).
type Key = Text;

/// Most sessions hold a handful of keys, where a scan of a `Vec` beats hashing every key;
/// a map that outgrows [`SMALL`] moves to an index and stays there.
#[derive(Clone)]
enum Entries {
    Small(Vec<(Key, Json)>),
    Large(Index),
}

/// The representation past [`SMALL`] keys.
type Index = IndexMap<Key, Json>;

/// The most keys kept in a `Vec`.
const SMALL: usize = 16;

impl Default for Entries {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

/// Equal when they hold the same keys with the same values, in any order (as
/// `serde_json::Map` compares).
impl PartialEq for Map {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(key, value)| other.get(key) == Some(value))
    }
}

impl Eq for Map {}

impl Map {
    /// An empty map.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Map::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys it holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"a":1}"#)?;
    /// assert_eq!(map.len(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        match self.entries.as_deref() {
            None => 0,
            Some(Entries::Small(entries)) => entries.len(),
            Some(Entries::Large(entries)) => entries.len(),
        }
    }

    /// Whether it holds no key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Map::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"a":[1]}"#)?;
    /// assert_eq!(map.get("a").map(session::Json::as_str), Some("[1]"));
    /// assert!(map.get("b").is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self.entries.as_deref()? {
            Entries::Small(entries) => entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            Entries::Large(entries) => entries.get(key),
        }
    }

    /// Whether `key` is in the map.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"a":null}"#)?;
    /// assert!(map.contains_key("a"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, keeping its place if it was there (else it goes last); returns the value
    /// it replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Json, Map};
    ///
    /// let mut map = Map::new();
    /// map.insert("a".into(), Json::encode(&1)?);
    /// map.insert("b".into(), Json::encode(&2)?);
    /// let old = map.insert("a".into(), Json::encode(&3)?);
    /// assert_eq!(old.unwrap().as_str(), "1");
    /// assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn insert(&mut self, key: String, value: Json) -> Option<Json> {
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        self.push_new(key.into(), value);
        None
    }

    /// Removes `key`, keeping the order of the others; returns its value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut map: session::Map = serde_json::from_str(r#"{"a":1,"b":2,"c":3}"#)?;
    /// assert_eq!(map.remove("a").unwrap().as_str(), "1");
    /// assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "c"]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        // Absent: the shared entries stay shared.
        let at = self.position(key)?;
        let removed = match self.entries_mut() {
            Entries::Small(entries) => entries.remove(at).1,
            Entries::Large(entries) => entries.shift_remove_index(at).map(|(_, v)| v)?,
        };
        if self.is_empty() {
            self.entries = None;
        }
        Some(removed)
    }

    /// Removes every key.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut map: session::Map = serde_json::from_str(r#"{"a":1}"#)?;
    /// map.clear();
    /// assert!(map.is_empty());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.entries = None;
    }

    /// The keys and values, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"a":1,"b":"x"}"#)?;
    /// let texts: Vec<_> = map.iter().map(|(key, value)| format!("{key}={value}")).collect();
    /// assert_eq!(texts, ["a=1", r#"b="x""#]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use = "an iterator does nothing unless used"]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Json)> + '_ {
        let (small, large) = self.parts();
        Iter {
            small: small.iter(),
            large: large.map(IndexMap::iter),
        }
    }

    /// The keys, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"b":1,"a":2}"#)?;
    /// assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a"]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use = "an iterator does nothing unless used"]
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.iter().map(|(key, _)| key)
    }
}

impl Map {
    /// The map as a [`serde_json::Value`] object (values decoded; one that nests past
    /// serde_json's parser limit becomes `null`). The object's key order is serde_json's
    /// (sorted unless its `preserve_order` feature is on).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: session::Map = serde_json::from_str(r#"{"a":[1]}"#)?;
    /// assert_eq!(map.to_value(), serde_json::json!({"a": [1]}));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn to_value(&self) -> serde_json::Value {
        self.iter()
            .map(|(key, value)| (key.to_owned(), serde_json::Value::from(value)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// The entries of a serde_json object, in its iteration order (insertion order with
/// serde_json's `preserve_order` feature, sorted without it).
///
/// # Examples
///
/// ```
/// let object = serde_json::json!({"a": 1}).as_object().unwrap().clone();
/// let map = session::Map::from(object);
/// assert_eq!(map.get("a").unwrap().as_str(), "1");
/// ```
impl From<serde_json::Map<String, serde_json::Value>> for Map {
    fn from(object: serde_json::Map<String, serde_json::Value>) -> Self {
        object
            .into_iter()
            .map(|(key, value)| {
                // A `Value` always serializes.
                let json = Json::encode(&value).unwrap_or_else(|_| Json::null());
                (key, json)
            })
            .collect()
    }
}

impl Map {
    /// Sets `key` to `value`, allocating the key only when it is new; returns the map's
    /// shared copy of the key.
    pub(crate) fn set(&mut self, key: &str, value: Json) -> &Key {
        match self.position(key) {
            Some(at) => {
                let (shared, slot) = self.at_mut(at);
                *slot = value;
                shared
            }
            None => self.push_new(key.into(), value),
        }
    }

    /// The map's shared copies of its keys, in order.
    pub(crate) fn shared_keys(&self) -> impl Iterator<Item = &Key> + '_ {
        let (small, large) = self.parts();
        small
            .iter()
            .map(|(key, _)| key)
            .chain(large.into_iter().flat_map(IndexMap::keys))
    }

    /// The entries as the `Vec` part and the index part, one of them empty.
    fn parts(&self) -> (&[(Key, Json)], Option<&Index>) {
        match self.entries.as_deref() {
            None => (&[], None),
            Some(Entries::Small(entries)) => (entries.as_slice(), None),
            Some(Entries::Large(entries)) => (&[], Some(entries)),
        }
    }

    /// Where `key` is in the order, looked up without unsharing anything.
    fn position(&self, key: &str) -> Option<usize> {
        match self.entries.as_deref()? {
            Entries::Small(entries) => entries.iter().position(|(k, _)| &**k == key),
            Entries::Large(entries) => entries.get_index_of(key),
        }
    }

    /// The key and value at `at`, a [`position`](Self::position), the entries unshared first.
    fn at_mut(&mut self, at: usize) -> (&Key, &mut Json) {
        match self.entries_mut() {
            Entries::Small(entries) => {
                let (key, value) = &mut entries[at];
                (&*key, value)
            }
            Entries::Large(entries) => entries.get_index_mut(at).expect("a position the map gave"),
        }
    }

    /// The entries, unshared first if another copy of the map holds them.
    fn entries_mut(&mut self) -> &mut Entries {
        Arc::make_mut(self.entries.get_or_insert_with(Arc::default))
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        let at = self.position(key)?;
        Some(self.at_mut(at).1)
    }

    /// Appends a key the map does not hold, moving to an index past [`SMALL`] keys; returns
    /// the key as the map holds it.
    fn push_new(&mut self, key: Key, value: Json) -> &Key {
        let entries = self.entries_mut();
        if let Entries::Small(small) = entries
            && small.len() >= SMALL
        {
            *entries = Entries::Large(std::mem::take(small).into_iter().collect());
        }
        match entries {
            Entries::Small(small) => {
                small.push((key, value));
                &small[small.len() - 1].0
            }
            Entries::Large(large) => {
                let (index, _) = large.insert_full(key, value);
                large
                    .get_index(index)
                    .map(|(k, _)| k)
                    .expect("just inserted")
            }
        }
    }
}

/// A set of keys in the order they were first added: a `Vec` while few (as [`Map`]), with a
/// hash index once it passes [`SMALL`].
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
    index: Option<std::collections::HashSet<Key>>,
}

impl KeySet {
    pub(crate) fn contains(&self, key: &str) -> bool {
        match &self.index {
            Some(index) => index.contains(key),
            None => self.keys.iter().any(|k| &**k == key),
        }
    }

    /// Adds `key` unless it is there.
    pub(crate) fn insert(&mut self, key: &str) {
        if !self.contains(key) {
            self.push(key.into());
        }
    }

    /// Adds a map's shared key unless it is there, sharing it rather than copying it.
    pub(crate) fn insert_shared(&mut self, key: &Key) {
        if !self.contains(key) {
            self.push(key.clone());
        }
    }

    fn push(&mut self, key: Key) {
        if let Some(index) = &mut self.index {
            index.insert(key.clone());
        } else if self.keys.len() >= SMALL {
            let mut index: std::collections::HashSet<Key> = self.keys.iter().cloned().collect();
            index.insert(key.clone());
            self.index = Some(index);
        }
        self.keys.push(key);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(|key| &**key)
    }

    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.index = None;
    }
}

/// The entries of either representation, in order.
struct Iter<'a> {
    small: std::slice::Iter<'a, (Key, Json)>,
    large: Option<indexmap::map::Iter<'a, Key, Json>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Json);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.large {
            Some(large) => large.next().map(|(key, value)| (&**key, value)),
            None => self.small.next().map(|(key, value)| (&**key, value)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self
            .large
            .as_ref()
            .map_or(self.small.len(), ExactSizeIterator::len);
        (len, Some(len))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a str, &'a Json);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Json)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(String, Json)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl Extend<(String, Json)> for Map {
    fn extend<I: IntoIterator<Item = (String, Json)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

/// A JSON object, keys in the map's order.
impl Serialize for Map {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A JSON object, keys in document order (a repeated key keeps its first place and its last
/// value, as `JSON.parse` does), each value written as `JSON.stringify` would write it.
impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Visit::<Box<RawValue>>(PhantomData))
    }
}

/// A [`Map`] read from text that outlives the parse (a `&str` or `&[u8]` given to
/// `serde_json`): each value is copied once, straight from the input.
pub(crate) struct Borrowed(pub(crate) Map);

impl<'de> Deserialize<'de> for Borrowed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(Visit::<&'de RawValue>(PhantomData))
            .map(Borrowed)
    }
}

/// A value as the parser hands it over.
trait Raw {
    fn json(&self) -> Json;
}

impl Raw for &RawValue {
    fn json(&self) -> Json {
        Json::from_raw(self)
    }
}

/// Text from outside the crate, written the way `JSON.stringify` writes it.
impl Raw for Box<RawValue> {
    fn json(&self) -> Json {
        Json::from_text(self.get()).unwrap_or_else(|_| Json::from_raw(self))
    }
}

struct Visit<V>(PhantomData<V>);

impl<'de, V: Raw + Deserialize<'de>> Visitor<'de> for Visit<V> {
    type Value = Map;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Map, A::Error> {
        let mut map = Map::new();
        while let Some((KeyText(key), value)) = access.next_entry::<KeyText, V>()? {
            let value = value.json();
            match map.get_mut(&key) {
                Some(slot) => *slot = value,
                None => {
                    map.push_new(key, value);
                }
            }
        }
        Ok(map)
    }
}

/// A key as the parser hands it over, copied once into its shared form (no `String` first).
struct KeyText(Key);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<KeyText, E> {
                Ok(KeyText(Text::read(key)))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::{Json, Map, SMALL};

    fn number(n: usize) -> Json {
        Json::encode(&n).unwrap()
    }

    #[test]
    fn a_clone_shares_its_entries_until_one_side_changes() {
        let mut original: Map = [("a".to_owned(), number(1)), ("b".to_owned(), number(2))]
            .into_iter()
            .collect();
        let mut copy = original.clone();
        let shared = |x: &Map, y: &Map| match (&x.entries, &y.entries) {
            (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
            _ => false,
        };
        assert!(shared(&original, &copy));
        assert!(copy.remove("absent").is_none());
        assert!(shared(&original, &copy), "removing nothing copies nothing");
        copy.set("a", number(10));
        copy.set("c", number(3));
        assert!(!shared(&original, &copy));
        assert_eq!(original.get("a"), Some(&number(1)));
        assert!(!original.contains_key("c"));
        assert_eq!(copy.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        original.remove("a");
        original.remove("b");
        assert!(
            original.entries.is_none(),
            "an emptied map holds no allocation"
        );
        assert_eq!(copy.get("a"), Some(&number(10)));
    }

    #[test]
    fn order_lookups_and_removals_hold_across_the_move_to_an_index() {
        let mut map = Map::new();
        let keys: Vec<String> = (0..SMALL * 3).rev().map(|n| format!("k{n}")).collect();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(map.insert(key.clone(), number(n)), None);
            assert_eq!(map.len(), n + 1);
            assert_eq!(map.get(key), Some(&number(n)), "{key}");
        }
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            keys.iter().map(String::as_str).collect::<Vec<_>>()
        );
        // Replacing keeps the place; removing keeps the others' order.
        assert_eq!(map.insert(keys[3].clone(), number(99)), Some(number(3)));
        assert_eq!(map.keys().nth(3), Some(keys[3].as_str()));
        assert_eq!(map.remove(&keys[0]), Some(number(0)));
        assert_eq!(map.remove(&keys[0]), None);
        assert_eq!(map.keys().next(), Some(keys[1].as_str()));
        assert_eq!(map.iter().len(), keys.len() - 1);
        let small: Map = keys[1..]
            .iter()
            .rev()
            .map(|key| (key.clone(), map.get(key).unwrap().clone()))
            .collect();
        assert_eq!(
            small, map,
            "equal whatever the order and the representation"
        );
        map.clear();
        assert!(map.is_empty() && map.get(&keys[1]).is_none());
    }

    #[test]
    fn a_key_set_keeps_first_insertion_order_without_duplicates_at_any_size() {
        let mut set = super::KeySet::default();
        for round in 0..2 {
            for n in (0..SMALL * 2).rev() {
                set.insert(&format!("k{n}"));
            }
            assert_eq!(set.iter().count(), SMALL * 2, "round {round}");
        }
        assert_eq!(
            set.iter().next(),
            Some(format!("k{}", SMALL * 2 - 1).as_str())
        );
        assert!(set.contains("k0") && !set.contains("k99"));
        set.clear();
        assert_eq!(set.iter().count(), 0);
        assert!(!set.contains("k0"));
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let map: Map = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map.get("a").unwrap().as_str(), "3");
    }
}
