//! Host tests for the IPC messages in `evq_abi::msg`.
//!
//! Organisation:
//! 1. strategies and helpers;
//! 2. request round trips, one property per `Request` variant;
//! 3. reply round trips, including every `ErrorCode`;
//! 4. rejections, grouped by message label, each pinning the exact
//!    `DecodeError`;
//! 5. "never panics" fuzzing of both decoders (and canonical re-encoding of
//!    whatever they accept);
//! 6. `BatchBuilder` limits.
//!
//! Byte offsets used when corrupting bodies follow the `#[repr(C)]` layouts in
//! `msg.rs`; the golden-bytes tests pin those layouts so the offsets cannot
//! silently drift.

use evq_abi::event::{vfs, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{
    encode_event, label, subscribe_flags, BatchBuilder, Counters, DecodeError, EncodeError, ErrorCode, Event, Filter,
    Reply, Request, Stats, StatsTarget, FRAMES_PER_REPLY, MAX_BATCH, MAX_MSG_BYTES,
};
use evq_abi::ring::info::TYPE_FLAGS_MASK;
use evq_abi::ring::RingGeometry;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ===========================================================================
// 1. Strategies and helpers
// ===========================================================================

/// Every request label.
const REQUEST_LABELS: [u32; 12] = label::REQUESTS;

/// Request labels whose success reply is `Reply::Done` (empty body).
const DONE_LABELS: [u32; 5] =
    [label::CLIENT_GONE, label::DESTROY_QUEUE, label::UNSUBSCRIBE, label::SET_PRIORITY, label::SET_COALESCING];

/// Every error code; `every_error_code_is_listed` proves the list is complete.
const ERROR_CODES: [ErrorCode; 11] = [
    ErrorCode::Malformed,
    ErrorCode::UnknownLabel,
    ErrorCode::InvalidArgument,
    ErrorCode::UnknownSender,
    ErrorCode::NotPermitted,
    ErrorCode::NoSuchQueue,
    ErrorCode::NoSuchSubscription,
    ErrorCode::NoMemory,
    ErrorCode::TableFull,
    ErrorCode::Busy,
    ErrorCode::Revoked,
];

/// Size of the fixed part of an event in a `Publish`/`PublishBatch` body.
const DESC: usize = 16;
/// Size of a `PublishBatch` head.
const HEAD: usize = 8;

/// Bytes one event takes in a body: descriptor plus payload padded to 8.
fn event_size(payload_len: usize) -> usize {
    DESC + payload_len.next_multiple_of(8)
}

/// The body length a fixed-size request must have.
fn fixed_request_len(l: u32) -> Option<usize> {
    Some(match l {
        label::CLIENT_GONE
        | label::CREATE_QUEUE
        | label::DESTROY_QUEUE
        | label::UNSUBSCRIBE
        | label::STATS
        | label::RING_FRAMES => 8,
        label::SET_PRIORITY | label::SET_COALESCING | label::WAIT => 16,
        label::SUBSCRIBE => 40,
        _ => return None,
    })
}

/// The body length a reply must have.
fn reply_len(reply: &Reply) -> usize {
    match reply {
        Reply::Done => 0,
        Reply::Published { .. }
        | Reply::Subscribed { .. }
        | Reply::Wait { .. }
        | Reply::RingFrames { .. }
        | Reply::Error { .. } => 8,
        Reply::QueueCreated { .. } => 16,
        Reply::Stats(_) => 64,
    }
}

/// An event that owns its payload, so a strategy can generate it.
#[derive(Clone, Debug)]
struct OwnedEvent {
    category: Category,
    kind: u8,
    type_flags: u8,
    priority: Priority,
    object_id: u64,
    payload: Vec<u8>,
}

impl OwnedEvent {
    fn event(&self) -> Event<'_> {
        Event {
            category: self.category,
            kind: self.kind,
            type_flags: self.type_flags,
            priority: self.priority,
            object_id: self.object_id,
            payload: &self.payload,
        }
    }
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![Just(Priority::Normal), Just(Priority::Critical)]
}

fn publishable() -> impl Strategy<Value = Category> {
    select(&Category::PUBLISHABLE[..])
}

/// Payloads biased towards the interesting sizes: empty/small, any, maximal.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..=17),
        3 => vec(any::<u8>(), 0..=MAX_PAYLOAD),
        1 => vec(any::<u8>(), MAX_PAYLOAD),
    ]
}

/// A valid event: publishable category, defined kind, payload within limits.
fn owned_event() -> impl Strategy<Value = OwnedEvent> {
    (publishable(), any::<u8>(), any::<u8>(), priority(), any::<u64>(), payload()).prop_map(
        |(category, kind, type_flags, priority, object_id, payload)| OwnedEvent {
            category,
            kind: kind % category.kind_count(),
            type_flags,
            priority,
            object_id,
            payload,
        },
    )
}

/// 1..=MAX_BATCH valid events whose batch body fits in MAX_MSG_BYTES. Payloads
/// are trimmed to a shared budget, then shuffled so the big ones are not
/// always first.
fn batch_events() -> impl Strategy<Value = Vec<OwnedEvent>> {
    vec(owned_event(), 1..=MAX_BATCH)
        .prop_map(|mut events| {
            let mut budget = MAX_MSG_BYTES - HEAD - DESC * events.len();
            for e in &mut events {
                let keep = e.payload.len().min(budget);
                e.payload.truncate(keep);
                budget -= keep.next_multiple_of(8);
            }
            events
        })
        .prop_shuffle()
}

/// A valid subscription filter.
fn filter() -> impl Strategy<Value = Filter> {
    let id64 = prop_oneof![Just(0u64), any::<u64>()];
    let id32 = prop_oneof![Just(0u32), any::<u32>()];
    (
        publishable(),
        any::<u64>(),
        proptest::option::of(id64),
        proptest::option::of(id32),
        any::<u32>(),
        any::<u32>(),
        priority(),
        any::<bool>(),
    )
        .prop_map(|(category, raw_mask, object_id, source_id, info_mask, raw_filter, priority, in_dir)| {
            let kinds = category.kind_count();
            let defined = (1u64 << kinds) - 1;
            let mut type_mask = raw_mask & defined;
            if type_mask == 0 {
                type_mask = 1 << (raw_mask % u64::from(kinds));
            }
            // A directory instead of an object, where the category allows it.
            let as_parent = in_dir && category == Category::Vfs;
            Filter {
                category,
                type_mask,
                object_id: object_id.filter(|_| !as_parent),
                source_id,
                parent_id: object_id.filter(|_| as_parent),
                info_filter: raw_filter & info_mask & TYPE_FLAGS_MASK,
                info_mask: info_mask & TYPE_FLAGS_MASK,
                priority,
            }
        })
}

fn geometry() -> impl Strategy<Value = RingGeometry> {
    (0u32..=6).prop_map(|shift| RingGeometry::new(1 << shift).unwrap())
}

fn stats_target() -> impl Strategy<Value = StatsTarget> {
    prop_oneof![
        any::<u32>().prop_map(StatsTarget::Queue),
        any::<u32>().prop_map(StatsTarget::Source),
        Just(StatsTarget::Server),
    ]
}

/// Every request variant that borrows nothing.
fn simple_request() -> impl Strategy<Value = Request<'static>> {
    prop_oneof![
        any::<u64>().prop_map(|client| Request::ClientGone { client }),
        geometry().prop_map(|geometry| Request::CreateQueue { geometry }),
        any::<u32>().prop_map(|queue| Request::DestroyQueue { queue }),
        (any::<u32>(), filter()).prop_map(|(queue, filter)| Request::Subscribe { queue, filter }),
        (any::<u32>(), any::<u8>()).prop_map(|(queue, subscription)| Request::Unsubscribe { queue, subscription }),
        (any::<u32>(), any::<u8>(), priority()).prop_map(|(queue, subscription, priority)| Request::SetPriority {
            queue,
            subscription,
            priority
        }),
        (any::<u32>(), any::<u64>()).prop_map(|(queue, window_ns)| Request::SetCoalescing { queue, window_ns }),
        (any::<u32>(), 1..=u32::MAX, any::<u64>()).prop_map(|(queue, min_events, timeout_ns)| Request::Wait {
            queue,
            min_events,
            timeout_ns
        }),
        stats_target().prop_map(Request::Stats),
        (any::<u32>(), any::<u32>()).prop_map(|(queue, first)| Request::RingFrames { queue, first }),
    ]
}

