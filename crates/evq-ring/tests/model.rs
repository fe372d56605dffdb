//! Model-based tests: the ring against a plain model.
//!
//! The model is a `VecDeque` of the entries the consumer should see, plus
//! slot accounting done independently of the implementation: a push succeeds
//! exactly when, after laying out (optional skip) + (optional loss entry) +
//! (optional skip) + entry from the model's head, the slots not yet released
//! by the consumer would not exceed `slot_count - reserve` (reserve is zero
//! for critical pushes). After every step the harness also checks the raw
//! slot contents the producer wrote, the published head/tail words, and the
//! lost counters on both sides.

mod common;

use std::collections::VecDeque;

use common::{kept_info, kind_for, make_body, padded, Region};
use evq_abi::event::{meta, Category};
use evq_abi::ring::{info, EntryHeader, RingGeometry, MAX_ENTRY_SLOTS, SLOT_SIZE};
use evq_ring::{Consumer, EntryBuf, Producer, PushError};
use proptest::prelude::*;

/// What the consumer must return for one delivered entry.
#[derive(Clone, Debug)]
struct Expected {
    ty: u32,
    subtype: u8,
    info: u32,
    body: Vec<u8>,
    lost_before: u64,
    /// Free-running slot index just past the entry.
    end: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    Skip,
    Loss,
    Entry,
}

/// The independent model of ring state. Counters are u64 and never wrap in
/// the model; they are compared with the ring's u32 counters modulo 2^32.
struct Model {
    slot_count: u64,
    reserve: u64,
    /// Free-running head: slots the producer has published.
    head: u64,
    /// Tail the consumer has published (released).
    released: u64,
    /// Tail the consumer has read up to.
    read: u64,
    queue: VecDeque<Expected>,
    /// Full results since the last delivered entry.
    pending_full: u64,
    full_total: u64,
}

impl Model {
    fn new(g: RingGeometry, start: u64) -> Self {
        Self {
            slot_count: u64::from(g.slot_count()),
            reserve: u64::from(g.slot_count()) / 8,
            head: start,
            released: start,
            read: start,
            queue: VecDeque::new(),
            pending_full: 0,
            full_total: 0,
        }
    }

    /// Lays out a push of `len` slots from the head: the pieces (kind, free-
    /// running start, length) and the new head. Nothing may straddle the end
    /// of the slot array, so a piece that does not fit in what is left before
    /// the end is preceded by a skip covering exactly that remainder.
    fn layout(&self, len: u64) -> (Vec<(Piece, u64, u64)>, u64) {
        let mut pieces = Vec::new();
        let mut at = self.head;
        let mut place = |n: u64, what: Piece| {
            let left_before_end = self.slot_count - at % self.slot_count;
            if left_before_end < n {
                pieces.push((Piece::Skip, at, left_before_end));
                at += left_before_end;
            }
            pieces.push((what, at, n));
            at += n;
        };
        if self.pending_full > 0 {
            place(u64::from(meta::LOSS_SLOTS), Piece::Loss);
        }
        place(len, Piece::Entry);
        (pieces, at)
    }

    /// Whether the push fits: after it, unreleased slots must stay within
    /// the ring, less the critical reserve for a non-critical push.
    fn fits(&self, new_head: u64, critical: bool) -> bool {
        let limit = if critical { self.slot_count } else { self.slot_count - self.reserve };
        new_head - self.released <= limit
    }
}

#[derive(Debug)]
struct Coverage {
    delivered_by_len: Vec<u64>,
    skip_before_len: Vec<u64>,
    loss_entries: u64,
    skip_before_loss: u64,
    full: u64,
    full_critical: u64,
    reserve_only_full: u64,
}

impl Default for Coverage {
    fn default() -> Self {
        Self {
            delivered_by_len: vec![0; 64],
            skip_before_len: vec![0; 64],
            loss_entries: 0,
            skip_before_loss: 0,
            full: 0,
            full_critical: 0,
            reserve_only_full: 0,
        }
    }
}

/// A ring, its producer and consumer, and the model, stepped together.
/// Field order matters: the producer and consumer drop before the region.
struct Harness {
    producer: Producer,
    consumer: Consumer,
    model: Model,
    buf: EntryBuf,
    next_id: u64,
    cov: Coverage,
    region: Region,
}

