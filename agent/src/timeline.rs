//! timeline: one experiment's events, appended to its `events.jsonl`, one
//! JSON object a line.
//!
//! Owns that file and the only writer of it: a thread per timeline
//! (started by the first event, ended after 10 s without one), fed
//! through a channel, that writes whatever is queued as whole lines in one
//! `write()`, syncs the file, and only then makes the events visible
//! (their count, the fault counts, readers, the `changed` callback). So no
//! two events ever share a line, and nothing a client was shown can be
//! lost by a crash. A write that fails (a full disk) is cut back to the
//! last whole line and retried with back-off; the events wait in order.
//!
//! Readers get the events from the file, from any index on, in batches;
//! memory holds counts and a sparse index of line offsets, never the
//! events, so it does not grow with an experiment's length. A line that
//! does not parse (a crash in the middle of a write by an earlier joltd,
//! or a damaged disk) is reported as a `damaged` event naming its line
//! number, and counted, never silently skipped.
//!
//! What an event means belongs to `experiments`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The file of a timeline, in its experiment's directory.
pub const FILE: &str = "events.jsonl";
/// The event that stands for a line that does not parse.
const DAMAGED: &str = "damaged";
/// Every how many lines the index keeps an offset.
const STRIDE: usize = 256;
/// The most events one read returns.
pub const BATCH: usize = 1000;
/// Back-off between attempts at a failed write: first and longest.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a writer waits for an event before its thread ends.
const IDLE: Duration = Duration::from_secs(10);

/// One entry of an experiment's timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339, UTC.
    pub at: String,
    /// scheduled, skipped, injected, reverted, recovered, survived,
    /// failed, finished, aborted, interrupted; for the hypothesis: `probe`
    /// (a sample of results), `probe-failed`, `breached`, `steady`,
    /// `hypothesis` (held before the start), `not-started`, `recovery`
    /// (steady again after a fault ended, or not within recover-within);
    /// `damaged` for a line of the file that does not parse.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// injected: from the scheduled time to the fault applied; reverted:
    /// from the end of its duration to the fault removed. Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_ms: Option<f64>,
    /// The probe a probe event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// probe-failed: how long the failed run took. Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// probe: the results since the probe's last sample, each `[unix
    /// time in ms, latency in ms, 1 passed or 0 failed]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<[f64; 3]>>,
    /// recovery: from the fault's end (its revert, or a kill) to every
    /// probe passing again. Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_ms: Option<f64>,
}

/// How many events of each kind that matters for a verdict are durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub injected: u64,
    pub reverted: u64,
    pub failed: u64,
    /// Lines of the file that do not parse.
    pub damaged: u64,
}

impl Counts {
    fn add(&mut self, event: &str) {
        match event {
            "injected" => self.injected += 1,
            "reverted" => self.reverted += 1,
            "failed" => self.failed += 1,
            _ => {}
        }
    }
}

/// What the file holds, durably, as far as this process knows.
#[derive(Default)]
struct Durable {
    /// Lines (events, damaged ones included).
    lines: usize,
    /// Its length in bytes: every line whole.
    end: u64,
    /// The offset of line `k * STRIDE` at `index[k]`.
    index: Vec<u64>,
    counts: Counts,
    last: Option<String>,
    /// Events handed to the writer, and of those the durable ones (in
    /// order: the writer takes them as they came).
    appended: u64,
    written: u64,
    /// Why the writer is retrying, while it is.
    failing: Option<String>,
    /// The last line has no newline yet (cut short by a crash, and ending
    /// it at open failed): the writer ends it before its next line.
    cut: bool,
}

impl Durable {
    fn push_line(&mut self, at: u64, len: u64) {
        if self.lines % STRIDE == 0 {
            self.index.push(at);
        }
        self.lines += 1;
        self.end = at + len;
    }
}

struct Shared {
    path: PathBuf,
    /// The writer's queue; None while no writer runs.
    tx: Mutex<Option<mpsc::Sender<Event>>>,
    durable: Mutex<Durable>,
    /// Signalled when events become durable.
    written: Condvar,
    /// Called (on the writer's thread) after events became durable.
    on_durable: Box<dyn Fn() + Send + Sync>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Durable> {
        self.durable.lock().expect("no panics while held")
    }
}

