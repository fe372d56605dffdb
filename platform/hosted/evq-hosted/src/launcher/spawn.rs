//! Starting a domain: making or copying each capability the description
//! grants it (and a source's ingest ring and notifications), and starting
//! the process with exactly those, at the descriptors
//! [`crate::boot::layout`] gives them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evq_system::{Domain, Grant};

use super::{err, Launcher, State};
use crate::admin;
use crate::boot::{self, Cap};
use crate::{ingest, seccomp, sys};

impl Launcher {
    /// Hands the server its end of `badge`'s endpoint.
    pub(super) fn give_endpoint(&self, badge: u64, server_end: OwnedFd) -> io::Result<()> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_ENDPOINT, badge), &[server_end.as_fd()], false)?;
        Ok(())
    }

    /// Hands the server the ingest ring of the source with `badge` (it
    /// lets go of the slot's previous one first), and with `notes` a fresh
    /// doorbell and room notification for it (it closes the old ones).
    pub(super) fn give_ingest(&self, badge: u64, ring: &OwnedFd, notes: Option<&(OwnedFd, OwnedFd)>) -> io::Result<()> {
        let mut fds = vec![ring.as_fd()];
        fds.extend(notes.iter().flat_map(|(bell, room)| [bell.as_fd(), room.as_fd()]));
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_INGEST, badge), &fds, false)?;
        Ok(())
    }

    /// A fresh ingest ring for source domain `d`, already handed to the
    /// server (with `notes`, fresh notifications too): the memfd to give
    /// the source.
    pub(super) fn new_ingest(&self, d: &Domain<'_>, notes: Option<&(OwnedFd, OwnedFd)>) -> io::Result<OwnedFd> {
        let (Some(badge), Some(pages)) = (d.badge(), d.ingest_ring_pages()) else {
            return Err(err(format!("{} is not a source: it has no ingest ring", d.name)));
        };
        let ring = ingest::make_ring(pages)?;
        self.give_ingest(badge, &ring, notes)?;
        Ok(ring)
    }

    /// Hands the server a fresh notification for the client with `badge`
    /// (it closes the old one).
    pub(super) fn give_notification(&self, badge: u64, note: &OwnedFd) -> io::Result<()> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_NOTIFY, badge), &[note.as_fd()], false)?;
        Ok(())
    }

    /// Source `badge`'s doorbell (`doorbell`) or room eventfd.
    fn source_note(&self, badge: Option<u64>, doorbell: bool) -> io::Result<RawFd> {
        let (bell, room) = badge.and_then(|b| self.source_notes.get(&b)).ok_or_else(|| err("no such source"))?;
        Ok(if doorbell { bell.as_raw_fd() } else { room.as_raw_fd() })
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
        for cap in boot::layout(self.system, d) {
            let fd = match cap {
                Cap::Boot => self.boot.as_raw_fd(),
                Cap::Admin => {
                    let a = admin.take().ok_or_else(|| err("the server is started once"))?;
                    let fd = a.as_raw_fd();
                    made.push(a);
                    fd
                }
                Cap::Grant(Grant::ServerEndpoint { badge, .. }) => {
                    let (srv, dom) = sys::seqpacket_pair()?;
                    self.give_endpoint(badge, srv)?;
                    let fd = dom.as_raw_fd();
                    made.push(dom);
                    fd
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
                    let timer = sys::timerfd()?;
                    let fd = timer.as_raw_fd();
                    made.push(timer);
                    fd
                }
                Cap::Netlink => self.net.as_ref().ok_or_else(|| err("no network"))?.domain_socket().as_raw_fd(),
                Cap::VfsRequests => self.vfs.as_ref().ok_or_else(|| err("no vfs endpoint"))?.1.as_raw_fd(),
                Cap::IngestRing => {
                    let ring = self.new_ingest(d, None)?;
                    let fd = ring.as_raw_fd();
                    made.push(ring);
                    fd
                }
                Cap::Doorbell => self.source_note(d.badge(), true)?,
                Cap::Room => self.source_note(d.badge(), false)?,
                Cap::SourceDoorbell { badge } => self.source_note(Some(badge), true)?,
                Cap::SourceRoom { badge } => self.source_note(Some(badge), false)?,
            };
            fds.push(fd);
        }
        Ok(fds)
    }

    /// Starts domain `index` (the server with its end of the supervisor
    /// channel, `admin`); returns its process id.
    pub(super) fn spawn(&mut self, index: usize, admin: Option<OwnedFd>) -> io::Result<i32> {
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
        let mut cmd = Command::new(&self.opts.exe);
        cmd.arg("__domain").arg(d.name).env_clear().stdin(Stdio::null());
        if self.opts.no_seccomp {
            cmd.env(seccomp::DISABLE_ENV, "1");
        }
        if let Some(v) = std::env::var_os("RUST_BACKTRACE") {
            cmd.env("RUST_BACKTRACE", v);
        }
        let (handoff, domain_end) = sys::seqpacket_pair()?;
        let child = sys::spawn_domain(&mut cmd, vec![self.boot.as_raw_fd(), domain_end.as_raw_fd()], boot::BOOT_FD)
            .map_err(|e| err(format!("starting domain {}: {e}", d.name)))?;
        drop(domain_end);
        let pid = child.id() as i32;
        // The child is reaped through SIGCHLD, not through `Child`.
        drop(child);
        if let Err(e) = hand_over(&handoff, pid, &fds[1..], HANDOFF_WITHIN) {
            let _ = sys::kill(pid, libc::SIGKILL);
            return Err(err(format!("starting domain {}: {e}", d.name)));
        }
        drop(made);
        self.states[index] = State::Running(pid);
        self.log(&format!("started {} (id {}, pid {pid})", d.name, index + 1));
        Ok(pid)
    }
}

