//! What only file storage promises: Remix's fs-storage tests, path confinement, atomic and
//! crash-safe writes, permissions and symlinks (checklist G), merges across processes (I), the
//! sweep, and I/O that never stalls the executor.

use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use session::store::Record;
use session::{ConfigError, Error, Expiry, FileStorage, SessionId};

use crate::common::{Direct, TempDir, capture};

const WRITER: &str = env!("CARGO_BIN_EXE_session-file-writer");

/// A strict manager over `storage` (a cheap handle), without expiry, at 1 000.
fn direct(storage: &FileStorage) -> Direct<FileStorage> {
    Direct::new(storage.clone(), Expiry::none(), 1_000)
}

/// The same, adopting unknown ids.
fn adopting(storage: &FileStorage) -> Direct<FileStorage> {
    direct(storage).adopting()
}

/// Every regular file and directory below `root`.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

async fn create(storage: &FileStorage, key: &str, value: u64) -> SessionId {
    let direct = direct(storage);
    let mut session = direct.load(None).await.unwrap();
    session.set(key, value).unwrap();
    direct.save_id(&session).await.unwrap()
}

#[test]
fn a_directory_path_that_is_a_file_is_a_construction_error() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("sessions");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = FileStorage::new(&file).unwrap_err();
    assert!(matches!(err, Error::Config(ConfigError::NotADirectory { ref path }) if path == &file));
}

#[test]
fn a_missing_directory_is_created_private() {
    let dir = TempDir::new();
    let nested = dir.0.join("a").join("b");
    let storage = FileStorage::new(&nested).unwrap();
    assert!(nested.is_dir());
    assert_eq!(storage.root(), nested);
    let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn every_path_created_stays_under_the_root() {
    // G1: hostile ids are refused before any file-system call, and valid ids are hashed.
    let dir = TempDir::new();
    let root = dir.0.join("store");
    let outside = dir.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let storage = FileStorage::new(&root).unwrap();
    let adopting = adopting(&storage);
    let long = "a".repeat(10_000);
    let hostile = [
        "../x",
        "..",
        ".",
        "a/b/c",
        "a\\b\\c",
        "/etc/passwd",
        "with\0nul-and-more-chars-x",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc",
        "ｆｕｌｌ／ｗｉｄｔｈ／ｓｏｌｉｄｕｓ／／／",
        "日本語の長いセッション識別子です",
        "",
        &long,
    ];
    for (n, id) in hostile.iter().enumerate() {
        let mut session = adopting.load(Some(id)).await.unwrap();
        assert_ne!(session.id().as_str(), *id);
        session.set("n", n).unwrap();
        let _ = adopting.save(&session).await.unwrap();
    }
    let files: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
        .filter(|p| p.extension().is_none_or(|e| e != "lock"))
        .collect();
    assert_eq!(files.len(), hostile.len());
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap().len()).collect();
        assert_eq!(parts, [2, 62], "{}", file.display());
    }
    assert!(walk(&outside).is_empty());
    // Remix's layout: id `a`... is not a valid id here, but the hash split is the same.
    let uuid = "00000000-0000-4000-8000-000000000000"
        .parse::<SessionId>()
        .ok()
        .unwrap();
    assert!(storage.path_of(&uuid).starts_with(storage.root()));
}

#[tokio::test]
async fn files_are_0600_and_directories_0700() {
    // G5
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let id = create(&storage, "n", 1).await;
    let file = storage.path_of(&id);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.0.join(".locks")), 0o700);
}