/// One experiment's timeline.
pub struct Timeline {
    shared: Arc<Shared>,
}

impl Timeline {
    /// A new timeline at `dir/events.jsonl`, for an experiment just applied:
    /// nothing is read (a file a removed experiment left goes with its
    /// directory before the first event is written).
    pub fn new(dir: &Path, on_durable: impl Fn() + Send + Sync + 'static) -> Timeline {
        Timeline::with(dir.join(FILE), Durable::default(), on_durable)
    }

    fn with(
        path: PathBuf,
        durable: Durable,
        on_durable: impl Fn() + Send + Sync + 'static,
    ) -> Timeline {
        Timeline {
            shared: Arc::new(Shared {
                path,
                tx: Mutex::new(None),
                durable: Mutex::new(durable),
                written: Condvar::new(),
                on_durable: Box::new(on_durable),
            }),
        }
    }

    /// Opens the timeline at `dir/events.jsonl` (which need not exist),
    /// counting what it holds. A last line cut short by a crash is ended,
    /// so that it stays one damaged line and the next event starts a line
    /// of its own. `on_durable` is called each time events become durable.
    pub fn open(dir: &Path, on_durable: impl Fn() + Send + Sync + 'static) -> io::Result<Timeline> {
        let path = dir.join(FILE);
        let mut durable = Durable::default();
        match File::open(&path) {
            Ok(f) => {
                let mut reader = BufReader::new(f);
                let mut line = Vec::new();
                let mut at = 0u64;
                loop {
                    line.clear();
                    let n = reader.read_until(b'\n', &mut line)? as u64;
                    if n == 0 {
                        break;
                    }
                    let cut = line.last() != Some(&b'\n');
                    if cut {
                        match end_cut_line(&path) {
                            Ok(()) => line.push(b'\n'),
                            Err(e) => {
                                tracing::error!(
                                    "{}: ending a line cut short: {e} (done before the next event)",
                                    path.display()
                                );
                                durable.cut = true;
                            }
                        }
                    }
                    durable.push_line(at, line.len() as u64);
                    at += line.len() as u64;
                    let e = parse(&line, durable.lines);
                    if e.event == DAMAGED {
                        let why = e.message.as_deref().unwrap_or("");
                        tracing::error!("{}: {why}", path.display());
                        durable.counts.damaged += 1;
                        durable.last = None;
                    } else {
                        durable.counts.add(&e.event);
                        durable.last = Some(e.event);
                    }
                    if cut {
                        // The reader would see the newline just written.
                        break;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Timeline::with(path, durable, on_durable))
    }

    /// Queues `event` for the writer (started when none runs); it becomes
    /// visible once durable.
    pub fn append(&self, event: Event) {
        let mut tx = self.shared.tx.lock().expect("no panics while held");
        self.shared.lock().appended += 1;
        let tx = tx.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel();
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name("timeline".into())
                .spawn(move || write_loop(&shared, &receiver))
                .expect("a thread for the timeline's writer");
            sender
        });
        tx.send(event)
            .expect("the writer runs until its sender is gone");
    }

    /// Waits until every event appended before the call is durable (later
    /// ones are not waited for), or at most
    /// `limit`; whether they are.
    pub fn flush(&self, limit: Option<Duration>) -> bool {
        let deadline = limit.map(|l| std::time::Instant::now() + l);
        let mut durable = self.shared.lock();
        let target = durable.appended;
        while durable.written < target {
            let written = &self.shared.written;
            durable = match deadline {
                None => written.wait(durable).expect("no panics while held"),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    written
                        .wait_timeout(durable, left)
                        .expect("no panics while held")
                        .0
                }
            };
        }
        true
    }

    /// How many events are durable (lines of the file).
    #[cfg(test)]
    fn lines(&self) -> usize {
        self.shared.lock().lines
    }

    pub fn counts(&self) -> Counts {
        self.shared.lock().counts
    }

