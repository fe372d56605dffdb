//! The typed values messages carry: error codes, decode errors, filters,
//! statistics.

use crate::event::{Category, Priority};

crate::codes! {
    /// The error codes of an error reply.
    pub enum ErrorCode {
        /// The body does not decode; `detail` is the [`DecodeError::code`].
        Malformed = 1,
        /// The label is not a request this server knows.
        UnknownLabel = 2,
        /// The request decodes but an argument is out of range.
        InvalidArgument = 3,
        /// The badge the message arrived on is not registered for this request.
        UnknownSender = 4,
        /// The sender may not do this (for example publish in a category it was
        /// not granted); `detail` names the category where there is one.
        NotPermitted = 5,
        /// No such queue, or it belongs to another client.
        NoSuchQueue = 6,
        /// No such subscription on the queue.
        NoSuchSubscription = 7,
        /// The ring pool cannot hold the ring.
        NoMemory = 8,
        /// A fixed-capacity table is full.
        TableFull = 9,
        /// Back-pressure: the source is over its budget; `detail` is how many of
        /// the events were accepted. Retry the rest after the next tick.
        Busy = 10,
        /// The queue was revoked (its ring was corrupted); destroy it.
        Revoked = 11,
    }
}

/// Why a message does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The label is not known in this direction.
    UnknownLabel(u32),
    /// The body has the wrong length.
    BadLength {
        /// What the layout needs.
        expected: usize,
        /// What arrived.
        actual: usize,
    },
    /// A reserved field or padding byte is not zero.
    ReservedNonZero,
    /// The category is unknown, or `Meta`, which cannot be published or subscribed to.
    BadCategory(u8),
    /// The kind is not defined in its category.
    BadKind {
        /// The category.
        category: u8,
        /// The kind.
        kind: u8,
    },
    /// The priority is unknown.
    BadPriority(u8),
    /// A payload is longer than [`MAX_PAYLOAD`](crate::event::MAX_PAYLOAD).
    PayloadTooLong(usize),
    /// A batch count is zero or over [`MAX_BATCH`](super::MAX_BATCH).
    BadCount(u16),
    /// A flags field has an unknown bit, or bits that cannot go together (a
    /// subscription's `OBJECT` with `PARENT`, or `PARENT` outside the VFS
    /// category).
    BadFlags(u32),
    /// A subscription's type mask is empty or names undefined kinds.
    BadTypeMask(u64),
    /// A subscription's info filter has bits outside its info mask.
    FilterOutsideMask,
    /// A statistics target is unknown.
    BadStatsTarget(u32),
    /// A queue size is not a power of two from 1 to 64 pages.
    BadPageCount(u32),
    /// An error reply carries an unknown code.
    BadErrorCode(u32),
    /// A subscription's info mask has bits outside the type-specific flags
    /// (info bits 16..=23), the only info bits a filter can select on.
    BadInfoMask(u32),
}

impl core::fmt::Display for DecodeError {
    /// The problem in words, with the limit it broke.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::UnknownLabel(l) => write!(f, "label {l:#06x} is not a message of this protocol"),
            Self::BadLength { expected, actual } => write!(f, "the body is {actual} bytes where {expected} are needed"),
            Self::ReservedNonZero => f.write_str("a reserved field or padding byte is not zero"),
            Self::BadCategory(c) => write!(f, "category {c} cannot be published or subscribed to"),
            Self::BadKind { category, kind } => write!(f, "kind {kind} is not defined in category {category}"),
            Self::BadPriority(p) => write!(f, "priority {p} is not 0 (normal) or 1 (critical)"),
            Self::PayloadTooLong(n) => {
                write!(f, "a payload of {n} bytes is longer than the {} allowed", crate::event::MAX_PAYLOAD)
            }
            Self::BadCount(n) => write!(f, "a count of {n} is outside 1..={}", super::MAX_BATCH),
            Self::BadFlags(v) => write!(
                f,
                "flags {v:#x} have an unknown bit, or bits that cannot go together (a subscription's OBJECT \
                 with PARENT, or PARENT outside the vfs category)"
            ),
            Self::BadTypeMask(m) => write!(f, "type mask {m:#x} is empty or names undefined kinds"),
            Self::FilterOutsideMask => f.write_str("the info filter has bits outside the info mask"),
            Self::BadStatsTarget(t) => write!(f, "statistics target {t} is not 0 (queue), 1 (source) or 2 (server)"),
            Self::BadPageCount(n) => write!(f, "{n} pages is not a power of two from 1 to 64"),
            Self::BadErrorCode(c) => write!(f, "error code {c} is not one this protocol defines"),
            Self::BadInfoMask(m) => write!(f, "info mask {m:#x} has bits outside the type flags (0x00ff0000)"),
        }
    }
}

