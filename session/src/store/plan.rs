//! [`WritePlan`]: one save, decided by the manager and executed by a store: which record the
//! changes apply onto and what must be found there, where the result goes, what happens to the
//! old id, the changes themselves, and the timestamps and deadline to stamp.

use crate::data::{Json, Map, Session};
use crate::expiry::{Expiry, Lifetime, Timestamps};
use crate::id::SessionId;
use crate::owner::{Label, Owner, OwnerLimit, WhenFull};
use crate::store::{OwnedRecord, Record, Version, WriteOutcome, record};

/// What a plan expects to find under its [base](WritePlan::base) id.
///
/// # Examples
///
/// ```
/// use session::store::{Expect, Version};
///
/// let expect = Expect::Loaded(Version::new(7));
/// assert_ne!(expect, Expect::Vacant);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// The record this request loaded, which was at this version. A store may find a later
    /// version (a concurrent save): it merges onto that. If the record is gone, the write is
    /// [`Gone`](crate::store::WriteOutcome::Gone) and nothing is written.
    Loaded(Version),
    /// Some record, whatever its version: the manager is following a forward. Gone as above.
    Existing,
    /// Nothing: the id was drawn in this request. If anything is stored under it, the write is
    /// [`Taken`](crate::store::WriteOutcome::Taken) and nothing is written.
    Vacant,
    /// A record or nothing (an id adopted from the client): merge onto it, or create it.
    Any,
}

/// What becomes of the base id when a plan moves the session to a new id.
///
/// # Examples
///
/// ```
/// use session::store::Retire;
///
/// assert_ne!(Retire::Keep, Retire::Forward { until: 1_030 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retire {
    /// The base record stays as it was.
    Keep,
    /// The base record is deleted.
    Delete,
    /// The base record is replaced by a forward to the target, kept until the Unix second
    /// `until`: a request that loaded the base before this write can still land its changes
    /// (see [`Stored::Forward`](crate::store::Stored::Forward)). A store treats a forward past
    /// `until` as absent.
    Forward {
        /// The last Unix second the forward is followed.
        until: u64,
    },
    /// The session [started over](crate::Session::start_over): the base record is replaced
    /// by a marker, kept until the Unix second `until`, that answers a late write of the old
    /// session with [`Superseded`](crate::store::WriteOutcome::Superseded) (see
    /// [`Stored::Superseded`](crate::store::Stored::Superseded)). Past `until` it is absent.
    Supersede {
        /// The last Unix second the marker is kept.
        until: u64,
    },
}

/// One save, made by the [`SessionManager`](crate::SessionManager) and executed, atomically, by
/// a [`SessionStore`](crate::SessionStore).
///
/// Every decision is already made: the store reads what is under [`base`](Self::base), checks it
/// against [`expect`](Self::expect), applies the changes onto it ([`Record::apply`]), writes the
/// result under [`target`](Self::target) and [retires](Self::retire) the base if the session
/// moved. When the target differs from the base it is a newly drawn id, and anything stored
/// under it makes the write [`Taken`](crate::store::WriteOutcome::Taken).
///
/// # Examples
///
/// Plans are made by the manager; a store reads them. This one is a first save of a new session:
///
/// ```
/// use session::{MemoryStorage, SessionCookie, SessionManager};
/// use session::store::Expect;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
/// let mut session = sessions.load(None).await?;
/// session.set("n", 1)?;
/// let plan = sessions.plan(&session).expect("a dirty session is written");
/// assert_eq!(plan.expect(), Expect::Vacant);
/// assert_eq!(plan.base(), plan.target());
/// assert_eq!(plan.changes().count(), 1);
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct WritePlan<'a> {
    pub(crate) base: &'a SessionId,
    pub(crate) target: &'a SessionId,
    pub(crate) expect: Expect,
    pub(crate) retire: Retire,
    pub(crate) session: &'a Session,
    pub(crate) timestamps: Timestamps,
    /// The manager's policy; a session's [`Lifetime`] adjusts it.
    pub(crate) expiry: Expiry,
    /// The manager's cap on sessions per owner.
    pub(crate) owner_limit: Option<OwnerLimit>,
}

