//! File storage: a round trip (load, change one key, save with fsync) beside its floor, the
//! raw `std::fs` work on the same bytes (read, then write a temp file, fsync, rename, fsync the
//! directory), measured in the same run; and sessions per second with 1, 2 and 8 concurrent
//! writers on distinct sessions.
//!
//! Run with `cargo bench -p session-kit --bench file_storage`; `scripts/bench-report` prints the
//! medians, ratios and throughputs.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use session::{FileStorage, SessionId, SessionManager};

mod support;
use support::manager;

type Manager = SessionManager<FileStorage>;

/// The `Cookie` header carrying `id`.
fn header(sessions: &Manager, id: &SessionId) -> String {
    let set_cookie = sessions
        .cookie()
        .to_set_cookie(id.as_str(), None)
        .expect("fits");
    set_cookie.split(';').next().expect("a pair").to_owned()
}

/// A fresh directory under the system's temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("session-bench-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// One request: load the session, increment a counter, save (and sign the id cookie).
async fn round_trip(sessions: &Manager, header: &str) {
    let mut session = sessions.load(Some(header)).await.expect("load");
    let count: u64 = session.get("count").expect("a number").unwrap_or(0);
    session.set("count", count + 1).expect("set");
    let commit = sessions.commit(&session).await.expect("save");
    assert!(commit.header().is_some(), "a changed session is saved");
}

/// A stored session `{user_id, name, cart of 5, count}`.
async fn seeded(sessions: &Manager) -> SessionId {
    let mut session = sessions.load(None).await.expect("load");
    session.set("user_id", 4_217_u64).expect("set");
    session.set("name", "Ada Lovelace").expect("set");
    session.set("cart", [101, 202, 303, 404, 505]).expect("set");
    session.set("count", 0_u64).expect("set");
    let _ = sessions.commit(&session).await.expect("save");
    session.id().clone()
}

/// The floor: the same bytes read, then written atomically, with nothing else.
fn floor(file: &Path, temp: &Path, dir: &Path) {
    let bytes = fs::read(file).expect("read");
    let mut out = File::create(temp).expect("create");
    out.write_all(&bytes).expect("write");
    out.sync_all().expect("fsync");
    drop(out);
    fs::rename(temp, file).expect("rename");
    File::open(dir).expect("dir").sync_all().expect("dir fsync");
}

fn file_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let root = scratch("round-trip");
    let sessions = manager(FileStorage::new(&root).expect("a storage"));
    let id = rt.block_on(seeded(&sessions));
    let header = header(&sessions, &id);
    let file = sessions.storage().path_of(&id);
    let floor_dir = root.join("floor");
    fs::create_dir_all(&floor_dir).expect("a dir");
    let floor_file = floor_dir.join("session");
    fs::copy(&file, &floor_file).expect("the same bytes");
    let floor_temp = floor_dir.join(".tmp");

    let mut group = c.benchmark_group("file_storage");
    group.sample_size(40);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("floor", |b| {
        b.iter(|| floor(black_box(&floor_file), &floor_temp, &floor_dir));
    });
    group.bench_function("session", |b| {
        b.iter(|| rt.block_on(round_trip(&sessions, black_box(&header))));
    });
    group.finish();
    let _ = fs::remove_dir_all(&root);
}

fn concurrent_writers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .build()
        .expect("a runtime");
    let root = scratch("writers");
    let sessions = Arc::new(manager(FileStorage::new(&root).expect("a storage")));
    let mut group = c.benchmark_group("file_storage_writers");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for writers in [1_usize, 2, 8] {
        let headers: Vec<String> = rt.block_on(async {
            let mut headers = Vec::new();
            for _ in 0..writers {
                headers.push(header(&sessions, &seeded(&sessions).await));
            }
            headers
        });
        group.throughput(Throughput::Elements(writers as u64));
        group.bench_function(format!("{writers}"), |b| {
            b.iter_custom(|iterations| {
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = headers
                        .iter()
                        .map(|header| {
                            let sessions = Arc::clone(&sessions);
                            let header = header.clone();
                            tokio::spawn(async move {
                                for _ in 0..iterations {
                                    round_trip(&sessions, &header).await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("a writer");
                    }
                });
                start.elapsed()
            });
        });
    }
    group.finish();
    let _ = fs::remove_dir_all(&root);
}

criterion_group!(benches, file_round_trip, concurrent_writers);
criterion_main!(benches);
