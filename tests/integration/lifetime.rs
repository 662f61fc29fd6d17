//! Per-session lifetimes on every storage: a persistent cookie ("remember me") with its own
//! `Max-Age`, which is also that session's idle timeout on the server; a browser-session
//! cookie (no `Max-Age`, no `Expires`) whose server-side timeouts still hold; kept with the
//! session; a change is a write and a read is not; and a concurrent save that did not touch
//! the lifetime keeps the one another request chose.

use std::time::Duration;

use session::expiry::{Lifetime, ManualClock};
use session::{
    CookieStorage, Expiry, MemoryStorage, SessionCookie, SessionManager, SessionStore, Storage,
};

use crate::common::{Browser, SECRET, TempFileStorage, block_on, redis_storage, timed_manager};
use crate::databases::SqlStore;

const MONTH: Duration = Duration::from_hours(30 * 24);

fn policy() -> Expiry {
    Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .build()
        .unwrap()
}

/// The `Max-Age` and whether an `Expires` is present, of a `Set-Cookie`.
fn attributes(set_cookie: &str) -> (Option<u64>, bool) {
    let max_age = set_cookie
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Max-Age="))
        .map(|age| age.parse().unwrap());
    (max_age, set_cookie.contains("Expires="))
}

/// A login that sets `lifetime`, then a request that reads it back; the `Set-Cookie` of the
/// login and the lifetime the second request sees.
async fn login_with<S: Storage>(
    sessions: &SessionManager<S>,
    lifetime: Lifetime,
) -> (String, Lifetime, Browser) {
    let mut browser = Browser::default();
    let ((), commit) = browser
        .request(sessions, |s| {
            s.set("user", "ada").unwrap();
            s.set_lifetime(lifetime).unwrap();
        })
        .await;
    let set_cookie = commit.header().unwrap().to_owned();
    let (seen, _) = browser.request(sessions, |s| s.lifetime()).await;
    (set_cookie, seen, browser)
}

async fn lifetimes_hold_on<S: Storage>(storage: impl Fn() -> S) {
    let month = Lifetime::Persistent(MONTH);
    let (sessions, _clock) = timed_manager(storage(), policy(), 1_000);
    let (set_cookie, seen, _) = login_with(&sessions, month).await;
    assert_eq!(attributes(&set_cookie), (Some(MONTH.as_secs()), false));
    assert_eq!(seen, month, "kept with the session");

    let (sessions, _clock) = timed_manager(storage(), policy(), 1_000);
    let (set_cookie, seen, _) = login_with(&sessions, Lifetime::BrowserSession).await;
    assert_eq!(attributes(&set_cookie), (None, false), "{set_cookie}");
    assert_eq!(seen, Lifetime::BrowserSession);

    let (sessions, _clock) = timed_manager(storage(), policy(), 1_000);
    let (set_cookie, seen, _) = login_with(&sessions, Lifetime::Policy).await;
    assert_eq!(attributes(&set_cookie), (Some(600), false));
    assert_eq!(seen, Lifetime::Policy);
}

#[tokio::test]
async fn each_lifetime_sets_its_cookie_and_is_kept_by_every_storage() {
    lifetimes_hold_on(CookieStorage::new).await;
    lifetimes_hold_on(CookieStorage::encrypted).await;
    lifetimes_hold_on(MemoryStorage::new).await;
    lifetimes_hold_on(TempFileStorage::new).await;
    lifetimes_hold_on(redis_storage).await;
    lifetimes_hold_on(SqlStore::postgres).await;
    lifetimes_hold_on(SqlStore::sqlite).await;
}

#[tokio::test]
async fn a_browser_session_cookie_drops_the_cookie_s_own_max_age_and_expires() {
    let cookie = SessionCookie::builder("sid")
        .secret(SECRET)
        .max_age(Duration::from_hours(1))
        .expires(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000))
        .build()
        .unwrap();
    let sessions = SessionManager::new(cookie, MemoryStorage::new()).with_expiry(Expiry::none());
    let (set_cookie, _, _) = login_with(&sessions, Lifetime::BrowserSession).await;
    assert_eq!(attributes(&set_cookie), (None, false), "{set_cookie}");
    let (set_cookie, _, _) = login_with(&sessions, Lifetime::Policy).await;
    assert_eq!(attributes(&set_cookie), (Some(3_600), true), "{set_cookie}");
}

