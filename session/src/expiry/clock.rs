//! The clocks expiry is measured with: [`SystemClock`] in production, [`ManualClock`] in
//! tests.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time, in whole seconds since the Unix epoch.
///
/// Inject [`ManualClock`] in tests; production uses [`SystemClock`].
///
/// # Examples
///
/// ```
/// use session::expiry::{Clock, SystemClock};
///
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Returns the current time in seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system's wall clock.
///
/// # Examples
///
/// ```
/// use session::expiry::{Clock, SystemClock};
///
/// let a = SystemClock.now();
/// assert!(SystemClock.now() >= a);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::expiry::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(shared.now(), 1_030);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Makes a clock standing at `now` seconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::expiry::{Clock, ManualClock};
    ///
    /// assert_eq!(ManualClock::new(5).now(), 5);
    /// ```
    #[must_use]
    pub fn new(now: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now)))
    }

    /// Sets the time.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::expiry::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(5);
    /// clock.set(9);
    /// assert_eq!(clock.now(), 9);
    /// ```
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::expiry::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(5);
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(clock.now(), 7);
    /// ```
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
