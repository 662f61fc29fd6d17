//! Redis Cluster: the same promises as on one server, with keys that a script may touch
//! together in one hash slot.
//!
//! - A session's hash and its forward are tagged with its id (`<prefix>{<id>}`,
//!   `<prefix>>{<id>}`), so every save that keeps its id is one script on one slot, as on a
//!   single server.
//! - An owner's set and its lock are tagged with the owner (`<prefix>@{<owner>}`,
//!   `<prefix>!{<owner>}`). A write that joins or leaves an owner, and every ending, runs
//!   under that owner's lock (`SET NX PX`, released by token), so two logins past the limit,
//!   or a login racing "log out everywhere", are serialized as the single server's script
//!   serializes them. The set is kept a superset: an id is added before its session says so,
//!   and removed after; listing and ending check each session's own hash.
//! - A regeneration moves a session to another slot in two atomic steps: the new hash is
//!   written (a copy of the old one, read in a transaction of reads, plus the request's
//!   changes), then the old one is replaced by its forward, only if it still holds what was
//!   copied; a change between the two (a concurrent save) deletes the copy and starts again,
//!   so nothing is lost.
//!   If the second step fails (the old id's node is down), the old session stays as it was
//!   and the commit fails; the new hash, whose id no client has, expires on its TTL. If that
//!   node was only slow, the forward may still land: the old id then forwards to the new
//!   session, and since a forward is never served, the browser whose login failed is logged
//!   out.

use futures_util::future::try_join_all;
use redis::{Script, Value};

use super::RedisStorage;
use super::connection::Conn;
use super::hash::HashChanges;
use crate::error::{Error, Result};
use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::owner::Owner;
use crate::store::{
    Change, Ending, Expect, OwnedRecord, OwnerIndex, Retire, WriteOutcome, WritePlan,
};

/// How many times a write that found its session changed under it starts again.
const ATTEMPTS: usize = 8;

/// The scripts of the Cluster mode, each on one slot.
pub(super) struct ClusterScripts {
    update: Script,
    write: Script,
    retire: Script,
    index: Script,
    row: Script,
    end_one: Script,
    unlock: Script,
}

impl ClusterScripts {
    pub(super) fn new() -> Self {
        Self {
            update: Script::new(UPDATE),
            write: Script::new(WRITE),
            retire: Script::new(RETIRE),
            index: Script::new(INDEX),
            row: Script::new(ROW),
            end_one: Script::new(END_ONE),
            unlock: Script::new(UNLOCK),
        }
    }
}

/// What a write script answered.
enum Reply {
    /// Written; the owner the hash ends with, and its TTL (0: none).
    Written(Option<String>, u64),
    Gone,
    Taken,
    /// The stored owner is not the one the write expected.
    OwnerChanged,
    /// The base had moved (or started over).
    Forwarded(WriteOutcome),
}

/// What the base holds before a write that needs the lock or moves.
struct Base {
    owner: Option<Owner>,
    /// Its `HGETALL` reply: copied by a move, and compared before the base is retired.
    fields: Vec<Value>,
}

/// One pass of a locked write: done, or to start again.
enum Step {
    Done(WriteOutcome),
    Again,
}

impl RedisStorage {
    fn scripts(&self) -> &ClusterScripts {
        self.shared
            .cluster
            .as_ref()
            .expect("the Cluster mode has its scripts")
    }

    /// The key of `owner`'s lock.
    fn lock_key(&self, owner: &Owner) -> String {
        format!("{}!{{{}}}", self.shared.prefix, owner.as_str())
    }

