//! The launcher: the hosted root task.
//!
//! It reads the system description, makes every capability the description
//! grants (a seqpacket socket pair per endpoint, an eventfd per notification,
//! the boot information, the drivers' host devices), and starts each domain
//! as a process of the `evq` binary (`evq __domain NAME`) holding exactly its
//! capabilities at fixed descriptors ([`crate::boot`]), with every other
//! descriptor closed, a clean environment, and no way to outlive the
//! launcher. It then watches them: an exit becomes a Process EXIT event, a
//! death by signal a Process FAULT event, and a client's end a `ClientGone`,
//! all published on the launcher's own badged endpoint (source id 1). It
//! serves the console ([`crate::console`]) for processes outside the system.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evq_abi::event::{process, system as sys_kind, Category, ExitPayload, FaultPayload, Priority};
use evq_abi::msg::{Event, Reply, Request};
use evq_system::{Domain, Grant, Role, System, ROOT_BADGE};
use zerocopy::IntoBytes;

use crate::admin;
use crate::boot::{self, image, Cap};
use crate::console::{self, DomainStatus, Status};
use crate::net::Net;
use crate::seccomp::{self, Support};
use crate::sys::{self, Ended};
use crate::wire::Endpoint;

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
    system: System<'static>,
    opts: Options,
    boot: OwnedFd,
    admin: OwnedFd,
    root: Endpoint,
    /// Client notifications by client name; the launcher keeps one copy of
    /// each to give to the server and to whoever runs the client.
    client_notes: BTreeMap<&'static str, OwnedFd>,
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

