//! IPC messages between drivers, clients and the event server.
//!
//! The framing is every evq protocol's ([`crate::framing`]): a label and a
//! body of whole 8-byte words, at most [`MAX_MSG_BYTES`]. The table below
//! is the one definition of every message ([`crate::protocol!`]): its
//! label, direction, typed request and reply. The byte layouts are in
//! [`body`]; the checks each message's fields must pass are in its codec,
//! next to the layout it reads.
//!
//! Requests decode with [`Request::decode`]; replies with [`Reply::decode`],
//! given the label of the request they answer. Decoders check the exact
//! length, every reserved field and every enumeration, and return a
//! [`DecodeError`]; they never panic.

mod batch;
pub mod body;
mod codec;
mod types;

pub use batch::{decode_event, encode_event, Batch, BatchBuilder, BatchEvents, BatchIter, CheckedIter, Event};
pub use body::*;
pub use types::{Counters, DecodeError, ErrorCode, Filter, Stats, StatsTarget};

pub use crate::framing::MAX_MSG_BYTES;
use crate::ring::RingGeometry;
use codec::{reply as reply_codec, request as request_codec};

/// Why a message cannot be encoded.
pub type EncodeError = crate::framing::EncodeError<DecodeError>;

/// The most events one `PublishBatch` may carry (59): as many payload-less
/// events as fit after the batch head in one message.
pub const MAX_BATCH: usize = (MAX_MSG_BYTES - size_of::<BatchHead>()) / size_of::<EventDesc>();

/// The most frame capabilities one reply carries on seL4: one. The kernel
/// lets a message name `seL4_MsgMaxExtraCaps` (3) capabilities, but a
/// receiver has a single receive slot, and the kernel transfers only the
/// first capability that needs one (`transferCaps` in seL4's
/// `src/kernel/thread.c`). `CreateQueue`'s reply carries frame 0 (the
/// control page); `RingFrames` fetches each of the rest.
pub const FRAMES_PER_REPLY: u32 = 1;

crate::protocol! {
    errors { decode: DecodeError, code: ErrorCode }

    /// Message labels.
    labels label;

    /// A decoded request.
    requests Request<'a> in request_codec {
        /// Source → server: publish one event.
        PUBLISH = 0x0101, "source → server", publish: Publish(Event<'a>) => Published;
        /// Source → server: publish up to [`crate::msg::MAX_BATCH`] events.
        PUBLISH_BATCH = 0x0102, "source → server", publish_batch: PublishBatch(Batch<'a>) => Published;
        /// Supervisor (root task) → server: a client domain is gone.
        CLIENT_GONE = 0x0103, "supervisor source → server", client_gone: ClientGone {
            /// The client's badge.
            client: u64,
        } => Done;
        /// Client → server: create a queue and its ring.
        CREATE_QUEUE = 0x0201, "client → server", create_queue: CreateQueue {
            /// Its geometry.
            geometry: RingGeometry,
        } => QueueCreated;
        /// Client → server: destroy a queue, revoking its ring.
        DESTROY_QUEUE = 0x0202, "client → server", destroy_queue: DestroyQueue {
            /// The queue.
            queue: u32,
        } => Done;
        /// Client → server: add a subscription to a queue.
        SUBSCRIBE = 0x0203, "client → server", subscribe: Subscribe {
            /// The queue.
            queue: u32,
            /// What to accept.
            filter: Filter,
        } => Subscribed;
        /// Client → server: remove a subscription.
        UNSUBSCRIBE = 0x0204, "client → server", unsubscribe: Unsubscribe {
            /// The queue.
            queue: u32,
            /// The subscription.
            subscription: u8,
        } => Done;
        /// Client → server: change a subscription's priority.
        SET_PRIORITY = 0x0205, "client → server", set_priority: SetPriority {
            /// The queue.
            queue: u32,
            /// The subscription.
            subscription: u8,
            /// The new priority.
            priority: crate::event::Priority,
        } => Done;
        /// Client → server: set a queue's coalescing window (0 = off).
        SET_COALESCING = 0x0206, "client → server", set_coalescing: SetCoalescing {
            /// The queue.
            queue: u32,
            /// The window in ns.
            window_ns: u64,
        } => Done;
        /// Client → server: arm a batch wake-up before sleeping.
        WAIT = 0x0207, "client → server", wait: Wait {
            /// The queue.
            queue: u32,
            /// Events to wait for (at least 1).
            min_events: u32,
            /// Timeout in ns, 0 for none.
            timeout_ns: u64,
        } => Wait;
        /// Client → server: read statistics.
        STATS = 0x0208, "client → server", stats: Stats(StatsTarget) => Stats;
        /// Client → server (seL4): send a queue's frames from `first` on, where
        /// one reply carries at most [`crate::msg::FRAMES_PER_REPLY`] capabilities.
        RING_FRAMES = 0x0209, "client → server (seL4)", ring_frames: RingFrames {
            /// The queue.
            queue: u32,
            /// The first frame wanted.
            first: u32,
        } => RingFrames;
    }

    /// A decoded reply.
    replies Reply in reply_codec {
        /// Success with an empty body (`ClientGone`, `DestroyQueue`,
        /// `Unsubscribe`, `SetPriority`, `SetCoalescing`).
        done: Done;
        /// `Publish`/`PublishBatch` succeeded.
        published: Published {
            /// Events accepted.
            accepted: u32,
        };
        /// `CreateQueue` succeeded.
        queue_created: QueueCreated {
            /// The queue id.
            queue: u32,
            /// Slots in the data area.
            slot_count: u32,
            /// Frames granted with the reply.
            frames: u32,
            /// Slots held back for critical events.
            reserved_slots: u32,
        };
        /// `Subscribe` succeeded.
        subscribed: Subscribed {
            /// The subscription id.
            subscription: u8,
        };
        /// `Wait` answered.
        wait: Wait {
            /// Whether the wake-up is armed.
            armed: bool,
            /// Unread slots when it arrived.
            unread_slots: u32,
        };
        /// `Stats` answered.
        stats: Stats(Stats);
        /// `RingFrames` answered: frames `first..first + count` follow.
        ring_frames: RingFrames {
            /// The index of the first frame carried.
            first: u32,
            /// How many.
            count: u32,
        };
    }
}

// Every body is a whole number of message registers, and the limits hold.
const _: () = {
    assert!(size_of::<EventDesc>() == 16);
    assert!(size_of::<BatchHead>() == 8);
    assert!(size_of::<SubscribeBody>() == 40);
    assert!(size_of::<SetPriorityBody>() == 16);
    assert!(size_of::<SetCoalescingBody>() == 16);
    assert!(size_of::<WaitBody>() == 16);
    assert!(size_of::<QueueCreatedBody>() == 16);
    assert!(size_of::<StatsReplyBody>() == 64);
    // A batch of MAX_BATCH payload-less events fits in one message.
    assert!(size_of::<BatchHead>() + MAX_BATCH * size_of::<EventDesc>() <= MAX_MSG_BYTES);
    // The largest single event fits in one message.
    assert!(size_of::<EventDesc>() + crate::event::MAX_PAYLOAD <= MAX_MSG_BYTES);
};
