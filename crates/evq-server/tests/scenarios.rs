//! One test per behaviour of the server core, through the real message
//! encoding and a real ring reader.

mod common;

use common::*;
use evq_abi::event::{device, memory, meta, network, process, vfs, Category, Priority, UsagePayload};
use evq_abi::msg::{label, ErrorCode, Event, Filter, Reply, Request, StatsTarget, MAX_MSG_BYTES};
use evq_abi::ring::control;
use evq_server::{Action, Config, Server, SourceSpec};
use evq_testkit::{Harness, HeapRings};
use zerocopy::FromBytes;

fn err(code: ErrorCode, detail: u32) -> Reply {
    Reply::Error { code, detail }
}

#[test]
fn a_published_event_arrives_stamped_with_the_badges_source_and_a_sequence_number() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    let watch = subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    h.now_ns = 5_000;
    assert_eq!(publish(&mut h, VFS, vfs_event(vfs::CREATE, 42, b"name")), Reply::Published { accepted: 1 });
    h.now_ns = 6_000;
    assert_eq!(publish(&mut h, VFS, vfs_event(vfs::DELETE, 42, b"")), Reply::Published { accepted: 1 });
    let got = drain(&mut reader);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].kind, got[0].object_id, got[0].source_id, got[0].seq), (vfs::CREATE, 42, 1, 0));
    assert_eq!(got[0].payload, b"name");
    assert_eq!(got[0].watch_id, watch);
    assert_eq!((got[1].kind, got[1].seq), (vfs::DELETE, 1));
}

#[test]
fn the_server_timestamps_events_with_its_own_clock() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    h.now_ns = 123_456_789;
    publish(&mut h, VFS, create_event(1));
    assert_eq!(reader.next_event().unwrap().unwrap().timestamp_ns, 123_456_789);
}

#[test]
fn a_source_cannot_publish_outside_its_categories_and_nothing_is_delivered() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Network));
    let mut reader = h.attach(q);
    let forged = Event {
        category: Category::Network,
        kind: network::LINK_DOWN,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 1,
        payload: b"",
    };
    assert_eq!(publish(&mut h, VFS, forged), err(ErrorCode::NotPermitted, Category::Network as u32));
    assert!(drain(&mut reader).is_empty());
    let (name, stats) = h.server.source_stats(1).unwrap();
    assert_eq!((name, stats.rejected, stats.published), ("vfs", 1, 0));
    // The network source may.
    assert_eq!(publish(&mut h, NET, forged), Reply::Published { accepted: 1 });
    assert_eq!(drain(&mut reader)[0].source_id, 2);
}

#[test]
fn a_batch_with_one_forbidden_event_is_refused_whole() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    let mut body = [0u8; MAX_MSG_BYTES];
    let mut b = evq_abi::msg::BatchBuilder::new(&mut body).unwrap();
    b.push(&create_event(1)).unwrap();
    b.push(&Event { category: Category::Device, kind: device::STATE, ..create_event(2) }).unwrap();
    b.push(&Event { category: Category::Process, kind: process::START, ..create_event(3) }).unwrap();
    let len = b.finish();
    // The detail names the first forbidden event in batch order (Device, 4),
    // not the lowest-numbered forbidden category (Process, 2).
    assert_eq!(h.raw(VFS, label::PUBLISH_BATCH, &body[..len]), err(ErrorCode::NotPermitted, Category::Device as u32));
    assert!(drain(&mut reader).is_empty());
}