impl Harness {
    fn new(pages: u32) -> Self {
        let g = RingGeometry::new(pages).unwrap();
        let region = Region::for_geometry(g);
        let producer = region.producer(g);
        let consumer = region.attach().expect("a fresh ring attaches");
        Self::assemble(region, producer, consumer, 0)
    }

    fn assemble(region: Region, producer: Producer, consumer: Consumer, start: u64) -> Self {
        let g = producer.geometry();
        assert_eq!(consumer.geometry(), g);
        Self {
            producer,
            consumer,
            model: Model::new(g, start),
            buf: EntryBuf::new(),
            next_id: 1,
            cov: Coverage::default(),
            region,
        }
    }

    fn sc(&self) -> u64 {
        self.model.slot_count
    }

    fn in_flight(&self) -> usize {
        self.model.queue.len()
    }

    /// Pushes an entry of `slots` slots whose body is `short` bytes (0..8)
    /// shorter than the slots hold, so zero padding is exercised.
    fn push(&mut self, slots: u32, short: u8, critical: bool) {
        assert!((1..=MAX_ENTRY_SLOTS).contains(&slots) && short < 8);
        let id = self.next_id;
        self.next_id += 1;
        let bytes = if slots == 1 { 0 } else { (slots as usize - 1) * SLOT_SIZE - short as usize };
        let body = make_body(id, bytes);
        let kind = kind_for(id);
        let result = self.producer.push(kind, &body, critical);

        let (pieces, new_head) = self.model.layout(u64::from(slots));
        if !self.model.fits(new_head, critical) {
            assert_eq!(result, Err(PushError::Full), "model says full: slots={slots} critical={critical}");
            self.model.pending_full += 1;
            self.model.full_total += 1;
            self.cov.full += 1;
            if critical {
                self.cov.full_critical += 1;
            } else if self.model.fits(new_head, true) {
                self.cov.reserve_only_full += 1;
            }
        } else {
            assert_eq!(result, Ok(()), "model says room: slots={slots} critical={critical}");
            let sc = self.sc();
            // The producer must have written exactly the layout the model predicts.
            let mut prev = None;
            for &(what, start, n) in &pieces {
                let pos = (start % sc) as u32;
                assert!(start % sc + n <= sc, "model bug: piece straddles the end");
                let word = self.region.slot(pos);
                let h = EntryHeader::from_word(word).expect("well-formed header");
                match what {
                    Piece::Skip => {
                        assert_eq!((h.ty(), h.subtype()), (Category::Meta as u32, meta::SKIP), "skip at {pos}");
                        assert!(h.is_skip() && !h.is_loss());
                        assert_eq!(u64::from(h.len()), n, "skip must run exactly to the end");
                        assert_eq!(start % sc + n, sc);
                    }
                    Piece::Loss => {
                        assert_eq!((h.ty(), h.subtype()), (Category::Meta as u32, meta::LOSS), "loss at {pos}");
                        assert!(h.is_loss() && !h.is_skip());
                        assert_eq!(h.len(), meta::LOSS_SLOTS);
                        assert_eq!(self.region.slot(pos + 1), self.model.pending_full, "loss count");
                        self.cov.loss_entries += 1;
                        if prev == Some(Piece::Skip) {
                            self.cov.skip_before_loss += 1;
                        }
                    }
                    Piece::Entry => {
                        let want = EntryHeader::new(kind.ty, kind.subtype, kept_info(kind.info) | slots);
                        assert_eq!(h, want, "entry header at {pos}");
                        let mut raw = Vec::new();
                        for i in 1..n as u32 {
                            raw.extend_from_slice(&self.region.slot(pos + i).to_le_bytes());
                        }
                        assert_eq!(raw, padded(&body), "entry body at {pos}");
                        if prev == Some(Piece::Skip) {
                            self.cov.skip_before_len[slots as usize] += 1;
                        }
                    }
                }
                prev = Some(what);
            }
            self.model.head = new_head;
            self.model.queue.push_back(Expected {
                ty: kind.ty,
                subtype: kind.subtype,
                info: kept_info(kind.info) | slots,
                body: padded(&body),
                lost_before: self.model.pending_full,
                end: new_head,
            });
            self.model.pending_full = 0;
        }
        self.check();
    }

