//! The C functions called as C calls them, over rings a producer writes in
//! this process: every return code `docs/c-api.md` gives, corrupted
//! indices and truncated payloads included.

use std::ffi::CStr;
use std::ptr;

use ::evq_ring::{EntryKind, Producer};
use evq::error::*;
use evq::event::*;
use evq::request::*;
use evq::ring::*;
use evq_abi::event::{
    encode_dentry, encode_mount, encode_rename, vfs, Category, EventRecord, FaultPayload, Rename, StatePayload,
};
use evq_abi::msg::{label, Counters, ErrorCode, Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::ring::{control, make_info, RingGeometry};
use evq_testkit::IngestRegion;
use zerocopy::IntoBytes;

/// A one-page ring on the heap, its producer, and the C library's view.
struct Ring {
    mem: IngestRegion,
    producer: Producer,
    ring: evq_ring,
}

impl Ring {
    fn new() -> Ring {
        let mut mem = IngestRegion::new(RingGeometry::new(1).unwrap());
        let producer = mem.producer();
        let (base, len) = mem.region();
        let mut ring = evq_ring::default();
        // SAFETY: the heap region lives as long as `Ring`, touched only by
        // the ring's atomics (and the tests' deliberate corruptions).
        // SAFETY: the test's own ring, buffers and out-values, alive for the call.
        assert_eq!(unsafe { evq_ring_init(&mut ring, base.as_ptr().cast(), len) }, EVQ_OK);
        Ring { mem, producer, ring }
    }

    /// Pushes a VFS event of `kind` with `payload`.
    fn push(&mut self, kind: u8, flags: u8, object: u64, payload: &[u8]) {
        let record = EventRecord {
            seq: 7.into(),
            timestamp_ns: 99.into(),
            object_id: object.into(),
            source_id: 3.into(),
            coalesced: 0.into(),
            payload_len: (payload.len() as u16).into(),
        };
        let mut body = record.as_bytes().to_vec();
        body.extend_from_slice(payload);
        let kind = EntryKind { ty: Category::Vfs as u32, subtype: kind, info: make_info(0, 4, flags, 0) };
        self.producer.push(kind, &body, false).expect("room");
    }

    fn next(&self) -> (i32, evq_entry) {
        let mut e = blank_entry();
        // SAFETY: `self.ring` was initialised over memory `self` keeps.
        let r = unsafe { evq_ring_next(&self.ring, &mut e) };
        (r, e)
    }

    fn set_word32(&mut self, offset: usize, value: u32) {
        let w = self.mem.word_mut(offset & !7);
        let shift = (offset % 8) * 8;
        *w = (*w & !(0xFFFF_FFFFu64 << shift)) | (u64::from(value) << shift);
    }

    fn word32(&mut self, offset: usize) -> u32 {
        (*self.mem.word_mut(offset & !7) >> ((offset % 8) * 8)) as u32
    }
}

fn blank_entry() -> evq_entry {
    evq_entry { kind: -99, slots: 0, lost: 0, header: 0, body_len: 0, reserved: 0, body: [0; EVQ_ENTRY_BODY_MAX] }
}

fn decode(e: &evq_entry) -> (i32, evq_event) {
    let mut ev = evq_event {
        category: 0,
        kind: 0,
        type_flags: 0,
        watch_id: 0,
        critical: 0,
        coalesced: 0,
        seq: 0,
        timestamp_ns: 0,
        object_id: 0,
        source_id: 0,
        payload_len: 0,
        payload: ptr::null(),
    };
    // SAFETY: both are this test's own values.
    let r = unsafe { evq_event_decode(e, &mut ev) };
    (r, ev)
}

/// The bytes a decoder's pointer and length name.
fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    // SAFETY: the decoders hand out names inside the payload the test keeps.
    unsafe { std::slice::from_raw_parts(p, len) }
}

fn dentry(payload: &[u8]) -> Result<(u64, Vec<u8>), i32> {
    let mut d = evq_dentry { parent: 0, name: ptr::null(), name_len: 0 };
    // SAFETY: the payload is this test's slice.
    match unsafe { evq_decode_dentry(payload.as_ptr(), payload.len(), &mut d) } {
        EVQ_OK => Ok((d.parent, bytes(d.name, d.name_len).to_vec())),
        e => Err(e),
    }
}

