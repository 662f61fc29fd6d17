//! Encrypted cookie storage's round trip beside its floor and beside the signed format, in the
//! same run. The floor does the same job with the raw parts and nothing else: find the pair,
//! base64url-decode, open with XChaCha20-Poly1305 (the key derived once, as the storage
//! does), parse into a dynamic map, change it, serialize, seal under a fresh random nonce,
//! encode, format. It decrypts the storage's own cookie, so it also checks the wire format the
//! crate documents (nonce ‖ ciphertext ‖ tag, the cookie name in the associated data).
//!
//! Run with `cargo bench -p session-kit --features encrypted --bench encrypted_cookie`;
//! `scripts/bench-report` prints the medians and ratios.

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305, XNonce};
use criterion::{Criterion, criterion_group, criterion_main};

mod cycle;
use cycle::{request, runtime, seeded_header};
use serde_json::{Value, json};
use session::{CookieStorage, Expiry, SessionCookie, SessionManager};

const SECRET: &str = "benchmark-secret-of-at-least-32-bytes";
const ATTRIBUTES: &str = "; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax; Secure";
/// The documented key derivation and associated data (`cookie/sealing.rs`).
const KEY_INFO: &[u8] = b"session cookie encryption key v1 (xchacha20poly1305)";
const AAD: &[u8] = b"session cookie v1\0sid";

fn manager(storage: CookieStorage) -> SessionManager<CookieStorage> {
    let cookie = SessionCookie::builder("sid")
        .secret(SECRET)
        .build()
        .expect("a valid cookie");
    SessionManager::new(cookie, storage).with_expiry(Expiry::default())
}

fn cipher() -> XChaCha20Poly1305 {
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, SECRET.as_bytes())
        .expand(KEY_INFO, &mut key)
        .expect("32 bytes");
    XChaCha20Poly1305::new(&key.into())
}

/// The floor: open, parse into a dynamic map, change, serialize, seal, encode, format.
fn floor(cipher: &XChaCha20Poly1305, header: &str) -> String {
    let value = header.split_once("sid=").expect("the pair").1;
    let mut sealed = URL_SAFE_NO_PAD.decode(value).expect("base64url");
    let (nonce, rest) = sealed.split_at_mut(24);
    let nonce = XNonce::try_from(&*nonce).expect("24 bytes");
    let (body, tag) = rest.split_at_mut(rest.len() - 16);
    let tag = (&*tag).try_into().expect("16 bytes");
    cipher
        .decrypt_inout_detached(&nonce, AAD, InOutBuf::from(&mut *body), tag)
        .expect("opens");
    let mut data: Value = serde_json::from_slice(body).expect("json");
    let count = data["d"][0]["count"].as_u64().expect("a count");
    data["d"][0]["count"] = json!(count + 1);
    data["d"][1] = json!({});
    let json = serde_json::to_vec(&data).expect("json");
    let mut out = vec![0u8; 24 + json.len() + 16];
    let (nonce, rest) = out.split_at_mut(24);
    getrandom::fill(nonce).expect("randomness");
    let nonce = XNonce::try_from(&*nonce).expect("24 bytes");
    let (body, tag_out) = rest.split_at_mut(json.len());
    body.copy_from_slice(&json);
    let tag = cipher
        .encrypt_inout_detached(&nonce, AAD, InOutBuf::from(body))
        .expect("seals");
    tag_out.copy_from_slice(&tag);
    format!("sid={}{ATTRIBUTES}", URL_SAFE_NO_PAD.encode(&out))
}

fn encrypted_cookie(c: &mut Criterion) {
    let rt = runtime();
    let encrypted = manager(CookieStorage::encrypted());
    let signed = manager(CookieStorage::new());
    let header = seeded_header(&rt, &encrypted);
    let signed_header = seeded_header(&rt, &signed);
    let cipher = cipher();
    // The floor opens the storage's cookie, and the storage opens the floor's.
    let from_floor = floor(&cipher, &header);
    let pair = from_floor.split(';').next().expect("a pair");
    let reread = rt.block_on(encrypted.load(Some(pair))).expect("load");
    assert_eq!(reread.get::<u64>("count").expect("a number"), Some(1));

    let mut group = c.benchmark_group("encrypted_cookie");
    group.bench_function("floor", |b| b.iter(|| floor(&cipher, black_box(&header))));
    group.bench_function("session", |b| {
        b.iter(|| request(&rt, &encrypted, black_box(&header)));
    });
    group.bench_function("signed", |b| {
        b.iter(|| request(&rt, &signed, black_box(&signed_header)));
    });
    group.finish();
}

criterion_group!(benches, encrypted_cookie);
criterion_main!(benches);
