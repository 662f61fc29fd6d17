//! Sessions per owner on every server-side store: the common save (load, change one key, save)
//! of a session that has an owner, beside the same save of one that has none, in the same run
//! (the paired method of `paired.rs`: each iteration runs both; the figure is the median of the
//! per-pair ratios, written to `target/criterion/owners_<store>/paired.json`); and listing 100
//! sessions of one owner, the "Your sessions" page of a user logged in everywhere.
//!
//! Redis and PostgreSQL are servers started for the run (`servers.rs`); SQLite is a file in
//! WAL mode and the file store a directory, both in a temporary directory.
//!
//! Run with `cargo bench -p session-kit --features redis,postgres,sqlite --bench owners`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench reports to its terminal"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use session::{
    FileStorage, MemoryStorage, PostgresStorage, RedisStorage, SessionManager, SqliteStorage,
    Storage,
};

mod paired;
mod servers;
mod support;
use paired::Pairs;
use support::{manager, new_session, round_trip, runtime};

/// How many sessions the listing bench gives one owner.
const LISTED: usize = 100;

/// The paired saves, then the listing, on one store.
fn bench_store<S: Storage>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    sessions: &SessionManager<S>,
) {
    let someone = format!("bench-owner-{name}");
    let (plain, with_owner) = rt.block_on(async {
        (
            new_session(sessions, None).await,
            new_session(sessions, Some(&someone)).await,
        )
    });
    let group = format!("owners_{name}");
    let pairs = Pairs::default();
    let run_pairs = |iterations: u64, timed: fn(Duration, Duration) -> Duration| {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            let start = Instant::now();
            rt.block_on(round_trip(sessions, &plain));
            let without = start.elapsed();
            let start = Instant::now();
            rt.block_on(round_trip(sessions, &with_owner));
            let with = start.elapsed();
            pairs.record(without, with);
            total += timed(without, with);
        }
        total
    };
    let mut saves = c.benchmark_group(&group);
    saves.bench_function("save_without_owner", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |without, _| without));
    });
    saves.bench_function("save_with_owner", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |_, with| with));
    });
    saves.finish();
    pairs.report(&group);

    let user = format!("bench-lister-{name}");
    rt.block_on(async {
        for _ in 0..LISTED {
            new_session(sessions, Some(&user)).await;
        }
    });
    c.bench_function(&format!("owners_list/{name}_{LISTED}"), |b| {
        b.iter(|| {
            let listed = rt
                .block_on(sessions.owner_sessions(black_box(&user), None))
                .expect("listed");
            assert_eq!(listed.len(), LISTED);
        });
    });
}

fn owners(c: &mut Criterion) {
    let rt = runtime();
    bench_store(c, &rt, "memory", &manager(MemoryStorage::new()));

    let dir = std::env::temp_dir().join(format!("session-bench-owners-{}", std::process::id()));
    let files = manager(FileStorage::new(dir.join("files")).expect("a directory"));
    bench_store(c, &rt, "file", &files);

    let (redis_url, _redis) = servers::redis();
    let redis = RedisStorage::builder(redis_url.as_str())
        .prefix("bench-owners:")
        .build()
        .expect("a storage");
    bench_store(c, &rt, "redis", &manager(redis));

    let (postgres_url, _postgres) = servers::postgres();
    let postgres = rt.block_on(async {
        let storage = PostgresStorage::builder(postgres_url.as_str())
            .table("bench_owner_sessions")
            .build()
            .expect("a storage");
        storage.migrate().await.expect("migrated");
        storage
    });
    bench_store(c, &rt, "postgres", &manager(postgres));

    let sqlite = rt.block_on(async {
        let storage = SqliteStorage::builder(format!("sqlite://{}", dir.join("s.db").display()))
            .build()
            .expect("a storage");
        storage.migrate().await.expect("migrated");
        storage
    });
    bench_store(c, &rt, "sqlite", &manager(sqlite));
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, owners);
criterion_main!(benches);
