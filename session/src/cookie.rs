//! [`SessionCookie`]: the session cookie's name, attributes and secrets; reading it from a
//! request `Cookie` header and writing the `Set-Cookie` value, in the Remix 3 wire format
//! (`base64(value) + "." + base64_nopad(HMAC-SHA256)`).

mod builder;
mod header;
#[cfg(feature = "encrypted")]
mod sealing;
mod signing;

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use base64::Engine as _;

use crate::error::{Error, Result};
pub use builder::SessionCookieBuilder;
pub use signing::MIN_SECRET_LEN;
use signing::{Keys, SIGNATURE_LEN, STRICT_STANDARD, SecretIndex};

/// How long the browser keeps a `Set-Cookie` the manager writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Age {
    /// This `Max-Age` (or, without one, the cookie's own `Max-Age` and `Expires`).
    Policy(Option<u64>),
    /// No `Max-Age` and no `Expires`: a browser-session cookie.
    BrowserSession,
}

/// Browsers drop a cookie whose `name=value` passes this many bytes (RFC 6265 §6.1).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// The `SameSite` attribute.
///
/// # Examples
///
/// ```
/// assert_eq!(session::SameSite::default(), session::SameSite::Lax);
/// assert_eq!(session::SameSite::Strict.as_str(), "Strict");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent only with same-site requests.
    Strict,
    /// Sent with same-site requests and top-level cross-site navigations. The default.
    #[default]
    Lax,
    /// Sent with every request; forces `Secure`.
    None,
}

impl SameSite {
    /// Returns the attribute value as written in `Set-Cookie`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::SameSite::None.as_str(), "None");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// What a request's `Cookie` header held for the session cookie.
///
/// # Examples
///
/// ```
/// use session::SessionCookie;
/// use session::cookie::Incoming;
///
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// assert_eq!(cookie.read(None), Incoming::Absent);
/// assert_eq!(cookie.read(Some("sid=")), Incoming::Empty);
/// assert_eq!(cookie.read(Some("sid=forged.value")), Incoming::Rejected);
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// No header, or no pair with the cookie's name.
    Absent,
    /// The pair was there with an empty value (`name=`, `name`, `name=""`).
    Empty,
    /// The value was too long, wrongly signed, or not base64 and UTF-8 under a good
    /// signature. Nothing of it may be used.
    Rejected,
    /// A verified value.
    Verified {
        /// The decoded value the storage reads: a JSON payload or a session id.
        value: String,
        /// `true` when only an older secret verified it, so it must be re-signed.
        stale_secret: bool,
    },
}

/// Shows the verified value's length only: it is a session id or a whole session.
impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::Empty => f.write_str("Empty"),
            Self::Rejected => f.write_str("Rejected"),
            Self::Verified {
                value,
                stale_secret,
            } => f
                .debug_struct("Verified")
                .field("value", &format_args!("<{} bytes>", value.len()))
                .field("stale_secret", stale_secret)
                .finish(),
        }
    }
}

/// The session cookie: its name, its attributes and the secrets that sign it.
///
/// Build one with [`SessionCookie::builder`]. The defaults are the secure ones: `Path=/`,
/// `SameSite=Lax`, `HttpOnly` and `Secure`; a cookie must be signed, and secrets must be at
/// least [`MIN_SECRET_LEN`] bytes unless short ones are explicitly allowed.
///
/// `Debug` never shows a secret.
///
/// # Examples
///
/// ```
/// use session::SessionCookie;
///
/// let cookie = SessionCookie::builder("__Host-session")
///     .secret("a-random-secret-of-at-least-32-bytes!")
///     .build()?;
/// let header = cookie.to_set_cookie("abc", None)?;
/// assert!(header.starts_with("__Host-session=YWJj."));
/// assert!(header.ends_with("; HttpOnly; Path=/; SameSite=Lax; Secure"));
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Clone)]
pub struct SessionCookie {
    name: String,
    keys: Keys,
    /// The encryption keys of the same secrets, for encrypted cookie storage.
    #[cfg(feature = "encrypted")]
    sealer: sealing::Sealer,
    domain: Option<String>,
    path: String,
    same_site: Option<SameSite>,
    http_only: bool,
    secure: bool,
    partitioned: bool,
    /// A fixed `Max-Age` in seconds, used when the expiry policy sets none.
    max_age: Option<u64>,
    /// A fixed `Expires` date, as Remix allows.
    /// The `Expires` date, formatted once at build.
    expires: Option<String>,
    /// Longest inbound value examined; longer ones are rejected before any decoding.
    max_inbound: usize,
}

impl SessionCookie {
    /// Starts a cookie named `name` with the secure defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("sid").secret([1u8; 32]).build()?;
    /// assert_eq!(cookie.name(), "sid");
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(name: impl Into<String>) -> SessionCookieBuilder {
        SessionCookieBuilder::new(name.into())
    }

