//! `Consumer::read_raw`: the ring as it is, one entry at a time, against
//! what `read` makes of the same entries.

mod common;

use common::Region;
use evq_abi::ring::RingGeometry;
use evq_ring::{EntryBuf, EntryKind, RawEntry};

const KIND: EntryKind = EntryKind { ty: 1, subtype: 0, info: 0 };

#[test]
fn read_raw_shows_loss_and_skip_entries_that_read_folds_away() {
    let g = RingGeometry::new(1).unwrap();
    let region = Region::for_geometry(g);
    let mut producer = region.producer(g);
    let mut consumer = region.attach().unwrap();
    let mut buf = EntryBuf::new();
    producer.count_lost(2);
    producer.push(KIND, &[7; 8], false).unwrap();
    assert_eq!(consumer.read_raw(&mut buf).unwrap(), Some(RawEntry::Loss { lost: 2 }));
    match consumer.read_raw(&mut buf).unwrap() {
        Some(RawEntry::Event(e)) => assert_eq!((e.header.len(), e.body, e.lost_before), (2, &[7u8; 8][..], 0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(consumer.read_raw(&mut buf).unwrap(), None);
    consumer.release();
    // 2 + 2 slots used; entries of 63 up to the end leave 4, then a skip.
    for _ in 0..8 {
        producer.push(KIND, &[0; 62 * 8], false).unwrap();
        assert!(matches!(consumer.read_raw(&mut buf).unwrap(), Some(RawEntry::Event(_))));
        consumer.release();
    }
    producer.push(KIND, &[0; 62 * 8], false).unwrap();
    assert_eq!(consumer.read_raw(&mut buf).unwrap(), Some(RawEntry::Skip { slots: 4 }));
    assert!(matches!(consumer.read_raw(&mut buf).unwrap(), Some(RawEntry::Event(e)) if e.header.len() == 63));
    // The tail moved past all of it, released only when asked.
    assert_eq!(region.tail(), 4 + 8 * 63);
    consumer.release();
    assert_eq!(region.tail(), 4 + 9 * 63 + 4);
}
