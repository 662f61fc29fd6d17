//! [`CookieStorage`]: the whole session in the signed (or encrypted) cookie, as the Remix
//! payload `{"i": id, "d": [values, flash]}`, plus a `"t": [created, renewed]` key when expiry
//! is enforced and an `"l"` key holding the session's [`Lifetime`] when one was chosen (Remix
//! ignores keys it does not know): the payload's reader and writer.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::data::{Borrowed, Json, Map, Session, text};
use crate::expiry::{Expiry, Lifetime, Timestamps};
use crate::id::SessionId;
use crate::json;

/// Keeps the whole session in the cookie: no server state, nothing to clean up.
///
/// [`new`](Self::new) signs the cookie in Remix's format: a Remix 3 app with the same secret
/// reads the cookies this storage writes, and this storage reads the cookies it writes (the
/// payload is byte-identical to Remix's for the same session). With the `encrypted` feature,
/// [`encrypted`](Self::encrypted) seals the same payload instead, so the client cannot read
/// it (no Remix app can either).
///
/// # Security
///
/// A signed payload can be read by the client; an encrypted one cannot. Nothing is stored on the
/// server, so [`Session::destroy`] and [`Session::regenerate_id`] cannot revoke a copy of an
/// older cookie; the idle and absolute timeouts (checked against timestamps inside the signed
/// payload) bound how long such a copy works. Concurrent requests each write the whole
/// session, so the last response the browser keeps wins.
///
/// # Examples
///
/// ```
/// use session::{CookieStorage, Expiry, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, CookieStorage::new()).with_expiry(Expiry::none());
/// let mut session = sessions.load(None).await?;
/// session.set("count", 1)?;
/// let set_cookie = sessions.commit(&session).await?.into_header().unwrap();
/// assert!(set_cookie.starts_with("sid=eyJ")); // base64 of the JSON payload
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CookieStorage {
    encrypted: bool,
}

impl CookieStorage {
    /// Makes a cookie storage that signs the cookie in Remix's format.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::CookieStorage::new();
    /// assert_eq!(format!("{storage:?}"), "CookieStorage { encrypted: false }");
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a cookie storage that encrypts the cookie: XChaCha20-Poly1305 under a key derived
    /// from each of the cookie's secrets (HKDF-SHA256, once, when the cookie is built), a
    /// random nonce per response, and the cookie's name bound into the associated data. The
    /// first secret encrypts, every secret decrypts, and a session read with an older secret
    /// is encrypted again under the first on its next response. A value that does not decrypt
    /// (tampered, truncated, another cookie's, an unknown key's) gives a fresh session. The
    /// browser's 4096-byte limit applies to the encrypted, encoded cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{CookieStorage, Expiry, SessionCookie, SessionManager};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, CookieStorage::encrypted());
    /// let mut session = sessions.load(None).await?;
    /// session.set("user", "ada")?;
    /// let set_cookie = sessions.commit(&session).await?.into_header().unwrap();
    /// assert!(!set_cookie.contains("eyJ"), "no readable JSON");
    /// let header = set_cookie.split(';').next().unwrap();
    /// let again = sessions.load(Some(header)).await?;
    /// assert_eq!(again.get::<String>("user")?.as_deref(), Some("ada"));
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[cfg(feature = "encrypted")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
    #[must_use]
    pub fn encrypted() -> Self {
        Self { encrypted: true }
    }

    /// Whether the cookie is encrypted ([`encrypted`](Self::encrypted)) rather than signed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::CookieStorage::new().is_encrypted());
    /// ```
    #[must_use]
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }
}

/// A verified payload as a session, ready to serve.
pub(crate) struct Decoded {
    pub(crate) session: Session,
    pub(crate) timestamps: Timestamps,
    /// The payload had no timestamps and was accepted under a timeout: this response must
    /// stamp it.
    pub(crate) unstamped: bool,
}

/// Reads a verified payload the way Remix does, then checks its timestamps; `None` for a
/// payload that must not be served (malformed, expired, or unstamped while a timeout is set
/// and unstamped payloads are not accepted). Without timeouts, a payload without `"t"` counts
/// as written `now`, as in Remix.
pub(crate) fn decode_payload(payload: &str, expiry: Expiry, now: u64) -> Option<Decoded> {
    if json::nests_too_deeply(payload.as_bytes()) {
        crate::audit::rejected("malformed-payload");
        return None;
    }
    // Keys and values are read as slices of one shared copy of the payload.
    let shared: Arc<str> = Arc::from(payload);
    text::within(&shared, || read_payload(&shared, expiry, now))
}

