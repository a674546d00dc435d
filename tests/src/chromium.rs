//! chromium: Debian's headless Chromium opening one local HTML file the
//! way a person's browser would, with no network, and telling the test
//! what that person would see: the DOM after load, the console errors,
//! and a screenshot ([`open`]).
//!
//! Owns finding the browser, running it under a time limit in a process
//! group of its own, speaking the DevTools protocol to it over a pipe
//! (`--remote-debugging-pipe`), and the teardown that kills every process
//! of the run (its zygotes, GPU, utility and renderer children, and the
//! crash handlers that leave the group) and removes its profile, on every
//! path. It does not serve pages or click on them.
//!
//! The console errors come from the protocol, not from the browser's
//! stderr: with `--enable-logging=stderr` this Chromium (156) logs every
//! console message of a page at INFO, whatever its level
//! (`[pid:tid:MMDD/hhmmss.micros:INFO:CONSOLE:3] "x", source: file:///p.html (3)`
//! for a `console.error("x")` as for a `console.log("x")`), so stderr
//! cannot tell an error from a log line.
//!
//! Nothing leaves the machine: every host name resolves to nothing
//! (`--host-resolver-rules`), every request goes to a proxy on the discard
//! port of loopback, and the browser's background fetches are off.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::host::alive;
use crate::image::which;
use crate::{quick, timeout};

/// The window, and so the screenshot, in CSS pixels.
pub const WINDOW: (u32, u32) = (1280, 1600);

/// Set in the browser's environment, which every process of the run
/// inherits (the crash handlers too, which leave its process group): the
/// run's profile directory. [`processes_under`] finds them by it.
const RUN_ENV: &str = "JOLT_E2E_CHROMIUM_RUN";

/// One browser at a time: each takes both cores of a small machine for a
/// moment, and the teardown of one must not race the start of another.
static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a page showed once loaded.
#[derive(Debug)]
pub struct Page {
    /// `document.documentElement.outerHTML` after the load event and one
    /// rendered frame (no doctype).
    pub dom: String,
    /// Every console.error and console.assert failure, uncaught exception
    /// and browser error (a resource that failed to load, a blocked
    /// request), one line each, with where it came from.
    pub console_errors: Vec<String>,
    /// A PNG of the window ([`WINDOW`]), `<out_dir>/<html stem>.png`.
    pub screenshot: PathBuf,
}

/// The browser: `chromium` (Debian) or `chromium-browser` on PATH.
pub fn chromium_bin() -> Option<PathBuf> {
    which("chromium").or_else(|| which("chromium-browser"))
}

/// Whether the browser is here. When it is not, says so on stderr and
/// returns false (the test then returns early, a skip).
pub fn require_chromium() -> bool {
    if chromium_bin().is_none() {
        eprintln!("skipped: chromium not found (apt-get install chromium)");
        return false;
    }
    true
}

/// Opens `html` in headless Chromium, waits for its load event and one
/// rendered frame, and returns its DOM, its console errors and a
/// screenshot written to `out_dir`. The browser's log stays beside it
/// (`<html stem>.chromium.log`); its profile and every process are gone
/// when this returns. Fails after [`timeout`] with what the browser did
/// not do.
pub fn open(html: &Path, out_dir: &Path) -> Result<Page, String> {
    let html = html
        .canonicalize()
        .map_err(|e| format!("{}: {e}", html.display()))?;
    let bin = chromium_bin().ok_or("chromium not found (apt-get install chromium)")?;
    let stem = html
        .file_stem()
        .map_or("page".into(), |s| s.to_string_lossy().into_owned());
    fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out_dir = out_dir.canonicalize().unwrap();
    let screenshot = out_dir.join(format!("{stem}.png"));
    let log = out_dir.join(format!("{stem}.chromium.log"));
    let profile = out_dir.join(format!("{stem}.chromium-profile"));
    let failed = |why: String| {
        format!(
            "chromium {}: {why} (log: {})",
            html.display(),
            log.display()
        )
    };

    let mut browser = Browser::start(&bin, &profile, &log).map_err(failed)?;
    let page = browser.load(&file_url(&html)).map_err(failed)?;
    let png = base64_decode(&page.png_base64).map_err(|e| failed(format!("screenshot: {e}")))?;
    fs::write(&screenshot, png).map_err(|e| format!("{}: {e}", screenshot.display()))?;
    browser.close();
    png_size(&screenshot)?;
    Ok(Page {
        dom: page.dom,
        console_errors: page.console_errors,
        screenshot,
    })
}

