//! The servers the networked benches run against: a `redis-server` and a PostgreSQL started
//! for the run (or the ones `SESSION_REDIS_URL` and `SESSION_POSTGRES_URL` name), each pinned
//! to the last CPU with the bench on the first, as such a server runs on a machine or core of
//! its own in the deployments its store is for.

#![allow(dead_code, reason = "each bench uses the servers it needs")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::paired::{cpus, pin};

/// A `redis-server` on a free port, stopped on drop.
pub(crate) struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `redis-server` on `port` without persistence, with the arguments `more` adds.
fn redis_server(port: u16, more: impl FnOnce(&mut Command)) -> Child {
    let mut command = Command::new("redis-server");
    command.args([
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    more(&mut command);
    command
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/setup installs it)")
}

pub(crate) fn redis() -> (String, Option<RedisServer>) {
    if let Ok(url) = std::env::var("SESSION_REDIS_URL") {
        return (url, None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = redis_server(port, |_| {});
    let cpus = cpus();
    if cpus >= 2 && pin(child.id(), cpus - 1) && pin(std::process::id(), 0) {
        eprintln!("redis-server on CPU {}, the bench on CPU 0", cpus - 1);
    }
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        format!("redis://127.0.0.1:{port}/"),
        Some(RedisServer(child)),
    )
}

/// The nodes of a throwaway Redis Cluster, stopped on drop.
pub(crate) struct RedisCluster(Vec<RedisServer>, PathBuf);

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.0.clear();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// A Redis Cluster of three masters (no replicas: the bench measures the client's path) on
/// free loopback ports, pinned to the last CPU like the single server.
pub(crate) fn redis_cluster() -> (Vec<String>, RedisCluster) {
    let dir = std::env::temp_dir().join(format!("session-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the cluster");
    let cpus = cpus();
    let mut nodes = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if port >= 55_000 || std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
            continue;
        }
        let child = redis_server(port, |command| {
            command
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&dir);
        });
        if cpus >= 2 {
            pin(child.id(), cpus - 1);
        }
        nodes.push(RedisServer(child));
        ports.push(port);
    }
    for &port in &ports {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let status = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(ports.iter().map(|port| format!("127.0.0.1:{port}")))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success(), "redis-cli --cluster create");
    for _ in 0..300 {
        let ok = ports.iter().all(|port| {
            Command::new("redis-cli")
                .args(["-p", &port.to_string(), "cluster", "info"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
        });
        if ok {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if cpus >= 2 {
        pin(std::process::id(), 0);
    }
    let urls = ports
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}/"))
        .collect();
    (urls, RedisCluster(nodes, dir))
}

/// A throwaway PostgreSQL server, stopped on drop.
pub(crate) struct PostgresServer(PathBuf);

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.0.join("data"))
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}

pub(crate) fn postgres() -> (String, Option<PostgresServer>) {
    if let Ok(url) = std::env::var("SESSION_POSTGRES_URL") {
        return (url, None);
    }
    let dir = std::env::temp_dir().join(format!("session-bench-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let output = Command::new(script())
        .arg("start")
        .arg(dir.join("data"))
        .arg(port.to_string())
        .output()
        .expect("scripts/postgres runs");
    assert!(
        output.status.success(),
        "PostgreSQL did not start (scripts/setup installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let cpus = cpus();
    let postmaster = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap_or_default();
    if let Some(pid) = postmaster.lines().next().and_then(|pid| pid.parse().ok())
        && cpus >= 2
        && pin(pid, cpus - 1)
        && pin(std::process::id(), 0)
    {
        eprintln!("PostgreSQL on CPU {}, the bench on CPU 0", cpus - 1);
    }
    (url, Some(PostgresServer(dir)))
}
