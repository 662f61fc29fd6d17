//! [`RedisStorage`]: the signed id in the cookie, the session in a Redis hash that every
//! instance of an app shares. A save applies one request's changes on the server, atomically,
//! in one Lua script: the same promises as memory storage, across machines.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use tokio::sync::OnceCell;

use super::{SaveOutcome, SessionStorage, fresh_session};
use crate::dynamic::{Map, Session};
use crate::error::{Error, Result};
use crate::expiry::{Timestamps, Timing};
use crate::id::SessionId;

/// Remix's default key prefix.
pub const DEFAULT_PREFIX: &str = "session:";

/// The hash field holding `[created, renewed]`.
const META: &str = "m";
/// Prefix of the hash fields holding values.
const VALUE: &str = "v:";
/// Prefix of the hash fields holding the flash for the next request.
const FLASH: &str = "f:";

/// Writes the values a request set back to the session it loaded, keeping its id: the common
/// save, in two commands. `EXPIRE` renews the TTL, and its reply doubles as the check that the
/// session still exists.
const UPDATE: &str = r"
-- KEYS[1]: the session's hash. ARGV[1]: TTL in seconds (> 0). Then (field, JSON) pairs,
-- the 'm' timestamps included. Returns 0, writing nothing, if the session is gone.
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
";

/// The most `(field, JSON)` arguments [`UPDATE`] takes: Lua unpacks at most about 8,000
/// values onto its stack at once, and [`SAVE`] writes larger sets in slices.
const UPDATE_MAX_ARGS: usize = 1_000;

/// Applies any request's changes to a session hash; see the argument list at the top.
const SAVE: &str = r"
-- KEYS[1]: the hash the session was loaded from; KEYS[2]: the hash to write.
-- ARGV[1] '1': the session was loaded from KEYS[1], which must still exist.
-- ARGV[2] '1': KEYS[2] names an id generated in this request, which must not exist yet.
-- ARGV[3]: TTL in seconds ('0': none). ARGV[4] '1': delete KEYS[1] after writing KEYS[2].
-- ARGV[5]: s, ARGV[6]: d. Then s (field, JSON) arguments to HSET (the 'm' timestamps
-- included), d fields to HDEL, and (field, JSON) pairs of the flash this request consumed,
-- each deleted only if it still holds that JSON.
-- Returns 0, writing nothing, if the session is gone; 2 if the generated id is taken.
local loaded, moved = ARGV[1] == '1', KEYS[1] ~= KEYS[2]
local sets, dels = tonumber(ARGV[5]), tonumber(ARGV[6])
-- Runs a command on KEYS[2] with list[from..to] as arguments, in slices that Lua can unpack.
local function sliced(command, list, from, to)
  for i = from, to, 1000 do
    redis.call(command, KEYS[2], unpack(list, i, math.min(i + 999, to)))
  end