    /// Reads one entry (pop if `release`, else read) and checks it against the model.
    fn take(&mut self, release: bool) -> bool {
        let got = if release { self.consumer.pop(&mut self.buf) } else { self.consumer.read(&mut self.buf) };
        let got =
            got.expect("no read errors on a well-behaved ring").map(|e| (e.header, e.body.to_vec(), e.lost_before));
        let delivered = match (self.model.queue.pop_front(), got) {
            (None, None) => false,
            (Some(want), Some((h, body, lost_before))) => {
                assert_eq!(h.ty(), want.ty, "type");
                assert_eq!(h.subtype(), want.subtype, "subtype");
                assert_eq!(h.info(), want.info, "info");
                assert_eq!(body, want.body, "body");
                assert_eq!(lost_before, want.lost_before, "lost_before");
                self.cov.delivered_by_len[h.len() as usize] += 1;
                self.model.read = want.end;
                true
            }
            (want, got) => panic!("model expected {want:?}, consumer returned {got:?}"),
        };
        if release {
            self.model.released = self.model.read;
        }
        self.check();
        delivered
    }

    fn release(&mut self) {
        self.consumer.release();
        self.model.released = self.model.read;
        self.check();
    }

    fn read_batch(&mut self, n: u8) {
        for _ in 0..n {
            if !self.take(false) {
                break;
            }
        }
        self.release();
    }

    fn unread(&mut self) {
        let m = &self.model;
        assert_eq!(self.producer.unread_slots(), Ok((m.head - m.released) as u32), "producer unread_slots");
        assert_eq!(self.consumer.unread_slots(), Ok((m.head - m.read) as u32), "consumer unread_slots");
        self.check();
    }

    fn prepare_wait(&mut self) {
        let empty = self.model.read == self.model.head;
        assert_eq!(self.consumer.prepare_wait(), Ok(empty));
        // prepare_wait releases what was read before deciding to sleep.
        self.model.released = self.model.read;
        assert_eq!(self.producer.consumer_waiting(), empty);
        assert_eq!(self.producer.take_waiter(), empty);
        assert!(!self.producer.take_waiter());
        self.check();
    }

    fn drain(&mut self) {
        while self.take(true) {}
    }

    /// Invariants checked after every step.
    fn check(&self) {
        let m = &self.model;
        assert_eq!(self.producer.lost_total(), m.full_total, "producer lost_total");
        assert_eq!(self.consumer.lost_total(), m.full_total, "consumer lost_total");
        assert_eq!(self.region.head(), m.head as u32, "published head");
        assert_eq!(self.region.tail(), m.released as u32, "published tail");
        assert!(m.head - m.released <= m.slot_count);
        self.region.check_guards();
    }
}

#[derive(Clone, Debug)]
enum Op {
    Push { slots: u32, short: u8, critical: bool },
    Pop,
    Read,
    Release,
    ReadBatch(u8),
    Unread,
    PrepareWait,
}

fn op(push_weight: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        push_weight => (1u32..=MAX_ENTRY_SLOTS, 0u8..8, prop::bool::weighted(0.25))
            .prop_map(|(slots, short, critical)| Op::Push { slots, short, critical }),
        3 => Just(Op::Pop),
        2 => Just(Op::Read),
        1 => Just(Op::Release),
        1 => (1u8..8).prop_map(Op::ReadBatch),
        1 => Just(Op::Unread),
        1 => Just(Op::PrepareWait),
    ]
}

/// A ring size and an op sequence; the push weight varies per case so some
/// runs hover near empty and others sit at full, dropping events.
fn scenario() -> impl Strategy<Value = (u32, Vec<Op>)> {
    (prop_oneof![Just(1u32), Just(2), Just(4)], 3u32..=20)
        .prop_flat_map(|(pages, w)| (Just(pages), prop::collection::vec(op(w), 1..1000)))
}

