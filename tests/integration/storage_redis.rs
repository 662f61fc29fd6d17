//! What only Redis storage does: the key layout and prefix, a TTL kept in step with the
//! timeouts, corrupt hashes, strict ids, and typed errors and recovery when Redis goes away.

use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use session::{Error, Expiry, RedisStorage, SessionId};

use crate::common::{ById as _, SaveOutcome, Timing};

use crate::common::{RedisServer, capture, redis_url};

fn storage(prefix: &str) -> RedisStorage {
    RedisStorage::builder(redis_url())
        .prefix(prefix)
        .build()
        .unwrap()
}

fn unique_prefix() -> String {
    format!("test:{}:", SessionId::generate().as_str())
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn save(storage: &RedisStorage, timing: Timing) -> String {
    let mut session = storage.load(None, timing).await.unwrap();
    session.set("count", 1).unwrap();
    let SaveOutcome::Saved { value } = storage.save(&session, timing).await.unwrap() else {
        panic!("saved")
    };
    value
}

#[tokio::test]
async fn uses_the_key_prefix_and_a_hash_per_session() {
    // Remix's "uses keyPrefix for redis keys".
    let prefix = unique_prefix();
    let storage = storage(&prefix);
    let id = save(&storage, Timing::new(Expiry::none(), 1_000)).await;
    let mut redis = redis().await;
    let fields: Vec<(String, String)> = redis.hgetall(format!("{prefix}{id}")).await.unwrap();
    assert!(
        fields.contains(&("v:count".to_owned(), "1".to_owned())),
        "{fields:?}"
    );
    assert!(fields.iter().any(|(field, _)| field == "m"));
    assert_eq!(
        RedisStorage::builder(redis_url()).build().unwrap().prefix(),
        "session:"
    );
}

#[tokio::test]
async fn the_ttl_follows_the_idle_and_absolute_timeouts() {
    let prefix = unique_prefix();
    let storage = storage(&prefix);
    let mut redis = redis().await;
    let now = session::expiry::SystemClock;
    let now = session::expiry::Clock::now(&now);
    let idle = Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .build()
        .unwrap();
    let id = save(&storage, Timing::new(idle, now)).await;
    let ttl: i64 = redis.ttl(format!("{prefix}{id}")).await.unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    let both = Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .absolute_timeout(Duration::from_secs(100))
        .build()
        .unwrap();
    let id = save(&storage, Timing::new(both, now)).await;
    let ttl: i64 = redis.ttl(format!("{prefix}{id}")).await.unwrap();
    assert!((90..=100).contains(&ttl), "ttl {ttl}");
    let id = save(&storage, Timing::new(Expiry::none(), now)).await;
    let ttl: i64 = redis.ttl(format!("{prefix}{id}")).await.unwrap();
    assert_eq!(ttl, -1, "no expiry, no TTL");
}

#[test]
fn a_corrupt_hash_gives_a_fresh_session_and_a_warning() {
    // Remix rejects with a SyntaxError; here the request goes on with a fresh session.
    let prefix = unique_prefix();
    let (session, events) = capture(|| {
        crate::common::block_on(async {
            let storage = storage(&prefix);
            let timing = Timing::new(Expiry::none(), 1_000);
            let id = save(&storage, timing).await;
            let mut redis = redis().await;
            let _: () = redis
                .hset(format!("{prefix}{id}"), "v:count", "{not json")
                .await
                .unwrap();
            storage.load(Some(&id), timing).await.unwrap()
        })
    });
    assert!(session.is_empty());
    assert!(
        events.iter().any(|e| e.fields.contains("corrupt")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_hash_with_a_stray_field_or_no_timestamps_is_corrupt() {
    let prefix = unique_prefix();
    let storage = storage(&prefix);
    let timing = Timing::new(Expiry::none(), 1_000);
    let mut redis = redis().await;
    let stray = save(&storage, timing).await;
    let _: () = redis
        .hset(format!("{prefix}{stray}"), "x:count", "1")
        .await
        .unwrap();
    let untimed = save(&storage, timing).await;
    let _: () = redis.hdel(format!("{prefix}{untimed}"), "m").await.unwrap();
    for id in [stray, untimed] {
        let session = storage.load(Some(&id), timing).await.unwrap();
        assert!(session.is_empty());
        assert_ne!(session.id().as_str(), id);
    }
}

#[tokio::test]
async fn saves_reload_their_scripts_after_a_script_flush() {
    // A restarted or flushed Redis has forgotten the scripts: the first save loads them again.
    let prefix = unique_prefix();
    let storage = storage(&prefix);
    let timing = Timing::new(Expiry::default(), 1_000);
    let id = save(&storage, timing).await;
    let mut redis = redis().await;
    for regenerate in [false, true] {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut redis)
            .await
            .unwrap();
        let mut session = storage.load(Some(&id), timing).await.unwrap();
        session.set("regenerated", regenerate).unwrap();
        if regenerate {
            session.regenerate_id(session::OldId::Keep).unwrap();
        }
        let SaveOutcome::Saved { value } = storage.save(&session, timing).await.unwrap() else {
            panic!("saved")
        };
        let reloaded = storage.load(Some(&value), timing).await.unwrap();
        assert_eq!(
            reloaded.get::<bool>("regenerated").unwrap(),
            Some(regenerate)
        );
    }
}

#[tokio::test]
async fn malformed_ids_never_reach_redis() {
    // H4: nothing with a control character or a space becomes a key.
    let prefix = unique_prefix();
    let storage = RedisStorage::builder(redis_url())
        .prefix(&prefix)
        .build()
        .unwrap();
    let timing = Timing::new(Expiry::none(), 1_000);
    for id in [
        "a b c d e f g h i j k l m n",
        "line\r\nbreak-and-more-chars",
        "*",
        "../x",
    ] {
        let mut session = storage.load_adopting(Some(id), timing).await.unwrap();
        assert_ne!(session.id().as_str(), id);
        session.set("n", 1).unwrap();
        storage.save(&session, timing).await.unwrap();
    }
    let mut redis = redis().await;
    let keys: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys.len(), 4);
    assert!(
        keys.iter()
            .all(|key| key[prefix.len()..].parse::<SessionId>().is_ok())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_gives_typed_errors_quickly_and_recovery_when_it_returns() {
    let mut server = RedisServer::start(None);
    let storage = RedisStorage::builder(server.url())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let timing = Timing::new(Expiry::none(), 1_000);
    let id = save(&storage, timing).await;
    assert_eq!(
        storage
            .load(Some(&id), timing)
            .await
            .unwrap()
            .get::<i32>("count")
            .unwrap(),
        Some(1)
    );

    server.kill();
    let started = Instant::now();
    let err = storage.load(Some(&id), timing).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause travels with it"
    );
    let mut session = storage.load(None, timing).await.unwrap();
    session.set("n", 1).unwrap();
    assert!(matches!(
        storage.save(&session, timing).await,
        Err(Error::Storage(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        started.elapsed()
    );

    let server = RedisServer::start(Some(server.port));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match storage.save(&session, timing).await {
            Ok(SaveOutcome::Saved { value }) => {
                let back = storage.load(Some(&value), timing).await.unwrap();
                assert_eq!(back.get::<i32>("n").unwrap(), Some(1));
                break;
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("Redis came back but the storage did not recover: {error}"),
        }
    }
    drop(server);
}

#[tokio::test]
async fn a_stalled_redis_times_out_and_late_replies_never_reach_another_request() {
    // A Redis that stops answering (here: SIGSTOP) gives errors within the timeout; when it
    // wakes, the replies to the abandoned commands must not be read as later commands' replies.
    let server = RedisServer::start(None);
    let storage = RedisStorage::builder(server.url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let timing = Timing::new(Expiry::none(), 1_000);
    let mut owners = Vec::new();
    for owner in ["a", "b", "c"] {
        let mut session = storage.load(None, timing).await.unwrap();
        session.set("owner", owner).unwrap();
        let SaveOutcome::Saved { value } = storage.save(&session, timing).await.unwrap() else {
            panic!("saved")
        };
        owners.push((value, owner));
    }

    server.signal("STOP");
    let started = Instant::now();
    for (id, _) in &owners {
        let err = storage.load(Some(id), timing).await.unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
    }
    let mut session = storage.load(None, timing).await.unwrap();
    session.set("owner", "stalled").unwrap();
    assert!(matches!(
        storage.save(&session, timing).await,
        Err(Error::Storage(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded: {:?}",
        started.elapsed()
    );
    server.signal("CONT");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut checked = 0;
    while checked < 60 {
        let (id, owner) = &owners[checked % owners.len()];
        match storage.load(Some(id), timing).await {
            Ok(session) => {
                assert_eq!(
                    session.get::<String>("owner").unwrap().as_deref(),
                    Some(*owner),
                    "a reply went to the wrong request"
                );
                checked += 1;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("Redis woke but the storage did not recover: {error}"),
        }
    }
    drop(server);
}

/// A connection to `url` for commands a test sends behind the storage's back.
async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_between_the_load_and_the_script_is_a_typed_error_or_a_whole_save() {
    // Faults: Redis drops the storage's connection after it loaded a session and before it
    // runs the save script. The save is a typed error (the record as it was) or, if the
    // reconnect came first, the whole save; never half of one. Then the storage recovers.
    let server = RedisServer::start(None);
    let storage = RedisStorage::builder(server.url())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let direct = crate::common::Direct::new(storage.clone(), Expiry::none(), 1_000);
    let id = direct.create().await;
    let mut session = direct.load(Some(id.as_str())).await.unwrap();
    session.set("n", 2).unwrap();
    session.set("more", "data").unwrap();
    let mut admin = admin(&server.url()).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed >= 1, "the storage's connection was dropped");
    let saved = direct.save(&session).await;
    let stored = async || direct.load(Some(id.as_str())).await;
    let mut after = None;
    for _ in 0..50 {
        if let Ok(session) = stored().await {
            after = Some(session);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = after.expect("the storage recovers once Redis answers again");
    match saved {
        Ok(_) => {
            assert_eq!(after.get::<u32>("n").unwrap(), Some(2));
            assert_eq!(
                after.get::<String>("more").unwrap().as_deref(),
                Some("data")
            );
        }
        Err(Error::Storage(_)) => {
            assert_eq!(
                after.get::<u32>("n").unwrap(),
                Some(1),
                "the last good record"
            );
            assert!(!after.contains_key("more"), "nothing of the failed save");
        }
        Err(other) => panic!("an untyped failure: {other:?}"),
    }
    let _ = direct.save(&session).await.expect("saves again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regeneration_that_timed_out_but_ran_leaves_the_session_whole_under_its_new_id() {
    // Faults: Redis is slow (writes paused) past the storage's timeout, so a login's save is
    // a typed error, but the script runs when Redis resumes. The session is then whole under
    // its new id and the old id forwards there, so the data is neither lost nor split; the
    // browser, which never got the new cookie, gets a fresh session, as after any login
    // whose response was lost.
    let server = RedisServer::start(None);
    let storage = RedisStorage::builder(server.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let direct = crate::common::Direct::new(storage.clone(), Expiry::none(), 1_000);
    let id = direct.create().await;
    let mut login = direct.load(Some(id.as_str())).await.unwrap();
    login.regenerate_id(session::OldId::Delete).unwrap();
    login.set("user", "ada").unwrap();
    let mut admin = admin(&server.url()).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(800)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = Instant::now();
    let err = direct.save(&login).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let forward: Option<String> = admin.get(format!("session:>{id}")).await.unwrap();
    assert_eq!(
        forward.as_deref(),
        Some(login.id().as_str()),
        "the script ran"
    );
    let moved = direct.load(Some(login.id().as_str())).await.unwrap();
    assert_eq!(moved.id(), login.id());
    assert_eq!(
        moved.get::<u32>("n").unwrap(),
        Some(1),
        "the data moved whole"
    );
    assert_eq!(moved.get::<String>("user").unwrap().as_deref(), Some("ada"));
    assert!(
        direct.load(Some(id.as_str())).await.unwrap().is_empty(),
        "the old id is retired"
    );
}

#[tokio::test]
async fn an_owner_s_set_of_ids_lives_as_long_as_its_longest_session() {
    let prefix = unique_prefix();
    let sessions = session::SessionManager::new(crate::common::cookie(), storage(&prefix));
    let mut login = sessions.load(None).await.unwrap();
    login.set_owner("ada").unwrap();
    let pair = sessions
        .commit(&login)
        .await
        .unwrap()
        .into_header()
        .unwrap();
    let pair = pair.split(';').next().unwrap().to_owned();
    let id = sessions.load(Some(&pair)).await.unwrap().id().clone();
    let (set, key) = (format!("{prefix}@ada"), format!("{prefix}{id}"));
    let mut redis = redis().await;
    let members: Vec<String> = redis.smembers(&set).await.unwrap();
    assert_eq!(members, [id.as_str().to_owned()]);
    let session_ttl: i64 = redis.ttl(&key).await.unwrap();
    let set_ttl: i64 = redis.ttl(&set).await.unwrap();
    assert!(
        set_ttl >= session_ttl - 1 && session_ttl > 0,
        "{set_ttl} {session_ttl}"
    );

    // Shortened behind the store's back, the set is brought back up by the next plain save
    // (the update script), and never shortened by one.
    let _: () = redis.expire(&set, 5).await.unwrap();
    let mut visit = sessions.load(Some(&pair)).await.unwrap();
    visit.set("count", 1).unwrap();
    let _ = sessions.commit(&visit).await.unwrap();
    let set_ttl: i64 = redis.ttl(&set).await.unwrap();
    assert!(set_ttl >= session_ttl - 2, "{set_ttl} {session_ttl}");
    let _: () = redis.expire(&set, 10 * session_ttl).await.unwrap();
    let mut visit = sessions.load(Some(&pair)).await.unwrap();
    visit.set("count", 2).unwrap();
    let _ = sessions.commit(&visit).await.unwrap();
    let set_ttl: i64 = redis.ttl(&set).await.unwrap();
    assert!(
        set_ttl > 9 * session_ttl,
        "a longer life is kept: {set_ttl}"
    );

    // Ending the owner's sessions removes them and their ids.
    assert_eq!(sessions.end_owner_sessions("ada").await.unwrap(), 1);
    let exists: bool = redis.exists(&key).await.unwrap();
    let members: Vec<String> = redis.smembers(&set).await.unwrap();
    assert!(!exists && members.is_empty());
}

/// A session saved and read back through `storage`.
async fn saves_and_loads(storage: RedisStorage) -> Option<u32> {
    let timing = Timing::new(Expiry::none(), 1_000);
    let id = save(&storage, timing).await;
    let session = storage.load(Some(&id), timing).await.unwrap();
    session.get::<u32>("count").unwrap()
}

#[tokio::test]
async fn the_app_s_own_connection_manager_and_multiplexed_connection_are_shared() {
    let client = redis::Client::open(redis_url()).unwrap();
    let manager = client.get_connection_manager().await.unwrap();
    let storage = RedisStorage::builder_for(manager)
        .prefix(unique_prefix())
        .build()
        .unwrap();
    assert!(
        format!("{storage:?}").contains("connected: true"),
        "{storage:?}"
    );
    assert_eq!(saves_and_loads(storage).await, Some(1));
    let multiplexed = client.get_multiplexed_async_connection().await.unwrap();
    let storage = RedisStorage::builder_for(multiplexed)
        .prefix(unique_prefix())
        .build()
        .unwrap();
    assert_eq!(saves_and_loads(storage).await, Some(1));
    let storage = RedisStorage::builder_for(client)
        .prefix(unique_prefix())
        .build()
        .unwrap();
    assert!(
        format!("{storage:?}").contains("connected: false"),
        "connects on first use"
    );
    assert_eq!(saves_and_loads(storage).await, Some(1));
}

#[tokio::test]
async fn the_timeout_bounds_the_app_s_own_connection_too() {
    let mut server = RedisServer::start(None);
    let client = redis::Client::open(server.url()).unwrap();
    // The app's connection has no response timeout of its own.
    let multiplexed = client.get_multiplexed_async_connection().await.unwrap();
    let storage = RedisStorage::builder_for(multiplexed)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    server.signal("STOP");
    let started = Instant::now();
    let err = storage
        .load(
            Some("00000000-0000-4000-8000-000000000000"),
            Timing::new(Expiry::none(), 1_000),
        )
        .await
        .unwrap_err();
    server.signal("CONT");
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded, not hung"
    );
    server.kill();
}

#[tokio::test]
async fn waiting_for_a_replica_that_is_not_there_is_a_storage_error() {
    // A single server has no replica: the save is applied, but never acknowledged as
    // replicated, so the commit says so instead of claiming durability.
    let storage = RedisStorage::builder(redis_url())
        .prefix(unique_prefix())
        .wait_for_replicas(1)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let timing = Timing::new(Expiry::none(), 1_000);
    let mut session = storage.load(None, timing).await.unwrap();
    session.set("count", 1).unwrap();
    let err = storage.save(&session, timing).await.unwrap_err();
    assert!(
        matches!(&err, Error::Storage(source) if source.to_string().contains("0 of 1 replicas")),
        "{err:?}"
    );
}
