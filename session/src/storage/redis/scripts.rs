//! The Lua scripts that execute a write plan on the Redis server, atomically: a fast path for
//! the common save and one script for every other plan.

/// Writes the values a request set back to the session it loaded, keeping its id: the common
/// save. `EXPIRE` renews the TTL, and its reply doubles as the check that the session still
/// exists; only when it is gone is its forward looked up. A session with a persistent lifetime
/// (field `l`, whoever set it) gets that lifetime's TTL instead of the policy's.
pub(super) const UPDATE: &str = r"
-- KEYS[1]: the session's hash; KEYS[2]: its forward key. ARGV[1]: the policy's TTL in
-- seconds (> 0). ARGV[2]: what remains of the absolute timeout ('0': none). Then (field, JSON)
-- pairs, the 'm' timestamps included.
-- Returns 1 written; 0, writing nothing, if the session is gone; the forward's id if it moved
-- ('!' if it started over).
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then
  return redis.call('GET', KEYS[2]) or 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local lifetime = tonumber(redis.call('HGET', KEYS[1], 'l') or '')
if lifetime and lifetime > 0 then
  local cap = tonumber(ARGV[2])
  if cap > 0 and cap < lifetime then lifetime = cap end
  redis.call('EXPIRE', KEYS[1], lifetime)
end
return 1
";

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
-- Returns 1 written; 0 the base record is gone; 2 the target is taken; the forward's id if
-- the base moved ('!' if it started over). Only 1 writes anything.
local expect, moved = ARGV[1], KEYS[1] ~= KEYS[2]
local sets, dels = tonumber(ARGV[6]), tonumber(ARGV[7])
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
if moved then
  if redis.call('EXISTS', KEYS[2], KEYS[4]) > 0 then return 2 end
  if ARGV[3] ~= 'S' then
    local all = redis.call('HGETALL', KEYS[1])
    sliced('HSET', all, 1, #all)
  end
end
local first = 9 + sets
sliced('HDEL', ARGV, first, first + dels - 1)
for i = first + dels, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
sliced('HSET', ARGV, 9, first - 1)
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
return 1
";
