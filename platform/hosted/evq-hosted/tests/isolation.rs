//! What a process of the system's own uid can reach of it: nothing.
//!
//! The system runs as an unprivileged uid (65534 when the test is root,
//! else the test's own), and a second process of that uid, without
//! `CAP_SYS_PTRACE`, tries what an attacker of that uid would: open each
//! domain's and the launcher's `/proc/PID/fd`, and take their descriptors
//! with `pidfd_getfd`. A plain process of the same uid is the control: the
//! same attempts must work on it, or the test proves nothing.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use evq_hosted::console::{self, Console};

const DEADLINE: Duration = Duration::from_secs(20);
/// The uid the system and the attacker run as when the test is root.
const NOBODY: u32 = 65534;

/// What the attacker reached in one process.
#[derive(Debug, PartialEq, Eq)]
struct Reach {
    /// It opened `/proc/PID/fd`.
    listed_fds: bool,
    /// Descriptors it took with `pidfd_getfd`.
    took: Vec<i32>,
}

/// Forks a child that becomes `uid` (when the test is root) and tries to
/// reach into each of `pids`; returns what it reached in each.
fn attack(uid: Option<u32>, pids: &[i32]) -> Vec<Reach> {
    const FDS: i32 = 64;
    let paths: Vec<CString> = pids.iter().map(|p| CString::new(format!("/proc/{p}/fd")).unwrap()).collect();
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let [read_end, write_end] = pipe;
    // SAFETY: the child makes only async-signal-safe calls (setgroups,
    // setgid, setuid, open, close, syscall, write, _exit) on memory made
    // before the fork, and never returns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: as above; the results go up the pipe, one byte per try.
        unsafe {
            if let Some(uid) = uid {
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                    libc::_exit(3);
                }
            }
            for (i, &target) in pids.iter().enumerate() {
                let dir = libc::open(paths[i].as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
                let listed: u8 = u8::from(dir >= 0);
                if dir >= 0 {
                    libc::close(dir);
                }
                libc::write(write_end, (&raw const listed).cast(), 1);
                let pidfd = libc::syscall(libc::SYS_pidfd_open, target, 0) as i32;
                for fd in 0..FDS {
                    let got = if pidfd < 0 { -1 } else { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) as i32 };
                    let took: u8 = u8::from(got >= 0);
                    if got >= 0 {
                        libc::close(got);
                    }
                    libc::write(write_end, (&raw const took).cast(), 1);
                }
            }
            libc::_exit(0);
        }
    }
    // SAFETY: the parent's copy of the write end is its own to close.
    unsafe { libc::close(write_end) };
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reads into a live buffer of its length.
        let n = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n as usize]);
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above; closes our read end.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        libc::close(read_end);
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the attacker could not become uid {uid:?}");
    assert_eq!(bytes.len(), pids.len() * (1 + FDS as usize), "the attacker reported every try");
    bytes
        .chunks(1 + FDS as usize)
        .map(|c| Reach { listed_fds: c[0] == 1, took: (0..FDS).filter(|&fd| c[1 + fd as usize] == 1).collect() })
        .collect()
}

/// Whether `evq stats` (the binary `exe`, which any uid may run) run as
/// `uid` can connect to the console at `path`.
fn can_connect(exe: &std::path::Path, uid: Option<u32>, path: &std::path::Path) -> bool {
    let mut cmd = Command::new(exe);
    cmd.arg("stats").arg("--console").arg(path).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.status().expect("evq stats").success()
}

/// The system under test, stopped and cleaned up however the test ends.
struct Running {
    run: Child,
    control: Child,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(c) = Console::connect(&self.dir.join("console")) {
            let _ = c.request(&console::Request::Shutdown);
        }
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline && !matches!(self.run.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for child in [&mut self.run, &mut self.control] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_process_of_the_systems_own_uid_can_take_no_descriptor_of_the_launcher_or_any_domain() {
    // SAFETY: plain getuid.
    let root = unsafe { libc::getuid() } == 0;
    let uid = root.then_some(NOBODY);
    let dir = std::env::temp_dir().join(format!("evq-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Where the system runs as another uid, it needs its own copy of the
    // binary and a directory it may write its console socket in.
    let exe = dir.join("evq");
    std::fs::copy(env!("CARGO_BIN_EXE_evq"), &exe).expect("copy evq");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod evq");
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).expect("chown the temp dir");
    }
    let as_uid = |cmd: &mut Command| {
        if let Some(uid) = uid {
            // (std drops the supplementary groups when root sets a uid.)
            cmd.uid(uid).gid(uid);
        }
    };
    let path = dir.join("console");
    let mut run = Command::new(&exe);
    run.args(["run", "--no-netns", "--console"]).arg(&path).stdin(Stdio::null()).stdout(Stdio::null());
    as_uid(&mut run);
    let mut control = Command::new("sleep");
    control.arg("60").stdin(Stdio::null());
    as_uid(&mut control);
    let running = Running { run: run.spawn().expect("evq run starts"), control: control.spawn().expect("sleep"), dir };

    let console = Console::connect_within(&path, DEADLINE).expect("the system comes up");
    let deadline = Instant::now() + DEADLINE;
    let domains = loop {
        let status = console.status().expect("status");
        let started: Vec<(String, i32)> =
            status.domains.iter().filter_map(|d| Some((d.name.clone(), d.pid?))).collect();
        if started.len() >= 4 {
            break started;
        }
        assert!(Instant::now() < deadline, "the domains did not all start: {status:#?}");
        std::thread::sleep(Duration::from_millis(10));
    };

    let mut targets = vec![("launcher".to_string(), running.run.id() as i32)];
    targets.extend(domains);
    targets.push(("control".to_string(), running.control.id() as i32));
    let pids: Vec<i32> = targets.iter().map(|t| t.1).collect();
    let reach = attack(uid, &pids);

    if root {
        // A user namespace owned by the uid would hand it CAP_SYS_PTRACE
        // over the domains, and non-dumpable would not hold.
        let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/user")).expect("read a user namespace");
        let launcher = ns(pids[0]);
        for (name, pid) in &targets[1..targets.len() - 1] {
            assert_eq!(ns(*pid), launcher, "{name} is in a user namespace of its own");
        }
    }
    // The console: the system's uid may connect, and no other (mode 0600).
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(std::fs::metadata(&path).expect("the console socket").mode() & 0o777, 0o600);
    if root {
        assert!(!can_connect(&exe, Some(NOBODY - 1), &path), "a process of another uid connected to the console");
        assert!(can_connect(&exe, uid, &path), "the system's own uid cannot connect to its console");
    }
    let (control, system) = reach.split_last().expect("the control's result");
    assert!(
        control.listed_fds && control.took.contains(&0),
        "the control, a plain process of the same uid, must be reachable, or this test proves nothing: {control:?}"
    );
    for ((name, pid), got) in targets.iter().zip(system) {
        assert_eq!(
            got,
            &Reach { listed_fds: false, took: vec![] },
            "{name} (pid {pid}) is reachable by another process of its uid"
        );
    }
}
