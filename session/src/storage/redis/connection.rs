//! Where a [`RedisStorage`](super::RedisStorage) sends its commands: a connection it makes on
//! first use (from a URL or a `redis::Client`, one server or a Cluster), or one the app
//! already holds, bounded by the storage's timeout either way.

use std::fmt;
#[cfg(feature = "redis-sentinel")]
use std::sync::Arc;
#[cfg(feature = "redis-sentinel")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::error::{Error, Result};

/// A Redis connection or client that the app already holds, for
/// [`RedisStorage::builder_for`](super::RedisStorage::builder_for).
///
/// Made with `From` (or `.into()`) from:
///
/// - a [`redis::Client`]: the storage opens a [`ConnectionManager`] from it on first use,
///   with its own timeouts and reconnection; TLS and credentials come from the client;
/// - a [`ConnectionManager`] or a [`MultiplexedConnection`] already open: the storage shares
///   it (each clone is a handle on one connection) and bounds every command by its timeout;
/// - with the `redis-cluster` feature, a `redis::cluster::ClusterClient` or an open
///   `redis::cluster_async::ClusterConnection`: the storage keeps its keys Cluster-safe.
///
/// # Examples
///
/// ```
/// use session::storage::RedisConnection;
///
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let connection = RedisConnection::from(client);
/// assert!(!connection.is_cluster());
/// # Ok::<(), redis::RedisError>(())
/// ```
pub struct RedisConnection(pub(super) Source);

/// What a storage is built from.
pub(super) enum Source {
    Url(String),
    Client(redis::Client),
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
    #[cfg(feature = "redis-cluster")]
    ClusterUrls(Vec<String>),
    #[cfg(feature = "redis-cluster")]
    ClusterClient(Box<redis::cluster::ClusterClient>),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
    /// Sentinels' URLs and the name of the master they watch.
    #[cfg(feature = "redis-sentinel")]
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        /// How to reach the masters (password, database, TLS); it may hold a password.
        master: Option<Box<redis::sentinel::SentinelNodeConnectionInfo>>,
    },
}

impl RedisConnection {
    /// Whether the storage built on this talks to a Redis Cluster (and so hash-tags its keys).
    ///
    /// # Examples
    ///
    /// See [`RedisConnection`].
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.0.is_cluster()
    }
}

impl Source {
    pub(super) fn is_cluster(&self) -> bool {
        match self {
            Self::Url(_) | Self::Client(_) | Self::Manager(_) | Self::Multiplexed(_) => false,
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel { .. } => false,
            #[cfg(feature = "redis-cluster")]
            Self::ClusterUrls(_) | Self::ClusterClient(_) | Self::Cluster(_) => true,
        }
    }

    /// What `Debug` shows: the kind of source, never a URL (it may hold a password).
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Url(_) => "url",
            Self::Client(_) => "client",
            Self::Manager(_) => "connection manager",
            Self::Multiplexed(_) => "multiplexed connection",
            #[cfg(feature = "redis-cluster")]
            Self::ClusterUrls(_) => "cluster urls",
            #[cfg(feature = "redis-cluster")]
            Self::ClusterClient(_) => "cluster client",
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(_) => "cluster connection",
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel { .. } => "sentinel",
        }
    }
}

impl Clone for Source {
    fn clone(&self) -> Self {
        match self {
            Self::Url(url) => Self::Url(url.clone()),
            Self::Client(client) => Self::Client(client.clone()),
            Self::Manager(manager) => Self::Manager(manager.clone()),
            Self::Multiplexed(connection) => Self::Multiplexed(connection.clone()),
            #[cfg(feature = "redis-cluster")]
            Self::ClusterUrls(urls) => Self::ClusterUrls(urls.clone()),
            #[cfg(feature = "redis-cluster")]
            Self::ClusterClient(client) => Self::ClusterClient(client.clone()),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => Self::Cluster(connection.clone()),
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel {
                sentinels,
                service,
                master,
            } => Self::Sentinel {
                sentinels: sentinels.clone(),
                service: service.clone(),
                master: master.clone(),
            },
        }
    }
}

/// Shows the kind of connection only.
impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisConnection")
            .field(&self.0.kind())
            .finish()
    }
}

impl From<redis::Client> for RedisConnection {
    fn from(client: redis::Client) -> Self {
        Self(Source::Client(client))
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self(Source::Manager(manager))
    }
}

