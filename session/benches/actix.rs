//! One request through actix-web with the session middleware, beside its floor: the same
//! actix-web app and request, with a handler that does the floor's raw work (`floors.rs`) on
//! the `Cookie` header and sets the `Set-Cookie` itself. The difference is what
//! `SessionMiddleware`, its extractor and the manager cost on top of actix-web. Each iteration
//! runs both (the paired method of `paired.rs`: the figure is the median of the per-pair
//! ratios, in `target/criterion/actix_<storage>/paired.json`), since this VM's timing drifts by
//! more than the difference between runs. The `manager` row is the manager's round trip
//! alone, without actix-web.
//!
//! Run with `cargo bench -p session-kit --features actix --bench actix`;
//! `scripts/bench-report` prints the medians and ratios.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench reports to its terminal"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header::{COOKIE, SET_COOKIE};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::Hmac;
use session::actix::{SessionHandle, SessionMiddleware};
use session::{CookieStorage, Expiry, MemoryStorage, SessionManager, Storage};
use sha2::Sha256;

mod cycle;
mod floors;
#[expect(dead_code, reason = "its pinning helpers serve the networked benches")]
mod paired;
use cycle::{request, runtime, seeded_header};
use floors::{SECRET, cookie, cookie_floor, floor_store, hmac, memory_floor};
use paired::Pairs;

/// The session handler: the round-trip benches' counter, through the extractor.
async fn count(session: SessionHandle) -> session::Result<HttpResponse> {
    cycle::handle(&mut *session.lock()?);
    Ok(HttpResponse::Ok().finish())
}

/// `iters` pairs of requests carrying `header`, one through `floor` and one through
/// `session`, each checked for its `Set-Cookie` and timed on its own; both timings go to
/// `pairs`, and the sum of the ones `pick` chooses is returned. One `block_on` per batch (the
/// executor is entered once per batch).
macro_rules! time_pairs {
    ($system:expr, $floor:expr, $session:expr, $header:expr, $pairs:expr, $iters:expr, $pick:expr) => {
        $system.block_on(async {
            let pick: fn(Duration, Duration) -> Duration = $pick;
            let mut total = Duration::ZERO;
            for _ in 0..$iters {
                let start = Instant::now();
                one_request!($floor, $header);
                let floor = start.elapsed();
                let start = Instant::now();
                one_request!($session, $header);
                let session = start.elapsed();
                $pairs.record(floor, session);
                total += pick(floor, session);
            }
            total
        })
    };
}

macro_rules! one_request {
    ($app:expr, $header:expr) => {{
        let request = test::TestRequest::get()
            .uri("/")
            .insert_header((COOKIE, black_box($header.as_str())))
            .to_request();
        let response = test::call_service($app, request).await;
        black_box(response.headers().get(SET_COOKIE).expect("a Set-Cookie"));
    }};
}

/// The group `$name`: the floor and the session rows, timed in pairs over the `floor` app and an
/// app wrapped in `sessions` that runs [`count`], and the manager's round trip alone.
macro_rules! bench_group {
    ($c:expr, $name:literal, $system:expr, $floor:expr, $sessions:expr, $header:expr) => {{
        let app = $system.block_on(test::init_service(
            App::new()
                .wrap($sessions.clone())
                .route("/", web::get().to(count)),
        ));
        let (floor, header) = (&$floor, &$header);
        let manager = Arc::clone($sessions.manager());
        let rt = runtime();
        let pairs = Pairs::default();
        let mut group = $c.benchmark_group($name);
        group.bench_function("floor", |b| {
            b.iter_custom(|iters| {
                time_pairs!($system, floor, &app, header, pairs, iters, |f, _| f)
            });
        });
        group.bench_function("session", |b| {
            b.iter_custom(|iters| {
                time_pairs!($system, floor, &app, header, pairs, iters, |_, s| s)
            });
        });
        // The manager's round trip alone, without actix-web: what `session` costs by itself.
        group.bench_function("manager", |b| {
            b.iter(|| request(&rt, &manager, black_box(header)));
        });
        group.finish();
        pairs.report($name);
    }};
}

/// The request's `Cookie` header, as the floors read it.
fn cookie_header(request: &HttpRequest) -> &str {
    request
        .headers()
        .get(COOKIE)
        .and_then(|value| value.to_str().ok())
        .expect("a Cookie header")
}

fn set_cookie(value: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((SET_COOKIE, value))
        .finish()
}

/// The middleware over `storage`, and a request header for its seeded session.
fn seeded<S: Storage + 'static>(storage: S) -> (SessionMiddleware<S>, String) {
    let sessions = SessionMiddleware::new(
        SessionManager::new(cookie(), storage).with_expiry(Expiry::default()),
    );
    let header = seeded_header(&runtime(), sessions.manager());
    (sessions, header)
}

fn cookie_storage(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let (sessions, header) = seeded(CookieStorage::new());
    let mac = Arc::new(hmac(SECRET.as_bytes()));
    let floor = system.block_on(test::init_service(
        App::new().app_data(web::Data::from(mac)).route(
            "/",
            web::get().to(
                |mac: web::Data<Hmac<Sha256>>, request: HttpRequest| async move {
                    set_cookie(cookie_floor(&mac, cookie_header(&request)))
                },
            ),
        ),
    ));
    bench_group!(c, "actix_cookie", system, floor, sessions, header);
}

/// The memory floor's state: the key and the store.
struct MemoryFloor {
    mac: Hmac<Sha256>,
    store: RwLock<HashMap<String, Vec<u8>>>,
}

fn memory_storage(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let (sessions, header) = seeded(MemoryStorage::new());
    let state = Arc::new(MemoryFloor {
        mac: hmac(SECRET.as_bytes()),
        store: floor_store(&runtime(), sessions.manager(), &header),
    });
    let floor = system.block_on(test::init_service(
        App::new().app_data(web::Data::from(state)).route(
            "/",
            web::get().to(
                |state: web::Data<MemoryFloor>, request: HttpRequest| async move {
                    set_cookie(memory_floor(
                        &state.mac,
                        &state.store,
                        cookie_header(&request),
                    ))
                },
            ),
        ),
    ));
    bench_group!(c, "actix_memory", system, floor, sessions, header);
}

criterion_group!(benches, cookie_storage, memory_storage);
criterion_main!(benches);
