//! Bad requests get a clear error and change nothing: unknown containers,
//! duplicate names, invalid flags, malformed JSON straight on the socket,
//! bodies that are not one JSON object, too large, malformed or too slow,
//! bundles without a config.json, experiment files that are not text,
//! containers that cannot start, and peers that are not root. Hostile
//! clients (slow heads, a thousand idle connections) cannot keep others
//! out.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jolt_e2e::agent::{chaosctl_bin, empty_dir, Agent};

use crate::agent;

/// Nothing was made: no container in joltd's state or in jolt's.
#[track_caller]
fn assert_nothing_made(a: &Agent) {
    assert!(
        empty_dir(&a.state_dir().join("containers")),
        "a container directory was left"
    );
    assert!(
        !a.jolt_root().exists() || empty_dir(&a.jolt_root()),
        "jolt state was left"
    );
    assert_eq!(a.ok(["ps", "-a"]).lines().count(), 1, "only the header");
    assert_eq!(a.network().leases().unwrap(), vec![], "a lease was left");
    let ns = empty_dir(&a.netns_dir()) || !a.netns_dir().exists();
    assert!(ns, "a network namespace was left");
    assert_eq!(a.rule_comments(), Vec::<String>::new(), "rules were left");
}

/// A raw connection to joltd's socket; reads give up after 10 s.
fn connect(a: &Agent) -> UnixStream {
    let s = UnixStream::connect(a.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until joltd closes the connection: the status code and body of
/// its answer. A reset or a read timeout fails the test.
#[track_caller]
fn answer(s: &mut UnixStream) -> (u16, String) {
    let mut bytes = Vec::new();
    if let Err(e) = s.read_to_end(&mut bytes) {
        panic!(
            "reading joltd's answer: {e} after {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let answer = String::from_utf8_lossy(&bytes);
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

/// Sends `request` as is; the status code and body of the answer.
#[track_caller]
fn raw(a: &Agent, request: &[u8]) -> (u16, String) {
    let mut s = connect(a);
    s.write_all(request).unwrap();
    answer(&mut s)
}

fn post(body: &str) -> Vec<u8> {
    post_to("/v1/containers", body)
}

fn post_to(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: joltd\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn unknown_containers_are_named() {
    let Some(a) = agent() else { return };
    for args in [
        vec!["inspect", "nope"],
        vec!["stop", "nope"],
        vec!["rm", "nope"],
        vec!["logs", "nope"],
    ] {
        let out = a.ctl(&args);
        out.assert_failure()
            .assert_stderr_contains("chaosctl: container nope: no such container");
        assert_eq!(out.stderr.lines().count(), 1, "one line: {out}");
    }
}

#[test]
fn names_are_unique() {
    let Some(a) = agent() else { return };
    a.run(&["--name", "twin", "--", "sleep", "1000"]);
    a.ctl(["run", "--name", "twin", "--", "true"])
        .assert_failure()
        .assert_stderr_contains("container twin: already exists");
    assert_eq!(a.ok(["ps", "-a"]).lines().count(), 2);
}

#[test]
fn invalid_flags_are_refused_and_change_nothing() {
    let Some(a) = agent() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&["-p", "99999:80"], "out of range"),
        (&["-p", "8080:80/sctp"], "tcp or udp"),
        (
            &["-p", "[::1]:8080:80"],
            "IPv6 host addresses are not supported",
        ),
        (
            &["-p", "8080:80", "-p", "8080:81"],
            "claim the same host port",
        ),
        (&["--restart", "sometimes"], "not a restart policy"),
        (&["--restart", "on-failure:0"], "above 0"),
        (&["--memory", "1k"], "memory"),
        (&["--memory", "lots"], "not a size"),
        (&["--cpus", "0"], "cpus"),
        (&["--label", "novalue"], "KEY=VALUE"),
        (&["--label", "a=1", "--label", "a=2"], "given twice"),
        (&["--env", "=x"], "env[0]"),
        (&["--name", "no/slash"], "not a valid name"),
        (&["--bundle", "/nonexistent-bundle"], "/nonexistent-bundle"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "true"]);
        // 1 from chaosctl or joltd, 2 from a flag clap cannot parse.
        let out = a.ctl(&args);
        assert!(matches!(out.code(), 1 | 2), "{out}");
        out.assert_stderr_contains(needle);
    }
    assert_nothing_made(&a);
}

#[test]
fn a_container_that_cannot_start_leaves_nothing() {
    let Some(a) = agent() else { return };
    let out = a.ctl(["run", "--name", "ghost", "--", "/no/such/program"]);
    out.assert_failure()
        .assert_stderr_contains("container ghost: ");
    out.assert_stderr_contains("/no/such/program");
    assert_nothing_made(&a);
    // The name is free again.
    a.run(&["--name", "ghost", "--", "true"]);
}

#[test]
fn a_bundle_jolt_refuses_is_refused_with_jolts_reason() {
    let Some(a) = agent() else { return };
    let jolt = jolt_e2e::Jolt::new();
    let seccomp = jolt.bundle().with(|c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        })
    });
    a.ctl(["run", "-d", "--bundle", seccomp.dir()])
        .assert_failure()
        .assert_stderr_contains("jolt create: ")
        .assert_stderr_contains("SCMP_ACT_NOTIFY needs the path of a seccomp agent");
    let broken = jolt.bundle();
    std::fs::write(broken.path().join("config.json"), "{").unwrap();
    a.ctl(["run", "-d", "--bundle", broken.dir()])
        .assert_failure()
        .assert_stderr_contains("config.json: EOF while parsing");
    assert_nothing_made(&a);
}

