//! Host tests for the VFS domain's messages.
//!
//! 1. strategies and helpers;
//! 2. request round trips, one property per `Request` variant;
//! 3. reply round trips, every `ErrorCode` for every request;
//! 4. golden bytes pinning every layout (the examples in docs/protocol.md);
//! 5. rejections, by label, each pinning the exact `DecodeError`;
//! 6. encoder refusals;
//! 7. "never panics" fuzzing of both decoders, and canonical re-encoding of
//!    whatever they accept.

use evq_vfs_api::{
    check_name, label, set_attr, Attrs, DecodeError, EncodeError, ErrorCode, Kind, Reply, Request, SetAttrs,
    MAX_MSG_BYTES, MAX_READ, MAX_WRITE, MODE_MASK, NAME_MAX,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ===========================================================================
// 1. Strategies and helpers
// ===========================================================================

/// Labels whose success reply is `Reply::Done`.
const DONE_LABELS: [u32; 5] = [label::RENAME, label::LINK, label::UNLINK, label::RMDIR, label::UNMOUNT];
/// Labels whose success reply is `Reply::Inode`.
const INODE_LABELS: [u32; 4] = [label::LOOKUP, label::MKDIR, label::CREATE, label::MOUNT];
/// Labels whose success reply is `Reply::Attrs`.
const ATTRS_LABELS: [u32; 3] = [label::STAT, label::SET_ATTR, label::WRITE];

/// An owned request, so a strategy can generate it.
#[derive(Clone, Debug)]
enum Owned {
    Lookup(u64, Vec<u8>),
    Stat(u64),
    Mkdir(u64, Vec<u8>, u32),
    Create(u64, Vec<u8>, u32),
    Write(u64, u64, Vec<u8>),
    Read(u64, u64, u32),
    SetAttr(u64, SetAttrs),
    Rename(u64, Vec<u8>, u64, Vec<u8>),
    Link(u64, u64, Vec<u8>),
    Unlink(u64, Vec<u8>),
    Rmdir(u64, Vec<u8>),
    Mount(u64),
    Unmount(u64),
}

impl Owned {
    fn request(&self) -> Request<'_> {
        match self {
            Owned::Lookup(dir, name) => Request::Lookup { dir: *dir, name },
            Owned::Stat(inode) => Request::Stat { inode: *inode },
            Owned::Mkdir(dir, name, mode) => Request::Mkdir { dir: *dir, name, mode: *mode },
            Owned::Create(dir, name, mode) => Request::Create { dir: *dir, name, mode: *mode },
            Owned::Write(inode, offset, data) => Request::Write { inode: *inode, offset: *offset, data },
            Owned::Read(inode, offset, len) => Request::Read { inode: *inode, offset: *offset, len: *len },
            Owned::SetAttr(inode, attrs) => Request::SetAttr { inode: *inode, attrs: *attrs },
            Owned::Rename(old_dir, old_name, new_dir, new_name) => {
                Request::Rename { old_dir: *old_dir, old_name, new_dir: *new_dir, new_name }
            }
            Owned::Link(inode, new_dir, name) => Request::Link { inode: *inode, new_dir: *new_dir, name },
            Owned::Unlink(dir, name) => Request::Unlink { dir: *dir, name },
            Owned::Rmdir(dir, name) => Request::Rmdir { dir: *dir, name },
            Owned::Mount(dir) => Request::Mount { dir: *dir },
            Owned::Unmount(dir) => Request::Unmount { dir: *dir },
        }
    }
}

/// Names biased to the interesting sizes, any bytes (the decoder does not
/// judge names). Up to 300 bytes, longer than NAME_MAX: those still decode.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..=9),
        2 => vec(any::<u8>(), 0..=300),
        1 => vec(any::<u8>(), NAME_MAX),
    ]
}

fn mode() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(MODE_MASK), 0..=MODE_MASK]
}

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(1u64), Just(u64::MAX), any::<u64>()]
}

fn set_attrs() -> impl Strategy<Value = SetAttrs> {
    use proptest::option::of;
    (of(mode()), of(any::<u64>()), of(any::<u64>()), of(any::<u64>()), of(any::<u32>()), of(any::<u32>()))
        .prop_map(|(mode, size, atime_ns, mtime_ns, uid, gid)| SetAttrs { mode, size, atime_ns, mtime_ns, uid, gid })
}

