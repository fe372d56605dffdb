//! `evq demo` (`make run`) as a user runs it, and the network traffic it
//! makes: the real `evq` binary, its standard output read as printed.
//!
//! `EVQ_E2E_RUN_ARGS="--no-netns --no-seccomp"` runs both on the
//! fallbacks (the demo takes the same flags); where the machine refuses a
//! network namespace the system falls back to loopback by itself, and the
//! tests check what loopback can show, saying so on standard error.
//!
//! Every wait is on a real condition (the process gone, an event arrived)
//! with a deadline.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use evq_abi::event::{network, Category, CountersPayload};
use evq_abi::msg::Filter;
use evq_hosted::console::Console;
use zerocopy::FromBytes;

const DEADLINE: Duration = Duration::from_secs(60);

/// A directory of the test's own, removed at the end.
fn temp_dir(what: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("evq-demo-test-{what}-")).tempdir().expect("temp dir")
}

/// The fallbacks the test run asks for (`EVQ_E2E_RUN_ARGS`), as words.
fn run_args() -> Vec<String> {
    std::env::var("EVQ_E2E_RUN_ARGS").map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default()
}

/// `evq ARGS` in a process group of its own, killed with the group on drop.
struct Group(Child);

impl Group {
    fn spawn(args: &[&str], tmp: &Path, stdout: Stdio) -> Group {
        let child = Command::new(env!("CARGO_BIN_EXE_evq"))
            .args(args)
            .env_remove("EVQ_CONSOLE")
            .env("TMPDIR", tmp)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("evq starts");
        Group(child)
    }

    fn wait(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} to end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Reads all of `from` in a thread of its own.
fn collect(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = from.read_to_string(&mut s);
        s
    })
}

/// One printed event, as `evq tail` prints it: `TIME SOURCE #SEQ category
/// kind …`.
#[derive(Debug)]
struct Line<'a> {
    seq: u64,
    category: &'a str,
    kind: &'a str,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn parse(text: &'a str) -> Option<Line<'a>> {
        let mut words = text.split_whitespace();
        let time = words.next()?;
        if time.split(':').count() != 3 || !time.split(':').all(|t| t.len() == 2 && t.parse::<u8>().is_ok()) {
            return None;
        }
        let _source = words.next()?;
        let seq = words.next()?.strip_prefix('#')?.parse().ok()?;
        Some(Line { seq, category: words.next()?, kind: words.next()?, text })
    }

    /// The value of `NAME=` in the line.
    fn field(&self, name: &str) -> Option<&'a str> {
        let prefix = format!("{name}=");
        self.text.split_whitespace().find_map(|w| w.strip_prefix(prefix.as_str()))
    }

    fn is(&self, category: &str, kind: &str) -> bool {
        self.category == category && self.kind == kind
    }
}

/// The demo's output cut at its step headers: each header and the lines
/// under it.
struct Steps<'a>(Vec<(&'a str, Vec<&'a str>)>);

impl<'a> Steps<'a> {
    fn of(out: &'a str) -> Steps<'a> {
        let mut steps: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
        for line in out.lines() {
            match line.strip_prefix("-- ") {
                Some(header) => steps.push((header, Vec::new())),
                None => steps.last_mut().unwrap().1.push(line),
            }
        }
        Steps(steps)
    }

    /// The events printed under the one header that contains `header`.
    fn events(&self, header: &str) -> Vec<Line<'a>> {
        let found: Vec<_> = self.0.iter().filter(|(h, _)| h.contains(header)).collect();
        assert_eq!(found.len(), 1, "one step {header:?} in {:?}", self.0.iter().map(|s| s.0).collect::<Vec<_>>());
        found[0].1.iter().filter_map(|l| Line::parse(l)).collect()
    }

    fn has(&self, header: &str) -> bool {
        self.0.iter().any(|(h, _)| h.contains(header))
    }
}

