//! The event-server protection domain: `evq-server` behind one endpoint.
//!
//! Everything it may do comes from the capabilities the root task put in its
//! CNode (`evq-domain-info`): its endpoint, to receive on; untyped memory for
//! the ring pool; its own CNode and VSpace, to retype and map the pool; a
//! signal capability to each client's notification. Sources and clients are
//! told apart by the badge their message arrives with, and nothing else.
//!
//! The shell does what the core asks and no more: it copies a message out of
//! the IPC buffer, hands it to `Server::handle`, attaches the frame
//! capability a `GrantRing`/`GrantFrames` action names to the reply, and
//! signals the notification a `Signal` action names.
//!
//! Time is the CPU's free-running counter (`evq_sel4_runtime::now_ns`). The
//! core ticks (refilling source budgets, writing out coalesced events whose
//! window has passed, waking clients whose timeout has passed) at most once
//! per [`TICK_NS`], when a message arrives: the server has no timer of its
//! own, so a deadline is met at the first message after it. The device
//! domain's clock publishes once a second, which bounds that wait in the
//! systems that have it.
#![no_std]
#![no_main]

mod ingest;
mod pool;

use evq_abi::event::CategorySet;
use evq_abi::msg::{label, ErrorCode, Reply, Request};
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, Message};
use evq_server::{Action, Config, Server, SourceSpec};

use ingest::{Ingest, Taken};
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
    sel4::debug_println!(
        "evq-server: up: {} peers, ring pool {} frames mapped at {:#x}",
        info.peers().len(),
        info.ring_pool_pages,
        info::RING_WINDOW_ADDR
    );
    serve(info, &mut server)
}

/// The most sources with ingest rings.
const MAX_INGEST: usize = 8;

fn serve(info: &'static DomainInfo, server: &mut Server<FramePool>) -> ! {
    let endpoint = sel4::cap::Endpoint::from_bits(info::slot::SERVER);
    let mut ingests: [Option<Ingest>; MAX_INGEST] = [const { None }; MAX_INGEST];
    for (slot, peer) in ingests.iter_mut().zip(info.peers().iter().filter(|p| p.ingest_vaddr != 0)) {
        *slot = Ingest::new(peer);
    }
    let mut now_ns = 0u64;
    let mut last_tick = 0u64;
    // Kept across messages: each is read into `request` and answered from
    // `reply`, with no buffer zeroed or copied per message but the IPC
    // buffer's own.
    let mut request = Message::new();
    let mut reply = Message::new();
    let (mut msg_info, mut badge) = endpoint.recv(());
    loop {
        request.read_ipc(&msg_info);
        // Never backwards, and distinct per message when the counter is coarse.
        now_ns = evq_sel4_runtime::now_ns(info).unwrap_or(0).max(now_ns + 1);
        if now_ns - last_tick >= TICK_NS {
            last_tick = now_ns;
            server.tick(now_ns, &mut |a| carry_out(info, a, None));
        }
        // Events waiting in ingest rings (held back, or just signalled) go
        // in before the message, in the order they were published.
        drain_ingests(info, server, now_ns, &mut ingests);
        if badge & info::INGEST_SIGNAL != 0 {
            // A signal, not a message: nobody waits for a reply.
            (msg_info, badge) = endpoint.recv(());
            continue;
        }
        let mut grant = None;
        let (label, len) = server.handle(now_ns, badge, request.label, request.body(), &mut reply.body, &mut |a| {
            carry_out(info, a, Some(&mut grant))
        });
        reply.label = label;
        reply.len = len;
        // Every action has run; the pool's capability for a granted frame
        // is looked up only now, once the ring is in the pool's tables.
        let caps = grant.and_then(|(ring, index)| server.memory().frame(ring, index));
        let out = reply.to_ipc(caps.as_slice());
        (msg_info, badge) = endpoint.reply_recv(out, ());
    }
}

/// Offers every source's ingested events to the core, as `Publish`
/// requests from its badge.
fn drain_ingests(info: &DomainInfo, server: &mut Server<FramePool>, now_ns: u64, ingests: &mut [Option<Ingest>]) {
    for ingest in ingests.iter_mut().flatten() {
        let before = ingest.taken;
        ingest.drain(&mut |badge, body| {
            let act = &mut |a| carry_out(info, a, None);
            let reply = match Request::decode(label::PUBLISH, body) {
                Ok(request) => server.request(now_ns, badge, request, act),
                Err(_) => {
                    // A body that does not decode is the core's to refuse
                    // and count, as it does any malformed message; its
                    // error reply goes nowhere.
                    server.handle(now_ns, badge, label::PUBLISH, body, &mut [0u8; 64], act);
                    return Taken::Done;
                }
            };
            match reply {
                Reply::Error { code: ErrorCode::Busy, .. } => Taken::Busy,
                _ => Taken::Done,
            }
        });
        if before == 0 && ingest.taken > 0 {
            sel4::debug_println!("evq-server: ingest rings of {}: events arriving", ingest.name);
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
        Action::Revoked { client, queue } => {
            sel4::debug_println!("evq-server: revoked queue {queue:#x} of client {client:#x}: its ring was corrupted");
        }
    }
}