#[test]
fn a_batch_built_in_code_is_checked_like_a_decoded_one() {
    // A shell that has events in typed form hands them to the core with no
    // encoding between: the core checks them as it would a message.
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    let events = [create_event(1), create_event(2), create_event(3)];
    let request = |h: &mut Harness, events: &[Event<'_>]| {
        let actions = &mut h.actions;
        let batch = Request::PublishBatch(evq_abi::msg::Batch::from_events(events));
        h.server.request(h.now_ns, VFS, batch, &mut |a| actions.push(a))
    };
    assert_eq!(request(&mut h, &events), Reply::Published { accepted: 3 });
    assert_eq!(drain(&mut reader).iter().map(|e| e.object_id).collect::<Vec<_>>(), vec![1, 2, 3]);
    // One event the decoder would refuse: the batch is refused whole, as Malformed.
    let bad = [create_event(4), Event { kind: 60, ..create_event(5) }];
    let rejected = h.server.source_stats(1).unwrap().1.rejected;
    assert_eq!(request(&mut h, &bad), err(ErrorCode::Malformed, 5));
    assert_eq!(h.server.source_stats(1).unwrap().1.rejected, rejected + 1);
    // One forbidden category: refused whole, naming it.
    let forbidden = [create_event(6), Event { category: Category::Device, kind: device::STATE, ..create_event(7) }];
    assert_eq!(request(&mut h, &forbidden), err(ErrorCode::NotPermitted, Category::Device as u32));
    assert!(drain(&mut reader).is_empty());
}

#[test]
fn unknown_senders_get_an_error_and_are_counted() {
    let mut h = harness(64);
    assert_eq!(publish(&mut h, 0xDEAD, create_event(1)), err(ErrorCode::UnknownSender, 0));
    assert_eq!(
        h.call(0xDEAD, &Request::CreateQueue { geometry: evq_abi::ring::RingGeometry::new(1).unwrap() }),
        err(ErrorCode::UnknownSender, 0)
    );
    assert_eq!(h.server.totals().rejected, 2);
}

#[test]
fn every_matching_queue_gets_the_event_tagged_with_its_own_subscription() {
    let mut h = harness(64);
    let qa = create(&mut h, ALICE, 1);
    let qb = create(&mut h, BOB, 1);
    subscribe(&mut h, ALICE, qa, all_of(Category::Network));
    let wa = subscribe(&mut h, ALICE, qa, all_of(Category::Vfs));
    let wb = subscribe(&mut h, BOB, qb, all_of(Category::Vfs));
    assert_ne!(wa, wb, "alice's second subscription has id 1, bob's first id 0");
    let (mut ra, mut rb) = (h.attach(qa), h.attach(qb));
    publish(&mut h, VFS, create_event(7));
    let (a, b) = (drain(&mut ra), drain(&mut rb));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!((a[0].watch_id, b[0].watch_id), (wa, wb));
    assert_eq!(h.server.source_stats(1).unwrap().1.delivered, 2);
}

#[test]
fn filters_on_kind_object_source_and_info_select_events() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    let only_deletes = Filter { type_mask: 1 << vfs::DELETE, ..all_of(Category::Vfs) };
    let object_9 = Filter { object_id: Some(9), ..all_of(Category::Vfs) };
    let dirs_only = Filter {
        info_filter: u32::from(vfs::flags::IS_DIR) << 16,
        info_mask: u32::from(vfs::flags::IS_DIR) << 16,
        ..all_of(Category::Vfs)
    };
    let from_net = Filter { source_id: Some(2), ..all_of(Category::Vfs) };
    let w_del = subscribe(&mut h, ALICE, q, only_deletes);
    let w_obj = subscribe(&mut h, ALICE, q, object_9);
    let w_dir = subscribe(&mut h, ALICE, q, dirs_only);
    subscribe(&mut h, ALICE, q, from_net);
    let mut reader = h.attach(q);

    publish(&mut h, VFS, vfs_event(vfs::DELETE, 1, b"")); // deletes
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 9, b"")); // object 9
    publish(&mut h, VFS, Event { type_flags: vfs::flags::IS_DIR, ..vfs_event(vfs::CREATE, 3, b"") }); // dir
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 4, b"")); // nobody
    let got = drain(&mut reader);
    let seen: Vec<_> = got.iter().map(|g| (g.object_id, g.watch_id)).collect();
    assert_eq!(seen, vec![(1, w_del), (9, w_obj), (3, w_dir)]);
    // The fourth was subscribed-to but filtered, for the queue and the source.
    assert_eq!(stats(&mut h, ALICE, StatsTarget::Queue(q)).counters.filtered, 1);
    assert_eq!(h.server.source_stats(1).unwrap().1.filtered, 1);
}

fn stats(h: &mut Harness, from: u64, target: StatsTarget) -> evq_abi::msg::Stats {
    match h.call(from, &Request::Stats(target)) {
        Reply::Stats(s) => s,
        other => panic!("stats failed: {other:?}"),
    }
}

