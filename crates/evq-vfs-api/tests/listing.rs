//! `READDIR` and its `Listing` reply, as docs/protocol.md §6.3 and §6.5
//! give them: golden bytes, round trips, every check in its order, and
//! what a writer packs.

use evq_vfs_api::{label, DecodeError, Kind, ListingWriter, Reply, Request, MAX_LISTING, MAX_MSG_BYTES, NAME_MAX};
use proptest::collection::vec;
use proptest::prelude::*;

fn reply(body: &[u8]) -> Result<Reply<'_>, DecodeError> {
    Reply::decode(label::READDIR, label::OK, body)
}

/// A Listing body: the head, then the given raw entry bytes.
fn body(next: u64, count: u16, entries: &[u8]) -> Vec<u8> {
    let mut b = next.to_le_bytes().to_vec();
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(entries);
    b
}

/// One entry's bytes.
fn entry(inode: u64, kind: u8, name: &[u8]) -> Vec<u8> {
    let mut e = inode.to_le_bytes().to_vec();
    e.extend_from_slice(&(name.len() as u16).to_le_bytes());
    e.push(kind);
    e.extend_from_slice(&[0; 5]);
    e.extend_from_slice(name);
    e.resize(16 + name.len().next_multiple_of(8), 0);
    e
}

#[test]
fn golden_read_dir_and_listing_bytes() {
    let mut out = [0u8; MAX_MSG_BYTES];
    let (l, n) = Request::ReadDir { dir: 1, cookie: 7 }.encode(&mut out).unwrap();
    assert_eq!((l, &out[..n]), (0x030E, &[1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0][..]));

    let mut buf = [0u8; MAX_LISTING];
    let mut w = ListingWriter::new(&mut buf);
    assert!(w.push(2, Kind::File, b"a.txt"));
    assert!(w.push(1 << 48 | 1, Kind::Dir, b"mnt"));
    let listing = w.finish(0);
    let (l, n) = Reply::Listing(listing).encode(&mut out).unwrap();
    let mut want = body(0, 2, &entry(2, 1, b"a.txt"));
    want.extend_from_slice(&entry(1 << 48 | 1, 2, b"mnt"));
    assert_eq!((l, &out[..n]), (label::OK, &want[..]));
    assert_eq!(want.len(), 16 + 24 + 24);
    let Ok(Reply::Listing(back)) = reply(&out[..n]) else { panic!("a listing") };
    let names: Vec<(u64, Kind, &[u8])> = back.iter().map(|e| (e.inode, e.kind, e.name)).collect();
    assert_eq!(names, [(2, Kind::File, &b"a.txt"[..]), (1 << 48 | 1, Kind::Dir, &b"mnt"[..])]);
    assert!(back.is_complete() && back.len() == 2);
}

#[test]
fn a_listing_refuses_each_broken_rule_in_order() {
    let good = entry(5, 1, b"abc");
    // The head: present, reserved zero.
    assert_eq!(reply(&[0; 8]), Err(DecodeError::BadLength { expected: 16, actual: 8 }));
    let mut b = body(0, 1, &good);
    b[12] = 1;
    assert_eq!(reply(&b), Err(DecodeError::ReservedNonZero));
    // Each entry: head present, reserved, kind, name inside, padding.
    assert!(matches!(reply(&body(0, 1, &[])), Err(DecodeError::BadLength { .. })));
    let mut e = good.clone();
    e[12] = 1;
    assert_eq!(reply(&body(0, 1, &e)), Err(DecodeError::ReservedNonZero));
    let mut e = good.clone();
    e[10] = 3;
    assert_eq!(reply(&body(0, 1, &e)), Err(DecodeError::BadKind(3)));
    let mut e = good.clone();
    e[8] = 9; // a name of 9 bytes needs 16 bytes after the head
    assert!(matches!(reply(&body(0, 1, &e)), Err(DecodeError::BadLength { .. })));
    let mut e = good.clone();
    e[20] = b'x';
    assert_eq!(reply(&body(0, 1, &e)), Err(DecodeError::ReservedNonZero));
    // Then nothing left: a count short of the entries is a length error.
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert_eq!(reply(&body(0, 1, &two)), Err(DecodeError::BadLength { expected: 40, actual: 64 }));
    assert!(reply(&body(0, 2, &two)).is_ok());
    // A ReadDir body is exactly 16 bytes.
    assert_eq!(Request::decode(label::READDIR, &[0; 8]), Err(DecodeError::BadLength { expected: 16, actual: 8 }));
}

#[test]
fn a_writer_packs_what_fits_and_four_longest_names_always_do() {
    let long = [b'n'; NAME_MAX];
    let mut buf = [0u8; 1024];
    let mut w = ListingWriter::new(&mut buf);
    for i in 0..4 {
        assert!(w.push(i, Kind::File, &long), "entry {i} of the longest name fits");
    }
    assert!(!w.push(9, Kind::File, &long), "a fifth does not: 5 × 216 > {MAX_LISTING}");
    // What is left still takes a short one: 944 − 864 = 80.
    assert!(w.push(9, Kind::File, b"s"));
    assert_eq!(w.finish(3).len(), 5);
}

proptest! {
    #[test]
    fn listings_round_trip(names in vec(vec(any::<u8>(), 0..=40), 0..30), next in any::<u64>()) {
        let mut buf = [0u8; MAX_LISTING];
        let mut w = ListingWriter::new(&mut buf);
        let mut kept = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let kind = if i % 2 == 0 { Kind::File } else { Kind::Dir };
            if !w.push(i as u64, kind, n) {
                break;
            }
            kept.push((i as u64, kind, n.clone()));
        }
        let listing = w.finish(next);
        let mut out = [0u8; MAX_MSG_BYTES];
        let (l, n) = Reply::Listing(listing).encode(&mut out).unwrap();
        prop_assert_eq!(l, label::OK);
        let Ok(Reply::Listing(back)) = reply(&out[..n]) else { panic!("a listing") };
        prop_assert_eq!(back, listing);
        prop_assert_eq!(back.next(), next);
        let got: Vec<(u64, Kind, Vec<u8>)> = back.iter().map(|e| (e.inode, e.kind, e.name.to_vec())).collect();
        prop_assert_eq!(got, kept);
    }
}
