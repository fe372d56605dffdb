//! The `evq` binary as a user runs it: every subcommand through its
//! argument parser, `--help` and refused arguments included, against a real
//! system where one is needed; closed pipes, signals and the last event.
//!
//! Every wait is on a real condition (a line on an output, a process gone,
//! a socket there) with a deadline; every process a test starts runs in a
//! process group of its own, killed when the test ends however it ends.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Instant;

use common::*;

#[test]
fn every_subcommand_has_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["run"],
        &["tail"],
        &["stats"],
        &["fs"],
        &["fs", "mkdir"],
        &["fs", "touch"],
        &["fs", "write"],
        &["fs", "mv"],
        &["fs", "ln"],
        &["fs", "rm"],
        &["fs", "chmod"],
        &["fs", "mount"],
        &["fs", "umount"],
        &["fs", "cat"],
        &["fs", "truncate"],
        &["fs", "ls"],
        &["fs", "stat"],
        &["fs", "tree"],
        &["net"],
        &["net", "link"],
        &["net", "traffic"],
        &["stop"],
        &["demo"],
    ];
    for words in commands {
        let mut args = words.to_vec();
        args.push("--help");
        let said = run_evq(&args);
        assert_quiet(&format!("evq {args:?}"), &said.stderr);
        assert!(said.status.success(), "evq {args:?}: {:?}", said.status);
        let usage = ["Usage: evq"].iter().chain(words.iter()).copied().collect::<Vec<_>>().join(" ");
        assert!(said.stdout.contains(&usage), "evq {args:?} shows no {usage:?}:\n{}", said.stdout);
    }
    let said = run_evq(&["--version"]);
    assert!(said.status.success() && said.stdout.starts_with("evq "), "{}", said.stdout);
}

