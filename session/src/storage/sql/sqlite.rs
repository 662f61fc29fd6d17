//! [`SqliteStorage`]: sessions in a SQLite table, the values as JSON text: a durable store for
//! one machine, shared by every process that opens the database file. A save onto the version
//! it loaded is one `UPDATE`; every other plan, merges included, is one `BEGIN IMMEDIATE`
//! transaction.

use std::fmt;
use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{AssertSqlSafe, Row as _};

use super::{
    Columns, FORWARD, RECORD, Resolved, Row, SUPERSEDED, SWEEP_BATCH, Versions, bounded,
    changes_owner, ending, int, listed, quoted, resolve, sweep_forever, sweep_in_batches,
    undated_cutoff,
};
use crate::error::{ConfigError, Result};
use crate::id::SessionId;
use crate::owner::Owner;
use crate::store::{
    Ending, Expect, OwnedRecord, Retire, SessionStore, Stored, Version, WriteOutcome, WritePlan,
};

/// How the store names its database in errors and logs.
const DATABASE: &str = "SQLite";

/// How long [`SqliteStorage::migrate`] waits before trying again after SQLite refused a lock
/// at once.
const BUSY_RETRY: Duration = Duration::from_millis(25);

/// Sessions in SQLite: a durable store in one file, shared by every process that opens it.
///
/// One row per session in a table of its own (`sessions` unless [set](SqliteStorageBuilder::table)),
/// the values and flash as JSON text, and an indexed `expires_at`; the
/// [module docs](crate::storage::sql) list the columns. [`migrate`](Self::migrate) creates it.
///
/// - **No lost updates:** a save onto the version of the session its request loaded writes the
///   request's state in one `UPDATE ... WHERE version = ?`; when another request saved first,
///   the save becomes a `BEGIN IMMEDIATE` transaction that reads the stored row, applies only
///   this request's changes ([`Record::apply`](crate::store::Record::apply), as every store
///   does) and writes it back. SQLite runs one writer at a time, across processes too, so
///   requests on different keys all survive; on the same key the last save wins.
/// - **Durable:** SQLite's journal makes every save all or nothing, through a crash or a power
///   cut; a database made from a URL runs in WAL mode.
/// - **Expiry:** every write stores the session's deadline in `expires_at`;
///   [`sweep_expired`](Self::sweep_expired) deletes dead rows in batches through its index, and
///   [`sweep_every`](Self::sweep_every) is a task to spawn that does it on a schedule.
/// - **Your pool or a URL:** [`from_pool`](Self::from_pool) shares the app's `SqlitePool`;
///   [`builder`](Self::builder) takes a URL (`sqlite://sessions.db`, created if missing) and
///   opens it on first use.
/// - **Failures are typed and bounded:** each call, the wait for SQLite's write lock included,
///   gives up after the timeout (5 s unless set) with [`Error::Storage`](crate::Error::Storage).
///
/// An in-memory database (`sqlite::memory:`) lives as long as its one connection: useful for
/// tests, not for sessions that must outlive the process.
///
/// # Examples
///
/// ```
/// use session::{SessionCookie, SessionManager, SqliteStorage};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let storage = SqliteStorage::builder("sqlite::memory:").build()?;
/// storage.migrate().await?;
/// let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
/// let sessions = SessionManager::new(cookie, storage);
/// let mut session = sessions.load(None).await?;
/// session.set("count", 1)?;
/// let set_cookie = sessions.commit(&session).await?.into_header().unwrap();
/// let again = sessions.load(set_cookie.split(';').next()).await?;
/// assert_eq!(again.get::<u32>("count")?, Some(1));
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
///
/// Clones are cheap handles sharing one pool.
#[derive(Clone)]
pub struct SqliteStorage {
    shared: Arc<Shared>,
}

