//! What the SQL stores share: the table's layout, checked identifiers, a row read back as what
//! it stores, the one rule of the general write (check the base, merge or replace, write the
//! target, retire the base) that [`PostgresStorage`](crate::storage::PostgresStorage) and
//! [`SqliteStorage`](crate::storage::SqliteStorage) run inside a transaction, time limits, and
//! the sweep of expired rows.
//!
//! # The table
//!
//! One row per id, with these columns:
//!
//! | column | holds |
//! | --- | --- |
//! | `id` | the session id (primary key) |
//! | `kind` | `0` a session, `1` a forward left by a regeneration, `2` the marker a session that started over leaves |
//! | `moved_to` | a forward's new id |
//! | `data`, `flash` | the values and the flash for the next request, JSON objects |
//! | `created`, `renewed` | Unix seconds: when the session was created and last written |
//! | `lifetime` | the session's [`Lifetime`]: `NULL` the policy's, `0` a browser session, else seconds |
//! | `expires_at` | Unix second after which the row is dead (`NULL`: never); indexed, for the sweep |
//! | `version` | changes on every write: a save that finds the version it loaded writes without merging |
//! | `owner`, `label` | whom the session belongs to and the label its owner sees (see [`owner`](crate::owner)); `owner` is indexed where set |

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::data::Map;
use crate::error::{ConfigError, Error, Result};
use crate::expiry::{Clock as _, Lifetime, SystemClock};
use crate::id::SessionId;
use crate::owner::{Label, Owner};
use crate::store::{
    Ending, Found, OwnedRecord, Record, Stored, Version, Write, WriteOutcome, WritePlan,
};

/// The `kind` of a session's row.
pub(super) const RECORD: i64 = 0;
/// The `kind` of a forward's row.
pub(super) const FORWARD: i64 = 1;
/// The `kind` of a started-over marker's row.
pub(super) const SUPERSEDED: i64 = 2;

/// How many expired rows one sweep statement deletes, so that a sweep never holds locks on a
/// large part of the table at once.
pub(super) const SWEEP_BATCH: i64 = 1_000;

/// The longest name accepted for a schema or table: PostgreSQL keeps 63 bytes of a name, and
/// the index is named `<table>_expires_at`.
const MAX_NAME: usize = 52;

/// Checks that `name` is a plain identifier and returns it double-quoted, ready for SQL.
pub(super) fn quoted(what: &'static str, name: &str) -> Result<String> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME {
        Some("it is longer than 52 bytes")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Some("only ASCII letters, digits and '_' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ConfigError::InvalidIdentifier {
            what,
            name: name.to_owned(),
            reason,
        }
        .into()),
        None => Ok(format!("\"{name}\"")),
    }
}

/// A row as read back, before it is checked.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) kind: i64,
    pub(super) moved_to: Option<String>,
    pub(super) data: String,
    pub(super) flash: String,
    pub(super) created: i64,
    pub(super) renewed: i64,
    pub(super) lifetime: Option<i64>,
    pub(super) expires_at: Option<i64>,
    pub(super) version: i64,
    pub(super) owner: Option<String>,
    pub(super) label: Option<String>,
}

/// What a row holds, checked.
enum Entry {
    Record(Record, Version),
    Forward(SessionId),
    Superseded,
    /// Written by something else, or damaged: a record all the same, which a write replaces.
    Corrupt,
}

impl Row {
    /// Whether the row still counts at `now`: memory storage's rule.
    fn is_live(&self, now: u64) -> bool {
        self.expires_at
            .is_none_or(|deadline| u64::try_from(deadline).is_ok_and(|deadline| deadline >= now))
    }

    fn into_entry(self) -> Entry {
        match self.kind {
            RECORD => self
                .into_record()
                .map_or(Entry::Corrupt, |(record, version)| {
                    Entry::Record(record, version)
                }),
            FORWARD => self
                .moved_to
                .and_then(|to| to.parse().ok())
                .map_or(Entry::Corrupt, Entry::Forward),
            SUPERSEDED => Entry::Superseded,
            _ => Entry::Corrupt,
        }
    }

    fn into_record(self) -> Option<(Record, Version)> {
        let parse = |text: String| crate::store::parse_object(text).ok();
        let (values, flash): (Map, Map) = (parse(self.data)?, parse(self.flash)?);
        let timestamps = crate::expiry::Timestamps {
            created: u64::try_from(self.created).ok()?,
            renewed: u64::try_from(self.renewed).ok()?,
        };
        let lifetime = match self.lifetime {
            None => None,
            Some(code) => Some(u64::try_from(code).ok()?),
        };
        let deadline = match self.expires_at {
            None => None,
            Some(deadline) => Some(u64::try_from(deadline).ok()?),
        };
        let record = Record::new(values, flash, timestamps)
            .with_lifetime(Lifetime::from_code(lifetime))
            .with_deadline(deadline)
            .with_owner(self.owner.and_then(Owner::stored))
            .with_label(self.label.and_then(Label::stored));
        Some((record, Version::new(self.version.cast_unsigned())))
    }