    pub(super) async fn cluster_write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let mut conn = self.connection().await?;
        let changes = HashChanges::of(plan);
        if !plan.moves() && !plan.owner_change().is_change() {
            // The common save: one script on the session's slot.
            let reply = if changes.is_plain_update(plan) {
                let mut invocation = self.scripts().update.key(self.key_of(plan.base()));
                invocation
                    .key(self.forward_key_of(plan.base()))
                    .arg(plan.ttl_for(Lifetime::Policy).unwrap_or(1))
                    .arg(plan.absolute_ttl().unwrap_or(0))
                    .arg(&changes.set);
                invocation.invoke_async(&mut conn).await
            } else {
                self.write_script(
                    plan,
                    plan.base(),
                    expect_code(plan.expect()),
                    "*",
                    &[],
                    &changes,
                )
                .invoke_async(&mut conn)
                .await
            }
            .map_err(Error::storage)?;
            return match parse_reply(reply)? {
                Reply::Written(owner, ttl) => {
                    self.keep_index(&mut conn, owner.as_deref(), ttl).await?;
                    Ok(WriteOutcome::Written)
                }
                Reply::Gone => Ok(WriteOutcome::Gone),
                Reply::Taken => Ok(WriteOutcome::Taken),
                Reply::Forwarded(outcome) => Ok(outcome),
                Reply::OwnerChanged => Err(Error::storage("a save without an owner check saw one")),
            };
        }
        for _ in 0..ATTEMPTS {
            let base = match self.peek(&mut conn, plan).await? {
                Ok(base) => base,
                Err(outcome) => return Ok(outcome),
            };
            let after = match plan.owner_change() {
                Change::Set(owner) => Some(owner.clone()),
                Change::Clear => None,
                Change::Keep if matches!(plan.retire(), Retire::Supersede { .. }) => None,
                Change::Keep => base.owner.clone(),
            };
            let index = plan.index_change(base.owner.as_ref(), after.as_ref());
            let mut owners: Vec<&Owner> =
                [index.leaves, index.joins].into_iter().flatten().collect();
            owners.sort();
            owners.dedup();
            let tokens = self.lock(&mut conn, &owners).await?;
            let step = self
                .write_locked(&mut conn, plan, &changes, &base, index)
                .await;
            self.unlock(&mut conn, &owners, &tokens).await;
            if let Step::Done(outcome) = step? {
                return Ok(outcome);
            }
        }
        Err(Error::storage(
            "the session changed under every attempt to move it or change its owner",
        ))
    }

    /// Reads what the base holds (its owner and fields) in one transaction of reads, which a
    /// node paused for writes still answers; or the outcome that ends the write at once.
    async fn peek(
        &self,
        conn: &mut Conn,
        plan: &WritePlan<'_>,
    ) -> Result<std::result::Result<Base, WriteOutcome>> {
        let (forward, fields): (Option<Vec<u8>>, Value) = redis::pipe()
            .atomic()
            .get(self.forward_key_of(plan.base()))
            .hgetall(self.key_of(plan.base()))
            .query_async(conn)
            .await
            .map_err(Error::storage)?;
        let fields = super::flat(fields)?;
        if plan.expect() == Expect::Vacant {
            if forward.is_some() || !fields.is_empty() {
                return Ok(Err(WriteOutcome::Taken));
            }
        } else if let Some(forward) = forward {
            return Ok(Err(super::forward_outcome(&forward)?));
        } else if fields.is_empty() && plan.expect() != Expect::Any {
            return Ok(Err(WriteOutcome::Gone));
        }
        let owner = fields
            .chunks_exact(2)
            .find(|pair| bytes(&pair[0]).as_deref() == Some(super::hash::OWNER.as_bytes()))
            .and_then(|pair| bytes(&pair[1]))
            .and_then(|text| String::from_utf8(text).ok())
            .and_then(Owner::stored);
        Ok(Ok(Base { owner, fields }))
    }

    async fn write_locked(
        &self,
        conn: &mut Conn,
        plan: &WritePlan<'_>,
        changes: &HashChanges,
        base: &Base,
        index: OwnerIndex<'_>,
    ) -> Result<Step> {
        let target = plan.target();
        if let Some(owner) = index.joins {
            if plan.owner_limit().is_some() {
                let owned = self.rows(conn, owner, plan.now(), true).await?;
                match plan.admit(&owned) {
                    Err(full) => return Ok(Step::Done(full)),
                    Ok(ending) => {
                        let ended = ending
                            .iter()
                            .map(|id| self.end_one(conn.clone(), owner, id));
                        try_join_all(ended).await?;
                        if self.shared.replicas > 0 {
                            // An ending lost in a failover would bring the session back, and
                            // its node may be none of the login's.
                            let keys: Vec<String> =
                                ending.iter().map(|id| self.key_of(id)).collect();
                            self.replicated(&keys).await?;
                        }
                    }
                }
            }
            self.index(conn, owner, Some(target), joined_ttl(plan))
                .await?;
        }
        if plan.moves() {
            let copies = match plan.retire() {
                Retire::Supersede { .. } => &[][..],
                _ => &base.fields,
            };
            let placed = self
                .write_script(plan, target, "P", "*", copies, changes)
                .invoke_async(conn)
                .await
                .map_err(Error::storage)?;
            match parse_reply(placed)? {
                Reply::Written(owner, ttl) => {
                    self.keep_joined_index(conn, plan, index, owner.as_deref(), ttl)
                        .await?;
                }
                Reply::Taken => {
                    self.undo_join(conn, index, target).await?;
                    return Ok(Step::Done(WriteOutcome::Taken));
                }
                _ => {
                    return Err(Error::storage(
                        "a new session's hash was not vacant nor written",
                    ));
                }
            }
            if plan.retire() != Retire::Keep {
                match self.retire(conn, plan, base).await? {
                    None => {}
                    Some(settled) => {
                        // The copy is stale: nobody holds its id, so it goes.
                        self.delete_one(conn.clone(), target).await?;
                        self.undo_join(conn, index, target).await?;
                        return Ok(settled.map_or(Step::Again, Step::Done));
                    }
                }
            }
        } else {
            let expected = base.owner.as_ref().map_or("", Owner::as_str);
            let written = self
                .write_script(
                    plan,
                    target,
                    expect_code(plan.expect()),
                    expected,
                    &[],
                    changes,
                )
                .invoke_async(conn)
                .await
                .map_err(Error::storage)?;
            match parse_reply(written)? {
                Reply::Written(owner, ttl) => {
                    self.keep_joined_index(conn, plan, index, owner.as_deref(), ttl)
                        .await?;
                }
                Reply::OwnerChanged => return Ok(Step::Again),
                Reply::Gone => return Ok(Step::Done(WriteOutcome::Gone)),
                Reply::Taken => return Ok(Step::Done(WriteOutcome::Taken)),
                Reply::Forwarded(outcome) => return Ok(Step::Done(outcome)),
            }
        }
        if let Some(owner) = index.leaves {
            self.leave(conn, owner, plan.base()).await?;
        }
        Ok(Step::Done(WriteOutcome::Written))
    }

    /// Replaces the moved base by its forward if its fields are still those peeked: `None`
    /// done; `Some(None)` it changed (start again); `Some(Some(outcome))` it moved meanwhile.
    async fn retire(
        &self,
        conn: &mut Conn,
        plan: &WritePlan<'_>,
        base: &Base,
    ) -> Result<Option<Option<WriteOutcome>>> {
        let (mode, compare, forward, until) = match plan.retire() {
            Retire::Delete => ("D", "1", "", 0),
            Retire::Forward { until } => ("F", "1", plan.target().as_str(), until),
            Retire::Supersede { until } => ("S", "0", super::SUPERSEDED, until),
            Retire::Keep => return Ok(None),
        };
        let mut invocation = self.scripts().retire.key(self.key_of(plan.base()));
        invocation
            .key(self.forward_key_of(plan.base()))
            .arg(mode)
            .arg(compare)
            .arg(forward)
            .arg(until.saturating_sub(plan.now()).max(1));
        for value in &base.fields {
            invocation.arg(bytes(value).unwrap_or_default());
        }
        let reply: Vec<Value> = invocation
            .invoke_async(conn)
            .await
            .map_err(Error::storage)?;
        let mut reply = reply.into_iter();
        match reply.next().and_then(|tag| bytes(&tag)).as_deref() {
            Some(b"R") => Ok(None),
            Some(b"C") => Ok(Some(None)),
            Some(b"F") => {
                let forward = reply
                    .next()
                    .and_then(|value| bytes(&value))
                    .unwrap_or_default();
                Ok(Some(Some(super::forward_outcome(&forward)?)))
            }
            _ => Err(Error::storage(
                "the retire script replied with no known tag",
            )),
        }
    }

    /// The write script on `id`'s slot: `copies` (an `HGETALL` reply) first, then the changes.
    fn write_script<'s>(
        &'s self,
        plan: &WritePlan<'_>,
        id: &SessionId,
        expect: &str,
        owner: &str,
        copies: &[Value],
        changes: &HashChanges,
    ) -> redis::ScriptInvocation<'s> {
        let mut invocation = self.scripts().write.key(self.key_of(id));
        invocation
            .key(self.forward_key_of(id))
            .arg(expect)
            .arg(plan.ttl_for(Lifetime::Policy).unwrap_or(0))
            .arg(plan.absolute_ttl().unwrap_or(0))
            .arg(owner)
            .arg(copies.len())
            .arg(changes.set.len())
            .arg(changes.delete.len());
        for value in copies {
            invocation.arg(bytes(value).unwrap_or_default());
        }
        invocation
            .arg(&changes.set)
            .arg(&changes.delete)
            .arg(&changes.consumed);
        invocation
    }

    /// Keeps the set of the owner a session was just written with (if any) alive as long as
    /// the session's `ttl`.
    async fn keep_index(&self, conn: &mut Conn, owner: Option<&str>, ttl: u64) -> Result<()> {
        match owner.map(str::to_owned).and_then(Owner::stored) {
            Some(owner) => self.index(conn, &owner, None, ttl).await,
            None => Ok(()),
        }
    }

    /// [`keep_index`](Self::keep_index) after a locked write, unless the join already kept
    /// that owner's set alive for the TTL the session ended with.
    async fn keep_joined_index(
        &self,
        conn: &mut Conn,
        plan: &WritePlan<'_>,
        index: OwnerIndex<'_>,
        owner: Option<&str>,
        ttl: u64,
    ) -> Result<()> {
        let joined = index.joins.map(Owner::as_str);
        if joined.is_some() && joined == owner && ttl == joined_ttl(plan) {
            return Ok(());
        }
        self.keep_index(conn, owner, ttl).await
    }

    /// Takes a target that was not written after all out of the set it joined.
    async fn undo_join(
        &self,
        conn: &mut Conn,
        index: OwnerIndex<'_>,
        target: &SessionId,
    ) -> Result<()> {
        match index.joins {
            Some(owner) => self.leave(conn, owner, target).await,
            None => Ok(()),
        }
    }

    /// Adds `id` (if any) to `owner`'s set, and keeps the set alive at least `ttl` seconds
    /// (0: for ever).
    async fn index(
        &self,
        conn: &mut Conn,
        owner: &Owner,
        id: Option<&SessionId>,
        ttl: u64,
    ) -> Result<()> {
        self.scripts()
            .index
            .key(self.owner_key(owner))
            .arg(id.map_or("", SessionId::as_str))
            .arg(ttl)
            .invoke_async::<()>(conn)
            .await
            .map_err(Error::storage)
    }

    async fn leave(&self, conn: &mut Conn, owner: &Owner, id: &SessionId) -> Result<()> {
        redis::cmd("SREM")
            .arg(self.owner_key(owner))
            .arg(id.as_str())
            .query_async::<()>(conn)
            .await
            .map_err(Error::storage)
    }

    /// Takes the locks of `owners` (sorted), waiting at most the storage's timeout for each.
    async fn lock(&self, conn: &mut Conn, owners: &[&Owner]) -> Result<Vec<String>> {
        let hold = self
            .shared
            .timeout
            .saturating_mul(8)
            .max(std::time::Duration::from_secs(1));
        let mut tokens = Vec::with_capacity(owners.len());
        for (held, owner) in owners.iter().enumerate() {
            let token = SessionId::generate().as_str().to_owned();
            let deadline = tokio::time::Instant::now() + self.shared.timeout;
            let mut pause = std::time::Duration::from_millis(2);
            loop {
                let reply: std::result::Result<Option<String>, _> = redis::cmd("SET")
                    .arg(self.lock_key(owner))
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(u64::try_from(hold.as_millis()).unwrap_or(u64::MAX))
                    .query_async(conn)
                    .await;
                let failed = match reply {
                    Ok(Some(_)) => break,
                    Ok(None) if tokio::time::Instant::now() < deadline => None,
                    Ok(None) => Some(Error::storage(
                        "an owner's sessions stayed locked past the timeout",
                    )),
                    Err(error) => Some(Error::storage(error)),
                };
                if let Some(error) = failed {
                    self.unlock(conn, &owners[..held], &tokens).await;
                    return Err(error);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(25));
            }
            tokens.push(token);
        }
        Ok(tokens)
    }

    /// Releases the locks this request holds; a lock it cannot release expires.
    async fn unlock(&self, conn: &mut Conn, owners: &[&Owner], tokens: &[String]) {
        for (owner, token) in owners.iter().zip(tokens) {
            let released = self
                .scripts()
                .unlock
                .key(self.lock_key(owner))
                .arg(token)
                .invoke_async::<()>(conn)
                .await;
            if let Err(error) = released {
                tracing::warn!(%error, "an owner's lock could not be released; it expires");
            }
        }
    }

    /// The live sessions of `owner`, each read from its own hash; with `prune` (under the
    /// owner's lock only), ids that are gone or no longer the owner's leave its set.
    async fn rows(
        &self,
        conn: &mut Conn,
        owner: &Owner,
        now: u64,
        prune: bool,
    ) -> Result<Vec<OwnedRecord>> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.owner_key(owner))
            .query_async(conn)
            .await
            .map_err(Error::storage)?;
        let ids: Vec<SessionId> = ids.into_iter().filter_map(|id| id.parse().ok()).collect();
        let reads = ids.iter().map(|id| {
            let mut conn = conn.clone();
            async move {
                self.scripts()
                    .row
                    .key(self.key_of(id))
                    .invoke_async::<Vec<Value>>(&mut conn)
                    .await
            }
        });
        let rows = try_join_all(reads).await.map_err(Error::storage)?;
        let mut records = Vec::with_capacity(rows.len());
        let mut stale = Vec::new();
        for (id, mut row) in ids.iter().zip(rows) {
            let theirs = row
                .first()
                .and_then(bytes)
                .is_some_and(|text| text == owner.as_str().as_bytes());
            let record = if theirs && row.len() == 5 {
                row[0] = Value::BulkString(id.as_str().as_bytes().to_vec());
                super::listed(&row, now)
            } else {
                None
            };
            match record {
                Some(record) => records.push(record),
                None => stale.push(id.as_str()),
            }
        }
        if prune && !stale.is_empty() {
            redis::cmd("SREM")
                .arg(self.owner_key(owner))
                .arg(&stale)
                .query_async::<()>(conn)
                .await
                .map_err(Error::storage)?;
        }
        Ok(records)
    }

    /// Ends `id` if it is still `owner`'s, and takes it out of the owner's set either way;
    /// whether it ended.
    async fn end_one(&self, mut conn: Conn, owner: &Owner, id: &SessionId) -> Result<bool> {
        let ended: i64 = self
            .scripts()
            .end_one
            .key(self.key_of(id))
            .arg(owner.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(Error::storage)?;
        self.leave(&mut conn, owner, id).await?;
        Ok(ended == 1)
    }

    async fn delete_one(&self, mut conn: Conn, id: &SessionId) -> Result<()> {
        redis::cmd("DEL")
            .arg(self.key_of(id))
            .arg(self.forward_key_of(id))
            .query_async::<()>(&mut conn)
            .await
            .map_err(Error::storage)
    }

    pub(super) async fn cluster_delete(&self, ids: &[&SessionId]) -> Result<()> {
        let conn = self.connection().await?;
        try_join_all(ids.iter().map(|id| self.delete_one(conn.clone(), id))).await?;
        Ok(())
    }

    pub(super) async fn cluster_owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        let mut conn = self.connection().await?;
        self.rows(&mut conn, owner, now, false).await
    }

    /// Ends `owner`'s sessions under its lock; the ids it ended.
    pub(super) async fn cluster_end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
    ) -> Result<Vec<SessionId>> {
        let mut conn = self.connection().await?;
        let tokens = self.lock(&mut conn, &[owner]).await?;
        let ended = self.end_locked(&mut conn, owner, which).await;
        self.unlock(&mut conn, &[owner], &tokens).await;
        ended
    }

    async fn end_locked(
        &self,
        conn: &mut Conn,
        owner: &Owner,
        which: Ending<'_>,
    ) -> Result<Vec<SessionId>> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.owner_key(owner))
            .query_async(conn)
            .await
            .map_err(Error::storage)?;
        let chosen: Vec<SessionId> = ids
            .into_iter()
            .filter_map(|id| id.parse::<SessionId>().ok())
            .filter(|id| match which {
                Ending::One(one) => id == one,
                Ending::AllExcept(kept) => !kept.contains(id),
                _ => true,
            })
            .collect();
        let ended = try_join_all(
            chosen
                .iter()
                .map(|id| self.end_one(conn.clone(), owner, id)),
        )
        .await?;
        Ok(chosen
            .into_iter()
            .zip(ended)
            .filter_map(|(id, ended)| ended.then_some(id))
            .collect())
    }
}

