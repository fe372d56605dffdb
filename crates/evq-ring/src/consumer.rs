//! The client's side of a ring.

use core::mem::MaybeUninit;

use crate::sync::{fence, AtomicU64, Ordering};
#[cfg(not(loom))]
use core::ptr::NonNull;

use evq_abi::event::meta;
use evq_abi::event::Category;
use evq_abi::ring::{
    check_control, control, info, ControlError, EntryHeader, HeaderError, RingGeometry, MAX_ENTRY_SLOTS, SLOT_SIZE,
};
#[cfg(not(loom))]
use evq_abi::PAGE_SIZE;

use crate::shared::{Access, SharedRegion};

/// How far ahead of its tail the consumer asks for slots to be fetched:
/// 256 bytes, four cache lines, about six 32-byte events. 16, 32 and 64
/// slots did alike within this VM's noise (`docs/performance.md` §1).
const PREFETCH_SLOTS: u32 = 32;

/// Why a region is not a ring this consumer can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// The region is not 8-byte aligned or shorter than a control page.
    BadRegion,
    /// The control page does not describe a ring that fits the region.
    Control(ControlError),
    /// The head and tail are already inconsistent.
    Read(ReadError),
}

/// Why the next entry cannot be read. The consumer does not advance past an
/// error, so every later read reports it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The producer's head claims more unread slots than the ring holds.
    CorruptHead {
        /// The head read.
        head: u32,
        /// Our tail.
        tail: u32,
    },
    /// The header slot at `tail` is malformed.
    BadHeader {
        /// Where.
        tail: u32,
        /// What is wrong.
        error: HeaderError,
    },
    /// The entry at `tail` would run past the end of the slot array or past the head.
    BadLength {
        /// Where.
        tail: u32,
        /// Its length in slots.
        len: u32,
    },
    /// A meta entry that is neither a skip nor a well-formed loss entry.
    BadMeta {
        /// Where.
        tail: u32,
    },
}

impl core::fmt::Display for AttachError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AttachError::BadRegion => f.write_str("the memory is misaligned or shorter than a control page"),
            AttachError::Control(e) => e.fmt(f),
            AttachError::Read(e) => e.fmt(f),
        }
    }
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReadError::CorruptHead { head, tail } => write!(f, "its head {head} is impossible against the tail {tail}"),
            ReadError::BadHeader { tail, error } => write!(f, "the entry header at {tail} is malformed: {error}"),
            ReadError::BadLength { tail, len } => {
                write!(f, "the entry at {tail} claims {len} slots, past the head or the ring's end")
            }
            ReadError::BadMeta { tail } => write!(f, "the entry at {tail} is a malformed skip or loss entry"),
        }
    }
}

/// Room for one entry's body, copied out of the ring.
///
/// It is not cleared when made (the server makes one per pass over its
/// ingest rings): a read hands out only the words it has just written.
#[derive(Clone, Copy, Debug)]
pub struct EntryBuf {
    words: [MaybeUninit<u64>; MAX_ENTRY_SLOTS as usize - 1],
}

impl Default for EntryBuf {
    fn default() -> Self {
        Self { words: [MaybeUninit::uninit(); MAX_ENTRY_SLOTS as usize - 1] }
    }
}

impl EntryBuf {
    /// A buffer, its contents undefined until a read fills some of it.
    pub fn new() -> Self {
        Self::default()
    }
}

/// One entry as [`Consumer::read_raw`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawEntry<'a> {
    /// Padding to the end of the slot array, `slots` long, passed over.
    Skip {
        /// Its length in slots.
        slots: u32,
    },
    /// `lost` events were dropped just here.
    Loss {
        /// How many.
        lost: u64,
    },
    /// An event entry, copied out.
    Event(EntryRef<'a>),
}

/// A place in the ring a consumer can go back to ([`Consumer::mark`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    tail: u32,
    lost_pending: u64,
}

/// An entry copied out of the ring: its header, its body, and how many
/// events were lost just before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The entry's header.
    pub header: EntryHeader,
    /// The body: the slots after the header, as bytes (a multiple of 8).
    pub body: &'a [u8],
    /// Events lost between the previous entry and this one, from the loss
    /// entries the consumer passed over to reach it.
    pub lost_before: u64,
}

