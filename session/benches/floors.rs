//! The floors of the cookie and memory round trips (`round_trip`, `actix`): the raw work a
//! request cycle cannot avoid (serde_json, base64, HMAC, a map lookup) and nothing else.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use session::{Expiry, SessionCookie, SessionManager, Storage};
use sha2::Sha256;

pub(crate) const SECRET: &str = "benchmark-secret-of-at-least-32-bytes";
const ATTRIBUTES: &str = "; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax; Secure";

pub(crate) fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret(SECRET)
        .build()
        .expect("a valid cookie")
}

pub(crate) fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("any key length")
}

/// The floor of a cookie-storage round trip: verify, decode, parse into a dynamic map, change,
/// serialize, encode, sign, format. No cookie-header grammar, no session rules.
pub(crate) fn cookie_floor(mac: &Hmac<Sha256>, header: &str) -> String {
    let value = header.split_once("sid=").expect("the pair").1;
    let (payload, signature) = value.rsplit_once('.').expect("signed");
    let mut verifier = mac.clone();
    verifier.update(payload.as_bytes());
    let tag = STANDARD_NO_PAD.decode(signature).expect("base64");
    verifier.verify_slice(&tag).expect("valid");
    let json = STANDARD.decode(payload).expect("base64");
    let mut data: Value = serde_json::from_slice(&json).expect("json");
    let count = data["d"][0]["count"].as_u64().expect("a count");
    data["d"][0]["count"] = json!(count + 1);
    data["d"][1] = json!({});
    let out = serde_json::to_vec(&data).expect("json");
    let encoded = STANDARD.encode(out);
    let mut signer = mac.clone();
    signer.update(encoded.as_bytes());
    let tag = STANDARD_NO_PAD.encode(signer.finalize().into_bytes());
    format!("sid={encoded}.{tag}{ATTRIBUTES}")
}

/// The floor of a memory-storage round trip: verify the id's HMAC, look it up, parse the
/// stored JSON into a dynamic map, change it, serialize it back, store it.
pub(crate) fn memory_floor(
    mac: &Hmac<Sha256>,
    store: &RwLock<HashMap<String, Vec<u8>>>,
    header: &str,
) -> String {
    let value = header.split_once("sid=").expect("the pair").1;
    let (encoded_id, signature) = value.rsplit_once('.').expect("signed");
    let mut verifier = mac.clone();
    verifier.update(encoded_id.as_bytes());
    let tag = STANDARD_NO_PAD.decode(signature).expect("base64");
    verifier.verify_slice(&tag).expect("valid");
    let id = String::from_utf8(STANDARD.decode(encoded_id).expect("base64")).expect("utf-8");
    let stored = store
        .read()
        .expect("lock")
        .get(&id)
        .cloned()
        .expect("stored");
    let mut data: Value = serde_json::from_slice(&stored).expect("json");
    let count = data["d"][0]["count"].as_u64().expect("a count");
    data["d"][0]["count"] = json!(count + 1);
    data["d"][1] = json!({});
    let bytes = serde_json::to_vec(&data).expect("json");
    store.write().expect("lock").insert(id, bytes);
    format!("sid={value}{ATTRIBUTES}")
}

/// The floor's store: the record bytes `sessions` holds for `header`'s session, under its id.
pub(crate) fn floor_store<S: Storage>(
    rt: &tokio::runtime::Runtime,
    sessions: &SessionManager<S>,
    header: &str,
) -> RwLock<HashMap<String, Vec<u8>>> {
    let session = rt.block_on(sessions.load(Some(header))).expect("load");
    let stamp = session::expiry::Timestamps::at(0);
    let record = session::store::Record::new(
        session.values().clone(),
        session.outgoing_flash().clone(),
        stamp,
    )
    .with_deadline(Expiry::default().deadline(stamp))
    .to_json();
    RwLock::new(HashMap::from([(session.id().as_str().to_owned(), record)]))
}
