//! Server-enforced expiry on an injected clock (checklist D), for cookie and memory storage.

use std::time::Duration;

use session::{Commit, CookieStorage, Expiry, MemoryStorage, Storage};

use crate::common::{Browser, timed_manager};

const T0: u64 = 1_700_000_000;

fn idle(seconds: u64) -> Expiry {
    Expiry::builder()
        .idle_timeout(Duration::from_secs(seconds))
        .build()
        .unwrap()
}

macro_rules! expiry_tests {
    ($name:ident, $storage:expr) => {
        #[allow(
            unused_must_use,
            reason = "requests whose commit the case does not inspect"
        )]
        mod $name {
            use super::*;

            fn storage() -> impl Storage {
                $storage
            }

            #[tokio::test]
            async fn idle_sessions_expire_and_an_age_equal_to_the_timeout_is_live() {
                // D1
                let (sessions, clock) = timed_manager(storage(), idle(600), T0);
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut twin = browser.clone();
                clock.set(T0 + 600);
                assert_eq!(twin.count(&sessions).await, 2, "age == timeout is accepted");
                clock.set(T0 + 600 + 601);
                assert_eq!(
                    browser.count(&sessions).await,
                    1,
                    "age > timeout is refused"
                );
            }

            #[tokio::test]
            async fn a_clock_far_behind_the_stored_timestamps_is_refused() {
                // D2: timestamps more than the allowed skew in the future.
                let (sessions, clock) = timed_manager(storage(), idle(600), T0);
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                let mut twin = browser.clone();
                clock.set(T0 - 60);
                assert_eq!(twin.count(&sessions).await, 2, "within the skew");
                clock.set(T0 - 61 - 600);
                assert_eq!(browser.count(&sessions).await, 1);
            }

            #[tokio::test]
            async fn reads_slide_the_idle_window_only_after_half_of_it() {
                // D4
                let (sessions, clock) = timed_manager(storage(), idle(600), T0);
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                clock.set(T0 + 299);
                let (_, commit) = browser.request(&sessions, |_| ()).await;
                assert_eq!(commit, Commit::Unchanged, "no write before half the window");
                clock.set(T0 + 300);
                let (_, commit) = browser.request(&sessions, |_| ()).await;
                let Commit::Set(set_cookie) = commit else {
                    panic!("renewal writes: {commit:?}")
                };
                assert!(set_cookie.contains("Max-Age=600"));
                // Active every 5 minutes for a day: never idles out.
                for step in 1..=288 {
                    clock.set(T0 + 300 + step * 300);
                    browser.request(&sessions, |_| ()).await;
                }
                assert_eq!(browser.count(&sessions).await, 2);
            }

            #[tokio::test]
            async fn the_absolute_timeout_ends_an_active_session_and_survives_regeneration() {
                // D5
                let expiry = Expiry::builder()
                    .idle_timeout(Duration::from_mins(10))
                    .absolute_timeout(Duration::from_hours(1))
                    .build()
                    .unwrap();
                let (sessions, clock) = timed_manager(storage(), expiry, T0);
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                for minute in 1..=60 {
                    clock.set(T0 + minute * 60);
                    if minute == 30 {
                        browser
                            .request(&sessions, |s| {
                                s.regenerate_id(session::OldId::Delete).unwrap()
                            })
                            .await;
                    }
                    assert_eq!(browser.count(&sessions).await, minute + 1);
                }
                clock.set(T0 + 3_601);
                assert_eq!(browser.count(&sessions).await, 1);
            }

            #[tokio::test]
            async fn max_age_follows_the_idle_timeout_cut_by_the_absolute_one() {
                // D6
                let expiry = Expiry::builder()
                    .idle_timeout(Duration::from_mins(10))
                    .absolute_timeout(Duration::from_secs(1_000))
                    .build()
                    .unwrap();
                let (sessions, clock) = timed_manager(storage(), expiry, T0);
                let mut browser = Browser::default();
                let (_, commit) = browser.request(&sessions, |s| s.set("a", 1).unwrap()).await;
                assert!(commit.header().unwrap().contains("Max-Age=600;"));
                clock.set(T0 + 500);
                browser.request(&sessions, |s| s.set("a", 2).unwrap()).await;
                clock.set(T0 + 900);
                let (_, commit) = browser.request(&sessions, |s| s.set("a", 2).unwrap()).await;
                assert!(commit.header().unwrap().contains("Max-Age=100;"));
            }

            #[tokio::test]
            async fn an_expired_session_serves_no_data_and_gets_a_new_id() {
                // D3
                let (sessions, clock) = timed_manager(storage(), idle(60), T0);
                let mut browser = Browser::default();
                let (old_id, _) = browser
                    .request(&sessions, |s| {
                        s.set("secret", "data").unwrap();
                        s.id().clone()
                    })
                    .await;
                clock.set(T0 + 61);
                let (seen, _) = browser
                    .request(&sessions, |s| {
                        (s.id().clone(), s.get::<String>("secret").unwrap())
                    })
                    .await;
                assert_ne!(seen.0, old_id);
                assert_eq!(seen.1, None);
            }
        }
    };
}

expiry_tests!(memory, MemoryStorage::new());
expiry_tests!(cookie, CookieStorage::new());
expiry_tests!(file, crate::common::TempFileStorage::new());
expiry_tests!(redis, crate::common::redis_storage());

#[tokio::test]
async fn an_expired_record_met_in_the_store_is_deleted() {
    // D6
    let (sessions, clock) = timed_manager(MemoryStorage::new(), idle(60), T0);
    let mut browser = Browser::default();
    browser.count(&sessions).await;
    assert_eq!(sessions.storage().len(), 1);
    clock.set(T0 + 61);
    let _ = browser.request(&sessions, |_| ()).await;
    assert_eq!(sessions.storage().len(), 0);
}

#[test]
fn zero_timeouts_are_configuration_errors() {
    let zero_idle = Expiry::builder().idle_timeout(Duration::ZERO).build();
    assert!(matches!(
        zero_idle,
        Err(session::Error::Config(session::ConfigError::ZeroTimeout {
            which: "idle"
        }))
    ));
    let short_absolute = Expiry::builder()
        .absolute_timeout(Duration::from_millis(999))
        .build();
    assert!(matches!(
        short_absolute,
        Err(session::Error::Config(session::ConfigError::ZeroTimeout {
            which: "absolute"
        }))
    ));
}
