//! The browser harness: the shared running app (`tests/support/app.rs`: in-process on a
//! loopback port with a temp SQLite file, a manual clock and the outbox worker), one
//! shared `chromedriver` per test binary, and one headless Chromium session per test.
//!
//! A test looks like:
//!
//! ```ignore
//! pub async fn something_a_person_does() {
//!     let app = TestApp::seeded().await;
//!     app.in_browser(|b| async move {
//!         b.goto("/t/acme/").await?;
//!         assert_eq!(b.text_of("h1").await?, "Sign in");
//!         Ok(())
//!     })
//!     .await;
//! }
//! ```
//!
//! and is listed in `trials()` in `main.rs`, which runs it as `#[tokio::test]` would.
//!
//! `in_browser` saves `target/screenshots/{test_name}.png` when the body fails (an `Err`
//! or a panic) and always ends the browser session.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Where Debian's `chromium-driver` puts chromedriver; `RELAYDESK_CHROMEDRIVER` overrides it.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where Debian's `chromium` puts the browser; `RELAYDESK_CHROMIUM` overrides it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The command that installs both (Debian and Ubuntu, as root).
pub const INSTALL: &str = "apt-get install chromium chromium-driver";

pub use crate::app::{RunningApp, ADMIN_EMAIL, ADMIN_PASSWORD, SLUG, TENANT_NAME};
pub const ADMIN_NAME: &str = "Ada Lovelace";

/// The submit button of the page's own form. Not `button[type=submit]` alone: on signed-in
/// pages the header's "Sign out" is a form too, and it comes first.
pub const SUBMIT: &str = "main form button[type=submit]";

/// How long `wait_for`, page loads and scripts wait before failing.
const WAIT: Duration = Duration::from_secs(10);
/// How often `wait_for` looks again.
const POLL: Duration = Duration::from_millis(50);
/// A test body still running after this fails (with its screenshot) instead of hanging.
const TEST_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------

/// The real app (see [`RunningApp`]; `app.db`, `app.state`, `app.advance(…)` through
/// `Deref`), to be driven through browsers. Its outbox worker mails invitations and
/// password resets, as `serve` runs it; it ends with the test's runtime.
pub struct TestApp {
    app: RunningApp,
}

impl Deref for TestApp {
    type Target = RunningApp;

    fn deref(&self) -> &RunningApp {
        &self.app
    }
}

impl TestApp {
    /// No organization yet: the state of a first run.
    pub async fn empty() -> TestApp {
        TestApp { app: RunningApp::start(|_| {}).await }
    }

    /// Organization `acme` with one administrator (`ADMIN_EMAIL`, `ADMIN_PASSWORD`).
    pub async fn seeded() -> TestApp {
        TestApp::seeded_with(|_| {}).await
    }

    /// `seeded`, with the config changed first (other endpoints, say).
    pub async fn seeded_with(adjust: impl FnOnce(&mut relaydesk::Config)) -> TestApp {
        let app = TestApp { app: RunningApp::start(adjust).await };
        app.seed_tenant(SLUG, TENANT_NAME, ADMIN_NAME, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    /// Runs `body` in a fresh headless Chromium pointed at this app. On failure (an `Err`
    /// or a panic) saves a screenshot to `target/screenshots/{test_name}.png` first; the
    /// browser session is always ended.
    pub async fn in_browser<F, Fut>(&self, body: F)
    where
        F: FnOnce(Browser) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.in_sessions(1, |mut browsers| body(browsers.remove(0))).await
    }

    /// Like `in_browser`, with two separate browsers (own profiles, own cookies): two people
    /// at once, say an admin and the person they invite. On failure each one's screenshot
    /// is saved (`{test_name}.png` and `{test_name}-2.png`).
    pub async fn in_two_browsers<F, Fut>(&self, body: F)
    where
        F: FnOnce(Browser, Browser) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.in_sessions(2, |mut browsers| {
            let second = browsers.pop().unwrap();
            body(browsers.pop().unwrap(), second)
        })
        .await
    }

