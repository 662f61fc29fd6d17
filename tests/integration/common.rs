//! Helpers shared by the integration tests: a test cookie, and a `Browser` that carries the
//! session cookie from one simulated request to the next.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use session::expiry::ManualClock;
use session::store::{Stored, WriteOutcome, WritePlan};
use session::{
    Commit, Expiry, Session, SessionCookie, SessionId, SessionManager, SessionStore, Storage,
};

/// A secret long enough to pass the default check.
pub(crate) const SECRET: &str = "integration-test-secret-of-32-bytes!";

/// The default test cookie, named `sid`, with the secure defaults.
pub(crate) fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret(SECRET)
        .build()
        .unwrap()
}

/// A manager with no server-side expiry, as Remix has.
pub(crate) fn manager<S: Storage>(storage: S) -> SessionManager<S> {
    SessionManager::new(cookie(), storage).with_expiry(Expiry::none())
}

/// A manager on a manual clock standing at `start`.
pub(crate) fn timed_manager<S: Storage>(
    storage: S,
    expiry: Expiry,
    start: u64,
) -> (SessionManager<S>, ManualClock) {
    let clock = ManualClock::new(start);
    let sessions = SessionManager::new(cookie(), storage)
        .with_expiry(expiry)
        .with_clock(clock.clone());
    (sessions, clock)
}

/// The `name=value` pair a browser would send back for a `Set-Cookie`, or `None` when the
/// `Set-Cookie` deletes the cookie.
pub(crate) fn pair_of(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let deleted = pair.ends_with('=') || set_cookie.contains("Max-Age=0");
    (!deleted).then(|| pair.to_owned())
}

/// A browser: it keeps the session cookie and sends it with every request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Browser {
    /// The `name=value` pair it holds, if any.
    pub(crate) jar: Option<String>,
}

impl Browser {
    /// A browser holding `jar`.
    pub(crate) fn with(jar: Option<String>) -> Self {
        Self { jar }
    }

    /// One request: load the session, run `handler`, commit, and keep the new cookie.
    pub(crate) async fn request<S: Storage, R>(
        &mut self,
        sessions: &SessionManager<S>,
        handler: impl FnOnce(&mut Session) -> R,
    ) -> (R, Commit) {
        let mut session = sessions.load(self.jar.as_deref()).await.unwrap();
        let result = handler(&mut session);
        let commit = sessions.commit(&session).await.unwrap();
        if let Some(set_cookie) = commit.header() {
            self.jar = pair_of(set_cookie);
        }
        (result, commit)
    }

    /// A request that increments `count` and returns the new value.
    pub(crate) async fn count<S: Storage>(&mut self, sessions: &SessionManager<S>) -> u64 {
        self.request(sessions, |session| {
            let count = session.get::<u64>("count").unwrap().unwrap_or(0) + 1;
            session.set("count", count).unwrap();
            count
        })
        .await
        .0
    }
}

/// Runs a future to completion on a fresh current-thread runtime.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One `tracing` event, as captured.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) target: String,
    pub(crate) level: tracing::Level,
    /// Every field, the message included, as `name=debug value`.
    pub(crate) fields: String,
}

/// Runs `f` with a subscriber that records every event emitted on this thread.
///
/// `tracing` caches each callsite's interest for the whole process, computed from the
/// subscriber of the first thread to reach it. Without a global subscriber, a test running on a
/// thread without one would cache "never" and hide the event from a test that captures it. So
/// the first capture installs a global registry that wants every callsite and keeps nothing.
pub(crate) fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Captured>) {
    static WANT_EVERY_CALLSITE: std::sync::Once = std::sync::Once::new();
    WANT_EVERY_CALLSITE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry())
            .expect("the only global subscriber of this binary");
        // A callsite first reached while the global was being installed may hold "never".
        tracing::callsite::rebuild_interest_cache();
    });
    let subscriber = CaptureSubscriber::default();
    let events = Arc::clone(&subscriber.events);
    let result = tracing::subscriber::with_default(subscriber, f);
    let events = events.lock().unwrap().clone();
    (result, events)
}

#[derive(Default)]
struct CaptureSubscriber {
    events: Arc<std::sync::Mutex<Vec<Captured>>>,
}

