//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `.ci/run`), driven over WebDriver: a real browser keeps and returns our cookies, with their
//! attributes, through login, reloads, a flash and logout, and two profiles (two browsers of
//! one user) ending each other on "Your sessions". Without Chromium the test fails
//! under `CI` and is skipped (with a message) elsewhere.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use session_examples::shared_login::{self, RemixApp};
use session_examples::{Config, Storage};

use crate::common::{SECRET, TempDir};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(response) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && response.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    /// One WebDriver command; `Err` carries the driver's error object.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if response["value"].get("error").is_some() {
            Err(response["value"].clone())
        } else {
            Ok(response["value"].clone())
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("{path}: {error}"),
        }
    }
}

/// One browser session.
struct Browser<'d> {
    driver: &'d Driver,
    id: String,
}

impl Browser<'_> {
    async fn open<'a>(driver: &'a Driver, profile: &Path) -> Browser<'a> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ];
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let value = driver
            .call(reqwest::Method::POST, "/session", Some(capabilities))
            .await;
        Browser {
            driver,
            id: value["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver
            .call(reqwest::Method::POST, &path, Some(body))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver.call(reqwest::Method::GET, &path, None).await
    }

    async fn go(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn reload(&self) {
        self.post("/refresh", json!({})).await;
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("{e}"))
                    .to_owned()
            })
            .collect()
    }

    async fn find(&self, css: &str) -> String {
        self.find_all(css)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {css}"))
    }

    /// The text of the element `css` once it reads `expected`, or what it reads after five
    /// seconds: a click that submits a form returns before the next page has loaded, so an
    /// element found at once may belong to the page that is going away.
    async fn text_when(&self, css: &str, expected: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            if let Some(text) = self.try_text(css).await {
                if text == expected {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last
    }

    /// The element's text, or `None` if it is missing or went stale.
    async fn try_text(&self, css: &str) -> Option<String> {
        let found = self
            .driver
            .try_call(
                reqwest::Method::POST,
                &format!("/session/{}/elements", self.id),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        let element = found.as_array()?.first()?[ELEMENT].as_str()?.to_owned();
        let text = self
            .driver
            .try_call(
                reqwest::Method::GET,
                &format!("/session/{}/element/{element}/text", self.id),
                None,
            )
            .await
            .ok()?;
        text.as_str().map(str::to_owned)
    }

    async fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            if let Some(text) = self.try_text(css).await {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {css}")
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{element}/value"), json!({"text": text}))
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    async fn cookie(&self, name: &str) -> Value {
        self.get(&format!("/cookie/{name}")).await
    }

    async fn close(self) {
        let path = format!("/session/{}", self.id);
        self.driver.call(reqwest::Method::DELETE, &path, None).await;
    }
}

/// Whether Chromium and ChromeDriver are here: CI must have them; elsewhere the test skips.
fn have_chromium() -> bool {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Debian's chromium and chromium-driver"
        );
        crate::common::skip(
            "install Debian's chromium and chromium-driver to run the browser test",
        );
        return false;
    }
    true
}

/// Serves the demo app on a free port and starts ChromeDriver with a fresh profile directory:
/// the driver, the profile and the app's URL. `None` (the test skips) without Chromium, which
/// CI must have.
async fn demo_and_driver() -> Option<(Driver, TempDir, String)> {
    if !have_chromium() {
        return None;
    }
    let app = session_examples::app(&Config {
        storage: Storage::Memory,
        secret: SECRET.to_owned(),
        secure_cookies: true,
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Some((
        Driver::start().await,
        TempDir::new(),
        format!("http://{addr}/"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_logs_in_counts_sees_the_flash_once_and_logs_out() {
    let Some((driver, profile, url)) = demo_and_driver().await else {
        return;
    };
    let browser = Browser::open(&driver, &profile.0).await;

    browser.go(&url).await;
    assert_eq!(browser.text("#greeting").await, "Hello, guest!");
    let guest_cookie = browser.cookie("sid").await;

    browser.type_into("#name", "ada").await;
    browser.click("#login").await;
    assert_eq!(
        browser.text_when("#greeting", "Hello, ada!").await,
        "Hello, ada!"
    );
    assert_eq!(browser.text("#notice").await, "Welcome, ada.");
    let cookie = browser.cookie("sid").await;
    assert_ne!(
        cookie["value"], guest_cookie["value"],
        "login regenerated the id"
    );
    assert_eq!(cookie["httpOnly"], json!(true));
    assert_eq!(cookie["secure"], json!(true));
    assert_eq!(cookie["sameSite"], json!("Lax"));
    assert_eq!(cookie["path"], json!("/"));
    assert!(
        guest_cookie.get("expiry").is_some(),
        "a guest gets the policy's Max-Age: {guest_cookie}"
    );
    assert!(
        cookie.get("expiry").is_none(),
        "no \"remember me\": a browser-session cookie, {cookie}"
    );

    // The counter rises over reloads; the flash was shown once.
    let first: u64 = browser.text("#count").await.parse().unwrap();
    browser.reload().await;
    assert!(
        browser.find_all("#notice").await.is_empty(),
        "the flash is gone"
    );
    assert_eq!(
        browser.text("#count").await.parse::<u64>().unwrap(),
        first + 1
    );
    browser.reload().await;
    assert_eq!(
        browser.text("#count").await.parse::<u64>().unwrap(),
        first + 2
    );

    browser.type_into("#note", "hello").await;
    browser.click("#save").await;
    assert_eq!(
        browser.text_when("#notice", "Saved: hello").await,
        "Saved: hello"
    );
    browser.reload().await;
    assert!(browser.find_all("#notice").await.is_empty());

    browser.click("#logout").await;
    assert_eq!(
        browser.text_when("#greeting", "Hello, guest!").await,
        "Hello, guest!"
    );
    assert_eq!(browser.text("#count").await, "1");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_login_gets_a_persistent_cookie_in_a_real_browser() {
    let Some((driver, profile, url)) = demo_and_driver().await else {
        return;
    };
    let browser = Browser::open(&driver, &profile.0).await;

    browser.go(&url).await;
    // "Remember me": a persistent cookie, as Chromium stores it, expiring in 30 days.
    browser.type_into("#name", "grace").await;
    browser.click("#remember").await;
    browser.click("#login").await;
    assert_eq!(
        browser.text_when("#greeting", "Hello, grace!").await,
        "Hello, grace!"
    );
    let remembered = browser.cookie("sid").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry = remembered["expiry"]
        .as_u64()
        .unwrap_or_else(|| panic!("a persistent cookie: {remembered}"));
    let month = session_examples::REMEMBER_FOR.as_secs();
    assert!(
        expiry.abs_diff(now + month) < 3_600,
        "expires in 30 days: {expiry} vs {}",
        now + month
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_profiles_see_each_other_on_your_sessions_and_one_logs_the_other_out() {
    let Some((driver, laptop_profile, url)) = demo_and_driver().await else {
        return;
    };
    let phone_profile = TempDir::new();
    let laptop = Browser::open(&driver, &laptop_profile.0).await;
    let phone = Browser::open(&driver, &phone_profile.0).await;
    for browser in [&laptop, &phone] {
        browser.go(&url).await;
        browser.type_into("#name", "ada").await;
        browser.click("#login").await;
        assert_eq!(
            browser.text_when("#greeting", "Hello, ada!").await,
            "Hello, ada!"
        );
    }

    // The laptop lists both browsers, itself marked, and logs the phone out.
    laptop.go(&format!("{url}sessions")).await;
    assert_eq!(laptop.find_all("li.session").await.len(), 2);
    assert_eq!(laptop.text("li.session .current").await, "(this browser)");
    assert!(laptop.text("li.session .label").await.contains("Chrome"));
    laptop.click("li.session .end").await;
    assert_eq!(
        laptop
            .text_when("#notice", "That session is logged out.")
            .await,
        "That session is logged out."
    );
    assert_eq!(laptop.find_all("li.session").await.len(), 1);
    phone.reload().await;
    assert_eq!(
        phone.text_when("#greeting", "Hello, guest!").await,
        "Hello, guest!",
        "the phone's cookie no longer reaches a session"
    );

    // The phone logs in again and logs out every other browser: the laptop.
    phone.type_into("#name", "ada").await;
    phone.click("#login").await;
    assert_eq!(
        phone.text_when("#greeting", "Hello, ada!").await,
        "Hello, ada!"
    );
    phone.go(&format!("{url}sessions")).await;
    phone.click("#end-others").await;
    assert_eq!(
        phone
            .text_when("#notice", "Logged out 1 other session(s).")
            .await,
        "Logged out 1 other session(s)."
    );
    laptop.go(&url).await;
    assert_eq!(
        laptop.text_when("#greeting", "Hello, guest!").await,
        "Hello, guest!"
    );
    phone.go(&url).await;
    assert_eq!(phone.text("#greeting").await, "Hello, ada!");

    laptop.close().await;
    phone.close().await;
}

/// `examples/remix`: the Rust app and the Remix 3 app (Node, fetch-router, the Remix session
/// middleware) behind one port share one login through one cookie, in a real browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remix_app_and_the_rust_app_share_one_login_in_a_real_browser() {
    if !have_chromium() {
        return;
    }
    let packages = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/remix/node_modules");
    if !packages.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the example's Remix packages (scripts/setup)"
        );
        crate::common::skip("run scripts/setup for the Remix example's packages");
        return;
    }
    let remix = RemixApp::start(SECRET, true)
        .await
        .expect("the Remix app starts");
    let app = shared_login::app(SECRET, true, remix.address()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let driver = Driver::start().await;
    let profile = TempDir::new();
    let browser = Browser::open(&driver, &profile.0).await;

    browser.go(&url).await;
    assert_eq!(browser.text("h1").await, "Rust (axum)");
    assert_eq!(browser.text("#user").await, "Not signed in");
    let guest = browser.cookie("sid").await;

    // Signed in by Rust, greeted by Remix with the flash Rust set.
    browser.type_into("#name", "ada").await;
    browser.click("#login").await;
    assert_eq!(
        browser.text_when("#user", "Signed in as ada").await,
        "Signed in as ada"
    );
    assert_eq!(browser.text("h1").await, "Remix 3 (Node)");
    assert_eq!(
        browser.text("#notice").await,
        "Welcome, ada: signed in by Rust."
    );
    assert_eq!(browser.text("#visits").await, "Visits: 2");
    let cookie = browser.cookie("sid").await;
    assert_ne!(cookie["value"], guest["value"]);
    assert_eq!(cookie["httpOnly"], json!(true));
    assert_eq!(cookie["secure"], json!(true));
    assert_eq!(cookie["sameSite"], json!("Lax"));

    // Remix wrote the cookie last; Rust reads it, and the flash was shown once.
    browser.reload().await;
    assert_eq!(browser.text_when("#visits", "Visits: 3").await, "Visits: 3");
    assert_eq!(browser.text("#notice").await, "");
    browser.click("#to-rust").await;
    assert_eq!(browser.text_when("h1", "Rust (axum)").await, "Rust (axum)");
    assert_eq!(browser.text("#user").await, "Signed in as ada");
    assert_eq!(browser.text("#visits").await, "Visits: 4");
    assert_eq!(browser.text("#notice").await, "");

    // Signed out by Remix: a guest on the Rust side too.
    browser.click("#to-remix").await;
    assert_eq!(
        browser.text_when("h1", "Remix 3 (Node)").await,
        "Remix 3 (Node)"
    );
    browser.click("#logout").await;
    assert_eq!(browser.text_when("h1", "Rust (axum)").await, "Rust (axum)");
    assert_eq!(browser.text("#user").await, "Not signed in");
    assert_eq!(browser.text("#visits").await, "Visits: 1");

    browser.close().await;
    remix.stop().await.unwrap();
}