impl From<MultiplexedConnection> for RedisConnection {
    fn from(connection: MultiplexedConnection) -> Self {
        Self(Source::Multiplexed(connection))
    }
}

#[cfg(feature = "redis-cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
impl From<redis::cluster::ClusterClient> for RedisConnection {
    fn from(client: redis::cluster::ClusterClient) -> Self {
        Self(Source::ClusterClient(Box::new(client)))
    }
}

#[cfg(feature = "redis-cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
impl From<redis::cluster_async::ClusterConnection> for RedisConnection {
    fn from(connection: redis::cluster_async::ClusterConnection) -> Self {
        Self(Source::Cluster(connection))
    }
}

/// The storage's way to a connection: made on first use, or given.
pub(super) enum Link {
    /// A connection manager opened from the client on first use, with the storage's timeouts.
    Lazy {
        client: Box<redis::Client>,
        config: ConnectionManagerConfig,
        connection: OnceCell<ConnectionManager>,
    },
    /// A cluster connection opened from the client on first use; `bounded` when the client
    /// is the app's, whose timeouts the storage did not set.
    #[cfg(feature = "redis-cluster")]
    LazyCluster {
        client: Box<redis::cluster::ClusterClient>,
        connection: OnceCell<redis::cluster_async::ClusterConnection>,
        bounded: bool,
    },
    /// The master that Sentinel names, asked again once a command fails the way a failover
    /// makes it fail (the connection dropped or refused, or a `READONLY` replica).
    #[cfg(feature = "redis-sentinel")]
    Sentinel {
        sentinel: Box<tokio::sync::Mutex<redis::sentinel::SentinelClient>>,
        config: redis::AsyncConnectionConfig,
        current: std::sync::Mutex<Option<(MultiplexedConnection, Arc<AtomicBool>)>>,
    },
    /// The app's own connection; every command is bounded by `Conn::bound`.
    Given(Conn),
}

impl Link {
    /// Whether a connection is open (or was given).
    pub(super) fn is_connected(&self) -> bool {
        match self {
            Self::Lazy { connection, .. } => connection.initialized(),
            #[cfg(feature = "redis-cluster")]
            Self::LazyCluster { connection, .. } => connection.initialized(),
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel { current, .. } => current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some(),
            Self::Given(_) => true,
        }
    }

    /// A handle on the connection, opening it on first use (a Cluster or Sentinel's master
    /// within `timeout`).
    #[cfg_attr(
        not(any(feature = "redis-cluster", feature = "redis-sentinel")),
        expect(
            unused_variables,
            reason = "only a Cluster or Sentinel connects under this bound"
        )
    )]
    pub(super) async fn get(&self, timeout: Duration) -> Result<Conn> {
        match self {
            Self::Lazy {
                client,
                config,
                connection,
            } => {
                let manager = connection
                    .get_or_try_init(|| client.get_connection_manager_with_config(config.clone()))
                    .await
                    .map_err(Error::storage)?;
                // Its own response timeout bounds every command.
                Ok(Conn::new(Inner::Manager(manager.clone()), None))
            }
            #[cfg(feature = "redis-cluster")]
            Self::LazyCluster {
                client,
                connection,
                bounded,
            } => {
                let cluster = connection
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(timeout, client.get_async_connection()).await {
                            Ok(connected) => connected,
                            Err(_) => Err(timed_out()),
                        }
                    })
                    .await
                    .map_err(Error::storage)?;
                // A client the storage built times out each request (and its retries) itself.
                Ok(Conn::new(
                    Inner::Cluster(cluster.clone()),
                    bounded.then_some(timeout),
                ))
            }
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel {
                sentinel,
                config,
                current,
            } => Self::master(sentinel, config, current, timeout).await,
            Self::Given(conn) => Ok(conn.clone()),
        }
    }

    /// The connection to the master Sentinel names: the one in use until a command marks it
    /// stale, then a new one to whichever master Sentinel names now.
    #[cfg(feature = "redis-sentinel")]
    async fn master(
        sentinel: &tokio::sync::Mutex<redis::sentinel::SentinelClient>,
        config: &redis::AsyncConnectionConfig,
        current: &std::sync::Mutex<Option<(MultiplexedConnection, Arc<AtomicBool>)>>,
        timeout: Duration,
    ) -> Result<Conn> {
        let in_use = || {
            let current = current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            current
                .as_ref()
                .filter(|(_, stale)| !stale.load(Ordering::Relaxed))
                .map(|(connection, stale)| Conn {
                    inner: Inner::Multiplexed(connection.clone()),
                    bound: Some(timeout),
                    stale: Some(Arc::clone(stale)),
                })
        };
        if let Some(conn) = in_use() {
            return Ok(conn);
        }
        let mut sentinel = sentinel.lock().await;
        // Another request may have reconnected while this one waited.
        if let Some(conn) = in_use() {
            return Ok(conn);
        }
        // Boxed: the Sentinel client's futures nest deep enough that, unboxed, an app's future
        // holding a traced load could pass rustc's type depth limit. It runs only to reconnect.
        let connect = Box::pin(async {
            let client = sentinel.async_get_client().await?;
            client
                .get_multiplexed_async_connection_with_config(config)
                .await
        });
        let connection = tokio::time::timeout(timeout, connect)
            .await
            .unwrap_or_else(|_| Err(timed_out()))
            .map_err(Error::storage)?;
        let stale = Arc::new(AtomicBool::new(false));
        *current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((connection.clone(), Arc::clone(&stale)));
        Ok(Conn {
            inner: Inner::Multiplexed(connection),
            bound: Some(timeout),
            stale: Some(stale),
        })
    }
}

