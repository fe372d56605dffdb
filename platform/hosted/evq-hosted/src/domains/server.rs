//! The event-server domain: the `evq-server` core in a process.
//!
//! The shell polls its supervisor channel, a tick timer, the doorbell of
//! every source whose ingest ring it reads, and its endpoint sockets. On
//! each wake-up it runs one pass over the ingest rings (what they held
//! when it woke, so that a source's call is handled after the events it
//! wrote before it), then turns each datagram into `Server::handle(now,
//! badge, label, body)`, where the badge is the one the socket was handed
//! over for, then runs a pass again and, once the rings are empty, sets
//! their waiting flags (`Server::prepare_sleep`) before it sleeps. It
//! carries out the core's actions: the reply (with the ring's memfd for
//! `GrantRing`), an eventfd signal for `Signal` and `SignalSource`, a line
//! on its standard error for `Revoked` and `CutOff`. It decides nothing
//! else. It ticks the core every [`TICK`].

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use evq_abi::ring::RingGeometry;
use evq_server::{Action, Badge, Config, Server, SourceSpec};
use evq_system::{Grant, Role, System, ROOT_BADGE, ROOT_INGEST_PAGES, ROOT_NAME};

use crate::admin::{self, ClockAnchor, QueueStatus, ServerStatus, SourceStatus};
use crate::boot::{self, Cap};
use crate::ingest;
use crate::rings::MemfdRings;
use crate::sys::{self, Mapping};
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
            register_client(server, badge, d.lossless).map_err(|e| err(d.name, e))?;
        }
    }
    Ok(())
}

/// Registers a client, lossless if the description says so.
fn register_client(
    server: &mut Server<MemfdRings>,
    badge: Badge,
    lossless: bool,
) -> Result<(), evq_server::SetupError> {
    if lossless {
        server.register_lossless_client(badge)
    } else {
        server.register_client(badge)
    }
}

/// A source as the shell holds it: its two notifications, and its ingest
/// ring's mapping while the core reads it.
struct SourceSlot {
    name: String,
    /// The ring's data pages, from the description.
    pages: u32,
    /// The source signals it; the server waits on it.
    doorbell: OwnedFd,
    /// The server signals it when the source waits for room.
    room: OwnedFd,
    /// The ring, mapped, while the core reads it.
    ring: Option<Mapping>,
    /// Why the core cut the ring off, if it did.
    cut: Option<String>,
}

