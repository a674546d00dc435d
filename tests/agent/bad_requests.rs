//! Bad requests get a clear error and change nothing: unknown containers,
//! duplicate names, invalid flags, malformed JSON straight on the socket,
//! containers that cannot start, and peers that are not root.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use jolt_e2e::agent::{empty_dir, Agent};

use crate::agent;

/// Nothing was made: no container in joltd's state or in jolt's.
#[track_caller]
fn assert_nothing_made(a: &Agent) {
    assert!(
        empty_dir(&a.state_dir().join("containers")),
        "a container directory was left"
    );
    assert!(
        !a.runtime_root().exists() || empty_dir(&a.runtime_root()),
        "jolt state was left"
    );
    assert_eq!(a.ok(["ps", "-a"]).lines().count(), 1, "only the header");
    assert_eq!(a.network().leases().unwrap(), vec![], "a lease was left");
    let ns = empty_dir(&a.netns_dir()) || !a.netns_dir().exists();
    assert!(ns, "a network namespace was left");
    assert_eq!(a.rule_comments(), Vec::<String>::new(), "rules were left");
}

/// Sends `request` as is; the status code and body of the answer.
fn raw(a: &Agent, request: &[u8]) -> (u16, String) {
    let mut s = UnixStream::connect(a.socket()).unwrap();
    s.write_all(request).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /v1/containers HTTP/1.1\r\nHost: joltd\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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
        .assert_stderr_contains("SCMP_ACT_NOTIFY needs a seccomp agent");
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
