//! What only cookie storage does: Remix's cookie-storage tests that differ from the id
//! storages, and its payload handling.

use serde_json::json;
use session::{Commit, CookieStorage, SessionManager};

use crate::common::{Browser, block_on, capture, cookie, manager};

#[test]
fn logs_a_warning_when_the_id_is_regenerated_with_delete_old() {
    let sessions = manager(CookieStorage::new());
    let (count, events) = capture(|| {
        block_on(async {
            let mut browser = Browser::default();
            browser.count(&sessions).await;
            let _ = browser
                .request(&sessions, |s| {
                    s.regenerate_id(session::OldId::Delete).unwrap();
                })
                .await;
            browser.count(&sessions).await
        })
    });
    assert_eq!(count, 2, "the data persists");
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert!(warnings[0].fields.contains(
        "Session ID was regenerated, but the old session cannot be deleted when using cookie storage"
    ));
}

#[tokio::test]
async fn the_payload_is_remix_s_plus_timestamps_when_expiry_is_enforced() {
    let sessions = SessionManager::new(cookie(), CookieStorage::new())
        .with_clock(session::expiry::ManualClock::new(1_700_000_000));
    let mut browser = Browser::default();
    let _ = browser.request(&sessions, |s| s.set("a", 1).unwrap()).await;
    let payload = decode(browser.jar.as_deref().unwrap());
    let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(value["d"], json!([{"a": 1}, {}]));
    assert_eq!(value["t"], json!([1_700_000_000_u64, 1_700_000_000_u64]));
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["i", "d", "t"]);
}

/// The JSON inside a cookie pair.
fn decode(pair: &str) -> String {
    use base64::Engine as _;
    let value = pair.split_once('=').unwrap().1;
    let (payload, _) = value.rsplit_once('.').unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn deeply_nested_json_under_a_valid_signature_gives_a_fresh_session() {
    // L1: no stack overflow; serde_json's depth limit refuses it.
    let payload = format!(
        r#"{{"i":"x","d":[{{"a":{}1{}}},{{}}]}}"#,
        "[".repeat(1_000),
        "]".repeat(1_000)
    );
    let signed = cookie().to_set_cookie(&payload, None).unwrap();
    let pair = signed.split(';').next().unwrap();
    let sessions = manager(CookieStorage::new());
    let session = sessions.load(Some(pair)).await.unwrap();
    assert!(session.is_empty());
    assert_ne!(session.id().as_str(), "x");
}

#[tokio::test]
async fn a_session_too_large_for_a_cookie_is_a_typed_error_at_commit() {
    let sessions = manager(CookieStorage::new());
    let mut session = sessions.load(None).await.unwrap();
    session.set("blob", "x".repeat(5_000)).unwrap();
    let err = sessions.commit(&session).await.unwrap_err();
    assert!(matches!(
        err,
        session::Error::CookieTooLarge { limit: 4096, .. }
    ));
}

#[tokio::test]
async fn a_client_cannot_choose_its_id_through_the_cookie_storage() {
    // E6: ids come from the generator or a verified payload only.
    let sessions = manager(CookieStorage::new());
    let forged = "sid=eyJpIjoiYXR0YWNrZXIiLCJkIjpbe30se31dfQ==";
    let mut browser = Browser::with(Some(forged.to_owned()));
    let (id, commit) = browser
        .request(&sessions, |s| {
            s.set("a", 1).unwrap();
            s.id().clone()
        })
        .await;
    assert_ne!(id.as_str(), "attacker");
    assert!(matches!(commit, Commit::Set(_)));
}