#[test]
fn a_full_ring_drops_counts_and_reports_the_exact_loss_with_the_next_event() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    // 512 slots, 64 reserved for critical: 448 usable by 5-slot entries = 89.
    for i in 0..100 {
        publish(&mut h, VFS, create_event(i));
    }
    let s = stats(&mut h, ALICE, StatsTarget::Queue(q));
    assert_eq!((s.counters.delivered, s.counters.dropped), (89, 11));
    assert_eq!(h.server.source_stats(1).unwrap().1.dropped, 11);
    assert_eq!(reader.lost_total(), 11);
    let first = drain(&mut reader);
    assert_eq!(first.len(), 89);
    assert!(first.iter().all(|g| g.lost_before == 0));
    publish(&mut h, VFS, create_event(500));
    let next = drain(&mut reader);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].lost_before, 11);
    // The sequence gap says the same: 89 delivered, 11 lost, this is #100.
    assert_eq!(next[0].seq, 100);
}

#[test]
fn critical_events_use_the_reserved_headroom_and_are_dropped_last() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let w_proc = subscribe(&mut h, ALICE, q, all_of(Category::Process));
    h.call(ALICE, &Request::SetPriority { queue: q, subscription: w_proc, priority: Priority::Critical });
    let mut reader = h.attach(q);
    for i in 0..100 {
        publish(&mut h, VFS, create_event(i));
    }
    let fault = Event {
        category: Category::Process,
        kind: process::START,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 77,
        payload: b"",
    };
    // The normal events stopped at the reserve; the critical one still fits.
    assert_eq!(publish(&mut h, ROOT, fault), Reply::Published { accepted: 1 });
    let got = drain(&mut reader);
    let last = got.last().unwrap();
    assert_eq!((last.category, last.object_id, last.critical, last.lost_before), (Category::Process, 77, true, 11));
}

#[test]
fn coalescing_replaces_undelivered_events_and_says_how_many() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    assert_eq!(h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 1_000 }), Reply::Done);
    let mut reader = h.attach(q);
    for size in 0..5u8 {
        publish(&mut h, VFS, vfs_event(vfs::ATTRIB, 9, &[size]));
    }
    publish(&mut h, VFS, vfs_event(vfs::ATTRIB, 10, b"other"));
    assert!(drain(&mut reader).is_empty(), "held back for the window");
    assert_eq!(h.server.staged_count(), 2);
    assert_eq!(h.server.next_deadline(), Some(h.now_ns + 1_000));
    h.tick(999);
    assert!(drain(&mut reader).is_empty(), "window not over yet");
    h.tick(1);
    let got = drain(&mut reader);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].object_id, got[0].coalesced, got[0].payload.as_slice()), (9, 4, &[4u8][..]));
    assert_eq!((got[1].object_id, got[1].coalesced), (10, 0));
    assert_eq!((got[0].seq, got[1].seq), (0, 1), "merged events take no sequence numbers");
    assert_eq!(stats(&mut h, ALICE, StatsTarget::Queue(q)).counters.coalesced, 4);
    assert_eq!(h.server.source_stats(1).unwrap().1.coalesced, 4);
    assert_eq!(h.server.staged_count(), 0);
}

#[test]
fn turning_coalescing_off_writes_out_what_was_held() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 1_000_000 });
    let mut reader = h.attach(q);
    publish(&mut h, VFS, create_event(1));
    assert!(drain(&mut reader).is_empty());
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 0 });
    assert_eq!(drain(&mut reader).len(), 1);
}

#[test]
fn a_full_staging_area_writes_its_oldest_event_out_rather_than_dropping() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 1_000_000 });
    let mut reader = h.attach(q);
    let n = evq_server::limits::MAX_STAGED as u64;
    for object in 0..n + 3 {
        publish(&mut h, VFS, create_event(object));
    }
    let got = drain(&mut reader);
    assert_eq!(got.iter().map(|g| g.object_id).collect::<Vec<_>>(), vec![0, 1, 2]);
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 0 });
    assert_eq!(drain(&mut reader).len() as u64, n);
}

fn signals(h: &mut Harness) -> usize {
    h.take_actions().iter().filter(|a| matches!(a, Action::Signal { .. })).count()
}

