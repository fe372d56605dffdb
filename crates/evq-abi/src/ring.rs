//! The notification ring's layout.
//!
//! A ring is one **control page** followed by a **data area** of `pages`
//! pages, where `pages` is a power of two from [`MIN_RING_PAGES`] to
//! [`MAX_RING_PAGES`]. The data area is an array of 8-byte slots, so a ring
//! has `pages * 512` slots, a power of two, and a slot index is reduced to a
//! position with a mask.
//!
//! The producer (the event server) owns `head`; the consumer (the client)
//! owns `tail`. Both are free-running 32-bit slot counters that wrap modulo
//! 2^32, and `head - tail` (wrapping) is the number of unread slots. Each
//! lives on its own 128-byte line so the two sides never share a cache line
//! (128 rather than 64 because both x86_64 and aarch64 parts prefetch lines
//! in pairs).
//!
//! An entry is 1 to [`MAX_ENTRY_SLOTS`] contiguous slots and never crosses the
//! end of the data area: where the next entry would not fit before the end,
//! the producer writes a skip entry covering the rest and wraps to slot 0.

use crate::{ABI_VERSION, PAGE_SIZE};

/// Bytes in a slot.
pub const SLOT_SIZE: usize = 8;
/// Slots in one data page.
pub const SLOTS_PER_PAGE: u32 = (PAGE_SIZE / SLOT_SIZE) as u32;
/// The smallest data area, in pages.
pub const MIN_RING_PAGES: u32 = 1;
/// The largest data area, in pages.
pub const MAX_RING_PAGES: u32 = 64;
/// The longest entry, header included, in slots (the header's 6-bit length).
pub const MAX_ENTRY_SLOTS: u32 = 63;
/// `"EVQ1"` read as a little-endian `u32`: the first word of a control page.
pub const RING_MAGIC: u32 = u32::from_le_bytes(*b"EVQ1");

/// Byte offsets of the control page's fields. All are naturally aligned.
///
/// Line 0 (identity and geometry) and everything from [`control::USED`] on are written
/// once, by the producer, before the ring is granted; `head` and `lost` only
/// by the producer; `tail` only by the consumer; `waiting` by both (the
/// consumer sets it, the producer clears it when it signals).
pub mod control {
    /// `u32`: [`super::RING_MAGIC`].
    pub const MAGIC: usize = 0x000;
    /// `u16`: [`crate::ABI_VERSION`].
    pub const VERSION: usize = 0x004;
    /// `u16`: zero; reserved for ring-wide flags.
    pub const RING_FLAGS: usize = 0x006;
    /// `u32`: slots in the data area (a power of two).
    pub const SLOT_COUNT: usize = 0x008;
    /// `u32`: byte offset of slot 0 from the start of the control page (4096).
    pub const DATA_OFFSET: usize = 0x00C;
    /// `u32`: slots held back for critical events (see `docs/protocol.md`).
    pub const RESERVED_SLOTS: usize = 0x010;
    /// `u32`, producer-written: the free-running head (next slot to write).
    pub const HEAD: usize = 0x080;
    /// `u64`, producer-written: events this ring has dropped since creation.
    pub const LOST: usize = 0x088;
    /// `u32`, consumer-written: the free-running tail (next slot to read).
    pub const TAIL: usize = 0x100;
    /// `u32`: non-zero while the consumer sleeps and wants a signal.
    pub const WAITING: usize = 0x180;
    /// `u32`, producer-written: non-zero while the producer waits for room
    /// and wants a signal when the consumer frees slots.
    pub const ROOM_WANTED: usize = 0x200;
    /// Bytes of the control area in use; the rest of the page is zero.
    pub const USED: usize = 0x280;
}

/// Why a ring size is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingSizeError {
    /// `pages` is zero, above [`MAX_RING_PAGES`], or not a power of two.
    BadPageCount(u32),
}