/// A valid request of any variant, as (label, body).
fn valid_request_body() -> impl Strategy<Value = (u32, Vec<u8>)> {
    prop_oneof![
        owned_event().prop_map(|e| encode(&Request::Publish(e.event()))),
        batch_events().prop_map(|events| (label::PUBLISH_BATCH, build_batch(&events))),
        simple_request().prop_map(|r| encode(&r)),
    ]
}

fn stats() -> impl Strategy<Value = Stats> {
    (any::<(u64, u64, u64, u64)>(), any::<(u64, u64, u64)>(), any::<(u32, u32)>()).prop_map(
        |((published, filtered, delivered, coalesced), (dropped, rejected, throttled), (used_slots, slot_count))| {
            let counters = Counters { published, filtered, delivered, coalesced, dropped, rejected, throttled };
            Stats { counters, used_slots, slot_count }
        },
    )
}

/// A request label biased towards the known ones.
fn any_request_label() -> impl Strategy<Value = u32> {
    prop_oneof![3 => select(&REQUEST_LABELS[..]), 1 => any::<u32>()]
}

/// Every reply variant, paired with a label of a request it can answer.
fn reply_with_request_label() -> impl Strategy<Value = (u32, Reply)> {
    prop_oneof![
        select(&DONE_LABELS[..]).prop_map(|l| (l, Reply::Done)),
        (select(&[label::PUBLISH, label::PUBLISH_BATCH][..]), any::<u32>())
            .prop_map(|(l, accepted)| (l, Reply::Published { accepted })),
        any::<(u32, u32, u32, u32)>().prop_map(|(queue, slot_count, frames, reserved_slots)| {
            (label::CREATE_QUEUE, Reply::QueueCreated { queue, slot_count, frames, reserved_slots })
        }),
        any::<u8>().prop_map(|subscription| (label::SUBSCRIBE, Reply::Subscribed { subscription })),
        (any::<bool>(), any::<u32>())
            .prop_map(|(armed, unread_slots)| (label::WAIT, Reply::Wait { armed, unread_slots })),
        stats().prop_map(|s| (label::STATS, Reply::Stats(s))),
        (any::<u32>(), 1..=FRAMES_PER_REPLY)
            .prop_map(|(first, count)| (label::RING_FRAMES, Reply::RingFrames { first, count })),
        // An error may answer any request, even one with an unknown label
        // (that is what `ErrorCode::UnknownLabel` replies to).
        (any_request_label(), select(&ERROR_CODES[..]), any::<u32>())
            .prop_map(|(l, code, detail)| (l, Reply::Error { code, detail })),
    ]
}

/// A reply label biased towards OK and ERROR.
fn any_reply_label() -> impl Strategy<Value = u32> {
    prop_oneof![3 => select(&[label::OK, label::ERROR][..]), 1 => any::<u32>()]
}

/// Bodies for fuzzing: any length, or whole words (so the length check alone
/// does not reject them all).
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..=1024),
        (0usize..=128).prop_flat_map(|words| vec(any::<u8>(), words * 8)),
        (0usize..=8).prop_flat_map(|words| vec(prop_oneof![Just(0u8), Just(1), any::<u8>()], words * 8)),
    ]
}

/// Applies one small corruption to a valid body.
fn mutate(mut body: Vec<u8>, at: Index, value: u8, how: u8) -> Vec<u8> {
    match how % 4 {
        0 if !body.is_empty() => {
            let i = at.index(body.len());
            body[i] = value;
        }
        1 if !body.is_empty() => {
            let i = at.index(body.len());
            body[i] ^= 1 << (value % 8);
        }
        2 => body.truncate(at.index(body.len() + 1)),
        _ => body.extend(std::iter::repeat_n(value, usize::from(value % 17))),
    }
    body
}

/// Encodes a request into an owned body; panics if it does not encode.
fn encode(req: &Request<'_>) -> (u32, Vec<u8>) {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let (l, n) = req.encode(&mut buf).expect("encodes");
    (l, buf[..n].to_vec())
}

/// Encodes a reply into an owned body; panics if it does not encode.
fn encode_reply(reply: &Reply) -> (u32, Vec<u8>) {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let (l, n) = reply.encode(&mut buf).expect("encodes");
    (l, buf[..n].to_vec())
}

/// A `PublishBatch` body holding exactly `events`.
fn build_batch(events: &[OwnedEvent]) -> Vec<u8> {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let mut b = BatchBuilder::new(&mut buf).unwrap();
    for e in events {
        b.push(&e.event()).expect("event fits");
    }
    let n = b.finish();
    buf[..n].to_vec()
}

/// Decodes a request that must be rejected and returns why.
fn req_err(l: u32, body: &[u8]) -> DecodeError {
    Request::decode(l, body).expect_err("must be rejected")
}

