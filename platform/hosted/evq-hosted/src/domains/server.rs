//! The event-server domain: the `evq-server` core in a process.
//!
//! The shell polls its endpoint sockets, its supervisor channel and a tick
//! timer; it turns each datagram into `Server::handle(now, badge, label,
//! body)`, where the badge is the one the socket was handed over for, and
//! carries out the core's actions: the reply (with the ring's memfd for
//! `GrantRing`), an eventfd signal for `Signal`. It decides nothing else.
//! It ticks the core every [`TICK`].

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use evq_server::{Action, Badge, Config, Server, SourceSpec};
use evq_system::{Grant, Role, System};

use crate::admin::{self, ServerStatus, SourceStatus};
use crate::boot::{self, Cap};
use crate::rings::MemfdRings;
use crate::sys;
use crate::wire::{self, HEAD, RECV_BUF, TICK};

/// Registers the system's sources and clients in a server core, in the
/// order every shell uses: the root task first (source id 1), then the
/// described sources in description order (ids 2, 3, …), then the clients
/// the launcher starts.
pub fn register(server: &mut Server<MemfdRings>, system: &System<'_>) -> io::Result<()> {
    let err = |what: &str, e: evq_server::SetupError| io::Error::other(format!("registering {what}: {e}"));
    server.register_source(SourceSpec::ROOT).map_err(|e| err(SourceSpec::ROOT.name, e))?;
    for d in system.domains {
        if let Role::Source { badge, categories, budget_per_tick } = d.role {
            let spec = SourceSpec { badge, name: d.name, allowed: categories, supervisor: false, budget_per_tick };
            server.register_source(spec).map_err(|e| err(d.name, e))?;
        }
    }
    // A console slot's client is registered when a process attaches to it
    // (its endpoint arrives), and forgotten when that process goes.
    for d in system.domains {
        if let (Role::Client { badge }, false) = (d.role, d.image == crate::boot::image::ATTACH) {
            server.register_client(badge).map_err(|e| err(d.name, e))?;
        }
    }
    Ok(())
}

struct Shell {
    server: Server<MemfdRings>,
    admin: OwnedFd,
    endpoints: BTreeMap<Badge, OwnedFd>,
    notifications: BTreeMap<Badge, OwnedFd>,
    client_badges: Vec<Badge>,
    replies_lost: u64,
    revoked: u64,
    started: u64,
    pool_pages: u32,
}

/// Runs the server domain until the launcher goes away.
pub fn run(system: &System<'_>, name: &str) -> io::Result<()> {
    let (_, me) = system.domain(name).ok_or_else(|| io::Error::other("no such domain"))?;
    let Role::Server { ring_pool_pages } = me.role else {
        return Err(io::Error::other("not the server"));
    };
    let caps = boot::layout(system, me);
    let admin = boot::take(&caps, "supervisor channel", |c| *c == Cap::Admin)?;
    let mut notifications = BTreeMap::new();
    for d in system.domains {
        if let Role::Client { badge } = d.role {
            let fd = boot::take(
                &caps,
                "client notification",
                |c| matches!(c, Cap::Grant(Grant::ClientNotification { client, .. }) if *client == d.name),
            )?;
            notifications.insert(badge, fd);
        }
    }
    let mut server = Server::new(Config { ring_pool_pages }, MemfdRings::default());
    register(&mut server, system)?;
    let client_badges = system
        .domains
        .iter()
        .filter_map(|d| match d.role {
            Role::Client { badge } => Some(badge),
            _ => None,
        })
        .collect();
    crate::seccomp::confine("server")?;
    let mut shell = Shell {
        server,
        admin,
        endpoints: BTreeMap::new(),
        notifications,
        client_badges,
        replies_lost: 0,
        revoked: 0,
        started: sys::monotonic_ns(),
        pool_pages: ring_pool_pages,
    };
    shell.serve()
}

impl Shell {
    fn now(&self) -> u64 {
        // Never 0: a clean start for timestamps and deadlines.
        sys::monotonic_ns() - self.started + 1
    }

    fn serve(&mut self) -> io::Result<()> {
        let timer = sys::timerfd()?;
        sys::timer_set(timer.as_fd(), TICK, TICK)?;
        loop {
            let badges: Vec<Badge> = self.endpoints.keys().copied().collect();
            let ready = {
                let mut fds = vec![self.admin.as_fd(), timer.as_fd()];
                fds.extend(self.endpoints.values().map(|f| f.as_fd()));
                sys::poll(&fds, None)?
            };
            if ready[0] && !self.admin_message()? {
                return Ok(());
            }
            if ready[1] {
                sys::drain(timer.as_fd())?;
                let now = self.now();
                let mut actions = Vec::new();
                self.server.tick(now, &mut |a| actions.push(a));
                self.carry_out(&actions);
            }
            for (badge, _) in badges.iter().zip(&ready[2..]).filter(|(_, r)| **r) {
                self.endpoint_message(*badge);
            }
        }
    }