end
if loaded and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
if moved then
  local all = redis.call('HGETALL', KEYS[1])
  sliced('HSET', all, 1, #all)
end
local first = 7 + sets
sliced('HDEL', ARGV, first, first + dels - 1)
for i = first + dels, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
sliced('HSET', ARGV, 7, first - 1)
if ARGV[3] ~= '0' then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
elseif loaded then
  redis.call('PERSIST', KEYS[2])
end
if ARGV[4] == '1' and moved then redis.call('DEL', KEYS[1]) end
return 1
";

/// Sessions in Redis, shared by every instance of an app.
///
/// Each session is a hash at `<prefix><id>`: a field `v:<key>` per value and `f:<key>` per
/// flash value (JSON text), and `m` for `[created, renewed]`.
///
/// - **Atomic merges, one round trip:** a save runs one Lua script that applies only its
///   request's changes (values set or removed, the flash it consumed, the flash it set), so
///   concurrent requests on different keys all survive; on the same key the last save wins.
///   A save for a session destroyed meanwhile writes nothing and returns
///   [`SaveOutcome::Interrupted`]. The common save, values set on a loaded session with a
///   TTL, costs the server two commands (`EXPIRE`, whose reply is the existence check, and
///   `HSET`).
/// - **Expiry on the server:** every write sets the hash's TTL to the session's remaining
///   life (the idle timeout, cut by the absolute one), and loads check the timestamps too.
/// - **Strict ids:** an id is validated before it reaches Redis; unknown ids are not adopted
///   unless [`use_unknown_ids`](RedisStorageBuilder::use_unknown_ids) is on; a load never
///   writes.
/// - **Failures are typed and bounded:** connecting and each command time out (2 s by
///   default); a failure is [`Error::Storage`] carrying the `redis` error, and the connection
///   manager reconnects once Redis is back. A save that timed out may still be applied if
///   Redis was only slow.
///
/// The connection is made on first use, so an app starts even while Redis is down. Both keys
/// of a regeneration must live on one node: Redis Cluster is not supported.
///
/// # Examples
///
/// ```no_run
/// use session::{RedisStorage, SessionCookie, SessionManager};
///
/// let storage = RedisStorage::builder("redis://127.0.0.1:6379/").prefix("myapp:session:").build()?;
/// let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
/// let sessions = SessionManager::new(cookie, storage);
/// # let _ = sessions;
/// # Ok::<(), session::Error>(())
/// ```
pub struct RedisStorage {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    use_unknown_ids: bool,
    update: Script,
    save: Script,
}

impl RedisStorage {
    /// Starts configuring a storage on the Redis server at `url` (`redis://host:port/db`).
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").build()?;
    /// assert_eq!(storage.prefix(), "session:");
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> RedisStorageBuilder {
        RedisStorageBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            use_unknown_ids: false,
            timeout: Duration::from_secs(2),
        }
    }

    /// Returns the key prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").prefix("app:").build()?;
    /// assert_eq!(storage.prefix(), "app:");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Returns the Redis key of a session id.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").build()?;
    /// let id = session::SessionId::parse("00000000-0000-4000-8000-000000000000").unwrap();
    /// assert_eq!(storage.key_of(&id), "session:00000000-0000-4000-8000-000000000000");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn key_of(&self, id: &SessionId) -> String {
        let mut key = String::with_capacity(self.prefix.len() + id.as_str().len());
        key.push_str(&self.prefix);
        key.push_str(id.as_str());
        key
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                self.client
                    .get_connection_manager_with_config(self.config.clone())
                    .await
            })
            .await
            .map_err(Error::storage)?;
        Ok(connection.clone())
    }

    async fn read(&self, id: SessionId, timing: Timing) -> Result<Session> {
        let mut connection = self.connection().await?;
        let key = self.key_of(&id);
        let reply: redis::Value = connection.hgetall(&key).await.map_err(Error::storage)?;
        let fields = match reply {
            redis::Value::Array(items) => items,
            redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => {
                return Err(Error::storage(
                    "HGETALL replied with neither an array nor a map",
                ));
            }
        };
        if fields.is_empty() {
            return Ok(if self.use_unknown_ids {
                Session::from_parts(id, Map::new(), Map::new(), Timestamps::at(timing.now()))
            } else {
                fresh_session(timing)
            });
        }
        let Some((values, flash, timestamps)) = parse_hash(fields) else {
            tracing::warn!("corrupt session hash in Redis; serving a fresh session");
            return Ok(fresh_session(timing));
        };
        if let Err(reason) = timing.check(timestamps) {
            crate::audit::expired(reason);
            let _: () = connection.del(&key).await.map_err(Error::storage)?;
            return Ok(fresh_session(timing));
        }
        let mut session = Session::from_parts(id, values, flash, timestamps);
        session.mark_stored();
        Ok(session)
    }

    async fn write(&self, session: &Session, timing: Timing) -> Result<SaveOutcome> {
        let mut connection = self.connection().await?;
        let created = session.timestamps().created;
        let written = Timestamps {
            created,
            renewed: timing.now(),
        };
        let ttl = timing
            .expiry()
            .max_age(written, timing.now())
            .map_or(0, |seconds| seconds.max(1));
        let changes = HashChanges::of(session, written);
        let base = self.key_of(session.original_id());
        if changes.is_plain_update(session, ttl) {
            let mut invocation = self.update.key(&base);
            invocation.arg(ttl).arg(&changes.set);
            let status: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(Error::storage)?;
            return Ok(if status == 1 {
                SaveOutcome::Saved {
                    value: session.id().as_str().to_owned(),
                }
            } else {
                SaveOutcome::Interrupted
            });
        }
        let mut target_id = session.id().clone();
        let mut generated = session.id_is_generated();
        loop {
            let mut invocation = self.save.key(&base);
            invocation
                .key(self.key_of(&target_id))
                .arg(flag(session.is_stored()))
                .arg(flag(generated))
                .arg(ttl)
                .arg(flag(session.deletes_original()))
                .arg(changes.set.len())
                .arg(changes.delete.len())
                .arg(&changes.set)
                .arg(&changes.delete)
                .arg(&changes.consumed);
            let status: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(Error::storage)?;
            match status {
                0 => return Ok(SaveOutcome::Interrupted),
                2 => {
                    // A generated id that names a stored session: never overwrite it.
                    tracing::warn!(
                        "generated session id collided with a stored one; drawing another"
                    );
                    target_id = SessionId::generate();
                    generated = true;
                }
                _ => {
                    return Ok(SaveOutcome::Saved {
                        value: target_id.as_str().to_owned(),
                    });
                }
            }
        }
    }
}

