//! [`RedisStorage`]: each session a Redis hash that every instance of an app shares. A write
//! plan runs on the server, atomically, in one Lua script: the same promises as memory
//! storage, across machines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
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

#[cfg(feature = "redis-cluster")]
mod cluster;
mod connection;
mod hash;
mod scripts;

pub use connection::RedisConnection;
use connection::{Conn, Inner, Link, Source};
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
/// The connection is made on first use, so an app starts even while Redis is down; or the
/// storage shares one the app holds ([`builder_for`](Self::builder_for)).
///
/// # TLS
///
/// With the `redis-tls` feature, `rediss://` URLs connect over TLS (the `redis` crate's rustls
/// support), trusting the system's roots or
/// [`tls_root_certificate`](RedisStorageBuilder::tls_root_certificate). The app installs
/// rustls's crypto provider; the feature picks none.
///
/// # Redis Cluster
///
/// With the `redis-cluster` feature, [`cluster_builder`](Self::cluster_builder) (or a Cluster
/// client or connection given to `builder_for`) hash-tags every key: a session's hash and its
/// forward live in its id's slot (`<prefix>{<id>}`, `<prefix>>{<id>}`), an owner's set and lock
/// in the owner's (`<prefix>@{<owner>}`, `<prefix>!{<owner>}`). A save that keeps its id is one
/// script on one slot. A write that joins or leaves an owner, and every ending, runs under the
/// owner's lock. A regeneration to another slot is two atomic steps: the new hash is written,
/// then the old one is replaced by its forward only if it still holds what was copied. If
/// that second step fails, the commit fails and the old id keeps the session; if the step
/// lands late, the old id forwards to the new session, which no client holds: that browser is
/// logged out and nothing is served to anyone else.
///
/// # Replicas
///
/// [`wait_for_replicas`](RedisStorageBuilder::wait_for_replicas) makes a write count only
/// once replicas acknowledged it, so a failover loses no acknowledged save.
///
/// # Sentinel
///
/// With the `redis-sentinel` feature, [`sentinel_builder`](Self::sentinel_builder) finds the
/// master through Sentinel, and asks again whenever a command fails the way a failover makes
/// it fail, so the storage follows a failover by itself (a connection made from the `redis`
/// crate's Sentinel client alone keeps the old master's address).
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
    link: Link,
    timeout: Duration,
    /// How many replicas must acknowledge each write before it counts as saved (`WAIT`).
    replicas: u32,
    /// The scripts of the Cluster mode, whose keys are hash-tagged; `None` on one server.
    #[cfg(feature = "redis-cluster")]
    cluster: Option<cluster::ClusterScripts>,
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
    /// Starts configuring a storage on the Redis server at `url` (`redis://host:port/db`; with
    /// the `redis-tls` feature also `rediss://`, TLS).
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").build()?;
    /// assert_eq!(storage.prefix(), "session:");
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> RedisStorageBuilder {
        RedisStorageBuilder::on(Source::Url(url.into()))
    }

    /// Starts configuring a storage on a client or connection the app already holds (see
    /// [`RedisConnection`] for what it accepts): a `redis::Client`, an open
    /// `ConnectionManager` or `MultiplexedConnection`, or (feature `redis-cluster`) a
    /// Cluster client or connection. An open connection is shared, not reopened; the
    /// storage's [timeout](RedisStorageBuilder::timeout) still bounds each command.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let storage = session::RedisStorage::builder_for(client).prefix("app:").build()?;
    /// assert_eq!(storage.prefix(), "app:");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_for(connection: impl Into<RedisConnection>) -> RedisStorageBuilder {
        RedisStorageBuilder::on(connection.into().0)
    }

    /// Starts configuring a storage on the master that the Sentinels at `sentinels`
    /// (`redis://host:26379`) watch under `service` (the name in `sentinel monitor`). The
    /// storage asks them for the master on first use, and again whenever a command fails the
    /// way a failover makes it fail (the connection dropped or refused, a timeout, or a
    /// `READONLY` reply from a demoted master), so that it follows a failover by itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::sentinel_builder(
    ///     ["redis://10.0.0.1:26379/", "redis://10.0.0.2:26379/"],
    ///     "sessions",
    /// )
    /// .build()?;
    /// assert!(!storage.is_cluster());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[cfg(feature = "redis-sentinel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-sentinel")))]
    pub fn sentinel_builder<I>(sentinels: I, service: impl Into<String>) -> RedisStorageBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::on_sentinels(sentinels, service.into(), None)
    }

    /// As [`sentinel_builder`](Self::sentinel_builder), reaching the masters Sentinel names
    /// with `master`: their password or ACL user, database and TLS mode (the Sentinels' own
    /// credentials and TLS come from their URLs).
    ///
    /// # Examples
    ///
    /// ```
    /// use redis::sentinel::SentinelNodeConnectionInfo;
    ///
    /// let master = SentinelNodeConnectionInfo::default().set_redis_connection_info(
    ///     redis::RedisConnectionInfo::default().set_password("the masters' requirepass"),
    /// );
    /// let storage = session::RedisStorage::sentinel_builder_with_master(
    ///     ["redis://10.0.0.1:26379/"],
    ///     "sessions",
    ///     master,
    /// )
    /// .build()?;
    /// assert!(!storage.is_cluster());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[cfg(feature = "redis-sentinel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-sentinel")))]
    pub fn sentinel_builder_with_master<I>(
        sentinels: I,
        service: impl Into<String>,
        master: redis::sentinel::SentinelNodeConnectionInfo,
    ) -> RedisStorageBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::on_sentinels(sentinels, service.into(), Some(Box::new(master)))
    }

    /// The builder of both Sentinel constructors.
    #[cfg(feature = "redis-sentinel")]
    fn on_sentinels<I>(
        sentinels: I,
        service: String,
        master: Option<Box<redis::sentinel::SentinelNodeConnectionInfo>>,
    ) -> RedisStorageBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        RedisStorageBuilder::on(Source::Sentinel {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            service,
            master,
        })
    }

    /// Starts configuring a storage on the Redis Cluster that `urls` (some of its nodes:
    /// `redis://host:port`, or `rediss://` with `redis-tls`) lead to. Keys are hash-tagged:
    /// see [the Cluster mode](RedisStorage#redis-cluster).
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::cluster_builder(["redis://127.0.0.1:7000/"]).build()?;
    /// assert!(storage.is_cluster());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub fn cluster_builder<I>(urls: I) -> RedisStorageBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        RedisStorageBuilder::on(Source::ClusterUrls(
            urls.into_iter().map(Into::into).collect(),
        ))
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

    /// Whether the storage talks to a Redis Cluster, and so hash-tags its keys.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::RedisStorage::builder("redis://127.0.0.1/").build()?;
    /// assert!(!storage.is_cluster());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        #[cfg(feature = "redis-cluster")]
        return self.shared.cluster.is_some();
        #[cfg(not(feature = "redis-cluster"))]
        false
    }

    /// The key of `id`'s forward: `<prefix>><id>` (no id holds a `>`).
    fn forward_key_of(&self, id: &SessionId) -> String {
        self.key(">", id)
    }

    /// The key of `owner`'s set of session ids: `<prefix>@<owner>`, or `<prefix>@{<owner>}`
    /// on a Cluster.
    fn owner_key(&self, owner: &Owner) -> String {
        if self.is_cluster() {
            format!("{}{{{}}}", self.shared.owners_prefix, owner.as_str())
        } else {
            format!("{}{}", self.shared.owners_prefix, owner.as_str())
        }
    }

    /// `<prefix><infix><id>`, or `<prefix><infix>{<id>}` on a Cluster, where the braces put a
    /// session's hash and its forward in one hash slot.
    fn key(&self, infix: &str, id: &SessionId) -> String {
        let tagged = self.is_cluster();
        let mut key =
            String::with_capacity(self.shared.prefix.len() + infix.len() + id.as_str().len() + 2);
        key.push_str(&self.shared.prefix);
        key.push_str(infix);
        if tagged {
            key.push('{');
        }
        key.push_str(id.as_str());
        if tagged {
            key.push('}');
        }
        key
    }

    async fn connection(&self) -> Result<Conn> {
        self.shared.link.get(self.shared.timeout).await
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let mut connection = self.connection().await?;
        let reply: redis::Value = connection
            .hgetall(self.key_of(id))
            .await
            .map_err(Error::storage)?;
        let fields = flat(reply)?;
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
        #[cfg(feature = "redis-cluster")]
        let outcome = if self.is_cluster() {
            self.cluster_write(plan).await?
        } else {
            self.write_one_server(plan).await?
        };
        #[cfg(not(feature = "redis-cluster"))]
        let outcome = self.write_one_server(plan).await?;
        if outcome == WriteOutcome::Written && self.shared.replicas > 0 {
            let mut keys = vec![self.key_of(plan.target())];
            if plan.moves() {
                keys.push(self.key_of(plan.base()));
            }
            self.replicated(&keys).await?;
        }
        Ok(outcome)
    }

    /// Waits until [`wait_for_replicas`](RedisStorageBuilder::wait_for_replicas) replicas of
    /// the node of each key acknowledged every write sent to it so far.
    async fn replicated(&self, keys: &[String]) -> Result<()> {
        // One server is one node: a single `WAIT` covers every key written to it.
        let keys = if self.is_cluster() {
            keys
        } else {
            &keys[..keys.len().min(1)]
        };
        let wanted = self.shared.replicas;
        let within = u64::try_from(self.shared.timeout.as_millis() / 2)
            .unwrap_or(1_000)
            .max(1);
        let mut connection = self.connection().await?;
        for key in keys {
            // `EXISTS` routes the pipeline to the key's node on a Cluster.
            let (_, reached): (i64, u32) = redis::pipe()
                .exists(key)
                .cmd("WAIT")
                .arg(wanted)
                .arg(within)
                .query_async(&mut connection)
                .await
                .map_err(Error::storage)?;
            if reached < wanted {
                return Err(Error::storage(format!(
                    "the write reached {reached} of {wanted} replicas in time; it may still be applied"
                )));
            }
        }
        Ok(())
    }

    async fn write_one_server(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
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

/// An `HGETALL` reply as `field, value, ...`, in RESP2 (an array) or RESP3 (a map).
fn flat(reply: redis::Value) -> Result<Vec<redis::Value>> {
    match reply {
        redis::Value::Array(items) => Ok(items),
        redis::Value::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        _ => Err(Error::storage(
            "HGETALL replied with neither an array nor a map",
        )),
    }
}

impl RedisStorage {
    async fn delete_on_one_server(&self, ids: &[&SessionId]) -> Result<()> {
        let keys: Vec<String> = ids
            .iter()
            .flat_map(|&id| [self.key_of(id), self.forward_key_of(id)])
            .collect();
        let mut connection = self.connection().await?;
        connection.del::<_, ()>(&keys).await.map_err(Error::storage)
    }
}

/// What a forward key holds, as an outcome: moved to that id, or `!` started over.
fn forward_outcome(bytes: &[u8]) -> Result<WriteOutcome> {
    if bytes == SUPERSEDED.as_bytes() {
        return Ok(WriteOutcome::Superseded);
    }
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|to| to.parse::<SessionId>().ok())
        .map(|to| WriteOutcome::Moved { to })
        .ok_or_else(|| Error::storage("a session forward in Redis holds no session id"))
}

