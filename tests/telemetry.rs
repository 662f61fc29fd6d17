//! Telemetry: the `session.load` and `session.commit` spans, and the metrics of the `metrics`
//! feature, read back through a recorder and a subscriber of the test's own.
//!
//! Its own test binary. Each test installs its recorder and subscriber for its thread only;
//! [`with_spans`] first installs a global subscriber that wants every callsite, so that no test
//! thread without a subscriber can switch a span off for the others (see [`with_spans`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use session::expiry::ManualClock;
use session::owner::Owner;
use session::store::{Ending, OwnedRecord, Stored, WriteOutcome, WritePlan};
use session::{
    Commit, CookieStorage, Error, Expiry, MemoryStorage, SessionCookie, SessionId, SessionManager,
    SessionStore,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ---------------------------------------------------------------------------------------------
// A recorder that keeps every counter and histogram by its key and labels.

#[derive(Default)]
struct Metrics {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<String, Arc<Samples>>>,
}

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

/// `name{label=value,...}` with the labels in the order they were given.
fn render(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}={}", label.key(), label.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for Metrics {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.counters.lock().unwrap();
        Counter::from_arc(Arc::clone(counters.entry(render(key)).or_default()))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut histograms = self.histograms.lock().unwrap();
        Histogram::from_arc(Arc::clone(histograms.entry(render(key)).or_default()))
    }
}

impl Metrics {
    fn counter(&self, key: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |count| count.load(Ordering::SeqCst))
    }

    fn samples(&self, key: &str) -> Vec<f64> {
        self.histograms
            .lock()
            .unwrap()
            .get(key)
            .map(|samples| samples.0.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Every counter that counted, sorted, as `key value`.
    fn counted(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .counters
            .lock()
            .unwrap()
            .iter()
            .map(|(key, count)| format!("{key} {}", count.load(Ordering::SeqCst)))
            .collect();
        all.sort();
        all
    }
}

/// Runs `work` on a current-thread runtime with `metrics` as this thread's recorder.
fn with_metrics<T>(metrics: &Metrics, work: impl Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(metrics, || runtime.block_on(work))
}

// ---------------------------------------------------------------------------------------------
// A subscriber layer that keeps every span (name and fields) and every event with its span.

#[derive(Debug, Clone, Default, PartialEq)]
struct SpanRecord {
    name: &'static str,
    fields: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Spans {
    open: Arc<Mutex<HashMap<u64, SpanRecord>>>,
    closed: Arc<Mutex<Vec<SpanRecord>>>,
    /// An event's message and the name of the span it happened in.
    events: Arc<Mutex<Vec<Sighting>>>,
}

/// An event's message and the name of the span it happened in.
type Sighting = (String, Option<&'static str>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut record = SpanRecord {
            name: attrs.metadata().name(),
            fields: Vec::new(),
        };
        attrs.record(&mut Fields(&mut record.fields));
        self.open.lock().unwrap().insert(id.into_u64(), record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(record) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut record.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let message = fields
            .into_iter()
            .find(|(name, _)| name == "message")
            .map(|(_, message)| message)
            .unwrap_or_default();
        let span = ctx.event_span(event).map(|span| span.name());
        self.events.lock().unwrap().push((message, span));
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(record) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(record);
        }
    }
}

impl Spans {
    /// The closed spans named `name`, as their fields.
    fn closed(&self, name: &str) -> Vec<HashMap<String, String>> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .filter(|span| span.name == name)
            .map(|span| span.fields.iter().cloned().collect())
            .collect()
    }
}

/// Runs `work` on a current-thread runtime with `spans` as this thread's subscriber.
///
/// `tracing` caches each callsite's interest for the whole process, computed from the
/// subscriber of the first thread to reach it. Without a global subscriber, a test running on a
/// thread without one would cache "never" and hide the span from a test that watches it. The
/// global registry wants every callsite, so interest is never "never"; it keeps nothing.
fn with_spans<T>(spans: &Spans, work: impl Future<Output = T>) -> T {
    static WANT_EVERY_CALLSITE: std::sync::Once = std::sync::Once::new();
    WANT_EVERY_CALLSITE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry())
            .expect("the only global subscriber of this binary");
        // A callsite first reached while the global was being installed may hold "never".
        tracing::callsite::rebuild_interest_cache();
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || runtime.block_on(work))
}

// ---------------------------------------------------------------------------------------------
// Stores that show what happens around the store's own calls.

/// Memory storage that logs an event from inside its `load`, and keeps the default `kind`.
#[derive(Debug, Default)]
struct ChattyStore(MemoryStorage);

impl SessionStore for ChattyStore {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        tracing::info!("the store looks the record up");
        self.0.load(id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        tracing::info!("the store writes the record");
        self.0.write(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.0.delete(ids).await
    }
}

/// A store whose backend is down.
#[derive(Debug)]
struct BrokenStore;

impl SessionStore for BrokenStore {
    async fn load(&self, _: &SessionId) -> session::Result<Option<Stored>> {
        Err(Error::storage("connection refused"))
    }