#[test]
fn a_waiting_client_is_signalled_once_per_batch() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    h.take_actions();
    assert_eq!(
        h.call(ALICE, &Request::Wait { queue: q, min_events: 3, timeout_ns: 0 }),
        Reply::Wait { armed: true, unread_slots: 0 }
    );
    assert!(reader.prepare_wait().unwrap());
    publish(&mut h, VFS, create_event(1));
    publish(&mut h, VFS, create_event(2));
    assert_eq!(signals(&mut h), 0, "batch not complete");
    publish(&mut h, VFS, create_event(3));
    assert_eq!(signals(&mut h), 1);
    publish(&mut h, VFS, create_event(4));
    assert_eq!(signals(&mut h), 0, "the client has not gone back to sleep");
    assert_eq!(drain(&mut reader).len(), 4);
}

#[test]
fn a_client_that_is_not_waiting_is_never_signalled() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    h.take_actions();
    for i in 0..10 {
        publish(&mut h, VFS, create_event(i));
    }
    assert_eq!(signals(&mut h), 0);
}

#[test]
fn a_wait_timeout_signals_even_without_events() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    h.take_actions();
    h.call(ALICE, &Request::Wait { queue: q, min_events: 100, timeout_ns: 1_000 });
    assert!(reader.prepare_wait().unwrap());
    publish(&mut h, VFS, create_event(1));
    h.tick(999);
    assert_eq!(signals(&mut h), 0);
    h.tick(1);
    assert_eq!(signals(&mut h), 1);
    h.tick(10_000);
    assert_eq!(signals(&mut h), 0, "a timeout fires once");
}

#[test]
fn wait_is_not_armed_while_unread_events_remain() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    publish(&mut h, VFS, create_event(1));
    assert_eq!(
        h.call(ALICE, &Request::Wait { queue: q, min_events: 1, timeout_ns: 0 }),
        Reply::Wait { armed: false, unread_slots: 5 }
    );
}

#[test]
fn a_source_over_its_budget_is_held_back_and_nothing_is_lost_silently() {
    let mut h = harness_with_budget(64, 3);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    let mut body = [0u8; MAX_MSG_BYTES];
    let mut b = evq_abi::msg::BatchBuilder::new(&mut body).unwrap();
    for i in 0..5 {
        b.push(&create_event(i)).unwrap();
    }
    let len = b.finish();
    assert_eq!(h.raw(VFS, label::PUBLISH_BATCH, &body[..len]), err(ErrorCode::Busy, 3));
    assert_eq!(publish(&mut h, VFS, create_event(9)), err(ErrorCode::Busy, 0));
    let (_, s) = h.server.source_stats(1).unwrap();
    assert_eq!((s.published, s.throttled), (3, 3));
    h.tick(1);
    assert_eq!(publish(&mut h, VFS, create_event(9)), Reply::Published { accepted: 1 });
    let objects: Vec<_> = drain(&mut reader).iter().map(|g| g.object_id).collect();
    assert_eq!(objects, vec![0, 1, 2, 9]);
}

/// Writes `value` into the ring's consumer-owned tail, as a hostile client would.
fn corrupt_tail(h: &mut Harness, queue: u32, value: u32) {
    let ring = h
        .actions
        .iter()
        .find_map(|a| match a {
            Action::GrantRing { queue: q, ring, .. } if *q == queue => Some(*ring),
            _ => None,
        })
        .unwrap();
    let (base, _) = h.server.memory_mut().region(ring).unwrap();
    // SAFETY: the ring is live and 8-byte aligned; the tail is a u32 the
    // server reads only atomically.
    unsafe { core::sync::atomic::AtomicU32::from_ptr(base.as_ptr().add(control::TAIL).cast()) }
        .store(value, core::sync::atomic::Ordering::Relaxed);
}