#[test]
fn bad_arguments_are_refused_in_words_without_a_panic() {
    let dir = TempDir::new("bad");
    let nowhere = dir.path().join("no-system");
    let nowhere = nowhere.to_str().unwrap();
    let long = "x".repeat(16385);
    // Status 2: clap refused the command line; 1: evq did.
    let cases: &[(&[&str], i32, &str)] = &[
        (&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
        (&[], 2, "Usage: evq <COMMAND>"),
        (&["run", "--bogus"], 2, "unexpected argument '--bogus'"),
        (&["run", "--console", "/nonexistent/dir/sock"], 1, "console /nonexistent/dir/sock: the directory"),
        (&["run", "--system", "/nonexistent/system.toml", "--console", nowhere], 1, "/nonexistent/system.toml"),
        (&["tail", "-c", "bogus", "--console", nowhere], 1, "the categories are vfs, process, network, device"),
        (&["tail", "-t", "bogus", "--console", nowhere], 1, "the kinds are create, delete"),
        (&["tail", "-n", "many"], 2, "invalid value 'many'"),
        (&["tail", "--console", nowhere], 1, nowhere),
        (&["stats", "--console", "/nonexistent/dir/sock"], 1, "no evq system at /nonexistent/dir/sock"),
        (&["stats", "--frob"], 2, "unexpected argument '--frob'"),
        (&["fs"], 2, "Usage: evq fs"),
        (&["fs", "frobnicate", "/x"], 2, "unrecognized subcommand 'frobnicate'"),
        (&["fs", "mv", "/a"], 2, "required"),
        (&["fs", "rm", "/x", "--console", nowhere], 1, nowhere),
        (
            &["fs", "write", "/x", &long, "--console", nowhere],
            1,
            "write /x: 16385 bytes is more than one evq fs write carries (16384 bytes at most)",
        ),
        (&["net"], 2, "Usage: evq net"),
        (&["net", "link", "sideways"], 2, "[possible values: up, down]"),
        (&["net", "link", "up", "--console", nowhere], 1, nowhere),
        (&["net", "--console", nowhere, "link", "down"], 1, nowhere),
        (&["net", "traffic", "many"], 2, "invalid value 'many'"),
        (&["net", "traffic", "2", "--console", nowhere], 1, nowhere),
        (&["stop", "--console", nowhere], 1, nowhere),
        (&["stop", "now"], 2, "unexpected argument 'now'"),
        (&["demo", "--bogus"], 2, "unexpected argument '--bogus'"),
        (&["demo", "--system", "/nonexistent/system.toml"], 1, "/nonexistent/system.toml"),
    ];
    for (args, code, text) in cases {
        let said = run_evq(args);
        assert_quiet(&format!("evq {args:?}"), &said.stderr);
        assert_eq!(said.status.code(), Some(*code), "evq {args:?}: {}", said.stderr);
        assert!(said.stderr.contains(text), "evq {args:?}: {:?} does not say {text:?}", said.stderr);
    }
}

#[test]
fn every_subcommand_works_against_a_running_system() {
    let mut sys = System::start();
    let text = sys.ok(&["stats"]);
    assert!(text.contains("server: ") && text.contains("\nsystem: up\n"), "{text}");
    let json: serde_json::Value = serde_json::from_str(sys.ok(&["stats", "--json"]).trim()).expect("one JSON object");
    assert_eq!(json["degraded"], serde_json::json!([]));
    let network = json["network"].as_str().expect("network").to_string();
    if network.starts_with("veth") {
        assert!(sys.ok(&["net", "link", "down"]).contains("down"));
        assert!(sys.ok(&["net", "link", "up"]).contains("up"));
    } else {
        sys.refused(&["net", "link", "up"], "the network driver watches loopback");
    }
    sys.ok(&["net", "traffic", "2"]);
    sys.ok(&["fs", "mkdir", "/docs"]);
    sys.ok(&["fs", "touch", "/docs/a"]);
    sys.ok(&["fs", "write", "/docs/a", "hello", "evq"]);
    // A text that starts with `-` comes after `--` (and the console before).
    let console = sys.console();
    let c = console.to_str().unwrap();
    let said = run_evq(&["fs", "--console", c, "write", "--append", "/docs/a", "--", "-n"]);
    assert!(said.status.success(), "{}", said.stderr);
    assert_eq!(sys.ok(&["fs", "cat", "/docs/a"]), "hello evq-n");
    sys.ok(&["fs", "ln", "/docs/a", "/b"]);
    sys.ok(&["fs", "mv", "/b", "/c"]);
    sys.ok(&["fs", "chmod", "600", "/c"]);
    sys.ok(&["fs", "rm", "/c"]);
    sys.ok(&["fs", "mkdir", "/m"]);
    sys.ok(&["fs", "mount", "/m"]);
    sys.ok(&["fs", "umount", "/m"]);
    // The VFS domain's refusals, in words with their limits.
    sys.refused(&["fs", "rm", "/nope"], "evq: rm /nope: no such file or directory");
    sys.refused(&["fs", "chmod", "17777", "/docs"], "mode 0o17777 has bits outside 0o7777");
    sys.refused(&["fs", "mkdir", "/docs"], "mkdir /docs: the name exists already");
    sys.refused(
        &["fs", "write", "/docs/a", &"y".repeat(16385)],
        "16385 bytes is more than one evq fs write carries (16384 bytes at most)",
    );
    sys.ok(&["fs", "write", "/docs/a", &"y".repeat(937)]);
    // A tail of one event: a VFS one, made once it watches.
    let mut cmd = evq();
    cmd.args(["tail", "-c", "vfs", "-n", "1", "--console", console.to_str().unwrap()]);
    let mut tail = Group::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let errs = lines_of(tail.child.stderr.take().unwrap());
    let outs = lines_of(tail.child.stdout.take().unwrap());
    line_with(&errs, "evq tail: watching as");
    sys.ok(&["fs", "touch", "/docs/t"]);
    assert!(line_with(&outs, "vfs").contains("create"));
    assert!(tail.wait("evq tail -n 1").success());
    assert!(sys.ok(&["stop"]).contains("stopping"));
    let status = sys.group.wait("evq run after evq stop");
    assert!(status.success(), "evq run: {status:?}");
    assert!(!console.exists(), "the console socket is removed");
}

#[test]
fn run_with_a_closed_stdout_stops_quietly() {
    // Closed before the first line: the launcher's first write fails.
    let dir = TempDir::new("closed");
    let console = dir.path().join("console");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = evq();
    cmd.arg("run").arg("--console").arg(&console).stdout(writer).stderr(Stdio::piped());
    let mut run = Group::spawn(&mut cmd);
    let stderr = collect(run.child.stderr.take().unwrap());
    let status = run.wait("evq run with a closed standard output");
    let stderr = stderr.join().unwrap();
    assert_quiet("evq run >closed", &stderr);
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr}");
    assert!(!console.exists(), "the console socket is removed");
    group_is_gone(run.pid());

    // `evq run | head -1`: closed after one line, however many were written.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = evq();
    cmd.arg("run").arg("--console").arg(&console).stdout(writer).stderr(Stdio::piped());
    let mut run = Group::spawn(&mut cmd);
    let mut first = String::new();
    BufReader::new(reader).read_line(&mut first).expect("a line");
    assert!(first.contains("is up"), "{first:?}");
    drop(cmd);
    let stderr = collect(run.child.stderr.take().unwrap());
    let status = run.wait("evq run | head -1");
    let stderr = stderr.join().unwrap();
    assert_quiet("evq run | head -1", &stderr);
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr}");
    assert!(!console.exists(), "the console socket is removed");
    group_is_gone(run.pid());
}