/// What every clone of a [`SqliteStorage`] shares.
struct Shared {
    pool: OnceLock<SqlitePool>,
    /// How to make the pool on first use, for a storage built from a URL.
    connect: Option<(SqlitePoolOptions, SqliteConnectOptions)>,
    table: String,
    sql: Statements,
    timeout: Duration,
    undated_max_age: Option<Duration>,
    versions: Versions,
}

/// The statements, written once from the checked table name.
struct Statements {
    migration: Arc<str>,
    load: Arc<str>,
    replace: Arc<str>,
    insert_vacant: Arc<str>,
    upsert: Arc<str>,
    retire: Arc<str>,
    delete: Arc<str>,
    sweep: Arc<str>,
    sweep_undated: Arc<str>,
    owned: Arc<str>,
    end_except: Arc<str>,
    end_only: Arc<str>,
}

impl Statements {
    fn new(table: &str) -> Self {
        let t = table;
        let index = format!("\"{}_expires_at\"", table.trim_matches('"'));
        let owner_index = format!("\"{}_owner\"", table.trim_matches('"'));
        let live_owned =
            format!("owner = ?1 AND kind = {RECORD} AND (expires_at IS NULL OR expires_at >= ?2)");
        let put = |condition: &str| {
            format!(
                "INSERT INTO {t} (id, kind, moved_to, data, flash, created, renewed, lifetime, \
                 expires_at, version, owner, label) \
                 VALUES (?1, {RECORD}, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (id) DO UPDATE SET kind = {RECORD}, moved_to = NULL, \
                 data = excluded.data, flash = excluded.flash, created = excluded.created, \
                 renewed = excluded.renewed, lifetime = excluded.lifetime, \
                 expires_at = excluded.expires_at, version = excluded.version, \
                 owner = excluded.owner, label = excluded.label{condition}"
            )
        };
        Self {
            // No CHECK on `kind`: the store writes only its three kinds and reads any other as
            // a corrupt row, and on PostgreSQL the check cost about 10 µs of every write.
            migration: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n\
                 \x20   id TEXT PRIMARY KEY NOT NULL,\n\
                 \x20   kind INTEGER NOT NULL DEFAULT {RECORD},\n\
                 \x20   moved_to TEXT,\n\
                 \x20   data TEXT NOT NULL DEFAULT '{{}}',\n\
                 \x20   flash TEXT NOT NULL DEFAULT '{{}}',\n\
                 \x20   created INTEGER NOT NULL,\n\
                 \x20   renewed INTEGER NOT NULL,\n\
                 \x20   lifetime INTEGER,\n\
                 \x20   expires_at INTEGER,\n\
                 \x20   version INTEGER NOT NULL,\n\
                 \x20   owner TEXT,\n\
                 \x20   label TEXT\n\
                 );\n\
                 CREATE INDEX IF NOT EXISTS {index} ON {t} (expires_at);\n\
                 CREATE INDEX IF NOT EXISTS {owner_index} ON {t} (owner) WHERE owner IS NOT NULL;\n"
            )
            .into(),
            load: format!(
                "SELECT kind, moved_to, data, flash, created, renewed, lifetime, expires_at, \
                 version, owner, label FROM {t} WHERE id = ?1"
            )
            .into(),
            replace: format!(
                "UPDATE {t} SET data = ?2, flash = ?3, created = ?4, renewed = ?5, \
                 lifetime = ?6, expires_at = ?7, version = ?8, owner = ?9, label = ?10 \
                 WHERE id = ?1 AND kind = {RECORD} AND version = ?11 \
                 AND (expires_at IS NULL OR expires_at >= ?5)"
            )
            .into(),
            insert_vacant: put(" WHERE expires_at < ?11").into(),
            upsert: put("").into(),
            retire: format!(
                "INSERT INTO {t} (id, kind, moved_to, data, flash, created, renewed, lifetime, \
                 expires_at, version) VALUES (?1, ?2, ?3, '{{}}', '{{}}', ?4, ?4, NULL, ?5, ?6) \
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, \
                 moved_to = excluded.moved_to, data = '{{}}', flash = '{{}}', \
                 created = excluded.created, renewed = excluded.renewed, lifetime = NULL, \
                 expires_at = excluded.expires_at, version = excluded.version, \
                 owner = NULL, label = NULL"
            )
            .into(),
            delete: format!("DELETE FROM {t} WHERE id = ?1").into(),
            owned: format!(
                "SELECT id, created, renewed, lifetime, label, expires_at FROM {t} \
                 WHERE {live_owned}"
            )
            .into(),
            end_except: format!(
                "DELETE FROM {t} WHERE {live_owned} \
                 AND id NOT IN (SELECT value FROM json_each(?3))"
            )
            .into(),
            end_only: format!(
                "DELETE FROM {t} WHERE {live_owned} AND id IN (SELECT value FROM json_each(?3))"
            )
            .into(),
            sweep: format!(
                "DELETE FROM {t} WHERE id IN \
                 (SELECT id FROM {t} WHERE expires_at < ?1 LIMIT {SWEEP_BATCH})"
            )
            .into(),
            sweep_undated: format!(
                "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at IS NULL \
                 AND renewed < ?1 LIMIT {SWEEP_BATCH})"
            )
            .into(),
        }
    }
}

