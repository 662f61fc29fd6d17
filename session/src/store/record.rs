//! [`Record`]: what a store keeps for one session (values, pending flash, timestamps, deadline),
//! and its one JSON form, `{"v":1,"d":[values,flash],"t":[created,renewed],"e":deadline}`,
//! read by `Wire` and written by `to_json` for every path, each value's text kept as it is.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::{Borrowed, Map, text};
use crate::expiry::{Lifetime, Timestamps};
use crate::owner::{Label, Owner};
use crate::store::WritePlan;

/// The version written in `"v"`; a record of any other version is refused.
const FORMAT_VERSION: u32 = 1;

/// The record as it is read: each value's text borrowed from the input until it is copied
/// into the record's maps.
#[derive(Deserialize)]
struct Wire {
    v: u32,
    d: (Borrowed, Borrowed),
    t: (u64, u64),
    #[serde(default)]
    e: Option<u64>,
    /// The session's lifetime (see [`Lifetime`]); absent: the policy's.
    #[serde(default)]
    l: Option<u64>,
    /// The session's owner (see [`Owner`]); absent: none.
    #[serde(default)]
    o: Option<String>,
    /// The session's label (see [`Label`]); absent: none.
    #[serde(default)]
    n: Option<String>,
}

/// The parts of a record besides its values and flash, as [`to_json`] writes them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub(crate) timestamps: Timestamps,
    pub(crate) lifetime: Lifetime,
    pub(crate) deadline: Option<u64>,
    pub(crate) owner: Option<&'a Owner>,
    pub(crate) label: Option<&'a Label>,
}

