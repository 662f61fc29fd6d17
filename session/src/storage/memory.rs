//! [`MemoryStorage`]: the signed id in the cookie, the session in a sharded in-process map of
//! serialized records. Saves merge one request's changes onto the stored record, so concurrent
//! requests on one session do not lose each other's writes.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

use super::record::Record;
use super::{SaveOutcome, SessionStorage, fresh_session};
use crate::dynamic::{Map, Session};
use crate::error::Result;
use crate::expiry::{Timestamps, Timing};
use crate::id::SessionId;

/// Shards in the map; each has its own lock.
const SHARDS: usize = 16;

/// Saves between two sweeps of one shard's expired entries.
const SWEEP_EVERY: u64 = 1024;

/// One stored session.
#[derive(Debug, Clone)]
struct Entry {
    /// Increases on every write anywhere in the storage: tells a save whether the record
    /// changed since its request loaded it, and orders entries for eviction.
    version: u64,
    /// The record's JSON: a load gets a private copy, so changing what it read never changes
    /// the store.
    bytes: Arc<[u8]>,
    /// Unix second after which the record is dead; `None`: it never expires.
    deadline: Option<u64>,
}

type Shard = HashMap<Box<str>, Entry>;

/// Sessions in this process's memory: fast, and gone on restart.
///
/// - Unknown ids are not adopted (a fresh session with a new id is served instead) unless
///   [`use_unknown_ids`](MemoryStorageBuilder::use_unknown_ids) is on, and a load never creates
///   a record.
/// - A save applies only what its request changed onto the stored record, atomically: two
///   requests that write different keys both survive. On the **same** key, the last save wins.
///   A save for a session that another request destroyed meanwhile writes nothing and returns
///   [`SaveOutcome::Interrupted`].
/// - [`Session::regenerate_id`] writes the new record before deleting the old one. An id
///   generated in this request that turns out to be taken is replaced by another, never
///   merged into the session stored under it.
/// - Expired records are never served, are dropped when met, and are swept every
///   so many saves or on [`sweep_expired`](Self::sweep_expired). An optional capacity evicts the
///   least recently written records first.
///
/// # Examples
///
/// ```
/// use session::{Expiry, MemoryStorage, SaveOutcome, SessionStorage, Timing};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let storage = MemoryStorage::new();
/// let timing = Timing::new(Expiry::none(), 0);
/// let mut session = storage.load(None, timing).await?;
/// session.set("count", 1)?;
/// let SaveOutcome::Saved { value: id } = storage.save(&session, timing).await? else { panic!() };
/// let again = storage.load(Some(&id), timing).await?;
/// assert_eq!(again.get::<u32>("count")?, Some(1));
/// assert_eq!(storage.len(), 1);
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryStorage {
    shards: Box<[RwLock<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Adopt an unknown id instead of replacing it (Remix's `useUnknownIds`).
    use_unknown_ids: bool,
    /// Most records per shard; `None`: unbounded.
    shard_capacity: Option<usize>,
    /// Source of entry versions.
    clock: AtomicU64,
    /// Saves so far, to pace the sweep.
    saves: AtomicU64,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl MemoryStorage {
    /// Makes an unbounded memory storage that does not adopt unknown ids.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::MemoryStorage::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts configuring a memory storage.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().capacity(10_000).build();
    /// # let _ = storage;
    /// ```
    pub fn builder() -> MemoryStorageBuilder {
        MemoryStorageBuilder {
            use_unknown_ids: false,
            capacity: None,
        }
    }

    /// Returns how many records are stored (expired ones not yet swept included).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| read(shard).len()).sum()
    }

    /// Returns whether no record is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::MemoryStorage::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes every record whose deadline passed before `now` (Unix seconds) and returns how
    /// many went.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::new().sweep_expired(0), 0);
    /// ```
    pub fn sweep_expired(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|shard| sweep(&mut write(shard), now))
            .sum()
    }

    fn shard(&self, id: &str) -> &RwLock<Shard> {
        let index = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64)
            .expect("a shard index is below SHARDS");
        &self.shards[index]
    }

    fn next_version(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn entry(&self, record: &Record) -> Entry {
        Entry {
            version: self.next_version(),
            bytes: record.to_json().into(),
            deadline: record.deadline(),
        }
    }

    /// The entry for a session's own state, serialized without copying it first.
    fn session_entry(&self, session: &Session, timing: Timing) -> Entry {
        let written = Timestamps {
            created: session.timestamps().created,
            renewed: timing.now(),
        };
        Entry {
            version: self.next_version(),
            bytes: Record::session_json(session, timing).into(),
            deadline: timing.expiry().deadline(written),
        }
    }

    /// Inserts or replaces `id`, keeping the shard within its capacity.
    fn put(&self, shard: &mut Shard, id: &SessionId, entry: Entry, now: u64) {
        if let Some(slot) = shard.get_mut(id.as_str()) {
            *slot = entry;
            return;
        }
        if let Some(capacity) = self.shard_capacity {
            if shard.len() >= capacity {
                sweep(shard, now);
            }
            while shard.len() >= capacity {
                let oldest = shard
                    .iter()
                    .min_by_key(|(_, entry)| entry.version)
                    .map(|(key, _)| key.clone());
                match oldest {
                    Some(key) => shard.remove(&key),
                    None => break,
                };
            }
        }
        shard.insert(id.as_str().into(), entry);
    }

    /// Writes `session` onto what is stored under its original id, then under its current
    /// id, and returns the id written. Returns `None`, writing nothing, when the record it was
    /// loaded from is gone.
    fn write_merged(&self, session: &Session, timing: Timing) -> Option<SessionId> {
        let now = timing.now();
        let target = session.id();
        let base_id = session.original_id();
        // Optimistic: if the stored record is still the one this request loaded, the session
        // already holds the merged state. Serialize it before taking any lock.
        let optimistic = self.session_entry(session, timing);
        let pick = |current: Option<&Entry>, optimistic: Entry| -> Option<Entry> {
            match (current, session.stored_version()) {
                (None, Some(_)) => None,
                (None, None) => Some(optimistic),
                (Some(current), Some(loaded)) if current.version == loaded => Some(optimistic),
                (Some(current), _) => Some(self.merge(current, session, timing, optimistic)),
            }
        };
        if target == base_id && !session.id_is_generated() {
            let mut shard = write(self.shard(target.as_str()));
            let entry = pick(shard.get(target.as_str()), optimistic)?;
            self.put(&mut shard, target, entry, now);
            return Some(target.clone());
        }
        // A new session, or a regenerated one built from its original record (the caller
        // deletes the original afterwards if asked), under an id generated in this request.
        let entry = if target == base_id {
            optimistic
        } else {
            pick(
                read(self.shard(base_id.as_str())).get(base_id.as_str()),
                optimistic,
            )?
        };
        Some(self.claim(target.clone(), entry, now))
    }

    /// Writes `entry` under `id`, or under a newly drawn id while `id` names a stored
    /// session: an id generated in this request never overwrites another session.
    fn claim(&self, mut id: SessionId, entry: Entry, now: u64) -> SessionId {
        loop {
            let mut shard = write(self.shard(id.as_str()));
            if !shard.contains_key(id.as_str()) {
                self.put(&mut shard, &id, entry, now);
                return id;
            }
            drop(shard);
            tracing::warn!("generated session id collided with a stored one; drawing another");
            id = SessionId::generate();
        }
    }

    /// Applies the session's changes onto a record that moved on since the session loaded it.
    fn merge(&self, current: &Entry, session: &Session, timing: Timing, fallback: Entry) -> Entry {
        match Record::from_json(&current.bytes) {
            Ok(mut record) => {
                record.apply(session, timing);
                self.entry(&record)
            }
            Err(error) => {
                tracing::warn!(%error, "unreadable session record replaced by this request's state");
                fallback
            }
        }
    }

    fn delete(&self, id: &SessionId) {
        write(self.shard(id.as_str())).remove(id.as_str());
    }

    fn maybe_sweep(&self, now: u64) {
        let saves = self.saves.fetch_add(1, Ordering::Relaxed);
        if saves % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let index = usize::try_from((saves / SWEEP_EVERY) % SHARDS as u64)
                .expect("a shard index is below SHARDS");
            sweep(&mut write(&self.shards[index]), now);
        }
    }
}