fn owned_request() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (id(), name()).prop_map(|(d, n)| Owned::Lookup(d, n)),
        id().prop_map(Owned::Stat),
        (id(), name(), mode()).prop_map(|(d, n, m)| Owned::Mkdir(d, n, m)),
        (id(), name(), mode()).prop_map(|(d, n, m)| Owned::Create(d, n, m)),
        (id(), id(), vec(any::<u8>(), 0..=MAX_WRITE)).prop_map(|(i, o, d)| Owned::Write(i, o, d)),
        (id(), id(), 0..=MAX_READ as u32).prop_map(|(i, o, l)| Owned::Read(i, o, l)),
        (id(), set_attrs()).prop_map(|(i, a)| Owned::SetAttr(i, a)),
        (id(), name(), id(), name()).prop_map(|(a, n, b, m)| Owned::Rename(a, n, b, m)),
        (id(), id(), name()).prop_map(|(i, d, n)| Owned::Link(i, d, n)),
        (id(), name()).prop_map(|(d, n)| Owned::Unlink(d, n)),
        (id(), name()).prop_map(|(d, n)| Owned::Rmdir(d, n)),
        id().prop_map(Owned::Mount),
        id().prop_map(Owned::Unmount),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::File), Just(Kind::Dir)]
}

fn attrs() -> impl Strategy<Value = Attrs> {
    (id(), kind(), mode(), any::<u64>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
        |(inode, kind, mode, size, nlink, atime_ns, mtime_ns, uid, gid)| Attrs {
            inode,
            kind,
            mode,
            size,
            nlink,
            atime_ns,
            mtime_ns,
            uid,
            gid,
        },
    )
}

fn encode(req: &Request<'_>) -> (u32, Vec<u8>) {
    let mut out = [0u8; MAX_MSG_BYTES];
    let (l, n) = req.encode(&mut out).expect("encodes");
    (l, out[..n].to_vec())
}

fn encode_reply(reply: &Reply<'_>) -> (u32, Vec<u8>) {
    let mut out = [0u8; MAX_MSG_BYTES];
    let (l, n) = reply.encode(&mut out).expect("encodes");
    (l, out[..n].to_vec())
}

fn req_err(l: u32, body: &[u8]) -> DecodeError {
    Request::decode(l, body).expect_err("must be refused")
}

fn reply_err(request: u32, reply: u32, body: &[u8]) -> DecodeError {
    Reply::decode(request, reply, body).expect_err("must be refused")
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Encodes, checks the body's shape, decodes, compares, and re-encodes to
/// the same bytes.
fn check_request_round_trip(req: &Request<'_>) -> Result<Vec<u8>, TestCaseError> {
    let (l, body) = encode(req);
    prop_assert_eq!(l, req.label());
    prop_assert!(body.len() <= MAX_MSG_BYTES && body.len() % 8 == 0);
    let back = Request::decode(l, &body).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(&back, req);
    prop_assert_eq!(encode(&back).1, body.clone());
    Ok(body)
}

fn check_reply_round_trip(request: u32, reply: &Reply<'_>) -> Result<(), TestCaseError> {
    let (l, body) = encode_reply(reply);
    prop_assert!(body.len() <= MAX_MSG_BYTES && body.len() % 8 == 0);
    let back = Reply::decode(request, l, &body).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(&back, reply);
    Ok(())
}

fn sample_attrs() -> Attrs {
    Attrs {
        inode: 0x0001_0000_0000_0002,
        kind: Kind::File,
        mode: 0o644,
        size: 5,
        nlink: 2,
        atime_ns: 1_000,
        mtime_ns: 2_000,
        uid: 1000,
        gid: 100,
    }
}

// ===========================================================================
// 2. Request round trips
// ===========================================================================

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_request_round_trips(owned in owned_request()) {
        check_request_round_trip(&owned.request())?;
    }

    #[test]
    fn lookup_round_trips(dir in id(), name in name()) {
        let body = check_request_round_trip(&Request::Lookup { dir, name: &name })?;
        prop_assert_eq!(body.len(), 16 + name.len().next_multiple_of(8));
    }

    #[test]
    fn stat_mount_unmount_round_trip(inode in id()) {
        for req in [Request::Stat { inode }, Request::Mount { dir: inode }, Request::Unmount { dir: inode }] {
            prop_assert_eq!(check_request_round_trip(&req)?.len(), 8);
        }
    }

    #[test]
    fn mkdir_and_create_round_trip(dir in id(), name in name(), mode in mode()) {
        check_request_round_trip(&Request::Mkdir { dir, name: &name, mode })?;
        check_request_round_trip(&Request::Create { dir, name: &name, mode })?;
    }

    #[test]
    fn write_round_trips(inode in id(), offset in id(), data in vec(any::<u8>(), 0..=MAX_WRITE)) {
        let body = check_request_round_trip(&Request::Write { inode, offset, data: &data })?;
        prop_assert_eq!(body.len(), 24 + data.len().next_multiple_of(8));
    }

    #[test]
    fn read_round_trips(inode in id(), offset in id(), len in 0..=MAX_READ as u32) {
        prop_assert_eq!(check_request_round_trip(&Request::Read { inode, offset, len })?.len(), 24);
    }

    #[test]
    fn set_attr_round_trips(inode in id(), attrs in set_attrs()) {
        prop_assert_eq!(check_request_round_trip(&Request::SetAttr { inode, attrs })?.len(), 48);
    }

    #[test]
    fn rename_round_trips(old_dir in id(), old in name(), new_dir in id(), new in name()) {
        let req = Request::Rename { old_dir, old_name: &old, new_dir, new_name: &new };
        let body = check_request_round_trip(&req)?;
        prop_assert_eq!(body.len(), 24 + (old.len() + new.len()).next_multiple_of(8));
    }

    #[test]
    fn link_unlink_rmdir_round_trip(inode in id(), dir in id(), name in name()) {
        check_request_round_trip(&Request::Link { inode, new_dir: dir, name: &name })?;
        check_request_round_trip(&Request::Unlink { dir, name: &name })?;
        check_request_round_trip(&Request::Rmdir { dir, name: &name })?;
    }
}