#[tokio::test]
async fn a_planted_symlink_is_never_followed() {
    // G5
    let dir = TempDir::new();
    let root = dir.0.join("store");
    let storage = FileStorage::new(&root).unwrap();
    let outside = dir.0.join("outside.json");
    let stolen = br#"{"v":1,"d":[{"stolen":true},{}],"t":[1000,1000]}"#;
    std::fs::write(&outside, stolen).unwrap();

    // A session file replaced by a link: not read, and a save replaces the link itself.
    let id = create(&storage, "n", 1).await;
    let loaded = direct(&storage).load(Some(id.as_str())).await.unwrap();
    let file = storage.path_of(&id);
    std::fs::remove_file(&file).unwrap();
    symlink(&outside, &file).unwrap();
    let fresh = direct(&storage).load(Some(id.as_str())).await.unwrap();
    assert_eq!(fresh.get::<bool>("stolen").unwrap(), None);
    assert_ne!(fresh.id(), &id);
    let mut late = loaded;
    late.set("n", 2).unwrap();
    let _ = direct(&storage).save(&late).await.unwrap();
    assert_eq!(std::fs::read(&outside).unwrap(), stolen);
    assert!(
        !std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A shard directory replaced by a link: not read from, not written through.
    let other = create(&storage, "n", 1).await;
    let shard = storage.path_of(&other).parent().unwrap().to_path_buf();
    let elsewhere = dir.0.join("elsewhere");
    std::fs::rename(&shard, &elsewhere).unwrap();
    symlink(&elsewhere, &shard).unwrap();
    let session = direct(&storage).load(Some(other.as_str())).await.unwrap();
    assert_ne!(session.id(), &other);
    let adopting = adopting(&storage);
    let mut adopted = adopting.load(Some(other.as_str())).await.unwrap();
    assert_eq!(adopted.id(), &other);
    adopted.set("n", 3).unwrap();
    assert!(matches!(adopting.save(&adopted).await, Err(Error::Io(_))));
    assert_eq!(
        walk(&elsewhere).len(),
        1,
        "nothing written through the link"
    );
}

#[test]
fn a_corrupt_or_truncated_file_gives_a_fresh_session_and_a_warning() {
    // G4
    for content in [
        &b""[..],
        b"{",
        br#"{"v":1,"d":[{"n":1},{}],"t":[1000"#,
        b"\xff\xfe",
        br#"{"v":9,"d":[{},{}],"t":[0,0]}"#,
    ] {
        let dir = TempDir::new();
        let storage = FileStorage::new(&dir.0).unwrap();
        let (session, events) = capture(|| {
            crate::common::block_on(async {
                let id = create(&storage, "n", 1).await;
                std::fs::write(storage.path_of(&id), content).unwrap();
                direct(&storage).load(Some(id.as_str())).await.unwrap()
            })
        });
        assert!(session.is_empty());
        assert!(
            events
                .iter()
                .any(|e| e.level == tracing::Level::WARN && e.fields.contains("corrupt")),
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn a_generated_id_that_collides_never_overwrites_a_stored_session() {
    // G3: an injected collision makes the save draw a new id.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let victim = br#"{"v":1,"d":[{"owner":"victim"},{}],"t":[1000,1000]}"#;
    for regenerate in [false, true] {
        let mut session = direct(&storage).load(None).await.unwrap();
        if regenerate {
            session.set("n", 1).unwrap();
            let _ = direct(&storage).save(&session).await.unwrap();
            session = direct(&storage)
                .load(Some(session.id().as_str()))
                .await
                .unwrap();
            session.regenerate_id(session::OldId::Delete).unwrap();
        }
        let planted = storage.path_of(session.id());
        std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
        std::fs::write(&planted, victim).unwrap();
        session.set("owner", "attacker").unwrap();
        let value = direct(&storage).save_id(&session).await.unwrap();
        assert_ne!(&value, session.id(), "a new id was drawn");
        assert_eq!(std::fs::read(&planted).unwrap(), victim);
        let saved = direct(&storage).load(Some(value.as_str())).await.unwrap();
        assert_eq!(
            saved.get::<String>("owner").unwrap().as_deref(),
            Some("attacker")
        );
    }
}

#[test]
fn a_reader_never_sees_a_partial_file() {
    // G2: a reader loops while 10^4 writes replace the file.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let id = crate::common::block_on(async {
        let mut session = direct(&storage).load(None).await.unwrap();
        session.set("n", 0).unwrap();
        session.set("pad", "").unwrap();
        let _ = direct(&storage).save(&session).await.unwrap();
        session.id().clone()
    });
    let file = storage.path_of(&id);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = std::sync::Arc::clone(&done);
        let file = file.clone();
        std::thread::spawn(move || {
            let mut reads = 0_u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let bytes = std::fs::read(&file).unwrap();
                let record = Record::from_json(&bytes).expect("a complete record");
                let values = record.values().to_value();
                let n = values["n"].as_u64().unwrap();
                assert_eq!(values["pad"].as_str().unwrap().len() as u64, n % 512);
                reads += 1;
            }
            reads
        })
    };
    crate::common::block_on(async {
        for n in 1..=10_000_u64 {
            let mut session = direct(&storage).load(Some(id.as_str())).await.unwrap();
            session.set("n", n).unwrap();
            session
                .set("pad", "x".repeat(usize::try_from(n % 512).unwrap()))
                .unwrap();
            let _ = direct(&storage).save(&session).await.unwrap();
        }
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

/// Runs the writer binary with a file-size limit (and `SIGXFSZ` ignored, so `write` fails
/// with `EFBIG` the way a full disk fails it).
fn write_limited(root: &Path, id: &str, bytes: usize, limit: usize) -> std::process::Output {
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize={limit} {WRITER} write {} {id} blob {bytes}",
        root.display()
    );
    Command::new("sh").arg("-c").arg(script).output().unwrap()
}

#[tokio::test]
async fn a_write_failing_midway_leaves_the_old_content_and_no_temp_file() {
    // G2: a real mid-write failure (the file-size limit), and a typed I/O error.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let id = "crash-test-session-id-000000000001";
    let ok = write_limited(&dir.0, id, 100, 1 << 20);
    assert!(ok.status.success(), "{ok:?}");
    let file = storage.path_of(&id.parse::<SessionId>().ok().unwrap());
    let before = std::fs::read(&file).unwrap();

    let failed = write_limited(&dir.0, id, 100_000, 8_192);
    assert_eq!(failed.status.code(), Some(3), "Error::Io: {failed:?}");
    assert!(String::from_utf8_lossy(&failed.stdout).contains("io error"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let leftovers: Vec<_> = walk(file.parent().unwrap())
        .into_iter()
        .filter(|p| p != &file)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_writer_killed_at_random_moments_leaves_only_complete_records() {
    // The crash test: SIGKILL mid-write, many times.
    let dir = TempDir::new();
    let id = "crash-test-session-id-000000000002";
    let mut seed = u64::from(std::process::id()) | 1;
    for _ in 0..40 {
        let mut child = Command::new(WRITER)
            .args(["loop", dir.0.to_str().unwrap(), id])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(15 + seed % 60));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let storage = FileStorage::new(&dir.0).unwrap();
    let file = storage.path_of(&id.parse::<SessionId>().ok().unwrap());
    let record = Record::from_json(&std::fs::read(&file).unwrap()).expect("a complete record");
    let values = record.values().to_value();
    let counter = values["a"].as_u64().unwrap();
    assert_eq!(values["b"], values["a"]);
    assert_eq!(values["c"], values["a"]);
    assert_eq!(
        values["padding"].as_str().unwrap().len() as u64,
        counter % 4_000,
        "one write's record, not a mix"
    );
    // Every session file in the store parses; only temp files may be debris.
    for path in walk(&dir.0) {
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_file() && name.len() == 62 {
            Record::from_json(&std::fs::read(&path).unwrap()).expect("parses");
        }
    }
}

#[test]
fn two_processes_of_four_threads_lose_no_update() {
    // Each of 8 threads (4 per process) increments its own key 500 times on one session.
    let dir = TempDir::new();
    let id = "shared-session-id-for-two-processes";
    let spawn = |name: &str| {
        Command::new(WRITER)
            .args(["hammer", dir.0.to_str().unwrap(), id, name, "4", "500"])
            .spawn()
            .unwrap()
    };
    let mut first = spawn("p0");
    let mut second = spawn("p1");
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    let storage = FileStorage::new(&dir.0).unwrap();
    let session = crate::common::block_on(adopting(&storage).load(Some(id))).unwrap();
    for process in ["p0", "p1"] {
        for thread in 0..4 {
            let key = format!("{process}-{thread}");
            assert_eq!(session.get::<u32>(&key).unwrap(), Some(500), "{key}");
        }
    }
}

#[tokio::test]
async fn the_sweep_removes_expired_sessions_and_empty_shards_and_nothing_else() {
    // D6 for files.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let expiry = Expiry::builder()
        .idle_timeout(Duration::from_mins(1))
        .build()
        .unwrap();
    let timed = Direct::new(storage.clone(), expiry, 1_000);
    let mut expired = Vec::new();
    for _ in 0..20 {
        expired.push(timed.create().await);
    }
    timed.clock.set(1_050);
    let live = timed
        .load(Some(timed.create().await.as_str()))
        .await
        .unwrap();
    let unrelated = dir.0.join("README");
    std::fs::write(&unrelated, b"not a session").unwrap();
    let expired_shard = storage.path_of(&expired[0]).parent().unwrap().to_path_buf();
    let foreign_in_shard = expired_shard.join("notes.txt");
    std::fs::write(&foreign_in_shard, b"keep me").unwrap();

    assert_eq!(
        storage.sweep_expired(1_060).await.unwrap(),
        0,
        "age 60 is still live"
    );
    assert_eq!(storage.sweep_expired(1_061).await.unwrap(), 20);
    assert!(storage.path_of(live.id()).exists());
    assert!(unrelated.exists() && foreign_in_shard.exists());
    let live_shard = storage.path_of(live.id()).parent().unwrap().to_path_buf();
    for id in &expired {
        let shard = storage.path_of(id).parent().unwrap().to_path_buf();
        assert!(!storage.path_of(id).exists());
        if shard != expired_shard && shard != live_shard {
            assert!(!shard.exists(), "an emptied shard is removed");
        }
    }
}

#[test]
fn file_io_never_stalls_a_current_thread_executor() {
    // On a one-thread runtime, another task keeps running while saves wait for the disk.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    ticker_runs_during_saves(&runtime);
}

#[test]
fn file_io_never_stalls_a_multi_thread_executor() {
    // One worker: if a save blocked it, the ticker task could not run until the save ended.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    ticker_runs_during_saves(&runtime);
}

fn ticker_runs_during_saves(runtime: &tokio::runtime::Runtime) {
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    runtime.block_on(async {
        let ticker = {
            let ticks = std::sync::Arc::clone(&ticks);
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            })
        };
        tokio::task::yield_now().await;
        let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
        let saves = tokio::spawn(async move {
            for n in 0..20 {
                create(&storage, "n", n).await;
            }
        });
        saves.await.unwrap();
        let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
        ticker.abort();
        assert!(
            during > 20,
            "the ticker ran only {during} times during 20 saves"
        );
    });
}

/// The directory error `FileStorage::new` gives for `dir`, as its reason.
fn unsafe_reason(dir: &Path) -> &'static str {
    match FileStorage::new(dir) {
        Err(Error::Config(ConfigError::UnsafeDirectory { reason, .. })) => reason,
        other => panic!("not refused as unsafe: {other:?}"),
    }
}

#[test]
fn a_root_others_can_write_is_refused_with_what_was_planted_in_it() {
    // Review defect 5: an existing root was trusted whatever its owner and mode, so another
    // local user could plant a shard directory with a forged record.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let forged: SessionId = "forged-session-id-000000000".parse().unwrap();
    let path = storage.path_of(&forged);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, br#"{"v":1,"d":[{"admin":true},{}],"t":[0,0]}"#).unwrap();
    drop(storage);
    for mode in [0o777, 0o770, 0o702] {
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(mode)).unwrap();
        assert!(unsafe_reason(&dir.0).contains("can write"), "mode {mode:o}");
    }
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(FileStorage::new(&dir.0).is_ok(), "private again");
}

#[test]
fn a_symlinked_or_shared_locks_directory_is_refused() {
    let dir = TempDir::new();
    drop(FileStorage::new(&dir.0).unwrap());
    let locks = dir.0.join(".locks");
    std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(unsafe_reason(&dir.0).contains("can write"));
    std::fs::remove_dir_all(&locks).unwrap();
    let elsewhere = TempDir::new();
    std::fs::create_dir_all(&elsewhere.0).unwrap();
    symlink(&elsewhere.0, &locks).unwrap();
    assert_eq!(unsafe_reason(&dir.0), "it is a symlink");
}

#[test]
fn a_root_another_user_owns_is_refused() {
    let dir = TempDir::new();
    drop(FileStorage::new(&dir.0).unwrap());
    // Giving a directory away takes root; as any other user, one owned by root stands in.
    let status = Command::new("chown")
        .args(["65534", dir.0.to_str().unwrap()])
        .stderr(Stdio::null())
        .status();
    let target = if status.is_ok_and(|status| status.success()) {
        dir.0.clone()
    } else {
        PathBuf::from("/")
    };
    let reason = match FileStorage::new(&target) {
        Err(Error::Config(ConfigError::UnsafeDirectory { reason, .. })) => reason,
        // Not root and `/` is not writable: the probe that finds the owner is refused.
        Err(Error::Io(error)) if error.kind() == std::io::ErrorKind::PermissionDenied => return,
        other => panic!("not refused: {other:?}"),
    };
    assert_eq!(reason, "another user owns it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_lock_held_elsewhere_times_out_with_a_typed_error_and_changes_nothing() {
    // Review defect 5: the shard lock had no timeout, so a stuck holder hung a blocking
    // thread for good.
    let dir = TempDir::new();
    let storage = FileStorage::builder(&dir.0)
        .lock_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let direct = direct(&storage);
    let id = direct.create().await;
    // Another process holds the shard's lock (util-linux `flock`), until it is killed.
    let lock_file = lock_file_of(&storage, &id);
    // `-o`: only `flock` itself holds the lock, not the `sleep` it runs.
    let mut holder = Command::new("flock")
        .args(["-o", "-x"])
        .arg(&lock_file)
        .args(["sleep", "5"])
        .spawn()
        .expect("flock is installed (util-linux)");
    let probe = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&lock_file)
        .unwrap();
    while probe.try_lock().is_ok() {
        probe.unlock().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut session = direct.load(Some(id.as_str())).await.unwrap();
    session.set("n", 2).unwrap();
    let started = std::time::Instant::now();
    let err = direct.save(&session).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "bounded wait");
    assert!(
        matches!(&err, Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut),
        "{err:?}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let loaded = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(
        loaded.get::<u32>("n").unwrap(),
        Some(1),
        "the last good record"
    );
    let _ = direct.save(&session).await.unwrap();
    let loaded = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(
        loaded.get::<u32>("n").unwrap(),
        Some(2),
        "saves again once released"
    );
}

/// The lock file of the shard `id` is stored in: `<root>/.locks/<shard>.lock`.
fn lock_file_of(storage: &FileStorage, id: &SessionId) -> PathBuf {
    let shard = crate::common::shard_of(&storage.path_of(id));
    storage.root().join(".locks").join(format!("{shard}.lock"))
}

/// Sets the modification time of `path` to `ago` before now.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - ago)
        .unwrap();
}

