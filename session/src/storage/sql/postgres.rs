//! [`PostgresStorage`]: sessions in a PostgreSQL table, the values as JSONB, for every instance
//! of an app that shares the database. A save onto the session it loaded is one `UPDATE` that
//! merges its changes per key with JSONB's `||` and `-`; every other plan is one transaction.

use std::fmt;
use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Row as _};

use super::{
    ATTEMPTS, Columns, FORWARD, RECORD, Resolved, Row, SUPERSEDED, SWEEP_BATCH, Versions, bounded,
    changes_owner, contended, ending, int, lifetime_code, listed, object, quoted, resolve,
    sweep_forever, sweep_in_batches, undated_cutoff,
};
use crate::error::{ConfigError, Result};
use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::owner::Owner;
use crate::store::{
    Ending, Expect, OwnedRecord, Retire, SessionStore, Stored, WriteOutcome, WritePlan,
};

/// How the store names its database in errors and logs.
const DATABASE: &str = "PostgreSQL";

/// Sessions in PostgreSQL, shared by every instance of an app.
///
/// One row per session in a table of its own (`sessions` unless [set](PostgresStorageBuilder::table)),
/// the values and flash as JSONB, and an indexed `expires_at`; the
/// [module docs](crate::storage::sql) list the columns. [`migrate`](Self::migrate) creates it.
///
/// - **No lost updates, in one statement:** a save onto the session its request loaded is one
///   `UPDATE` that applies only that request's changes to the stored row (values set with
///   `||`, removed with `-`, the flash it consumed removed only while it still holds the value
///   read, the flash it set), so concurrent requests on different keys all survive; on the same
///   key the last save wins. Regeneration, first saves and following a forward run as one
///   transaction that locks the row (`SELECT ... FOR UPDATE`) and applies the same rule as
///   every other store.
/// - **Expiry:** every write stores the session's deadline in `expires_at`;
///   [`sweep_expired`](Self::sweep_expired) deletes dead rows in batches through its index, and
///   [`sweep_every`](Self::sweep_every) is a task to spawn that does it on a schedule.
/// - **Your pool or a URL:** [`from_pool`](Self::from_pool) shares the app's `PgPool`;
///   [`builder`](Self::builder) takes a URL and connects on first use, so an app starts while
///   the database is down.
/// - **Failures are typed and bounded:** each call gives up after the timeout (for a URL 5 s,
///   for the app's pool its acquire timeout) with [`Error::Storage`](crate::Error::Storage),
///   and the pool reconnects once the database is back.
/// - **Names are checked:** the schema and table are plain identifiers, quoted; nothing else
///   reaches the SQL text, and every value is a bound parameter.
///
/// JSONB cannot hold the character U+0000 in a string: a save of such a value is an
/// [`Error::Storage`](crate::Error::Storage) and the stored session stays as it was. JSONB
/// also keeps numbers as `numeric`, so a float's `-0.0` reads back as `0.0`.
///
/// TLS is the pool's business: enable one of sqlx's `tls-*` features in the app and use
/// `sslmode=require` in the URL.
///
/// # Examples
///
/// ```no_run
/// use session::{PostgresStorage, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let storage = PostgresStorage::builder("postgres://app@localhost/app")
///     .table("web_sessions")
///     .build()?;
/// storage.migrate().await?;
/// tokio::spawn(storage.clone().sweep_every(std::time::Duration::from_mins(10)));
/// let cookie = SessionCookie::builder("sid").secret("a-random-secret-of-at-least-32-bytes").build()?;
/// let sessions = SessionManager::new(cookie, storage);
/// # let _ = sessions;
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
///
/// Clones are cheap handles sharing one pool.
#[derive(Clone)]
pub struct PostgresStorage {
    shared: Arc<Shared>,
}

/// What every clone of a [`PostgresStorage`] shares.
struct Shared {
    pool: OnceLock<PgPool>,
    /// How to make the pool on first use, for a storage built from a URL.
    connect: Option<(PgPoolOptions, PgConnectOptions)>,
    /// The table's name as given (quoted and schema-qualified in the statements).
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
    lock: Arc<str>,
    /// The merge, one statement per [`Shape`] of a save, so that each does only its work.
    merges: [Arc<str>; Shape::COUNT],
    insert_vacant: Arc<str>,
    upsert: Arc<str>,
    retire: Arc<str>,
    delete: Arc<str>,
    sweep: Arc<str>,
    sweep_undated: Arc<str>,
    owner_lock: Arc<str>,
    owned: Arc<str>,
    end_except: Arc<str>,
    end_only: Arc<str>,
}

