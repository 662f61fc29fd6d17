//! Redis storage: a round trip (load, change one key, save) beside its floor, a raw `GET` and
//! `SET` of the same bytes through the same client library, against one Redis server on
//! loopback (`SESSION_REDIS_URL`, or a `redis-server` started here), then on a Redis Cluster
//! of three masters started here, the floor on the storage's own cluster connection.
//!
//! Every iteration runs both paths, one after the other, so each criterion figure is measured
//! under the same load. A loopback round trip on a small VM still drifts by 10–20 % between
//! the seconds criterion spends on the floor and the seconds it spends on the session, which
//! is more than the difference being measured. So the bench also records every iteration's
//! pair of timings and reports the median of the per-pair ratios (`paired`), which drift
//! slower than one iteration cannot move: it is printed at the end and written to
//! `target/criterion/redis_storage/paired.json` for `scripts/bench-report`.
//!
//! A `redis-server` started here runs on the last CPU and the bench on the first, as Redis
//! runs on its own machine or core in the deployments this storage is for; a process that
//! shares a core with Redis sees round trips four times shorter, and pays the same few
//! microseconds of client work.
//!
//! Run with `cargo bench -p session-kit --features redis-cluster --bench redis_storage`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench reports to its terminal"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use redis::AsyncCommands as _;
use session::{Commit, RedisStorage};

mod paired;
mod servers;
mod support;
use paired::Pairs;
use support::{manager, new_session};

/// The bytes a record holds, which the floor moves as one string.
const RECORD: &[u8] = br#"{"v":1,"d":[{"user_id":4217,"name":"Ada Lovelace","cart":[101,202,303,404,505],"count":0},{}],"t":[1700000000,1700000000],"e":1701209600}"#;

fn redis_round_trip(c: &mut Criterion) {
    let (url, _server) = servers::redis();
    let rt = runtime();
    let storage = RedisStorage::builder(url.as_str())
        .prefix("bench:")
        .build()
        .expect("a storage");
    let raw = rt.block_on(async {
        redis::Client::open(url.as_str())
            .expect("a client")
            .get_connection_manager()
            .await
            .expect("a connection")
    });
    measure(c, "redis_storage", &rt, storage, raw);
}

/// The same round trip on a Redis Cluster of three masters started here; the storage and
/// the floor share one cluster connection.
fn redis_cluster_round_trip(c: &mut Criterion) {
    let (urls, _cluster) = servers::redis_cluster();
    let rt = runtime();
    let raw = rt.block_on(async {
        redis::cluster::ClusterClient::new(urls)
            .expect("a cluster client")
            .get_async_connection()
            .await
            .expect("a cluster connection")
    });
    let storage = RedisStorage::builder_for(raw.clone())
        .prefix("bench:")
        .build()
        .expect("a storage");
    measure(c, "redis_cluster", &rt, storage, raw);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Times the session round trip on `storage` beside a raw `GET` + `SET` on `raw`, in pairs.
fn measure<C>(
    c: &mut Criterion,
    group_name: &str,
    rt: &tokio::runtime::Runtime,
    storage: RedisStorage,
    mut raw: C,
) where
    C: redis::aio::ConnectionLike + Send + Sync,
{
    let sessions = manager(storage);
    let header = rt.block_on(new_session(&sessions, None));
    let floor_once = |raw: &mut C| {
        let start = Instant::now();
        rt.block_on(async {
            let stored: Vec<u8> = raw.get("bench:raw").await.unwrap_or_default();
            let value = if stored.is_empty() { RECORD } else { &stored };
            let _: () = raw.set("bench:raw", black_box(value)).await.expect("set");
        });
        start.elapsed()
    };
    let session_once = || {
        let start = Instant::now();
        let outcome = rt.block_on(async {
            let mut session = sessions.load(Some(black_box(&header))).await.expect("load");
            let count: u64 = session.get("count").expect("a number").unwrap_or(0);
            session.set("count", count + 1).expect("set");
            sessions.commit(&session).await.expect("save")
        });
        let elapsed = start.elapsed();
        assert!(matches!(outcome, Commit::Set(_)), "{outcome:?}");
        elapsed
    };
    let pairs = Pairs::default();
    // Runs `iterations` pairs, records each, and returns the time of the path `timed` picks.
    let mut run_pairs = |iterations: u64, timed: fn(Duration, Duration) -> Duration| {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            let floor = floor_once(&mut raw);
            let session = session_once();
            pairs.record(floor, session);
            total += timed(floor, session);
        }
        total
    };
    let mut group = c.benchmark_group(group_name);
    group.bench_function("floor", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |floor, _| floor));
    });
    group.bench_function("session", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |_, session| session));
    });
    group.finish();
    pairs.report(group_name);
}

criterion_group!(benches, redis_round_trip, redis_cluster_round_trip);
criterion_main!(benches);