/// The reading side of a ring. It owns the tail; it reads the producer's
/// head and the data slots, checking every one.
///
/// Aligned to 128 bytes for the reason given on [`crate::Producer`].
#[derive(Debug)]
#[repr(align(128))]
pub struct Consumer {
    region: SharedRegion,
    geometry: RingGeometry,
    slot_count: u32,
    mask: u32,
    /// The next slot to read: the authoritative tail.
    tail: u32,
    /// The tail as last stored for the producer to see.
    published_tail: u32,
    /// The producer's head as last read and checked.
    head: u32,
    /// Lost events reported by loss entries already passed, not yet handed out.
    lost_pending: u64,
}

// SAFETY: as for `Producer`: only atomics reach the region.
unsafe impl Send for Consumer {}

impl Consumer {
    #[cfg(not(loom))]
    /// Attaches to the ring in `base..base + len`, checking its control page.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be valid for reads and writes for the
    /// consumer's whole life, and touched by anyone else only through atomic
    /// operations or from another address space.
    pub unsafe fn attach(base: NonNull<u8>, len: usize) -> Result<Self, AttachError> {
        if len < PAGE_SIZE || !SharedRegion::is_aligned(base) {
            return Err(AttachError::BadRegion);
        }
        // SAFETY: forwarded from this function's contract; the control page
        // is inside `len` and aligned, checked above.
        let region = unsafe { SharedRegion::new(base, len) };
        Self::from_region(region, len)
    }

    /// Attaches to the ring laid out in `region` (`len` bytes).
    pub(crate) fn from_region(region: SharedRegion, len: usize) -> Result<Self, AttachError> {
        fence(Ordering::Acquire);
        let magic = region.word32(control::MAGIC).load(Ordering::Relaxed);
        let version = region.word32(control::VERSION).load(Ordering::Relaxed) as u16;
        let slot_count = region.word32(control::SLOT_COUNT).load(Ordering::Relaxed);
        let data_offset = region.word32(control::DATA_OFFSET).load(Ordering::Relaxed);
        let geometry = check_control(magic, version, slot_count, data_offset, len).map_err(AttachError::Control)?;
        let tail = region.word32(control::TAIL).load(Ordering::Relaxed);
        let mut consumer = Self {
            region,
            geometry,
            slot_count: geometry.slot_count(),
            mask: geometry.slot_count() - 1,
            tail,
            published_tail: tail,
            head: tail,
            lost_pending: 0,
        };
        consumer.refresh_head().map_err(AttachError::Read)?;
        Ok(consumer)
    }

    /// The ring's geometry.
    pub fn geometry(&self) -> RingGeometry {
        self.geometry
    }

    /// Events the producer has dropped on this ring since it was created.
    pub fn lost_total(&self) -> u64 {
        self.region.word64(control::LOST).load(Ordering::Relaxed)
    }

    /// Unread slots, after re-reading the head.
    #[inline]
    pub fn unread_slots(&mut self) -> Result<u32, ReadError> {
        self.refresh_head()?;
        Ok(self.head.wrapping_sub(self.tail))
    }