/// A statement's text for sqlx, which caches the prepared statement per connection.
/// Whether SQLite refused a lock (`SQLITE_BUSY` or `SQLITE_LOCKED`, with any extended code).
fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

fn sql(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(text))
}

/// Reads the columns `Statements::load` selects.
fn row(row: &SqliteRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        kind: row.try_get(0)?,
        moved_to: row.try_get(1)?,
        data: row.try_get(2)?,
        flash: row.try_get(3)?,
        created: row.try_get(4)?,
        renewed: row.try_get(5)?,
        lifetime: row.try_get(6)?,
        expires_at: row.try_get(7)?,
        version: row.try_get(8)?,
        owner: row.try_get(9)?,
        label: row.try_get(10)?,
    })
}

impl SqliteStorage {
    /// The table used unless [another is set](SqliteStorageBuilder::table).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::SqliteStorage::DEFAULT_TABLE, "sessions");
    /// ```
    pub const DEFAULT_TABLE: &'static str = "sessions";

    /// How long a call waits, SQLite's write lock included, unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::SqliteStorage::DEFAULT_TIMEOUT.as_secs(), 5);
    /// ```
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Starts configuring a storage on the database at `url` (`sqlite://path/to/file.db`,
    /// created if missing, or `sqlite::memory:`); it is opened on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::SqliteStorage::builder("sqlite://sessions.db").build()?;
    /// assert_eq!(storage.table(), "sessions");
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> SqliteStorageBuilder {
        SqliteStorageBuilder::new(Source::Url(url.into()))
    }

    /// Starts configuring a storage on the app's own pool. Give its connections a busy
    /// timeout (sqlx's default is 5 s) and, for several processes, WAL mode.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::sqlite::SqlitePool::connect("sqlite::memory:").await.unwrap();
    /// let storage = session::SqliteStorage::from_pool(pool).table("web_sessions").build()?;
    /// storage.migrate().await?;
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub fn from_pool(pool: SqlitePool) -> SqliteStorageBuilder {
        SqliteStorageBuilder::new(Source::Pool(pool))
    }

    /// Returns the table's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").table("s").build()?;
    /// assert_eq!(storage.table(), "s");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn table(&self) -> &str {
        &self.shared.table
    }