impl<'a> WritePlan<'a> {
    /// Returns the id whose record the changes apply onto.
    #[must_use]
    pub fn base(&self) -> &'a SessionId {
        self.base
    }

    /// Returns the id to write the result under: the base, or a newly drawn id.
    #[must_use]
    pub fn target(&self) -> &'a SessionId {
        self.target
    }

    /// Returns whether the session moves to a new id (a regeneration).
    #[must_use]
    pub fn moves(&self) -> bool {
        self.base != self.target
    }

    /// Returns what must be found under the base.
    #[must_use]
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// Returns what becomes of the base when the session [moves](Self::moves); `Keep` when it
    /// does not.
    #[must_use]
    pub fn retire(&self) -> Retire {
        self.retire
    }

    /// Returns whether the session [started over](crate::Session::start_over): nothing stored
    /// under the base carries over, and [`check`](Self::check) answers [`Write::Whole`] for a
    /// record found there.
    #[must_use]
    pub fn starts_over(&self) -> bool {
        self.session.started_over() && self.moves()
    }

    /// Returns each value this request set (`Some`) or removed (`None`).
    pub fn changes(&self) -> impl Iterator<Item = (&'a str, Option<&'a Json>)> + use<'a> {
        self.session.changes()
    }

    /// Returns the flash that arrived with the request: each entry is removed from the stored
    /// flash only if it still holds that value.
    #[must_use]
    pub fn consumed_flash(&self) -> &'a Map {
        self.session.incoming_flash()
    }

    /// Returns the flash set for the next request.
    #[must_use]
    pub fn new_flash(&self) -> &'a Map {
        self.session.outgoing_flash()
    }

    /// Returns every value the session ends the request with. Together with
    /// [`new_flash`](Self::new_flash) this is the whole record, when the base still holds the
    /// version the request loaded ([`Expect::Loaded`]) or nothing ([`Expect::Vacant`]): a
    /// store that can tell may write it without merging.
    #[must_use]
    pub fn values(&self) -> &'a Map {
        self.session.values()
    }

    /// Returns the timestamps to stamp: the session's creation time and this request's time.
    /// A store keeps the creation time of a record it merges onto.
    #[must_use]
    pub fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    /// Returns this request's time, in Unix seconds.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.timestamps.renewed
    }

    /// Returns the session's [`Lifetime`] as this request leaves it.
    #[must_use]
    pub fn lifetime(&self) -> Lifetime {
        self.session.lifetime()
    }

    /// Returns the lifetime this request chose, when it changed it: only then does a store
    /// write it. A merge keeps the stored lifetime otherwise, so a concurrent request that did
    /// not touch it never undoes another's choice.
    #[must_use]
    pub fn lifetime_change(&self) -> Option<Lifetime> {
        self.session.lifetime_change()
    }

    /// Returns the Unix second after which the written record is dead; `None`: never. For a
    /// store that merges onto a stored record whose lifetime this request did not change,
    /// [`deadline_for`](Self::deadline_for) that record's lifetime is the one to keep.
    #[must_use]
    pub fn deadline(&self) -> Option<u64> {
        self.deadline_for(self.lifetime())
    }

    /// Returns the deadline of the written record if its lifetime is `lifetime`.
    #[must_use]
    pub fn deadline_for(&self, lifetime: Lifetime) -> Option<u64> {
        self.expiry.for_lifetime(lifetime).deadline(self.timestamps)
    }

    /// Returns the record's time to live in whole seconds (at least 1), for stores with TTLs;
    /// `None` when it never expires.
    #[must_use]
    pub fn ttl(&self) -> Option<u64> {
        self.ttl_for(self.lifetime())
    }

    /// Returns what remains of the policy's absolute timeout, in whole seconds (at least 1):
    /// the cap on a persistent lifetime's time to live, for a store that works out the time
    /// to live from the lifetime it holds. `None` without an absolute timeout.
    #[must_use]
    pub fn absolute_ttl(&self) -> Option<u64> {
        self.expiry.absolute_timeout().map(|absolute| {
            self.timestamps
                .created
                .saturating_add(absolute.as_secs())
                .saturating_sub(self.now())
                .max(1)
        })
    }

    /// Returns the time to live of the written record if its lifetime is `lifetime`.
    #[must_use]
    pub fn ttl_for(&self, lifetime: Lifetime) -> Option<u64> {
        self.deadline_for(lifetime)
            .map(|deadline| deadline.saturating_sub(self.now()).max(1))
    }

    /// Returns whom the session belongs to as this request leaves it (see
    /// [`Session::set_owner`](crate::Session::set_owner)).
    #[must_use]
    pub fn owner(&self) -> Option<&'a Owner> {
        self.session.owner()
    }

    /// Returns how this request changed the owner: only a change is written, as with
    /// [`lifetime_change`](Self::lifetime_change).
    #[must_use]
    pub fn owner_change(&self) -> Change<&'a Owner> {
        self.session.owner_change()
    }

    /// Returns the session's label as this request leaves it.
    #[must_use]
    pub fn label(&self) -> Option<&'a Label> {
        self.session.label()
    }

    /// Returns how this request changed the label.
    #[must_use]
    pub fn label_change(&self) -> Change<&'a Label> {
        self.session.label_change()
    }

    /// Returns the manager's cap on sessions per owner, which a store enforces with
    /// [`admit`](Self::admit) whenever a write [joins](OwnerIndex::joins) a session to an owner.
    #[must_use]
    pub fn owner_limit(&self) -> Option<OwnerLimit> {
        self.owner_limit
    }

    /// How this write changes the owner → sessions index, given the owner of the record under
    /// the base before it (`before`; `None` for nothing there) and of the record it writes
    /// (`after`: [`Record::owner`] of the result). A store removes the base from the index of
    /// [`leaves`](OwnerIndex::leaves) and adds the target to the index of
    /// [`joins`](OwnerIndex::joins), in the same atomic step as the write; when neither is
    /// set, the index stays as it is (the common save).
    #[must_use]
    pub fn index_change<'o>(
        &self,
        before: Option<&'o Owner>,
        after: Option<&'o Owner>,
    ) -> OwnerIndex<'o> {
        if self.moves() {
            // The target is new; the base leaves unless it is kept as it was.
            let kept = self.retire == Retire::Keep;
            return OwnerIndex {
                leaves: before.filter(|_| !kept),
                joins: after,
            };
        }
        let changed = before != after;
        OwnerIndex {
            leaves: before.filter(|_| changed),
            joins: after.filter(|_| changed),
        }
    }

    /// Returns the owner this write joins the session to as the request sees it, before the
    /// store reads anything: the owner it sets, or the session's owner when it moves to a new
    /// id. A store that must lock an owner before its rows (as `end_owned` does) locks this
    /// one, then checks [`index_change`](Self::index_change)`.joins` against it, since a
    /// concurrent request may have changed the stored owner.
    #[must_use]
    pub fn expected_join(&self) -> Option<&'a Owner> {
        match self.owner_change() {
            Change::Set(owner) => Some(owner),
            Change::Keep if self.moves() => self.owner(),
            Change::Keep | Change::Clear => None,
        }
    }

    /// Applies the [owner limit](Self::owner_limit) to a write that
    /// [joins](OwnerIndex::joins) the target to an owner: given that owner's live sessions (the
    /// base and target among them are not counted), returns the ids to end to make room (the
    /// least recently used first) or, when the limit refuses,
    /// [`WriteOutcome::OwnerFull`]. The store ends them in the same atomic step as the write.
    ///
    /// # Errors
    ///
    /// [`WriteOutcome::OwnerFull`] when the owner is full and the limit refuses.
    pub fn admit<'r>(&self, owned: &'r [OwnedRecord]) -> Result<Vec<&'r SessionId>, WriteOutcome> {
        let Some(limit) = self.owner_limit else {
            return Ok(Vec::new());
        };
        let mut others: Vec<&OwnedRecord> = owned
            .iter()
            .filter(|entry| &entry.id != self.base && &entry.id != self.target)
            .filter(|entry| entry.deadline.is_none_or(|deadline| deadline >= self.now()))
            .collect();
        let room = limit.max() - 1;
        if others.len() <= room {
            return Ok(Vec::new());
        }
        if limit.when_full() == WhenFull::Refuse {
            return Err(WriteOutcome::OwnerFull { limit: limit.max() });
        }
        others.sort_by_key(|entry| (entry.timestamps.renewed, entry.timestamps.created));
        let excess = others.len() - room;
        Ok(others
            .into_iter()
            .take(excess)
            .map(|entry| &entry.id)
            .collect())
    }

    /// The whole record this request leaves when nothing else was stored meanwhile (see
    /// [`values`](Self::values)).
    #[must_use]
    pub fn to_record(&self) -> Record {
        Record::new(
            self.values().clone(),
            self.new_flash().clone(),
            self.timestamps,
        )
        .with_lifetime(self.lifetime())
        .with_deadline(self.deadline())
        .with_owner(self.owner().cloned())
        .with_label(self.label().cloned())
    }

    /// [`to_record`](Self::to_record) serialized, without copying the session first.
    #[must_use]
    pub fn to_record_json(&self) -> Vec<u8> {
        record::to_json(
            self.values(),
            self.new_flash(),
            record::Stamp {
                timestamps: self.timestamps,
                lifetime: self.lifetime(),
                deadline: self.deadline(),
                owner: self.owner(),
                label: self.label(),
            },
        )
    }

    /// Checks what the store found under the [base](Self::base) against the plan: the outcome
    /// that writes nothing (a drawn id [`Taken`](WriteOutcome::Taken), a forward
    /// [`Moved`](WriteOutcome::Moved), a loaded record [`Gone`](WriteOutcome::Gone)), or how
    /// to write. Every store decides through this one rule; a forward past its `until` counts
    /// as [`Found::Nothing`].
    ///
    /// # Errors
    ///
    /// The [`WriteOutcome`] to answer without writing anything.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session::{MemoryStorage, SessionCookie, SessionManager};
    /// use session::store::{Found, Version, Write, WriteOutcome};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
    /// let sessions = SessionManager::new(cookie, MemoryStorage::new());
    /// let mut session = sessions.load(None).await?;
    /// session.set("n", 1)?;
    /// let plan = sessions.plan(&session).unwrap(); // a new session: its id must be vacant
    /// assert_eq!(plan.check(Found::Nothing), Ok(Write::Whole));
    /// assert_eq!(plan.check(Found::Record(Version::new(3))), Err(WriteOutcome::Taken));
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub fn check(&self, found: Found<'_>) -> Result<Write, WriteOutcome> {
        match (found, self.expect) {
            (Found::Nothing, Expect::Loaded(_) | Expect::Existing) => Err(WriteOutcome::Gone),
            (Found::Nothing, Expect::Vacant | Expect::Any) => Ok(Write::Whole),
            (Found::Forward(_) | Found::Superseded | Found::Record(_), Expect::Vacant) => {
                Err(WriteOutcome::Taken)
            }
            (Found::Forward(to), _) => Err(WriteOutcome::Moved { to: to.clone() }),
            (Found::Superseded, _) => Err(WriteOutcome::Superseded),
            (Found::Record(_), _) if self.starts_over() => Ok(Write::Whole),
            (Found::Record(version), Expect::Loaded(loaded))
                if version == loaded && version != Version::UNVERSIONED =>
            {
                Ok(Write::Whole)
            }
            (Found::Record(_), _) => Ok(Write::Merge),
        }
    }
}