struct Shell {
    server: Server<MemfdRings>,
    admin: OwnedFd,
    endpoints: BTreeMap<Badge, OwnedFd>,
    notifications: BTreeMap<Badge, OwnedFd>,
    client_badges: Vec<Badge>,
    /// Each client's domain id and name, by badge, for the status.
    client_names: BTreeMap<Badge, (u32, String)>,
    lossless: Vec<Badge>,
    /// By badge; `order` is their source ids' order (id 1 first).
    sources: BTreeMap<Badge, SourceSlot>,
    order: Vec<Badge>,
    replies_lost: u64,
    revoked: u64,
    cut_off: u64,
    started: u64,
    /// The wall clock when `started` was read.
    started_realtime_ns: u64,
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
    let mut sources = BTreeMap::new();
    let order: Vec<Badge> = boot::source_badges(system).collect();
    for &badge in &order {
        let (name, pages) = match system.domains.iter().find(|d| d.badge() == Some(badge)) {
            Some(d) if badge != ROOT_BADGE => (d.name, d.ingest_ring_pages().unwrap_or(ROOT_INGEST_PAGES)),
            _ => (ROOT_NAME, ROOT_INGEST_PAGES),
        };
        let doorbell = boot::take(&caps, "source doorbell", |c| *c == Cap::SourceDoorbell { badge })?;
        let room = boot::take(&caps, "source room notification", |c| *c == Cap::SourceRoom { badge })?;
        sources.insert(badge, SourceSlot { name: name.into(), pages, doorbell, room, ring: None, cut: None });
    }
    let mut server = Server::new(Config { ring_pool_pages }, MemfdRings::default());
    register(&mut server, system)?;
    let clients = || {
        system.domains.iter().filter_map(|d| match d.role {
            Role::Client { badge } => Some((badge, d.lossless)),
            _ => None,
        })
    };
    let client_badges = clients().map(|(b, _)| b).collect();
    let lossless = clients().filter(|(_, l)| *l).map(|(b, _)| b).collect();
    crate::seccomp::confine("server")?;
    let mut shell = Shell {
        server,
        admin,
        endpoints: BTreeMap::new(),
        notifications,
        client_badges,
        client_names: system
            .domains
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d.role {
                Role::Client { badge } => Some((badge, (i as u32 + 1, d.name.to_string()))),
                _ => None,
            })
            .collect(),
        lossless,
        sources,
        order,
        replies_lost: 0,
        revoked: 0,
        cut_off: 0,
        started: sys::monotonic_ns(),
        // Read right after `started`: the server's clock is 1 then.
        started_realtime_ns: sys::realtime_ns(),
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
        // Whether a pass may find events to take now: then the next poll
        // only looks at what else is ready, it does not sleep.
        let mut busy = true;
        loop {
            let bells: Vec<Badge> =
                self.sources.iter().filter(|(_, s)| s.ring.is_some()).map(|(badge, _)| *badge).collect();
            let badges: Vec<Badge> = self.endpoints.keys().copied().collect();
            let ready = {
                let mut fds = vec![self.admin.as_fd(), timer.as_fd()];
                fds.extend(bells.iter().filter_map(|b| self.sources.get(b)).map(|s| s.doorbell.as_fd()));
                fds.extend(self.endpoints.values().map(|f| f.as_fd()));
                sys::poll(&fds, busy.then_some(Duration::ZERO))?
            };
            let (fixed, rest) = ready.split_at(2);
            let (rung, messages) = rest.split_at(bells.len().min(rest.len()));
            for (badge, _) in bells.iter().zip(rung).filter(|(_, r)| **r) {
                if let Some(slot) = self.sources.get(badge) {
                    // Only wakes the server: which rings hold events, the
                    // pass finds out.
                    let _ = sys::drain(slot.doorbell.as_fd());
                }
            }
            // The events the rings held when the server woke go first: a
            // source's call comes after the events it wrote before it.
            self.pass();
            if fixed[0] && !self.admin_messages()? {
                return Ok(());
            }
            if fixed[1] {
                sys::drain(timer.as_fd())?;
                let now = self.now();
                let mut actions = Vec::new();
                self.server.tick(now, &mut |a| actions.push(a));
                self.carry_out(&actions);
            }
            for (badge, _) in badges.iter().zip(messages).filter(|(_, r)| **r) {
                self.endpoint_message(*badge);
            }
            busy = self.settle_rings();
        }
    }

    /// One pass over the ingest rings, its actions carried out. Returns
    /// whether a ring may hold more than the pass took.
    fn pass(&mut self) -> bool {
        let now = self.now();
        let mut actions = Vec::new();
        let more = self.server.drain(now, &mut |a| actions.push(a));
        self.carry_out(&actions);
        more
    }

    /// After a wake-up's messages: a pass, then, if every ring is empty,
    /// their waiting flags set for the sleep. Returns whether to look
    /// again without sleeping: a ring holds more than a pass takes, or
    /// events came in meanwhile. Events no pass can take yet (held for a
    /// lossless client, or over their source's budget until the tick) do
    /// not keep the server awake: the client's request or the tick wakes it.
    fn settle_rings(&mut self) -> bool {
        if self.pass() {
            return true;
        }
        let mut actions = Vec::new();
        let empty = self.server.prepare_sleep(&mut |a| actions.push(a));
        self.carry_out(&actions);
        !empty
    }

    /// Source `badge`'s new ingest ring, from the launcher: the old one,
    /// if any, detached and unmapped first.
    fn attach_ring(&mut self, badge: Badge, fd: OwnedFd) {
        let Some(slot) = self.sources.get_mut(&badge) else {
            eprintln!("evq-server: ignoring an ingest ring for badge {badge:#x}, which is no source");
            return;
        };
        self.server.detach_ingest(badge);
        // The core no longer reads the old ring: it may go.
        slot.ring = None;
        let len = match RingGeometry::new(slot.pages) {
            Ok(g) => g.region_bytes(),
            Err(e) => {
                eprintln!("evq-server: source {}'s ingest ring has no geometry: {e}", slot.name);
                return;
            }
        };
        let map = match ingest::map_ring(fd.as_fd(), len) {
            Ok(map) => map,
            Err(e) => {
                eprintln!("evq-server: source {}'s ingest ring does not map: {e}", slot.name);
                return;
            }
        };
        // SAFETY: `map` is a shared read-write mapping of `len` bytes of a
        // memfd sealed against shrinking (checked by `map_ring`), so it never
        // faults; it stays in `slot.ring` until the core lets the ring go
        // (`detach_ingest` above, on the next ring for the badge, or its
        // `CutOff` action), and nothing in this process touches it but the
        // core. The source, in its own process, may write it as it likes:
        // the core checks everything it reads there.
        match unsafe { self.server.attach_ingest(badge, map.base(), map.len()) } {
            Ok(()) => {
                slot.ring = Some(map);
                slot.cut = None;
            }
            Err(e) => eprintln!("evq-server: source {}'s ingest ring is refused: {e}", slot.name),
        }
    }

    /// Every message the launcher has sent; `false` when the launcher is
    /// gone. All of them go before any endpoint's datagram of the same
    /// wake-up: a console slot's new capabilities (`OP_ENDPOINT`,
    /// `OP_NOTIFY`, `OP_INGEST`) replace the old ones before a request that
    /// came after them, on the old endpoint, could be taken.
    fn admin_messages(&mut self) -> io::Result<bool> {
        loop {
            if !self.admin_message()? {
                return Ok(false);
            }
            if !sys::poll(&[self.admin.as_fd()], Some(Duration::ZERO))?[0] {
                return Ok(true);
            }
        }
    }

    /// One message from the launcher; `false` when the launcher is gone.
    fn admin_message(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 64];
        let got = match sys::recv(self.admin.as_fd(), &mut buf, 3, true) {
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
                        let _ = register_client(&mut self.server, badge, self.lossless.contains(&badge));
                    }
                }
            }
            Some((admin::OP_INGEST, badge)) => {
                let mut fds = got.fds.into_iter();
                match (fds.next(), fds.next(), fds.next()) {
                    (Some(ring), None, None) => self.attach_ring(badge, ring),
                    (Some(ring), Some(doorbell), Some(room)) => {
                        if let Some(slot) = self.sources.get_mut(&badge) {
                            // The old ones close: the slot's last holder's
                            // copies reach no one.
                            slot.doorbell = doorbell;
                            slot.room = room;
                        }
                        self.attach_ring(badge, ring);
                    }
                    _ => eprintln!("evq-server: ignoring an ingest ring message without its memfd and notifications"),
                }
            }
            Some((admin::OP_NOTIFY, badge)) => match got.fds.into_iter().next() {
                // The old one closes: the slot's last holder's copy reaches no one.
                Some(fd) if self.client_badges.contains(&badge) => {
                    self.notifications.insert(badge, fd);
                }
                _ => eprintln!("evq-server: ignoring a notification message for badge {badge:#x}"),
            },
            Some((admin::OP_STATUS, _)) => {
                let status = serde_json::to_vec(&self.status()).map_err(io::Error::other)?;
                sys::send(self.admin.as_fd(), &status, &[], false)?;
            }
            _ => eprintln!("evq-server: ignoring a malformed supervisor message"),
        }
        Ok(true)
    }

    fn status(&mut self) -> ServerStatus {
        let queue_list = self.queue_list();
        let s = &self.server;
        let sources = (0..=evq_server::limits::MAX_SOURCES as u32)
            .filter_map(|id| {
                let (name, counters) = s.source_stats(id)?;
                let slot =
                    (id as usize).checked_sub(1).and_then(|i| self.order.get(i)).and_then(|b| self.sources.get(b));
                let ring = match slot {
                    Some(SourceSlot { cut: Some(why), .. }) => format!("cut off: {why}"),
                    Some(SourceSlot { ring: Some(_), .. }) => "attached".into(),
                    _ => "none".into(),
                };
                Some(SourceStatus { id, name: name.into(), counters, ring })
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
            cut_off: self.cut_off,
            sources,
            queue_list,
            totals: s.totals(),
            clock: Some(ClockAnchor { realtime_ns: self.started_realtime_ns, server_ns: 1 }),
        }
    }

    /// Every queue's figures, its owner named as the description names it.
    fn queue_list(&mut self) -> Vec<QueueStatus> {
        let names = &self.client_names;
        self.server
            .queue_reports()
            .map(|r| {
                let (owner_id, owner) = names.get(&r.owner).cloned().unwrap_or((0, format!("badge {:#x}", r.owner)));
                QueueStatus { owner, owner_id, report: r }
            })
            .collect()
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
                Action::SignalSource { source } => {
                    if let Some(slot) = self.sources.get(source) {
                        let _ = sys::signal(slot.room.as_fd());
                    }
                }
                Action::CutOff { source, fault } => {
                    self.cut_off += 1;
                    if let Some(slot) = self.sources.get_mut(source) {
                        // The core reads the ring no more: it may go.
                        slot.ring = None;
                        slot.cut = Some(fault.to_string());
                        eprintln!("evq-server: source {}'s ingest ring is cut off: {fault}", slot.name);
                    }
                }
                // Grants travel with the reply (above).
                _ => {}
            }
        }
    }
}