    async fn in_sessions<F, Fut>(&self, count: usize, body: F)
    where
        F: FnOnce(Vec<Browser>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = test_name();
        let mut profiles = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..count {
            let profile = tempfile::Builder::new()
                .prefix("relaydesk-chromium-")
                .tempdir()
                .expect("temp dir for the browser profile");
            clients.push(new_session(profile.path()).await);
            profiles.push(profile);
        }
        let browsers =
            clients.iter().map(|client| Browser { client: client.clone(), base: self.base.clone() }).collect();
        // A spawned task turns a panic into a `JoinError`, so the screenshot can still be
        // taken before the panic carries on.
        let mut task = tokio::spawn(body(browsers));
        let outcome = match tokio::time::timeout(TEST_LIMIT, &mut task).await {
            Ok(Ok(Ok(()))) => Outcome::Passed,
            Ok(Ok(Err(e))) => Outcome::Failed(format!("{e:#}")),
            Ok(Err(join)) => match join.try_into_panic() {
                Ok(payload) => Outcome::Panicked(payload),
                Err(e) => Outcome::Failed(format!("the test body did not finish: {e}")),
            },
            Err(_) => {
                task.abort();
                Outcome::Failed(format!("still running after {TEST_LIMIT:?}"))
            }
        };
        let mut notes = Vec::new();
        if !matches!(outcome, Outcome::Passed) {
            for (i, client) in clients.iter().enumerate() {
                let shot = if i == 0 { name.clone() } else { format!("{name}-{}", i + 1) };
                notes.push(failure_note(client, &shot).await);
            }
        }
        let note = notes.join("\n");
        for client in clients {
            if let Err(e) = client.close().await {
                eprintln!("closing the browser session failed: {e}");
            }
        }
        drop(profiles);
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed(e) => panic!("{name} failed: {e}\n{note}"),
            Outcome::Panicked(payload) => {
                eprintln!("{name}: {note}");
                std::panic::resume_unwind(payload)
            }
        }
    }
}

enum Outcome {
    Passed,
    Failed(String),
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Where the browser was, and the screenshot saved of it.
async fn failure_note(client: &Client, name: &str) -> String {
    let page = match client.current_url().await {
        Ok(url) => url.to_string(),
        Err(e) => format!("unknown ({e})"),
    };
    match save_screenshot(client, name).await {
        Ok(path) => format!("page: {page}\nscreenshot: {}", path.display()),
        Err(e) => format!("page: {page}\nno screenshot: {e:#}"),
    }
}

/// The running test's function name (`main.rs` runs each test on a thread named
/// `module::function`, as libtest does).
fn test_name() -> String {
    let thread = std::thread::current();
    let full = thread.name().unwrap_or("unnamed_test");
    full.rsplit("::").next().unwrap_or(full).to_owned()
}

async fn save_screenshot(client: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let png = client.screenshot().await.context("taking the screenshot")?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// chromedriver and Chromium
// ---------------------------------------------------------------------------------------

/// The one chromedriver of this test binary.
struct Driver {
    url: String,
    /// Closed when this process ends, however it ends: the shell around chromedriver then
    /// stops it and its browsers (see `start_driver`). Never written to.
    _lifeline: ChildStdin,
}

/// Started by the first test that needs it; a failure to start is kept too, so that every
/// test fails at once with the same message.
static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();

fn driver_url() -> &'static str {
    match DRIVER.get_or_init(start_driver) {
        Ok(driver) => &driver.url,
        Err(message) => panic!("{message}"),
    }
}

fn chromedriver() -> PathBuf {
    std::env::var_os("RELAYDESK_CHROMEDRIVER").map_or_else(|| CHROMEDRIVER.into(), PathBuf::from)
}

fn chromium() -> PathBuf {
    std::env::var_os("RELAYDESK_CHROMIUM").map_or_else(|| CHROMIUM.into(), PathBuf::from)
}

/// What is missing for the browser tests to run (`/usr/bin/chromium is missing`), if anything.
pub fn missing_browser() -> Option<String> {
    let missing: Vec<String> =
        [chromedriver(), chromium()].into_iter().filter(|p| !p.is_file()).map(|p| p.display().to_string()).collect();
    match missing.len() {
        0 => None,
        1 => Some(format!("{} is missing", missing[0])),
        _ => Some(format!("{} are missing", missing.join(" and "))),
    }
}

/// Whether a missing browser fails the run rather than skipping the browser tests: in CI
/// (`CI` set, as CI services do, and not to `false` or `0`) or when
/// `RELAYDESK_REQUIRE_BROWSER=1`.
pub fn browser_required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    ci || std::env::var("RELAYDESK_REQUIRE_BROWSER").is_ok_and(|v| v.trim() == "1")
}

