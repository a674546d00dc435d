//! journal: the faults in force, kept on disk so that a joltd that dies
//! mid-experiment can undo them at its next start. Owns the directory of
//! entries (one JSON file per injection, `<id>.json`) and recovery; does not
//! own the undo itself ([`crate::fault::revert`]).
//!
//! An entry is durable before its fault is applied: [`Journal::record`]
//! writes a temporary file, fsyncs it, renames it into place and fsyncs the
//! directory. A crash mid-write leaves only a `.tmp` file, which readers
//! ignore (its fault was never applied) and joltd's next start removes
//! ([`Journal::remove_temp_files`]). A file that does not parse (a disk
//! that lost data) is reported and skipped, never fatal, and never removed:
//! a person decides what it undoes.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault::{revert, FaultError, Reverted, Undo};
use crate::target::Target;

/// One injected fault and what undoes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique per injection, e.g. "{experiment}-{seq}-{target id}"; also
    /// the file name, so 1-200 bytes of `[A-Za-z0-9._-]`, not starting
    /// with a dot.
    pub id: String,
    pub experiment: String,
    pub target: Target,
    pub fault_kind: String,
    /// The fault and its parameters, one line, as the experiment's
    /// timeline names it; empty in entries an older joltd wrote.
    #[serde(default)]
    pub fault: String,
    pub undo: Undo,
    /// RFC 3339.
    pub injected_at: String,
}

