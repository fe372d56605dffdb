//! `evq tail` as a user runs it, against a running hosted system: watching
//! paths (`-r`, `--initial`, full paths inside mounts), `--format` and
//! `--timefmt`, the decoded `--json` fields, the source and object
//! filters, `--timeout` and `-n` with their exit statuses, the queue
//! options, the line when the system stops, and `--help`.

mod common;

use std::io::Write as _;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use evq_hosted::console::Console;
use serde_json::Value;

/// A running `evq tail ARGS --console …`: its output lines, and its
/// standard error's, once it said it is watching.
struct Tail {
    group: Group,
    /// The line that said it is watching.
    watching: String,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

impl Tail {
    /// Starts the tail and waits for its `evq tail: watching` line.
    fn start(sys: &System, args: &[&str]) -> Tail {
        let console = sys.console();
        let mut cmd = evq();
        cmd.arg("tail").args(args).arg("--console").arg(&console).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut group = Group::spawn(&mut cmd);
        let out = lines_of(group.child.stdout.take().expect("stdout"));
        let err = lines_of(group.child.stderr.take().expect("stderr"));
        let watching = line_with(&err, "evq tail: watching");
        Tail { group, watching, out, err }
    }

    /// The next output line that contains `text`.
    fn line(&self, text: &str) -> String {
        line_with(&self.out, text)
    }

    /// The next output line.
    fn next(&self) -> String {
        self.out.recv_timeout(DEADLINE).expect("a line")
    }

    /// The next output line as JSON, skipping none.
    fn json(&self) -> Value {
        let line = self.next();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next JSON line whose `kind` is `kind`.
    fn json_kind(&self, kind: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "no {kind} event");
            let v = self.json();
            if v["kind"] == kind {
                return v;
            }
        }
    }

    /// Waits for the tail to end: its status.
    fn end(&mut self) -> ExitStatus {
        self.group.wait("evq tail")
    }
}

/// `evq fs ARGS`, which must succeed.
fn fs(sys: &System, args: &[&str]) {
    let mut all = vec!["fs"];
    all.extend_from_slice(args);
    sys.ok(&all);
}

#[test]
fn a_recursive_watch_prints_full_paths_for_names_in_directories_made_after_it_started() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/elsewhere"]);
    let tail = Tail::start(&sys, &["/d", "-r", "--format", "%e %p"]);
    fs(&sys, &["mkdir", "/d/sub"]);
    fs(&sys, &["touch", "/elsewhere/not-watched"]);
    fs(&sys, &["touch", "/d/sub/new"]);
    fs(&sys, &["mv", "/d/sub", "/d/moved"]);
    fs(&sys, &["touch", "/d/moved/later"]);
    let lines: Vec<String> = (0..4).map(|_| tail.next()).collect();
    assert_eq!(lines, ["create /d/sub", "create /d/sub/new", "rename /d/moved", "create /d/moved/later"]);
}

#[test]
fn names_inside_a_mount_have_full_paths_in_a_watch_and_in_a_plain_tail() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/d/m"]);
    fs(&sys, &["mkdir", "/top"]);
    fs(&sys, &["mount", "/top"]);
    let watch = Tail::start(&sys, &["/d", "-r", "--format", "%e %p"]);
    let plain = Tail::start(&sys, &["-c", "vfs", "--format", "%e %p %n"]);
    fs(&sys, &["touch", "/top/inner"]);
    assert_eq!(plain.next(), "create /top/inner inner");
    fs(&sys, &["mount", "/d/m"]);
    fs(&sys, &["touch", "/d/m/inside"]);
    assert_eq!(watch.next(), "mount /d/m");
    assert_eq!(watch.next(), "create /d/m/inside");
    assert_eq!(plain.line("inside"), "create /d/m/inside inside");
    let text = Tail::start(&sys, &["-c", "vfs"]);
    fs(&sys, &["umount", "/top"]);
    let line = text.next();
    assert!(line.contains(" vfs unmount ") && line.contains(" at=\"/top\" fs=1"), "{line}");
}

