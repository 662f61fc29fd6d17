//! A child process for the file-storage and SQL-storage tests: it writes sessions into a shared
//! directory or database so that tests can kill it mid-write, limit its file size, or race it
//! against another process.
//!
//! ```text
//! session-file-writer write  <dir> <id> <key> <bytes>   one save of a <bytes>-long value
//! session-file-writer loop   <dir> <id>                 saves complete records until killed
//! session-file-writer hammer <dir> <id> <name> <threads> <writes>
//!                                                       each thread increments its own key
//! session-file-writer login  <dir> <id>                 regenerates <id> (OldId::Delete) and
//!                                                       prints the new id
//! session-file-writer sql-hammer <url> <table> <id> <name> <threads> <writes>
//!                                                       the same as hammer, on PostgreSQL
//!                                                       (postgres://) or SQLite (sqlite://);
//!                                                       migrates the table first
//! ```
//!
//! Exit codes: 0 saved, 3 the save failed with `Error::Io`, 4 any other error.
#![expect(clippy::print_stdout, reason = "the parent test reads the outcome")]

use std::process::ExitCode;
use std::sync::Arc;

use session::{
    Error, Expiry, FileStorage, PostgresStorage, SessionCookie, SessionManager, SessionStore,
    SqliteStorage, Storage,
};

type Manager = SessionManager<FileStorage>;

/// A manager over `storage` that adopts the ids the parent test chose.
fn manager_of<S: Storage>(storage: S) -> SessionManager<S> {
    let cookie = SessionCookie::builder("sid")
        .secret("file-writer-secret-of-at-least-32-bytes")
        .build()
        .expect("a cookie");
    SessionManager::new(cookie, storage)
        .with_expiry(Expiry::none())
        .adopt_unknown_ids()
}

/// A manager over the shared directory.
fn manager(dir: &str) -> Manager {
    manager_of(FileStorage::new(dir).expect("the directory"))
}

/// `threads` tasks on as many worker threads, sharing one store on the table `table` of the
/// database at `url` (migrated first), each incrementing `<name>-<task>` `writes` times.
fn sql_hammer(url: &str, table: &str, id: &str, name: &str, threads: usize, writes: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        if url.starts_with("sqlite:") {
            // SQLite's busy handler polls without a queue, so under a loaded CI machine one
            // writer can wait out the default 2 s while the other process keeps the lock;
            // this test proves that no update is lost, not how fast, so it waits longer.
            let storage = SqliteStorage::builder(url)
                .table(table)
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("a store");
            storage.migrate().await.expect("migrated");
            increment(storage, id, name, threads, writes).await;
        } else {
            let storage = PostgresStorage::builder(url)
                .table(table)
                .build()
                .expect("a store");
            storage.migrate().await.expect("migrated");
            increment(storage, id, name, threads, writes).await;
        }
    });
}

/// `tasks` tasks sharing one manager over `storage`, each incrementing `<name>-<task>`
/// `writes` times.
async fn increment<S: SessionStore + 'static>(
    storage: S,
    id: &str,
    name: &str,
    tasks: usize,
    writes: u32,
) {
    let sessions = Arc::new(manager_of(storage));
    let header = header(&sessions, id);
    let tasks: Vec<_> = (0..tasks)
        .map(|task| {
            let sessions = Arc::clone(&sessions);
            let header = header.clone();
            let key = format!("{name}-{task}");
            tokio::spawn(async move {
                for _ in 0..writes {
                    let mut session = sessions.load(Some(&header)).await.expect("load");
                    let n = session.get::<u32>(&key).expect("a number").unwrap_or(0);
                    session.set(&key, n + 1).expect("set");
                    let _ = sessions.commit(&session).await.expect("save");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer task");
    }
}

/// The `Cookie` header of a browser holding `id`.
fn header<S: Storage>(sessions: &SessionManager<S>, id: &str) -> String {
    let set_cookie = sessions
        .cookie()
        .to_set_cookie(id, None)
        .expect("an id fits");
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn write(sessions: &Manager, id: &str, key: &str, bytes: usize) -> session::Result<()> {
    let mut session = sessions.load(Some(&header(sessions, id))).await?;
    session.set(key, "x".repeat(bytes))?;
    sessions.commit(&session).await.map(drop)
}

/// Regenerates `id` the way a login does, and prints the new id.
async fn login(sessions: &Manager, id: &str) -> session::Result<()> {
    let mut session = sessions.load(Some(&header(sessions, id))).await?;
    session.regenerate_id(session::OldId::Delete)?;
    session.set("user", "ada")?;
    let commit = sessions.commit(&session).await?;
    assert!(commit.header().is_some(), "a login sends the new cookie");
    println!("{}", session.id());
    Ok(())
}

/// Saves records whose keys `a`, `b` and `c` all hold the same counter, forever.
async fn write_forever(sessions: &Manager, id: &str) -> session::Result<()> {
    let header = header(sessions, id);
    for counter in 0_u64.. {
        let mut session = sessions.load(Some(&header)).await?;
        let padding = "p".repeat(usize::try_from(counter % 4_000).unwrap_or(0));
        for key in ["a", "b", "c"] {
            session.set(key, counter)?;
        }
        session.set("padding", padding)?;
        sessions.commit(&session).await.map(drop)?;
    }
    Ok(())
}

/// `threads` threads, each incrementing `<name>-<thread>` `writes` times.
fn hammer(sessions: Manager, id: &str, name: &str, threads: usize, writes: u32) {
    let header = header(&sessions, id);
    let sessions = Arc::new(sessions);
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let sessions = Arc::clone(&sessions);
            let header = header.clone();
            let key = format!("{name}-{thread}");
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    for _ in 0..writes {
                        let mut session = sessions.load(Some(&header)).await.expect("load");
                        let n = session.get::<u32>(&key).expect("a number").unwrap_or(0);
                        session.set(&key, n + 1).expect("set");
                        let _ = sessions.commit(&session).await.expect("save");
                    }
                });
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a writer thread");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["write", dir, id, key, bytes] => {
            let bytes = bytes.parse().expect("a size");
            runtime.block_on(write(&manager(dir), id, key, bytes))
        }
        ["login", dir, id] => runtime.block_on(login(&manager(dir), id)),
        ["loop", dir, id] => runtime.block_on(write_forever(&manager(dir), id)),
        ["hammer", dir, id, name, threads, writes] => {
            hammer(
                manager(dir),
                id,
                name,
                threads.parse().expect("a thread count"),
                writes.parse().expect("a write count"),
            );
            Ok(())
        }
        ["sql-hammer", url, table, id, name, threads, writes] => {
            sql_hammer(
                url,
                table,
                id,
                name,
                threads.parse().expect("a thread count"),
                writes.parse().expect("a write count"),
            );
            Ok(())
        }
        _ => panic!("usage: see the module docs"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io(error)) => {
            println!("io error: {error}");
            ExitCode::from(3)
        }
        Err(error) => {
            println!("error: {error}");
            ExitCode::from(4)
        }
    }
}