/// How long a starting domain has to ask for its capabilities.
const HANDOFF_WITHIN: Duration = Duration::from_secs(10);

/// Hands domain `pid` its capabilities (`caps`, from [`boot::HANDOFF_FD`]
/// up) once it asks on `handoff` with a socket it made itself, after making
/// itself non-dumpable ([`boot::receive_capabilities`]). Another process
/// that took the hand-off socket in the moment after exec can only offer a
/// socket of its own: one not made by `pid` is dropped unanswered.
fn hand_over(handoff: &OwnedFd, pid: i32, caps: &[RawFd], within: Duration) -> io::Result<()> {
    let deadline = Instant::now() + within;
    let channel = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(err(format!("it did not ask for its capabilities within {within:?}")));
        }
        sys::set_recv_timeout(handoff.as_fd(), left)?;
        let mut ask = [0u8; 16];
        let got = match sys::recv(handoff.as_fd(), &mut ask, 1, false) {
            Ok(Some(got)) => got,
            Ok(None) => return Err(err("it ended before it took its capabilities")),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
            Err(e) => return Err(e),
        };
        let mut fds = got.fds.into_iter();
        if let (Some(end), None) = (fds.next(), fds.next()) {
            if &ask[..got.len] == boot::HANDOFF_ASK && sys::peer_pid(end.as_fd()).ok() == Some(pid) {
                break end;
            }
        }
    };
    sys::send(channel.as_fd(), &(caps.len() as u32).to_le_bytes(), &[], false)?;
    for chunk in caps.chunks(sys::MAX_FDS) {
        // SAFETY: each is a descriptor the launcher holds open until
        // `spawn` drops what it made, after this returns.
        let fds: Vec<BorrowedFd<'_>> = chunk.iter().map(|&fd| unsafe { BorrowedFd::borrow_raw(fd) }).collect();
        sys::send(channel.as_fd(), &[0], &fds, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks on `handoff` as a domain would, from a socket pair this process
    /// makes (so its creator is this process).
    fn ask(handoff: &OwnedFd) -> OwnedFd {
        let (mine, theirs) = sys::seqpacket_pair().unwrap();
        sys::send(handoff.as_fd(), boot::HANDOFF_ASK, &[theirs.as_fd()], false).unwrap();
        mine
    }

    #[test]
    fn a_socket_not_made_by_the_domain_gets_nothing_and_the_domains_own_gets_every_capability() {
        let me = std::process::id() as i32;
        let caps: Vec<OwnedFd> = (0..6).map(|_| sys::eventfd().unwrap()).collect();
        let raw: Vec<RawFd> = caps.iter().map(|c| c.as_raw_fd()).collect();

        // An offer from a process other than the domain (here the domain is
        // "pid 1"): dropped unanswered, and the hand-over gives up.
        let (launcher_end, domain_end) = sys::seqpacket_pair().unwrap();
        let forged = ask(&domain_end);
        let e = hand_over(&launcher_end, 1, &raw, Duration::from_millis(200)).unwrap_err();
        assert!(e.to_string().contains("did not ask"), "{e}");
        let mut buf = [0u8; 8];
        sys::set_recv_timeout(forged.as_fd(), Duration::from_millis(50)).unwrap();
        // Its other end was dropped unanswered: end of file, no datagram.
        assert!(matches!(sys::recv(forged.as_fd(), &mut buf, 4, false), Ok(None)), "the forged socket got an answer");

        // The domain's own socket: the count, then every descriptor.
        let own = ask(&domain_end);
        hand_over(&launcher_end, me, &raw, Duration::from_secs(5)).unwrap();
        let head = sys::recv(own.as_fd(), &mut buf, 0, false).unwrap().unwrap();
        assert_eq!(&buf[..head.len], &6u32.to_le_bytes());
        let mut got = Vec::new();
        while got.len() < 6 {
            got.extend(sys::recv(own.as_fd(), &mut buf, 4, false).unwrap().unwrap().fds);
        }
        assert_eq!(got.len(), 6);

        // A domain that ends before it asks: said so, at once.
        drop(domain_end);
        let e = hand_over(&launcher_end, me, &raw, Duration::from_secs(5)).unwrap_err();
        assert!(e.to_string().contains("ended before"), "{e}");
    }
}