/// What a store found under a plan's base, for [`WritePlan::check`].
///
/// # Examples
///
/// ```
/// use session::store::{Found, Version};
///
/// let found = Found::Record(Version::UNVERSIONED); // a store that keeps no versions
/// assert!(matches!(found, Found::Record(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found<'a> {
    /// Nothing, or a forward or marker past its time.
    Nothing,
    /// A live forward to this id.
    Forward(&'a SessionId),
    /// A live marker left by a session that [started over](crate::Session::start_over).
    Superseded,
    /// A record of this version ([`Version::UNVERSIONED`] for a store that keeps none, or for
    /// a record it cannot read).
    Record(Version),
}

/// How a store writes a plan that [passed its check](WritePlan::check).
///
/// # Examples
///
/// ```
/// assert_ne!(session::store::Write::Whole, session::store::Write::Merge);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Write the request's whole state ([`WritePlan::to_record`] or
    /// [`to_record_json`](WritePlan::to_record_json)): the base is vacant, or still at the
    /// version the request loaded.
    Whole,
    /// Apply the changes onto the stored record ([`Record::apply`]); a record the store cannot
    /// read is replaced by the whole state.
    Merge,
}

/// How a request changed one of a session's fields (its [owner](WritePlan::owner_change) or
/// [label](WritePlan::label_change)): a store writes only a change, so a concurrent request
/// that did not touch the field never undoes another's.
///
/// # Examples
///
/// ```
/// use session::store::Change;
///
/// assert_eq!(Change::Set(2).applied_to(Some(1)), Some(2));
/// assert_eq!(Change::Keep.applied_to(Some(1)), Some(1));
/// assert_eq!(Change::<u8>::Clear.applied_to(Some(1)), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<T> {
    /// Unchanged: keep what is stored.
    Keep,
    /// Set to this.
    Set(T),
    /// Removed.
    Clear,
}

