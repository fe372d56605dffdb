//! Example: the smallest evq client domain on seL4. It shows one thing:
//! how a client watches for something, here directories being made and
//! removed anywhere in the VFS.
//!
//! 1. A `Session` over the runtime's `Sel4Transport` (calls on the client's
//!    badged endpoint to the server; ring frames come one per reply and are
//!    mapped into the domain's ring window).
//! 2. `create_queue`: a one-page ring, granted and mapped.
//! 3. `subscribe`: VFS CREATE and DELETE whose type flags say `IS_DIR` (the
//!    header's info word carries the type flags in bits 16–23, so the
//!    filter's `info_mask`/`info_filter` select them in the server; nothing
//!    else is ever written into this ring).
//! 4. Read every entry in the ring, then `wait` (the wake-up protocol of
//!    docs/protocol.md §2.9: the server signals this domain's notification
//!    only because it asked).
//!
//! Each event is one serial line, `evq: watch-dirs: #SEQ vfs create …`, the
//! text `evq tail` prints. After as many events as its `args` say (none:
//! never) it also prints `evq: watch-dirs: saw N directory events`, which
//! the boot test looks for, and goes on watching.
#![no_std]
#![no_main]

use evq_abi::event::{vfs, Category};
use evq_abi::msg::Filter;
use evq_client::Session;
use evq_sel4_runtime::{domain_main, exit, DomainInfo, Sel4Transport};

domain_main!(main, stack = 64 * 1024);

fn main(info: &'static DomainInfo) -> ! {
    let report_after: u64 = info.args.as_str().parse().unwrap_or(0);
    let mut session = Session::new(Sel4Transport::new(info));
    let (queue, mut events) = match session.create_queue(1) {
        Ok(made) => made,
        Err(e) => fail("CreateQueue", e),
    };
    let is_dir = u32::from(vfs::flags::IS_DIR) << 16;
    let filter = Filter {
        type_mask: 1 << vfs::CREATE | 1 << vfs::DELETE,
        info_mask: is_dir,
        info_filter: is_dir,
        ..Filter::all_of(Category::Vfs)
    };
    if let Err(e) = session.subscribe(queue, filter) {
        fail("Subscribe", e)
    }
    let mut seen = 0u64;
    loop {
        loop {
            match events.next_event() {
                Ok(Some(event)) => {
                    sel4::debug_println!("evq: watch-dirs: {event}");
                    seen += 1;
                    if seen == report_after {
                        sel4::debug_println!("evq: watch-dirs: saw {seen} directory events");
                    }
                }
                Ok(None) => break,
                Err(e) => fail("reading the ring", e),
            }
        }
        if let Err(e) = session.wait(queue, &mut events, 1) {
            fail("Wait", e)
        }
    }
}

fn fail(what: &str, why: impl core::fmt::Display) -> ! {
    sel4::debug_println!("evq: watch-dirs: {what} failed: {why}");
    exit(1)
}