#[test]
fn a_client_that_corrupts_its_tail_is_revoked_and_others_go_on() {
    let mut h = harness(64);
    let qa = create(&mut h, ALICE, 1);
    let qb = create(&mut h, BOB, 1);
    subscribe(&mut h, ALICE, qa, all_of(Category::Vfs));
    subscribe(&mut h, BOB, qb, all_of(Category::Vfs));
    let mut rb = h.attach(qb);
    // Fill alice's ring so the producer must read her tail, then corrupt it.
    for i in 0..100 {
        publish(&mut h, VFS, create_event(i));
    }
    corrupt_tail(&mut h, qa, 0xFFFF_0000);
    h.take_actions();
    publish(&mut h, VFS, create_event(1000));
    let actions = h.take_actions();
    assert!(actions.contains(&Action::Revoked { client: ALICE, queue: qa }));
    assert!(actions.contains(&Action::Signal { client: ALICE, queue: qa }));
    assert_eq!(h.server.memory().released.len(), 1);
    // Alice learns why; Bob keeps receiving.
    assert_eq!(h.call(ALICE, &Request::Wait { queue: qa, min_events: 1, timeout_ns: 0 }), err(ErrorCode::Revoked, qa));
    // Bob's ring filled too: 89 delivered, and event 1000 lost for him.
    assert_eq!(drain(&mut rb).len(), 89);
    publish(&mut h, VFS, create_event(1001));
    let last = drain(&mut rb);
    assert_eq!((last.len(), last[0].object_id, last[0].lost_before), (1, 1001, 12));
    // Destroying the revoked queue frees its slot.
    assert_eq!(h.call(ALICE, &Request::DestroyQueue { queue: qa }), Reply::Done);
    assert_eq!(h.server.queue_count(), 1);
}

#[test]
fn a_corrupt_tail_found_by_wait_also_revokes() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    corrupt_tail(&mut h, q, 12345);
    assert_eq!(h.call(ALICE, &Request::Wait { queue: q, min_events: 1, timeout_ns: 0 }), err(ErrorCode::Revoked, q));
    assert!(h.take_actions().contains(&Action::Revoked { client: ALICE, queue: q }));
    assert_eq!(h.server.pool_pages_used(), 0);
}

#[test]
fn ten_thousand_queues_created_and_destroyed_leave_every_table_empty() {
    let mut h = harness(64);
    h.server.memory_mut().free_released = true;
    for round in 0..10_000u32 {
        let q = create(&mut h, if round % 2 == 0 { ALICE } else { BOB }, 1 << (round % 3));
        let owner = if round % 2 == 0 { ALICE } else { BOB };
        subscribe(&mut h, owner, q, all_of(Category::Vfs));
        if round % 7 == 0 {
            h.call(owner, &Request::SetCoalescing { queue: q, window_ns: 1_000 });
            publish(&mut h, VFS, create_event(u64::from(round)));
        }
        assert_eq!(h.call(owner, &Request::DestroyQueue { queue: q }), Reply::Done);
        h.take_actions();
    }
    assert_eq!(h.server.queue_count(), 0);
    assert_eq!(h.server.subscription_count(), 0);
    assert_eq!(h.server.staged_count(), 0);
    assert_eq!(h.server.pool_pages_used(), 0);
    assert_eq!(h.server.memory().live(), 0);
    assert_eq!(h.server.memory().released.len(), 10_000);
    // And the client tables still allow a full complement.
    for _ in 0..evq_server::limits::MAX_QUEUES_PER_CLIENT {
        create(&mut h, ALICE, 1);
    }
}

#[test]
fn a_stale_or_foreign_queue_id_is_refused() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    assert_eq!(h.call(BOB, &Request::DestroyQueue { queue: q }), err(ErrorCode::NoSuchQueue, q));
    h.call(ALICE, &Request::DestroyQueue { queue: q });
    let q2 = create(&mut h, ALICE, 1);
    assert_eq!(q2 & 0xFF, q & 0xFF, "the slot is reused");
    assert_ne!(q2, q, "with a new generation");
    assert_eq!(h.call(ALICE, &Request::DestroyQueue { queue: q }), err(ErrorCode::NoSuchQueue, q));
}