/// One request's changes as the arguments of the save scripts: hash fields already prefixed,
/// values already JSON.
struct HashChanges {
    /// `field, JSON, field, JSON, ...` for `HSET`, the timestamps included.
    set: Vec<Vec<u8>>,
    /// Fields to delete: the values this request removed.
    delete: Vec<Vec<u8>>,
    /// `field, JSON, ...` of the flash this request consumed.
    consumed: Vec<Vec<u8>>,
}

impl HashChanges {
    /// Whether [`UPDATE`] can apply these changes: values set (no removals, no flash
    /// consumed) on a session loaded from, and kept under, its id, with a TTL.
    fn is_plain_update(&self, session: &Session, ttl: u64) -> bool {
        session.is_stored()
            && session.id() == session.original_id()
            && ttl > 0
            && self.delete.is_empty()
            && self.consumed.is_empty()
            && self.set.len() <= UPDATE_MAX_ARGS
    }

    fn of(session: &Session, written: Timestamps) -> Self {
        let flash_out = session.outgoing_flash();
        let mut set = Vec::with_capacity(2 + 2 * flash_out.len());
        set.push(META.as_bytes().to_vec());
        set.push(json(&(written.created, written.renewed)));
        let mut delete = Vec::new();
        for (key, value) in session.changes() {
            match value {
                Some(value) => {
                    set.push(field(VALUE, key));
                    set.push(json(value));
                }
                None => delete.push(field(VALUE, key)),
            }
        }
        for (key, value) in flash_out {
            set.push(field(FLASH, key));
            set.push(json(value));
        }
        let mut consumed = Vec::with_capacity(2 * session.incoming_flash().len());
        for (key, value) in session.incoming_flash() {
            consumed.push(field(FLASH, key));
            consumed.push(json(value));
        }
        Self {
            set,
            delete,
            consumed,
        }
    }
}

/// The hash field of `key` under `prefix` (`v:` or `f:`).
fn field(prefix: &str, key: &str) -> Vec<u8> {
    let mut field = Vec::with_capacity(prefix.len() + key.len());
    field.extend_from_slice(prefix.as_bytes());
    field.extend_from_slice(key.as_bytes());
    field
}

