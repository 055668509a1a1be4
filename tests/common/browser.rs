//! A real browser for the tests: Debian's `chromium`, headless, driven over the Chrome DevTools
//! Protocol on a pipe (`--remote-debugging-pipe`: JSON messages ended by a NUL byte, commands on
//! the browser's fd 3, answers and events on its fd 4), so no WebDriver and no network port.
//!
//! ```ignore
//! let browser = Browser::start();
//! let tab = browser.open("http://127.0.0.1:1234/token/");
//! tab.wait_for("document.title !== ''", Duration::from_secs(10));
//! tab.screenshot(&artifacts("preview-serve").join("1.png"));
//! ```
//!
//! Waits are loops on a condition with a deadline, never fixed sleeps.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The browser the tests drive.
pub const CHROMIUM: &str = "chromium";

/// Where a test keeps what a person may want to look at afterwards (screenshots): the directory
/// `$RDPLAY_TEST_ARTIFACTS/NAME`, else `<cargo target dir>/test-artifacts/NAME`, emptied first.
pub fn artifacts(name: &str) -> PathBuf {
    let base = std::env::var_os("RDPLAY_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .expect("the target directory")
                .join("test-artifacts")
        });
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

/// A headless chromium with a fresh profile; killed when dropped.
pub struct Browser {
    child: Child,
    commands: Mutex<std::fs::File>,
    answers: Mutex<Receiver<Value>>,
    next_id: AtomicU64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromium, or panics saying how to install it.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let (to_browser_read, to_browser_write) = pipe();
        let (from_browser_read, from_browser_write) = pipe();
        let (child_in, child_out) = (to_browser_read.as_raw_fd(), from_browser_write.as_raw_fd());
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--mute-audio",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only fcntl and dup2 run, which are async-signal-safe. The
        // pipes are first copied above fd 10 (so that neither is already 3 or 4), then made the
        // browser's fd 3 (commands) and fd 4 (answers), without close-on-exec.
        unsafe {
            command.pre_exec(move || {
                let input = libc::fcntl(child_in, libc::F_DUPFD_CLOEXEC, 10);
                let output = libc::fcntl(child_out, libc::F_DUPFD_CLOEXEC, 10);
                if input < 0 || output < 0 || libc::dup2(input, 3) < 0 || libc::dup2(output, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start {CHROMIUM}: {e}; install it with `apt-get install -y chromium` \
                 (.ci/run's setup phase does)"
            ),
        };
        drop((to_browser_read, from_browser_write));
        let (send, answers) = channel();
        let reader = std::fs::File::from(from_browser_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop_if(|b| *b == 0);
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && send.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        Browser {
            child,
            commands: Mutex::new(std::fs::File::from(to_browser_write)),
            answers: Mutex::new(answers),
            next_id: AtomicU64::new(1),
            _profile: profile,
        }
    }

    /// Sends one command (to a tab when `session` is given) and returns its result, or panics
    /// with the browser's error.
    pub fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands
            .lock()
            .expect("commands")
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("{CHROMIUM} stopped reading commands: {e}"));
        let answers = self.answers.lock().expect("answers");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = answers
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer from {CHROMIUM} to {method}: {e}"));
            if answer.get("id") != Some(&json!(id)) {
                continue; // an event
            }
            if let Some(error) = answer.get("error") {
                panic!("{method} failed: {error}");
            }
            return answer["result"].clone();
        }
    }

    /// Opens a tab of `width` × `height` CSS pixels on `url`.
    pub fn open(&self, url: &str, width: u32, height: u32) -> Tab<'_> {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let tab = Tab {
            browser: self,
            session: attached["sessionId"]
                .as_str()
                .expect("a session id")
                .to_string(),
        };
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        tab.call("Page.enable", json!({}));
        tab.call("Page.navigate", json!({ "url": url }));
        tab
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab of the browser.
pub struct Tab<'a> {
    browser: &'a Browser,
    session: String,
}

impl Tab<'_> {
    fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params)
    }

    /// The value of a JavaScript expression in the page (promises awaited), as JSON.
    pub fn eval(&self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page; how long it took.
    /// Panics after `timeout`, showing `explain` (an expression whose value says what the page
    /// shows instead).
    pub fn wait_for(&self, condition: &str, explain: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.eval(&format!("!!({condition})")) == json!(true) {
                return start.elapsed();
            }
            if start.elapsed() > timeout {
                panic!(
                    "after {timeout:?} the page still does not show {condition}; it shows: {}",
                    self.eval(explain)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `text` where the page's focus is, as a keyboard would (input events and all).
    pub fn type_text(&self, text: &str) {
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// Saves what the tab shows as a PNG.
    pub fn screenshot(&self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64");
        std::fs::write(path, png).expect("write the screenshot");
    }
}

/// A pipe, both ends close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into the array, which we then own.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    }
}
