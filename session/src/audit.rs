//! Security events: every path that refuses client input logs one structured `tracing` event
//! under the target `session::security`, with a reason code and never the token itself, and
//! with the `metrics` feature counts it in `session_rejections_total`.

/// Logs that a cookie or id from a client was refused, and why.
pub(crate) fn rejected(reason: &'static str) {
    tracing::info!(target: "session::security", reason, "session cookie rejected");
    crate::telemetry::rejected(reason);
}

/// Logs that a stored session was found but not served, and why.
pub(crate) fn expired(reason: crate::expiry::Expired) {
    tracing::info!(target: "session::security", ?reason, "session expired");
    crate::telemetry::rejected(match reason {
        crate::expiry::Expired::Idle => "expired-idle",
        crate::expiry::Expired::Absolute => "expired-absolute",
    });
}
