//! The client requests and their replies as message bodies in the
//! caller's buffers: what a seL4 C domain puts in its message registers
//! and reads back from them itself (a body is whole 8-byte words, each a
//! register, little-endian; the label is the message's label). The
//! layouts are `evq_abi::msg`'s, byte for byte as `docs/protocol.md`
//! gives them.

use evq_abi::event::{Category, Priority};
use evq_abi::msg::{subscribe_flags, Counters, EncodeError, ErrorCode, Filter, Reply, Request, StatsTarget};
use evq_abi::ring::RingGeometry;

use crate::error::*;

/// [`evq_filter::flags`]: accept only the filter's `object_id`.
pub const EVQ_FILTER_OBJECT: u32 = 1 << 0;
/// [`evq_filter::flags`]: accept only the filter's `source_id`.
pub const EVQ_FILTER_SOURCE: u32 = 1 << 1;
/// [`evq_filter::flags`]: a VFS filter only: accept only events in the
/// directory `object_id` names (their `parent`, either side of a rename);
/// not with `EVQ_FILTER_OBJECT`.
pub const EVQ_FILTER_PARENT: u32 = 1 << 2;

// The header's literals are the ABI's flags, bit for bit.
const _: () = assert!(
    EVQ_FILTER_OBJECT == subscribe_flags::OBJECT as u32
        && EVQ_FILTER_SOURCE == subscribe_flags::SOURCE as u32
        && EVQ_FILTER_PARENT == subscribe_flags::PARENT as u32
);

/// [`evq_encode_stats`]: one of the caller's queues.
pub const EVQ_STATS_QUEUE: u32 = 0;
/// [`evq_encode_stats`]: a source, by source id.
pub const EVQ_STATS_SOURCE: u32 = 1;
/// [`evq_encode_stats`]: the whole server (the id is 0).
pub const EVQ_STATS_SERVER: u32 = 2;

/// A subscription's filter (`SUBSCRIBE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct evq_filter {
    /// The category (`EVQ_CATEGORY_*`, never `EVQ_CATEGORY_META`).
    pub category: u32,
    /// `EVQ_PRIORITY_NORMAL` or `EVQ_PRIORITY_CRITICAL`.
    pub priority: u32,
    /// Bit k accepts kind k: non-zero, only kinds the category defines.
    pub type_mask: u64,
    /// `EVQ_FILTER_OBJECT` or `EVQ_FILTER_PARENT`, `EVQ_FILTER_SOURCE`, or 0.
    pub flags: u32,
    /// With `EVQ_FILTER_SOURCE`: the one source accepted.
    pub source_id: u32,
    /// With `EVQ_FILTER_OBJECT`: the one object accepted; with
    /// `EVQ_FILTER_PARENT`: the directory whose entries are accepted.
    pub object_id: u64,
    /// Accept only events whose `info & info_mask == info_filter`.
    pub info_filter: u32,
    /// Info bits the filter looks at: only the type flags (bits 16..=23).
    pub info_mask: u32,
}

/// Fills `filter` to accept every event of `category` at normal priority.
/// Returns 0, or `EVQ_ERR_INVAL` (a null pointer, or no publishable
/// category).
///
/// # Safety
///
/// `filter` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_filter_all(category: u32, filter: *mut evq_filter) -> i32 {
    guard(|| {
        let c = category_arg(category)?;
        let all = Filter::all_of(c);
        let f = evq_filter { category, type_mask: all.type_mask, ..evq_filter::default() };
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(filter, f) }?;
        Ok(EVQ_OK)
    })
}

fn category_arg(category: u32) -> Result<Category, i32> {
    match u8::try_from(category).ok().and_then(Category::from_u8) {
        Some(c) if c != Category::Meta => Ok(c),
        _ => Err(EVQ_ERR_INVAL),
    }
}

impl evq_filter {
    /// The filter as the ABI has it, or [`EVQ_ERR_INVAL`].
    pub fn to_filter(&self) -> Result<Filter, i32> {
        let known = u32::from(subscribe_flags::ALL);
        let both = EVQ_FILTER_OBJECT | EVQ_FILTER_PARENT;
        if self.flags & !known != 0 || self.flags & both == both {
            return Err(EVQ_ERR_INVAL);
        }
        Ok(Filter {
            category: category_arg(self.category)?,
            type_mask: self.type_mask,
            object_id: (self.flags & EVQ_FILTER_OBJECT != 0).then_some(self.object_id),
            parent_id: (self.flags & EVQ_FILTER_PARENT != 0).then_some(self.object_id),
            source_id: (self.flags & EVQ_FILTER_SOURCE != 0).then_some(self.source_id),
            info_filter: self.info_filter,
            info_mask: self.info_mask,
            priority: priority_arg(self.priority)?,
        })
    }
}

