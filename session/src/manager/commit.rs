//! [`Commit`]: what committing a session asks of the response.

use std::fmt;

/// What committing a session asks of the response: at most one `Set-Cookie` value.
///
/// `Debug` shows the variant and the cookie's length, never the signed value, which would
/// let anyone who reads the log replay the session.
///
/// # Examples
///
/// ```
/// use session::Commit;
///
/// let commit = Commit::Set("sid=abc.def; Path=/".into());
/// assert_eq!(commit.header(), Some("sid=abc.def; Path=/"));
/// assert_eq!(Commit::Unchanged.header(), None);
/// assert_eq!(format!("{commit:?}"), "Set(<19 bytes>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use = "dropping a Commit drops the Set-Cookie the response needs"]
#[non_exhaustive]
pub enum Commit {
    /// Nothing changed: send no `Set-Cookie`.
    Unchanged,
    /// Send this `Set-Cookie` value.
    Set(String),
    /// The session was destroyed: send this `Set-Cookie`, which clears the cookie.
    Cleared(String),
    /// Another request destroyed the session (or it expired) while this one ran; nothing was
    /// saved. Send this `Set-Cookie`, which clears the cookie.
    Interrupted(String),
    /// A concurrent request regenerated the session (a login) while this one ran: this
    /// request's changes were saved into the regenerated session. Send no `Set-Cookie`: the
    /// new id reaches the browser only through the response that regenerated it.
    Forwarded,
    /// A concurrent request [started the session over](crate::Session::start_over) (a login
    /// as someone else) while this one ran: this request's changes belonged to the old
    /// session and were dropped. Send no `Set-Cookie`: the browser keeps the new session's.
    Superseded,
}

impl Commit {
    /// Returns the `Set-Cookie` value to append to the response, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let commit = session::Commit::Cleared("sid=; Max-Age=0".into());
    /// assert_eq!(commit.header(), Some("sid=; Max-Age=0"));
    /// ```
    #[must_use]
    pub fn header(&self) -> Option<&str> {
        match self {
            Self::Unchanged | Self::Forwarded | Self::Superseded => None,
            Self::Set(header) | Self::Cleared(header) | Self::Interrupted(header) => Some(header),
        }
    }

    /// Takes the `Set-Cookie` value out of the commit, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let commit = session::Commit::Set("sid=abc.def; Path=/".into());
    /// assert_eq!(commit.into_header().as_deref(), Some("sid=abc.def; Path=/"));
    /// ```
    #[must_use]
    pub fn into_header(self) -> Option<String> {
        match self {
            Self::Unchanged | Self::Forwarded | Self::Superseded => None,
            Self::Set(header) | Self::Cleared(header) | Self::Interrupted(header) => Some(header),
        }
    }
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, header) = match self {
            Self::Unchanged => return f.write_str("Unchanged"),
            Self::Forwarded => return f.write_str("Forwarded"),
            Self::Superseded => return f.write_str("Superseded"),
            Self::Set(header) => ("Set", header),
            Self::Cleared(header) => ("Cleared", header),
            Self::Interrupted(header) => ("Interrupted", header),
        };
        write!(f, "{name}(<{} bytes>)", header.len())
    }
}
