//! Sources publishing through their ingest rings: the server's drain
//! passes, the handshakes with the source in both directions, budgets and
//! loss, and sources that break their rings. The source side is the real
//! one (`evq_source::RingLink` under a `Publisher`), in one process.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use evq_abi::event::{device, Category};
use evq_abi::msg::Event;
use evq_abi::ring::{control, RingGeometry};
use evq_server::{Action, IngestFault, PASS_BUDGET};
use evq_source::{Doorbell, Publisher, RingLink, WhenFull};
use evq_testkit::{Harness, IngestRegion};

/// The source's doorbell: counts the server's signals, and, while the
/// source waits for room, runs the server's drain pass (the server is
/// another domain, which would run then), and whatever else the test says
/// runs meanwhile (a client reading).
#[derive(Clone, Default)]
struct Bell {
    rung: Rc<RefCell<u32>>,
    room_waits: Rc<RefCell<u32>>,
    server: Option<Rc<RefCell<Harness>>>,
    meanwhile: Option<Rc<RefCell<dyn FnMut()>>>,
}

impl Doorbell for Bell {
    fn ring(&mut self) {
        *self.rung.borrow_mut() += 1;
    }
    fn wait_for_room(&mut self) {
        *self.room_waits.borrow_mut() += 1;
        if let Some(f) = &self.meanwhile {
            (f.borrow_mut())();
        }
        if let Some(h) = &self.server {
            h.borrow_mut().drain();
        }
    }
}

fn ring_pages(pages: u32) -> IngestRegion {
    IngestRegion::new(RingGeometry::new(pages).unwrap())
}

/// A harness whose VFS source publishes through a ring, and a client
/// queue subscribed to VFS events.
fn with_ring(pages: u32, budget: u32) -> (Harness, IngestRegion, u32, evq_client::EventQueue) {
    let mut h = harness_with_budget(64, budget);
    let mut ring = ring_pages(pages);
    h.attach_ingest(VFS, &mut ring);
    let q = create(&mut h, ALICE, 8);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    let reader = h.attach(q);
    (h, ring, q, reader)
}

fn events(n: u64) -> Vec<Event<'static>> {
    (0..n).map(create_event).collect()
}

#[test]
fn events_written_into_a_ring_arrive_as_the_rings_source_in_order() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 0);
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Wait));
    source.publish(&events(10)).unwrap();
    assert!(reader.next_event().unwrap().is_none(), "nothing before the server's pass");
    assert!(!h.drain());
    let got = drain(&mut reader);
    assert_eq!(got.iter().map(|g| g.object_id).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    assert!(got.iter().all(|g| g.source_id == 1), "stamped with the ring's source, VFS (1)");
    assert_eq!(h.server.source_stats(1).unwrap().1.published, 10);
}

#[test]
fn the_source_signals_only_a_server_that_sleeps_and_only_once() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 0);
    let bell = Bell::default();
    let mut source = Publisher::new(RingLink::new(ring.producer(), bell.clone(), WhenFull::Wait));
    source.publish(&events(3)).unwrap();
    assert_eq!(*bell.rung.borrow(), 0, "the server is awake: no signal");
    // The server drains, then goes to sleep on empty rings.
    h.drain();
    assert!(h.server.prepare_sleep(&mut |_| {}));
    source.publish_one(create_event(3)).unwrap();
    assert_eq!(*bell.rung.borrow(), 1, "asleep: one signal");
    source.publish_one(create_event(4)).unwrap();
    assert_eq!(*bell.rung.borrow(), 1, "the flag is spent: no second signal");
    // Entries already there: the server must not sleep.
    assert!(!h.server.prepare_sleep(&mut |_| {}));
    h.drain();
    assert_eq!(drain(&mut reader).len(), 5);
}

#[test]
fn a_full_ring_is_back_pressure_and_every_event_arrives_once() {
    let (h, mut ring, _q, mut reader) = with_ring(1, 0);
    let server = Rc::new(RefCell::new(h));
    let bell = Bell { server: Some(server.clone()), ..Bell::default() };
    let mut source = Publisher::new(RingLink::new(ring.producer(), bell.clone(), WhenFull::Wait));
    // 600 events of 5 slots do not fit a 512-slot ring at once (the
    // client's 8-page ring holds them all: 716).
    source.publish(&events(600)).unwrap();
    assert!(source.stats().busy > 0 && *bell.room_waits.borrow() > 0, "the ring pushed back");
    server.borrow_mut().drain();
    // The client's 8-page ring holds them all.
    let got = drain(&mut reader);
    assert_eq!(got.iter().map(|g| g.object_id).collect::<Vec<_>>(), (0..600).collect::<Vec<_>>());
    assert!(got.iter().all(|g| g.lost_before == 0));
    assert_eq!(server.borrow().server.source_stats(1).unwrap().1.dropped, 0);
}