    /// Returns the SQL [`migrate`](Self::migrate) runs, for an app that runs its migrations with
    /// its own tool. It is idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").build()?;
    /// assert!(storage.migration_sql().contains("CREATE INDEX IF NOT EXISTS"));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn migration_sql(&self) -> &str {
        &self.shared.sql.migration
    }

    /// Returns the pool, making it first for a storage built from a URL.
    ///
    /// # Panics
    ///
    /// For a storage built from a URL, when called outside a tokio runtime the first time
    /// (sqlx spawns the pool's upkeep task); every other method is async and runs inside one.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").build()?;
    /// assert_eq!(storage.pool().options().get_max_connections(), 1);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        self.shared.pool.get_or_init(|| {
            // A storage without a pool at build was built from a URL, so it has both.
            let (pool, connect) = self.shared.connect.clone().unwrap_or_default();
            pool.connect_lazy_with(connect)
        })
    }

    /// Creates the table and its index, if missing. Safe to run from every process at
    /// start-up.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails or does not answer.
    ///
    /// # Examples
    ///
    /// See [`SqliteStorage`].
    pub async fn migrate(&self) -> Result<()> {
        bounded(DATABASE, self.shared.timeout, async {
            // SQLite answers some lock waits with `SQLITE_BUSY` at once instead of through its
            // busy handler: when another process turns a new file to WAL at the same moment,
            // one of two apps starting together failed here. Such a refusal is tried again
            // until the storage's timeout.
            loop {
                match self.migrate_once().await {
                    Err(error) if is_busy(&error) => tokio::time::sleep(BUSY_RETRY).await,
                    done => return done,
                }
            }
        })
        .await
    }

    async fn migrate_once(&self) -> sqlx::Result<()> {
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        // A table made before owners existed gains their columns first.
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info(?1)")
            .bind(self.shared.table.as_str())
            .fetch_all(&mut *transaction)
            .await?;
        if !columns.is_empty() && !columns.iter().any(|(name,)| name == "owner") {
            let table = quoted("table", &self.shared.table).unwrap_or_default();
            let upgrade = format!(
                "ALTER TABLE {table} ADD COLUMN owner TEXT;\n\
                 ALTER TABLE {table} ADD COLUMN label TEXT;"
            );
            sqlx::raw_sql(AssertSqlSafe(upgrade))
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::raw_sql(sql(&self.shared.sql.migration))
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await
    }

    /// Deletes every row whose deadline passed before `now` (Unix seconds), and rows without a
    /// deadline left unwritten for [`undated_max_age`](SqliteStorageBuilder::undated_max_age),
    /// in batches of 1 000 through the `expires_at` index. Returns how many rows went.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails or does not answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").build()?;
    /// storage.migrate().await?;
    /// assert_eq!(storage.sweep_expired(u64::MAX).await?, 0);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn sweep_expired(&self, now: u64) -> Result<u64> {
        let mut removed = self.sweep_batches(&self.shared.sql.sweep, int(now)).await?;
        if let Some(cutoff) = undated_cutoff(now, self.shared.undated_max_age) {
            removed += self
                .sweep_batches(&self.shared.sql.sweep_undated, cutoff)
                .await?;
        }
        Ok(removed)
    }

    async fn sweep_batches(&self, statement: &Arc<str>, bound: i64) -> Result<u64> {
        sweep_in_batches(|| {
            bounded(DATABASE, self.shared.timeout, async move {
                let done = sqlx::query(sql(statement))
                    .bind(bound)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// A task that [sweeps](Self::sweep_expired) every `interval` (at least a second) by the
    /// system clock, for the app to spawn; failures are logged and retried at the next tick.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").build()?;
    /// let sweeper = tokio::spawn(storage.clone().sweep_every(std::time::Duration::from_mins(10)));
    /// sweeper.abort();
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn sweep_every(self, interval: Duration) {
        sweep_forever(DATABASE, interval, |now| {
            let storage = self.clone();
            async move { storage.sweep_expired(now).await }
        })
        .await;
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let found = bounded(DATABASE, self.shared.timeout, async {
            let found = sqlx::query(sql(&self.shared.sql.load))
                .bind(id.as_str())
                .fetch_optional(self.pool())
                .await?;
            found.as_ref().map(row).transpose()
        })
        .await?;
        Ok(found.and_then(|found| found.into_stored(DATABASE)))
    }

    async fn execute(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        // A login (an owner or label set) takes the transaction, where the owner's limit is
        // applied.
        if !plan.moves() && !changes_owner(plan) {
            match plan.expect() {
                Expect::Loaded(version)
                    if version != Version::UNVERSIONED
                        && self.replace_loaded(plan, version).await? =>
                {
                    return Ok(WriteOutcome::Written);
                }
                Expect::Vacant => return self.insert_new(plan).await,
                _ => {}
            }
        }
        bounded(DATABASE, self.shared.timeout, self.transaction(plan)).await
    }

    /// The common save: the request's whole state over the version it loaded, in one
    /// statement. `false` when the row changed since (or is gone): the transaction merges.
    async fn replace_loaded(&self, plan: &WritePlan<'_>, loaded: Version) -> Result<bool> {
        let columns = Columns::of(&plan.to_record());
        let done = bounded(
            DATABASE,
            self.shared.timeout,
            self.record_query(&self.shared.sql.replace, plan.base(), &columns)
                .bind(loaded.get().cast_signed())
                .execute(self.pool()),
        )
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A new session's first save, under an id drawn for it: `Taken` if anything live holds it.
    async fn insert_new(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let columns = Columns::of(&plan.to_record());
        let done = bounded(
            DATABASE,
            self.shared.timeout,
            self.put(plan.target(), &columns, Some(plan.now()))
                .execute(self.pool()),
        )
        .await?;
        Ok(if done.rows_affected() == 1 {
            WriteOutcome::Written
        } else {
            WriteOutcome::Taken
        })
    }

    /// The statement writing `columns` as the record under `id`: `insert_vacant` (which
    /// replaces only a row dead at `now`) or, given no `now`, `upsert`.
    fn put<'q>(
        &self,
        id: &'q SessionId,
        columns: &'q Columns,
        vacant_at: Option<u64>,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        let statement = match vacant_at {
            Some(_) => &self.shared.sql.insert_vacant,
            None => &self.shared.sql.upsert,
        };
        let query = self.record_query(statement, id, columns);
        match vacant_at {
            Some(now) => query.bind(int(now)),
            None => query,
        }
    }

    /// `statement` with the id (`?1`), the record's columns (`?2` to `?7`), a new version
    /// (`?8`), the owner and the label (`?9`, `?10`) bound, as `replace`, `insert_vacant` and
    /// `upsert` all take them.
    fn record_query<'q>(
        &self,
        statement: &Arc<str>,
        id: &'q SessionId,
        columns: &'q Columns,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        sqlx::query(sql(statement))
            .bind(id.as_str())
            .bind(columns.data.as_str())
            .bind(columns.flash.as_str())
            .bind(columns.created)
            .bind(columns.renewed)
            .bind(columns.lifetime)
            .bind(columns.expires_at)
            .bind(self.shared.versions.next())
            .bind(columns.owner.as_deref())
            .bind(columns.label.as_deref())
    }

    /// Every other plan, in one transaction that holds SQLite's write lock from its start.
    async fn transaction(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome, sqlx::Error> {
        let sql_of = &self.shared.sql;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let base = sqlx::query(sql(&sql_of.load))
            .bind(plan.base().as_str())
            .fetch_optional(&mut *transaction)
            .await?
            .as_ref()
            .map(row)
            .transpose()?;
        let existed = base.is_some();
        let Resolved { record, before } = match resolve(plan, base) {
            Ok(resolved) => resolved,
            Err(outcome) => {
                transaction.rollback().await?;
                return Ok(outcome);
            }
        };
        if let Some(owner) = plan.index_change(before.as_ref(), record.owner()).joins {
            // The write lock is held: the owner's sessions cannot change meanwhile.
            let owned = Self::owned_in(&mut transaction, &sql_of.owned, owner, plan.now()).await?;
            match plan.admit(&owned) {
                Ok(ended) => {
                    for id in ended {
                        sqlx::query(sql(&sql_of.delete))
                            .bind(id.as_str())
                            .execute(&mut *transaction)
                            .await?;
                    }
                }
                Err(outcome) => {
                    transaction.rollback().await?;
                    return Ok(outcome);
                }
            }
        }
        let columns = Columns::of(&record);
        if plan.moves() {
            let inserted = self
                .put(plan.target(), &columns, Some(plan.now()))
                .execute(&mut *transaction)
                .await?;
            if inserted.rows_affected() == 0 {
                transaction.rollback().await?;
                return Ok(WriteOutcome::Taken);
            }
            let (kind, to, until) = match plan.retire() {
                Retire::Forward { until } => (FORWARD, Some(plan.target().as_str()), until),
                Retire::Supersede { until } => (SUPERSEDED, None, until),
                Retire::Delete => {
                    sqlx::query(sql(&sql_of.delete))
                        .bind(plan.base().as_str())
                        .execute(&mut *transaction)
                        .await?;
                    return transaction.commit().await.map(|()| WriteOutcome::Written);
                }
                Retire::Keep => return transaction.commit().await.map(|()| WriteOutcome::Written),
            };
            sqlx::query(sql(&sql_of.retire))
                .bind(plan.base().as_str())
                .bind(kind)
                .bind(to)
                .bind(int(plan.now()))
                .bind(int(until))
                .bind(self.shared.versions.next())
                .execute(&mut *transaction)
                .await?;
        } else {
            // The write lock is held: no row can appear between the read and this write.
            self.put(plan.base(), &columns, (!existed).then_some(plan.now()))
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(WriteOutcome::Written)
    }

    /// `owner`'s live sessions, read with `statement` (`owned`) on `connection`.
    async fn owned_in(
        connection: &mut sqlx::SqliteConnection,
        statement: &Arc<str>,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<OwnedRecord>, sqlx::Error> {
        let rows = sqlx::query_as(sql(statement))
            .bind(owner.as_str())
            .bind(int(now))
            .fetch_all(connection)
            .await?;
        Ok(rows.into_iter().filter_map(listed).collect())
    }
}

impl SessionStore for SqliteStorage {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.read(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        self.execute(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        bounded(DATABASE, self.shared.timeout, async {
            let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
            for id in ids {
                sqlx::query(sql(&self.shared.sql.delete))
                    .bind(id.as_str())
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await
        })
        .await
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        bounded(DATABASE, self.shared.timeout, async {
            let mut connection = self.pool().acquire().await?;
            Self::owned_in(&mut connection, &self.shared.sql.owned, owner, now).await
        })
        .await
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let sql_of = &self.shared.sql;
        let (statement, ids) = ending(which, &sql_of.end_except, &sql_of.end_only);
        // Ids are base64url: a JSON array of them needs no escaping beyond serde_json's.
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned());
        bounded(DATABASE, self.shared.timeout, async {
            let done = sqlx::query(sql(statement))
                .bind(owner.as_str())
                .bind(int(now))
                .bind(ids)
                .execute(self.pool())
                .await?;
            Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
        })
        .await
    }
}

impl fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("table", &self.shared.table)
            .field("timeout", &self.shared.timeout)
            .field("opened", &self.shared.pool.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Where a [`SqliteStorageBuilder`] gets its pool.
enum Source {
    Url(String),
    Pool(SqlitePool),
}

/// Configures a [`SqliteStorage`]; made by [`SqliteStorage::builder`] or
/// [`SqliteStorage::from_pool`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let storage = session::SqliteStorage::builder("sqlite://sessions.db")
///     .table("web_sessions")
///     .timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(storage.table(), "web_sessions");
/// # Ok::<(), session::Error>(())
/// ```
#[must_use]
pub struct SqliteStorageBuilder {
    source: Source,
    table: String,
    timeout: Duration,
    max_connections: Option<u32>,
    undated_max_age: Option<Duration>,
}

impl fmt::Debug for SqliteStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStorageBuilder")
            .field("table", &self.table)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteStorageBuilder {
    fn new(source: Source) -> Self {
        Self {
            source,
            table: SqliteStorage::DEFAULT_TABLE.to_owned(),
            timeout: SqliteStorage::DEFAULT_TIMEOUT,
            max_connections: None,
            undated_max_age: Some(crate::FileStorage::DEFAULT_UNDATED_MAX_AGE),
        }
    }

    /// Sets the table's name ([`DEFAULT_TABLE`](SqliteStorage::DEFAULT_TABLE) unless set).
    ///
    /// # Examples
    ///
    /// See [`SqliteStorageBuilder`].
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Bounds every call, the wait for SQLite's write lock (its busy timeout, for a URL) and
    /// for a pooled connection included: 5 s unless set.
    ///
    /// # Examples
    ///
    /// See [`SqliteStorageBuilder`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections the pool made from a URL opens (sqlx's default unless set; one
    /// for an in-memory database); ignored for the app's pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = session::SqliteStorage::builder("sqlite://sessions.db").max_connections(4);
    /// # let _ = builder;
    /// ```
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = Some(connections);
        self
    }

    /// How long the sweep keeps a row without a deadline (written under
    /// [`Expiry::none`](crate::Expiry::none)) after its last write: 400 days unless set, as
    /// [`FileStorage`](crate::FileStorage); `None` keeps such rows until they are deleted.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::SqliteStorage::builder("sqlite::memory:").undated_max_age(None).build()?;
    /// # let _ = storage;
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn undated_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.undated_max_age = max_age;
        self
    }

    /// Checks the table name and the URL and builds the storage; nothing is opened yet.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIdentifier`] for a table that is not a plain identifier;
    /// [`ConfigError::InvalidUrl`] for a URL sqlx cannot read.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{ConfigError, Error, SqliteStorage};
    ///
    /// let err = SqliteStorage::builder("sqlite::memory:").table("a\"b").build().unwrap_err();
    /// assert!(matches!(err, Error::Config(ConfigError::InvalidIdentifier { .. })));
    /// ```
    pub fn build(self) -> Result<SqliteStorage> {
        let table = quoted("table", &self.table)?;
        let (pool, connect) = match self.source {
            Source::Pool(pool) => (OnceLock::from(pool), None),
            Source::Url(url) => {
                let options = SqliteConnectOptions::from_str(&url)
                    .map_err(|error| ConfigError::InvalidUrl {
                        reason: error.to_string().replace(url.as_str(), "<url>"),
                    })?
                    .create_if_missing(true)
                    .busy_timeout(self.timeout);
                // Every connection to `sqlite::memory:` would open a database of its own;
                // sqlx shares one, but only one connection can use it without locking errors.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let (options, connections) = if in_memory {
                    (options, Some(1))
                } else {
                    (
                        options.journal_mode(SqliteJournalMode::Wal),
                        self.max_connections,
                    )
                };
                let mut pool = SqlitePoolOptions::new().acquire_timeout(self.timeout);
                if let Some(connections) = connections {
                    pool = pool.max_connections(connections);
                }
                if in_memory {
                    // The database lives as long as a connection to it: keep the one.
                    pool = pool
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .min_connections(1);
                }
                (OnceLock::new(), Some((pool, options)))
            }
        };
        Ok(SqliteStorage {
            shared: Arc::new(Shared {
                pool,
                connect,
                table: self.table,
                sql: Statements::new(&table),
                timeout: self.timeout,
                undated_max_age: self.undated_max_age,
                versions: Versions::new(),
            }),
        })
    }
}
