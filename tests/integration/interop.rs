//! Live interop with the real Remix 3 packages, driven through `tests/interop/driver.mjs` on
//! the machine's Node: at least 200 random sessions (unicode, nesting, numbers, flash) each
//! way. Remix reads the cookies we write, we read the cookies Remix writes, and for the same
//! session our `Set-Cookie` is byte-identical to Remix's.
//!
//! `.ci/run` installs the pinned packages (`npm ci` in `tests/interop`). Without them the test
//! fails under `CI`, and elsewhere says it was skipped.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};
use session::{CookieStorage, Expiry, SessionCookie, SessionManager};

use crate::common::pair_of;

const SESSIONS_EACH_WAY: usize = 200;

/// xorshift64*: reproducible randomness without a dependency; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn string(&mut self) -> String {
        const POOL: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "/",
            "\n",
            "\t",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "é",
            "ß",
            "日本",
            "語",
            "✓",
            "🎉",
            "👩‍💻",
            "\u{2028}",
            "\u{2029}",
            "\u{feff}",
            "<",
            ">",
            "&",
            ";",
            "=",
            ".",
            ",",
            "%",
            "e\u{301}",
        ];
        (0..self.below(10)).map(|_| self.pick(POOL)).collect()
    }

    fn key(&mut self) -> String {
        match self.below(4) {
            0 => self.below(20).to_string(),
            1 => self.string(),
            _ => format!("k{}", self.below(1_000)),
        }
    }

    fn number(&mut self) -> Value {
        match self.below(7) {
            0 => json!(self.next() % (1 << 53)),
            // Large values with a fraction: where two shortest strings can tie.
            6 => {
                let whole = f64::from(u32::try_from(self.next() >> 40).unwrap()) * 4_194_304.0;
                let sixty_fourths = f64::from(u8::try_from(self.below(64)).unwrap()) / 64.0;
                json!(70_368_744_177_664.0 + whole + sixty_fourths)
            }
            1 => json!(-i64::try_from(self.next() % (1 << 53)).unwrap()),
            2 => json!(self.pick(&[
                0.1,
                1e21,
                1e-7,
                5e-324,
                1.797_693_134_862_315_7e308,
                -0.0,
                2.5
            ])),
            _ => loop {
                let float = f64::from_bits(self.next());
                if float.is_finite() {
                    break json!(float);
                }
            },
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth == 0 { 4 } else { 6 }) {
            0 => json!(self.below(2) == 0),
            1 => self.number(),
            2 | 3 => Value::String(self.string()),
            4 => Value::Array((0..self.below(4)).map(|_| self.nested(depth)).collect()),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.key(), self.nested(depth)))
                    .collect(),
            ),
        }
    }

    fn nested(&mut self, depth: u32) -> Value {
        if self.below(8) == 0 {
            Value::Null
        } else {
            self.value(depth - 1)
        }
    }

    /// Distinct keys in insertion order, values never null at the top (null means remove).
    fn entries(&mut self, prefix: &str) -> Vec<(String, Value)> {
        let mut map = Map::new();
        for _ in 0..self.below(6) {
            map.insert(format!("{prefix}{}", self.key()), self.value(3));
        }
        map.into_iter().collect()
    }
}

/// Numbers compared by value, as JavaScript sees them.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn object(entries: &[(String, Value)]) -> Value {
    normalize(&Value::Object(entries.iter().cloned().collect()))
}

const SECRET_SETS: &[&[&str]] = &[
    &["secret1"],
    &["a-much-longer-secret-value-of-32+bytes!!"],
    &["new-secret", "old-secret"],
];

/// A cookie with Remix's default attributes, so the whole `Set-Cookie` can be compared.
fn remix_like_cookie(secrets: &[&str]) -> SessionCookie {
    SessionCookie::builder("__session")
        .secrets(secrets)
        .allow_short_secrets()
        .http_only(false)
        .secure(false)
        .build()
        .unwrap()
}

fn run_driver(dir: &Path, tasks: &[Value]) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg("driver.mjs")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(tasks).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the Node driver failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What we wrote for Remix to read: id, values, flash.
type Ours = (String, session::Map, Vec<(String, Value)>);
/// What we asked Remix to write: secrets, id, values, flash.
type Theirs = (
    &'static [&'static str],
    String,
    Vec<(String, Value)>,
    Vec<(String, Value)>,
);