#[test]
fn boundary_requests_round_trip() {
    let max_name = [b'n'; NAME_MAX];
    let data = [0xAB; MAX_WRITE];
    let all = SetAttrs {
        mode: Some(MODE_MASK),
        size: Some(u64::MAX),
        atime_ns: Some(u64::MAX),
        mtime_ns: Some(0),
        uid: Some(u32::MAX),
        gid: Some(0),
    };
    let cases = [
        Request::Lookup { dir: 1, name: b"" },
        Request::Lookup { dir: 1, name: &max_name },
        Request::Write { inode: 2, offset: u64::MAX, data: &data },
        Request::Write { inode: 2, offset: 0, data: b"" },
        Request::Read { inode: 2, offset: 0, len: MAX_READ as u32 },
        Request::SetAttr { inode: 3, attrs: all },
        Request::SetAttr { inode: 3, attrs: SetAttrs::default() },
        Request::Rename { old_dir: 1, old_name: &max_name, new_dir: 2, new_name: &max_name },
        // The longest names a rename can carry: 936 bytes between them.
        Request::Rename { old_dir: 1, old_name: &[b'a'; 468], new_dir: 2, new_name: &[b'b'; 468] },
    ];
    for req in &cases {
        let (l, body) = encode(req);
        assert_eq!(Request::decode(l, &body), Ok(*req), "{req:?}");
    }
    // A write of exactly MAX_WRITE bytes fills the message.
    assert_eq!(encode(&cases[2]).1.len(), MAX_MSG_BYTES);
}

// ===========================================================================
// 3. Reply round trips
// ===========================================================================

proptest! {
    #[test]
    fn inode_replies_round_trip(inode in id(), l in select(&INODE_LABELS[..])) {
        check_reply_round_trip(l, &Reply::Inode(inode))?;
    }

    #[test]
    fn attrs_replies_round_trip(a in attrs(), l in select(&ATTRS_LABELS[..])) {
        check_reply_round_trip(l, &Reply::Attrs(a))?;
    }

    #[test]
    fn data_replies_round_trip(data in vec(any::<u8>(), 0..=MAX_READ)) {
        check_reply_round_trip(label::READ, &Reply::Data(&data))?;
        let (_, body) = encode_reply(&Reply::Data(&data));
        prop_assert_eq!(body.len(), 8 + data.len().next_multiple_of(8));
    }

    #[test]
    fn error_replies_round_trip(detail in any::<u32>(), code in select(&ErrorCode::ALL[..])) {
        for l in label::REQUESTS {
            check_reply_round_trip(l, &Reply::Error { code, detail })?;
        }
    }
}

#[test]
fn done_replies_round_trip_empty() {
    for l in DONE_LABELS {
        let (rl, body) = encode_reply(&Reply::Done);
        assert_eq!((rl, body.len()), (label::OK, 0));
        assert_eq!(Reply::decode(l, rl, &body), Ok(Reply::Done));
    }
}

#[test]
fn every_error_code_is_listed_and_numbered() {
    for (i, code) in ErrorCode::ALL.iter().enumerate() {
        assert_eq!(*code as u32, i as u32 + 1);
        assert_eq!(ErrorCode::from_u32(*code as u32), Some(*code));
    }
    assert_eq!(ErrorCode::from_u32(0), None);
    assert_eq!(ErrorCode::from_u32(ErrorCode::ALL.len() as u32 + 1), None);
}

#[test]
fn decode_error_codes_are_stable() {
    let all = [
        (DecodeError::UnknownLabel(0), 1),
        (DecodeError::BadLength { expected: 0, actual: 0 }, 2),
        (DecodeError::ReservedNonZero, 3),
        (DecodeError::BadMode(0), 4),
        (DecodeError::BadMask(0), 5),
        (DecodeError::TooLong(0), 6),
        (DecodeError::BadKind(0), 7),
        (DecodeError::BadErrorCode(0), 8),
    ];
    for (e, code) in all {
        assert_eq!(e.code(), code, "{e:?}");
    }
}

