//! IPC messages between drivers, clients and the event server.
//!
//! A message is a **label** and a **body**. On seL4 the label is the
//! `MessageInfo` label and the body is the message registers, read as
//! little-endian bytes; on the hosted platform a datagram carries the label
//! as a little-endian `u32` followed by the body. Every body is a whole number
//! of 8-byte words (a message register each on 64-bit seL4) and at most
//! [`MAX_MSG_BYTES`].
//!
//! Requests decode with [`Request::decode`]; replies with [`Reply::decode`],
//! given the label of the request they answer. Decoders check the exact
//! length, every reserved field and every enumeration, and return a
//! [`DecodeError`]; they never panic.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::event::{Category, CategorySet, Priority, MAX_PAYLOAD};
use crate::ring::{RingGeometry, SLOT_SIZE};

/// The largest message body: seL4's 120 message registers of 8 bytes.
pub const MAX_MSG_BYTES: usize = 960;
/// The most events one `PublishBatch` may carry (59): as many payload-less
/// events as fit after the batch head in one message.
pub const MAX_BATCH: usize = (MAX_MSG_BYTES - core::mem::size_of::<BatchHead>()) / core::mem::size_of::<EventDesc>();

/// Message labels.
pub mod label {
    /// Reply: the request succeeded; the body depends on the request.
    pub const OK: u32 = 0x0000;
    /// Reply: the request failed; the body is an `ErrorBody`.
    pub const ERROR: u32 = 0x0001;
    /// Source → server: publish one event.
    pub const PUBLISH: u32 = 0x0101;
    /// Source → server: publish up to [`super::MAX_BATCH`] events.
    pub const PUBLISH_BATCH: u32 = 0x0102;
    /// Supervisor (root task) → server: a client domain is gone.
    pub const CLIENT_GONE: u32 = 0x0103;
    /// Client → server: create a queue and its ring.
    pub const CREATE_QUEUE: u32 = 0x0201;
    /// Client → server: destroy a queue, revoking its ring.
    pub const DESTROY_QUEUE: u32 = 0x0202;
    /// Client → server: add a subscription to a queue.
    pub const SUBSCRIBE: u32 = 0x0203;
    /// Client → server: remove a subscription.
    pub const UNSUBSCRIBE: u32 = 0x0204;
    /// Client → server: change a subscription's priority.
    pub const SET_PRIORITY: u32 = 0x0205;
    /// Client → server: set a queue's coalescing window.
    pub const SET_COALESCING: u32 = 0x0206;
    /// Client → server: arm a batch wake-up before sleeping.
    pub const WAIT: u32 = 0x0207;
    /// Client → server: read statistics.
    pub const STATS: u32 = 0x0208;
    /// Client → server (seL4): send the next frames of a queue's ring.
    pub const RING_FRAMES: u32 = 0x0209;

    /// Every request label, in label order.
    pub const REQUESTS: [u32; 12] = [
        PUBLISH,
        PUBLISH_BATCH,
        CLIENT_GONE,
        CREATE_QUEUE,
        DESTROY_QUEUE,
        SUBSCRIBE,
        UNSUBSCRIBE,
        SET_PRIORITY,
        SET_COALESCING,
        WAIT,
        STATS,
        RING_FRAMES,
    ];
}

/// The error codes of an error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
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

impl ErrorCode {
    /// The code with this number.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Malformed,
            2 => Self::UnknownLabel,
            3 => Self::InvalidArgument,
            4 => Self::UnknownSender,
            5 => Self::NotPermitted,
            6 => Self::NoSuchQueue,
            7 => Self::NoSuchSubscription,
            8 => Self::NoMemory,
            9 => Self::TableFull,
            10 => Self::Busy,
            11 => Self::Revoked,
            _ => return None,
        })
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
    /// A payload is longer than [`MAX_PAYLOAD`].
    PayloadTooLong(usize),
    /// A batch count is zero or over [`MAX_BATCH`].
    BadCount(u16),
    /// A flags field has an unknown bit.
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

/// Why a message cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small, or the message exceeds [`MAX_MSG_BYTES`].
    NoSpace,
    /// A field is out of range (for example a payload over [`MAX_PAYLOAD`]).
    Invalid(DecodeError),
}

// ---------------------------------------------------------------------------
// Bodies: the byte layouts. `docs/protocol.md` tabulates each one.

/// One event as a source describes it (16 bytes), followed by its payload
/// padded with zeros to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EventDesc {
    /// [`Category`] number (not 0).
    pub category: u8,
    /// Kind within the category.
    pub kind: u8,
    /// Type-specific info flags.
    pub type_flags: u8,
    /// [`Priority`] number.
    pub priority: u8,
    /// Payload bytes that follow, at most [`MAX_PAYLOAD`].
    pub payload_len: U16,
    /// Zero.
    pub reserved: U16,
    /// The object the event is about.
    pub object_id: U64,
}

