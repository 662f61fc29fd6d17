//! The project's session library (crate `session`, at `$PROJECT_DIR/session`; `run` wires the
//! path in) as a contender (feature `ours`; with the default `redis` feature it also gets
//! `session/redis`).
//!
//! This file is the only code here that uses `session`, and it uses only its public API. When
//! that API changes, adapt a copy of it in the project: `run` uses
//! `$PROJECT_DIR/benches/peer-bench/ours.rs` (or the file `PEER_BENCH_OURS` names) instead of
//! this one when it exists.
//!
//! This is that copy, adapted to the store contract (issue 10): a manager is generic over
//! `session::Storage` (cookie storage or any `SessionStore`), `load` hands out a
//! `LoadedSession`, and `Commit::into_set_cookie` is `Commit::into_header`. The request cycle
//! and the configuration are unchanged.
//!
//! Driven through its public API exactly as an application would: one [`SessionManager`] per
//! contender, `load(Some(cookie_header))` → `get::<u64>("count")` → `set("count", c + 1)` →
//! `flash(FLASH_KEY, "Saved!")` → `commit` → the `Set-Cookie` of `Commit::Set`. A fresh session
//! (the library's answer to a missing, tampered or unknown cookie) has no `count`, so the cycle
//! returns `None` and nothing is committed. The flash uses the library's own flash API (it is
//! stored in the payload's flash half, or under `f:` in Redis), keyed `__flash_message__` so
//! the bytes match the peers' plain key.
//!
//! Configured like the peers: cookie `crate::COOKIE_NAME`, secret `crate::signing_key()` (the
//! 32 bytes the floor signs with), `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` off. The
//! peers send no `Max-Age`; this library derives `Max-Age` from its server-side idle timeout
//! and offers no way to keep the timeout but drop the attribute. So every scenario has:
//!
//! - `ours <Storage>`: `Expiry::none()`: no `Max-Age` (attributes identical to the peers), and
//!   no server-side expiry (no `"t"` in the cookie payload, no record deadline, no Redis TTL);
//! - `ours <Storage> idle-14d`: the library's default `Expiry` (14-day sliding idle timeout,
//!   enforced by the server): `Max-Age=1209600` in the cookie, timestamps in the payload or
//!   record, and `EXPIRE 1209600` in Redis (as the Redis floor's `SET .. EX`).
//!
//! One current-thread tokio runtime per contender (as for the tower peers); a timed batch runs
//! inside one `block_on`. `FileStorage` therefore runs its file work on tokio's blocking pool
//! (`spawn_blocking`, one hop for the load and one for the save), and it fsyncs every write:
//! temp file, `fsync`, `rename`, directory `fsync`, under a per-shard lock file.

use std::hint::black_box;
use std::time::{Duration, Instant};

use session::{
    Commit, CookieStorage, Expiry, FileStorage, MemoryStorage, SameSite, SessionCookie,
    SessionManager, Storage,
};

use crate::contenders::floor::file_dir;
use crate::contenders::tower::runtime;
use crate::{
    payload_entries, signing_key, Contender, Cycle, Scenario, COOKIE_NAME, FLASH_KEY, FLASH_VALUE,
};

pub fn contenders(scenario: Scenario) -> Vec<Box<dyn Contender>> {
    let mut v: Vec<Box<dyn Contender>> = Vec::new();
    for policy in [Policy::NoExpiry, Policy::Idle14d] {
        match scenario {
            Scenario::Cookie => v.push(Ours::boxed("CookieStorage", policy, CookieStorage::new())),
            Scenario::Memory => v.push(Ours::boxed("MemoryStorage", policy, MemoryStorage::new())),
            Scenario::File => {
                let dir = file_dir(match policy {
                    Policy::NoExpiry => "ours",
                    Policy::Idle14d => "ours-idle-14d",
                });
                // `FileStorage` refuses a directory its group or others can write, which
                // `file_dir` may make under a permissive umask.
                std::fs::set_permissions(
                    &dir,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )
                .expect("a private session dir");
                let storage = FileStorage::new(&dir).expect("session FileStorage");
                v.push(Ours::boxed("FileStorage", policy, storage));
            }
            Scenario::Redis =>
            {
                #[cfg(feature = "redis")]
                if let Some(url) = crate::redis_url() {
                    let storage = session::RedisStorage::builder(url)
                        .prefix(match policy {
                            Policy::NoExpiry => "ours:",
                            Policy::Idle14d => "ours-idle-14d:",
                        })
                        .build()
                        .expect("session RedisStorage");
                    v.push(Ours::boxed("RedisStorage", policy, storage));
                }
            }
            Scenario::Harness => {}
        }
    }
    v
}

/// Which expiry policy the manager runs with (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    /// `Expiry::none()`: no `Max-Age`, no server-side expiry.
    NoExpiry,
    /// `Expiry::default()`: 14-day idle timeout, `Max-Age=1209600`.
    Idle14d,
}

