//! [`SessionCookieBuilder`]: every setting of a session cookie, checked once when it is built
//! (RFC 6265 names, safe attribute values, the `__Host-`/`__Secure-` prefix rules, the secrets).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::signing::Keys;
use super::{MAX_COOKIE_SIZE, SameSite, SessionCookie};
use crate::error::ConfigError;

/// Builds a [`SessionCookie`]; every setting is checked by [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session::{SameSite, SessionCookie};
///
/// let cookie = SessionCookie::builder("sid")
///     .secrets(["new-secret-of-32-bytes-or-more!!", "old-secret-of-32-bytes-or-more!!"])
///     .same_site(SameSite::Strict)
///     .max_age(Duration::from_secs(3600))
///     .build()?;
/// assert!(cookie.to_set_cookie("v", None)?.contains("Max-Age=3600"));
/// # Ok::<(), session::Error>(())
/// ```
#[must_use]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each bool is one independent cookie attribute"
)]
pub struct SessionCookieBuilder {
    name: String,
    secrets: Vec<Vec<u8>>,
    allow_short_secrets: bool,
    domain: Option<String>,
    path: String,
    same_site: Option<SameSite>,
    http_only: bool,
    secure: bool,
    partitioned: bool,
    max_age: Option<u64>,
    expires: Option<SystemTime>,
    max_inbound: usize,
}

impl SessionCookieBuilder {
    /// The secure defaults, for [`SessionCookie::builder`].
    pub(super) fn new(name: String) -> Self {
        Self {
            name,
            secrets: Vec::new(),
            allow_short_secrets: false,
            domain: None,
            path: "/".to_owned(),
            same_site: Some(SameSite::Lax),
            http_only: true,
            secure: true,
            partitioned: false,
            max_age: None,
            expires: None,
            max_inbound: MAX_COOKIE_SIZE,
        }
    }

