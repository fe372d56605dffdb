//! `evq stats` per queue, `evq stats --watch`, `evq top` in a terminal and
//! `evq run --client-slots`, each run as a user runs it: the `evq` binary
//! through its argument parser against a running system; and the console
//! answering raw datagrams as `docs/console.md` says.
//!
//! Every wait is on a real condition (a line printed, a screen showing a
//! name, a process gone) with a deadline; every process a test starts runs
//! in a process group of its own, killed when the test ends however it ends.

mod common;

use std::ffi::CStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use evq_hosted::console::{self, Console};

/// `evq ARGS` to its end, which must say nothing alarming on standard error.
fn run(args: &[&str]) -> Said {
    let said = run_evq(args);
    assert_quiet(&format!("evq {args:?}"), &said.stderr);
    said
}

/// The first line to come that `check` accepts.
fn line_where(lines: &mpsc::Receiver<String>, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if check(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line {what} ({e})"),
        }
    }
}

/// `evq ARGS --console THIS` as a command, not yet started.
fn cmd(sys: &System, args: &[&str]) -> Command {
    let mut cmd = evq();
    cmd.args(args).arg("--console").arg(sys.console());
    cmd
}

/// `evq tail --console THIS`, once it watches.
fn tail(sys: &System) -> Group {
    let mut tail = Group::spawn(cmd(sys, &["tail"]).stdout(Stdio::null()).stderr(Stdio::piped()));
    let errs = lines_of(tail.child.stderr.take().unwrap());
    line_with(&errs, "evq tail: watching as");
    tail
}

/// The first queue's id, as `evq stats` prints it, once there is one.
fn first_queue(sys: &System) -> String {
    let status = Console::connect(&sys.console()).unwrap().status().unwrap();
    format!("{:#x}", status.server.queue_list.first().expect("a queue").report.queue)
}

#[test]
fn stats_shows_every_queue_with_its_owner_fill_and_counters() {
    let sys = System::start();
    let _tail = tail(&sys);
    let queue = first_queue(&sys);
    sys.ok(&["fs", "mkdir", "/q"]);
    let text = sys.ok(&["stats"]);
    let heading = text.lines().find(|l| l.starts_with("queue")).unwrap_or_else(|| panic!("no queue table:\n{text}"));
    assert!(heading.contains("owner") && heading.contains("fill") && heading.contains("dropped"), "{heading}");
    let row = text.lines().find(|l| l.starts_with(&queue)).unwrap_or_else(|| panic!("no {queue}:\n{text}"));
    let words: Vec<&str> = row.split_whitespace().collect();
    // queue, owner, pages, fill, then the seven counters.
    assert_eq!(words.len(), 11, "{row}");
    assert_eq!(words[1], "console-1");
    let (used, capacity) = words[3].split_once('/').expect("fill as used/capacity");
    assert!(used.parse::<u32>().unwrap() <= capacity.parse::<u32>().unwrap(), "{row}");

    let json: serde_json::Value = serde_json::from_str(sys.ok(&["stats", "--json"]).trim()).expect("one object");
    assert_eq!(json["version"], console::VERSION);
    let q = &json["server"]["queue_list"][0];
    assert_eq!((q["owner"].as_str(), q["owner_id"].as_u64()), (Some("console-1"), Some(5)), "{q}");
    assert!(q["slot_count"].as_u64().unwrap() > 0 && q["used_slots"].is_u64(), "{q}");
    for name in evq_abi::msg::Counters::NAMES {
        assert!(q["counters"][name].is_u64(), "{name} in {q}");
    }
    assert!(q["counters"]["delivered"].as_u64().unwrap() >= 1, "the mkdir's event reached the tail's queue: {q}");
}

#[test]
fn stats_watch_reprints_rates_and_ends_when_the_system_stops() {
    let sys = System::start();
    let _tail = tail(&sys);
    let queue = first_queue(&sys);
    let mut watch = Group::spawn(cmd(&sys, &["stats", "--watch", "0.2"]).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let lines = lines_of(watch.child.stdout.take().unwrap());
    line_where(&lines, "saying rates come next", |l| l == "-- events per second: from the next sample");
    line_where(&lines, "with a sample's rates", |l| l.starts_with("-- events per second over "));
    // The VFS domain's events show as a rate of its own and of the queue's.
    let deadline = Instant::now() + DEADLINE;
    let mut n = 0;
    let (mut source_moved, mut queue_moved) = (false, false);
    while !(source_moved && queue_moved) {
        assert!(Instant::now() < deadline, "no rate above 0 for vfs and {queue}");
        sys.ok(&["fs", "touch", &format!("/w{n}")]);
        n += 1;
        while let Ok(line) = lines.try_recv() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let positive = |w: &str| w.parse::<f64>().is_ok_and(|r| r > 0.0);
            // id, name, published/s, delivered/s, …
            source_moved |= words.len() == 6 && words[1] == "vfs" && positive(words[2]);
            // queue, owner, used/capacity, percent, published/s, delivered/s, …
            queue_moved |= words.len() == 8 && words[0] == queue && positive(words[5]);
        }
    }
    line_where(&lines, "with the domains", |l| l.starts_with("domains: ") && l.contains("console-1 attached"));
    line_where(&lines, "with the system's state", |l| l == "system: up");
    sys.ok(&["stop"]);
    let stopped = format!("evq: the system at {} has stopped", sys.console().display());
    line_where(&lines, "saying the system stopped", |l| l == stopped);
    assert_eq!(watch.wait("evq stats --watch after evq stop").code(), Some(0));
}