fn run(h: &mut Harness, ops: &[Op]) {
    for op in ops {
        match *op {
            Op::Push { slots, short, critical } => h.push(slots, short, critical),
            Op::Pop => {
                h.take(true);
            }
            Op::Read => {
                h.take(false);
            }
            Op::Release => h.release(),
            Op::ReadBatch(n) => h.read_batch(n),
            Op::Unread => h.unread(),
            Op::PrepareWait => h.prepare_wait(),
        }
    }
    // Whatever state the ops left, everything pushed is still delivered.
    h.drain();
    h.unread();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_model((pages, ops) in scenario()) {
        let mut h = Harness::new(pages);
        run(&mut h, &ops);
    }
}

/// Every entry length 1..=63, at many different offsets from the end of the
/// slot array: each round pushes all 63 lengths in a different order (a
/// stride permutation), with several consumer lags so the ring also runs
/// full and writes loss entries. Afterwards every length must have been
/// delivered, and every length >= 2 must at least once have needed a skip.
#[test]
fn every_length_through_many_wraps() {
    let mut total = Coverage::default();
    for pages in [1u32, 2, 4] {
        for lag in [0usize, 1, 4, 9, 14] {
            let mut h = Harness::new(pages);
            for round in 0..24u32 {
                for i in 0..MAX_ENTRY_SLOTS {
                    // 2 and 5 are prime to 63, so this visits every length once.
                    let stride = if round % 2 == 0 { 5 } else { 2 };
                    let slots = 1 + (i * stride + round * 11) % MAX_ENTRY_SLOTS;
                    h.push(slots, ((round + slots) % 8) as u8, (round + slots).is_multiple_of(5));
                    while h.in_flight() > lag {
                        h.take(true);
                    }
                }
            }
            h.drain();
            h.unread();
            let wraps = h.model.head / h.sc();
            assert!(wraps >= 20, "pages={pages} lag={lag}: only {wraps} wraps");
            for i in 0..64 {
                total.delivered_by_len[i] += h.cov.delivered_by_len[i];
                total.skip_before_len[i] += h.cov.skip_before_len[i];
            }
            total.loss_entries += h.cov.loss_entries;
            total.full += h.cov.full;
            total.reserve_only_full += h.cov.reserve_only_full;
        }
    }
    for len in 1..=MAX_ENTRY_SLOTS as usize {
        assert!(total.delivered_by_len[len] >= 24, "length {len} delivered {} times", total.delivered_by_len[len]);
    }
    // Most lengths also met the end of the array along the way; the next
    // test covers every (length, remainder) pair systematically.
    let skipped = (2..=MAX_ENTRY_SLOTS as usize).filter(|&l| total.skip_before_len[l] > 0).count();
    assert!(skipped > 40, "{:?}", total.skip_before_len);
    assert!(total.full > 0 && total.loss_entries > 0 && total.reserve_only_full > 0, "{total:?}");
}

/// Every entry length L meets the end of the slot array with every
/// remainder r < L: the producer must pad exactly r slots with a skip and
/// put the entry at slot 0 (checked against the model's layout, raw slot by
/// raw slot), and the consumer must pass the skip over. Also L = r (fits
/// exactly, no skip).
#[test]
fn every_length_at_every_wrap_remainder() {
    let mut h = Harness::new(1);
    let sc = h.sc();
    for len in 1..=u64::from(MAX_ENTRY_SLOTS) {
        for r in 1..=len {
            // Move the head to sc - r with filler entries that do not wrap.
            let mut d = (sc - r + sc - h.model.head % sc) % sc;
            while d > 0 {
                let n = d.min(63);
                h.push(n as u32, 0, true);
                h.drain();
                d -= n;
            }
            assert_eq!(h.model.head % sc, sc - r);
            let skips = h.cov.skip_before_len[len as usize];
            h.push(len as u32, (r % 8) as u8, r % 2 == 0);
            assert_eq!(h.model.full_total, 0, "an empty ring never drops");
            let want_skip = u64::from(r < len);
            assert_eq!(h.cov.skip_before_len[len as usize] - skips, want_skip, "len={len} r={r}");
            assert_eq!(h.model.head % sc, if r < len { len } else { 0 });
            h.unread();
            assert!(h.take(r % 3 != 0));
            h.release();
        }
    }
    h.unread();
}

