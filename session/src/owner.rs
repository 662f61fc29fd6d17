//! Sessions per owner: whom a session belongs to ([`Owner`], set at login with
//! [`Session::set_owner`](crate::Session::set_owner)), the label its owner sees ([`Label`]),
//! how many sessions an owner may have ([`OwnerLimit`]), and what listing them shows
//! ([`OwnedSession`], with an opaque [`Handle`] to end one by).
//!
//! The calls are on the manager: [`owner_sessions`](crate::SessionManager::owner_sessions)
//! ("where am I logged in?"), [`end_owner_session`](crate::SessionManager::end_owner_session),
//! [`end_other_sessions`](crate::SessionManager::end_other_sessions) and
//! [`end_owner_sessions`](crate::SessionManager::end_owner_sessions) ("log out everywhere").
//! Every server-side store keeps an owner → sessions index in the same atomic step as each save
//! (see [`store`](crate::store)).
//!
//! # Cookie storage
//!
//! [`CookieStorage`](crate::CookieStorage) keeps nothing on the server, so there is nothing to
//! list or end: a cookie stays valid until it expires, wherever it was copied. The owner
//! calls answer [`Error::Unsupported`] on it. An app that needs
//! "log out everywhere" with cookie sessions keeps a per-user counter of its own (in its
//! database), stores the counter's value in the session at login, and treats a session whose
//! value is behind the database's as logged out; that is one database read per request, which
//! is what a server-side store costs anyway.
//!
//! # Examples
//!
//! ```
//! use session::{MemoryStorage, OldId, SessionCookie, SessionManager};
//! use session::owner::OwnerLimit;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
//! let sessions = SessionManager::new(cookie, MemoryStorage::new())
//!     .with_owner_limit(OwnerLimit::end_least_recent(5));
//!
//! // Two logins of one user, from two browsers.
//! for device in ["Laptop", "Phone"] {
//!     let mut session = sessions.load(None).await?;
//!     session.regenerate_id(OldId::Delete)?;
//!     session.set_owner("user-42")?;
//!     session.set_label(device)?;
//!     let _ = sessions.commit(&session).await?;
//! }
//! let listed = sessions.owner_sessions("user-42", None).await?;
//! assert_eq!(listed.len(), 2);
//! assert_eq!(sessions.end_owner_sessions("user-42").await?, 2);
//! assert!(sessions.owner_sessions("user-42", None).await?.is_empty());
//! # Ok::<(), session::Error>(()) }).unwrap();
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::expiry::Lifetime;

/// Whom a session belongs to: the app's id for a user (a number, a UUID, an email), set with
/// [`Session::set_owner`](crate::Session::set_owner). Between 1 and [`MAX_LEN`](Self::MAX_LEN)
/// bytes, without control characters.
///
/// # Examples
///
/// ```
/// use session::owner::Owner;
///
/// assert_eq!(Owner::new("user-42")?.as_str(), "user-42");
/// assert!(Owner::new("").is_err());
/// assert!(Owner::new("a\nb").is_err());
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(Arc<str>);

impl Owner {
    /// The longest owner accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks an owner.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOwner`] for an empty owner, one longer than [`MAX_LEN`](Self::MAX_LEN)
    /// bytes, or one with a control character.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::owner::Owner::new("x".repeat(129)).is_err());
    /// ```
    pub fn new(owner: impl Into<String>) -> Result<Self> {
        let owner = owner.into();
        if owner.is_empty() {
            return Err(Error::InvalidOwner {
                reason: "an owner is never empty",
            });
        }
        check_text(
            &owner,
            Self::MAX_LEN,
            "an owner is at most 128 bytes",
            "an owner holds no control characters",
        )?;
        Ok(Self(owner.into()))
    }

