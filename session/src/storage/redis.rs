//! [`RedisStorage`]: the signed id in the cookie, the session in a Redis hash that every
//! instance of an app shares. A save applies one request's changes on the server, atomically,
//! in one Lua script: the same promises as memory storage, across machines.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::cookie::fresh_session;
use super::{SaveOutcome, SessionStorage};
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

/// Applies one request's changes to a session hash; see the argument list at the top.
const SAVE: &str = r"
-- KEYS[1]: the hash the session was loaded from; KEYS[2]: the hash to write.
-- ARGV[1] '1': the session was loaded from KEYS[1], which must still exist.
-- ARGV[2] '1': KEYS[2] names an id generated in this request, which must not exist yet.
-- ARGV[3] '[created,renewed]'; ARGV[4] TTL in seconds ('0': none);
-- ARGV[5] '1': delete KEYS[1] after writing KEYS[2].
-- Then three lists, each a count and that many (field, JSON) pairs: values set or removed
-- (JSON '' removes), flash consumed (removed only if unchanged), flash set.
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
if KEYS[1] ~= KEYS[2] then
  local all = redis.call('HGETALL', KEYS[1])
  if #all > 0 then redis.call('HSET', KEYS[2], unpack(all)) end
end
local set = {'m', ARGV[3]}
local del = {}
local i = 6
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  if ARGV[i + 1] == '' then
    del[#del + 1] = 'v:' .. ARGV[i]
  else
    set[#set + 1] = 'v:' .. ARGV[i]
    set[#set + 1] = ARGV[i + 1]
  end
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  if redis.call('HGET', KEYS[2], 'f:' .. ARGV[i]) == ARGV[i + 1] then
    del[#del + 1] = 'f:' .. ARGV[i]
  end
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  set[#set + 1] = 'f:' .. ARGV[i]
  set[#set + 1] = ARGV[i + 1]
  i = i + 2
end
if #del > 0 then redis.call('HDEL', KEYS[2], unpack(del)) end
redis.call('HSET', KEYS[2], unpack(set))
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
elseif ARGV[1] == '1' then
  redis.call('PERSIST', KEYS[2])
end
if ARGV[5] == '1' and KEYS[1] ~= KEYS[2] then redis.call('DEL', KEYS[1]) end
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
///   [`SaveOutcome::Interrupted`].
/// - **Expiry on the server:** every write sets the hash's TTL to the session's remaining
///   life (the idle timeout, cut by the absolute one), and loads check the timestamps too.
/// - **Strict ids:** an id is validated before it reaches Redis; unknown ids are not adopted
///   unless [`use_unknown_ids`](RedisStorageBuilder::use_unknown_ids) is on; a load never
///   writes.
/// - **Failures are typed and bounded:** connecting and each command time out (2 s by
///   default); a failure is [`Error::Storage`] carrying the `redis` error, and the connection
///   manager reconnects once Redis is back.
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
        format!("{}{}", self.prefix, id.as_str())
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
        let fields: Vec<(String, String)> =
            connection.hgetall(&key).await.map_err(Error::storage)?;
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
        session.set_stored_version(0);
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
        let meta = format!("[{created},{}]", timing.now());
        let base = self.key_of(session.original_id());
        let mut target_id = session.id().clone();
        let mut generated = session.id_is_generated();
        loop {
            let mut invocation = self.save.key(&base);
            invocation
                .key(self.key_of(&target_id))
                .arg(flag(session.stored_version().is_some()))
                .arg(flag(generated))
                .arg(&meta)
                .arg(ttl)
                .arg(flag(session.deletes_original()));
            let changes: Vec<(&str, Option<&Value>)> = session.changes().collect();
            invocation.arg(changes.len());
            for (key, value) in changes {
                invocation
                    .arg(key)
                    .arg(value.map_or_else(String::new, Value::to_string));
            }
            invocation.arg(session.incoming_flash().len());
            for (key, value) in session.incoming_flash() {
                invocation.arg(key).arg(value.to_string());
            }
            invocation.arg(session.outgoing_flash().len());
            for (key, value) in session.outgoing_flash() {
                invocation.arg(key).arg(value.to_string());
            }
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
            save: Script::new(SAVE),
        })
    }
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// Splits a session hash into values, flash and timestamps; `None` if any part is corrupt.
fn parse_hash(fields: Vec<(String, String)>) -> Option<(Map, Map, Timestamps)> {
    let mut values = Map::new();
    let mut flash = Map::new();
    let mut timestamps = None;
    for (field, text) in fields {
        if field == META {
            let (created, renewed): (u64, u64) = serde_json::from_str(&text).ok()?;
            timestamps = Some(Timestamps { created, renewed });
        } else if let Some(key) = field.strip_prefix(VALUE) {
            values.insert(key.to_owned(), serde_json::from_str(&text).ok()?);
        } else if let Some(key) = field.strip_prefix(FLASH) {
            flash.insert(key.to_owned(), serde_json::from_str(&text).ok()?);
        } else {
            return None;
        }
    }
    Some((values, flash, timestamps?))
}
