//! What only the SQL stores do: a row per session with queryable JSON and an expiry, names
//! checked and used, migrations that run twice and at once, merges onto what the database
//! holds, the sweep in batches, corrupt rows, JSONB's limits, typed errors and recovery when
//! PostgreSQL goes away, the pool runs dry or SQLite's write lock is held, and two processes of
//! four threads losing no update.

use std::process::Command;
use std::time::{Duration, Instant};

use session::expiry::{Clock as _, SystemClock};
use session::{ConfigError, Error, Expiry, PostgresStorage, SessionId, SqliteStorage};
use sqlx::{AssertSqlSafe, Row as _};

use crate::common::{Direct, TempDir, block_on, capture};
use crate::databases::{PostgresServer, Sql, SqlStore, postgres_url, unique_table};

const WRITER: &str = env!("CARGO_BIN_EXE_session-file-writer");

/// Ten minutes of idle timeout.
fn idle() -> Expiry {
    Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .build()
        .unwrap()
}

/// Runs `$body` for whichever database `$store` is on, with `$pool` its pool, `$table` its
/// quoted table and `$param` the database's first placeholder (sqlx's pool types differ, so
/// the body is stamped out for each).
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $table:ident, $param:ident| $body:expr) => {
        match &$store.store {
            Sql::Postgres(storage) => {
                let ($pool, $table, $param) =
                    (storage.pool(), format!("\"{}\"", storage.table()), "$1");
                $body
            }
            Sql::Sqlite(storage) => {
                let ($pool, $table, $param) =
                    (storage.pool(), format!("\"{}\"", storage.table()), "?1");
                $body
            }
        }
    };
}

/// Runs one SQL statement behind the store's back; `{t}` stands for its table.
async fn exec(store: &SqlStore, statement: &str) -> u64 {
    on_pool!(store, |pool, table, _param| {
        sqlx::query(AssertSqlSafe(statement.replace("{t}", &table)))
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    })
}

/// Reads the text of the first column of the first row behind the store's back (`{t}`: its
/// table; `?1`: `bound`).
async fn text(store: &SqlStore, statement: &str, bound: &str) -> Option<String> {
    on_pool!(store, |pool, table, param| {
        sqlx::query(AssertSqlSafe(
            statement.replace("{t}", &table).replace("?1", param),
        ))
        .bind(bound)
        .fetch_optional(pool)
        .await
        .unwrap()
        .and_then(|row| row.get::<Option<String>, _>(0))
    })
}

/// [`text`] with a session id bound.
async fn cell(store: &SqlStore, statement: &str, id: &SessionId) -> Option<String> {
    text(store, statement, id.as_str()).await
}

/// Every id in the store's table.
async fn ids(store: &SqlStore) -> Vec<String> {
    on_pool!(store, |pool, table, _param| {
        sqlx::query_scalar::<_, String>(AssertSqlSafe(format!("SELECT id FROM {table}")))
            .fetch_all(pool)
            .await
            .unwrap()
    })
}

/// Both stores, each on a fresh table.
fn both() -> [SqlStore; 2] {
    [SqlStore::postgres(), SqlStore::sqlite()]
}

/// The JSON function that reads a key of a JSON column, as SQL text.
fn json_field(store: &SqlStore, column: &str, key: &str) -> String {
    match store.store {
        Sql::Postgres(_) => format!("{column} ->> '{key}'"),
        Sql::Sqlite(_) => format!("CAST(json_extract({column}, '$.{key}') AS TEXT)"),
    }
}

#[tokio::test]
async fn a_session_is_one_row_with_queryable_json_and_an_indexed_expiry() {
    for store in both() {
        let direct = Direct::new(&store, idle(), 1_000);
        let mut session = direct.load(None).await.unwrap();
        session.set("user", "ada").unwrap();
        session.set("count", 3).unwrap();
        session.flash("notice", "hello").unwrap();
        let id = direct.save_id(&session).await.unwrap();
        let user = json_field(&store, "data", "user");
        let notice = json_field(&store, "flash", "notice");
        let query = |select: &str| format!("SELECT {select} FROM {{t}} WHERE id = ?1");
        assert_eq!(
            cell(&store, &query(&user), &id).await.as_deref(),
            Some("ada")
        );
        assert_eq!(
            cell(&store, &query(&notice), &id).await.as_deref(),
            Some("hello")
        );
        assert_eq!(
            cell(&store, &query("CAST(expires_at AS TEXT)"), &id)
                .await
                .as_deref(),
            Some("1600"),
            "renewed + the idle timeout"
        );
        assert_eq!(
            cell(
                &store,
                &query("CAST(kind AS TEXT) || ',' || CAST(created AS TEXT)"),
                &id
            )
            .await
            .as_deref(),
            Some("0,1000")
        );
        let index = match store.store {
            Sql::Postgres(_) => "SELECT indexname::text FROM pg_indexes WHERE indexname = ?1",
            Sql::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?1",
        };
        let table = match &store.store {
            Sql::Postgres(storage) => storage.table().to_owned(),
            Sql::Sqlite(storage) => storage.table().to_owned(),
        };
        let name = format!("{table}_expires_at");
        let found = text(&store, index, &name).await.is_some();
        assert!(found, "the index {name} exists");
    }
}

