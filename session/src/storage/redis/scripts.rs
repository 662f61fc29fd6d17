//! The Lua scripts that execute a write plan on the Redis server, atomically: a fast path for
//! the common save and one script for every other plan.

/// The common save's script: `$head` (its argument list), then the renewal and the values
/// from `ARGV[$first]` on, with `fields` (`l`, `o`) and `ttl` left for `$tail`.
macro_rules! update_script {
    ($head:literal, $first:literal, $tail:literal) => {
        concat!(
            $head,
            r"
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then
  return redis.call('GET', KEYS[2]) or 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, ",
            $first,
            r"))
local fields = redis.call('HMGET', KEYS[1], 'l', 'o')
local ttl = tonumber(ARGV[1])
local lifetime = tonumber(fields[1] or '')
if lifetime and lifetime > 0 then
  local cap = tonumber(ARGV[2])
  if cap > 0 and cap < lifetime then lifetime = cap end
  ttl = lifetime
  redis.call('EXPIRE', KEYS[1], ttl)
end",
            $tail
        )
    };
}
#[cfg(feature = "redis-cluster")]
pub(super) use update_script;

/// Writes the values a request set back to the session it loaded, keeping its id: the common
/// save. `EXPIRE` renews the TTL, and its reply doubles as the check that the session still
/// exists; only when it is gone is its forward looked up. A session with a persistent lifetime
/// (field `l`, whoever set it) gets that lifetime's TTL instead of the policy's. An owned
/// session (field `o`) keeps its owner's set alive at least as long as itself.
///
/// The owner's set is named from the field, so the script reaches a key it was not given: a
/// single server allows it; Redis Cluster does not.
pub(super) const UPDATE: &str = update_script!(
    r"
-- KEYS[1]: the session's hash; KEYS[2]: its forward key. ARGV[1]: the policy's TTL in
-- seconds (> 0). ARGV[2]: what remains of the absolute timeout ('0': none). ARGV[3]: the
-- prefix of owners' sets. Then (field, JSON) pairs, the 'm' timestamps included.
-- Returns 1 written; 0, writing nothing, if the session is gone; the forward's id if it moved
-- ('!' if it started over).
",
    "4",
    r"
-- The owner's set lives at least as long as this session (without `EXPIRE ... GT`, which
-- needs Redis 7): a set that never expires, or is gone, stays so.
if fields[2] then
  local set = ARGV[3] .. fields[2]
  local left = redis.call('TTL', set)
  if left >= 0 and left < ttl then redis.call('EXPIRE', set, ttl) end
end
return 1
"
);

/// The most `(field, JSON)` arguments [`UPDATE`] takes: Lua unpacks at most about 8,000
/// values onto its stack at once, and [`SAVE`] writes larger sets in slices.
pub(super) const UPDATE_MAX_ARGS: usize = 1_000;

/// Executes any write plan; see the argument list at the top.
pub(super) const SAVE: &str = r"
-- KEYS[1]: the base hash; KEYS[2]: the target hash; KEYS[3], KEYS[4]: their forward keys.
-- ARGV[1]: what the base must hold: 'L' a record, 'V' nothing (the target is the base), 'A'
-- anything. ARGV[2]: TTL in seconds ('0': none). ARGV[3]: when the session moves, what
-- becomes of the base: 'K' kept, 'D' deleted, 'F' forwarded to ARGV[5] for ARGV[4] seconds,
-- 'S' started over: nothing copied from it, and replaced by the marker ARGV[5] ('!') likewise.
-- ARGV[6]: s, ARGV[7]: d. ARGV[8]: what remains of the absolute timeout ('0': none), the cap
-- on a persistent lifetime's TTL. Then s (field, JSON) arguments to HSET (the 'm' timestamps
-- included, and the 'l' lifetime when this request chose one), d fields to HDEL, and (field,
-- JSON) pairs of the flash this request consumed, each deleted only if it still holds that
-- JSON. The TTL is the policy's (ARGV[2]) unless the hash ends with a persistent lifetime.
-- The owner index: ARGV[9]: the prefix of owners' sets (each a set of session ids); ARGV[10]:
-- how this request changes the owner, 'K' kept, 'S' set to ARGV[11], 'C' cleared (the field
-- 'o' itself is among the HSET or HDEL arguments); ARGV[12]: the most sessions per owner
-- ('0': no limit), ARGV[13]: past it 'E' end the least recently used, 'R' refuse; ARGV[14],
-- ARGV[15]: the base and target ids; ARGV[16]: the prefix of session keys.
-- Returns 1 written; 0 the base record is gone; 2 the target is taken; 3 the owner is full;
-- the forward's id if the base moved ('!' if it started over). Only 1 writes anything.
local expect, moved = ARGV[1], KEYS[1] ~= KEYS[2]
local sets, dels = tonumber(ARGV[6]), tonumber(ARGV[7])
local owners, base_id, target_id, sessions = ARGV[9], ARGV[14], ARGV[15], ARGV[16]
-- Runs a command on KEYS[2] with list[from..to] as arguments, in slices that Lua can unpack.
local function sliced(command, list, from, to)
  for i = from, to, 1000 do
    redis.call(command, KEYS[2], unpack(list, i, math.min(i + 999, to)))
  end