    /// What a load answers for this row: a damaged row is logged and served as nothing.
    pub(super) fn into_stored(self, database: &'static str) -> Option<Stored> {
        match self.into_entry() {
            Entry::Record(record, version) => Some(Stored::Record { record, version }),
            Entry::Forward(to) => Some(Stored::Forward { to }),
            Entry::Superseded => Some(Stored::Superseded),
            Entry::Corrupt => {
                tracing::warn!(database, "corrupt session row; serving a fresh session");
                None
            }
        }
    }
}

/// What the general write leaves: the record for the plan's target, and the owner of the live
/// record the base held (for [`WritePlan::index_change`]).
pub(super) struct Resolved {
    pub(super) record: Record,
    pub(super) before: Option<Owner>,
}

/// The record the general write leaves under the plan's target, given the base's row; or the
/// outcome that writes nothing. The same rule as every other store: [`WritePlan::check`], then
/// [`Record::apply`] onto a live record, else the request's whole state.
pub(super) fn resolve(plan: &WritePlan<'_>, base: Option<Row>) -> Result<Resolved, WriteOutcome> {
    let entry = base
        .filter(|row| row.is_live(plan.now()))
        .map(Row::into_entry);
    let before = match &entry {
        Some(Entry::Record(record, _)) => record.owner().cloned(),
        _ => None,
    };
    let found = match &entry {
        None => Found::Nothing,
        Some(Entry::Forward(to)) => Found::Forward(to),
        Some(Entry::Superseded) => Found::Superseded,
        Some(Entry::Record(_, version)) => Found::Record(*version),
        Some(Entry::Corrupt) => Found::Record(Version::UNVERSIONED),
    };
    let record = match (plan.check(found)?, entry) {
        (Write::Merge, Some(Entry::Record(mut record, _))) => {
            record.apply(plan);
            record
        }
        _ => plan.to_record(),
    };
    Ok(Resolved { record, before })
}

/// Whether a save must take the general write because it changes the owner or the label (a
/// login): the fast statements leave both columns as they are.
pub(super) fn changes_owner(plan: &WritePlan<'_>) -> bool {
    plan.owner_change().is_change() || plan.label_change().is_change()
}

/// What `end_owned` runs: the statement that deletes all of an owner's sessions but some ids
/// (`except`, with no ids: all of them) or only some (`only`), and those ids.
pub(super) fn ending<'a>(
    which: Ending<'a>,
    except: &'a std::sync::Arc<str>,
    only: &'a std::sync::Arc<str>,
) -> (&'a std::sync::Arc<str>, Vec<&'a str>) {
    match which {
        Ending::One(id) => (only, vec![id.as_str()]),
        Ending::AllExcept(kept) => (except, kept.iter().map(SessionId::as_str).collect()),
        _ => (except, Vec::new()),
    }
}

/// One row of an owner listing: `id, created, renewed, lifetime, label, expires_at`. A row
/// that does not read back is left out.
pub(super) fn listed(
    (id, created, renewed, lifetime, label, expires_at): (
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
    ),
) -> Option<OwnedRecord> {
    let timestamps = crate::expiry::Timestamps {
        created: u64::try_from(created).ok()?,
        renewed: u64::try_from(renewed).ok()?,
    };
    let lifetime = match lifetime {
        None => None,
        Some(code) => Some(u64::try_from(code).ok()?),
    };
    let deadline = match expires_at {
        None => None,
        Some(deadline) => Some(u64::try_from(deadline).ok()?),
    };
    let record = Record::new(Map::new(), Map::new(), timestamps)
        .with_lifetime(Lifetime::from_code(lifetime))
        .with_deadline(deadline)
        .with_label(label.and_then(Label::stored));
    Some(OwnedRecord::of(id.parse().ok()?, &record))
}

/// A record as the columns it is written in.
pub(super) struct Columns {
    pub(super) data: String,
    pub(super) flash: String,
    pub(super) created: i64,
    pub(super) renewed: i64,
    pub(super) lifetime: Option<i64>,
    pub(super) expires_at: Option<i64>,
    pub(super) owner: Option<String>,
    pub(super) label: Option<String>,
}

impl Columns {
    pub(super) fn of(record: &Record) -> Self {
        let timestamps = record.timestamps();
        Self {
            data: object(record.values()),
            flash: object(record.flash()),
            created: int(timestamps.created),
            renewed: int(timestamps.renewed),
            lifetime: lifetime_code(record.lifetime()),
            expires_at: record.deadline().map(int),
            owner: record.owner().map(|owner| owner.as_str().to_owned()),
            label: record.label().map(|label| label.as_str().to_owned()),
        }
    }
}