#[test]
fn init_refuses_memory_that_is_not_a_ring_of_this_abi() {
    let mut r = Ring::new();
    let (base, len) = r.mem.region();
    let mut ring = evq_ring::default();
    // SAFETY: the region is the test's; the ring is ours.
    unsafe {
        assert_eq!(evq_ring_init(ptr::null_mut(), base.as_ptr().cast(), len), EVQ_ERR_INVAL);
        assert_eq!(evq_ring_init(&mut ring, ptr::null_mut(), len), EVQ_ERR_INVAL);
        assert_eq!(evq_ring_init(&mut ring, base.as_ptr().add(1).cast(), len - 8), EVQ_ERR_BAD_REGION);
        assert_eq!(evq_ring_init(&mut ring, base.as_ptr().cast(), 4095), EVQ_ERR_BAD_REGION);
        // A control page that claims more slots than the memory holds.
        assert_eq!(evq_ring_init(&mut ring, base.as_ptr().cast(), 4096), EVQ_ERR_BAD_RING);
    }
    r.set_word32(control::VERSION, 9);
    // SAFETY: as above.
    assert_eq!(unsafe { evq_ring_init(&mut ring, base.as_ptr().cast(), len) }, EVQ_ERR_BAD_RING);
    r.set_word32(control::MAGIC, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { evq_ring_init(&mut ring, base.as_ptr().cast(), len) }, EVQ_ERR_BAD_RING);
    // A ring that no longer checks out fails every call.
    assert_eq!(r.next().0, EVQ_ERR_BAD_RING);
    // SAFETY: `ring` is untouched since it was refused: still no ring.
    assert_eq!(unsafe { evq_ring_next(&ring, &mut blank_entry()) }, EVQ_ERR_INVAL);
}

#[test]
fn an_event_is_copied_out_decoded_and_its_slots_handed_back() {
    let mut r = Ring::new();
    let mut payload = [0u8; 64];
    let n = encode_dentry(1, b"notes.txt", &mut payload).unwrap();
    r.push(vfs::CREATE, vfs::flags::IS_DIR, 42, &payload[..n]);
    let (kind, entry) = r.next();
    assert_eq!((kind, entry.kind, entry.slots, entry.lost), (EVQ_ENTRY_EVENT, EVQ_ENTRY_EVENT, 9, 0));
    assert_eq!(entry.body_len, 32 + 32);
    // The slots are the producer's again: the tail moved past the entry.
    assert_eq!(r.word32(control::TAIL), 9);
    let (rc, ev) = decode(&entry);
    assert_eq!(rc, EVQ_OK);
    assert_eq!((ev.category, ev.kind, ev.type_flags, ev.watch_id), (1, u32::from(vfs::CREATE), 1, 4));
    assert_eq!((ev.seq, ev.timestamp_ns, ev.object_id, ev.source_id), (7, 99, 42, 3));
    assert_eq!((ev.critical, ev.coalesced, ev.payload_len as usize), (0, 0, n));
    // The payload lies in the caller's copy, not in the ring.
    let body = entry.body.as_ptr_range();
    assert!(body.contains(&ev.payload));
    assert_eq!(dentry(bytes(ev.payload, n)), Ok((1, b"notes.txt".to_vec())));
    assert_eq!(r.next().0, EVQ_ENTRY_NONE);
}

#[test]
fn loss_and_skip_entries_are_shown_with_their_counts() {
    let mut r = Ring::new();
    r.producer.count_lost(3);
    r.push(vfs::DELETE, 0, 1, &[]);
    let (kind, entry) = r.next();
    assert_eq!((kind, entry.lost, entry.slots, entry.body_len), (EVQ_ENTRY_LOSS, 3, 2, 0));
    assert_eq!(r.next().0, EVQ_ENTRY_EVENT);
    let mut lost = 0;
    // SAFETY: the ring is the test's.
    assert_eq!(unsafe { evq_ring_lost_total(&r.ring, &mut lost) }, EVQ_OK);
    assert_eq!(lost, 3);
    // 2 + 5 slots read; 505 left before the end: 8 entries of 63 fill 504,
    // and the next 63 does not fit in the 1 left, so a skip pads it.
    let big = [0u8; 464];
    for _ in 0..8 {
        r.push(vfs::ATTRIB, 0, 1, &big);
        assert_eq!(r.next().0, EVQ_ENTRY_EVENT);
    }
    r.push(vfs::ATTRIB, 0, 1, &big);
    let (kind, skip) = r.next();
    assert_eq!((kind, skip.slots), (EVQ_ENTRY_SKIP, 1));
    let (kind, entry) = r.next();
    assert_eq!((kind, entry.slots, entry.body_len), (EVQ_ENTRY_EVENT, 63, 496));
    assert_eq!(decode(&entry).1.payload_len, 464);
}