/// Decodes a reply that must be rejected and returns why.
fn reply_err(request: u32, reply: u32, body: &[u8]) -> DecodeError {
    Reply::decode(request, reply, body).expect_err("must be rejected")
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Encodes `req` into a buffer full of 0xA5 (so padding or reserved bytes the
/// encoder forgot to write would be noticed by the decoder), checks the body's
/// shape, decodes it back and checks that a buffer one byte short is refused.
/// Returns the body.
fn check_request_round_trip(req: &Request<'_>) -> Result<Vec<u8>, TestCaseError> {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let (l, len) = req.encode(&mut buf).map_err(|e| TestCaseError::fail(format!("encode: {e:?}")))?;
    prop_assert_eq!(l, req.label());
    prop_assert_eq!(len % 8, 0, "body is not whole words");
    prop_assert!(len <= MAX_MSG_BYTES);
    if let Some(fixed) = fixed_request_len(l) {
        prop_assert_eq!(len, fixed);
    }
    let body = &buf[..len];
    prop_assert_eq!(Request::decode(l, body), Ok(*req));
    let mut short = vec![0u8; len - 1];
    prop_assert_eq!(req.encode(&mut short), Err(EncodeError::NoSpace));
    Ok(body.to_vec())
}

/// As `check_request_round_trip`, for replies.
fn check_reply_round_trip(request: u32, reply: &Reply) -> Result<(), TestCaseError> {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let (l, len) = reply.encode(&mut buf).map_err(|e| TestCaseError::fail(format!("encode: {e:?}")))?;
    let want_label = if matches!(reply, Reply::Error { .. }) { label::ERROR } else { label::OK };
    prop_assert_eq!(l, want_label);
    prop_assert_eq!(len % 8, 0);
    prop_assert!(len <= MAX_MSG_BYTES);
    prop_assert_eq!(len, reply_len(reply));
    prop_assert_eq!(Reply::decode(request, l, &buf[..len]), Ok(*reply));
    if len > 0 {
        let mut short = vec![0u8; len - 1];
        prop_assert_eq!(reply.encode(&mut short), Err(EncodeError::NoSpace));
    }
    Ok(())
}

// Sample valid messages that the rejection tests corrupt one field at a time.

/// A `Publish` of a VFS create with a 5-byte payload: 16 + 8 = 24 bytes.
/// Layout: 0 category, 1 kind, 2 type_flags, 3 priority, 4..6 payload_len,
/// 6..8 reserved, 8..16 object_id, 16.. payload, 21..24 padding.
fn sample_publish() -> Vec<u8> {
    let e = Event {
        category: Category::Vfs,
        kind: vfs::CREATE,
        type_flags: vfs::flags::IS_DIR,
        priority: Priority::Critical,
        object_id: 0x1122_3344_5566_7788,
        payload: b"hello",
    };
    encode(&Request::Publish(e)).1
}

/// A batch of two events: "hello" (24 bytes at 8..32) and an empty one
/// (16 bytes at 32..48). Head: 0..2 count, 2..8 reserved.
fn sample_batch() -> Vec<u8> {
    let events = [
        OwnedEvent {
            category: Category::Network,
            kind: 2,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: 3,
            payload: b"hello".to_vec(),
        },
        OwnedEvent {
            category: Category::System,
            kind: 0,
            type_flags: 0,
            priority: Priority::Critical,
            object_id: 0,
            payload: Vec::new(),
        },
    ];
    build_batch(&events)
}

/// A `Subscribe` with both optional filters. Layout: 0..4 queue, 4 category,
/// 5 priority, 6 flags, 7 reserved0, 8..16 type_mask, 16..24 object_id,
/// 24..28 source_id, 28..32 info_filter, 32..36 info_mask, 36..40 reserved1.
fn sample_subscribe() -> Vec<u8> {
    encode(&Request::Subscribe { queue: 7, filter: sample_filter() }).1
}

fn sample_filter() -> Filter {
    Filter {
        category: Category::Vfs,
        type_mask: 0b101,
        object_id: Some(0x55),
        source_id: Some(9),
        parent_id: None,
        info_filter: 0x0030_0000,
        info_mask: 0x00F0_0000,
        priority: Priority::Critical,
    }
}

/// A valid body for each fixed-size request label.
fn sample_fixed(l: u32) -> Vec<u8> {
    let req = match l {
        label::CLIENT_GONE => Request::ClientGone { client: 42 },
        label::CREATE_QUEUE => Request::CreateQueue { geometry: RingGeometry::new(4).unwrap() },
        label::DESTROY_QUEUE => Request::DestroyQueue { queue: 3 },
        label::SUBSCRIBE => return sample_subscribe(),
        label::UNSUBSCRIBE => Request::Unsubscribe { queue: 3, subscription: 200 },
        label::SET_PRIORITY => Request::SetPriority { queue: 3, subscription: 4, priority: Priority::Critical },
        label::SET_COALESCING => Request::SetCoalescing { queue: 3, window_ns: 1_000_000 },
        label::WAIT => Request::Wait { queue: 3, min_events: 5, timeout_ns: 10 },
        label::STATS => Request::Stats(StatsTarget::Queue(3)),
        label::RING_FRAMES => Request::RingFrames { queue: 3, first: 6 },
        other => panic!("no fixed sample for {other:#x}"),
    };
    encode(&req).1
}

// ===========================================================================
// 2. Request round trips
// ===========================================================================

proptest! {
    #[test]
    fn publish_round_trips(e in owned_event()) {
        let body = check_request_round_trip(&Request::Publish(e.event()))?;
        prop_assert_eq!(body.len(), event_size(e.payload.len()));
    }

    /// Batches are compared event by event through the iterator, then the
    /// decoded batch must re-encode to the very same bytes.
    #[test]
    fn publish_batch_round_trips(events in batch_events()) {
        let body = build_batch(&events);
        prop_assert_eq!(body.len() % 8, 0);
        prop_assert!(body.len() <= MAX_MSG_BYTES);
        prop_assert_eq!(body.len(), HEAD + events.iter().map(|e| event_size(e.payload.len())).sum::<usize>());
        let req = Request::decode(label::PUBLISH_BATCH, &body).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let Request::PublishBatch(batch) = req else {
            return Err(TestCaseError::fail(format!("decoded as {req:?}")));
        };
        prop_assert_eq!(batch.len(), events.len());
        prop_assert!(!batch.is_empty());
        let want: Vec<Event<'_>> = events.iter().map(OwnedEvent::event).collect();
        prop_assert_eq!(batch.iter().collect::<Vec<_>>(), want.clone());
        prop_assert_eq!(batch.into_iter().collect::<Vec<_>>(), want);
        let again = check_request_round_trip(&req)?;
        prop_assert_eq!(again, body);
    }

    #[test]
    fn client_gone_round_trips(client in any::<u64>()) {
        check_request_round_trip(&Request::ClientGone { client })?;
    }

    #[test]
    fn create_queue_round_trips(geometry in geometry()) {
        check_request_round_trip(&Request::CreateQueue { geometry })?;
    }

    #[test]
    fn destroy_queue_round_trips(queue in any::<u32>()) {
        check_request_round_trip(&Request::DestroyQueue { queue })?;
    }

    #[test]
    fn subscribe_round_trips(queue in any::<u32>(), filter in filter()) {
        check_request_round_trip(&Request::Subscribe { queue, filter })?;
    }

    #[test]
    fn unsubscribe_round_trips(queue in any::<u32>(), subscription in any::<u8>()) {
        check_request_round_trip(&Request::Unsubscribe { queue, subscription })?;
    }

    #[test]
    fn set_priority_round_trips(queue in any::<u32>(), subscription in any::<u8>(), priority in priority()) {
        check_request_round_trip(&Request::SetPriority { queue, subscription, priority })?;
    }

    #[test]
    fn set_coalescing_round_trips(queue in any::<u32>(), window_ns in any::<u64>()) {
        check_request_round_trip(&Request::SetCoalescing { queue, window_ns })?;
    }

    #[test]
    fn wait_round_trips(queue in any::<u32>(), min_events in 1..=u32::MAX, timeout_ns in any::<u64>()) {
        check_request_round_trip(&Request::Wait { queue, min_events, timeout_ns })?;
    }

    #[test]
    fn stats_round_trips(target in stats_target()) {
        check_request_round_trip(&Request::Stats(target))?;
    }
}

/// Proptest may not pick every enumerated value; cover them all explicitly.
#[test]
fn every_ring_size_stats_target_and_boundary_round_trips() {
    let check = |req: Request<'_>| check_request_round_trip(&req).unwrap();
    for shift in 0..=6 {
        let geometry = RingGeometry::new(1 << shift).unwrap();
        check(Request::CreateQueue { geometry });
    }
    for target in [StatsTarget::Queue(0), StatsTarget::Queue(u32::MAX), StatsTarget::Source(7), StatsTarget::Server] {
        check(Request::Stats(target));
    }
    check(Request::Wait { queue: 0, min_events: 1, timeout_ns: 0 });
    check(Request::Unsubscribe { queue: 1, subscription: 255 });
    // Every kind of every publishable category, at both priorities.
    for category in Category::PUBLISHABLE {
        for kind in 0..category.kind_count() {
            for priority in [Priority::Normal, Priority::Critical] {
                let e = Event { category, kind, type_flags: 0xFF, priority, object_id: u64::MAX, payload: &[1, 2, 3] };
                check(Request::Publish(e));
            }
        }
        // The widest valid mask of each category.
        let filter = Filter { type_mask: (1 << category.kind_count()) - 1, category, ..sample_filter() };
        check(Request::Subscribe { queue: 1, filter });
    }
}

/// Pins the little-endian byte layout of two bodies, so the field offsets the
/// rejection tests rely on (and other implementations follow) cannot drift.
#[test]
fn golden_bytes() {
    #[rustfmt::skip]
    let publish = [
        1, 0, 1, 1, 5, 0, 0, 0,
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        b'h', b'e', b'l', b'l', b'o', 0, 0, 0,
    ];
    assert_eq!(sample_publish(), publish);
    #[rustfmt::skip]
    let subscribe = [
        7, 0, 0, 0, 1, 1, 3, 0,
        0b101, 0, 0, 0, 0, 0, 0, 0,
        0x55, 0, 0, 0, 0, 0, 0, 0,
        9, 0, 0, 0, 0, 0, 0x30, 0,
        0, 0, 0xF0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(sample_subscribe(), subscribe);
    #[rustfmt::skip]
    let batch_head = [2, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(sample_batch()[..8], batch_head);
    assert_eq!(encode(&Request::Stats(StatsTarget::Server)), (label::STATS, vec![2, 0, 0, 0, 0, 0, 0, 0]));
}

// ===========================================================================
// 3. Reply round trips
// ===========================================================================

proptest! {
    #[test]
    fn reply_round_trips((request, reply) in reply_with_request_label()) {
        check_reply_round_trip(request, &reply)?;
    }
}

/// Every error code, answering every request label, round trips.
#[test]
fn every_error_code_round_trips_for_every_request() {
    for code in ERROR_CODES {
        for request in REQUEST_LABELS.into_iter().chain([0, 0xDEAD_BEEF]) {
            for detail in [0, 1, u32::MAX] {
                check_reply_round_trip(request, &Reply::Error { code, detail }).unwrap();
            }
        }
    }
}

/// `ERROR_CODES` holds every code (so the tests above cover them all), each
/// numbered as it converts back.
#[test]
fn every_error_code_is_listed() {
    for v in 0..=1000u32 {
        match ErrorCode::from_u32(v) {
            Some(code) => {
                assert_eq!(code as u32, v);
                assert!(ERROR_CODES.contains(&code), "{code:?} missing from ERROR_CODES");
            }
            None => assert!(!(1..=11).contains(&v), "{v} should be a code"),
        }
    }
    assert_eq!(ErrorCode::from_u32(u32::MAX), None);
}

#[test]
fn every_done_request_round_trips_an_empty_reply() {
    for request in DONE_LABELS {
        check_reply_round_trip(request, &Reply::Done).unwrap();
    }
}

/// `DecodeError::code` is sent on the wire as the `detail` of a `Malformed`
/// reply, so the numbers must stay distinct and stable.
#[test]
fn decode_error_codes_are_stable() {
    let errors = [
        DecodeError::UnknownLabel(9),
        DecodeError::BadLength { expected: 1, actual: 2 },
        DecodeError::ReservedNonZero,
        DecodeError::BadCategory(0),
        DecodeError::BadKind { category: 1, kind: 9 },
        DecodeError::BadPriority(2),
        DecodeError::PayloadTooLong(999),
        DecodeError::BadCount(0),
        DecodeError::BadFlags(4),
        DecodeError::BadTypeMask(0),
        DecodeError::FilterOutsideMask,
        DecodeError::BadStatsTarget(3),
        DecodeError::BadPageCount(3),
        DecodeError::BadErrorCode(0),
    ];
    let codes: Vec<u32> = errors.iter().map(DecodeError::code).collect();
    assert_eq!(codes, (1..=14).collect::<Vec<u32>>());
}

// ===========================================================================
// 4. Rejections
// ===========================================================================

// --- Lengths common to every label -------------------------------------------

/// Each fixed-size request refuses a body one word short, one word long, and
/// one byte off either way.
#[test]
fn fixed_size_requests_reject_wrong_lengths() {
    for l in REQUEST_LABELS {
        let Some(len) = fixed_request_len(l) else { continue };
        let mut body = sample_fixed(l);
        assert_eq!(body.len(), len);
        assert!(Request::decode(l, &body).is_ok(), "sample for {l:#x} must be valid");
        body.resize(len + 16, 0);
        assert_eq!(req_err(l, &body[..len - 8]), DecodeError::BadLength { expected: len, actual: len - 8 }, "{l:#x}");
        assert_eq!(req_err(l, &body[..len + 8]), DecodeError::BadLength { expected: len, actual: len + 8 }, "{l:#x}");
        assert_eq!(req_err(l, &body[..0]), DecodeError::BadLength { expected: len, actual: 0 }, "{l:#x}");
        for n in [len - 1, len + 1, 1] {
            assert!(
                matches!(req_err(l, &body[..n]), DecodeError::BadLength { actual, .. } if actual == n),
                "{l:#x} with {n} bytes"
            );
        }
    }
}

/// No request, whatever its label, accepts a body over MAX_MSG_BYTES.
#[test]
fn every_request_rejects_an_oversized_body() {
    let mut big = vec![0u8; MAX_MSG_BYTES + 8];
    // Make it a plausible batch so only the size is wrong.
    put_u16(&mut big, 0, 1);
    for l in REQUEST_LABELS {
        for n in [MAX_MSG_BYTES + 1, MAX_MSG_BYTES + 8] {
            assert!(
                matches!(req_err(l, &big[..n]), DecodeError::BadLength { actual, .. } if actual == n),
                "{l:#x} with {n} bytes"
            );
        }
    }
}

#[test]
fn unknown_request_labels_are_rejected() {
    for l in [label::OK, label::ERROR, 0x0100, 0x0104, 0x0200, 0x020A, 0x0301, u32::MAX] {
        assert_eq!(req_err(l, &[]), DecodeError::UnknownLabel(l));
        assert_eq!(req_err(l, &[0; 8]), DecodeError::UnknownLabel(l));
    }
}

// --- Publish -----------------------------------------------------------------

#[test]
fn publish_rejects_bad_lengths() {
    let body = sample_publish();
    assert_eq!(body.len(), 24);
    assert!(Request::decode(label::PUBLISH, &body).is_ok());
    // No room for the descriptor.
    assert_eq!(req_err(label::PUBLISH, &[]), DecodeError::BadLength { expected: 16, actual: 0 });
    assert_eq!(req_err(label::PUBLISH, &body[..8]), DecodeError::BadLength { expected: 16, actual: 8 });
    // Descriptor but no payload word.
    assert_eq!(req_err(label::PUBLISH, &body[..16]), DecodeError::BadLength { expected: 24, actual: 16 });
    // Not whole words.
    assert!(matches!(req_err(label::PUBLISH, &body[..23]), DecodeError::BadLength { actual: 23, .. }));
    // A trailing word.
    let mut long = body.clone();
    long.extend([0; 8]);
    assert_eq!(req_err(label::PUBLISH, &long), DecodeError::BadLength { expected: 24, actual: 32 });
    // payload_len disagrees with the body: too long for it, and too short.
    let mut b = body.clone();
    put_u16(&mut b, 4, 9);
    assert_eq!(req_err(label::PUBLISH, &b), DecodeError::BadLength { expected: 32, actual: 24 });
    put_u16(&mut b, 4, 0);
    b[16..24].fill(0);
    assert_eq!(req_err(label::PUBLISH, &b), DecodeError::BadLength { expected: 16, actual: 24 });
}

#[test]
fn publish_rejects_reserved_and_padding() {
    let body = sample_publish();
    for at in [6, 7] {
        let mut b = body.clone();
        b[at] = 1;
        assert_eq!(req_err(label::PUBLISH, &b), DecodeError::ReservedNonZero, "reserved byte {at}");
    }
    for at in 21..24 {
        let mut b = body.clone();
        b[at] = 0x80;
        assert_eq!(req_err(label::PUBLISH, &b), DecodeError::ReservedNonZero, "padding byte {at}");
    }
}

#[test]
fn publish_rejects_bad_category_kind_priority() {
    let body = sample_publish();
    for cat in [0u8, 7, 255] {
        let mut b = body.clone();
        b[0] = cat;
        assert_eq!(req_err(label::PUBLISH, &b), DecodeError::BadCategory(cat));
    }
    for category in Category::PUBLISHABLE {
        for kind in [category.kind_count(), 63, 255] {
            let mut b = body.clone();
            b[0] = category as u8;
            b[1] = kind;
            assert_eq!(req_err(label::PUBLISH, &b), DecodeError::BadKind { category: category as u8, kind });
        }
    }
    for p in [2u8, 255] {
        let mut b = body.clone();
        b[3] = p;
        assert_eq!(req_err(label::PUBLISH, &b), DecodeError::BadPriority(p));
    }
}

#[test]
fn publish_payload_limit() {
    // Exactly MAX_PAYLOAD is accepted...
    let max = vec![0x5Au8; MAX_PAYLOAD];
    let e = Event {
        category: Category::Device,
        kind: 0,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 1,
        payload: &max,
    };
    let body = check_request_round_trip(&Request::Publish(e)).unwrap();
    assert_eq!(body.len(), DESC + MAX_PAYLOAD);
    // ...one more is refused by the encoder...
    let over = vec![0u8; MAX_PAYLOAD + 1];
    let mut buf = [0u8; MAX_MSG_BYTES];
    assert_eq!(
        Request::Publish(Event { payload: &over, ..e }).encode(&mut buf),
        Err(EncodeError::Invalid(DecodeError::PayloadTooLong(MAX_PAYLOAD + 1)))
    );
    // ...and by the decoder, even when the body is long enough to hold it.
    let mut b = vec![0u8; DESC + (MAX_PAYLOAD + 1).next_multiple_of(8)];
    b[..DESC].copy_from_slice(&body[..DESC]);
    put_u16(&mut b, 4, (MAX_PAYLOAD + 1) as u16);
    assert_eq!(req_err(label::PUBLISH, &b), DecodeError::PayloadTooLong(MAX_PAYLOAD + 1));
    put_u16(&mut b, 4, u16::MAX);
    assert_eq!(req_err(label::PUBLISH, &b), DecodeError::PayloadTooLong(usize::from(u16::MAX)));
}

/// The encoder refuses events the decoder would refuse, with the same error.
#[test]
fn publish_encoder_refuses_invalid_events() {
    let mut buf = [0u8; MAX_MSG_BYTES];
    let ok = Event {
        category: Category::Vfs,
        kind: 0,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 0,
        payload: &[],
    };
    let meta = Event { category: Category::Meta, ..ok };
    assert_eq!(encode_event(&meta, &mut buf), Err(EncodeError::Invalid(DecodeError::BadCategory(0))));
    let bad_kind = Event { kind: vfs::COUNT, ..ok };
    assert_eq!(
        Request::Publish(bad_kind).encode(&mut buf),
        Err(EncodeError::Invalid(DecodeError::BadKind { category: 1, kind: vfs::COUNT }))
    );
    assert_eq!(encode_event(&ok, &mut buf[..15]), Err(EncodeError::NoSpace));
    assert_eq!(encode_event(&ok, &mut buf[..16]), Ok(16));
}

// --- PublishBatch --------------------------------------------------------------

#[test]
fn batch_rejects_bad_counts() {
    let body = sample_batch();
    assert_eq!(body.len(), 48);
    assert!(Request::decode(label::PUBLISH_BATCH, &body).is_ok());
    for count in [0u16, MAX_BATCH as u16 + 1, u16::MAX] {
        let mut b = body.clone();
        put_u16(&mut b, 0, count);
        assert_eq!(req_err(label::PUBLISH_BATCH, &b), DecodeError::BadCount(count));
    }
    // A count of zero is refused even with no events after the head.
    assert_eq!(req_err(label::PUBLISH_BATCH, &[0; 8]), DecodeError::BadCount(0));
    // More events announced than present.
    let mut b = body.clone();
    put_u16(&mut b, 0, 3);
    assert!(matches!(req_err(label::PUBLISH_BATCH, &b), DecodeError::BadLength { .. }));
    // Fewer events announced than present: the rest is trailing garbage.
    put_u16(&mut b, 0, 1);
    assert_eq!(req_err(label::PUBLISH_BATCH, &b), DecodeError::BadLength { expected: 32, actual: 48 });
}

#[test]
fn batch_rejects_trailing_garbage_and_bad_lengths() {
    let body = sample_batch();
    for filler in [0u8, 0xEE] {
        let mut b = body.clone();
        b.extend([filler; 8]);
        assert_eq!(req_err(label::PUBLISH_BATCH, &b), DecodeError::BadLength { expected: 48, actual: 56 });
    }
    assert_eq!(req_err(label::PUBLISH_BATCH, &[]), DecodeError::BadLength { expected: 8, actual: 0 });
    assert!(matches!(req_err(label::PUBLISH_BATCH, &body[..47]), DecodeError::BadLength { actual: 47, .. }));
    assert!(matches!(req_err(label::PUBLISH_BATCH, &body[..4]), DecodeError::BadLength { actual: 4, .. }));
    // Cut inside the last event.
    assert!(matches!(req_err(label::PUBLISH_BATCH, &body[..40]), DecodeError::BadLength { .. }));
}

#[test]
fn batch_rejects_reserved_head_bytes() {
    let body = sample_batch();
    for at in 2..8 {
        let mut b = body.clone();
        b[at] = 1;
        assert_eq!(req_err(label::PUBLISH_BATCH, &b), DecodeError::ReservedNonZero, "head byte {at}");
    }
}

/// Every event in a batch is checked, not just the first.
#[test]
fn batch_rejects_a_bad_event_anywhere() {
    let body = sample_batch();
    // Second event starts at 32.
    let cases: [(usize, u8, DecodeError); 6] = [
        (32, 0, DecodeError::BadCategory(0)),
        (32, 7, DecodeError::BadCategory(7)),
        (33, 3, DecodeError::BadKind { category: Category::System as u8, kind: 3 }),
        (35, 2, DecodeError::BadPriority(2)),
        (38, 1, DecodeError::ReservedNonZero),
        // Padding after the first event's five payload bytes.
        (29, 1, DecodeError::ReservedNonZero),
    ];
    for (at, value, want) in cases {
        let mut b = body.clone();
        b[at] = value;
        assert_eq!(req_err(label::PUBLISH_BATCH, &b), want, "byte {at} = {value}");
    }
    let mut b = body.clone();
    put_u16(&mut b, 36, (MAX_PAYLOAD + 1) as u16);
    assert_eq!(req_err(label::PUBLISH_BATCH, &b), DecodeError::PayloadTooLong(MAX_PAYLOAD + 1));
}

// --- ClientGone / DestroyQueue / CreateQueue ------------------------------------

#[test]
fn client_gone_rejects_wrong_lengths() {
    assert_eq!(req_err(label::CLIENT_GONE, &[0; 16]), DecodeError::BadLength { expected: 8, actual: 16 });
    assert_eq!(req_err(label::CLIENT_GONE, &[]), DecodeError::BadLength { expected: 8, actual: 0 });
    // Every badge is valid: there is no reserved field.
    assert_eq!(Request::decode(label::CLIENT_GONE, &[0xFF; 8]), Ok(Request::ClientGone { client: u64::MAX }));
}

#[test]
fn destroy_queue_rejects_reserved() {
    for at in 4..8 {
        let mut b = sample_fixed(label::DESTROY_QUEUE);
        b[at] = 1;
        assert_eq!(req_err(label::DESTROY_QUEUE, &b), DecodeError::ReservedNonZero, "byte {at}");
    }
}

#[test]
fn ring_frames_reply_rejects_counts_outside_one_reply() {
    for count in [0, FRAMES_PER_REPLY + 1, u32::MAX] {
        let (l, mut body) = encode_reply(&Reply::RingFrames { first: 3, count: 1 });
        body[4..8].copy_from_slice(&count.to_le_bytes());
        assert!(matches!(reply_err(label::RING_FRAMES, l, &body), DecodeError::BadCount(_)), "count {count} accepted");
    }
}

#[test]
fn create_queue_rejects_bad_pages_and_flags() {
    let body = sample_fixed(label::CREATE_QUEUE);
    for pages in [0u32, 3, 5, 6, 7, 48, 65, 96, 128, 256, u32::MAX] {
        let mut b = body.clone();
        put_u32(&mut b, 0, pages);
        assert_eq!(req_err(label::CREATE_QUEUE, &b), DecodeError::BadPageCount(pages));
    }
    for flags in [1u32, 0x100, 0x8000_0000] {
        let mut b = body.clone();
        put_u32(&mut b, 4, flags);
        assert_eq!(req_err(label::CREATE_QUEUE, &b), DecodeError::BadFlags(flags));
    }
    // Every valid size decodes to its own geometry.
    for pages in [1u32, 2, 4, 8, 16, 32, 64] {
        let mut b = body.clone();
        put_u32(&mut b, 0, pages);
        let Ok(Request::CreateQueue { geometry }) = Request::decode(label::CREATE_QUEUE, &b) else { panic!("{pages}") };
        assert_eq!(geometry.data_pages(), pages);
    }
}

// --- Subscribe ------------------------------------------------------------------

#[test]
fn subscribe_rejects_reserved() {
    for at in [7, 36, 37, 38, 39] {
        let mut b = sample_subscribe();
        b[at] = 1;
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::ReservedNonZero, "byte {at}");
    }
}

#[test]
fn subscribe_rejects_bad_category_and_priority() {
    for cat in [0u8, 7, 200] {
        let mut b = sample_subscribe();
        b[4] = cat;
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadCategory(cat));
    }
    for p in [2u8, 0xFF] {
        let mut b = sample_subscribe();
        b[5] = p;
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadPriority(p));
    }
}

#[test]
fn subscribe_rejects_unknown_flags() {
    for flags in [1u8 << 3, 1 << 7, 0xFF, subscribe_flags::ALL | 0x10] {
        let mut b = sample_subscribe();
        b[6] = flags;
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadFlags(u32::from(flags)));
    }
}