/// Start of a `PublishBatch` body (8 bytes); `count` events follow, each an
/// [`EventDesc`] and its padded payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BatchHead {
    /// Events in the batch, 1..=[`MAX_BATCH`].
    pub count: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// `ClientGone` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ClientGoneBody {
    /// The badge of the client that is gone.
    pub client: U64,
}

/// `CreateQueue` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CreateQueueBody {
    /// Data pages: a power of two from 1 to 64.
    pub pages: U32,
    /// Zero.
    pub flags: U32,
}

/// `RingFrames` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RingFramesBody {
    /// The queue id from `CreateQueue`.
    pub queue: U32,
    /// The index of the first frame wanted: 0 is the control page.
    pub first: U32,
}

/// The most frame capabilities one reply carries on seL4: one. The kernel
/// lets a message name `seL4_MsgMaxExtraCaps` (3) capabilities, but a
/// receiver has a single receive slot, and the kernel transfers only the
/// first capability that needs one (`transferCaps` in seL4's
/// `src/kernel/thread.c`). `CreateQueue`'s reply carries frame 0 (the
/// control page); `RingFrames` fetches each of the rest.
pub const FRAMES_PER_REPLY: u32 = 1;

/// Body of requests that name only a queue (`DestroyQueue`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QueueBody {
    /// The queue id from `CreateQueue`.
    pub queue: U32,
    /// Zero.
    pub reserved: U32,
}

/// `Subscribe` body (40 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SubscribeBody {
    /// The queue.
    pub queue: U32,
    /// [`Category`] number (not 0).
    pub category: u8,
    /// [`Priority`] number.
    pub priority: u8,
    /// [`subscribe_flags`]: which of the object and source filters apply.
    pub flags: u8,
    /// Zero.
    pub reserved0: u8,
    /// Bit k accepts kind k (the header's subtype); non-zero.
    pub type_mask: U64,
    /// With [`subscribe_flags::OBJECT`]: accept only this object.
    pub object_id: U64,
    /// With [`subscribe_flags::SOURCE`]: accept only this source.
    pub source_id: U32,
    /// Accept only events whose `info & info_mask == info_filter`, where
    /// `info` holds the event's type-specific flags in bits 16..=23.
    pub info_filter: U32,
    /// See `info_filter`; only bits 16..=23 may be set.
    pub info_mask: U32,
    /// Zero.
    pub reserved1: U32,
}

/// The `flags` of a [`SubscribeBody`].
pub mod subscribe_flags {
    /// The object filter applies.
    pub const OBJECT: u8 = 1 << 0;
    /// The source filter applies.
    pub const SOURCE: u8 = 1 << 1;
    /// Every defined bit.
    pub const ALL: u8 = OBJECT | SOURCE;
}

/// Body of requests that name a subscription (`Unsubscribe`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SubscriptionBody {
    /// The queue.
    pub queue: U32,
    /// The subscription id from `Subscribe` (0..=255).
    pub subscription: U32,
}

/// `SetPriority` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetPriorityBody {
    /// The queue.
    pub queue: U32,
    /// The subscription id (0..=255).
    pub subscription: U32,
    /// [`Priority`] number.
    pub priority: u8,
    /// Zero.
    pub reserved: [u8; 7],
}

/// `SetCoalescing` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetCoalescingBody {
    /// The queue.
    pub queue: U32,
    /// Zero.
    pub reserved: U32,
    /// How long an event may wait to be merged, in ns; 0 turns coalescing off.
    pub window_ns: U64,
}

/// `Wait` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct WaitBody {
    /// The queue.
    pub queue: U32,
    /// Signal once this many events have been delivered (at least 1).
    pub min_events: U32,
    /// Or once this many ns have passed; 0 waits without a timeout.
    pub timeout_ns: U64,
}

/// `Stats` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StatsBody {
    /// 0: a queue of the caller's; 1: a source; 2: the whole server.
    pub target: U32,
    /// The queue or source id (zero for the server).
    pub id: U32,
}

/// Reply body to `Publish` and `PublishBatch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PublishedBody {
    /// Events accepted.
    pub accepted: U32,
    /// Zero.
    pub reserved: U32,
}

/// Reply body to `CreateQueue`. The ring's frames follow as capabilities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QueueCreatedBody {
    /// The new queue's id.
    pub queue: U32,
    /// Slots in its data area.
    pub slot_count: U32,
    /// Frames granted: the control page, then the data pages, in order.
    pub frames: U32,
    /// Slots held back for critical events.
    pub reserved_slots: U32,
}

/// Reply body to `RingFrames`. The frames follow as capabilities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FramesBody {
    /// The index of the first frame carried.
    pub first: U32,
    /// Frames carried: 1 to [`FRAMES_PER_REPLY`].
    pub count: U32,
}