/// Sessions written here, and the tasks that ask Remix to read them.
async fn rust_writes(rng: &mut Rng) -> (Vec<Value>, Vec<Ours>) {
    let mut tasks = Vec::new();
    let mut ours = Vec::new();
    for i in 0..SESSIONS_EACH_WAY {
        let secrets = rng.pick(SECRET_SETS);
        let values = rng.entries("v");
        let flash = rng.entries("f");
        // Every other session carries our expiry timestamps, which Remix must ignore.
        let expiry = if i % 2 == 0 {
            Expiry::none()
        } else {
            Expiry::default()
        };
        let sessions = SessionManager::new(remix_like_cookie(secrets), CookieStorage::new())
            .with_expiry(expiry);
        let mut session = sessions.load(None).await.unwrap();
        for (k, v) in &values {
            session.set(k, v).unwrap();
        }
        for (k, v) in &flash {
            session.flash(k, v).unwrap();
        }
        session.set("n", i).unwrap();
        let set_cookie = sessions.commit(&session).await.unwrap();
        let pair = pair_of(set_cookie.header().unwrap()).unwrap();
        tasks.push(json!({
            "op": "read", "name": "__session", "secrets": secrets, "cookie": pair,
            "flashKeys": flash.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        }));
        ours.push((
            session.id().as_str().to_owned(),
            session.values().clone(),
            flash,
        ));
    }
    (tasks, ours)
}

/// Tasks that ask Remix to write sessions.
fn remix_writes(rng: &mut Rng) -> (Vec<Value>, Vec<Theirs>) {
    let mut tasks = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..SESSIONS_EACH_WAY {
        let secrets = rng.pick(SECRET_SETS);
        let id = format!(
            "{:08x}-{i:04x}-4{i:03x}-8{i:03x}-{:012x}",
            rng.next() >> 32,
            rng.next() >> 16
        );
        let mut values = rng.entries("v");
        values.push(("n".to_owned(), json!(i))); // an empty session is never written
        let flash = rng.entries("f");
        tasks.push(json!({
            "op": "write", "name": "__session", "secrets": secrets, "id": id,
            "values": values, "flash": flash,
        }));
        theirs.push((secrets, id, values, flash));
    }
    (tasks, theirs)
}

fn check_remix_read_ours(ours: &[Ours], results: &[Value]) {
    for ((id, values, flash), result) in ours.iter().zip(results) {
        assert_eq!(result["parsed"], json!(true), "Remix verified our cookie");
        assert_eq!(result["id"].as_str(), Some(id.as_str()));
        assert_eq!(normalize(&result["values"]), normalize(&values.to_value()));
        assert_eq!(normalize(&result["flash"]), object(flash));
        assert_eq!(result["size"], json!(values.len() + flash.len()));
    }
}

async fn check_we_read_theirs(theirs: &[Theirs], results: &[Value]) {
    for ((secrets, id, values, flash), result) in theirs.iter().zip(results) {
        let remix_set_cookie = result["setCookie"].as_str().unwrap();
        let sessions = SessionManager::new(remix_like_cookie(secrets), CookieStorage::new())
            .with_expiry(Expiry::none());
        let pair = pair_of(remix_set_cookie).unwrap();
        let session = sessions.load(Some(&pair)).await.unwrap();
        assert_eq!(session.id().as_str(), id);
        assert_eq!(normalize(&session.values().to_value()), object(values));
        assert_eq!(
            normalize(&session.incoming_flash().to_value()),
            object(flash)
        );

        // The same session written here is byte-identical to Remix's.
        let mut twin = session_for_interop(&sessions, id).await;
        for (k, v) in values {
            twin.set(k, v).unwrap();
        }
        for (k, v) in flash {
            twin.flash(k, v).unwrap();
        }
        let ours = sessions.commit(&twin).await.unwrap();
        assert_eq!(ours.header(), Some(remix_set_cookie), "same bytes as Remix");
    }
}

