//! What only memory storage promises: Remix's memory-storage tests on unknown ids, strict
//! mode (checklist E), bounded and isolated memory (H), fault propagation (H5) and no lost
//! updates under concurrency (I).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use session::store::{Stored, WriteOutcome, WritePlan};
use session::{
    Commit, Error, Expiry, MemoryStorage, Session, SessionCookie, SessionId, SessionManager,
    SessionStore,
};

use crate::common::{Browser, Direct, cookie, manager};

/// A strict manager over `storage`, without expiry, at 1 000.
fn direct<S: SessionStore>(storage: S) -> Direct<S> {
    Direct::new(storage, Expiry::none(), 1_000)
}

/// The `Cookie` header a client sends to present `id`, validly signed.
fn signed_id_header(id: &str) -> String {
    let set = cookie().to_set_cookie(id, None).unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn malformed_ids_are_never_adopted_or_looked_up() {
    // B5, H4, G1-shaped: even with `adopt_unknown_ids`.
    let storage = direct(MemoryStorage::new()).adopting();
    let long = "a".repeat(1240);
    for id in [
        "",
        "short",
        "../../etc/passwd",
        "a b c d e f g h i j k l",
        "with\0nul-and-more-chars-x",
        "with\r\nnewline-and-more-chars",
        "ｆｕｌｌ－ｗｉｄｔｈ／ｓｏｌｉｄｕｓ",
        &long,
    ] {
        let session = storage.load(Some(id)).await.unwrap();
        assert_ne!(session.id().as_str(), id);
        assert_eq!(session.id().as_str().len(), 32);
    }
}

#[tokio::test]
async fn strict_mode_issues_a_new_id_for_a_validly_signed_unknown_one() {
    // E2 through the whole stack: the client presents a well-formed, correctly signed id.
    let sessions = manager(MemoryStorage::new());
    let planted = "attacker-chosen-session-id-000001";
    let mut browser = Browser::with(Some(signed_id_header(planted)));
    let (id, _) = browser
        .request(&sessions, |s| {
            s.set("user", "victim").unwrap();
            s.id().clone()
        })
        .await;
    assert_ne!(id.as_str(), planted);
    assert_eq!(sessions.storage().len(), 1);
}

/// Counts the loads that reach the store with a value.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStorage,
    lookups: AtomicUsize,
    saves: AtomicUsize,
}

impl SessionStore for Counting {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        let outcome = self.inner.write(plan).await?;
        if outcome == WriteOutcome::Written {
            self.saves.fetch_add(1, Ordering::SeqCst);
        }
        Ok(outcome)
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.inner.delete(ids).await
    }
}