/// The explanation printed when the browser is missing (`missing` from `missing_browser`).
pub fn browser_notice(missing: &str) -> String {
    let (verdict, consequence) = if browser_required() {
        ("FAILED", "CI or RELAYDESK_REQUIRE_BROWSER=1 is set, so the browser is required and each browser test fails.")
    } else {
        (
            "NOT RUN",
            "Each browser test is reported as ignored. (With CI or RELAYDESK_REQUIRE_BROWSER=1 set, \
             they would fail instead.)",
        )
    };
    format!(
        "browser tests {verdict}: they need Chromium and its driver, but {missing}.\n  \
         Install them (Debian or Ubuntu, as root): {INSTALL}\n  \
         {consequence}\n  \
         Other paths can be given in RELAYDESK_CHROMEDRIVER and RELAYDESK_CHROMIUM.\n"
    )
}

/// Starts chromedriver on a free port and waits until it says it is ready.
///
/// It runs under `sh` in a process group of its own. The shell waits for its standard input
/// to close, then ends the whole group: chromedriver and any Chromium still open. The test
/// binary holds the other end of that pipe, so neither outlives the tests, even when the
/// binary is killed mid-test (statics are never dropped, so nothing else would stop them).
fn start_driver() -> Result<Driver, String> {
    if let Some(missing) = missing_browser() {
        return Err(browser_notice(&missing));
    }
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" --port="$1" & cat >/dev/null; kill -TERM 0"#)
            .arg(chromedriver())
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start chromedriver under sh: {e}"))?;
        let lifeline = child.stdin.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if driver_is_ready(port) {
                return Ok(Driver { url: format!("http://127.0.0.1:{port}"), _lifeline: lifeline });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        last_error = format!("chromedriver did not answer on port {port} within 20 s");
        drop(lifeline); // stops it
        let _ = child.wait();
    }
    Err(last_error)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `GET /status` by hand (this runs outside any async runtime). chromedriver keeps the
/// connection open after answering, so read only until the answer says it is ready.
fn driver_is_ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&answer).contains(r#""ready":true"#) {
            return true;
        }
    }
    false
}

/// A new WebDriver session: headless Chromium with its own empty profile.
async fn new_session(profile: &Path) -> Client {
    let url = match tokio::task::spawn_blocking(driver_url).await {
        Ok(url) => url,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium(), "args": args },
        "timeouts": { "pageLoad": WAIT.as_millis() as u64, "script": WAIT.as_millis() as u64 },
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session through {url}: {e}"))
}

// ---------------------------------------------------------------------------------------
// The browser, as tests use it
// ---------------------------------------------------------------------------------------

/// One browser session on the app. Every finder waits up to 10 s for its element.
#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    base: String,
}