/// JSON text of a value that cannot fail to serialize (a `Value`, numbers).
fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl SessionStorage for RedisStorage {
    async fn load(&self, value: Option<&str>, timing: Timing) -> Result<Session> {
        let Some(id) = super::incoming_id(value) else {
            return Ok(fresh_session(timing));
        };
        self.read(id, timing).await
    }

    async fn save(&self, session: &Session, timing: Timing) -> Result<SaveOutcome> {
        if session.is_destroyed() {
            let mut connection = self.connection().await?;
            let keys = [
                self.key_of(session.original_id()),
                self.key_of(session.id()),
            ];
            let _: () = connection.del(&keys[..]).await.map_err(Error::storage)?;
            return Ok(SaveOutcome::Destroyed);
        }
        if !session.needs_write(&timing) {
            return Ok(SaveOutcome::Unchanged);
        }
        self.write(session, timing).await
    }
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("prefix", &self.prefix)
            .field("use_unknown_ids", &self.use_unknown_ids)
            .field("connected", &self.connection.initialized())
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisStorage`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let storage = session::RedisStorage::builder("redis://127.0.0.1/")
///     .prefix("app:session:")
///     .timeout(Duration::from_millis(500))
///     .build()?;
/// # let _ = storage;
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStorageBuilder {
    url: String,
    prefix: String,
    use_unknown_ids: bool,
    timeout: Duration,
}

impl RedisStorageBuilder {
    /// Sets the key prefix (`session:` by default, as in Remix). Keep it distinct from every
    /// other key family in the same database.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = session::RedisStorage::builder("redis://127.0.0.1/").prefix("a:");
    /// # let _ = builder;
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Adopts a well-formed id Redis does not hold instead of issuing a new one (off by
    /// default; Remix's `useUnknownIds`).
    ///
    /// # Security
    ///
    /// Adopting ids a client chose opens the door to session fixation.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = session::RedisStorage::builder("redis://127.0.0.1/").use_unknown_ids(true);
    /// # let _ = builder;
    /// ```
    pub fn use_unknown_ids(mut self, adopt: bool) -> Self {
        self.use_unknown_ids = adopt;
        self
    }

    /// Bounds connecting and every command (2 s by default): a Redis that is down or stalled
    /// gives an error instead of a hang.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = session::RedisStorage::builder("redis://127.0.0.1/").timeout(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL and builds the storage; the connection is made on first use.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] for a URL the `redis` crate cannot read.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::RedisStorage::builder("not a url").build().is_err());
    /// ```
    pub fn build(self) -> Result<RedisStorage> {
        let client = redis::Client::open(self.url.as_str()).map_err(Error::storage)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        Ok(RedisStorage {
            client,
            config,
            connection: OnceCell::new(),
            prefix: self.prefix,
            use_unknown_ids: self.use_unknown_ids,
            update: Script::new(UPDATE),
            save: Script::new(SAVE),
        })
    }
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// Splits the flat `field, JSON, ...` reply of `HGETALL` into values, flash and timestamps;
/// `None` if any part is corrupt.
fn parse_hash(fields: Vec<redis::Value>) -> Option<(Map, Map, Timestamps)> {
    let mut values = Map::new();
    let mut flash = Map::new();
    let mut timestamps = None;
    let mut fields = fields.into_iter();
    loop {
        let (field, text) = match (fields.next(), fields.next()) {
            (None, None) => break,
            (Some(redis::Value::BulkString(field)), Some(redis::Value::BulkString(text))) => {
                (field, text)
            }
            _ => return None,
        };
        let mut field = String::from_utf8(field).ok()?;
        if field == META {
            let (created, renewed): (u64, u64) = serde_json::from_slice(&text).ok()?;
            timestamps = Some(Timestamps { created, renewed });
        } else if field.starts_with(VALUE) {
            field.drain(..VALUE.len());
            values.insert(field, serde_json::from_slice(&text).ok()?);
        } else if field.starts_with(FLASH) {
            field.drain(..FLASH.len());
            flash.insert(field, serde_json::from_slice(&text).ok()?);
        } else {
            return None;
        }
    }
    Some((values, flash, timestamps?))
}
