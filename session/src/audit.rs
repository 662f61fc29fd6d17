//! Security events: every path that refuses client input logs one structured `tracing` event
//! under the target `session::security`, with a reason code and never the token itself.

/// Logs that a cookie or id from a client was refused, and why.
pub(crate) fn rejected(reason: &'static str) {
    tracing::info!(target: "session::security", reason, "session cookie rejected");
}

/// Logs that a stored session was found but not served, and why.
pub(crate) fn expired(reason: crate::expiry::Expired) {
    tracing::info!(target: "session::security", ?reason, "session expired");
}