#[tokio::test]
async fn a_badly_signed_id_never_reaches_the_store() {
    // E3
    let sessions = manager(Counting::default());
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let lookups = sessions.storage().lookups.load(Ordering::SeqCst);
    let jar = browser.jar.clone().unwrap();
    let (pair, _) = jar.rsplit_once('.').unwrap();
    let mut forged = Browser::with(Some(format!(
        "{pair}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )));
    let _ = forged.request(&sessions, |_| ()).await;
    assert_eq!(sessions.storage().lookups.load(Ordering::SeqCst), lookups);
}

#[tokio::test]
async fn unchanged_sessions_cause_no_store_write() {
    // H2: count the writes.
    let sessions = manager(Counting::default());
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    for _ in 0..5 {
        let _ = browser
            .request(&sessions, |s| s.get::<u64>("count").unwrap())
            .await;
        let _ = browser.request(&sessions, |_| ()).await;
    }
    assert_eq!(sessions.storage().saves.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_ids_and_anonymous_logouts_leave_the_store_empty() {
    // H1 (Django CVE-2015-5143, CVE-2015-5963): 10^5 of each.
    let sessions = manager(MemoryStorage::new());
    for i in 0..100_000_u32 {
        let header = signed_id_header(&format!("unknown-session-id-number-{i:08}"));
        let session = sessions.load(Some(&header)).await.unwrap();
        assert_eq!(sessions.commit(&session).await.unwrap(), Commit::Unchanged);
        let mut anonymous = sessions.load(None).await.unwrap();
        anonymous.destroy();
        assert_eq!(
            sessions.commit(&anonymous).await.unwrap(),
            Commit::Unchanged
        );
    }
    assert!(sessions.storage().is_empty());
}

#[tokio::test]
async fn changing_a_loaded_session_without_saving_leaves_the_store_alone() {
    // H3: the store keeps serialized copies.
    let sessions = manager(MemoryStorage::new());
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.set("cart", vec![1, 2]).unwrap())
        .await;
    let mut session = sessions.load(browser.jar.as_deref()).await.unwrap();
    let mut cart: Vec<u32> = session.get("cart").unwrap().unwrap();
    cart.push(3);
    session.set("cart", &cart).unwrap();
    drop(session);
    let (cart, _) = browser
        .request(&sessions, |s| s.get::<Vec<u32>>("cart").unwrap().unwrap())
        .await;
    assert_eq!(cart, [1, 2]);
}

#[tokio::test]
async fn expired_records_are_swept() {
    // H3, D6: only expired records go.
    let expiry = Expiry::builder()
        .idle_timeout(std::time::Duration::from_mins(1))
        .build()
        .unwrap();
    let direct = Direct::new(MemoryStorage::new(), expiry, 1_000);
    for _ in 0..10 {
        direct.create().await;
    }
    direct.clock.set(1_050);
    let live = direct.create().await;
    let storage = direct.sessions.storage();
    assert_eq!(storage.sweep_expired(1_060), 0, "age 60 is still live");
    assert_eq!(storage.sweep_expired(1_061), 10);
    assert_eq!(storage.len(), 1);
    direct.clock.set(1_061);
    let session = direct.load(Some(live.as_str())).await.unwrap();
    assert_eq!(session.id(), &live);
}

#[tokio::test]
async fn memory_stays_flat_across_a_churn_of_sessions() {
    // H3: 10^6 create/expire cycles with a capacity and a short idle timeout.
    let expiry = Expiry::builder()
        .idle_timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let direct = Direct::new(
        MemoryStorage::builder().capacity(1_600).build(),
        expiry,
        1_000,
    );
    let mut peak = 0;
    for i in 0..1_000_000_u64 {
        direct.clock.set(1_000 + i / 1_000);
        direct.create().await;
        if i % 10_000 == 0 {
            peak = peak.max(direct.sessions.storage().len());
        }
    }
    assert!(peak <= 1_600, "peak {peak}");
    assert!(direct.sessions.storage().len() <= 1_600);
}

#[tokio::test]
async fn a_full_store_evicts_the_least_recently_written() {
    let storage = direct(MemoryStorage::builder().capacity(16).build());
    let first = storage.create().await;
    for _ in 0..200 {
        storage.create().await;
    }
    assert!(storage.sessions.storage().len() <= 16);
    let session = storage.load(Some(first.as_str())).await.unwrap();
    assert_ne!(session.id(), &first, "the oldest record was evicted");
}

/// A storage whose backend is down.
#[derive(Debug)]
struct Broken;

impl SessionStore for Broken {
    async fn load(&self, _: &SessionId) -> session::Result<Option<Stored>> {
        Err(Error::storage(std::io::Error::other("connection refused")))
    }

    async fn write(&self, _: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        Err(Error::storage(std::io::Error::other("disk full")))
    }

    async fn delete(&self, _: &[&SessionId]) -> session::Result<()> {
        Err(Error::storage(std::io::Error::other("disk full")))
    }
}

#[tokio::test]
async fn a_failing_store_is_a_typed_error_not_a_fresh_session() {
    // H5
    let sessions = manager(Broken);
    let mut session = sessions.load(None).await.unwrap();
    session.set("a", 1).unwrap();
    let err = sessions.commit(&session).await.unwrap_err();
    assert!(matches!(err, Error::Storage(ref source) if source.to_string() == "disk full"));
    let header = signed_id_header("some-well-formed-session-id-0001");
    let err = sessions.load(Some(&header)).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)));
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn a_late_save_does_not_resurrect_a_destroyed_session() {
    // I1 (rack CVE-2025-46336): B loads, A logs out, B commits.
    let sessions = manager(MemoryStorage::new());
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut slow = sessions.load(browser.jar.as_deref()).await.unwrap();
    let _ = browser.request(&sessions, Session::destroy).await;
    slow.set("late", true).unwrap();
    let commit = sessions.commit(&slow).await.unwrap();
    assert!(matches!(commit, Commit::Interrupted(ref set) if set.contains("Max-Age=0")));
    assert!(sessions.storage().is_empty());
    // The same holds for a late regeneration.
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    let mut slow = sessions.load(browser.jar.as_deref()).await.unwrap();
    let _ = browser.request(&sessions, Session::destroy).await;
    slow.regenerate_id(session::OldId::Delete).unwrap();
    assert!(matches!(
        sessions.commit(&slow).await.unwrap(),
        Commit::Interrupted(_)
    ));
    assert!(sessions.storage().is_empty());
}

#[test]
fn threads_hammering_one_session_each_on_its_own_key_lose_nothing() {
    // I2 and the issue's "no lost updates": 8 threads x 250 increments of their own key,
    // and 64 threads rewriting one shared key see only complete records.
    let storage = Arc::new(direct(MemoryStorage::new()));
    let id = crate::common::block_on(storage.create());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let storage = Arc::clone(&storage);
            let id = id.clone();
            std::thread::spawn(move || {
                crate::common::block_on(async {
                    let key = format!("k{t}");
                    for _ in 0..250 {
                        let mut s = storage.load(Some(id.as_str())).await.unwrap();
                        let n = s.get::<u32>(&key).unwrap().unwrap_or(0);
                        s.set(&key, n + 1).unwrap();
                        s.set("shared", vec![t; 8]).unwrap();
                        assert!(matches!(storage.save(&s).await.unwrap(), Commit::Set(_)));
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let session = crate::common::block_on(storage.load(Some(id.as_str()))).unwrap();
    for t in 0..8 {
        assert_eq!(session.get::<u32>(&format!("k{t}")).unwrap(), Some(250));
    }
    let shared: Vec<u32> = session.get("shared").unwrap().unwrap();
    assert!(shared.iter().all(|&v| v == shared[0]), "a complete record");
}

#[test]
fn many_threads_creating_sessions_get_distinct_loadable_ids() {
    // I2: 64 threads x 1000 sessions.
    let storage = Arc::new(direct(MemoryStorage::new()));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let storage = Arc::clone(&storage);
            std::thread::spawn(move || {
                crate::common::block_on(async {
                    let mut ids = Vec::with_capacity(1000);
                    for _ in 0..1000 {
                        ids.push(storage.create().await);
                    }
                    ids
                })
            })
        })
        .collect();
    let ids: std::collections::HashSet<SessionId> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 64_000);
    assert_eq!(storage.sessions.storage().len(), 64_000);
}

#[tokio::test]
async fn clones_are_handles_on_the_same_sessions() {
    let storage = MemoryStorage::new();
    let first = direct(storage.clone());
    let id = first.create().await;
    assert_eq!(storage.len(), 1);
    let second = direct(storage.clone());
    let loaded = second.load(Some(id.as_str())).await.unwrap();
    assert_eq!(loaded.id(), &id);
    assert_eq!(loaded.get::<u32>("n").unwrap(), Some(1));
}

#[tokio::test]
async fn a_flood_of_new_sessions_does_not_evict_the_sessions_in_use() {
    // Review defect 6: at capacity each insert scanned the whole shard, and a flood of
    // anonymous sessions evicted the oldest first, active or not.
    let storage = MemoryStorage::builder().capacity(1_600).build();
    let direct = direct(storage.clone());
    let mut active = Vec::new();
    for _ in 0..50 {
        let id = direct.create().await;
        // Written again: a session someone came back to.
        let mut session = direct.load(Some(id.as_str())).await.unwrap();
        session.set("n", 2).unwrap();
        let _ = direct.save(&session).await.unwrap();
        active.push(id);
    }
    for _ in 0..20_000 {
        let _ = direct.create().await;
    }
    assert!(storage.len() <= 1_600, "{}", storage.len());
    for id in &active {
        let session = direct.load(Some(id.as_str())).await.unwrap();
        assert_eq!(
            session.id(),
            id,
            "an active session was evicted by the flood"
        );
        assert_eq!(session.get::<u32>("n").unwrap(), Some(2));
    }
}

#[test]
fn memory_storage_is_bounded_by_default() {
    assert_eq!(
        MemoryStorage::new().capacity(),
        Some(MemoryStorage::DEFAULT_CAPACITY)
    );
    assert_eq!(
        MemoryStorage::builder().unbounded().build().capacity(),
        None
    );
}

#[tokio::test]
async fn a_resent_id_cookie_is_exactly_a_fresh_signature_whatever_form_it_arrived_in() {
    // The manager copies a verified id cookie instead of signing the id again, when that is
    // the same thing. The MAC covers the value's exact text, so the one other form a valid
    // cookie can arrive in is a `=`-padded signature; it, and a cookie an old secret signed,
    // must still leave with the canonical signature of the current secret.
    let sessions = manager(MemoryStorage::new());
    let mut session = sessions.load(None).await.unwrap();
    session.set("n", 1).unwrap();
    let first = sessions
        .commit(&session)
        .await
        .unwrap()
        .into_header()
        .unwrap();
    let id = session.id().as_str().to_owned();
    let canonical = cookie().to_set_cookie(&id, None).unwrap();
    assert_eq!(first, canonical);
    let pair = first.split(';').next().unwrap().to_owned();
    let (name_and_value, tag) = pair.rsplit_once('.').unwrap();
    let padded = format!("{name_and_value}.{tag}=");
    for (form, header) in [("as sent", pair.clone()), ("padded signature", padded)] {
        let mut loaded = sessions.load(Some(&header)).await.unwrap();
        assert_eq!(loaded.id().as_str(), id, "{form}: {header}");
        loaded.set("n", 2).unwrap();
        let resent = sessions.commit(&loaded).await.unwrap().into_header();
        assert_eq!(resent.as_deref(), Some(canonical.as_str()), "{form}");
    }
    let rotated = SessionManager::new(
        SessionCookie::builder("sid")
            .secret([42u8; 32])
            .secret(crate::common::SECRET)
            .build()
            .unwrap(),
        sessions.storage().clone(),
    )
    .with_expiry(Expiry::none());
    let mut loaded = rotated.load(Some(&pair)).await.unwrap();
    assert_eq!(loaded.id().as_str(), id, "the old secret still verifies");
    loaded.set("n", 3).unwrap();
    let resigned = rotated
        .commit(&loaded)
        .await
        .unwrap()
        .into_header()
        .unwrap();
    assert_eq!(resigned, rotated.cookie().to_set_cookie(&id, None).unwrap());
    assert_ne!(resigned, canonical, "signed by the new secret");
}