impl DecodeError {
    /// A stable number for the error, sent as the `detail` of a
    /// [`ErrorCode::Malformed`] reply.
    pub const fn code(&self) -> u32 {
        match self {
            Self::UnknownLabel(_) => 1,
            Self::BadLength { .. } => 2,
            Self::ReservedNonZero => 3,
            Self::BadCategory(_) => 4,
            Self::BadKind { .. } => 5,
            Self::BadPriority(_) => 6,
            Self::PayloadTooLong(_) => 7,
            Self::BadCount(_) => 8,
            Self::BadFlags(_) => 9,
            Self::BadTypeMask(_) => 10,
            Self::FilterOutsideMask => 11,
            Self::BadStatsTarget(_) => 12,
            Self::BadPageCount(_) => 13,
            Self::BadErrorCode(_) => 14,
            Self::BadInfoMask(_) => 15,
        }
    }
}

/// A subscription's filter, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The category (never `Meta`).
    pub category: Category,
    /// Bit k accepts kind k; non-zero, only defined kinds.
    pub type_mask: u64,
    /// Accept only this object, if set.
    pub object_id: Option<u64>,
    /// Accept only this source, if set.
    pub source_id: Option<u32>,
    /// Accept only VFS events in this directory, if set: those whose
    /// payload names it as the parent (CREATE, DELETE, ATTRIB, MOUNT and
    /// UNMOUNT: `parent`; RENAME: `old_parent` or `new_parent`), the way an
    /// inotify watch on a directory sees the names in it. Only for
    /// [`Category::Vfs`], and never with `object_id`: a `Subscribe` with
    /// either is refused ([`DecodeError::BadFlags`]).
    pub parent_id: Option<u64>,
    /// Accept only events whose `info & info_mask == info_filter`.
    pub info_filter: u32,
    /// See `info_filter`.
    pub info_mask: u32,
    /// Priority of the events this subscription delivers.
    pub priority: Priority,
}

impl Filter {
    /// A filter that accepts every event of `category` at normal priority:
    /// every kind, any object, any source, any flags.
    pub const fn all_of(category: Category) -> Self {
        Filter {
            category,
            type_mask: (1u64 << category.kind_count()) - 1,
            object_id: None,
            source_id: None,
            parent_id: None,
            info_filter: 0,
            info_mask: 0,
            priority: Priority::Normal,
        }
    }
}

/// What `Stats` asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsTarget {
    /// One of the caller's queues.
    Queue(u32),
    /// A source, by source id.
    Source(u32),
    /// The server's totals.
    Server,
}

/// The event counters evq keeps, per source, per queue and for the whole
/// server: the one definition, from the server's core through the `Stats`
/// reply to the tools that print them. Which events each counts depends on
/// where it is kept (`docs/protocol.md` §4.13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counters {
    /// Events accepted from the source, or offered to the queue.
    pub published: u64,
    /// Events no subscription accepted (source), or the queue's filters refused.
    pub filtered: u64,
    /// Events written into rings.
    pub delivered: u64,
    /// Events merged into a newer one.
    pub coalesced: u64,
    /// Events dropped: a ring was full or corrupt, or held events were discarded.
    pub dropped: u64,
    /// Messages refused: malformed, or in a category not allowed.
    pub rejected: u64,
    /// Events refused by back-pressure (the source keeps and retries them).
    pub throttled: u64,
}

impl Counters {
    /// How many counters there are.
    pub const COUNT: usize = 7;

    /// Their names, in wire order (the order of [`Counters::to_array`]).
    pub const NAMES: [&'static str; Self::COUNT] =
        ["published", "filtered", "delivered", "coalesced", "dropped", "rejected", "throttled"];

    /// The counters in wire order.
    pub const fn to_array(&self) -> [u64; Self::COUNT] {
        [self.published, self.filtered, self.delivered, self.coalesced, self.dropped, self.rejected, self.throttled]
    }

    /// Counters from their values in wire order.
    pub const fn from_array(v: [u64; Self::COUNT]) -> Self {
        let [published, filtered, delivered, coalesced, dropped, rejected, throttled] = v;
        Counters { published, filtered, delivered, coalesced, dropped, rejected, throttled }
    }

    /// Adds `other` into `self`, each count saturating at `u64::MAX` (a
    /// source's loss counts are its own word, and may be anything).
    pub fn add(&mut self, other: &Counters) {
        let (mut sum, more) = (self.to_array(), other.to_array());
        for (a, b) in sum.iter_mut().zip(more) {
            *a = a.saturating_add(b);
        }
        *self = Counters::from_array(sum);
    }
}

/// A `Stats` reply: counters, and for a queue its ring's occupancy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// The counters of the queue, source or server asked about.
    pub counters: Counters,
    /// Unread slots in the queue's ring (queue target only).
    pub used_slots: u32,
    /// Slots in the queue's ring (queue target only).
    pub slot_count: u32,
}
