//! Each message's codec: its layout, the checks its fields must pass, in
//! the order `docs/protocol.md` §4 lists them, and its encoding. The table
//! in `msg/mod.rs` dispatches to these by label.

use zerocopy::IntoBytes;

use super::body::*;
use super::{DecodeError, EncodeError};
use crate::framing::{exact, put, zero, Layout};

fn subscription_id(v: u32) -> Result<u8, DecodeError> {
    u8::try_from(v).map_err(|_| DecodeError::BadFlags(v))
}

/// The request codecs, one module per message.
pub(super) mod request {
    use super::*;
    use crate::event::Priority;
    use crate::msg::batch::{self, priority};
    use crate::msg::{Batch, Event, Filter, StatsTarget};
    use crate::ring::RingGeometry;

    pub mod publish {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<EventDesc>("Event", "padded payload");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<Event<'_>, DecodeError> {
            batch::decode_event(body)
        }
        #[inline]
        pub fn encode(event: Event<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
            batch::encode_event(&event, out)
        }
    }

    pub mod publish_batch {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<BatchHead>("Batch", "events");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<Batch<'_>, DecodeError> {
            batch::decode_batch(body)
        }
        #[inline]
        pub fn encode(batch: Batch<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
            batch::encode_batch(&batch, out)
        }
    }

    pub mod client_gone {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<ClientGoneBody>("ClientGone");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u64,), DecodeError> {
            Ok((exact::<ClientGoneBody>(body)?.client.get(),))
        }
        #[inline]
        pub fn encode(client: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &ClientGoneBody { client: client.into() })
        }
    }

    pub mod create_queue {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<CreateQueueBody>("CreateQueue");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(RingGeometry,), DecodeError> {
            let b = exact::<CreateQueueBody>(body)?;
            if b.flags.get() != 0 {
                return Err(DecodeError::BadFlags(b.flags.get()));
            }
            let pages = b.pages.get();
            Ok((RingGeometry::new(pages).map_err(|_| DecodeError::BadPageCount(pages))?,))
        }
        #[inline]
        pub fn encode(geometry: RingGeometry, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &CreateQueueBody { pages: geometry.data_pages().into(), flags: 0.into() })
        }
    }

    pub mod destroy_queue {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<QueueBody>("Queue");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32,), DecodeError> {
            let b = exact::<QueueBody>(body)?;
            zero(b.reserved.as_bytes())?;
            Ok((b.queue.get(),))
        }
        #[inline]
        pub fn encode(queue: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &QueueBody { queue: queue.into(), reserved: 0.into() })
        }
    }

    pub mod subscribe {
        use super::*;
        use crate::event::Category;
        use crate::msg::batch::category;
        use crate::msg::subscribe_flags;
        pub const LAYOUT: Layout = Layout::fixed::<SubscribeBody>("Subscribe");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, Filter), DecodeError> {
            let b = exact::<SubscribeBody>(body)?;
            zero(&[b.reserved0])?;
            zero(b.reserved1.as_bytes())?;
            let category = category(b.category)?;
            let both = subscribe_flags::OBJECT | subscribe_flags::PARENT;
            let parent_outside_vfs = b.flags & subscribe_flags::PARENT != 0 && category != Category::Vfs;
            if b.flags & !subscribe_flags::ALL != 0 || b.flags & both == both || parent_outside_vfs {
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
                parent_id: (b.flags & subscribe_flags::PARENT != 0).then(|| b.object_id.get()),
                info_filter,
                info_mask,
                priority: priority(b.priority)?,
            };
            if filter.object_id.is_none() && filter.parent_id.is_none() && b.object_id.get() != 0
                || filter.source_id.is_none() && b.source_id.get() != 0
            {
                return Err(DecodeError::ReservedNonZero);
            }
            Ok((b.queue.get(), filter))
        }
        #[inline]
        pub fn encode(queue: u32, filter: Filter, out: &mut [u8]) -> Result<usize, EncodeError> {
            let flags = filter.object_id.map_or(0, |_| subscribe_flags::OBJECT)
                | filter.source_id.map_or(0, |_| subscribe_flags::SOURCE)
                | filter.parent_id.map_or(0, |_| subscribe_flags::PARENT);
            let both = subscribe_flags::OBJECT | subscribe_flags::PARENT;
            if flags & both == both || filter.parent_id.is_some() && filter.category != Category::Vfs {
                return Err(EncodeError::Invalid(DecodeError::BadFlags(u32::from(flags))));
            }
            put(
                out,
                &SubscribeBody {
                    queue: queue.into(),
                    category: filter.category as u8,
                    priority: filter.priority as u8,
                    flags,
                    reserved0: 0,
                    type_mask: filter.type_mask.into(),
                    object_id: filter.object_id.or(filter.parent_id).unwrap_or(0).into(),
                    source_id: filter.source_id.unwrap_or(0).into(),
                    info_filter: filter.info_filter.into(),
                    info_mask: filter.info_mask.into(),
                    reserved1: 0.into(),
                },
            )
        }
    }

    pub mod unsubscribe {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<SubscriptionBody>("Subscription");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u8), DecodeError> {
            let b = exact::<SubscriptionBody>(body)?;
            Ok((b.queue.get(), subscription_id(b.subscription.get())?))
        }
        #[inline]
        pub fn encode(queue: u32, subscription: u8, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &SubscriptionBody { queue: queue.into(), subscription: u32::from(subscription).into() })
        }
    }

    pub mod set_priority {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<SetPriorityBody>("SetPriority");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u8, Priority), DecodeError> {
            let b = exact::<SetPriorityBody>(body)?;
            zero(&b.reserved)?;
            Ok((b.queue.get(), subscription_id(b.subscription.get())?, priority(b.priority)?))
        }
        #[inline]
        pub fn encode(queue: u32, subscription: u8, priority: Priority, out: &mut [u8]) -> Result<usize, EncodeError> {
            let body = SetPriorityBody {
                queue: queue.into(),
                subscription: u32::from(subscription).into(),
                priority: priority as u8,
                reserved: [0; 7],
            };
            put(out, &body)
        }
    }

    pub mod set_coalescing {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<SetCoalescingBody>("SetCoalescing");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u64), DecodeError> {
            let b = exact::<SetCoalescingBody>(body)?;
            zero(b.reserved.as_bytes())?;
            Ok((b.queue.get(), b.window_ns.get()))
        }
        #[inline]
        pub fn encode(queue: u32, window_ns: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &SetCoalescingBody { queue: queue.into(), reserved: 0.into(), window_ns: window_ns.into() })
        }
    }

    pub mod wait {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<WaitBody>("Wait");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u32, u64), DecodeError> {
            let b = exact::<WaitBody>(body)?;
            if b.min_events.get() == 0 {
                return Err(DecodeError::BadCount(0));
            }
            Ok((b.queue.get(), b.min_events.get(), b.timeout_ns.get()))
        }
        #[inline]
        pub fn encode(queue: u32, min_events: u32, timeout_ns: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &WaitBody { queue: queue.into(), min_events: min_events.into(), timeout_ns: timeout_ns.into() })
        }
    }

    pub mod stats {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<StatsBody>("Stats");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<StatsTarget, DecodeError> {
            let b = exact::<StatsBody>(body)?;
            Ok(match (b.target.get(), b.id.get()) {
                (0, id) => StatsTarget::Queue(id),
                (1, id) => StatsTarget::Source(id),
                (2, 0) => StatsTarget::Server,
                (2, _) => return Err(DecodeError::ReservedNonZero),
                (t, _) => return Err(DecodeError::BadStatsTarget(t)),
            })
        }
        #[inline]
        pub fn encode(target: StatsTarget, out: &mut [u8]) -> Result<usize, EncodeError> {
            let (target, id) = match target {
                StatsTarget::Queue(q) => (0, q),
                StatsTarget::Source(s) => (1, s),
                StatsTarget::Server => (2, 0),
            };
            put(out, &StatsBody { target: target.into(), id: id.into() })
        }
    }

    pub mod ring_frames {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<RingFramesBody>("RingFrames");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u32), DecodeError> {
            let b = exact::<RingFramesBody>(body)?;
            Ok((b.queue.get(), b.first.get()))
        }
        #[inline]
        pub fn encode(queue: u32, first: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &RingFramesBody { queue: queue.into(), first: first.into() })
        }
    }
}