end
if expect == 'V' then
  if redis.call('EXISTS', KEYS[1], KEYS[3]) > 0 then return 2 end
else
  local forward = redis.call('GET', KEYS[3])
  if forward then return forward end
  if expect == 'L' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
end
if moved and redis.call('EXISTS', KEYS[2], KEYS[4]) > 0 then return 2 end
-- The owner before and after: which set the base leaves and which the target joins.
local before = false
if expect ~= 'V' then before = redis.call('HGET', KEYS[1], 'o') end
local after = before
if moved and ARGV[3] == 'S' then after = false end
if ARGV[10] == 'S' then after = ARGV[11] elseif ARGV[10] == 'C' then after = false end
local leaves, joins = false, false
if moved then
  if ARGV[3] ~= 'K' then leaves = before end
  joins = after
elseif before ~= after then
  leaves, joins = before, after
end
local max = tonumber(ARGV[12])
if joins and max > 0 then
  local set, others = owners .. joins, {}
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    if id ~= base_id and id ~= target_id then
      local got = redis.call('HMGET', sessions .. id, 'o', 'm')
      if got[1] == joins and got[2] then
        local stamps = cjson.decode(got[2])
        table.insert(others, {id, stamps[2], stamps[1]})
      else
        redis.call('SREM', set, id)
      end
    end
  end
  local excess = #others - (max - 1)
  if excess > 0 then
    if ARGV[13] == 'R' then return 3 end
    table.sort(others, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    for i = 1, excess do
      redis.call('DEL', sessions .. others[i][1])
      redis.call('SREM', set, others[i][1])
    end
  end
end
if moved and ARGV[3] ~= 'S' then
  local all = redis.call('HGETALL', KEYS[1])
  sliced('HSET', all, 1, #all)
end
local first = 17 + sets
sliced('HDEL', ARGV, first, first + dels - 1)
for i = first + dels, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
sliced('HSET', ARGV, 17, first - 1)
local ttl = tonumber(ARGV[2])
local lifetime = tonumber(redis.call('HGET', KEYS[2], 'l') or '')
if lifetime and lifetime > 0 then
  local cap = tonumber(ARGV[8])
  ttl = lifetime
  if cap > 0 and cap < ttl then ttl = cap end
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
elseif expect ~= 'V' then
  redis.call('PERSIST', KEYS[2])
end
if moved and ARGV[3] ~= 'K' then
  redis.call('DEL', KEYS[1])
  if ARGV[3] ~= 'D' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4]) end
end
if leaves then redis.call('SREM', owners .. leaves, base_id) end
if after then
  -- The owner's set lives at least as long as its longest-lived session.
  local set = owners .. after
  local existed = redis.call('EXISTS', set) == 1
  if joins then redis.call('SADD', set, target_id) end
  if ttl <= 0 then
    redis.call('PERSIST', set)
  elseif existed then
    local left = redis.call('TTL', set)
    if left >= 0 and left < ttl then redis.call('EXPIRE', set, ttl) end
  else
    redis.call('EXPIRE', set, ttl)
  end
end
return 1
";

/// Lists an owner's sessions, dropping from its set the ids that are gone or no longer its.
pub(super) const OWNED: &str = r"
-- KEYS[1]: the owner's set. ARGV[1]: the prefix of session keys; ARGV[2]: the owner.
-- Returns (id, 'm' timestamps, 'l' lifetime or nil, 'n' label or nil, TTL) per session.
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local got = redis.call('HMGET', key, 'o', 'm', 'l', 'n')
  if got[1] == ARGV[2] and got[2] then
    local n = #out
    out[n + 1], out[n + 2], out[n + 3] = id, got[2], got[3]
    out[n + 4], out[n + 5] = got[4], redis.call('TTL', key)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
";

/// Ends an owner's sessions: all, all but some ids, or only some ids.
pub(super) const END: &str = r"
-- KEYS[1]: the owner's set. ARGV[1]: the prefix of session keys; ARGV[2]: the owner;
-- ARGV[3]: 'A' all, 'E' all but the ids from ARGV[4] on, 'O' only those ids.
-- Returns how many sessions it ended.
local named = {}
for i = 4, #ARGV do named[ARGV[i]] = true end
local mode, ended = ARGV[3], 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'o') ~= ARGV[2] then
    redis.call('SREM', KEYS[1], id)
  elseif mode == 'A' or (mode == 'E' and not named[id]) or (mode == 'O' and named[id]) then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], id)
    ended = ended + 1
  end
end
return ended
";