#[test]
fn labels_are_the_documented_ones() {
    assert_eq!(
        label::REQUESTS,
        [
            0x0301, 0x0302, 0x0303, 0x0304, 0x0305, 0x0306, 0x0307, 0x0308, 0x0309, 0x030A, 0x030B, 0x030C, 0x030D,
            0x030E
        ]
    );
    // Clear of evq-abi's labels, and each fits the seL4 16-bit label.
    for l in label::REQUESTS {
        assert!(!evq_abi::msg::label::REQUESTS.contains(&l));
        assert!(l <= 0xFFFF);
    }
}

// ===========================================================================
// 4. Golden bytes (the examples of docs/protocol.md, "VFS domain protocol")
// ===========================================================================

#[test]
fn golden_request_bytes() {
    let (l, body) = encode(&Request::Create { dir: 1, name: b"a.txt", mode: 0o644 });
    assert_eq!(l, 0x0304);
    assert_eq!(
        body,
        [
            0x01, 0, 0, 0, 0, 0, 0, 0, // dir 1
            0xA4, 0x01, 0, 0, // mode 0o644
            0x05, 0x00, // name_len 5
            0, 0, // reserved
            b'a', b'.', b't', b'x', b't', 0, 0, 0, // name, padding
        ]
    );
    let (l, body) = encode(&Request::Write { inode: 2, offset: 3, data: b"hello" });
    assert_eq!(l, 0x0305);
    assert_eq!(
        body,
        [
            2, 0, 0, 0, 0, 0, 0, 0, // inode
            3, 0, 0, 0, 0, 0, 0, 0, // offset
            5, 0, 0, 0, 0, 0, 0, 0, // len, reserved
            b'h', b'e', b'l', b'l', b'o', 0, 0, 0,
        ]
    );
    let (l, body) = encode(&Request::Rename { old_dir: 1, old_name: b"a", new_dir: 2, new_name: b"bc" });
    assert_eq!(l, 0x0308);
    assert_eq!(
        body,
        [
            1, 0, 0, 0, 0, 0, 0, 0, // old_dir
            2, 0, 0, 0, 0, 0, 0, 0, // new_dir
            1, 0, 2, 0, 0, 0, 0, 0, // old_name_len 1, new_name_len 2, reserved
            b'a', b'b', b'c', 0, 0, 0, 0, 0,
        ]
    );
    let attrs = SetAttrs { mode: Some(0o600), size: Some(0), ..SetAttrs::default() };
    let (l, body) = encode(&Request::SetAttr { inode: 2, attrs });
    assert_eq!(l, 0x0307);
    let mut want = [0u8; 48];
    want[0] = 2;
    want[8] = 0x03; // mask MODE | SIZE
    want[12..16].copy_from_slice(&0o600u32.to_le_bytes());
    assert_eq!(body, want);
    let (l, body) = encode(&Request::Link { inode: 2, new_dir: 1, name: b"b" });
    assert_eq!(l, 0x0309);
    assert_eq!(
        body,
        [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, b'b', 0, 0, 0, 0, 0, 0, 0]
    );
    let (l, body) = encode(&Request::Read { inode: 2, offset: 1, len: 4 });
    assert_eq!((l, body), (0x0306, vec![2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]));
    let (l, body) = encode(&Request::Mount { dir: 2 });
    assert_eq!((l, body), (0x030C, vec![2, 0, 0, 0, 0, 0, 0, 0]));
}