fn priority_arg(priority: u32) -> Result<Priority, i32> {
    u8::try_from(priority).ok().and_then(Priority::from_u8).ok_or(EVQ_ERR_INVAL)
}

/// Encodes `request` into `out` (`cap` bytes), its label into `label`;
/// returns the body's length.
///
/// # Safety
///
/// `out..out + cap` is writable; `label` is valid for writes.
unsafe fn encode(request: Result<Request<'_>, i32>, out: *mut u8, cap: usize, label: *mut u32) -> i32 {
    guard(|| {
        let request = request?;
        if out.is_null() || label.is_null() {
            return Err(EVQ_ERR_INVAL);
        }
        // SAFETY: non-null, and writable for `cap` bytes by this function's
        // contract; nothing else touches the caller's buffer meanwhile.
        let buf = unsafe { core::slice::from_raw_parts_mut(out, cap) };
        let (l, n) = request.encode(buf).map_err(|e| match e {
            EncodeError::NoSpace => EVQ_ERR_NO_SPACE,
            EncodeError::Invalid(_) => EVQ_ERR_INVAL,
        })?;
        // The encoders take some fields as given (an empty type mask, a
        // zero `min_events`): what the server's decoder would refuse is
        // refused here, before it is sent.
        Request::decode(l, &buf[..n]).map_err(|_| EVQ_ERR_INVAL)?;
        // SAFETY: checked non-null above; valid for writes by the contract.
        unsafe { put(label, l) }?;
        Ok(n as i32)
    })
}

/// Encodes `CREATE_QUEUE` for a ring of `data_pages` (a power of two from
/// 1 to 64) into `out` (`cap` bytes; 8 are needed) and its label into
/// `label`. Returns the body's length, or `EVQ_ERR_INVAL` (a null pointer,
/// a bad page count: anything the server would refuse to decode) or
/// `EVQ_ERR_NO_SPACE`. Every `evq_encode_*` function answers alike.
///
/// # Safety
///
/// `out..out + cap` is writable; `label` is valid for writes. The same for
/// every `evq_encode_*` function.
#[no_mangle]
pub unsafe extern "C" fn evq_encode_create_queue(data_pages: u32, out: *mut u8, cap: usize, label: *mut u32) -> i32 {
    let request = RingGeometry::new(data_pages).map(|geometry| Request::CreateQueue { geometry });
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(request.map_err(|_| EVQ_ERR_INVAL), out, cap, label) }
}

/// Encodes `DESTROY_QUEUE`; as [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_destroy_queue(queue: u32, out: *mut u8, cap: usize, label: *mut u32) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(Ok(Request::DestroyQueue { queue }), out, cap, label) }
}

/// Encodes `SUBSCRIBE` of `queue` with `filter` (40 bytes); as
/// [`evq_encode_create_queue`]. A filter the server would refuse (an empty
/// or undefined type mask, info bits outside the type flags) is
/// `EVQ_ERR_INVAL`.
///
/// # Safety
///
/// As [`evq_encode_create_queue`]; `filter` points to an `evq_filter`.
#[no_mangle]
pub unsafe extern "C" fn evq_encode_subscribe(
    queue: u32,
    filter: *const evq_filter,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    // SAFETY: `filter`, if not null, points to an `evq_filter`.
    let request = unsafe { arg(filter) }.and_then(|f| f.to_filter()).map(|filter| Request::Subscribe { queue, filter });
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(request, out, cap, label) }
}

/// Encodes `UNSUBSCRIBE`; as [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_unsubscribe(
    queue: u32,
    subscription: u8,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(Ok(Request::Unsubscribe { queue, subscription }), out, cap, label) }
}

/// Encodes `SET_PRIORITY`; as [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_set_priority(
    queue: u32,
    subscription: u8,
    priority: u32,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    let request = priority_arg(priority).map(|priority| Request::SetPriority { queue, subscription, priority });
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(request, out, cap, label) }
}

