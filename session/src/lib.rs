//! Typed web sessions for Rust servers, ported from Remix 3's `@remix-run/session` and taken
//! further.
//!
//! A [`Session`] holds JSON values and **flash** data that is readable on exactly the next
//! request; [`Session::destroy`] ends it and [`Session::regenerate_id`] defends against session
//! fixation. A [`Storage`] keeps sessions between requests:
//!
//! | storage | where the data lives | notes |
//! | --- | --- | --- |
//! | [`CookieStorage`] | in the signed cookie | no server state; readable by a Remix 3 app with the same secret |
//! | [`MemoryStorage`] | in this process | per-key merges, so concurrent requests lose no update |
//! | [`FileStorage`] | one file per session | atomic, crash-safe writes; merges hold across processes |
//! | `CookieStorage::encrypted()` (feature `encrypted`) | in the cookie, sealed with XChaCha20-Poly1305 | the client cannot read it |
//! | `RedisStorage` (feature `redis`) | a Redis hash per session | merges applied on the server; shared by every instance; Cluster, Sentinel and TLS behind features |
//! | `PostgresStorage`, `SqliteStorage` (features `postgres`, `sqlite`) | a row per session | merges in one `UPDATE`; `migrate()` creates the table |
//! | your own [`SessionStore`] | anywhere | the manager runs the save protocol; the store executes [`WritePlan`](store::WritePlan)s |
//!
//! A [`SessionCookie`] names, signs (HMAC-SHA256, with secret rotation) and verifies the cookie,
//! with secure attributes by default. A [`SessionManager`] ties a cookie, a storage and an
//! [`Expiry`] policy together: load from the `Cookie` header, commit to `Set-Cookie`. It owns
//! the save protocol (when to write, merges, regeneration, collisions, destroyed sessions), so
//! a store only executes the plans it makes; the [`testing`] kit (feature `test-kit`) checks
//! a store against the contract.
//!
//! `#[derive(SessionSchema)]` (feature `derive`, on by default) turns a struct into typed
//! accessors, so handlers never touch a string key (see [`SessionSchema`](trait@SessionSchema)).
//! The `tower` feature adds a layer for any tower service over `http` requests (module
//! `tower`: hyper, tonic, plain tower), the `axum` feature adds axum extractors on top of it
//! (module `axum`), and the `actix` feature adds an actix-web middleware and extractors under
//! the same rules (module `actix`).
//!
//! # Example
//!
//! ```
//! use session::{MemoryStorage, SessionCookie, SessionManager};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cookie = SessionCookie::builder("__Host-session")
//!     .secret("a-random-secret-of-at-least-32-bytes")
//!     .build()?;
//! let sessions = SessionManager::new(cookie, MemoryStorage::new());
//!
//! // In a handler: load, use, commit.
//! let mut session = sessions.load(None).await?;
//! let visits: u32 = session.get("visits")?.unwrap_or(0);
//! session.set("visits", visits + 1)?;
//! session.flash("notice", "Welcome!")?;
//! let set_cookie = sessions.commit(&session).await?;
//! assert!(set_cookie.header().unwrap().starts_with("__Host-session="));
//! # Ok::<(), session::Error>(()) }).unwrap();
//! ```
//!
//! # Bad input
//!
//! A tampered, truncated, oversized, expired or malformed cookie never produces an error or a
//! panic: it loads as a fresh session, and a `tracing` event with a reason code (never the
//! token) goes to the `session::security` target.
//!
//! # Telemetry
//!
//! Every load and commit runs in a `tracing` span, and the `metrics` feature counts them
//! through the `metrics` facade: see [`telemetry`].
//!
//! # Feature flags
//!
//! The package is `session-kit` on crates.io; its library is named `session`, so a
//! dependency on `session-kit` is used as `session::...`.
//!
#![cfg_attr(feature = "document-features", doc = document_features::document_features!())]
//!
#![cfg_attr(
    not(feature = "document-features"),
    doc = "The list of features and what each adds is in `session/Cargo.toml`, and rendered \
           here on [docs.rs](https://docs.rs/session-kit)."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

// Lets `#[derive(SessionSchema)]` name `::session` inside this crate's own unit tests.
#[cfg(test)]
extern crate self as session;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
mod audit;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod cookie;
mod data;
mod error;
pub mod expiry;
mod id;
mod json;
mod manager;
pub mod owner;
mod private;
mod schema;
pub mod storage;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-kit")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-kit")))]
pub mod testing;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}

/// The decoders the fuzz targets in `fuzz/` drive directly; not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    /// Decodes a stored entry (a record, a forward or a start-over marker) as the file and
    /// memory stores do; a record that decodes must encode and decode to itself.
    #[must_use]
    pub fn entry(bytes: &[u8]) -> bool {
        match crate::store::parse_entry(bytes) {
            Ok(crate::store::Entry::Record(record)) => {
                let again = crate::store::Record::from_json(&record.to_json());
                assert_eq!(again.ok().as_ref(), Some(&record), "a record round-trips");
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Decodes the fields of a Redis session hash as `RedisStorage` does.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn redis_hash(fields: Vec<Vec<u8>>) -> bool {
        crate::storage::redis_hash(fields)
    }

    /// Repairs lone surrogates the way a Remix payload is read; the result is valid JSON
    /// whenever the input was, apart from those escapes.
    #[must_use]
    pub fn replace_lone_surrogates(text: &str) -> Option<String> {
        crate::json::replace_lone_surrogates(text)
    }
}

/// Derives [`SessionSchema`](trait@SessionSchema): typed accessors over a [`Session`] for each
/// field of a struct. The attribute reference is on the trait.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use session_derive::SessionSchema;

// What a handler needs is here; what a configuration or a store author needs is in `cookie`,
// `expiry`, `storage` and `store`.
pub use crate::cookie::{SameSite, SessionCookie};
pub use crate::data::{Json, Map, OldId, Session};
pub use crate::error::{ConfigError, Error, Result};
pub use crate::expiry::Expiry;
pub use crate::id::{InvalidSessionId, SessionId};
pub use crate::manager::{Commit, DEFAULT_REGENERATION_GRACE, LoadedSession, SessionManager};
pub use crate::schema::SessionSchema;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::storage::PostgresStorage;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::storage::RedisStorage;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use crate::storage::SqliteStorage;
pub use crate::storage::{CookieStorage, FileStorage, MemoryStorage, Storage};
pub use crate::store::SessionStore;

/// The README's examples, compiled and run as doctests (they use every feature).
#[cfg(all(
    doctest,
    feature = "derive",
    feature = "actix",
    feature = "axum",
    feature = "encrypted",
    feature = "postgres",
    feature = "sqlite",
    feature = "redis-cluster",
    feature = "redis-tls"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
