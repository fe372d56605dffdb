//! The ring against a hostile or broken peer.
//!
//! (a) A consumer that scribbles over the whole control page: the producer
//!     must only ever answer Ok, Full or CorruptTail, exactly as a model of
//!     its documented behaviour predicts, and must write nothing but its own
//!     data slots and its HEAD and LOST words (checked against a shadow copy
//!     and guard words).
//! (b) A producer that leaves arbitrary bytes in the control page and slots:
//!     the consumer must attach or refuse, then return entries or errors
//!     exactly as a reference reader built from the protocol description
//!     does, within a bounded number of calls, never panicking, and never
//!     returning bytes from outside the region.
//! (c) One targeted case per error variant.

mod common;

use std::ptr::NonNull;

use common::{kind_for, make_body, padded, with_watchdog, Region, Rng};
use evq_abi::event::{meta, Category};
use evq_abi::ring::{
    control, info, ControlError, EntryHeader, HeaderError, RingGeometry, MAX_ENTRY_SLOTS, RING_MAGIC, SLOT_SIZE,
};
use evq_abi::{ABI_VERSION, PAGE_SIZE};
use evq_ring::{AttachError, Consumer, EntryBuf, Producer, PushError, ReadError, RegionError};

const META: u32 = Category::Meta as u32;

fn geometry(pages: u32) -> RingGeometry {
    RingGeometry::new(pages).unwrap()
}

// ---------------------------------------------------------------------------
// (a) hostile consumer vs producer
// ---------------------------------------------------------------------------

/// The producer's documented behaviour: it keeps its own head and a copy of
/// the last tail it validated, and re-reads (and validates) the shared tail
/// only when that copy says the entry would not fit.
struct ProducerModel {
    sc: u64,
    head: u32,
    tail: u32,
    pending: u64,
    lost: u64,
}

impl ProducerModel {
    /// Slots a push of `len` takes from the head, skips and loss entry included.
    fn needed(&self, len: u64) -> u64 {
        let mut at = u64::from(self.head);
        let mut put = |n: u64| {
            let left = self.sc - at % self.sc;
            if left < n {
                at += left;
            }
            at += n;
        };
        if self.pending > 0 {
            put(2);
        }
        put(len);
        at - u64::from(self.head)
    }

    fn push(&mut self, len: u64, critical: bool, shared_tail: u32) -> Result<(), PushError> {
        let limit = if critical { self.sc } else { self.sc - self.sc / 8 };
        let needed = self.needed(len);
        let fits = |tail: u32| u64::from(self.head.wrapping_sub(tail)) + needed <= limit;
        if !fits(self.tail) {
            if u64::from(self.head.wrapping_sub(shared_tail)) > self.sc {
                return Err(PushError::CorruptTail { head: self.head, tail: shared_tail });
            }
            self.tail = shared_tail;
            if !fits(self.tail) {
                self.pending += 1;
                self.lost += 1;
                return Err(PushError::Full);
            }
        }
        self.head = self.head.wrapping_add(needed as u32);
        self.pending = 0;
        Ok(())
    }
}

/// A tail a hostile consumer might write: valid ones (anything from head
/// back to head - slot_count), just-invalid ones, ahead of head, or random.
fn hostile_tail(rng: &mut Rng, head: u32, sc: u32) -> u32 {
    match rng.below(6) {
        0 | 1 => head.wrapping_sub(rng.range(0, u64::from(sc)) as u32),
        2 => head.wrapping_sub(sc + 1 + rng.below(4) as u32),
        3 => head.wrapping_add(1 + rng.below(100) as u32),
        4 => head,
        _ => rng.next() as u32,
    }
}

