//! logs: a container's log files.
//!
//! Owns their layout in a container's log directory (`container.log`, the
//! newest, then `container.log.1`, `.2`, ... ever older ones, and the
//! `log-dropped` counter), the size limit and its rotation (as Docker's
//! json-file `max-size` and `max-file`: at the limit the file becomes
//! `.1`, the others move up one, the oldest is dropped), writing entries
//! (`TIME STREAM TEXT` lines) so that a write that fails loses that line
//! and nothing else, counted and reported (a `jolt` marker line once
//! writing works again), and reading the files oldest first, following
//! the newest across rotations.
//!
//! It does not decide where the log directory is (the daemon does: the
//! container's directory, or one under joltd's `--log-dir`) nor when lines
//! come (the monitor copies them in; the API reads them out).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::container::Invalid;

/// The newest log file; older ones have a suffix `.1`, `.2`, ...
pub const LOG_FILE: &str = "container.log";
/// How many lines were lost (their writes failed), as a fixed-width number.
pub const DROPPED_FILE: &str = "log-dropped";
/// The stream name of the lines jolt itself writes into a log.
pub const JOLT_STREAM: &str = "jolt";

/// The smallest size limit: twice the longest entry (a 16 KiB line and
/// its time and stream), so that no file ever grows past the limit.
pub const MIN_SIZE: u64 = 32 << 10;
/// The most files a container's log may keep.
pub const MAX_FILES: u32 = 100;

/// How large one log file may grow, and how many files are kept (the
/// newest included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    max_size: u64,
    max_files: u32,
}

impl Default for Limit {
    /// 10 MiB, 2 files.
    fn default() -> Limit {
        Limit {
            max_size: 10 << 20,
            max_files: 2,
        }
    }
}