    /// The last durable event's name.
    pub fn last(&self) -> Option<String> {
        self.shared.lock().last.clone()
    }

    /// Why the writer is retrying, and how many events wait, while it is.
    pub fn failing(&self) -> Option<(String, usize)> {
        let d = self.shared.lock();
        let waiting = (d.appended - d.written) as usize;
        d.failing.clone().map(|why| (why, waiting))
    }

    /// Up to [`BATCH`] durable events from index `from` on; a line that
    /// does not parse comes back as a `damaged` event.
    pub fn read(&self, from: usize) -> io::Result<Vec<Event>> {
        let (offset, skip, end) = {
            let d = self.shared.lock();
            if from >= d.lines {
                return Ok(Vec::new());
            }
            (d.index[from / STRIDE], from % STRIDE, d.end)
        };
        let mut f = File::open(&self.shared.path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::new(f.take(end - offset));
        let mut out = Vec::new();
        let mut line = Vec::new();
        let mut number = from - skip;
        while out.len() < BATCH {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            number += 1;
            if number > from {
                out.push(parse(&line, number));
            }
        }
        Ok(out)
    }
}

/// Ends the file's last line, cut short by a crash.
fn end_cut_line(path: &Path) -> io::Result<()> {
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.write_all(b"\n")?;
    f.sync_data()
}

/// Line `number` (from 1) of the file as an event, or the `damaged` event
/// that stands for it.
fn parse(line: &[u8], number: usize) -> Event {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    serde_json::from_slice(text).unwrap_or_else(|e| {
        let shown = String::from_utf8_lossy(&text[..text.len().min(120)]).into_owned();
        Event {
            at: String::new(),
            event: DAMAGED.into(),
            message: Some(format!(
                "{FILE} line {number} does not parse ({e}): {shown:?}"
            )),
            ..Event::default()
        }
    })
}

impl Drop for Timeline {
    /// The writer ends once it has written what is queued.
    fn drop(&mut self) {
        self.shared.tx.lock().expect("no panics while held").take();
    }
}

/// The next event for the writer; None when it should end: its sender is
/// gone, or nothing came for [`IDLE`] (then it retires, under the lock
/// that senders take, so no event is sent to a writer that has ended).
fn next(shared: &Shared, rx: &mpsc::Receiver<Event>) -> Option<Event> {
    match rx.recv_timeout(IDLE) {
        Ok(event) => Some(event),
        Err(mpsc::RecvTimeoutError::Disconnected) => None,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let mut tx = shared.tx.lock().expect("no panics while held");
            let event = rx.try_recv().ok();
            if event.is_none() {
                tx.take();
            }
            event
        }
    }
}

