//! Redis storage through Sentinel: a master, its replica and a Sentinel that the tests start;
//! the storage follows a failover to the promoted replica by itself.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use session::{Error, RedisStorage, SessionId};

use crate::common::{RedisServer, cookie_pair, failover_round, free_port, scratch_dir};

/// The name the Sentinel watches the master under.
const SERVICE: &str = "sessions";

/// A master, its replica and one Sentinel (quorum 1) in a temporary directory.
#[derive(Debug)]
pub(crate) struct SentinelSetup {
    master: RedisServer,
    replica: RedisServer,
    sentinel: RedisServer,
    dir: PathBuf,
}

fn cli(port: u16, args: &[&str]) -> String {
    cli_as(port, None, args)
}

/// `redis-cli` on `port`, authenticated with `password` if given.
fn cli_as(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let auth: &[&str] = match password {
        Some(password) => &["--no-auth-warning", "-a", password],
        None => &[],
    };
    let output = std::process::Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(auth)
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl SentinelSetup {
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// The setup with `password` on the master and the replica (`requirepass`, and
    /// `masterauth` between them); the Sentinel is told it with `auth-pass`.
    pub(crate) fn start_with(password: Option<&str>) -> Self {
        let auth = password.map_or_else(String::new, |password| {
            format!(" --requirepass {password} --masterauth {password}")
        });
        let dir = scratch_dir("session-sentinel");
        // Both keep their files (the replica's copy of the master's data) in the scratch
        // directory, not in the crate the tests run from.
        let (master_dir, replica_dir) = (dir.join("master"), dir.join("replica"));
        std::fs::create_dir_all(&master_dir).unwrap();
        std::fs::create_dir_all(&replica_dir).unwrap();
        let master_port = free_port();
        let master = RedisServer::start_with(
            master_port,
            &format!("--port {master_port} --dir {}{auth}", master_dir.display()),
        );
        let replica_port = free_port();
        let replica = RedisServer::start_with(
            replica_port,
            &format!(
                "--port {replica_port} --dir {} --replicaof 127.0.0.1 {master_port}{auth}",
                replica_dir.display()
            ),
        );
        wait_for("the replica's sync", || {
            cli_as(master.port, password, &["info", "replication"]).contains("state=online")
        });
        let port = free_port();
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {SERVICE} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {SERVICE} 1000\n\
                 sentinel failover-timeout {SERVICE} 5000\n{auth_pass}",
                dir = dir.display(),
                master = master.port,
                auth_pass = password.map_or_else(String::new, |password| {
                    format!("sentinel auth-pass {SERVICE} {password}\n")
                }),
            ),
        )
        .unwrap();
        let sentinel = RedisServer::spawn(port, &format!("{} --sentinel", config.display()));
        wait_for("the Sentinel's view of the replica", || {
            cli(port, &["sentinel", "replicas", SERVICE]).contains(&replica_port.to_string())
        });
        Self {
            master,
            replica,
            sentinel,
            dir,
        }
    }

    fn builder(&self) -> session::storage::RedisStorageBuilder {
        RedisStorage::sentinel_builder([self.sentinel.url()], SERVICE)
    }

    /// The port of the master the Sentinel names.
    fn master_port(&self) -> u16 {
        cli(
            self.sentinel.port,
            &["sentinel", "get-master-addr-by-name", SERVICE],
        )
        .lines()
        .nth(1)
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or(0)
    }
}

impl Drop for SentinelSetup {
    fn drop(&mut self) {
        self.sentinel.kill();
        self.replica.kill();
        self.master.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The setup the conformance tests share, started once per test process.
fn shared() -> &'static SentinelSetup {
    static SHARED: std::sync::OnceLock<SentinelSetup> = std::sync::OnceLock::new();
    SHARED.get_or_init(SentinelSetup::start)
}

/// A storage on the shared setup's master, found through Sentinel.
pub(crate) fn sentinel_storage() -> RedisStorage {
    shared()
        .builder()
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .build()
        .unwrap()
}

use crate::common::redis_manager as manager;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_is_followed_to_the_promoted_replica() {
    let mut setup = SentinelSetup::start();
    let old_master = setup.master.port;
    // Saves before the failover wait for the replica, so none can be lost with the master.
    let durable = manager(
        setup
            .builder()
            .prefix("failover:")
            .wait_for_replicas(1)
            .build()
            .unwrap(),
    );
    let mut browsers = Vec::new();
    for i in 0..20_u32 {
        let mut session = durable.load(None).await.unwrap();
        session.set("n", i).unwrap();
        let commit = durable.commit(&session).await.unwrap();
        let pair = cookie_pair(&commit);
        browsers.push((pair, i));
    }
    // After it, the new master has no replica to wait for.
    let sessions = manager(
        setup
            .builder()
            .prefix("failover:")
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    sessions.load(Some(&browsers[0].0)).await.unwrap();
    setup.master.kill();
    let mut errors = 0;
    let mut round = 0_u32;
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the storage never followed the failover"
        );
        round += 1;
        let saved = failover_round(&sessions, &browsers, round).await;
        errors += saved.iter().filter(|&&ok| !ok).count();
        let all_ok = saved.iter().all(|&ok| ok);
        if all_ok && errors > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        setup.master_port(),
        setup.replica.port,
        "the Sentinel promoted the replica"
    );
    assert_ne!(setup.master_port(), old_master);
    for (slot, (pair, i)) in browsers.iter().enumerate() {
        let session = sessions.load(Some(pair)).await.unwrap();
        assert_eq!(session.get::<u32>("n").unwrap(), Some(*i), "session {slot}");
        assert_eq!(
            session.get::<u32>("round").unwrap(),
            Some(round),
            "session {slot}"
        );
    }
}

#[tokio::test]
async fn an_unknown_service_is_a_storage_error() {
    let storage = RedisStorage::sentinel_builder([shared().sentinel.url()], "no-such-service")
        .build()
        .unwrap();
    let sessions = manager(storage);
    let mut session = sessions.load(None).await.unwrap();
    session.set("n", 1).unwrap();
    let err = sessions.commit(&session).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
}

#[tokio::test]
async fn masters_with_a_password_are_reached_with_the_masters_connection_info() {
    let setup = SentinelSetup::start_with(Some("s3cret-master"));
    let master = redis::sentinel::SentinelNodeConnectionInfo::default().set_redis_connection_info(
        redis::RedisConnectionInfo::default().set_password("s3cret-master"),
    );
    let storage =
        RedisStorage::sentinel_builder_with_master([setup.sentinel.url()], SERVICE, master)
            .prefix("auth:")
            .build()
            .unwrap();
    assert!(
        !format!("{storage:?}").contains("s3cret"),
        "Debug never shows the password"
    );
    let sessions = manager(storage);
    let mut session = sessions.load(None).await.unwrap();
    session.set("n", 5).unwrap();
    let commit = sessions.commit(&session).await.unwrap();
    let back = sessions.load(Some(&cookie_pair(&commit))).await.unwrap();
    assert_eq!(back.get::<u32>("n").unwrap(), Some(5));

    // Without the password the master refuses, as a typed error.
    let refused = manager(
        setup
            .builder()
            .prefix("auth:")
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    let mut session = refused.load(None).await.unwrap();
    session.set("n", 6).unwrap();
    let err = refused.commit(&session).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
}
