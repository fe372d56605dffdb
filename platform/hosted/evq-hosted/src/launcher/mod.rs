//! The launcher: the hosted root task.
//!
//! It reads the system description, makes every capability the description
//! grants (a seqpacket socket pair per endpoint, an eventfd per notification,
//! the boot information, the drivers' host devices), and starts each domain
//! as a process of the `evq` binary (`evq __domain NAME`) with every
//! descriptor closed but the boot information and a hand-off socket, a
//! clean environment, and no way to outlive the launcher; once the domain
//! has made itself non-dumpable it is handed exactly its capabilities, which
//! it places at fixed descriptors ([`crate::boot`], `spawn.rs`). It then watches them (`supervise.rs`): what a
//! start, an exit or a death by signal means is the `evq-supervisor` core's
//! to say, the same as for the seL4 root task; the launcher publishes the
//! events it names through its own ingest ring (source id 1), never
//! waiting for the server (a full ring drops and counts), and reports the
//! clients it names gone by call on its badged endpoint. Every source's
//! ingest ring is the launcher's to make, as the seL4 root task makes it:
//! a memfd laid out for each source it starts and for itself, and a fresh
//! one at each attach of a console source slot, handed to the source and
//! to the server, with the slot's doorbell and room eventfds
//! ([`crate::ingest`]). It serves the console (`console.rs`, protocol in
//! [`crate::console`]) for processes outside the system, forwards `evq fs`
//! to the VFS domain (`fs.rs`), and keeps the network driver's interface
//! (`net.rs`).

mod console;
mod fs;
mod net;
mod spawn;
mod supervise;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use evq_source::WhenFull;
use evq_supervisor::Supervisor;
use evq_system::{Role, System, ROOT_BADGE, ROOT_INGEST_PAGES};

use crate::admin;
use crate::boot::{self, image};
use crate::console::{DomainStatus, Status, MAX_MESSAGE};
use crate::ingest::{self, Publisher, SourceLink};
use crate::seccomp::{self, Support};
use crate::sys::{self, Ended};
use crate::wire::Endpoint;
use net::Net;

pub use supervise::{fault_kind, signal_name};

/// How the launcher is asked to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The description's text.
    pub system_text: String,
    /// Where to open the console.
    pub console: PathBuf,
    /// The `evq` executable to start domains from.
    pub exe: PathBuf,
    /// Run domains without the seccomp filter (debugging).
    pub no_seccomp: bool,
    /// Do not try to make a network namespace (use loopback).
    pub no_netns: bool,
    /// Print what happens to domains on standard error.
    pub verbose: bool,
}

#[derive(Debug)]
enum State {
    NotStarted,
    Running(i32),
    Ended(Ended),
    /// An attach slot with no holder.
    Free,
    /// An attach slot held over console connection `conn`.
    Attached {
        conn: u64,
        pid: Option<i32>,
    },
}

struct Conn {
    id: u64,
    fd: OwnedFd,
}

struct Launcher {
    system: &'static System<'static>,
    /// What the system's starts, faults and exits mean.
    supervisor: Supervisor<'static>,
    opts: Options,
    boot: OwnedFd,
    admin: OwnedFd,
    /// The launcher's own source: the supervisor's events through its
    /// ingest ring, `ClientGone` by call.
    root: Publisher,
    /// Client notifications by client name; the launcher keeps one copy of
    /// each to give to the server and to whoever runs the client (a console
    /// slot's is replaced at each attach).
    client_notes: BTreeMap<&'static str, OwnedFd>,
    /// Each source's doorbell and room eventfds by badge (the launcher's
    /// own too), made at start, a console slot's afresh at each attach.
    source_notes: BTreeMap<u64, (OwnedFd, OwnedFd)>,
    /// Described notifications by name.
    notes: BTreeMap<&'static str, OwnedFd>,
    states: Vec<State>,
    pty: Option<(OwnedFd, OwnedFd, String)>,
    net: Option<Net>,
    vfs: Option<(OwnedFd, OwnedFd)>,
    seccomp: &'static str,
    conns: Vec<Conn>,
    next_conn: u64,
    started: Instant,
}

/// Runs a system until it is asked to stop (console `shutdown`, SIGINT,
/// SIGTERM or SIGHUP) or its server ends. Returns the process exit code: 0, or 1 when
/// the server ended.
pub fn run(opts: Options) -> io::Result<i32> {
    // The launcher holds every capability of the system: no other process
    // of its uid may take one from it (`crate::boot` says how each domain
    // does the same).
    sys::set_undumpable().map_err(|e| err(format!("becoming non-dumpable: {e}")))?;
    let system = evq_system::parse(&opts.system_text).map_err(|e| io::Error::other(e.to_string()))?;
    crate::domains::check(&system)?;
    // The console path is claimed before anything starts, so that a path
    // that cannot be ours stops `evq run` at once (the listener removes the
    // socket when it goes, if it is still ours).
    let listener = sys::listen_seqpacket(&opts.console)?;
    sys::set_nonblocking(listener.fd())?;
    let signals = sys::launcher_signalfd()?;
    let mut launcher = Launcher::new(system, opts)?;
    let code = launcher.start().and_then(|()| launcher.serve(&signals, &listener));
    launcher.stop();
    code
}

