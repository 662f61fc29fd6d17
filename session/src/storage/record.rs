//! [`Record`]: what a server-side storage keeps for one session (values, pending flash,
//! timestamps, deadline), its versioned JSON form, and the merge that applies one request's
//! changes onto it ([`Record::apply`], or [`Delta`] when the changes must travel without the
//! session).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dynamic::{Map, Session};
use crate::expiry::{Timestamps, Timing};
use crate::id::SessionId;

/// The version written into every record; a record of another version is treated as corrupt.
const FORMAT_VERSION: u32 = 1;

/// One stored session: its values, the flash waiting for the next request, its timestamps, and
/// the Unix second after which it is dead under the policy it was written with.
///
/// Its JSON form is `{"v":1,"d":[values,flash],"t":[created,renewed],"e":deadline}`; `d` is the
/// `[values, flash]` pair Remix's id storages keep, and `e` is absent when nothing expires.
///
/// # Examples
///
/// ```
/// use session::{Expiry, Record, Session, Timing};
///
/// let mut session = Session::new();
/// session.set("count", 1)?;
/// let record = Record::from_session(&session, Timing::new(Expiry::none(), 100));
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
    /// `None`: the record never expires.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    deadline: Option<u64>,
}

impl Record {
    /// An empty record created at `created`, for a session the store does not hold yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let record = session::Record::empty(5);
    /// assert!(record.values().is_empty());
    /// assert_eq!(record.timestamps().created, 5);
    /// ```
    #[must_use]
    pub fn empty(created: u64) -> Self {
        Self {
            version: FORMAT_VERSION,
            data: (Map::new(), Map::new()),
            timestamps: Timestamps::at(created),
            deadline: None,
        }
    }

