//! The VFS domain: the `evq-vfs` core, the same as on seL4, behind a
//! request socket ([`Cap::VfsRequests`]) with the hosted framing of
//! [`crate::wire`].
//!
//! For each request the shell calls `Vfs::handle_message`, gathers the
//! events the core hands it in an `evq_source::Outbox`, publishes them
//! together (`evq_source::Publisher`, through the domain's ingest ring),
//! and only then replies, so that when a request's reply arrives its
//! events are already in the domain's ring, in order, and the server,
//! signalled if it slept, is taking them: they reach the subscribers'
//! rings in that server wake-up, not necessarily before the reply. The
//! launcher holds the other end of the request socket (`launcher::fs`).

use std::io;
use std::os::fd::AsFd;

use evq_abi::event::MAX_PAYLOAD;
use evq_abi::msg::{Event, MAX_MSG_BYTES};
use evq_source::Outbox;
use evq_system::{Domain, System};
use evq_vfs::Vfs;

use crate::boot::{self, Cap};
use crate::wire::{self, HEAD, RECV_BUF};
use crate::{seccomp, sys};

/// The most events one request publishes: a rename over an existing name
/// publishes three (the replaced name's DELETE and ATTRIB, and RENAME).
const MAX_EVENTS: usize = 8;

/// Their payloads together: names are at most 200 bytes, so three events'
/// payloads fit in two of the largest.
const MAX_EVENT_BYTES: usize = 2 * MAX_PAYLOAD;

/// Runs the VFS domain.
pub(super) fn run(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut publisher = super::publisher(system, me)?;
    let requests = boot::take(&caps, "request socket", |c| *c == Cap::VfsRequests)?;
    seccomp::confine(me.name)?;
    let started = sys::monotonic_ns();
    let mut vfs = Box::new(Vfs::new(1));
    let mut outbox = Box::new(Outbox::<MAX_EVENTS, MAX_EVENT_BYTES>::new());
    let mut buf = [0u8; RECV_BUF];
    loop {
        let Some(got) = sys::recv(requests.as_fd(), &mut buf, 0, false)? else {
            return Ok(());
        };
        let len = if got.truncated { RECV_BUF } else { got.len };
        let (label, body) = wire::unframe(&buf[..len]);
        let now = sys::monotonic_ns() - started + 1;
        let mut out = [0u8; MAX_MSG_BYTES];
        let mut overflow = false;
        let (reply_label, n) = vfs.handle_message(now, label, body, &mut out, &mut |e: Event<'_>| {
            overflow |= outbox.push(&e).is_err();
        });
        if overflow {
            // More than the outbox holds is a bug in the core, said so, not
            // hidden; the events that fit are published.
            eprintln!("evq-vfs: a request published more events than the outbox holds");
        }
        if !outbox.is_empty() {
            // The server is gone or refuses the VFS its own category: a
            // broken system, not a request's fault.
            publisher.publish(&outbox.events()).map_err(super::publish_failed)?;
            outbox.clear();
        }
        let mut frame = [0u8; HEAD + MAX_MSG_BYTES];
        let m = wire::frame(reply_label, &out[..n], &mut frame);
        sys::send(requests.as_fd(), &frame[..m], &[], false)?;
    }
}
