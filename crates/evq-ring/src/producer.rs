//! The server's side of a ring.

use crate::sync::{fence, Ordering};
#[cfg(not(loom))]
use core::ptr::NonNull;

use evq_abi::event::meta;
use evq_abi::ring::{control, info, EntryHeader, RingGeometry, MAX_ENTRY_SLOTS, RING_MAGIC, SLOT_SIZE};
use evq_abi::{event::Category, ABI_VERSION, PAGE_SIZE};

use crate::shared::{Access, SharedRegion};

/// Slots in a 64-byte cache line.
const LINE_SLOTS: u32 = 8;

/// How far ahead of its head the producer asks for a line to be made
/// writable: 512 bytes, eight cache lines, about thirteen 32-byte events.
/// The line it is about to write was last read by the consumer's core, a
/// ring ago; without the hint each store waits there for that core to give
/// the line up. 64 slots did better than 32, and alike with 128, in the
/// ring bench (`docs/performance.md` §1).
const PREFETCH_WRITE_SLOTS: u32 = 64;

/// Why a region cannot hold a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// The region is shorter than the geometry needs.
    TooSmall {
        /// Bytes the geometry needs.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The region is not 8-byte aligned.
    Misaligned,
}

/// Why an entry was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The ring is full: the entry was dropped and counted as lost.
    Full,
    /// The entry is longer than 63 slots. Nothing was written or counted.
    TooLarge,
    /// The entry's type is the Meta category (0), which belongs to the ring's
    /// own skip and loss entries, or its info word sets reserved bits: a
    /// consumer would stop at it for good. Nothing was written or counted.
    InvalidKind,
    /// The consumer's tail is impossible (more unread slots than the ring
    /// holds). The ring is unusable; revoke it. Nothing was written.
    CorruptTail {
        /// The producer's head.
        head: u32,
        /// The tail the consumer wrote.
        tail: u32,
    },
}

impl core::fmt::Display for RegionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegionError::TooSmall { needed, given } => {
                write!(f, "the memory is {given} bytes, and the ring needs {needed}")
            }
            RegionError::Misaligned => f.write_str("the memory is not 8-byte aligned"),
        }
    }
}

impl core::fmt::Display for PushError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PushError::Full => f.write_str("the ring is full; the entry was dropped and counted"),
            PushError::TooLarge => f.write_str("the entry is longer than 63 slots"),
            PushError::InvalidKind => f.write_str("the entry's type is the ring's own, or its info sets reserved bits"),
            PushError::CorruptTail { head, tail } => {
                write!(f, "the consumer's tail {tail} is impossible against the head {head}")
            }
        }
    }
}

/// The header fields of an entry, except its length and the LOSS and SKIP
/// flags, which the ring sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryKind {
    /// The header's 24-bit type.
    pub ty: u32,
    /// The header's subtype.
    pub subtype: u8,
    /// The header's info word; its length, LOSS and SKIP bits are ignored.
    pub info: u32,
}

/// The writing side of a ring. It owns the head; the only fields it reads
/// from shared memory are the consumer's `tail` and `waiting`.
///
/// Aligned to 128 bytes so that, when both sides of a ring live in one
/// address space (tests, the single-process demo, benchmarks), the
/// producer's private head, which it writes on every push, never shares a
/// cache line (or an adjacent-line prefetch pair) with the consumer's
/// private tail.
#[derive(Debug)]
#[repr(align(128))]
pub struct Producer {
    region: SharedRegion,
    geometry: RingGeometry,
    slot_count: u32,
    reserved_slots: u32,
    mask: u32,
    /// The next slot to write: the authoritative head.
    head: u32,
    /// The consumer's tail as last read and checked.
    tail: u32,
    /// Events dropped since the last entry was written.
    pending_loss: u64,
    /// Events dropped since creation.
    lost_total: u64,
}

// SAFETY: a `Producer` only reaches its region through atomics, and the
// region's validity is its constructor's contract, not tied to a thread.
unsafe impl Send for Producer {}