impl tracing::Subscriber for CaptureSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write as _;
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.events.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields: fields.0,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A fresh, empty directory for one test, removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "session-tests-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file storage in its own temporary directory, removed with it.
#[derive(Debug)]
pub(crate) struct TempFileStorage {
    pub(crate) storage: session::FileStorage,
    _dir: TempDir,
}

impl TempFileStorage {
    pub(crate) fn new() -> Self {
        let dir = TempDir::new();
        Self {
            storage: session::FileStorage::new(&dir.0).unwrap(),
            _dir: dir,
        }
    }
}

/// A store written as any other crate would write one, next to its files: it keeps the
/// directory alive and passes every call on.
impl SessionStore for TempFileStorage {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        SessionStore::load(&self.storage, id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        self.storage.write(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.storage.delete(ids).await
    }

    async fn owned(
        &self,
        owner: &session::owner::Owner,
        now: u64,
    ) -> session::Result<Vec<session::store::OwnedRecord>> {
        self.storage.owned(owner, now).await
    }

    async fn end_owned(
        &self,
        owner: &session::owner::Owner,
        which: session::store::Ending<'_>,
        now: u64,
    ) -> session::Result<usize> {
        self.storage.end_owned(owner, which, now).await
    }
}

/// Says that a test was skipped because a tool is missing outside CI.
#[expect(clippy::print_stderr, reason = "a skipped test must say so")]
pub(crate) fn skip(why: &str) {
    eprintln!("skipped: {why}");
}

/// A Redis server for tests, killed when it is dropped or when the test process ends.
#[derive(Debug)]
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    child: std::process::Child,
}

impl RedisServer {
    /// Starts `redis-server` (without persistence) on `port`, or on a free port for `None`.
    ///
    /// # Panics
    ///
    /// When `redis-server` is missing: `scripts/test` installs it.
    pub(crate) fn start(port: Option<u16>) -> Self {
        let port = port.unwrap_or_else(free_port);
        Self::start_with(port, &format!("--port {port}"))
    }

    /// Starts `redis-server` listening on `port` with `args` (which name the port: `--port`
    /// or, for TLS, `--port 0 --tls-port`), without persistence.
    pub(crate) fn start_with(port: u16, args: &str) -> Self {
        Self::spawn(
            port,
            &format!("{args} --bind 127.0.0.1 --save '' --appendonly no --loglevel warning"),
        )
    }

    /// Starts `redis-server <args>` (a Sentinel: a config file and `--sentinel`) and waits
    /// until `port` accepts connections.
    pub(crate) fn spawn(port: u16, args: &str) -> Self {
        // A watchdog shell stops the server when this process ends, even on a crash.
        let script = format!(
            "redis-server {args} & server=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.2; done; \
             kill $server 2>/dev/null",
            parent = std::process::id()
        );
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("sh runs");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { port, child };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}: install it (scripts/test does)");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the server process.
    pub(crate) fn signal(&self, signal: &str) {
        let status = std::process::Command::new("pkill")
            .arg(format!("-{signal}"))
            .arg("-f")
            .arg(format!("redis-server 127.0.0.1:{}", self.port))
            .status()
            .expect("pkill runs");
        assert!(status.success(), "no redis-server on port {}", self.port);
    }

    /// Kills the server and waits until its port is closed.
    pub(crate) fn kill(&mut self) {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "pkill -KILL -f 'redis-server 127.0.0.1:{}' || true",
                self.port
            ))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port whose Redis Cluster bus port (the port + 10000) is free too.
pub(crate) fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// The Redis server the tests share: `SESSION_REDIS_URL` (which `scripts/test` sets), or one
/// started for this test process.
pub(crate) fn redis_url() -> String {
    static SHARED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            std::env::var("SESSION_REDIS_URL").unwrap_or_else(|_| {
                let server = RedisServer::start(None);
                let url = server.url();
                // Lives as long as the process; the watchdog stops the server afterwards.
                std::mem::forget(server);
                url
            })
        })
        .clone()
}

/// A Redis storage on the shared server, under a key prefix of its own.
pub(crate) fn redis_storage() -> session::RedisStorage {
    session::RedisStorage::builder(redis_url())
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .build()
        .unwrap()
}

/// Drives a store by id, the way the storage-level tests did before the manager owned the
/// protocol: a manager whose cookie carries the id given, on a manual clock.
#[derive(Debug)]
pub(crate) struct Direct<S> {
    pub(crate) sessions: SessionManager<S>,
    pub(crate) clock: ManualClock,
}