fn read_payload(payload: &str, policy: Expiry, now: u64) -> Option<Decoded> {
    let repaired;
    let top = if let Ok(top) = serde_json::from_str::<Top<'_>>(payload) {
        top
    } else {
        // A key or the id with a lone surrogate: read them with U+FFFD in its place.
        repaired = json::replace_lone_surrogates(payload);
        let Some(top) = repaired
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
        else {
            // Not JSON, or JSON that is not an object: Remix falls back to a fresh session.
            crate::audit::rejected("malformed-payload");
            return None;
        };
        top
    };
    let lifetime = match top.l.map(|raw| serde_json::from_str::<u64>(raw.get())) {
        None => Lifetime::Policy,
        Some(Ok(code)) => Lifetime::from_code(Some(code)),
        Some(Err(_)) => {
            crate::audit::rejected("malformed-payload");
            return None;
        }
    };
    let expiry = policy.for_lifetime(lifetime);
    let (timestamps, unstamped) = match top.t {
        None if !expiry.is_enforced() => (Timestamps::at(now), false),
        None if expiry.accepts_unstamped_cookies() => (Timestamps::at(now), true),
        None => {
            crate::audit::rejected("unstamped-payload");
            return None;
        }
        Some(raw) => {
            let Ok((created, renewed)) = serde_json::from_str::<(u64, u64)>(raw.get()) else {
                crate::audit::rejected("malformed-timestamps");
                return None;
            };
            (Timestamps { created, renewed }, false)
        }
    };
    if let Err(reason) = expiry.check(timestamps, now) {
        crate::audit::expired(reason);
        return None;
    }
    let id = match top.i.map(|raw| id_text(raw.get())) {
        Some(Some(id)) => SessionId::from_signed_payload(&id),
        _ => SessionId::generate(),
    };
    let Halves(values, flash) = top.d.unwrap_or_default();
    let mut session = Session::from_parts(id, values, flash);
    session.restore_lifetime(lifetime);
    // An owner or label that does not read back is dropped, not the session.
    let text =
        |raw: Option<&RawValue>| raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
    session.restore_owner(
        text(top.o).and_then(crate::owner::Owner::stored),
        text(top.n).and_then(crate::owner::Label::stored),
    );
    Some(Decoded {
        session,
        timestamps,
        unstamped,
    })
}

/// The id string of the payload, borrowed from it unless it holds an escape.
fn id_text(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw) {
        Ok(id) => Some(id.into()),
        Err(_) => serde_json::from_str::<String>(raw).ok().map(Into::into),
    }
}

/// A key of the payload or of its `"d"` object, matched where the parser holds it (no copy).
enum Field {
    I,
    D,
    T,
    L,
    O,
    N,
    Zero,
    One,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;

        impl Visitor<'_> for Name {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(match key {
                    "i" => Field::I,
                    "d" => Field::D,
                    "t" => Field::T,
                    "l" => Field::L,
                    "o" => Field::O,
                    "n" => Field::N,
                    "0" => Field::Zero,
                    "1" => Field::One,
                    _ => Field::Other,
                })
            }
        }

        deserializer.deserialize_identifier(Name)
    }
}

/// The payload's keys this crate reads, `"d"` read in the same pass; other keys are skipped,
/// and a repeated key counts by its last value, as in `JSON.parse`.
struct Top<'a> {
    i: Option<&'a RawValue>,
    d: Option<Halves>,
    t: Option<&'a RawValue>,
    /// The session's lifetime (this crate's key; Remix ignores it).
    l: Option<&'a RawValue>,
    /// The session's owner and label (this crate's keys; Remix ignores them).
    o: Option<&'a RawValue>,
    n: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;

        impl<'de> Visitor<'de> for Keys {
            type Value = Top<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session payload object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Top<'de>, A::Error> {
                let mut top = Top {
                    i: None,
                    d: None,
                    t: None,
                    l: None,
                    o: None,
                    n: None,
                };
                while let Some(key) = access.next_key::<Field>()? {
                    match key {
                        Field::I => top.i = Some(access.next_value()?),
                        Field::D => top.d = Some(access.next_value()?),
                        Field::T => top.t = Some(access.next_value()?),
                        Field::L => top.l = Some(access.next_value()?),
                        Field::O => top.o = Some(access.next_value()?),
                        Field::N => top.n = Some(access.next_value()?),
                        _ => {
                            access.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(top)
            }
        }

        deserializer.deserialize_map(Keys)
    }
}

