//! The VFS driver domain: `evq-vfs` behind the `vfs` endpoint of the system
//! description, and a source of VFS events to the event server.
//!
//! Its capabilities: the `vfs` endpoint to receive on, and a badged endpoint
//! to the event server allowed VFS events only. For each request it hands
//! the message to the core, gathers the events the core publishes into one
//! `PublishBatch`, calls the server with it, and only then replies: a
//! client that sees its request done can count on its events being in the
//! server's hands.
//!
//! Its clock is the CPU's counter, as the server's. Back-pressure from the server (`Busy`) is waited out before the reply
//! (`evq_sel4_runtime::publish`), so a flood of file-system requests slows
//! its caller rather than losing events.
#![no_std]
#![no_main]

use evq_abi::msg::{label, BatchBuilder, Event, Request, MAX_BATCH, MAX_MSG_BYTES};
use evq_sel4_runtime::{domain_main, exit, info, publish, DomainInfo, Message, PublishError};
use evq_vfs::Vfs;

// The core is about 55 KiB; a debug build copies it while constructing it.
domain_main!(main, stack = 512 * 1024);

fn main(info: &'static DomainInfo) -> ! {
    let Some(endpoint) = info.endpoint("vfs", info::rights::RECEIVE) else {
        sel4::debug_println!("evq-vfs: the description gives it no vfs endpoint to serve");
        exit(1)
    };
    let endpoint = sel4::cap::Endpoint::from_bits(endpoint);
    let server = sel4::cap::Endpoint::from_bits(info::slot::SERVER);
    let mut vfs = Vfs::new(0);
    let mut now_ns = 0u64;
    sel4::debug_println!("evq-vfs: up");
    let (mut msg_info, _badge) = endpoint.recv(());
    loop {
        let request = Message::from_ipc(&msg_info);
        now_ns = evq_sel4_runtime::now_ns(info).unwrap_or(0).max(now_ns + 1);
        let mut batch = Message::new();
        let mut events = 0usize;
        let mut overflow = false;
        let mut reply = Message::new();
        {
            let mut builder = BatchBuilder::new(&mut batch.body).ok();
            let mut body = [0u8; MAX_MSG_BYTES];
            let (label, len) =
                vfs.handle_message(now_ns, request.label, request.body(), &mut body, &mut |e: Event<'_>| match builder
                    .as_mut()
                    .map(|b| b.push(&e))
                {
                    Some(Ok(())) if events < MAX_BATCH => events += 1,
                    _ => overflow = true,
                });
            reply.label = label;
            reply.len = len;
            reply.body[..len].copy_from_slice(&body[..len]);
            batch.len = builder.map_or(0, |b| b.finish());
        }
        if overflow {
            // One request publishes at most a handful of events; more than a
            // batch holds is a bug in the core, and is said so, not hidden.
            sel4::debug_println!("evq-vfs: a request published more events than one batch holds");
        }
        if events > 0 {
            let published = Request::decode(label::PUBLISH_BATCH, batch.body())
                .map_err(|_| PublishError::Malformed)
                .and_then(|request| publish(server, &request));
            if let Err(e) = published {
                sel4::debug_println!("evq-vfs: the server refused a batch: {e:?}");
            }
        }
        (msg_info, _) = endpoint.reply_recv(reply.to_ipc(&[]), ());
    }
}