/// Encodes `SET_COALESCING` (a window of 0 turns it off); as
/// [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_set_coalescing(
    queue: u32,
    window_ns: u64,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(Ok(Request::SetCoalescing { queue, window_ns }), out, cap, label) }
}

/// Encodes `WAIT`, the first step of the wake-up protocol; as
/// [`evq_encode_create_queue`] (`min_events` 0 is `EVQ_ERR_INVAL`).
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_wait(
    queue: u32,
    min_events: u32,
    timeout_ns: u64,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(Ok(Request::Wait { queue, min_events, timeout_ns }), out, cap, label) }
}

/// Encodes `STATS` of `EVQ_STATS_QUEUE`, `EVQ_STATS_SOURCE` (with the
/// queue or source `id`) or `EVQ_STATS_SERVER` (with `id` 0); as
/// [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_stats(target: u32, id: u32, out: *mut u8, cap: usize, label: *mut u32) -> i32 {
    let target = match (target, id) {
        (EVQ_STATS_QUEUE, q) => Ok(StatsTarget::Queue(q)),
        (EVQ_STATS_SOURCE, s) => Ok(StatsTarget::Source(s)),
        (EVQ_STATS_SERVER, 0) => Ok(StatsTarget::Server),
        _ => Err(EVQ_ERR_INVAL),
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(target.map(Request::Stats), out, cap, label) }
}

/// Encodes `RING_FRAMES` (seL4: the queue's frames from `first` on, one a
/// reply); as [`evq_encode_create_queue`].
///
/// # Safety
///
/// As [`evq_encode_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_encode_ring_frames(
    queue: u32,
    first: u32,
    out: *mut u8,
    cap: usize,
    label: *mut u32,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { encode(Ok(Request::RingFrames { queue, first }), out, cap, label) }
}

/// How many counters a `STATS` reply carries.
pub const EVQ_COUNTERS: usize = 7;
const _: () = assert!(EVQ_COUNTERS == Counters::COUNT);

/// A `STATS` reply.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct evq_stats {
    /// The counters in wire order, indexed by `EVQ_COUNTER_PUBLISHED`,
    /// `EVQ_COUNTER_FILTERED`, `EVQ_COUNTER_DELIVERED`,
    /// `EVQ_COUNTER_COALESCED`, `EVQ_COUNTER_DROPPED`,
    /// `EVQ_COUNTER_REJECTED` and `EVQ_COUNTER_THROTTLED`
    /// (`docs/protocol.md` §4.13 says what each counts where).
    pub counters: [u64; EVQ_COUNTERS],
    /// Unread slots in the queue's ring (queue target only).
    pub used_slots: u32,
    /// Slots in the queue's ring (queue target only).
    pub slot_count: u32,
}

/// [`evq_reply::kind`]: an error reply (`error_code`, `error_detail`).
pub const EVQ_REPLY_ERROR: u32 = 0;
/// [`evq_reply::kind`]: success with an empty body.
pub const EVQ_REPLY_DONE: u32 = 1;
/// [`evq_reply::kind`]: `CREATE_QUEUE` succeeded (`queue`, `slot_count`,
/// `frames`, `reserved_slots`).
pub const EVQ_REPLY_QUEUE_CREATED: u32 = 2;
/// [`evq_reply::kind`]: `SUBSCRIBE` succeeded (`subscription`).
pub const EVQ_REPLY_SUBSCRIBED: u32 = 3;
/// [`evq_reply::kind`]: `WAIT` answered (`armed`, `unread_slots`).
pub const EVQ_REPLY_WAIT: u32 = 4;
/// [`evq_reply::kind`]: `STATS` answered (`stats`).
pub const EVQ_REPLY_STATS: u32 = 5;
/// [`evq_reply::kind`]: `RING_FRAMES` answered (`first`, `count`).
pub const EVQ_REPLY_RING_FRAMES: u32 = 6;
/// [`evq_reply::kind`]: a publish succeeded (`accepted`).
pub const EVQ_REPLY_PUBLISHED: u32 = 7;

