//! The byte layout of every message body, little-endian, as
//! `docs/protocol.md` §4 tabulates them. The codecs read and write these;
//! nothing else touches a body's bytes.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use crate::framing::ErrorBody;

/// One event as a source describes it (16 bytes), followed by its payload
/// padded with zeros to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EventDesc {
    /// [`Category`](crate::event::Category) number (not 0).
    pub category: u8,
    /// Kind within the category.
    pub kind: u8,
    /// Type-specific info flags.
    pub type_flags: u8,
    /// [`Priority`](crate::event::Priority) number.
    pub priority: u8,
    /// Payload bytes that follow, at most [`MAX_PAYLOAD`](crate::event::MAX_PAYLOAD).
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
    /// Events in the batch, 1..=[`MAX_BATCH`](super::MAX_BATCH).
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
    /// [`Category`](crate::event::Category) number (not 0).
    pub category: u8,
    /// [`Priority`](crate::event::Priority) number.
    pub priority: u8,
    /// [`subscribe_flags`]: which of the object, source and parent filters apply.
    pub flags: u8,
    /// Zero.
    pub reserved0: u8,
    /// Bit k accepts kind k (the header's subtype); non-zero.
    pub type_mask: U64,
    /// With [`subscribe_flags::OBJECT`]: accept only this object; with
    /// [`subscribe_flags::PARENT`]: only VFS events in this directory.
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
    /// `object_id` names a directory: the subscription accepts only VFS
    /// events whose parent it is ([`Filter::parent_id`](crate::msg::Filter::parent_id)).
    /// Never with [`OBJECT`], only in the VFS category.
    pub const PARENT: u8 = 1 << 2;
    /// Every defined bit.
    pub const ALL: u8 = OBJECT | SOURCE | PARENT;
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
    /// [`Priority`](crate::event::Priority) number.
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
    /// Frames carried: 1 to [`FRAMES_PER_REPLY`](super::FRAMES_PER_REPLY).
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
    /// The counters, in the order of [`super::Counters::NAMES`].
    pub counters: [U64; super::Counters::COUNT],
    /// Unread slots in the queue's ring (queue target only).
    pub used_slots: U32,
    /// Slots in the queue's ring (queue target only).
    pub slot_count: U32,
}