    /// The record a session would leave if nothing else were stored: its values, the flash it
    /// set for the next request, its creation time, and the request's time as the last write.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Expiry, Record, Session, Timing};
    ///
    /// let mut session = Session::new();
    /// session.flash("notice", "hi")?;
    /// let record = Record::from_session(&session, Timing::new(Expiry::none(), 9));
    /// assert_eq!(record.flash().len(), 1);
    /// assert_eq!(record.timestamps().renewed, 9);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn from_session(session: &Session, timing: Timing) -> Self {
        let mut record = Self {
            version: FORMAT_VERSION,
            data: (session.values().clone(), session.outgoing_flash().clone()),
            timestamps: session.timestamps(),
            deadline: None,
        };
        record.renew(timing);
        record
    }

    /// Applies one request's changes onto this record: each value the request set or removed,
    /// the flash it consumed (removed only if still unchanged, so a newer flash survives), and
    /// the flash it set. Everything else, written by concurrent requests, stays.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Expiry, Record, Session, Timing};
    ///
    /// let timing = Timing::new(Expiry::none(), 0);
    /// let mut a = Session::new();
    /// a.set("a", 1)?;
    /// let mut record = Record::from_session(&a, timing);
    /// let mut b = Session::new(); // a concurrent request that saw nothing of `a`
    /// b.set("b", 2)?;
    /// record.apply(&b, timing);
    /// assert_eq!(record.values().len(), 2);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn apply(&mut self, session: &Session, timing: Timing) {
        self.merge(
            session.changes(),
            session.incoming_flash(),
            session.outgoing_flash(),
        );
        self.renew(timing);
    }

    /// Applies changes that travelled without their session, as [`apply`](Self::apply) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Delta, Expiry, Record, Session, Timing};
    ///
    /// let timing = Timing::new(Expiry::none(), 0);
    /// let mut session = Session::new();
    /// session.set("a", 1)?;
    /// let delta = Delta::of(&session);
    /// let mut record = Record::empty(0);
    /// record.apply_delta(&delta, timing);
    /// assert_eq!(record.values().get("a"), Some(&serde_json::json!(1)));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn apply_delta(&mut self, delta: &Delta, timing: Timing) {
        self.merge(
            delta
                .changes
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_ref())),
            &delta.consumed_flash,
            &delta.flash,
        );
        self.renew(timing);
    }

    fn merge<'a>(
        &mut self,
        changes: impl Iterator<Item = (&'a str, Option<&'a Value>)>,
        consumed_flash: &Map,
        new_flash: &Map,
    ) {
        let (values, flash) = &mut self.data;
        for (key, change) in changes {
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
        for (key, consumed) in consumed_flash {
            if flash.get(key) == Some(consumed) {
                flash.shift_remove(key);
            }
        }
        for (key, value) in new_flash {
            flash.insert(key.clone(), value.clone());
        }
    }

    /// Stamps the write: `renewed` is now, and the deadline follows the policy.
    fn renew(&mut self, timing: Timing) {
        self.timestamps.renewed = timing.now();
        self.deadline = timing.expiry().deadline(self.timestamps);
    }

    /// Turns the record into the session a request sees under `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Expiry, Record, Session, SessionId, Timing};
    ///
    /// let mut before = Session::new();
    /// before.flash("notice", "saved")?;
    /// let record = Record::from_session(&before, Timing::new(Expiry::none(), 0));
    /// let after = record.into_session(SessionId::generate());
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
    /// assert!(session::Record::empty(0).values().is_empty());
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
    /// assert!(session::Record::empty(0).flash().is_empty());
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
    /// assert_eq!(session::Record::empty(4).timestamps().renewed, 4);
    /// ```
    #[must_use]
    pub fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    /// Returns the Unix second after which the record is dead, under the policy it was last
    /// written with; `None` when it never expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{Expiry, Record, Session, Timing};
    ///
    /// let expiry = Expiry::none().with_idle_timeout(Duration::from_secs(60))?;
    /// let record = Record::from_session(&Session::new(), Timing::new(expiry, 100));
    /// assert_eq!(record.deadline(), Some(160));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Serializes the record a session would leave if nothing else were stored, without
    /// copying it first: the same bytes as `Record::from_session(session, timing).to_json()`.
    ///
    /// # Panics
    ///
    /// Never: a session holds only JSON values, which always serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{Expiry, Record, Session, Timing};
    ///
    /// let timing = Timing::new(Expiry::default(), 7);
    /// let mut session = Session::new();
    /// session.set("a", 1)?;
    /// assert_eq!(
    ///     Record::session_json(&session, timing),
    ///     Record::from_session(&session, timing).to_json()
    /// );
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn session_json(session: &Session, timing: Timing) -> Vec<u8> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            v: u32,
            d: (&'a Map, &'a Map),
            t: (u64, u64),
            #[serde(skip_serializing_if = "Option::is_none")]
            e: Option<u64>,
        }
        let timestamps = Timestamps {
            created: session.timestamps().created,
            renewed: timing.now(),
        };
        let borrowed = Borrowed {
            v: FORMAT_VERSION,
            d: (session.values(), session.outgoing_flash()),
            t: (timestamps.created, timestamps.renewed),
            e: timing.expiry().deadline(timestamps),
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
    /// let record = session::Record::empty(4);
    /// assert_eq!(record.to_json(), br#"{"v":1,"d":[{},{}],"t":[4,4]}"#);
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

/// One request's changes, owned, so that they can travel without the session: to a blocking
/// thread, or to a server that merges them.
///
/// # Examples
///
/// ```
/// let mut session = session::Session::new();
/// session.set("a", 1)?;
/// session.flash("notice", "hi")?;
/// let delta = session::Delta::of(&session);
/// assert_eq!(delta.changes().len(), 1);
/// assert_eq!(delta.flash().len(), 1);
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Each key set (`Some`) or removed (`None`).
    changes: Vec<(String, Option<Value>)>,
    /// The flash that arrived with the request, to be removed where unchanged.
    consumed_flash: Map,
    /// The flash set for the next request.
    flash: Map,
}

impl Delta {
    /// Copies a session's changes.
    ///
    /// # Examples
    ///
    /// ```
    /// let delta = session::Delta::of(&session::Session::new());
    /// assert!(delta.changes().is_empty());
    /// ```
    #[must_use]
    pub fn of(session: &Session) -> Self {
        Self {
            changes: session
                .changes()
                .map(|(key, value)| (key.to_owned(), value.cloned()))
                .collect(),
            consumed_flash: session.incoming_flash().clone(),
            flash: session.outgoing_flash().clone(),
        }
    }

    /// Returns each key set (`Some`) or removed (`None`).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut session = session::Session::new();
    /// session.remove("gone")?;
    /// assert_eq!(session::Delta::of(&session).changes(), [("gone".to_owned(), None)]);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn changes(&self) -> &[(String, Option<Value>)] {
        &self.changes
    }

    /// Returns the flash set for the next request.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Delta::of(&session::Session::new()).flash().is_empty());
    /// ```
    #[must_use]
    pub fn flash(&self) -> &Map {
        &self.flash
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