#[tokio::test]
async fn the_sweep_removes_corrupt_files_and_long_unwritten_undated_records() {
    // Review defect 9: corrupt files and records without a deadline (`Expiry::none()`) were
    // never swept, so the disk filled forever.
    let dir = TempDir::new();
    let storage = FileStorage::builder(&dir.0)
        .undated_max_age(Some(Duration::from_hours(24)))
        .build()
        .unwrap();
    let undated = direct(&storage);
    let (old, recent) = (undated.create().await, undated.create().await);
    age(&storage.path_of(&old), Duration::from_hours(25));
    let corrupt_id: SessionId = "corrupt-session-id-00000000000".parse().unwrap();
    let fresh_corrupt_id: SessionId = "corrupt-session-id-00000000001".parse().unwrap();
    let newer_id: SessionId = "newer-format-session-id-000000".parse().unwrap();
    for (id, bytes) in [
        (&corrupt_id, b"{\"v\":1,\"d\":[".as_slice()),
        (&fresh_corrupt_id, b"\x00garbage"),
        (&newer_id, br#"{"v":2,"whatever":"a later release wrote"}"#),
    ] {
        let path = storage.path_of(id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    age(&storage.path_of(&corrupt_id), Duration::from_hours(2));
    age(
        &storage.path_of(&newer_id),
        Duration::from_hours(24 * 1_000),
    );

    assert_eq!(storage.sweep_expired(0).await.unwrap(), 2);
    assert!(
        !storage.path_of(&old).exists(),
        "undated, unwritten for 25 h"
    );
    assert!(!storage.path_of(&corrupt_id).exists(), "corrupt, 2 h old");
    assert!(storage.path_of(&recent).exists());
    assert!(
        storage.path_of(&fresh_corrupt_id).exists(),
        "corrupt, but under an hour old"
    );
    assert!(
        storage.path_of(&newer_id).exists(),
        "a newer format is left to its release"
    );

    let keep_all = FileStorage::builder(&dir.0)
        .undated_max_age(None)
        .build()
        .unwrap();
    age(&storage.path_of(&recent), Duration::from_hours(24 * 10_000));
    assert_eq!(keep_all.sweep_expired(0).await.unwrap(), 0);
    assert_eq!(
        FileStorage::DEFAULT_UNDATED_MAX_AGE,
        Duration::from_hours(400 * 24)
    );
}

#[tokio::test]
async fn a_symlinked_lock_file_is_never_followed() {
    // Review defect 5: a lock file planted as a symlink must not be opened through it.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let direct = direct(&storage);
    let id = direct.create().await;
    let lock_file = lock_file_of(&storage, &id);
    let outside = TempDir::new();
    std::fs::create_dir_all(&outside.0).unwrap();
    let victim = outside.0.join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    let _ = std::fs::remove_file(&lock_file);
    symlink(&victim, &lock_file).unwrap();
    let mut session = direct.load(Some(id.as_str())).await.unwrap();
    session.set("n", 2).unwrap();
    let err = direct.save(&session).await.unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    std::fs::remove_file(&lock_file).unwrap();
    let loaded = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(
        loaded.get::<u32>("n").unwrap(),
        Some(1),
        "the last good record"
    );
}

#[tokio::test]
async fn a_root_swapped_after_the_check_is_never_used() {
    // Review defect 5: every file was reached by path from the root, so a root (or shard)
    // replaced after `build()` checked it redirected reads and writes. The store now holds
    // the directory it checked, and names everything relative to it.
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let id = create(&storage, "count", 1).await;
    let checked = dir.0.with_extension("checked");
    std::fs::rename(&dir.0, &checked).unwrap();
    // In its place: a world-writable directory with a forged record under the same id.
    std::fs::create_dir(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let forged = storage.path_of(&id);
    std::fs::create_dir_all(forged.parent().unwrap()).unwrap();
    std::fs::write(
        &forged,
        br#"{"v":1,"d":[{"count":999,"admin":true},{}],"t":[0,0]}"#,
    )
    .unwrap();

    let mut loaded = direct(&storage).load(Some(id.as_str())).await.unwrap();
    assert_eq!(
        loaded.get::<u64>("count").unwrap(),
        Some(1),
        "read from the checked root"
    );
    assert_eq!(loaded.get::<bool>("admin").unwrap(), None);
    loaded.set("count", 2).unwrap();
    let _ = direct(&storage).save(&loaded).await.unwrap();
    let relative = forged.strip_prefix(&dir.0).unwrap();
    let written = std::fs::read_to_string(checked.join(relative)).unwrap();
    assert!(
        written.contains(r#""count":2"#),
        "written to the checked root: {written}"
    );
    let planted = std::fs::read_to_string(&forged).unwrap();
    assert!(planted.contains("999"), "the planted file is untouched");
    std::fs::remove_dir_all(&checked).unwrap();
}

#[tokio::test]
async fn the_owner_index_is_a_file_per_owner_and_a_stale_entry_is_never_listed() {
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let sessions = session::SessionManager::new(crate::common::cookie(), storage);
    let first = crate::common::log_in_as(&sessions, "ada").await;
    let _second = crate::common::log_in_as(&sessions, "ada").await;
    let owners = dir.0.join(".owners");
    let files: Vec<PathBuf> = std::fs::read_dir(&owners)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one index file for one owner");
    let mode = std::fs::metadata(&owners).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "private like the shards: {mode:o}");
    let index: Vec<String> = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(index.len(), 2);

    // A logout leaves the id in the index; the listing checks the session's own file.
    let mut logout = sessions.load(Some(&first)).await.unwrap();
    logout.destroy();
    let _ = sessions.commit(&logout).await.unwrap();
    assert_eq!(sessions.owner_sessions("ada", None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_damaged_owner_index_still_lets_log_out_everywhere_reach_every_session() {
    let dir = TempDir::new();
    let storage = FileStorage::new(&dir.0).unwrap();
    let sessions = session::SessionManager::new(crate::common::cookie(), storage);
    let ada = [
        crate::common::log_in_as(&sessions, "ada").await,
        crate::common::log_in_as(&sessions, "ada").await,
    ];
    let grace = crate::common::log_in_as(&sessions, "grace").await;
    for entry in std::fs::read_dir(dir.0.join(".owners")).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{not json").unwrap();
    }
    assert_eq!(sessions.end_owner_sessions("ada").await.unwrap(), 2);
    for pair in &ada {
        let session = sessions.load(Some(pair)).await.unwrap();
        assert!(session.owner().is_none(), "ended");
    }
    let session = sessions.load(Some(&grace)).await.unwrap();
    assert_eq!(
        session.owner().map(session::owner::Owner::as_str),
        Some("grace")
    );
}
