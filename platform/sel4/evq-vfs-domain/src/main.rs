//! The VFS driver domain: `evq-vfs` behind the `vfs` endpoint of the system
//! description, and a source of VFS events to the event server.
//!
//! Its capabilities: the `vfs` endpoint to receive on, and its ingest ring
//! to the event server (the ring, its doorbell and its room notification;
//! the server takes VFS events only from it). For each request it hands
//! the message to the core, gathers the events the core publishes in an
//! `evq_source::Outbox`, publishes them together into its ring
//! (`evq_source::Publisher` over `evq_source::RingLink`: one doorbell, and
//! only if the server sleeps), and only then replies: a client that sees
//! its request done can count on its events being in the ring, which the
//! server, running above this domain, has read by the time the client runs.
//!
//! Its clock is the CPU's counter, as the server's. A full ring is waited
//! out (the server signals room) before the reply, so a flood of
//! file-system requests slows its caller rather than losing events.
#![no_std]
#![no_main]

use evq_abi::event::MAX_PAYLOAD;
use evq_abi::msg::Event;
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, Message, WhenFull};
use evq_source::Outbox;
use evq_vfs::Vfs;

// The core is about 55 KiB; a debug build copies it while constructing it.
domain_main!(main, stack = 512 * 1024);

/// Events one request may publish: a rename over an existing name, the
/// most, publishes three (the replaced name's DELETE and ATTRIB, then
/// RENAME). Each may carry a payload of the largest size.
const MAX_EVENTS: usize = 8;

fn main(info: &'static DomainInfo) -> ! {
    let Some(endpoint) = info.endpoint("vfs", info::rights::RECEIVE) else {
        sel4::debug_println!("evq-vfs: the description gives it no vfs endpoint to serve");
        exit(1)
    };
    let endpoint = sel4::cap::Endpoint::from_bits(endpoint);
    let mut publisher = match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(p) => p,
        Err(e) => {
            sel4::debug_println!("evq-vfs: {e}");
            exit(1)
        }
    };
    let mut vfs = Vfs::new(0);
    let mut now_ns = 0u64;
    let mut outbox = Outbox::<MAX_EVENTS, { MAX_EVENTS * MAX_PAYLOAD }>::new();
    sel4::debug_println!("evq-vfs: up");
    let (mut msg_info, _badge) = endpoint.recv(());
    loop {
        let request = Message::from_ipc(&msg_info);
        now_ns = evq_sel4_runtime::now_ns(info).unwrap_or(0).max(now_ns + 1);
        let mut overflow = false;
        let mut reply = Message::new();
        (reply.label, reply.len) =
            vfs.handle_message(now_ns, request.label, request.body(), &mut reply.body, &mut |e: Event<'_>| {
                overflow |= outbox.push(&e).is_err();
            });
        if overflow {
            // One request publishes at most a handful of events; more than
            // the outbox holds is a bug in the core, and is said so, not
            // hidden. The events that fit are published.
            sel4::debug_println!("evq-vfs: a request published more events than the outbox holds");
        }
        if !outbox.is_empty() {
            if let Err(e) = publisher.publish(&outbox.events()) {
                sel4::debug_println!("evq-vfs: the events of a request did not go into the ring: {e}");
            }
            outbox.clear();
        }
        (msg_info, _) = endpoint.reply_recv(reply.to_ipc(&[]), ());
    }
}
