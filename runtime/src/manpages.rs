//! manpages: the man pages of jolt's programs, made from their clap
//! definitions so that they never drift from `--help`.
//!
//! Each program has a hidden `man DIR` subcommand that calls [`write`]:
//! one page for the program and one per visible subcommand
//! (`chaosctl-run.1`), nested subcommands joined the same way
//! (`chaosctl-image-import.1`). `scripts/man` runs them into docs/man, and
//! CI runs it with `--check` to fail when a page is not current.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Writes the pages of `cmd` (its name the program's) in `section` into
/// `dir`; the files written.
pub fn write(cmd: clap::Command, section: &str, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let shown = cmd.get_name().to_string();
    page(cmd, &shown, section, dir, &mut written)?;
    Ok(written)
}

/// The page of `cmd` (named `PROGRAM-SUB...`), shown as `shown`
/// (`PROGRAM SUB`), then those of its subcommands.
fn page(
    cmd: clap::Command,
    shown: &str,
    section: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let name = cmd.get_name().to_string();
    let mut text = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.clone())
        .section(section)
        .render(&mut text)?;
    let path = dir.join(format!("{name}.{section}"));
    fs::write(&path, text)?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let shown = format!("{shown} {}", sub.get_name());
        let sub = sub
            .clone()
            .name(format!("{name}-{}", sub.get_name()))
            .display_name(shown.clone())
            .bin_name(shown.clone());
        page(sub, &shown, section, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_and_each_visible_subcommand_get_a_page() {
        let cmd = clap::Command::new("demo")
            .version("1.0")
            .about("a demo")
            .subcommand(
                clap::Command::new("image")
                    .about("images")
                    .subcommand(clap::Command::new("ls").about("list them")),
            )
            .subcommand(clap::Command::new("secret").hide(true));
        let dir = tempfile::tempdir().unwrap();
        let files = write(cmd, "1", dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["demo.1", "demo-image.1", "demo-image-ls.1"]);
        let page = fs::read_to_string(dir.path().join("demo-image-ls.1")).unwrap();
        assert!(page.contains("list them"), "{page}");
        assert!(page.contains("demo image ls"), "shown as typed: {page}");
    }
}
