//! The event-server protection domain: `evq-server` behind one endpoint
//! and the sources' ingest rings.
//!
//! Everything it may do comes from the capabilities the root task put in its
//! CNode (`evq-domain-info`): its endpoint, to receive on, with the
//! notification the sources ring bound to its thread; untyped memory for
//! the ring pool; its own CNode and VSpace, to retype and map the pool; a
//! signal capability to each client's notification and to each source's
//! room notification. Every source's ingest ring is mapped in its address
//! space. A message's source or client is the badge it arrives with; an
//! event's source is the ring it was read from; nothing else.
//!
//! The shell does what the core asks and no more. It attaches every ring
//! at start (`Server::attach_ingest`), then loops: a pass over the rings
//! (`Server::drain`) until none has more, then `Server::prepare_sleep`,
//! which sets every ring's waiting flag (and says whether entries came in
//! meanwhile: then another pass), then it sleeps on the endpoint. A signal
//! (a source rang: its word has [`info::INGEST_SIGNAL`] set) starts the
//! next pass; a message is copied out of the IPC buffer and handed to
//! `Server::handle`, then the rings are passed over, and the reply goes
//! out with the next sleep (`reply_recv`). The actions: the frame
//! capability a `GrantRing`/`GrantFrames` names goes with the reply, a
//! `Signal` signals the client's notification, a `SignalSource` the
//! source's room notification, and a `CutOff` is said on the console.
//!
//! Time is the CPU's free-running counter (`evq_sel4_runtime::now_ns`). The
//! core ticks (refilling source budgets, writing out coalesced events whose
//! window has passed, waking clients whose timeout has passed) at most once
//! per [`TICK_NS`], while the server is awake: it has no timer of its own,
//! so a deadline is met at the first message or signal after it. The
//! device domain's clock publishes once a second, which bounds that wait in
//! the systems that have it. A source over its budget is the exception: its
//! events stay in its ring until the next tick, and the server, whose
//! rings are then not empty, stays awake until that tick (reading its
//! clock, not passing over the rings again), so that the events are taken
//! in order before anything of lower priority runs.
#![no_std]
#![no_main]

mod pool;

use core::ptr::NonNull;

use evq_abi::event::CategorySet;
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, Message};
use evq_server::{Action, Config, Server, SourceSpec};

use pool::FramePool;

// A `Server` is about 100 KiB; an unoptimised build keeps a few copies of
// it on the stack while constructing it.
domain_main!(main, stack = 1024 * 1024);

/// The core's tick: how often source budgets refill, at most.
const TICK_NS: u64 = 10_000_000;

fn main(info: &'static DomainInfo) -> ! {
    let (pool, _first_free) = match FramePool::new(info) {
        Ok(p) => p,
        Err(e) => {
            sel4::debug_println!("evq-server: ring pool of {} pages: {e}", info.ring_pool_pages);
            exit(1)
        }
    };
    let mut server = Server::new(Config { ring_pool_pages: info.ring_pool_pages }, pool);
    for peer in info.peers() {
        let registered = match peer.role {
            info::role::CLIENT if peer.lossless != 0 => server.register_lossless_client(peer.badge),
            info::role::CLIENT => server.register_client(peer.badge),
            // The root task, as the supervisor source: its identity is the
            // system's (`evq_system`), the same on every platform.
            info::role::ROOT => server.register_source(SourceSpec::ROOT).map(|_| ()),
            _ => server
                .register_source(SourceSpec {
                    badge: peer.badge,
                    name: peer.name.as_str(),
                    allowed: CategorySet(peer.categories),
                    supervisor: false,
                    budget_per_tick: peer.budget_per_tick,
                })
                .map(|_| ()),
        };
        if let Err(e) = registered {
            sel4::debug_println!("evq-server: cannot register {}: {e}", peer.name.as_str());
            exit(1)
        }
    }
    let mut rings = 0;
    for peer in info.peers().iter().filter(|p| p.ingest_vaddr != 0) {
        let Some(base) = NonNull::new(peer.ingest_vaddr as *mut u8) else { continue };
        // SAFETY: the root task maps this source's ring here, read-write,
        // for the server's life; nothing else in this address space touches
        // it, and the source, in its own, may write it as it likes: the
        // core checks every read.
        match unsafe { server.attach_ingest(peer.badge, base, peer.ingest_bytes as usize) } {
            Ok(()) => {}
            // The root task laid the ring out, but a source that ran first
            // may have written over it: the server reads the other rings.
            Err(e) => {
                sel4::debug_println!(
                    "evq-server: the ingest ring of {} does not attach: {e}; it is not read",
                    peer.name.as_str()
                );
                continue;
            }
        }
        rings += 1;
    }
    sel4::debug_println!(
        "evq-server: up: {} peers, {rings} ingest rings, ring pool {} frames mapped at {:#x}",
        info.peers().len(),
        info.ring_pool_pages,
        info::RING_WINDOW_ADDR
    );
    serve(info, &mut server)
}

