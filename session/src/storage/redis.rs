//! [`RedisStorage`]: each session a Redis hash that every instance of an app shares. A write
//! plan runs on the server, atomically, in one Lua script: the same promises as memory
//! storage, across machines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use tokio::sync::OnceCell;

use crate::data::Map;
use crate::error::{ConfigError, Error, Result};
use crate::expiry::{Lifetime, Timestamps};
use crate::id::SessionId;
use crate::owner::{Label, Owner, OwnerLimit, WhenFull};
use crate::store::{
    Change, Ending, Expect, OwnedRecord, Record, Retire, SessionStore, Stored, Version,
    WriteOutcome, WritePlan,
};

mod hash;
mod scripts;

use hash::{HashChanges, parse_hash};
use scripts::{END, OWNED, SAVE, UPDATE};

/// Sessions in Redis, shared by every instance of an app.
///
/// Each session is a hash at `<prefix><id>`: a field `v:<key>` per value and `f:<key>` per
/// flash value (JSON text), and `m` for `[created, renewed]`. A regenerated session's old id
/// forwards to its new one, for the grace window only, from the string key `<prefix>><id>`.
///
/// - **Atomic merges, one round trip:** a write runs one Lua script that applies only its
///   request's changes (values set or removed, the flash it consumed, the flash it set), so
///   concurrent requests on different keys all survive; on the same key the last save wins.
///   The common save, values set on a loaded session with a TTL, costs the server two
///   commands (`EXPIRE`, whose reply is the existence check, and `HSET`).
/// - **Expiry on the server:** every write sets the hash's TTL to the session's remaining
///   life (the idle timeout, cut by the absolute one), and loads check the timestamps too.
/// - **Strict ids:** an id is validated by the manager before it reaches Redis; a load never
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
/// assert_eq!(sessions.storage().prefix(), "myapp:session:");
/// # Ok::<(), session::Error>(())
/// ```
///
/// Clones are cheap handles sharing one connection.
#[derive(Clone)]
pub struct RedisStorage {
    shared: Arc<Shared>,
}