/// A random-op run long enough to be sure the model itself is exercising
/// what it claims to (Full, critical pushes into the reserve, loss entries
/// wrapping): a guard against a model that silently never reaches them.
#[test]
fn random_ops_reach_interesting_states() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut cov = Coverage::default();
    for _ in 0..60 {
        let (pages, ops) = scenario().new_tree(&mut runner).unwrap().current();
        let mut h = Harness::new(pages);
        run(&mut h, &ops);
        cov.full += h.cov.full;
        cov.full_critical += h.cov.full_critical;
        cov.reserve_only_full += h.cov.reserve_only_full;
        cov.loss_entries += h.cov.loss_entries;
        cov.skip_before_loss += h.cov.skip_before_loss;
    }
    assert!(cov.full > 0 && cov.full_critical > 0 && cov.reserve_only_full > 0 && cov.loss_entries > 0, "{cov:?}");
}

/// Fills a 1-page ring to exactly `511` unread slots from slot 0, so the
/// head sits one slot before the end. A non-critical push is then dropped;
/// after draining, the next entry must be preceded by a 1-slot skip, then
/// the 2-slot loss entry at slot 0 carrying 1, then the entry at slot 2.
#[test]
fn loss_entry_wraps_with_one_slot_skip() {
    let mut h = Harness::new(1);
    for _ in 0..8 {
        h.push(63, 0, true);
    }
    h.push(7, 3, true);
    assert_eq!(h.model.head, 511);
    // 511 unread, 1 free: even a 1-slot non-critical entry is dropped.
    h.push(1, 0, false);
    assert_eq!(h.model.full_total, 1);
    h.drain();
    h.push(5, 2, false);
    assert_eq!(h.cov.skip_before_loss, 1);
    let skip = EntryHeader::from_word(h.region.slot(511)).unwrap();
    assert_eq!((skip.len(), skip.is_skip()), (1, true));
    let loss = EntryHeader::from_word(h.region.slot(0)).unwrap();
    assert_eq!((loss.len(), loss.is_loss(), h.region.slot(1)), (2, true, 1));
    assert_eq!(EntryHeader::from_word(h.region.slot(2)).unwrap().len(), 5);
    h.unread();
    assert_eq!(h.producer.unread_slots(), Ok(8));
    assert!(h.take(true)); // lost_before == 1 is checked by the model
    h.unread();
}

/// The reserve boundary is exact: a non-critical push that would leave
/// exactly `reserved_slots` free succeeds, one slot more is dropped, and a
/// critical push may use the reserve down to the last slot.
#[test]
fn reserve_boundary_is_exact() {
    for pages in [1u32, 2, 4] {
        let mut h = Harness::new(pages);
        let sc = h.sc();
        let reserve = sc / 8;
        // Fill non-critically to exactly sc - reserve unread, using 63-slot
        // entries and then one filler (no wrap happens from slot 0).
        let target = sc - reserve;
        while h.model.head + 63 <= target {
            h.push(63, 0, false);
        }
        let rest = (target - h.model.head) as u32;
        if rest > 0 {
            h.push(rest, 0, false);
        }
        assert_eq!(h.model.head, target);
        assert_eq!(h.model.full_total, 0, "filling to the reserve line drops nothing");
        // Now any non-critical push is Full: free == reserve.
        h.push(1, 0, false);
        assert_eq!(h.model.full_total, 1);
        // A critical push may dip into the reserve; this one also carries
        // the 2-slot loss entry for the drop above.
        h.push(1, 0, true);
        assert_eq!(h.model.head, target + 3);
        // Critical pushes fill the reserve completely.
        while h.model.head + 63 <= sc {
            h.push(63, 0, true);
        }
        let left = (sc - h.model.head) as u32;
        if left > 0 {
            h.push(left, 0, true);
        }
        assert_eq!(h.model.head, sc, "pages={pages}");
        assert_eq!(h.producer.unread_slots(), Ok(sc as u32));
        // Completely full: even a 1-slot critical push is dropped.
        h.push(1, 0, true);
        assert_eq!(h.model.full_total, 2);
        h.drain();
        h.push(1, 0, false);
        h.drain();
        h.unread();
    }
}