impl core::fmt::Display for RingSizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingSizeError::BadPageCount(pages) => write!(
                f,
                "{pages} pages is not a ring size: give a power of two from {MIN_RING_PAGES} to {MAX_RING_PAGES}"
            ),
        }
    }
}

/// The geometry of a ring: everything derivable from its page count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingGeometry {
    pages: u32,
}

impl RingGeometry {
    /// The geometry of a ring with `pages` data pages.
    pub const fn new(pages: u32) -> Result<Self, RingSizeError> {
        if pages < MIN_RING_PAGES || pages > MAX_RING_PAGES || !pages.is_power_of_two() {
            return Err(RingSizeError::BadPageCount(pages));
        }
        Ok(Self { pages })
    }

    /// The geometry whose data area has `slots` slots, if that is a valid size.
    pub const fn from_slot_count(slots: u32) -> Result<Self, RingSizeError> {
        if !slots.is_multiple_of(SLOTS_PER_PAGE) {
            return Err(RingSizeError::BadPageCount(0));
        }
        Self::new(slots / SLOTS_PER_PAGE)
    }

    /// Data pages.
    pub const fn data_pages(self) -> u32 {
        self.pages
    }
    /// Frames the ring occupies: the control page and the data pages.
    pub const fn frames(self) -> u32 {
        self.pages + 1
    }
    /// Bytes the ring occupies, control page included.
    pub const fn region_bytes(self) -> usize {
        self.frames() as usize * PAGE_SIZE
    }
    /// Slots in the data area.
    pub const fn slot_count(self) -> u32 {
        self.pages * SLOTS_PER_PAGE
    }
    /// Slots the producer holds back for critical events: one eighth.
    pub const fn reserved_slots(self) -> u32 {
        self.slot_count() / 8
    }
}

/// The header's `info` word, bit by bit.
pub mod info {
    /// Bits 0..=5: the entry's length in slots, header included (1..=63).
    pub const LENGTH_MASK: u32 = 0x0000_003F;
    /// Bit 6: events for this queue were lost just before this entry. Set on
    /// loss entries (see [`crate::event::meta::LOSS`]).
    pub const LOSS: u32 = 1 << 6;
    /// Bit 7: a skip entry: padding to the end of the data area; discard it.
    pub const SKIP: u32 = 1 << 7;
    /// Bits 8..=15: the subscription (watch) id that matched the event.
    pub const WATCH_ID_MASK: u32 = 0x0000_FF00;
    /// Shift of the watch id.
    pub const WATCH_ID_SHIFT: u32 = 8;
    /// Bits 16..=23: flags whose meaning depends on the event's category and
    /// kind (for example [`crate::event::vfs::flags`]).
    pub const TYPE_FLAGS_MASK: u32 = 0x00FF_0000;
    /// Shift of the type-specific flags.
    pub const TYPE_FLAGS_SHIFT: u32 = 16;
    /// Bit 24: the event replaced older undelivered events of the same
    /// source, category, kind and object; the record's `coalesced` says how
    /// many.
    pub const COALESCED: u32 = 1 << 24;
    /// Bit 25: the event was delivered at critical priority.
    pub const CRITICAL: u32 = 1 << 25;
    /// Bits that must be zero in this ABI version.
    pub const RESERVED_MASK: u32 = 0xFC00_0000;
}

/// Why a header word is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The length field is zero.
    ZeroLength,
    /// A reserved info bit is set.
    ReservedBits,
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HeaderError::ZeroLength => "its length is zero",
            HeaderError::ReservedBits => "it sets reserved info bits",
        })
    }
}

/// The one-slot header that starts every entry.
///
/// As a little-endian `u64`: bits 0..=23 `type` (the event's
/// [`crate::event::Category`]), bits 24..=31 `subtype` (the event kind within
/// the category), bits 32..=63 `info` (see [`info`]). This is the layout of
/// Linux's `struct watch_notification`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    word: u64,
}