impl Policy {
    pub fn expiry(self) -> Expiry {
        match self {
            Policy::NoExpiry => Expiry::none(),
            Policy::Idle14d => Expiry::default(),
        }
    }
}

/// The session cookie, configured like every other contender's.
pub fn cookie() -> SessionCookie {
    SessionCookie::builder(COOKIE_NAME)
        .secret(signing_key())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(false)
        .build()
        .expect("session cookie config")
}

/// A manager for `storage` under `policy`.
pub fn manager<S: Storage>(storage: S, policy: Policy) -> SessionManager<S> {
    SessionManager::new(cookie(), storage).with_expiry(policy.expiry())
}

/// Writes the shared payload into `session` (`__flash_message__` as a flash, the rest as
/// values), as a first request would.
pub fn fill(session: &mut session::Session) -> session::Result<()> {
    for (k, v) in payload_entries() {
        if k == FLASH_KEY {
            session.flash(k, v)?;
        } else {
            session.set(k, v)?;
        }
    }
    Ok(())
}

/// One request cycle through the public API.
pub async fn cycle<S: Storage>(
    sessions: &SessionManager<S>,
    cookie_header: &str,
) -> Option<Cycle> {
    let mut session = sessions.load(Some(cookie_header)).await.ok()?;
    let count = session.get::<u64>("count").ok()?? + 1;
    session.set("count", count).ok()?;
    session.flash(FLASH_KEY, FLASH_VALUE).ok()?;
    match sessions.commit(&session).await.ok()? {
        Commit::Set(set_cookie) => Some(Cycle { set_cookie, count }),
        _ => None,
    }
}

pub struct Ours<S> {
    name: String,
    rt: tokio::runtime::Runtime,
    sessions: SessionManager<S>,
}

impl<S: Storage + 'static> Ours<S> {
    pub fn boxed(storage_name: &str, policy: Policy, storage: S) -> Box<dyn Contender> {
        let name = match policy {
            Policy::NoExpiry => format!("ours {storage_name}"),
            Policy::Idle14d => format!("ours {storage_name} idle-14d"),
        };
        Box::new(Ours {
            name,
            rt: runtime(),
            sessions: manager(storage, policy),
        })
    }
}

impl<S: Storage> Contender for Ours<S> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn seed(&mut self) -> String {
        let sessions = &self.sessions;
        let set_cookie = self.rt.block_on(async move {
            let mut session = sessions.load(None).await.expect("load a fresh session");
            fill(&mut session).expect("seed values");
            sessions
                .commit(&session)
                .await
                .expect("commit the seeded session")
                .into_header()
                .expect("a new session sends a cookie")
        });
        crate::cookie_header_from_set_cookie(&set_cookie)
    }
    fn round_trip(&mut self, cookie_header: &str) -> Option<Cycle> {
        self.rt.block_on(cycle(&self.sessions, cookie_header))
    }
    fn time(&mut self, iters: u64, cookie_header: &str) -> Duration {
        let sessions = &self.sessions;
        self.rt.block_on(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(cycle(sessions, black_box(cookie_header)).await);
            }
            start.elapsed()
        })
    }
}

/// The HTTP bench's app on `session`'s axum layer: `GET /` bumps the counter and sets the flash,
/// `GET /seed` fills a new session. `cookie` picks `CookieStorage`, otherwise `MemoryStorage`.
/// Used by `src/bin/http_server.rs` (modes `ours` and `ours-cookie`).
pub fn http_app(cookie: bool) -> axum::Router {
    if cookie {
        http::app(session::CookieStorage::new())
    } else {
        http::app(session::MemoryStorage::new())
    }
}

/// The handlers: the `SessionHandle` extractor and the dynamic API (the guard is not `Send`,
/// and no `.await` follows it).
mod http {
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use session::axum::{SessionHandle, SessionLayer};
    use session::Storage;

    use super::{fill, manager, Policy};
    use crate::{FLASH_KEY, FLASH_VALUE};

    pub async fn counter(handle: SessionHandle) -> Response {
        let mut session = handle.lock().expect("not borrowed");
        match session.get::<u64>("count") {
            Ok(Some(c)) => {
                session.set("count", c + 1).expect("set");
                session.flash(FLASH_KEY, FLASH_VALUE).expect("flash");
                (c + 1).to_string().into_response()
            }
            _ => StatusCode::UNAUTHORIZED.into_response(),
        }
    }

    pub async fn seed(handle: SessionHandle) -> &'static str {
        fill(&mut handle.lock().expect("not borrowed")).expect("seed");
        "seeded"
    }

    pub fn app<S: Storage + 'static>(storage: S) -> axum::Router {
        axum::Router::new()
            .route("/", axum::routing::get(counter))
            .route("/seed", axum::routing::get(seed))
            .layer(SessionLayer::new(manager(storage, Policy::NoExpiry)))
    }
}