fn hostile_consumer_run(pages: u32, seed: u64, pushes: usize) {
    let g = geometry(pages);
    let sc = g.slot_count();
    let region = Region::for_geometry(g);
    let mut rng = Rng::new(seed);
    // Garbage before Producer::new is simply overwritten.
    region.randomize(0, region.len(), &mut rng);
    let mut p = region.producer(g);
    assert_eq!(region.load32(control::MAGIC), RING_MAGIC);
    assert_eq!(region.head(), 0);

    // Then the consumer trashes the whole control page.
    region.randomize(0, PAGE_SIZE, &mut rng);
    let mut shadow = vec![0u64; PAGE_SIZE / 8];
    let mut m = ProducerModel { sc: u64::from(sc), head: 0, tail: 0, pending: 0, lost: 0 };
    let (mut oks, mut fulls, mut corrupt) = (0u32, 0u32, 0u32);

    for i in 0..pushes {
        // Now and then the consumer writes something into the tail, or
        // trashes the whole page again.
        match rng.below(16) {
            0..=3 => {
                let t = hostile_tail(&mut rng, m.head, sc);
                region.set_tail(t);
            }
            4 => region.randomize(0, PAGE_SIZE, &mut rng),
            5 => region.set_tail(m.head), // a consumer that caught up
            _ => {}
        }
        // The shadow takes in the consumer's writes; the push may then
        // change only HEAD (on Ok) and LOST (on Full).
        for (k, o) in (0..PAGE_SIZE).step_by(8).enumerate() {
            shadow[k] = region.load64(o);
        }
        let tail_word = region.tail();
        let slots = rng.range(1, u64::from(MAX_ENTRY_SLOTS)) as u32;
        let bytes = if slots == 1 { 0 } else { (slots as usize - 1) * SLOT_SIZE - rng.below(8) as usize };
        let critical = rng.chance(1, 3);
        let got = p.push(kind_for(i as u64), &make_body(i as u64, bytes), critical);
        let want = m.push(u64::from(slots), critical, tail_word);
        assert_eq!(got, want, "seed={seed} pages={pages} push #{i}: slots={slots} critical={critical}");
        match got {
            Ok(()) => {
                oks += 1;
                // HEAD is the low half of the word at 0x80.
                let k = control::HEAD / 8;
                shadow[k] = (shadow[k] & !0xFFFF_FFFF) | u64::from(m.head);
            }
            Err(PushError::Full) => {
                fulls += 1;
                shadow[control::LOST / 8] = m.lost;
            }
            Err(PushError::CorruptTail { .. }) => corrupt += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
        // The producer wrote nothing else in the control page.
        for (k, o) in (0..PAGE_SIZE).step_by(8).enumerate() {
            assert_eq!(region.load64(o), shadow[k], "seed={seed}: control word at {o:#x} changed by push #{i}");
        }
        assert_eq!(p.lost_total(), m.lost);
        // unread_slots always re-reads the tail, so it always reports a bad
        // one. (Only sometimes, so the producer's cached tail also goes stale.)
        if rng.chance(1, 3) {
            let t = region.tail();
            let unread = p.unread_slots();
            if m.head.wrapping_sub(t) > sc {
                assert_eq!(unread, Err(PushError::CorruptTail { head: m.head, tail: t }));
            } else {
                assert_eq!(unread, Ok(m.head.wrapping_sub(t)));
                m.tail = t;
            }
        }
    }
    region.check_guards();
    // Each outcome must actually have been exercised by this configuration.
    assert!(oks > 0 && fulls > 0 && corrupt > 0, "seed={seed}: ok={oks} full={fulls} corrupt={corrupt}");
}

/// (a) Many seeds of a consumer scribbling over the control page.
#[test]
fn producer_survives_random_control_page() {
    with_watchdog(300, || {
        for pages in [1u32, 2, 4] {
            for seed in 0..48u64 {
                hostile_consumer_run(pages, seed * 7919 + u64::from(pages), 1500);
            }
        }
    });
}

/// (a) A control page that is random once and then left alone: the tail is
/// usually impossible. Once the producer has to look at it, it must say
/// CorruptTail (exactly when head - tail > slot_count) and keep saying it,
/// never Full for a bad tail, and write nothing but HEAD and LOST.
#[test]
fn producer_with_static_random_control_page() {
    let (mut corrupt_runs, mut full_runs) = (0, 0);
    for seed in 0..300u64 {
        let g = geometry(1 << (seed % 3));
        let sc = g.slot_count();
        let region = Region::for_geometry(g);
        let mut rng = Rng::new(seed);
        let mut p = region.producer(g);
        region.randomize(0, PAGE_SIZE, &mut rng);
        if seed % 4 == 0 {
            // Make some tails valid: behind where the head will be when it is read.
            region.set_tail(rng.below(200) as u32);
        }
        let tail = region.tail();
        let before: Vec<u64> = (0..PAGE_SIZE).step_by(8).map(|o| region.load64(o)).collect();
        let mut head = 0u32;
        let mut last = Ok(());
        for i in 0..300u64 {
            let r = p.push(kind_for(i), &make_body(i, 200), true);
            match r {
                Ok(()) => {
                    assert!(last.is_ok(), "seed={seed}: Ok after {last:?} with an unchanged tail");
                    head = region.head();
                }
                Err(PushError::CorruptTail { head: h, tail: t }) => {
                    assert_eq!((h, t), (head, tail), "seed={seed}");
                    assert!(head.wrapping_sub(tail) > sc, "seed={seed}: CorruptTail for a valid tail");
                    assert!(last != Err(PushError::Full), "seed={seed}");
                }
                Err(PushError::Full) => {
                    assert!(head.wrapping_sub(tail) <= sc, "seed={seed}: Full with a corrupt tail");
                    assert!(!matches!(last, Err(PushError::CorruptTail { .. })), "seed={seed}");
                }
                Err(e) => panic!("seed={seed}: {e:?}"),
            }
            last = r;
        }
        // 300 entries of 26 slots overflow every ring here, so it ended one way or the other.
        match last {
            Err(PushError::CorruptTail { .. }) => corrupt_runs += 1,
            Err(PushError::Full) => full_runs += 1,
            other => panic!("seed={seed}: ended with {other:?}"),
        }
        for (k, o) in (0..PAGE_SIZE).step_by(8).enumerate() {
            if o == control::HEAD || o == control::LOST {
                continue;
            }
            assert_eq!(region.load64(o), before[k], "seed={seed}: control word {o:#x} written");
        }
        assert_eq!(region.head(), head);
        // LOST is written only when something was dropped.
        let lost = if p.lost_total() > 0 { p.lost_total() } else { before[control::LOST / 8] };
        assert_eq!(region.load64(control::LOST), lost);
        region.check_guards();
    }
    assert!(corrupt_runs > 100 && full_runs > 30, "corrupt={corrupt_runs} full={full_runs}");
}

// ---------------------------------------------------------------------------
// (b) hostile producer vs consumer
// ---------------------------------------------------------------------------

/// A reader of a region nobody is changing, written from the protocol
/// description (docs of `evq_abi::ring` and `Consumer`).
struct RefReader {
    sc: u32,
    tail: u32,
    head: u32,
    lost: u64,
}

type Got = Option<(EntryHeader, Vec<u8>, u64)>;

fn ref_attach(region: &Region, len: usize) -> Result<RefReader, AttachError> {
    let magic = region.load32(control::MAGIC);
    let version = region.load32(control::VERSION) as u16;
    let sc = region.load32(control::SLOT_COUNT);
    let data_offset = region.load32(control::DATA_OFFSET);
    if magic != RING_MAGIC {
        return Err(AttachError::Control(ControlError::BadMagic(magic)));
    }
    if version != ABI_VERSION {
        return Err(AttachError::Control(ControlError::BadVersion(version)));
    }
    if data_offset as usize != PAGE_SIZE {
        return Err(AttachError::Control(ControlError::BadDataOffset(data_offset)));
    }
    let pow2_pages = sc.is_multiple_of(512) && (1..=64).contains(&(sc / 512)) && (sc / 512).is_power_of_two();
    if !pow2_pages || PAGE_SIZE + sc as usize * SLOT_SIZE > len {
        return Err(AttachError::Control(ControlError::BadSlotCount(sc)));
    }
    let tail = region.tail();
    let head = region.head();
    if head.wrapping_sub(tail) > sc {
        return Err(AttachError::Read(ReadError::CorruptHead { head, tail }));
    }
    Ok(RefReader { sc, tail, head, lost: 0 })
}

impl RefReader {
    fn read(&mut self, region: &Region) -> Result<Got, ReadError> {
        loop {
            if self.tail == self.head {
                return Ok(None);
            }
            let tail = self.tail;
            let pos = tail & (self.sc - 1);
            let h = EntryHeader::from_word(region.slot(pos)).map_err(|error| ReadError::BadHeader { tail, error })?;
            let len = h.len();
            if pos + len > self.sc || len > self.head.wrapping_sub(tail) {
                return Err(ReadError::BadLength { tail, len });
            }
            if h.ty() == META {
                // A meta entry is exactly one of skip or loss: both flags is malformed.
                if h.is_skip() && !h.is_loss() && h.subtype() == meta::SKIP {
                    if pos + len != self.sc {
                        return Err(ReadError::BadLength { tail, len });
                    }
                } else if h.is_loss() && !h.is_skip() && h.subtype() == meta::LOSS && len == 2 {
                    self.lost = self.lost.saturating_add(region.slot(pos + 1));
                } else {
                    return Err(ReadError::BadMeta { tail });
                }
                self.tail = tail.wrapping_add(len);
                continue;
            }
            let mut body = Vec::new();
            for i in 1..len {
                body.extend_from_slice(&region.slot(pos + i).to_le_bytes());
            }
            self.tail = tail.wrapping_add(len);
            return Ok(Some((h, body, std::mem::take(&mut self.lost))));
        }
    }
}

fn owned(r: Result<Option<evq_ring::EntryRef<'_>>, ReadError>) -> Result<Got, ReadError> {
    r.map(|o| o.map(|e| (e.header, e.body.to_vec(), e.lost_before)))
}

/// A header that is sometimes right and often subtly wrong.
fn plausible_header(rng: &mut Rng, pos: u32, sc: u32) -> (u64, u32) {
    let to_end = sc - pos;
    let info_bits =
        |rng: &mut Rng| (rng.next() as u32) & (info::WATCH_ID_MASK | info::TYPE_FLAGS_MASK | info::COALESCED);
    let (word, len) = match rng.below(12) {
        0..=4 => {
            let len = rng.range(1, 63) as u32;
            let ty = rng.range(1, u64::from(EntryHeader::TYPE_MAX)) as u32;
            (EntryHeader::new(ty, rng.next() as u8, info_bits(rng) | len).to_word(), len)
        }
        5 if to_end <= 63 => (EntryHeader::new(META, meta::SKIP, to_end | info::SKIP).to_word(), to_end),
        5 | 6 => {
            let len = if rng.chance(1, 2) { to_end.min(63) } else { rng.range(1, 63) as u32 };
            let flags = if rng.chance(3, 4) { info::SKIP } else { info::SKIP | info::LOSS };
            (EntryHeader::new(META, meta::SKIP, len | flags).to_word(), len)
        }
        7 => (EntryHeader::new(META, meta::LOSS, 2 | info::LOSS).to_word(), 2),
        8 => {
            // A loss entry with something wrong.
            let len = rng.range(1, 4) as u32;
            let sub = if rng.chance(1, 2) { meta::LOSS } else { rng.next() as u8 };
            let flags = [info::LOSS, info::SKIP, info::LOSS | info::SKIP][rng.below(3) as usize];
            (EntryHeader::new(META, sub, len | flags).to_word(), len)
        }
        9 => (0, 1),
        10 => (rng.next() | (1u64 << 63), 1),
        _ => (rng.next(), 1),
    };
    (word, len)
}

fn random_ring(rng: &mut Rng, region: &Region, pages: u32) {
    region.randomize(0, region.len(), rng);
    if rng.chance(1, 5) {
        return; // fully random control page: almost surely BadMagic
    }
    let store =
        |off, good: u32, rng: &mut Rng| region.store32(off, if rng.chance(15, 16) { good } else { rng.next() as u32 });
    store(control::MAGIC, RING_MAGIC, rng);
    store(control::VERSION, u32::from(ABI_VERSION) | ((rng.next() as u32) << 16), rng);
    store(control::DATA_OFFSET, PAGE_SIZE as u32, rng);
    let claimed_pages = [1u32, 1, 2, 4, 8][rng.below(5) as usize].min(if rng.chance(7, 8) { pages } else { 64 });
    store(control::SLOT_COUNT, claimed_pages * 512, rng);
    let sc = region.load32(control::SLOT_COUNT).clamp(1, 1 << 20).next_power_of_two().min(pages * 512);
    let tail = match rng.below(4) {
        0 => 0,
        1 => u32::MAX - rng.below(2000) as u32,
        _ => rng.next() as u32,
    };
    region.set_tail(tail);
    let head = match rng.below(8) {
        0 => rng.next() as u32,
        1 => tail.wrapping_add(sc + 1 + rng.below(10) as u32),
        2 => tail.wrapping_sub(1 + rng.below(10) as u32),
        3 => tail,
        _ => tail.wrapping_add(rng.range(1, u64::from(sc)) as u32),
    };
    region.set_head(head);
    if rng.chance(3, 4) {
        // Lay plausible headers from the tail onwards.
        let mut at = tail;
        for _ in 0..rng.range(1, 200) {
            let pos = at & (sc - 1);
            let (word, len) = plausible_header(rng, pos, sc);
            region.set_slot(pos, word);
            if (word >> 32) as u32 & info::LOSS != 0 && pos + 1 < sc && rng.chance(1, 2) {
                region.set_slot(pos + 1, rng.below(1000));
            }
            at = at.wrapping_add(len);
        }
    }
}

fn hostile_producer_run(seed: u64) -> (u32, u32, u32) {
    let mut rng = Rng::new(seed);
    let pages = [1u32, 2, 4][rng.below(3) as usize];
    let region = Region::for_geometry(geometry(pages));
    random_ring(&mut rng, &region, pages);
    // Sometimes tell the consumer the region is shorter than it is.
    let len = if rng.chance(1, 8) { PAGE_SIZE * (1 + rng.below(u64::from(pages) + 1) as usize) } else { region.len() };
    let want = ref_attach(&region, len);
    let got = region.attach_len(len);
    let (mut entries, mut errors, mut nones) = (0, 0, 0);
    match (got, want) {
        (Err(g), Err(w)) => assert_eq!(g, w, "seed={seed}: attach"),
        (Ok(mut c), Ok(mut r)) => {
            let mut buf = EntryBuf::new();
            let bound = r.sc + 2;
            let mut calls = 0;
            loop {
                calls += 1;
                assert!(calls <= bound, "seed={seed}: more than {bound} reads without an end");
                let pop = rng.chance(1, 2);
                let got = owned(if pop { c.pop(&mut buf) } else { c.read(&mut buf) });
                let want = r.read(&region);
                assert_eq!(got, want, "seed={seed}: read #{calls}");
                if let Ok(Some((h, body, _))) = &got {
                    assert_ne!(h.ty(), META, "meta entries are never handed out");
                    assert_eq!(body.len(), (h.len() as usize - 1) * SLOT_SIZE);
                }
                if pop && got.is_ok() {
                    assert_eq!(region.tail(), r.tail, "seed={seed}: pop publishes the tail");
                }
                match got {
                    Ok(Some(_)) => entries += 1,
                    Ok(None) => {
                        nones += 1;
                        assert_eq!(owned(c.read(&mut buf)), Ok(None));
                        break;
                    }
                    Err(e) => {
                        errors += 1;
                        // The consumer does not move past an error.
                        assert_eq!(owned(c.pop(&mut buf)), Err(e), "seed={seed}: error not sticky");
                        assert_eq!(c.unread_slots(), Ok(r.head.wrapping_sub(r.tail)));
                        break;
                    }
                }
            }
        }
        (g, w) => panic!("seed={seed}: attach got {:?}, reference {:?}", g.map(|_| ()), w.map(|_| ())),
    }
    region.check_guards();
    (entries, errors, nones)
}

/// (b) Thousands of random and half-plausible rings; the consumer must
/// agree exactly with the reference reader.
#[test]
fn consumer_survives_random_regions() {
    with_watchdog(300, || {
        let (mut entries, mut errors, mut nones) = (0, 0, 0);
        for seed in 0..4000u64 {
            let (e, r, n) = hostile_producer_run(seed);
            entries += e;
            errors += r;
            nones += n;
        }
        // The generator must reach deep enough to matter.
        assert!(entries > 400 && errors > 800 && nones > 100, "entries={entries} errors={errors} nones={nones}");
    });
}

/// (b) A producer that keeps scribbling over the region while the consumer
/// reads: no panic, no endless loop, and whatever is returned is shaped
/// like an entry (non-meta header, body matching its length).
#[test]
fn consumer_survives_concurrent_scribbling() {
    with_watchdog(300, || {
        for seed in 0..1500u64 {
            let mut rng = Rng::new(seed ^ 0xABCD);
            let pages = [1u32, 2, 4][rng.below(3) as usize];
            let region = Region::for_geometry(geometry(pages));
            random_ring(&mut rng, &region, pages);
            region.store32(control::MAGIC, RING_MAGIC);
            region.store32(control::VERSION, u32::from(ABI_VERSION));
            region.store32(control::DATA_OFFSET, PAGE_SIZE as u32);
            region.store32(control::SLOT_COUNT, pages * 512);
            let sc = pages * 512;
            let Ok(mut c) = region.attach() else { continue };
            let mut buf = EntryBuf::new();
            for _ in 0..500 {
                // Scribble: a random slot, the head, or a plausible header.
                match rng.below(4) {
                    0 => region.set_slot(rng.below(u64::from(sc)) as u32, rng.next()),
                    1 => region.set_head(region.tail().wrapping_add(rng.below(u64::from(sc) + 8) as u32)),
                    2 => {
                        let pos = rng.below(u64::from(sc)) as u32;
                        let (w, _) = plausible_header(&mut rng, pos, sc);
                        region.set_slot(pos, w);
                    }
                    _ => {}
                }
                // Errors and None are fine here; an entry must be well shaped.
                if let Ok(Some(e)) = c.pop(&mut buf) {
                    assert_ne!(e.header.ty(), META);
                    assert_eq!(e.body.len(), (e.header.len() as usize - 1) * SLOT_SIZE);
                }
                let _ = c.unread_slots();
            }
            region.check_guards();
        }
    });
}

// ---------------------------------------------------------------------------
// (c) targeted cases
// ---------------------------------------------------------------------------

/// A ring whose control page a real producer initialised, then abandoned:
/// head and tail at `at`, data slots zero. Tests then write slots by hand.
fn blank_ring(pages: u32, at: u32) -> Region {
    let g = geometry(pages);
    let region = Region::for_geometry(g);
    let _ = region.producer(g);
    region.set_head(at);
    region.set_tail(at);
    region
}

fn event_header(len: u32) -> u64 {
    EntryHeader::new(Category::Vfs as u32, 1, len).to_word()
}

/// Writes an event of `len` slots at free-running slot `at`; returns the end.
fn put_event(region: &Region, sc: u32, at: u32, len: u32) -> u32 {
    let pos = at & (sc - 1);
    region.set_slot(pos, event_header(len));
    for i in 1..len {
        region.set_slot(pos + i, 0x1111_1111_1111_1111u64.wrapping_mul(u64::from(i)));
    }
    at.wrapping_add(len)
}

fn expect_read_error(region: &Region, want: ReadError) {
    let mut c = region.attach().expect("attach");
    let tail = region.tail();
    let mut buf = EntryBuf::new();
    assert_eq!(owned(c.pop(&mut buf)), Err(want));
    // Sticky, and nothing was released.
    assert_eq!(owned(c.read(&mut buf)), Err(want));
    assert_eq!(owned(c.pop(&mut buf)), Err(want));
    assert_eq!(region.tail(), tail);
    region.check_guards();
}

#[test]
fn producer_rejects_tail_ahead_of_head() {
    let g = geometry(1);
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    // Fill the ring (the consumer reads nothing), so the next push has to
    // look at the tail.
    let mut i = 0;
    while p.push(kind_for(i), &make_body(i, 400), true).is_ok() {
        i += 1;
    }
    assert_eq!(p.lost_total(), 1);
    let head = region.head();
    assert!(head > 400);
    let slot_at_head = region.slot(head & 511);
    region.set_tail(head + 1);
    let corrupt = PushError::CorruptTail { head, tail: head + 1 };
    assert_eq!(p.unread_slots(), Err(corrupt));
    assert_eq!(p.push(kind_for(0), &[], true), Err(corrupt));
    assert_eq!(p.push(kind_for(0), &[], false), Err(corrupt));
    // Nothing written, nothing counted.
    assert_eq!((region.head(), region.load64(control::LOST), p.lost_total()), (head, 1, 1));
    assert_eq!(region.slot(head & 511), slot_at_head);
    // A consumer that comes back to its senses makes the ring usable again,
    // and the earlier drop is still reported.
    region.set_tail(head);
    assert_eq!(p.push(kind_for(0), &[], true), Ok(()));
    assert_eq!(p.unread_slots(), Ok(3));
    region.check_guards();
}

#[test]
fn producer_rejects_tail_too_far_behind() {
    let g = geometry(1);
    let sc = g.slot_count();
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    // Move the head well past one lap, with the consumer keeping up.
    for i in 0..40 {
        p.push(kind_for(i), &make_body(i, 300), false).unwrap();
        region.set_tail(region.head());
    }
    let head = region.head();
    assert!(head > 2 * sc);
    // Exactly slot_count unread is possible (a full ring) ...
    region.set_tail(head - sc);
    assert_eq!(p.unread_slots(), Ok(sc));
    assert_eq!(p.push(kind_for(0), &[], true), Err(PushError::Full));
    // ... one more is not.
    region.set_tail(head - sc - 1);
    assert_eq!(p.unread_slots(), Err(PushError::CorruptTail { head, tail: head - sc - 1 }));
    assert_eq!(p.push(kind_for(0), &[], true), Err(PushError::CorruptTail { head, tail: head - sc - 1 }));
    assert_eq!(p.lost_total(), 1);
    region.check_guards();
}

#[test]
fn consumer_rejects_head_out_of_range() {
    let sc = 512;
    // At attach: head behind the tail, and head more than a ring ahead.
    for (tail, head) in [(100u32, 99u32), (100, 100 + sc + 1), (u32::MAX - 5, (u32::MAX - 5).wrapping_add(sc + 1))] {
        let region = blank_ring(1, tail);
        region.set_head(head);
        assert_eq!(region.attach().err(), Some(AttachError::Read(ReadError::CorruptHead { head, tail })));
    }
    // After attach: the head jumps.
    let region = blank_ring(1, 7);
    let end = put_event(&region, sc, 7, 3);
    region.set_head(end);
    let mut c = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    assert!(c.pop(&mut buf).unwrap().is_some());
    region.set_head(end + sc + 1);
    let want = ReadError::CorruptHead { head: end + sc + 1, tail: end };
    assert_eq!(owned(c.pop(&mut buf)), Err(want));
    assert_eq!(c.unread_slots(), Err(want));
    assert_eq!(c.prepare_wait(), Err(want));
    // A head exactly one ring ahead is legal.
    region.set_head(end + sc);
    assert_eq!(c.unread_slots(), Ok(sc));
}

#[test]
fn consumer_rejects_zero_length_header() {
    let region = blank_ring(1, 40);
    region.set_head(45);
    region.set_slot(40, EntryHeader::new(1, 0, 0).to_word());
    expect_read_error(&region, ReadError::BadHeader { tail: 40, error: HeaderError::ZeroLength });
}

#[test]
fn consumer_rejects_reserved_info_bits() {
    let region = blank_ring(1, 40);
    region.set_head(45);
    region.set_slot(40, EntryHeader::new(1, 0, 5 | 1 << 26).to_word());
    expect_read_error(&region, ReadError::BadHeader { tail: 40, error: HeaderError::ReservedBits });
}

#[test]
fn consumer_rejects_entry_crossing_the_end() {
    let sc = 512;
    let tail = 3 * sc - 3; // slot 509
    let region = blank_ring(1, tail);
    region.set_head(tail + 10);
    region.set_slot(509, event_header(5));
    expect_read_error(&region, ReadError::BadLength { tail, len: 5 });
    // The same entry ending exactly at the end is fine.
    region.set_slot(509, event_header(3));
    put_event(&region, sc, tail + 3, 7);
    let mut c = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().header.len(), 3);
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().header.len(), 7);
    assert_eq!(owned(c.pop(&mut buf)), Ok(None));
}