/// The record's JSON, written straight from its parts: each value's text is copied as it is.
pub(crate) fn to_json(values: &Map, flash: &Map, stamp: Stamp<'_>) -> Vec<u8> {
    use std::io::Write as _;
    let Stamp {
        timestamps: ts,
        lifetime,
        deadline,
        owner,
        label,
    } = stamp;
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = write!(out, r#"{{"v":{FORMAT_VERSION},"d":["#);
    crate::json::write_object(&mut out, values, false);
    out.push(b',');
    crate::json::write_object(&mut out, flash, false);
    let _ = write!(out, r#"],"t":[{},{}]"#, ts.created, ts.renewed);
    if let Some(deadline) = deadline {
        let _ = write!(out, r#","e":{deadline}"#);
    }
    if let Some(code) = lifetime.code() {
        let _ = write!(out, r#","l":{code}"#);
    }
    if let Some(owner) = owner {
        out.extend_from_slice(br#","o":"#);
        crate::json::write_str(&mut out, owner.as_str());
    }
    if let Some(label) = label {
        out.extend_from_slice(br#","n":"#);
        crate::json::write_str(&mut out, label.as_str());
    }
    out.push(b'}');
    out
}

/// One stored session: its values, the flash waiting for the next request, its timestamps, and
/// the Unix second after which it is dead under the policy it was written with.
///
/// Stores that keep whole records use [`to_json`](Self::to_json) and
/// [`from_json`](Self::from_json); stores that keep fields apart (Redis keeps a hash) build a
/// record with [`new`](Self::new). [`apply`](Self::apply) is the merge every store uses.
///
/// # Examples
///
/// ```
/// use session::Map;
/// use session::expiry::Timestamps;
/// use session::store::Record;
///
/// let mut values = Map::new();
/// values.insert("count".into(), session::Json::encode(&1)?);
/// let record = Record::new(values, Map::new(), Timestamps::at(100)).with_deadline(Some(160));
/// assert_eq!(record.to_json(), br#"{"v":1,"d":[{"count":1},{}],"t":[100,100],"e":160}"#);
/// assert_eq!(Record::from_json(&record.to_json())?, record);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    values: Map,
    flash: Map,
    timestamps: Timestamps,
    /// How long the browser keeps the session's cookie; it also sets the idle timeout of a
    /// persistent session.
    lifetime: Lifetime,
    /// `None`: the record never expires.
    deadline: Option<u64>,
    /// Whom the session belongs to, if a login said so.
    owner: Option<Owner>,
    /// The label its owner sees.
    label: Option<Label>,
}

impl Record {
    /// A record of these values and flash, with no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(5));
    /// assert!(record.values().is_empty());
    /// assert_eq!(record.deadline(), None);
    /// ```
    #[must_use]
    pub fn new(values: Map, flash: Map, timestamps: Timestamps) -> Self {
        Self {
            values,
            flash,
            timestamps,
            lifetime: Lifetime::Policy,
            deadline: None,
            owner: None,
            label: None,
        }
    }

    /// Sets the session's lifetime.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::{Lifetime, Timestamps};
    /// use session::store::Record;
    ///
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(0))
    ///     .with_lifetime(Lifetime::BrowserSession);
    /// assert_eq!(record.lifetime(), Lifetime::BrowserSession);
    /// assert_eq!(record.to_json(), br#"{"v":1,"d":[{},{}],"t":[0,0],"l":0}"#);
    /// ```
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = lifetime.normalized();
        self
    }

    /// Returns the session's lifetime ([`Lifetime::Policy`] unless one was chosen).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::{Lifetime, Timestamps};
    /// use session::store::Record;
    ///
    /// assert_eq!(Record::new(Map::new(), Map::new(), Timestamps::at(0)).lifetime(), Lifetime::Policy);
    /// ```
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// Sets the Unix second after which the record is dead (`None`: never).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(0)).with_deadline(Some(9));
    /// assert_eq!(record.deadline(), Some(9));
    /// ```
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<u64>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets whom the session belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::owner::Owner;
    /// use session::store::Record;
    ///
    /// let owner = Owner::new("user-42")?;
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(0)).with_owner(Some(owner));
    /// assert_eq!(record.to_json(), br#"{"v":1,"d":[{},{}],"t":[0,0],"o":"user-42"}"#);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// Returns whom the session belongs to, if anyone.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// assert_eq!(Record::new(Map::new(), Map::new(), Timestamps::at(0)).owner(), None);
    /// ```
    #[must_use]
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// Sets the label the owner sees.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::owner::Label;
    /// use session::store::Record;
    ///
    /// let label = Label::new("Phone")?;
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(0)).with_label(Some(label));
    /// assert_eq!(record.label().map(Label::as_str), Some("Phone"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn with_label(mut self, label: Option<Label>) -> Self {
        self.label = label;
        self
    }

    /// Returns the label the owner sees, if one was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// assert_eq!(Record::new(Map::new(), Map::new(), Timestamps::at(0)).label(), None);
    /// ```
    #[must_use]
    pub fn label(&self) -> Option<&Label> {
        self.label.as_ref()
    }

    /// Applies one request's write onto this record: each value the request set or removed,
    /// the flash it consumed (removed only if still unchanged, so a newer flash survives), and
    /// the flash it set, the lifetime if it chose one; then the plan's timestamps, and the
    /// deadline of the lifetime the record ends with. Everything else, written by concurrent
    /// requests, stays. The creation time of a record that exists is kept.
    ///
    /// # Examples
    ///
    /// A store applies the plans the manager hands it; the
    /// [conformance kit](crate::testing) shows them at work on a `BTreeMap`.
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(0));
    /// assert!(record.flash().is_empty());
    /// ```
    pub fn apply(&mut self, plan: &WritePlan<'_>) {
        for (key, change) in plan.changes() {
            match change {
                Some(value) => {
                    self.values.set(key, value.clone());
                }
                None => {
                    self.values.remove(key);
                }
            }
        }
        for (key, consumed) in plan.consumed_flash() {
            if self.flash.get(key) == Some(consumed) {
                self.flash.remove(key);
            }
        }
        for (key, value) in plan.new_flash() {
            self.flash.set(key, value.clone());
        }
        if let Some(lifetime) = plan.lifetime_change() {
            self.lifetime = lifetime;
        }
        if plan.owner_change().is_change() {
            self.owner = plan.owner_change().applied_to(None).cloned();
        }
        if plan.label_change().is_change() {
            self.label = plan.label_change().applied_to(None).cloned();
        }
        self.timestamps.renewed = plan.timestamps().renewed;
        self.deadline = plan.deadline_for(self.lifetime);
    }

    /// Returns the stored values.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// assert!(Record::new(Map::new(), Map::new(), Timestamps::at(0)).values().is_empty());
    /// ```
    #[must_use]
    pub fn values(&self) -> &Map {
        &self.values
    }

    /// Returns the flash waiting for the next request.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let mut flash = Map::new();
    /// flash.insert("notice".into(), session::Json::encode("saved")?);
    /// assert_eq!(Record::new(Map::new(), flash, Timestamps::at(0)).flash().len(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn flash(&self) -> &Map {
        &self.flash
    }

    /// Returns when the session was created and last written.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let ts = Timestamps { created: 4, renewed: 9 };
    /// assert_eq!(Record::new(Map::new(), Map::new(), ts).timestamps(), ts);
    /// ```
    #[must_use]
    pub fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    /// Returns the Unix second after which the record is dead, under the policy it was last
    /// written with; `None` when it never expires. Stores sweep by it.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// assert_eq!(Record::new(Map::new(), Map::new(), Timestamps::at(0)).deadline(), None);
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Splits the record into its values and flash.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let (values, flash) = Record::new(Map::new(), Map::new(), Timestamps::at(0)).into_parts();
    /// assert!(values.is_empty() && flash.is_empty());
    /// ```
    #[must_use]
    pub fn into_parts(self) -> (Map, Map) {
        (self.values, self.flash)
    }

    /// Serializes the record.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::Map;
    /// use session::expiry::Timestamps;
    /// use session::store::Record;
    ///
    /// let record = Record::new(Map::new(), Map::new(), Timestamps::at(4));
    /// assert_eq!(record.to_json(), br#"{"v":1,"d":[{},{}],"t":[4,4]}"#);
    /// ```
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        to_json(&self.values, &self.flash, self.stamp())
    }

    /// The parts besides values and flash.
    pub(crate) fn stamp(&self) -> Stamp<'_> {
        Stamp {
            timestamps: self.timestamps,
            lifetime: self.lifetime,
            deadline: self.deadline,
            owner: self.owner.as_ref(),
            label: self.label.as_ref(),
        }
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
    /// assert!(session::store::Record::from_json(b"[{},{}]").is_err());
    /// assert!(session::store::Record::from_json(br#"{"v":2,"d":[{},{}],"t":[0,0]}"#).is_err());
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        if crate::json::nests_too_deeply(bytes) {
            return Err(serde::de::Error::custom("session record nests too deeply"));
        }
        // Keys and values are read as slices of one shared copy of the text (JSON is UTF-8,
        // so text that is not could never parse).
        let text: Arc<str> = std::str::from_utf8(bytes)
            .map_err(serde::de::Error::custom)?
            .into();
        let wire: Wire = text::within(&text, || serde_json::from_str(&text))?;
        if wire.v != FORMAT_VERSION {
            return Err(serde::de::Error::custom(format_args!(
                "unknown session record version {}",
                wire.v
            )));
        }
        let (Borrowed(values), Borrowed(flash)) = wire.d;
        Ok(Self {
            values,
            flash,
            timestamps: Timestamps {
                created: wire.t.0,
                renewed: wire.t.1,
            },
            lifetime: Lifetime::from_code(wire.l),
            deadline: wire.e,
            owner: wire.o.and_then(Owner::stored),
            label: wire.n.and_then(Label::stored),
        })
    }
}

