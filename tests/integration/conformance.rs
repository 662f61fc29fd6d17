//! One set of behavioural tests run against every storage, so that each keeps the same
//! promises: Remix's shared storage tests (spec §6) and the checklist cases that apply to all.
//! The per-storage files keep only what is specific to one storage.

/// Stamps the shared tests into a module for one storage. `$server_side` says whether the
/// storage keeps data on the server (so an old cookie can be revoked).
macro_rules! storage_conformance {
    ($name:ident, $storage:expr, server_side = $server_side:expr) => {
        mod $name {
            use session::{Commit, SessionStorage};

            use crate::common::{Browser, manager};

            fn storage() -> impl SessionStorage {
                $storage
            }

            #[tokio::test]
            async fn persists_session_data_across_requests() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                assert_eq!(browser.count(&sessions).await, 1);
                assert_eq!(browser.count(&sessions).await, 2);
                assert_eq!(browser.count(&sessions).await, 3);
            }

            #[tokio::test]
            async fn clears_session_data_when_the_session_is_destroyed() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                browser.count(&sessions).await;
                let before = browser.jar.clone();
                let ((), commit) = browser.request(&sessions, |s| s.destroy()).await;
                let Commit::Cleared(set_cookie) = commit else {
                    panic!("destroy clears the cookie: {commit:?}")
                };
                assert!(set_cookie.contains("Max-Age=0"));
                assert!(set_cookie.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
                assert_eq!(browser.jar, None);
                assert_eq!(browser.count(&sessions).await, 1);
                assert_ne!(browser.jar, before);
            }

            #[tokio::test]
            async fn does_not_set_a_cookie_when_session_data_is_not_changed() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                let (dirty, commit) = browser.request(&sessions, |s| s.is_dirty()).await;
                assert!(!dirty);
                assert_eq!(commit, Commit::Unchanged);
                browser.count(&sessions).await;
                let (_, commit) = browser
                    .request(&sessions, |s| s.get::<u64>("count").unwrap())
                    .await;
                assert_eq!(commit, Commit::Unchanged, "H2: read-only requests write nothing");
            }

            #[tokio::test]
            async fn makes_flash_data_available_only_on_the_next_request() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                let read = |s: &mut session::Session| s.get::<String>("message").unwrap();
                assert_eq!(browser.request(&sessions, read).await.0, None);
                let (seen, _) = browser
                    .request(&sessions, |s| {
                        s.flash("message", "success!").unwrap();
                        s.get::<String>("message").unwrap()
                    })
                    .await;
                assert_eq!(seen, None, "not visible in the request that set it");
                let (seen, commit) = browser.request(&sessions, read).await;
                assert_eq!(seen.as_deref(), Some("success!"));
                assert!(matches!(commit, Commit::Set(_)), "consuming flash writes");
                let (seen, commit) = browser.request(&sessions, read).await;
                assert_eq!(seen, None);
                assert_eq!(commit, Commit::Unchanged);
            }

            #[tokio::test]
            async fn flash_is_cleared_even_when_not_read() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.request(&sessions, |s| s.flash("m", 1).unwrap()).await;
                browser.request(&sessions, |_| ()).await;
                let (seen, _) = browser.request(&sessions, |s| s.get::<i32>("m").unwrap()).await;
                assert_eq!(seen, None);
            }

            #[tokio::test]
            async fn regeneration_keeps_the_data_under_a_new_id() {
                // E4
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let old_jar = browser.jar.clone();
                browser.request(&sessions, |s| s.regenerate_id(false).unwrap()).await;
                assert_ne!(browser.jar, old_jar);
                assert_eq!(browser.count(&sessions).await, 2);
            }

            #[tokio::test]
            async fn leaves_old_session_data_by_default_when_the_id_is_regenerated() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut old = browser.clone();
                browser.request(&sessions, |s| s.regenerate_id(false).unwrap()).await;
                assert_eq!(old.count(&sessions).await, 2);
                assert_eq!(browser.count(&sessions).await, 2);
            }

            #[tokio::test]
            async fn regenerate_with_delete_revokes_the_old_cookie_where_the_server_holds_data() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut old = browser.clone();
                browser.request(&sessions, |s| {
                    s.regenerate_id(true).unwrap();
                    s.regenerate_id(true).unwrap();
                }).await;
                assert_eq!(browser.count(&sessions).await, 2, "data follows the new id");
                let expected = if $server_side { 1 } else { 2 };
                assert_eq!(old.count(&sessions).await, expected);
            }

            #[tokio::test]
            async fn logout_is_final_where_the_server_holds_data() {
                // F3 / F4: a pre-logout cookie replayed after logout.
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut replay = browser.clone();
                browser.request(&sessions, |s| s.destroy()).await;
                let expected = if $server_side { 1 } else { 2 };
                assert_eq!(replay.count(&sessions).await, expected);
            }

            #[tokio::test]
            async fn destroying_a_session_that_arrived_without_a_cookie_sends_nothing() {
                // F1
                let sessions = manager(storage());
                let mut browser = Browser::default();
                let (_, commit) = browser.request(&sessions, |s| s.destroy()).await;
                assert_eq!(commit, Commit::Unchanged);
            }

            #[tokio::test]
            async fn an_emptied_session_keeps_its_id_and_is_saved() {
                // F5
                let sessions = manager(storage());
                let mut browser = Browser::default();
                let (id, _) = browser.request(&sessions, |s| {
                    s.set("a", 1).unwrap();
                    s.id().clone()
                }).await;
                let (_, commit) = browser.request(&sessions, |s| s.remove("a").unwrap()).await;
                assert!(matches!(commit, Commit::Set(_)));
                let (same, _) = browser.request(&sessions, |s| (s.id().clone(), s.is_empty())).await;
                assert_eq!(same, (id, true));
            }

            #[tokio::test]
            async fn a_tampered_cookie_gives_a_fresh_session() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut jar = browser.jar.clone().unwrap();
                let last = jar.pop().unwrap();
                jar.push(if last == 'A' { 'B' } else { 'A' });
                let mut forged = Browser::with(Some(jar));
                assert_eq!(forged.count(&sessions).await, 1);
            }

            #[tokio::test]
            async fn setting_null_removes_a_key_across_requests() {
                // L3
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.request(&sessions, |s| s.set("k", "v").unwrap()).await;
                browser.request(&sessions, |s| s.set("k", serde_json::Value::Null).unwrap()).await;
                let (has, _) = browser.request(&sessions, |s| s.contains_key("k")).await;
                assert!(!has);
            }

            #[tokio::test]
            async fn internal_looking_keys_are_plain_user_data() {
                // L2: keys named like the payload's own keys cannot spoof id, flash or expiry.
                let sessions = manager(storage());
                let mut browser = Browser::default();
                let (id, _) = browser.request(&sessions, |s| {
                    for key in ["i", "d", "t", "v", "__flash_m__", "__proto__", "constructor"] {
                        s.set(key, serde_json::json!([0, {"i": "x"}])).unwrap();
                    }
                    s.id().clone()
                }).await;
                let (seen, _) = browser.request(&sessions, |s| {
                    (s.id().clone(), s.values().len(), s.incoming_flash().len())
                }).await;
                assert_eq!(seen, (id, 7, 0));
            }
        }
    };
}

