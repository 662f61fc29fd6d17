//! Encrypted cookie storage's load path: any `Cookie` header loads without an error or a
//! panic. Inputs that start with a zero byte are edits of a valid encrypted cookie (each pair
//! of bytes after it writes one base64url character at one position), so the fuzzer reaches
//! the cipher with values that decode; whatever opens must be the session that was sealed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session::{CookieStorage, Expiry, SessionCookie, SessionManager};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct World {
    runtime: tokio::runtime::Runtime,
    sessions: SessionManager<CookieStorage>,
    /// A valid `__session=value` pair, sealed under the older secret.
    pair: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let cookie = |secrets: &[&str]| {
            SessionCookie::builder("__session")
                .secrets(secrets.iter().copied())
                .build()
                .expect("a valid cookie")
        };
        let old = SessionManager::new(
            cookie(&["an-older-fuzz-secret-32-bytes-long"]),
            CookieStorage::encrypted(),
        )
        .with_expiry(Expiry::none());
        let pair = runtime.block_on(async {
            let mut session = old.load(None).await.expect("load");
            session.set("user", "ada").expect("set");
            session.flash("notice", "hi").expect("flash");
            let set_cookie = old.commit(&session).await.expect("commit");
            let set_cookie = set_cookie.into_header().expect("a cookie");
            set_cookie.split(';').next().expect("a pair").to_owned()
        });
        let sessions = SessionManager::new(
            cookie(&[
                "fuzz-secret-of-at-least-32-bytes!!",
                "an-older-fuzz-secret-32-bytes-long",
            ]),
            CookieStorage::encrypted(),
        )
        .with_expiry(Expiry::none());
        World {
            runtime,
            sessions,
            pair,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let header = match data.split_first() {
        Some((0, edits)) => {
            let mut pair = world.pair.clone().into_bytes();
            let start = "__session=".len();
            let len = pair.len() - start;
            for edit in edits.chunks_exact(2) {
                pair[start + usize::from(edit[0]) % len] = ALPHABET[usize::from(edit[1]) % 64];
            }
            String::from_utf8(pair).expect("base64url is ASCII")
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    world.runtime.block_on(async {
        let session = world
            .sessions
            .load(Some(&header))
            .await
            .expect("cookie storage loads any header");
        if !session.is_empty() {
            // Only the sealed session opens, whatever was edited.
            assert_eq!(
                session.get::<String>("user").expect("a string").as_deref(),
                Some("ada")
            );
        }
        let _ = world.sessions.commit(&session).await.expect("commits");
    });
});
