//! [`MemoryStorage`]: records in a sharded in-process map, shared and never changed in place. A write
//! merges one request's changes onto the stored record under the shard locks, so concurrent
//! requests on one session do not lose each other's writes.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::Result;
use crate::id::SessionId;
use crate::owner::Owner;

mod shard;
use crate::store::{
    Ending, Found, OwnedRecord, Record, Retire, SessionStore, Stored, Version, Write, WriteOutcome,
    WritePlan,
};
use shard::Hashed;

/// Shards in the map; each has its own lock.
const SHARDS: usize = 16;

/// Writes between two sweeps of one shard's expired entries.
const SWEEP_EVERY: u64 = 1024;

/// One stored entry.
#[derive(Debug, Clone)]
struct Entry {
    /// Increases on every write anywhere in the storage: tells a write whether the record
    /// changed since its request loaded it, and orders entries for eviction.
    version: u64,
    kind: Kind,
    /// Unix second after which the entry is dead; `None`: it never expires.
    deadline: Option<u64>,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The record, never changed in place: a load clones it outside the lock, and a write
    /// puts a new one, so what a request read never changes under it. No JSON is parsed
    /// or written in memory.
    Record(Arc<Record>),
    /// A regenerated session's old id.
    Forward(SessionId),
    /// The old id of a session that started over.
    Superseded,
}

impl Entry {
    fn is_live(&self, now: u64) -> bool {
        self.deadline.is_none_or(|deadline| deadline >= now)
    }

    /// The owner of the record it holds, if any.
    fn owner(&self) -> Option<&Owner> {
        match &self.kind {
            Kind::Record(record) => record.owner(),
            Kind::Forward(_) | Kind::Superseded => None,
        }
    }
}

/// Each owner's session ids. Every change of a record's owner, and every removal of an owned
/// record, updates it while the record's shard is still locked (shards first, then this), so
/// it holds exactly the owned records.
type Owners = HashMap<Owner, HashSet<Arc<str>>>;

type Shard = shard::Shard<Entry>;

impl shard::Ordered for Entry {
    fn version(&self) -> u64 {
        self.version
    }

    fn deadline(&self) -> Option<u64> {
        self.deadline
    }
}

/// Sessions in this process's memory: fast, and gone on restart.
///
/// A write applies only what its request changed onto the stored record, atomically (a
/// regeneration holds the locks of both ids), so two requests that write different keys both
/// survive; on the same key, the last save wins. When the record is still the one the request
/// loaded, the request's state is written as it is, without merging onto the stored copy. Expired
/// records are swept every so many writes or on [`sweep_expired`](Self::sweep_expired); an
/// capacity (by default [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)) evicts sessions written
/// only once before those written again, least recently written first.
///
/// # Examples
///
/// ```
/// use session::{MemoryStorage, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
/// let mut session = sessions.load(None).await?;
/// session.set("count", 1)?;
/// let set_cookie = sessions.commit(&session).await?.into_header().unwrap();
/// assert_eq!(sessions.storage().len(), 1);
/// let again = sessions.load(set_cookie.split(';').next()).await?;
/// assert_eq!(again.get::<u32>("count")?, Some(1));
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
///
/// Clones are cheap handles on the same sessions. `Debug` shows how many entries it holds,
/// never an id or a record.
#[derive(Clone)]
pub struct MemoryStorage {
    shared: Arc<Sessions>,
}