#[test]
fn a_directory_watch_takes_only_the_names_in_it_and_says_when_it_is_watching() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/d/deeper"]);
    fs(&sys, &["mkdir", "/other"]);
    let tail = Tail::start(&sys, &["/d", "--format", "%p"]);
    fs(&sys, &["touch", "/other/x"]);
    fs(&sys, &["touch", "/d/deeper/not-without-r"]);
    fs(&sys, &["touch", "/d/y"]);
    fs(&sys, &["chmod", "700", "/d"]);
    assert_eq!(tail.next(), "/d/y");
    // The directory itself, through its own OBJECT subscription.
    assert_eq!(tail.next(), "/d");
    // The queue's subscriptions: the directory, itself, and the stop.
    assert_eq!(subscriptions(&sys), 3);
    assert!(tail.watching.starts_with("evq tail: watching /d (1 directory) as "), "{}", tail.watching);
}

/// The subscriptions of every queue.
fn subscriptions(sys: &System) -> usize {
    Console::connect(&sys.console()).unwrap().status().unwrap().server.subscriptions
}

/// Waits until the server holds `n` subscriptions.
fn until_subscriptions(sys: &System, n: usize) {
    let deadline = Instant::now() + DEADLINE;
    while subscriptions(sys) != n {
        assert!(Instant::now() < deadline, "the server never held {n} subscriptions");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_removed_directory_and_an_unmounted_file_system_drop_their_watches() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/d/x"]);
    fs(&sys, &["mkdir", "/d/m"]);
    let tail = Tail::start(&sys, &["/d", "-r", "--format", "%e %p"]);
    assert!(tail.watching.starts_with("evq tail: watching /d (3 directories) as "), "{}", tail.watching);
    // /d itself, three directories, the stop.
    assert_eq!(subscriptions(&sys), 5);
    fs(&sys, &["rm", "/d/x"]);
    assert_eq!(tail.next(), "delete /d/x");
    until_subscriptions(&sys, 4);
    fs(&sys, &["mount", "/d/m"]);
    assert_eq!(tail.next(), "mount /d/m");
    until_subscriptions(&sys, 5);
    fs(&sys, &["umount", "/d/m"]);
    assert_eq!(tail.next(), "unmount /d/m");
    until_subscriptions(&sys, 4);
}

#[test]
fn initial_prints_the_tree_as_synthetic_entries_then_events() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/d/a"]);
    fs(&sys, &["write", "/d/a/f", "abc"]);
    let tail = Tail::start(&sys, &["/d", "-r", "--initial", "--format", "%e %p %s %S"]);
    assert_eq!(tail.next(), "initial /d - -");
    assert_eq!(tail.next(), "initial /d/a - -");
    assert_eq!(tail.next(), "initial /d/a/f - -");
    let json = Tail::start(&sys, &["/d", "-r", "--initial", "--json"]);
    let f = (0..3).map(|_| json.json()).find(|v| v["path"] == "/d/a/f").expect("the file");
    assert_eq!((f["synthetic"].as_bool(), f["size"].as_u64(), f["dir"].as_bool()), (Some(true), Some(3), Some(false)));
    assert_eq!(f["kind"], "initial");
    let text = Tail::start(&sys, &["/d", "--initial"]);
    assert!(text.next().contains(" - vfs initial path=\"/d\" object="), "the default synthetic line");
    fs(&sys, &["touch", "/d/new"]);
    assert_eq!(tail.next(), "create /d/new 0 vfs");
}

#[test]
fn a_directory_added_to_a_recursive_watch_reports_what_is_already_in_it() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/d"]);
    fs(&sys, &["mkdir", "/outside"]);
    fs(&sys, &["touch", "/outside/was-here"]);
    let tail = Tail::start(&sys, &["/d", "-r", "--format", "%e %p %s"]);
    fs(&sys, &["mv", "/outside", "/d/in"]);
    assert_eq!(tail.next(), "rename /d/in 0");
    assert_eq!(tail.next(), "create /d/in/was-here -");
    fs(&sys, &["touch", "/d/in/after"]);
    assert_eq!(tail.next(), "create /d/in/after 1");
    let text = Tail::start(&sys, &["/d", "-r"]);
    fs(&sys, &["mkdir", "/elsewhere"]);
    fs(&sys, &["touch", "/elsewhere/f"]);
    fs(&sys, &["mv", "/elsewhere", "/d/in2"]);
    assert!(text.next().contains(" vfs rename "));
    let listed = text.next();
    assert!(listed.contains(" - vfs create path=\"/d/in2/f\" object=") && listed.ends_with(" (listed)"), "{listed}");
}