impl Statements {
    fn new(schema: Option<&str>, table: &str) -> Self {
        let (create_schema, qualified) = match schema {
            Some(schema) => (
                format!("CREATE SCHEMA IF NOT EXISTS {schema};\n"),
                format!("{schema}.{table}"),
            ),
            None => (String::new(), table.to_owned()),
        };
        let index = format!("\"{}_expires_at\"", table.trim_matches('"'));
        let owner_index = format!("\"{}_owner\"", table.trim_matches('"'));
        let t = &qualified;
        let columns = "kind, moved_to, data::text, flash::text, created, renewed, lifetime, \
                       expires_at, version, owner, label";
        let live_owned =
            format!("owner = $1 AND kind = {RECORD} AND (expires_at IS NULL OR expires_at >= $2)");
        let load = format!("SELECT {columns} FROM {t} WHERE id = $1");
        let put = |condition: &str| {
            format!(
                "INSERT INTO {t} AS s (id, kind, moved_to, data, flash, created, renewed, \
                 lifetime, expires_at, version, owner, label) \
                 VALUES ($1, {RECORD}, NULL, $2::jsonb, $3::jsonb, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (id) DO UPDATE SET kind = {RECORD}, moved_to = NULL, \
                 data = EXCLUDED.data, flash = EXCLUDED.flash, created = EXCLUDED.created, \
                 renewed = EXCLUDED.renewed, lifetime = EXCLUDED.lifetime, \
                 expires_at = EXCLUDED.expires_at, version = EXCLUDED.version, \
                 owner = EXCLUDED.owner, label = EXCLUDED.label{condition}"
            )
        };
        Self {
            // No CHECK on `kind`: the store writes only its three kinds and reads any other as
            // a corrupt row, and on PostgreSQL the check cost about 10 µs of every write.
            migration: format!(
                "SELECT pg_advisory_xact_lock(hashtext('session store migration'));\n\
                 {create_schema}\
                 CREATE TABLE IF NOT EXISTS {t} (\n\
                 \x20   id TEXT COLLATE \"C\" PRIMARY KEY,\n\
                 \x20   kind SMALLINT NOT NULL DEFAULT {RECORD},\n\
                 \x20   moved_to TEXT,\n\
                 \x20   data JSONB NOT NULL DEFAULT '{{}}',\n\
                 \x20   flash JSONB NOT NULL DEFAULT '{{}}',\n\
                 \x20   created BIGINT NOT NULL,\n\
                 \x20   renewed BIGINT NOT NULL,\n\
                 \x20   lifetime BIGINT,\n\
                 \x20   expires_at BIGINT,\n\
                 \x20   version BIGINT NOT NULL,\n\
                 \x20   owner TEXT COLLATE \"C\",\n\
                 \x20   label TEXT\n\
                 );\n\
                 ALTER TABLE {t} ADD COLUMN IF NOT EXISTS owner TEXT COLLATE \"C\", \
                 ADD COLUMN IF NOT EXISTS label TEXT;\n\
                 CREATE INDEX IF NOT EXISTS {index} ON {t} (expires_at);\n\
                 CREATE INDEX IF NOT EXISTS {owner_index} ON {t} (owner) WHERE owner IS NOT NULL;\n"
            )
            .into(),
            lock: format!("{load} FOR UPDATE").into(),
            load: load.into(),
            merges: std::array::from_fn(|shape| merge_sql(t, Shape::from_index(shape)).into()),
            insert_vacant: put(" WHERE s.expires_at < $11").into(),
            upsert: put("").into(),
            retire: format!(
                "INSERT INTO {t} AS s (id, kind, moved_to, data, flash, created, renewed, \
                 lifetime, expires_at, version) \
                 VALUES ($1, $2, $3, '{{}}', '{{}}', $4, $4, NULL, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, \
                 moved_to = EXCLUDED.moved_to, data = '{{}}', flash = '{{}}', \
                 created = EXCLUDED.created, renewed = EXCLUDED.renewed, lifetime = NULL, \
                 expires_at = EXCLUDED.expires_at, version = EXCLUDED.version, \
                 owner = NULL, label = NULL"
            )
            .into(),
            delete: format!("DELETE FROM {t} WHERE id = ANY($1)").into(),
            owner_lock: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))".into(),
            owned: format!(
                "SELECT id, created, renewed, lifetime, label, expires_at FROM {t} \
                 WHERE {live_owned}"
            )
            .into(),
            end_except: format!("DELETE FROM {t} WHERE {live_owned} AND NOT (id = ANY($3))").into(),
            end_only: format!("DELETE FROM {t} WHERE {live_owned} AND id = ANY($3)").into(),
            sweep: format!(
                "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at < $1 \
                 LIMIT {SWEEP_BATCH} FOR UPDATE SKIP LOCKED)"
            )
            .into(),
            sweep_undated: format!(
                "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at IS NULL \
                 AND renewed < $1 LIMIT {SWEEP_BATCH} FOR UPDATE SKIP LOCKED)"
            )
            .into(),
        }
    }
}