    /// One message from the launcher; `false` when the launcher is gone.
    fn admin_message(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 64];
        let got = match sys::recv(self.admin.as_fd(), &mut buf, 1, true) {
            Ok(Some(got)) => got,
            Ok(None) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                return Ok(true)
            }
            Err(e) => return Err(e),
        };
        match admin::decode(&buf[..got.len]) {
            Some((admin::OP_ENDPOINT, badge)) => {
                if let Some(fd) = got.fds.into_iter().next() {
                    sys::set_nonblocking(fd.as_fd())?;
                    // A replaced socket is closed: its holder loses the badge.
                    self.endpoints.insert(badge, fd);
                    if self.client_badges.contains(&badge) {
                        // Registered afresh after a ClientGone; already
                        // registered is fine.
                        let _ = self.server.register_client(badge);
                    }
                }
            }
            Some((admin::OP_STATUS, _)) => {
                let status = serde_json::to_vec(&self.status()).map_err(io::Error::other)?;
                sys::send(self.admin.as_fd(), &status, &[], false)?;
            }
            _ => eprintln!("evq-server: ignoring a malformed supervisor message"),
        }
        Ok(true)
    }

    fn status(&self) -> ServerStatus {
        let s = &self.server;
        let sources = (0..=evq_server::limits::MAX_SOURCES as u32)
            .filter_map(|id| {
                s.source_stats(id).map(|(name, counters)| SourceStatus { id, name: name.into(), counters })
            })
            .collect();
        ServerStatus {
            clients: s.client_count(),
            queues: s.queue_count(),
            subscriptions: s.subscription_count(),
            staged: s.staged_count(),
            pool_pages_used: s.pool_pages_used(),
            pool_pages: self.pool_pages,
            rings: s.memory().live(),
            endpoints: self.endpoints.len(),
            open_fds: sys::open_fd_count(),
            replies_lost: self.replies_lost,
            revoked: self.revoked,
            sources,
            totals: s.totals(),
        }
    }

    /// One datagram from `badge`'s socket: the core handles it, the shell
    /// replies and carries out the actions.
    fn endpoint_message(&mut self, badge: Badge) {
        let mut buf = [0u8; RECV_BUF];
        let got = match self.endpoints.get(&badge) {
            // Descriptors a peer attaches are refused: the kernel closes them.
            Some(fd) => sys::recv(fd.as_fd(), &mut buf, 0, true),
            None => return,
        };
        let got = match got {
            Ok(Some(got)) => got,
            // Readable, and yet nothing: try again on the next wake-up.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => return,
            Ok(None) | Err(_) => {
                // The peer is gone (or the socket broke): close our end. The
                // launcher, which watches every domain, reports the loss.
                self.endpoints.remove(&badge);
                return;
            }
        };
        // A datagram longer than the buffer keeps the whole buffer as its
        // body: longer than 960 bytes, so the core refuses it (BadLength).
        let len = if got.truncated { RECV_BUF } else { got.len };
        let (label, body) = wire::unframe(&buf[..len]);
        let now = self.now();
        let mut reply = [0u8; 64];
        let mut actions = Vec::new();
        let (reply_label, reply_len) =
            self.server.handle(now, badge, label, body, &mut reply, &mut |a| actions.push(a));
        let mut out = [0u8; HEAD + 64];
        let n = wire::frame(reply_label, &reply[..reply_len], &mut out);
        let grant = actions.iter().find_map(|a| match a {
            Action::GrantRing { client, ring, .. } if *client == badge => self.server.memory().fd(*ring),
            _ => None,
        });
        if let Some(fd) = self.endpoints.get(&badge) {
            let fds: Vec<_> = grant.into_iter().collect();
            // Never block on a peer that does not read its replies.
            if sys::send(fd.as_fd(), &out[..n], &fds, true).is_err() {
                self.replies_lost += 1;
            }
        }
        self.carry_out(&actions);
    }

    fn carry_out(&mut self, actions: &[Action]) {
        for action in actions {
            match action {
                Action::Signal { client, .. } => {
                    if let Some(fd) = self.notifications.get(client) {
                        let _ = sys::signal(fd.as_fd());
                    }
                }
                Action::Revoked { client, queue } => {
                    self.revoked += 1;
                    eprintln!("evq-server: revoked queue {queue:#x} of client {client:#x}: its ring's tail is corrupt");
                }
                // Grants travel with the reply (above).
                _ => {}
            }
        }
    }
}
