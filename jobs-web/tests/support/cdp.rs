//! Just enough of the Chrome DevTools Protocol to drive a headless Chromium from a test:
//! open a page, load a URL, read the DOM, click like a user, take a screenshot.
//!
//! One WebSocket to the browser; the page is a target attached in flat mode, so its
//! commands carry a `sessionId`. Calls are sequential: each sends one command and reads
//! messages until its answer, dropping the events in between (the tests poll the DOM
//! instead of listening).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Debian's Chromium, which `scripts/test.sh` installs.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one protocol call, or the browser's start, may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with a fresh profile. Dropping it (on panic too) kills the browser
/// and its helper processes, and removes the profile.
pub(crate) struct Browser {
    child: Child,
    profile: PathBuf,
    ws_url: String,
}

impl Browser {
    /// Starts the browser and waits for its DevTools address.
    ///
    /// # Panics
    ///
    /// When `/usr/bin/chromium` is missing (with a message saying how to install it), or
    /// the browser does not start.
    pub(crate) fn launch() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the dashboard test drives a real headless Chromium. \
             Run scripts/test.sh, which installs Debian's `chromium` package, \
             or `apt-get install -y chromium`."
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let profile =
            std::env::temp_dir().join(format!("jobs-web-chromium-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                // Screenshots of pages taller than the window lost their right 15 px to
                // the room of a scrollbar they do not show.
                "--hide-scrollbars",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so Drop can kill the helpers it forks as well.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));

        // Read stderr on a thread until the address shows, then keep draining it so the
        // browser never blocks on a full pipe.
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(url.to_owned()));
                    }
                } else if tx.is_some() {
                    seen.push(line);
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });

        // Built before waiting, so a panic below still kills the browser.
        let mut browser = Browser {
            child,
            profile,
            ws_url: String::new(),
        };
        browser.ws_url = match rx.recv_timeout(CALL_TIMEOUT) {
            Ok(Ok(url)) => url,
            Ok(Err(stderr)) => panic!("{CHROMIUM} exited before listening; its stderr:\n{stderr}"),
            Err(_) => {
                panic!("{CHROMIUM} did not print its DevTools address within {CALL_TIMEOUT:?}")
            }
        };
        browser
    }

    /// Opens a new tab with a viewport of `width` x `height` CSS pixels.
    pub(crate) async fn new_page(&self, width: u32, height: u32) -> Page {
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.ws_url));
        let mut page = Page {
            ws,
            next_id: 0,
            session: None,
            exceptions: Vec::new(),
        };
        let target = page
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        page.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("attachToTarget answers a sessionId")
                .to_owned(),
        );
        // Reports uncaught exceptions as events, which `call` collects.
        page.call("Runtime.enable", json!({})).await;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the browser and its zygote, renderer and utility processes.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One tab, attached over the browser's WebSocket.
pub(crate) struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    exceptions: Vec<String>,
}

impl Page {
    /// Sends one command (to the page once attached) and returns its `result`.
    ///
    /// # Panics
    ///
    /// When the browser answers an error, goes away, or takes longer than 30 s.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            command["sessionId"] = json!(session);
        }
        let answer = tokio::time::timeout(CALL_TIMEOUT, async {
            self.ws
                .send(Message::text(command.to_string()))
                .await
                .unwrap_or_else(|e| panic!("{method}: cannot send: {e}"));
            loop {
                let message = match self.ws.next().await {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => panic!("{method}: the DevTools connection failed: {e}"),
                    None => panic!("{method}: the browser closed the DevTools connection"),
                };
                let Message::Text(text) = message else {
                    continue;
                };
                let value: Value =
                    serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
                if value["id"] == json!(id) {
                    break value;
                }
                if value["method"] == "Runtime.exceptionThrown" {
                    let details = &value["params"]["exceptionDetails"];
                    self.exceptions.push(format!(
                        "{} {}",
                        details["text"].as_str().unwrap_or_default(),
                        details["exception"]["description"]
                            .as_str()
                            .unwrap_or_default()
                    ));
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method}: no answer within {CALL_TIMEOUT:?}"));
        if let Some(error) = answer.get("error") {
            panic!("{method} failed: {error}");
        }
        answer["result"].clone()
    }

    /// The uncaught exceptions the page's scripts threw so far (as far as the calls made
    /// have read their events).
    pub(crate) fn exceptions(&self) -> &[String] {
        &self.exceptions
    }

    /// Loads `url`.
    pub(crate) async fn navigate(&mut self, url: &str) {
        let result = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = result.get("errorText") {
            panic!("cannot load {url}: {error}");
        }
    }

    /// Evaluates a JavaScript expression in the page (awaiting a promise) and returns its
    /// value as JSON.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is truthy and returns that value; panics after
    /// `timeout`, saying what was awaited and what the page shows.
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        expression: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let shown = self
                    .eval("document.body ? document.body.innerText.slice(0, 2000) : '(no body)'")
                    .await;
                panic!(
                    "timed out after {timeout:?} waiting for {what} (`{expression}` was {value}); \
                     the page shows:\n{}",
                    shown.as_str().unwrap_or_default()
                );
            }
            // Polling interval, not an assertion: the deadline above decides.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `selector` matches, as a user would: waits until it is visible,
    /// scrolls it into view, and presses and releases the left mouse button at its center.
    pub(crate) async fn click(&mut self, selector: &str, timeout: Duration) {
        let selector_js = serde_json::to_string(selector).expect("a string is JSON");
        let center = self
            .wait_for(
                &format!("`{selector}` to be visible"),
                &format!(
                    "(() => {{
                        const el = document.querySelector({selector_js});
                        if (!el) return null;
                        el.scrollIntoView({{ block: 'center', inline: 'center' }});
                        const r = el.getBoundingClientRect();
                        if (r.width === 0 || r.height === 0) return null;
                        return {{ x: r.left + r.width / 2, y: r.top + r.height / 2 }};
                    }})()"
                ),
                timeout,
            )
            .await;
        let (x, y) = (center["x"].clone(), center["y"].clone());
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        )
        .await;
        for (kind, buttons) in [("mousePressed", 1), ("mouseReleased", 0)] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Saves a PNG of the whole page (not only the viewport) to `path`.
    pub(crate) async fn screenshot(&mut self, path: &Path) {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
                }),
            )
            .await;
        let data = shot["data"].as_str().expect("a screenshot has data");
        let png = data_encoding::BASE64
            .decode(data.as_bytes())
            .expect("the screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot's directory");
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}