    /// Copies the next event entry into `buf` and releases its slots to the
    /// producer. Skip entries are passed over; loss entries are passed over
    /// and their counts returned with the entry that follows.
    #[inline(always)]
    pub fn pop<'b>(&mut self, buf: &'b mut EntryBuf) -> Result<Option<EntryRef<'b>>, ReadError> {
        let entry = self.read(buf)?;
        if self.tail != self.published_tail {
            self.release();
        }
        Ok(entry)
    }

    /// Like [`Consumer::pop`] but does not release the slots: call
    /// [`Consumer::release`] after a batch of reads, to publish the tail once.
    #[inline(always)]
    pub fn read<'b>(&mut self, buf: &'b mut EntryBuf) -> Result<Option<EntryRef<'b>>, ReadError> {
        loop {
            let Some((header, pos)) = self.next_header()? else { return Ok(None) };
            if header.ty() == Category::Meta as u32 {
                let lost = self.consume_meta(header, pos)?;
                self.lost_pending = self.lost_pending.saturating_add(lost);
                continue;
            }
            return Ok(Some(self.take_event(header, pos, buf)));
        }
    }

    /// Like [`Consumer::read`], one entry at a time, skip and loss entries
    /// included: for readers that show the ring as it is (the C library's
    /// iteration). Does not release the slots. A loss entry's count is
    /// returned with it, not added to the next event's `lost_before`.
    pub fn read_raw<'b>(&mut self, buf: &'b mut EntryBuf) -> Result<Option<RawEntry<'b>>, ReadError> {
        let Some((header, pos)) = self.next_header()? else { return Ok(None) };
        if header.ty() == Category::Meta as u32 {
            let lost = self.consume_meta(header, pos)?;
            return Ok(Some(match header.is_skip() {
                true => RawEntry::Skip { slots: header.len() },
                false => RawEntry::Loss { lost },
            }));
        }
        Ok(Some(RawEntry::Event(self.take_event(header, pos, buf))))
    }

    /// The header at the tail and its position, checked, or `None` if the
    /// ring is empty.
    #[inline(always)]
    fn next_header(&mut self) -> Result<Option<(EntryHeader, u32)>, ReadError> {
        if self.head == self.tail {
            self.refresh_head()?;
            if self.head == self.tail {
                return Ok(None);
            }
        }
        let pos = self.tail & self.mask;
        // Only slots the producer has already published: touching one it
        // is still writing would pull its line away from it.
        if self.head.wrapping_sub(self.tail) > PREFETCH_SLOTS {
            self.region.prefetch_slot(self.tail.wrapping_add(PREFETCH_SLOTS) & self.mask, Access::Read);
        }
        let word = self.region.slot(pos).load(Ordering::Relaxed);
        let header = EntryHeader::from_raw(word);
        if self.is_malformed(header, pos) {
            return Err(self.diagnose(word, pos));
        }
        Ok(Some((header, pos)))
    }

    /// Copies out the event entry `header` starts at `pos` and moves the
    /// tail past it.
    #[inline(always)]
    fn take_event<'b>(&mut self, header: EntryHeader, pos: u32, buf: &'b mut EntryBuf) -> EntryRef<'b> {
        let body = self.copy_body(pos, header.len(), buf);
        self.tail = self.tail.wrapping_add(header.len());
        let lost_before = core::mem::take(&mut self.lost_pending);
        EntryRef { header, body, lost_before }
    }

    /// Whether the entry whose header is at `pos` cannot be read: one test
    /// for the common case; [`Consumer::diagnose`] says what is wrong.
    #[inline(always)]
    fn is_malformed(&self, header: EntryHeader, pos: u32) -> bool {
        let len = header.len();
        len == 0
            || header.info() & info::RESERVED_MASK != 0
            || pos + len > self.slot_count
            || len > self.head.wrapping_sub(self.tail)
    }

    /// Copies the body of the `len`-slot entry at `pos` (checked by
    /// [`Consumer::is_malformed`]) into `buf`.
    #[inline(always)]
    fn copy_body<'b>(&self, pos: u32, len: u32, buf: &'b mut EntryBuf) -> &'b [u8] {
        let body_slots = len as usize - 1;
        let words = &mut buf.words[..body_slots];
        let slots = self.region.slots(pos + 1, body_slots);
        // Four slots at a time, unrolled: an event's record alone is
        // four. Each word is stored as its little-endian bytes, as the
        // slot holds them.
        let le = |s: &AtomicU64| u64::from_ne_bytes(s.load(Ordering::Relaxed).to_le_bytes());
        let (word_quads, word_tail) = words.as_chunks_mut::<4>();
        let (slot_quads, slot_tail) = slots.as_chunks::<4>();
        for (w, s) in word_quads.iter_mut().zip(slot_quads) {
            w[0].write(le(&s[0]));
            w[1].write(le(&s[1]));
            w[2].write(le(&s[2]));
            w[3].write(le(&s[3]));
        }
        for (word, slot) in word_tail.iter_mut().zip(slot_tail) {
            word.write(le(slot));
        }
        // SAFETY: every one of the `body_slots` words was written just
        // above (`slots` has as many as `words`: both are `body_slots`
        // long), and a `u64` is 8 initialised bytes with no padding.
        unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), body_slots * SLOT_SIZE) }
    }

    /// Why the header `word` at `pos` cannot be read.
    #[cold]
    fn diagnose(&self, word: u64, pos: u32) -> ReadError {
        match EntryHeader::from_word(word) {
            Err(error) => ReadError::BadHeader { tail: self.tail, error },
            Ok(header) => {
                debug_assert!(pos + header.len() > self.slot_count || header.len() > self.head.wrapping_sub(self.tail));
                ReadError::BadLength { tail: self.tail, len: header.len() }
            }
        }
    }

    /// Publishes the tail, handing the slots read so far back to the producer.
    #[inline]
    pub fn release(&mut self) {
        // Release: our reads of those slots are done before the producer can
        // see them free and overwrite them.
        self.region.word32(control::TAIL).store(self.tail, Ordering::Release);
        self.published_tail = self.tail;
    }

    /// Where the consumer stands: the point [`Consumer::rewind`] returns to.
    /// Entries read after it and not yet released can be read again.
    pub fn mark(&self) -> Mark {
        Mark { tail: self.tail, lost_pending: self.lost_pending }
    }

    /// Goes back to `mark`, so that the entries read since are read again
    /// (a reader that could not pass one on keeps it in the ring). A mark
    /// from before the last [`Consumer::release`] is refused: those slots
    /// are the producer's again. Returns whether it went back.
    pub fn rewind(&mut self, mark: Mark) -> bool {
        let behind = self.tail.wrapping_sub(mark.tail);
        if behind > self.tail.wrapping_sub(self.published_tail) {
            return false;
        }
        self.tail = mark.tail;
        self.lost_pending = mark.lost_pending;
        true
    }

    /// After [`Consumer::release`]: clears the producer's room-wanted flag;
    /// returns whether it was set, in which case the caller must signal the
    /// producer (it sleeps until slots are freed). The mirror of the
    /// producer's [`crate::Producer::take_waiter`].
    pub fn take_room_waiter(&mut self) -> bool {
        // Pairs with the producer's fence between setting the flag and
        // re-reading the tail: either it sees our tail, or we see its flag.
        fence(Ordering::SeqCst);
        if self.region.word32(control::ROOM_WANTED).load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.region.word32(control::ROOM_WANTED).swap(0, Ordering::SeqCst) != 0
    }

    /// Sets the waiting flag before sleeping. Returns `Ok(true)` if the ring
    /// is still empty, so the caller may sleep on its notification; otherwise
    /// clears the flag again and returns `Ok(false)`: read first.
    pub fn prepare_wait(&mut self) -> Result<bool, ReadError> {
        self.release();
        self.region.word32(control::WAITING).store(1, Ordering::Relaxed);
        // Pairs with the producer's fence before it reads `waiting`: either it
        // sees our flag, or we see its head.
        fence(Ordering::SeqCst);
        if self.unread_slots()? == 0 {
            return Ok(true);
        }
        self.cancel_wait();
        Ok(false)
    }

    /// Clears the waiting flag (after waking, or instead of sleeping).
    pub fn cancel_wait(&mut self) {
        self.region.word32(control::WAITING).store(0, Ordering::Relaxed);
    }

    /// Passes over the meta entry at `pos`; returns the events a loss entry
    /// counts (0 for a skip).
    #[cold]
    fn consume_meta(&mut self, header: EntryHeader, pos: u32) -> Result<u64, ReadError> {
        if header.is_skip() && !header.is_loss() && header.subtype() == meta::SKIP {
            // A skip runs exactly to the end of the slot array.
            if pos + header.len() != self.slot_count {
                return Err(ReadError::BadLength { tail: self.tail, len: header.len() });
            }
        } else if header.is_loss()
            && !header.is_skip()
            && header.subtype() == meta::LOSS
            && header.len() == meta::LOSS_SLOTS
        {
            let lost = self.region.slot(pos + 1).load(Ordering::Relaxed);
            self.tail = self.tail.wrapping_add(header.len());
            return Ok(lost);
        } else {
            return Err(ReadError::BadMeta { tail: self.tail });
        }
        self.tail = self.tail.wrapping_add(header.len());
        Ok(0)
    }

    #[inline]
    fn refresh_head(&mut self) -> Result<(), ReadError> {
        // Acquire: the producer's slot writes are visible before its head.
        let head = self.region.word32(control::HEAD).load(Ordering::Acquire);
        if head.wrapping_sub(self.tail) > self.slot_count {
            return Err(ReadError::CorruptHead { head, tail: self.tail });
        }
        self.head = head;
        Ok(())
    }
}
