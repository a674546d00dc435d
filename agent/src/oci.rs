//! oci: the `jolt` binary, as joltd runs it.
//!
//! Owns the command lines of `jolt create`, `start`, `kill`, `exec` and `delete`
//! under joltd's own `--root`, and turning a failed run into an error that
//! carries jolt's own message. joltd never clones a container process
//! itself: this is the only way it reaches the runtime.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A `jolt` run that failed, with what jolt said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("jolt {command}: {message}")]
pub struct OciError {
    pub command: String,
    pub message: String,
}

/// The `jolt` binary and the state root joltd gives it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Jolt {
    pub bin: PathBuf,
    pub root: PathBuf,
}

impl Jolt {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    /// `jolt create ID --bundle DIR --pid-file FILE`, with the caller
    /// setting stdout and stderr (the container inherits them).
    pub fn create(&self, id: &str, bundle: &Path, pid_file: &Path) -> Command {
        let mut c = self.command();
        c.arg("create")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        c
    }

    pub fn start(&self, id: &str) -> Result<(), OciError> {
        self.run(&["start", id])
    }

    /// `jolt kill ID SIGNAL`: to the init, or with `all` to every
    /// process of the container.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), OciError> {
        match all {
            true => self.run(&["kill", "--all", id, signal]),
            false => self.run(&["kill", id, signal]),
        }
    }

    /// `jolt exec --pid-file FILE ID -- COMMAND...`, output and status
    /// left to the caller.
    pub fn exec(&self, id: &str, command: &[String], pid_file: &Path) -> Command {
        let mut c = self.command();
        c.arg("exec")
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id)
            .arg("--")
            .args(command);
        c
    }

    /// `jolt delete --force ID`: kills what is left and removes the state
    /// and the cgroup; a container jolt does not know is not an error.
    pub fn delete(&self, id: &str) -> Result<(), OciError> {
        self.run(&["delete", "--force", id])
    }

    fn run(&self, args: &[&str]) -> Result<(), OciError> {
        let command = args.join(" ");
        let out = self
            .command()
            .args(args)
            .stdout(Stdio::null())
            .output()
            .map_err(|e| OciError {
                command: command.clone(),
                message: format!("{}: {e}", self.bin.display()),
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(OciError {
            command,
            message: last_line(&out.stderr).unwrap_or_else(|| out.status.to_string()),
        })
    }
}

/// The last non-empty line of what a program wrote, if any.
pub fn last_line(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_the_message() {
        assert_eq!(last_line(b"a\nb: why\n\n"), Some("b: why".into()));
        assert_eq!(last_line(b"  \n"), None);
    }
}