/// A map as JSON object text, each value's text as it is.
pub(super) fn object(map: &Map) -> String {
    let mut out = Vec::with_capacity(2 + 16 * map.len());
    crate::json::write_object(&mut out, map, false);
    // Keys are escaped by serde_json and values are JSON text: all UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| "{}".to_owned())
}

/// A Unix time or duration as a SQL `BIGINT` (`i64`), saturating.
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The longest lifetime written, in seconds (about 146 billion years), so that adding one to a
/// Unix time never overflows a `BIGINT` in SQL.
const MAX_LIFETIME: u64 = 1 << 62;

/// A lifetime's `lifetime` column.
pub(super) fn lifetime_code(lifetime: Lifetime) -> Option<i64> {
    lifetime.code().map(|code| int(code.min(MAX_LIFETIME)))
}

/// Draws versions: a random start, then one more per write, so that a row deleted and written
/// again (under an adopted id) never repeats a version an old request loaded.
#[derive(Debug)]
pub(super) struct Versions(AtomicU64);

impl Versions {
    pub(super) fn new() -> Self {
        let mut seed = [0_u8; 8];
        // Without the OS generator the sequence still changes on every write; only the
        // protection against a deleted and re-adopted id repeating a version weakens.
        let _ = getrandom::fill(&mut seed);
        Self(AtomicU64::new(u64::from_le_bytes(seed)))
    }

    /// The next version, a positive `BIGINT`.
    pub(super) fn next(&self) -> i64 {
        (self.0.fetch_add(1, Ordering::Relaxed) & i64::MAX.cast_unsigned()).cast_signed()
    }
}

/// The error a SQL store returns when its database does not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("{database} did not answer within {timeout:?}")]
pub(super) struct Unanswered {
    database: &'static str,
    timeout: Duration,
}

/// Runs one database call within `timeout`: a failure or a timeout is [`Error::Storage`].
pub(super) async fn bounded<T>(
    database: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::storage(error)),
        Err(_) => Err(Error::storage(Unanswered { database, timeout })),
    }
}

/// How many times the general write starts again when a row it found missing was created by
/// a concurrent request before it could insert one (only ids adopted from the client race so).
#[cfg(feature = "postgres")]
pub(super) const ATTEMPTS: usize = 3;

/// The error when every attempt lost that race.
#[cfg(feature = "postgres")]
pub(super) fn contended(database: &'static str) -> Error {
    Error::storage(format!(
        "{database}: a session row kept being created concurrently; the save was not written"
    ))
}

/// Sweeps in batches until a batch comes back short; returns how many rows went.
pub(super) async fn sweep_in_batches<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let mut removed = 0;
    loop {
        let deleted = batch().await?;
        removed += deleted;
        if deleted < SWEEP_BATCH.cast_unsigned() {
            return Ok(removed);
        }
    }
}

/// Sweeps every `interval`, by the system clock, forever; failures are logged and retried at
/// the next tick.
pub(super) async fn sweep_forever<F, Fut>(database: &'static str, interval: Duration, sweep: F)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let mut ticks = tokio::time::interval(interval.max(Duration::from_secs(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sweep(SystemClock.now()).await {
            Ok(removed) => tracing::debug!(database, removed, "swept expired sessions"),
            Err(error) => tracing::warn!(database, %error, "sweeping expired sessions failed"),
        }
    }
}

/// The cut-off for rows without a deadline: those last written before it go in a sweep.
pub(super) fn undated_cutoff(now: u64, max_age: Option<Duration>) -> Option<i64> {
    max_age.map(|age| int(now.saturating_sub(age.as_secs())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_are_quoted() {
        assert_eq!(quoted("table", "sessions").unwrap(), "\"sessions\"");
        assert_eq!(quoted("table", "_app_2").unwrap(), "\"_app_2\"");
        for bad in [
            "",
            "2fast",
            "a b",
            "a\"b",
            "a;drop",
            "sé",
            "a.b",
            &"x".repeat(53),
        ] {
            assert!(quoted("table", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_are_positive_and_change() {
        let versions = Versions::new();
        let (a, b) = (versions.next(), versions.next());
        assert!(a >= 0 && b >= 0);
        assert_ne!(a, b);
    }

    #[test]
    fn a_lifetime_is_capped_so_sql_never_overflows() {
        let forever = Lifetime::Persistent(Duration::from_secs(u64::MAX));
        let code = lifetime_code(forever).unwrap();
        assert!(code.checked_add(int(u64::from(u32::MAX))).is_some());
        assert_eq!(lifetime_code(Lifetime::Policy), None);
        assert_eq!(lifetime_code(Lifetime::BrowserSession), Some(0));
    }
}