/// `PARENT` makes `object_id` a directory: with `OBJECT` it would mean two
/// things at once, and outside the VFS category no payload has a parent.
#[test]
fn subscribe_refuses_object_with_parent_and_parent_outside_vfs() {
    let both = subscribe_flags::OBJECT | subscribe_flags::PARENT;
    let mut b = sample_subscribe();
    b[6] = both;
    assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadFlags(u32::from(both)));
    let mut b = sample_subscribe();
    b[6] = subscribe_flags::PARENT;
    b[4] = Category::Process as u8;
    put_u64(&mut b, 8, 1);
    assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadFlags(u32::from(subscribe_flags::PARENT)));
    let parent = Filter { object_id: None, parent_id: Some(0x55), ..sample_filter() };
    let mut out = [0u8; 64];
    let both_set = Filter { object_id: Some(1), ..parent };
    assert_eq!(
        Request::Subscribe { queue: 7, filter: both_set }.encode(&mut out),
        Err(EncodeError::Invalid(DecodeError::BadFlags(u32::from(both | subscribe_flags::SOURCE))))
    );
    let n = Request::Subscribe { queue: 7, filter: parent }.encode(&mut out).unwrap().1;
    assert_eq!(
        (out[6], &out[16..24]),
        (subscribe_flags::PARENT | subscribe_flags::SOURCE, &[0x55, 0, 0, 0, 0, 0, 0, 0][..])
    );
    assert_eq!(Request::decode(label::SUBSCRIBE, &out[..n]), Ok(Request::Subscribe { queue: 7, filter: parent }));
    assert!(DecodeError::BadFlags(5).to_string().contains("OBJECT with PARENT"));
}

