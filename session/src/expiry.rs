//! Server-enforced expiry: an idle (sliding) timeout, an absolute timeout, the clock they are
//! measured with, and the timestamps every session carries.
//!
//! Times are whole seconds since the Unix epoch. A session is live while
//! `now - renewed <= idle` and `now - created <= absolute`; a timestamp further in the future
//! than [`CLOCK_SKEW`] is refused as forged or corrupt.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::ConfigError;

/// How far in the future a timestamp may lie before it is refused, in seconds.
pub const CLOCK_SKEW: u64 = 60;

/// The default idle timeout: two weeks, as Django's default session age.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_hours(336);

/// A source of the current time, in whole seconds since the Unix epoch.
///
/// Inject [`ManualClock`] in tests; production uses [`SystemClock`].
///
/// # Examples
///
/// ```
/// use session::{Clock, SystemClock};
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
/// use session::{Clock, SystemClock};
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
/// use session::{Clock, ManualClock};
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
    /// use session::{Clock, ManualClock};
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
    /// use session::{Clock, ManualClock};
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
    /// use session::{Clock, ManualClock};
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

/// When a session was created and last written, both in Unix seconds: what its expiry is
/// measured from.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::{Expiry, Timestamps};
///
/// let ts = Timestamps { created: 100, renewed: 150 };
/// let expiry = Expiry::none().with_idle_timeout(Duration::from_secs(60))?;
/// assert_eq!(expiry.deadline(ts), Some(210));
/// # Ok::<(), session::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    /// When the session was first stored. Regeneration keeps it, so the absolute timeout holds.
    pub created: u64,
    /// When the session was last written (and its cookie last sent).
    pub renewed: u64,
}

impl Timestamps {
    /// Both timestamps at `now`: a session born this request.
    ///
    /// # Examples
    ///
    /// ```
    /// let ts = session::Timestamps::at(7);
    /// assert_eq!((ts.created, ts.renewed), (7, 7));
    /// ```
    #[must_use]
    pub fn at(now: u64) -> Self {
        Self {
            created: now,
            renewed: now,
        }
    }

    /// The same creation time, written again at `now`: what a save stamps.
    pub(crate) fn renewed_at(self, now: u64) -> Self {
        Self {
            created: self.created,
            renewed: now,
        }
    }
}

/// Why a session was not served.
///
/// It is an [`Error`](std::error::Error) with a message, for logs and for an application that
/// checks timestamps itself.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::{Expired, Expiry, Timestamps};
///
/// let expiry = Expiry::none().with_idle_timeout(Duration::from_secs(60))?;
/// let verdict = expiry.check(Timestamps::at(0), 61);
/// assert_eq!(verdict, Err(Expired::Idle));
/// assert_eq!(Expired::Idle.to_string(), "the session's idle timeout passed");
/// # Ok::<(), session::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Expired {
    /// The idle timeout passed since the last write.
    #[error("the session's idle timeout passed")]
    Idle,
    /// The absolute timeout passed since the session was created.
    #[error("the session's absolute timeout passed")]
    Absolute,
    /// A timestamp lies in the future beyond [`CLOCK_SKEW`].
    #[error("the session's timestamps lie in the future")]
    FromTheFuture,
}

/// The timeouts a server enforces. Both are measured by the server's clock against timestamps it
/// wrote itself, so a client that keeps an old cookie gains nothing.
///
/// The default is an idle timeout of [`DEFAULT_IDLE_TIMEOUT`] and no absolute timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::Expiry;
///
/// let expiry = Expiry::default()
///     .with_idle_timeout(Duration::from_secs(30 * 60))?
///     .with_absolute_timeout(Duration::from_secs(12 * 60 * 60))?;
/// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(1800)));
/// # Ok::<(), session::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// `None`: a session never goes idle.
    idle: Option<Duration>,
    /// `None`: no cap on a session's total age.
    absolute: Option<Duration>,
}

impl Default for Expiry {
    fn default() -> Self {
        Self {
            idle: Some(DEFAULT_IDLE_TIMEOUT),
            absolute: None,
        }
    }
}

impl Expiry {
    /// No server-side expiry at all, as in Remix: a session lives as long as its cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// let expiry = session::Expiry::none();
    /// assert_eq!(expiry.idle_timeout(), None);
    /// assert!(expiry.check(session::Timestamps::at(0), u64::MAX / 2).is_ok());
    /// ```
    #[must_use]
    pub const fn none() -> Self {
        Self {
            idle: None,
            absolute: None,
        }
    }

