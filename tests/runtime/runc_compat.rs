//! jolt and runc side by side on the same bundle, for what containerd and
//! podman read back: exec's exit statuses and messages, `ps --format
//! json`, pause/resume and the errors around them, `update`, and the shape
//! of `events --stats` (CPU times in ns), signal 0, a repeated flag.
//! Skips where runc is not installed.
//!
//! In the VM too (scripts/test's VM_TESTS): what containerd reads (pause,
//! update, stats), compared with runc on cgroup v2.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use jolt_e2e::host::read_cgroup;
use jolt_e2e::image::runc;
use jolt_e2e::{session, Jolt};
use serde_json::Value;

/// The cgroup parent of both containers: this test's own.
const PARENT: &str = "/jolt-e2e-compat";

/// What one runtime invocation did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Either runtime, by binary and root.
struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    bundle: PathBuf,
    id: String,
}

/// Removes the cgroup parent both runtimes' containers share (rmdir only:
/// it goes once both containers are gone); dropped after them.
struct SharedParent(&'static str);

impl Drop for SharedParent {
    fn drop(&mut self) {
        for dir in jolt_e2e::host::cgroup_dirs_of(self.0) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Runtime {
    fn run(&self, args: &[&str]) -> Ran {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "ID" { self.id.as_str() } else { a })
            .collect();
        let out = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `run --detach` with the container's stdio on /dev/null (a pipe
    /// would stay open as long as the container runs).
    fn run_detached(&self) {
        let status = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["run", "--detach", "--bundle"])
            .arg(&self.bundle)
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{} run --detach: {status}",
            self.bin.display()
        );
    }

    fn status(&self) -> String {
        let v: Value = serde_json::from_str(&self.run(&["state", "ID"]).stdout).unwrap();
        v["status"].as_str().unwrap_or_default().to_string()
    }

    fn cgroup(&self) -> String {
        let config: Value =
            serde_json::from_slice(&std::fs::read(self.bundle.join("config.json")).unwrap())
                .unwrap();
        config["linux"]["cgroupsPath"].as_str().unwrap().to_string()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.run(&["delete", "--force", "ID"]);
    }
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[test]
fn jolt_and_runc_agree_on_what_containerd_reads() {
    let Some(jolt) = session() else { return };
    let Some(runc_bin) = runc() else { return };
    let _parent = SharedParent(PARENT);
    let both = |name: &str| -> (Runtime, Runtime) {
        // One bundle each, differing only in cgroupsPath: both run at once.
        let make = |who: &str, bin: PathBuf, jolt: &Jolt| {
            let id = jolt.id(&format!("{name}-{who}"));
            let cgroup = format!("{PARENT}/{id}");
            let bundle = jolt.bundle().sleeper().cgroups_path(&cgroup);
            let rt = Runtime {
                bin,
                root: jolt.host_dir(&format!("{who}-root")),
                bundle: bundle.path().to_path_buf(),
                id,
            };
            rt
        };
        let j = make("jolt", jolt_e2e::runner::jolt_bin(), &jolt);
        let r = make("runc", runc_bin.clone(), &jolt);
        j.run_detached();
        r.run_detached();
        (j, r)
    };
    let (j, r) = both("compat");
    let pair = [&j, &r];

    for rt in pair {
        let who = rt.bin.display();
        let out = rt.run(&["exec", "ID", "sh", "-c", "exit 7"]);
        assert_eq!(out.code, 7, "{who}");
        let out = rt.run(&["exec", "ID", "no-such-program"]);
        assert_eq!(out.code, 255, "{who}: {}", out.stderr);
        assert!(
            out.stderr.contains("exec failed: ")
                && out.stderr.contains("executable file not found in $PATH"),
            "{who}: {}",
            out.stderr
        );
        let pids: Vec<i32> =
            serde_json::from_str(&rt.run(&["ps", "--format", "json", "ID"]).stdout).unwrap();
        assert_eq!(pids.len(), 1, "{who}");

        assert_eq!(rt.run(&["pause", "ID"]).code, 0, "{who}");
        assert_eq!(rt.status(), "paused", "{who}");
        let out = rt.run(&["exec", "ID", "true"]);
        assert_eq!(out.code, 255, "{who}");
        assert!(
            out.stderr.contains("cannot exec in a paused container"),
            "{who}"
        );
        let out = rt.run(&["pause", "ID"]);
        assert_eq!(out.code, 1, "{who}");
        assert!(
            out.stderr.contains("container not running"),
            "{who}: {}",
            out.stderr
        );
        assert_eq!(rt.run(&["resume", "ID"]).code, 0, "{who}");
        assert_eq!(rt.status(), "running", "{who}");
        let out = rt.run(&["resume", "ID"]);
        assert_eq!(out.code, 1, "{who}");
        assert!(
            out.stderr.contains("container not paused"),
            "{who}: {}",
            out.stderr
        );

        assert_eq!(
            rt.run(&["update", "--pids-limit", "7", "ID"]).code,
            0,
            "{who}"
        );
        // Signal 0 checks that the init exists; a flag given twice takes
        // its last value.
        assert_eq!(rt.run(&["kill", "ID", "0"]).code, 0, "{who}");
        let root = rt.root.display().to_string();
        assert_eq!(rt.run(&["--root", &root, "state", "ID"]).code, 0, "{who}");
        // Some CPU time for the stats below.
        let busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
        assert_eq!(rt.run(&["exec", "ID", "sh", "-c", busy]).code, 0, "{who}");
    }
    for rt in pair {
        assert_eq!(read_cgroup("pids", &rt.cgroup(), "pids.max"), "7");
    }

    let stats: Vec<Value> = pair
        .iter()
        .map(|rt| serde_json::from_str(&rt.run(&["events", "--stats", "ID"]).stdout).unwrap())
        .collect();
    assert_eq!(keys(&stats[0]), keys(&stats[1]), "event keys");
    let (ours, theirs) = (&stats[0]["data"], &stats[1]["data"]);
    assert_eq!(keys(ours), keys(theirs), "stats sections");
    // "cache" is omitted when zero, by both runtimes, and page cache is
    // charged to whichever container first read the pages.
    let without_cache = |v: &Value| {
        let mut k = keys(v);
        k.retain(|k| k != "cache");
        k
    };
    for section in ["memory", "pids", "cpu"] {
        assert_eq!(
            without_cache(&ours[section]),
            without_cache(&theirs[section]),
            "{section}"
        );
    }
    assert_eq!(
        keys(&ours["memory"]["usage"]),
        keys(&theirs["memory"]["usage"]),
        "memory.usage"
    );
    // kernel and user are in ns, as total is (v1 counts them in ticks).
    for usage in [&ours["cpu"]["usage"], &theirs["cpu"]["usage"]] {
        let ns = |k: &str| usage[k].as_u64().unwrap_or(0);
        assert!(
            (ns("kernel") + ns("user")) * 2 >= ns("total"),
            "cpu.usage in ns: {usage}"
        );
    }

    for rt in pair {
        let who = rt.bin.display();
        assert_eq!(rt.run(&["kill", "ID", "KILL"]).code, 0, "{who}");
        jolt_e2e::wait_until("stopped", jolt_e2e::timeout(), || {
            (rt.status() == "stopped").then_some(())
        });
        let out = rt.run(&["exec", "ID", "true"]);
        assert_eq!(out.code, 255, "{who}");
        assert!(
            out.stderr.contains("cannot exec in a stopped container"),
            "{who}: {}",
            out.stderr
        );
        for signal in ["KILL", "0"] {
            let out = rt.run(&["kill", "ID", signal]);
            assert_eq!(out.code, 1, "{who} {signal}");
            assert!(
                out.stderr.contains("container not running"),
                "{who}: {}",
                out.stderr
            );
        }
    }
    let all_zero: Vec<i32> = pair
        .iter()
        .map(|rt| rt.run(&["kill", "--all", "ID", "0"]).code)
        .collect();
    assert_eq!(all_zero[0], all_zero[1], "kill --all ID 0 when stopped");
    for rt in pair {
        assert_eq!(rt.run(&["delete", "ID"]).code, 0, "{}", rt.bin.display());
    }
}

/// A program whose interpreter is missing: execve fails after every check
/// passed, and both runtimes print the process's one line, in `run` and in
/// `exec`. A pid file that cannot be written fails `exec` with 255 in
/// both, and in jolt before anything runs.
#[test]
fn execve_failures_and_a_bad_pid_file_read_as_runcs() {
    let Some(jolt) = session() else { return };
    let Some(runc_bin) = runc() else { return };
    let _parent = SharedParent(PARENT);
    let make = |who: &str, bin: PathBuf| {
        let id = jolt.id(&format!("execve-{who}"));
        let bundle = jolt
            .bundle()
            .sleeper()
            .cgroups_path(&format!("{PARENT}/{id}"))
            .with(|c| c["root"]["readonly"] = serde_json::json!(false));
        std::fs::write(bundle.rootfs().join("run.sh"), "#!/mmnnttbb foo bar\nsh\n").unwrap();
        let script = bundle.rootfs().join("run.sh");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Runtime {
            bin,
            root: jolt.host_dir(&format!("{who}-execve-root")),
            bundle: bundle.path().to_path_buf(),
            id,
        }
    };
    let pair = [
        make("jolt", jolt_e2e::runner::jolt_bin()),
        make("runc", runc_bin),
    ];
    let want = "exec /run.sh: no such file or directory";
    for rt in &pair {
        let who = rt.bin.display();
        rt.run_detached();
        let out = rt.run(&["exec", "ID", "/run.sh"]);
        assert_ne!(out.code, 0, "{who}");
        assert_eq!(out.stderr.lines().collect::<Vec<_>>(), [want], "{who}");

        let out = rt.run(&[
            "exec",
            "--pid-file",
            "/nonexistent/directory/pid",
            "ID",
            "touch",
            "/marker",
        ]);
        assert_eq!(out.code, 255, "{who}: {}", out.stderr);
        // jolt opens the pid file before the process starts. runc writes
        // it after: its process is killed then, but may have run already
        // (this failed once in CI), so only jolt is held to it.
        if rt.bin == jolt_e2e::runner::jolt_bin() {
            assert!(
                !rt.bundle.join("rootfs/marker").exists(),
                "{who}: the process ran"
            );
        }
        assert_eq!(rt.run(&["delete", "--force", "ID"]).code, 0, "{who}");

        let config = rt.bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        c["process"]["args"] = serde_json::json!(["/run.sh"]);
        std::fs::write(&config, c.to_string()).unwrap();
        let out = rt.run(&["run", "--bundle", &rt.bundle.display().to_string(), "ID"]);
        assert_ne!(out.code, 0, "{who}");
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.contains("level=warning"))
            .collect();
        assert_eq!(lines, [want], "{who}");
    }
}