impl Producer {
    #[cfg(not(loom))]
    /// Lays out a fresh ring in `base..base + len` and returns its producer.
    /// The control page is initialised; the data area is left as it is.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be valid for reads and writes for the
    /// producer's whole life, and touched by anyone else only through atomic
    /// operations or from another address space (a consumer in another
    /// protection domain, or a [`crate::Consumer`] in this one).
    pub unsafe fn new(base: NonNull<u8>, len: usize, geometry: RingGeometry) -> Result<Self, RegionError> {
        let needed = geometry.region_bytes();
        if len < needed {
            return Err(RegionError::TooSmall { needed, given: len });
        }
        if !SharedRegion::is_aligned(base) {
            return Err(RegionError::Misaligned);
        }
        // SAFETY: forwarded from this function's contract; length and
        // alignment checked above.
        let region = unsafe { SharedRegion::new(base, len) };
        Ok(Self::init(region, geometry))
    }

    /// Continues a ring laid out by someone else (a ring another party
    /// laid out with [`Producer::lay_out`] and handed over, as the supervisor does
    /// with a source's ingest ring): checks its control page against `len`
    /// and takes up the head, tail and loss count it holds.
    ///
    /// # Safety
    ///
    /// As [`Producer::new`].
    #[cfg(not(loom))]
    pub unsafe fn attach(base: NonNull<u8>, len: usize) -> Result<Self, crate::AttachError> {
        if len < PAGE_SIZE || !SharedRegion::is_aligned(base) {
            return Err(crate::AttachError::BadRegion);
        }
        // SAFETY: forwarded from this function's contract; the control page
        // is inside `len` and aligned, checked above.
        let region = unsafe { SharedRegion::new(base, len) };
        fence(Ordering::Acquire);
        let geometry = evq_abi::ring::check_control(
            region.word32(control::MAGIC).load(Ordering::Relaxed),
            region.word32(control::VERSION).load(Ordering::Relaxed) as u16,
            region.word32(control::SLOT_COUNT).load(Ordering::Relaxed),
            region.word32(control::DATA_OFFSET).load(Ordering::Relaxed),
            len,
        )
        .map_err(crate::AttachError::Control)?;
        let head = region.word32(control::HEAD).load(Ordering::Relaxed);
        let mut producer = Self {
            region,
            geometry,
            slot_count: geometry.slot_count(),
            reserved_slots: geometry.reserved_slots(),
            mask: geometry.slot_count() - 1,
            head,
            tail: head,
            pending_loss: 0,
            lost_total: region.word64(control::LOST).load(Ordering::Relaxed),
        };
        producer
            .refresh_tail()
            .map_err(|_| crate::AttachError::Read(crate::ReadError::CorruptHead { head, tail: producer.tail }))?;
        Ok(producer)
    }

    /// A producer and a consumer over one fresh ring of `geometry` made of
    /// the model checker's atomics (`--cfg loom`, `tests/loom.rs`).
    #[cfg(loom)]
    pub fn model(geometry: RingGeometry) -> (Producer, crate::Consumer) {
        let region = SharedRegion::model(geometry.slot_count());
        let producer = Self::init(region.clone(), geometry);
        let consumer = crate::Consumer::from_region(region, geometry.region_bytes()).expect("a fresh ring attaches");
        (producer, consumer)
    }

    /// Lays out a fresh ring of `geometry` whose control page is at
    /// `control`, for a producer and a consumer to [`Producer::attach`] and
    /// `Consumer::attach` to later: what the party that makes a ring's
    /// memory does when it is neither (the seL4 root task or the hosted
    /// launcher, for a source's ingest ring). Only the control page is
    /// written; the data pages need not be mapped here.
    ///
    /// # Safety
    ///
    /// `control..control + 4096` is valid for writes and 8-byte aligned, and
    /// nobody else touches it meanwhile but through atomics.
    #[cfg(not(loom))]
    pub unsafe fn lay_out(control: NonNull<u8>, geometry: RingGeometry) -> Result<(), RegionError> {
        if !SharedRegion::is_aligned(control) {
            return Err(RegionError::Misaligned);
        }
        // SAFETY: forwarded; only the control page is touched (`write_control`).
        let region = unsafe { SharedRegion::new(control, PAGE_SIZE) };
        Self::write_control(&region, geometry);
        Ok(())
    }

    /// Lays out the control page of `region` and returns the producer.
    fn init(region: SharedRegion, geometry: RingGeometry) -> Self {
        Self::write_control(&region, geometry);
        Self {
            region,
            geometry,
            slot_count: geometry.slot_count(),
            reserved_slots: geometry.reserved_slots(),
            mask: geometry.slot_count() - 1,
            head: 0,
            tail: 0,
            pending_loss: 0,
            lost_total: 0,
        }
    }