    /// Returns the cookie name.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("__session").secret([1u8; 32]).build()?;
    /// assert_eq!(cookie.name(), "__session");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns whether `HttpOnly` is written.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).build()?;
    /// assert!(cookie.http_only());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// Returns whether `Secure` is written.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).build()?;
    /// assert!(cookie.secure());
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Returns the fixed `Max-Age` in seconds, if one was configured.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cookie = session::SessionCookie::builder("s")
    ///     .secret([1u8; 32])
    ///     .max_age(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(cookie.max_age(), Some(60));
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// Reads and verifies the session cookie from a request's `Cookie` header.
    ///
    /// The first pair with the exact name is used, as in Remix. A value longer than the
    /// inbound limit is rejected before any decoding or MAC computation. The signature is
    /// checked over the exact bytes received before anything is decoded.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionCookie;
    /// use session::cookie::Incoming;
    ///
    /// let cookie = SessionCookie::builder("s").secret([9u8; 32]).build()?;
    /// let set = cookie.to_set_cookie("hello", None)?;
    /// let value = set.split(';').next().unwrap();
    /// assert_eq!(
    ///     cookie.read(Some(value)),
    ///     Incoming::Verified { value: "hello".into(), stale_secret: false }
    /// );
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn read(&self, cookie_header: Option<&str>) -> Incoming {
        self.read_keeping_signature(cookie_header).0
    }