#[test]
fn json_decodes_a_rename_and_keeps_the_payload() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/a"]);
    fs(&sys, &["mkdir", "/b"]);
    fs(&sys, &["touch", "/a/f"]);
    let tail = Tail::start(&sys, &["--json", "-t", "rename"]);
    fs(&sys, &["mv", "/a/f", "/b/g"]);
    let v = tail.json();
    assert_eq!((v["old_path"].as_str(), v["new_path"].as_str()), (Some("/a/f"), Some("/b/g")));
    assert_eq!((v["old_name"].as_str(), v["new_name"].as_str(), v["name"].as_str()), (Some("f"), Some("g"), Some("g")));
    assert_ne!(v["old_parent"], v["new_parent"]);
    assert_eq!(v["path"], "/b/g");
    assert!(v["text"].as_str().is_some_and(|t| t.ends_with(" from=\"/a/f\" to=\"/b/g\"")), "{v}");
    assert!(v["payload"].as_str().is_some_and(|p| p.len() > 32 && p.ends_with(&hex(b"fg"))), "{v}");
    let attrib = Tail::start(&sys, &["--json", "-t", "attrib"]);
    fs(&sys, &["chmod", "600", "/b/g"]);
    let v = attrib.json();
    assert_eq!((v["attrs"].clone(), v["path"].as_str()), (serde_json::json!(["mode"]), Some("/b/g")));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn json_decodes_network_counts_link_state_and_typed_input() {
    let sys = System::start();
    let tail = Tail::start(&sys, &["--json", "-c", "network", "-c", "device"]);
    sys.ok(&["net", "traffic", "3"]);
    let rx = tail.json_kind("rx");
    assert!(rx["packets"].as_u64().is_some_and(|p| p >= 1) && rx["bytes"].as_u64().is_some(), "{rx}");
    let status = Console::connect(&sys.console()).unwrap().status().unwrap();
    if status.network.starts_with("veth") {
        sys.ok(&["net", "link", "down"]);
        assert_eq!(tail.json_kind("link-down")["link"], "down");
    }
    let Some(pty) = status.pty else {
        eprintln!("no pseudo-terminal on this machine: no input to decode");
        return;
    };
    let mut term = std::fs::OpenOptions::new().write(true).open(&pty).expect("open the terminal");
    term.write_all(b"typed words\n").unwrap();
    let input = tail.json_kind("input");
    assert!(input["input"].as_str().is_some_and(|t| t.starts_with("typed words")), "{input}");
}

#[test]
fn json_decodes_a_domains_fault() {
    let sys = System::start();
    let tail = Tail::start(&sys, &["--json", "-c", "process", "-t", "fault", "-t", "exit"]);
    let status = Console::connect(&sys.console()).unwrap().status().unwrap();
    let device = status.domains.iter().find(|d| d.name == "device").and_then(|d| d.pid).expect("device runs");
    evq_hosted::host::kill(device, libc::SIGSEGV).unwrap();
    let v = tail.json();
    assert_eq!((v["fault"].as_str(), v["fault_kind"].as_u64()), (Some("vm"), Some(1)));
    assert!(v["address"].as_u64().is_some() && v["ip"].as_u64().is_some(), "{v}");
    let exit = tail.json_kind("exit");
    assert_eq!(exit["code"].as_i64(), Some(128 + 1), "{exit}");
}