#[test]
fn subscribe_rejects_bad_type_masks() {
    let mut b = sample_subscribe();
    put_u64(&mut b, 8, 0);
    assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadTypeMask(0));
    for category in Category::PUBLISHABLE {
        let defined = (1u64 << category.kind_count()) - 1;
        let mut b = sample_subscribe();
        b[4] = category as u8;
        // The full defined mask is fine...
        put_u64(&mut b, 8, defined);
        assert!(Request::decode(label::SUBSCRIBE, &b).is_ok(), "{category:?}");
        // ...one bit past it, or the top bit, is not.
        for mask in [1 << category.kind_count(), defined | 1 << 63, u64::MAX] {
            put_u64(&mut b, 8, mask);
            assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadTypeMask(mask), "{category:?} {mask:#x}");
        }
    }
}

#[test]
fn subscribe_rejects_filter_outside_mask() {
    for (filter, mask) in [(0x0031_0000u32, 0x00F0_0000u32), (0x0001_0000, 0), (0x00FF_0000, 0x00FE_0000)] {
        let mut b = sample_subscribe();
        put_u32(&mut b, 28, filter);
        put_u32(&mut b, 32, mask);
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::FilterOutsideMask, "{filter:#x}/{mask:#x}");
    }
}

/// Only the type-specific flags (info bits 16..=23) can be filtered on: the
/// rest of the info word is the server's (length, watch id, entry flags).
#[test]
fn subscribe_rejects_an_info_mask_outside_the_type_flags() {
    for mask in [0x0000_00F0u32, 0x0100_0000, 0xFFFF_FFFF, 0x0000_FF00] {
        let mut b = sample_subscribe();
        put_u32(&mut b, 28, 0);
        put_u32(&mut b, 32, mask);
        assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::BadInfoMask(mask), "{mask:#x}");
    }
}