/// What a script's reply says: 1 written, 0 gone, 2 taken, 3 the owner is full, an id: moved
/// there, `!`: started over.
fn outcome(reply: redis::Value, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
    let moved = forward_outcome;
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
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.read(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        self.execute(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        #[cfg(feature = "redis-cluster")]
        if self.is_cluster() {
            self.cluster_delete(ids).await?;
        } else {
            self.delete_on_one_server(ids).await?;
        }
        #[cfg(not(feature = "redis-cluster"))]
        self.delete_on_one_server(ids).await?;
        if self.shared.replicas > 0 {
            // A logout lost in a failover would bring the session back.
            let keys: Vec<String> = ids.iter().map(|id| self.key_of(id)).collect();
            self.replicated(&keys).await?;
        }
        Ok(())
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        #[cfg(feature = "redis-cluster")]
        if self.is_cluster() {
            return self.cluster_owned(owner, now).await;
        }
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
        #[cfg(feature = "redis-cluster")]
        if self.is_cluster() {
            let ended = self.cluster_end_owned(owner, which).await?;
            if self.shared.replicas > 0 {
                let keys: Vec<String> = ended.iter().map(|id| self.key_of(id)).collect();
                self.replicated(&keys).await?;
            }
            return Ok(ended.len());
        }
        let ended = self.end_on_one_server(owner, which).await?;
        if self.shared.replicas > 0 {
            // "Log out everywhere" lost in a failover would bring the sessions back.
            self.replicated(&[self.owner_key(owner)]).await?;
        }
        Ok(ended)
    }
}

impl RedisStorage {
    async fn end_on_one_server(&self, owner: &Owner, which: Ending<'_>) -> Result<usize> {
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
            .field("cluster", &self.is_cluster())
            .field("connected", &self.shared.link.is_connected())
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
    source: Source,
    prefix: String,
    timeout: Duration,
    replicas: u32,
    #[cfg(feature = "redis-tls")]
    root_certificate: Option<Vec<u8>>,
}

/// Hides the URL, which may hold a password.
impl fmt::Debug for RedisStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorageBuilder")
            .field("source", &self.source.kind())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStorageBuilder {
    fn on(source: Source) -> Self {
        Self {
            source,
            prefix: RedisStorage::DEFAULT_PREFIX.to_owned(),
            timeout: Duration::from_secs(2),
            replicas: 0,
            #[cfg(feature = "redis-tls")]
            root_certificate: None,
        }
    }

    /// Sets the key prefix (`session:` by default, as in Remix). Keep it distinct from every
    /// other key family in the same database. On a Cluster it may not hold `{` or `}`, which
    /// would change the keys' hash slots.
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
    /// gives an error instead of a hang. It bounds the app's own connections too.
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

    /// Counts a write (a save, a deletion) as done only once `replicas` replicas of its node
    /// acknowledged it (`WAIT`, within half the timeout); 0, the default, counts it once the
    /// node applied it. Redis replicates asynchronously, so without this a save
    /// acknowledged just before its master dies can be lost when a replica takes over; with
    /// it, a write that is not replicated in time is an [`Error::Storage`] (it may still be
    /// applied, as after a timeout). Costs one more round trip per write.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = session::RedisStorage::builder("redis://127.0.0.1/").wait_for_replicas(1);
    /// # let _ = builder;
    /// ```
    pub fn wait_for_replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Trusts the certificate authority in `pem` (PEM text) for a `rediss://` URL, instead of
    /// the system's roots: for a Redis whose certificate a private authority signed (Redis
    /// Cloud, a self-managed server). For an app's own client, set it on the client.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pem = std::fs::read("redis-ca.pem")?;
    /// let storage = session::RedisStorage::builder("rediss://redis.internal:6380/")
    ///     .tls_root_certificate(pem)
    ///     .build()?;
    /// # let _ = storage;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "redis-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-tls")))]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Checks the configuration and builds the storage; a connection is made on first use
    /// (an app's own open connection is used as it is).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with [`ConfigError::InvalidUrl`] for a URL the `redis` crate cannot
    /// read (the error never repeats the URL, which may hold a password), with
    /// [`ConfigError::InvalidPrefix`] for a Cluster prefix holding `{` or `}`, and with
    /// [`ConfigError::Tls`] for a `rediss://` URL when no TLS crypto provider is installed.
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
        let cluster = self.source.is_cluster();
        if cluster && self.prefix.contains(['{', '}']) {
            return Err(ConfigError::InvalidPrefix {
                reason: "a Redis Cluster prefix may not hold `{` or `}`",
            }
            .into());
        }
        let link = self.link()?;
        Ok(RedisStorage {
            shared: Arc::new(Shared {
                link,
                timeout: self.timeout,
                replicas: self.replicas,
                #[cfg(feature = "redis-cluster")]
                cluster: cluster.then(cluster::ClusterScripts::new),
                owners_prefix: format!("{}@", self.prefix),
                prefix: self.prefix,
                update: Script::new(UPDATE),
                save: Script::new(SAVE),
                owned: Script::new(OWNED),
                end: Script::new(END),
            }),
        })
    }

    /// How the storage reaches Redis.
    fn link(&self) -> Result<Link> {
        let timeout = self.timeout;
        let lazy = |client| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(timeout);
            Link::Lazy {
                client: Box::new(client),
                config,
                connection: OnceCell::new(),
            }
        };
        match &self.source {
            Source::Url(url) => Ok(lazy(self.client(url)?)),
            Source::Client(client) => Ok(lazy(client.clone())),
            #[cfg(feature = "redis-cluster")]
            Source::ClusterUrls(urls) => {
                for url in urls {
                    Self::check_tls(url)?;
                }
                #[cfg_attr(
                    not(feature = "redis-tls"),
                    expect(unused_mut, reason = "only TLS sets the certificates")
                )]
                let mut builder =
                    redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(2)
                        .min_retry_wait(10)
                        .max_retry_wait(u64::try_from(timeout.as_millis() / 4).unwrap_or(500))
                        .overall_response_timeout(Some(timeout));
                #[cfg(feature = "redis-tls")]
                if let Some(pem) = &self.root_certificate {
                    builder = builder.certs(redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    });
                }
                let client = builder.build().map_err(|error| invalid_url(&error, urls))?;
                Ok(cluster_link(client, false))
            }
            #[cfg(feature = "redis-cluster")]
            Source::ClusterClient(client) => Ok(cluster_link(client.as_ref().clone(), true)),
            #[cfg(feature = "redis-sentinel")]
            Source::Sentinel {
                sentinels,
                service,
                master,
            } => {
                let sentinel = redis::sentinel::SentinelClient::build(
                    sentinels.iter().map(String::as_str).collect(),
                    service.clone(),
                    master.as_deref().cloned(),
                    redis::sentinel::SentinelServerType::Master,
                )
                .map_err(|error| invalid_url(&error, sentinels))?;
                Ok(Link::Sentinel {
                    sentinel: Box::new(tokio::sync::Mutex::new(sentinel)),
                    config: redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout)),
                    current: std::sync::Mutex::new(None),
                })
            }
            Source::Manager(manager) => Ok(Link::Given(Conn::new(
                Inner::Manager(manager.clone()),
                Some(timeout),
            ))),
            Source::Multiplexed(connection) => Ok(Link::Given(Conn::new(
                Inner::Multiplexed(connection.clone()),
                Some(timeout),
            ))),
            #[cfg(feature = "redis-cluster")]
            Source::Cluster(connection) => Ok(Link::Given(Conn::new(
                Inner::Cluster(connection.clone()),
                Some(timeout),
            ))),
        }
    }

    /// The client of a single server's URL.
    #[cfg_attr(
        not(feature = "redis-tls"),
        expect(
            clippy::unused_self,
            reason = "only TLS reads the builder's certificate"
        )
    )]
    fn client(&self, url: &str) -> Result<redis::Client> {
        Self::check_tls(url)?;
        #[cfg(feature = "redis-tls")]
        if let Some(pem) = &self.root_certificate {
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            };
            return redis::Client::build_with_tls(url, certificates)
                .map_err(|error| invalid_url(&error, &[url]));
        }
        redis::Client::open(url).map_err(|error| invalid_url(&error, &[url]))
    }

    /// A `rediss://` URL needs rustls's crypto provider, which the app chooses: without one,
    /// the first connection would panic inside rustls, so the build fails instead.
    #[cfg_attr(
        not(feature = "redis-tls"),
        expect(clippy::unnecessary_wraps, reason = "only TLS can refuse a URL")
    )]
    fn check_tls(url: &str) -> Result<()> {
        #[cfg(feature = "redis-tls")]
        if url.starts_with("rediss:") && rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(ConfigError::Tls {
                reason: "no rustls crypto provider is installed: call \
                         `rustls::crypto::ring::default_provider().install_default()` (or \
                         aws_lc_rs's) once at start",
            }
            .into());
        }
        let _ = url;
        Ok(())
    }
}