/// The TTL a join keeps the owner's set alive for: the written session's (0: for ever).
fn joined_ttl(plan: &WritePlan<'_>) -> u64 {
    plan.ttl().unwrap_or(0)
}

/// The write scripts' code for what the base must hold.
fn expect_code(expect: Expect) -> &'static str {
    match expect {
        Expect::Vacant => "V",
        Expect::Any => "A",
        _ => "L",
    }
}

fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}

fn parse_reply(reply: Value) -> Result<Reply> {
    match reply {
        Value::Int(1) => Ok(Reply::Written(None, 0)),
        Value::Int(0) => Ok(Reply::Gone),
        Value::Int(2) => Ok(Reply::Taken),
        Value::Int(4) => Ok(Reply::OwnerChanged),
        Value::Array(items) => match items.as_slice() {
            [Value::Int(1), owner, Value::Int(ttl)] => Ok(Reply::Written(
                bytes(owner).and_then(|owner| String::from_utf8(owner).ok()),
                u64::try_from(*ttl).unwrap_or(0),
            )),
            _ => Err(Error::storage(
                "a session script replied with an unknown array",
            )),
        },
        other => match bytes(&other) {
            Some(forward) => Ok(Reply::Forwarded(super::forward_outcome(&forward)?)),
            None => Err(Error::storage(format!(
                "a session script replied {other:?}"
            ))),
        },
    }
}

