//! Watching the domains: `SIGCHLD` and `waitpid` are the hosted fault
//! endpoint. The shell turns what it sees into the supervisor core's inputs
//! (a domain started; exited with a code; was killed by a signal, which
//! [`fault_kind`] translates into the fault it stands for) and carries out
//! the duties the core answers with, in order: each event is published
//! through the launcher's own ingest ring, which never waits for the
//! server (a full ring drops the event and counts it), each client gone is
//! told to the server by call on the launcher's endpoint (`ClientGone`).
//! The one exception is the last word, System SHUTDOWN: it is published by
//! call (the call-based `PUBLISH`), because the launcher must know the
//! server has taken it, and with it everything the ring held before it,
//! before it stops the domains. What those inputs mean (which events, in
//! which order, when the system stops) is `evq_supervisor`'s, the same as
//! for the seL4 root task.

use std::io;
use std::time::Duration;

use evq_abi::event::process;
use evq_supervisor::{Duty, Fault, Supervisor, Verdict};

use super::{ended, err, Launcher, State};
use crate::sys::{self, Ended};

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

/// How long the launcher's call-based publish waits out back-pressure (a
/// lossless client that holds the launcher's events back) before it gives
/// up on the event.
const ACKNOWLEDGED_PATIENCE: Duration = Duration::from_secs(1);

/// What the supervisor core is told.
type Input<'a> = &'a mut dyn FnMut(&mut Supervisor<'static>, &mut dyn FnMut(Duty)) -> Verdict;

impl Launcher {
    /// Tells the supervisor `input` and carries out its duties, in order;
    /// returns its verdict. Its events go through the launcher's ingest
    /// ring.
    fn supervise(&mut self, input: Input<'_>) -> io::Result<Verdict> {
        self.supervise_with(input, false)
    }

    /// [`Launcher::supervise`], with the events published by call when
    /// `acknowledged`: they are in the clients' rings when this returns.
    fn supervise_with(&mut self, input: Input<'_>, acknowledged: bool) -> io::Result<Verdict> {
        let mut duties = Vec::new();
        let verdict = input(&mut self.supervisor, &mut |d| duties.push(d));
        for duty in duties {
            match duty {
                Duty::Publish(notice) if acknowledged => self
                    .root
                    .link()
                    .publish_by_call(&[notice.event()], ACKNOWLEDGED_PATIENCE)
                    .map_err(|e| err(format!("publishing the launcher's event: {e}")))?,
                Duty::Publish(notice) => self
                    .root
                    .publish_one(notice.event())
                    .map_err(|e| err(format!("publishing the launcher's event: {e}")))?,
                Duty::ClientGone { badge } => self.client_gone(badge)?,
            }
        }
        Ok(verdict)
    }

    fn client_gone(&mut self, badge: u64) -> io::Result<()> {
        // Ok(false): already forgotten (it never made itself known again).
        self.root
            .client_gone(badge)
            .map(drop)
            .map_err(|e| err(format!("telling the server client {badge:#x} is gone: {e}")))
    }

    /// Starts every domain the launcher starts, the server (already
    /// running) reported first.
    pub(super) fn start(&mut self) -> io::Result<()> {
        let (server_id, _) = self.system.server().ok_or_else(|| err("no server"))?;
        self.supervise(&mut |s, d| s.started(server_id, d))?;
        for i in 0..self.system.domains.len() {
            if matches!(self.states[i], State::NotStarted) {
                self.spawn(i, None)?;
                let id = i as u32 + 1;
                self.supervise(&mut |s, d| s.started(id, d))?;
            }
        }
        self.supervise(&mut |s, d| s.all_started(d))?;
        Ok(())
    }

    /// Reaps every ended child and reports it. `Some(code)` if the system
    /// cannot go on (its server ended).
    pub(super) fn reap_all(&mut self) -> io::Result<Option<i32>> {
        while let Some((pid, how)) = sys::reap() {
            let Some(index) = self.states.iter().position(|s| matches!(s, State::Running(p) if *p == pid)) else {
                continue;
            };
            self.states[index] = State::Ended(how);
            let name = self.system.domains[index].name;
            let id = index as u32 + 1;
            let verdict = match how {
                Ended::Exited(code) => {
                    self.log(&format!("{name} (pid {pid}) exited with {code}"));
                    self.supervise(&mut |s, d| s.exited(id, i64::from(code), d))?
                }
                Ended::Signalled(sig) => {
                    eprintln!("evq: domain {name} (pid {pid}) was killed by {}", signal_name(sig));
                    // A signal says nothing of where: no address, no
                    // instruction pointer.
                    let fault = Fault { kind: fault_kind(sig), address: 0, ip: 0 };
                    self.supervise(&mut |s, d| s.faulted(id, fault, d))?
                }
            };
            if verdict == Verdict::Stops {
                eprintln!("evq: the event server is gone ({}); stopping the system", ended(how));
                return Ok(Some(1));
            }
        }
        Ok(None)
    }

    /// A console process took attach slot `index`.
    pub(super) fn attached(&mut self, index: usize) -> io::Result<()> {
        let id = index as u32 + 1;
        self.supervise(&mut |s, d| s.started(id, d)).map(drop)
    }

    /// The console process holding attach slot `index` went: the domain
    /// ended, as if it had exited with 0.
    pub(super) fn detached(&mut self, index: usize) -> io::Result<()> {
        let id = index as u32 + 1;
        self.supervise(&mut |s, d| s.exited(id, 0, d)).map(drop)
    }

    /// The system is stopping: the supervisor's last word, by call, so
    /// that it is in the clients' rings before the domains are stopped.
    pub(super) fn shutdown(&mut self) -> io::Result<()> {
        self.supervise_with(&mut |s, d| s.shutdown(d), true).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_deadly_signal_is_the_fault_it_stands_for() {
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            assert_eq!(fault_kind(sig), process::fault::VM, "{}", signal_name(sig));
        }
        for sig in [libc::SIGILL, libc::SIGFPE, libc::SIGTRAP] {
            assert_eq!(fault_kind(sig), process::fault::USER_EXCEPTION, "{}", signal_name(sig));
        }
        assert_eq!(fault_kind(libc::SIGSYS), process::fault::UNKNOWN_SYSCALL, "a seccomp kill");
        for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGABRT] {
            assert_eq!(fault_kind(sig), process::fault::OTHER, "{}", signal_name(sig));
        }
    }

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(64), "signal 64");
    }
}
