//! A store written the way another crate would write one, from public items only: a
//! `BTreeMap` behind a mutex, with a version per record. The conformance kit runs on it
//! (`conformance::kit::btreemap`), which proves the contract can be met from outside, owner
//! index and limit included (here the index is a scan: every call holds the one mutex).

use std::collections::BTreeMap;
use std::sync::Mutex;

use session::owner::Owner;
use session::store::{
    Ending, Found, OwnedRecord, Record, Retire, Stored, Version, Write, WriteOutcome, WritePlan,
};
use session::{SessionId, SessionStore};

/// What the map holds under an id.
#[derive(Debug, Clone)]
enum Entry {
    Record { record: Record, version: Version },
    Forward { to: SessionId, until: u64 },
    Superseded { until: u64 },
}

/// Sessions in a `BTreeMap`.
#[derive(Debug, Default)]
pub(crate) struct BTreeMapStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<SessionId, Entry>,
    versions: u64,
}

impl Inner {
    /// The live entry under `id` at `now`: forwards past their time are gone.
    fn live(&self, id: &SessionId, now: u64) -> Option<&Entry> {
        self.entries.get(id).filter(|entry| match entry {
            Entry::Forward { until, .. } | Entry::Superseded { until } => *until >= now,
            Entry::Record { .. } => true,
        })
    }

    fn next_version(&mut self) -> Version {
        self.versions += 1;
        Version::new(self.versions)
    }

    /// `owner`'s live records.
    fn owned(&self, owner: &Owner, now: u64) -> Vec<OwnedRecord> {
        self.entries
            .iter()
            .filter_map(|(id, entry)| match entry {
                Entry::Record { record, .. }
                    if record.owner() == Some(owner)
                        && record.deadline().is_none_or(|deadline| deadline >= now) =>
                {
                    Some(OwnedRecord::of(id.clone(), record))
                }
                _ => None,
            })
            .collect()
    }
}

impl SessionStore for BTreeMapStore {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.entries.get(id).map(|entry| match entry {
            Entry::Record { record, version } => Stored::Record {
                record: record.clone(),
                version: *version,
            },
            Entry::Forward { to, .. } => Stored::Forward { to: to.clone() },
            Entry::Superseded { .. } => Stored::Superseded,
        }))
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        let mut inner = self.inner.lock().unwrap();
        let now = plan.now();
        let current = inner.live(plan.base(), now).cloned();
        let found = match &current {
            None => Found::Nothing,
            Some(Entry::Forward { to, .. }) => Found::Forward(to),
            Some(Entry::Superseded { .. }) => Found::Superseded,
            Some(Entry::Record { version, .. }) => Found::Record(*version),
        };
        let write = match plan.check(found) {
            Ok(write) => write,
            Err(outcome) => return Ok(outcome),
        };
        if plan.moves() && inner.live(plan.target(), now).is_some() {
            return Ok(WriteOutcome::Taken);
        }
        let before = match &current {
            Some(Entry::Record { record, .. }) => record.owner().cloned(),
            _ => None,
        };
        let record = match (write, current) {
            (Write::Merge, Some(Entry::Record { mut record, .. })) => {
                record.apply(plan);
                record
            }
            _ => plan.to_record(),
        };
        // The index is the records themselves; only the limit needs work.
        if let Some(owner) = plan.index_change(before.as_ref(), record.owner()).joins {
            let owned = inner.owned(owner, now);
            match plan.admit(&owned) {
                Ok(ended) => {
                    for id in ended {
                        inner.entries.remove(id);
                    }
                }
                Err(outcome) => return Ok(outcome),
            }
        }
        let version = inner.next_version();
        inner
            .entries
            .insert(plan.target().clone(), Entry::Record { record, version });
        if plan.moves() {
            match plan.retire() {
                Retire::Delete => {
                    inner.entries.remove(plan.base());
                }
                Retire::Forward { until } => {
                    let forward = Entry::Forward {
                        to: plan.target().clone(),
                        until,
                    };
                    inner.entries.insert(plan.base().clone(), forward);
                }
                Retire::Supersede { until } => {
                    let marker = Entry::Superseded { until };
                    inner.entries.insert(plan.base().clone(), marker);
                }
                _ => {}
            }
        }
        Ok(WriteOutcome::Written)
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        let mut inner = self.inner.lock().unwrap();
        for id in ids {
            inner.entries.remove(*id);
        }
        Ok(())
    }

    async fn owned(&self, owner: &Owner, now: u64) -> session::Result<Vec<OwnedRecord>> {
        Ok(self.inner.lock().unwrap().owned(owner, now))
    }

    async fn end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
        now: u64,
    ) -> session::Result<usize> {
        let mut inner = self.inner.lock().unwrap();
        let ended: Vec<SessionId> = inner
            .owned(owner, now)
            .into_iter()
            .map(|entry| entry.id)
            .filter(|id| which.includes(id))
            .collect();
        for id in &ended {
            inner.entries.remove(id);
        }
        Ok(ended.len())
    }
}