    async fn write(&self, _: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        Err(Error::storage("connection refused"))
    }

    async fn delete(&self, _: &[&SessionId]) -> session::Result<()> {
        Err(Error::storage("connection refused"))
    }

    async fn owned(&self, _: &Owner, _: u64) -> session::Result<Vec<OwnedRecord>> {
        Err(Error::storage("connection refused"))
    }

    async fn end_owned(&self, _: &Owner, _: Ending<'_>, _: u64) -> session::Result<usize> {
        Err(Error::storage("connection refused"))
    }

    fn kind(&self) -> &'static str {
        "broken"
    }
}

fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret([9u8; 32])
        .build()
        .unwrap()
}

/// The `name=value` of a `Set-Cookie`, as a `Cookie` header.
fn cookie_header(commit: &Commit) -> String {
    let header = commit.header().expect("a Set-Cookie");
    header.split(';').next().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn loads_and_commits_are_counted_by_storage_and_outcome() {
    let metrics = Metrics::default();
    let sessions = SessionManager::new(cookie(), MemoryStorage::new());
    with_metrics(&metrics, async {
        let mut fresh = sessions.load(None).await.unwrap();
        assert!(matches!(
            sessions.commit(&fresh).await,
            Ok(Commit::Unchanged)
        ));
        fresh.set("user", "mj").unwrap();
        let set = sessions.commit(&fresh).await.unwrap();
        let header = cookie_header(&set);

        let mut resumed = sessions.load(Some(&header)).await.unwrap();
        assert_eq!(
            resumed.get::<String>("user").unwrap().as_deref(),
            Some("mj")
        );
        resumed.destroy();
        assert!(matches!(
            sessions.commit(&resumed).await,
            Ok(Commit::Cleared(_))
        ));
    });
    assert_eq!(
        metrics.counted(),
        [
            "session_commits_total{storage=memory,outcome=cleared} 1",
            "session_commits_total{storage=memory,outcome=set} 1",
            "session_commits_total{storage=memory,outcome=unchanged} 1",
            "session_loads_total{storage=memory,outcome=new} 1",
            "session_loads_total{storage=memory,outcome=resumed} 1",
        ]
    );
    let loads = metrics.samples("session_load_duration_seconds{storage=memory}");
    let commits = metrics.samples("session_commit_duration_seconds{storage=memory}");
    assert_eq!((loads.len(), commits.len()), (2, 3));
    assert!(
        loads
            .iter()
            .chain(&commits)
            .all(|seconds| (0.0..10.0).contains(seconds))
    );
}

#[test]
fn cookie_storage_is_counted_as_cookie() {
    let metrics = Metrics::default();
    let sessions = SessionManager::new(cookie(), CookieStorage::new());
    with_metrics(&metrics, async {
        let mut session = sessions.load(None).await.unwrap();
        session.set("n", 1).unwrap();
        let header = cookie_header(&sessions.commit(&session).await.unwrap());
        let session = sessions.load(Some(&header)).await.unwrap();
        assert_eq!(session.get::<u32>("n").unwrap(), Some(1));
    });
    assert_eq!(
        metrics.counter("session_loads_total{storage=cookie,outcome=new}"),
        1
    );
    assert_eq!(
        metrics.counter("session_loads_total{storage=cookie,outcome=resumed}"),
        1
    );
    assert_eq!(
        metrics.counter("session_commits_total{storage=cookie,outcome=set}"),
        1
    );
}

#[test]
fn rejected_and_expired_cookies_are_counted_by_reason() {
    let metrics = Metrics::default();
    let clock = ManualClock::new(1_000_000);
    let sessions = SessionManager::new(cookie(), MemoryStorage::new())
        .with_expiry(
            Expiry::builder()
                .idle_timeout(std::time::Duration::from_mins(1))
                .build()
                .unwrap(),
        )
        .with_clock(clock.clone());
    with_metrics(&metrics, async {
        let mut session = sessions.load(None).await.unwrap();
        session.set("user", "mj").unwrap();
        let header = cookie_header(&sessions.commit(&session).await.unwrap());

        // The same value under a signature that does not match.
        let (name_value, _) = header.rsplit_once('.').unwrap();
        let forged = format!("{name_value}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(sessions.load(Some(&forged)).await.unwrap().is_empty());

        clock.advance(std::time::Duration::from_secs(61));
        assert!(sessions.load(Some(&header)).await.unwrap().is_empty());
    });
    assert_eq!(
        metrics.counter("session_rejections_total{reason=bad-signature}"),
        1
    );
    assert_eq!(
        metrics.counter("session_rejections_total{reason=expired-idle}"),
        1
    );
    assert_eq!(
        metrics.counter("session_loads_total{storage=memory,outcome=new}"),
        3
    );
}

#[test]
fn store_errors_are_counted_by_operation() {
    let metrics = Metrics::default();
    let sessions = SessionManager::new(cookie(), BrokenStore);
    let loaded_elsewhere = SessionManager::new(cookie(), MemoryStorage::new());
    with_metrics(&metrics, async {
        let mut session = loaded_elsewhere.load(None).await.unwrap();
        session.set("n", 1).unwrap();
        let header = cookie_header(&loaded_elsewhere.commit(&session).await.unwrap());
        assert!(matches!(
            sessions.load(Some(&header)).await,
            Err(Error::Storage(_))
        ));
        assert!(matches!(
            sessions.commit(&session).await,
            Err(Error::Storage(_))
        ));
        assert!(matches!(
            sessions.owner_sessions("user-42", None).await,
            Err(Error::Storage(_))
        ));
        assert!(matches!(
            sessions.end_owner_sessions("user-42").await,
            Err(Error::Storage(_))
        ));
    });
    assert_eq!(
        metrics.counter("session_loads_total{storage=broken,outcome=error}"),
        1
    );
    assert_eq!(
        metrics.counter("session_commits_total{storage=broken,outcome=error}"),
        1
    );
    assert_eq!(
        metrics.counter("session_store_errors_total{storage=broken,operation=load}"),
        1
    );
    assert_eq!(
        metrics.counter("session_store_errors_total{storage=broken,operation=commit}"),
        1
    );
    assert_eq!(
        metrics.counter("session_store_errors_total{storage=broken,operation=owners}"),
        2,
        "{:?}",
        metrics.counted()
    );
}

#[test]
fn a_cookie_too_large_is_a_failed_commit_but_not_a_store_error() {
    let metrics = Metrics::default();
    let sessions = SessionManager::new(cookie(), CookieStorage::new());
    with_metrics(&metrics, async {
        let mut session = sessions.load(None).await.unwrap();
        session.set("blob", "x".repeat(8_000)).unwrap();
        assert!(matches!(
            sessions.commit(&session).await,
            Err(Error::CookieTooLarge { .. })
        ));
    });
    assert_eq!(
        metrics.counter("session_commits_total{storage=cookie,outcome=error}"),
        1
    );
    assert!(
        metrics
            .counted()
            .iter()
            .all(|line| !line.starts_with("session_store_errors_total")),
        "{:?}",
        metrics.counted()
    );
}

#[test]
fn load_and_commit_spans_carry_storage_outcome_and_write() {
    let spans = Spans::default();
    let sessions = SessionManager::new(cookie(), ChattyStore::default());
    let (id, header) = with_spans(&spans, async {
        let mut session = sessions.load(None).await.unwrap();
        session.set("user", "mj").unwrap();
        let header = cookie_header(&sessions.commit(&session).await.unwrap());
        let resumed = sessions.load(Some(&header)).await.unwrap();
        assert!(matches!(
            sessions.commit(&resumed).await,
            Ok(Commit::Unchanged)
        ));
        (resumed.id().to_string(), header)
    });

    let field = |span: &HashMap<String, String>, name: &str| span.get(name).cloned();
    let loads = spans.closed("session.load");
    let commits = spans.closed("session.commit");
    assert_eq!(loads.len(), 2);
    assert_eq!(commits.len(), 2);
    // The default kind: the store's type name.
    for span in loads.iter().chain(&commits) {
        assert_eq!(field(span, "storage").as_deref(), Some("ChattyStore"));
    }
    assert_eq!(field(&loads[0], "outcome").as_deref(), Some("new"));
    assert_eq!(field(&loads[1], "outcome").as_deref(), Some("resumed"));
    assert_eq!(field(&commits[0], "outcome").as_deref(), Some("set"));
    assert_eq!(field(&commits[0], "wrote").as_deref(), Some("true"));
    assert_eq!(field(&commits[1], "outcome").as_deref(), Some("unchanged"));
    assert_eq!(field(&commits[1], "wrote").as_deref(), Some("false"));

    // The store's own events happen inside the spans.
    let events = spans.events.lock().unwrap().clone();
    assert!(
        events.contains(&(
            "the store looks the record up".to_owned(),
            Some("session.load")
        )),
        "{events:?}"
    );
    assert!(
        events.contains(&(
            "the store writes the record".to_owned(),
            Some("session.commit")
        )),
        "{events:?}"
    );

    // Never the id or the cookie.
    let (_, token) = header.split_once('=').unwrap();
    for span in loads.iter().chain(&commits) {
        for value in span.values() {
            assert!(!value.contains(&id) && !value.contains(token), "{span:?}");
        }
    }
}

#[test]
fn a_rejected_cookie_is_logged_inside_the_load_span() {
    let spans = Spans::default();
    let sessions = SessionManager::new(cookie(), MemoryStorage::new());
    with_spans(&spans, async {
        let session = sessions.load(Some("sid=tampered.cookie")).await.unwrap();
        assert!(session.is_empty());
    });
    let events = spans.events.lock().unwrap().clone();
    assert!(
        events.contains(&("session cookie rejected".to_owned(), Some("session.load"))),
        "{events:?}"
    );
    assert_eq!(
        spans.closed("session.load")[0]
            .get("outcome")
            .map(String::as_str),
        Some("new")
    );
}