#[test]
fn consumer_rejects_entry_past_the_head() {
    let region = blank_ring(1, 20);
    put_event(&region, 512, 20, 5);
    region.set_head(24);
    expect_read_error(&region, ReadError::BadLength { tail: 20, len: 5 });
    // After a good entry, too.
    let region = blank_ring(1, 20);
    let at = put_event(&region, 512, 20, 5);
    put_event(&region, 512, at, 63);
    region.set_head(at + 62);
    let mut c = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    assert!(c.pop(&mut buf).unwrap().is_some());
    assert_eq!(owned(c.pop(&mut buf)), Err(ReadError::BadLength { tail: at, len: 63 }));
}

#[test]
fn consumer_rejects_skip_not_ending_at_the_end() {
    let skip = |len: u32| EntryHeader::new(META, meta::SKIP, len | info::SKIP).to_word();
    let region = blank_ring(1, 10);
    region.set_head(30);
    region.set_slot(10, skip(3));
    expect_read_error(&region, ReadError::BadLength { tail: 10, len: 3 });
    // One slot short of the end, too.
    let region = blank_ring(1, 500);
    region.set_head(520);
    region.set_slot(500, skip(11));
    expect_read_error(&region, ReadError::BadLength { tail: 500, len: 11 });
    // A skip that also claims to be a loss entry is malformed.
    region.set_slot(500, EntryHeader::new(META, meta::SKIP, 12 | info::SKIP | info::LOSS).to_word());
    expect_read_error(&region, ReadError::BadMeta { tail: 500 });
    // A correct skip is passed over silently.
    region.set_slot(500, skip(12));
    put_event(&region, 512, 512, 8);
    let mut c = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    let e = owned(c.pop(&mut buf)).unwrap().unwrap();
    assert_eq!((e.0.len(), e.2), (8, 0));
    assert_eq!(region.tail(), 520);
}