impl EntryHeader {
    /// Largest value of the 24-bit `type` field.
    pub const TYPE_MAX: u32 = 0x00FF_FFFF;

    /// A header from its fields. `ty` is truncated to 24 bits; `info` is taken
    /// as given.
    pub const fn new(ty: u32, subtype: u8, info: u32) -> Self {
        let low = (ty & Self::TYPE_MAX) | ((subtype as u32) << 24);
        Self { word: (low as u64) | ((info as u64) << 32) }
    }

    /// The header as stored in its slot.
    pub const fn to_word(self) -> u64 {
        self.word
    }

    /// A header from a slot as it is, unchecked: for readers that make the
    /// checks of [`EntryHeader::from_word`] themselves, together with others.
    pub const fn from_raw(word: u64) -> Self {
        Self { word }
    }

    /// Reads a header from a slot, checking the length and reserved bits.
    pub const fn from_word(word: u64) -> Result<Self, HeaderError> {
        let h = Self { word };
        if h.len() == 0 {
            return Err(HeaderError::ZeroLength);
        }
        if h.info() & info::RESERVED_MASK != 0 {
            return Err(HeaderError::ReservedBits);
        }
        Ok(h)
    }

    /// The 24-bit type: the event's category.
    pub const fn ty(self) -> u32 {
        (self.word as u32) & Self::TYPE_MAX
    }
    /// The 8-bit subtype: the event kind within the category.
    pub const fn subtype(self) -> u8 {
        (self.word >> 24) as u8
    }
    /// The 32-bit info word.
    pub const fn info(self) -> u32 {
        (self.word >> 32) as u32
    }
    /// Length of the entry in slots, header included.
    // A header has no `is_empty`: a zero length is invalid, not empty.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(self) -> u32 {
        self.info() & info::LENGTH_MASK
    }
    /// Whether this is a skip (padding) entry.
    pub const fn is_skip(self) -> bool {
        self.info() & info::SKIP != 0
    }
    /// Whether this is a loss entry.
    pub const fn is_loss(self) -> bool {
        self.info() & info::LOSS != 0
    }
    /// The subscription (watch) id.
    pub const fn watch_id(self) -> u8 {
        ((self.info() & info::WATCH_ID_MASK) >> info::WATCH_ID_SHIFT) as u8
    }
    /// The type-specific flags (info bits 16..=23).
    pub const fn type_flags(self) -> u8 {
        ((self.info() & info::TYPE_FLAGS_MASK) >> info::TYPE_FLAGS_SHIFT) as u8
    }
}

/// Builds an `info` word from its parts. `len` must be 1..=63.
pub const fn make_info(len: u32, watch_id: u8, type_flags: u8, flags: u32) -> u32 {
    (len & info::LENGTH_MASK)
        | ((watch_id as u32) << info::WATCH_ID_SHIFT)
        | ((type_flags as u32) << info::TYPE_FLAGS_SHIFT)
        | (flags & !(info::LENGTH_MASK | info::WATCH_ID_MASK | info::TYPE_FLAGS_MASK))
}

/// What a client checks before trusting a ring it was granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The first word is not [`RING_MAGIC`].
    BadMagic(u32),
    /// The ABI version is not [`ABI_VERSION`].
    BadVersion(u16),
    /// The slot count is not a valid ring size, or does not match the region.
    BadSlotCount(u32),
    /// The data offset is not one page.
    BadDataOffset(u32),
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ControlError::BadMagic(m) => {
                write!(f, "the control page's magic is {m:#010x}, not evq's {RING_MAGIC:#010x}")
            }
            ControlError::BadVersion(v) => write!(f, "the ring's ABI version is {v}, not {ABI_VERSION}"),
            ControlError::BadSlotCount(n) => {
                write!(f, "the ring claims {n} slots, which is not a ring size or not the size of the memory")
            }
            ControlError::BadDataOffset(o) => write!(f, "the ring's data starts at {o}, not one page in"),
        }
    }
}