fn err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn role_name(role: &Role) -> &'static str {
    match role {
        Role::Server { .. } => "server",
        Role::Source { .. } => "source",
        Role::Client { .. } => "client",
        Role::Plain => "plain",
    }
}

/// How a domain ended, in words.
fn ended(how: Ended) -> String {
    match how {
        Ended::Exited(c) => format!("exited {c}"),
        Ended::Signalled(s) => format!("killed by {}", signal_name(s)),
    }
}

impl Launcher {
    fn new(system: System<'static>, opts: Options) -> io::Result<Self> {
        // The description lives as long as the launcher, which is the
        // process; the supervisor reads it for as long.
        let system: &'static System<'static> = Box::leak(Box::new(system));
        let boot = boot::make_boot_info(&opts.system_text)?;
        let (admin, server_admin) = sys::seqpacket_pair()?;
        let (root_srv, root_dom) = sys::seqpacket_pair()?;
        let mut client_notes = BTreeMap::new();
        for d in system.domains {
            if let Role::Client { .. } = d.role {
                client_notes.insert(d.name, sys::eventfd()?);
            }
        }
        let mut source_notes = BTreeMap::new();
        for badge in boot::source_badges(system) {
            source_notes.insert(badge, (sys::eventfd()?, sys::eventfd()?));
        }
        let mut notes = BTreeMap::new();
        for n in system.notifications {
            notes.insert(n.name, sys::eventfd()?);
        }
        let has = |img: &str| system.domains.iter().any(|d| d.image == img);
        // The device driver reads a terminal; where no pseudo-terminal can be
        // had, it reads a pipe nobody writes (no input events; status says so).
        let pty = if has(image::DEVICE) {
            Some(sys::raw_pty().or_else(|e| {
                eprintln!("evq: no pseudo-terminal for the device driver ({e}); it gets no input");
                let (r, w) = sys::pipe()?;
                Ok::<_, io::Error>((r, w, String::new()))
            })?)
        } else {
            None
        };
        let net = if has(image::NETWORK) {
            let iface = system.domains.iter().find(|d| d.image == image::NETWORK).map(|d| d.args).unwrap_or("");
            Some(Net::setup(iface, !opts.no_netns)?)
        } else {
            None
        };
        let vfs = if has(image::VFS) { Some(sys::seqpacket_pair()?) } else { None };
        let seccomp = if opts.no_seccomp {
            "disabled"
        } else if seccomp::support() == Support::Available {
            "on"
        } else {
            "unavailable"
        };
        let states = system
            .domains
            .iter()
            .map(|d| if d.image == image::ATTACH { State::Free } else { State::NotStarted })
            .collect();
        let root_ring = ingest::make_ring(ROOT_INGEST_PAGES)?;
        let (doorbell, room) = source_notes.get(&ROOT_BADGE).ok_or_else(|| err("no root notifications"))?;
        // The supervisor must never wait for the server: a full ring drops
        // the event and counts it, and every client that could have had it
        // sees the loss.
        let root_link = SourceLink::new(
            Endpoint::new(root_dom)?,
            root_ring.try_clone()?,
            doorbell.try_clone()?,
            room.try_clone()?,
            WhenFull::Drop,
        )?;
        let mut launcher = Launcher {
            system,
            supervisor: Supervisor::new(system),
            opts,
            boot,
            admin,
            root: Publisher::new(root_link),
            client_notes,
            source_notes,
            notes,
            states,
            pty,
            net,
            vfs,
            seccomp,
            conns: Vec::new(),
            next_conn: 1,
            started: Instant::now(),
        };
        // The server is started first, holding its end of the supervisor
        // channel; then it is given the launcher's own endpoint.
        let (sid, _) = launcher.system.server().ok_or_else(|| err("the description has no server"))?;
        launcher.spawn(sid as usize - 1, Some(server_admin))?;
        launcher.give_endpoint(ROOT_BADGE, root_srv)?;
        launcher.give_ingest(ROOT_BADGE, &root_ring, None)?;
        Ok(launcher)
    }

    fn log(&self, msg: &str) {
        if self.opts.verbose {
            eprintln!("evq run [{:>7.3}s]: {msg}", self.started.elapsed().as_secs_f64());
        }
    }

    /// Says on standard output that the system is up, and where.
    fn announce(&self) -> io::Result<()> {
        use std::io::Write as _;
        let mut out = io::stdout().lock();
        writeln!(out, "evq: system {:?} is up; console at {}", self.system.board, self.opts.console.display())?;
        if let Some((_, _, path)) = self.pty.as_ref().filter(|p| !p.2.is_empty()) {
            writeln!(out, "evq: the device driver's terminal is {path}")?;
        }
        if let Some(net) = &self.net {
            writeln!(out, "evq: the network driver watches {}", net.describe())?;
        }
        if self.seccomp != "on" {
            writeln!(out, "evq: seccomp filter: {}", self.seccomp)?;
        }
        out.flush()
    }