/// The reply codecs, one module per `OK` reply body.
pub(super) mod reply {
    use super::*;
    use crate::msg::{Counters, Stats, FRAMES_PER_REPLY};
    use zerocopy::byteorder::little_endian::U64;

    pub use crate::framing::empty_body as done;

    pub mod published {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<PublishedBody>("Published");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32,), DecodeError> {
            let b = exact::<PublishedBody>(body)?;
            zero(b.reserved.as_bytes())?;
            Ok((b.accepted.get(),))
        }
        #[inline]
        pub fn encode(accepted: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &PublishedBody { accepted: accepted.into(), reserved: 0.into() })
        }
    }

    pub mod queue_created {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<QueueCreatedBody>("QueueCreated").and_frames();
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u32, u32, u32), DecodeError> {
            let b = exact::<QueueCreatedBody>(body)?;
            Ok((b.queue.get(), b.slot_count.get(), b.frames.get(), b.reserved_slots.get()))
        }
        #[inline]
        pub fn encode(
            queue: u32,
            slot_count: u32,
            frames: u32,
            reserved_slots: u32,
            out: &mut [u8],
        ) -> Result<usize, EncodeError> {
            let body = QueueCreatedBody {
                queue: queue.into(),
                slot_count: slot_count.into(),
                frames: frames.into(),
                reserved_slots: reserved_slots.into(),
            };
            put(out, &body)
        }
    }

    pub mod subscribed {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<SubscribedBody>("Subscribed");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u8,), DecodeError> {
            let b = exact::<SubscribedBody>(body)?;
            zero(b.reserved.as_bytes())?;
            Ok((subscription_id(b.subscription.get())?,))
        }
        #[inline]
        pub fn encode(subscription: u8, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &SubscribedBody { subscription: u32::from(subscription).into(), reserved: 0.into() })
        }
    }

    pub mod wait {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<WaitReplyBody>("WaitReply");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(bool, u32), DecodeError> {
            let b = exact::<WaitReplyBody>(body)?;
            let armed = match b.armed.get() {
                0 => false,
                1 => true,
                other => return Err(DecodeError::BadFlags(other)),
            };
            Ok((armed, b.unread_slots.get()))
        }
        #[inline]
        pub fn encode(armed: bool, unread_slots: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &WaitReplyBody { armed: u32::from(armed).into(), unread_slots: unread_slots.into() })
        }
    }

    pub mod stats {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<StatsReplyBody>("Stats");
        #[inline]
        pub fn decode(body: &[u8]) -> Result<Stats, DecodeError> {
            let b = exact::<StatsReplyBody>(body)?;
            Ok(Stats {
                counters: Counters::from_array(b.counters.map(|c| c.get())),
                used_slots: b.used_slots.get(),
                slot_count: b.slot_count.get(),
            })
        }
        #[inline]
        pub fn encode(s: Stats, out: &mut [u8]) -> Result<usize, EncodeError> {
            let body = StatsReplyBody {
                counters: s.counters.to_array().map(U64::new),
                used_slots: s.used_slots.into(),
                slot_count: s.slot_count.into(),
            };
            put(out, &body)
        }
    }

    pub mod ring_frames {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<FramesBody>("Frames").and_frames();
        #[inline]
        pub fn decode(body: &[u8]) -> Result<(u32, u32), DecodeError> {
            let b = exact::<FramesBody>(body)?;
            let count = b.count.get();
            if count == 0 || count > FRAMES_PER_REPLY {
                return Err(DecodeError::BadCount(count.min(u32::from(u16::MAX)) as u16));
            }
            Ok((b.first.get(), count))
        }
        #[inline]
        pub fn encode(first: u32, count: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            put(out, &FramesBody { first: first.into(), count: count.into() })
        }
    }
}
