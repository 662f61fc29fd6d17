//! Encrypted cookie storage: the session in an XChaCha20-Poly1305 cookie. It round-trips with
//! flash, expiry and typed fields; the client cannot read it; rotation re-encrypts under the
//! first secret; and a tampered, truncated, re-nonced, renamed or foreign cookie gives a fresh
//! session, never an error.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;

use session::cookie::MAX_COOKIE_SIZE;
use session::{CookieStorage, Error, Expiry, SessionCookie, SessionManager, SessionSchema};

use crate::common::{Browser, SECRET, block_on, manager, pair_of, timed_manager};

fn encrypted() -> SessionManager<CookieStorage> {
    manager(CookieStorage::encrypted())
}

fn with_secrets(secrets: &[&str]) -> SessionManager<CookieStorage> {
    let mut builder = SessionCookie::builder("sid");
    for secret in secrets {
        builder = builder.secret(*secret);
    }
    SessionManager::new(builder.build().unwrap(), CookieStorage::encrypted())
        .with_expiry(Expiry::none())
}

/// The value of a `sid=value` pair.
fn value(pair: &str) -> &str {
    pair.strip_prefix("sid=").unwrap()
}

async fn signed_in(sessions: &SessionManager<CookieStorage>) -> Browser {
    let mut browser = Browser::default();
    let _ = browser
        .request(sessions, |s| {
            s.set("user", "ada").unwrap();
            s.flash("notice", "welcome").unwrap();
        })
        .await;
    browser
}

#[tokio::test]
async fn values_and_flash_round_trip_and_the_flash_lasts_one_request() {
    let sessions = encrypted();
    let mut browser = signed_in(&sessions).await;
    let (seen, _) = browser
        .request(&sessions, |s| {
            (
                s.get::<String>("user").unwrap(),
                s.get::<String>("notice").unwrap(),
            )
        })
        .await;
    assert_eq!(seen, (Some("ada".into()), Some("welcome".into())));
    let (later, _) = browser
        .request(&sessions, |s| s.get::<String>("notice").unwrap())
        .await;
    assert_eq!(later, None, "read on exactly the next request");
    assert_eq!(
        browser
            .request(&sessions, |s| s.get::<String>("user").unwrap())
            .await
            .0
            .as_deref(),
        Some("ada")
    );
}

