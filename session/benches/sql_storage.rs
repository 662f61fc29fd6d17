//! SQL storage: a round trip (load, change one key, save) on PostgreSQL and on SQLite, beside
//! its floor: the same work done with raw sqlx on the same pool, a `SELECT data` by id and one
//! `UPDATE` of the whole row (data and expiry) holding the same bytes. Then the throughput of
//! concurrent writers, each on a session of its own, through the store and through the floor.
//!
//! Round trips are measured with the paired method of the Redis bench (`paired.rs`): each
//! iteration runs the floor and the session path one after the other; the median of the
//! per-pair ratios is written to `target/criterion/<group>/paired.json`.
//!
//! PostgreSQL is `SESSION_POSTGRES_URL`, or a throwaway server that `scripts/postgres` starts
//! (on the last CPU, the bench on the first, as for Redis). SQLite is a file in WAL mode in a
//! temporary directory. `SQL_BENCH_SECONDS` sets how long each throughput run lasts (2 s; five rounds of
//! both paths, alternating).
//!
//! Run with `cargo bench -p session-kit --features postgres,sqlite --bench sql_storage`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench reports to its terminal"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use session::{PostgresStorage, SessionManager, SqliteStorage, Storage};
use sqlx::{AssertSqlSafe, Executor as _, Row as _};

mod paired;
mod servers;
mod support;
use paired::Pairs;
use support::{manager, new_session, round_trip, runtime};

/// The bytes the floor moves: what the store's `data` column holds for the bench's session.
const DATA: &str =
    r#"{"user_id":4217,"name":"Ada Lovelace","cart":[101,202,303,404,505],"count":0}"#;

/// How many writers the throughput runs use.
const WRITERS: usize = 8;

/// How many rounds of (floor, session) throughput runs.
const ROUNDS: usize = 5;

/// The floor's statements on its own table, shaped as the store's: text id, JSON data, an
/// indexed expiry.
struct Floor {
    select: String,
    update: String,
}

impl Floor {
    /// `cast` reads the data column as text; `into` makes text the column's type.
    fn new(placeholder: fn(usize) -> String, cast: &str, into: &str) -> Self {
        Self {
            select: format!("SELECT data{cast} FROM floor WHERE id = {}", placeholder(1)),
            update: format!(
                "UPDATE floor SET data = {}{into}, expires_at = {} WHERE id = {}",
                placeholder(2),
                placeholder(3),
                placeholder(1)
            ),
        }
    }
}

/// Both round trips, paired: criterion times each path, and every iteration's pair is kept.
fn round_trips<S, F, Fut>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    floor: &F,
    sessions: &SessionManager<S>,
    header: &str,
) where
    S: Storage,
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let pairs = Pairs::default();
    let run_pairs = |iterations: u64, timed: fn(Duration, Duration) -> Duration| {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            let start = Instant::now();
            rt.block_on(floor("row-0".to_owned()));
            let floor_time = start.elapsed();
            let start = Instant::now();
            rt.block_on(round_trip(sessions, header));
            let session_time = start.elapsed();
            pairs.record(floor_time, session_time);
            total += timed(floor_time, session_time);
        }
        total
    };
    let mut criterion_group = c.benchmark_group(group);
    criterion_group.bench_function("floor", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |floor, _| floor));
    });
    criterion_group.bench_function("session", |b| {
        b.iter_custom(|iterations| run_pairs(iterations, |_, session| session));
    });
    criterion_group.finish();
    pairs.report(group);
}