/// What a save merges besides the values it set, which picks its statement: a save that
/// removed no key, touched no flash and kept its lifetime (the common one) sends six
/// parameters and has the server do nothing else.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Keys removed.
    removes: bool,
    /// Flash consumed or set.
    flash: bool,
    /// A lifetime chosen by this request.
    lifetime: bool,
}

impl Shape {
    const COUNT: usize = 8;

    /// The shape of `plan`, which `removes` keys or not.
    fn of(plan: &WritePlan<'_>, removes: bool) -> Self {
        Self {
            removes,
            flash: !(plan.consumed_flash().is_empty() && plan.new_flash().is_empty()),
            lifetime: plan.lifetime_change().is_some(),
        }
    }

    fn index(self) -> usize {
        usize::from(self.removes) | usize::from(self.flash) << 1 | usize::from(self.lifetime) << 2
    }

    fn from_index(index: usize) -> Self {
        Self {
            removes: index & 1 != 0,
            flash: index & 2 != 0,
            lifetime: index & 4 != 0,
        }
    }
}

/// The merge of one request's changes onto the live record under `$1`, for a save of this
/// shape. Parameters, in the order `merge_in_place` binds them: the id; the keys removed
/// (`removes`); the values set; now; then the lifetime chosen and the deadline it gives
/// (`lifetime`), or else the policy's deadline and the absolute deadline (the stored
/// lifetime decides between them, in SQL: a persistent one lives from now, capped by the
/// absolute deadline); the version; and the flash consumed and set (`flash`; a consumed key
/// goes only while it still holds the value read, so a newer flash survives).
fn merge_sql(table: &str, shape: Shape) -> String {
    let mut next = 0;
    let mut param = || {
        next += 1;
        format!("${next}")
    };
    let id = param();
    let data = if shape.removes {
        let removed = param();
        format!("(data - {removed}::text[]) || {}::jsonb", param())
    } else {
        format!("data || {}::jsonb", param())
    };
    let now = param();
    let lifetime = if shape.lifetime {
        let (chosen, deadline) = (param(), param());
        format!("lifetime = {chosen}, expires_at = {deadline}")
    } else {
        let (policy, absolute) = (param(), param());
        format!(
            "expires_at = CASE WHEN lifetime > 0 THEN LEAST({now} + lifetime, {absolute}) \
             ELSE {policy} END"
        )
    };
    let version = param();
    let flash = if shape.flash {
        let (consumed, new) = (param(), param());
        format!(
            ", flash = (flash - ARRAY(SELECT c.key FROM jsonb_each({consumed}::jsonb) AS c \
             WHERE flash -> c.key = c.value)) || {new}::jsonb"
        )
    } else {
        String::new()
    };
    format!(
        "UPDATE {table} SET data = {data}, renewed = {now}, {lifetime}, version = {version}{flash} \
         WHERE id = {id} AND kind = {RECORD} AND (expires_at IS NULL OR expires_at >= {now})"
    )
}

/// A statement's text for sqlx, which caches the prepared statement per connection.
fn sql(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(text))
}