#[test]
fn stats_watch_with_a_closed_stdout_exits_quietly() {
    let sys = System::start();
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut watch = Group::spawn(cmd(&sys, &["stats", "--watch", "0.1"]).stdout(writer).stderr(Stdio::piped()));
    let mut first = String::new();
    let mut reader = BufReader::new(reader);
    reader.read_line(&mut first).expect("a line");
    drop(reader);
    let mut err = String::new();
    watch.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(watch.wait("evq stats --watch | head -1").code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn bad_periods_and_slot_counts_are_refused_in_words_and_help_names_every_option() {
    for (args, text) in [
        (&["stats", "--watch", "0"][..], "\"0\" is not a number of seconds from 0.1 to 3600"),
        (&["stats", "--watch", "soon"], "\"soon\" is not a number of seconds from 0.1 to 3600"),
        (&["stats", "--watch", "1", "--json"], "cannot be used with"),
        (&["top", "--interval", "9999"], "\"9999\" is not a number of seconds from 0.1 to 3600"),
        (&["run", "--client-slots", "33"], "33 is not in 0..=32"),
        (&["run", "--client-slots", "many"], "invalid value 'many'"),
        (&["demo", "--client-slots", "-1"], "unexpected argument '-1'"),
    ] {
        let said = run(args);
        assert_eq!(said.status.code(), Some(2), "evq {args:?}: {}", said.stderr);
        assert!(said.stderr.contains(text), "evq {args:?}: {:?} does not say {text:?}", said.stderr);
    }
    for (args, options) in [
        (&["top", "--help"][..], &["Usage: evq top", "--interval <SECONDS>", "--console <PATH>"][..]),
        (&["stats", "--help"], &["--watch <SECONDS>", "--json"]),
        (&["run", "--help"], &["--client-slots <N>", "0 to 32"]),
        (&["demo", "--help"], &["--client-slots <N>"]),
        (&["--help"], &["top", "stats"]),
    ] {
        let said = run(args);
        assert!(said.status.success(), "evq {args:?}");
        for option in options {
            assert!(said.stdout.contains(option), "evq {args:?} does not name {option:?}:\n{}", said.stdout);
        }
    }
}

#[test]
fn top_refuses_an_output_that_is_not_a_terminal_and_names_the_text_view() {
    let said = run(&["top", "--console", "/nonexistent/console"]);
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert!(said.stdout.is_empty(), "{}", said.stdout);
    assert_eq!(
        said.stderr.trim_end(),
        "evq: standard output is not a terminal, and `evq top` draws on one; `evq stats --watch 1` prints the same as text"
    );
}

/// A pseudo-terminal of 120 by 40: its master, and its slave's path.
fn pty() -> (OwnedFd, String) {
    // SAFETY: plain calls on a descriptor this test owns; ptsname_r writes
    // a NUL-terminated path into the buffer it is given.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt");
        let master = OwnedFd::from_raw_fd(master);
        let raw = std::os::fd::AsRawFd::as_raw_fd(&master);
        assert_eq!(libc::grantpt(raw), 0);
        assert_eq!(libc::unlockpt(raw), 0);
        let size = libc::winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        assert_eq!(libc::ioctl(raw, libc::TIOCSWINSZ, &size), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(raw, name.as_mut_ptr(), name.len()), 0);
        (master, CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned())
    }
}

/// `evq top --console THIS` on a pseudo-terminal, and what it has drawn so far.
fn top_on_a_terminal(sys: &System) -> (Group, std::fs::File, Arc<Mutex<Vec<u8>>>) {
    let (master, slave) = pty();
    let open = || std::fs::OpenOptions::new().read(true).write(true).open(&slave).expect("the terminal");
    let mut cmd = cmd(sys, &["top", "--interval", "0.2"]);
    cmd.stdin(open()).stdout(open()).stderr(open());
    let top = Group::spawn(&mut cmd);
    drop(cmd);
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut reader = std::fs::File::from(master);
    let writer = reader.try_clone().unwrap();
    let drawn = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once every holder of the terminal has gone.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            drawn.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (top, writer, screen)
}

/// Waits until the screen has shown every one of `texts`.
fn screen_shows(screen: &Mutex<Vec<u8>>, texts: &[&str]) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let drawn = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
        if texts.iter().all(|t| drawn.contains(t)) {
            return;
        }
        assert!(Instant::now() < deadline, "the screen never showed {texts:?}:\n{drawn:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn top_in_a_terminal_shows_sources_queues_and_domains_and_q_quits() {
    let sys = System::start();
    let _tail = tail(&sys);
    let queue = first_queue(&sys);
    let (mut top, mut keys, screen) = top_on_a_terminal(&sys);
    screen_shows(&screen, &["evq top: board hosted, system: up", "vfs", "device", &queue, "console-1", "attached"]);
    keys.write_all(b"q").unwrap();
    assert_eq!(top.wait("evq top after q").code(), Some(0));
    // The terminal is given back: the alternate screen left.
    screen_shows(&screen, &["\x1b[?1049l"]);

    // Ctrl-C and Esc quit too; and a system that stops ends it, saying so.
    for (key, name) in [(&b"\x03"[..], "Ctrl-C"), (b"\x1b", "Esc")] {
        let (mut top, mut keys, screen) = top_on_a_terminal(&sys);
        screen_shows(&screen, &["sources", "queues", "domains"]);
        keys.write_all(key).unwrap();
        assert_eq!(top.wait(&format!("evq top after {name}")).code(), Some(0));
        screen_shows(&screen, &["\x1b[?1049l"]);
    }
    // A stop signal gives the terminal back too, and then ends it by that
    // signal, as it would have ended uncaught.
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let (mut top, _keys, screen) = top_on_a_terminal(&sys);
        screen_shows(&screen, &["sources", "queues", "domains"]);
        top.signal(sig);
        let status = top.wait(&format!("evq top after {name}"));
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(sig), "{name}: {status:?}");
        screen_shows(&screen, &["\x1b[?1049l"]);
    }
    let (mut top, _keys, screen) = top_on_a_terminal(&sys);
    screen_shows(&screen, &["sources"]);
    sys.ok(&["stop"]);
    assert_eq!(top.wait("evq top after evq stop").code(), Some(0));
    screen_shows(&screen, &["\x1b[?1049l", "has stopped"]);
}

