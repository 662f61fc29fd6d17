//! One set of behavioural tests run against every storage, so that each keeps the same
//! promises: Remix's shared storage tests (spec §6) and the checklist cases that apply to all,
//! through the manager (cookie storage included); then the public conformance kit
//! (`session::store_conformance!`) on every store: memory, file, Redis, PostgreSQL, SQLite,
//! and a `BTreeMap` store written here from public items only. The per-storage files keep only what is specific to
//! one storage.

/// Stamps the shared tests into a module for one storage. `$server_side` says whether the
/// storage keeps data on the server (so an old cookie can be revoked).
macro_rules! storage_conformance {
    ($name:ident, $storage:expr, server_side = $server_side:expr) => {
        #[allow(unused_must_use, reason = "requests whose commit the case does not inspect")]
        mod $name {
            use session::{Commit, OldId, Storage};

            use crate::common::{Browser, manager};

            fn storage() -> impl Storage {
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
                browser.request(&sessions, |s| s.regenerate_id(OldId::Keep).unwrap()).await;
                assert_ne!(browser.jar, old_jar);
                assert_eq!(browser.count(&sessions).await, 2);
            }

            #[tokio::test]
            async fn leaves_old_session_data_by_default_when_the_id_is_regenerated() {
                let sessions = manager(storage());
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut old = browser.clone();
                browser.request(&sessions, |s| s.regenerate_id(OldId::Keep).unwrap()).await;
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
                    s.regenerate_id(OldId::Delete).unwrap();
                    s.regenerate_id(OldId::Delete).unwrap();
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
storage_conformance!(
    redis_cluster,
    crate::redis_cluster::cluster_storage(),
    server_side = true
);
storage_conformance!(
    postgres,
    crate::databases::SqlStore::postgres(),
    server_side = true
);
storage_conformance!(
    sqlite,
    crate::databases::SqlStore::sqlite(),
    server_side = true
);

/// The conformance kit on every store this crate ships, and on one written here.
mod kit {
    mod memory {
        session::store_conformance!(session::MemoryStorage::new());
    }
    mod memory_bounded {
        session::store_conformance!(session::MemoryStorage::builder().capacity(100_000).build());
    }
    mod file {
        session::store_conformance!(crate::common::TempFileStorage::new());
    }
    mod redis {
        session::store_conformance!(crate::common::redis_storage());
    }
    mod redis_tls {
        session::store_conformance!(crate::redis_tls::tls_storage());
    }
    mod redis_cluster {
        session::store_conformance!(crate::redis_cluster::cluster_storage());
    }
    mod redis_sentinel {
        session::store_conformance!(crate::redis_sentinel::sentinel_storage());
    }
    mod postgres {
        session::store_conformance!(crate::databases::SqlStore::postgres());
    }
    mod sqlite {
        session::store_conformance!(crate::databases::SqlStore::sqlite());
    }
    mod btreemap {
        session::store_conformance!(crate::store_btreemap::BTreeMapStore::default());
    }
    mod dyn_store {
        session::store_conformance!(std::sync::Arc::new(session::MemoryStorage::new())
            as std::sync::Arc<dyn session::store::DynSessionStore>);
    }
}
