//! Redis storage on a real Redis Cluster that the tests start (three masters with a replica
//! each, on loopback ports): the key layout, a regeneration across slots and its failure
//! between the two steps, and a master killed mid-run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use session::{Error, RedisStorage, SessionId, SessionManager};

use crate::common::{RedisServer, cookie_pair as pair, failover_round, free_port, scratch_dir};

/// A Redis Cluster of six nodes in a temporary directory, stopped when it is dropped.
pub(crate) struct RedisCluster {
    pub(crate) nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("ports", &self.ports())
            .finish()
    }
}

impl RedisCluster {
    /// Starts six `redis-server --cluster-enabled yes` and joins them with
    /// `redis-cli --cluster create ... --cluster-replicas 1`; returns once every node says
    /// the cluster is ok.
    pub(crate) fn start() -> Self {
        let dir = scratch_dir("session-cluster");
        let nodes: Vec<RedisServer> = (0..6).map(|_| Self::node(&dir, free_port())).collect();
        let cluster = Self { nodes, dir };
        let status = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(
                cluster
                    .ports()
                    .iter()
                    .map(|port| format!("127.0.0.1:{port}")),
            )
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(status.success(), "redis-cli --cluster create failed");
        cluster.wait_until_ok();
        cluster.wait_for_replication();
        cluster
    }