/// The sessions every clone of a [`MemoryStorage`] shares.
struct Sessions {
    shards: Box<[RwLock<Shard>]>,
    hasher: std::hash::RandomState,
    /// Most entries per shard; `None`: unbounded.
    shard_capacity: Option<usize>,
    /// Source of entry versions.
    clock: AtomicU64,
    /// Writes so far, to pace the sweep.
    writes: AtomicU64,
    /// The owner index, locked after any shard.
    owners: Mutex<Owners>,
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("entries", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl MemoryStorage {
    /// Makes a memory storage bounded at [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)
    /// entries; see [`MemoryStorageBuilder`] for another bound or none.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::new();
    /// assert!(storage.is_empty());
    /// assert_eq!(storage.capacity(), Some(session::MemoryStorage::DEFAULT_CAPACITY));
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
    /// assert!(storage.is_empty());
    /// ```
    pub fn builder() -> MemoryStorageBuilder {
        MemoryStorageBuilder {
            capacity: Some(Self::DEFAULT_CAPACITY),
        }
    }

    /// The default bound: 100,000 entries (sessions and the short-lived markers regeneration
    /// leaves), spread over 16 shards. At about 1 KiB a session that is about 100 MiB, so a
    /// flood of new sessions cannot exhaust the process's memory.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::DEFAULT_CAPACITY, 100_000);
    /// ```
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// Returns the most entries the storage holds (`None`: unbounded): 16 shards of a
    /// sixteenth each, rounded up.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::builder().unbounded().build().capacity(), None);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        self.shared.shard_capacity.map(|each| each * SHARDS)
    }

    /// Returns how many entries are stored (expired ones not yet swept and forwards included).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| read(shard).len())
            .sum()
    }

    /// Returns whether nothing is stored.
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

    /// Deletes every entry whose deadline passed before `now` (Unix seconds) and returns how
    /// many went.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::MemoryStorage::new().sweep_expired(0), 0);
    /// ```
    #[expect(
        clippy::must_use_candidate,
        reason = "the sweep is the point; the count is for logs"
    )]
    pub fn sweep_expired(&self, now: u64) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| self.sweep_shard(shard, now))
            .sum()
    }

    /// Sweeps one shard's expired entries, taking them out of the owner index; returns how
    /// many went.
    fn sweep_shard(&self, shard: &RwLock<Shard>, now: u64) -> usize {
        let mut shard = write(shard);
        let swept = shard.sweep(now);
        let count = swept.len();
        self.forget(swept);
        count
    }

    /// `owner`'s live records among the ids its index names, read in `shards` (every shard,
    /// locked by the caller, in index order).
    fn listed<G: std::ops::Deref<Target = Shard>>(
        &self,
        shards: &[G],
        owners: &Owners,
        owner: &Owner,
        now: u64,
    ) -> Vec<OwnedRecord> {
        let Some(ids) = owners.get(owner) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| {
                let key = Hashed::new(&self.shared.hasher, id);
                let record = owned_record(shards[key.shard(SHARDS)].get(key)?, owner, now)?;
                Some(OwnedRecord::of(id.parse().ok()?, record))
            })
            .collect()
    }

    fn owners(&self) -> MutexGuard<'_, Owners> {
        self.shared
            .owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes removed entries out of the owner index; called with their shard still locked.
    fn forget(&self, removed: Vec<(Arc<str>, Entry)>) {
        let mut owned = removed
            .into_iter()
            .filter_map(|(id, entry)| entry.owner().cloned().map(|owner| (owner, id)))
            .peekable();
        if owned.peek().is_none() {
            return;
        }
        let mut owners = self.owners();
        for (owner, id) in owned {
            unindex(&mut owners, &owner, &id);
        }
    }

    /// Every shard, write-locked in index order: what a login joining an owner and the ending
    /// of an owner's sessions hold, so they see and change all of the owner's records at once.
    fn lock_all(&self) -> Vec<RwLockWriteGuard<'_, Shard>> {
        self.shared.shards.iter().map(write).collect()
    }

    /// `id` with its hash, computed once per call: it picks the shard and the slot in it.
    fn hashed<'a>(&self, id: &'a SessionId) -> Hashed<'a> {
        Hashed::new(&self.shared.hasher, id.as_str())
    }

    fn shard(&self, key: Hashed<'_>) -> &RwLock<Shard> {
        &self.shared.shards[key.shard(SHARDS)]
    }

    fn next_version(&self) -> u64 {
        self.shared.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Inserts or replaces `id`, keeping the shard within its capacity: a record written
    /// again is protected from eviction by a flood of new ones (see [`shard`]). An evicted
    /// owned record leaves the owner index.
    fn put(&self, shard: &mut Shard, key: Hashed<'_>, entry: Entry) {
        let protect = matches!(entry.kind, Kind::Record(_));
        let evicted = shard.put(key, entry, protect, self.shared.shard_capacity);
        if !evicted.is_empty() {
            self.forget(evicted);
        }
    }

    fn record_entry(&self, record: Record) -> Entry {
        Entry {
            version: self.next_version(),
            deadline: record.deadline(),
            kind: Kind::Record(Arc::new(record)),
        }
    }

    fn maybe_sweep(&self, now: u64) {
        let writes = self.shared.writes.fetch_add(1, Ordering::Relaxed);
        if writes % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let index = usize::try_from((writes / SWEEP_EVERY) % SHARDS as u64).unwrap_or(0);
            self.sweep_shard(&self.shared.shards[index], now);
        }
    }

    /// The record a plan leaves given what `base` holds; `Err` for an outcome that writes
    /// nothing.
    fn result(plan: &WritePlan<'_>, base: Option<&Entry>) -> Result<Record, WriteOutcome> {
        let live = base.filter(|entry| entry.is_live(plan.now()));
        let found = match live.map(|entry| (&entry.kind, entry.version)) {
            None => Found::Nothing,
            Some((Kind::Forward(to), _)) => Found::Forward(to),
            Some((Kind::Superseded, _)) => Found::Superseded,
            Some((Kind::Record(_), version)) => Found::Record(Version::new(version)),
        };
        Ok(match (plan.check(found)?, live.map(|entry| &entry.kind)) {
            (Write::Merge, Some(Kind::Record(stored))) => {
                let mut record = Record::clone(stored);
                record.apply(plan);
                record
            }
            _ => plan.to_record(),
        })
    }
}