#[test]
fn tail_and_stats_with_a_closed_stdout_exit_quietly() {
    let sys = System::start();
    let console = sys.console();
    let console = console.to_str().unwrap();

    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = evq();
    cmd.args(["stats", "--console", console]).stdout(writer).stderr(Stdio::piped());
    let mut stats = Group::spawn(&mut cmd);
    let stderr = collect(stats.child.stderr.take().unwrap());
    let status = stats.wait("evq stats >closed");
    let stderr = stderr.join().unwrap();
    assert_quiet("evq stats >closed", &stderr);
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr}");

    // `evq tail | head -1`, with events going on after the reader has gone.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = evq();
    cmd.args(["tail", "-c", "vfs", "--console", console]).stdout(writer).stderr(Stdio::piped());
    let mut tail = Group::spawn(&mut cmd);
    let errs = lines_of(tail.child.stderr.take().unwrap());
    line_with(&errs, "evq tail: watching as");
    sys.ok(&["fs", "mkdir", "/d"]);
    let mut first = String::new();
    let mut reader = BufReader::new(reader);
    reader.read_line(&mut first).expect("a line");
    assert!(first.contains("create"), "{first:?}");
    drop(reader);
    let deadline = Instant::now() + DEADLINE;
    let mut n = 0;
    let status = loop {
        if let Some(status) = tail.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "evq tail goes on after its reader has gone");
        sys.ok(&["fs", "touch", &format!("/d/{n}")]);
        n += 1;
    };
    let stderr: Vec<String> = errs.try_iter().collect();
    assert_quiet("evq tail | head -1", &stderr.join("\n"));
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr:?}");
}