#[test]
fn malformed_requests_on_the_socket_get_4xx_naming_the_field() {
    let Some(a) = agent() else { return };
    let (code, body) = raw(&a, &post("{\"name\": "));
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("request body: name: EOF while parsing"),
        "{body}"
    );
    let (code, body) = raw(&a, &post(r#"{"name":"x","memory":"lots"}"#));
    assert_eq!(code, 400);
    assert!(
        body.contains("request body: memory: invalid type"),
        "{body}"
    );
    let (code, body) = raw(&a, &post(r#"{"nmae":"x"}"#));
    assert_eq!(code, 400);
    assert!(body.contains("unknown field `nmae`"), "{body}");
    let (code, body) = raw(&a, &post(r#"{"restart":"sometimes"}"#));
    assert_eq!(code, 400);
    assert!(body.contains("restart: "), "{body}");
    let (code, body) = raw(
        &a,
        &post(&format!(r#"{{"name":"{}"}}"#, "x".repeat(70_000))),
    );
    assert_eq!(code, 413, "{body}");
    let (code, _) = raw(
        &a,
        b"GET /v1/nothing HTTP/1.1\r\nHost: j\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 404);
    let (code, _) = raw(
        &a,
        b"PUT /v1/containers HTTP/1.1\r\nHost: j\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 405);
    let (code, body) = raw(
        &a,
        b"GET /v1/containers?everything=1 HTTP/1.1\r\nHost: j\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 400);
    assert!(body.contains("unknown parameter"), "{body}");
    let (code, _) = raw(&a, b"this is not HTTP\r\n\r\n");
    assert!(
        code == 400 || code == 0,
        "garbage gets 400 or a closed connection: {code}"
    );
    assert_nothing_made(&a);
}

#[test]
fn rm_refuses_a_running_container_and_stop_an_exited_one() {
    let Some(a) = agent() else { return };
    let id = a.run(&["--name", "busy", "--", "sleep", "1000"]);
    a.ctl(["rm", "busy"])
        .assert_failure()
        .assert_stderr_contains("container busy: is running (stop it first, or rm -f)");
    assert_eq!(a.inspect("busy")["status"]["state"], "running");
    a.ok(["stop", "-t", "0", "busy"]);
    a.ctl(["stop", "busy"])
        .assert_failure()
        .assert_stderr_contains("container busy: is not running");
    a.ok(["rm", "busy"]);
    a.assert_gone(&id, None);
}

#[test]
fn a_non_root_peer_is_refused() {
    let Some(a) = agent() else { return };
    let nobody = 65534;
    // The socket's mode keeps others out...
    a.ctl_as(Some(nobody), ["ps"])
        .assert_failure()
        .assert_stderr_contains("Permission denied");
    // ...and if it is opened up, joltd checks the peer's uid itself.
    std::fs::set_permissions(a.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    a.ctl_as(Some(nobody), ["run", "--", "true"])
        .assert_failure()
        .assert_stderr_contains("permission denied: uid 65534 may not use joltd");
    assert_nothing_made(&a);
}

#[test]
fn request_bodies_must_be_one_json_object() {
    let Some(a) = agent() else { return };
    for (body, needle) in [
        ("[]", "request body: expected a JSON object, not an array"),
        ("[{\"name\":\"x\"}]", "expected a JSON object, not an array"),
        ("1", "expected a JSON object, not a number"),
        ("\"x\"", "expected a JSON object, not a string"),
        ("null", "expected a JSON object, not null"),
        ("", "request body: empty; expected a JSON object"),
        (
            "{} {\"name\":\"x\"}",
            "request body: after the object: trailing characters",
        ),
        (
            r#"{"memory":"lots"}"#,
            "request body: memory: invalid type: string",
        ),
    ] {
        let (code, text) = raw(&a, &post(body));
        assert_eq!(code, 400, "{body:?}: {text}");
        assert!(text.contains(needle), "{body:?}: {text}");
        assert!(!text.contains("struct") && !text.contains("u64"), "{text}");
    }
    let (_, text) = raw(&a, &post(r#"{"memory":"lots"}"#));
    assert!(
        text.contains("expected a whole number, 0 or more"),
        "{text}"
    );
    // The same for experiments, and for the experiment text inside.
    let (code, text) = raw(&a, &post_to("/v1/experiments", "[]"));
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains("expected a JSON object, not an array"),
        "{text}"
    );
    let (code, text) = raw(
        &a,
        &post_to("/v1/experiments", r#"{"text":"[]","origin":"x.yaml"}"#),
    );
    assert_eq!(code, 422, "{text}");
    assert!(
        text.contains("x.yaml: invalid type: sequence, expected an experiment (a mapping with name, targets, schedule and fault)"),
        "{text}"
    );
    assert_eq!(a.ok(["experiments"]).lines().count(), 1, "only the header");
    assert_nothing_made(&a);
}

#[test]
fn a_bundle_without_config_json_is_named_before_anything_is_made() {
    let Some(a) = agent() else { return };
    assert!(!std::path::Path::new("/etc/config.json").exists());
    let want = "bundle /etc: no config.json (/etc/config.json: No such file or directory";
    a.ctl(["run", "-d", "--bundle", "/etc"])
        .assert_failure()
        .assert_stderr_contains(want);
    let (code, text) = raw(&a, &post(r#"{"bundle": "/etc"}"#));
    assert_eq!(code, 400, "{text}");
    assert!(text.contains(want), "{text}");
    assert_nothing_made(&a);
}

#[test]
fn oversized_bodies_get_413_and_the_client_reads_it() {
    let Some(a) = agent() else { return };
    let big = 1 << 20;
    let head = |framing: &str| {
        format!("POST /v1/containers HTTP/1.1\r\nHost: j\r\nContent-Type: application/json\r\n{framing}\r\n\r\n")
    };
    let too_large = "request body: larger than the limit of 65536 bytes";
    // The whole body written before the answer is read: no reset.
    let mut s = connect(&a);
    s.write_all(head(&format!("Content-Length: {big}")).as_bytes())
        .unwrap();
    s.write_all(&vec![b' '; big])
        .expect("joltd takes the whole body");
    let (code, body) = answer(&mut s);
    assert_eq!(code, 413, "{body}");
    assert!(body.contains(too_large), "{body}");
    // Only the head: answered at once, from the Content-Length.
    let mut s = connect(&a);
    s.write_all(head("Content-Length: 10000000").as_bytes())
        .unwrap();
    let (code, body) = answer(&mut s);
    assert_eq!(code, 413, "{body}");
    assert!(body.contains(too_large), "{body}");
    // Chunked, growing past the limit.
    let mut s = connect(&a);
    s.write_all(head("Transfer-Encoding: chunked").as_bytes())
        .unwrap();
    for _ in 0..big / 0x4000 {
        s.write_all(b"4000\r\n").unwrap();
        s.write_all(&[b' '; 0x4000])
            .expect("joltd takes the chunks");
        s.write_all(b"\r\n").unwrap();
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let (code, body) = answer(&mut s);
    assert_eq!(code, 413, "{body}");
    assert!(body.contains(too_large), "{body}");
    assert_nothing_made(&a);
}

#[test]
fn malformed_and_cut_short_bodies_get_400_naming_the_problem() {
    let Some(a) = agent() else { return };
    let (code, body) = raw(
        &a,
        b"POST /v1/containers HTTP/1.1\r\nHost: j\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("request body: malformed (Invalid chunk size line"),
        "{body}"
    );
    let mut s = connect(&a);
    s.write_all(
        b"POST /v1/containers HTTP/1.1\r\nHost: j\r\nContent-Length: 100\r\n\r\n{\"name\":",
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let (code, body) = answer(&mut s);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("request body: cut short"), "{body}");
    assert_nothing_made(&a);
}

/// How long until joltd closes `s`, reading (and keeping) what it sends;
/// a reset counts as closed, a read timeout (10 s) fails the test.
#[track_caller]
fn until_closed(s: &mut UnixStream) -> (Duration, String) {
    let start = Instant::now();
    let mut bytes = Vec::new();
    match s.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "joltd kept the connection open: {e} after {:?}",
            start.elapsed()
        ),
    }
    (
        start.elapsed(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[test]
fn slow_and_idle_clients_are_cut_off_but_streams_are_not() {
    if !jolt_e2e::require_root() {
        return;
    }
    let a = Agent::start_with(&["--debug", "--header-timeout", "2s", "--body-timeout", "2s"]);
    let cut = Duration::from_millis(1500)..Duration::from_secs(6);
    // A head that never ends (slow loris), one byte a second.
    let mut s = connect(&a);
    s.write_all(b"GET /v1/containers HTTP/1.1\r\n").unwrap();
    let drip = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            while s.write_all(b"X").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let (took, _) = until_closed(&mut s);
    assert!(cut.contains(&took), "a slow head was cut after {took:?}");
    drip.join().unwrap();
    // A connection that never sends a request.
    let (took, _) = until_closed(&mut connect(&a));
    assert!(
        cut.contains(&took),
        "a silent connection was closed after {took:?}"
    );
    // A keep-alive connection, idle after its answer.
    let mut s = connect(&a);
    s.write_all(b"GET /v1/containers HTTP/1.1\r\nHost: j\r\n\r\n")
        .unwrap();
    let (took, text) = until_closed(&mut s);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        cut.contains(&took),
        "an idle connection was closed after {took:?}"
    );
    // A body that does not come.
    let mut s = connect(&a);
    s.write_all(b"POST /v1/containers HTTP/1.1\r\nHost: j\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    let (took, text) = until_closed(&mut s);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("request body: not all of it arrived within 2s"),
        "{text}"
    );
    assert!(
        cut.contains(&took),
        "a late body was answered after {took:?}"
    );
    // A streamed answer outlives both timeouts.
    a.run(&[
        "--name",
        "ticker",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo tick $i; sleep 1; done",
    ]);
    let ticks = a.ok(["logs", "-f", "ticker"]);
    assert_eq!(ticks.lines().last(), Some("tick 5"), "{ticks}");
    assert_nothing_left_but(&a, "ticker");
}

/// Removes container `name` and checks nothing else was made.
fn assert_nothing_left_but(a: &Agent, name: &str) {
    a.ok(["rm", "-f", name]);
    assert_nothing_made(a);
}

/// Runs `chaosctl ARGS` against `a`, killing it if it has not finished
/// after `limit`: its stdout, or why it failed.
fn ctl_within(a: &Agent, args: &[&str], limit: Duration) -> Result<String, String> {
    let mut child = Command::new(chaosctl_bin())
        .arg("--socket")
        .arg(a.socket())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(format!("chaosctl {args:?}: no answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn a_thousand_idle_connections_do_not_keep_others_out() {
    if !jolt_e2e::require_root() {
        return;
    }
    // As under systemd with LimitNOFILE=1024: joltd serves at most half.
    let a = Agent::start_limited(&["--debug"], Some(1024));
    let bound = 512;
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if hard < 2048 {
        eprintln!("skipped: 1100 connections need more descriptors than the hard limit {hard}");
        return;
    }
    let _raised = RaisedNofile::to(hard);
    let idle: Vec<UnixStream> = (0..1100)
        .map(|_| UnixStream::connect(a.socket()).unwrap())
        .collect();
    let ps = ctl_within(&a, &["ps"], Duration::from_secs(20));
    assert!(ps.is_ok(), "{ps:?}");
    let fds = std::fs::read_dir(format!("/proc/{}/fd", a.pid()))
        .unwrap()
        .count();
    assert!(fds <= bound + 64, "joltd holds {fds} descriptors");
    // The oldest idle connections were the ones closed.
    let mut first = &idle[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(first.read(&mut [0u8; 16]).unwrap(), 0, "closed by joltd");
    assert!(
        a.joltd_log()
            .contains("serving at most 512 connections at once"),
        "{}",
        a.joltd_log()
    );
    drop(idle);
    assert_nothing_made(&a);
}

#[test]
fn chaosctl_names_the_file_and_offset_of_what_is_not_text() {
    let Some(a) = agent() else { return };
    a.run(&["--name", "web", "--label", "app=web", "--", "sleep", "1000"]);
    let experiment =
        "name: kill-web\ntargets: {labels: {app: web}}\nschedule: {at: [0s]}\nfault: {kind: kill}\n";
    let write = |name: &str, bytes: &[u8]| {
        let path = a.path(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let latin1 = write("latin1.yaml", b"name: caf\xe9\n");
    a.ctl(["apply", "-f", &latin1])
        .assert_failure()
        .assert_stderr_contains(&format!(
            "chaosctl: {latin1}: not UTF-8 at byte offset 9 (line 1)"
        ));
    let escape = write(
        "escape.yaml",
        experiment.replace("kill-web", "kill-\x1b[1mweb").as_bytes(),
    );
    a.ctl(["apply", "-f", &escape])
        .assert_failure()
        .assert_stderr_contains(&format!(
            "chaosctl: {escape}: control character 0x1b at byte offset 11 (line 1)"
        ));
    let list = write("list.yaml", b"- kill-web\n");
    let out = a.ctl(["apply", "-f", &list]);
    out.assert_failure().assert_stderr_contains(&format!(
        "{list}: invalid type: sequence, expected an experiment (a mapping with name, targets, schedule and fault)"
    ));
    assert!(!out.stderr.contains("struct"), "{out}");
    assert_eq!(a.ok(["experiments"]).lines().count(), 1, "nothing applied");
    // A byte order mark is accepted, before YAML and before JSON.
    let bom = write("bom.yaml", format!("\u{feff}{experiment}").as_bytes());
    a.ok(["apply", "--dry-run", "-f", &bom]);
    let json = r#"{"name": "kill-web", "targets": {"labels": {"app": "web"}}, "schedule": {"at": ["0s"]}, "fault": {"kind": "kill"}}"#;
    let bom = write("bom.json", format!("\u{feff}{json}").as_bytes());
    a.ok(["apply", "--dry-run", "-f", &bom]);
}

/// This test process's open-file limit raised to `hard`; put back on drop,
/// so that the tests after it (and what they start) see the usual one.
struct RaisedNofile(u64);

impl RaisedNofile {
    fn to(hard: u64) -> RaisedNofile {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
        RaisedNofile(soft)
    }
}

impl Drop for RaisedNofile {
    fn drop(&mut self) {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, self.0, hard);
        }
    }
}