impl MemoryStorage {
    /// Writes `record` under the plan's target and retires the base if the session moves,
    /// in the locked shards of the base and (when it differs) of the target.
    fn place(
        &self,
        plan: &WritePlan<'_>,
        record: Record,
        (first, second): (&mut Shard, Option<&mut Shard>),
        (base, target): (Hashed<'_>, Hashed<'_>),
    ) -> WriteOutcome {
        let entry = self.record_entry(record);
        if !plan.moves() {
            self.put(first, target, entry);
            return WriteOutcome::Written;
        }
        let target_map = match second {
            Some(shard) => shard,
            None => &mut *first,
        };
        if target_map
            .get(target)
            .is_some_and(|e| e.is_live(plan.now()))
        {
            return WriteOutcome::Taken;
        }
        self.put(target_map, target, entry);
        match plan.retire() {
            Retire::Keep => {}
            Retire::Delete => {
                first.take(base);
            }
            Retire::Forward { until } => {
                let forward = Entry {
                    version: self.next_version(),
                    kind: Kind::Forward(plan.target().clone()),
                    deadline: Some(until),
                };
                self.put(first, base, forward);
            }
            Retire::Supersede { until } => {
                let marker = Entry {
                    version: self.next_version(),
                    kind: Kind::Superseded,
                    deadline: Some(until),
                };
                self.put(first, base, marker);
            }
        }
        WriteOutcome::Written
    }