#[test]
fn a_client_gone_loses_everything_it_held() {
    let mut h = harness(64);
    let q1 = create(&mut h, ALICE, 4);
    let q2 = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q1, all_of(Category::Vfs));
    subscribe(&mut h, ALICE, q2, all_of(Category::Vfs));
    let qb = create(&mut h, BOB, 1);
    // Only the supervisor may say so.
    assert_eq!(h.call(VFS, &Request::ClientGone { client: ALICE }), err(ErrorCode::NotPermitted, 0));
    assert_eq!(h.call(ROOT, &Request::ClientGone { client: ALICE }), Reply::Done);
    assert_eq!(h.server.queue_count(), 1);
    assert_eq!(h.server.pool_pages_used(), 2, "bob's ring is all that is left");
    assert_eq!(h.server.client_count(), 1);
    assert_eq!(h.call(ROOT, &Request::ClientGone { client: ALICE }), err(ErrorCode::InvalidArgument, 0));
    let _ = qb;
}

#[test]
fn malformed_messages_get_an_error_and_change_nothing_but_the_reject_count() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let cases: &[(u32, &[u8], ErrorCode)] = &[
        (label::PUBLISH, &[0; 8], ErrorCode::Malformed),
        (label::PUBLISH, &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], ErrorCode::Malformed),
        (label::PUBLISH, &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], ErrorCode::Malformed),
        (label::PUBLISH_BATCH, &[0; 8], ErrorCode::Malformed),
        (0x7777, &[], ErrorCode::UnknownLabel),
    ];
    for (lbl, body, code) in cases {
        match h.raw(VFS, *lbl, body) {
            Reply::Error { code: c, .. } => assert_eq!(c, *code, "label {lbl:#x}"),
            other => panic!("label {lbl:#x}: {other:?}"),
        }
    }
    assert_eq!(h.server.source_stats(1).unwrap().1.rejected, cases.len() as u64);
    assert_eq!(h.raw(ALICE, label::SUBSCRIBE, &[0; 40]), err(ErrorCode::Malformed, 4));
    assert_eq!(h.server.subscription_count(), 1);
    assert_eq!(h.server.source_stats(1).unwrap().1.published, 0);
}

#[test]
fn the_ring_pool_is_bounded_and_its_pressure_is_published() {
    // 20 frames: a 1-page ring (2 frames) and two 8-page rings (9 frames
    // each) use all 20, past 7/8.
    let mut h = harness(20);
    let watcher = create(&mut h, BOB, 1);
    subscribe(&mut h, BOB, watcher, all_of(Category::Memory));
    let mut reader = h.attach(watcher);
    let q = create(&mut h, ALICE, 8);
    assert!(drain(&mut reader).is_empty(), "11 of 20 frames is not low");
    let q2 = create(&mut h, ALICE, 8);
    let low = drain(&mut reader);
    assert_eq!(low.len(), 1);
    assert_eq!((low[0].kind, low[0].source_id, low[0].critical), (memory::LOW, 0, true));
    let usage = UsagePayload::read_from_bytes(&low[0].payload).unwrap();
    assert_eq!((usage.used.get(), usage.total.get()), (20 * 4096, 20 * 4096));
    assert_eq!(
        h.call(ALICE, &Request::CreateQueue { geometry: evq_abi::ring::RingGeometry::new(1).unwrap() }),
        err(ErrorCode::NoMemory, 2)
    );
    assert_eq!(drain(&mut reader)[0].kind, memory::EXHAUSTED);
    h.call(ALICE, &Request::DestroyQueue { queue: q });
    assert_eq!(drain(&mut reader)[0].kind, memory::RECOVERED);
    let _ = q2;
}

#[test]
fn a_refused_allocation_is_reported_as_no_memory() {
    let mut h = harness(64);
    h.server.memory_mut().fail_allocations = true;
    assert_eq!(
        h.call(ALICE, &Request::CreateQueue { geometry: evq_abi::ring::RingGeometry::new(1).unwrap() }),
        err(ErrorCode::NoMemory, 2)
    );
    assert_eq!((h.server.queue_count(), h.server.pool_pages_used()), (0, 0));
}

