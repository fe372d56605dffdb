//! `Server::queue_reports`: every queue's figures as a shell's statistics
//! show them, its fill level read from the ring its client holds.

mod common;

use common::*;
use core::sync::atomic::{AtomicU32, Ordering};
use evq_abi::event::Category;
use evq_abi::msg::{Reply, Request, StatsTarget};

use evq_abi::ring::control;
use evq_server::{Action, QueueReport, RingHandle};

fn reports(h: &mut evq_testkit::Harness) -> Vec<QueueReport> {
    h.server.queue_reports().collect()
}

#[test]
fn each_queue_reports_its_owner_geometry_fill_and_counters() {
    let mut h = harness(64);
    assert!(reports(&mut h).is_empty(), "no queue yet");
    let a = create(&mut h, ALICE, 1);
    let b = create(&mut h, BOB, 2);
    subscribe(&mut h, ALICE, a, all_of(Category::Vfs));
    let mut reader = h.attach(a);
    // 512 slots, 64 reserved: 89 five-slot events fit, 11 are dropped.
    for i in 0..100 {
        publish(&mut h, VFS, create_event(i));
    }
    let got = reports(&mut h);
    assert_eq!(got.len(), 2);
    let (ra, rb) = (got[0], got[1]);
    assert_eq!((ra.queue, ra.owner, rb.queue, rb.owner), (a, ALICE, b, BOB));
    assert_eq!((ra.data_pages, ra.frames, ra.slot_count, ra.reserved_slots), (1, 2, 512, 64));
    assert_eq!((rb.data_pages, rb.frames, rb.slot_count), (2, 3, 1024));
    assert_eq!(ra.used_slots, Some(89 * 5));
    assert_eq!((ra.counters.delivered, ra.counters.dropped, ra.subscriptions), (89, 11, 1));
    assert_eq!((rb.used_slots, rb.counters.published, rb.subscriptions), (Some(0), 0, 0));
    // The same figures the owner's Stats request gives.
    let Reply::Stats(s) = h.call(ALICE, &Request::Stats(StatsTarget::Queue(a))) else { panic!("stats") };
    assert_eq!((s.counters, s.used_slots, s.slot_count), (ra.counters, 445, 512));
    // Read, the ring is empty again; the loss it told is counted.
    assert_eq!(drain(&mut reader).len(), 89);
    publish(&mut h, VFS, create_event(500));
    drain(&mut reader);
    let ra = reports(&mut h)[0];
    assert_eq!((ra.used_slots, ra.lost), (Some(0), 11));
}

#[test]
fn coalescing_and_holding_are_reported_and_a_destroyed_queue_is_gone() {
    let mut h = harness(64);
    let a = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, a, all_of(Category::Vfs));
    assert_eq!(h.call(ALICE, &Request::SetCoalescing { queue: a, window_ns: 1_000 }), Reply::Done);
    publish(&mut h, VFS, create_event(7));
    publish(&mut h, VFS, create_event(7));
    let r = reports(&mut h)[0];
    assert_eq!((r.coalesce_window_ns, r.staged, r.counters.coalesced, r.lossless), (1_000, 1, 1, false));
    assert_eq!(h.call(ALICE, &Request::DestroyQueue { queue: a }), Reply::Done);
    assert!(reports(&mut h).is_empty());
}

#[test]
fn an_impossible_tail_is_reported_as_no_fill_and_a_revoked_queue_as_revoked() {
    let mut h = harness(64);
    let a = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, a, all_of(Category::Vfs));
    // Full, so that the next write must read the client's tail.
    for i in 0..100 {
        publish(&mut h, VFS, create_event(i));
    }
    // The client writes a tail no head allows: the report cannot tell the
    // fill, and acts on nothing.
    let (base, _) = h.server.memory_mut().region(RingHandle(0)).expect("the ring");
    // SAFETY: the ring is live and 8-byte aligned; the tail is a u32 the
    // server reads only atomically.
    unsafe { AtomicU32::from_ptr(base.as_ptr().add(control::TAIL).cast()) }.store(0xFFFF_0000, Ordering::Relaxed);
    let r = reports(&mut h)[0];
    assert_eq!((r.used_slots, r.revoked, r.counters.delivered), (None, false, 89));
    assert!(!h.take_actions().iter().any(|a| matches!(a, Action::Revoked { .. })));
    // The next event written finds it and revokes the queue.
    publish(&mut h, VFS, create_event(1000));
    let r = reports(&mut h)[0];
    assert!(r.revoked, "{r:?}");
    assert_eq!((r.queue, r.owner, r.slot_count, r.used_slots), (a, ALICE, 0, None));
    // Every figure but its id and owner is zero (docs/console.md's QueueStatus).
    assert_eq!(r, QueueReport { queue: a, owner: ALICE, revoked: true, ..QueueReport::default() });
}
