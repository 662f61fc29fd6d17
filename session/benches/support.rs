//! What the store benchmarks share: a manager over the store under test, driven through the
//! public API as an application drives it.

use session::expiry::ManualClock;
use session::{Expiry, SessionCookie, SessionManager, Storage};

/// The public API over `storage`: the default expiry on a clock that stands still.
pub(crate) fn manager<S: Storage>(storage: S) -> SessionManager<S> {
    let cookie = SessionCookie::builder("sid")
        .secret("benchmark-secret-of-at-least-32-bytes")
        .build()
        .expect("a valid cookie");
    SessionManager::new(cookie, storage)
        .with_expiry(Expiry::default())
        .with_clock(ManualClock::new(1_700_000_000))
}