/// What every clone of a [`RedisStorage`] shares.
struct Shared {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    /// The prefix of owners' sets: `<prefix>@`, then the owner (no id holds a `@`); made once,
    /// as every save passes it to its script.
    owners_prefix: String,
    update: Script,
    save: Script,
    owned: Script,
    end: Script,
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
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            timeout: Duration::from_secs(2),
        }
    }

    /// Remix's default key prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::RedisStorage::DEFAULT_PREFIX, "session:");
    /// ```
    pub const DEFAULT_PREFIX: &'static str = "session:";

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
        &self.shared.prefix
    }

    /// Returns the Redis key of a session id.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").build()?;
    /// let id: session::SessionId = "00000000-0000-4000-8000-000000000000".parse()?;
    /// assert_eq!(storage.key_of(&id), "session:00000000-0000-4000-8000-000000000000");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn key_of(&self, id: &SessionId) -> String {
        self.key("", id)
    }

    /// The key of `id`'s forward: `<prefix>><id>` (no id holds a `>`).
    fn forward_key_of(&self, id: &SessionId) -> String {
        self.key(">", id)
    }

    /// The key of `owner`'s set of session ids.
    fn owner_key(&self, owner: &Owner) -> String {
        format!("{}{}", self.shared.owners_prefix, owner.as_str())
    }

    fn key(&self, infix: &str, id: &SessionId) -> String {
        let mut key =
            String::with_capacity(self.shared.prefix.len() + infix.len() + id.as_str().len());
        key.push_str(&self.shared.prefix);
        key.push_str(infix);
        key.push_str(id.as_str());
        key
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let connection = self
            .shared
            .connection
            .get_or_try_init(|| async {
                self.shared
                    .client
                    .get_connection_manager_with_config(self.shared.config.clone())
                    .await
            })
            .await
            .map_err(Error::storage)?;
        Ok(connection.clone())
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let mut connection = self.connection().await?;
        let reply: redis::Value = connection
            .hgetall(self.key_of(id))
            .await
            .map_err(Error::storage)?;
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
            return Ok(None);
        }
        let Some(hash) = parse_hash(fields) else {
            tracing::warn!("corrupt session hash in Redis; serving a fresh session");
            return Ok(None);
        };
        Ok(Some(Stored::Record {
            record: Record::new(hash.values, hash.flash, hash.timestamps)
                .with_lifetime(hash.lifetime)
                .with_owner(hash.owner)
                .with_label(hash.label),
            version: Version::UNVERSIONED,
        }))
    }

    async fn execute(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let mut connection = self.connection().await?;
        let changes = HashChanges::of(plan);
        let base = self.key_of(plan.base());
        let reply: redis::Value = if changes.is_plain_update(plan) {
            let mut invocation = self.shared.update.key(&base);
            invocation
                .key(self.forward_key_of(plan.base()))
                .arg(plan.ttl_for(Lifetime::Policy).unwrap_or(1))
                .arg(plan.absolute_ttl().unwrap_or(0))
                .arg(self.shared.owners_prefix.as_str())
                .arg(&changes.set);
            invocation.invoke_async(&mut connection).await
        } else {
            let (retire, forward_ttl) = match plan.retire() {
                Retire::Keep => ("K", 0),
                Retire::Delete => ("D", 0),
                Retire::Forward { until } => ("F", until.saturating_sub(plan.now()).max(1)),
                Retire::Supersede { until } => ("S", until.saturating_sub(plan.now()).max(1)),
            };
            let expect = match plan.expect() {
                Expect::Vacant => "V",
                Expect::Any => "A",
                _ => "L",
            };
            let mut invocation = self.shared.save.key(&base);
            invocation
                .key(self.key_of(plan.target()))
                .key(self.forward_key_of(plan.base()))
                .key(self.forward_key_of(plan.target()))
                .arg(expect)
                .arg(plan.ttl_for(Lifetime::Policy).unwrap_or(0))
                .arg(retire)
                .arg(forward_ttl)
                .arg(match plan.retire() {
                    Retire::Supersede { .. } => SUPERSEDED,
                    _ => plan.target().as_str(),
                })
                .arg(changes.set.len())
                .arg(changes.delete.len())
                .arg(plan.absolute_ttl().unwrap_or(0))
                .arg(self.shared.owners_prefix.as_str());
            let (mode, owner) = match plan.owner_change() {
                Change::Set(owner) => ("S", owner.as_str()),
                Change::Clear => ("C", ""),
                Change::Keep => ("K", ""),
            };
            let (max, when_full) = match plan.owner_limit() {
                Some(limit) if limit.when_full() == WhenFull::Refuse => (limit.max(), "R"),
                Some(limit) => (limit.max(), "E"),
                None => (0, "E"),
            };
            invocation
                .arg(mode)
                .arg(owner)
                .arg(max)
                .arg(when_full)
                .arg(plan.base().as_str())
                .arg(plan.target().as_str())
                .arg(self.shared.prefix.as_str())
                .arg(&changes.set)
                .arg(&changes.delete)
                .arg(&changes.consumed);
            invocation.invoke_async(&mut connection).await
        }
        .map_err(Error::storage)?;
        outcome(reply, plan)
    }
}

/// What a session's forward key holds when it started over instead of moving.
const SUPERSEDED: &str = "!";

/// What a script's reply says: 1 written, 0 gone, 2 taken, 3 the owner is full, an id: moved
/// there, `!`: started over.
fn outcome(reply: redis::Value, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
    let moved = |bytes: &[u8]| {
        if bytes == SUPERSEDED.as_bytes() {
            return Ok(WriteOutcome::Superseded);
        }
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|to| to.parse::<SessionId>().ok())
            .map(|to| WriteOutcome::Moved { to })
            .ok_or_else(|| Error::storage("a session forward in Redis holds no session id"))
    };
    match reply {
        redis::Value::Int(1) => Ok(WriteOutcome::Written),
        redis::Value::Int(0) => Ok(WriteOutcome::Gone),
        redis::Value::Int(2) => Ok(WriteOutcome::Taken),
        redis::Value::Int(3) => Ok(WriteOutcome::OwnerFull {
            limit: plan.owner_limit().map_or(0, OwnerLimit::max),
        }),
        redis::Value::BulkString(bytes) => moved(&bytes),
        redis::Value::SimpleString(text) => moved(text.as_bytes()),
        other => Err(Error::storage(format!(
            "a session script replied {other:?}"
        ))),
    }
}