#[test]
fn client_slots_six_lets_six_tails_attach_and_refuses_a_seventh_in_words() {
    let sys = System::start_with(&["--client-slots", "6"]);
    let tails: Vec<Group> = (0..6).map(|_| tail(&sys)).collect();
    let said = sys.evq(&["tail"]);
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert_eq!(
        said.stderr.trim_end(),
        "evq: no free client slot: all 6 are taken (`evq run --client-slots N` sets how many)"
    );
    let status = Console::connect(&sys.console()).unwrap().status().unwrap();
    let attached: Vec<&str> =
        status.domains.iter().filter(|d| d.state == "attached").map(|d| d.name.as_str()).collect();
    assert_eq!(attached.len(), 6, "{attached:?}");
    for name in ["console-5", "console-6"] {
        assert!(attached.contains(&name), "{name} in {attached:?}");
    }
    drop(tails);
    // With fewer slots than described, the last ones are gone.
    let two = System::start_with(&["--client-slots", "2"]);
    let status = Console::connect(&two.console()).unwrap().status().unwrap();
    let slots: Vec<&str> = status.domains.iter().filter(|d| d.image == "attach").map(|d| d.name.as_str()).collect();
    assert_eq!(slots, ["console-1", "console-2"]);
}

/// Sends `datagram` on `console` as it is, and returns the reply's JSON.
fn raw(console: &Console, datagram: &[u8]) -> serde_json::Value {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&console.fd());
    // SAFETY: send(2) and recv(2) on a live socket with buffers of the given lengths.
    let sent = unsafe { libc::send(fd, datagram.as_ptr().cast(), datagram.len(), libc::MSG_NOSIGNAL) };
    assert_eq!(sent, datagram.len() as isize, "sent");
    let mut buf = vec![0u8; console::MAX_MESSAGE];
    // SAFETY: as above.
    let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert!(got > 0, "a reply");
    serde_json::from_slice(&buf[..got as usize]).expect("the reply is JSON")
}

