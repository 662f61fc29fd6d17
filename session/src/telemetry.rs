//! What a manager tells operators about its work: a `tracing` span around every load and
//! commit, and with the `metrics` feature, counters and latency histograms through the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! Spans are at `DEBUG` under the target `session`: `session.load` with the fields `storage`
//! and `outcome`, `session.commit` with `storage`, `outcome` and `wrote`. A store's own events
//! (a corrupt record, a Redis retry) happen inside them. Neither ever carries an id, a cookie
//! or a value.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `session_loads_total` | counter | `storage`, `outcome`: `resumed`, `new`, `error` |
//! | `session_commits_total` | counter | `storage`, `outcome`: `unchanged`, `set`, `cleared`, `interrupted`, `forwarded`, `superseded`, `error` |
//! | `session_rejections_total` | counter | `reason`: the [security event](crate#bad-input)'s reason code, `expired-idle`, `expired-absolute` |
//! | `session_store_errors_total` | counter | `storage`, `operation`: `load`, `commit`, `owners` |
//! | `session_load_duration_seconds` | histogram | `storage` |
//! | `session_commit_duration_seconds` | histogram | `storage` |

use tracing::Span;
use tracing::field::Empty;

use crate::error::{Error, Result};
use crate::manager::{Commit, LoadedSession};

/// The span, and with the `metrics` feature the start time, of one load or commit.
pub(crate) struct Probe {
    span: Span,
    storage: &'static str,
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Probe {
    /// Starts the probe of a load from `storage` (a [`SessionStore::kind`](crate::SessionStore::kind)).
    pub(crate) fn load(storage: &'static str) -> Self {
        let span =
            tracing::debug_span!(target: "session", "session.load", storage, outcome = Empty);
        Self::new(span, storage)
    }

    /// Starts the probe of a commit to `storage`.
    pub(crate) fn commit(storage: &'static str) -> Self {
        let span = tracing::debug_span!(
            target: "session",
            "session.commit",
            storage,
            outcome = Empty,
            wrote = Empty
        );
        Self::new(span, storage)
    }

    fn new(span: Span, storage: &'static str) -> Self {
        Self {
            span,
            storage,
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// The span, for the store calls to run in.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Ends the probe of a load: `resumed` says whether an existing session was served.
    pub(crate) fn loaded(self, result: &Result<LoadedSession>, resumed: bool) {
        let outcome = match result {
            Ok(_) if resumed => "resumed",
            Ok(_) => "new",
            Err(_) => "error",
        };
        self.finish(Operation::Load, outcome, result.as_ref().err());
    }

    /// Ends the probe of a commit; `stored` says whether the storage keeps records on the
    /// server (so clearing a cookie deleted one).
    pub(crate) fn committed(self, result: &Result<Commit>, stored: bool) {
        let (outcome, wrote) = match result {
            Ok(Commit::Unchanged) => ("unchanged", false),
            Ok(Commit::Set(_)) => ("set", true),
            Ok(Commit::Cleared(_)) => ("cleared", stored),
            Ok(Commit::Interrupted(_)) => ("interrupted", false),
            Ok(Commit::Forwarded) => ("forwarded", true),
            Ok(Commit::Superseded) => ("superseded", false),
            Err(_) => ("error", false),
        };
        self.span.record("wrote", wrote);
        self.finish(Operation::Commit, outcome, result.as_ref().err());
    }

    /// Records `outcome` on the span, counts it and the time taken, and counts a store error.
    fn finish(self, operation: Operation, outcome: &'static str, error: Option<&Error>) {
        self.span.record("outcome", outcome);
        #[cfg(feature = "metrics")]
        {
            let (total, duration) = match operation {
                Operation::Load => ("session_loads_total", "session_load_duration_seconds"),
                Operation::Commit => ("session_commits_total", "session_commit_duration_seconds"),
            };
            let storage = self.storage;
            metrics::counter!(total, "storage" => storage, "outcome" => outcome).increment(1);
            metrics::histogram!(duration, "storage" => storage).record(self.started.elapsed());
        }
        if let Some(error) = error {
            let operation = match operation {
                Operation::Load => "load",
                Operation::Commit => "commit",
            };
            store_error(self.storage, operation, error);
        }
    }
}

/// Which of the manager's two operations a [`Probe`] measures.
#[derive(Clone, Copy)]
enum Operation {
    Load,
    Commit,
}

/// Counts `error` if it came from the store (not, say, a cookie too large to send).
pub(crate) fn store_error(storage: &'static str, operation: &'static str, error: &Error) {
    if !matches!(error, Error::Storage(_) | Error::Io(_)) {
        return;
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "session_store_errors_total",
        "storage" => storage,
        "operation" => operation
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (storage, operation);
}

/// Counts a refused cookie or id by its reason code.
pub(crate) fn rejected(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("session_rejections_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}
