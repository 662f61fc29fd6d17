//! Integrity of signed cookies and malformed input (checklist A, B, C4, L4): every bad cookie
//! gives a fresh session, never an error or a panic, and one security event with a reason.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use session::cookie::Incoming;
use session::{Commit, CookieStorage, MemoryStorage, SessionCookie, SessionManager, Storage};

use crate::common::{Browser, SECRET, block_on, capture, cookie, manager};

/// A valid cookie pair (`sid=...`) holding `{"n": 1}` under cookie storage.
async fn valid_pair() -> String {
    let sessions = manager(CookieStorage::new());
    let mut browser = Browser::default();
    let _ = browser.request(&sessions, |s| s.set("n", 1).unwrap()).await;
    browser.jar.unwrap()
}

/// Loads `header` under cookie storage and says whether the data survived.
async fn accepted(header: &str) -> bool {
    let sessions = manager(CookieStorage::new());
    let session = sessions.load(Some(header)).await.unwrap();
    session.get::<i32>("n").unwrap() == Some(1)
}

/// A correctly signed cookie pair around an arbitrary payload.
fn signed(payload: &str) -> String {
    let set = cookie().to_set_cookie(payload, None).unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn round_trips_awkward_values() {
    // A1
    let sessions = manager(CookieStorage::new());
    let mut browser = Browser::default();
    let awkward = [
        "日本語 🎉",
        "a:b",
        "a.b.c.",
        "a;b",
        "a=b==",
        "\"quoted\" 'single'",
        "",
        "\\",
    ];
    let _ = browser
        .request(&sessions, |s| {
            for (i, value) in awkward.iter().enumerate() {
                s.set(&format!("k{i}"), value).unwrap();
            }
        })
        .await;
    let (read, _) = browser
        .request(&sessions, |s| {
            (0..awkward.len())
                .map(|i| s.get::<String>(&format!("k{i}")).unwrap().unwrap())
                .collect::<Vec<_>>()
        })
        .await;
    assert_eq!(read, awkward);
}

#[tokio::test]
async fn tampering_transforms_are_rejected() {
    // A2
    let pair = valid_pair().await;
    assert!(accepted(&pair).await);
    let (name, value) = pair.split_once('=').unwrap();
    let (payload, mac) = value.rsplit_once('.').unwrap();
    let flip = |text: &str, at: usize| {
        let mut bytes = STANDARD.decode(text).unwrap();
        bytes[at] ^= 1;
        STANDARD.encode(bytes)
    };
    let first_replaced = format!(
        "{}{}",
        if value.starts_with('A') { 'B' } else { 'A' },
        &value[1..]
    );
    let transforms = [
        value.to_uppercase(),
        format!("{value}A"),
        first_replaced,
        value.replacen('.', "", 1),
        format!("{}.{mac}", flip(payload, 3)),
        format!(
            "{payload}.{}",
            flip(&format!("{mac}="), 5).trim_end_matches('=')
        ),
        format!("{payload}.{}", &mac[..mac.len() - 1]),
    ];
    for forged in transforms {
        assert!(!accepted(&format!("{name}={forged}")).await, "{forged}");
    }
}

#[tokio::test]
async fn missing_signatures_and_garbage_around_a_token_are_rejected() {
    // A3
    let pair = valid_pair().await;
    let (name, token) = pair.split_once('=').unwrap();
    let (payload, _) = token.rsplit_once('.').unwrap();
    for forged in [
        payload.to_owned(),
        format!("{payload}."),
        format!("garbage{token}"),
        format!("garbage.{token}"),
        format!("{token}.garbage"),
        format!("{token}garbage"),
    ] {
        assert!(!accepted(&format!("{name}={forged}")).await, "{forged}");
    }
}

#[tokio::test]
async fn a_transplanted_mac_is_rejected() {
    // A4
    let one = valid_pair().await;
    let other = signed(r#"{"i":"x","d":[{"n":2},{}]}"#);
    let (_, one_mac) = one.rsplit_once('.').unwrap();
    let (other_payload, _) = other.rsplit_once('.').unwrap();
    assert!(!accepted(&format!("{other_payload}.{one_mac}")).await);
}

#[tokio::test]
async fn a_cookie_made_with_another_key_is_rejected() {
    // A5, and A6's "different app": apps with different secrets cannot replay each other's
    // cookies. (The Remix format does not put the cookie name in the MAC; see the README.)
    let pair = valid_pair().await;
    let other_app = SessionCookie::builder("sid")
        .secret("another-apps-secret-of-32-bytes!!!")
        .build()
        .unwrap();
    let sessions = SessionManager::new(other_app, CookieStorage::new());
    assert!(sessions.load(Some(&pair)).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_id_cookie_replayed_into_a_cookie_storage_app_is_rejected() {
    // A6: a memory-storage cookie under the same secret is not a session payload.
    let memory = manager(MemoryStorage::new());
    let mut browser = Browser::default();
    let _ = browser.request(&memory, |s| s.set("n", 1).unwrap()).await;
    let cookie_app = manager(CookieStorage::new());
    let session = cookie_app.load(browser.jar.as_deref()).await.unwrap();
    assert!(session.is_empty());
}

#[tokio::test]
async fn an_unsigned_cookie_is_never_deserialized() {
    // A8 (rack CVE-2026-39324): plain base64 JSON is refused while a key is configured.
    let payload = STANDARD.encode(r#"{"i":"x","d":[{"n":1},{}]}"#);
    let incoming = cookie().read(Some(&format!("sid={payload}")));
    assert_eq!(incoming, Incoming::Rejected);
    assert!(!accepted(&format!("sid={payload}")).await);
}

#[tokio::test]
async fn empty_values_and_junk_give_a_fresh_session() {
    // B1
    for header in [
        "sid=",
        "sid",
        "sid=\"\"",
        "sid=blarghfasel",
        "sid=purejunk",
        "sid=bogus",
    ] {
        let sessions = manager(CookieStorage::new());
        let session = sessions.load(Some(header)).await.unwrap();
        assert!(session.is_empty());
        assert_eq!(sessions.commit(&session).await.unwrap(), Commit::Unchanged);
    }
}

#[tokio::test]
async fn invalid_base64_and_encodings_are_rejected() {
    // B2
    let pair = valid_pair().await;
    let (_, token) = pair.split_once('=').unwrap();
    let (payload, mac) = token.rsplit_once('.').unwrap();
    let wrapped = format!("{}\n{}", &payload[..10], &payload[10..]);
    let utf8_invalid = signed_bytes(&[b'{', 0xff, b'}']);
    for forged in [
        format!("<!--.{mac}"),
        format!("?{payload}.{mac}"),
        format!("!@#.{mac}"),
        format!("{wrapped}.{mac}"),
        format!("{payload}==.{mac}"),
        format!("12345.{mac}"),
        format!("{payload}.{mac}\u{ff}"),
        utf8_invalid,
    ] {
        assert!(!accepted(&format!("sid={forged}")).await, "{forged:?}");
        let sessions = manager(CookieStorage::new());
        assert!(sessions.load(Some(&format!("sid={forged}"))).await.is_ok());
    }
}

/// A correctly signed cookie value over arbitrary bytes (which may not be UTF-8).
fn signed_bytes(bytes: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let encoded = STANDARD.encode(bytes);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(encoded.as_bytes());
    let tag = base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{encoded}.{tag}")
}

#[test]
fn a_valid_mac_over_bad_json_is_logged_as_corrupt_not_as_a_bad_signature() {
    // B3, L4
    for (cookie_value, reason) in [
        (signed("not json"), "malformed-payload"),
        (signed("[1,2]"), "malformed-payload"),
        (
            format!("sid={}", signed_bytes(&[0xff, 0xfe])),
            "bad-encoding",
        ),
        (format!("sid={}", signed_bytes(b"{}x")), "malformed-payload"),
        ("sid=bm90IGpzb24=.AAAA".to_owned(), "bad-signature"),
    ] {
        let (session, events) =
            capture(|| block_on(manager(CookieStorage::new()).load(Some(&cookie_value))).unwrap());
        assert!(session.is_empty());
        let security: Vec<_> = events
            .iter()
            .filter(|e| e.target == "session::security")
            .collect();
        assert_eq!(security.len(), 1, "{cookie_value}: {events:?}");
        assert!(
            security[0].fields.contains(reason),
            "{cookie_value}: {events:?}"
        );
        let token = cookie_value.split_once('=').unwrap().1;
        assert!(
            events.iter().all(|e| !e.fields.contains(token)),
            "L4: no token in logs"
        );
    }
}

#[test]
fn structurally_damaged_timestamps_are_rejected_with_a_reason() {
    // B4
    for t in [
        r#""soon""#,
        "[1]",
        "[1,2,3]",
        "[-5,1]",
        "[1.5,2]",
        "[null,1]",
        "{}",
    ] {
        let payload = format!(r#"{{"i":"x","d":[{{"n":1}},{{}}],"t":{t}}}"#);
        let (session, events) = capture(|| {
            block_on(manager(CookieStorage::new()).load(Some(&signed(&payload)))).unwrap()
        });
        assert!(session.is_empty(), "{t}");
        assert!(
            events
                .iter()
                .any(|e| e.fields.contains("malformed-timestamps")),
            "{t}: {events:?}"
        );
    }
}

async fn resigns_a_cookie_verified_by_an_old_secret<S: Storage>(storage: S) {
    // C4: upgrade on read, even when the session is unchanged.
    let old_secret = "the-old-secret-that-is-32-bytes!!!";
    let old = SessionCookie::builder("sid")
        .secret(old_secret)
        .build()
        .unwrap();
    let rotated = SessionCookie::builder("sid")
        .secrets([SECRET, old_secret])
        .build()
        .unwrap();
    let old_app = SessionManager::new(old, storage).with_expiry(session::Expiry::none());
    let mut browser = Browser::default();
    browser.count(&old_app).await;
    let storage = old_app_into_storage(old_app);
    let new_app = SessionManager::new(rotated, storage).with_expiry(session::Expiry::none());
    let (count, commit) = browser
        .request(&new_app, |s| s.get::<u64>("count").unwrap())
        .await;
    assert_eq!(count, Some(1));
    let Commit::Set(set_cookie) = commit else {
        panic!("re-signed: {commit:?}")
    };
    let newest_only = cookie();
    let pair = set_cookie.split(';').next().unwrap();
    assert!(matches!(
        newest_only.read(Some(pair)),
        Incoming::Verified {
            stale_secret: false,
            ..
        }
    ));
    let ((), commit) = browser.request(&new_app, |_| ()).await;
    assert_eq!(commit, Commit::Unchanged, "once re-signed, quiet again");
}

fn old_app_into_storage<S: Storage>(app: SessionManager<S>) -> S {
    app.into_storage()
}

#[tokio::test]
async fn a_cookie_verified_by_an_old_secret_is_re_signed_with_cookie_storage() {
    resigns_a_cookie_verified_by_an_old_secret(CookieStorage::new()).await;
}

#[tokio::test]
async fn a_cookie_verified_by_an_old_secret_is_re_signed_with_memory_storage() {
    resigns_a_cookie_verified_by_an_old_secret(MemoryStorage::new()).await;
}