    /// Adds a secret. The first one added signs; all verify, in the order added. To rotate, put
    /// the new secret first and keep the old one until its cookies have expired.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).build()?;
    /// # let _ = cookie;
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets.push(secret.as_ref().to_vec());
        self
    }

    /// Adds several secrets, newest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s")
    ///     .secrets([[1u8; 32], [2u8; 32]])
    ///     .build()?;
    /// # let _ = cookie;
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn secrets<S: AsRef<[u8]>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.secrets
            .extend(secrets.into_iter().map(|secret| secret.as_ref().to_vec()));
        self
    }

    /// Accepts secrets shorter than [`MIN_SECRET_LEN`](crate::cookie::MIN_SECRET_LEN) bytes, as existing Remix apps often
    /// have.
    ///
    /// # Security
    ///
    /// A short or guessable secret lets anyone forge sessions. Prefer 32 random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionCookie;
    ///
    /// assert!(SessionCookie::builder("s").secret("s3cr3t").build().is_err());
    /// assert!(SessionCookie::builder("s").secret("s3cr3t").allow_short_secrets().build().is_ok());
    /// ```
    pub fn allow_short_secrets(mut self) -> Self {
        self.allow_short_secrets = true;
        self
    }

    /// Sets the `Domain` attribute (none by default: the cookie stays on this host).
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).domain("example.com").build()?;
    /// assert!(cookie.to_set_cookie("v", None)?.contains("; Domain=example.com;"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets the `Path` attribute (`/` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).path("/app").build()?;
    /// assert!(cookie.to_set_cookie("v", None)?.contains("; Path=/app;"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `SameSite` attribute (`Lax` by default). `SameSite::None` forces `Secure`.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{SameSite, SessionCookie};
    ///
    /// let cookie = SessionCookie::builder("s").secret([1u8; 32]).same_site(SameSite::None).secure(false).build()?;
    /// assert!(cookie.secure());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// Writes `HttpOnly` (the default) or not.
    ///
    /// # Security
    ///
    /// Without `HttpOnly`, any script on the page can read the session cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).http_only(false).build()?;
    /// assert!(!cookie.to_set_cookie("v", None)?.contains("HttpOnly"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Writes `Secure` (the default) or not. `SameSite=None`, `Partitioned` and the `__Host-`
    /// and `__Secure-` prefixes need it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).secure(false).build()?;
    /// assert!(!cookie.secure());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Writes `Partitioned` (CHIPS). Forces `Secure`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).secure(false).partitioned(true).build()?;
    /// assert!(cookie.to_set_cookie("v", None)?.ends_with("; Partitioned; Path=/; SameSite=Lax; Secure"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.partitioned = partitioned;
        self
    }

    /// Sets a fixed `Max-Age`. When the expiry policy has a timeout, the session manager writes
    /// `Max-Age` from it instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).max_age(Duration::from_secs(9)).build()?;
    /// assert!(cookie.to_set_cookie("v", None)?.contains("Max-Age=9"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn max_age(mut self, max_age: std::time::Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// Sets a fixed `Expires` date, the same for every cookie (as Remix's `expires`). It must
    /// lie between 1970 and the end of 9999, the dates an HTTP date can say; `build` refuses
    /// any other.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let when = UNIX_EPOCH + Duration::from_secs(1_445_498_880);
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).expires(when).build()?;
    /// assert!(cookie.to_set_cookie("v", None)?.contains("Expires=Thu, 22 Oct 2015 07:28:00 GMT"));
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn expires(mut self, expires: SystemTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets the longest inbound cookie value examined ([`MAX_COOKIE_SIZE`] by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).max_inbound_len(100).build()?;
    /// let long = format!("s={}", "a".repeat(101));
    /// assert_eq!(cookie.read(Some(&long)), session::cookie::Incoming::Rejected);
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn max_inbound_len(mut self, bytes: usize) -> Self {
        self.max_inbound = bytes;
        self
    }

    /// Checks the configuration and builds the cookie.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config), holding:
    ///
    /// - [`ConfigError::NoSecret`], [`ConfigError::EmptySecret`], [`ConfigError::ShortSecret`]
    ///   for the secrets;
    /// - [`ConfigError::InvalidName`] for a name that is not an RFC 6265 token;
    /// - [`ConfigError::InvalidAttribute`] for a path or domain holding `;`, `=`, whitespace,
    ///   control or non-ASCII characters;
    /// - [`ConfigError::PrefixRule`] for a `__Host-` cookie with a `Domain`, a `Path` other
    ///   than `/` or without `Secure`, or a `__Secure-` cookie without `Secure`.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::{ConfigError, Error, SessionCookie};
    ///
    /// let err = SessionCookie::builder("__Host-s").secret([1u8; 32]).domain("a.com").build();
    /// assert!(matches!(err, Err(Error::Config(ConfigError::PrefixRule { .. }))));
    /// let err = SessionCookie::builder("a;b").secret([1u8; 32]).build();
    /// assert!(matches!(err, Err(Error::Config(ConfigError::InvalidName { .. }))));
    /// ```
    pub fn build(self) -> crate::Result<SessionCookie> {
        Ok(self.checked()?)
    }

    fn checked(self) -> Result<SessionCookie, ConfigError> {
        if !is_token(&self.name) {
            return Err(ConfigError::InvalidName { name: self.name });
        }
        check_attribute("Path", &self.path)?;
        if let Some(domain) = &self.domain {
            check_attribute("Domain", domain)?;
        }
        let expires = self.expires.map(http_date).transpose()?;
        let secure = self.secure || self.partitioned || self.same_site == Some(SameSite::None);
        let prefix_rule = |rule| ConfigError::PrefixRule {
            name: self.name.clone(),
            rule,
        };
        if self.name.starts_with("__Host-") {
            if !secure {
                return Err(prefix_rule("`__Host-` cookies must be Secure"));
            }
            if self.domain.is_some() {
                return Err(prefix_rule("`__Host-` cookies must not have a Domain"));
            }
            if self.path != "/" {
                return Err(prefix_rule("`__Host-` cookies must have Path=/"));
            }
        }
        if self.name.starts_with("__Secure-") && !secure {
            return Err(prefix_rule("`__Secure-` cookies must be Secure"));
        }
        let keys = Keys::new(&self.secrets, self.allow_short_secrets)?;
        if !self.http_only {
            tracing::warn!(
                cookie = %self.name,
                "session cookie is configured without HttpOnly and may be accessible to \
                 client-side JavaScript"
            );
        }
        Ok(SessionCookie {
            #[cfg(feature = "encrypted")]
            sealer: super::sealing::Sealer::new(&self.secrets),
            name: self.name,
            keys,
            domain: self.domain,
            path: self.path,
            same_site: self.same_site,
            http_only: self.http_only,
            secure,
            partitioned: self.partitioned,
            max_age: self.max_age,
            expires,
            max_inbound: self.max_inbound,
        })
    }
}

impl fmt::Debug for SessionCookieBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookieBuilder")
            .field("name", &self.name)
            .field("secrets", &format_args!("{} redacted", self.secrets.len()))
            .finish_non_exhaustive()
    }
}

/// RFC 6265 `token`: visible ASCII without separators.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        })
}

fn check_attribute(attribute: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b'=');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidAttribute {
            attribute,
            value: value.to_owned(),
        })
    }
}

/// An `Expires` value: the date as an HTTP date, if it can be one (1970 to 9999).
fn http_date(when: SystemTime) -> Result<String, ConfigError> {
    /// 10000-01-01T00:00:00Z, the first instant an HTTP date cannot write.
    const YEAR_10000: u64 = 253_402_300_800;
    match when.duration_since(UNIX_EPOCH) {
        Ok(since) if since.as_secs() < YEAR_10000 => Ok(httpdate::fmt_http_date(when)),
        _ => Err(ConfigError::InvalidExpires),
    }
}