#[test]
fn a_source_that_must_not_block_drops_and_the_client_sees_the_exact_loss() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 0);
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Drop));
    source.publish(&events(200)).unwrap();
    let dropped = source.link().dropped();
    assert!(dropped > 0, "a 512-slot ring holds fewer than 200 entries of 5 slots");
    h.drain();
    source.publish_one(create_event(999)).unwrap();
    h.drain();
    let got = drain(&mut reader);
    assert_eq!(got.len() as u64 + dropped, 201);
    let last = got.last().unwrap();
    assert_eq!((last.object_id, last.lost_before), (999, dropped), "the loss, exactly, before the next event");
    assert_eq!(h.server.source_stats(1).unwrap().1.dropped, dropped);
}

#[test]
fn the_servers_budget_leaves_events_in_the_ring_until_the_next_tick() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 3);
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Wait));
    source.publish(&events(7)).unwrap();
    h.drain();
    assert_eq!(drain(&mut reader).len(), 3);
    // The ring holds events, but only the tick can let them go: the
    // server may sleep until it.
    assert!(h.server.waits_for_tick());
    assert!(h.server.prepare_sleep(&mut |_| {}));
    h.tick(10_000_000);
    h.drain();
    assert_eq!(drain(&mut reader).len(), 3);
    h.tick(10_000_000);
    h.drain();
    assert_eq!(drain(&mut reader).len(), 1);
    assert!(!h.server.waits_for_tick());
    assert!(h.server.source_stats(1).unwrap().1.throttled >= 2);
}

#[test]
fn a_pass_takes_at_most_its_budget_from_a_ring_and_says_more_is_there() {
    let (mut h, mut ring, _q, mut reader) = with_ring(8, 0);
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Wait));
    source.publish(&events(PASS_BUDGET as u64 + 10)).unwrap();
    assert!(h.drain(), "more than a pass's budget");
    assert_eq!(drain(&mut reader).len(), PASS_BUDGET);
    assert!(!h.drain());
    assert_eq!(drain(&mut reader).len(), 10);
}

#[test]
fn an_event_outside_the_sources_categories_is_refused_and_the_rest_go() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 0);
    // The publisher does not know what the server allows the source: the
    // device event goes into the VFS source's ring, and the server refuses it.
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Wait));
    let forged = Event { category: Category::Device, kind: device::STATE, ..create_event(2) };
    source.publish(&[create_event(1), forged, create_event(3)]).unwrap();
    h.drain();
    assert_eq!(drain(&mut reader).iter().map(|g| g.object_id).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(h.server.source_stats(1).unwrap().1.rejected, 1);
}

/// Two sources, one of which breaks its ring: it is cut off with the
/// fault, and the other's events still arrive.
fn hostile(corrupt: impl FnOnce(&mut IngestRegion)) -> (Vec<Action>, Vec<u64>, u64) {
    let mut h = harness(64);
    let mut bad = ring_pages(1);
    let mut good = ring_pages(1);
    h.attach_ingest(VFS, &mut bad);
    h.attach_ingest(NET, &mut good);
    let q = create(&mut h, ALICE, 8);
    subscribe(&mut h, ALICE, q, all_of(Category::Vfs));
    subscribe(&mut h, ALICE, q, all_of(Category::Network));
    let mut reader = h.attach(q);
    let mut vfs = Publisher::new(RingLink::new(bad.producer(), Bell::default(), WhenFull::Wait));
    vfs.publish(&events(2)).unwrap();
    corrupt(&mut bad);
    let mut net = Publisher::new(RingLink::new(good.producer(), Bell::default(), WhenFull::Wait));
    let link_up = Event { category: Category::Network, kind: evq_abi::event::network::LINK_UP, ..create_event(50) };
    net.publish(&[link_up]).unwrap();
    h.drain();
    h.drain();
    let objects = drain(&mut reader).iter().map(|g| g.object_id).collect();
    let cut = h.actions.iter().filter(|a| matches!(a, Action::CutOff { source: VFS, .. })).count() as u64;
    (h.take_actions(), objects, cut)
}

