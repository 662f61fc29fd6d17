//! [`CookieStorage`]: the whole session in the signed cookie, as the Remix payload
//! `{"i": id, "d": [values, flash]}`, plus a `"t": [created, renewed]` key when expiry is
//! enforced (Remix ignores keys it does not know): the payload's reader and writer.

use serde::Serialize;
use serde_json::Value;

use crate::data::{Map, Session};
use crate::expiry::{Expiry, Timestamps};
use crate::id::SessionId;
use crate::json::{self, JsObject};

/// Keeps the whole session in the cookie: no server state, nothing to clean up.
///
/// A Remix 3 app with the same secret reads the cookies this storage writes, and this storage
/// reads the cookies it writes: the payload is byte-identical to Remix's for the same session.
///
/// # Security
///
/// The payload is signed, not encrypted: the client can read it. Nothing is stored on the
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
    _private: (),
}

impl CookieStorage {
    /// Makes a cookie storage.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::CookieStorage::new();
    /// assert_eq!(format!("{storage:?}"), "CookieStorage { _private: () }");
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
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
    let Some(Value::Object(mut top)) = parse_payload(payload) else {
        // Not JSON, or JSON that is not an object: Remix falls back to a fresh session.
        crate::audit::rejected("malformed-payload");
        return None;
    };
    let (timestamps, unstamped) = match top.get("t") {
        None if !expiry.is_enforced() => (Timestamps::at(now), false),
        None if expiry.accepts_unstamped_cookies() => (Timestamps::at(now), true),
        None => {
            crate::audit::rejected("unstamped-payload");
            return None;
        }
        Some(value) => {
            let Some(ts) = read_timestamps(value) else {
                crate::audit::rejected("malformed-timestamps");
                return None;
            };
            (ts, false)
        }
    };
    if let Err(reason) = expiry.check(timestamps, now) {
        crate::audit::expired(reason);
        return None;
    }
    let id = match top.get("i") {
        Some(Value::String(id)) => SessionId::from_signed_payload(id),
        _ => SessionId::generate(),
    };
    let mut data = top.remove("d").unwrap_or(Value::Null);
    let values = entries(element(&mut data, 0));
    let flash = entries(element(&mut data, 1));
    Some(Decoded {
        session: Session::from_parts(id, values, flash),
        timestamps,
        unstamped,
    })
}

/// Writes the payload for a session, byte-identical to Remix's `JSON.stringify`; `stamp` is
/// `[created, renewed]` when expiry is enforced.
pub(crate) fn encode_payload(session: &Session, stamp: Option<Timestamps>) -> String {
    #[derive(Serialize)]
    struct Payload<'a> {
        i: &'a str,
        d: (JsObject<'a>, JsObject<'a>),
        #[serde(skip_serializing_if = "Option::is_none")]
        t: Option<(u64, u64)>,
    }
    let payload = Payload {
        i: session.id().as_str(),
        d: (
            JsObject(session.values()),
            JsObject(session.outgoing_flash()),
        ),
        t: stamp.map(|ts| (ts.created, ts.renewed)),
    };
    let mut out = Vec::with_capacity(128);
    // JSON values always serialize, and serde_json writes UTF-8.
    let _ = json::write(&mut out, &payload);
    String::from_utf8(out).unwrap_or_default()
}

/// The payload's JSON. A string holding a lone UTF-16 surrogate, which `JSON.stringify`
/// writes for a JavaScript string cut inside a pair, reads as U+FFFD there, so the session is
/// kept; the text is only rewritten when the first parse fails.
fn parse_payload(payload: &str) -> Option<Value> {
    serde_json::from_str(payload).ok().or_else(|| {
        let repaired = json::replace_lone_surrogates(payload)?;
        serde_json::from_str(&repaired).ok()
    })
}

/// `[created, renewed]` as two non-negative integers, else `None`.
fn read_timestamps(value: &Value) -> Option<Timestamps> {
    match value.as_array()?.as_slice() {
        [created, renewed] => Some(Timestamps {
            created: created.as_u64()?,
            renewed: renewed.as_u64()?,
        }),
        _ => None,
    }
}

/// JavaScript's `data[index]` on whatever `d` turned out to be.
fn element(data: &mut Value, index: usize) -> Value {
    match data {
        Value::Array(items) => items.get_mut(index).map(Value::take),
        Value::Object(map) => map.remove(&index.to_string()),
        Value::String(text) => text.chars().nth(index).map(|c| Value::String(c.into())),
        _ => None,
    }
    .unwrap_or(Value::Null)
}

/// JavaScript's `Object.entries` into a map: objects keep their entries, arrays and strings
/// give index keys, everything else is empty.
fn entries(value: Value) -> Map {
    match value {
        Value::Object(map) => map,
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect(),
        Value::String(text) => text
            .chars()
            .enumerate()
            .map(|(index, c)| (index.to_string(), Value::String(c.into())))
            .collect(),
        _ => Map::new(),
    }
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