#[test]
fn a_corrupted_head_or_header_is_an_error_every_time_not_a_crash() {
    let mut r = Ring::new();
    r.set_word32(control::HEAD, 513);
    for _ in 0..2 {
        assert_eq!(r.next().0, EVQ_ERR_CORRUPT);
    }
    // SAFETY: the ring is the test's.
    assert_eq!(unsafe { evq_ring_prepare_wait(&r.ring) }, EVQ_ERR_CORRUPT);
    // Impossible already when the reader attaches: init refuses it.
    let (base, len) = r.mem.region();
    let mut again = evq_ring::default();
    // SAFETY: the test's own region, alive for the call.
    assert_eq!(unsafe { evq_ring_init(&mut again, base.as_ptr().cast(), len) }, EVQ_ERR_CORRUPT);
    // A header with reserved bits, then one running past the head.
    let mut r = Ring::new();
    r.push(vfs::CREATE, 0, 1, &[]);
    *r.mem.word_mut(4096) |= 1 << 63;
    assert_eq!(r.next().0, EVQ_ERR_CORRUPT);
    *r.mem.word_mut(4096) &= !(1 << 63);
    *r.mem.word_mut(4096) |= 40 << 32;
    assert_eq!(r.next().0, EVQ_ERR_CORRUPT);
    // The tail did not move past the bad entry.
    assert_eq!(r.word32(control::TAIL), 0);
}

#[test]
fn the_waiting_flag_is_set_only_while_the_ring_is_empty() {
    let mut r = Ring::new();
    // SAFETY: the ring is the test's.
    assert_eq!(unsafe { evq_ring_prepare_wait(&r.ring) }, 1);
    assert_eq!(r.word32(control::WAITING), 1);
    assert!(r.producer.consumer_waiting());
    // SAFETY: as above.
    assert_eq!(unsafe { evq_ring_cancel_wait(&r.ring) }, EVQ_OK);
    assert_eq!(r.word32(control::WAITING), 0);
    r.push(vfs::CREATE, 0, 1, &[]);
    // SAFETY: as above.
    assert_eq!(unsafe { evq_ring_prepare_wait(&r.ring) }, 0);
    assert_eq!(r.word32(control::WAITING), 0);
    // SAFETY: as above.
    assert_eq!(unsafe { evq_ring_unread_slots(&r.ring) }, 5);
    // SAFETY: null rings are refused.
    assert_eq!(unsafe { evq_ring_prepare_wait(ptr::null()) }, EVQ_ERR_INVAL);
}

#[test]
fn an_entry_that_is_not_a_whole_event_does_not_decode() {
    let mut r = Ring::new();
    r.push(vfs::CREATE, 0, 1, b"abc");
    let (_, mut entry) = r.next();
    entry.body_len = 24;
    assert_eq!(decode(&entry).0, EVQ_ERR_TRUNCATED);
    entry.body_len = 32;
    assert_eq!(decode(&entry).0, EVQ_ERR_TRUNCATED, "the record declares 3 payload bytes");
    entry.body_len = 497;
    assert_eq!(decode(&entry).0, EVQ_ERR_INVAL);
    entry.body_len = 40;
    entry.header = (entry.header & !0xFF_FFFF) | 77;
    assert_eq!(decode(&entry).0, EVQ_ERR_UNKNOWN_CATEGORY);
    entry.kind = EVQ_ENTRY_LOSS;
    assert_eq!(decode(&entry).0, EVQ_ERR_INVAL);
}