/// An id without its flag must be zero; with the flag zero, the id is absent.
#[test]
fn subscribe_rejects_ids_without_their_flag() {
    let mut b = sample_subscribe();
    b[6] = subscribe_flags::SOURCE; // object id 0x55 without OBJECT
    assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::ReservedNonZero);
    put_u64(&mut b, 16, 0);
    let Ok(Request::Subscribe { filter, .. }) = Request::decode(label::SUBSCRIBE, &b) else { panic!() };
    assert_eq!((filter.object_id, filter.source_id), (None, Some(9)));

    let mut b = sample_subscribe();
    b[6] = subscribe_flags::OBJECT; // source id 9 without SOURCE
    assert_eq!(req_err(label::SUBSCRIBE, &b), DecodeError::ReservedNonZero);
    put_u32(&mut b, 24, 0);
    let Ok(Request::Subscribe { filter, .. }) = Request::decode(label::SUBSCRIBE, &b) else { panic!() };
    assert_eq!((filter.object_id, filter.source_id), (Some(0x55), None));
}

// --- Unsubscribe / SetPriority / SetCoalescing -------------------------------------

#[test]
fn unsubscribe_rejects_subscription_over_255() {
    for id in [256u32, 0x1_00FF, u32::MAX] {
        let mut b = sample_fixed(label::UNSUBSCRIBE);
        put_u32(&mut b, 4, id);
        assert_eq!(req_err(label::UNSUBSCRIBE, &b), DecodeError::BadFlags(id));
    }
}

#[test]
fn set_priority_rejects_bad_fields() {
    let body = sample_fixed(label::SET_PRIORITY);
    let mut b = body.clone();
    put_u32(&mut b, 4, 256);
    assert_eq!(req_err(label::SET_PRIORITY, &b), DecodeError::BadFlags(256));
    let mut b = body.clone();
    b[8] = 2;
    assert_eq!(req_err(label::SET_PRIORITY, &b), DecodeError::BadPriority(2));
    for at in 9..16 {
        let mut b = body.clone();
        b[at] = 1;
        assert_eq!(req_err(label::SET_PRIORITY, &b), DecodeError::ReservedNonZero, "byte {at}");
    }
}

#[test]
fn set_coalescing_rejects_reserved() {
    for at in 4..8 {
        let mut b = sample_fixed(label::SET_COALESCING);
        b[at] = 1;
        assert_eq!(req_err(label::SET_COALESCING, &b), DecodeError::ReservedNonZero, "byte {at}");
    }
}

// --- Wait / Stats ------------------------------------------------------------------

#[test]
fn wait_rejects_zero_min_events() {
    let mut b = sample_fixed(label::WAIT);
    put_u32(&mut b, 4, 0);
    assert_eq!(req_err(label::WAIT, &b), DecodeError::BadCount(0));
}

#[test]
fn stats_rejects_unknown_target_and_server_id() {
    for target in [3u32, 4, 0x100, u32::MAX] {
        let mut b = sample_fixed(label::STATS);
        put_u32(&mut b, 0, target);
        assert_eq!(req_err(label::STATS, &b), DecodeError::BadStatsTarget(target));
    }
    for id in [1u32, u32::MAX] {
        let mut b = sample_fixed(label::STATS);
        put_u32(&mut b, 0, 2);
        put_u32(&mut b, 4, id);
        assert_eq!(req_err(label::STATS, &b), DecodeError::ReservedNonZero);
    }
}

