//! Server-enforced expiry: an idle (sliding) timeout, an absolute timeout, the clock they are
//! measured with, and the timestamps every session carries.
//!
//! Times are whole seconds since the Unix epoch. A session is live while
//! `now - renewed <= idle` and `now - created <= absolute`.
//!
//! Only servers write timestamps (into a stored record, or under the MAC of a cookie), so a
//! timestamp in the future means this server's clock is behind the one that wrote it: a
//! clock stepped back, or skew between instances sharing a store. Such a session is served as
//! if written just now, never refused or deleted, and its next write stamps it with this
//! clock (a creation time in the future is brought back to now).

use std::time::Duration;

use crate::error::{ConfigError, Result};

mod clock;

pub use clock::{Clock, ManualClock, SystemClock};

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

    /// The same creation time, written again at `now`: what a save stamps. A creation time
    /// in the future (another server's clock, or this one before a step back) becomes `now`.
    pub(crate) fn renewed_at(self, now: u64) -> Self {
        Self {
            created: self.created.min(now),
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
}

/// How long the browser keeps one session's cookie: chosen by the handler
/// ([`Session::set_lifetime`](crate::Session::set_lifetime)), kept with the session, and
/// [`Policy`](Self::Policy) (the manager's [`Expiry`]) unless set.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::Expiry;
/// use session::expiry::{Lifetime, Timestamps};
///
/// let policy = Expiry::default(); // 14 days idle
/// let month = Lifetime::Persistent(Duration::from_secs(30 * 86_400));
/// // Remembered for 30 days: the cookie's Max-Age, and the server's idle timeout for it.
/// assert_eq!(policy.for_lifetime(month).max_age(Timestamps::at(0), 0), Some(2_592_000));
/// // A browser-session cookie keeps the server's 14-day idle timeout.
/// assert_eq!(policy.for_lifetime(Lifetime::BrowserSession), policy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifetime {
    /// What the manager's [`Expiry`] gives every session: a `Max-Age` of its idle timeout (cut
    /// to what remains of its absolute timeout), or none without timeouts.
    #[default]
    Policy,
    /// A persistent cookie, "remember me": a `Max-Age` of this long, renewed as the session
    /// is used, and on the server this session idles out after this long instead of after
    /// the policy's idle timeout. The policy's absolute timeout still caps it. Kept in whole
    /// seconds, at least one.
    Persistent(Duration),
    /// A browser-session cookie: no `Max-Age` and no `Expires`, so the browser drops it when
    /// it closes. The policy's idle and absolute timeouts still hold on the server.
    BrowserSession,
}

impl Lifetime {
    /// How a payload or record keeps it: absent for [`Policy`](Self::Policy), 0 for a
    /// browser session, else the persistent seconds.
    pub(crate) fn code(self) -> Option<u64> {
        match self {
            Self::Policy => None,
            Self::BrowserSession => Some(0),
            Self::Persistent(age) => Some(age.as_secs().max(1)),
        }
    }

    /// The lifetime [`code`](Self::code) wrote.
    pub(crate) fn from_code(code: Option<u64>) -> Self {
        match code {
            None => Self::Policy,
            Some(0) => Self::BrowserSession,
            Some(seconds) => Self::Persistent(Duration::from_secs(seconds)),
        }
    }

    /// The same lifetime as it is kept (whole seconds, at least one).
    #[must_use]
    pub(crate) fn normalized(self) -> Self {
        Self::from_code(self.code())
    }
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
    /// What a signed cookie payload without timestamps gets while a timeout is set.
    unstamped: Unstamped,
}

/// What a cookie payload without timestamps gets while a timeout is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unstamped {
    Refused,
    Stamped,
}

impl Default for Expiry {
    fn default() -> Self {
        Self {
            idle: Some(DEFAULT_IDLE_TIMEOUT),
            absolute: None,
            unstamped: Unstamped::Refused,
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
            unstamped: Unstamped::Refused,
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
        ExpiryBuilder {
            expiry: Self::default(),
        }
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

    /// Returns whether a signed cookie payload without timestamps (Remix writes none) is
    /// served and stamped while a timeout is set; see
    /// [`ExpiryBuilder::accept_unstamped_cookies`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!session::Expiry::default().accepts_unstamped_cookies());
    /// ```
    #[must_use]
    pub fn accepts_unstamped_cookies(&self) -> bool {
        self.unstamped == Unstamped::Stamped
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
    /// An age equal to a timeout is still live; one second more is not. A timestamp after
    /// `now` counts as an age of zero (see the [module](self) on clocks).
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
    /// // Written by a clock ahead of this one: live, as if written just now.
    /// assert_eq!(expiry.check(Timestamps::at(500), 100), Ok(()));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn check(&self, ts: Timestamps, now: u64) -> Result<(), Expired> {
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

    /// The policy for one session of this `lifetime`: a persistent lifetime replaces the idle
    /// timeout with its own length (the absolute timeout stays); the others change nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use session::Expiry;
    /// use session::expiry::Lifetime;
    ///
    /// let week = Lifetime::Persistent(Duration::from_secs(7 * 86_400));
    /// let expiry = Expiry::none().for_lifetime(week);
    /// assert_eq!(expiry.idle_timeout(), Some(Duration::from_secs(604_800)));
    /// assert_eq!(Expiry::none().for_lifetime(Lifetime::Policy), Expiry::none());
    /// ```
    #[must_use]
    pub fn for_lifetime(&self, lifetime: Lifetime) -> Self {
        match lifetime.normalized() {
            Lifetime::Persistent(age) => Self {
                idle: Some(age),
                ..*self
            },
            Lifetime::Policy | Lifetime::BrowserSession => *self,
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
    expiry: Expiry,
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
        self.expiry.idle = Some(timeout);
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
        self.expiry.idle = None;
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
        self.expiry.absolute = Some(timeout);
        self
    }

    /// Serves a signed cookie payload that carries no timestamps as a live session written
    /// just now, and stamps it on that very response. Remix writes no timestamps (nor does this
    /// crate under [`Expiry::none`]), so an app that takes over cookies from a Remix app with the
    /// same secret needs this. Otherwise, while a timeout is set, such a payload is refused: it
    /// would never expire, since nothing says how old it is.
    ///
    /// While this is on, an unstamped cookie is served every time it is presented (nothing in
    /// it can date it), so a copy stolen from the Remix app keeps working. Turn it on for the
    /// migration only, and off once the old cookies have been replaced: each browser's cookie
    /// is stamped on its first response. Without timeouts, unstamped payloads are always
    /// served, as in Remix.
    ///
    /// # Examples
    ///
    /// ```
    /// let expiry = session::Expiry::builder().accept_unstamped_cookies().build()?;
    /// assert!(expiry.accepts_unstamped_cookies());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn accept_unstamped_cookies(mut self) -> Self {
        self.expiry.unstamped = Unstamped::Stamped;
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
        let Expiry { idle, absolute, .. } = self.expiry;
        if idle.is_some_and(|idle| idle.as_secs() == 0) {
            return Err(ConfigError::ZeroTimeout { which: "idle" }.into());
        }
        if absolute.is_some_and(|absolute| absolute.as_secs() == 0) {
            return Err(ConfigError::ZeroTimeout { which: "absolute" }.into());
        }
        Ok(self.expiry)
    }
}