    fn serve(&mut self, signals: &OwnedFd, listener: &sys::Listener) -> io::Result<i32> {
        match self.announce() {
            Ok(()) => {}
            // A closed standard output (`evq run | head -1`) is a quiet stop.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.log("standard output is closed: stopping");
                return Ok(0);
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("standard output: {e}"))),
        }
        let stdout = io::stdout();
        loop {
            let (ready, stdout_gone) = {
                let mut fds = vec![signals.as_fd(), listener.fd()];
                fds.extend(self.conns.iter().map(|c| c.fd.as_fd()));
                // Standard output is watched for its reader's going only
                // (`evq run | head -1`): that stops the system, quietly.
                sys::poll_or_hangup(&fds, Some(stdout.as_fd()), None)?
            };
            if stdout_gone {
                self.log("standard output's reader has gone: stopping");
                return Ok(0);
            }
            if ready[0] {
                for sig in sys::read_signals(signals.as_fd()) {
                    if matches!(sig, libc::SIGINT | libc::SIGTERM | libc::SIGHUP) {
                        self.log(&format!("{} received: stopping", signal_name(sig)));
                        return Ok(0);
                    }
                }
                if let Some(code) = self.reap_all()? {
                    return Ok(code);
                }
            }
            if ready[1] {
                while let Ok(fd) = sys::accept(listener.fd()) {
                    self.conns.push(Conn { id: self.next_conn, fd });
                    self.next_conn += 1;
                }
            }
            let ids: Vec<u64> = self.conns.iter().zip(&ready[2..]).filter(|(_, r)| **r).map(|(c, _)| c.id).collect();
            for id in ids {
                if self.console_message(id)? {
                    return Ok(0);
                }
            }
        }
    }

    fn server_status(&self) -> io::Result<admin::ServerStatus> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_STATUS, 0), &[], false)?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err("the server did not report its status"));
            }
            if sys::poll(&[self.admin.as_fd()], Some(left))?[0] {
                let got = sys::recv(self.admin.as_fd(), &mut buf, 0, true)?.ok_or_else(|| err("the server is gone"))?;
                return serde_json::from_slice(&buf[..got.len]).map_err(io::Error::other);
            }
        }
    }

    fn status(&self) -> io::Result<Status> {
        let domains = self
            .system
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (pid, state) = match &self.states[i] {
                    State::NotStarted => (None, "not started".to_string()),
                    State::Running(p) => (Some(*p), "running".to_string()),
                    State::Ended(how) => (None, ended(*how)),
                    State::Free => (None, "free".to_string()),
                    State::Attached { pid, .. } => (*pid, "attached".to_string()),
                };
                DomainStatus {
                    name: d.name.into(),
                    id: i as u32 + 1,
                    image: d.image.into(),
                    role: role_name(&d.role).into(),
                    badge: d.badge(),
                    pid,
                    state,
                }
            })
            .collect();
        let degraded = self
            .system
            .domains
            .iter()
            .zip(&self.states)
            .filter_map(|(d, state)| match state {
                State::Ended(how) if *how != Ended::Exited(0) => Some(format!("{} {}", d.name, ended(*how))),
                _ => None,
            })
            .collect();
        Ok(Status {
            board: self.system.board.into(),
            degraded,
            seccomp: self.seccomp.into(),
            network: self.net.as_ref().map(|n| n.describe()).unwrap_or_else(|| "none".into()),
            pty: self.pty.as_ref().map(|p| p.2.clone()).filter(|p| !p.is_empty()),
            domains,
            server: self.server_status()?,
        })
    }

    /// Stops every domain: the supervisor's last word first (SHUTDOWN,
    /// while the server can still take it), then SIGTERM, then SIGKILL for
    /// any still running after a grace period.
    fn stop(&mut self) {
        if let Err(e) = self.shutdown() {
            self.log(&format!("the shutdown event was not published: {e}"));
        }
        let running = |states: &[State]| -> Vec<i32> {
            states.iter().filter_map(|s| if let State::Running(p) = s { Some(*p) } else { None }).collect()
        };
        for pid in running(&self.states) {
            let _ = sys::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while !running(&self.states).is_empty() && Instant::now() < deadline {
            while let Some((pid, how)) = sys::reap() {
                if let Some(s) = self.states.iter_mut().find(|s| matches!(s, State::Running(p) if *p == pid)) {
                    *s = State::Ended(how);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for pid in running(&self.states) {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
        self.log("stopped");
    }
}

/// The `evq` executable, for starting domains.
pub fn current_exe() -> io::Result<PathBuf> {
    std::env::current_exe()
}

/// Whether `path` names an existing file.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
