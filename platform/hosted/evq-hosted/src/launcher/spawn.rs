//! Starting a domain: making or copying each capability the description
//! grants it (and a source's ingest ring and notifications), and starting
//! the process with exactly those, at the descriptors
//! [`crate::boot::layout`] gives them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};

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
    /// lets go of the slot's previous one first).
    pub(super) fn give_ingest(&self, badge: u64, ring: &OwnedFd) -> io::Result<()> {
        sys::send(self.admin.as_fd(), &admin::encode(admin::OP_INGEST, badge), &[ring.as_fd()], false)?;
        Ok(())
    }

    /// A fresh ingest ring for source domain `d`, already handed to the
    /// server: the memfd to give the source.
    pub(super) fn new_ingest(&self, d: &Domain<'_>) -> io::Result<OwnedFd> {
        let (Some(badge), Some(pages)) = (d.badge(), d.ingest_ring_pages()) else {
            return Err(err(format!("{} is not a source: it has no ingest ring", d.name)));
        };
        let ring = ingest::make_ring(pages)?;
        self.give_ingest(badge, &ring)?;
        Ok(ring)
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
                    let ring = self.new_ingest(d)?;
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
        let child = sys::spawn_domain(&mut cmd, fds, boot::BOOT_FD)
            .map_err(|e| err(format!("starting domain {}: {e}", d.name)))?;
        let pid = child.id() as i32;
        // The child is reaped through SIGCHLD, not through `Child`.
        drop(child);
        drop(made);
        self.states[index] = State::Running(pid);
        self.log(&format!("started {} (id {}, pid {pid})", d.name, index + 1));
        Ok(pid)
    }
}