    /// The ring's geometry.
    pub fn geometry(&self) -> RingGeometry {
        self.geometry
    }

    /// Events dropped since creation.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Writes one entry: a header built from `kind`, then `body` padded with
    /// zeros to whole slots. A `critical` entry may use the slots held back
    /// for critical events; any other leaves them free.
    ///
    /// If events were dropped since the last entry, a loss entry carrying
    /// their number goes first, and both must fit. If they do not, the entry
    /// is dropped and counted as lost: this is the server's push, which never
    /// waits for a client.
    #[inline]
    pub fn push(&mut self, kind: EntryKind, body: &[u8], critical: bool) -> Result<(), PushError> {
        self.push_words(kind, &[], body, critical)
    }

    /// Like [`Producer::push`], for a body that starts with whole slots the
    /// caller already has as words: the entry's body is `words`, each stored
    /// as one slot, then `bytes` padded with zeros to whole slots. This saves
    /// the caller assembling the body in a buffer first (the server writes
    /// an event's record as words and its payload as bytes).
    #[inline]
    pub fn push_words(
        &mut self,
        kind: EntryKind,
        words: &[u64],
        bytes: &[u8],
        critical: bool,
    ) -> Result<(), PushError> {
        let result = self.write(kind, words, bytes, critical);
        if result == Err(PushError::Full) {
            self.pending_loss += 1;
            self.lost_total += 1;
            self.region.word64(control::LOST).store(self.lost_total, Ordering::Relaxed);
        }
        result
    }

    /// Like [`Producer::push`], but a full ring is not a loss: the entry is
    /// refused with [`PushError::Full`] and the caller keeps it to try again.
    /// For producers that may wait for their consumer.
    ///
    /// Always inlined, as is the write behind it and behind `push_words`.
    /// Left to itself the compiler kept the write out of line in the ring
    /// bench, passing `kind`, `body` and the result through memory on every
    /// push; inlining it took the bench at 32 B from 0.44× rtrb to 1.18×
    /// (`docs/performance.md` §1).
    #[inline(always)]
    pub fn try_push(&mut self, kind: EntryKind, body: &[u8], critical: bool) -> Result<(), PushError> {
        self.write(kind, &[], body, critical)
    }

    /// Writes one entry whose body is `record` (whole slots) then
    /// `payload` padded to whole slots, the shape of every event entry,
    /// dropping and counting it when the ring is full, as
    /// [`Producer::push_words`]. The usual case (nothing lost to report, no
    /// wrap, room by the tail last read) is a straight run of stores, with
    /// nothing in between; anything else goes the general way.
    #[inline(always)]
    pub fn push_record<const N: usize>(
        &mut self,
        kind: EntryKind,
        record: &[u64; N],
        payload: &[u8],
        critical: bool,
    ) -> Result<(), PushError> {
        self.put_record::<N, true>(kind, record, payload, critical)
    }

    /// [`Producer::push_record`], but a full ring is not a loss: the entry
    /// is refused with [`PushError::Full`], as [`Producer::try_push`].
    #[inline(always)]
    pub fn try_push_record<const N: usize>(
        &mut self,
        kind: EntryKind,
        record: &[u64; N],
        payload: &[u8],
        critical: bool,
    ) -> Result<(), PushError> {
        self.put_record::<N, false>(kind, record, payload, critical)
    }