#[tokio::test]
#[expect(
    clippy::print_stderr,
    reason = "the seed must be visible to replay a failure"
)]
async fn remix_and_this_crate_read_each_other_s_cookies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !dir.join("node_modules/@remix-run/session").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Remix packages: npm ci --prefix tests/interop"
        );
        eprintln!("skipped: run `npm ci --prefix tests/interop` to test against Remix");
        return;
    }
    let seed = std::env::var("SESSION_INTEROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            now.as_secs() ^ u64::from(now.subsec_nanos()) << 20 | 1
        });
    eprintln!("interop seed: {seed} (set SESSION_INTEROP_SEED to replay)");
    let mut rng = Rng(seed);

    let (mut tasks, ours) = rust_writes(&mut rng).await;
    let (their_tasks, theirs) = remix_writes(&mut rng);
    tasks.extend(their_tasks);
    let results = run_driver(&dir, &tasks);
    assert_eq!(results.len(), 2 * SESSIONS_EACH_WAY);
    check_remix_read_ours(&ours, &results[..SESSIONS_EACH_WAY]);
    check_we_read_theirs(&theirs, &results[SESSIONS_EACH_WAY..]).await;
}

/// One neighbour of a generated `Cookie` header, in the shapes Remix's regex has to sort out:
/// plain, quoted with escapes, escaped `;`, bare names, JavaScript whitespace (NBSP, U+FEFF,
/// U+2028), non-ASCII, and decoy session pairs that are not validly signed.
fn neighbour(rng: &mut Rng) -> String {
    let spaces = ["", " ", "\t", "\u{a0}", "\u{feff}", "\u{2028}"];
    let space = rng.pick(&spaces);
    let name = rng.pick(&[
        "theme",
        "a",
        "x_y",
        "é",
        "__session2",
        "session",
        "__Session",
    ]);
    match rng.below(8) {
        0 => format!("{space}{name}={space}v{}", rng.below(100)),
        1 => format!("{name}=\"q\\\"uo;ted\""),
        2 => format!("{name}=esc\\;aped"),
        3 => name.to_owned(),
        4 => format!("{name}=日本{space}語"),
        5 => "__session=not.signed".to_owned(),
        6 => "__session=".to_owned(),
        _ => format!("{name} = {space}spaced{space}"),
    }
}

#[tokio::test]
async fn remix_and_this_crate_pick_the_same_session_cookie_out_of_generated_headers() {
    // The header parser against Remix's own (`@remix-run/headers`), not a model of it: 300
    // headers holding a validly signed session cookie among generated neighbours, or only
    // decoys, read by both; both must find the same session or none.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !dir.join("node_modules/@remix-run/session").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Remix packages"
        );
        return;
    }
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let secrets: &[&str] = &["secret1"];
    let sessions = SessionManager::new(remix_like_cookie(secrets), CookieStorage::new())
        .with_expiry(Expiry::none());
    let mut tasks = Vec::new();
    let mut headers = Vec::new();
    for i in 0..300 {
        let id = format!("generated-header-session-{i:05}");
        let signed = remix_like_cookie(secrets)
            .to_set_cookie(&json!({"i": id, "d": [{"n": i}, {}]}).to_string(), None)
            .unwrap();
        let session_pair = pair_of(&signed).unwrap();
        let mut pairs: Vec<String> = (0..rng.below(5)).map(|_| neighbour(&mut rng)).collect();
        if rng.below(4) != 0 {
            let at = rng.below(pairs.len() + 1);
            pairs.insert(at, session_pair);
        }
        let separator = rng.pick(&[";", "; ", ";\t", " ; "]);
        let header = pairs.join(separator);
        tasks.push(json!({
            "op": "read", "name": "__session", "secrets": secrets, "cookie": header,
            "flashKeys": [],
        }));
        headers.push((id, header));
    }
    let results = run_driver(&dir, &tasks);
    let mut found = 0;
    for ((id, header), result) in headers.iter().zip(&results) {
        let remix_found = result["parsed"] == json!(true) && result["id"] == json!(id);
        found += usize::from(remix_found);
        let ours = sessions.load(Some(header)).await.unwrap();
        assert_eq!(
            ours.id().as_str() == id,
            remix_found,
            "header {header:?}: Remix {result}, ours {:?}",
            ours.id()
        );
    }
    // Both verdicts occur often enough to mean something: decoys before the real pair hide
    // it, as the first pair with the name wins.
    assert!((100..=250).contains(&found), "{found} of 300 found");
}

/// A session carrying a Remix-made id, through the public API: a signed payload holding it,
/// loaded by `sessions`.
async fn session_for_interop(
    sessions: &SessionManager<CookieStorage>,
    id: &str,
) -> session::LoadedSession {
    let payload = json!({"i": id}).to_string();
    let set_cookie = sessions.cookie().to_set_cookie(&payload, None).unwrap();
    sessions.load(set_cookie.split(';').next()).await.unwrap()
}