// --- Replies -----------------------------------------------------------------------

#[test]
fn reply_rejects_unknown_labels() {
    let body = encode_reply(&Reply::Published { accepted: 1 }).1;
    for reply_label in [2u32, 0x0101, u32::MAX] {
        assert_eq!(reply_err(label::PUBLISH, reply_label, &body), DecodeError::UnknownLabel(reply_label));
    }
    // An OK reply to a request label that does not exist.
    for request in [0u32, 1, 0x020A, u32::MAX] {
        assert_eq!(reply_err(request, label::OK, &body), DecodeError::UnknownLabel(request));
        assert_eq!(reply_err(request, label::OK, &[]), DecodeError::UnknownLabel(request));
    }
}

#[test]
fn error_reply_rejects_unknown_codes_and_lengths() {
    for code in [0u32, 12, 0x100, u32::MAX] {
        let mut b = vec![0u8; 8];
        put_u32(&mut b, 0, code);
        assert_eq!(reply_err(label::WAIT, label::ERROR, &b), DecodeError::BadErrorCode(code));
    }
    let ok = encode_reply(&Reply::Error { code: ErrorCode::Busy, detail: 3 }).1;
    assert_eq!(reply_err(label::PUBLISH, label::ERROR, &[]), DecodeError::BadLength { expected: 8, actual: 0 });
    let mut long = ok.clone();
    long.extend([0; 8]);
    assert_eq!(reply_err(label::PUBLISH, label::ERROR, &long), DecodeError::BadLength { expected: 8, actual: 16 });
    assert!(matches!(reply_err(label::PUBLISH, label::ERROR, &ok[..7]), DecodeError::BadLength { actual: 7, .. }));
}

/// Each OK reply refuses a body of the wrong length.
#[test]
fn ok_replies_reject_wrong_lengths() {
    let cases = [
        (label::PUBLISH, 8),
        (label::PUBLISH_BATCH, 8),
        (label::CREATE_QUEUE, 16),
        (label::SUBSCRIBE, 8),
        (label::WAIT, 8),
        (label::STATS, 64),
        (label::CLIENT_GONE, 0),
        (label::DESTROY_QUEUE, 0),
        (label::UNSUBSCRIBE, 0),
        (label::SET_PRIORITY, 0),
        (label::SET_COALESCING, 0),
    ];
    let zeros = [0u8; 80];
    for (request, len) in cases {
        assert!(Reply::decode(request, label::OK, &zeros[..len]).is_ok(), "{request:#x}");
        assert_eq!(
            reply_err(request, label::OK, &zeros[..len + 8]),
            DecodeError::BadLength { expected: len, actual: len + 8 },
            "{request:#x}"
        );
        if len > 0 {
            assert_eq!(
                reply_err(request, label::OK, &zeros[..len - 8]),
                DecodeError::BadLength { expected: len, actual: len - 8 },
                "{request:#x}"
            );
        }
        assert!(
            matches!(
                reply_err(request, label::OK, &zeros[..len + 1]),
                DecodeError::BadLength { actual, .. } if actual == len + 1
            ),
            "{request:#x}"
        );
    }
}

#[test]
fn replies_reject_reserved_and_bad_fields() {
    // Published: reserved word.
    let mut b = encode_reply(&Reply::Published { accepted: 5 }).1;
    b[7] = 1;
    assert_eq!(reply_err(label::PUBLISH_BATCH, label::OK, &b), DecodeError::ReservedNonZero);
    // Subscribed: reserved word, and an id over 255.
    let mut b = encode_reply(&Reply::Subscribed { subscription: 3 }).1;
    b[4] = 1;
    assert_eq!(reply_err(label::SUBSCRIBE, label::OK, &b), DecodeError::ReservedNonZero);
    let mut b = encode_reply(&Reply::Subscribed { subscription: 3 }).1;
    put_u32(&mut b, 0, 256);
    assert_eq!(reply_err(label::SUBSCRIBE, label::OK, &b), DecodeError::BadFlags(256));
    // Wait: armed is 0 or 1.
    for armed in [2u32, u32::MAX] {
        let mut b = encode_reply(&Reply::Wait { armed: true, unread_slots: 0 }).1;
        put_u32(&mut b, 0, armed);
        assert_eq!(reply_err(label::WAIT, label::OK, &b), DecodeError::BadFlags(armed));
    }
}

#[test]
fn replies_reject_an_oversized_body() {
    let big = [0u8; MAX_MSG_BYTES + 8];
    for request in REQUEST_LABELS {
        for reply_label in [label::OK, label::ERROR, 7] {
            assert!(
                matches!(
                    reply_err(request, reply_label, &big),
                    DecodeError::BadLength { actual, .. } if actual == MAX_MSG_BYTES + 8
                ),
                "{request:#x}/{reply_label}"
            );
        }
    }
}

// ===========================================================================
// 5. Decoders never panic; what they accept re-encodes canonically
// ===========================================================================

/// Checks one request decode: no panic, and an accepted body is canonical:
/// re-encoding the decoded value gives back the same label and bytes.
fn check_request_decode(l: u32, body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(req) = Request::decode(l, body) {
        prop_assert_eq!(req.label(), l);
        if let Request::PublishBatch(batch) = req {
            prop_assert!(!batch.is_empty() && batch.len() <= MAX_BATCH);
            prop_assert_eq!(batch.iter().count(), batch.len());
        }
        let (l2, again) = encode(&req);
        prop_assert_eq!(l2, l);
        prop_assert_eq!(again, body);
    }
    Ok(())
}

