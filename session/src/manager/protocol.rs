//! The save protocol, written once for every store: what a load serves, whether a commit
//! writes, the plan it hands the store, and what each outcome means for the response (drawing
//! a new id when a drawn one is taken, following a regeneration's forward, and refusing to
//! resurrect a destroyed session).

use crate::data::{Map, OldId, Session};
use crate::error::{Error, Result};
use crate::expiry::{Expiry, Timestamps};
use crate::id::SessionId;
use crate::manager::loaded::{Arrival, Base, LoadedSession, Origin};
use crate::owner::OwnerLimit;
use crate::store::{Expect, Retire, SessionStore, Stored, WriteOutcome, WritePlan};

/// How many times a commit draws a new id for a taken one, or follows a forward, before it
/// gives up. Ids are 192 random bits: a collision only happens when a client planted the id.
const MAX_ATTEMPTS: usize = 8;

/// The manager's settings the protocol reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) expiry: Expiry,
    pub(crate) use_unknown_ids: bool,
    /// Seconds a regenerated session's old id forwards to the new one; 0: no forward.
    pub(crate) grace: u64,
    /// The cap on sessions per owner.
    pub(crate) owner_limit: Option<OwnerLimit>,
}

/// What a write to the store did.
#[derive(Debug)]
pub(crate) enum Saved {
    /// Written under this id: sign it into the cookie.
    Written(SessionId),
    /// Written into the session a concurrent regeneration moved this one to.
    Forwarded,
    /// The record was destroyed (or expired) by someone else meanwhile: nothing written.
    Interrupted,
    /// The record was started over by someone else meanwhile: nothing written.
    Superseded,
}

/// A session nobody stored yet, under a newly drawn id.
pub(crate) fn fresh(cookie: Arrival, now: u64) -> LoadedSession {
    let session = Session::new();
    let origin = Origin {
        cookie,
        base_id: session.id().clone(),
        base: Base::Fresh,
        timestamps: Timestamps::at(now),
        signed_base: None,
    };
    LoadedSession::new(session, origin)
}

/// The id in a verified cookie value, if it has the shape of one. An empty value is no id; a
/// malformed one is logged and is no id either.
fn incoming_id(value: Option<&str>) -> Option<SessionId> {
    let raw = value.filter(|value| !value.is_empty())?;
    let id = raw.parse::<SessionId>().ok();
    if id.is_none() {
        crate::audit::rejected("invalid-id");
    }
    id
}

/// Loads the session for a verified cookie value (`None`: no usable cookie) from `store`.
pub(crate) async fn load<S: SessionStore + ?Sized>(
    store: &S,
    value: Option<&str>,
    cookie: Arrival,
    policy: Policy,
    now: u64,
) -> Result<LoadedSession> {
    let Some(id) = incoming_id(value) else {
        return Ok(fresh(cookie, now));
    };
    match store.load(&id).await? {
        Some(Stored::Record { record, version }) => {
            let timestamps = record.timestamps();
            let lifetime = record.lifetime();
            if let Err(reason) = policy.expiry.for_lifetime(lifetime).check(timestamps, now) {
                crate::audit::expired(reason);
                store.delete(&[&id]).await?;
                return Ok(fresh(cookie, now));
            }
            let (owner, label) = (record.owner().cloned(), record.label().cloned());
            let (values, flash) = record.into_parts();
            let origin = Origin {
                cookie,
                base_id: id.clone(),
                base: Base::Stored(version),
                timestamps,
                signed_base: None,
            };
            let mut session = Session::from_parts(id, values, flash);
            session.restore_lifetime(lifetime);
            session.restore_owner(owner, label);
            Ok(LoadedSession::new(session, origin))
        }
        // A forward is never served: whoever holds the old id of a regenerated session gets
        // a new one, which is what the regeneration was for.
        Some(Stored::Forward { .. } | Stored::Superseded) | None if policy.use_unknown_ids => {
            let origin = Origin {
                cookie,
                base_id: id.clone(),
                base: Base::Adopted,
                timestamps: Timestamps::at(now),
                signed_base: None,
            };
            Ok(LoadedSession::new(
                Session::from_parts(id, Map::new(), Map::new()),
                origin,
            ))
        }
        Some(Stored::Forward { .. } | Stored::Superseded) | None => Ok(fresh(cookie, now)),
    }
}

/// Whether committing must write: any change, a cookie signed by an old secret, or half the
/// idle window gone since the last write.
pub(crate) fn needs_write(loaded: &LoadedSession, expiry: Expiry, now: u64) -> bool {
    loaded.session.is_dirty()
        || loaded.origin.cookie == (Arrival::Verified { resend: true })
        || expiry
            .for_lifetime(loaded.session.lifetime())
            .renewal_due(loaded.origin.timestamps, now)
}

