//! Golden vectors written and read by the real npm packages (`@remix-run/session` 0.4.2,
//! `@remix-run/cookie` 0.5.3), from `tests/fixtures/remix-vectors.json`.

use serde_json::{Value, json};
use session::cookie::Incoming;
use session::{
    CookieStorage, Expiry, LoadedSession, MemoryStorage, SameSite, SessionCookie, SessionManager,
};

const VECTORS: &str = include_str!("../fixtures/remix-vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

/// A cookie configured as the vector's Remix cookie was: no HttpOnly or Secure unless asked.
fn remix_cookie(name: &str, secrets: &Value, options: Option<&Value>) -> SessionCookie {
    let secrets: Vec<&str> = secrets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let option = |key: &str| options.and_then(|o| o.get(key));
    let mut builder = SessionCookie::builder(name)
        .secrets(secrets)
        .allow_short_secrets()
        .http_only(option("httpOnly") == Some(&json!(true)))
        .secure(option("secure") == Some(&json!(true)));
    if let Some(max_age) = option("maxAge").and_then(Value::as_u64) {
        builder = builder.max_age(std::time::Duration::from_secs(max_age));
    }
    if let Some(same_site) = option("sameSite").and_then(Value::as_str) {
        builder = builder.same_site(match same_site {
            "Strict" => SameSite::Strict,
            "None" => SameSite::None,
            _ => SameSite::Lax,
        });
    }
    builder.build().unwrap()
}

/// Cookie storage on `cookie`, without expiry, as Remix has.
fn cookie_manager(cookie: &SessionCookie) -> SessionManager<CookieStorage> {
    SessionManager::new(cookie.clone(), CookieStorage::new()).with_expiry(Expiry::none())
}

/// A session whose id is the vector's (Remix ids need not look like ours): a signed payload
/// carrying it, loaded through the public API.
async fn session_with_id(cookie: &SessionCookie, id: &str) -> LoadedSession {
    let payload = json!({"i": id}).to_string();
    let set_cookie = cookie.to_set_cookie(&payload, None).unwrap();
    cookie_manager(cookie)
        .load(set_cookie.split(';').next())
        .await
        .unwrap()
}

/// Commits a session; its payload and `Set-Cookie`.
async fn write(cookie: &SessionCookie, session: &LoadedSession) -> (String, String) {
    let set_cookie = cookie_manager(cookie)
        .commit(session)
        .await
        .unwrap()
        .into_header()
        .expect("a dirty session saves");
    let Incoming::Verified { value, .. } = cookie.read(set_cookie.split(';').next()) else {
        panic!("our own cookie verifies")
    };
    (value, set_cookie)
}

/// The writes' inputs with their keys in the fixture's order.
fn ordered_inputs() -> Vec<OrderedInput> {
    #[derive(serde::Deserialize)]
    struct Writes {
        writes: Vec<Write>,
    }
    #[derive(serde::Deserialize)]
    struct Write {
        input: OrderedInput,
    }
    let writes: Writes = serde_json::from_str(VECTORS).unwrap();
    writes.writes.into_iter().map(|write| write.input).collect()
}

#[derive(serde::Deserialize)]
struct OrderedInput {
    data: session::Map,
    flash: session::Map,
}

#[tokio::test]
async fn our_cookies_are_byte_identical_to_the_first_eight_writes() {
    let vectors = vectors();
    let writes = vectors["writes"].as_array().unwrap();
    assert_eq!(writes.len(), 9);
    for (index, vector) in writes[..8].iter().enumerate() {
        let input = &vector["input"];
        let cookie = remix_cookie(
            input["name"].as_str().unwrap(),
            &input["secrets"],
            input.get("cookieOptions"),
        );
        let mut session = session_with_id(&cookie, input["id"].as_str().unwrap()).await;
        // In the order Remix's input gave them, which a `Value` (sorted) does not keep.
        let ordered = &ordered_inputs()[index];
        for (key, value) in ordered.data.iter() {
            session.set(key, value).unwrap();
        }
        for (key, value) in ordered.flash.iter() {
            session.flash(key, value).unwrap();
        }
        let (payload, set_cookie) = write(&cookie, &session).await;
        assert_eq!(payload, vector["payload"].as_str().unwrap());
        assert_eq!(set_cookie, vector["setCookie"].as_str().unwrap());
    }
}

#[tokio::test]
async fn the_ninth_write_follows_javascript_key_order_and_number_formatting() {
    let vectors = vectors();
    let vector = &vectors["writes"][8];
    let cookie = remix_cookie("s", &json!(["secret1"]), None);
    // Spec §4.5 V9: the keys were set in this order, with these values.
    let mut session = session_with_id(&cookie, "k").await;
    session.set("b", 1).unwrap();
    session.set("a", 2).unwrap();
    session.set("10", 3).unwrap();
    session.set("2", 4).unwrap();
    session.set("f", 1.0_f64).unwrap();
    session.set("big", 1e21_f64).unwrap();
    session.set("s", "</script>\u{2028}\"\\").unwrap();
    let (payload, set_cookie) = write(&cookie, &session).await;
    assert_eq!(payload, vector["payload"].as_str().unwrap());
    assert_eq!(set_cookie, vector["setCookie"].as_str().unwrap());

    // And Remix's cookie reads back equal here.
    let sessions = SessionManager::new(cookie, CookieStorage::new()).with_expiry(Expiry::none());
    let pair = set_cookie.split(';').next().unwrap();
    let read = sessions.load(Some(pair)).await.unwrap();
    assert_eq!(read.get::<f64>("big").unwrap(), Some(1e21));
    assert_eq!(read.get::<f64>("f").unwrap(), Some(1.0));
    assert_eq!(
        read.get::<String>("s").unwrap().as_deref(),
        Some("</script>\u{2028}\"\\")
    );
    assert_eq!(read.values().len(), 7);
}

#[tokio::test]
async fn every_read_vector_gets_remix_s_verdict_data_flash_and_id() {
    let vectors = vectors();
    let reads = vectors["reads"].as_array().unwrap();
    assert_eq!(reads.len(), 56);
    for vector in reads {
        let why = vector["why"].as_str().unwrap();
        let cookie = remix_cookie(vector["name"].as_str().unwrap(), &vector["secrets"], None);
        let header = vector["cookie"].as_str();
        let incoming = cookie.read(header);
        match vector["reason"].as_str().unwrap() {
            "no-cookie" => assert_eq!(incoming, Incoming::Absent, "{why}"),
            "empty-value" => assert_eq!(incoming, Incoming::Empty, "{why}"),
            "invalid-signature-or-encoding" => assert_eq!(incoming, Incoming::Rejected, "{why}"),
            "ok" | "malformed-payload" => {
                assert!(matches!(incoming, Incoming::Verified { .. }), "{why}");
            }
            other => panic!("unknown reason {other}"),
        }

        let sessions =
            SessionManager::new(cookie, CookieStorage::new()).with_expiry(Expiry::none());
        let session = sessions.load(header).await.unwrap();
        let object = |value: &Value| Value::Object(value.as_object().cloned().unwrap_or_default());
        assert_eq!(
            session.values().to_value(),
            object(&vector["data"]),
            "{why}"
        );
        assert_eq!(
            session.incoming_flash().to_value(),
            object(&vector["flash"]),
            "{why}"
        );
        match vector["id"].as_str() {
            Some(id) if vector["idIsFresh"] != json!(true) => {
                assert_eq!(session.id().as_str(), id, "{why}");
            }
            _ => assert_eq!(session.id().as_str().len(), 32, "{why}: a fresh id of ours"),
        }
        if let Some(next) = vector.get("nextSetCookie") {
            let commit = sessions.commit(&session).await.unwrap();
            assert_eq!(commit.header(), next.as_str(), "{why}");
        }
    }
}

#[test]
fn the_signing_vectors_match() {
    use base64::Engine as _;
    for vector in vectors()["signing"].as_array().unwrap() {
        let signed_text = vector["value"].as_str().unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(signed_text)
            .unwrap();
        let cookie = remix_cookie("n", &json!([vector["secret"]]), None);
        let set = cookie
            .to_set_cookie(std::str::from_utf8(&raw).unwrap(), None)
            .unwrap();
        let value = set.split(';').next().unwrap().strip_prefix("n=").unwrap();
        assert_eq!(value, vector["signed"].as_str().unwrap());
    }
}

#[tokio::test]
async fn a_remix_id_storage_cookie_reaches_a_shared_memory_store() {
    // Spec §4.5 V7: Remix's id cookies carry UUIDs, which pass our id validation.
    let cookie = remix_cookie("__session", &json!(["secret1"]), None);
    let sessions = SessionManager::new(cookie, MemoryStorage::new())
        .with_expiry(Expiry::none())
        .adopt_unknown_ids();
    let header = "__session=MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw.mGCClHgomJV0Lzo5rMrN8sNhwPcbUVrLiO8E90/x27w";
    let mut session = sessions.load(Some(header)).await.unwrap();
    assert_eq!(
        session.id().as_str(),
        "00000000-0000-4000-8000-000000000000"
    );
    session.set("count", 1).unwrap();
    let commit = sessions.commit(&session).await.unwrap();
    assert!(commit.header().unwrap().starts_with(header));
}
