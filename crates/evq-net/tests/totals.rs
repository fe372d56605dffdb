//! Readings of a NIC's (or the kernel's) running totals become RX and TX
//! events for what moved between them.

use evq_abi::event::{network, Category, CountersPayload};
use evq_net::{Interface, Totals};
use zerocopy::FromBytes;

fn t(packets: u64, bytes: u64) -> Totals {
    Totals { packets, bytes }
}

/// `(kind, packets, bytes)` of each event a reading yields.
fn read(i: &mut Interface, rx: Totals, tx: Totals) -> Vec<(u8, u64, u64)> {
    i.totals(rx, tx)
        .map(|e| {
            assert_eq!((e.category, e.object_id), (Category::Network, 4));
            assert!(e.check().is_ok());
            let c = CountersPayload::read_from_bytes(e.payload).unwrap();
            (e.kind, c.packets.get(), c.bytes.get())
        })
        .collect()
}

#[test]
fn the_first_reading_is_the_baseline() {
    let mut i = Interface::new(4);
    assert_eq!(read(&mut i, t(1000, 64_000), t(7, 700)), vec![]);
    assert_eq!((i.rx_total().packets.get(), i.tx_total().packets.get()), (0, 0));
}

#[test]
fn each_reading_reports_what_moved_since_the_last_rx_first() {
    let mut i = Interface::new(4);
    read(&mut i, t(10, 1000), t(5, 500));
    assert_eq!(read(&mut i, t(14, 1240), t(6, 542)), vec![(network::RX, 4, 240), (network::TX, 1, 42)]);
    // Only the direction that moved.
    assert_eq!(read(&mut i, t(16, 1360), t(6, 542)), vec![(network::RX, 2, 120)]);
    assert_eq!(read(&mut i, t(16, 1360), t(9, 700)), vec![(network::TX, 3, 158)]);
    // Nothing moved: nothing to say.
    assert_eq!(read(&mut i, t(16, 1360), t(9, 700)), vec![]);
    assert_eq!((i.rx_total().packets.get(), i.rx_total().bytes.get()), (6, 360));
    assert_eq!((i.tx_total().packets.get(), i.tx_total().bytes.get()), (4, 200));
}

#[test]
fn counters_that_wrap_are_counted_across_the_wrap() {
    let mut i = Interface::new(4);
    read(&mut i, t(u64::MAX - 1, u64::MAX - 99), t(0, 0));
    assert_eq!(read(&mut i, t(2, 100), t(0, 0)), vec![(network::RX, 4, 200)]);
}