/// Reply body to `Subscribe`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SubscribedBody {
    /// The subscription id, which tags every event it matches (0..=255).
    pub subscription: U32,
    /// Zero.
    pub reserved: U32,
}

/// Reply body to `Wait`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct WaitReplyBody {
    /// 1: armed, sleep on the notification. 0: not armed, because unread
    /// slots are already in the ring; read them first.
    pub armed: U32,
    /// Unread slots in the ring when the request arrived.
    pub unread_slots: U32,
}

/// Reply body to `Stats` (64 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StatsReplyBody {
    /// Events accepted from the source, or offered to the queue.
    pub published: U64,
    /// Events no subscription accepted (source), or the queue's filters refused.
    pub filtered: U64,
    /// Events written into rings.
    pub delivered: U64,
    /// Events merged into a newer one.
    pub coalesced: U64,
    /// Events dropped because a ring was full.
    pub dropped: U64,
    /// Messages refused: malformed, or in a category not allowed.
    pub rejected: U64,
    /// Events refused by back-pressure (the source keeps and retries them).
    pub throttled: U64,
    /// Unread slots in the queue's ring (queue target only).
    pub used_slots: U32,
    /// Slots in the queue's ring (queue target only).
    pub slot_count: U32,
}

/// Error reply body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ErrorBody {
    /// An [`ErrorCode`].
    pub code: U32,
    /// Detail, per code.
    pub detail: U32,
}

// ---------------------------------------------------------------------------
// Decoded forms.

/// An event as published, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Its category (never `Meta`).
    pub category: Category,
    /// Its kind, defined in the category.
    pub kind: u8,
    /// Type-specific info flags.
    pub type_flags: u8,
    /// Its priority.
    pub priority: Priority,
    /// The object it is about.
    pub object_id: u64,
    /// Its payload, at most [`MAX_PAYLOAD`] bytes.
    pub payload: &'a [u8],
}

impl Event<'_> {
    /// Checks what a decoder checks of an event already in typed form: a
    /// payload of at most [`MAX_PAYLOAD`] bytes, a category other than
    /// `Meta`, and a kind the category defines. For events built by code
    /// rather than decoded from a message.
    pub fn check(&self) -> Result<(), DecodeError> {
        let payload_len = self.payload.len();
        if payload_len > MAX_PAYLOAD {
            return Err(DecodeError::PayloadTooLong(payload_len));
        }
        if self.category == Category::Meta {
            return Err(DecodeError::BadCategory(Category::Meta as u8));
        }
        if !self.category.has_kind(self.kind) {
            return Err(DecodeError::BadKind { category: self.category as u8, kind: self.kind });
        }
        Ok(())
    }
}

/// A checked `PublishBatch`: iterate it for its events.
///
/// Only [`Request::decode`] makes one, after checking every event in it, so
/// iterating it re-reads the events without checking them again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch<'a> {
    count: usize,
    events: &'a [u8],
    categories: CategorySet,
}

impl<'a> Batch<'a> {
    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Every category that some event in the batch has, gathered while it
    /// was checked, so a permission check costs one test per batch.
    pub fn categories(&self) -> CategorySet {
        self.categories
    }
    /// Whether the batch is empty (never, once decoded).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The events, in order.
    pub fn iter(&self) -> BatchIter<'a> {
        BatchIter { rest: self.events }
    }
}

