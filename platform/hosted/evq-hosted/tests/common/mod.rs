//! Helpers shared by the tests that run the `evq` binary as a user runs it:
//! a temporary directory, a process in a group of its own, a command run to
//! its end with its outputs captured, and `evq run` on a console of its own.
//!
//! Every wait is on a real condition with a deadline; every process a test
//! starts runs in a process group of its own, killed when the test ends
//! however it ends.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use evq_hosted::console::{self, Console};

pub const DEADLINE: Duration = Duration::from_secs(30);

pub static NEXT: AtomicU32 = AtomicU32::new(0);

/// A directory of the test's own, removed at the end.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "evq-cli-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `evq` with no console from the environment.
pub fn evq() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evq"));
    cmd.env_remove("EVQ_CONSOLE").stdin(Stdio::null());
    cmd
}

/// A process started in a process group of its own; the whole group is
/// killed and the process reaped on drop.
pub struct Group {
    pub child: Child,
}

impl Group {
    pub fn spawn(cmd: &mut Command) -> Group {
        Group { child: cmd.process_group(0).spawn().expect("evq starts") }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the group this test made.
        assert_eq!(unsafe { libc::kill(-self.pid(), sig) }, 0, "signal the group");
    }

    /// Waits for the process to end, failing the test after the deadline.
    pub fn wait(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} to end");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test made.
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The live (not zombie) processes of group `pgid`, from /proc.
pub fn live_in_group(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp …
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            out.push(stat.split(')').next().unwrap_or("").to_string() + ")");
        }
    }
    out
}

/// Waits until no live process is left in group `pgid`.
pub fn group_is_gone(pgid: i32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = live_in_group(pgid);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished command said.
pub struct Said {
    pub status: ExitStatus,
    /// Standard output, as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Standard output, byte for byte.
    pub bytes: Vec<u8>,
    pub stderr: String,
}

/// Reads all of `from` in a thread of its own.
pub fn collect(from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    let bytes = collect_bytes(from);
    std::thread::spawn(move || String::from_utf8_lossy(&bytes.join().unwrap_or_default()).into_owned())
}

/// Reads all of `from`, byte for byte, in a thread of its own.
pub fn collect_bytes(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = from.read_to_end(&mut s);
        s
    })
}

/// Runs `evq ARGS` to its end (within the deadline), its outputs captured.
pub fn run_evq(args: &[&str]) -> Said {
    run_evq_with(args, None)
}

/// Runs `evq ARGS` with `stdin` (if any) on its standard input, in a
/// thread of its own, then closed.
pub fn run_evq_with(args: &[&str], stdin: Option<&[u8]>) -> Said {
    let mut cmd = evq();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut group = Group::spawn(&mut cmd);
    let feeder = stdin.map(|data| {
        let mut pipe = group.child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            use std::io::Write as _;
            let _ = pipe.write_all(&data);
        })
    });
    let out = collect_bytes(group.child.stdout.take().expect("stdout"));
    let err = collect(group.child.stderr.take().expect("stderr"));
    let status = group.wait(&format!("evq {args:?}"));
    if let Some(f) = feeder {
        f.join().expect("stdin writer");
    }
    let bytes = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    Said { status, stdout: String::from_utf8_lossy(&bytes).into_owned(), bytes, stderr }
}

/// No panic, no Rust error dump, no "Broken pipe" on an error output.
pub fn assert_quiet(what: &str, stderr: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "Broken pipe", "os error 32"] {
        assert!(!stderr.contains(bad), "{what}: standard error says {bad:?}:\n{stderr}");
    }
}

/// A line source with a deadline: a thread reads `from` and hands each
/// line over.
pub fn lines_of(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for a line that contains `text`; returns it.
pub fn line_with(lines: &mpsc::Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {text:?} ({e})"),
        }
    }
}

/// `evq run` on a console of its own, up and answering; stopped on drop.
pub struct System {
    pub group: Group,
    pub dir: TempDir,
}

impl System {
    pub fn start() -> System {
        let dir = TempDir::new("run");
        let mut cmd = evq();
        cmd.arg("run").arg("--console").arg(dir.path().join("console"));
        // EVQ_E2E_RUN_ARGS="--no-netns --no-seccomp" tries the fallbacks.
        if let Ok(extra) = std::env::var("EVQ_E2E_RUN_ARGS") {
            cmd.args(extra.split_whitespace());
        }
        let group = Group::spawn(cmd.stdout(Stdio::null()).stderr(Stdio::null()));
        let system = System { group, dir };
        Console::connect_within(&system.console(), DEADLINE).expect("the system comes up");
        system
    }

    pub fn console(&self) -> PathBuf {
        self.dir.path().join("console")
    }

    /// `evq ARGS --console THIS` (the console after the subcommand).
    pub fn evq(&self, args: &[&str]) -> Said {
        self.evq_with(args, None)
    }

    /// `evq ARGS --console THIS` with `stdin` on its standard input.
    pub fn evq_with(&self, args: &[&str], stdin: Option<&[u8]>) -> Said {
        let console = self.console();
        let mut all = args.to_vec();
        all.extend(["--console", console.to_str().expect("utf-8 path")]);
        run_evq_with(&all, stdin)
    }

    /// `evq ARGS --console THIS`, which must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let said = self.evq(args);
        assert_quiet(&format!("evq {args:?}"), &said.stderr);
        assert!(said.status.success(), "evq {args:?}: {:?}\n{}", said.status, said.stderr);
        said.stdout
    }

    /// `evq ARGS --console THIS`, which must fail with status 1 and say
    /// `text` on standard error.
    pub fn refused(&self, args: &[&str], text: &str) {
        let said = self.evq(args);
        assert_quiet(&format!("evq {args:?}"), &said.stderr);
        assert_eq!(said.status.code(), Some(1), "evq {args:?}: {}", said.stderr);
        assert!(said.stderr.contains(text), "evq {args:?}: {:?} does not say {text:?}", said.stderr);
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if let Ok(c) = Console::connect(&self.console()) {
            let _ = c.request(&console::Request::Shutdown);
        }
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.group.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
