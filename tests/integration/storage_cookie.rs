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
    let top: session::Map = serde_json::from_str(&payload).unwrap();
    assert_eq!(top.keys().collect::<Vec<_>>(), ["i", "d", "t"]);
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
    // L1: no stack overflow; past serde_json's depth limit (128) it is refused.
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

/// Loads a payload signed by the test secret, as a Remix app with that secret would send it.
async fn load_signed(payload: &str) -> session::LoadedSession {
    let signed = cookie().to_set_cookie(payload, None).unwrap();
    let pair = signed.split(';').next().unwrap().to_owned();
    manager(CookieStorage::new())
        .load(Some(&pair))
        .await
        .unwrap()
}

#[tokio::test]
async fn lone_surrogates_from_json_stringify_read_as_the_replacement_character() {
    // Review defect 11: `JSON.stringify("\ud800")` is valid JSON that serde_json refuses, so a
    // Remix-written session was lost. Lone surrogates become U+FFFD; pairs stay emoji; an
    // escaped backslash before `ud800` is text, not an escape.
    let payload = r#"{"i":"remix-id-0000000000000000","d":[{"high":"a\ud800b","low":"\udc00","end":"cut\ud83d","pair":"\ud83d\ude00","text":"\\ud800","upper":"\uD800"},{"note":"\udfff"}]}"#;
    let session = load_signed(payload).await;
    assert_eq!(session.id().as_str(), "remix-id-0000000000000000");
    let text = |key: &str| session.get::<String>(key).unwrap().unwrap();
    assert_eq!(text("high"), "a\u{fffd}b");
    assert_eq!(text("low"), "\u{fffd}");
    assert_eq!(text("end"), "cut\u{fffd}");
    assert_eq!(text("pair"), "😀");
    assert_eq!(text("text"), "\\ud800");
    assert_eq!(text("upper"), "\u{fffd}");
    // The text is kept as Remix wrote it, so writing the session back changes nothing.
    assert_eq!(session.value("high").unwrap().as_str(), r#""a\ud800b""#);
    assert_eq!(session.value("upper").unwrap().as_str(), r#""\uD800""#);
    assert_eq!(
        session.flashed::<String>("note").unwrap().as_deref(),
        Some("\u{fffd}")
    );
}

#[tokio::test]
async fn the_deepest_value_allowed_round_trips_and_a_deeper_one_is_refused_at_set() {
    // Review defect 12: values nested past what the reader takes were written, then loaded as
    // a fresh session.
    let sessions = manager(CookieStorage::new());
    let mut deep = json!("bottom");
    for _ in 0..session::Session::MAX_DEPTH {
        deep = json!({ "down": [deep] }).pointer("/down").cloned().unwrap();
    }
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| {
            s.set("deep", &deep).unwrap();
            s.flash("deep", &deep).unwrap();
            let err = s.set("deeper", json!([deep.clone()])).unwrap_err();
            assert!(
                matches!(err, session::Error::TooDeep { ref key, limit: 100 } if key == "deeper")
            );
            assert!(s.flash("deeper", json!({ "a": deep.clone() })).is_err());
        })
        .await;
    let (read, _) = browser
        .request(&sessions, |s| {
            (
                s.value("deep").cloned(),
                s.flashed::<serde_json::Value>("deep").unwrap(),
            )
        })
        .await;
    assert_eq!(
        read.0.map(|json| json.to_value().unwrap()).as_ref(),
        Some(&deep)
    );
    assert_eq!(read.1.as_ref(), Some(&deep));
}

#[tokio::test]
async fn integers_beyond_two_to_the_53_stay_exact_and_non_finite_floats_remove_the_key() {
    // Review defect 13, the rule in the README's interop table: exact JSON text, not floats.
    let sessions = manager(CookieStorage::new());
    let mut browser = Browser::default();
    let _ = browser
        .request(&sessions, |s| {
            s.set("big", u64::MAX).unwrap();
            s.set("small", i64::MIN).unwrap();
            s.set("past_53", 9_007_199_254_740_993_u64).unwrap();
            s.set("nan", f64::NAN).unwrap();
            s.set("inf", f64::INFINITY).unwrap();
        })
        .await;
    let payload = decode(browser.jar.as_deref().unwrap());
    assert!(
        payload.contains(
            r#""big":18446744073709551615,"small":-9223372036854775808,"past_53":9007199254740993"#
        ),
        "{payload}"
    );
    assert!(
        !payload.contains("nan") && !payload.contains("inf"),
        "{payload}"
    );
    let (read, _) = browser
        .request(&sessions, |s| {
            (
                s.get::<u64>("big").unwrap(),
                s.get::<u64>("past_53").unwrap(),
                s.contains_key("nan"),
            )
        })
        .await;
    assert_eq!(read, (Some(u64::MAX), Some(9_007_199_254_740_993), false));
}