impl Limit {
    /// A limit of `max_size` bytes per file and `max_files` files.
    pub fn new(max_size: u64, max_files: u32) -> Result<Limit, Invalid> {
        if max_size < MIN_SIZE {
            return Err(Invalid {
                field: "log-max-size".into(),
                reason: format!("{max_size} bytes is below the minimum of {MIN_SIZE} (32k)"),
            });
        }
        if !(1..=MAX_FILES).contains(&max_files) {
            return Err(Invalid {
                field: "log-max-files".into(),
                reason: format!("{max_files} is not a number of files from 1 to {MAX_FILES}"),
            });
        }
        Ok(Limit {
            max_size,
            max_files,
        })
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    pub fn max_files(&self) -> u32 {
        self.max_files
    }
}

/// Log file `n` of `dir`: the newest for 0, older ones after.
fn nth(dir: &Path, n: u32) -> PathBuf {
    match n {
        0 => dir.join(LOG_FILE),
        n => dir.join(format!("{LOG_FILE}.{n}")),
    }
}

/// The rotation numbers of the log files in `dir`, newest (0) first.
fn numbers(dir: &Path) -> io::Result<Vec<u32>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name == LOG_FILE {
            found.push(0);
        } else if let Some(n) = name
            .strip_prefix(LOG_FILE)
            .and_then(|s| s.strip_prefix('.'))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
        {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Removes every log file of `dir` and its counter; what is not there is
/// not an error.
pub fn remove(dir: &Path) -> io::Result<()> {
    let numbers = match numbers(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    let paths = numbers.into_iter().map(|n| nth(dir, n));
    for path in paths.chain([dir.join(DROPPED_FILE)]) {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// How many lines of the log in `dir` were lost, in all its runs.
pub fn dropped(dir: &Path) -> u64 {
    fs::read_to_string(dir.join(DROPPED_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The `log-dropped` file, held open and overwritten in place: it is made
/// as long as it will ever be while there is room, so counting needs no
/// new space on a full disk.
struct Counter(File);

impl Counter {
    fn open(path: &Path) -> io::Result<(Counter, u64)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let n = text.trim().parse().unwrap_or(0);
        let counter = Counter(file);
        counter.store(n)?;
        Ok((counter, n))
    }

    fn store(&self, n: u64) -> io::Result<()> {
        self.0.write_all_at(format!("{n:020}\n").as_bytes(), 0)
    }
}

/// Writes a container's log: entries, rotation at the limit, and the
/// accounting of lines that could not be written.
pub struct Writer {
    dir: PathBuf,
    limit: Limit,
    file: File,
    /// The newest file's length, as written by this writer.
    size: u64,
    /// Lines lost in every run (the counter's value).
    dropped: u64,
    /// Lines lost since the last marker, and why the last one was.
    pending: u64,
    cause: String,
    counter: Option<Counter>,
}

impl Writer {
    /// Opens the log in `dir` to append to it. Files beyond the limit's
    /// count (from an earlier, larger limit) are removed. A counter that
    /// cannot be made (a full disk) is reported through `warn` and the
    /// count kept in memory only.
    pub fn open(dir: &Path, limit: Limit, warn: impl Fn(String)) -> io::Result<Writer> {
        for n in numbers(dir)? {
            if n >= limit.max_files {
                fs::remove_file(nth(dir, n))?;
            }
        }
        let file = open_append(&nth(dir, 0))?;
        let size = file.metadata()?.len();
        let (counter, dropped) = match Counter::open(&dir.join(DROPPED_FILE)) {
            Ok((c, n)) => (Some(c), n),
            Err(e) => {
                warn(format!("{}: {e}", dir.join(DROPPED_FILE).display()));
                (None, 0)
            }
        };
        Ok(Writer {
            dir: dir.to_path_buf(),
            limit,
            file,
            size,
            dropped,
            pending: 0,
            cause: String::new(),
            counter,
        })
    }

    /// Appends the line `text` of `stream` at `time`; first the marker
    /// of the lines lost before it, if any. A line that cannot be written
    /// is counted, and that is all.
    pub fn write(&mut self, time: &str, stream: &str, text: &[u8]) {
        if !self.mark(time) {
            self.lost(None);
            return;
        }
        if let Err(e) = self.append(&entry(time, stream, text)) {
            self.lost(Some(e));
        }
    }

    /// Writes the marker of the lines lost since the last one, if any;
    /// whether there is none left to write.
    pub fn mark(&mut self, time: &str) -> bool {
        if self.pending == 0 {
            return true;
        }
        let lines = match self.pending {
            1 => "1 line".to_string(),
            n => format!("{n} lines"),
        };
        let text = format!("jolt: {lines} dropped: {}", self.cause);
        match self.append(&entry(time, JOLT_STREAM, text.as_bytes())) {
            Ok(()) => {
                self.pending = 0;
                true
            }
            Err(e) => {
                self.cause = describe(&e);
                false
            }
        }
    }

    /// Lines lost in every run of the container.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn lost(&mut self, cause: Option<io::Error>) {
        self.dropped += 1;
        self.pending += 1;
        if let Some(e) = cause {
            self.cause = describe(&e);
        }
        if let Some(c) = &self.counter {
            let _ = c.store(self.dropped);
        }
    }

    /// Appends `entry` whole, or nothing of it: a part written before an
    /// error is cut off again.
    fn append(&mut self, entry: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + entry.len() as u64 > self.limit.max_size {
            self.rotate()?;
        }
        match self.file.write_all(entry) {
            Ok(()) => {
                self.size += entry.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.size);
                Err(e)
            }
        }
    }

    /// The newest file becomes `.1`, each older one moves up one, the one
    /// past the limit is dropped (overwritten by the rename), and a new
    /// newest file is begun.
    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.limit.max_files;
        if keep == 1 {
            // Gone already when the last rotation could not reopen it.
            match fs::remove_file(nth(&self.dir, 0)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        for n in (0..keep.saturating_sub(1)).rev() {
            match fs::rename(nth(&self.dir, n), nth(&self.dir, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.file = open_append(&nth(&self.dir, 0))?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// One log line: `TIME STREAM TEXT\n`.
fn entry(time: &str, stream: &str, text: &[u8]) -> Vec<u8> {
    let mut e = format!("{time} {stream} ").into_bytes();
    e.extend_from_slice(text);
    e.push(b'\n');
    e
}

/// The kernel's words for an error, without "(os error N)".
fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// A log file found in a listing: its path and identity.
struct Found {
    path: PathBuf,
    id: (u64, u64),
}

/// The log files of `dir`, oldest first.
fn listing(dir: &Path) -> io::Result<Vec<Found>> {
    let numbers = match numbers(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    let mut found = Vec::new();
    for n in numbers.into_iter().rev() {
        let path = nth(dir, n);
        match fs::metadata(&path) {
            Ok(m) => found.push(Found {
                path,
                id: (m.dev(), m.ino()),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// Reads a container's log: its files oldest first, then on into newer
/// files as rotation makes them, however they are renamed meanwhile.
pub struct Reader {
    dir: PathBuf,
    file: Option<(File, (u64, u64))>,
}

impl Reader {
    pub fn new(dir: &Path) -> Reader {
        Reader {
            dir: dir.to_path_buf(),
            file: None,
        }
    }

    /// Reads the next bytes into `buf`; 0 at the end of the newest file
    /// (more may come later: read again).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some((file, id)) = &mut self.file else {
                // The oldest file there is.
                match self.open_checked(|files| (!files.is_empty()).then_some(0))? {
                    Some(opened) => self.file = Some(opened),
                    None => return Ok(0),
                }
                continue;
            };
            let n = file.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let id = *id;
            let files = listing(&self.dir)?;
            if newer(&files, id).is_none() {
                return Ok(0);
            }
            // Rotated away: nothing is written to it any more, but lines
            // may have come between the read above and the rotation.
            let n = file.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.open_checked(|files| newer(files, id))? {
                Some(opened) => self.file = Some(opened),
                None => return Ok(0),
            }
        }
    }

    /// Opens the file `pick` chooses from a listing, and checks that a
    /// listing made after the open still picks that file (a rotation in
    /// between renames them all); tries again when it does not.
    fn open_checked(
        &self,
        pick: impl Fn(&[Found]) -> Option<usize>,
    ) -> io::Result<Option<(File, (u64, u64))>> {
        let mut last = None;
        for _ in 0..10 {
            let files = listing(&self.dir)?;
            let Some(want) = pick(&files) else {
                return Ok(None);
            };
            let file = match File::open(&files[want].path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let m = file.metadata()?;
            let id = (m.dev(), m.ino());
            let again = listing(&self.dir)?;
            if pick(&again).is_some_and(|at| again[at].id == id) {
                return Ok(Some((file, id)));
            }
            last = Some((file, id));
        }
        Ok(last)
    }
}

/// Where in `files` (oldest first) the file after the one with identity
/// `id` is: the oldest when that one is gone (dropped: all that is left
/// is newer); None when it is the newest.
fn newer(files: &[Found], id: (u64, u64)) -> Option<usize> {
    let next = files.iter().position(|f| f.id == id).map_or(0, |at| at + 1);
    (next < files.len()).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(size: u64, files: u32) -> Limit {
        Limit::new(size, files).unwrap()
    }

    fn read_all(reader: &mut Reader) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match reader.read(&mut buf).unwrap() {
                0 => return String::from_utf8(out).unwrap(),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// The numbers of `line N` entries, in order.
    fn numbers_in(text: &str) -> Vec<u64> {
        text.lines()
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(Limit::default(), limit(10 << 20, 2));
        let e = Limit::new(1000, 2).unwrap_err();
        assert_eq!(e.field, "log-max-size");
        assert_eq!(
            e.to_string(),
            "log-max-size: 1000 bytes is below the minimum of 32768 (32k)"
        );
        assert_eq!(Limit::new(MIN_SIZE, 0).unwrap_err().field, "log-max-files");
        assert!(Limit::new(MIN_SIZE, MAX_FILES + 1).is_err());
    }

    #[test]
    fn rotation_keeps_the_newest_lines_within_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), limit(MIN_SIZE, 3), |_| {}).unwrap();
        let last = 10_000;
        for i in 1..=last {
            w.write("T", "stdout", format!("line {i}").as_bytes());
        }
        let mut names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [LOG_FILE, "container.log.1", "container.log.2", DROPPED_FILE]
        );
        for n in 0..3 {
            let len = fs::metadata(nth(tmp.path(), n)).unwrap().len();
            assert!(len <= MIN_SIZE, "file {n} is {len} bytes");
        }
        let seen = numbers_in(&read_all(&mut Reader::new(tmp.path())));
        assert_eq!(*seen.last().unwrap(), last);
        assert!(
            seen.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, no gap"
        );
        assert!(seen[0] > 1, "the oldest were dropped");
        assert_eq!(w.dropped(), 0);
        assert_eq!(dropped(tmp.path()), 0);
    }

    #[test]
    fn one_file_starts_over_at_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), limit(MIN_SIZE, 1), |_| {}).unwrap();
        for i in 1..=5_000 {
            w.write("T", "stdout", format!("line {i}").as_bytes());
        }
        assert!(fs::metadata(nth(tmp.path(), 0)).unwrap().len() <= MIN_SIZE);
        assert!(!nth(tmp.path(), 1).exists());
        let seen = numbers_in(&read_all(&mut Reader::new(tmp.path())));
        assert_eq!(*seen.last().unwrap(), 5_000);
    }

    #[test]
    fn a_reader_follows_the_log_across_rotations() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), limit(MIN_SIZE, 4), |_| {}).unwrap();
        let mut reader = Reader::new(tmp.path());
        assert_eq!(read_all(&mut reader), "", "nothing yet");
        let mut seen = Vec::new();
        let mut i = 0;
        // Each round writes less than the files kept hold; together they
        // rotate many times, and the reader misses nothing.
        for round in 0..20 {
            for _ in 0..(500 + round * 37) {
                i += 1;
                w.write("T", "stdout", format!("line {i}").as_bytes());
            }
            seen.extend(numbers_in(&read_all(&mut reader)));
        }
        assert_eq!(seen, (1..=i).collect::<Vec<_>>());
    }

    #[test]
    fn a_reader_that_fell_behind_goes_on_with_the_oldest_left() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), limit(MIN_SIZE, 2), |_| {}).unwrap();
        w.write("T", "stdout", b"line 1");
        let mut reader = Reader::new(tmp.path());
        let mut buf = [0u8; 4];
        assert_eq!(reader.read(&mut buf).unwrap(), 4);
        for i in 2..=10_000 {
            w.write("T", "stdout", format!("line {i}").as_bytes());
        }
        let rest = read_all(&mut reader);
        assert!(rest.starts_with("dout line 1\n"), "{}", &rest[..40]);
        // The file it had open to its end, then the oldest file left.
        let seen = numbers_in(&rest);
        assert_eq!(*seen.last().unwrap(), 10_000);
        let gaps = seen.windows(2).filter(|w| w[1] != w[0] + 1).count();
        assert_eq!(gaps, 1, "one gap: the files dropped meanwhile");
    }

    #[test]
    fn lost_lines_are_counted_and_marked_once_writing_works_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), Limit::default(), |_| {}).unwrap();
        w.write("T1", "stdout", b"before");
        let log = w.file.try_clone().unwrap();
        // Every write to /dev/full fails with ENOSPC.
        w.file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        for text in ["lost", "lost too", "and this"] {
            w.write("T2", "stderr", text.as_bytes());
        }
        assert_eq!(w.dropped(), 3);
        assert_eq!(dropped(tmp.path()), 3, "counted on disk as it happens");
        w.file = log;
        w.write("T3", "stdout", b"after");
        let text = fs::read_to_string(nth(tmp.path(), 0)).unwrap();
        assert_eq!(
            text,
            "T1 stdout before\n\
             T3 jolt jolt: 3 lines dropped: No space left on device\n\
             T3 stdout after\n"
        );
        assert!(w.mark("T4"), "nothing left to mark");

        // A new run counts on from the counter.
        drop(w);
        let mut w = Writer::open(tmp.path(), Limit::default(), |_| {}).unwrap();
        w.file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        w.write("T5", "stdout", b"lost");
        assert_eq!(dropped(tmp.path()), 4);
        assert!(!w.mark("T6"), "the marker cannot be written either");
        assert_eq!(w.dropped(), 4, "a marker that fails is not a line");
    }

    #[test]
    fn removing_takes_every_log_file_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Writer::open(tmp.path(), limit(MIN_SIZE, 3), |_| {}).unwrap();
        for i in 0..3_000 {
            w.write("T", "stdout", format!("line {i}").as_bytes());
        }
        fs::write(tmp.path().join("container.json"), "{}").unwrap();
        fs::write(tmp.path().join("container.log.x"), "").unwrap();
        remove(tmp.path()).unwrap();
        let mut left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["container.json", "container.log.x"]);
        remove(&tmp.path().join("missing")).unwrap();
    }
}