#[test]
fn subscriptions_are_bounded_and_ids_are_reused() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    for i in 0..evq_server::limits::MAX_SUBSCRIPTIONS {
        assert_eq!(subscribe(&mut h, ALICE, q, all_of(Category::Vfs)) as usize, i);
    }
    assert!(matches!(
        h.call(ALICE, &Request::Subscribe { queue: q, filter: all_of(Category::Vfs) }),
        Reply::Error { code: ErrorCode::TableFull, .. }
    ));
    assert_eq!(h.call(ALICE, &Request::Unsubscribe { queue: q, subscription: 3 }), Reply::Done);
    assert_eq!(subscribe(&mut h, ALICE, q, all_of(Category::Vfs)), 3);
    assert_eq!(
        h.call(ALICE, &Request::Unsubscribe { queue: q, subscription: 200 }),
        err(ErrorCode::NoSuchSubscription, 200)
    );
}

#[test]
fn server_events_of_its_own_reach_system_subscribers() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::System));
    let mut reader = h.attach(q);
    let up = Event {
        category: Category::System,
        kind: evq_abi::event::system::UP,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 0,
        payload: b"",
    };
    let mut actions = Vec::new();
    h.server.publish_own(9, up, &mut |a| actions.push(a)).unwrap();
    let got = drain(&mut reader);
    assert_eq!((got[0].kind, got[0].source_id), (evq_abi::event::system::UP, evq_server::SERVER_SOURCE_ID));
}

/// `Server::request` and `publish_own` take events built by code, not only
/// decoded ones: the same bounds hold, so an oversized payload or an
/// undefined kind is refused rather than reaching a ring.
#[test]
fn events_built_by_code_are_checked_like_decoded_ones() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    let big = [0u8; evq_abi::event::MAX_PAYLOAD + 1];
    let mut actions = Vec::new();
    let reply = h.server.request(1, VFS, Request::Publish(vfs_event(vfs::CREATE, 1, &big)), &mut |a| actions.push(a));
    assert_eq!(reply, err(ErrorCode::Malformed, 7));
    let reply = h.server.request(1, VFS, Request::Publish(vfs_event(vfs::COUNT, 1, b"")), &mut |a| actions.push(a));
    assert_eq!(reply, err(ErrorCode::Malformed, 5));
    let bad_own = Event { category: Category::Meta, ..create_event(1) };
    assert_eq!(
        h.server.publish_own(1, bad_own, &mut |a| actions.push(a)),
        Err(evq_abi::msg::DecodeError::BadCategory(0))
    );
    assert!(drain(&mut reader).is_empty());
    assert_eq!(h.server.source_stats(1).unwrap().1.rejected, 2);
}

#[test]
fn registration_refuses_duplicates_long_names_and_overflow() {
    let mut server = Server::new(Config { ring_pool_pages: 8 }, HeapRings::default());
    let spec = SourceSpec {
        badge: 1,
        name: "a",
        allowed: evq_abi::event::CategorySet::of(&[Category::Vfs]),
        supervisor: false,
        budget_per_tick: 0,
    };
    server.register_source(spec).unwrap();
    assert_eq!(server.register_source(spec), Err(evq_server::SetupError::DuplicateBadge));
    assert_eq!(
        server.register_source(SourceSpec { badge: 2, name: "a-name-longer-than-16", ..spec }),
        Err(evq_server::SetupError::NameTooLong)
    );
    for b in 3..(3 + evq_server::limits::MAX_SOURCES as u64 - 1) {
        server.register_source(SourceSpec { badge: b, ..spec }).unwrap();
    }
    assert_eq!(server.register_source(SourceSpec { badge: 999, ..spec }), Err(evq_server::SetupError::TableFull));
    server.register_client(5).unwrap();
    assert_eq!(server.register_client(5), Err(evq_server::SetupError::DuplicateBadge));
    let _ = meta::LOSS;
}

#[test]
fn the_lowest_accepting_subscription_tags_an_event_whatever_was_removed() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    for _ in 0..3 {
        subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    }
    let mut reader = h.attach(q);
    h.call(ALICE, &Request::Unsubscribe { queue: q, subscription: 0 });
    publish(&mut h, VFS, create_event(1));
    assert_eq!(drain(&mut reader)[0].watch_id, 1);
}