#[test]
fn consumer_rejects_bad_loss_entries() {
    let bad = [
        EntryHeader::new(META, meta::LOSS, 3 | info::LOSS),  // wrong length
        EntryHeader::new(META, meta::LOSS, 1 | info::LOSS),  // no count slot
        EntryHeader::new(META, meta::LOSS, 2),               // LOSS flag missing
        EntryHeader::new(META, meta::SKIP, 2 | info::LOSS),  // skip subtype, loss flag
        EntryHeader::new(META, meta::LOSS, 2 | info::SKIP),  // loss subtype, skip flag
        EntryHeader::new(META, meta::COUNT, 2 | info::LOSS), // unknown meta kind
        EntryHeader::new(META, meta::LOSS, 2 | info::LOSS | info::SKIP), // both flags
    ];
    for h in bad {
        let region = blank_ring(1, 64);
        region.set_head(64 + 10);
        region.set_slot(64, h.to_word());
        region.set_slot(65, 5);
        put_event(&region, 512, 64 + h.len(), 4);
        expect_read_error(&region, ReadError::BadMeta { tail: 64 });
    }
}

#[test]
fn consumer_sums_and_saturates_loss_counts() {
    let loss = EntryHeader::new(META, meta::LOSS, 2 | info::LOSS).to_word();
    let region = blank_ring(1, 0);
    region.set_slot(0, loss);
    region.set_slot(1, 3);
    region.set_slot(2, loss);
    region.set_slot(3, 4);
    let at = put_event(&region, 512, 4, 2);
    region.set_slot(6, loss);
    region.set_slot(7, u64::MAX);
    region.set_slot(8, loss);
    region.set_slot(9, 9);
    let end = put_event(&region, 512, 10, 1);
    assert_eq!(at, 6);
    region.set_head(end);
    let mut c = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().lost_before, 7);
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().lost_before, u64::MAX);
    assert_eq!(owned(c.pop(&mut buf)), Ok(None));
}