storage_conformance!(memory, session::MemoryStorage::new(), server_side = true);
storage_conformance!(cookie, session::CookieStorage::new(), server_side = false);
storage_conformance!(
    file,
    crate::common::TempFileStorage::new(),
    server_side = true
);
storage_conformance!(redis, crate::common::redis_storage(), server_side = true);

/// The promises of the storages that keep sessions on the server (memory, file, Redis):
/// strict ids, per-key merges between concurrent requests, and no resurrection. `$adopting`
/// builds the same storage with `use_unknown_ids` on.
/// Runs [`server_side_cases`] twice: without server-side expiry (Remix's default), and with an
/// idle timeout, where a save also renews a TTL (Redis takes a shorter path for it).
macro_rules! server_side_conformance {
    ($name:ident, $storage:expr, adopting = $adopting:expr) => {
        mod $name {
            mod without_expiry {
                fn timing() -> session::Timing {
                    session::Timing::new(session::Expiry::none(), 1_000)
                }
                server_side_cases!($storage, $adopting);
            }
            mod with_idle_timeout {
                fn timing() -> session::Timing {
                    session::Timing::new(session::Expiry::default(), 1_000)
                }
                server_side_cases!($storage, $adopting);
            }
        }
    };
}

/// The cases of [`server_side_conformance`], in a module that defines `timing()`.
macro_rules! server_side_cases {
    ($storage:expr, $adopting:expr) => {
        use session::{SaveOutcome, SessionId, SessionStorage};

        async fn create<S: SessionStorage>(storage: &S) -> SessionId {
            let mut session = storage.load(None, timing()).await.unwrap();
            session.set("n", 1).unwrap();
            let SaveOutcome::Saved { value } = storage.save(&session, timing()).await.unwrap()
            else {
                panic!("saved")
            };
            SessionId::parse(&value).unwrap()
        }

        #[tokio::test]
        async fn does_not_use_unknown_session_ids_by_default() {
            let storage = $storage;
            for unknown in ["unknown", "unknown-but-well-formed-session-id"] {
                let session = storage.load(Some(unknown), timing()).await.unwrap();
                assert_ne!(session.id().as_str(), unknown);
                assert!(session.is_empty());
            }
        }

        #[tokio::test]
        async fn uses_unknown_session_ids_if_enabled_but_never_malformed_ones() {
            let storage = $adopting;
            let id = "unknown-but-well-formed-session-id";
            assert_eq!(
                storage
                    .load(Some(id), timing())
                    .await
                    .unwrap()
                    .id()
                    .as_str(),
                id
            );
            for bad in ["", "short", "../../etc/passwd", "a b c d e f g h i j k l m"] {
                assert_ne!(
                    storage
                        .load(Some(bad), timing())
                        .await
                        .unwrap()
                        .id()
                        .as_str(),
                    bad
                );
            }
        }

        #[tokio::test]
        async fn a_load_never_creates_a_record() {
            // E2: what was never saved cannot be loaded afterwards.
            let storage = $adopting;
            let id = "loaded-but-never-saved-session-id";
            let session = storage.load(Some(id), timing()).await.unwrap();
            drop(session);
            let strict = $storage;
            assert_ne!(
                strict.load(Some(id), timing()).await.unwrap().id().as_str(),
                id
            );
        }

        #[tokio::test]
        async fn concurrent_requests_on_different_keys_lose_nothing() {
            let storage = $storage;
            let id = create(&storage).await;
            let mut a = storage.load(Some(id.as_str()), timing()).await.unwrap();
            let mut b = storage.load(Some(id.as_str()), timing()).await.unwrap();
            a.set("a", 1).unwrap();
            b.set("b", 2).unwrap();
            b.remove("n").unwrap();
            storage.save(&a, timing()).await.unwrap();
            storage.save(&b, timing()).await.unwrap();
            let merged = storage.load(Some(id.as_str()), timing()).await.unwrap();
            assert_eq!(merged.get::<i32>("a").unwrap(), Some(1));
            assert_eq!(merged.get::<i32>("b").unwrap(), Some(2));
            assert_eq!(merged.get::<i32>("n").unwrap(), None);
        }

        #[tokio::test]
        async fn on_the_same_key_the_last_save_wins() {
            let storage = $storage;
            let id = create(&storage).await;
            let mut a = storage.load(Some(id.as_str()), timing()).await.unwrap();
            let mut b = storage.load(Some(id.as_str()), timing()).await.unwrap();
            b.set("n", "b").unwrap();
            a.set("n", "a").unwrap();
            storage.save(&b, timing()).await.unwrap();
            storage.save(&a, timing()).await.unwrap();
            let merged = storage.load(Some(id.as_str()), timing()).await.unwrap();
            assert_eq!(merged.get::<String>("n").unwrap().as_deref(), Some("a"));
        }

        #[tokio::test]
        async fn a_late_save_does_not_resurrect_a_destroyed_session() {
            // I1 (rack CVE-2025-46336), for a write and for a regeneration.
            let storage = $storage;
            for regenerate in [false, true] {
                let id = create(&storage).await;
                let mut slow = storage.load(Some(id.as_str()), timing()).await.unwrap();
                let mut logout = storage.load(Some(id.as_str()), timing()).await.unwrap();
                logout.destroy();
                assert_eq!(
                    storage.save(&logout, timing()).await.unwrap(),
                    SaveOutcome::Destroyed
                );
                if regenerate {
                    slow.regenerate_id(true).unwrap();
                } else {
                    slow.set("late", true).unwrap();
                }
                assert_eq!(
                    storage.save(&slow, timing()).await.unwrap(),
                    SaveOutcome::Interrupted
                );
                let gone = storage.load(Some(id.as_str()), timing()).await.unwrap();
                assert!(gone.is_empty());
            }
        }

        #[tokio::test]
        async fn concurrent_loaders_do_not_resurrect_consumed_flash() {
            // remix-run/remix#5647
            let storage = $storage;
            let mut first = storage.load(None, timing()).await.unwrap();
            first.flash("m", "hi").unwrap();
            let SaveOutcome::Saved { value } = storage.save(&first, timing()).await.unwrap() else {
                panic!("saved")
            };
            let a = storage.load(Some(&value), timing()).await.unwrap();
            let mut b = storage.load(Some(&value), timing()).await.unwrap();
            b.set("other", 1).unwrap();
            storage.save(&a, timing()).await.unwrap();
            storage.save(&b, timing()).await.unwrap();
            let after = storage.load(Some(&value), timing()).await.unwrap();
            assert_eq!(after.get::<String>("m").unwrap(), None);
            assert_eq!(after.get::<i32>("other").unwrap(), Some(1));
        }

        #[tokio::test]
        async fn a_flash_set_meanwhile_survives_the_consumption_of_an_older_one() {
            let storage = $storage;
            let mut first = storage.load(None, timing()).await.unwrap();
            first.flash("m", "old").unwrap();
            let SaveOutcome::Saved { value } = storage.save(&first, timing()).await.unwrap() else {
                panic!("saved")
            };
            let consumer = storage.load(Some(&value), timing()).await.unwrap();
            let mut producer = storage.load(Some(&value), timing()).await.unwrap();
            producer.flash("m", "new").unwrap();
            storage.save(&producer, timing()).await.unwrap();
            storage.save(&consumer, timing()).await.unwrap();
            let next = storage.load(Some(&value), timing()).await.unwrap();
            assert_eq!(next.get::<String>("m").unwrap().as_deref(), Some("new"));
        }

        #[tokio::test]
        async fn regeneration_with_delete_leaves_only_the_new_record() {
            let storage = $storage;
            let id = create(&storage).await;
            let mut session = storage.load(Some(id.as_str()), timing()).await.unwrap();
            session.regenerate_id(true).unwrap();
            let SaveOutcome::Saved { value } = storage.save(&session, timing()).await.unwrap()
            else {
                panic!("saved")
            };
            assert_ne!(value, id.as_str());
            let new = storage.load(Some(&value), timing()).await.unwrap();
            assert_eq!(new.get::<i32>("n").unwrap(), Some(1), "the data follows");
            assert!(
                storage
                    .load(Some(id.as_str()), timing())
                    .await
                    .unwrap()
                    .is_empty()
            );
        }

        #[tokio::test]
        async fn a_generated_id_never_overwrites_a_stored_session() {
            // G3: the id a new or regenerated session drew is taken by the time it saves (here,
            // planted through an adopting storage); the save draws another.
            let storage = $adopting;
            for regenerate in [false, true] {
                let mut session = if regenerate {
                    let id = create(&storage).await;
                    let mut session = storage.load(Some(id.as_str()), timing()).await.unwrap();
                    session.regenerate_id(true).unwrap();
                    session
                } else {
                    storage.load(None, timing()).await.unwrap()
                };
                let taken = session.id().clone();
                let mut victim = storage.load(Some(taken.as_str()), timing()).await.unwrap();
                assert_eq!(victim.id(), &taken, "adopted");
                victim.set("owner", "victim").unwrap();
                storage.save(&victim, timing()).await.unwrap();
                session.set("owner", "intruder").unwrap();
                let SaveOutcome::Saved { value } = storage.save(&session, timing()).await.unwrap()
                else {
                    panic!("saved")
                };
                assert_ne!(value, taken.as_str(), "a new id was drawn");
                let victim = storage.load(Some(taken.as_str()), timing()).await.unwrap();
                assert_eq!(
                    victim.get::<String>("owner").unwrap().as_deref(),
                    Some("victim")
                );
                assert_eq!(victim.len(), 1, "nothing merged into the victim");
                let saved = storage.load(Some(&value), timing()).await.unwrap();
                assert_eq!(
                    saved.get::<String>("owner").unwrap().as_deref(),
                    Some("intruder")
                );
            }
        }

        #[tokio::test]
        async fn thousands_of_keys_survive_a_save_an_update_and_a_regeneration() {
            // More keys than one Redis script call can unpack at once.
            const KEYS: usize = 5_000;
            let storage = $storage;
            let mut session = storage.load(None, timing()).await.unwrap();
            for key in 0..KEYS {
                session.set(&format!("k{key}"), key).unwrap();
                session.flash(&format!("f{key}"), key).unwrap();
            }
            let SaveOutcome::Saved { value } = storage.save(&session, timing()).await.unwrap()
            else {
                panic!("saved")
            };
            let mut session = storage.load(Some(&value), timing()).await.unwrap();
            assert_eq!(session.len(), 2 * KEYS, "the values and the flash");
            assert_eq!(session.get::<usize>("f4999").unwrap(), Some(4_999));
            for key in 0..KEYS {
                if key % 2 == 0 {
                    session.remove(&format!("k{key}")).unwrap();
                } else {
                    session.set(&format!("k{key}"), key * 2).unwrap();
                }
            }
            session.regenerate_id(true).unwrap();
            let SaveOutcome::Saved { value: moved } =
                storage.save(&session, timing()).await.unwrap()
            else {
                panic!("saved")
            };
            let session = storage.load(Some(&moved), timing()).await.unwrap();
            assert_eq!(session.len(), KEYS / 2);
            assert_eq!(session.get::<usize>("k4999").unwrap(), Some(9_998));
            assert_eq!(session.get::<usize>("k0").unwrap(), None);
            assert_eq!(
                session.get::<usize>("f1").unwrap(),
                None,
                "the flash was consumed"
            );
        }
    };
}

mod server_side {
    server_side_conformance!(
        memory,
        session::MemoryStorage::new(),
        adopting = session::MemoryStorage::builder()
            .use_unknown_ids(true)
            .build()
    );
    server_side_conformance!(
        file,
        crate::common::TempFileStorage::new(),
        adopting = crate::common::TempFileStorage::adopting()
    );
    server_side_conformance!(
        redis,
        crate::common::redis_storage(),
        adopting = crate::common::redis_storage_adopting()
    );
}