impl<S: SessionStore> Direct<S> {
    /// A strict manager over `store` at `now` (1 000 if unsure), with `expiry`.
    pub(crate) fn new(store: S, expiry: Expiry, now: u64) -> Self {
        let (sessions, clock) = timed_manager(store, expiry, now);
        Self { sessions, clock }
    }

    /// The same, adopting unknown ids.
    pub(crate) fn adopting(self) -> Self {
        Self {
            sessions: self.sessions.adopt_unknown_ids(),
            clock: self.clock,
        }
    }

    /// The `Cookie` header of a browser holding `id`, signed; an id too long for any cookie
    /// goes unsigned (and is rejected, as it would be however it was signed).
    pub(crate) fn header(&self, id: &str) -> String {
        match self.sessions.cookie().to_set_cookie(id, None) {
            Ok(set_cookie) => set_cookie.split(';').next().unwrap().to_owned(),
            Err(_) => format!("{}={id}", self.sessions.cookie().name()),
        }
    }

    /// Loads the session for a cookie carrying `id` (`None`: no cookie).
    pub(crate) async fn load(&self, id: Option<&str>) -> session::Result<session::LoadedSession> {
        let header = id.map(|id| self.header(id));
        self.sessions.load(header.as_deref()).await
    }

    /// Commits a session.
    pub(crate) async fn save(&self, session: &session::LoadedSession) -> session::Result<Commit> {
        self.sessions.commit(session).await
    }

    /// Commits a session and returns the id its new cookie carries, if it sent one.
    pub(crate) async fn save_id(&self, session: &session::LoadedSession) -> Option<SessionId> {
        let Commit::Set(set_cookie) = self.save(session).await.unwrap() else {
            return None;
        };
        self.value_of(&set_cookie).parse().ok()
    }

    /// The value this manager signed into `set_cookie`.
    pub(crate) fn value_of(&self, set_cookie: &str) -> String {
        match self.sessions.cookie().read(set_cookie.split(';').next()) {
            session::cookie::Incoming::Verified { value, .. } => value,
            other => panic!("the manager signed its own cookie: {other:?}"),
        }
    }

    /// A new session holding `n = 1`, saved; its id.
    pub(crate) async fn create(&self) -> SessionId {
        let mut session = self.load(None).await.unwrap();
        session.set("n", 1).unwrap();
        self.save_id(&session).await.unwrap()
    }
}

/// The request's time and policy, as the storage-level tests name them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) expiry: Expiry,
    pub(crate) now: u64,
}

impl Timing {
    pub(crate) fn new(expiry: Expiry, now: u64) -> Self {
        Self { expiry, now }
    }
}

/// What a commit did, with the id a new cookie carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaveOutcome {
    Unchanged,
    Saved { value: String },
    Destroyed,
    Interrupted,
    Forwarded,
}

/// Loads and saves by id through a manager (strict, or adopting unknown ids), so that the
/// tests written against stores keep their shape.
pub(crate) trait ById {
    async fn load(
        &self,
        id: Option<&str>,
        timing: Timing,
    ) -> session::Result<session::LoadedSession>;
    async fn load_adopting(
        &self,
        id: Option<&str>,
        timing: Timing,
    ) -> session::Result<session::LoadedSession>;
    async fn save(
        &self,
        session: &session::LoadedSession,
        timing: Timing,
    ) -> session::Result<SaveOutcome>;
}

impl<S: SessionStore> ById for S {
    async fn load(
        &self,
        id: Option<&str>,
        timing: Timing,
    ) -> session::Result<session::LoadedSession> {
        Direct::new(self, timing.expiry, timing.now).load(id).await
    }

    async fn load_adopting(
        &self,
        id: Option<&str>,
        timing: Timing,
    ) -> session::Result<session::LoadedSession> {
        Direct::new(self, timing.expiry, timing.now)
            .adopting()
            .load(id)
            .await
    }