#[test]
fn format_and_timefmt_show_wall_clock_time_sequence_source_object_and_loss() {
    let sys = System::start();
    let tail = Tail::start(&sys, &["-c", "vfs", "--format", "%T|%c|%e|%s|%S|%o|%l|%n|100%%", "--timefmt", "%s"]);
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    fs(&sys, &["mkdir", "/w"]);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let line = tail.next();
    let f: Vec<&str> = line.split('|').collect();
    let secs: u64 = f[0].parse().expect("seconds");
    assert!(before.saturating_sub(1) <= secs && secs <= after + 1, "{secs} not within {before}..={after}");
    assert_eq!(f[1..], ["vfs", "create", "0", "vfs", "2", "0", "w", "100%"]);
    let text = Tail::start(&sys, &["-c", "vfs", "--timefmt", "T%Y"]);
    fs(&sys, &["touch", "/w/f"]);
    let year = 1970 + after / 31_556_952;
    let line = text.next();
    assert!(line.starts_with(&format!("T{year} vfs ")) || line.starts_with(&format!("T{} vfs ", year + 1)), "{line}");
    assert!(line.contains("path=\"/w/f\""), "{line}");
    sys.refused(&["tail", "--format", "%q"], "--format: %q is not a field");
    // The mapping is the server's: its clock and the wall clock, read
    // together at its start, reported in its status.
    let anchor = Console::connect(&sys.console()).unwrap().status().unwrap().server.clock.expect("the server's clock");
    let json = Tail::start(&sys, &["-c", "vfs", "--json"]);
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    fs(&sys, &["touch", "/w/g"]);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let v = json.json();
    let (t, wall) = (v["timestamp_ns"].as_u64().unwrap(), v["wall_ns"].as_u64().unwrap());
    assert_eq!(wall, anchor.realtime_ns + (t - anchor.server_ns));
    // Within the clocks' reading apart (well under a second).
    assert!(before - 1_000_000_000 <= wall && wall <= after + 1_000_000_000, "{wall} not within {before}..={after}");
}

#[test]
fn source_and_object_filters_select_events() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/o"]);
    fs(&sys, &["mkdir", "/p"]);
    let by_source = Tail::start(&sys, &["--source", "vfs", "--format", "%S %e"]);
    let by_object = Tail::start(&sys, &["-c", "vfs", "--object", "3", "--format", "%o %p"]);
    sys.ok(&["net", "traffic", "2"]);
    fs(&sys, &["chmod", "700", "/o"]);
    fs(&sys, &["chmod", "700", "/p"]);
    assert_eq!(by_source.next(), "vfs attrib");
    assert_eq!(by_object.next(), "3 /p");
    sys.refused(&["tail", "--source", "nobody"], "unknown source \"nobody\"; the sources are evq-server, root, vfs");
}

#[test]
fn timeout_exits_2_with_no_event_and_count_exits_0() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/quiet"]);
    let said = sys.evq(&["tail", "/quiet", "--timeout", "0.3"]);
    assert_eq!(said.status.code(), Some(2), "{}", said.stderr);
    assert_eq!(said.stdout, "");
    let mut tail = Tail::start(&sys, &["/quiet", "-n", "2", "--timeout", "20", "--format", "%n"]);
    fs(&sys, &["touch", "/quiet/one"]);
    fs(&sys, &["touch", "/quiet/two"]);
    assert_eq!((tail.next(), tail.next()), ("one".to_string(), "two".to_string()));
    assert_eq!(tail.end().code(), Some(0));
    let mut after_one = Tail::start(&sys, &["/quiet", "--timeout", "3", "--format", "%n"]);
    fs(&sys, &["touch", "/quiet/three"]);
    assert_eq!(after_one.next(), "three");
    assert_eq!(after_one.end().code(), Some(0), "an event was seen, then the timeout");
}

#[test]
fn errors_exit_1_in_words() {
    let sys = System::start();
    sys.refused(&["tail", "/nowhere"], "cannot watch /nowhere");
    sys.refused(&["tail", "relative"], "relative: a watched path is absolute");
    sys.refused(&["tail", "/", "--object", "1"], "--object cannot go with a PATH");
    sys.refused(&["tail", "/", "-c", "network"], "a PATH watch shows vfs events only");
    sys.refused(&["tail", "-r"], "-r and --initial are for watching a PATH");
    sys.refused(&["tail", "/", "-t", "rx"], "a PATH watch shows vfs events only; -t names no vfs kind");
    sys.refused(&["tail", "--pages", "3"], "--pages: 3 is not a power of two from 1 to 64");
    sys.refused(&["tail", "--min-events", "0"], "--min-events is at least 1");
    sys.refused(&["tail", "--timeout", "0"], "--timeout is a number of seconds above 0");
    fs(&sys, &["mkdir", "/many"]);
    for i in 0..16 {
        fs(&sys, &["mkdir", &format!("/many/d{i}")]);
    }
    sys.refused(&["tail", "/many", "-r"], "a queue holds at most 16 subscriptions (the server's MAX_SUBSCRIPTIONS)");
    // Fourteen directories fill the table (with /full itself and the stop):
    // one more, made while the tail runs, is an error then.
    fs(&sys, &["mkdir", "/full"]);
    for i in 0..13 {
        fs(&sys, &["mkdir", &format!("/full/d{i}")]);
    }
    let mut tail = Tail::start(&sys, &["/full", "-r", "--format", "%p"]);
    fs(&sys, &["mkdir", "/full/d13"]);
    assert_eq!(tail.next(), "/full/d13");
    let said = line_with(&tail.err, "evq: cannot watch /full/d13: a queue holds at most 16 subscriptions");
    assert!(said.ends_with("watch a smaller tree"), "{said}");
    assert_eq!(tail.end().code(), Some(1));
}