/// Runs a system until it is asked to stop (console `shutdown`, SIGINT or
/// SIGTERM) or its server dies. Returns the process exit code.
pub fn run(opts: Options) -> io::Result<i32> {
    let system = evq_system::parse(&opts.system_text).map_err(|e| io::Error::other(e.to_string()))?;
    let signals = sys::launcher_signalfd()?;
    let mut launcher = Launcher::new(system, opts)?;
    let code = launcher.start().and_then(|()| launcher.serve(&signals));
    launcher.stop();
    let _ = std::fs::remove_file(&launcher.opts.console);
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

/// The fault kind a deadly signal stands for (`docs/protocol.md` §3.1).
pub fn fault_kind(signal: i32) -> u32 {
    match signal {
        libc::SIGSEGV | libc::SIGBUS => process::fault::VM,
        libc::SIGILL | libc::SIGFPE | libc::SIGTRAP => process::fault::USER_EXCEPTION,
        libc::SIGSYS => process::fault::UNKNOWN_SYSCALL,
        _ => process::fault::OTHER,
    }
}

/// A signal's name, for messages.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGINT => "SIGINT",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

impl Launcher {
    fn new(system: System<'static>, opts: Options) -> io::Result<Self> {
        let boot = boot::make_boot_info(&opts.system_text)?;
        let (admin, server_admin) = sys::seqpacket_pair()?;
        let (root_srv, root_dom) = sys::seqpacket_pair()?;
        let mut client_notes = BTreeMap::new();
        for d in system.domains {
            if let Role::Client { .. } = d.role {
                client_notes.insert(d.name, sys::eventfd()?);
            }
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
        let mut launcher = Launcher {
            system,
            opts,
            boot,
            admin,
            root: Endpoint::new(root_dom)?,
            client_notes,
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
        Ok(launcher)
    }

    fn log(&self, msg: &str) {
        if self.opts.verbose {
            eprintln!("evq run [{:>7.3}s]: {msg}", self.started.elapsed().as_secs_f64());
        }
    }

    /// Hands the server its end of `badge`'s endpoint.
    fn give_endpoint(&self, badge: u64, server_end: OwnedFd) -> io::Result<()> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_ENDPOINT, badge), &[server_end.as_fd()], false)?;
        Ok(())
    }

    /// The capabilities of domain `index`, made or copied for it, as the
    /// descriptors to place. `made` keeps the ones made for this start alive
    /// until the process has them.
    fn caps_for(
        &mut self,
        index: usize,
        admin: &mut Option<OwnedFd>,
        made: &mut Vec<OwnedFd>,
    ) -> io::Result<Vec<RawFd>> {
        let d: &'static Domain<'static> = &self.system.domains[index];
        let mut fds = Vec::new();
        for cap in boot::layout(&self.system, d) {
            let fd = match cap {
                Cap::Boot => self.boot.as_raw_fd(),
                Cap::Admin => {
                    let a = admin.take().ok_or_else(|| err("the server is started once"))?;
                    made.push(a);
                    made.last().map(|f| f.as_raw_fd()).unwrap_or(-1)
                }
                Cap::Grant(Grant::ServerEndpoint { badge, .. }) => {
                    let (srv, dom) = sys::seqpacket_pair()?;
                    self.give_endpoint(badge, srv)?;
                    made.push(dom);
                    made.last().map(|f| f.as_raw_fd()).unwrap_or(-1)
                }
                Cap::Grant(Grant::ClientNotification { client, .. }) => {
                    self.client_notes.get(client).ok_or_else(|| err("no such client"))?.as_raw_fd()
                }
                Cap::Grant(Grant::Notification { name, .. }) => {
                    self.notes.get(name).ok_or_else(|| err("no such notification"))?.as_raw_fd()
                }
                // Described endpoints between domains (a driver's own
                // protocol) are not carried yet: the hosted VFS domain's
                // requests come over `Cap::VfsRequests` instead.
                Cap::Grant(other) => {
                    return Err(err(format!("{}: {other:?} is not carried on the hosted platform yet", d.name)))
                }
                Cap::Pty => self.pty.as_ref().ok_or_else(|| err("no terminal"))?.0.as_raw_fd(),
                Cap::Timer => {
                    made.push(sys::timerfd()?);
                    made.last().map(|f| f.as_raw_fd()).unwrap_or(-1)
                }
                Cap::Netlink => self.net.as_ref().ok_or_else(|| err("no network"))?.domain_socket().as_raw_fd(),
                Cap::VfsRequests => self.vfs.as_ref().ok_or_else(|| err("no vfs endpoint"))?.1.as_raw_fd(),
            };
            fds.push(fd);
        }
        Ok(fds)
    }

    fn spawn(&mut self, index: usize, admin: Option<OwnedFd>) -> io::Result<i32> {
        let d = &self.system.domains[index];
        let mut admin = admin;
        let mut made = Vec::new();
        let fds = self.caps_for(index, &mut admin, &mut made)?;
        if fds.len() > sys::MAX_PLACED_FDS {
            return Err(err(format!(
                "domain {} holds {} capabilities, more than the {} a hosted domain can be given",
                d.name,
                fds.len(),
                sys::MAX_PLACED_FDS
            )));
        }
        let launcher_pid = std::process::id() as i32;
        let mut cmd = Command::new(&self.opts.exe);
        cmd.arg("__domain").arg(d.name).env_clear().stdin(Stdio::null());
        if self.opts.no_seccomp {
            cmd.env(seccomp::DISABLE_ENV, "1");
        }
        if let Some(v) = std::env::var_os("RUST_BACKTRACE") {
            cmd.env("RUST_BACKTRACE", v);
        }
        // SAFETY: the closure runs between fork and exec and makes only
        // async-signal-safe calls (sigprocmask, signal, prctl, getppid,
        // fcntl, dup2, close_range); `fds` was built before the fork.
        unsafe {
            cmd.pre_exec(move || {
                sys::reset_signals();
                sys::die_with_parent()?;
                if libc::getppid() != launcher_pid {
                    libc::_exit(1);
                }
                sys::place_fds(&fds, boot::BOOT_FD)
            });
        }
        let child = cmd.spawn().map_err(|e| err(format!("starting domain {}: {e}", d.name)))?;
        let pid = child.id() as i32;
        // The child is reaped through SIGCHLD, not through `Child`.
        drop(child);
        drop(made);
        self.states[index] = State::Running(pid);
        self.log(&format!("started {} (id {}, pid {pid})", d.name, index + 1));
        Ok(pid)
    }

    fn start(&mut self) -> io::Result<()> {
        let (server_id, _) = self.system.server().ok_or_else(|| err("no server"))?;
        self.process_event(server_id, process::START, &[])?;
        self.publish(Category::System, sys_kind::UP, 0, Priority::Normal, &[])?;
        for i in 0..self.system.domains.len() {
            if matches!(self.states[i], State::NotStarted) {
                self.spawn(i, None)?;
                self.process_event(i as u32 + 1, process::START, &[])?;
            }
        }
        self.publish(Category::System, sys_kind::DOMAIN_SET_COMPLETE, 0, Priority::Normal, &[])?;
        Ok(())
    }

    fn publish(
        &self,
        category: Category,
        kind: u8,
        object_id: u64,
        priority: Priority,
        payload: &[u8],
    ) -> io::Result<()> {
        let event = Event { category, kind, type_flags: 0, priority, object_id, payload };
        match self.root.call(&Request::Publish(event)) {
            Ok((Reply::Published { .. }, _)) => Ok(()),
            Ok((reply, _)) => Err(err(format!("the server refused the launcher's event: {reply:?}"))),
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn process_event(&self, domain_id: u32, kind: u8, payload: &[u8]) -> io::Result<()> {
        let priority = if kind == process::FAULT { Priority::Critical } else { Priority::Normal };
        self.publish(Category::Process, kind, u64::from(domain_id), priority, payload)
    }

    fn client_gone(&self, badge: u64) -> io::Result<()> {
        match self.root.call(&Request::ClientGone { client: badge }) {
            Ok((Reply::Done, _)) => Ok(()),
            // Already forgotten (it never made itself known again): fine.
            Ok((Reply::Error { .. }, _)) => Ok(()),
            Ok((reply, _)) => Err(err(format!("unexpected reply to ClientGone: {reply:?}"))),
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn serve(&mut self, signals: &OwnedFd) -> io::Result<i32> {
        let listener = sys::listen_seqpacket(&self.opts.console)?;
        sys::set_nonblocking(listener.as_fd())?;
        println!("evq: system {:?} is up; console at {}", self.system.board, self.opts.console.display());
        if let Some((_, _, path)) = self.pty.as_ref().filter(|p| !p.2.is_empty()) {
            println!("evq: the device driver's terminal is {path}");
        }
        if let Some(net) = &self.net {
            println!("evq: the network driver watches {}", net.describe());
        }
        if self.seccomp != "on" {
            println!("evq: seccomp filter: {}", self.seccomp);
        }
        loop {
            let ready = {
                let mut fds = vec![signals.as_fd(), listener.as_fd()];
                fds.extend(self.conns.iter().map(|c| c.fd.as_fd()));
                sys::poll(&fds, None)?
            };
            if ready[0] {
                for sig in sys::read_signals(signals.as_fd()) {
                    if sig == libc::SIGINT || sig == libc::SIGTERM {
                        self.log(&format!("{} received: stopping", signal_name(sig)));
                        return Ok(0);
                    }
                }
                if let Some(code) = self.reap_all()? {
                    return Ok(code);
                }
            }
            if ready[1] {
                while let Ok(fd) = sys::accept(listener.as_fd()) {
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

    /// Reaps every ended child and reports it. `Some(code)` if the system
    /// cannot go on (its server died).
    fn reap_all(&mut self) -> io::Result<Option<i32>> {
        while let Some((pid, how)) = sys::reap() {
            let Some(index) = self.states.iter().position(|s| matches!(s, State::Running(p) if *p == pid)) else {
                continue;
            };
            self.states[index] = State::Ended(how);
            let d = &self.system.domains[index];
            let id = index as u32 + 1;
            match how {
                Ended::Exited(code) => {
                    self.log(&format!("{} (pid {pid}) exited with {code}", d.name));
                    let payload = ExitPayload { code: (code as i64 as u64).into() };
                    self.process_event_or_fail(id, process::EXIT, payload.as_bytes(), d)?;
                }
                Ended::Signalled(sig) => {
                    eprintln!("evq: domain {} (pid {pid}) was killed by {}", d.name, signal_name(sig));
                    let payload = FaultPayload {
                        kind: fault_kind(sig).into(),
                        reserved: 0.into(),
                        address: 0.into(),
                        ip: 0.into(),
                    };
                    self.process_event_or_fail(id, process::FAULT, payload.as_bytes(), d)?;
                }
            }
            if matches!(d.role, Role::Server { .. }) {
                eprintln!("evq: the event server is gone ({how:?}); stopping the system");
                return Ok(Some(1));
            }
            if let Role::Client { badge } = d.role {
                self.client_gone(badge)?;
            }
        }
        Ok(None)
    }

    fn process_event_or_fail(&self, id: u32, kind: u8, payload: &[u8], d: &Domain<'_>) -> io::Result<()> {
        if matches!(d.role, Role::Server { .. }) {
            // Nobody to tell.
            return Ok(());
        }
        self.process_event(id, kind, payload)
    }

    /// Handles one console datagram; `true` when asked to stop.
    fn console_message(&mut self, conn: u64) -> io::Result<bool> {
        let Some(pos) = self.conns.iter().position(|c| c.id == conn) else {
            return Ok(false);
        };
        let mut buf = vec![0u8; console::MAX_MESSAGE];
        let got = sys::recv(self.conns[pos].fd.as_fd(), &mut buf, 0, true);
        let got = match got {
            Ok(Some(g)) => g,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Ok(None) | Err(_) => {
                self.conns.remove(pos);
                self.detach_all(conn)?;
                return Ok(false);
            }
        };
        let (reply, fds, stop) = match serde_json::from_slice::<console::Request>(&buf[..got.len]) {
            Ok(request) => self.console_request(conn, request)?,
            Err(e) => (console::Reply::Error { message: format!("bad request: {e}") }, Vec::new(), false),
        };
        let out = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
        if sys::send(self.conns[pos].fd.as_fd(), &out, &borrowed, true).is_err() {
            self.log("a console reply could not be sent");
        }
        Ok(stop)
    }

    fn console_request(
        &mut self,
        conn: u64,
        request: console::Request,
    ) -> io::Result<(console::Reply, Vec<OwnedFd>, bool)> {
        let done = |output: String| console::Reply::Done { output };
        let refuse = |message: String| console::Reply::Error { message };
        Ok(match request {
            console::Request::Attach { domain, role } => match self.attach(conn, domain.as_deref(), &role) {
                Ok((reply, fds)) => (reply, fds, false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
            console::Request::Status => (console::Reply::Status(Box::new(self.status()?)), Vec::new(), false),
            console::Request::Shutdown => (done("stopping".into()), Vec::new(), true),
            console::Request::Link { up } => match self.net.as_mut().map(|n| n.set_link(up)) {
                Some(Ok(s)) => (done(s), Vec::new(), false),
                Some(Err(e)) => (refuse(e.to_string()), Vec::new(), false),
                None => (refuse("this system has no network driver".into()), Vec::new(), false),
            },
            console::Request::Traffic { packets } => match self.net.as_mut().map(|n| n.traffic(packets)) {
                Some(Ok(s)) => (done(s), Vec::new(), false),
                Some(Err(e)) => (refuse(e.to_string()), Vec::new(), false),
                None => (refuse("this system has no network driver".into()), Vec::new(), false),
            },
            console::Request::Fs { args } => match crate::vfs_domain::forward(self.vfs.as_ref().map(|v| &v.0), &args) {
                Ok(s) => (done(s), Vec::new(), false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
        })
    }

    fn attach(&mut self, conn: u64, name: Option<&str>, role: &str) -> io::Result<(console::Reply, Vec<OwnedFd>)> {
        let index = match name {
            Some(n) => {
                let (id, d) = self.system.domain(n).ok_or_else(|| err(format!("no domain {n:?}")))?;
                if d.image != image::ATTACH {
                    return Err(err(format!("{n} is not an attach slot (its image is {:?})", d.image)));
                }
                if !matches!(self.states[id as usize - 1], State::Free) {
                    return Err(err(format!("{n} is taken")));
                }
                id as usize - 1
            }
            None => self
                .system
                .domains
                .iter()
                .enumerate()
                .position(|(i, d)| {
                    d.image == image::ATTACH && role_name(&d.role) == role && matches!(self.states[i], State::Free)
                })
                .ok_or_else(|| err(format!("no free {role} slot: every attach slot of that role is taken")))?,
        };
        let d: &'static Domain<'static> = &self.system.domains[index];
        let Some(badge) = d.badge() else {
            return Err(err(format!("{} has no endpoint", d.name)));
        };
        let (srv, dom) = sys::seqpacket_pair()?;
        self.give_endpoint(badge, srv)?;
        let mut fds = vec![dom];
        if let Some(note) = self.client_notes.get(d.name) {
            // A stale signal from the slot's last holder would only cause
            // one spurious wake-up; clear it anyway.
            let _ = sys::drain(note.as_fd());
            fds.push(note.try_clone()?);
        }
        let pid = self.conns.iter().find(|c| c.id == conn).and_then(|c| sys::peer_pid(c.fd.as_fd()).ok());
        self.states[index] = State::Attached { conn, pid };
        self.process_event(index as u32 + 1, process::START, &[])?;
        self.log(&format!("{} attached (pid {pid:?})", d.name));
        Ok((console::Reply::Attached { domain: d.name.into(), id: index as u32 + 1, badge }, fds))
    }

    /// A console connection closed: the slots it held are free again, and
    /// their domains are reported gone.
    fn detach_all(&mut self, conn: u64) -> io::Result<()> {
        for index in 0..self.states.len() {
            if !matches!(self.states[index], State::Attached { conn: c, .. } if c == conn) {
                continue;
            }
            self.states[index] = State::Free;
            let d = &self.system.domains[index];
            self.log(&format!("{} detached", d.name));
            let payload = ExitPayload { code: 0u64.into() };
            self.process_event(index as u32 + 1, process::EXIT, payload.as_bytes())?;
            if let Role::Client { badge } = d.role {
                self.client_gone(badge)?;
            }
        }
        Ok(())
    }

    fn server_status(&self) -> io::Result<admin::ServerStatus> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_STATUS, 0), &[], false)?;
        let mut buf = vec![0u8; console::MAX_MESSAGE];
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
                    State::Ended(Ended::Exited(c)) => (None, format!("exited {c}")),
                    State::Ended(Ended::Signalled(s)) => (None, format!("killed by {}", signal_name(*s))),
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
        Ok(Status {
            board: self.system.board.into(),
            seccomp: self.seccomp.into(),
            network: self.net.as_ref().map(|n| n.describe()).unwrap_or_else(|| "none".into()),
            pty: self.pty.as_ref().map(|p| p.2.clone()).filter(|p| !p.is_empty()),
            domains,
            server: self.server_status()?,
        })
    }

    /// Stops every domain: the system's SHUTDOWN event first, then SIGTERM,
    /// then SIGKILL for any still running after a grace period.
    fn stop(&mut self) {
        let server_alive = self
            .states
            .iter()
            .zip(self.system.domains)
            .any(|(s, d)| matches!(d.role, Role::Server { .. }) && matches!(s, State::Running(_)));
        if server_alive {
            let _ = self.publish(Category::System, sys_kind::SHUTDOWN, 0, Priority::Critical, &[]);
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