#[test]
fn a_source_that_corrupts_its_head_is_cut_off_and_the_others_go_on() {
    let (actions, objects, cut) = hostile(|ring| *ring.word_mut(control::HEAD) = 100_000);
    assert_eq!(cut, 1, "cut off once");
    assert!(actions.iter().any(|a| matches!(a, Action::CutOff { source: VFS, fault: IngestFault::Ring(_) })));
    assert!(objects.contains(&50), "the network source's event arrives: {objects:?}");
}

#[test]
fn a_source_whose_entry_is_not_an_event_is_cut_off_after_its_good_ones() {
    // The first entry's descriptor names category 0 (Meta).
    let (actions, objects, cut) = hostile(|ring| {
        let first_body = evq_abi::PAGE_SIZE + 8;
        *ring.word_mut(first_body) &= !0xFF;
    });
    assert_eq!(cut, 1);
    let fault = actions.iter().find_map(|a| match a {
        Action::CutOff { fault, .. } => Some(*fault),
        _ => None,
    });
    assert!(matches!(fault, Some(IngestFault::Entry(_))), "{fault:?}");
    assert_eq!(objects, vec![50], "nothing of the broken ring, the network's event: {objects:?}");
    assert!(fault.unwrap().to_string().contains("not an event"));
}

#[test]
fn an_entry_whose_header_names_another_kind_than_its_body_is_refused() {
    let (_, objects, cut) = hostile(|ring| {
        // Header subtype (bits 24..32) of the first entry.
        *ring.word_mut(evq_abi::PAGE_SIZE) ^= 1 << 24;
    });
    assert_eq!((cut, objects), (1, vec![50]));
}

#[test]
fn only_a_registered_source_gets_a_ring_and_only_one() {
    let mut h = harness(64);
    let mut ring = ring_pages(1);
    let (base, len) = ring.region();
    // SAFETY: the region outlives the server in this test.
    assert_eq!(unsafe { h.server.attach_ingest(0xDEAD, base, len) }, Err(evq_server::IngestError::UnknownSource));
    h.attach_ingest(VFS, &mut ring);
    // SAFETY: as above.
    assert_eq!(unsafe { h.server.attach_ingest(VFS, base, len) }, Err(evq_server::IngestError::Attached));
    assert!(h.server.has_ingest(VFS) && !h.server.has_ingest(NET));
    // A slot's next holder gets a fresh ring: the old one is let go.
    assert!(h.server.detach_ingest(VFS));
    assert!(!h.server.has_ingest(VFS) && !h.server.detach_ingest(VFS));
    let mut fresh = ring_pages(2);
    h.attach_ingest(VFS, &mut fresh);
    assert!(h.server.has_ingest(VFS));
}

const CAROL: u64 = 0x3000;

#[test]
fn a_lossless_queue_holds_the_source_back_and_loses_nothing_while_another_drops() {
    let mut h = harness(64);
    h.server.register_lossless_client(CAROL).unwrap();
    let mut ring = ring_pages(1);
    h.attach_ingest(VFS, &mut ring);
    // Both clients have 1-page rings (89 events of 5 slots); 1,000 events go.
    let lossless = create(&mut h, CAROL, 1);
    subscribe(&mut h, CAROL, lossless, all_of(Category::Vfs));
    let lossy = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, lossy, all_of(Category::Vfs));
    let mut carol = h.attach(lossless);
    let mut alice = h.attach(lossy);
    let server = Rc::new(RefCell::new(h));
    let got = Rc::new(RefCell::new(Vec::new()));
    let (seen, s2) = (got.clone(), server.clone());
    // While the source waits: the lossless client reads what it has, then
    // asks the server to wait for more, which wakes it (its request is what
    // lets a held ring go on).
    let meanwhile = Rc::new(RefCell::new(move || {
        seen.borrow_mut().extend(drain(&mut carol).into_iter().map(|g| (g.object_id, g.lost_before)));
        let mut h = s2.borrow_mut();
        h.call(CAROL, &evq_abi::msg::Request::Wait { queue: lossless, min_events: 1, timeout_ns: 0 });
    }));
    let bell = Bell { server: Some(server.clone()), meanwhile: Some(meanwhile.clone()), ..Bell::default() };
    let mut source = Publisher::new(RingLink::new(ring.producer(), bell.clone(), WhenFull::Wait));
    source.publish(&events(1000)).unwrap();
    // The last of them: drain, read.
    for _ in 0..20 {
        server.borrow_mut().drain();
        (meanwhile.borrow_mut())();
    }
    let got = got.borrow();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (0..1000).collect::<Vec<_>>(),
        "every event, once, in order"
    );
    assert!(got.iter().all(|g| g.1 == 0), "no loss on the lossless queue");
    assert!(*bell.room_waits.borrow() > 0, "the source was held back");
    let h = server.borrow();
    let dropped = h.server.source_stats(1).unwrap().1.dropped;
    assert!(dropped > 0, "the other queue, not lossless, dropped");
    let alice_got = drain(&mut alice);
    assert_eq!(alice.lost_total(), dropped, "its loss counted exactly, in its ring");
    assert_eq!(alice_got.len() as u64 + dropped, 1000);
}