    #[inline(always)]
    fn put_record<const N: usize, const DROP: bool>(
        &mut self,
        kind: EntryKind,
        record: &[u64; N],
        payload: &[u8],
        critical: bool,
    ) -> Result<(), PushError> {
        let len = (1 + N + payload.len().div_ceil(SLOT_SIZE)) as u32;
        let reserve = if critical { 0 } else { self.reserved_slots };
        let pos = self.head & self.mask;
        let fast = self.pending_loss == 0
            && len < MAX_ENTRY_SLOTS
            && len <= self.slot_count - pos
            && len + reserve <= self.free_slots()
            && kind.ty & EntryHeader::TYPE_MAX != Category::Meta as u32
            && kind.info & info::RESERVED_MASK == 0;
        if !fast {
            return self.put_slow(kind, record, payload, critical, DROP);
        }
        if len <= LINE_SLOTS && self.free_slots() >= PREFETCH_WRITE_SLOTS + LINE_SLOTS {
            self.region.prefetch_slot(self.head.wrapping_add(PREFETCH_WRITE_SLOTS) & self.mask, Access::Write);
        }
        let entry_info = (kind.info & !(info::LENGTH_MASK | info::LOSS | info::SKIP)) | len;
        let slots = self.region.slots(pos, len as usize);
        slots[0].store(EntryHeader::new(kind.ty, kind.subtype, entry_info).to_word(), Ordering::Relaxed);
        for (slot, word) in slots[1..=N].iter().zip(record) {
            slot.store(*word, Ordering::Relaxed);
        }
        let (chunks, rest) = payload.as_chunks::<SLOT_SIZE>();
        let body = &slots[1 + N..];
        for (slot, chunk) in body.iter().zip(chunks) {
            slot.store(u64::from_le_bytes(*chunk), Ordering::Relaxed);
        }
        if !rest.is_empty() {
            let mut last = [0u8; SLOT_SIZE];
            last[..rest.len()].copy_from_slice(rest);
            if let Some(slot) = body.get(chunks.len()) {
                slot.store(u64::from_le_bytes(last), Ordering::Relaxed);
            }
        }
        self.head = self.head.wrapping_add(len);
        // Release: the slots above are visible before the head that covers them.
        self.region.word32(control::HEAD).store(self.head, Ordering::Release);
        Ok(())
    }

    /// [`Producer::push_record`]'s other cases, kept out of its way: a loss
    /// to report, a wrap, a stale view of the tail, a full ring.
    #[cold]
    #[inline(never)]
    fn put_slow(
        &mut self,
        kind: EntryKind,
        words: &[u64],
        bytes: &[u8],
        critical: bool,
        drop: bool,
    ) -> Result<(), PushError> {
        if drop {
            self.push_words(kind, words, bytes, critical)
        } else {
            self.write(kind, words, bytes, critical)
        }
    }

    /// [`Producer::try_push`] for a body that starts with words, as
    /// [`Producer::push_words`] takes it.
    #[inline(always)]
    pub fn try_push_words(
        &mut self,
        kind: EntryKind,
        words: &[u64],
        bytes: &[u8],
        critical: bool,
    ) -> Result<(), PushError> {
        self.write(kind, words, bytes, critical)
    }

    #[inline(always)]
    fn write(&mut self, kind: EntryKind, words: &[u64], body: &[u8], critical: bool) -> Result<(), PushError> {
        if kind.ty & EntryHeader::TYPE_MAX == Category::Meta as u32 || kind.info & info::RESERVED_MASK != 0 {
            return Err(PushError::InvalidKind);
        }
        let body_slots = words.len() + body.len().div_ceil(SLOT_SIZE);
        if body_slots >= MAX_ENTRY_SLOTS as usize {
            return Err(PushError::TooLarge);
        }
        let len = 1 + body_slots as u32;
        let reserve = if critical { 0 } else { self.reserved_slots };
        let (needed, simple) = self.needed(len);
        let loss_len = if self.pending_loss > 0 { meta::LOSS_SLOTS } else { 0 };
        if needed + reserve > self.free_slots() {
            // Our view of the tail may be stale: look again before giving up.
            self.refresh_tail()?;
            if needed + reserve > self.free_slots() {
                return Err(PushError::Full);
            }
        }
        let mut head = self.head;
        // Only for entries of one line or less, the usual event: one hint
        // per push then reaches every line. For longer entries it reaches
        // one line in several, and in the ring bench it cost more than it
        // saved. Only in free space: a line the consumer has not released
        // is left with it.
        if len <= LINE_SLOTS && self.free_slots() >= PREFETCH_WRITE_SLOTS + LINE_SLOTS {
            self.region.prefetch_slot(head.wrapping_add(PREFETCH_WRITE_SLOTS) & self.mask, Access::Write);
        }
        if !simple {
            if loss_len > 0 {
                head = self.wrap_if_needed(head, loss_len);
                let loss = EntryHeader::new(Category::Meta as u32, meta::LOSS, loss_len | info::LOSS);
                self.region.slot(head & self.mask).store(loss.to_word(), Ordering::Relaxed);
                self.region.slot((head + 1) & self.mask).store(self.pending_loss, Ordering::Relaxed);
                head = head.wrapping_add(loss_len);
                self.pending_loss = 0;
            }
            head = self.wrap_if_needed(head, len);
        }
        let entry_info = (kind.info & !(info::LENGTH_MASK | info::LOSS | info::SKIP)) | len;
        let header = EntryHeader::new(kind.ty, kind.subtype, entry_info);
        // The entry is contiguous: its slots run from `pos` without wrapping.
        let pos = head & self.mask;
        self.region.slot(pos).store(header.to_word(), Ordering::Relaxed);
        let slots = self.region.slots(pos + 1, body_slots);
        let (word_slots, slots) = slots.split_at(words.len());
        for (slot, word) in word_slots.iter().zip(words) {
            slot.store(*word, Ordering::Relaxed);
        }
        let (chunks, rest) = body.as_chunks::<SLOT_SIZE>();
        // Four slots at a time, unrolled: an event's record alone is four.
        let (word_quads, word_tail) = chunks.as_chunks::<4>();
        let (slot_quads, slot_tail) = slots[..chunks.len()].as_chunks::<4>();
        for (s, w) in slot_quads.iter().zip(word_quads) {
            s[0].store(u64::from_le_bytes(w[0]), Ordering::Relaxed);
            s[1].store(u64::from_le_bytes(w[1]), Ordering::Relaxed);
            s[2].store(u64::from_le_bytes(w[2]), Ordering::Relaxed);
            s[3].store(u64::from_le_bytes(w[3]), Ordering::Relaxed);
        }
        for (slot, word) in slot_tail.iter().zip(word_tail) {
            slot.store(u64::from_le_bytes(*word), Ordering::Relaxed);
        }
        if let (false, Some(slot)) = (rest.is_empty(), slots.last()) {
            let mut last = [0u8; SLOT_SIZE];
            last[..rest.len()].copy_from_slice(rest);
            slot.store(u64::from_le_bytes(last), Ordering::Relaxed);
        }
        self.head = head.wrapping_add(len);
        // Release: the slots above are visible before the head that covers them.
        self.region.word32(control::HEAD).store(self.head, Ordering::Release);
        Ok(())
    }

