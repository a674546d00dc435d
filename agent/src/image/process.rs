//! process: what an image's config makes of a container's process.
//!
//! As Docker and podman do: the arguments are the entrypoint followed by
//! the command asked for, or the image's `Cmd` when none was; the
//! environment is the image's (with a default PATH when it has none);
//! the working directory is the image's (`/` when unset); `User` (a name
//! or number, with an optional group) is resolved against the image's own
//! `/etc/passwd` and `/etc/group`, read without following a symlink out
//! of the rootfs; a user's groups there become its additional groups.

use std::fs;
use std::path::Path;

use oci_spec::image::Config;
use serde_json::{json, Value};

/// The PATH a container gets when its image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Sets `process` (config.json's) from the image's `config` over the
/// image's `rootfs`; `command` is what the user asked to run instead of
/// the image's `Cmd` (empty: the image's).
pub fn apply(
    process: &mut Value,
    config: Option<&Config>,
    command: &[String],
    rootfs: &Path,
) -> Result<(), String> {
    let empty = Config::default();
    let config = config.unwrap_or(&empty);
    let mut args: Vec<String> = config.entrypoint().clone().unwrap_or_default();
    match command.is_empty() {
        true => args.extend(config.cmd().clone().unwrap_or_default()),
        false => args.extend(command.iter().cloned()),
    }
    if args.is_empty() {
        return Err("the image has no Entrypoint or Cmd: give a command (-- CMD ...)".into());
    }
    process["args"] = json!(args);
    let mut env = config.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    process["env"] = json!(env);
    let cwd = config.working_dir().clone().filter(|w| !w.is_empty());
    let cwd = cwd.unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(format!("WorkingDir {cwd:?}: not an absolute path"));
    }
    process["cwd"] = json!(cwd);
    let user = config.user().clone().filter(|u| !u.is_empty());
    let (uid, gid, groups) = match user {
        Some(u) => resolve_user(&u, rootfs)?,
        None => (0, 0, Vec::new()),
    };
    process["user"] = json!({"uid": uid, "gid": gid});
    if !groups.is_empty() {
        process["user"]["additionalGids"] = json!(groups);
    }
    Ok(())
}

/// Reads `etc/NAME` of `rootfs`, if it is there and inside it.
fn etc_file(rootfs: &Path, name: &str) -> Option<String> {
    let path = fs::canonicalize(rootfs.join("etc").join(name)).ok()?;
    let root = fs::canonicalize(rootfs).ok()?;
    path.starts_with(root)
        .then(|| fs::read_to_string(path).ok())
        .flatten()
}

/// `USER[:GROUP]` as uid, gid and additional gids.
fn resolve_user(spec: &str, rootfs: &Path) -> Result<(u32, u32, Vec<u32>), String> {
    let passwd = etc_file(rootfs, "passwd").unwrap_or_default();
    let group = etc_file(rootfs, "group").unwrap_or_default();
    users(spec, &passwd, &group)
}

/// The resolution of `USER[:GROUP]` against the texts of passwd and group.
fn users(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let fields = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    };
    let pw = fields(passwd);
    let gr = fields(group);
    let entry = pw
        .iter()
        .find(|f| f.len() >= 4 && (f[0] == user || f[2] == user));
    let uid = match (user.parse::<u32>(), entry) {
        (Ok(n), _) => n,
        (_, Some(f)) => f[2]
            .parse()
            .map_err(|_| format!("User {user:?}: bad uid in /etc/passwd"))?,
        _ => return Err(format!("User {user:?}: not in the image's /etc/passwd")),
    };
    let name = entry.map(|f| f[0].clone());
    let gid = match grp {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => gr
                .iter()
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    format!("User {spec:?}: group {g:?} not in the image's /etc/group")
                })?,
        },
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
    };
    let mut extra: Vec<u32> = match (&name, grp) {
        (Some(n), None) => gr
            .iter()
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == n))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    extra.dedup();
    Ok((uid, gid, extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/home/web:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwebg:x:1001:\nlogs:x:4:web,other\nwheel:x:10:root\n";

    #[test]
    fn users_resolve_by_name_number_and_group() {
        assert_eq!(users("web", PASSWD, GROUP).unwrap(), (1000, 1001, vec![4]));
        assert_eq!(users("1000", PASSWD, GROUP).unwrap(), (1000, 1001, vec![4]));
        assert_eq!(users("web:logs", PASSWD, GROUP).unwrap(), (1000, 4, vec![]));
        assert_eq!(users("4242:7", PASSWD, GROUP).unwrap(), (4242, 7, vec![]));
        assert_eq!(users("4242", "", "").unwrap(), (4242, 0, vec![]));
        let e = users("nobody", PASSWD, GROUP).unwrap_err();
        assert!(e.contains("not in the image's /etc/passwd"), "{e}");
        let e = users("web:nogroup", PASSWD, GROUP).unwrap_err();
        assert!(e.contains("group \"nogroup\""), "{e}");
    }

    fn config(json: Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn entrypoint_cmd_env_and_workdir_follow_docker() {
        let c = config(json!({"Entrypoint": ["/bin/app"], "Cmd": ["--serve"],
            "Env": ["A=1"], "WorkingDir": "/srv"}));
        let mut p = json!({});
        apply(&mut p, Some(&c), &[], Path::new("/nonexistent")).unwrap();
        assert_eq!(p["args"], json!(["/bin/app", "--serve"]));
        assert_eq!(p["env"], json!([DEFAULT_PATH, "A=1"]));
        assert_eq!(p["cwd"], "/srv");
        assert_eq!(p["user"], json!({"uid": 0, "gid": 0}));
        apply(&mut p, Some(&c), &["--check".into()], Path::new("/x")).unwrap();
        assert_eq!(p["args"], json!(["/bin/app", "--check"]));
        let e = apply(&mut p, None, &[], Path::new("/x")).unwrap_err();
        assert!(e.contains("no Entrypoint or Cmd"), "{e}");
        apply(&mut p, None, &["sh".into()], Path::new("/x")).unwrap();
        assert_eq!(p["args"], json!(["sh"]));
        assert_eq!(p["cwd"], "/");
    }

    #[test]
    fn passwd_is_not_read_through_a_symlink_out_of_the_rootfs() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("etc/passwd")).unwrap();
        assert_eq!(etc_file(root.path(), "passwd"), None);
        fs::remove_file(root.path().join("etc/passwd")).unwrap();
        fs::write(root.path().join("etc/passwd"), PASSWD).unwrap();
        assert_eq!(etc_file(root.path(), "passwd").as_deref(), Some(PASSWD));
    }
}