/// Checks the identifying fields of a control page against the size of the
/// region the client actually mapped.
pub fn check_control(
    magic: u32,
    version: u16,
    slot_count: u32,
    data_offset: u32,
    region_bytes: usize,
) -> Result<RingGeometry, ControlError> {
    if magic != RING_MAGIC {
        return Err(ControlError::BadMagic(magic));
    }
    if version != ABI_VERSION {
        return Err(ControlError::BadVersion(version));
    }
    if data_offset as usize != PAGE_SIZE {
        return Err(ControlError::BadDataOffset(data_offset));
    }
    let geometry = RingGeometry::from_slot_count(slot_count).map_err(|_| ControlError::BadSlotCount(slot_count))?;
    if geometry.region_bytes() > region_bytes {
        return Err(ControlError::BadSlotCount(slot_count));
    }
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_every_field() {
        let info = make_info(17, 0xA5, 0x3C, info::LOSS | info::COALESCED);
        let h = EntryHeader::new(0x00AB_CDEF, 0x42, info);
        let back = EntryHeader::from_word(h.to_word()).unwrap();
        assert_eq!(back.ty(), 0x00AB_CDEF);
        assert_eq!(back.subtype(), 0x42);
        assert_eq!(back.len(), 17);
        assert_eq!(back.watch_id(), 0xA5);
        assert_eq!(back.type_flags(), 0x3C);
        assert!(back.is_loss());
        assert!(!back.is_skip());
        assert_eq!(back.info() & info::COALESCED, info::COALESCED);
    }

    #[test]
    fn header_layout_matches_watch_notification() {
        // type in bits 0..24, subtype in 24..32, info in the high word.
        let h = EntryHeader::new(0x000001, 0x02, 0x0000_0003);
        assert_eq!(h.to_word().to_le_bytes(), [1, 0, 0, 2, 3, 0, 0, 0]);
    }

    #[test]
    fn header_rejects_zero_length_and_reserved_bits() {
        assert_eq!(EntryHeader::from_word(0), Err(HeaderError::ZeroLength));
        let bad = EntryHeader::new(1, 0, 1 | (1 << 31)).to_word();
        assert_eq!(EntryHeader::from_word(bad), Err(HeaderError::ReservedBits));
    }

    #[test]
    fn geometry_accepts_only_powers_of_two_up_to_64() {
        for pages in 0..=130u32 {
            let ok = (1..=64).contains(&pages) && pages.is_power_of_two();
            assert_eq!(RingGeometry::new(pages).is_ok(), ok, "pages={pages}");
        }
        let g = RingGeometry::new(4).unwrap();
        assert_eq!(g.slot_count(), 2048);
        assert_eq!(g.frames(), 5);
        assert_eq!(g.region_bytes(), 5 * 4096);
        assert_eq!(g.reserved_slots(), 256);
    }

    #[test]
    fn control_check_rejects_each_bad_field() {
        let ok = check_control(RING_MAGIC, ABI_VERSION, 512, 4096, 8192);
        assert_eq!(ok, Ok(RingGeometry::new(1).unwrap()));
        assert!(matches!(check_control(0, ABI_VERSION, 512, 4096, 8192), Err(ControlError::BadMagic(0))));
        assert!(matches!(check_control(RING_MAGIC, 9, 512, 4096, 8192), Err(ControlError::BadVersion(9))));
        assert!(matches!(
            check_control(RING_MAGIC, ABI_VERSION, 500, 4096, 8192),
            Err(ControlError::BadSlotCount(500))
        ));
        assert!(matches!(check_control(RING_MAGIC, ABI_VERSION, 512, 0, 8192), Err(ControlError::BadDataOffset(0))));
        // A slot count larger than what the client mapped is refused.
        assert!(matches!(
            check_control(RING_MAGIC, ABI_VERSION, 1024, 4096, 8192),
            Err(ControlError::BadSlotCount(1024))
        ));
    }
}