async fn a_change_is_a_write_and_a_read_is_not_on<S: Storage>(storage: S) {
    let sessions = SessionManager::new(crate::common::cookie(), storage).with_expiry(policy());
    let (_, _, mut browser) = login_with(&sessions, Lifetime::BrowserSession).await;
    let ((), commit) = browser
        .request(&sessions, |s| {
            assert_eq!(s.lifetime(), Lifetime::BrowserSession);
            s.set_lifetime(Lifetime::BrowserSession).unwrap();
        })
        .await;
    assert!(
        commit.header().is_none(),
        "reading, or setting the same: no write"
    );
    let ((), commit) = browser
        .request(&sessions, |s| {
            s.set_lifetime(Lifetime::Persistent(MONTH)).unwrap();
        })
        .await;
    let set_cookie = commit.header().expect("a change re-sends the cookie");
    assert_eq!(attributes(set_cookie).0, Some(MONTH.as_secs()));
}

#[tokio::test]
async fn changing_the_lifetime_is_a_write_and_reading_it_is_not() {
    a_change_is_a_write_and_a_read_is_not_on(CookieStorage::new()).await;
    a_change_is_a_write_and_a_read_is_not_on(MemoryStorage::new()).await;
    a_change_is_a_write_and_a_read_is_not_on(redis_storage()).await;
    a_change_is_a_write_and_a_read_is_not_on(SqlStore::postgres()).await;
    a_change_is_a_write_and_a_read_is_not_on(SqlStore::sqlite()).await;
}

/// Requests `after` seconds apart on `clock`; whether the session is still there.
async fn alive_after<S: Storage>(
    sessions: &SessionManager<S>,
    clock: &ManualClock,
    browser: &mut Browser,
    after: u64,
) -> bool {
    clock.advance(Duration::from_secs(after));
    browser
        .request(sessions, |s| s.get::<String>("user").unwrap().is_some())
        .await
        .0
}

async fn server_side_timeouts_follow_the_lifetime_on<S: Storage>(storage: impl Fn() -> S) {
    // Persistent: a month replaces the 10-minute idle timeout for this session.
    let (sessions, clock) = timed_manager(storage(), policy(), 1_000);
    let (_, _, mut browser) = login_with(&sessions, Lifetime::Persistent(MONTH)).await;
    assert!(alive_after(&sessions, &clock, &mut browser, 20 * 86_400).await);
    assert!(!alive_after(&sessions, &clock, &mut browser, 31 * 86_400).await);
    // A browser session keeps the policy's idle timeout.
    let (sessions, clock) = timed_manager(storage(), policy(), 1_000);
    let (_, _, mut browser) = login_with(&sessions, Lifetime::BrowserSession).await;
    assert!(alive_after(&sessions, &clock, &mut browser, 599).await);
    assert!(!alive_after(&sessions, &clock, &mut browser, 601).await);
    // The absolute timeout caps a persistent one, in Max-Age as on the server.
    let capped = Expiry::builder()
        .idle_timeout(Duration::from_mins(10))
        .absolute_timeout(Duration::from_hours(24))
        .build()
        .unwrap();
    let (sessions, clock) = timed_manager(storage(), capped, 1_000);
    let (set_cookie, _, mut browser) = login_with(&sessions, Lifetime::Persistent(MONTH)).await;
    assert_eq!(attributes(&set_cookie).0, Some(86_400));
    assert!(alive_after(&sessions, &clock, &mut browser, 80_000).await);
    assert!(!alive_after(&sessions, &clock, &mut browser, 7_000).await);
}

#[tokio::test]
async fn the_server_s_timeouts_follow_the_lifetime() {
    server_side_timeouts_follow_the_lifetime_on(CookieStorage::new).await;
    server_side_timeouts_follow_the_lifetime_on(CookieStorage::encrypted).await;
    server_side_timeouts_follow_the_lifetime_on(MemoryStorage::new).await;
    server_side_timeouts_follow_the_lifetime_on(TempFileStorage::new).await;
    server_side_timeouts_follow_the_lifetime_on(redis_storage).await;
    server_side_timeouts_follow_the_lifetime_on(SqlStore::postgres).await;
    server_side_timeouts_follow_the_lifetime_on(SqlStore::sqlite).await;
}

/// A session loaded by a request B, then a "remember me" by request A that saves first: B's
/// session, which still sees the old lifetime, and A's browser.
async fn stale_after_remember_me<S: Storage>(
    sessions: &SessionManager<S>,
    browser: &mut Browser,
) -> session::LoadedSession {
    let stale = sessions.load(browser.jar.as_deref()).await.unwrap();
    let _ = browser
        .request(sessions, |s| {
            s.set_lifetime(Lifetime::Persistent(MONTH)).unwrap();
        })
        .await;
    stale
}