    /// [`read`](Self::read), and the signed text as it arrived when sending it again is the
    /// same as signing its value anew: the current secret verified it and it is in the exact
    /// form [`to_set_cookie`](Self::to_set_cookie) writes (padded base64 value, unpadded
    /// signature). HMAC is deterministic, so a response that re-sends the same value can
    /// copy this instead of computing the MAC again.
    /// The signed text borrows from the header where it can, so a caller that has no use for
    /// it (cookie storage re-signs a new payload anyway) pays nothing.
    pub(crate) fn read_keeping_signature<'h>(
        &self,
        cookie_header: Option<&'h str>,
    ) -> (Incoming, Option<Cow<'h, str>>) {
        let Some(raw) = cookie_header.and_then(|header| header::find(header, &self.name)) else {
            return (Incoming::Absent, None);
        };
        let incoming = self.verify_raw(&raw);
        let reusable = match &incoming {
            Incoming::Verified {
                stale_secret: false,
                ..
            } => raw
                .rsplit_once('.')
                .is_some_and(|(value, tag)| value.len() % 4 == 0 && tag.len() == SIGNATURE_LEN),
            _ => false,
        };
        (incoming, reusable.then_some(raw))
    }

    /// Reads and opens an encrypted session cookie (encrypted cookie storage): the payload
    /// and whether only an older secret's key opened it. Too long, not base64url, tampered,
    /// sealed for another cookie name or under an unknown key: [`Incoming::Rejected`].
    #[cfg(feature = "encrypted")]
    pub(crate) fn read_sealed(&self, cookie_header: Option<&str>) -> Incoming {
        let Some(raw) = cookie_header.and_then(|header| header::find(header, &self.name)) else {
            return Incoming::Absent;
        };
        if let Some(refused) = self.refuse_before_decoding(&raw) {
            return refused;
        }
        let Some((payload, SecretIndex(index))) = self.sealer.open(&self.name, &raw) else {
            crate::audit::rejected("bad-ciphertext");
            return Incoming::Rejected;
        };
        let Ok(value) = String::from_utf8(payload) else {
            crate::audit::rejected("bad-encoding");
            return Incoming::Rejected;
        };
        Incoming::Verified {
            value,
            stale_secret: index > 0,
        }
    }

    /// Encrypts `payload` under the first secret's key and renders the whole `Set-Cookie`
    /// (encrypted cookie storage). The size limit applies to what is sent.
    #[cfg(feature = "encrypted")]
    pub(crate) fn to_set_cookie_sealed(&self, payload: &str, age: Age) -> Result<String> {
        self.render(payload.len() * 4 / 3 + 60, age, |out| {
            self.sealer.seal_into(&self.name, payload.as_bytes(), out);
        })
    }

    /// What an empty or oversized value is, before any decoding or cryptography: the gate
    /// both formats pass a value through.
    fn refuse_before_decoding(&self, raw: &str) -> Option<Incoming> {
        if raw.is_empty() {
            return Some(Incoming::Empty);
        }
        if raw.len() > self.max_inbound {
            crate::audit::rejected("oversized-cookie");
            return Some(Incoming::Rejected);
        }
        None
    }

    fn verify_raw(&self, raw: &str) -> Incoming {
        if let Some(refused) = self.refuse_before_decoding(raw) {
            return refused;
        }
        let Some((signed, SecretIndex(index))) = self.keys.verify(raw) else {
            crate::audit::rejected("bad-signature");
            return Incoming::Rejected;
        };
        let Some(value) = decode_value(signed) else {
            crate::audit::rejected("bad-encoding");
            return Incoming::Rejected;
        };
        Incoming::Verified {
            value,
            stale_secret: index > 0,
        }
    }

    /// Signs `value` and renders the whole `Set-Cookie` header value. `max_age` (seconds)
    /// overrides the configured one.
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] when `name=value` passes [`MAX_COOKIE_SIZE`] bytes: browsers
    /// would drop it silently, so it is never emitted.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s")
    ///     .secret("secret1")
    ///     .allow_short_secrets()
    ///     .http_only(false)
    ///     .secure(false)
    ///     .build()?;
    /// assert_eq!(
    ///     cookie.to_set_cookie(r#"{"i":"a","d":[{"count":1},{}]}"#, None)?,
    ///     "s=eyJpIjoiYSIsImQiOlt7ImNvdW50IjoxfSx7fV19.yoTsSAtSnoFP9M6D7QCB+33DIghFhd/KNnQo2X8nV2Q; Path=/; SameSite=Lax"
    /// );
    /// assert!(cookie.to_set_cookie(&"x".repeat(4000), None).is_err());
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn to_set_cookie(&self, value: &str, max_age: Option<u64>) -> Result<String> {
        self.to_set_cookie_aged(value, Age::Policy(max_age))
    }

    /// [`to_set_cookie`](Self::to_set_cookie) for a session of its own lifetime.
    pub(crate) fn to_set_cookie_aged(&self, value: &str, age: Age) -> Result<String> {
        self.render(value.len() * 4 / 3 + 48, age, |out| {
            let start = out.len();
            STRICT_STANDARD.encode_string(value, out);
            self.keys.sign_tail(out, start);
        })
    }

    /// The `Set-Cookie` for a value signed already (by
    /// [`read_keeping_signature`](Self::read_keeping_signature)): byte for byte what
    /// [`to_set_cookie`](Self::to_set_cookie) makes of its value.
    pub(crate) fn to_set_cookie_signed(&self, signed: &str, age: Age) -> Result<String> {
        self.render(signed.len(), age, |out| out.push_str(signed))
    }

    /// A `Set-Cookie`: `name=`, the value `write_value` appends (about `value_len` bytes),
    /// then the size check and the attributes.
    fn render(
        &self,
        value_len: usize,
        age: Age,
        write_value: impl FnOnce(&mut String),
    ) -> Result<String> {
        let mut out = String::with_capacity(self.name.len() + 1 + value_len + 112);
        out.push_str(&self.name);
        out.push('=');
        write_value(&mut out);
        self.finish(out, age)
    }

    /// Checks the size of `name=value` in `out` and appends the attributes.
    fn finish(&self, mut out: String, age: Age) -> Result<String> {
        if out.len() > MAX_COOKIE_SIZE {
            return Err(Error::CookieTooLarge {
                size: out.len(),
                limit: MAX_COOKIE_SIZE,
            });
        }
        match age {
            Age::Policy(max_age) => {
                self.write_attributes(&mut out, self.expires.as_deref(), max_age.or(self.max_age));
            }
            // Gone when the browser closes: neither attribute, whatever the cookie's defaults.
            Age::BrowserSession => self.write_attributes(&mut out, None, None),
        }
        Ok(out)
    }

    /// Renders a `Set-Cookie` that empties and expires the cookie, with the same `Path`,
    /// `Domain`, `SameSite` and `Secure` it was issued with, `Max-Age=0` and an `Expires` in
    /// the past.
    ///
    /// # Examples
    ///
    /// ```
    /// let cookie = session::SessionCookie::builder("s").secret([1u8; 32]).build()?;
    /// assert_eq!(
    ///     cookie.to_clear_cookie(),
    ///     "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax; Secure"
    /// );
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn to_clear_cookie(&self) -> String {
        let mut out = format!("{}=", self.name);
        self.write_attributes(&mut out, Some("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        out
    }

    /// Appends the attributes in Remix's fixed order.
    fn write_attributes(&self, out: &mut String, expires: Option<&str>, max_age: Option<u64>) {
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(expires) = expires {
            out.push_str("; Expires=");
            out.push_str(expires);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(max_age) = max_age {
            // Writing to a String cannot fail.
            let _ = write!(out, "; Max-Age={max_age}");
        }
        if self.partitioned {
            out.push_str("; Partitioned");
        }
        if !self.path.is_empty() {
            out.push_str("; Path=");
            out.push_str(&self.path);
        }
        if let Some(same_site) = self.same_site {
            out.push_str("; SameSite=");
            out.push_str(same_site.as_str());
        }
        if self.secure {
            out.push_str("; Secure");
        }
    }
}

/// Base64 (padded or not, strict bits) then strict UTF-8.
fn decode_value(encoded: &str) -> Option<String> {
    let bytes = STRICT_STANDARD.decode(encoded).ok()?;
    String::from_utf8(bytes).ok()
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field("keys", &self.keys)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("http_only", &self.http_only)
            .field("secure", &self.secure)
            .field("partitioned", &self.partitioned)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl SessionCookie {
    /// The [handle](crate::owner::Handle) of a session id: a keyed hash of it under
    /// the first secret.
    pub(crate) fn handle_of(&self, id: &crate::SessionId) -> crate::owner::Handle {
        crate::owner::Handle::from_encoded(self.keys.handle(id.as_str()))
    }

    /// Whether `handle` names `id` under any of the secrets.
    pub(crate) fn handle_names(
        &self,
        handle: &crate::owner::Handle,
        id: &crate::SessionId,
    ) -> bool {
        self.keys.handle_matches(id.as_str(), handle.as_str())
    }
}