/// The common save on the session's slot: `UPDATE` of the single server without the owner's
/// set, which lives in another slot; an owned session's owner and TTL come back instead.
const UPDATE: &str = super::scripts::update_script!(
    r"
-- KEYS[1]: the hash; KEYS[2]: its forward. ARGV[1]: the policy's TTL (> 0); ARGV[2]: what
-- remains of the absolute timeout ('0': none); then (field, JSON) pairs.
-- Returns 1 written, or {1, owner, TTL} for an owned session; 0 gone; the forward's id.
",
    "3",
    r"
if fields[2] then return {1, fields[2], ttl} end
return 1
"
);

/// Any other write on one slot: copied fields first (a moved session's), then the changes.
const WRITE: &str = r"
-- KEYS[1]: the hash; KEYS[2]: its forward. ARGV[1]: what it must hold: 'L' a record, 'V' or
-- 'P' nothing (a first save, or the new id of a move), 'A' anything. ARGV[2]: the policy's
-- TTL ('0': none); ARGV[3]: what remains of the absolute timeout ('0': none); ARGV[4]: the
-- owner it must have ('*': any, '': none). ARGV[5]: c, ARGV[6]: s, ARGV[7]: d; then c copied
-- (field, value) items, s (field, JSON) items to HSET, d fields to HDEL, and (field, JSON)
-- pairs of consumed flash, each deleted only if it still holds that JSON.
-- Returns 1, or {1, owner, TTL} for an owned session; 0 gone; 2 taken; 4 another owner; the
-- forward's id.
local expect = ARGV[1]
local c, s, d = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function sliced(command, from, to)
  for i = from, to, 1000 do
    redis.call(command, KEYS[1], unpack(ARGV, i, math.min(i + 999, to)))
  end
