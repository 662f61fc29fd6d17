//! One shard of memory storage: its entries and the order they are evicted in when the shard
//! is full, kept in O(log n) per write.
//!
//! The order is a segmented LRU. An entry written once (a new session, which is what a flood
//! of anonymous requests makes) sits in the *probation* segment; written again, it moves to
//! the *protected* segment. A full shard evicts the least recently written probation entry
//! first, so a flood churns probation and leaves the sessions people come back to alone.
//! Protected holds at most three quarters of the shard; its least recently written entry is
//! demoted to probation past that, so it cannot fill the shard either.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

/// Which eviction segment an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment {
    Probation,
    Protected,
}

/// What a shard needs to know of an entry to order it: its version (unique and increasing
/// with every write in the storage) and the Unix second it dies (`None`: never).
pub(super) trait Ordered {
    fn version(&self) -> u64;
    fn deadline(&self) -> Option<u64>;
}

/// An id with its hash, computed once per storage call: the hash picks the shard and then the
/// slot in it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hashed<'a> {
    pub(super) id: &'a str,
    pub(super) hash: u64,
}

impl<'a> Hashed<'a> {
    /// `id` hashed with `hasher` (keyed per storage, so a client cannot aim ids at one slot).
    pub(super) fn new(hasher: &RandomState, id: &'a str) -> Self {
        Self {
            id,
            hash: hasher.hash_one(id),
        }
    }

    /// The shard among `shards` (a power of two). The table inside a shard indexes by the
    /// hash's low bits and tags by its top seven, so the shard is picked from bits neither uses.
    pub(super) fn shard(self, shards: usize) -> usize {
        usize::try_from(self.hash >> 32).unwrap_or(0) & (shards - 1)
    }
}

/// One stored entry and its place in the order.
#[derive(Debug)]
struct Slot<E> {
    id: Arc<str>,
    entry: E,
    segment: Segment,
}

/// One shard's entries and eviction order.
#[derive(Debug)]
pub(super) struct Shard<E> {
    entries: HashTable<Slot<E>>,
    /// The storage's hasher: the same keys in every shard.
    hasher: RandomState,
    /// Probation entries by version: the first is the least recently written. Ids are shared
    /// with `entries`.
    probation: BTreeMap<u64, Arc<str>>,
    /// Protected entries by version.
    protected: BTreeMap<u64, Arc<str>>,
}

impl<E: Ordered> Shard<E> {
    pub(super) fn new(hasher: RandomState) -> Self {
        Self {
            entries: HashTable::new(),
            hasher,
            probation: BTreeMap::new(),
            protected: BTreeMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, key: Hashed<'_>) -> Option<&E> {
        self.entries
            .find(key.hash, |slot| &*slot.id == key.id)
            .map(|slot| &slot.entry)
    }

    /// Stores `entry` under `key`, evicting first if a new id would pass `capacity`
    /// (`None`: unbounded), and returns what it evicted. A replaced entry counts as used again
    /// and is protected when `protect` says the replacement is a record.
    pub(super) fn put(
        &mut self,
        key: Hashed<'_>,
        entry: E,
        protect: bool,
        capacity: Option<usize>,
    ) -> Vec<(Arc<str>, E)> {
        let mut evicted = Vec::new();
        let version = entry.version();
        if let Some(slot) = self.entries.find_mut(key.hash, |slot| &*slot.id == key.id) {
            // Replaced in place: one lookup, and the id moves to its new place in the order
            // instead of being copied.
            index_of(&mut self.probation, &mut self.protected, slot.segment)
                .remove(&slot.entry.version());
            slot.segment = if protect {
                Segment::Protected
            } else {
                Segment::Probation
            };
            slot.entry = entry;
            index_of(&mut self.probation, &mut self.protected, slot.segment)
                .insert(version, Arc::clone(&slot.id));
        } else {
            if let Some(capacity) = capacity {
                while self.entries.len() >= capacity.max(1) {
                    let Some(gone) = self.evict_one() else { break };
                    evicted.push(gone);
                }
            }
            let id: Arc<str> = key.id.into();
            self.probation.insert(version, Arc::clone(&id));
            let hasher = &self.hasher;
            self.entries.insert_unique(
                key.hash,
                Slot {
                    id,
                    entry,
                    segment: Segment::Probation,
                },
                |slot| hasher.hash_one(&*slot.id),
            );
        }
        if let Some(capacity) = capacity {
            self.demote_past(capacity / 4 * 3);
        }
        evicted
    }

    /// Removes `key`; returns its entry.
    pub(super) fn take(&mut self, key: Hashed<'_>) -> Option<E> {
        let (slot, _) = self
            .entries
            .find_entry(key.hash, |slot| &*slot.id == key.id)
            .ok()?
            .remove();
        self.index(slot.segment).remove(&slot.entry.version());
        Some(slot.entry)
    }

    /// `id` hashed with this shard's hasher.
    #[cfg(test)]
    fn hashed<'a>(&self, id: &'a str) -> Hashed<'a> {
        Hashed::new(&self.hasher, id)
    }

    /// Removes the entries whose deadline is before `now`; returns them.
    pub(super) fn sweep(&mut self, now: u64) -> Vec<(Arc<str>, E)> {
        let dead: Vec<Arc<str>> = self
            .entries
            .iter()
            .filter(|slot| slot.entry.deadline().is_some_and(|deadline| deadline < now))
            .map(|slot| Arc::clone(&slot.id))
            .collect();
        dead.into_iter()
            .filter_map(|id| {
                let entry = self.take(Hashed::new(&self.hasher, &id))?;
                Some((id, entry))
            })
            .collect()
    }

    fn index(&mut self, segment: Segment) -> &mut BTreeMap<u64, Arc<str>> {
        index_of(&mut self.probation, &mut self.protected, segment)
    }

    /// Evicts the least recently written probation entry, else the least recently written
    /// protected one, and returns it; `None` when the shard is empty.
    fn evict_one(&mut self) -> Option<(Arc<str>, E)> {
        let (_, id) = self
            .probation
            .pop_first()
            .or_else(|| self.protected.pop_first())?;
        let hash = self.hasher.hash_one(&*id);
        let found = self.entries.find_entry(hash, |slot| slot.id == id).ok()?;
        let (slot, _) = found.remove();
        Some((slot.id, slot.entry))
    }

    /// Moves the least recently written protected entries to probation while protected holds
    /// more than `limit`.
    fn demote_past(&mut self, limit: usize) {
        while self.protected.len() > limit.max(1) {
            let Some((version, id)) = self.protected.pop_first() else {
                return;
            };
            let hash = self.hasher.hash_one(&*id);
            if let Some(slot) = self.entries.find_mut(hash, |slot| slot.id == id) {
                slot.segment = Segment::Probation;
            }
            self.probation.insert(version, id);
        }
    }
}