#[tokio::test]
async fn a_save_merges_onto_what_the_database_holds_not_what_the_request_read() {
    // A key written behind the store's back between a request's load and its save survives
    // the save, on both the one-statement path and the transaction.
    for store in both() {
        let direct = Direct::new(&store, idle(), 1_000);
        let id = direct.create().await;
        let session_of = async || direct.load(Some(id.as_str())).await.unwrap();
        let mut request = session_of().await;
        let outside = match store.store {
            Sql::Postgres(_) => {
                "UPDATE {t} SET data = data || '{\"outside\": [1, null, {\"a\": null}]}', version = version + 1"
            }
            Sql::Sqlite(_) => {
                "UPDATE {t} SET data = json_set(data, '$.outside', json('[1,null,{\"a\":null}]')), version = version + 1"
            }
        };
        assert_eq!(exec(&store, outside).await, 1);
        request
            .set("inside", serde_json::json!({"b": null, "c": [null]}))
            .unwrap();
        request.set("n", u64::MAX).unwrap();
        let _ = direct.save(&request).await.unwrap();
        let after = session_of().await;
        assert_eq!(
            after.get::<serde_json::Value>("outside").unwrap(),
            Some(serde_json::json!([1, null, {"a": null}])),
            "nested nulls survive: a JSON merge patch would have dropped them"
        );
        assert_eq!(
            after.get::<serde_json::Value>("inside").unwrap(),
            Some(serde_json::json!({"b": null, "c": [null]}))
        );
        assert_eq!(
            after.get::<u64>("n").unwrap(),
            Some(u64::MAX),
            "no float rounding"
        );
    }
}

#[tokio::test]
async fn expires_at_follows_the_lifetime_the_row_ends_with_on_every_write_path() {
    // Ten minutes idle by policy, a day absolute. "Remember me" for a month makes the row live
    // to the absolute cap; a request that loaded before it and saves after (the merge path:
    // PostgreSQL's statement, SQLite's transaction) keeps that, and the fast path too.
    const MONTH: Duration = Duration::from_hours(30 * 24);
    let policy = Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .absolute_timeout(Duration::from_hours(24))
        .build()
        .unwrap();
    for store in both() {
        let direct = Direct::new(&store, policy, 1_000);
        let id = direct.create().await;
        let expires = async || {
            cell(
                &store,
                "SELECT CAST(expires_at AS TEXT) FROM {t} WHERE id = ?1",
                &id,
            )
            .await
            .unwrap()
            .parse::<u64>()
            .unwrap()
        };
        assert_eq!(expires().await, 1_600);
        let mut stale = direct.load(Some(id.as_str())).await.unwrap();
        let mut login = direct.load(Some(id.as_str())).await.unwrap();
        login
            .set_lifetime(session::expiry::Lifetime::Persistent(MONTH))
            .unwrap();
        let _ = direct.save(&login).await.unwrap();
        assert_eq!(
            expires().await,
            1_000 + 86_400,
            "capped by the absolute timeout"
        );
        direct.clock.set(2_000);
        stale.set("cart", 1).unwrap();
        let _ = direct.save(&stale).await.unwrap();
        assert_eq!(expires().await, 1_000 + 86_400, "the merge keeps the month");
        // Back to the policy's lifetime: ten minutes from the write again.
        let mut logout = direct.load(Some(id.as_str())).await.unwrap();
        logout
            .set_lifetime(session::expiry::Lifetime::Policy)
            .unwrap();
        let _ = direct.save(&logout).await.unwrap();
        assert_eq!(expires().await, 2_600);
    }
}

