//! Starting a domain: making or copying each capability the description
//! grants it, and starting the process with exactly those, at the
//! descriptors [`crate::boot::layout`] gives them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};

use evq_system::{Domain, Grant};

use super::{err, Launcher, State};
use crate::admin;
use crate::boot::{self, Cap};
use crate::{seccomp, sys};

impl Launcher {
    /// Hands the server its end of `badge`'s endpoint.
    pub(super) fn give_endpoint(&self, badge: u64, server_end: OwnedFd) -> io::Result<()> {
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