#[test]
fn coalescing_accumulates_attribute_flags_and_sums_packet_counters() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    subscribe(&mut h, ALICE, q, all_of(Category::Network));
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 100 });
    let mut reader = h.attach(q);
    publish(&mut h, VFS, Event { type_flags: vfs::flags::ATTR_SIZE, ..vfs_event(vfs::ATTRIB, 5, b"") });
    publish(&mut h, VFS, Event { type_flags: vfs::flags::ATTR_MODE, ..vfs_event(vfs::ATTRIB, 5, b"") });
    for (packets, bytes) in [(1u64, 60u64), (2, 1500), (3, 200)] {
        let c = evq_abi::event::CountersPayload { packets: packets.into(), bytes: bytes.into() };
        let rx = Event {
            category: Category::Network,
            kind: network::RX,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: 2,
            payload: zerocopy::IntoBytes::as_bytes(&c),
        };
        publish(&mut h, NET, rx);
    }
    h.tick(100);
    let got = drain(&mut reader);
    assert_eq!(got[0].type_flags, vfs::flags::ATTR_SIZE | vfs::flags::ATTR_MODE);
    let sum = evq_abi::event::CountersPayload::read_from_bytes(&got[1].payload).unwrap();
    assert_eq!((sum.packets.get(), sum.bytes.get(), got[1].coalesced), (6, 1760, 2));
}

#[test]
fn events_held_by_a_destroyed_queue_are_counted_as_dropped() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    h.call(ALICE, &Request::SetCoalescing { queue: q, window_ns: 1_000 });
    publish(&mut h, VFS, create_event(1));
    publish(&mut h, VFS, create_event(2));
    h.call(ALICE, &Request::DestroyQueue { queue: q });
    assert_eq!(h.server.staged_count(), 0);
    let (_, s) = h.server.source_stats(1).unwrap();
    assert_eq!((s.published, s.delivered, s.dropped), (2, 0, 2));
}

#[test]
fn a_client_that_starts_waiting_is_not_woken_for_events_it_has_read() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let mut reader = h.attach(q);
    publish(&mut h, VFS, create_event(1));
    assert_eq!(drain(&mut reader).len(), 1);
    h.take_actions();
    assert!(reader.prepare_wait().unwrap());
    h.tick(1_000);
    assert_eq!(signals(&mut h), 0, "nothing new arrived");
    publish(&mut h, VFS, create_event(2));
    assert_eq!(signals(&mut h), 1);
}

#[test]
fn a_corrupt_tail_found_by_stats_also_revokes() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    corrupt_tail(&mut h, q, 999);
    assert_eq!(h.call(ALICE, &Request::Stats(StatsTarget::Queue(q))), err(ErrorCode::Revoked, q));
    assert!(h.take_actions().contains(&Action::Revoked { client: ALICE, queue: q }));
}

#[test]
fn ring_frames_are_granted_one_reply_at_a_time_to_the_owner_only() {
    use evq_abi::msg::FRAMES_PER_REPLY;
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 4); // 5 frames: the control page and 4 data pages
    h.take_actions();
    let mut granted = Vec::new();
    let mut first = FRAMES_PER_REPLY; // CreateQueue's reply carried the first frames
    while first < 5 {
        let Reply::RingFrames { first: got, count } = h.call(ALICE, &Request::RingFrames { queue: q, first }) else {
            panic!("frames from {first} refused");
        };
        assert_eq!(got, first);
        assert!(count >= 1 && count <= FRAMES_PER_REPLY);
        let actions = h.take_actions();
        assert!(
            matches!(actions[..], [Action::GrantFrames { client: ALICE, queue, first: f, count: c, .. }]
                if queue == q && f == first && c == count),
            "{actions:?}"
        );
        granted.extend(first..first + count);
        first += count;
    }
    assert_eq!(granted, (FRAMES_PER_REPLY..5).collect::<Vec<_>>(), "the rest of the ring, once each");
    assert_eq!(h.call(ALICE, &Request::RingFrames { queue: q, first: 5 }), err(ErrorCode::InvalidArgument, 5));
    assert_eq!(h.call(BOB, &Request::RingFrames { queue: q, first: 0 }), err(ErrorCode::NoSuchQueue, q));
    assert!(h.take_actions().is_empty(), "a refused request grants nothing");
    h.call(ALICE, &Request::DestroyQueue { queue: q });
    assert_eq!(h.call(ALICE, &Request::RingFrames { queue: q, first: 0 }), err(ErrorCode::NoSuchQueue, q));
}