#[test]
fn a_held_ring_lets_the_server_sleep_and_a_call_is_told_busy() {
    let mut h = harness(64);
    h.server.register_lossless_client(CAROL).unwrap();
    let mut ring = ring_pages(1);
    h.attach_ingest(VFS, &mut ring);
    let q = create(&mut h, CAROL, 1);
    subscribe(&mut h, CAROL, q, all_of(Category::Vfs));
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Wait));
    // 89 events fill CAROL's ring; the 90th is held, with the rest.
    source.publish(&events(95)).unwrap();
    h.drain();
    assert!(h.server.prepare_sleep(&mut |_| {}), "held for the client: sleep until it asks");
    // A call that publishes is told Busy with none taken.
    assert_eq!(
        publish(&mut h, VFS, create_event(7)),
        evq_abi::msg::Reply::Error { code: evq_abi::msg::ErrorCode::Busy, detail: 0 }
    );
    assert!(h.server.source_stats(1).unwrap().1.throttled >= 2);
    assert_eq!(h.server.source_stats(1).unwrap().1.dropped, 0);
    // A lossless queue does not coalesce.
    let coalesce = evq_abi::msg::Request::SetCoalescing { queue: q, window_ns: 1_000 };
    assert_eq!(
        h.call(CAROL, &coalesce),
        evq_abi::msg::Reply::Error { code: evq_abi::msg::ErrorCode::InvalidArgument, detail: 0 }
    );
}

#[test]
fn a_loss_before_an_event_held_back_by_the_budget_is_counted_once() {
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 1);
    let mut source = Publisher::new(RingLink::new(ring.producer(), Bell::default(), WhenFull::Drop));
    // 200 entries of 3 slots do not fit the 448 a 1-page ring gives them.
    source.publish(&events(200)).unwrap();
    let dropped = source.link().dropped();
    assert!(dropped > 0);
    // One event a tick: every entry is read once over budget and left, then
    // taken at the next tick, the one after the loss included.
    let mut got = Vec::new();
    for round in 0..400 {
        if round == 200 {
            // The ring has room again: this one goes after the loss entry.
            source.publish_one(create_event(999)).unwrap();
        }
        h.drain();
        got.extend(drain(&mut reader));
        h.tick(10_000_000);
    }
    assert_eq!(got.last().map(|g| (g.object_id, g.lost_before)), Some((999, dropped)));
    assert_eq!(reader.lost_total(), dropped, "the client's ring counts it once");
    assert_eq!(h.server.source_stats(1).unwrap().1.dropped, dropped, "and so does the source's");
}

#[test]
fn a_source_that_claims_huge_losses_saturates_the_counts_and_never_overflows_them() {
    // A hostile source may write any loss count into its ring. Two of
    // u64::MAX must leave the counts at u64::MAX, never wrap them or panic.
    let (mut h, mut ring, _q, mut reader) = with_ring(1, 0);
    for object in [1, 2] {
        let mut producer = ring.producer();
        producer.count_lost(u64::MAX);
        let mut source = Publisher::new(RingLink::new(producer, Bell::default(), WhenFull::Drop));
        source.publish_one(create_event(object)).unwrap();
        h.drain();
    }
    let got = drain(&mut reader);
    assert_eq!(got.iter().map(|e| e.object_id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(h.server.source_stats(1).unwrap().1.dropped, u64::MAX);
    assert_eq!(h.server.totals().dropped, u64::MAX);
}