end
if expect == 'V' or expect == 'P' then
  if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 2 end
else
  local forward = redis.call('GET', KEYS[2])
  if forward then return forward end
  if expect == 'L' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
end
if ARGV[4] ~= '*' and (redis.call('HGET', KEYS[1], 'o') or '') ~= ARGV[4] then return 4 end
local sets = 8 + c
local dels = sets + s
local consumed = dels + d
sliced('HSET', 8, sets - 1)
sliced('HDEL', dels, consumed - 1)
for i = consumed, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
sliced('HSET', sets, dels - 1)
local ttl = tonumber(ARGV[2])
local lifetime = tonumber(redis.call('HGET', KEYS[1], 'l') or '')
if lifetime and lifetime > 0 then
  local cap = tonumber(ARGV[3])
  ttl = lifetime
  if cap > 0 and cap < ttl then ttl = cap end
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
elseif expect == 'L' or expect == 'A' then
  redis.call('PERSIST', KEYS[1])
  ttl = 0
end
local owner = redis.call('HGET', KEYS[1], 'o')
if owner then return {1, owner, ttl} end
return 1
";

/// Replaces a moved session's old hash by its forward, if it still holds the fields peeked.
const RETIRE: &str = r"
-- KEYS[1]: the old hash; KEYS[2]: its forward. ARGV[1]: 'D' delete, 'F' forward, 'S' start
-- over; ARGV[2]: '1' to compare the hash with the (field, value) items from ARGV[5] on;
-- ARGV[3]: the forward's value; ARGV[4]: its TTL.
-- Returns {'R'} retired, {'C'} changed since the peek, {'F', forward} moved meanwhile.
local forward = redis.call('GET', KEYS[2])
if forward then return {'F', forward} end
local function entries(list, from)
  local out = {}
  for i = from, #list, 2 do out[#out + 1] = #list[i] .. ':' .. list[i] .. list[i + 1] end
  table.sort(out)
  return out