impl<'a> IntoIterator for Batch<'a> {
    type Item = Event<'a>;
    type IntoIter = BatchIter<'a>;
    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Batch`].
#[derive(Clone, Debug)]
pub struct BatchIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Event<'a>;
    #[inline]
    fn next(&mut self) -> Option<Event<'a>> {
        // The batch was checked whole when it was decoded, so only what is
        // needed to rebuild each event is read again; the lookups below
        // cannot fail, and ending the iteration is still the answer if one
        // somehow did.
        let (desc, rest) = EventDesc::read_from_prefix(self.rest).ok()?;
        let payload_len = usize::from(desc.payload_len.get());
        let payload = rest.get(..payload_len)?;
        let event = Event {
            category: Category::from_u8(desc.category)?,
            kind: desc.kind,
            type_flags: desc.type_flags,
            priority: Priority::from_u8(desc.priority)?,
            object_id: desc.object_id.get(),
            payload,
        };
        self.rest = rest.get(padded(payload_len)..)?;
        Some(event)
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

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Publish one event.
    Publish(Event<'a>),
    /// Publish several events.
    PublishBatch(Batch<'a>),
    /// A client is gone (from the supervisor only).
    ClientGone {
        /// The client's badge.
        client: u64,
    },
    /// Create a queue with a ring of `pages` data pages.
    CreateQueue {
        /// Its geometry.
        geometry: RingGeometry,
    },
    /// Destroy a queue.
    DestroyQueue {
        /// The queue.
        queue: u32,
    },
    /// Subscribe a queue.
    Subscribe {
        /// The queue.
        queue: u32,
        /// What to accept.
        filter: Filter,
    },
    /// Remove a subscription.
    Unsubscribe {
        /// The queue.
        queue: u32,
        /// The subscription.
        subscription: u8,
    },
    /// Change a subscription's priority.
    SetPriority {
        /// The queue.
        queue: u32,
        /// The subscription.
        subscription: u8,
        /// The new priority.
        priority: Priority,
    },
    /// Set a queue's coalescing window (0 = off).
    SetCoalescing {
        /// The queue.
        queue: u32,
        /// The window in ns.
        window_ns: u64,
    },
    /// Arm a batch wake-up.
    Wait {
        /// The queue.
        queue: u32,
        /// Events to wait for (at least 1).
        min_events: u32,
        /// Timeout in ns, 0 for none.
        timeout_ns: u64,
    },
    /// Read statistics.
    Stats(StatsTarget),
    /// Send a queue's frames from `first` on (seL4, where one reply carries
    /// at most [`FRAMES_PER_REPLY`] capabilities).
    RingFrames {
        /// The queue.
        queue: u32,
        /// The first frame wanted.
        first: u32,
    },
}

/// Counters in a statistics reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// See [`StatsReplyBody::published`].
    pub published: u64,
    /// See [`StatsReplyBody::filtered`].
    pub filtered: u64,
    /// See [`StatsReplyBody::delivered`].
    pub delivered: u64,
    /// See [`StatsReplyBody::coalesced`].
    pub coalesced: u64,
    /// See [`StatsReplyBody::dropped`].
    pub dropped: u64,
    /// See [`StatsReplyBody::rejected`].
    pub rejected: u64,
    /// See [`StatsReplyBody::throttled`].
    pub throttled: u64,
    /// See [`StatsReplyBody::used_slots`].
    pub used_slots: u32,
    /// See [`StatsReplyBody::slot_count`].
    pub slot_count: u32,
}

/// A decoded reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Success with an empty body (`ClientGone`, `DestroyQueue`, `Unsubscribe`,
    /// `SetPriority`, `SetCoalescing`).
    Done,
    /// `Publish`/`PublishBatch` succeeded.
    Published {
        /// Events accepted.
        accepted: u32,
    },
    /// `CreateQueue` succeeded.
    QueueCreated {
        /// The queue id.
        queue: u32,
        /// Slots in the data area.
        slot_count: u32,
        /// Frames granted with the reply.
        frames: u32,
        /// Slots held back for critical events.
        reserved_slots: u32,
    },
    /// `Subscribe` succeeded.
    Subscribed {
        /// The subscription id.
        subscription: u8,
    },
    /// `Wait` answered.
    Wait {
        /// Whether the wake-up is armed.
        armed: bool,
        /// Unread slots when it arrived.
        unread_slots: u32,
    },
    /// `Stats` answered.
    Stats(Stats),
    /// `RingFrames` answered: frames `first..first + count` follow.
    RingFrames {
        /// The index of the first frame carried.
        first: u32,
        /// How many.
        count: u32,
    },
    /// The request failed.
    Error {
        /// Why.
        code: ErrorCode,
        /// Detail, per code.
        detail: u32,
    },
}

// ---------------------------------------------------------------------------
// Decoding.

fn exact<T: FromBytes + KnownLayout + Immutable>(body: &[u8]) -> Result<T, DecodeError> {
    T::read_from_bytes(body)
        .map_err(|_| DecodeError::BadLength { expected: core::mem::size_of::<T>(), actual: body.len() })
}

fn zero(reserved: &[u8]) -> Result<(), DecodeError> {
    if reserved.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(DecodeError::ReservedNonZero)
    }
}

fn category(v: u8) -> Result<Category, DecodeError> {
    match Category::from_u8(v) {
        Some(Category::Meta) | None => Err(DecodeError::BadCategory(v)),
        Some(c) => Ok(c),
    }
}

fn priority(v: u8) -> Result<Priority, DecodeError> {
    Priority::from_u8(v).ok_or(DecodeError::BadPriority(v))
}

fn subscription_id(v: u32) -> Result<u8, DecodeError> {
    u8::try_from(v).map_err(|_| DecodeError::BadFlags(v))
}

fn padded(len: usize) -> usize {
    len.next_multiple_of(SLOT_SIZE)
}

/// Decodes one [`EventDesc`] and its padded payload from the front of `bytes`;
/// returns the event and the bytes it used.
fn decode_event_prefix(bytes: &[u8]) -> Result<(Event<'_>, usize), DecodeError> {
    let desc_len = core::mem::size_of::<EventDesc>();
    let (desc, rest) = EventDesc::read_from_prefix(bytes)
        .map_err(|_| DecodeError::BadLength { expected: desc_len, actual: bytes.len() })?;
    let category = category(desc.category)?;
    if !category.has_kind(desc.kind) {
        return Err(DecodeError::BadKind { category: desc.category, kind: desc.kind });
    }
    let priority = priority(desc.priority)?;
    if desc.reserved.get() != 0 {
        return Err(DecodeError::ReservedNonZero);
    }
    let payload_len = usize::from(desc.payload_len.get());
    if payload_len > MAX_PAYLOAD {
        return Err(DecodeError::PayloadTooLong(payload_len));
    }
    let with_pad = padded(payload_len);
    let Some(area) = rest.get(..with_pad) else {
        return Err(DecodeError::BadLength { expected: desc_len + with_pad, actual: bytes.len() });
    };
    let (payload, pad) = area.split_at(payload_len);
    zero(pad)?;
    let event = Event {
        category,
        kind: desc.kind,
        type_flags: desc.type_flags,
        priority,
        object_id: desc.object_id.get(),
        payload,
    };
    Ok((event, desc_len + with_pad))
}

fn check_len(body: &[u8]) -> Result<(), DecodeError> {
    if body.len() > MAX_MSG_BYTES || !body.len().is_multiple_of(SLOT_SIZE) {
        return Err(DecodeError::BadLength { expected: padded(body.len()).min(MAX_MSG_BYTES), actual: body.len() });
    }
    Ok(())
}

impl<'a> Request<'a> {
    /// Decodes a request from its label and body.
    pub fn decode(label: u32, body: &'a [u8]) -> Result<Self, DecodeError> {
        if !label::REQUESTS.contains(&label) {
            return Err(DecodeError::UnknownLabel(label));
        }
        check_len(body)?;
        Ok(match label {
            label::PUBLISH => {
                let (event, used) = decode_event_prefix(body)?;
                if used != body.len() {
                    return Err(DecodeError::BadLength { expected: used, actual: body.len() });
                }
                Request::Publish(event)
            }
            label::PUBLISH_BATCH => {
                let head_len = core::mem::size_of::<BatchHead>();
                let (head, events) = BatchHead::read_from_prefix(body)
                    .map_err(|_| DecodeError::BadLength { expected: head_len, actual: body.len() })?;
                zero(&head.reserved)?;
                let count = head.count.get();
                if count == 0 || usize::from(count) > MAX_BATCH {
                    return Err(DecodeError::BadCount(count));
                }
                let mut used = 0;
                let mut categories = CategorySet::EMPTY;
                for _ in 0..count {
                    let (event, n) = decode_event_prefix(&events[used..])?;
                    categories.0 |= event.category.bit();
                    used += n;
                }
                if used != events.len() {
                    return Err(DecodeError::BadLength { expected: head_len + used, actual: body.len() });
                }
                Request::PublishBatch(Batch { count: usize::from(count), events, categories })
            }
            label::CLIENT_GONE => Request::ClientGone { client: exact::<ClientGoneBody>(body)?.client.get() },
            label::CREATE_QUEUE => {
                let b = exact::<CreateQueueBody>(body)?;
                if b.flags.get() != 0 {
                    return Err(DecodeError::BadFlags(b.flags.get()));
                }
                let pages = b.pages.get();
                let geometry = RingGeometry::new(pages).map_err(|_| DecodeError::BadPageCount(pages))?;
                Request::CreateQueue { geometry }
            }
            label::DESTROY_QUEUE => {
                let b = exact::<QueueBody>(body)?;
                zero(b.reserved.as_bytes())?;
                Request::DestroyQueue { queue: b.queue.get() }
            }
            label::RING_FRAMES => {
                let b = exact::<RingFramesBody>(body)?;
                Request::RingFrames { queue: b.queue.get(), first: b.first.get() }
            }
            label::SUBSCRIBE => {
                let b = exact::<SubscribeBody>(body)?;
                zero(&[b.reserved0])?;
                zero(b.reserved1.as_bytes())?;
                let category = category(b.category)?;
                if b.flags & !subscribe_flags::ALL != 0 {
                    return Err(DecodeError::BadFlags(u32::from(b.flags)));
                }
                let mask = b.type_mask.get();
                let defined = (1u64 << category.kind_count()) - 1;
                if mask == 0 || mask & !defined != 0 {
                    return Err(DecodeError::BadTypeMask(mask));
                }
                let (info_filter, info_mask) = (b.info_filter.get(), b.info_mask.get());
                if info_mask & !crate::ring::info::TYPE_FLAGS_MASK != 0 {
                    return Err(DecodeError::BadInfoMask(info_mask));
                }
                if info_filter & !info_mask != 0 {
                    return Err(DecodeError::FilterOutsideMask);
                }
                let filter = Filter {
                    category,
                    type_mask: mask,
                    object_id: (b.flags & subscribe_flags::OBJECT != 0).then(|| b.object_id.get()),
                    source_id: (b.flags & subscribe_flags::SOURCE != 0).then(|| b.source_id.get()),
                    info_filter,
                    info_mask,
                    priority: priority(b.priority)?,
                };
                if filter.object_id.is_none() && b.object_id.get() != 0
                    || filter.source_id.is_none() && b.source_id.get() != 0
                {
                    return Err(DecodeError::ReservedNonZero);
                }
                Request::Subscribe { queue: b.queue.get(), filter }
            }
            label::UNSUBSCRIBE => {
                let b = exact::<SubscriptionBody>(body)?;
                Request::Unsubscribe { queue: b.queue.get(), subscription: subscription_id(b.subscription.get())? }
            }
            label::SET_PRIORITY => {
                let b = exact::<SetPriorityBody>(body)?;
                zero(&b.reserved)?;
                Request::SetPriority {
                    queue: b.queue.get(),
                    subscription: subscription_id(b.subscription.get())?,
                    priority: priority(b.priority)?,
                }
            }
            label::SET_COALESCING => {
                let b = exact::<SetCoalescingBody>(body)?;
                zero(b.reserved.as_bytes())?;
                Request::SetCoalescing { queue: b.queue.get(), window_ns: b.window_ns.get() }
            }
            label::WAIT => {
                let b = exact::<WaitBody>(body)?;
                if b.min_events.get() == 0 {
                    return Err(DecodeError::BadCount(0));
                }
                Request::Wait { queue: b.queue.get(), min_events: b.min_events.get(), timeout_ns: b.timeout_ns.get() }
            }
            label::STATS => {
                let b = exact::<StatsBody>(body)?;
                let target = match (b.target.get(), b.id.get()) {
                    (0, id) => StatsTarget::Queue(id),
                    (1, id) => StatsTarget::Source(id),
                    (2, 0) => StatsTarget::Server,
                    (2, _) => return Err(DecodeError::ReservedNonZero),
                    (t, _) => return Err(DecodeError::BadStatsTarget(t)),
                };
                Request::Stats(target)
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }

    /// The label this request is sent with.
    pub fn label(&self) -> u32 {
        match self {
            Request::Publish(_) => label::PUBLISH,
            Request::PublishBatch(_) => label::PUBLISH_BATCH,
            Request::ClientGone { .. } => label::CLIENT_GONE,
            Request::CreateQueue { .. } => label::CREATE_QUEUE,
            Request::DestroyQueue { .. } => label::DESTROY_QUEUE,
            Request::Subscribe { .. } => label::SUBSCRIBE,
            Request::Unsubscribe { .. } => label::UNSUBSCRIBE,
            Request::SetPriority { .. } => label::SET_PRIORITY,
            Request::SetCoalescing { .. } => label::SET_COALESCING,
            Request::Wait { .. } => label::WAIT,
            Request::Stats(_) => label::STATS,
            Request::RingFrames { .. } => label::RING_FRAMES,
        }
    }

    /// Encodes the request's body into `out`; returns the label and the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), EncodeError> {
        let len = match self {
            Request::Publish(event) => encode_event(event, out)?,
            Request::PublishBatch(batch) => {
                let mut builder = BatchBuilder::new(out)?;
                for event in batch.iter() {
                    builder.push(&event)?;
                }
                builder.finish()
            }
            Request::ClientGone { client } => put(out, &ClientGoneBody { client: (*client).into() })?,
            Request::CreateQueue { geometry } => {
                put(out, &CreateQueueBody { pages: geometry.data_pages().into(), flags: 0.into() })?
            }
            Request::DestroyQueue { queue } => put(out, &QueueBody { queue: (*queue).into(), reserved: 0.into() })?,
            Request::RingFrames { queue, first } => {
                put(out, &RingFramesBody { queue: (*queue).into(), first: (*first).into() })?
            }
            Request::Subscribe { queue, filter } => {
                let flags = filter.object_id.map_or(0, |_| subscribe_flags::OBJECT)
                    | filter.source_id.map_or(0, |_| subscribe_flags::SOURCE);
                put(
                    out,
                    &SubscribeBody {
                        queue: (*queue).into(),
                        category: filter.category as u8,
                        priority: filter.priority as u8,
                        flags,
                        reserved0: 0,
                        type_mask: filter.type_mask.into(),
                        object_id: filter.object_id.unwrap_or(0).into(),
                        source_id: filter.source_id.unwrap_or(0).into(),
                        info_filter: filter.info_filter.into(),
                        info_mask: filter.info_mask.into(),
                        reserved1: 0.into(),
                    },
                )?
            }
            Request::Unsubscribe { queue, subscription } => {
                put(out, &SubscriptionBody { queue: (*queue).into(), subscription: u32::from(*subscription).into() })?
            }
            Request::SetPriority { queue, subscription, priority } => put(
                out,
                &SetPriorityBody {
                    queue: (*queue).into(),
                    subscription: u32::from(*subscription).into(),
                    priority: *priority as u8,
                    reserved: [0; 7],
                },
            )?,
            Request::SetCoalescing { queue, window_ns } => put(
                out,
                &SetCoalescingBody { queue: (*queue).into(), reserved: 0.into(), window_ns: (*window_ns).into() },
            )?,
            Request::Wait { queue, min_events, timeout_ns } => put(
                out,
                &WaitBody {
                    queue: (*queue).into(),
                    min_events: (*min_events).into(),
                    timeout_ns: (*timeout_ns).into(),
                },
            )?,
            Request::Stats(target) => {
                let (target, id) = match target {
                    StatsTarget::Queue(q) => (0, *q),
                    StatsTarget::Source(s) => (1, *s),
                    StatsTarget::Server => (2, 0),
                };
                put(out, &StatsBody { target: target.into(), id: id.into() })?
            }
        };
        Ok((self.label(), len))
    }
}

fn put<T: IntoBytes + Immutable>(out: &mut [u8], body: &T) -> Result<usize, EncodeError> {
    body.write_to_prefix(out).map_err(|_| EncodeError::NoSpace)?;
    Ok(core::mem::size_of_val(body))
}

/// Encodes one event (descriptor and padded payload) at the front of `out`,
/// as the body of a `Publish`; returns the bytes written.
pub fn encode_event(event: &Event<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    event.check().map_err(EncodeError::Invalid)?;
    let payload_len = event.payload.len();
    let desc = EventDesc {
        category: event.category as u8,
        kind: event.kind,
        type_flags: event.type_flags,
        priority: event.priority as u8,
        payload_len: (payload_len as u16).into(),
        reserved: 0.into(),
        object_id: event.object_id.into(),
    };
    let total = core::mem::size_of::<EventDesc>() + padded(payload_len);
    let out = out.get_mut(..total).ok_or(EncodeError::NoSpace)?;
    let (head, rest) = out.split_at_mut(core::mem::size_of::<EventDesc>());
    head.copy_from_slice(desc.as_bytes());
    let (payload, pad) = rest.split_at_mut(payload_len);
    payload.copy_from_slice(event.payload);
    pad.fill(0);
    Ok(total)
}

/// Builds a `PublishBatch` body in place.
#[derive(Debug)]
pub struct BatchBuilder<'a> {
    out: &'a mut [u8],
    len: usize,
    count: u16,
}

impl<'a> BatchBuilder<'a> {
    /// Starts a batch in `out` (at most [`MAX_MSG_BYTES`] of it are used).
    pub fn new(out: &'a mut [u8]) -> Result<Self, EncodeError> {
        let limit = out.len().min(MAX_MSG_BYTES);
        let out = &mut out[..limit];
        let head = core::mem::size_of::<BatchHead>();
        if out.len() < head {
            return Err(EncodeError::NoSpace);
        }
        Ok(Self { out, len: head, count: 0 })
    }

    /// Appends an event; [`EncodeError::NoSpace`] when it does not fit, in
    /// which case the batch is unchanged.
    pub fn push(&mut self, event: &Event<'_>) -> Result<(), EncodeError> {
        if usize::from(self.count) == MAX_BATCH {
            return Err(EncodeError::NoSpace);
        }
        let n = encode_event(event, &mut self.out[self.len..])?;
        self.len += n;
        self.count += 1;
        Ok(())
    }

    /// Events so far.
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// Writes the batch head; returns the body length.
    pub fn finish(self) -> usize {
        let head = BatchHead { count: self.count.into(), reserved: [0; 6] };
        self.out[..core::mem::size_of::<BatchHead>()].copy_from_slice(head.as_bytes());
        self.len
    }
}

impl Reply {
    /// Decodes the reply to a request sent with `request_label`.
    pub fn decode(request_label: u32, reply_label: u32, body: &[u8]) -> Result<Self, DecodeError> {
        check_len(body)?;
        if reply_label == label::ERROR {
            let b = exact::<ErrorBody>(body)?;
            let code = ErrorCode::from_u32(b.code.get()).ok_or(DecodeError::BadErrorCode(b.code.get()))?;
            return Ok(Reply::Error { code, detail: b.detail.get() });
        }
        if reply_label != label::OK {
            return Err(DecodeError::UnknownLabel(reply_label));
        }
        Ok(match request_label {
            label::PUBLISH | label::PUBLISH_BATCH => {
                let b = exact::<PublishedBody>(body)?;
                zero(b.reserved.as_bytes())?;
                Reply::Published { accepted: b.accepted.get() }
            }
            label::CREATE_QUEUE => {
                let b = exact::<QueueCreatedBody>(body)?;
                Reply::QueueCreated {
                    queue: b.queue.get(),
                    slot_count: b.slot_count.get(),
                    frames: b.frames.get(),
                    reserved_slots: b.reserved_slots.get(),
                }
            }
            label::RING_FRAMES => {
                let b = exact::<FramesBody>(body)?;
                let count = b.count.get();
                if count == 0 || count > FRAMES_PER_REPLY {
                    return Err(DecodeError::BadCount(count.min(u32::from(u16::MAX)) as u16));
                }
                Reply::RingFrames { first: b.first.get(), count }
            }
            label::SUBSCRIBE => {
                let b = exact::<SubscribedBody>(body)?;
                zero(b.reserved.as_bytes())?;
                Reply::Subscribed { subscription: subscription_id(b.subscription.get())? }
            }
            label::WAIT => {
                let b = exact::<WaitReplyBody>(body)?;
                let armed = match b.armed.get() {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::BadFlags(other)),
                };
                Reply::Wait { armed, unread_slots: b.unread_slots.get() }
            }
            label::STATS => {
                let b = exact::<StatsReplyBody>(body)?;
                Reply::Stats(Stats {
                    published: b.published.get(),
                    filtered: b.filtered.get(),
                    delivered: b.delivered.get(),
                    coalesced: b.coalesced.get(),
                    dropped: b.dropped.get(),
                    rejected: b.rejected.get(),
                    throttled: b.throttled.get(),
                    used_slots: b.used_slots.get(),
                    slot_count: b.slot_count.get(),
                })
            }
            label::CLIENT_GONE
            | label::DESTROY_QUEUE
            | label::UNSUBSCRIBE
            | label::SET_PRIORITY
            | label::SET_COALESCING => {
                if !body.is_empty() {
                    return Err(DecodeError::BadLength { expected: 0, actual: body.len() });
                }
                Reply::Done
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }

    /// Encodes the reply's body into `out`; returns the reply label and length.
    pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), EncodeError> {
        let len = match *self {
            Reply::Done => 0,
            Reply::Published { accepted } => {
                put(out, &PublishedBody { accepted: accepted.into(), reserved: 0.into() })?
            }
            Reply::QueueCreated { queue, slot_count, frames, reserved_slots } => put(
                out,
                &QueueCreatedBody {
                    queue: queue.into(),
                    slot_count: slot_count.into(),
                    frames: frames.into(),
                    reserved_slots: reserved_slots.into(),
                },
            )?,
            Reply::RingFrames { first, count } => put(out, &FramesBody { first: first.into(), count: count.into() })?,
            Reply::Subscribed { subscription } => {
                put(out, &SubscribedBody { subscription: u32::from(subscription).into(), reserved: 0.into() })?
            }
            Reply::Wait { armed, unread_slots } => {
                put(out, &WaitReplyBody { armed: u32::from(armed).into(), unread_slots: unread_slots.into() })?
            }
            Reply::Stats(s) => put(
                out,
                &StatsReplyBody {
                    published: s.published.into(),
                    filtered: s.filtered.into(),
                    delivered: s.delivered.into(),
                    coalesced: s.coalesced.into(),
                    dropped: s.dropped.into(),
                    rejected: s.rejected.into(),
                    throttled: s.throttled.into(),
                    used_slots: s.used_slots.into(),
                    slot_count: s.slot_count.into(),
                },
            )?,
            Reply::Error { code, detail } => {
                let n = put(out, &ErrorBody { code: (code as u32).into(), detail: detail.into() })?;
                return Ok((label::ERROR, n));
            }
        };
        Ok((label::OK, len))
    }
}

// Compile-time checks that every body is a whole number of message registers.
const _: () = {
    assert!(core::mem::size_of::<EventDesc>() == 16);
    assert!(core::mem::size_of::<BatchHead>() == 8);
    assert!(core::mem::size_of::<SubscribeBody>() == 40);
    assert!(core::mem::size_of::<SetPriorityBody>() == 16);
    assert!(core::mem::size_of::<SetCoalescingBody>() == 16);
    assert!(core::mem::size_of::<WaitBody>() == 16);
    assert!(core::mem::size_of::<QueueCreatedBody>() == 16);
    assert!(core::mem::size_of::<StatsReplyBody>() == 64);
    // A batch of MAX_BATCH payload-less events fits in one message.
    assert!(core::mem::size_of::<BatchHead>() + MAX_BATCH * core::mem::size_of::<EventDesc>() <= MAX_MSG_BYTES);
    // The largest single event fits in one message.
    assert!(core::mem::size_of::<EventDesc>() + MAX_PAYLOAD <= MAX_MSG_BYTES);
};