#[test]
fn every_payload_decoder_reads_its_layout_and_refuses_short_long_and_reserved() {
    let mut buf = [0u8; 464];
    let n = encode_dentry(5, b"a", &mut buf).unwrap();
    assert_eq!(dentry(&buf[..n]), Ok((5, b"a".to_vec())));
    assert_eq!(dentry(&buf[..n - 1]), Err(EVQ_ERR_TRUNCATED));
    assert_eq!(dentry(&buf[..15]), Err(EVQ_ERR_TRUNCATED));
    assert_eq!(dentry(&[]), Err(EVQ_ERR_TRUNCATED));
    buf[8] = 201;
    assert_eq!(dentry(&buf[..250]), Err(EVQ_ERR_TOO_LONG));
    buf[8] = 1;
    buf[12] = 1;
    assert_eq!(dentry(&buf[..n]), Err(EVQ_ERR_RESERVED));

    let n = encode_rename(&Rename { old_parent: 1, old_name: b"a", new_parent: 2, new_name: b"bc" }, &mut buf).unwrap();
    let mut rn = evq_rename {
        old_parent: 0,
        old_name: ptr::null(),
        old_name_len: 0,
        new_parent: 0,
        new_name: ptr::null(),
        new_name_len: 0,
    };
    // SAFETY: the payloads are the test's slices.
    unsafe {
        assert_eq!(evq_decode_rename(buf.as_ptr(), n, &mut rn), EVQ_OK);
        assert_eq!((rn.old_parent, bytes(rn.old_name, rn.old_name_len)), (1, &b"a"[..]));
        assert_eq!((rn.new_parent, bytes(rn.new_name, rn.new_name_len)), (2, &b"bc"[..]));
        assert_eq!(evq_decode_rename(buf.as_ptr(), n - 1, &mut rn), EVQ_ERR_TRUNCATED);

        let n = encode_mount(1, 9, b"mnt", &mut buf).unwrap();
        let mut m = evq_mount { parent: 0, fs_id: 0, name: ptr::null(), name_len: 0 };
        assert_eq!(evq_decode_mount(buf.as_ptr(), n, &mut m), EVQ_OK);
        assert_eq!((m.parent, m.fs_id, bytes(m.name, m.name_len)), (1, 9, &b"mnt"[..]));
        assert_eq!(evq_decode_mount(buf.as_ptr(), n - 1, &mut m), EVQ_ERR_TRUNCATED);

        let fault = FaultPayload { kind: 1.into(), reserved: 0.into(), address: 0x1000.into(), ip: 0x40.into() };
        let mut f = evq_fault { kind: 0, address: 0, ip: 0 };
        let p = fault.as_bytes();
        assert_eq!(evq_decode_fault(p.as_ptr(), 24, &mut f), EVQ_OK);
        assert_eq!((f.kind, f.address, f.ip), (1, 0x1000, 0x40));
        assert_eq!(evq_decode_fault(p.as_ptr(), 23, &mut f), EVQ_ERR_TRUNCATED);
        let long = [p, &[0]].concat();
        assert_eq!(evq_decode_fault(long.as_ptr(), 25, &mut f), EVQ_ERR_TOO_LONG);
        let bad = FaultPayload { reserved: 1.into(), ..fault };
        assert_eq!(evq_decode_fault(bad.as_bytes().as_ptr(), 24, &mut f), EVQ_ERR_RESERVED);

        let words = (-3i64 as u64).to_le_bytes();
        let mut code = 0i64;
        assert_eq!(evq_decode_exit(words.as_ptr(), 8, &mut code), EVQ_OK);
        assert_eq!(code, -3);
        assert_eq!(evq_decode_exit(words.as_ptr(), 7, &mut code), EVQ_ERR_TRUNCATED);
        let mut secs = 0u64;
        assert_eq!(evq_decode_time(words.as_ptr(), 8, &mut secs), EVQ_OK);
        assert_eq!(secs, -3i64 as u64);

        let two = [5u64.to_le_bytes(), 6u64.to_le_bytes()].concat();
        let mut c = evq_counters { packets: 0, bytes: 0 };
        assert_eq!(evq_decode_counters(two.as_ptr(), 16, &mut c), EVQ_OK);
        assert_eq!((c.packets, c.bytes), (5, 6));
        let mut u = evq_usage { used: 0, total: 0 };
        assert_eq!(evq_decode_usage(two.as_ptr(), 16, &mut u), EVQ_OK);
        assert_eq!((u.used, u.total), (5, 6));
        assert_eq!(evq_decode_usage(two.as_ptr(), 8, &mut u), EVQ_ERR_TRUNCATED);

        let mut s = 0u32;
        let state = StatePayload { state: 2.into(), reserved: 0.into() };
        assert_eq!(evq_decode_state(state.as_bytes().as_ptr(), 8, &mut s), EVQ_OK);
        assert_eq!(s, 2);
        let state = StatePayload { reserved: 5.into(), ..state };
        assert_eq!(evq_decode_state(state.as_bytes().as_ptr(), 8, &mut s), EVQ_ERR_RESERVED);
        assert_eq!(evq_decode_state(ptr::null(), 8, &mut s), EVQ_ERR_INVAL);
    }
}

/// Encodes with `f` into a message-sized buffer; returns (result, label, body).
fn encoded(f: impl FnOnce(*mut u8, usize, *mut u32) -> i32) -> (i32, u32, Vec<u8>) {
    let mut buf = [0u8; 960];
    let mut l = 0;
    let r = f(buf.as_mut_ptr(), buf.len(), &mut l);
    (r, l, buf[..r.max(0) as usize].to_vec())
}

