//! Session ids: 192 bits from the operating system's CSPRNG, written in the URL-safe base64
//! alphabet, and the validation every id that arrives from a client passes before it reaches a
//! store.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes in a new id: 192 bits, above the 128 that OWASP and ASVS ask for.
const RANDOM_BYTES: usize = 24;

const MIN_ID_LEN: usize = SessionId::MIN_LEN;
const MAX_ID_LEN: usize = SessionId::MAX_LEN;

/// A session id.
///
/// New ids come from [`SessionId::generate`]: 24 bytes of the OS CSPRNG (`getrandom`), encoded
/// as 32 characters of URL-safe base64. An id that arrives from a client is accepted only
/// through [`str::parse`] ([`FromStr`](std::str::FromStr)), which checks the length ([`MIN_LEN`](Self::MIN_LEN) to [`MAX_LEN`](Self::MAX_LEN)) and
/// the alphabet (`A-Z a-z 0-9 - _`); the lowercase UUIDs that Remix makes pass, so a Remix app
/// and this crate can share a store.
///
/// A clone shares the text: copying an id through a load, a commit and a store costs no
/// allocation.
///
/// `Debug` shows only the first four characters: an id is a bearer credential. `Display` and
/// [`as_str`](Self::as_str) give the whole id, for the code that stores it.
///
/// # Examples
///
/// ```
/// use session::SessionId;
///
/// let id = SessionId::generate();
/// assert_eq!(id.as_str().len(), 32);
/// assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
/// assert!("93e6d47a-bd91-402e-a576-c1c03a5d4194".parse::<SessionId>().is_ok());
/// assert!("../../etc/passwd".parse::<SessionId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// The shortest id accepted from a client: 22 URL-safe base64 characters hold 128 bits.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionId;
    ///
    /// assert!("a".repeat(SessionId::MIN_LEN - 1).parse::<SessionId>().is_err());
    /// ```
    pub const MIN_LEN: usize = 22;

    /// The longest id accepted from a client.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::SessionId;
    ///
    /// assert!("a".repeat(SessionId::MAX_LEN).parse::<SessionId>().is_ok());
    /// ```
    pub const MAX_LEN: usize = 64;

    /// Makes a new random id from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Panics if the operating system cannot provide random bytes at all, which `getrandom`
    /// reports only on a broken platform; running on without randomness would be worse.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = session::SessionId::generate();
    /// let b = session::SessionId::generate();
    /// assert_ne!(a, b);
    /// ```
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; RANDOM_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system CSPRNG is available");
        Self(URL_SAFE_NO_PAD.encode(bytes).into())
    }

    /// Wraps an id read from an authenticated cookie payload without checking its shape.
    ///
    /// Cookie storage keeps whatever id a signed payload carries (a Remix app may have made it),
    /// because that id never keys a store.
    pub(crate) fn from_signed_payload(id: &str) -> Self {
        Self(id.into())
    }

    /// Returns the id as text, as it travels in the cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// let id = session::SessionId::generate();
    /// assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks length and alphabet without allocating.
fn is_valid(id: &str) -> bool {
    (MIN_ID_LEN..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a string is not a [`SessionId`]: it is empty, shorter than [`SessionId::MIN_LEN`], longer
/// than [`SessionId::MAX_LEN`], or holds a character outside `A-Z a-z 0-9 - _`.
///
/// # Examples
///
/// ```
/// let error = "short".parse::<session::SessionId>().unwrap_err();
/// assert_eq!(error.to_string(), "not a session id: 5 bytes, or a character outside A-Z a-z 0-9 - _");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a session id: {len} bytes, or a character outside A-Z a-z 0-9 - _")]
pub struct InvalidSessionId {
    len: usize,
}

/// Accepts an id from a client if it has the shape of a session id, so that nothing a client
/// sends can become a path, a key in a shared cache, or a log line.
///
/// # Examples
///
/// ```
/// use session::SessionId;
///
/// assert!("".parse::<SessionId>().is_err());
/// assert!("short".parse::<SessionId>().is_err());
/// assert!("a".repeat(65).parse::<SessionId>().is_err());
/// assert!("abc def ghi jkl mno pqr stu".parse::<SessionId>().is_err());
/// ```
impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        if is_valid(id) {
            Ok(Self(id.into()))
        } else {
            Err(InvalidSessionId { len: id.len() })
        }
    }
}

/// The whole id.
///
/// # Examples
///
/// ```
/// let id = session::SessionId::generate();
/// assert_eq!(id.to_string(), id.as_str());
/// ```
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(4).collect();
        write!(f, "SessionId({shown}…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_pass_validation_and_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| SessionId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.as_str().parse::<SessionId>().is_ok())
        );
    }

    #[test]
    fn debug_hides_the_id() {
        let id = SessionId::generate();
        let shown = format!("{id:?}");
        assert!(!shown.contains(id.as_str()));
    }

    #[test]
    fn boundaries() {
        assert!("a".repeat(MIN_ID_LEN).parse::<SessionId>().is_ok());
        assert!("a".repeat(MIN_ID_LEN - 1).parse::<SessionId>().is_err());
        assert!("a".repeat(MAX_ID_LEN).parse::<SessionId>().is_ok());
        assert!("a".repeat(MAX_ID_LEN + 1).parse::<SessionId>().is_err());
        assert!(
            format!("{}\0", "a".repeat(30))
                .parse::<SessionId>()
                .is_err()
        );
        assert!(format!("{}é", "a".repeat(30)).parse::<SessionId>().is_err());
    }
}