    /// A write that joins the target to an owner, with every shard locked: the owner's limit
    /// is applied (ending the least recently used, or refusing) and the index updated in the
    /// same step as the write.
    fn write_joining(
        &self,
        plan: &WritePlan<'_>,
        base: Hashed<'_>,
        target: Hashed<'_>,
    ) -> WriteOutcome {
        let now = plan.now();
        let mut shards = self.lock_all();
        let (b, t) = (base.shard(SHARDS), target.shard(SHARDS));
        let stored = shards[b].get(base);
        let record = match Self::result(plan, stored) {
            Ok(record) => record,
            Err(outcome) => return outcome,
        };
        let before = stored
            .filter(|entry| entry.is_live(now))
            .and_then(Entry::owner)
            .cloned();
        let after = record.owner().cloned();
        let index = plan.index_change(before.as_ref(), after.as_ref());
        // `place` checks this too; here it comes before the limit ends anyone's session.
        if plan.moves() && shards[t].get(target).is_some_and(|e| e.is_live(now)) {
            return WriteOutcome::Taken;
        }
        if let Some(owner) = index.joins {
            let mut owners = self.owners();
            let listed = self.listed(&shards, &owners, owner, now);
            match plan.admit(&listed) {
                Err(outcome) => return outcome,
                Ok(victims) => {
                    for id in victims {
                        let key = Hashed::new(&self.shared.hasher, id.as_str());
                        shards[key.shard(SHARDS)].take(key);
                        unindex(&mut owners, owner, id.as_str());
                    }
                }
            }
        }
        // `place` may evict, which takes the owner index's lock: not held here.
        let outcome = if b == t {
            self.place(plan, record, (&mut shards[b], None), (base, target))
        } else {
            let (low, high) = shards.split_at_mut(b.max(t));
            let (base_shard, target_shard) = if b < t {
                (&mut low[b], &mut high[0])
            } else {
                (&mut high[0], &mut low[t])
            };
            self.place(
                plan,
                record,
                (base_shard, Some(target_shard)),
                (base, target),
            )
        };
        if outcome == WriteOutcome::Written {
            let mut owners = self.owners();
            if let Some(owner) = index.leaves {
                unindex(&mut owners, owner, base.id);
            }
            if let Some(owner) = index.joins {
                owners
                    .entry(owner.clone())
                    .or_default()
                    .insert(Arc::from(target.id));
            }
        }
        outcome
    }
}

impl SessionStore for MemoryStorage {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        let key = self.hashed(id);
        let found = read(self.shard(key)).get(key).cloned();
        Ok(found.map(|entry| match entry.kind {
            Kind::Forward(to) => Stored::Forward { to },
            Kind::Superseded => Stored::Superseded,
            Kind::Record(record) => Stored::Record {
                record: Arc::unwrap_or_clone(record),
                version: Version::new(entry.version),
            },
        }))
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let now = plan.now();
        self.maybe_sweep(now);
        let (base, target) = (plan.base(), plan.target());
        let base = self.hashed(base);
        let target = if plan.moves() {
            self.hashed(target)
        } else {
            base
        };
        let (base_shard, target_shard) = (base.shard(SHARDS), target.shard(SHARDS));
        // Both shards locked, in index order, for the whole write.
        let (mut first, mut second) = if base_shard == target_shard {
            (write(&self.shared.shards[base_shard]), None)
        } else {
            let (low, high) = (base_shard.min(target_shard), base_shard.max(target_shard));
            let low_guard = write(&self.shared.shards[low]);
            let high_guard = write(&self.shared.shards[high]);
            if low == base_shard {
                (low_guard, Some(high_guard))
            } else {
                (high_guard, Some(low_guard))
            }
        };
        let stored = first.get(base);
        let record = match Self::result(plan, stored) {
            Ok(record) => record,
            Err(outcome) => return Ok(outcome),
        };
        let before = stored
            .filter(|entry| entry.is_live(now))
            .and_then(Entry::owner);
        let index = plan.index_change(before, record.owner());
        if index.joins.is_some() {
            // A session joins an owner: the limit needs the owner's other records, in other
            // shards. Rare (a login), so it takes every shard.
            drop((first, second));
            return Ok(self.write_joining(plan, base, target));
        }
        let leaves = index.leaves.cloned();
        let target_map = second.as_deref_mut();
        let outcome = self.place(plan, record, (&mut first, target_map), (base, target));
        if let (WriteOutcome::Written, Some(owner)) = (&outcome, leaves) {
            unindex(&mut self.owners(), &owner, base.id);
        }
        Ok(outcome)
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        for id in ids {
            let key = self.hashed(id);
            let mut shard = write(self.shard(key));
            if let Some(entry) = shard.take(key) {
                self.forget(vec![(Arc::from(key.id), entry)]);
            }
        }
        Ok(())
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        let shards: Vec<RwLockReadGuard<'_, Shard>> = self.shared.shards.iter().map(read).collect();
        Ok(self.listed(&shards, &self.owners(), owner, now))
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let mut shards = self.lock_all();
        let mut owners = self.owners();
        let Some(ids) = owners.get_mut(owner) else {
            return Ok(0);
        };
        let mut ended = 0;
        ids.retain(|id| {
            let key = Hashed::new(&self.shared.hasher, id);
            let shard = &mut shards[key.shard(SHARDS)];
            let Some(entry) = shard.get(key) else {
                return false;
            };
            if owned_record(entry, owner, now).is_none() {
                return entry.owner() == Some(owner);
            }
            let ending = id.parse::<SessionId>().is_ok_and(|id| which.includes(&id));
            if ending {
                shard.take(key);
                ended += 1;
            }
            !ending
        });
        if ids.is_empty() {
            owners.remove(owner);
        }
        Ok(ended)
    }
}