impl SessionStorage for MemoryStorage {
    async fn load(&self, value: Option<&str>, timing: Timing) -> Result<Session> {
        let Some(id) = super::incoming_id(value) else {
            return Ok(fresh_session(timing));
        };
        let found = read(self.shard(id.as_str())).get(id.as_str()).cloned();
        let Some(entry) = found else {
            if self.use_unknown_ids {
                return Ok(Session::from_parts(
                    id,
                    Map::new(),
                    Map::new(),
                    Timestamps::at(timing.now()),
                ));
            }
            return Ok(fresh_session(timing));
        };
        let record = match Record::from_json(&entry.bytes) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "unreadable session record; serving a fresh session");
                return Ok(fresh_session(timing));
            }
        };
        if let Err(reason) = timing.check(record.timestamps()) {
            crate::audit::expired(reason);
            let mut shard = write(self.shard(id.as_str()));
            if shard.get(id.as_str()).map(|e| e.version) == Some(entry.version) {
                shard.remove(id.as_str());
            }
            return Ok(fresh_session(timing));
        }
        let mut session = record.into_session(id);
        session.set_stored_version(entry.version);
        Ok(session)
    }

    async fn save(&self, session: &Session, timing: Timing) -> Result<SaveOutcome> {
        if session.is_destroyed() {
            self.delete(session.original_id());
            self.delete(session.id());
            return Ok(SaveOutcome::Destroyed);
        }
        if !session.needs_write(&timing) {
            return Ok(SaveOutcome::Unchanged);
        }
        self.maybe_sweep(timing.now());
        let Some(written) = self.write_merged(session, timing) else {
            return Ok(SaveOutcome::Interrupted);
        };
        if session.deletes_original() && written != *session.original_id() {
            self.delete(session.original_id());
        }
        Ok(SaveOutcome::Saved {
            value: written.as_str().to_owned(),
        })
    }
}

