//! The server's side of an ingest ring (`docs/protocol.md` §2.2, §2.9): a
//! hostile source. The input is a script run against a real server core
//! (`evq_server::Server` in `evq_testkit::Harness`) with two sources, each
//! with its ingest ring: VFS (id 1), whose ring the script writes through
//! the real source side (`evq_source::RingLink` under a `Publisher`) and
//! corrupts at will, and the network driver (id 2), which publishes one
//! event, honestly, before the script starts. Client ALICE's queue
//! subscribes to VFS, device and network events; BOB's to network events.
//!
//! What must hold, whatever the script does:
//!
//! * nothing panics, and every client's ring stays well-formed;
//! * every event a client receives from source 1 is a VFS event (its only
//!   allowed category): a corrupt ring yields a cut-off or a refusal, never
//!   an event in another category, nor one stamped as another source;
//! * the network source's event reaches BOB exactly once, and ALICE at
//!   most once, unchanged: one source's ring cannot harm another's;
//! * the VFS ring is cut off at most once, only the VFS ring is, its fault
//!   says itself in words, and once it is cut off the server takes nothing
//!   more from it;
//! * while the script has corrupted nothing, nothing is cut off, events
//!   arrive in the order published, and every published event is received,
//!   counted lost, or refused by the server (exactly so when the source
//!   dropped none; ALICE's loss count includes the network event when her
//!   queue was full as it came).
//!
//! Input: byte 0 picks the VFS ring's data pages (bit 0: 1 or 2) and the
//! source's budget per tick (bit 1: none or 3 events); then operations, one
//! byte each (the low 3 bits) and their arguments:
//!
//! * 0..=2: publish one VFS event: a byte for its kind (low 3 bits) and
//!   priority (bit 7), a byte for its payload's length (up to 63), then
//!   the payload;
//! * 3: corrupt: a 2-byte little-endian word index into the region, then 8
//!   bytes XORed into that word;
//! * 4: a drain pass, then both clients read everything;
//! * 5: the server prepares to sleep;
//! * 6: a tick, 10 ms later;
//! * 7: publish a batch: a byte for how many (up to 15) events, all like
//!   the next publish would be.
//!
//! At the end the server ticks and drains until it says no ring holds more
//! (at most 400 times) and the clients read.

use evq_abi::event::{Category, CategorySet, Priority};
use evq_abi::msg::{Event, Filter, Reply, Request};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, Config, Server, SourceSpec};
use evq_source::{Doorbell, Publisher, RingLink, WhenFull};
use evq_testkit::{Harness, HeapRings, IngestRegion};

const VFS: u64 = 0x100;
const NET: u64 = 0x200;
const ALICE: u64 = 0x1000;
const BOB: u64 = 0x2000;
const NET_OBJECT: u64 = 50;

/// The server is driven by the script, not by the source's signals.
struct Bell;

impl Doorbell for Bell {
    fn ring(&mut self) {}
    fn wait_for_room(&mut self) {}
}

fn create(h: &mut Harness, client: u64, pages: u32, categories: &[Category]) -> EventQueue {
    let Reply::QueueCreated { queue, .. } =
        h.call(client, &Request::CreateQueue { geometry: RingGeometry::new(pages).expect("a ring size") })
    else {
        panic!("the queue is created")
    };
    for &c in categories {
        let reply = h.call(client, &Request::Subscribe { queue, filter: Filter::all_of(c) });
        assert!(matches!(reply, Reply::Subscribed { .. }), "{reply:?}");
    }
    h.attach(queue)
}

struct Script<'a> {
    input: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.input.split_first() else { return 0 };
        self.input = rest;
        b
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        core::array::from_fn(|_| self.byte())
    }
}

/// What the clients have seen so far, and what the script has done.
#[derive(Default)]
struct Seen {
    /// Object ids of source 1's events, in arrival order (ALICE's queue).
    vfs: Vec<u64>,
    /// The network event's arrivals, per client.
    net_alice: u32,
    net_bob: u32,
    /// The VFS ring was cut off.
    cut: bool,
    /// What the server had taken from source 1 when it was cut off.
    published_at_cut: u64,
}

fn read_all(queue: &mut EventQueue, seen: &mut Seen, is_alice: bool) {
    loop {
        let event = match queue.next_event() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => panic!("the server wrote a malformed event into a client's ring: {e:?}"),
        };
        match event.source_id {
            1 => {
                assert!(is_alice, "BOB subscribes to no VFS event");
                assert_eq!(event.category, Category::Vfs, "source 1 may publish only VFS events");
                seen.vfs.push(event.object_id);
            }
            2 => {
                assert_eq!((event.category, event.object_id), (Category::Network, NET_OBJECT));
                assert_eq!(event.payload, b"net!0000", "the network event changed on its way");
                if is_alice {
                    seen.net_alice += 1;
                } else {
                    seen.net_bob += 1;
                }
            }
            other => panic!("an event from source {other}, which published none"),
        }
    }
}

fn settle(h: &mut Harness, seen: &mut Seen) {
    for action in h.take_actions() {
        if let Action::CutOff { source, fault } = action {
            assert_eq!(source, VFS, "the honest network source was cut off: {fault}");
            assert!(!seen.cut, "the VFS ring was cut off twice");
            let words = fault.to_string();
            assert!(!words.is_empty() && !words.contains("Ring(") && !words.contains("Entry("), "{words:?}");
            assert!(!h.server.has_ingest(VFS));
            seen.cut = true;
            seen.published_at_cut = published(h);
        }
    }
    if seen.cut {
        assert_eq!(published(h), seen.published_at_cut, "the server took events from a ring it cut off");
    }
}

