//! The SiFive UART driver against a model of the FU540's UART (FU540-C000
//! manual, "UART"): an 8-entry receive FIFO that drops bytes when full or
//! when the receiver is disabled, `rxdata` popping one entry a read with
//! bit 31 set when empty, the watermark conditions in the read-only `ip`,
//! and the interrupt line as `ip & ie`.

use std::collections::VecDeque;

use evq_device::sifive_uart::*;
use evq_device::{Mmio, RX_BUDGET};

const FIFO_DEPTH: usize = 8;

struct FakeSifive {
    rx: VecDeque<u8>,
    /// Entries in the transmit FIFO, for the `txwm` condition.
    tx_len: u32,
    txctrl: u32,
    rxctrl: u32,
    ie: u32,
    div: u32,
    /// `rxdata` never reads empty.
    stuck: bool,
    /// Set in the reserved bits 30:8 of every `rxdata` read.
    reserved_noise: u32,
    dropped: usize,
    writes: Vec<(usize, u32)>,
}

impl FakeSifive {
    /// As firmware leaves it: transmitter on with a watermark of 1, the
    /// receiver off with a watermark of 5, no interrupts, a divisor set.
    fn new() -> Self {
        Self {
            rx: VecDeque::new(),
            tx_len: 0,
            txctrl: 1 | 1 << 16,
            rxctrl: 5 << 16,
            ie: 0,
            div: 0x10F,
            stuck: false,
            reserved_noise: 0,
            dropped: 0,
            writes: Vec::new(),
        }
    }

    fn receive(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.rxctrl & RXCTRL_RXEN == 0 || self.rx.len() == FIFO_DEPTH {
                self.dropped += 1;
            } else {
                self.rx.push_back(b);
            }
        }
    }

    fn ip(&self) -> u32 {
        let txcnt = (self.txctrl >> 16) & 7;
        let rxcnt = (self.rxctrl >> 16) as usize & 7;
        let mut ip = 0;
        if self.tx_len < txcnt {
            ip |= INT_TXWM;
        }
        if self.stuck || self.rx.len() > rxcnt {
            ip |= INT_RXWM;
        }
        ip
    }

    /// The interrupt line to the PLIC.
    fn irq(&self) -> bool {
        self.ip() & self.ie != 0
    }

    fn assert_tx_side_untouched(&self) {
        for &(offset, value) in &self.writes {
            assert!(![TXDATA, TXCTRL, DIV, IP].contains(&offset), "wrote {value:#x} at {offset:#x}");
        }
        assert_eq!((self.txctrl, self.div), (1 | 1 << 16, 0x10F));
    }
}

impl Mmio for FakeSifive {
    fn read32(&mut self, offset: usize) -> u32 {
        match offset {
            TXDATA => 0,
            RXDATA => {
                if self.stuck {
                    return 0x5A | self.reserved_noise;
                }
                match self.rx.pop_front() {
                    Some(b) => u32::from(b) | self.reserved_noise,
                    None => RXDATA_EMPTY,
                }
            }
            TXCTRL => self.txctrl,
            RXCTRL => self.rxctrl,
            IE => self.ie,
            IP => self.ip(),
            DIV => self.div,
            _ => 0,
        }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        self.writes.push((offset, value));
        match offset {
            TXDATA => self.tx_len += 1,
            TXCTRL => self.txctrl = value & 0x0007_0003,
            RXCTRL => self.rxctrl = value & 0x0007_0001,
            IE => self.ie = value & 3,
            DIV => self.div = value & 0xFFFF,
            _ => {}
        }
    }
}

fn drain(fake: &mut FakeSifive) -> (usize, Vec<u8>) {
    let mut got = Vec::new();
    let n = SifiveUart::new(fake).on_interrupt(&mut |b| got.push(b));
    (n, got)
}

#[test]
fn new_touches_nothing() {
    let mut fake = FakeSifive::new();
    let _ = SifiveUart::new(&mut fake);
    assert!(fake.writes.is_empty());
}

#[test]
fn enable_sets_rxen_a_zero_watermark_and_rxwm_only() {
    let mut fake = FakeSifive::new();
    fake.ie = INT_TXWM; // stays as it was
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    assert_eq!(fake.rxctrl, RXCTRL_RXEN, "receiver on, watermark 0");
    assert_eq!(fake.ie, INT_TXWM | INT_RXWM);
    let offsets: Vec<usize> = fake.writes.iter().map(|&(o, _)| o).collect();
    assert_eq!(offsets, [RXCTRL, IE]);
    fake.assert_tx_side_untouched();
}