    /// Sets the idle timeout: a session not written for this long is not served.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroTimeout`] for a timeout under one second.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let expiry = session::Expiry::none().with_idle_timeout(Duration::from_secs(60))?;
    /// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(60)));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.as_secs() == 0 {
            return Err(ConfigError::ZeroTimeout { which: "idle" });
        }
        self.idle = Some(timeout);
        Ok(self)
    }

    /// Sets the absolute timeout: a session older than this is not served, however active.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroTimeout`] for a timeout under one second.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let expiry = session::Expiry::none().with_absolute_timeout(Duration::from_secs(3600))?;
    /// assert_eq!(expiry.absolute_timeout(), Some(Duration::from_secs(3600)));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    pub fn with_absolute_timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.as_secs() == 0 {
            return Err(ConfigError::ZeroTimeout { which: "absolute" });
        }
        self.absolute = Some(timeout);
        Ok(self)
    }

    /// Returns the idle timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Expiry::default().idle_timeout().is_some());
    /// ```
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle
    }

    /// Returns the absolute timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::Expiry::default().absolute_timeout().is_none());
    /// ```
    #[must_use]
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute
    }

    /// Returns whether this expiry enforces anything.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::Expiry::none().is_enforced());
    /// assert!(session::Expiry::default().is_enforced());
    /// ```
    #[must_use]
    pub fn is_enforced(&self) -> bool {
        self.idle.is_some() || self.absolute.is_some()
    }

    /// Decides whether a session with these timestamps may be served at `now`.
    ///
    /// An age equal to a timeout is still live; one second more is not.
    ///
    /// # Errors
    ///
    /// The [`Expired`] reason when it may not.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{Expired, Expiry, Timestamps};
    ///
    /// let expiry = Expiry::none().with_absolute_timeout(Duration::from_secs(100))?;
    /// let ts = Timestamps { created: 0, renewed: 90 };
    /// assert_eq!(expiry.check(ts, 100), Ok(()));
    /// assert_eq!(expiry.check(ts, 101), Err(Expired::Absolute));
    /// assert_eq!(expiry.check(Timestamps::at(500), 100), Err(Expired::FromTheFuture));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    pub fn check(&self, ts: Timestamps, now: u64) -> Result<(), Expired> {
        let horizon = now.saturating_add(CLOCK_SKEW);
        if !self.is_enforced() {
            return Ok(());
        }
        if ts.created > horizon || ts.renewed > horizon {
            return Err(Expired::FromTheFuture);
        }
        if let Some(absolute) = self.absolute
            && now.saturating_sub(ts.created) > absolute.as_secs()
        {
            return Err(Expired::Absolute);
        }
        if let Some(idle) = self.idle
            && now.saturating_sub(ts.renewed) > idle.as_secs()
        {
            return Err(Expired::Idle);
        }
        Ok(())
    }

    /// Returns whether a live session should be written again to slide its idle window, although
    /// nothing in it changed: true once half the idle window has passed since the last write.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{Expiry, Timestamps};
    ///
    /// let expiry = Expiry::none().with_idle_timeout(Duration::from_secs(100))?;
    /// assert!(!expiry.renewal_due(Timestamps::at(0), 49));
    /// assert!(expiry.renewal_due(Timestamps::at(0), 50));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn renewal_due(&self, ts: Timestamps, now: u64) -> bool {
        self.idle
            .is_some_and(|idle| now.saturating_sub(ts.renewed) >= idle.as_secs().div_ceil(2))
    }

    /// The `Max-Age` for a cookie written at `now`: the idle timeout, cut to what remains of the
    /// absolute timeout. `None` when neither is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{Expiry, Timestamps};
    ///
    /// let expiry = Expiry::none()
    ///     .with_idle_timeout(Duration::from_secs(100))?
    ///     .with_absolute_timeout(Duration::from_secs(1000))?;
    /// assert_eq!(expiry.max_age(Timestamps::at(0), 0), Some(100));
    /// assert_eq!(expiry.max_age(Timestamps::at(0), 950), Some(50));
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn max_age(&self, ts: Timestamps, now: u64) -> Option<u64> {
        let idle = self.idle.map(|idle| idle.as_secs());
        let absolute = self.absolute.map(|absolute| {
            ts.created
                .saturating_add(absolute.as_secs())
                .saturating_sub(now)
        });
        match (idle, absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The Unix second after which a session with these timestamps is dead, for sweeping.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::{Expiry, Timestamps};
    ///
    /// let expiry = Expiry::none().with_idle_timeout(Duration::from_secs(100))?;
    /// assert_eq!(expiry.deadline(Timestamps { created: 0, renewed: 10 }), Some(110));
    /// assert_eq!(Expiry::none().deadline(Timestamps::at(0)), None);
    /// # Ok::<(), session::ConfigError>(())
    /// ```
    #[must_use]
    pub fn deadline(&self, ts: Timestamps) -> Option<u64> {
        let idle = self
            .idle
            .map(|idle| ts.renewed.saturating_add(idle.as_secs()));
        let absolute = self
            .absolute
            .map(|absolute| ts.created.saturating_add(absolute.as_secs()));
        match (idle, absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
