//! The SQL databases the tests use: PostgreSQL servers (started by `scripts/postgres`, shared
//! through `SESSION_POSTGRES_URL`, or one per test that stops it), SQLite files in temporary
//! directories, and [`SqlStore`], a fresh table on either, migrated on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use session::owner::Owner;
use session::store::{Ending, OwnedRecord, Stored, WriteOutcome, WritePlan};
use session::{PostgresStorage, SessionId, SessionStore, SqliteStorage};
use tokio::sync::OnceCell;

use crate::common::TempDir;

/// `scripts/postgres`, which starts and stops a throwaway server.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL server of one test, in its own directory; stopped when dropped, and by a
/// watchdog when the test process ends.
#[derive(Debug)]
pub(crate) struct PostgresServer {
    pub(crate) port: u16,
    watchdog: Option<std::process::Child>,
    dir: TempDir,
}

impl PostgresServer {
    /// Starts a server on a free port.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is missing: `scripts/setup` installs it.
    pub(crate) fn start() -> Self {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        // Entered by the `postgres` user when the tests run as root.
        set_mode(&dir.0, 0o755);
        let mut server = Self {
            port: free_port(),
            watchdog: None,
            dir,
        };
        server.run();
        let watchdog = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; {script} stop {data}",
            parent = std::process::id(),
            script = script().display(),
            data = server.data().display(),
        );
        server.watchdog = Some(
            Command::new("sh")
                .arg("-c")
                .arg(watchdog)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("sh runs"),
        );
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Starts the server (again, on the same port and data).
    pub(crate) fn run(&self) {
        let output = Command::new(script())
            .arg("start")
            .arg(self.data())
            .arg(self.port.to_string())
            .output()
            .expect("scripts/postgres runs");
        assert!(
            output.status.success(),
            "PostgreSQL did not start (scripts/setup installs it): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the server at once, as a crash would.
    pub(crate) fn stop(&self) {
        let _ = Command::new(script()).arg("stop").arg(self.data()).status();
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The PostgreSQL server the tests share: `SESSION_POSTGRES_URL` (which `scripts/test` sets),
/// or one started for this test process.
pub(crate) fn postgres_url() -> String {
    static SHARED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            std::env::var("SESSION_POSTGRES_URL").unwrap_or_else(|_| {
                let server = PostgresServer::start();
                let url = server.url();
                // Lives as long as the process; the watchdog stops the server afterwards.
                std::mem::forget(server);
                url
            })
        })
        .clone()
}

/// A table name no other test uses.
pub(crate) fn unique_table() -> String {
    format!("t_{}", SessionId::generate().as_str().replace('-', "_"))
}

/// A store on a fresh table, migrated before its first call: PostgreSQL on the shared server,
/// or SQLite in a temporary directory removed with it.
#[derive(Debug)]
pub(crate) struct SqlStore {
    pub(crate) store: Sql,
    migrated: OnceCell<()>,
    _dir: Option<TempDir>,
}

/// Either SQL store.
#[derive(Debug, Clone)]
pub(crate) enum Sql {
    Postgres(PostgresStorage),
    Sqlite(SqliteStorage),
}

impl SqlStore {
    /// A PostgreSQL store on a fresh table of the shared server.
    pub(crate) fn postgres() -> Self {
        let storage = PostgresStorage::builder(postgres_url())
            .table(unique_table())
            .max_connections(4)
            .build()
            .unwrap();
        Self::of(Sql::Postgres(storage), None)
    }

    /// A SQLite store in a database file of its own.
    pub(crate) fn sqlite() -> Self {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        let url = format!("sqlite://{}", dir.0.join("sessions.db").display());
        let storage = SqliteStorage::builder(url).build().unwrap();
        Self::of(Sql::Sqlite(storage), Some(dir))
    }

    pub(crate) fn of(store: Sql, dir: Option<TempDir>) -> Self {
        Self {
            store,
            migrated: OnceCell::new(),
            _dir: dir,
        }
    }

    async fn ready(&self) -> session::Result<()> {
        self.migrated
            .get_or_try_init(|| async {
                match &self.store {
                    Sql::Postgres(storage) => storage.migrate().await,
                    Sql::Sqlite(storage) => storage.migrate().await,
                }
            })
            .await
            .map(|&()| ())
    }

    /// Sweeps the store's table.
    pub(crate) async fn sweep_expired(&self, now: u64) -> session::Result<u64> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => storage.sweep_expired(now).await,
            Sql::Sqlite(storage) => storage.sweep_expired(now).await,
        }
    }
}

/// A store written as any other crate would write one: migrates, then passes every call on.
impl SessionStore for SqlStore {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => SessionStore::load(storage, id).await,
            Sql::Sqlite(storage) => SessionStore::load(storage, id).await,
        }
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => storage.write(plan).await,
            Sql::Sqlite(storage) => storage.write(plan).await,
        }
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => storage.delete(ids).await,
            Sql::Sqlite(storage) => storage.delete(ids).await,
        }
    }

    async fn owned(&self, owner: &Owner, now: u64) -> session::Result<Vec<OwnedRecord>> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => storage.owned(owner, now).await,
            Sql::Sqlite(storage) => storage.owned(owner, now).await,
        }
    }

    async fn end_owned(
        &self,
        owner: &Owner,
        which: Ending<'_>,
        now: u64,
    ) -> session::Result<usize> {
        self.ready().await?;
        match &self.store {
            Sql::Postgres(storage) => storage.end_owned(owner, which, now).await,
            Sql::Sqlite(storage) => storage.end_owned(owner, which, now).await,
        }
    }
}