/// Whether the fields of an `HGETALL` reply decode as a session: the fuzz targets' entry.
#[cfg(feature = "fuzzing")]
pub(crate) fn redis_hash(fields: Vec<Vec<u8>>) -> bool {
    parse_hash(fields.into_iter().map(redis::Value::BulkString).collect()).is_some()
}

impl SessionStore for RedisStorage {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.read(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        self.execute(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        let keys: Vec<String> = ids
            .iter()
            .flat_map(|&id| [self.key_of(id), self.forward_key_of(id)])
            .collect();
        let mut connection = self.connection().await?;
        connection.del::<_, ()>(&keys).await.map_err(Error::storage)
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        let mut connection = self.connection().await?;
        let reply: Vec<redis::Value> = self
            .shared
            .owned
            .key(self.owner_key(owner))
            .arg(self.shared.prefix.as_str())
            .arg(owner.as_str())
            .invoke_async(&mut connection)
            .await
            .map_err(Error::storage)?;
        Ok(reply
            .chunks_exact(5)
            .filter_map(|row| listed(row, now))
            .collect())
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, _now: u64) -> Result<usize> {
        let (mode, ids): (&str, Vec<&str>) = match which {
            Ending::One(id) => ("O", vec![id.as_str()]),
            Ending::AllExcept(kept) => ("E", kept.iter().map(SessionId::as_str).collect()),
            _ => ("A", Vec::new()),
        };
        let mut connection = self.connection().await?;
        self.shared
            .end
            .key(self.owner_key(owner))
            .arg(self.shared.prefix.as_str())
            .arg(owner.as_str())
            .arg(mode)
            .arg(ids)
            .invoke_async(&mut connection)
            .await
            .map_err(Error::storage)
    }
}

/// One row of the `OWNED` script's reply: id, timestamps, lifetime, label, TTL.
fn listed(row: &[redis::Value], now: u64) -> Option<OwnedRecord> {
    let text = |value: &redis::Value| match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        _ => None,
    };
    let id: SessionId = text(&row[0])?.parse().ok()?;
    let (created, renewed): (u64, u64) = serde_json::from_str(&text(&row[1])?).ok()?;
    let lifetime = text(&row[2]).and_then(|code| code.parse().ok());
    let label = text(&row[3]).and_then(Label::stored);
    let deadline = match row[4] {
        redis::Value::Int(ttl) if ttl >= 0 => Some(now.saturating_add(ttl.cast_unsigned())),
        _ => None,
    };
    let record = Record::new(Map::new(), Map::new(), Timestamps { created, renewed })
        .with_lifetime(Lifetime::from_code(lifetime))
        .with_deadline(deadline)
        .with_label(label);
    Some(OwnedRecord::of(id, &record))
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("prefix", &self.shared.prefix)
            .field("connected", &self.shared.connection.initialized())
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
#[derive(Clone)]
#[must_use]
pub struct RedisStorageBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

/// Hides the URL, which may hold a password.
impl fmt::Debug for RedisStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorageBuilder")
            .field("url", &"<hidden>")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
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
    /// [`Error::Config`] with [`ConfigError::InvalidUrl`] for a URL the `redis` crate cannot
    /// read; the error never repeats the URL, which may hold a password.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{ConfigError, Error, RedisStorage};
    ///
    /// let err = RedisStorage::builder("redis://:hunter2@[::1").build().unwrap_err();
    /// assert!(matches!(err, Error::Config(ConfigError::InvalidUrl { .. })));
    /// assert!(!format!("{err:?}").contains("hunter2"));
    /// ```
    pub fn build(self) -> Result<RedisStorage> {
        let client = redis::Client::open(self.url.as_str()).map_err(|error| {
            // The `redis` crate's messages name the part that is wrong, not the URL; the
            // replacement makes sure of it.
            let reason = error.to_string().replace(self.url.as_str(), "<url>");
            ConfigError::InvalidUrl { reason }
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        Ok(RedisStorage {
            shared: Arc::new(Shared {
                client,
                config,
                connection: OnceCell::new(),
                owners_prefix: format!("{}@", self.prefix),
                prefix: self.prefix,
                update: Script::new(UPDATE),
                save: Script::new(SAVE),
                owned: Script::new(OWNED),
                end: Script::new(END),
            }),
        })
    }
}