    /// Counts `n` events lost on the way to this ring (dropped before they
    /// reached it): like a full ring's drops, they are reported to the
    /// consumer in a loss entry before the next entry written.
    pub fn count_lost(&mut self, n: u64) {
        self.pending_loss = self.pending_loss.saturating_add(n);
        self.lost_total = self.lost_total.saturating_add(n);
        self.region.word64(control::LOST).store(self.lost_total, Ordering::Relaxed);
    }

    /// Whether an entry of `slots` slots (its header included; critical if
    /// `critical`) fits now, with the loss entry it owes and any skip,
    /// after looking at the tail again if it does not seem to.
    pub fn fits(&mut self, slots: u32, critical: bool) -> Result<bool, PushError> {
        let reserve = if critical { 0 } else { self.reserved_slots };
        let needed = self.needed(slots).0 + reserve;
        if needed <= self.free_slots() {
            return Ok(true);
        }
        self.refresh_tail()?;
        Ok(needed <= self.free_slots())
    }

    /// Zeroes `region`'s control page and writes its identity and geometry.
    fn write_control(region: &SharedRegion, geometry: RingGeometry) {
        for off in (0..PAGE_SIZE).step_by(8) {
            region.word64(off).store(0, Ordering::Relaxed);
        }
        let version_word = u32::from(ABI_VERSION); // RING_FLAGS, the high half, is zero.
        region.word32(control::MAGIC).store(RING_MAGIC, Ordering::Relaxed);
        region.word32(control::VERSION).store(version_word, Ordering::Relaxed);
        region.word32(control::SLOT_COUNT).store(geometry.slot_count(), Ordering::Relaxed);
        region.word32(control::DATA_OFFSET).store(PAGE_SIZE as u32, Ordering::Relaxed);
        region.word32(control::RESERVED_SLOTS).store(geometry.reserved_slots(), Ordering::Relaxed);
        // Publish the initialised page before the ring is handed out.
        fence(Ordering::Release);
    }

    /// Unread slots, after re-reading and checking the consumer's tail.
    pub fn unread_slots(&mut self) -> Result<u32, PushError> {
        self.refresh_tail()?;
        Ok(self.head.wrapping_sub(self.tail))
    }

    /// Whether the consumer has asked to be woken. Cheap: one load.
    pub fn consumer_waiting(&self) -> bool {
        // Pairs with the consumer's fence between setting `waiting` and
        // re-reading the head, so that one of the two sides sees the other.
        fence(Ordering::SeqCst);
        self.region.word32(control::WAITING).load(Ordering::Relaxed) != 0
    }

