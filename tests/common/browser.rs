//! Headless Chromium driven over WebDriver (fantoccini and Debian's chromedriver), for the
//! web UI's end-to-end tests. Each browser gets its own chromedriver in its own process
//! group, so a failing test leaves no Chromium behind. Screenshots go under the test run's
//! output directory (target/tmp/web-screenshots), never into the repository.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Installs Chromium and ChromeDriver from Debian's packages if this machine lacks them.
fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists() {
            return;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-browser");
        let ok = Command::new(script).status().is_ok_and(|s| s.success());
        assert!(
            ok,
            "scripts/install-browser could not install chromium and chromium-driver"
        );
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where this test's screenshots go.
pub fn screenshot_dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("web-screenshots")
        .join(test)
}

pub struct Browser {
    pub c: Client,
    driver: Child,
    base: String,
    shots: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group of our own child; no memory is involved.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// A fresh headless Chromium (no cookies) pointed at the Kith at `base`.
    pub async fn open(base: &str, test: &str) -> Browser {
        ensure_installed();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        // Readiness: chromedriver answers /status with ready=true once it takes sessions.
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && let Ok(b) = r.bytes().await
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b)
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not get ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-dev-shm-usage",
                         "--window-size=1280,1000"]
            }),
        );
        let c = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        let shots = screenshot_dir(test);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            c,
            driver,
            base: base.to_string(),
            shots,
        }
    }

    pub async fn go(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Waits (up to 20 s) for an element: the readiness check after a navigation.
    pub async fn wait(&self, css: &str) -> Element {
        match self
            .c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "no {css} on {} ({e}):\n{}",
                self.path().await,
                self.text("main").await
            ),
        }
    }

    /// Waits (up to 20 s) for a heading with exactly `text`: after a form posts, the old
    /// page's heading is still there until the answer arrives.
    pub async fn wait_heading(&self, text: &str) {
        let xpath = format!("//h1[normalize-space()='{text}']");
        let found = self
            .c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath(&xpath))
            .await;
        if let Err(e) = found {
            panic!("no heading {text:?} on {} ({e})", self.path().await);
        }
    }

    /// Waits for an element and returns its text.
    pub async fn read(&self, css: &str) -> String {
        self.wait(css).await.text().await.unwrap()
    }

    /// Waits (up to 20 s) until an element's text contains `needle`, and returns the text:
    /// after a form posts, the old page (with an element of the same id) may still be there,
    /// or go stale while it is read.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = match self.find(css).await {
                Some(el) => el.text().await.unwrap_or_default(),
                None => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "{css} never said {needle:?} on {}; it says {text:?}",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Option<Element> {
        self.c.find(Locator::Css(css)).await.ok()
    }

    pub async fn click(&self, css: &str) {
        self.wait(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the button (or link) whose text is `text`.
    pub async fn press(&self, text: &str) {
        let xpath =
            format!("//button[normalize-space()='{text}'] | //a[normalize-space()='{text}']");
        let el = self
            .c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath(&xpath))
            .await;
        match el {
            Ok(el) => el.click().await.unwrap(),
            Err(e) => panic!(
                "no button {text:?} on {} ({e}):\n{}",
                self.path().await,
                self.text("main").await
            ),
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.wait(css).await;
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The current URL's path and query.
    pub async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    pub async fn title(&self) -> String {
        self.c.title().await.unwrap_or_default()
    }

    /// Saves a screenshot of the page as NAME.png.
    pub async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The session cookie, for requests made outside the browser as it.
    pub async fn cookie_header(&self) -> String {
        self.c
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The page's CSRF token (every form carries it).
    pub async fn csrf(&self) -> String {
        self.wait("input[name=csrf]")
            .await
            .attr("value")
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn sign_in(&self, user: &str, password: &str) {
        self.go("/login").await;
        self.fill("#user", user).await;
        self.fill("#password", password).await;
        self.press("Sign in").await;
    }

    pub async fn close(self) {
        let _ = self.c.clone().close().await;
    }
}