#[test]
fn names_are_checked_and_the_schema_and_table_are_used() {
    for (schema, table) in [
        (Some("public; DROP TABLE users"), "sessions"),
        (None, "sessions\" --"),
        (None, ""),
        (None, "1sessions"),
    ] {
        let mut builder = PostgresStorage::builder("postgres://localhost/app").table(table);
        if let Some(schema) = schema {
            builder = builder.schema(schema);
        }
        let err = builder.build().unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::InvalidIdentifier { .. })),
            "{err:?}"
        );
    }
    let err = SqliteStorage::builder("sqlite::memory:")
        .table("x;y")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::InvalidIdentifier { .. })
    ));

    block_on(async {
        let schema = unique_table();
        let storage = PostgresStorage::builder(postgres_url())
            .schema(&schema)
            .table("web_sessions")
            .build()
            .unwrap();
        assert_eq!(storage.table(), format!("{schema}.web_sessions"));
        // Four instances starting at once, then a restart: all of them succeed.
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let storage = storage.clone();
                tokio::spawn(async move { storage.migrate().await })
            })
            .collect();
        for run in runs {
            run.await.unwrap().unwrap();
        }
        storage.migrate().await.unwrap();
        let direct = Direct::new(&storage, idle(), 1_000);
        let id = direct.create().await;
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".\"web_sessions\" WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_one(storage.pool())
        .await
        .unwrap();
        assert_eq!(rows, 1);
    });
}

#[tokio::test]
async fn malformed_ids_never_reach_the_database() {
    // H4: an id with a quote, a control character or a space is replaced before any SQL runs.
    for store in both() {
        let direct = Direct::new(&store, idle(), 1_000).adopting();
        for id in [
            "a b c d e f g h i j k l m n",
            "line\r\nbreak-and-more-chars",
            "x'); DROP TABLE sessions; --",
            "../x",
        ] {
            let mut session = direct.load(Some(id)).await.unwrap();
            assert_ne!(session.id().as_str(), id);
            session.set("n", 1).unwrap();
            let _ = direct.save(&session).await.unwrap();
        }
        let count = cell(
            &store,
            "SELECT CAST(count(*) AS TEXT) FROM {t} WHERE id <> ?1",
            &SessionId::generate(),
        )
        .await;
        assert_eq!(count.as_deref(), Some("4"));
        let ids = ids(&store).await;
        assert!(
            ids.iter().all(|id| id.parse::<SessionId>().is_ok()),
            "{ids:?}"
        );
    }
}

#[tokio::test]
async fn sqlite_migrations_run_twice_and_at_once() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("s.db").display());
    four_storages_migrate_at_once(&url).await;
    let storage = SqliteStorage::builder(&url).build().unwrap();
    storage.migrate().await.unwrap();
    assert!(
        dir.0.join("s.db-wal").exists(),
        "a database made from a URL runs in WAL mode"
    );
}

/// Apps starting together on a file none of them made yet: SQLite refuses some of the lock
/// waits of the switch to WAL at once, without its busy handler; `migrate` waits them out
/// (before it did, this test failed every run with "database is locked", and the two-process
/// test below now and then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storages_migrating_a_new_file_at_once_all_succeed() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    for round in 0..40 {
        let url = format!(
            "sqlite://{}",
            dir.0.join(format!("new-{round}.db")).display()
        );
        four_storages_migrate_at_once(&url).await;
    }
}