impl Entry {
    /// The fault as the timeline names it: its line, or its kind in an
    /// older joltd's entry.
    pub fn fault_line(&self) -> &str {
        match self.fault.is_empty() {
            true => &self.fault_kind,
            false => &self.fault,
        }
    }
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("fault journal {}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// A file in the journal that is not an entry (truncated, corrupt).
    #[error("fault journal {}: not a valid entry, skipped (revert it by hand, then delete the file): {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("fault journal: entry id {id:?} cannot be a file name (1-200 of A-Z a-z 0-9 . _ -, not starting with a dot)")]
    BadId { id: String },
}

/// The directory of journal entries.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

const SUFFIX: &str = ".json";
const TEMP_SUFFIX: &str = ".json.tmp";

fn valid_id(id: &str) -> bool {
    jolt_runtime::names::file_name(id, 200)
}

impl Journal {
    /// Opens the journal at `dir`, creating it (mode 0700) if needed.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                action: "creating the directory",
                source,
            })?;
        Ok(Journal {
            dir: dir.to_path_buf(),
        })
    }

    fn io(&self, path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> JournalError {
        let path = path.to_path_buf();
        move |source| JournalError::Io {
            path,
            action,
            source,
        }
    }

    fn path_of(&self, id: &str) -> Result<PathBuf, JournalError> {
        if !valid_id(id) {
            return Err(JournalError::BadId { id: id.to_string() });
        }
        Ok(self.dir.join(format!("{id}{SUFFIX}")))
    }

    /// Writes `entry` durably (temp file, fsync, rename, fsync of the
    /// directory). An entry with the same id is replaced.
    pub fn record(&self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.path_of(&entry.id)?;
        let mut json = serde_json::to_vec_pretty(entry).expect("an Entry always serializes");
        json.push(b'\n');
        jolt_runtime::durable::write(&path, &json, 0o600).map_err(self.io(&path, "writing"))
    }

    /// Removes the temporary files of writes that never finished (their
    /// faults were never applied): for joltd's start, before anything
    /// writes to the journal. Returns each file removed, or why not.
    pub fn remove_temp_files(&self) -> Vec<Result<PathBuf, JournalError>> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) => return vec![Err(self.io(&self.dir, "listing")(e))],
        };
        listing
            .flatten()
            .filter(|item| {
                let name = item.file_name();
                let name = name.to_string_lossy();
                name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
            })
            .map(|item| {
                let path = item.path();
                fs::remove_file(&path)
                    .map(|()| path.clone())
                    .map_err(self.io(&path, "removing a temporary file"))
            })
            .collect()
    }

    /// Removes the entry `id`; one that is not there is fine.
    pub fn remove(&self, id: &str) -> Result<(), JournalError> {
        let path = self.path_of(id)?;
        match fs::remove_file(&path) {
            Ok(()) => jolt_runtime::durable::sync_dir(&path)
                .map_err(self.io(&self.dir, "fsync of the directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(&path, "removing")(e)),
        }
    }

    /// Every entry, oldest injection first, and a [`JournalError`] for each
    /// file that could not be read as one.
    pub fn entries(&self) -> (Vec<Entry>, Vec<JournalError>) {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) => return (entries, vec![self.io(&self.dir, "listing")(e)]),
        };
        for item in listing {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    errors.push(self.io(&self.dir, "listing")(e));
                    continue;
                }
            };
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(SUFFIX) {
                continue;
            }
            let path = item.path();
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    errors.push(self.io(&path, "reading")(e));
                    continue;
                }
            };
            match serde_json::from_str::<Entry>(&text) {
                Ok(entry) if format!("{}{SUFFIX}", entry.id) == name => entries.push(entry),
                Ok(entry) => errors.push(JournalError::Corrupt {
                    path,
                    message: format!("it holds the entry {:?}", entry.id),
                }),
                Err(e) => errors.push(JournalError::Corrupt {
                    path,
                    message: e.to_string(),
                }),
            }
        }
        entries.sort_by(|a, b| (&a.injected_at, &a.id).cmp(&(&b.injected_at, &b.id)));
        (entries, errors)
    }

    /// Reverts every entry, newest first (the reverse of how they were
    /// applied), and removes none: the caller removes each once what it
    /// makes of the result is durable (joltd: the timeline's `reverted`).
    pub fn revert_all(&self) -> Vec<(Entry, Result<Reverted, FaultError>)> {
        let (mut entries, _) = self.entries();
        entries.reverse();
        entries
            .into_iter()
            .map(|entry| {
                let result = revert(&entry.undo);
                (entry, result)
            })
            .collect()
    }

    /// [`Journal::revert_all`], then removes each entry
    /// that reverted (Done, AlreadyClean, TargetGone); a failed one stays
    /// for the next try. Corrupt files are left alone;
    /// [`Journal::entries`] reports them. When an entry reverted but its
    /// file could not be removed, its result is
    /// [`FaultError::EntryStays`]: the next recovery finds it clean.
    pub fn recover(&self) -> Vec<(Entry, Result<Reverted, FaultError>)> {
        self.revert_all()
            .into_iter()
            .map(|(entry, result)| {
                let result = result.and_then(|reverted| {
                    self.remove(&entry.id)
                        .map(|()| reverted)
                        .map_err(|e| FaultError::EntryStays {
                            id: entry.id.clone(),
                            reverted,
                            source: Box::new(e),
                        })
                });
                (entry, result)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(id: &str, undo: Undo) -> Entry {
        Entry {
            id: id.to_string(),
            experiment: "web-cpu".into(),
            target: Target {
                id: "0f3a".into(),
                name: "web-1".into(),
                pid: 4242,
                netns: Some("/run/jolt/netns/0f3a".into()),
                interface: Some("eth0".into()),
            },
            fault_kind: "cpu-throttle".into(),
            fault: "cpu-throttle cpus=0.5 for 1m".into(),
            undo,
            injected_at: format!("2026-12-02T09:00:0{}Z", id.len() % 10),
        }
    }

    #[test]
    fn open_makes_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/journal");
        Journal::open(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn recorded_entries_read_back_and_remove_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::open(tmp.path()).unwrap();
        let a = entry("web-cpu-1-0f3a", Undo::Nothing);
        let b = entry(
            "web-cpu-2-0f3a",
            Undo::CfsQuota {
                dir: "/sys/fs/cgroup/cpu/jolt/0f3a".into(),
                quota: -1,
                period: 100_000,
            },
        );
        journal.record(&a).unwrap();
        journal.record(&b).unwrap();
        let (entries, errors) = journal.entries();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(entries, [a.clone(), b.clone()]);

        journal.remove(&a.id).unwrap();
        journal.remove(&a.id).unwrap();
        assert_eq!(journal.entries().0, [b]);
        let files: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "no temporary file is left");
    }

    #[test]
    fn ids_that_are_not_plain_file_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::open(tmp.path()).unwrap();
        for id in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(
                matches!(
                    journal.record(&entry(id, Undo::Nothing)),
                    Err(JournalError::BadId { .. })
                ),
                "{id:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_file_is_reported_and_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::open(tmp.path()).unwrap();
        let good = entry("good", Undo::Nothing);
        journal.record(&good).unwrap();
        let text = serde_json::to_string(&entry("cut", Undo::Nothing)).unwrap();
        fs::write(tmp.path().join("cut.json"), &text[..text.len() / 2]).unwrap();
        fs::write(tmp.path().join(".half.json.tmp"), "{").unwrap();

        let (entries, errors) = journal.entries();
        assert_eq!(entries, [good]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let message = errors[0].to_string();
        assert!(
            message.contains("cut.json") && message.contains("not a valid entry"),
            "{message}"
        );

        let recovered = journal.recover();
        assert_eq!(recovered.len(), 1);
        assert!(tmp.path().join("cut.json").exists(), "left for a person");
    }

    #[test]
    fn temporary_files_of_unfinished_writes_are_removed_and_entries_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::open(tmp.path()).unwrap();
        let good = entry("good", Undo::Nothing);
        journal.record(&good).unwrap();
        for n in 0..3 {
            fs::write(tmp.path().join(format!(".half{n}.json.tmp")), "{").unwrap();
        }
        let removed: Vec<PathBuf> = journal
            .remove_temp_files()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(removed.len(), 3, "{removed:?}");
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["good.json"]);
        assert_eq!(journal.entries().0, [good]);
    }

    #[test]
    fn recover_restores_reverts_and_keeps_only_failures() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::open(&tmp.path().join("journal")).unwrap();
        let cpu_max = tmp.path().join("cpu.max");
        fs::write(&cpu_max, "20000 100000").unwrap();
        let throttled = entry(
            "throttled",
            Undo::CpuMax {
                path: cpu_max.clone(),
                previous: "max 100000\n".into(),
            },
        );
        let gone = entry(
            "gone-target",
            Undo::Thaw {
                path: tmp.path().join("removed/freezer.state"),
            },
        );
        let not_a_file = tmp.path().join("dir-not-file");
        fs::create_dir(&not_a_file).unwrap();
        let failing = entry(
            "fails",
            Undo::CpuMax {
                path: not_a_file,
                previous: "max 100000\n".into(),
            },
        );
        for e in [&throttled, &gone, &failing] {
            journal.record(e).unwrap();
        }
        drop(journal);

        let journal = Journal::open(&tmp.path().join("journal")).unwrap();
        let results: Vec<_> = journal
            .recover()
            .into_iter()
            .map(|(e, r)| (e.id, r.map_err(|e| e.to_string())))
            .collect();
        assert!(
            results.contains(&("throttled".into(), Ok(Reverted::Done))),
            "{results:?}"
        );
        assert!(
            results.contains(&("gone-target".into(), Ok(Reverted::TargetGone))),
            "{results:?}"
        );
        assert!(
            results.iter().any(|(id, r)| id == "fails" && r.is_err()),
            "{results:?}"
        );
        assert_eq!(fs::read_to_string(&cpu_max).unwrap(), "max 100000\n");
        let left: Vec<String> = journal.entries().0.into_iter().map(|e| e.id).collect();
        assert_eq!(left, ["fails"]);
    }
}