/// The consumer's free-running counters cross 2^32 (a hand-made ring: the
/// producer's own crossing is in model.rs, release builds only).
#[test]
fn consumer_counters_wrap() {
    let sc = 512;
    let tail = u32::MAX - 2; // slot 509
    let region = blank_ring(1, tail);
    let at = put_event(&region, sc, tail, 3); // 509..512
    assert_eq!(at, 0);
    let at = put_event(&region, sc, at, 4);
    region.set_head(at);
    let mut c = region.attach().unwrap();
    assert_eq!(c.unread_slots(), Ok(7));
    let mut buf = EntryBuf::new();
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().header.len(), 3);
    assert_eq!(region.tail(), 0);
    assert_eq!(c.pop(&mut buf).unwrap().unwrap().header.len(), 4);
    assert_eq!(region.tail(), 4);
    assert_eq!(owned(c.pop(&mut buf)), Ok(None));
}

#[test]
fn attach_checks_each_control_field() {
    let g = geometry(1);
    let cases: [(usize, u32, AttachError); 6] = [
        (control::MAGIC, 0x4556_5131, AttachError::Control(ControlError::BadMagic(0x4556_5131))),
        (control::VERSION, u32::from(ABI_VERSION) + 1, AttachError::Control(ControlError::BadVersion(ABI_VERSION + 1))),
        (control::SLOT_COUNT, 500, AttachError::Control(ControlError::BadSlotCount(500))),
        // A valid size, but larger than the region mapped.
        (control::SLOT_COUNT, 1024, AttachError::Control(ControlError::BadSlotCount(1024))),
        (control::SLOT_COUNT, 0, AttachError::Control(ControlError::BadSlotCount(0))),
        (control::DATA_OFFSET, 8192, AttachError::Control(ControlError::BadDataOffset(8192))),
    ];
    for (off, value, want) in cases {
        let region = Region::for_geometry(g);
        let _p = region.producer(g);
        assert!(region.attach().is_ok());
        region.store32(off, value);
        assert_eq!(region.attach().err(), Some(want), "field at {off:#x}");
    }
    // A region too short for its own slot count, and one shorter than a page.
    let region = Region::for_geometry(geometry(2));
    let _p = region.producer(geometry(2));
    assert_eq!(region.attach_len(region.len() - 8).err(), Some(AttachError::Control(ControlError::BadSlotCount(1024))));
    assert_eq!(region.attach_len(PAGE_SIZE - 8).err(), Some(AttachError::BadRegion));
    // A misaligned base.
    let base = NonNull::new(region.base().as_ptr().wrapping_add(4)).unwrap();
    // SAFETY: in bounds of the live region; attach refuses before touching it.
    assert_eq!(unsafe { Consumer::attach(base, region.len() - 8) }.err(), Some(AttachError::BadRegion));
    region.check_guards();
}