impl<T> Change<T> {
    /// The change from `before` to `after`.
    pub(crate) fn between(before: Option<&T>, after: Option<T>) -> Self
    where
        T: PartialEq,
    {
        match after {
            _ if before == after.as_ref() => Self::Keep,
            Some(value) => Self::Set(value),
            None => Self::Clear,
        }
    }

    /// The field after the change, given what is stored.
    ///
    /// # Examples
    ///
    /// See [`Change`].
    pub fn applied_to(self, stored: Option<T>) -> Option<T> {
        match self {
            Self::Keep => stored,
            Self::Set(value) => Some(value),
            Self::Clear => None,
        }
    }

    /// Whether the request changed the field.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::store::Change::<u8>::Keep.is_change());
    /// ```
    pub fn is_change(&self) -> bool {
        !matches!(self, Self::Keep)
    }
}

/// How one write changes the owner → sessions index (see [`WritePlan::index_change`]).
///
/// # Examples
///
/// ```
/// # use session::{MemoryStorage, OldId, SessionCookie, SessionManager};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
/// let mut session = sessions.load(None).await?;
/// session.set_owner("user-42")?;
/// let plan = sessions.plan(&session).unwrap();
/// let index = plan.index_change(None, plan.owner());
/// assert_eq!(index.joins.map(|owner| owner.as_str()), Some("user-42"));
/// assert_eq!(index.leaves, None);
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnerIndex<'o> {
    /// The owner whose index loses the base id.
    pub leaves: Option<&'o Owner>,
    /// The owner whose index gains the target id: the [limit](WritePlan::admit) applies.
    pub joins: Option<&'o Owner>,
}