    /// Clears the consumer's waiting flag; returns whether it was set, in
    /// which case the caller must signal the consumer.
    pub fn take_waiter(&mut self) -> bool {
        fence(Ordering::SeqCst);
        self.region.word32(control::WAITING).swap(0, Ordering::SeqCst) != 0
    }

    /// Before a producer that found the ring full sleeps until the consumer
    /// frees slots: sets the ring's room-wanted flag, then looks at the tail
    /// again. Returns `Ok(true)` if an entry of `slots` slots (a critical
    /// one if `critical`) still does not fit, so the caller may sleep on the
    /// notification the consumer signals; otherwise clears the flag and
    /// returns `Ok(false)`: push again. `slots` is the entry's whole length,
    /// its header included. The mirror of the consumer's
    /// [`crate::Consumer::prepare_wait`] (`docs/protocol.md` §2.9).
    pub fn prepare_room_wait(&mut self, slots: u32, critical: bool) -> Result<bool, PushError> {
        self.region.word32(control::ROOM_WANTED).store(1, Ordering::Relaxed);
        // Pairs with the consumer's fence between publishing its tail and
        // reading the flag: either it sees our flag, or we see its tail.
        fence(Ordering::SeqCst);
        self.refresh_tail()?;
        let reserve = if critical { 0 } else { self.reserved_slots };
        if self.needed(slots).0 + reserve > self.free_slots() {
            return Ok(true);
        }
        self.cancel_room_wait();
        Ok(false)
    }

    /// Clears the room-wanted flag (after waking, or instead of sleeping).
    pub fn cancel_room_wait(&mut self) {
        self.region.word32(control::ROOM_WANTED).store(0, Ordering::Relaxed);
    }

    /// Slots an entry of `len` slots takes from the head, with the loss
    /// entry owed before it and any skip to keep either contiguous; and
    /// whether it is the common case, nothing lost to report and room
    /// before the end of the slot array, so the entry goes exactly at the
    /// head.
    #[inline(always)]
    fn needed(&self, len: u32) -> (u32, bool) {
        let simple = self.pending_loss == 0 && len <= self.slot_count - (self.head & self.mask);
        let loss_len = if self.pending_loss > 0 { meta::LOSS_SLOTS } else { 0 };
        (if simple { len } else { self.span(loss_len, len) }, simple)
    }

    #[inline]
    fn free_slots(&self) -> u32 {
        self.slot_count - self.head.wrapping_sub(self.tail)
    }

    #[inline]
    fn refresh_tail(&mut self) -> Result<(), PushError> {
        // Acquire: the consumer has finished reading the slots it released.
        let tail = self.region.word32(control::TAIL).load(Ordering::Acquire);
        if self.head.wrapping_sub(tail) > self.slot_count {
            return Err(PushError::CorruptTail { head: self.head, tail });
        }
        self.tail = tail;
        Ok(())
    }

    /// Slots needed from `head` for an optional loss entry and an entry,
    /// counting the skip entries needed to keep each one contiguous.
    #[cold]
    fn span(&self, loss_len: u32, len: u32) -> u32 {
        let mut at = self.head;
        for n in [loss_len, len] {
            if n > 0 {
                at = self.skip_target(at, n).wrapping_add(n);
            }
        }
        at.wrapping_sub(self.head)
    }

    /// Where an entry of `n` slots starts if written at `at`: `at` itself, or
    /// the start of the slot array when it would not fit before the end.
    fn skip_target(&self, at: u32, n: u32) -> u32 {
        let to_end = self.slot_count - (at & self.mask);
        if to_end < n {
            at.wrapping_add(to_end)
        } else {
            at
        }
    }

    /// Writes a skip entry at `at` if an entry of `n` slots would not fit
    /// before the end; returns where the entry goes.
    #[cold]
    fn wrap_if_needed(&mut self, at: u32, n: u32) -> u32 {
        let start = self.skip_target(at, n);
        if start != at {
            // `to_end < n <= 63`, so the length fits the 6-bit field.
            let to_end = start.wrapping_sub(at);
            let skip = EntryHeader::new(Category::Meta as u32, meta::SKIP, to_end | info::SKIP);
            self.region.slot(at & self.mask).store(skip.to_word(), Ordering::Relaxed);
        }
        start
    }
}