/// Reads the columns `Statements::load` selects.
fn row(row: &PgRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        kind: i64::from(row.try_get::<i16, _>(0)?),
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

impl PostgresStorage {
    /// The table used unless [another is set](PostgresStorageBuilder::table).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::PostgresStorage::DEFAULT_TABLE, "sessions");
    /// ```
    pub const DEFAULT_TABLE: &'static str = "sessions";

    /// How long a call waits for a storage built from a URL, unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::PostgresStorage::DEFAULT_TIMEOUT.as_secs(), 5);
    /// ```
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Starts configuring a storage on the database at `url`
    /// (`postgres://user:password@host:port/database`); the pool is made on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app").build()?;
    /// assert_eq!(storage.table(), "sessions");
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> PostgresStorageBuilder {
        PostgresStorageBuilder::new(Source::Url(url.into()))
    }

    /// Starts configuring a storage on the app's own pool.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app").unwrap();
    /// let storage = session::PostgresStorage::from_pool(pool).schema("auth").build()?;
    /// assert_eq!(storage.table(), "auth.sessions");
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub fn from_pool(pool: PgPool) -> PostgresStorageBuilder {
        PostgresStorageBuilder::new(Source::Pool(pool))
    }

    /// Returns the table, schema-qualified if a schema was set.
    ///
    /// # Examples
    ///
    /// ```
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app").table("s").build()?;
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
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app").build()?;
    /// assert!(storage.migration_sql().contains("CREATE TABLE IF NOT EXISTS \"sessions\""));
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
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app").build()?;
    /// assert_eq!(storage.pool().options().get_max_connections(), 10);
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        self.shared.pool.get_or_init(|| {
            // A storage without a pool at build was built from a URL, so it has both.
            let (pool, connect) = self.shared.connect.clone().unwrap_or_default();
            pool.connect_lazy_with(connect)
        })
    }

    /// Creates the schema (if one was set), the table and its index, if missing. Safe to run
    /// from every instance at start-up: concurrent runs wait for each other.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails or does not answer.
    ///
    /// # Examples
    ///
    /// See [`PostgresStorage`].
    pub async fn migrate(&self) -> Result<()> {
        bounded(DATABASE, self.shared.timeout, async {
            let mut transaction = self.pool().begin().await?;
            sqlx::raw_sql(sql(&self.shared.sql.migration))
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await
        })
        .await
    }

    /// Deletes every row whose deadline passed before `now` (Unix seconds), and rows without a
    /// deadline left unwritten for [`undated_max_age`](PostgresStorageBuilder::undated_max_age),
    /// in batches of 1 000 through the `expires_at` index; rows other requests hold locked are
    /// left for the next sweep. Returns how many rows went.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails or does not answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session::expiry::{Clock as _, SystemClock};
    ///
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app").build()?;
    /// let removed = storage.sweep_expired(SystemClock.now()).await?;
    /// # let _ = removed;
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
    /// See [`PostgresStorage`].
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
        if !plan.moves() && !changes_owner(plan) {
            match plan.expect() {
                Expect::Loaded(_) | Expect::Existing if self.merge_in_place(plan).await? => {
                    return Ok(WriteOutcome::Written);
                }
                Expect::Vacant => return self.insert_new(plan).await,
                _ => {}
            }
        }
        // A write that may join a session to an owner holds that owner's lock, which
        // `end_owned` takes too, before it locks any row.
        let mut owner_lock = plan.expected_join().cloned();
        bounded(DATABASE, self.shared.timeout, async {
            for _ in 0..ATTEMPTS {
                match self.transaction(plan, owner_lock.as_ref()).await? {
                    Attempt::Done(outcome) => return Ok(Ok(outcome)),
                    Attempt::Again => {}
                    Attempt::Lock(owner) => owner_lock = Some(owner),
                }
            }
            Ok(Err(contended(DATABASE)))
        })
        .await?
    }

    /// The key of `owner`'s advisory lock: the table and the owner.
    fn owner_key(&self, owner: &Owner) -> String {
        format!("{}:{}", self.shared.table, owner.as_str())
    }

    /// The common save: this request's changes merged onto the live record under its id, in
    /// one statement. `false` when no live record is there (gone, forwarded, started over):
    /// the transaction then answers why.
    async fn merge_in_place(&self, plan: &WritePlan<'_>) -> Result<bool> {
        let removed: Vec<&str> = plan
            .changes()
            .filter_map(|(key, change)| change.is_none().then_some(key))
            .collect();
        let shape = Shape::of(plan, !removed.is_empty());
        let mut set = Vec::with_capacity(64);
        crate::json::write_members(
            &mut set,
            plan.changes()
                .filter_map(|(key, change)| Some((key, change?.as_str().as_bytes()))),
        );
        // Keys are escaped by serde_json and values are JSON text: all UTF-8.
        let set = String::from_utf8(set).unwrap_or_else(|_| "{}".to_owned());
        let mut query =
            sqlx::query(sql(&self.shared.sql.merges[shape.index()])).bind(plan.base().as_str());
        if shape.removes {
            query = query.bind(removed);
        }
        query = query.bind(set).bind(int(plan.now()));
        query = if let Some(lifetime) = plan.lifetime_change() {
            query
                .bind(lifetime_code(lifetime))
                .bind(plan.deadline_for(lifetime).map(int))
        } else {
            let absolute = plan
                .expiry
                .absolute_timeout()
                .map(|absolute| int(plan.timestamps().created.saturating_add(absolute.as_secs())));
            query
                .bind(plan.deadline_for(Lifetime::Policy).map(int))
                .bind(absolute)
        };
        query = query.bind(self.shared.versions.next());
        if shape.flash {
            query = query
                .bind(object(plan.consumed_flash()))
                .bind(object(plan.new_flash()));
        }
        let done = bounded(DATABASE, self.shared.timeout, query.execute(self.pool())).await?;
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
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let statement = match vacant_at {
            Some(_) => &self.shared.sql.insert_vacant,
            None => &self.shared.sql.upsert,
        };
        let query = sqlx::query(sql(statement))
            .bind(id.as_str())
            .bind(columns.data.as_str())
            .bind(columns.flash.as_str())
            .bind(columns.created)
            .bind(columns.renewed)
            .bind(columns.lifetime)
            .bind(columns.expires_at)
            .bind(self.shared.versions.next())
            .bind(columns.owner.as_deref())
            .bind(columns.label.as_deref());
        match vacant_at {
            Some(now) => query.bind(int(now)),
            None => query,
        }
    }

    /// Every other plan, in one transaction that locks the base row, after the lock of
    /// `owner_lock` when the write may join a session to that owner.
    async fn transaction(
        &self,
        plan: &WritePlan<'_>,
        owner_lock: Option<&Owner>,
    ) -> Result<Attempt, sqlx::Error> {
        let sql_of = &self.shared.sql;
        let mut transaction = self.pool().begin().await?;
        if let Some(owner) = owner_lock {
            sqlx::query(sql(&sql_of.owner_lock))
                .bind(self.owner_key(owner))
                .execute(&mut *transaction)
                .await?;
        }
        let base = sqlx::query(sql(&sql_of.lock))
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
                return Ok(Attempt::Done(outcome));
            }
        };
        if let Some(owner) = plan.index_change(before.as_ref(), record.owner()).joins {
            if owner_lock != Some(owner) {
                // Another request gave the session this owner since it was loaded.
                transaction.rollback().await?;
                return Ok(Attempt::Lock(owner.clone()));
            }
            let owned = self.owned_in(&mut transaction, owner, plan.now()).await?;
            match plan.admit(&owned) {
                Ok(ended) if ended.is_empty() => {}
                Ok(ended) => {
                    let ended: Vec<&str> = ended.iter().map(|id| id.as_str()).collect();
                    sqlx::query(sql(&sql_of.delete))
                        .bind(ended)
                        .execute(&mut *transaction)
                        .await?;
                }
                Err(outcome) => {
                    transaction.rollback().await?;
                    return Ok(Attempt::Done(outcome));
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
                return Ok(Attempt::Done(WriteOutcome::Taken));
            }
            let (kind, to, until) = match plan.retire() {
                Retire::Forward { until } => (FORWARD, Some(plan.target().as_str()), until),
                Retire::Supersede { until } => (SUPERSEDED, None, until),
                Retire::Delete => {
                    sqlx::query(sql(&sql_of.delete))
                        .bind(vec![plan.base().as_str()])
                        .execute(&mut *transaction)
                        .await?;
                    return transaction.commit().await.map(|()| Attempt::written());
                }
                Retire::Keep => {
                    return transaction.commit().await.map(|()| Attempt::written());
                }
            };
            sqlx::query(sql(&sql_of.retire))
                .bind(plan.base().as_str())
                .bind(i16::try_from(kind).unwrap_or_default())
                .bind(to)
                .bind(int(plan.now()))
                .bind(int(until))
                .bind(self.shared.versions.next())
                .execute(&mut *transaction)
                .await?;
        } else if existed {
            self.put(plan.base(), &columns, None)
                .execute(&mut *transaction)
                .await?;
        } else {
            let inserted = self
                .put(plan.base(), &columns, Some(plan.now()))
                .execute(&mut *transaction)
                .await?;
            if inserted.rows_affected() == 0 {
                transaction.rollback().await?;
                return Ok(Attempt::Again);
            }
        }
        transaction.commit().await?;
        Ok(Attempt::written())
    }

    /// `owner`'s live sessions, read inside `transaction`.
    async fn owned_in(
        &self,
        transaction: &mut sqlx::PgConnection,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<OwnedRecord>, sqlx::Error> {
        let rows = sqlx::query_as(sql(&self.shared.sql.owned))
            .bind(owner.as_str())
            .bind(int(now))
            .fetch_all(transaction)
            .await?;
        Ok(rows.into_iter().filter_map(listed).collect())
    }
}