/// The width and height of the PNG at `path`; Err unless it is a PNG
/// with a non-empty image header.
pub fn png_size(path: &Path) -> Result<(u32, u32), String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    if bytes.len() < 33 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return Err(format!("{} is not a PNG", path.display()));
    }
    match (be32(16), be32(20)) {
        (0, _) | (_, 0) => Err(format!("{}: the PNG is empty (0 pixels)", path.display())),
        size => Ok(size),
    }
}

/// Live processes of the runs whose output went to `out_dir` (found by
/// [`RUN_ENV`]); empty once [`open`] returned.
pub fn processes_under(out_dir: &Path) -> Vec<i32> {
    let out_dir = out_dir.canonicalize().unwrap_or(out_dir.to_path_buf());
    let prefix = format!("{RUN_ENV}={}/", out_dir.display());
    runs_processes(|value| value.starts_with(prefix.as_bytes()))
}

/// Live processes whose environment has an entry for which `matches`
/// holds.
fn runs_processes(matches: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(&matches) && alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// What one load gave, before the screenshot is decoded.
struct Loaded {
    dom: String,
    console_errors: Vec<String>,
    png_base64: String,
}

/// A running browser and the DevTools pipe to it; killed, with every
/// process of its run, on drop.
struct Browser {
    child: Child,
    profile: PathBuf,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    deadline: Instant,
    console_errors: Vec<String>,
    _one: MutexGuard<'static, ()>,
}

impl Browser {
    fn start(bin: &Path, profile: &Path, log: &Path) -> Result<Browser, String> {
        let one = ONE_BROWSER_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = fs::remove_dir_all(profile);
        let log = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        // The browser reads commands from its fd 3 and writes answers and
        // events to its fd 4, each message ended by a NUL.
        let (commands_in, commands_out) = pipe()?;
        let (answers_in, answers_out) = pipe()?;
        let (fd3, fd4) = (commands_in.as_raw_fd(), answers_out.as_raw_fd());
        let mut command = Command::new(bin);
        command
            .args([
                "--headless",
                // As root there is no sandbox; the page is the test's own.
                "--no-sandbox",
                "--disable-gpu",
                // /dev/shm is small in containers; the browser crashes there.
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--proxy-server=127.0.0.1:9",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--hide-scrollbars",
                &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .env(RUN_ENV, profile)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        // SAFETY: only fcntl and dup2, which are async-signal-safe. The
        // pipe ends move above 10 first, so that putting one at 3 cannot
        // close the other.
        unsafe {
            command.pre_exec(move || {
                for (from, to) in [(fd3, 3), (fd4, 4)] {
                    let high = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                    if high < 0 || libc::dup2(high, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        drop((commands_in, answers_out));
        let (sender, from_browser) = mpsc::channel();
        std::thread::spawn(move || {
            let mut answers = BufReader::new(File::from(answers_in));
            let mut message = Vec::new();
            while answers.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                let Ok(value) = serde_json::from_slice(&message) else {
                    break;
                };
                if sender.send(value).is_err() {
                    break;
                }
                message.clear();
            }
        });
        Ok(Browser {
            child,
            profile: profile.to_path_buf(),
            to_browser: File::from(commands_out),
            from_browser,
            next_id: 0,
            deadline: Instant::now() + timeout(),
            console_errors: Vec::new(),
            _one: one,
        })
    }

    /// Opens `url` in a new tab, as described on [`open`].
    fn load(&mut self, url: &str) -> Result<Loaded, String> {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }))?;
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("Target.attachToTarget gave no sessionId")?
            .to_string();
        let s = Some(session.as_str());
        for domain in ["Page", "Runtime", "Log"] {
            self.call(s, &format!("{domain}.enable"), json!({}))?;
        }
        // The window keeps room for a toolbar; the page gets all of WINDOW.
        let metrics = json!({
            "width": WINDOW.0, "height": WINDOW.1, "deviceScaleFactor": 1, "mobile": false,
        });
        self.call(s, "Emulation.setDeviceMetricsOverride", metrics)?;
        let navigated = self.call(s, "Page.navigate", json!({ "url": url }))?;
        if let Some(error) = navigated["errorText"].as_str() {
            return Err(format!("opening {url}: {error}"));
        }
        self.wait_for(&session, "Page.loadEventFired")?;
        // One rendered frame, so what the load event's handlers drew is on
        // the screenshot and their errors are in.
        let frame = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))";
        self.evaluate(&session, frame)?;
        let dom = self.evaluate(&session, "document.documentElement.outerHTML")?;
        let shot = self.call(s, "Page.captureScreenshot", json!({ "format": "png" }))?;
        Ok(Loaded {
            dom: dom.as_str().unwrap_or_default().to_string(),
            console_errors: std::mem::take(&mut self.console_errors),
            png_base64: shot["data"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The value of `expression` in the page (awaited when a promise).
    fn evaluate(&mut self, session: &str, expression: &str) -> Result<Value, String> {
        let params =
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let mut got = self.call(Some(session), "Runtime.evaluate", params)?;
        if let Some(exception) = got.get("exceptionDetails") {
            return Err(format!("evaluating {expression}: {exception}"));
        }
        Ok(got["result"]["value"].take())
    }

    /// Sends `method` (to the page of `session`, or to the browser) and
    /// waits for its answer; the events before it are noted.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .map_err(|e| format!("sending {method}: {e}"))?;
        loop {
            let mut got = self.next_message(method)?;
            if got["id"].as_u64() != Some(id) {
                self.note(&got);
                continue;
            }
            if let Some(error) = got.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(got["result"].take());
        }
    }

    /// Waits for the event `method` of `session`, noting the others.
    fn wait_for(&mut self, session: &str, method: &str) -> Result<(), String> {
        loop {
            let got = self.next_message(method)?;
            if got["method"] == method && got["sessionId"] == session {
                return Ok(());
            }
            self.note(&got);
        }
    }

    fn next_message(&mut self, waiting_for: &str) -> Result<Value, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.from_browser.recv_timeout(left).map_err(|e| match e {
            RecvTimeoutError::Timeout => format!("no {waiting_for} within {:?}", timeout()),
            RecvTimeoutError::Disconnected => {
                let status = self.child.try_wait().ok().flatten();
                format!("the browser closed its pipe waiting for {waiting_for} (exit: {status:?})")
            }
        })
    }

    /// Keeps the console error an event reports, if it is one.
    fn note(&mut self, event: &Value) {
        let p = &event["params"];
        let error = match event["method"].as_str() {
            Some("Runtime.consoleAPICalled")
                if matches!(p["type"].as_str(), Some("error" | "assert")) =>
            {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(remote_text)
                    .collect();
                let at = &p["stackTrace"]["callFrames"][0];
                format!(
                    "console.{}: {}{}",
                    p["type"].as_str().unwrap(),
                    args.join(" "),
                    place(&at["url"], &at["lineNumber"])
                )
            }
            Some("Runtime.exceptionThrown") => {
                let d = &p["exceptionDetails"];
                let what = remote_text(&d["exception"]);
                let first = what.lines().next().unwrap_or_default();
                format!(
                    "{} {first}{}",
                    d["text"].as_str().unwrap_or("exception"),
                    place(&d["url"], &d["lineNumber"])
                )
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                let e = &p["entry"];
                format!(
                    "{}: {}{}",
                    e["source"].as_str().unwrap_or("browser"),
                    e["text"].as_str().unwrap_or_default(),
                    place(&e["url"], &e["lineNumber"])
                )
            }
            _ => return,
        };
        self.console_errors.push(error);
    }

    /// Asks the browser to quit, and waits a moment for it.
    fn close(&mut self) {
        let _ = self
            .to_browser
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let limit = Instant::now() + quick();
        while Instant::now() < limit && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
        let ours = format!("{RUN_ENV}={}", self.profile.display());
        let limit = Instant::now() + quick();
        loop {
            let left = runs_processes(|entry| entry == ours.as_bytes());
            if left.is_empty() || Instant::now() > limit {
                break;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_dir_all(&self.profile);
    }
}

/// A pipe whose ends close on exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))
}

/// How a remote object (a console argument, an exception) reads.
fn remote_text(object: &Value) -> String {
    match (&object["value"], &object["description"]) {
        (Value::String(s), _) => s.clone(),
        (_, Value::String(d)) => d.clone(),
        (Value::Null, _) => object["type"].as_str().unwrap_or("undefined").to_string(),
        (v, _) => v.to_string(),
    }
}

/// " (URL:LINE)", the line counted from 1; empty without a URL.
fn place(url: &Value, line: &Value) -> String {
    match (url.as_str().filter(|u| !u.is_empty()), line.as_u64()) {
        (Some(url), Some(line)) => format!(" ({url}:{})", line + 1),
        (Some(url), None) => format!(" ({url})"),
        (None, _) => String::new(),
    }
}

/// The file:// URL of the absolute path `path`.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                url.push(*byte as char)
            }
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

/// Standard base64 (the protocol's binary data), padding optional.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("{:?} is not base64", c as char)),
        };
        bits = bits << 6 | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a*").is_err());
    }

    #[test]
    fn file_urls_escape_what_a_path_may_hold() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/r%.html")),
            "file:///tmp/a%20b/r%25.html"
        );
    }
}
