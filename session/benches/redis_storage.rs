//! Redis storage: a round trip (load, change one key, save) beside its floor, a raw `GET` and
//! `SET` of the same bytes through the same client library, measured in the same run, and
//! interleaved, against one Redis server on loopback (`SESSION_REDIS_URL`, or a `redis-server`
//! started here).
//!
//! Run with `cargo bench -p session --features redis --bench redis_storage`.

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use redis::AsyncCommands as _;
use session::{Expiry, RedisStorage, SaveOutcome, SessionStorage, Timing};

fn timing() -> Timing {
    Timing::new(Expiry::default(), 1_700_000_000)
}

/// A `redis-server` on a free port, stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server() -> (String, Option<Server>) {
    if let Ok(url) = std::env::var("SESSION_REDIS_URL") {
        return (url, None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/test installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (format!("redis://127.0.0.1:{port}/"), Some(Server(child)))
}

fn redis_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (url, _server) = server();
    let storage = RedisStorage::builder(url.as_str())
        .prefix("bench:")
        .build()
        .expect("a storage");
    let id = rt.block_on(async {
        let mut session = storage.load(None, timing()).await.expect("load");
        session.set("user_id", 4_217_u64).expect("set");
        session.set("name", "Ada Lovelace").expect("set");
        session.set("cart", [101, 202, 303, 404, 505]).expect("set");
        session.set("count", 0_u64).expect("set");
        let SaveOutcome::Saved { value } = storage.save(&session, timing()).await.expect("save")
        else {
            panic!("saved")
        };
        value
    });
    // The floor moves the same bytes a record holds, as one string.
    let bytes = br#"{"v":1,"d":[{"user_id":4217,"name":"Ada Lovelace","cart":[101,202,303,404,505],"count":0},{}],"t":[1700000000,1700000000],"e":1701209600}"#.to_vec();
    let mut raw = rt.block_on(async {
        redis::Client::open(url.as_str())
            .expect("a client")
            .get_connection_manager()
            .await
            .expect("a connection")
    });

    // A loopback round trip drifts by several percent over seconds, so the two paths are
    // measured interleaved: each timed iteration of one is followed by an untimed iteration of
    // the other, and both see the same server and machine conditions.
    let floor_once = |raw: &mut redis::aio::ConnectionManager| {
        rt.block_on(async {
            let stored: Vec<u8> = raw.get("bench:raw").await.unwrap_or_default();
            let value = if stored.is_empty() { &bytes } else { &stored };
            let _: () = raw.set("bench:raw", black_box(value)).await.expect("set");
        });
    };
    let session_once = || {
        rt.block_on(async {
            let mut session = storage
                .load(Some(black_box(&id)), timing())
                .await
                .expect("load");
            let count: u64 = session.get("count").expect("a number").unwrap_or(0);
            session.set("count", count + 1).expect("set");
            storage.save(&session, timing()).await.expect("save")
        })
    };
    let mut group = c.benchmark_group("redis_storage");
    group.bench_function("floor", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let start = Instant::now();
                floor_once(&mut raw);
                timed += start.elapsed();
                session_once();
            }
            timed
        });
    });
    group.bench_function("session", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                floor_once(&mut raw);
                let start = Instant::now();
                session_once();
                timed += start.elapsed();
            }
            timed
        });
    });
    group.finish();
}

criterion_group!(benches, redis_round_trip);
criterion_main!(benches);