/// Oversized bodies are refused with TooLarge and are neither written nor
/// counted as lost; 62 body slots (63 with the header) is the largest accepted.
#[test]
fn too_large_is_not_counted_as_lost() {
    let mut h = Harness::new(1);
    let k = kind_for(7);
    for bytes in [62 * SLOT_SIZE + 1, 63 * SLOT_SIZE, 500, 4096] {
        assert_eq!(h.producer.push(k, &vec![1u8; bytes], true), Err(PushError::TooLarge));
        h.check();
    }
    assert_eq!(h.producer.unread_slots(), Ok(0));
    h.push(63, 0, false);
    h.drain();
    h.unread();
}

/// The producer strips LOSS, SKIP and length bits from the caller's info
/// word and keeps every other non-reserved bit.
#[test]
fn producer_owns_length_loss_and_skip_bits() {
    let g = RingGeometry::new(1).unwrap();
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    let keep = info::WATCH_ID_MASK | info::TYPE_FLAGS_MASK | info::COALESCED | info::CRITICAL;
    let kind = evq_ring::EntryKind { ty: 3, subtype: 9, info: keep | info::LOSS | info::SKIP | info::LENGTH_MASK };
    p.push(kind, &[0xAB; 9], false).unwrap();
    let mut buf = EntryBuf::new();
    let e = c.pop(&mut buf).unwrap().unwrap();
    assert_eq!(e.header.info(), keep | 3);
    assert!(!e.header.is_loss() && !e.header.is_skip());
    assert_eq!(e.body, &[0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(e.lost_before, 0);
}

/// The producer refuses entries a consumer would stop at for good: the Meta
/// type is the ring's own, and reserved info bits must be zero.
#[test]
fn producer_refuses_meta_type_and_reserved_bits() {
    let g = RingGeometry::new(1).unwrap();
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    let meta = evq_ring::EntryKind { ty: 0, subtype: 0, info: 0 };
    assert_eq!(p.push(meta, &[1; 8], false), Err(evq_ring::PushError::InvalidKind));
    let reserved = evq_ring::EntryKind { ty: 1, subtype: 0, info: 1 << 31 };
    assert_eq!(p.push(reserved, &[1; 8], false), Err(evq_ring::PushError::InvalidKind));
    assert_eq!(c.unread_slots(), Ok(0), "nothing was written");
    assert_eq!(p.lost_total(), 0, "nor counted as lost");
    p.push(evq_ring::EntryKind { ty: 1, subtype: 0, info: 0 }, &[1; 8], false).unwrap();
    let mut buf = EntryBuf::new();
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().header.ty(), 1);
}

/// The free-running u32 counters wrap past 2^32 without disturbing anything.
/// Getting the producer's private head there takes ~68 million 63-slot
/// pushes, so this runs only in release builds; the "consumer" simply
/// publishes tail = head meanwhile. The model then takes over across the wrap.
#[test]
#[cfg_attr(debug_assertions, ignore = "68 million pushes: run with --release")]
fn counters_wrap_past_u32_max() {
    let g = RingGeometry::new(1).unwrap();
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    let kind = kind_for(1);
    let body = [0x5Au8; 62 * SLOT_SIZE];
    let target = u32::MAX - 4 * g.slot_count();
    let mut head: u64 = 0;
    while head < u64::from(target) {
        // Six 63-slot entries (plus at most one skip) always fit in 512 slots.
        for _ in 0..6 {
            p.push(kind, &body, true).expect("an always-drained ring has room");
        }
        head = u64::from(region.head());
        region.set_tail(head as u32);
    }
    assert_eq!(p.unread_slots(), Ok(0));
    let c = region.attach().expect("attach mid-stream at the published tail");
    let mut h = Harness::assemble(region, p, c, head);
    for round in 0..40u32 {
        for slots in (1..=MAX_ENTRY_SLOTS).step_by(7) {
            h.push(slots, (round % 8) as u8, round % 3 == 0);
            if h.in_flight() > 6 {
                h.take(round % 2 == 0);
            }
            if slots % 3 == 0 {
                h.release();
            }
        }
        h.unread();
    }
    h.drain();
    h.unread();
    assert!(h.model.head > u64::from(u32::MAX) + 2 * h.sc(), "the run must cross 2^32");
}
