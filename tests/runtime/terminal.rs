//! process.terminal: the container's pseudo-terminal, handed to a
//! `--console-socket` the way containerd asks for it, or copied to jolt's
//! own terminal by a foreground `jolt run`; and the refusal to detach a
//! terminal that nobody would hold.

use jolt_e2e::session;

#[test]
fn create_sends_the_terminal_to_the_console_socket() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().terminal().sh("tty; echo hello-tty");
    let id = jolt.id("console-socket");
    let console = jolt.console_socket();
    let socket = console.path().to_str().unwrap();

    // create returns only once the init has sent the master: accept while
    // it runs.
    let mut create = jolt.spawn([
        "create",
        "--console-socket",
        socket,
        "--bundle",
        bundle.dir(),
        &id,
    ]);
    let mut terminal = console.receive(&mut create);
    create.wait().assert_success();
    assert_eq!(jolt.status(&id), "created");

    jolt.ok(["start", &id]);
    let shown = terminal.read_until("hello-tty");
    let tty = shown
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("`tty` printed a /dev/pts/N line:\n{shown}"));
    assert!(
        tty["/dev/pts/".len()..].parse::<u32>().is_ok(),
        "{tty:?} is a pts device"
    );
    assert!(
        !shown.contains("not a tty"),
        "stdin is the terminal:\n{shown}"
    );

    jolt.wait_for_status(&id, "stopped");
    jolt.delete(&id);
}

#[test]
fn a_terminal_without_a_console_socket_is_refused() {
    let Some(jolt) = session() else { return };
    let bundle = jolt.bundle().terminal().sleeper();
    let id = jolt.id("tty-no-socket");

    jolt.create_fails(&id, &bundle)
        .assert_stderr_contains("console socket");
    jolt.assert_root_empty();
}

#[test]
fn run_in_the_foreground_copies_the_terminal() {
    let Some(jolt) = session() else { return };
    let bundle = jolt
        .bundle()
        .terminal()
        .sh("tty; echo on-the-terminal; exit 7");
    let id = jolt.id("run-tty");

    let out = jolt.run_in_pty(["run", "--bundle", bundle.dir(), &id]);
    out.assert_code(7)
        .assert_stdout_contains("/dev/pts/")
        .assert_stdout_contains("on-the-terminal");
    assert!(!out.stdout.contains("not a tty"), "{out}");
    jolt.assert_clean(&id);
}