#[tokio::test]
async fn the_client_sees_neither_the_values_nor_the_json_and_every_response_has_a_new_nonce() {
    let sessions = encrypted();
    let browser = signed_in(&sessions).await;
    let pair = browser.jar.clone().unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(value(&pair)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret_part in ["ada", "welcome", "user", "\"d\""] {
        assert!(!text.contains(secret_part), "{secret_part} is visible");
    }
    // A signed cookie of the same session would be base64 of JSON.
    assert!(!value(&pair).starts_with("eyJ"));
    let mut again = browser.clone();
    let _ = again
        .request(&sessions, |s| s.set("user", "ada").unwrap())
        .await;
    assert_ne!(
        again.jar, browser.jar,
        "a fresh nonce, so a fresh ciphertext"
    );
}

#[tokio::test]
async fn an_older_secret_still_opens_and_the_next_response_re_encrypts_under_the_first() {
    let old = with_secrets(&[SECRET]);
    let browser = signed_in(&old).await;
    let rotated = with_secrets(&["a-brand-new-secret-of-32-bytes-or-more", SECRET]);
    let mut reader = browser.clone();
    let (user, commit) = reader
        .request(&rotated, |s| s.get::<String>("user").unwrap())
        .await;
    assert_eq!(user.as_deref(), Some("ada"));
    assert!(
        commit.header().is_some(),
        "read with an older secret: re-sent though nothing changed"
    );
    // The re-encrypted cookie opens under the new secret alone, not under the old one.
    let new_only = with_secrets(&["a-brand-new-secret-of-32-bytes-or-more"]);
    let mut fresh = reader.clone();
    let (user, _) = fresh
        .request(&new_only, |s| s.get::<String>("user").unwrap())
        .await;
    assert_eq!(user.as_deref(), Some("ada"));
    let (user, _) = reader
        .clone()
        .request(&old, |s| s.get::<String>("user").unwrap())
        .await;
    assert_eq!(
        user, None,
        "the old secret alone cannot read the new cookie"
    );
    // Read with the first secret, an unchanged session sends nothing.
    let ((), commit) = reader.request(&rotated, |_| ()).await;
    assert!(commit.header().is_none());
}

#[tokio::test]
async fn a_cookie_moved_to_another_name_or_made_by_another_secret_is_a_fresh_session() {
    let sessions = encrypted();
    let pair = signed_in(&sessions).await.jar.unwrap();
    // The same value under another cookie name: the name is in the associated data.
    let other = SessionManager::new(
        SessionCookie::builder("other")
            .secret(SECRET)
            .build()
            .unwrap(),
        CookieStorage::encrypted(),
    )
    .with_expiry(Expiry::none());
    let moved = format!("other={}", value(&pair));
    let session = other.load(Some(&moved)).await.unwrap();
    assert!(session.is_empty());
    // Another application's key.
    let foreign = with_secrets(&["someone-else-s-secret-of-32-bytes!!"]);
    assert!(foreign.load(Some(&pair)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_signed_cookie_is_not_read_as_an_encrypted_one_nor_the_reverse() {
    let signed = manager(CookieStorage::new());
    let signed_pair = signed_in(&signed).await.jar.unwrap();
    let encrypted_pair = signed_in(&encrypted()).await.jar.unwrap();
    assert!(
        encrypted()
            .load(Some(&signed_pair))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(signed.load(Some(&encrypted_pair)).await.unwrap().is_empty());
}

#[tokio::test]
async fn tampered_truncated_renonced_or_garbage_values_give_a_fresh_session() {
    let sessions = encrypted();
    let pair = signed_in(&sessions).await.jar.unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(value(&pair)).unwrap();
    let mut candidates = Vec::new();
    // A new nonce in front of the same ciphertext and tag.
    let mut renonced = bytes.clone();
    renonced[0] ^= 0x80;
    candidates.push(URL_SAFE_NO_PAD.encode(&renonced));
    // Every truncation, and one byte too many.
    for len in 0..bytes.len() {
        candidates.push(URL_SAFE_NO_PAD.encode(&bytes[..len]));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    candidates.push(URL_SAFE_NO_PAD.encode(&longer));
    // A flipped tag bit, a flipped ciphertext bit.
    for at in [bytes.len() - 1, 30] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1;
        candidates.push(URL_SAFE_NO_PAD.encode(&flipped));
    }
    // Not base64url at all, standard base64, padded.
    candidates.push("not base64!".into());
    candidates.push(base64::engine::general_purpose::STANDARD.encode(&bytes));
    candidates.push(format!("{}=", value(&pair)));
    candidates.push("A".repeat(5000));
    for candidate in candidates {
        let header = format!("theme=dark; sid={candidate}");
        let session = sessions.load(Some(&header)).await.unwrap();
        assert!(session.is_empty(), "{candidate:.40} opened");
    }
}

#[tokio::test]
async fn the_size_limit_counts_the_encrypted_encoded_cookie() {
    // The nonce and tag add 40 bytes before encoding: a session just under the limit as a
    // signed cookie is over it encrypted, and the error gives the size that would be sent.
    let sealed = encrypted();
    let mut window = None;
    for len in 2_900..3_100 {
        let commit = |sessions: SessionManager<CookieStorage>| async move {
            let mut session = sessions.load(None).await.unwrap();
            session.set("blob", "x".repeat(len)).unwrap();
            sessions.commit(&session).await.map(|_| ())
        };
        let signed_result = commit(manager(CookieStorage::new())).await;
        let sealed_result = commit(encrypted()).await;
        if signed_result.is_ok()
            && let Err(Error::CookieTooLarge { size, limit }) = sealed_result
        {
            window = Some((len, size, limit));
            break;
        }
    }
    let (len, size, limit) = window.expect("a size that fits signed but not encrypted");
    assert_eq!(limit, MAX_COOKIE_SIZE);
    // `sid=` + base64url, unpadded, of nonce (24) + payload + tag (16); the payload is
    // `{"i":"<32-char id>","d":[{"blob":"x…"},{}]}`.
    let payload = 6 + 32 + 16 + len + 7;
    assert_eq!(size, 4 + (4 * (24 + payload + 16)).div_ceil(3));
    // Well under the limit, it is sent, and what is sent fits.
    let mut session = sealed.load(None).await.unwrap();
    session.set("blob", "x".repeat(2_800)).unwrap();
    let set_cookie = sealed.commit(&session).await.unwrap();
    let pair = pair_of(set_cookie.header().unwrap()).unwrap();
    assert!(pair.len() <= MAX_COOKIE_SIZE);
}

#[test]
fn the_idle_timeout_holds_inside_the_encrypted_payload() {
    block_on(async {
        let expiry = Expiry::builder()
            .idle_timeout(Duration::from_mins(1))
            .build()
            .unwrap();
        let (sessions, clock) = timed_manager(CookieStorage::encrypted(), expiry, 1_000);
        let mut browser = signed_in(&sessions).await;
        clock.advance(Duration::from_secs(59));
        let (user, _) = browser
            .request(&sessions, |s| s.get::<String>("user").unwrap())
            .await;
        assert_eq!(user.as_deref(), Some("ada"));
        clock.advance(Duration::from_secs(61));
        let (user, _) = browser
            .request(&sessions, |s| s.get::<String>("user").unwrap())
            .await;
        assert_eq!(user, None, "idle past the timeout: a fresh session");
    });
}

#[derive(SessionSchema, Debug, Default, PartialEq)]
struct Visit {
    user: Option<String>,
    #[session(default)]
    visits: u32,
    #[session(flash)]
    notice: Option<String>,
}

#[tokio::test]
async fn typed_fields_and_typed_flash_work_in_an_encrypted_cookie() {
    let sessions = encrypted();
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| {
            let mut visit = Visit::view(s);
            visit.set_user("ada".to_owned()).unwrap();
            visit.set_visits(1).unwrap();
            visit.flash_notice("hello".into()).unwrap();
        })
        .await;
    let (read, _) = browser
        .request(&sessions, |s| {
            let visit = Visit::view(s);
            (
                visit.user().unwrap(),
                visit.visits(),
                visit.notice().unwrap(),
            )
        })
        .await;
    assert_eq!(read, (Some("ada".into()), 1, Some("hello".into())));
}