#[test]
fn queue_options_are_taken() {
    let sys = System::start();
    let critical = Tail::start(&sys, &["-c", "vfs", "--json", "--priority", "critical", "--pages", "1"]);
    let batched = Tail::start(&sys, &["-c", "vfs", "--format", "%n", "--min-events", "4", "--max-latency", "50"]);
    let coalescing = Tail::start(&sys, &["-c", "network", "--json", "--coalesce", "2000"]);
    fs(&sys, &["mkdir", "/lone"]);
    assert_eq!(critical.json()["critical"], true);
    // One event, fewer than --min-events: delivered once --max-latency passes.
    assert_eq!(batched.next(), "lone");
    // Counters the driver publishes within the window are merged into one
    // event: traffic keeps coming (from a thread) until one says so.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let console = sys.console();
    let traffic = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = console.to_str().unwrap().to_string();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                run_evq(&["net", "traffic", "1", "--console", &c]);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no coalesced rx event");
        if coalescing.json_kind("rx")["coalesced"].as_u64().is_some_and(|c| c > 0) {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    traffic.join().unwrap();
}

#[test]
fn a_tail_says_when_the_system_stops_and_exits_0() {
    let sys = System::start();
    fs(&sys, &["mkdir", "/s"]);
    let mut tail = Tail::start(&sys, &["/s"]);
    let mut all = Tail::start(&sys, &["--format", "%c %e"]);
    let mut by_source = Tail::start(&sys, &["--source", "vfs", "--format", "%c %e"]);
    sys.ok(&["stop"]);
    line_with(&tail.err, "evq tail: the system stopped");
    assert_eq!(tail.end().code(), Some(0));
    // SHUTDOWN is printed where the tail's filters take it, and only there.
    all.line("system shutdown");
    line_with(&all.err, "evq tail: the system stopped");
    line_with(&by_source.err, "evq tail: the system stopped");
    assert_eq!((all.end().code(), by_source.end().code()), (Some(0), Some(0)));
    // Its output ends with it: every line it wrote, none a shutdown.
    assert!(by_source.out.iter().all(|l| !l.contains("shutdown")));
}

#[test]
fn help_describes_every_option() {
    let said = run_evq(&["tail", "--help"]);
    assert!(said.status.success());
    for option in [
        "[PATH]...",
        "--recursive",
        "--initial",
        "--category",
        "--type",
        "--source",
        "--object",
        "--count",
        "--timeout",
        "--slot",
        "--json",
        "--format",
        "%e kind",
        "%p full path",
        "%T time",
        "%%",
        "--timefmt",
        "--pages",
        "--priority",
        "--coalesce",
        "--min-events",
        "--max-latency",
        "Exit status: 0",
        "evq tail: watching",
    ] {
        assert!(said.stdout.contains(option), "--help does not mention {option:?}:\n{}", said.stdout);
    }
}

#[test]
fn a_file_watch_takes_the_events_about_the_file() {
    let sys = System::start();
    fs(&sys, &["touch", "/f"]);
    fs(&sys, &["touch", "/other"]);
    let tail = Tail::start(&sys, &["/f", "--format", "%e %p"]);
    assert!(tail.watching.starts_with("evq tail: watching /f (0 directories) as "), "{}", tail.watching);
    fs(&sys, &["chmod", "600", "/other"]);
    fs(&sys, &["chmod", "600", "/f"]);
    fs(&sys, &["mv", "/f", "/g"]);
    assert_eq!((tail.next(), tail.next()), ("attrib /f".to_string(), "rename /g".to_string()));
}