#[test]
fn producer_refuses_bad_regions() {
    let g = geometry(2);
    let region = Region::for_geometry(g);
    // SAFETY: the region is live; new refuses before writing.
    let short = unsafe { Producer::new(region.base(), region.len() - 8, g) };
    assert_eq!(short.err(), Some(RegionError::TooSmall { needed: 3 * PAGE_SIZE, given: 3 * PAGE_SIZE - 8 }));
    let base = NonNull::new(region.base().as_ptr().wrapping_add(4)).unwrap();
    // SAFETY: as above.
    // (The guard words after the region keep `base + len` inside the allocation.)
    let misaligned = unsafe { Producer::new(base, region.len(), g) };
    assert_eq!(misaligned.err(), Some(RegionError::Misaligned));
    // Nothing was written by either refusal.
    assert_eq!(region.load32(control::MAGIC), 0);
    region.check_guards();
}

/// A consumer that re-attaches resumes at the tail it last published.
#[test]
fn reattach_resumes_at_published_tail() {
    let g = geometry(1);
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    for i in 0..3 {
        p.push(kind_for(i), &make_body(i, 17), false).unwrap();
    }
    let mut buf = EntryBuf::new();
    {
        let mut c = region.attach().unwrap();
        c.pop(&mut buf).unwrap().unwrap();
        c.read(&mut buf).unwrap().unwrap(); // read but never released
    }
    let mut c = region.attach().unwrap();
    let e = c.pop(&mut buf).unwrap().unwrap();
    assert_eq!(e.body, &padded(&make_body(1, 17))[..]);
}
