//! [`Record`]: what a server-side storage keeps for one session (values, pending flash,
//! timestamps), its versioned JSON form, and the merge that applies one request's changes onto
//! it.

use serde::{Deserialize, Serialize};

use crate::expiry::Timestamps;
use crate::id::SessionId;
use crate::session::{Map, Session};

/// The version written into every record; a record of another version is treated as corrupt.
const FORMAT_VERSION: u32 = 1;

/// One stored session: its values, the flash waiting for the next request, and its timestamps.
///
/// Its JSON form is `{"v":1,"d":[values,flash],"t":[created,renewed]}`; `d` is the
/// `[values, flash]` pair Remix's id storages keep.
///
/// # Examples
///
/// ```
/// use session::{Record, Session, Timestamps};
///
/// let mut session = Session::new();
/// session.set("count", 1)?;
/// let record = Record::from_session(&session, 100);
/// let json = record.to_json();
/// assert_eq!(Record::from_json(&json).unwrap(), record);
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "v")]
    version: u32,
    #[serde(rename = "d")]
    data: (Map, Map),
    #[serde(rename = "t", with = "timestamps_pair")]
    timestamps: Timestamps,
}

impl Record {
    /// The record a session would leave if nothing else were stored: its values, the flash it
    /// set for the next request, its creation time and `now` as the last write.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.flash("notice", "hi")?;
    /// let record = session::Record::from_session(&session, 9);
    /// assert_eq!(record.flash().len(), 1);
    /// assert_eq!(record.timestamps().renewed, 9);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn from_session(session: &Session, now: u64) -> Self {
        Self {
            version: FORMAT_VERSION,
            data: (session.values().clone(), session.outgoing_flash().clone()),
            timestamps: Timestamps {
                created: session.timestamps().created,
                renewed: now,
            },
        }
    }

    /// Applies one request's changes onto this record: each value the request set or removed,
    /// the flash it consumed (removed only if still unchanged, so a newer flash survives), and
    /// the flash it set. Everything else, written by concurrent requests, stays.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Record, Session};
    ///
    /// let mut a = Session::new();
    /// a.set("a", 1)?;
    /// let mut record = Record::from_session(&a, 0);
    /// let mut b = Session::new(); // a concurrent request that saw nothing of `a`
    /// b.set("b", 2)?;
    /// record.apply(&b, 1);
    /// assert_eq!(record.values().len(), 2);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn apply(&mut self, session: &Session, now: u64) {
        let (values, flash) = &mut self.data;
        for (key, change) in session.changes() {
            match change {
                Some(value) => {
                    if let Some(slot) = values.get_mut(key) {
                        slot.clone_from(value);
                    } else {
                        values.insert(key.to_owned(), value.clone());
                    }
                }
                None => {
                    values.shift_remove(key);
                }
            }
        }
        for (key, consumed) in session.incoming_flash() {
            if flash.get(key) == Some(consumed) {
                flash.shift_remove(key);
            }
        }
        for (key, value) in session.outgoing_flash() {
            flash.insert(key.clone(), value.clone());
        }
        self.timestamps.renewed = now;
    }

    /// Turns the record into the session a request sees under `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Record, Session, SessionId};
    ///
    /// let mut before = Session::new();
    /// before.flash("notice", "saved")?;
    /// let after = Record::from_session(&before, 0).into_session(SessionId::generate());
    /// assert_eq!(after.get::<String>("notice")?.as_deref(), Some("saved"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn into_session(self, id: SessionId) -> Session {
        let (values, flash) = self.data;
        Session::from_parts(id, values, flash, self.timestamps)
    }

    /// Returns the stored values.
    ///
    /// # Examples
    ///
    /// ```
    /// let record = session::Record::from_session(&session::Session::new(), 0);
    /// assert!(record.values().is_empty());
    /// ```
    #[must_use]
    pub fn values(&self) -> &Map {
        &self.data.0
    }

    /// Returns the flash waiting for the next request.
    ///
    /// # Examples
    ///
    /// ```
    /// let record = session::Record::from_session(&session::Session::new(), 0);
    /// assert!(record.flash().is_empty());
    /// ```
    #[must_use]
    pub fn flash(&self) -> &Map {
        &self.data.1
    }

    /// Returns the record's timestamps.
    ///
    /// # Examples
    ///
    /// ```
    /// let record = session::Record::from_session(&session::Session::new(), 4);
    /// assert_eq!(record.timestamps().renewed, 4);
    /// ```
    #[must_use]
    pub fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    /// Serializes the record a session would leave if nothing else were stored, without
    /// copying it first: the same bytes as `Record::from_session(session, now).to_json()`.
    ///
    /// # Panics
    ///
    /// Never: a session holds only JSON values, which always serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Record, Session};
    ///
    /// let mut session = Session::new();
    /// session.set("a", 1)?;
    /// assert_eq!(Record::session_json(&session, 7), Record::from_session(&session, 7).to_json());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn session_json(session: &Session, now: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            v: u32,
            d: (&'a Map, &'a Map),
            t: (u64, u64),
        }
        let borrowed = Borrowed {
            v: FORMAT_VERSION,
            d: (session.values(), session.outgoing_flash()),
            t: (session.timestamps().created, now),
        };
        serde_json::to_vec(&borrowed).expect("a session of JSON values always serializes")
    }

    /// Serializes the record.
    ///
    /// # Panics
    ///
    /// Never: a record holds only JSON values, which always serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// let record = session::Record::from_session(&session::Session::new(), 4);
    /// assert!(record.to_json().starts_with(br#"{"v":1,"d":[{},{}],"t":["#));
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a record of JSON values always serializes")
    }

    /// Parses a stored record.
    ///
    /// # Errors
    ///
    /// The serde_json error for malformed JSON, a wrong shape, or another format version.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Record::from_json(b"[{},{}]").is_err());
    /// assert!(session::Record::from_json(br#"{"v":2,"d":[{},{}],"t":[0,0]}"#).is_err());
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let record: Self = serde_json::from_slice(bytes)?;
        if record.version != FORMAT_VERSION {
            return Err(serde::de::Error::custom(format_args!(
                "unknown session record version {}",
                record.version
            )));
        }
        Ok(record)
    }
}

/// `Timestamps` as the pair `[created, renewed]`.
mod timestamps_pair {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::expiry::Timestamps;

    pub(super) fn serialize<S: Serializer>(ts: &Timestamps, s: S) -> Result<S::Ok, S::Error> {
        (ts.created, ts.renewed).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamps, D::Error> {
        let (created, renewed) = <(u64, u64)>::deserialize(d)?;
        Ok(Timestamps { created, renewed })
    }
}
