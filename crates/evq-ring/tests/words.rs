//! Every error the ring reports says what is wrong in words: a shell logs
//! them as they are (a source's ring cut off, a client's ring refused), so
//! none may come out as a Rust `Debug` dump.

use evq_abi::ring::{ControlError, HeaderError, RingGeometry, RingSizeError};
use evq_ring::{AttachError, PushError, ReadError, RegionError};

fn assert_words(said: String, must_say: &str) {
    assert!(said.contains(must_say), "{said:?} does not say {must_say:?}");
    for debug_mark in ["{", "}", "::", "Error", "Bad", "Corrupt"] {
        assert!(!said.contains(debug_mark), "{said:?} reads like a Debug dump ({debug_mark:?})");
    }
}

#[test]
fn read_errors_say_where_and_what() {
    assert_words(ReadError::CorruptHead { head: 100_000, tail: 6 }.to_string(), "head 100000 is impossible");
    assert_words(
        ReadError::BadHeader { tail: 3, error: HeaderError::ReservedBits }.to_string(),
        "header at 3 is malformed: it sets reserved info bits",
    );
    assert_words(ReadError::BadLength { tail: 9, len: 40 }.to_string(), "claims 40 slots");
    assert_words(ReadError::BadMeta { tail: 2 }.to_string(), "malformed skip or loss entry");
}

#[test]
fn attach_errors_say_what_the_control_page_gets_wrong() {
    assert_words(AttachError::BadRegion.to_string(), "shorter than a control page");
    assert_words(AttachError::Control(ControlError::BadMagic(0x1234)).to_string(), "magic is 0x00001234");
    assert_words(AttachError::Control(ControlError::BadVersion(9)).to_string(), "ABI version is 9");
    assert_words(AttachError::Control(ControlError::BadSlotCount(7)).to_string(), "claims 7 slots");
    assert_words(AttachError::Control(ControlError::BadDataOffset(8)).to_string(), "starts at 8");
    assert_words(
        AttachError::Read(ReadError::CorruptHead { head: 5, tail: 1 }).to_string(),
        "head 5 is impossible against the tail 1",
    );
}

#[test]
fn producer_and_size_errors_say_what_to_do() {
    assert_words(
        RegionError::TooSmall { needed: 8192, given: 4096 }.to_string(),
        "4096 bytes, and the ring needs 8192",
    );
    assert_words(RegionError::Misaligned.to_string(), "not 8-byte aligned");
    assert_words(PushError::Full.to_string(), "dropped and counted");
    assert_words(PushError::CorruptTail { head: 4, tail: 90 }.to_string(), "tail 90 is impossible");
    let refused = RingGeometry::new(3).unwrap_err();
    assert_eq!(refused, RingSizeError::BadPageCount(3));
    assert_words(refused.to_string(), "3 pages is not a ring size: give a power of two from 1 to 64");
}
