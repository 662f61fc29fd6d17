//! One shard of memory storage: its entries and the order they are evicted in when the shard
//! is full, kept in O(log n) per write.
//!
//! The order is a segmented LRU. An entry written once (a new session, which is what a flood
//! of anonymous requests makes) sits in the *probation* segment; written again, it moves to
//! the *protected* segment. A full shard evicts the least recently written probation entry
//! first, so a flood churns probation and leaves the sessions people come back to alone.
//! Protected holds at most three quarters of the shard; its least recently written entry is
//! demoted to probation past that, so it cannot fill the shard either.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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

/// One shard's entries and eviction order.
#[derive(Debug)]
pub(super) struct Shard<E> {
    entries: HashMap<Arc<str>, (E, Segment)>,
    /// Probation entries by version: the first is the least recently written. Keys are shared
    /// with `entries`.
    probation: BTreeMap<u64, Arc<str>>,
    /// Protected entries by version.
    protected: BTreeMap<u64, Arc<str>>,
}

impl<E: Ordered> Default for Shard<E> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            probation: BTreeMap::new(),
            protected: BTreeMap::new(),
        }
    }
}

impl<E: Ordered> Shard<E> {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, id: &str) -> Option<&E> {
        self.entries.get(id).map(|(entry, _)| entry)
    }

    /// Stores `entry` under `id`, evicting first if a new id would pass `capacity`
    /// (`None`: unbounded). A replaced entry counts as used again and is protected when
    /// `protect` says the replacement is a record.
    pub(super) fn put(&mut self, id: &str, entry: E, protect: bool, capacity: Option<usize>) {
        let version = entry.version();
        if let Some((slot, segment)) = self.entries.get_mut(id) {
            // Replaced in place: one lookup, and the key moves to its new place in the order
            // instead of being copied.
            let key = index_of(&mut self.probation, &mut self.protected, *segment)
                .remove(&slot.version())
                .unwrap_or_else(|| id.into());
            *segment = if protect {
                Segment::Protected
            } else {
                Segment::Probation
            };
            *slot = entry;
            index_of(&mut self.probation, &mut self.protected, *segment).insert(version, key);
        } else {
            if let Some(capacity) = capacity {
                while self.entries.len() >= capacity.max(1) && self.evict_one() {}
            }
            let key: Arc<str> = id.into();
            self.probation.insert(version, Arc::clone(&key));
            self.entries.insert(key, (entry, Segment::Probation));
        }
        if let Some(capacity) = capacity {
            self.demote_past(capacity / 4 * 3);
        }
    }

    /// Removes `id`; returns its entry.
    pub(super) fn take(&mut self, id: &str) -> Option<E> {
        let (entry, segment) = self.entries.remove(id)?;
        self.index(segment).remove(&entry.version());
        Some(entry)
    }

    /// Removes the entries whose deadline is before `now`; returns how many went.
    pub(super) fn sweep(&mut self, now: u64) -> usize {
        let dead: Vec<Arc<str>> = self
            .entries
            .iter()
            .filter(|(_, (entry, _))| entry.deadline().is_some_and(|deadline| deadline < now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &dead {
            self.take(id);
        }
        dead.len()
    }

    fn index(&mut self, segment: Segment) -> &mut BTreeMap<u64, Arc<str>> {
        index_of(&mut self.probation, &mut self.protected, segment)
    }

    /// Evicts the least recently written probation entry, else the least recently written
    /// protected one; false when the shard is empty.
    fn evict_one(&mut self) -> bool {
        let oldest = self
            .probation
            .pop_first()
            .or_else(|| self.protected.pop_first());
        match oldest {
            Some((_, id)) => self.entries.remove(&id).is_some(),
            None => false,
        }
    }

    /// Moves the least recently written protected entries to probation while protected holds
    /// more than `limit`.
    fn demote_past(&mut self, limit: usize) {
        while self.protected.len() > limit.max(1) {
            let Some((version, id)) = self.protected.pop_first() else {
                return;
            };
            if let Some((_, segment)) = self.entries.get_mut(&id) {
                *segment = Segment::Probation;
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
    fn a_flood_of_new_entries_evicts_probation_and_spares_what_was_written_again() {
        let mut shard = Shard::default();
        let mut version = 0;
        let mut next = || {
            version += 1;
            Entry(version)
        };
        for id in ["a", "b", "c"] {
            shard.put(id, next(), true, Some(8));
            shard.put(id, next(), true, Some(8));
        }
        for flood in 0..1_000 {
            shard.put(&format!("new{flood}"), next(), true, Some(8));
            assert!(shard.len() <= 8);
        }
        for id in ["a", "b", "c"] {
            assert!(shard.get(id).is_some(), "{id} was evicted by the flood");
        }
        assert_eq!(shard.entries["a"].1, Segment::Protected);
        assert!(shard.get("new999").is_some() && shard.get("new0").is_none());
    }

    #[test]
    fn protected_is_capped_and_its_oldest_go_first_when_it_must_shrink() {
        let mut shard = Shard::default();
        for (version, id) in (1..)
            .step_by(2)
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            shard.put(id, Entry(version), true, Some(8));
            shard.put(id, Entry(version + 1), true, Some(8));
        }
        assert_eq!(shard.len(), 8);
        assert_eq!(shard.protected.len(), 6, "three quarters of 8");
        shard.put("x", Entry(100), true, Some(8));
        assert!(
            shard.get("a").is_none(),
            "the oldest demoted entry went first"
        );
        assert!(shard.get("h").is_some());
        assert_eq!(shard.probation.len() + shard.protected.len(), shard.len());
    }

    #[test]
    fn sweep_and_take_keep_the_indices_in_step() {
        let mut shard = Shard::default();
        for version in 1..=10 {
            shard.put(&format!("k{version}"), Entry(version), false, None);
        }
        assert_eq!(shard.sweep(6), 5, "deadlines 1 to 5 are before 6");
        assert!(shard.take("k6").is_some());
        assert_eq!(shard.len(), 4);
        assert_eq!(shard.probation.len() + shard.protected.len(), 4);
    }
}