/// The server's clock: never backwards, and distinct per reading when the
/// counter is coarse (or unknown).
struct Clock {
    info: &'static DomainInfo,
    now_ns: u64,
    last_tick: u64,
}

impl Clock {
    fn now(&mut self) -> u64 {
        self.now_ns = evq_sel4_runtime::now_ns(self.info).unwrap_or(0).max(self.now_ns + 1);
        self.now_ns
    }

    /// Ticks the core if a tick is due.
    fn tick_if_due(&mut self, server: &mut Server<FramePool>) -> u64 {
        let now = self.now();
        if now - self.last_tick >= TICK_NS {
            self.last_tick = now;
            server.tick(now, &mut |a| carry_out(self.info, a, None));
        }
        now
    }

    /// Waits, reading the clock, until a tick is due.
    fn wait_for_tick(&mut self) {
        while self.now() - self.last_tick < TICK_NS {
            core::hint::spin_loop();
        }
    }
}

fn serve(info: &'static DomainInfo, server: &mut Server<FramePool>) -> ! {
    let endpoint = sel4::cap::Endpoint::from_bits(info::slot::SERVER);
    let mut clock = Clock { info, now_ns: 0, last_tick: 0 };
    // Kept across messages: each is read into `request` and answered from
    // `reply`, with no buffer zeroed or copied per message but the IPC
    // buffer's own.
    let mut request = Message::new();
    let mut reply = Message::new();
    // The reply to the last message, sent with the next sleep.
    let mut answer: Option<sel4::MessageInfo> = None;
    loop {
        awake(&mut clock, server);
        let (msg_info, badge) = match answer.take() {
            Some(out) => endpoint.reply_recv(out, ()),
            None => endpoint.recv(()),
        };
        if badge & info::INGEST_SIGNAL != 0 {
            // A source rang: nobody waits for a reply; the rings are next.
            continue;
        }
        request.read_ipc(&msg_info);
        let now = clock.tick_if_due(server);
        let mut grant = None;
        let (label, len) = server.handle(now, badge, request.label, request.body(), &mut reply.body, &mut |a| {
            carry_out(info, a, Some(&mut grant))
        });
        reply.label = label;
        reply.len = len;
        // Every action has run; the pool's capability for a granted frame
        // is looked up only now, once the ring is in the pool's tables.
        let caps = grant.and_then(|(ring, index)| server.memory().frame(ring, index));
        answer = Some(reply.to_ipc(caps.as_slice()));
    }
}

/// Takes every ring's events until the core says the server may sleep:
/// passes until none has more than a pass takes, then the waiting flags;
/// entries that came in meanwhile get another pass. Entries a source's
/// budget holds back stay until the next tick; the server has no timer of
/// its own to be woken by, so it waits for the tick awake.
fn awake(clock: &mut Clock, server: &mut Server<FramePool>) {
    let info = clock.info;
    loop {
        let mut now = clock.tick_if_due(server);
        while server.drain(now, &mut |a| carry_out(info, a, None)) {
            now = clock.tick_if_due(server);
        }
        if server.waits_for_tick() {
            clock.wait_for_tick();
            continue;
        }
        if server.prepare_sleep(&mut |a| carry_out(info, a, None)) {
            return;
        }
    }
}

/// Carries out one action of the core. A frame to grant is noted for the
/// reply; signals go out at once.
fn carry_out(info: &DomainInfo, action: Action, grant: Option<&mut Option<(evq_server::RingHandle, u32)>>) {
    match action {
        Action::GrantRing { ring, .. } => {
            if let Some(g) = grant {
                *g = Some((ring, 0));
            }
        }
        Action::GrantFrames { ring, first, .. } => {
            if let Some(g) = grant {
                *g = Some((ring, first));
            }
        }
        Action::Signal { client, .. } => {
            if let Some(peer) = info.peers().iter().find(|p| p.badge == client && p.notification_slot != 0) {
                sel4::cap::Notification::from_bits(peer.notification_slot).signal();
            }
        }
        Action::SignalSource { source } => {
            if let Some(peer) = info.peers().iter().find(|p| p.badge == source && p.room_slot != 0) {
                sel4::cap::Notification::from_bits(peer.room_slot).signal();
            }
        }
        Action::Revoked { client, queue } => {
            sel4::debug_println!("evq-server: revoked queue {queue:#x} of client {client:#x}: its ring was corrupted");
        }
        Action::CutOff { source, fault } => {
            let name = info.peers().iter().find(|p| p.badge == source).map_or("?", |p| p.name.as_str());
            sel4::debug_println!("evq-server: the ingest ring of {name} is cut off: {fault}; no longer read");
        }
    }
}