/// Sends `datagram` on `console` with descriptor `fd` (`SCM_RIGHTS`), and
/// returns the reply's JSON.
fn raw_with_fd(console: &Console, datagram: &[u8], fd: i32) -> serde_json::Value {
    let sock = std::os::fd::AsRawFd::as_raw_fd(&console.fd());
    // SAFETY: sendmsg(2) with one iovec over `datagram` and a control
    // buffer sized by CMSG_SPACE for one descriptor, filled by the CMSG
    // macros; every pointer is to a live local for the call's duration.
    unsafe {
        let mut iov = libc::iovec { iov_base: datagram.as_ptr() as *mut _, iov_len: datagram.len() };
        let mut control = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let hdr = libc::CMSG_FIRSTHDR(&msg);
        (*hdr).cmsg_level = libc::SOL_SOCKET;
        (*hdr).cmsg_type = libc::SCM_RIGHTS;
        (*hdr).cmsg_len = libc::CMSG_LEN(4) as _;
        libc::CMSG_DATA(hdr).cast::<i32>().write_unaligned(fd);
        assert_eq!(libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL), datagram.len() as isize, "sendmsg");
    }
    let mut buf = vec![0u8; console::MAX_MESSAGE];
    // SAFETY: recv(2) into a buffer of its length.
    let got = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert!(got > 0, "a reply");
    serde_json::from_slice(&buf[..got as usize]).expect("the reply is JSON")
}

/// The console's view of domain `name`'s state, polled until `want`.
fn state_becomes(sys: &System, name: &str, want: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = Console::connect(&sys.console()).unwrap().status().unwrap();
        let state = status.domains.iter().find(|d| d.name == name).map(|d| d.state.clone());
        if state.as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is {state:?}, never {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_console_answers_raw_datagrams_as_its_specification_says() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let sys = System::start();
    let meta = std::fs::metadata(sys.console()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let c = Console::connect(&sys.console()).unwrap();
    let status = raw(&c, br#"{"op":"status"}"#);
    assert_eq!((status["reply"].as_str(), status["version"].as_u64()), (Some("status"), Some(1)));
    let refused = raw(&c, br#"{"op":"reboot"}"#);
    assert_eq!(refused["reply"], "error");
    let message = refused["message"].as_str().unwrap();
    assert!(message.starts_with("bad request: unknown variant `reboot`, expected one of `attach`"), "{message}");
    // Longer than a datagram: cut by the kernel, so refused as bad JSON.
    let mut long = br#"{"op":"fs","args":[""#.to_vec();
    long.resize(console::MAX_MESSAGE + 100, b'x');
    long.extend_from_slice(br#""]}"#);
    let refused = raw(&c, &long);
    assert!(refused["message"].as_str().unwrap().starts_with("bad request: EOF while parsing"), "{refused}");
    // Unknown fields are ignored; the connection goes on after refusals.
    let attached = raw(&c, br#"{"op":"attach","role":"client","later":true}"#);
    assert_eq!((attached["reply"].as_str(), attached["domain"].as_str()), (Some("attached"), Some("console-1")));
    assert!(attached["ingest_pages"].is_null(), "{attached}");
    state_becomes(&sys, "console-1", "attached");
    let taken = raw(&c, br#"{"op":"attach","domain":"console-1","role":"client"}"#);
    assert_eq!(taken["message"], "console-1 is taken");
    let refused = raw(&c, br#"{"op":"attach","domain":"nope","role":"client"}"#);
    assert_eq!(refused["message"], "no domain \"nope\"");
    let refused = raw(&c, br#"{"op":"attach","domain":"vfs","role":"source"}"#);
    assert_eq!(refused["message"], "vfs is not an attach slot (its image is \"evq-vfs\")");
    // One connection may hold several slots; its end frees them all.
    let second = raw(&c, br#"{"op":"attach","domain":"console-3","role":"client"}"#);
    assert_eq!(second["domain"], "console-3");
    state_becomes(&sys, "console-3", "attached");
    // A descriptor sent with a request is not kept: the pipe it is the
    // write end of reads its end once this process closes its own copy.
    let (read_end, write_end) = std::io::pipe().unwrap();
    let reply = raw_with_fd(&c, br#"{"op":"status"}"#, std::os::fd::AsRawFd::as_raw_fd(&write_end));
    assert_eq!(reply["reply"], "status");
    drop(write_end);
    let mut p = libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&read_end), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll(2) on one live pollfd.
    let n = unsafe { libc::poll(&mut p, 1, DEADLINE.as_millis() as i32) };
    assert!(n == 1 && p.revents & libc::POLLHUP != 0, "the launcher kept the pipe's write end");
    // An empty datagram is no JSON: refused, and the connection goes on.
    let empty = raw(&c, b"");
    assert!(empty["message"].as_str().unwrap().starts_with("bad request: EOF while parsing"), "{empty}");
    assert_eq!(raw(&c, br#"{"op":"status"}"#)["reply"], "status");
    // Closing the connection frees its slots.
    drop(c);
    state_becomes(&sys, "console-1", "free");
    state_becomes(&sys, "console-3", "free");
}