fn published(h: &Harness) -> u64 {
    h.server.source_stats(1).map_or(0, |(_, c)| c.published)
}

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let mut script = Script { input: data };
    let sel = script.byte();
    let pages = if sel & 1 == 0 { 1 } else { 2 };
    let budget = if sel & 2 == 0 { 0 } else { 3 };

    let mut server = Server::new(Config { ring_pool_pages: 32 }, HeapRings::default());
    for (badge, name, category, budget_per_tick) in
        [(VFS, "vfs", Category::Vfs, budget), (NET, "net", Category::Network, 0)]
    {
        let spec =
            SourceSpec { badge, name, allowed: CategorySet::of(&[category]), supervisor: false, budget_per_tick };
        server.register_source(spec).expect("the source registers");
    }
    server.register_client(ALICE).expect("the client registers");
    server.register_client(BOB).expect("the client registers");
    let mut h = Harness::new(server);
    let mut vfs_ring = IngestRegion::new(RingGeometry::new(pages).expect("a ring size"));
    let mut net_ring = IngestRegion::new(RingGeometry::new(1).expect("a ring size"));
    h.attach_ingest(VFS, &mut vfs_ring);
    h.attach_ingest(NET, &mut net_ring);
    let mut alice = create(&mut h, ALICE, 2, &[Category::Vfs, Category::Device, Category::Network]);
    let mut bob = create(&mut h, BOB, 1, &[Category::Network]);

    let mut net = Publisher::new(RingLink::new(net_ring.producer(), Bell, WhenFull::Drop));
    let net_event = Event {
        category: Category::Network,
        kind: evq_abi::event::network::LINK_UP,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: NET_OBJECT,
        payload: b"net!0000",
    };
    net.publish_one(net_event).expect("the network source publishes");

    let mut vfs = Publisher::new(RingLink::new(vfs_ring.producer(), Bell, WhenFull::Drop));
    let mut seen = Seen::default();
    let mut corrupted = false;
    let mut next_object = 0u64;
    let mut accepted = 0u64;
    let region_words = RingGeometry::new(pages).expect("a ring size").region_bytes() / 8;

    let mut publish = |script: &mut Script<'_>, count: u8, vfs: &mut Publisher<RingLink<Bell>>| {
        let kb = script.byte();
        let len = usize::from(script.byte() % 64);
        let mut payload = [0u8; 64];
        for b in &mut payload[..len] {
            *b = script.byte();
        }
        for _ in 0..count {
            let event = Event {
                category: Category::Vfs,
                kind: kb & 7,
                type_flags: 0,
                priority: if kb & 0x80 == 0 { Priority::Normal } else { Priority::Critical },
                object_id: next_object,
                payload: &payload[..len],
            };
            next_object += 1;
            if vfs.publish_one(event).is_ok() {
                accepted += 1;
            }
        }
    };

    while !script.input.is_empty() {
        match script.byte() & 7 {
            0..=2 => publish(&mut script, 1, &mut vfs),
            3 => {
                let index = usize::from(u16::from_le_bytes(script.bytes())) % region_words;
                let mask = u64::from_le_bytes(script.bytes());
                *vfs_ring.word_mut(index * 8) ^= mask;
                corrupted |= mask != 0;
            }
            4 => {
                h.drain();
                settle(&mut h, &mut seen);
                read_all(&mut alice, &mut seen, true);
                read_all(&mut bob, &mut seen, false);
            }
            5 => {
                let actions = &mut h.actions;
                h.server.prepare_sleep(&mut |a| actions.push(a));
                settle(&mut h, &mut seen);
            }
            6 => {
                h.tick(10_000_000);
                settle(&mut h, &mut seen);
            }
            _ => {
                let count = script.byte() % 16;
                publish(&mut script, count, &mut vfs);
            }
        }
        if !corrupted {
            assert!(!seen.cut, "an honest ring was cut off");
        }
    }

    // Everything left: a tick refills a budget, then passes until none has
    // more (a 2-page ring holds under 1,000 entries: 3 a tick drains it).
    for _ in 0..400 {
        h.tick(10_000_000);
        let more = h.drain();
        settle(&mut h, &mut seen);
        read_all(&mut alice, &mut seen, true);
        read_all(&mut bob, &mut seen, false);
        if !more && !h.server.waits_for_tick() {
            break;
        }
    }

    assert_eq!(seen.net_bob, 1, "the network event reached BOB {} times", seen.net_bob);
    assert!(seen.net_alice <= 1, "the network event reached ALICE {} times", seen.net_alice);
    if !corrupted {
        assert!(!seen.cut, "an honest ring was cut off");
        assert!(seen.vfs.windows(2).all(|w| w[0] < w[1]), "events out of order: {:?}", seen.vfs);
        // ALICE's losses may include the network event (her queue full
        // when it came): it is counted on both sides.
        let rejected = h.server.source_stats(1).map_or(0, |(_, c)| c.rejected);
        let counted = seen.vfs.len() as u64 + u64::from(seen.net_alice) + alice.lost_total() + rejected;
        if vfs.link().dropped() == 0 {
            assert_eq!(counted, accepted + 1, "published events vanished");
        } else {
            assert!(counted <= accepted + 1, "more events arrived than were published");
        }
    }
}
