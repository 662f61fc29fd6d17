//! Server-enforced expiry on an injected clock (checklist D), for cookie and memory storage.

use std::time::Duration;

use session::{Commit, CookieStorage, Expiry, MemoryStorage, Storage};

use crate::common::{Browser, capture, timed_manager};

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
            async fn a_clock_behind_the_stored_timestamps_serves_the_session() {
                // D2, review defect 3: only servers write the timestamps, so a clock stepped
                // back (or a lagging instance) serves the session as written just now, and
                // its next write stamps the lagging time.
                let (sessions, clock) = timed_manager(storage(), idle(600), T0);
                let mut browser = Browser::default();
                browser.count(&sessions).await;
                clock.set(T0 - 120);
                let mut reader = browser.clone();
                let (count, _) = reader
                    .request(&sessions, |s| s.get::<u64>("count").unwrap())
                    .await;
                assert_eq!(count, Some(1), "read by the lagging clock");
                assert_eq!(
                    browser.count(&sessions).await,
                    2,
                    "written two minutes back"
                );
                clock.set(T0);
                assert_eq!(browser.count(&sessions).await, 3);
                // The last write was stamped T0: the idle timeout counts from there.
                clock.set(T0 + 601);
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
expiry_tests!(postgres, crate::databases::SqlStore::postgres());
expiry_tests!(sqlite, crate::databases::SqlStore::sqlite());

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

/// A cookie written without timestamps: by Remix, or by this crate under `Expiry::none()`.
async fn unstamped_cookie() -> Browser {
    let (remix_like, _) = timed_manager(CookieStorage::new(), Expiry::none(), T0);
    let mut browser = Browser::default();
    browser.count(&remix_like).await;
    assert!(!browser.jar.as_deref().unwrap().is_empty());
    browser
}

#[test]
fn an_unstamped_cookie_is_refused_while_a_timeout_is_set() {
    // Review defect 1: it used to count as written now, on every read, so a stolen one never
    // expired under any timeout.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut browser = runtime.block_on(unstamped_cookie());
    let (sessions, _) = timed_manager(CookieStorage::new(), idle(600), T0 + 10_000);
    let (count, events) = capture(|| runtime.block_on(browser.count(&sessions)));
    assert_eq!(count, 1, "a fresh session");
    assert!(
        events
            .iter()
            .any(|event| event.fields.contains("unstamped-payload")),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_accepted_unstamped_cookie_is_stamped_on_that_response_and_then_expires() {
    let expiry = Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .accept_unstamped_cookies()
        .build()
        .unwrap();
    let browser = unstamped_cookie().await;
    let (sessions, clock) = timed_manager(CookieStorage::new(), expiry, T0 + 10_000);
    // A read-only request: served, and stamped on this very response.
    let mut reader = browser.clone();
    let (count, commit) = reader
        .request(&sessions, |s| s.get::<u64>("count").unwrap())
        .await;
    assert_eq!(count, Some(1));
    let Commit::Set(set_cookie) = commit else {
        panic!("the stamp is sent: {commit:?}")
    };
    assert!(set_cookie.contains("Max-Age=600"));
    // From the stamp on, the idle timeout holds for the stamped cookie. (A replayed copy of
    // the unstamped original is served and stamped afresh: the opt-in's documented cost.)
    clock.set(T0 + 10_000 + 600);
    assert_eq!(reader.clone().count(&sessions).await, 2);
    clock.set(T0 + 10_000 + 1_201);
    assert_eq!(reader.count(&sessions).await, 1, "idle past the timeout");
}
