//! Request round trips through the session stack, each beside its floor: the same bytes put
//! through the raw work it cannot avoid (serde_json, base64, HMAC, a map lookup) and nothing
//! else, measured in the same run.
//!
//! Run with `cargo bench -p session-kit --bench round_trip`; `scripts/bench-report` prints the
//! medians and ratios.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod cycle;
mod floors;
use cycle::{request, runtime, seeded_header};
use floors::{SECRET, cookie, cookie_floor, floor_store, hmac, memory_floor};
use session::{CookieStorage, Expiry, MemoryStorage, SessionManager};

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
    let floor_store = floor_store(&rt, &sessions, &header);
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