/// A [`WritePlan`] that owns its data, for a store that hands the write to another thread
/// (a blocking pool): [`as_plan`](Self::as_plan) lends the same plan back.
///
/// # Examples
///
/// ```
/// # use session::{MemoryStorage, SessionCookie, SessionManager};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let cookie = SessionCookie::builder("sid").secret([3u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, MemoryStorage::new());
/// let mut session = sessions.load(None).await?;
/// session.set("n", 1)?;
/// let owned = sessions.plan(&session).unwrap().to_owned_plan();
/// let worker = std::thread::spawn(move || owned.as_plan().changes().count());
/// assert_eq!(worker.join().unwrap(), 1);
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OwnedWritePlan {
    base: SessionId,
    target: SessionId,
    expect: Expect,
    retire: Retire,
    session: Session,
    timestamps: Timestamps,
    expiry: Expiry,
    owner_limit: Option<OwnerLimit>,
}

impl WritePlan<'_> {
    /// Copies the plan into one that owns its data.
    ///
    /// # Examples
    ///
    /// See [`OwnedWritePlan`].
    #[must_use]
    pub fn to_owned_plan(&self) -> OwnedWritePlan {
        OwnedWritePlan {
            base: self.base.clone(),
            target: self.target.clone(),
            expect: self.expect,
            retire: self.retire,
            session: self.session.clone(),
            timestamps: self.timestamps,
            expiry: self.expiry,
            owner_limit: self.owner_limit,
        }
    }
}

impl OwnedWritePlan {
    /// Lends the plan.
    ///
    /// # Examples
    ///
    /// See [`OwnedWritePlan`].
    #[must_use]
    pub fn as_plan(&self) -> WritePlan<'_> {
        WritePlan {
            base: &self.base,
            target: &self.target,
            expect: self.expect,
            retire: self.retire,
            session: &self.session,
            timestamps: self.timestamps,
            expiry: self.expiry,
            owner_limit: self.owner_limit,
        }
    }
}