#[test]
fn golden_reply_bytes() {
    let (l, body) = encode_reply(&Reply::Attrs(sample_attrs()));
    assert_eq!(l, label::OK);
    let mut want = Vec::new();
    want.extend_from_slice(&0x0001_0000_0000_0002u64.to_le_bytes());
    want.extend_from_slice(&5u64.to_le_bytes());
    want.extend_from_slice(&1_000u64.to_le_bytes());
    want.extend_from_slice(&2_000u64.to_le_bytes());
    want.extend_from_slice(&0o644u32.to_le_bytes());
    want.extend_from_slice(&2u32.to_le_bytes());
    want.extend_from_slice(&1000u32.to_le_bytes());
    want.extend_from_slice(&100u32.to_le_bytes());
    want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(body, want);
    assert_eq!(
        encode_reply(&Reply::Data(b"hel")),
        (label::OK, vec![3, 0, 0, 0, 0, 0, 0, 0, b'h', b'e', b'l', 0, 0, 0, 0, 0])
    );
    assert_eq!(encode_reply(&Reply::Inode(7)), (label::OK, vec![7, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(
        encode_reply(&Reply::Error { code: ErrorCode::NoSpace, detail: 2 }),
        (label::ERROR, vec![9, 0, 0, 0, 2, 0, 0, 0])
    );
}

// ===========================================================================
// 5. Rejections
// ===========================================================================

#[test]
fn unknown_request_labels_are_rejected_whatever_the_body() {
    for l in [0, 1, 0x0101, 0x0201, 0x0300, 0x030F, 0x0401, 0x1_0301, u32::MAX] {
        assert_eq!(req_err(l, &[]), DecodeError::UnknownLabel(l));
        assert_eq!(req_err(l, &[0; 8]), DecodeError::UnknownLabel(l));
        assert_eq!(req_err(l, &[0; 1000]), DecodeError::UnknownLabel(l));
    }
}

#[test]
fn every_request_rejects_oversized_and_unaligned_bodies() {
    for l in label::REQUESTS {
        assert_eq!(
            req_err(l, &[0; MAX_MSG_BYTES + 8]),
            DecodeError::BadLength { expected: MAX_MSG_BYTES, actual: 968 }
        );
        for n in [1, 7, 9, 15, 17, 23, 47] {
            assert!(
                matches!(req_err(l, &vec![0; n]), DecodeError::BadLength { actual, .. } if actual == n),
                "{l:#x} {n}"
            );
        }
    }
}

#[test]
fn every_request_rejects_a_short_head() {
    let heads = [
        (label::LOOKUP, 16),
        (label::STAT, 8),
        (label::MKDIR, 16),
        (label::CREATE, 16),
        (label::WRITE, 24),
        (label::READ, 24),
        (label::SET_ATTR, 48),
        (label::RENAME, 24),
        (label::LINK, 24),
        (label::UNLINK, 16),
        (label::RMDIR, 16),
        (label::MOUNT, 8),
        (label::UNMOUNT, 8),
    ];
    for (l, head) in heads {
        for n in (0..head).step_by(8) {
            assert_eq!(req_err(l, &vec![0; n]), DecodeError::BadLength { expected: head, actual: n }, "{l:#x}");
        }
    }
}

#[test]
fn fixed_size_requests_reject_extra_words() {
    for (l, len) in [(label::STAT, 8), (label::MOUNT, 8), (label::UNMOUNT, 8), (label::READ, 24), (label::SET_ATTR, 48)]
    {
        assert_eq!(req_err(l, &vec![0; len + 8]), DecodeError::BadLength { expected: len, actual: len + 8 });
    }
}

#[test]
fn named_requests_reject_names_that_do_not_match_the_body() {
    let (_, good) = encode(&Request::Lookup { dir: 1, name: b"abcdefghi" }); // 9 bytes: 16 + 16
    assert_eq!(good.len(), 32);
    for l in [label::LOOKUP, label::UNLINK, label::RMDIR, label::MKDIR, label::CREATE] {
        let mut body = good.clone();
        if l == label::MKDIR || l == label::CREATE {
            // Same head size, name_len at 12 and mode at 8 (zero is valid).
            body.copy_within(8..10, 12);
            body[8..12].fill(0);
        }
        let len_at = if l == label::MKDIR || l == label::CREATE { 12 } else { 8 };
        // Too long for the body.
        put_u16(&mut body, len_at, 17);
        assert_eq!(req_err(l, &body), DecodeError::BadLength { expected: 40, actual: 32 }, "{l:#x}");
        // Too short: the body has a whole word more than the name needs.
        put_u16(&mut body, len_at, 8);
        assert_eq!(req_err(l, &body), DecodeError::BadLength { expected: 24, actual: 32 }, "{l:#x}");
        // A name length that could never fit.
        put_u16(&mut body, len_at, u16::MAX);
        assert!(matches!(req_err(l, &body), DecodeError::BadLength { .. }));
        // Just right, but padding non-zero.
        put_u16(&mut body, len_at, 9);
        assert!(Request::decode(l, &body).is_ok());
        body[31] = 1;
        assert_eq!(req_err(l, &body), DecodeError::ReservedNonZero, "{l:#x}");
    }
}

#[test]
fn entry_bodies_reject_reserved_bytes() {
    let (_, good) = encode(&Request::Unlink { dir: 1, name: b"x" });
    for l in [label::LOOKUP, label::UNLINK, label::RMDIR] {
        for at in 10..16 {
            let mut body = good.clone();
            body[at] = 1;
            assert_eq!(req_err(l, &body), DecodeError::ReservedNonZero, "{l:#x} {at}");
        }
    }
    let (_, good) = encode(&Request::Link { inode: 2, new_dir: 1, name: b"x" });
    for at in 18..24 {
        let mut body = good.clone();
        body[at] = 1;
        assert_eq!(req_err(label::LINK, &body), DecodeError::ReservedNonZero);
    }
}

#[test]
fn make_bodies_reject_bad_modes_and_reserved() {
    for l in [label::MKDIR, label::CREATE] {
        let (_, good) = encode(&Request::Mkdir { dir: 1, name: b"d", mode: 0o755 });
        let mut body = good.clone();
        put_u32(&mut body, 8, 0o10000);
        assert_eq!(req_err(l, &body), DecodeError::BadMode(0o10000));
        put_u32(&mut body, 8, u32::MAX);
        assert_eq!(req_err(l, &body), DecodeError::BadMode(u32::MAX));
        let mut body = good.clone();
        body[14] = 1;
        assert_eq!(req_err(l, &body), DecodeError::ReservedNonZero);
        // Reserved is checked before the mode.
        put_u32(&mut body, 8, u32::MAX);
        assert_eq!(req_err(l, &body), DecodeError::ReservedNonZero);
    }
}

#[test]
fn write_rejects_bad_lengths_reserved_and_padding() {
    let (_, good) = encode(&Request::Write { inode: 2, offset: 0, data: b"abc" });
    assert_eq!(good.len(), 32);
    let mut body = good.clone();
    put_u32(&mut body, 16, 9);
    assert_eq!(req_err(label::WRITE, &body), DecodeError::BadLength { expected: 40, actual: 32 });
    put_u32(&mut body, 16, u32::MAX);
    assert!(matches!(req_err(label::WRITE, &body), DecodeError::BadLength { .. }));
    put_u32(&mut body, 16, 0);
    assert_eq!(req_err(label::WRITE, &body), DecodeError::BadLength { expected: 24, actual: 32 });
    let mut body = good.clone();
    body[20] = 1;
    assert_eq!(req_err(label::WRITE, &body), DecodeError::ReservedNonZero);
    let mut body = good.clone();
    body[27] = 1;
    assert_eq!(req_err(label::WRITE, &body), DecodeError::ReservedNonZero);
    // The largest write fills the message; one more word is over it.
    let mut body = vec![0u8; MAX_MSG_BYTES];
    put_u32(&mut body, 16, MAX_WRITE as u32);
    assert!(Request::decode(label::WRITE, &body).is_ok());
}

#[test]
fn read_rejects_long_reads_and_reserved() {
    let mut body = vec![0u8; 24];
    put_u32(&mut body, 16, MAX_READ as u32);
    assert!(Request::decode(label::READ, &body).is_ok());
    put_u32(&mut body, 16, MAX_READ as u32 + 1);
    assert_eq!(req_err(label::READ, &body), DecodeError::TooLong(MAX_READ as u32 + 1));
    put_u32(&mut body, 16, u32::MAX);
    assert_eq!(req_err(label::READ, &body), DecodeError::TooLong(u32::MAX));
    put_u32(&mut body, 16, 0);
    body[20] = 1;
    assert_eq!(req_err(label::READ, &body), DecodeError::ReservedNonZero);
}

#[test]
fn set_attr_rejects_unknown_mask_bits_unset_values_and_bad_modes() {
    let body = vec![0u8; 48];
    assert_eq!(Request::decode(label::SET_ATTR, &body), Ok(Request::SetAttr { inode: 0, attrs: SetAttrs::default() }));
    for bit in 6..32 {
        let mut b = body.clone();
        put_u32(&mut b, 8, 1 << bit);
        assert_eq!(req_err(label::SET_ATTR, &b), DecodeError::BadMask(1 << bit));
    }
    // Each value, non-zero without its bit; accepted with it.
    let fields: [(u32, usize, usize); 6] = [
        (set_attr::MODE, 12, 4),
        (set_attr::SIZE, 16, 8),
        (set_attr::ATIME, 24, 8),
        (set_attr::MTIME, 32, 8),
        (set_attr::UID, 40, 4),
        (set_attr::GID, 44, 4),
    ];
    for (bit, at, size) in fields {
        let mut b = body.clone();
        b[at] = 1;
        assert_eq!(req_err(label::SET_ATTR, &b), DecodeError::ReservedNonZero, "bit {bit}");
        put_u32(&mut b, 8, bit);
        assert!(Request::decode(label::SET_ATTR, &b).is_ok(), "bit {bit}");
        b[at + size - 1] = 0x80;
        if bit == set_attr::MODE {
            assert!(matches!(req_err(label::SET_ATTR, &b), DecodeError::BadMode(_)));
        } else {
            assert!(Request::decode(label::SET_ATTR, &b).is_ok());
        }
    }
    let mut b = body.clone();
    put_u32(&mut b, 8, set_attr::MODE);
    put_u32(&mut b, 12, 0o7777 + 1);
    assert_eq!(req_err(label::SET_ATTR, &b), DecodeError::BadMode(0o10000));
    // The mask is checked before the values.
    put_u32(&mut b, 8, 1 << 31);
    assert_eq!(req_err(label::SET_ATTR, &b), DecodeError::BadMask(1 << 31));
}

#[test]
fn rename_rejects_bad_lengths_reserved_and_padding() {
    let (_, good) = encode(&Request::Rename { old_dir: 1, old_name: b"abc", new_dir: 1, new_name: b"de" });
    assert_eq!(good.len(), 32);
    for at in 20..24 {
        let mut b = good.clone();
        b[at] = 1;
        assert_eq!(req_err(label::RENAME, &b), DecodeError::ReservedNonZero);
    }
    let mut b = good.clone();
    put_u16(&mut b, 18, 6); // 3 + 6 = 9 > 8
    assert_eq!(req_err(label::RENAME, &b), DecodeError::BadLength { expected: 40, actual: 32 });
    put_u16(&mut b, 16, 0);
    put_u16(&mut b, 18, 0);
    assert_eq!(req_err(label::RENAME, &b), DecodeError::BadLength { expected: 24, actual: 32 });
    let mut b = good.clone();
    b[29] = 1;
    assert_eq!(req_err(label::RENAME, &b), DecodeError::ReservedNonZero);
    // The split between the names is the lengths', not the bytes'.
    let mut b = good.clone();
    put_u16(&mut b, 16, 1);
    put_u16(&mut b, 18, 4);
    assert_eq!(
        Request::decode(label::RENAME, &b),
        Ok(Request::Rename { old_dir: 1, old_name: b"a", new_dir: 1, new_name: b"bcde" })
    );
}

#[test]
fn reply_decoding_rejects_malformed_bodies() {
    // Unknown reply labels; unknown request labels with OK.
    assert_eq!(reply_err(label::STAT, 2, &[]), DecodeError::UnknownLabel(2));
    assert_eq!(reply_err(0x0201, label::OK, &[]), DecodeError::UnknownLabel(0x0201));
    // Error bodies.
    assert_eq!(reply_err(label::STAT, label::ERROR, &[0; 16]), DecodeError::BadLength { expected: 8, actual: 16 });
    for code in [0u32, 13, u32::MAX] {
        let mut b = vec![0u8; 8];
        put_u32(&mut b, 0, code);
        assert_eq!(reply_err(label::STAT, label::ERROR, &b), DecodeError::BadErrorCode(code));
    }
    // Lengths.
    assert!(matches!(reply_err(label::STAT, label::OK, &[0; 12]), DecodeError::BadLength { .. }));
    assert!(matches!(reply_err(label::READ, label::OK, &[0; 968]), DecodeError::BadLength { .. }));
    for l in DONE_LABELS {
        assert_eq!(reply_err(l, label::OK, &[0; 8]), DecodeError::BadLength { expected: 0, actual: 8 });
    }
    for l in INODE_LABELS {
        assert_eq!(reply_err(l, label::OK, &[]), DecodeError::BadLength { expected: 8, actual: 0 });
        assert_eq!(reply_err(l, label::OK, &[0; 16]), DecodeError::BadLength { expected: 8, actual: 16 });
    }
    // Attributes.
    let (_, good) = encode_reply(&Reply::Attrs(sample_attrs()));
    for l in ATTRS_LABELS {
        assert_eq!(reply_err(l, label::OK, &good[..48]), DecodeError::BadLength { expected: 56, actual: 48 });
        for kind in [0u8, 3, 255] {
            let mut b = good.clone();
            b[48] = kind;
            assert_eq!(reply_err(l, label::OK, &b), DecodeError::BadKind(kind));
        }
        for at in 49..56 {
            let mut b = good.clone();
            b[at] = 1;
            assert_eq!(reply_err(l, label::OK, &b), DecodeError::ReservedNonZero);
        }
        let mut b = good.clone();
        put_u32(&mut b, 32, 0o17777);
        assert_eq!(reply_err(l, label::OK, &b), DecodeError::BadMode(0o17777));
    }
    // Data.
    let (_, good) = encode_reply(&Reply::Data(b"abc"));
    let mut b = good.clone();
    put_u32(&mut b, 0, 9);
    assert_eq!(reply_err(label::READ, label::OK, &b), DecodeError::BadLength { expected: 24, actual: 16 });
    put_u32(&mut b, 0, u32::MAX);
    assert!(matches!(reply_err(label::READ, label::OK, &b), DecodeError::BadLength { .. }));
    let mut b = good.clone();
    b[4] = 1;
    assert_eq!(reply_err(label::READ, label::OK, &b), DecodeError::ReservedNonZero);
    let mut b = good.clone();
    b[11] = 1;
    assert_eq!(reply_err(label::READ, label::OK, &b), DecodeError::ReservedNonZero);
    assert_eq!(reply_err(label::READ, label::OK, &[]), DecodeError::BadLength { expected: 8, actual: 0 });
}

// ===========================================================================
// 6. Encoder refusals
// ===========================================================================

#[test]
fn encoders_refuse_what_decoders_would() {
    let mut out = [0u8; MAX_MSG_BYTES];
    let bad_mode = Request::Create { dir: 1, name: b"a", mode: 0o10000 };
    assert_eq!(bad_mode.encode(&mut out), Err(EncodeError::Invalid(DecodeError::BadMode(0o10000))));
    let bad_attr = Request::SetAttr { inode: 1, attrs: SetAttrs { mode: Some(u32::MAX), ..SetAttrs::default() } };
    assert_eq!(bad_attr.encode(&mut out), Err(EncodeError::Invalid(DecodeError::BadMode(u32::MAX))));
    let long_read = Request::Read { inode: 1, offset: 0, len: MAX_READ as u32 + 1 };
    assert_eq!(long_read.encode(&mut out), Err(EncodeError::Invalid(DecodeError::TooLong(MAX_READ as u32 + 1))));
    let data = [0u8; MAX_WRITE + 1];
    let long_write = Request::Write { inode: 1, offset: 0, data: &data };
    assert_eq!(long_write.encode(&mut out), Err(EncodeError::Invalid(DecodeError::TooLong(MAX_WRITE as u32 + 1))));
    // Names too long for one message.
    let name = [b'x'; MAX_MSG_BYTES];
    assert_eq!(Request::Lookup { dir: 1, name: &name }.encode(&mut out), Err(EncodeError::NoSpace));
    let half = [b'x'; 469];
    let rename = Request::Rename { old_dir: 1, old_name: &half, new_dir: 1, new_name: &half };
    assert_eq!(rename.encode(&mut out), Err(EncodeError::NoSpace));
    let huge = vec![b'x'; 70_000];
    assert_eq!(Request::Unlink { dir: 1, name: &huge }.encode(&mut out), Err(EncodeError::NoSpace));
    // Small output buffers.
    let mut small = [0u8; 8];
    assert_eq!(Request::Lookup { dir: 1, name: b"a" }.encode(&mut small), Err(EncodeError::NoSpace));
    assert_eq!(Reply::Attrs(sample_attrs()).encode(&mut small), Err(EncodeError::NoSpace));
    assert_eq!(Reply::Data(&[0; MAX_READ + 1]).encode(&mut out), Err(EncodeError::NoSpace));
    let mut bad = sample_attrs();
    bad.mode = 0o10000;
    assert_eq!(Reply::Attrs(bad).encode(&mut out), Err(EncodeError::Invalid(DecodeError::BadMode(0o10000))));
}

#[test]
fn names_are_judged_by_check_name_not_the_decoder() {
    for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"a\0b", &[b'x'; NAME_MAX + 1]] {
        assert_eq!(check_name(bad), Err(ErrorCode::InvalidName), "{bad:?}");
        // ...yet each decodes: the server answers InvalidName.
        let (l, body) = encode(&Request::Lookup { dir: 1, name: bad });
        assert_eq!(Request::decode(l, &body), Ok(Request::Lookup { dir: 1, name: bad }));
    }
    for good in [&b"a"[..], b"...", b".a", b"a.", &[b'x'; NAME_MAX], &[0xFF, 0xFE], b" "] {
        assert_eq!(check_name(good), Ok(()), "{good:?}");
    }
}

// ===========================================================================
// 7. Never panics; accepted bodies are canonical
// ===========================================================================

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..=64),
        vec(any::<u8>(), 0..=MAX_MSG_BYTES + 16),
        // Mostly-zero words, so heads decode and the tails get exercised.
        (0usize..=40, vec(any::<u8>(), 0..=8)).prop_map(|(words, head)| {
            let mut b = vec![0u8; words * 8];
            for (i, v) in head.into_iter().enumerate() {
                if i < b.len() {
                    b[i] = v;
                }
            }
            b
        }),
    ]
}