/// Whether a failure is what a failover looks like from a client: the master gone, or
/// demoted to a replica.
#[cfg(feature = "redis-sentinel")]
fn after_failover(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
}

/// A handle on one connection, which the scripts and commands run on.
#[derive(Clone)]
pub(super) struct Conn {
    inner: Inner,
    /// The bound on each command, for connections whose own timeouts the storage did not set.
    bound: Option<Duration>,
    /// Set when a command failed as after a failover, so that the next request asks Sentinel.
    #[cfg(feature = "redis-sentinel")]
    stale: Option<Arc<AtomicBool>>,
}

/// The kinds of connection a command can run on.
#[derive(Clone)]
pub(super) enum Inner {
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Conn {
    /// The app's own connection, bounded by `timeout`.
    /// A handle on `inner`, each command bounded by `bound` (`None`: by the connection's own
    /// timeouts).
    pub(super) fn new(inner: Inner, bound: Option<Duration>) -> Self {
        Self {
            inner,
            bound,
            #[cfg(feature = "redis-sentinel")]
            stale: None,
        }
    }

    fn watch(&self) -> Watch {
        Watch {
            bound: self.bound,
            #[cfg(feature = "redis-sentinel")]
            stale: self.stale.clone(),
        }
    }

    fn inner(&mut self) -> &mut dyn ConnectionLike {
        match &mut self.inner {
            Inner::Manager(manager) => manager,
            Inner::Multiplexed(connection) => connection,
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(connection) => connection,
        }
    }
}

/// What watches one command: the bound on its time and, through Sentinel, the flag a
/// failover-like failure sets.
struct Watch {
    bound: Option<Duration>,
    #[cfg(feature = "redis-sentinel")]
    stale: Option<Arc<AtomicBool>>,
}

impl Watch {
    /// `sent`, bounded (a timeout is an error) and watched.
    fn bounded<'a, T: Send + 'a>(self, sent: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
        let Some(limit) = self.bound else {
            return sent;
        };
        Box::pin(async move {
            let reply = tokio::time::timeout(limit, sent)
                .await
                .unwrap_or_else(|_| Err(timed_out()));
            #[cfg(feature = "redis-sentinel")]
            if let (Some(stale), Err(error)) = (&self.stale, &reply)
                && after_failover(error)
            {
                stale.store(true, Ordering::Relaxed);
            }
            reply
        })
    }
}

/// The error of a command that took longer than the storage's timeout.
fn timed_out() -> redis::RedisError {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer within the storage's timeout",
    )
    .into()
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let watch = self.watch();
        watch.bounded(self.inner().req_packed_command(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let watch = self.watch();
        watch.bounded(self.inner().req_packed_commands(pipeline, offset, count))
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Manager(manager) => manager.get_db(),
            Inner::Multiplexed(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(connection) => connection.get_db(),
        }
    }
}