/// The visitor methods of the JSON scalars that give an empty result (Remix's
/// `Object.entries` of a number, a boolean or `null`).
macro_rules! scalars_are_empty {
    ($result:ident) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$result, E> {
            Ok($result::default())
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<$result, E> {
            Ok($result::default())
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<$result, E> {
            Ok($result::default())
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<$result, E> {
            Ok($result::default())
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<$result, E> {
            Ok($result::default())
        }
    };
}

/// `d` as Remix reads it: `d[0]` the values and `d[1]` the flash, whatever `d` is (an
/// array's elements, an object's `"0"` and `"1"`, a string's characters, else nothing).
#[derive(Default)]
struct Halves(Map, Map);

impl<'de> Deserialize<'de> for Halves {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Data;

        impl<'de> Visitor<'de> for Data {
            type Value = Halves;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Halves, A::Error> {
                let values = items.next_element::<Half>()?.unwrap_or_default();
                let flash = items.next_element::<Half>()?.unwrap_or_default();
                while items.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Halves(values.0, flash.0))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Halves, A::Error> {
                let mut halves = Halves::default();
                while let Some(key) = access.next_key::<Field>()? {
                    match key {
                        Field::Zero => halves.0 = access.next_value::<Half>()?.0,
                        Field::One => halves.1 = access.next_value::<Half>()?.0,
                        _ => {
                            access.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(halves)
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Halves, E> {
                let mut chars = text.chars();
                let mut half = || chars.next().map_or_else(Map::new, char_entries);
                Ok(Halves(half(), half()))
            }

            scalars_are_empty!(Halves);
        }

        deserializer.deserialize_any(Data)
    }
}

/// One half: `Object.entries` of it (an object's pairs, an array's or a string's items under
/// their indices, nothing for anything else), each value's text kept as it is.
#[derive(Default)]
struct Half(Map);

impl<'de> Deserialize<'de> for Half {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Half;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Half, A::Error> {
                let Borrowed(map) =
                    Borrowed::deserialize(serde::de::value::MapAccessDeserializer::new(access))?;
                Ok(Half(map))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Half, A::Error> {
                let mut map = Map::new();
                let mut index = 0usize;
                while let Some(item) = items.next_element::<&'de RawValue>()? {
                    map.insert(index.to_string(), Json::from_raw(item));
                    index += 1;
                }
                Ok(Half(map))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Half, E> {
                Ok(Half(
                    text.chars()
                        .enumerate()
                        .map(|(index, c)| (index.to_string(), char_json(c)))
                        .collect(),
                ))
            }

            scalars_are_empty!(Half);
        }

        deserializer.deserialize_any(Entries)
    }
}

/// The entries of a one-character string: `{"0": c}`.
fn char_entries(c: char) -> Map {
    std::iter::once(("0".to_owned(), char_json(c))).collect()
}

fn char_json(c: char) -> Json {
    // A string always serializes.
    Json::encode(c.encode_utf8(&mut [0; 4])).unwrap_or_else(|_| Json::null())
}

/// The payload `{"i":id,"d":[values,flash]}` (plus `"t"` when stamped, `"l"` for a chosen
/// lifetime, `"o"` and `"n"` for an owner and a label), written as Remix's
/// `JSON.stringify` writes it: integer-like keys first, each value's text as it is.
pub(crate) fn encode_payload(session: &Session, stamp: Option<Timestamps>) -> String {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"i":"#);
    json::write_str(&mut out, session.id().as_str());
    out.extend_from_slice(br#","d":["#);
    json::write_object(&mut out, session.values(), true);
    out.push(b',');
    json::write_object(&mut out, session.outgoing_flash(), true);
    out.push(b']');
    if let Some(ts) = stamp {
        // Writing into a Vec cannot fail.
        let _ = write!(out, r#","t":[{},{}]"#, ts.created, ts.renewed);
    }
    if let Some(code) = session.lifetime().code() {
        let _ = write!(out, r#","l":{code}"#);
    }
    if let Some(owner) = session.owner() {
        out.extend_from_slice(br#","o":"#);
        json::write_str(&mut out, owner.as_str());
    }
    if let Some(label) = session.label() {
        out.extend_from_slice(br#","n":"#);
        json::write_str(&mut out, label.as_str());
    }
    out.push(b'}');
    // Every part is UTF-8: JSON text and serde_json's strings.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(payload: &str) -> Session {
        decode_payload(payload, Expiry::none(), 0)
            .map_or_else(Session::new, |decoded| decoded.session)
    }

    #[test]
    fn remix_payload_edge_cases() {
        // Spec §3.1 table.
        assert!(read("not json").is_empty());
        assert!(read("null").is_empty());
        assert!(read("123").is_empty());
        let no_id = read(r#"{"d":[{"a":1},{}]}"#);
        assert_eq!(no_id.get::<i32>("a").unwrap(), Some(1));
        assert_eq!(no_id.id().as_str().len(), 32);
        let string_data = read(r#"{"i":"x","d":"ab"}"#);
        assert_eq!(
            string_data.get::<String>("0").unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(string_data.incoming_flash().len(), 1);
        assert!(string_data.is_dirty());
        let object_data = read(r#"{"i":"x","d":{"0":{"k":1}}}"#);
        assert_eq!(object_data.get::<i32>("k").unwrap(), Some(1));
        let nulls = read(r#"{"i":"x","d":[{"a":null},{"f":null}]}"#);
        assert_eq!(nulls.get::<i32>("a").unwrap(), None);
        assert!(nulls.contains_key("a"));
        assert_eq!(nulls.len(), 2);
        assert!(nulls.is_dirty());
        let extra = read(r#"{"i":"x","d":[{},{}],"extra":true}"#);
        assert_eq!(extra.id().as_str(), "x");
    }

    #[test]
    fn malformed_timestamps_give_a_fresh_session() {
        for t in [
            r#""x""#,
            "[1]",
            "[1,2,3]",
            "[-1,0]",
            "[1.5,2]",
            "[1e400,1]",
            "null",
        ] {
            let session = read(&format!(r#"{{"i":"x","d":[{{"a":1}},{{}}],"t":{t}}}"#));
            assert!(session.is_empty(), "t = {t}");
            assert_ne!(session.id().as_str(), "x");
        }
    }
}
