//! The whole load path, from a `Cookie` header to a session and back: any header (bytes, read
//! lossily as the axum layer reads it), through the manager and memory storage that already
//! holds a session, loads without an error or a panic, and commits.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session::{MemoryStorage, SessionCookie, SessionManager};

struct World {
    runtime: tokio::runtime::Runtime,
    sessions: SessionManager<MemoryStorage>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let cookie = SessionCookie::builder("__session")
            .secret("fuzz-secret-of-at-least-32-bytes!!")
            .build()
            .expect("a valid cookie");
        let sessions =
            SessionManager::new(cookie, MemoryStorage::builder().capacity(10_000).build());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut session = sessions.load(None).await.expect("load");
            session.set("user", "ada").expect("set");
            let _ = sessions.commit(&session).await.expect("commit");
        });
        World { runtime, sessions }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let header = String::from_utf8_lossy(data);
    world.runtime.block_on(async {
        let mut session = world
            .sessions
            .load(Some(&header))
            .await
            .expect("memory storage loads");
        session
            .set("seen", true)
            .expect("a live session takes a value");
        let _ = world
            .sessions
            .commit(&session)
            .await
            .expect("memory storage saves");
    });
});