/// The first plan for a live session that needs writing: its base, target and expectation,
/// and what becomes of the base.
pub(crate) fn first_plan(loaded: &LoadedSession, policy: Policy, now: u64) -> WritePlan<'_> {
    let session = &loaded.session;
    let origin = &loaded.origin;
    let (base, expect) = match origin.base {
        // Never stored: whatever id it had, the first write is under its current id.
        Base::Fresh => (session.id(), Expect::Vacant),
        Base::Adopted => (&origin.base_id, Expect::Any),
        Base::Stored(version) => (&origin.base_id, Expect::Loaded(version)),
    };
    let until = now.saturating_add(policy.grace);
    let retire = match session.regeneration() {
        Some(OldId::Delete) if policy.grace > 0 && session.started_over() => {
            Retire::Supersede { until }
        }
        Some(OldId::Delete) if policy.grace > 0 => Retire::Forward { until },
        Some(OldId::Delete) => Retire::Delete,
        Some(OldId::Keep) | None => Retire::Keep,
    };
    let timestamps = origin.timestamps.renewed_at(now);
    WritePlan {
        base,
        target: session.id(),
        expect,
        retire: if base == session.id() {
            Retire::Keep
        } else {
            retire
        },
        session,
        timestamps,
        expiry: policy.expiry,
        owner_limit: policy.owner_limit,
    }
}

/// Deletes what a destroyed session left in `store`: the record it was loaded from and
/// whatever its current id names. A session nobody stored leaves nothing.
pub(crate) async fn delete<S: SessionStore + ?Sized>(
    store: &S,
    loaded: &LoadedSession,
) -> Result<()> {
    let (base, current) = (&loaded.origin.base_id, loaded.session.id());
    match loaded.origin.base {
        Base::Fresh => Ok(()),
        _ if base == current => store.delete(&[base]).await,
        _ => store.delete(&[base, current]).await,
    }
}

/// Writes a live session that needs writing to `store`: the plan, then what each outcome
/// asks for (a new id for a taken one, following a forward, or giving up on a session that
/// is gone).
pub(crate) async fn write<S: SessionStore + ?Sized>(
    store: &S,
    loaded: &LoadedSession,
    policy: Policy,
    now: u64,
) -> Result<Saved> {
    let first = first_plan(loaded, policy, now);
    // Ids this commit drew or followed; the plan borrows them.
    let mut base: SessionId = first.base.clone();
    let mut target: SessionId = first.target.clone();
    let mut expect = first.expect;
    let mut retire = first.retire;
    let mut forwarded = false;
    for _ in 0..MAX_ATTEMPTS {
        let plan = WritePlan {
            base: &base,
            target: &target,
            expect,
            retire,
            ..first.clone()
        };
        let outcome = store.write(&plan).await?;
        match outcome {
            WriteOutcome::Written if forwarded => return Ok(Saved::Forwarded),
            WriteOutcome::Written => return Ok(Saved::Written(target)),
            WriteOutcome::Taken => {
                tracing::warn!("generated session id collided with a stored one; drawing another");
                let drawn = SessionId::generate();
                if base == target {
                    base = drawn.clone();
                }
                target = drawn;
            }
            WriteOutcome::Gone => {
                tracing::info!(
                    target: "session::security",
                    reason = "interrupted",
                    "session was destroyed by another request; nothing saved"
                );
                return Ok(Saved::Interrupted);
            }
            WriteOutcome::OwnerFull { limit } => {
                tracing::info!(
                    target: "session::security",
                    reason = "owner-limit",
                    limit,
                    "login refused: its owner has as many sessions as allowed"
                );
                return Err(Error::OwnerLimit { limit });
            }
            WriteOutcome::Superseded => {
                tracing::info!(
                    target: "session::security",
                    reason = "superseded",
                    "session was started over by another request; this request's changes dropped"
                );
                return Ok(Saved::Superseded);
            }
            // A session starting over whose base another login moved meanwhile: it carries
            // nothing over, so it is written under its own new id alone.
            WriteOutcome::Moved { .. } if first.starts_over() => {
                base = target.clone();
                expect = Expect::Vacant;
                retire = Retire::Keep;
            }
            WriteOutcome::Moved { to } => match expect {
                // Loaded before a concurrent regeneration moved it: land the changes in the
                // new record, keep it there, and hand out no id.
                Expect::Loaded(_) | Expect::Existing => {
                    base = to.clone();
                    target = to;
                    expect = Expect::Existing;
                    retire = Retire::Keep;
                    forwarded = true;
                }
                // An adopted id that turns out to be a forward: it was never this request's
                // to follow. Start over under a new id.
                Expect::Any | Expect::Vacant => {
                    let drawn = SessionId::generate();
                    base = drawn.clone();
                    target = drawn;
                    expect = Expect::Vacant;
                    retire = Retire::Keep;
                }
            },
        }
    }
    Err(Error::storage(format!(
        "the session could not be saved in {MAX_ATTEMPTS} attempts (drawn ids taken or forwards chained)"
    )))
}