/// How one attempt of the general write ended.
enum Attempt {
    Done(WriteOutcome),
    /// A row this write found missing was created meanwhile: start again.
    Again,
    /// The write joins the session to an owner whose lock it does not hold: start again
    /// holding it.
    Lock(Owner),
}

impl Attempt {
    fn written() -> Self {
        Self::Done(WriteOutcome::Written)
    }
}

impl SessionStore for PostgresStorage {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.read(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        self.execute(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        bounded(DATABASE, self.shared.timeout, async {
            sqlx::query(sql(&self.shared.sql.delete))
                .bind(ids)
                .execute(self.pool())
                .await
                .map(drop)
        })
        .await
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        bounded(DATABASE, self.shared.timeout, async {
            let mut connection = self.pool().acquire().await?;
            self.owned_in(&mut connection, owner, now).await
        })
        .await
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let sql_of = &self.shared.sql;
        let (statement, ids) = ending(which, &sql_of.end_except, &sql_of.end_only);
        bounded(DATABASE, self.shared.timeout, async {
            let mut transaction = self.pool().begin().await?;
            // Held until the end: no login of this owner writes meanwhile.
            sqlx::query(sql(&self.shared.sql.owner_lock))
                .bind(self.owner_key(owner))
                .execute(&mut *transaction)
                .await?;
            let done = sqlx::query(sql(statement))
                .bind(owner.as_str())
                .bind(int(now))
                .bind(ids)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
        })
        .await
    }
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("table", &self.shared.table)
            .field("timeout", &self.shared.timeout)
            .field("connected", &self.shared.pool.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Where a [`PostgresStorageBuilder`] gets its pool.
enum Source {
    Url(String),
    Pool(PgPool),
}

/// Configures a [`PostgresStorage`]; made by [`PostgresStorage::builder`] or
/// [`PostgresStorage::from_pool`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let storage = session::PostgresStorage::builder("postgres://localhost/app")
///     .schema("auth")
///     .table("web_sessions")
///     .timeout(Duration::from_secs(2))
///     .max_connections(20)
///     .build()?;
/// assert_eq!(storage.table(), "auth.web_sessions");
/// # Ok::<(), session::Error>(())
/// ```
#[must_use]
pub struct PostgresStorageBuilder {
    source: Source,
    schema: Option<String>,
    table: String,
    timeout: Option<Duration>,
    max_connections: Option<u32>,
    undated_max_age: Option<Duration>,
}

/// Hides the URL, which may hold a password.
impl fmt::Debug for PostgresStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorageBuilder")
            .field("url", &"<hidden>")
            .field("schema", &self.schema)
            .field("table", &self.table)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresStorageBuilder {
    fn new(source: Source) -> Self {
        Self {
            source,
            schema: None,
            table: PostgresStorage::DEFAULT_TABLE.to_owned(),
            timeout: None,
            max_connections: None,
            undated_max_age: Some(crate::FileStorage::DEFAULT_UNDATED_MAX_AGE),
        }
    }

    /// Puts the table in this schema (created by [`migrate`](PostgresStorage::migrate) if
    /// missing); without one, the connection's `search_path` decides.
    ///
    /// # Examples
    ///
    /// See [`PostgresStorageBuilder`].
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the table's name ([`DEFAULT_TABLE`](PostgresStorage::DEFAULT_TABLE) unless set).
    ///
    /// # Examples
    ///
    /// See [`PostgresStorageBuilder`].
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Bounds every call, the pool's wait for a connection included: a database that is down
    /// or stalled gives an error instead of a hang. Unless set: 5 s for a URL, the pool's
    /// acquire timeout for the app's pool.
    ///
    /// # Examples
    ///
    /// See [`PostgresStorageBuilder`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most connections the pool made from a URL opens (sqlx's default, 10, unless set);
    /// ignored for the app's pool.
    ///
    /// # Examples
    ///
    /// See [`PostgresStorageBuilder`].
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
    /// let storage = session::PostgresStorage::builder("postgres://localhost/app")
    ///     .undated_max_age(None)
    ///     .build()?;
    /// # let _ = storage;
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn undated_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.undated_max_age = max_age;
        self
    }

    /// Checks the names and the URL and builds the storage; nothing is connected yet.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIdentifier`] for a schema or table that is not a plain
    /// identifier; [`ConfigError::InvalidUrl`] for a URL sqlx cannot read (the error never
    /// repeats the URL, which may hold a password).
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{ConfigError, Error, PostgresStorage};
    ///
    /// let err = PostgresStorage::builder("postgres://localhost/app")
    ///     .table("sessions; DROP TABLE users")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Config(ConfigError::InvalidIdentifier { .. })));
    /// let err = PostgresStorage::builder("postgres://:hunter2@[::1").build().unwrap_err();
    /// assert!(!format!("{err:?}").contains("hunter2"));
    /// ```
    pub fn build(self) -> Result<PostgresStorage> {
        let table = quoted("table", &self.table)?;
        let schema = self
            .schema
            .as_deref()
            .map(|schema| quoted("schema", schema))
            .transpose()?;
        let (pool, connect, timeout) = match self.source {
            Source::Pool(pool) => {
                let timeout = self
                    .timeout
                    .unwrap_or_else(|| pool.options().get_acquire_timeout());
                (OnceLock::from(pool), None, timeout)
            }
            Source::Url(url) => {
                let options = PgConnectOptions::from_str(&url).map_err(|error| {
                    let reason = error.to_string().replace(url.as_str(), "<url>");
                    ConfigError::InvalidUrl { reason }
                })?;
                let timeout = self.timeout.unwrap_or(PostgresStorage::DEFAULT_TIMEOUT);
                let mut pool = PgPoolOptions::new().acquire_timeout(timeout);
                if let Some(connections) = self.max_connections {
                    pool = pool.max_connections(connections);
                }
                (OnceLock::new(), Some((pool, options)), timeout)
            }
        };
        let shown = match &self.schema {
            Some(schema) => format!("{schema}.{}", self.table),
            None => self.table.clone(),
        };
        Ok(PostgresStorage {
            shared: Arc::new(Shared {
                pool,
                connect,
                table: shown,
                sql: Statements::new(schema.as_deref(), &table),
                timeout,
                undated_max_age: self.undated_max_age,
                versions: Versions::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_merge_shape_numbers_its_parameters_in_binding_order() {
        // id, [removed], set, now, (lifetime, deadline | policy, absolute), version, [flash x2]
        for index in 0..Shape::COUNT {
            let shape = Shape::from_index(index);
            assert_eq!(shape.index(), index);
            let statement = merge_sql("\"t\"", shape);
            let count = 6 + usize::from(shape.removes) + 2 * usize::from(shape.flash);
            for n in 1..=count {
                assert!(statement.contains(&format!("${n}")), "{statement}");
            }
            assert!(
                !statement.contains(&format!("${}", count + 1)),
                "{statement}"
            );
        }
        let common = merge_sql("\"t\"", Shape::from_index(0));
        assert!(
            !common.contains("flash") && !common.contains("text[]"),
            "{common}"
        );
    }
}