/// As `check_request_decode`, for replies.
fn check_reply_decode(request: u32, reply_label: u32, body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(reply) = Reply::decode(request, reply_label, body) {
        let (l2, again) = encode_reply(&reply);
        prop_assert_eq!(l2, reply_label);
        prop_assert_eq!(again, body);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn request_decode_never_panics(l in any_request_label(), body in any_body()) {
        check_request_decode(l, &body)?;
    }

    /// Arbitrary bytes rarely get past the first check, so also corrupt
    /// valid bodies (one byte, one bit, truncation or extension).
    #[test]
    fn request_decode_never_panics_on_corrupted_valid_bodies(
        (l, body) in valid_request_body(),
        other_label in any_request_label(),
        use_other in prop::bool::weighted(0.1),
        at in any::<Index>(),
        value in any::<u8>(),
        how in any::<u8>(),
    ) {
        let l = if use_other { other_label } else { l };
        check_request_decode(l, &mutate(body, at, value, how))?;
    }

    #[test]
    fn reply_decode_never_panics(request in any_request_label(), reply_label in any_reply_label(), body in any_body()) {
        check_reply_decode(request, reply_label, &body)?;
    }

    #[test]
    fn reply_decode_never_panics_on_corrupted_valid_bodies(
        (request, reply) in reply_with_request_label(),
        other_request in any_request_label(),
        use_other in prop::bool::weighted(0.1),
        at in any::<Index>(),
        value in any::<u8>(),
        how in any::<u8>(),
    ) {
        let (reply_label, body) = encode_reply(&reply);
        let request = if use_other { other_request } else { request };
        check_reply_decode(request, reply_label, &mutate(body, at, value, how))?;
    }
}

// ===========================================================================
// 6. BatchBuilder
// ===========================================================================

fn empty_event(object_id: u64) -> OwnedEvent {
    OwnedEvent {
        category: Category::Memory,
        kind: 1,
        type_flags: 1,
        priority: Priority::Critical,
        object_id,
        payload: Vec::new(),
    }
}

/// Decodes a batch body and checks it holds exactly `want`.
fn assert_batch_holds(body: &[u8], want: &[OwnedEvent]) {
    let Ok(Request::PublishBatch(batch)) = Request::decode(label::PUBLISH_BATCH, body) else {
        panic!("batch does not decode: {:?}", Request::decode(label::PUBLISH_BATCH, body));
    };
    assert_eq!(batch.len(), want.len());
    let want: Vec<Event<'_>> = want.iter().map(OwnedEvent::event).collect();
    assert_eq!(batch.iter().collect::<Vec<_>>(), want);
}

/// MAX_BATCH events fit (so the limit is reachable), and one more does not.
#[test]
fn batch_builder_stops_at_max_batch() {
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let mut b = BatchBuilder::new(&mut buf).unwrap();
    let events: Vec<OwnedEvent> = (0..MAX_BATCH as u64).map(empty_event).collect();
    for e in &events {
        b.push(&e.event()).unwrap();
    }
    assert_eq!(b.count(), MAX_BATCH);
    assert_eq!(b.push(&empty_event(99).event()), Err(EncodeError::NoSpace));
    assert_eq!(b.count(), MAX_BATCH);
    let n = b.finish();
    assert_eq!(n, HEAD + MAX_BATCH * DESC);
    assert!(n <= MAX_MSG_BYTES);
    assert_batch_holds(&buf[..n], &events);
}

/// An event that would overflow MAX_MSG_BYTES is refused; the batch keeps its
/// events and still takes an event that fits, up to exactly MAX_MSG_BYTES.
#[test]
fn batch_builder_stops_at_max_msg_bytes() {
    let big = |fill: u8, len: usize| OwnedEvent { payload: vec![fill; len], ..empty_event(u64::from(fill)) };
    let first = big(1, MAX_PAYLOAD);
    let mut buf = [0xA5u8; MAX_MSG_BYTES];
    let mut b = BatchBuilder::new(&mut buf).unwrap();
    b.push(&first.event()).unwrap();
    // 8 + 480 + 480 = 968 > 960.
    assert_eq!(b.push(&big(2, MAX_PAYLOAD).event()), Err(EncodeError::NoSpace));
    assert_eq!(b.count(), 1);
    // 8 + 480 + (16 + 456) = 960 exactly.
    let last = big(3, MAX_MSG_BYTES - HEAD - event_size(MAX_PAYLOAD) - DESC);
    b.push(&last.event()).unwrap();
    // Full: not even an empty event fits now.
    assert_eq!(b.push(&empty_event(4).event()), Err(EncodeError::NoSpace));
    assert_eq!(b.count(), 2);
    let n = b.finish();
    assert_eq!(n, MAX_MSG_BYTES);
    assert_batch_holds(&buf[..n], &[first, last]);
}

/// Invalid events are refused with the reason, leaving the batch unchanged.
#[test]
fn batch_builder_refuses_invalid_events_unchanged() {
    let good = empty_event(1);
    let mut buf = [0u8; MAX_MSG_BYTES];
    let mut b = BatchBuilder::new(&mut buf).unwrap();
    b.push(&good.event()).unwrap();
    let meta = OwnedEvent { category: Category::Meta, kind: 0, ..good.clone() };
    assert_eq!(b.push(&meta.event()), Err(EncodeError::Invalid(DecodeError::BadCategory(0))));
    let kind = OwnedEvent { kind: 3, ..good.clone() };
    assert_eq!(
        b.push(&kind.event()),
        Err(EncodeError::Invalid(DecodeError::BadKind { category: Category::Memory as u8, kind: 3 }))
    );
    let long = OwnedEvent { payload: vec![0; MAX_PAYLOAD + 1], ..good.clone() };
    assert_eq!(b.push(&long.event()), Err(EncodeError::Invalid(DecodeError::PayloadTooLong(MAX_PAYLOAD + 1))));
    assert_eq!(b.count(), 1);
    let n = b.finish();
    assert_eq!(n, HEAD + DESC);
    assert_batch_holds(&buf[..n], &[good]);
}

/// The builder needs room for its head, never writes past MAX_MSG_BYTES of a
/// bigger buffer, and an empty batch does not decode.
#[test]
fn batch_builder_buffer_limits() {
    assert_eq!(BatchBuilder::new(&mut [0u8; 7]).err(), Some(EncodeError::NoSpace));
    let mut small = [0u8; 8];
    let mut b = BatchBuilder::new(&mut small).unwrap();
    assert_eq!(b.push(&empty_event(1).event()), Err(EncodeError::NoSpace));
    assert_eq!(b.finish(), HEAD);
    assert_eq!(req_err(label::PUBLISH_BATCH, &small), DecodeError::BadCount(0));

    let mut huge = [0xA5u8; 2 * MAX_MSG_BYTES];
    let mut b = BatchBuilder::new(&mut huge).unwrap();
    let big = OwnedEvent { payload: vec![7; MAX_PAYLOAD], ..empty_event(1) };
    b.push(&big.event()).unwrap();
    assert_eq!(b.push(&big.event()), Err(EncodeError::NoSpace));
    let n = b.finish();
    assert_eq!(n, HEAD + event_size(MAX_PAYLOAD));
    assert!(huge[MAX_MSG_BYTES..].iter().all(|&x| x == 0xA5), "wrote past MAX_MSG_BYTES");
    assert_batch_holds(&huge[..n], &[big]);
}

proptest! {
    /// Against a model: the builder accepts an event exactly when it fits
    /// (count below MAX_BATCH and size within MAX_MSG_BYTES); a refusal is
    /// NoSpace and changes nothing; the result holds the accepted events.
    #[test]
    fn batch_builder_accepts_exactly_what_fits(events in vec(owned_event(), 1..=MAX_BATCH + 8)) {
        let mut buf = [0xA5u8; MAX_MSG_BYTES];
        let mut b = BatchBuilder::new(&mut buf).unwrap();
        let mut accepted = Vec::new();
        let mut len = HEAD;
        for e in &events {
            let size = event_size(e.payload.len());
            let fits = accepted.len() < MAX_BATCH && len + size <= MAX_MSG_BYTES;
            let before = b.count();
            match b.push(&e.event()) {
                Ok(()) => {
                    prop_assert!(fits, "accepted an event that does not fit");
                    accepted.push(e.clone());
                    len += size;
                }
                Err(err) => {
                    prop_assert!(!fits, "refused an event that fits: {:?}", err);
                    prop_assert_eq!(err, EncodeError::NoSpace);
                    prop_assert_eq!(b.count(), before);
                }
            }
            prop_assert_eq!(b.count(), accepted.len());
        }
        let n = b.finish();
        prop_assert_eq!(n, len);
        assert_batch_holds(&buf[..n], &accepted);
    }
}

/// An unknown label is reported as such whatever its body, so a peer speaking
/// another protocol learns that first.
#[test]
fn an_unknown_label_is_reported_before_the_body_is_looked_at() {
    for n in [0, 3, 8, MAX_MSG_BYTES + 1] {
        assert_eq!(req_err(0x9999, &vec![0xAB; n]), DecodeError::UnknownLabel(0x9999), "{n} bytes");
    }
}

#[test]
fn decode_errors_and_codes_are_told_in_words() {
    assert_eq!(DecodeError::PayloadTooLong(500).to_string(), "a payload of 500 bytes is longer than the 464 allowed");
    assert_eq!(DecodeError::BadKind { category: 3, kind: 9 }.to_string(), "kind 9 is not defined in category 3");
    assert_eq!(
        DecodeError::BadLength { expected: 16, actual: 12 }.to_string(),
        "the body is 12 bytes where 16 are needed"
    );
    assert_eq!(DecodeError::BadCount(0).to_string(), format!("a count of 0 is outside 1..={MAX_BATCH}"));
    assert_eq!(ErrorCode::NotPermitted.to_string(), "NotPermitted");
    assert_eq!(EncodeError::NoSpace.to_string(), format!("the message does not fit in {MAX_MSG_BYTES} bytes"));
    assert_eq!(
        EncodeError::Invalid(DecodeError::BadPriority(7)).to_string(),
        "priority 7 is not 0 (normal) or 1 (critical)"
    );
}