#[test]
fn tail_prints_shutdown_last_every_time() {
    for round in 0..5 {
        let sys = System::start();
        let console = sys.console();
        let mut cmd = evq();
        cmd.args(["tail", "--console", console.to_str().unwrap()]);
        let mut tail = Group::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        let errs = lines_of(tail.child.stderr.take().unwrap());
        let mut out = tail.child.stdout.take().unwrap();
        line_with(&errs, "evq tail: watching as");
        // The console before the command's words: as the tool took it
        // before it took it after them too.
        let c = console.to_str().unwrap();
        assert!(run_evq(&["fs", "--console", c, "mkdir", "/r"]).status.success());
        assert!(run_evq(&["stop", "--console", c]).status.success());
        let status = tail.wait("evq tail after evq stop");
        let mut printed = String::new();
        out.read_to_string(&mut printed).unwrap();
        let stderr: Vec<String> = errs.try_iter().collect();
        assert_quiet("evq tail", &stderr.join("\n"));
        assert!(status.success(), "round {round}: {status:?} {stderr:?}");
        let last = printed.lines().last().unwrap_or("");
        assert!(last.contains("system shutdown"), "round {round}: the last event is {last:?}:\n{printed}");
    }
}

/// `evq demo` with `TMPDIR` a directory of the test's own (where it makes
/// its `evq-demo-PID`), in a process group of its own; returns it once it
/// has shown its first step, and the lines it prints.
fn start_demo(tmp: &TempDir) -> (Group, mpsc::Receiver<String>) {
    let mut cmd = evq();
    cmd.arg("demo").env("TMPDIR", tmp.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut demo = Group::spawn(&mut cmd);
    let out = lines_of(demo.child.stdout.take().unwrap());
    line_with(&out, "-- ");
    (demo, out)
}

/// What `evq demo` leaves in its `TMPDIR`: nothing of its own.
fn assert_no_demo_dirs(tmp: &TempDir) {
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("evq-demo-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn demo_stopped_by(sig: i32) {
    let tmp = TempDir::new("demo");
    let (mut demo, _out) = start_demo(&tmp);
    let stderr = collect(demo.child.stderr.take().unwrap());
    // As the terminal does: the whole foreground group.
    demo.signal(sig);
    let status = demo.wait("evq demo after a signal");
    let said = stderr.join().unwrap();
    assert_quiet("evq demo", &said);
    assert_eq!(status.signal(), Some(sig), "{status:?}: {said}");
    assert_no_demo_dirs(&tmp);
    group_is_gone(demo.pid());
}

#[test]
fn demo_cleans_up_after_ctrl_c() {
    demo_stopped_by(libc::SIGINT);
}

#[test]
fn demo_cleans_up_after_a_hang_up() {
    demo_stopped_by(libc::SIGHUP);
}

#[test]
fn demo_cleans_up_after_its_reader_goes() {
    let tmp = TempDir::new("demo");
    let mut cmd = evq();
    let (reader, writer) = std::io::pipe().expect("pipe");
    cmd.arg("demo").env("TMPDIR", tmp.path()).stdout(writer).stderr(Stdio::piped());
    let mut demo = Group::spawn(&mut cmd);
    drop(cmd);
    let mut first = String::new();
    let mut reader = BufReader::new(reader);
    reader.read_line(&mut first).expect("a line");
    drop(reader);
    let stderr = collect(demo.child.stderr.take().unwrap());
    let status = demo.wait("evq demo | head -1");
    let stderr = stderr.join().unwrap();
    assert_quiet("evq demo | head -1", &stderr);
    assert_eq!(status.code(), Some(0), "{status:?}: {stderr}");
    assert_no_demo_dirs(&tmp);
    group_is_gone(demo.pid());
}

#[test]
fn run_stops_on_ctrl_c_with_status_0() {
    // The launcher hears SIGINT through its signalfd: no thread of the
    // process may take it first (nor SIGCHLD, or domain exits go unseen).
    run_stops_on(libc::SIGINT);
}

#[test]
fn run_stops_when_its_terminal_hangs_up_with_status_0() {
    run_stops_on(libc::SIGHUP);
}

/// `evq run` sent `signal` stops its system, removes its socket and exits 0.
fn run_stops_on(signal: i32) {
    let sys = System::start();
    let pid = sys.group.pid();
    // SAFETY: kill(2) on the process this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let mut sys = sys;
    let status = sys.group.wait("evq run after the signal");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!sys.console().exists(), "the console socket is removed");
    group_is_gone(pid);
}