impl Browser {
    /// The app's public URL (`http://127.0.0.1:{port}`), which mailed links start with.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Opens a path of the app (`/t/acme/`) and waits for the page to load.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        self.client.goto(&url).await.with_context(|| format!("opening {url}"))
    }

    /// The path of the page shown now (no query).
    pub async fn current_path(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    /// Waits until an element matches `css` and returns the first one.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        match self.client.wait().at_most(WAIT).every(POLL).for_element(Locator::Css(css)).await {
            Ok(element) => Ok(element),
            Err(CmdError::WaitTimeout) => {
                let path = self.current_path().await.unwrap_or_default();
                Err(anyhow!("no element matches `{css}` on {path} after {WAIT:?}"))
            }
            Err(e) => Err(anyhow!("looking for `{css}`: {e}")),
        }
    }

    /// Types `text` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.wait_for(css).await?;
        field.clear().await.with_context(|| format!("clearing `{css}`"))?;
        if text.is_empty() {
            return Ok(());
        }
        field.send_keys(text).await.with_context(|| format!("typing into `{css}`"))
    }

    /// Puts `text` into the field matching `css` at once, as pasting it would (typing a
    /// long certificate key by key takes seconds), replacing what it held.
    pub async fn paste(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.wait_for(css).await?;
        if !field.is_displayed().await? {
            return Err(anyhow!("`{css}` is not shown, so nothing can be pasted into it"));
        }
        field.click().await.with_context(|| format!("clicking into `{css}`"))?;
        let script = "const [field, text] = arguments; field.value = text; \
                      field.dispatchEvent(new Event('input', { bubbles: true })); \
                      field.dispatchEvent(new Event('change', { bubbles: true }));";
        let element = serde_json::to_value(&field)?;
        self.client
            .execute(script, vec![element, json!(text)])
            .await
            .with_context(|| format!("pasting into `{css}`"))?;
        Ok(())
    }

    /// Clicks the element matching `css`, without waiting for what follows.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.click().await.with_context(|| format!("clicking `{css}`"))
    }

    /// Clicks a link or submit button matching `css` and waits until the next page has
    /// replaced this one (so later finders cannot match the old page).
    pub async fn click_and_load(&self, css: &str) -> anyhow::Result<()> {
        let old_page = self.client.find(Locator::Css("html")).await?;
        self.click(css).await?;
        self.wait_for_new_page(old_page).await.with_context(|| format!("after clicking `{css}`"))
    }

    /// Waits until the page whose `<html>` element is `old_page` has been replaced (after a
    /// key press that submits a form, say).
    pub async fn wait_for_new_page(&self, old_page: Element) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        // Any command on an element of a replaced page fails ("stale element reference").
        while old_page.tag_name().await.is_ok() {
            if Instant::now() > deadline {
                return Err(anyhow!("no new page loaded within {WAIT:?}"));
            }
            tokio::time::sleep(POLL).await;
        }
        self.wait_for("body").await?;
        Ok(())
    }

    /// The visible text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> anyhow::Result<String> {
        self.wait_for(css).await?.text().await.with_context(|| format!("reading the text of `{css}`"))
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr_of(&self, css: &str, attribute: &str) -> anyhow::Result<Option<String>> {
        self.wait_for(css).await?.attr(attribute).await.with_context(|| format!("reading `{attribute}` of `{css}`"))
    }

    /// Opens an absolute link the app gave out (in an email, say). It must point at this
    /// app's public URL.
    pub async fn goto_link(&self, link: &str) -> anyhow::Result<()> {
        if !link.starts_with(&format!("{}/", self.base)) {
            return Err(anyhow!("the link {link} does not start with the public URL {}", self.base));
        }
        self.client.goto(link).await.with_context(|| format!("opening {link}"))
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// The visible texts of every element matching `css` now (no waiting).
    pub async fn texts_of(&self, css: &str) -> anyhow::Result<Vec<String>> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    /// Whether the first element matching `css` is shown (not `hidden`, not in a hidden
    /// fieldset, not `display: none`).
    pub async fn is_displayed(&self, css: &str) -> anyhow::Result<bool> {
        self.wait_for(css).await?.is_displayed().await.with_context(|| format!("checking whether `{css}` is shown"))
    }

    /// The current value of a form field (what the person sees in it, not the attribute).
    pub async fn value_of(&self, css: &str) -> anyhow::Result<String> {
        let value = self.wait_for(css).await?.prop("value").await.with_context(|| format!("reading `{css}`"))?;
        Ok(value.unwrap_or_default())
    }

    /// Chooses the option with `value` in the select matching `css`, as a click would.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.select_by_value(value).await.with_context(|| format!("choosing {value:?} in `{css}`"))
    }

    /// Ticks or unticks the checkbox matching `css` by clicking it when needed.
    pub async fn set_checked(&self, css: &str, checked: bool) -> anyhow::Result<()> {
        let checkbox = self.wait_for(css).await?;
        if checkbox.is_selected().await? != checked {
            checkbox.click().await.with_context(|| format!("clicking `{css}`"))?;
        }
        Ok(())
    }

    /// The page's name from `<body data-page="…">`.
    pub async fn page_name(&self) -> anyhow::Result<String> {
        Ok(self.attr_of("body", "data-page").await?.unwrap_or_default())
    }

    /// The one-time message at the top of the page.
    pub async fn flash(&self) -> anyhow::Result<String> {
        self.text_of("#flash").await
    }

    /// Presses keys (text, or `fantoccini::key::Key`s as chars) in the focused element.
    pub async fn press(&self, keys: &str) -> anyhow::Result<()> {
        let focused = self.client.active_element().await?;
        focused.send_keys(keys).await.context("pressing keys")
    }

    /// The `id` of the focused element (empty when it has none).
    pub async fn focused_id(&self) -> anyhow::Result<String> {
        let focused = self.client.active_element().await?;
        Ok(focused.attr("id").await?.unwrap_or_default())
    }

    /// Signs in to `SLUG` from its sign-in page and checks the dashboard was reached.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<()> {
        self.goto(&format!("/t/{SLUG}/login")).await?;
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click_and_load(SUBMIT).await?;
        let path = self.current_path().await?;
        if path != format!("/t/{SLUG}/") {
            return Err(anyhow!("signing in as {email} led to {path}, not the dashboard"));
        }
        Ok(())
    }

    /// Signs the seeded administrator in.
    pub async fn sign_in_admin(&self) -> anyhow::Result<()> {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }
}