#[test]
fn requests_encode_to_the_abis_messages_and_bad_arguments_are_refused() {
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    let (n, l, body) = encoded(|o, c, l| unsafe { evq_encode_create_queue(4, o, c, l) });
    assert_eq!((n, l), (8, label::CREATE_QUEUE));
    assert_eq!(Request::decode(l, &body), Ok(Request::CreateQueue { geometry: RingGeometry::new(4).unwrap() }));
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_create_queue(3, o, c, l) }).0, EVQ_ERR_INVAL);
    let mut small = [0u8; 4];
    let mut l = 0;
    // SAFETY: a 4-byte buffer, said to be 4 bytes.
    assert_eq!(unsafe { evq_encode_create_queue(4, small.as_mut_ptr(), 4, &mut l) }, EVQ_ERR_NO_SPACE);

    let mut f = evq_filter::default();
    // SAFETY: `f` is ours.
    assert_eq!(unsafe { evq_filter_all(Category::Vfs as u32, &mut f) }, EVQ_OK);
    // SAFETY: as above.
    assert_eq!(unsafe { evq_filter_all(Category::Meta as u32, &mut f) }, EVQ_ERR_INVAL);
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    let (n, l, body) = encoded(|o, c, l| unsafe { evq_encode_subscribe(2, &f, o, c, l) });
    assert_eq!((n, l), (40, label::SUBSCRIBE));
    assert_eq!(Request::decode(l, &body), Ok(Request::Subscribe { queue: 2, filter: Filter::all_of(Category::Vfs) }));
    let only = evq_filter { flags: EVQ_FILTER_OBJECT | EVQ_FILTER_SOURCE, object_id: 8, source_id: 3, ..f };
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    let (_, l, body) = encoded(|o, c, l| unsafe { evq_encode_subscribe(2, &only, o, c, l) });
    let want = Filter { object_id: Some(8), source_id: Some(3), ..Filter::all_of(Category::Vfs) };
    assert_eq!(Request::decode(l, &body), Ok(Request::Subscribe { queue: 2, filter: want }));
    let dir = evq_filter { flags: EVQ_FILTER_PARENT, object_id: 1, ..f };
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    let (_, l, body) = encoded(|o, c, l| unsafe { evq_encode_subscribe(2, &dir, o, c, l) });
    let want = Filter { parent_id: Some(1), ..Filter::all_of(Category::Vfs) };
    assert_eq!(Request::decode(l, &body), Ok(Request::Subscribe { queue: 2, filter: want }));
    let both = evq_filter { flags: EVQ_FILTER_OBJECT | EVQ_FILTER_PARENT, object_id: 1, ..f };
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_subscribe(2, &both, o, c, l) }).0, EVQ_ERR_INVAL);
    let empty = evq_filter { type_mask: 0, ..f };
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_subscribe(2, &empty, o, c, l) }).0, EVQ_ERR_INVAL);
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_subscribe(2, ptr::null(), o, c, l) }).0, EVQ_ERR_INVAL);

    let cases: [(i32, u32, Vec<u8>, Request<'_>); 6] = [
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_unsubscribe(2, 5, o, c, l) });
            (n, l, b, Request::Unsubscribe { queue: 2, subscription: 5 })
        },
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_destroy_queue(2, o, c, l) });
            (n, l, b, Request::DestroyQueue { queue: 2 })
        },
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_wait(2, 3, 0, o, c, l) });
            (n, l, b, Request::Wait { queue: 2, min_events: 3, timeout_ns: 0 })
        },
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_stats(EVQ_STATS_SERVER, 0, o, c, l) });
            (n, l, b, Request::Stats(StatsTarget::Server))
        },
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_set_coalescing(2, 1000, o, c, l) });
            (n, l, b, Request::SetCoalescing { queue: 2, window_ns: 1000 })
        },
        {
            // SAFETY: the test's own ring, buffers and out-values, alive for the call.
            let (n, l, b) = encoded(|o, c, l| unsafe { evq_encode_ring_frames(2, 1, o, c, l) });
            (n, l, b, Request::RingFrames { queue: 2, first: 1 })
        },
    ];
    for (n, l, body, want) in cases {
        assert_eq!((n as usize, l), (body.len(), want.label()));
        assert_eq!(Request::decode(l, &body), Ok(want));
    }
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_stats(EVQ_STATS_SERVER, 1, o, c, l) }).0, EVQ_ERR_INVAL);
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_set_priority(2, 1, 7, o, c, l) }).0, EVQ_ERR_INVAL);
    // SAFETY: the test's own ring, buffers and out-values, alive for the call.
    assert_eq!(encoded(|o, c, l| unsafe { evq_encode_wait(2, 0, 0, o, c, l) }).0, EVQ_ERR_INVAL);
}