/// A Cluster connection made from `client` on first use; `bounded` by the storage's timeout
/// when the client's own timeouts are the app's.
#[cfg(feature = "redis-cluster")]
fn cluster_link(client: redis::cluster::ClusterClient, bounded: bool) -> Link {
    Link::LazyCluster {
        client: Box::new(client),
        connection: OnceCell::new(),
        bounded,
    }
}

/// A URL the `redis` crate cannot read, without repeating it (it may hold a password): the
/// crate's messages name the part that is wrong, and the replacement makes sure of it.
fn invalid_url(error: &redis::RedisError, urls: &[impl AsRef<str>]) -> Error {
    let mut reason = error.to_string();
    for url in urls {
        reason = reason.replace(url.as_ref(), "<url>");
    }
    ConfigError::InvalidUrl { reason }.into()
}

#[cfg(all(test, feature = "redis-tls"))]
mod tests {
    use super::*;

    #[test]
    fn a_tls_url_without_a_crypto_provider_is_a_config_error_not_a_panic() {
        // No test of this crate installs a rustls provider.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let err = RedisStorage::builder("rediss://localhost:6380/")
            .build()
            .unwrap_err();
        let Error::Config(config @ ConfigError::Tls { .. }) = &err else {
            panic!("{err:?}")
        };
        assert!(config.to_string().contains("install_default"), "{config}");
        // A plain URL needs none.
        assert!(
            RedisStorage::builder("redis://localhost:6379/")
                .build()
                .is_ok()
        );
    }
}