/// Parses a JSON object (a record's values or flash, kept apart by a store) into a [`Map`],
/// each key and value a slice of one shared copy of the text.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn parse_object(text: String) -> Result<Map, serde_json::Error> {
    if crate::json::nests_too_deeply(text.as_bytes()) {
        return Err(serde::de::Error::custom("session data nests too deeply"));
    }
    let text: Arc<str> = text.into();
    let Borrowed(map) = text::within(&text, || serde_json::from_str(&text))?;
    Ok(map)
}

/// The JSON form of a forward, `{"v":1,"to":"<id>","e":until}`, and of the marker a session
/// that started over leaves, `{"v":1,"to":null,"e":until}`.
#[derive(Serialize, Deserialize)]
struct ForwardWire<S> {
    v: u32,
    to: Option<S>,
    e: u64,
}

/// What a store that keeps whole entries as JSON holds under an id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Record(Record),
    /// A regenerated session's old id, followed until the Unix second `until`.
    Forward {
        to: crate::id::SessionId,
        until: u64,
    },
    /// The old id of a session that started over, kept until the Unix second `until`.
    Superseded {
        until: u64,
    },
}

impl Entry {
    /// The Unix second after which the entry is dead; `None`: never.
    pub(crate) fn deadline(&self) -> Option<u64> {
        match self {
            Self::Record(record) => record.deadline(),
            Self::Forward { until, .. } | Self::Superseded { until } => Some(*until),
        }
    }
}

/// Serializes a forward to `to`, followed until `until`.
pub(crate) fn forward_json(to: &crate::id::SessionId, until: u64) -> Vec<u8> {
    serde_json::to_vec(&ForwardWire {
        v: FORMAT_VERSION,
        to: Some(to.as_str()),
        e: until,
    })
    .unwrap_or_default()
}

/// Serializes the marker of a session that started over, kept until `until`.
pub(crate) fn superseded_json(until: u64) -> Vec<u8> {
    serde_json::to_vec(&ForwardWire::<&str> {
        v: FORMAT_VERSION,
        to: None,
        e: until,
    })
    .unwrap_or_default()
}

/// Whether `bytes` are a JSON object whose `"v"` is a format version after this one: an
/// entry a newer release wrote, which this one must leave alone.
pub(crate) fn is_newer_format(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Versioned {
        v: u64,
    }
    serde_json::from_slice::<Versioned>(bytes)
        .is_ok_and(|entry| entry.v > u64::from(FORMAT_VERSION))
}

/// Parses a stored entry: a record or a forward, of this format version.
pub(crate) fn parse_entry(bytes: &[u8]) -> Result<Entry, serde_json::Error> {
    match Record::from_json(bytes) {
        Ok(record) => Ok(Entry::Record(record)),
        Err(error) => {
            let Ok(forward) = serde_json::from_slice::<ForwardWire<String>>(bytes) else {
                return Err(error);
            };
            if forward.v != FORMAT_VERSION {
                return Err(error);
            }
            let Some(to) = forward.to else {
                return Ok(Entry::Superseded { until: forward.e });
            };
            let to = to.parse().map_err(serde::de::Error::custom)?;
            Ok(Entry::Forward {
                to,
                until: forward.e,
            })
        }
    }
}