/// Four storages on `url` migrate at once; each must succeed.
async fn four_storages_migrate_at_once(url: &str) {
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let storage = SqliteStorage::builder(url).build().unwrap();
            tokio::spawn(async move { storage.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_sweep_deletes_dead_rows_in_batches_and_keeps_live_ones() {
    for store in both() {
        let direct = Direct::new(&store, idle(), 1_000);
        let live = direct.create().await;
        let forever = Direct::new(&store, Expiry::none(), 1_000).create().await;
        let mut login = direct.load(Some(live.as_str())).await.unwrap();
        login.regenerate_id(session::OldId::Keep).unwrap();
        let moved = direct.save_id(&login).await.unwrap();
        let mut forwarding = direct.load(Some(moved.as_str())).await.unwrap();
        forwarding.regenerate_id(session::OldId::Delete).unwrap();
        let last = direct.save_id(&forwarding).await.unwrap();
        // 2 500 dead rows, more than two batches.
        let dead = match store.store {
            Sql::Postgres(_) => {
                "INSERT INTO {t} (id, kind, data, flash, created, renewed, expires_at, version) \
                 SELECT 'dead-' || n, 0, '{}', '{}', 0, 0, 10, 1 FROM generate_series(1, 2500) AS n"
            }
            Sql::Sqlite(_) => {
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
                 INSERT INTO {t} (id, kind, data, flash, created, renewed, expires_at, version) \
                 SELECT 'dead-' || i, 0, '{}', '{}', 0, 0, 10, 1 FROM n"
            }
        };
        assert_eq!(exec(&store, dead).await, 2_500);
        assert_eq!(store.sweep_expired(1_000).await.unwrap(), 2_500);
        let exists = async |id: &SessionId| {
            cell(&store, "SELECT id FROM {t} WHERE id = ?1", id)
                .await
                .is_some()
        };
        // The forward the second login left goes when its grace window (30 s) passed.
        assert!(exists(&moved).await);
        assert_eq!(store.sweep_expired(1_030).await.unwrap(), 0);
        assert_eq!(store.sweep_expired(1_031).await.unwrap(), 1);
        assert!(!exists(&moved).await);
        // At 1 601 the two sessions of 1 000 (idle 600 s) are dead; the one without a
        // deadline is not.
        assert_eq!(store.sweep_expired(1_601).await.unwrap(), 2);
        assert!(!exists(&live).await && !exists(&last).await);
        assert!(exists(&forever).await);
        // Rows without a deadline go after 400 days unwritten.
        let days = 400 * 86_400;
        assert_eq!(store.sweep_expired(1_000 + days).await.unwrap(), 0);
        assert_eq!(store.sweep_expired(1_001 + days).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_every_sweeps_in_the_background() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let storage = SqliteStorage::builder(format!("sqlite://{}", dir.0.join("s.db").display()))
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let an_hour_ago = SystemClock.now() - 3_600;
    let id = Direct::new(&storage, idle(), an_hour_ago).create().await;
    let sweeper = tokio::spawn(storage.clone().sweep_every(Duration::from_secs(1)));
    let count = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE id = ?1")
            .bind(id.as_str())
            .fetch_one(storage.pool())
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count().await > 0 {
        assert!(Instant::now() < deadline, "the sweeper never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sweeper.abort();
}

#[test]
fn corrupt_rows_give_a_fresh_session_and_a_warning() {
    for make in [SqlStore::postgres, SqlStore::sqlite] {
        let store = make();
        let ((), events) = capture(|| {
            block_on(async {
                let direct = Direct::new(&store, idle(), 1_000);
                let is_postgres = matches!(store.store, Sql::Postgres(_));
                let damage = [
                    if is_postgres {
                        "UPDATE {t} SET data = '[1, 2]'"
                    } else {
                        "UPDATE {t} SET data = '{not json'"
                    },
                    "UPDATE {t} SET created = -5",
                    "UPDATE {t} SET lifetime = -1",
                    "UPDATE {t} SET kind = 1, moved_to = 'not an id'",
                ];
                for statement in damage {
                    let id = direct.create().await;
                    assert_eq!(exec(&store, statement).await, 1, "{statement}");
                    let session = direct.load(Some(id.as_str())).await.unwrap();
                    assert!(session.is_empty(), "{statement}");
                    assert_ne!(session.id(), &id, "{statement}");
                    exec(&store, "DELETE FROM {t}").await;
                }
            });
        });
        assert!(
            events
                .iter()
                .filter(|e| e.fields.contains("corrupt"))
                .count()
                >= 3,
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn postgres_jsonb_refuses_nul_characters_with_a_typed_error_and_sqlite_keeps_them() {
    for store in both() {
        let direct = Direct::new(&store, idle(), 1_000);
        let id = direct.create().await;
        let mut session = direct.load(Some(id.as_str())).await.unwrap();
        session.set("text", "a\u{0}b").unwrap();
        let saved = direct.save(&session).await;
        let after = direct.load(Some(id.as_str())).await.unwrap();
        match store.store {
            Sql::Postgres(_) => {
                assert!(matches!(saved, Err(Error::Storage(_))), "{saved:?}");
                assert_eq!(
                    after.get::<u32>("n").unwrap(),
                    Some(1),
                    "the stored session stays"
                );
                assert!(!after.contains_key("text"));
            }
            Sql::Sqlite(_) => {
                let _ = saved.unwrap();
                assert_eq!(
                    after.get::<String>("text").unwrap().as_deref(),
                    Some("a\u{0}b")
                );
            }
        }
        // The store goes on working.
        let mut next = direct.load(Some(id.as_str())).await.unwrap();
        next.set("m", 2).unwrap();
        let _ = direct.save(&next).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_typed_errors_quickly_and_recovery_when_it_returns() {
    let server = PostgresServer::start();
    let storage = PostgresStorage::builder(server.url())
        .timeout(Duration::from_millis(1_500))
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let direct = Direct::new(&storage, idle(), 1_000);
    let id = direct.create().await;

    server.stop();
    let started = Instant::now();
    let err = direct.load(Some(id.as_str())).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause travels with it"
    );
    let mut session = direct.load(None).await.unwrap();
    session.set("n", 7).unwrap();
    assert!(matches!(
        direct.save(&session).await,
        Err(Error::Storage(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        started.elapsed()
    );

    server.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match direct.load(Some(id.as_str())).await {
            Ok(back) => {
                assert_eq!(
                    back.get::<u32>("n").unwrap(),
                    Some(1),
                    "the acknowledged save"
                );
                break;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("PostgreSQL came back but the storage did not recover: {error:?}"),
        }
    }
    let id = direct.save_id(&session).await.expect("saves again");
    let back = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(back.get::<u32>("n").unwrap(), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_with_no_free_connection_gives_a_typed_error_within_its_timeout() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&postgres_url())
        .await
        .unwrap();
    let storage = PostgresStorage::from_pool(pool.clone())
        .table(unique_table())
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let direct = Direct::new(&storage, idle(), 1_000);
    let id = direct.create().await;
    let held = pool.acquire().await.unwrap();
    let started = Instant::now();
    let err = direct.load(Some(id.as_str())).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    let back = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(back.get::<u32>("n").unwrap(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_sqlite_write_lock_times_out_with_a_typed_error_and_the_session_stays() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("s.db").display());
    let storage = SqliteStorage::builder(&url)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    storage.migrate().await.unwrap();
    let direct = Direct::new(&storage, idle(), 1_000);
    let id = direct.create().await;
    let other = sqlx::sqlite::SqlitePool::connect(&url).await.unwrap();
    let mut lock = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE sessions SET renewed = renewed")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut session = direct.load(Some(id.as_str())).await.unwrap();
    session.set("n", 2).unwrap();
    let started = Instant::now();
    let saved = direct.save(&session).await;
    assert!(matches!(saved, Err(Error::Storage(_))), "{saved:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    lock.rollback().await.unwrap();
    let back = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(
        back.get::<u32>("n").unwrap(),
        Some(1),
        "the last good record"
    );
    let _ = direct.save(&session).await.unwrap();
    let back = direct.load(Some(id.as_str())).await.unwrap();
    assert_eq!(back.get::<u32>("n").unwrap(), Some(2));
}

/// Two processes of four threads, each thread incrementing its own key 300 times on one
/// session through `url`: every increment lands.
fn two_processes_of_four_threads(url: &str, table: &str) {
    let id = "shared-session-id-for-two-processes";
    let spawn = |name: &str| {
        Command::new(WRITER)
            .args(["sql-hammer", url, table, id, name, "4", "300"])
            .spawn()
            .unwrap()
    };
    let mut first = spawn("p0");
    let mut second = spawn("p1");
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    block_on(async {
        let store: std::sync::Arc<dyn session::store::DynSessionStore> =
            if url.starts_with("sqlite:") {
                std::sync::Arc::new(SqliteStorage::builder(url).table(table).build().unwrap())
            } else {
                std::sync::Arc::new(PostgresStorage::builder(url).table(table).build().unwrap())
            };
        let direct = Direct::new(store, Expiry::none(), 1_000).adopting();
        let session = direct.load(Some(id)).await.unwrap();
        for process in ["p0", "p1"] {
            for thread in 0..4 {
                let key = format!("{process}-{thread}");
                assert_eq!(session.get::<u32>(&key).unwrap(), Some(300), "{key}");
            }
        }
    });
}

#[test]
fn two_postgres_processes_of_four_threads_lose_no_update() {
    two_processes_of_four_threads(&postgres_url(), &unique_table());
}

#[test]
fn two_sqlite_processes_of_four_threads_lose_no_update() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("shared.db").display());
    two_processes_of_four_threads(&url, "sessions");
}