async fn a_concurrent_save_keeps_the_chosen_lifetime_on<S: SessionStore + 'static>(storage: S) {
    let (sessions, clock) = timed_manager(storage, policy(), 1_000);
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| s.set("user", "ada").unwrap())
        .await;
    // B loads first, A chooses "remember me" and saves, then B saves a change of its own.
    let mut stale = stale_after_remember_me(&sessions, &mut browser).await;
    stale.set("cart", [1, 2]).unwrap();
    let _ = sessions.commit(&stale).await.unwrap();
    let (seen, _) = browser
        .request(&sessions, |s| {
            (s.lifetime(), s.get::<Vec<u32>>("cart").unwrap())
        })
        .await;
    assert_eq!(seen, (Lifetime::Persistent(MONTH), Some(vec![1, 2])));
    // And the record lives as long as the month, not the 10 minutes B saw.
    clock.advance(Duration::from_hours(20 * 24));
    let (user, _) = browser
        .request(&sessions, |s| s.get::<String>("user").unwrap())
        .await;
    assert_eq!(user.as_deref(), Some("ada"));
}

#[tokio::test]
async fn a_concurrent_save_keeps_the_lifetime_another_request_chose() {
    a_concurrent_save_keeps_the_chosen_lifetime_on(MemoryStorage::new()).await;
    a_concurrent_save_keeps_the_chosen_lifetime_on(TempFileStorage::new()).await;
    a_concurrent_save_keeps_the_chosen_lifetime_on(redis_storage()).await;
    a_concurrent_save_keeps_the_chosen_lifetime_on(SqlStore::postgres()).await;
    a_concurrent_save_keeps_the_chosen_lifetime_on(SqlStore::sqlite()).await;
}

#[test]
fn redis_sets_the_ttl_of_the_stored_lifetime_even_from_a_stale_save() {
    // Both scripts: a plain update (values set) and the general save (a value removed).
    for removes in [false, true] {
        block_on(async {
            let storage = redis_storage();
            let prefix = storage.prefix().to_owned();
            let (sessions, _clock) = timed_manager(storage, policy(), 1_000);
            let mut browser = Browser::default();
            let _ = browser
                .request(&sessions, |s| {
                    s.set("user", "ada").unwrap();
                    s.set("old", 1).unwrap();
                })
                .await;
            let mut stale = stale_after_remember_me(&sessions, &mut browser).await;
            stale.set("n", 1).unwrap();
            if removes {
                stale.remove("old").unwrap();
            }
            let _ = sessions.commit(&stale).await.unwrap();
            let client = redis::Client::open(crate::common::redis_url()).unwrap();
            let mut connection = client.get_multiplexed_async_connection().await.unwrap();
            let key = format!("{prefix}{}", stale.id().as_str());
            let ttl: i64 = redis::cmd("TTL")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .unwrap();
            assert!(
                ttl > 600,
                "TTL {ttl} (removes: {removes}): the stale save kept the month"
            );
        });
    }
}

#[derive(session::SessionSchema, Debug, PartialEq)]
struct Login {
    user: Option<String>,
    #[session(lifetime)]
    remember: Lifetime,
}

#[tokio::test]
async fn a_derive_field_marked_lifetime_reads_and_sets_the_session_s_lifetime() {
    use session::SessionSchema as _;
    assert_eq!(Login::KEYS, ["user"], "the lifetime is not a key");
    let sessions = crate::common::manager(MemoryStorage::new());
    let mut browser = Browser::default();
    let ((), commit) = browser
        .request(&sessions, |s| {
            let mut login = Login::view(s);
            login.set_user("ada".to_owned()).unwrap();
            assert_eq!(login.remember(), Lifetime::Policy);
            login.set_remember(Lifetime::Persistent(MONTH)).unwrap();
        })
        .await;
    assert_eq!(
        attributes(commit.header().unwrap()).0,
        Some(MONTH.as_secs())
    );
    let (read, _) = browser
        .request(&sessions, |s| Login::load(s).unwrap())
        .await;
    assert_eq!(
        read,
        Login {
            user: Some("ada".into()),
            remember: Lifetime::Persistent(MONTH)
        }
    );
    let ((), commit) = browser
        .request(&sessions, |s| {
            Login {
                user: Some("ada".into()),
                remember: Lifetime::BrowserSession,
            }
            .store(s)
            .unwrap();
        })
        .await;
    assert_eq!(attributes(commit.header().unwrap()), (None, false));
}