/// The index of `segment`, borrowed apart from the entries.
fn index_of<'a>(
    probation: &'a mut BTreeMap<u64, Arc<str>>,
    protected: &'a mut BTreeMap<u64, Arc<str>>,
    segment: Segment,
) -> &'a mut BTreeMap<u64, Arc<str>> {
    match segment {
        Segment::Probation => probation,
        Segment::Protected => protected,
    }
}

#[cfg(test)]
mod tests {
    use super::{Ordered, Segment, Shard};

    #[derive(Debug, Clone, Copy)]
    struct Entry(u64);

    impl Ordered for Entry {
        fn version(&self) -> u64 {
            self.0
        }
        fn deadline(&self) -> Option<u64> {
            Some(self.0)
        }
    }

    #[test]
    fn one_hash_spreads_ids_over_every_shard_and_still_finds_each_in_its_shard() {
        let hasher = std::hash::RandomState::new();
        let ids: Vec<String> = (0..1_600).map(|n| format!("session-id-{n:08}")).collect();
        let mut shards: Vec<Shard<Entry>> = (0..16).map(|_| Shard::new(hasher.clone())).collect();
        for (version, id) in (1..).zip(&ids) {
            let key = super::Hashed::new(&hasher, id);
            shards[key.shard(16)].put(key, Entry(version), false, None);
        }
        for shard in &shards {
            // 100 expected per shard; a shard picked from the table's own bits would skew.
            assert!((40..=160).contains(&shard.len()), "{}", shard.len());
        }
        for id in &ids {
            let key = super::Hashed::new(&hasher, id);
            assert!(shards[key.shard(16)].get(key).is_some());
        }
    }

    #[test]
    fn a_flood_of_new_entries_evicts_probation_and_spares_what_was_written_again() {
        let mut shard = Shard::new(std::hash::RandomState::new());
        let mut version = 0;
        let mut next = || {
            version += 1;
            Entry(version)
        };
        for id in ["a", "b", "c"] {
            shard.put(shard.hashed(id), next(), true, Some(8));
            shard.put(shard.hashed(id), next(), true, Some(8));
        }
        for flood in 0..1_000 {
            shard.put(shard.hashed(&format!("new{flood}")), next(), true, Some(8));
            assert!(shard.len() <= 8);
        }
        for id in ["a", "b", "c"] {
            assert!(
                shard.get(shard.hashed(id)).is_some(),
                "{id} was evicted by the flood"
            );
        }
        assert_eq!(
            shard
                .entries
                .find(shard.hashed("a").hash, |slot| &*slot.id == "a")
                .unwrap()
                .segment,
            Segment::Protected
        );
        assert!(
            shard.get(shard.hashed("new999")).is_some()
                && shard.get(shard.hashed("new0")).is_none()
        );
    }

    #[test]
    fn protected_is_capped_and_its_oldest_go_first_when_it_must_shrink() {
        let mut shard = Shard::new(std::hash::RandomState::new());
        for (version, id) in (1..)
            .step_by(2)
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            shard.put(shard.hashed(id), Entry(version), true, Some(8));
            shard.put(shard.hashed(id), Entry(version + 1), true, Some(8));
        }
        assert_eq!(shard.len(), 8);
        assert_eq!(shard.protected.len(), 6, "three quarters of 8");
        shard.put(shard.hashed("x"), Entry(100), true, Some(8));
        assert!(
            shard.get(shard.hashed("a")).is_none(),
            "the oldest demoted entry went first"
        );
        assert!(shard.get(shard.hashed("h")).is_some());
        assert_eq!(shard.probation.len() + shard.protected.len(), shard.len());
    }

    #[test]
    fn sweep_and_take_keep_the_indices_in_step() {
        let mut shard = Shard::new(std::hash::RandomState::new());
        for version in 1..=10 {
            shard.put(
                shard.hashed(&format!("k{version}")),
                Entry(version),
                false,
                None,
            );
        }
        assert_eq!(shard.sweep(6).len(), 5, "deadlines 1 to 5 are before 6");
        assert!(shard.take(shard.hashed("k6")).is_some());
        assert_eq!(shard.len(), 4);
        assert_eq!(shard.probation.len() + shard.protected.len(), 4);
    }
}