#[test]
fn after_enable_a_single_byte_interrupts() {
    let mut fake = FakeSifive::new();
    fake.rxctrl |= RXCTRL_RXEN;
    fake.ie = INT_RXWM;
    // The firmware's watermark of 5: one byte raises nothing, and the
    // driver would sit on it.
    fake.receive(b"a");
    assert!(!fake.irq());
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    assert!(fake.irq());
    assert_eq!(drain(&mut fake), (1, b"a".to_vec()));
    assert!(!fake.irq());
}

#[test]
fn with_the_receiver_off_nothing_arrives_until_enable() {
    let mut fake = FakeSifive::new();
    fake.receive(b"lost");
    assert_eq!(fake.dropped, 4);
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    fake.receive(b"kept");
    assert_eq!(drain(&mut fake), (4, b"kept".to_vec()));
}

#[test]
fn interrupt_drains_the_fifo_and_lowers_the_line() {
    let mut fake = FakeSifive::new();
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    assert!(!fake.irq());
    fake.receive(b"ls -l\n");
    assert!(fake.irq());
    fake.writes.clear();

    let mut uart = SifiveUart::new(&mut fake);
    let mut got = Vec::new();
    assert_eq!(uart.on_interrupt(&mut |b| got.push(b)), 6);
    assert_eq!(got, b"ls -l\n");
    assert!(!uart.rx_ready());
    assert!(!fake.irq(), "draining the FIFO lowers rxwm");
    assert!(fake.writes.is_empty(), "draining writes nothing: {:x?}", fake.writes);
    fake.assert_tx_side_untouched();
}

#[test]
fn the_fifo_holds_eight_and_a_full_one_drains_in_one_call() {
    let mut fake = FakeSifive::new();
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    fake.receive(b"0123456789");
    assert_eq!(fake.dropped, 2);
    assert_eq!(drain(&mut fake), (8, b"01234567".to_vec()));
    assert_eq!(drain(&mut fake), (0, Vec::new()));
}

#[test]
fn ie_masks_the_line_but_not_the_pending_bit() {
    let mut fake = FakeSifive::new();
    fake.rxctrl = RXCTRL_RXEN;
    fake.receive(b"x");
    assert!(!fake.irq(), "rxwm not enabled");
    let mut uart = SifiveUart::new(&mut fake);
    assert!(uart.rx_ready());
    assert!(uart.rx_ready(), "rx_ready reads ip, and takes no byte");
    assert_eq!(fake.rx.len(), 1);
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    assert!(fake.irq());
}

#[test]
fn only_the_low_byte_of_rxdata_is_the_byte() {
    let mut fake = FakeSifive::new();
    SifiveUart::new(&mut fake).enable_rx_interrupt();
    fake.reserved_noise = 0x7FFF_FF00;
    fake.receive(b"ok");
    assert_eq!(drain(&mut fake), (2, b"ok".to_vec()));
}

#[test]
fn a_stuck_device_costs_a_bounded_number_of_reads() {
    let mut fake = FakeSifive::new();
    fake.stuck = true;
    let mut uart = SifiveUart::new(&mut fake);
    let mut got = Vec::new();
    assert_eq!(uart.on_interrupt(&mut |b| got.push(b)), RX_BUDGET);
    assert_eq!(got, vec![0x5A; 64]);
    assert!(uart.rx_ready(), "still pending: the shell may call again");
}

#[test]
fn a_spurious_interrupt_reads_once_and_writes_nothing() {
    let mut fake = FakeSifive::new();
    assert_eq!(drain(&mut fake), (0, Vec::new()));
    assert!(fake.writes.is_empty());
}

#[test]
fn register_offsets_and_bits_match_the_manual() {
    assert_eq!((TXDATA, RXDATA, TXCTRL, RXCTRL, IE, IP, DIV), (0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18));
    assert_eq!((TXDATA_FULL, RXDATA_EMPTY), (1 << 31, 1 << 31));
    assert_eq!((RXCTRL_RXEN, RXCTRL_RXCNT), (1, 0x0007_0000));
    assert_eq!((INT_TXWM, INT_RXWM), (1, 2));
}