/// The record `entry` holds if it is a live record of `owner`.
fn owned_record<'e>(entry: &'e Entry, owner: &Owner, now: u64) -> Option<&'e Record> {
    match &entry.kind {
        Kind::Record(record) if entry.is_live(now) && record.owner() == Some(owner) => Some(record),
        _ => None,
    }
}

/// Removes `id` from `owner`'s index, and the owner when it has no session left.
fn unindex(owners: &mut Owners, owner: &Owner, id: &str) {
    if let Some(ids) = owners.get_mut(owner) {
        ids.remove(id);
        if ids.is_empty() {
            owners.remove(owner);
        }
    }
}

/// Configures a [`MemoryStorage`].
///
/// # Examples
///
/// ```
/// let storage = session::MemoryStorage::builder().capacity(100_000).build();
/// assert_eq!(storage.len(), 0);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryStorageBuilder {
    capacity: Option<usize>,
}

impl MemoryStorageBuilder {
    /// Bounds the number of entries ([`MemoryStorage::DEFAULT_CAPACITY`] unless set; spread
    /// over 16 shards, so each shard holds a sixteenth). A full shard evicts in O(log n):
    /// first the least recently written session that was written only once (a flood of new,
    /// anonymous sessions churns only those), then the least recently written of the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().capacity(1_000).build();
    /// assert!(storage.is_empty());
    /// ```
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = Some(records);
        self
    }

    /// Removes the bound: the storage grows with every session until they expire and are
    /// swept. Only for a process whose sessions are few and trusted, since a flood of
    /// requests without cookies creates one session each.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::MemoryStorage::builder().unbounded().build();
    /// assert_eq!(storage.capacity(), None);
    /// ```
    pub fn unbounded(mut self) -> Self {
        self.capacity = None;
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
        let hasher = std::hash::RandomState::new();
        let shards = Sessions {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(Shard::new(hasher.clone())))
                .collect(),
            hasher,
            shard_capacity: self.capacity.map(|records| records.div_ceil(SHARDS).max(1)),
            clock: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            owners: Mutex::new(Owners::new()),
        };
        MemoryStorage {
            shared: Arc::new(shards),
        }
    }
}

// A panic while a lock is held cannot leave a shard half-written (every write is one
// `insert` or `remove`), so a poisoned lock is still safe to use.
fn read(lock: &RwLock<Shard>) -> RwLockReadGuard<'_, Shard> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