/// Configures a [`MemoryStorage`].
///
/// # Examples
///
/// ```
/// let storage = session::MemoryStorage::builder()
///     .use_unknown_ids(false)
///     .capacity(100_000)
///     .build();
/// # let _ = storage;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryStorageBuilder {
    use_unknown_ids: bool,
    capacity: Option<usize>,
}

impl MemoryStorageBuilder {
    /// Adopts a well-formed id the store does not hold instead of issuing a new one (off by
    /// default; Remix's `useUnknownIds`).
    ///
    /// # Security
    ///
    /// Adopting ids a client chose opens the door to session fixation. Leave it off unless
    /// ids are shared with another system that creates them.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().use_unknown_ids(true).build();
    /// # let _ = storage;
    /// ```
    pub fn use_unknown_ids(mut self, adopt: bool) -> Self {
        self.use_unknown_ids = adopt;
        self
    }

    /// Bounds the number of records (spread over 16 shards, so each shard holds a sixteenth).
    /// A full shard first drops its expired records, then its least recently written.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().capacity(1_000).build();
    /// # let _ = storage;
    /// ```
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = Some(records);
        self
    }

    /// Builds the storage.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().build();
    /// assert!(storage.is_empty());
    /// ```
    #[must_use]
    pub fn build(self) -> MemoryStorage {
        MemoryStorage {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            use_unknown_ids: self.use_unknown_ids,
            shard_capacity: self.capacity.map(|records| records.div_ceil(SHARDS).max(1)),
            clock: AtomicU64::new(0),
            saves: AtomicU64::new(0),
        }
    }
}

/// Removes entries whose deadline is before `now`.
fn sweep(shard: &mut Shard, now: u64) -> usize {
    let before = shard.len();
    shard.retain(|_, entry| entry.deadline.is_none_or(|deadline| deadline >= now));
    before - shard.len()
}

// A panic while a lock is held cannot leave a shard half-written (every write is one
// `insert` or `remove`), so a poisoned lock is still safe to use.
fn read(lock: &RwLock<Shard>) -> std::sync::RwLockReadGuard<'_, Shard> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