    async fn save(
        &self,
        session: &session::LoadedSession,
        timing: Timing,
    ) -> session::Result<SaveOutcome> {
        let direct = Direct::new(self, timing.expiry, timing.now);
        Ok(match direct.save(session).await? {
            Commit::Set(set_cookie) => SaveOutcome::Saved {
                value: direct.value_of(&set_cookie),
            },
            Commit::Unchanged => SaveOutcome::Unchanged,
            Commit::Cleared(_) => SaveOutcome::Destroyed,
            Commit::Interrupted(_) => SaveOutcome::Interrupted,
            Commit::Forwarded => SaveOutcome::Forwarded,
            other => panic!("a new kind of commit: {other:?}"),
        })
    }
}

/// The shard of a file storage's session file: the name of the directory it is in.
pub(crate) fn shard_of(file: &std::path::Path) -> String {
    file.parent()
        .and_then(std::path::Path::file_name)
        .and_then(std::ffi::OsStr::to_str)
        .expect("a session file sits in a shard directory")
        .to_owned()
}

/// A login as `owner` on a fresh session of `sessions` (a new id, the old one revoked); the
/// `Cookie` pair the browser sends back.
pub(crate) async fn log_in_as<S: Storage>(sessions: &SessionManager<S>, owner: &str) -> String {
    let mut session = sessions.load(None).await.unwrap();
    session.regenerate_id(session::OldId::Delete).unwrap();
    session.set_owner(owner).unwrap();
    let header = sessions
        .commit(&session)
        .await
        .unwrap()
        .into_header()
        .unwrap();
    header.split(';').next().unwrap().to_owned()
}

/// A manager on a Redis storage, for the tests of Redis deployments (TLS, Cluster, Sentinel).
pub(crate) fn redis_manager(
    storage: session::RedisStorage,
) -> SessionManager<session::RedisStorage> {
    let cookie = SessionCookie::builder("sid")
        .secret("a-secret-for-the-redis-deployment-tests")
        .build()
        .unwrap();
    SessionManager::new(cookie, storage)
}

/// One round of requests through a failover: each browser (a cookie pair and the `n` its
/// session holds) loads its session, which must still hold its `n`, sets `round`, and
/// commits. Returns, per browser, whether the save was acknowledged; a failure must be a
/// typed storage error.
pub(crate) async fn failover_round(
    sessions: &SessionManager<session::RedisStorage>,
    browsers: &[(String, u32)],
    round: u32,
) -> Vec<bool> {
    let mut acknowledged = Vec::with_capacity(browsers.len());
    for (slot, (pair, n)) in browsers.iter().enumerate() {
        let result = match sessions.load(Some(pair)).await {
            Ok(mut session) => {
                assert_eq!(
                    session.get::<u32>("n").unwrap(),
                    Some(*n),
                    "session {slot} was lost"
                );
                session.set("round", round).unwrap();
                sessions.commit(&session).await.map(|commit| {
                    assert!(
                        matches!(commit, Commit::Set(_)),
                        "session {slot}: {commit:?}"
                    );
                })
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => acknowledged.push(true),
            Err(session::Error::Storage(_)) => acknowledged.push(false),
            Err(other) => panic!("an untyped failure: {other:?}"),
        }
    }
    acknowledged
}

/// The `name=value` pair of a commit's `Set-Cookie`, as a browser sends it back.
pub(crate) fn cookie_pair(commit: &Commit) -> String {
    commit
        .header()
        .expect("a cookie is set")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A new, empty directory under the system's temporary one, named `<what>-<random>`.
pub(crate) fn scratch_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{what}-{}", SessionId::generate().as_str()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A memory store that counts its loads and fails its loads or writes while a test says so.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flaky {
    inner: session::MemoryStorage,
    pub(crate) loads: Arc<AtomicUsize>,
    pub(crate) loads_fail: Arc<AtomicBool>,
    pub(crate) writes_fail: Arc<AtomicBool>,
}

impl SessionStore for Flaky {
    async fn load(&self, id: &SessionId) -> session::Result<Option<Stored>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.loads_fail.load(Ordering::SeqCst) {
            return Err(session::Error::storage(std::io::Error::other(
                "connection refused",
            )));
        }
        SessionStore::load(&self.inner, id).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> session::Result<WriteOutcome> {
        if self.writes_fail.load(Ordering::SeqCst) {
            return Err(session::Error::storage(std::io::Error::other("disk full")));
        }
        self.inner.write(plan).await
    }

    async fn delete(&self, ids: &[&SessionId]) -> session::Result<()> {
        self.inner.delete(ids).await
    }
}