fn reply_of(request_label: u32, reply: Reply) -> (i32, evq_reply) {
    let mut buf = [0u8; 960];
    let (l, n) = reply.encode(&mut buf).unwrap();
    let mut out = evq_reply::default();
    // SAFETY: the test's buffer and reply.
    let r = unsafe { evq_decode_reply(request_label, l, buf.as_ptr(), n, &mut out) };
    (r, out)
}

#[test]
fn replies_decode_into_their_fields_and_error_replies_are_refusals() {
    let (r, out) = reply_of(
        label::CREATE_QUEUE,
        Reply::QueueCreated { queue: 3, slot_count: 2048, frames: 5, reserved_slots: 256 },
    );
    assert_eq!(r, EVQ_OK);
    assert_eq!(
        (out.kind, out.queue, out.slot_count, out.frames, out.reserved_slots),
        (EVQ_REPLY_QUEUE_CREATED, 3, 2048, 5, 256)
    );
    let (r, out) = reply_of(label::WAIT, Reply::Wait { armed: true, unread_slots: 0 });
    assert_eq!((r, out.kind, out.armed), (EVQ_OK, EVQ_REPLY_WAIT, 1));
    let counters = Counters::from_array([1, 2, 3, 4, 5, 6, 7]);
    let (r, out) = reply_of(label::STATS, Reply::Stats(Stats { counters, used_slots: 4, slot_count: 512 }));
    assert_eq!((r, out.kind, out.stats.used_slots, out.stats.slot_count), (EVQ_OK, EVQ_REPLY_STATS, 4, 512));
    assert_eq!(out.stats.counters, [1, 2, 3, 4, 5, 6, 7]);
    let (r, out) = reply_of(label::SUBSCRIBE, Reply::Error { code: ErrorCode::NoSuchQueue, detail: 9 });
    assert_eq!((r, out.kind, out.error_code, out.error_detail), (EVQ_ERR_REFUSED, EVQ_REPLY_ERROR, 6, 9));
    let mut len = 0;
    // SAFETY: `len` is ours.
    let name = unsafe { evq_code_name(out.error_code, &mut len) };
    assert_eq!(bytes(name.cast(), len), b"NoSuchQueue");
    // A Subscribed body where CreateQueue's was due does not decode.
    let (r, _) = reply_of(label::CREATE_QUEUE, Reply::Subscribed { subscription: 1 });
    assert_eq!(r, EVQ_ERR_MALFORMED);
    let mut out = evq_reply::default();
    // SAFETY: a null body of length 0 is no body.
    assert_eq!(unsafe { evq_decode_reply(label::DESTROY_QUEUE, label::OK, ptr::null(), 0, &mut out) }, EVQ_OK);
    assert_eq!(out.kind, EVQ_REPLY_DONE);
}

#[test]
fn every_error_code_has_words_of_its_own() {
    let words = |code| {
        // SAFETY: `evq_strerror` returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(evq_strerror(code)) }.to_str().unwrap().to_string()
    };
    let all: Vec<String> = (EVQ_ERR_PANIC..=EVQ_OK).map(words).collect();
    for (i, w) in all.iter().enumerate() {
        assert!(!w.is_empty() && w != "unknown error code", "code {}", EVQ_ERR_PANIC + i as i32);
        assert_eq!(all.iter().filter(|x| *x == w).count(), 1, "{w:?} twice");
    }
    assert_eq!(words(-16), "unknown error code");
    assert_eq!(words(1), "unknown error code");
    let mut len = 0;
    // SAFETY: `len` is ours.
    let name = unsafe { evq_kind_name(Category::Vfs as u32, u32::from(vfs::RENAME), &mut len) };
    assert_eq!(bytes(name.cast(), len), b"rename");
    // SAFETY: as above.
    let name = unsafe { evq_kind_name(99, 0, &mut len) };
    assert_eq!(bytes(name.cast(), len), b"?");
    // SAFETY: as above.
    let name = unsafe { evq_category_name(Category::Network as u32, &mut len) };
    assert_eq!(bytes(name.cast(), len), b"network");
}