/// Round trips per second of `WRITERS` tasks, each on its own session (or floor row), for
/// `seconds`.
fn rate<S, F, Fut>(
    rt: &tokio::runtime::Runtime,
    seconds: f64,
    floor: Option<&F>,
    sessions: &Arc<SessionManager<S>>,
) -> f64
where
    S: Storage + 'static,
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for writer in 1..=WRITERS {
            let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
            let sessions = Arc::clone(sessions);
            let floor = floor.cloned();
            tasks.push(tokio::spawn(async move {
                let header = new_session(&sessions, None).await;
                while !stop.load(Ordering::Relaxed) {
                    match &floor {
                        Some(floor) => floor(format!("row-{writer}")).await,
                        None => round_trip(&sessions, &header).await,
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("a writer");
        }
    });
    #[allow(clippy::cast_precision_loss, reason = "a count of round trips")]
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    rate
}

/// The throughput of concurrent writers through the store and through the floor, in rounds
/// that alternate the two, so that drift between runs cancels out of the median ratio.
fn throughput<S, F, Fut>(
    rt: &tokio::runtime::Runtime,
    group: &str,
    floor: &F,
    sessions: &Arc<SessionManager<S>>,
) where
    S: Storage + 'static,
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let seconds = std::env::var("SQL_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0_f64);
    let (mut floors, mut stores, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let floor_rate = rate(rt, seconds, Some(floor), sessions);
        let session_rate = rate(rt, seconds, None::<&F>, sessions);
        floors.push(floor_rate);
        stores.push(session_rate);
        ratios.push(session_rate / floor_rate);
    }
    let floor_rate = paired::quantile(&mut floors, 0.5);
    let session_rate = paired::quantile(&mut stores, 0.5);
    let ratio = paired::quantile(&mut ratios, 0.5);
    println!(
        "{group}/throughput {WRITERS} writers, median of {ROUNDS} rounds: floor \
         {floor_rate:.0}/s, session {session_rate:.0}/s ({ratio:.2}x of the floor)"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("criterion").join(group);
    let json = format!(
        "{{\"writers\":{WRITERS},\"rounds\":{ROUNDS},\"floor_per_second\":{floor_rate},\
         \"session_per_second\":{session_rate},\"ratio_median\":{ratio}}}\n"
    );
    if let Err(error) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("throughput.json"), json))
    {
        eprintln!("could not save the throughput: {error}");
    }
}

/// Generates the bench of one database: its floor (raw sqlx on its pool type) beside the
/// store, paired round trips, then throughput.
macro_rules! database_bench {
    ($name:ident, $group:literal, $pool:ty, $placeholder:expr, $cast:literal, $into:literal,
     $create:literal) => {
        fn $name(
            c: &mut Criterion,
            rt: &tokio::runtime::Runtime,
            storage: impl Storage + Clone + 'static,
            pool: $pool,
        ) {
            let statements = Arc::new(Floor::new($placeholder, $cast, $into));
            let sessions = Arc::new(manager(storage));
            let header = rt.block_on(async {
                pool.execute($create).await.expect("the floor's table");
                for writer in 0..=WRITERS {
                    sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO floor (id, data, expires_at) VALUES ('row-{writer}', {}{}, 0) \
                         ON CONFLICT (id) DO NOTHING",
                        ($placeholder)(1),
                        $into
                    )))
                    .bind(DATA)
                    .execute(&pool)
                    .await
                    .expect("the floor's rows");
                }
                new_session(&sessions, None).await
            });
            let floor = move |row: String| {
                let statements = Arc::clone(&statements);
                let pool = pool.clone();
                async move {
                    let stored = sqlx::query(AssertSqlSafe(statements.select.clone()))
                        .bind(row.as_str())
                        .fetch_one(&pool)
                        .await
                        .expect("select");
                    let data: String = stored.get(0);
                    sqlx::query(AssertSqlSafe(statements.update.clone()))
                        .bind(row.as_str())
                        .bind(black_box(data))
                        .bind(1_701_209_600_i64)
                        .execute(&pool)
                        .await
                        .expect("update");
                }
            };
            round_trips(c, rt, $group, &floor, &sessions, &header);
            throughput(rt, $group, &floor, &sessions);
        }
    };
}

database_bench!(
    postgres_bench,
    "postgres_storage",
    sqlx::PgPool,
    |n| format!("${n}"),
    "::text",
    "::jsonb",
    "CREATE TABLE IF NOT EXISTS floor (id TEXT COLLATE \"C\" PRIMARY KEY, data JSONB NOT NULL, \
     expires_at BIGINT); CREATE INDEX IF NOT EXISTS floor_expires_at ON floor (expires_at)"
);

database_bench!(
    sqlite_bench,
    "sqlite_storage",
    sqlx::SqlitePool,
    |n| format!("?{n}"),
    "",
    "",
    "CREATE TABLE IF NOT EXISTS floor (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, \
     expires_at INTEGER); CREATE INDEX IF NOT EXISTS floor_expires_at ON floor (expires_at)"
);

fn postgres_round_trip(c: &mut Criterion) {
    let (url, _server) = servers::postgres();
    let rt = runtime();
    let storage = rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(u32::try_from(WRITERS).unwrap_or(8))
            .connect(&url)
            .await
            .expect("PostgreSQL answers");
        let storage = PostgresStorage::from_pool(pool)
            .table("bench_sessions")
            .build()
            .expect("a storage");
        storage.migrate().await.expect("migrated");
        storage
    });
    let pool = storage.pool().clone();
    postgres_bench(c, &rt, storage, pool);
}

fn sqlite_round_trip(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("session-bench-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let rt = runtime();
    let storage = rt.block_on(async {
        let storage = SqliteStorage::builder(format!("sqlite://{}", dir.join("s.db").display()))
            .build()
            .expect("a storage");
        storage.migrate().await.expect("migrated");
        storage
    });
    let pool = storage.pool().clone();
    sqlite_bench(c, &rt, storage, pool);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, postgres_round_trip, sqlite_round_trip);
criterion_main!(benches);
