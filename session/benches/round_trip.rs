//! Request round trips through the session stack, each beside its floor: the same bytes put
//! through the raw work it cannot avoid (serde_json, base64, HMAC, a map lookup) and nothing
//! else, measured in the same run.
//!
//! Run with `cargo bench -p session-kit --bench round_trip`; `scripts/bench-report` prints the
//! medians and ratios.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};

mod cycle;
use cycle::{request, runtime, seeded_header};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use session::{CookieStorage, Expiry, MemoryStorage, SessionCookie, SessionManager};
use sha2::Sha256;

const SECRET: &str = "benchmark-secret-of-at-least-32-bytes";
const ATTRIBUTES: &str = "; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax; Secure";

fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret(SECRET)
        .build()
        .expect("a valid cookie")
}

fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("any key length")
}

/// The floor of a cookie-storage round trip: verify, decode, parse into a dynamic map, change,
/// serialize, encode, sign, format. No cookie-header grammar, no session rules.
fn cookie_floor(mac: &Hmac<Sha256>, header: &str) -> String {
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
fn memory_floor(
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

fn cookie_storage(c: &mut Criterion) {
    let rt = runtime();
    let sessions =
        SessionManager::new(cookie(), CookieStorage::new()).with_expiry(Expiry::default());
    let header = seeded_header(&rt, &sessions);
    let mac = hmac(SECRET.as_bytes());
    // Both sides start from the same bytes and must do the same job.
    assert!(cookie_floor(&mac, &header).starts_with("sid="));

    let mut group = c.benchmark_group("cookie_storage");
    group.bench_function("floor", |b| {
        b.iter(|| cookie_floor(&mac, black_box(&header)));
    });
    group.bench_function("session", |b| {
        b.iter(|| request(&rt, &sessions, black_box(&header)));
    });
    group.finish();
}

fn memory_storage(c: &mut Criterion) {
    let rt = runtime();
    let sessions =
        SessionManager::new(cookie(), MemoryStorage::new()).with_expiry(Expiry::default());
    let header = seeded_header(&rt, &sessions);

    // The floor's store holds the same record bytes under the same id.
    let mac = hmac(SECRET.as_bytes());
    let session = rt.block_on(sessions.load(Some(&header))).expect("load");
    let stamp = session::expiry::Timestamps::at(0);
    let record = session::store::Record::new(
        session.values().clone(),
        session.outgoing_flash().clone(),
        stamp,
    )
    .with_deadline(Expiry::default().deadline(stamp))
    .to_json();
    let floor_store = RwLock::new(HashMap::from([(session.id().as_str().to_owned(), record)]));
    drop(session);
    assert!(memory_floor(&mac, &floor_store, &header).starts_with("sid="));

    let mut group = c.benchmark_group("memory_storage");
    group.bench_function("floor", |b| {
        b.iter(|| memory_floor(&mac, &floor_store, black_box(&header)));
    });
    group.bench_function("session", |b| {
        b.iter(|| request(&rt, &sessions, black_box(&header)));
    });
    // What the presign shortcut (re-sending the incoming signed id without a new HMAC) could
    // save at most: signing the id into a `Set-Cookie`, measured beside the round trip.
    let id = rt
        .block_on(sessions.load(Some(&header)))
        .expect("load")
        .id()
        .clone();
    let presign_cookie = cookie();
    group.bench_function("sign id", |b| {
        b.iter(|| presign_cookie.to_set_cookie(black_box(id.as_str()), Some(1_209_600)));
    });
    group.finish();
}

criterion_group!(benches, cookie_storage, memory_storage);
criterion_main!(benches);