    /// Returns the owner's text.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::owner::Owner::new("7")?.as_str(), "7");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An owner read back from a store; `None` if it breaks the rules (a corrupt entry).
    pub(crate) fn stored(owner: String) -> Option<Self> {
        Self::new(owner).ok()
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A small text the owner sees beside a session when listing theirs, such as a device name,
/// set with [`Session::set_label`](crate::Session::set_label). At most
/// [`MAX_LEN`](Self::MAX_LEN) bytes, without control characters.
///
/// # Examples
///
/// ```
/// use session::owner::Label;
///
/// assert_eq!(Label::new("Firefox on Linux")?.as_str(), "Firefox on Linux");
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label(Arc<str>);

impl Label {
    /// The longest label accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks a label.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOwner`] for a label longer than [`MAX_LEN`](Self::MAX_LEN) bytes or
    /// with a control character.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(session::owner::Label::new("tab\there").is_err());
    /// ```
    pub fn new(label: impl Into<String>) -> Result<Self> {
        let label = label.into();
        check_text(
            &label,
            Self::MAX_LEN,
            "a label is at most 128 bytes",
            "a label holds no control characters",
        )?;
        Ok(Self(label.into()))
    }

    /// Returns the label's text.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::owner::Label::new("Phone")?.as_str(), "Phone");
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A label read back from a store; `None` if it breaks the rules.
    pub(crate) fn stored(label: String) -> Option<Self> {
        Self::new(label).ok()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses text longer than `max` bytes (`too_long`) or with a control character (`control`).
fn check_text(text: &str, max: usize, too_long: &'static str, control: &'static str) -> Result<()> {
    let reason = if text.len() > max {
        too_long
    } else if text.chars().any(char::is_control) {
        control
    } else {
        return Ok(());
    };
    Err(Error::InvalidOwner { reason })
}

/// What a login past an owner's [limit](OwnerLimit) does.
///
/// # Examples
///
/// ```
/// use session::owner::{OwnerLimit, WhenFull};
///
/// assert_eq!(OwnerLimit::refuse(3).when_full(), WhenFull::Refuse);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WhenFull {
    /// End the owner's least recently used sessions (by their last save) to make room.
    EndLeastRecent,
    /// Refuse the login: the commit fails with [`Error::OwnerLimit`] and saves nothing.
    Refuse,
}

/// At most this many sessions per owner, enforced by the store in the same atomic step as
/// the save that gives a session its owner, so two logins racing past the limit cannot both
/// get in. Set it with [`SessionManager::with_owner_limit`](crate::SessionManager::with_owner_limit).
///
/// # Examples
///
/// ```
/// use session::owner::{OwnerLimit, WhenFull};
///
/// let limit = OwnerLimit::end_least_recent(5);
/// assert_eq!((limit.max(), limit.when_full()), (5, WhenFull::EndLeastRecent));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnerLimit {
    max: usize,
    when_full: WhenFull,
}

impl OwnerLimit {
    /// At most `max` sessions (at least 1); a login past it ends the least recently used.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::owner::OwnerLimit::end_least_recent(0).max(), 1);
    /// ```
    #[must_use]
    pub fn end_least_recent(max: usize) -> Self {
        Self {
            max: max.max(1),
            when_full: WhenFull::EndLeastRecent,
        }
    }

    /// At most `max` sessions (at least 1); a login past it is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::owner::OwnerLimit::refuse(2).max(), 2);
    /// ```
    #[must_use]
    pub fn refuse(max: usize) -> Self {
        Self {
            max: max.max(1),
            when_full: WhenFull::Refuse,
        }
    }

    /// Returns the most sessions an owner may have.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::owner::OwnerLimit::refuse(4).max(), 4);
    /// ```
    #[must_use]
    pub fn max(self) -> usize {
        self.max
    }

    /// Returns what a login past the limit does.
    ///
    /// # Examples
    ///
    /// ```
    /// use session::owner::{OwnerLimit, WhenFull};
    ///
    /// assert_eq!(OwnerLimit::end_least_recent(4).when_full(), WhenFull::EndLeastRecent);
    /// ```
    #[must_use]
    pub fn when_full(self) -> WhenFull {
        self.when_full
    }
}

/// An opaque name for one of an owner's sessions, to end it by: a keyed hash of its id under
/// the cookie's secret, so it can be shown to the owner and sent back in a form, but neither
/// reveals the id nor can be replayed as a cookie. It changes when the session's id does.
///
/// # Examples
///
/// ```
/// use session::owner::Handle;
///
/// let handle: Handle = "q3O9b4l2Xa1cK9wZ0TzY_w".parse()?;
/// assert_eq!(handle.to_string(), "q3O9b4l2Xa1cK9wZ0TzY_w");
/// assert!("not a handle!".parse::<Handle>().is_err());
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Handle(String);

impl Handle {
    /// Characters in a handle: 128 bits in unpadded base64url.
    pub(crate) const LEN: usize = 22;

    pub(crate) fn from_encoded(encoded: String) -> Self {
        Self(encoded)
    }

    /// Returns the handle's text.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle: session::owner::Handle = "AAAAAAAAAAAAAAAAAAAAAA".parse()?;
    /// assert_eq!(handle.as_str().len(), 22);
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Handle {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let well_formed = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidOwner {
                reason: "a session handle is 22 base64url characters",
            })
        }
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A handle is its text in JSON and forms.
impl serde::Serialize for Handle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Reads a handle from its text, refusing one that is not well formed.
///
/// ```
/// let handle: session::owner::Handle = serde_json::from_str(r#""AAAAAAAAAAAAAAAAAAAAAA""#)?;
/// assert_eq!(handle.as_str().len(), 22);
/// assert!(serde_json::from_str::<session::owner::Handle>(r#""nope""#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<'de> serde::Deserialize<'de> for Handle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.0)
    }
}

/// One of an owner's sessions as [`owner_sessions`](crate::SessionManager::owner_sessions)
/// lists it: what is safe to show the owner, never the id or anything that can be replayed.
///
/// # Examples
///
/// See the [module docs](crate::owner).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedSession {
    /// Names the session for [`end_owner_session`](crate::SessionManager::end_owner_session).
    pub handle: Handle,
    /// When the session was created (a login that regenerated it keeps the time), Unix seconds.
    pub created: u64,
    /// When the session was last saved, Unix seconds: the last request that changed it, or
    /// renewed it (at least once per half idle timeout of use).
    pub last_seen: u64,
    /// How long its cookie lives.
    pub lifetime: Lifetime,
    /// The label the app set, if any.
    pub label: Option<Label>,
    /// Whether this is the session of the request that listed them.
    pub current: bool,
}