/// The packets of the `kind` events among `events`.
fn packets(events: &[Line<'_>], kind: &str) -> u64 {
    events.iter().filter(|e| e.is("network", kind)).map(|e| e.field("packets").unwrap().parse::<u64>().unwrap()).sum()
}

/// The positions of `wanted` (category, kind) in `events`, in that order,
/// or the first one missing.
fn in_order(events: &[Line<'_>], wanted: &[(&str, &str)]) -> Result<(), String> {
    let mut at = 0;
    for &(c, k) in wanted {
        match events[at..].iter().position(|e| e.is(c, k)) {
            Some(i) => at += i + 1,
            None => return Err(format!("no {c} {k} (after the {at} events before it)")),
        }
    }
    Ok(())
}

#[test]
fn the_demo_shows_every_category_and_kind_it_promises_each_under_its_step() {
    let tmp = temp_dir("run");
    let extra = run_args();
    let mut args = vec!["demo"];
    args.extend(extra.iter().map(String::as_str));
    let mut demo = Group::spawn(&args, tmp.path(), Stdio::piped());
    let out = collect(demo.0.stdout.take().unwrap());
    let err = collect(demo.0.stderr.take().unwrap());
    let status = demo.wait("evq demo");
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "evq demo: {status:?}\n{err}\n{out}");
    assert!(!err.contains("panicked"), "{err}");
    let steps = Steps::of(&out);

    // Nothing but the launcher's greeting before the first header; outside
    // the statistics every line is a header, an event, a reply indented
    // under its step, or blank: no header shares a line with an event.
    let (before, rest) = steps.0.split_first().unwrap();
    assert!(before.1.iter().all(|l| l.is_empty() || l.starts_with("evq: ")), "before the first step: {:?}", before.1);
    for (header, lines) in rest.iter().filter(|(h, _)| !h.starts_with("the server's statistics")) {
        for l in lines {
            let fine = l.is_empty() || l.starts_with("   ") || Line::parse(l).is_some();
            assert!(fine, "under {header:?}: a stray line {l:?}\n{out}");
        }
    }
    // One watcher prints them: sequence numbers only go up, and none is
    // missing between the first event and the last.
    let seqs: Vec<u64> = out.lines().filter_map(Line::parse).map(|l| l.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence numbers {seqs:?}");

    let typed = steps.events("typing two lines into the device driver's terminal");
    let inputs: Vec<_> = typed.iter().filter(|e| e.is("device", "input")).map(|e| e.text).collect();
    assert!(
        inputs.len() == 2 && inputs[0].ends_with(r#"input="hello, evq""#) && inputs[1].ends_with(r#"input="ls -l""#),
        "the two lines typed, in order: {typed:?}"
    );

    let to = steps.events("5 packets to the watched interface");
    let veth = rest.iter().any(|(h, _)| h.starts_with("network: veth"));
    if extra.iter().any(|a| a == "--no-netns") {
        assert!(steps.has("network: loopback lo (network namespaces were not asked for)"), "--no-netns passed on");
    }
    assert!(packets(&to, "rx") >= 5, "rx counted under its step: {to:?}\n{out}");
    let from = steps.events("5 packets from the watched interface");
    let tx = packets(&from, "tx");
    assert!(tx >= 5, "tx of 5 packets or more under its step, not {tx}: {from:?}\n{out}");
    if veth {
        let link = steps.events("taking the link down and up again");
        in_order(&link, &[("network", "link-down"), ("network", "link-up")]).unwrap_or_else(|e| panic!("{e}\n{out}"));
    } else {
        eprintln!("LOUD: the demo ran on loopback (no network namespace here): link events are not shown or checked");
        assert!(!steps.has("taking the link"), "no link step on loopback");
        assert!(out.contains("the launcher never changes the host's links"), "the demo says why:\n{out}");
        assert!(packets(&to, "tx") >= 5 && packets(&from, "rx") >= 5, "loopback counts both ways:\n{out}");
    }

    let fs = steps.events("a file-system session on the VFS domain");
    let session = [
        ("vfs", "create"),
        ("vfs", "create"),
        ("vfs", "attrib"),
        ("vfs", "rename"),
        ("vfs", "delete"),
        ("vfs", "create"),
        ("vfs", "mount"),
        ("vfs", "create"),
        ("vfs", "unmount"),
    ];
    in_order(&fs, &session).unwrap_or_else(|e| panic!("{e}\n{out}"));
    // Full paths, as `evq tail` gives them, inside the mount too.
    let inside = fs.iter().find(|e| e.field("path") == Some("\"/mnt/inside.txt\"")).expect("inside");
    assert!(fs.iter().any(|e| e.is("vfs", "rename") && e.field("to") == Some("\"/todo.txt\"")), "{fs:?}");
    let mount = fs.iter().find(|e| e.is("vfs", "mount")).unwrap();
    assert!(mount.seq < inside.seq, "the file is made inside the mount: {fs:?}");

    let visit = steps.events("a console client comes and goes");
    in_order(&visit, &[("process", "start"), ("process", "exit")]).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let objects: Vec<_> = visit.iter().filter(|e| e.category == "process").map(|e| e.field("object")).collect();
    assert!(objects.len() == 2 && objects[0] == objects[1], "one slot's start and exit: {visit:?}");
    assert_eq!(visit.iter().find(|e| e.is("process", "exit")).and_then(|e| e.field("code")), Some("0"));

    let clock = steps.events("the device driver's clock");
    assert!(clock.iter().any(|e| e.is("device", "time") && e.field("unix").is_some()), "a tick: {clock:?}\n{out}");

    let crash = steps.events("crashing the device driver");
    in_order(&crash, &[("process", "fault"), ("process", "exit")]).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let exit = crash.iter().find(|e| e.is("process", "exit")).unwrap();
    assert_eq!(exit.field("code"), Some("129"), "killed by SIGSEGV: 128 + the VM fault kind");

    assert!(steps.events("the server's statistics").is_empty(), "no event under the statistics:\n{out}");
    let last = out.lines().rev().find_map(Line::parse).expect("events");
    assert!(last.is("system", "shutdown"), "SHUTDOWN is the last event: {last:?}");
    assert!(steps.has("stopping the system") && !steps.events("stopping the system").is_empty());
}

#[test]
fn a_step_whose_events_do_not_come_says_so_and_the_demo_goes_on() {
    let tmp = temp_dir("no-clock");
    let hosted = include_str!("../../../../images/hosted/system.toml");
    assert!(hosted.contains("args = \"time=5\""), "the hosted device driver ticks every 5 s");
    let file = tmp.path().join("system.toml");
    std::fs::write(&file, hosted.replace("args = \"time=5\"", "args = \"time=0\"")).expect("write system");
    let mut args = vec!["demo", "--system", file.to_str().unwrap()];
    let extra = run_args();
    args.extend(extra.iter().map(String::as_str));
    let mut demo = Group::spawn(&args, tmp.path(), Stdio::piped());
    let out = collect(demo.0.stdout.take().unwrap());
    let status = demo.wait("evq demo");
    let out = out.join().unwrap();
    assert!(status.success(), "{status:?}\n{out}");
    let steps = Steps::of(&out);
    let clock = steps.0.iter().find(|(h, _)| h.contains("the device driver's clock")).expect("the clock's step");
    assert!(clock.1.contains(&"   (no time event within 15 s; going on)"), "{clock:?}");
    assert!(steps.has("crashing the device driver"), "the demo went on:\n{out}");
}

/// Waits until the network driver has published (its baseline taken), then
/// returns a client subscribed to network events and the network mode.
fn network_watcher(console: &Console) -> (evq_hosted::client::Client, evq_hosted::client::HostedQueue, bool) {
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        let s = console.status().expect("status");
        if s.server.sources.iter().any(|x| x.name == "network" && x.counters.published > 0) {
            break s;
        }
        assert!(Instant::now() < deadline, "the network driver never published");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (_, mut client) = console.attach_client(None).expect("client");
    let q = client.create_queue(2).expect("queue");
    client.subscribe(&q, Filter::all_of(Category::Network)).expect("subscribe");
    (client, q, status.network.starts_with("veth"))
}

/// Reads network events until `kind`'s packets reach `at_least`; returns
/// the RX and TX packets of everything read, the batch that got there
/// included.
fn counted_until(
    client: &mut evq_hosted::client::Client,
    q: &mut evq_hosted::client::HostedQueue,
    kind: u8,
    at_least: u64,
) -> (u64, u64) {
    let deadline = Instant::now() + DEADLINE;
    let (mut rx, mut tx) = (0, 0);
    loop {
        while let Some(e) = q.next_event().expect("ring reads") {
            let n = CountersPayload::read_from_bytes(e.payload).map(|p| p.packets.get()).unwrap_or(0);
            match e.kind {
                network::RX => rx += n,
                network::TX => tx += n,
                _ => {}
            }
        }
        if (if kind == network::RX { rx } else { tx }) >= at_least {
            return (rx, tx);
        }
        assert!(Instant::now() < deadline, "only rx {rx} tx {tx} packets counted");
        client.wait(q, Duration::from_millis(200)).expect("wait");
    }
}

#[test]
fn net_traffic_tx_sends_from_the_watched_interface() {
    let tmp = temp_dir("tx");
    let console_path = tmp.path().join("console");
    let path = console_path.to_str().unwrap();
    let extra = run_args();
    let mut args = vec!["run", "--console", path];
    args.extend(extra.iter().map(String::as_str));
    let _system = Group::spawn(&args, tmp.path(), Stdio::null());
    let console = Console::connect_within(&console_path, DEADLINE).expect("the system comes up");
    let (mut client, mut q, veth) = network_watcher(&console);

    let said = Command::new(env!("CARGO_BIN_EXE_evq"))
        .args(["net", "traffic", "4", "--tx", "--console", path])
        .stdin(Stdio::null())
        .output()
        .expect("evq net traffic");
    let stdout = String::from_utf8_lossy(&said.stdout);
    assert!(said.status.success(), "{said:?}");
    let (rx, tx) = counted_until(&mut client, &mut q, network::TX, 4);
    if veth {
        assert_eq!(stdout.trim(), "4 frames sent from evq1 to evq0");
        assert_eq!((rx, tx), (0, 4), "the watched end sent exactly the 4 frames, and received none");
        // And the other way: received, not sent.
        let said = Command::new(env!("CARGO_BIN_EXE_evq"))
            .args(["net", "traffic", "3", "--console", path])
            .stdin(Stdio::null())
            .output()
            .expect("evq net traffic");
        assert_eq!(String::from_utf8_lossy(&said.stdout).trim(), "3 frames sent from evq0 to evq1");
        assert_eq!(counted_until(&mut client, &mut q, network::RX, 3), (3, 0));
    } else {
        eprintln!("LOUD: the network driver watches loopback here (no network namespace): tx moves both counters");
        assert_eq!(stdout.trim(), "4 datagrams sent over loopback (lo counts each as sent and received)");
        assert!(rx >= 4 && tx >= 4, "loopback counts both: rx {rx} tx {tx}");
    }
}

#[test]
fn a_traffic_request_without_tx_is_sent_to_the_watched_interface() {
    use evq_hosted::console::{decode_request, Request};
    assert_eq!(decode_request(br#"{"op": "traffic", "packets": 5}"#), Ok(Request::Traffic { packets: 5, tx: false }));
    assert_eq!(
        decode_request(br#"{"op": "traffic", "packets": 5, "tx": true}"#),
        Ok(Request::Traffic { packets: 5, tx: true })
    );
}

#[test]
fn help_describes_the_new_options() {
    for (args, option) in [
        (&["net", "traffic", "--help"][..], "--tx"),
        (&["demo", "--help"], "--no-netns"),
        (&["demo", "--help"], "--no-seccomp"),
    ] {
        let said = Command::new(env!("CARGO_BIN_EXE_evq")).args(args).output().expect("evq --help");
        assert!(said.status.success());
        let help = String::from_utf8_lossy(&said.stdout);
        assert!(help.contains(option), "evq {args:?} says nothing of {option}:\n{help}");
    }
}