/// The writer: takes what is queued, writes it as whole lines in one
/// `write()`, syncs, and makes it visible; on a failure cuts the file
/// back to its last whole line and tries again after a back-off.
fn write_loop(shared: &Shared, rx: &mpsc::Receiver<Event>) {
    let mut file: Option<File> = None;
    while let Some(first) = next(shared, rx) {
        let batch: Vec<Event> = std::iter::once(first).chain(rx.try_iter()).collect();
        let mut text = Vec::new();
        let mut lines = Vec::with_capacity(batch.len());
        for e in &batch {
            let start = text.len();
            serde_json::to_writer(&mut text, e).expect("events serialize");
            text.push(b'\n');
            lines.push((start as u64, (text.len() - start) as u64));
        }
        let mut wait = RETRY_FIRST;
        let at = loop {
            let (end, cut) = {
                let d = shared.lock();
                (d.end, d.cut)
            };
            let written = if cut {
                let ended = [b"\n".as_slice(), &text].concat();
                write_at_end(&mut file, &shared.path, end, &ended).map(|()| end + 1)
            } else {
                write_at_end(&mut file, &shared.path, end, &text).map(|()| end)
            };
            match written {
                Ok(at) => {
                    if cut {
                        shared.lock().cut = false;
                    }
                    break Some(at);
                }
                Err(_) if !shared.path.parent().is_some_and(Path::exists) => {
                    tracing::error!(
                        "{}: its experiment was deleted; {} events dropped",
                        shared.path.display(),
                        batch.len()
                    );
                    break None;
                }
                Err(e) => {
                    file = None;
                    let why = format!("{}: {e}", shared.path.display());
                    tracing::error!("timeline: {why}; retrying in {wait:?}");
                    shared.lock().failing = Some(why);
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        };
        let mut d = shared.lock();
        if let Some(at) = at {
            for ((start, len), e) in lines.iter().zip(&batch) {
                d.push_line(at + start, *len);
                d.counts.add(&e.event);
                d.last = Some(e.event.clone());
            }
        }
        d.failing = None;
        drop(d);
        (shared.on_durable)();
        // Last: a flush returns once the events are visible and told.
        shared.lock().written += batch.len() as u64;
        shared.written.notify_all();
    }
}

/// Writes `text` at `end` (the file's last whole line) and syncs it; on
/// failure cuts the file back to `end`.
fn write_at_end(file: &mut Option<File>, path: &Path, end: u64, text: &[u8]) -> io::Result<()> {
    if file.is_none() {
        *file = Some(
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .mode(0o600)
                .open(path)?,
        );
    }
    let f = file.as_mut().expect("just opened");
    let written = f
        .seek(SeekFrom::Start(end))
        .and_then(|_| f.write_all(text))
        .and_then(|()| f.sync_data());
    if written.is_err() {
        let _ = f.set_len(end);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(name: &str, i: usize) -> Event {
        Event {
            at: format!("2026-12-04T00:00:{:02}Z", i % 60),
            event: name.into(),
            target: Some(format!("web-{i}")),
            ..Event::default()
        }
    }

    #[test]
    fn events_from_many_threads_each_get_a_line_and_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let t = Arc::new(
            Timeline::open(dir.path(), move || {
                s.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap(),
        );
        let threads: Vec<_> = (0..8)
            .map(|k| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..300 {
                        let name = ["injected", "reverted", "failed"][i % 3];
                        t.append(event(name, k * 1000 + i));
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert!(t.flush(None));
        assert_eq!(t.lines(), 2400);
        assert_eq!(
            t.counts(),
            Counts {
                injected: 800,
                reverted: 800,
                failed: 800,
                damaged: 0
            }
        );
        assert!(seen.load(Ordering::Relaxed) > 0);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 2400);
        for line in text.lines() {
            serde_json::from_str::<Event>(line).unwrap();
        }
        // Read back in batches from any index.
        let mut all = Vec::new();
        while all.len() < 2400 {
            let batch = t.read(all.len()).unwrap();
            assert!(!batch.is_empty() && batch.len() <= BATCH);
            all.extend(batch);
        }
        assert_eq!(t.read(2400).unwrap(), vec![]);
        assert_eq!(t.read(300).unwrap()[0], all[300]);
        let reopened = Timeline::open(dir.path(), || {}).unwrap();
        assert_eq!(reopened.counts(), t.counts());
        assert_eq!(reopened.read(2399).unwrap(), all[2399..]);
    }

    #[test]
    fn damaged_lines_are_reported_and_counted_and_a_cut_line_is_ended() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&event("injected", 1)).unwrap();
        let two = format!("{good}{good}");
        std::fs::write(
            dir.path().join(FILE),
            format!("{good}\n{two}\n{good}\n{{\"at\":\"2026-12-04T"),
        )
        .unwrap();
        let t = Timeline::open(dir.path(), || {}).unwrap();
        assert_eq!(t.lines(), 4);
        assert_eq!(
            t.counts(),
            Counts {
                injected: 2,
                reverted: 0,
                failed: 0,
                damaged: 2
            }
        );
        t.append(event("reverted", 2));
        assert!(t.flush(Some(Duration::from_secs(10))));
        let events = t.read(0).unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            names,
            ["injected", "damaged", "injected", "damaged", "reverted"]
        );
        let msg = events[1].message.as_deref().unwrap();
        assert!(
            msg.starts_with("events.jsonl line 2 does not parse"),
            "{msg}"
        );
        assert_eq!(t.last().as_deref(), Some("reverted"));
        assert_eq!(t.counts().reverted, 1);
    }
}