fn any_label() -> impl Strategy<Value = u32> {
    prop_oneof![8 => select(&label::REQUESTS[..]), 1 => any::<u32>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn request_decoder_never_panics_and_accepts_only_canonical_bodies(l in any_label(), body in any_body()) {
        if let Ok(req) = Request::decode(l, &body) {
            let (l2, again) = encode(&req);
            prop_assert_eq!(l2, l);
            prop_assert_eq!(again, body);
        }
    }

    #[test]
    fn reply_decoder_never_panics_and_accepts_only_canonical_bodies(
        l in any_label(),
        ok in any::<bool>(),
        body in any_body(),
    ) {
        let reply_label = if ok { label::OK } else { label::ERROR };
        if let Ok(reply) = Reply::decode(l, reply_label, &body) {
            let (l2, again) = encode_reply(&reply);
            prop_assert_eq!(l2, reply_label);
            prop_assert_eq!(again, body);
        }
    }

    #[test]
    fn one_corrupted_byte_never_panics(owned in owned_request(), at in any::<Index>(), v in any::<u8>()) {
        let (l, mut body) = encode(&owned.request());
        if !body.is_empty() {
            let i = at.index(body.len());
            body[i] = v;
        }
        if let Ok(req) = Request::decode(l, &body) {
            prop_assert_eq!(encode(&req).1, body);
        }
    }
}

#[test]
fn decode_errors_are_told_in_words_with_their_limits() {
    assert_eq!(DecodeError::BadMode(0o17777).to_string(), "mode 0o17777 has bits outside 0o7777");
    assert_eq!(
        DecodeError::TooLong(2000).to_string(),
        "2000 bytes is more than one message carries (952 read, 936 written)"
    );
    assert_eq!(ErrorCode::NoEntry.to_string(), "NoEntry");
}