/// A decoded reply: `kind` says which fields are set; the others are 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct evq_reply {
    /// `EVQ_REPLY_*`.
    pub kind: u32,
    /// An error reply: the server's code (`EVQ_CODE_*`).
    pub error_code: u32,
    /// An error reply: its detail.
    pub error_detail: u32,
    /// The new queue.
    pub queue: u32,
    /// Slots in its ring.
    pub slot_count: u32,
    /// Frames of its ring (control page first).
    pub frames: u32,
    /// Slots held back for critical events.
    pub reserved_slots: u32,
    /// The new subscription.
    pub subscription: u32,
    /// `WAIT`: 1 if the wake-up is armed (sleep), 0 if the ring has unread slots.
    pub armed: u32,
    /// `WAIT`: unread slots when the server looked.
    pub unread_slots: u32,
    /// `RING_FRAMES`: the first frame carried.
    pub first: u32,
    /// `RING_FRAMES`: how many.
    pub count: u32,
    /// A publish: events accepted.
    pub accepted: u32,
    /// `STATS`: the counters.
    pub stats: evq_stats,
}

/// The reply as the C structure has it.
pub fn to_c_reply(reply: &Reply) -> evq_reply {
    let mut r = evq_reply::default();
    match *reply {
        Reply::Error { code, detail } => {
            r.error_code = code as u32;
            r.error_detail = detail;
        }
        Reply::Done => r.kind = EVQ_REPLY_DONE,
        Reply::Published { accepted } => (r.kind, r.accepted) = (EVQ_REPLY_PUBLISHED, accepted),
        Reply::QueueCreated { queue, slot_count, frames, reserved_slots } => {
            r.kind = EVQ_REPLY_QUEUE_CREATED;
            (r.queue, r.slot_count, r.frames, r.reserved_slots) = (queue, slot_count, frames, reserved_slots);
        }
        Reply::Subscribed { subscription } => (r.kind, r.subscription) = (EVQ_REPLY_SUBSCRIBED, subscription.into()),
        Reply::Wait { armed, unread_slots } => {
            (r.kind, r.armed, r.unread_slots) = (EVQ_REPLY_WAIT, armed.into(), unread_slots)
        }
        Reply::Stats(s) => {
            r.kind = EVQ_REPLY_STATS;
            r.stats = evq_stats { counters: s.counters.to_array(), used_slots: s.used_slots, slot_count: s.slot_count };
        }
        Reply::RingFrames { first, count } => (r.kind, r.first, r.count) = (EVQ_REPLY_RING_FRAMES, first, count),
    }
    r
}

/// Decodes the reply (`reply_label`, and `len` bytes of body at `body`) to
/// the request whose label was `request_label`, into `reply`.
///
/// Returns 0; or `EVQ_ERR_REFUSED` for an error reply, `reply` then
/// holding its `error_code` and `error_detail`; or `EVQ_ERR_INVAL` (a null
/// pointer) or `EVQ_ERR_MALFORMED` (the body does not decode: a wrong
/// length, a reserved field set, an unknown label or code).
///
/// # Safety
///
/// `body..body + len` is readable (or `len` is 0); `reply` is valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn evq_decode_reply(
    request_label: u32,
    reply_label: u32,
    body: *const u8,
    len: usize,
    reply: *mut evq_reply,
) -> i32 {
    guard(|| {
        let bytes: &[u8] = match len {
            0 => &[],
            _ if body.is_null() => return Err(EVQ_ERR_INVAL),
            // SAFETY: non-null, readable for `len` bytes by the contract.
            _ => unsafe { core::slice::from_raw_parts(body, len) },
        };
        let decoded = Reply::decode(request_label, reply_label, bytes).map_err(|_| EVQ_ERR_MALFORMED)?;
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(reply, to_c_reply(&decoded)) }?;
        match decoded {
            Reply::Error { .. } => Err(EVQ_ERR_REFUSED),
            _ => Ok(EVQ_OK),
        }
    })
}

/// The server's words for one of its error codes (`"NoSuchQueue"`), or
/// `"?"`; stores the length in `len` (static bytes, not NUL-terminated).
///
/// # Safety
///
/// `len` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_code_name(code: u32, len: *mut usize) -> *const core::ffi::c_char {
    let name = ErrorCode::from_u32(code).map_or("?", ErrorCode::name);
    // SAFETY: valid for writes by this function's contract; a null `len`
    // is refused by `put` and the name still returned.
    let _ = unsafe { put(len, name.len()) };
    name.as_ptr().cast()
}
