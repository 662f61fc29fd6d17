//! Server-enforced expiry: an idle (sliding) timeout, an absolute timeout, the clock they are
//! measured with, and the timestamps every session carries.
//!
//! Times are whole seconds since the Unix epoch. A session is live while
//! `now - renewed <= idle` and `now - created <= absolute`; a timestamp further in the future
//! than [`CLOCK_SKEW`] is refused as forged or corrupt.

use std::time::Duration;

use crate::error::{ConfigError, Result};

mod clock;

pub use clock::{Clock, ManualClock, SystemClock};

/// How far in the future a timestamp may lie before it is refused, in seconds.
pub const CLOCK_SKEW: u64 = 60;

/// The default idle timeout: two weeks, as Django's default session age.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_hours(336);

/// When a session was created and last written, both in Unix seconds: what its expiry is
/// measured from.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::Expiry;
/// use session::expiry::Timestamps;
///
/// let ts = Timestamps { created: 100, renewed: 150 };
/// let expiry = Expiry::builder().idle_timeout(Duration::from_secs(60)).build()?;
/// assert_eq!(expiry.deadline(ts), Some(210));
/// # Ok::<(), session::Error>(())
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
    /// let ts = session::expiry::Timestamps::at(7);
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
/// use session::Expiry;
/// use session::expiry::{Expired, Timestamps};
///
/// let expiry = Expiry::builder().idle_timeout(Duration::from_secs(60)).build()?;
/// let verdict = expiry.check(Timestamps::at(0), 61);
/// assert_eq!(verdict, Err(Expired::Idle));
/// assert_eq!(Expired::Idle.to_string(), "the session's idle timeout passed");
/// # Ok::<(), session::Error>(())
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
/// let expiry = Expiry::builder()
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .absolute_timeout(Duration::from_secs(12 * 60 * 60))
///     .build()?;
/// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(1800)));
/// # Ok::<(), session::Error>(())
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
    /// assert!(expiry.check(session::expiry::Timestamps::at(0), u64::MAX / 2).is_ok());
    /// ```
    #[must_use]
    pub const fn none() -> Self {
        Self {
            idle: None,
            absolute: None,
        }
    }

    /// Starts configuring an expiry from the [default](Expiry::default): an idle timeout of
    /// [`DEFAULT_IDLE_TIMEOUT`] and no absolute timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let expiry = session::Expiry::builder()
    ///     .absolute_timeout(Duration::from_secs(12 * 60 * 60))
    ///     .build()?;
    /// assert_eq!(expiry.idle_timeout(), Some(session::expiry::DEFAULT_IDLE_TIMEOUT));
    /// assert_eq!(expiry.absolute_timeout(), Some(Duration::from_secs(43_200)));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder() -> ExpiryBuilder {
        let Self { idle, absolute } = Self::default();
        ExpiryBuilder { idle, absolute }
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
    /// use session::Expiry;
    /// use session::expiry::{Expired, Timestamps};
    ///
    /// let expiry = Expiry::builder()
    ///     .no_idle_timeout()
    ///     .absolute_timeout(Duration::from_secs(100))
    ///     .build()?;
    /// let ts = Timestamps { created: 0, renewed: 90 };
    /// assert_eq!(expiry.check(ts, 100), Ok(()));
    /// assert_eq!(expiry.check(ts, 101), Err(Expired::Absolute));
    /// assert_eq!(expiry.check(Timestamps::at(500), 100), Err(Expired::FromTheFuture));
    /// # Ok::<(), session::Error>(())
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
    /// use session::Expiry;
    /// use session::expiry::Timestamps;
    ///
    /// let expiry = Expiry::builder().idle_timeout(Duration::from_secs(100)).build()?;
    /// assert!(!expiry.renewal_due(Timestamps::at(0), 49));
    /// assert!(expiry.renewal_due(Timestamps::at(0), 50));
    /// # Ok::<(), session::Error>(())
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
    /// use session::Expiry;
    /// use session::expiry::Timestamps;
    ///
    /// let expiry = Expiry::builder()
    ///     .idle_timeout(Duration::from_secs(100))
    ///     .absolute_timeout(Duration::from_secs(1000))
    ///     .build()?;
    /// assert_eq!(expiry.max_age(Timestamps::at(0), 0), Some(100));
    /// assert_eq!(expiry.max_age(Timestamps::at(0), 950), Some(50));
    /// # Ok::<(), session::Error>(())
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
    /// use session::Expiry;
    /// use session::expiry::Timestamps;
    ///
    /// let expiry = Expiry::builder().idle_timeout(Duration::from_secs(100)).build()?;
    /// assert_eq!(expiry.deadline(Timestamps { created: 0, renewed: 10 }), Some(110));
    /// assert_eq!(Expiry::none().deadline(Timestamps::at(0)), None);
    /// # Ok::<(), session::Error>(())
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

/// Configures an [`Expiry`]; made by [`Expiry::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let expiry = session::Expiry::builder()
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .build()?;
/// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(1800)));
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ExpiryBuilder {
    idle: Option<Duration>,
    absolute: Option<Duration>,
}

impl ExpiryBuilder {
    /// Sets the idle timeout: a session not written for this long is not served.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let expiry = session::Expiry::builder().idle_timeout(Duration::from_secs(60)).build()?;
    /// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(60)));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = Some(timeout);
        self
    }

    /// Removes the idle timeout: a session stays live however long it goes unused (up to the
    /// absolute timeout, if one is set).
    ///
    /// # Examples
    ///
    /// ```
    /// let expiry = session::Expiry::builder().no_idle_timeout().build()?;
    /// assert!(!expiry.is_enforced());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn no_idle_timeout(mut self) -> Self {
        self.idle = None;
        self
    }

    /// Sets the absolute timeout: a session older than this is not served, however active.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let expiry = session::Expiry::builder().absolute_timeout(Duration::from_secs(3600)).build()?;
    /// assert_eq!(expiry.absolute_timeout(), Some(Duration::from_secs(3600)));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute = Some(timeout);
        self
    }

    /// Checks the timeouts and builds the expiry.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) with [`ConfigError::ZeroTimeout`] for a timeout
    /// under one second, which would expire every session at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let err = session::Expiry::builder().idle_timeout(Duration::from_millis(500)).build();
    /// assert!(matches!(
    ///     err,
    ///     Err(session::Error::Config(session::ConfigError::ZeroTimeout { which: "idle" }))
    /// ));
    /// ```
    pub fn build(self) -> Result<Expiry> {
        if self.idle.is_some_and(|idle| idle.as_secs() == 0) {
            return Err(ConfigError::ZeroTimeout { which: "idle" }.into());
        }
        if self
            .absolute
            .is_some_and(|absolute| absolute.as_secs() == 0)
        {
            return Err(ConfigError::ZeroTimeout { which: "absolute" }.into());
        }
        Ok(Expiry {
            idle: self.idle,
            absolute: self.absolute,
        })
    }
}
