//! `#[derive(SessionSchema)]` accessors beside the hand-written dynamic calls they compile down
//! to: a typed get + set of one key against `get::<T>` + `set` of the same key, in the same run.
//! The dynamic pair is the floor.
//!
//! Run with `cargo bench -p session-kit --bench schema`; `scripts/bench-report` prints the ratio.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use session::{Session, SessionSchema};

#[derive(SessionSchema)]
struct Account {
    user_id: Option<u64>,
    #[session(default)]
    count: u64,
    #[session(flash)]
    notice: Option<String>,
}

fn session() -> Session {
    let mut session = Session::new();
    session.set("user_id", 4_217_u64).expect("set");
    session.set("name", "Ada Lovelace").expect("set");
    session.set("cart", [101, 202, 303, 404, 505]).expect("set");
    session.set("count", 0_u64).expect("set");
    session
}

fn accessors(c: &mut Criterion) {
    let mut group = c.benchmark_group("schema_get_set");
    let mut dynamic = session();
    group.bench_function("floor", |b| {
        b.iter(|| {
            let count: u64 = dynamic.get("count").expect("a number").unwrap_or(0);
            dynamic.set(black_box("count"), count + 1).expect("set");
        });
    });
    let mut typed = session();
    group.bench_function("typed", |b| {
        b.iter(|| {
            let mut account = Account::view(black_box(&mut typed));
            let count = account.count();
            account.set_count(count + 1).expect("set");
        });
    });
    group.finish();
}

criterion_group!(benches, accessors);
criterion_main!(benches);