end
if ARGV[2] == '1' then
  local now, was = entries(redis.call('HGETALL', KEYS[1]), 1), entries(ARGV, 5)
  if #now ~= #was then return {'C'} end
  for i = 1, #now do
    if now[i] ~= was[i] then return {'C'} end
  end
end
redis.call('DEL', KEYS[1])
if ARGV[1] ~= 'D' then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
return {'R'}
";

/// Adds an id to an owner's set and keeps the set alive as long as the session.
const INDEX: &str = r"
-- KEYS[1]: the owner's set. ARGV[1]: the id to add ('': none); ARGV[2]: the session's TTL
-- ('0': none, and the set persists).
local existed = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] ~= '' then redis.call('SADD', KEYS[1], ARGV[1]) end
local ttl = tonumber(ARGV[2])
if ttl <= 0 then
  redis.call('PERSIST', KEYS[1])
elseif existed then
  local left = redis.call('TTL', KEYS[1])
  if left >= 0 and left < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
else
  redis.call('EXPIRE', KEYS[1], ttl)
end
";

/// One session's listing row: owner, timestamps, lifetime, label, TTL.
const ROW: &str = r"
local got = redis.call('HMGET', KEYS[1], 'o', 'm', 'l', 'n')
return {got[1], got[2], got[3], got[4], redis.call('TTL', KEYS[1])}
";

/// Ends a session if it still belongs to the owner.
const END_ONE: &str = r"
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Releases a lock held under a token.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";