    /// Waits until each master has a replica in sync.
    fn wait_for_replication(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let synced = self.ports().into_iter().all(|port| {
                let info = Self::cli(port, &["info", "replication"]);
                !info.contains("role:master") || info.contains("state=online")
            });
            if synced {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the replicas did not sync");
    }

    /// Starts (or restarts, with its saved cluster configuration) the node on `port`.
    fn node(dir: &std::path::Path, port: u16) -> RedisServer {
        RedisServer::start_with(
            port,
            &format!(
                "--port {port} --cluster-enabled yes --cluster-node-timeout 1000 \
                 --cluster-config-file {dir}/nodes-{port}.conf --dir {dir}",
                dir = dir.display()
            ),
        )
    }

    /// Kills the node on `port` and forgets it here (the cluster marks it failed).
    pub(crate) fn kill(&mut self, port: u16) {
        let index = self.ports().iter().position(|&p| p == port).unwrap();
        self.nodes.remove(index).kill();
    }

    /// Adds a new, empty node as a replica of the master on `master`, as an operator replaces
    /// a failed node, and waits until it is in sync.
    pub(crate) fn add_replica_of(&mut self, master: u16) {
        let port = free_port();
        self.nodes.push(Self::node(&self.dir, port));
        let id = Self::cli(master, &["cluster", "myid"]).trim().to_owned();
        let status = std::process::Command::new("redis-cli")
            .args(["--cluster", "add-node"])
            .arg(format!("127.0.0.1:{port}"))
            .arg(format!("127.0.0.1:{master}"))
            .args(["--cluster-slave", "--cluster-master-id", &id])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(status.success(), "redis-cli --cluster add-node failed");
        self.wait_until_ok();
        self.wait_for_replication();
    }

    pub(crate) fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    pub(crate) fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A storage on this cluster under a key prefix of its own.
    pub(crate) fn storage(&self) -> RedisStorage {
        RedisStorage::cluster_builder(self.urls())
            .prefix(format!("test:{}:", SessionId::generate().as_str()))
            .build()
            .unwrap()
    }

    /// What `redis-cli -p <port> <args>` prints.
    pub(crate) fn cli(port: u16, args: &[&str]) -> String {
        let output = std::process::Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until every node says `cluster_state:ok` and every slot is served.
    pub(crate) fn wait_until_ok(&self) {
        let ports = self.ports();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = ports.iter().all(|&port| {
                let info = Self::cli(port, &["cluster", "info"]);
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let states: Vec<String> = ports
            .iter()
            .map(|&port| {
                format!(
                    "{port}: {}",
                    Self::cli(port, &["cluster", "info"])
                        .lines()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .collect();
        panic!("the Redis Cluster did not become ok: {states:#?}");
    }

    /// The port of the master serving `key`'s slot.
    pub(crate) fn master_of(&self, key: &str) -> u16 {
        self.find_master_of(key)
            .expect("a master serves every slot")
    }

    /// Waits until a live master serves `key`'s slot (a replica took over), and returns it.
    pub(crate) fn wait_for_master_of(&self, key: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(port) = self.find_master_of(key) {
                return port;
            }
            assert!(Instant::now() < deadline, "no replica took over {key}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find_master_of(&self, key: &str) -> Option<u16> {
        let slot: u16 = Self::cli(self.nodes[0].port, &["cluster", "keyslot", key])
            .trim()
            .parse()
            .unwrap();
        self.nodes.iter().map(|node| node.port).find(|&port| {
            let role = Self::cli(port, &["role"]);
            role.starts_with("master") && Self::serves(port, slot)
        })
    }

    /// Whether the node on `port` lists `slot` among its own.
    fn serves(port: u16, slot: u16) -> bool {
        let nodes = Self::cli(port, &["cluster", "nodes"]);
        nodes
            .lines()
            .find(|line| line.contains("myself"))
            .is_some_and(|line| {
                line.split_whitespace().skip(8).any(|range| {
                    let mut bounds = range.split('-').map(|bound| bound.parse::<u16>().ok());
                    match (bounds.next().flatten(), bounds.next().flatten()) {
                        (Some(low), Some(high)) => (low..=high).contains(&slot),
                        (Some(one), None) => one == slot,
                        _ => false,
                    }
                })
            })
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster the conformance tests share, started once per test process.
pub(crate) fn shared() -> &'static RedisCluster {
    static SHARED: std::sync::OnceLock<RedisCluster> = std::sync::OnceLock::new();
    SHARED.get_or_init(RedisCluster::start)
}

/// A storage on the shared cluster, under a key prefix of its own.
pub(crate) fn cluster_storage() -> RedisStorage {
    shared().storage()
}

use crate::common::redis_manager as manager;

/// The id a cookie pair carries, read back through the manager.
async fn id_of(sessions: &SessionManager<RedisStorage>, pair: &str) -> SessionId {
    sessions.load(Some(pair)).await.unwrap().id().clone()
}

#[tokio::test]
async fn keys_are_hash_tagged_with_the_id_and_the_owner() {
    let cluster = shared();
    let storage = cluster.storage();
    assert!(storage.is_cluster());
    let prefix = storage.prefix().to_owned();
    let id: SessionId = "00000000-0000-4000-8000-000000000000".parse().unwrap();
    assert_eq!(storage.key_of(&id), format!("{prefix}{{{}}}", id.as_str()));
    let sessions = manager(storage);
    let mut session = sessions.load(None).await.unwrap();
    session.set("n", 1).unwrap();
    session.set_owner("ada").unwrap();
    let commit = sessions.commit(&session).await.unwrap();
    let id = id_of(&sessions, &pair(&commit)).await;
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut redis = client.get_async_connection().await.unwrap();
    let hash: Vec<(String, String)> = redis
        .hgetall(format!("{prefix}{{{}}}", id.as_str()))
        .await
        .unwrap();
    assert!(
        hash.contains(&("v:n".to_owned(), "1".to_owned())),
        "{hash:?}"
    );
    let owned: Vec<String> = redis.smembers(format!("{prefix}@{{ada}}")).await.unwrap();
    assert_eq!(owned, [id.as_str().to_owned()]);
    let ttl: i64 = redis.ttl(format!("{prefix}@{{ada}}")).await.unwrap();
    assert!(ttl > 0, "the owner's set expires with its sessions: {ttl}");
}

#[tokio::test]
async fn a_prefix_with_braces_is_refused_on_a_cluster() {
    let err = RedisStorage::cluster_builder(["redis://127.0.0.1:1/"])
        .prefix("app:{tenant}:")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(session::ConfigError::InvalidPrefix { .. })
        ),
        "{err:?}"
    );
    // On one server braces mean nothing and are kept.
    let storage = RedisStorage::builder("redis://127.0.0.1:1/")
        .prefix("app:{tenant}:")
        .build()
        .unwrap();
    assert_eq!(storage.prefix(), "app:{tenant}:");
}

/// A saved session holding `cart = 3`: its cookie pair and id.
async fn saved(sessions: &SessionManager<RedisStorage>) -> (String, SessionId) {
    let mut session = sessions.load(None).await.unwrap();
    session.set("cart", 3).unwrap();
    let commit = sessions.commit(&session).await.unwrap();
    let pair = pair(&commit);
    let id = id_of(sessions, &pair).await;
    (pair, id)
}

/// Regenerates `session`'s id until the new one's master is not `avoid`.
fn regenerate_away_from(
    cluster: &RedisCluster,
    storage: &RedisStorage,
    session: &mut session::Session,
    avoid: u16,
) {
    loop {
        session.regenerate_id(session::OldId::Delete).unwrap();
        if cluster.master_of(&storage.key_of(session.id())) != avoid {
            return;
        }
    }
}

#[tokio::test]
async fn a_regeneration_across_nodes_keeps_the_data_and_forwards_the_old_id() {
    let cluster = shared();
    let storage = cluster.storage();
    let sessions = manager(storage.clone());
    let (old_pair, old_id) = saved(&sessions).await;
    let old_master = cluster.master_of(&storage.key_of(&old_id));
    // A request that loaded the session before the login, and saves after it.
    let mut late = sessions.load(Some(&old_pair)).await.unwrap();
    let mut login = sessions.load(Some(&old_pair)).await.unwrap();
    regenerate_away_from(cluster, &storage, &mut login, old_master);
    login.set("user", "ada").unwrap();
    login.set_owner("ada").unwrap();
    let commit = sessions.commit(&login).await.unwrap();
    let new_pair = pair(&commit);
    late.set("theme", "dark").unwrap();
    let _ = sessions.commit(&late).await.unwrap();
    let moved = sessions.load(Some(&new_pair)).await.unwrap();
    assert_ne!(moved.id(), &old_id);
    assert_eq!(moved.get::<u32>("cart").unwrap(), Some(3));
    assert_eq!(moved.get::<String>("user").unwrap().as_deref(), Some("ada"));
    assert_eq!(
        moved.get::<String>("theme").unwrap().as_deref(),
        Some("dark"),
        "the late save followed the forward to the new node"
    );
    let listed = sessions.owner_sessions("ada", None).await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "the old id left the owner's set and the new one joined"
    );
}

#[tokio::test]
async fn a_regeneration_whose_second_step_fails_leaves_the_old_session_as_it_was() {
    // The old id's master is paused for writes: the peek (a transaction of reads) passes,
    // the new hash is written on another node, and the forward waits past the timeout, so
    // the commit fails. The old id keeps serving the session; once the node is back, the
    // queued forward lands and the old id leads to the new session: never to nothing.
    let cluster = shared();
    let storage = RedisStorage::cluster_builder(cluster.urls())
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let sessions = manager(storage.clone());
    let (old_pair, old_id) = saved(&sessions).await;
    let old_master = cluster.master_of(&storage.key_of(&old_id));
    let mut login = sessions.load(Some(&old_pair)).await.unwrap();
    regenerate_away_from(cluster, &storage, &mut login, old_master);
    login.set("user", "ada").unwrap();
    let new_id = login.id().clone();
    // Another instance of the app, on a connection of its own: the first one's connection to
    // the paused node waits behind the forward.
    let other = manager(
        RedisStorage::cluster_builder(cluster.urls())
            .prefix(storage.prefix())
            .build()
            .unwrap(),
    );
    RedisCluster::cli(old_master, &["client", "pause", "1500", "write"]);
    let result = sessions.commit(&login).await;
    let during = other.load(Some(&old_pair)).await;
    let error = result.expect_err("the forward could not be written in time");
    assert!(matches!(error, Error::Storage(_)), "{error:?}");
    let during = during.expect("reads still pass");
    assert_eq!(
        during.get::<u32>("cart").unwrap(),
        Some(3),
        "the old id still serves the session"
    );
    assert_eq!(
        during.get::<String>("user").unwrap(),
        None,
        "the failed login is not in it"
    );
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut redis = client.get_async_connection().await.unwrap();
    let copied: bool = redis.exists(storage.key_of(&new_id)).await.unwrap();
    assert!(
        copied,
        "the first step wrote the new hash, which no client holds"
    );
    RedisCluster::cli(old_master, &["client", "unpause"]);
    // The forward was sent before the timeout and runs once the node is back: the old id
    // now forwards to the new session, which holds everything. A forward is never served,
    // so the old cookie loads a fresh session: the browser whose login failed is logged out,
    // its data kept under an id that no client holds until the TTL ends it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let forward: String = loop {
        let forward: Option<String> = redis
            .get(format!("{}>{{{}}}", storage.prefix(), old_id.as_str()))
            .await
            .unwrap();
        if let Some(forward) = forward {
            break forward;
        }
        assert!(Instant::now() < deadline, "the queued forward never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(forward, new_id.as_str());
    let copied: Vec<(String, String)> = redis.hgetall(storage.key_of(&new_id)).await.unwrap();
    assert!(
        copied.contains(&("v:cart".to_owned(), "3".to_owned())),
        "{copied:?}"
    );
    assert!(
        copied.contains(&("v:user".to_owned(), "\"ada\"".to_owned())),
        "{copied:?}"
    );
    let after = other.load(Some(&old_pair)).await.unwrap();
    assert_eq!(
        after.get::<u32>("cart").unwrap(),
        None,
        "a forward is never served"
    );
}

#[tokio::test]
async fn the_app_s_own_cluster_connection_is_shared() {
    let cluster = shared();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let connection = client.get_async_connection().await.unwrap();
    let storage = RedisStorage::builder_for(connection)
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .build()
        .unwrap();
    assert!(storage.is_cluster());
    let sessions = manager(storage);
    let mut session = sessions.load(None).await.unwrap();
    session.set("n", 7).unwrap();
    let commit = sessions.commit(&session).await.unwrap();
    let back = sessions.load(Some(&pair(&commit))).await.unwrap();
    assert_eq!(back.get::<u32>("n").unwrap(), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_run_gives_typed_errors_then_recovers_with_every_acknowledged_save() {
    let mut cluster = RedisCluster::start();
    let storage = RedisStorage::cluster_builder(cluster.urls())
        .prefix("failover:")
        .timeout(Duration::from_millis(500))
        .wait_for_replicas(1)
        .build()
        .unwrap();
    let sessions = manager(storage.clone());
    // Sixty sessions spread over the three masters, each saved once.
    let mut browsers = Vec::new();
    for i in 0..60_u32 {
        let mut session = sessions.load(None).await.unwrap();
        session.set("n", i).unwrap();
        let commit = sessions.commit(&session).await.unwrap();
        browsers.push((pair(&commit), i));
    }
    let first = storage.key_of(&id_of(&sessions, &browsers[0].0).await);
    let victim = cluster.master_of(&first);
    cluster.kill(victim);
    // Keep saving through the failover, then through the old master's return as a replica:
    // each save is acknowledged (a replica has it) or fails with a typed storage error.
    let mut errors = 0;
    let mut acknowledged = vec![None; browsers.len()];
    let mut round = 0_u32;
    let mut restarted = false;
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the cluster never recovered"
        );
        round += 1;
        let saved = failover_round(&sessions, &browsers, round).await;
        for (slot, &ok) in saved.iter().enumerate() {
            if ok {
                acknowledged[slot] = Some(round);
            } else {
                errors += 1;
            }
        }
        let all_ok = saved.iter().all(|&ok| ok);
        if all_ok && restarted {
            break;
        }
        if !restarted && errors > 0 {
            // Once a replica has taken over, a new node replaces the dead one as its replica,
            // so that its slots have a replica to acknowledge writes again.
            let promoted = cluster.wait_for_master_of(&first);
            cluster.wait_until_ok();
            cluster.add_replica_of(promoted);
            restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(errors > 0, "killing a master shows as storage errors");
    // Every session holds its last round, which every session acknowledged; a save that
    // failed may have been applied, but none that was acknowledged is missing.
    for (slot, (pair, i)) in browsers.iter().enumerate() {
        let session = sessions.load(Some(pair)).await.unwrap();
        assert_eq!(session.get::<u32>("n").unwrap(), Some(*i), "session {slot}");
        assert_eq!(
            session.get::<u32>("round").unwrap(),
            Some(round),
            "session {slot}"
        );
        assert_eq!(acknowledged[slot], Some(round));
    }
}

/// How many `WAIT` commands the node on `port` ran since its statistics were reset.
fn waits_on(port: u16) -> u64 {
    RedisCluster::cli(port, &["info", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_wait:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_session_the_owner_limit_ends_is_waited_for_on_its_own_node() {
    // An ending a failover lost would bring the session back: with `wait_for_replicas`, the
    // node of every session a login ends must get its `WAIT`, not only the login's own nodes.
    let cluster = shared();
    for attempt in 0..30 {
        let storage = RedisStorage::cluster_builder(cluster.urls())
            .prefix(format!("limit-wait:{}:", SessionId::generate().as_str()))
            .wait_for_replicas(1)
            .build()
            .unwrap();
        let sessions = manager(storage.clone())
            .with_owner_limit(session::owner::OwnerLimit::end_least_recent(1));
        let owner = format!("ada-{attempt}");
        let log_in = |browser: Option<String>| {
            let sessions = &sessions;
            let owner = owner.clone();
            async move {
                let mut session = sessions.load(browser.as_deref()).await.unwrap();
                session.regenerate_id(session::OldId::Delete).unwrap();
                session.set_owner(owner).unwrap();
                let commit = sessions.commit(&session).await.unwrap();
                id_of(sessions, &pair(&commit)).await
            }
        };
        let first = log_in(None).await;
        let ended_on = cluster.master_of(&storage.key_of(&first));
        // The second browser has a saved session first, so its login moves a known id.
        let (browser, base) = saved(&sessions).await;
        if cluster.master_of(&storage.key_of(&base)) == ended_on {
            continue;
        }
        RedisCluster::cli(ended_on, &["config", "resetstat"]);
        let second = log_in(Some(browser)).await;
        if cluster.master_of(&storage.key_of(&second)) == ended_on {
            continue;
        }
        assert!(
            session::SessionStore::load(&storage, &first)
                .await
                .unwrap()
                .is_none(),
            "the limit ended the first session"
        );
        assert!(
            waits_on(ended_on) >= 1,
            "the ended session's node got no WAIT"
        );
        return;
    }
    panic!("no attempt put the two logins on other nodes than the ended session");
}
