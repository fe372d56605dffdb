//! The PL011 driver against a model of the chip's receive side and
//! interrupt logic, as the PL011 TRM describes them.

use std::collections::VecDeque;

use evq_device::pl011::*;
use evq_device::{Mmio, RX_BUDGET};

/// A PL011 model: a receive FIFO whose entries carry the error bits of
/// `UARTDR`, raw interrupt status that follows the FIFO level (RX at the
/// trigger level, RT while the FIFO is non-empty and the line idle), the
/// mask, and every register the driver must not touch, with a log of writes.
struct FakePl011 {
    fifo: VecDeque<u32>,
    depth: usize,
    trigger: usize,
    ris: u32,
    imsc: u32,
    cr: u32,
    lcr_h: u32,
    ibrd: u32,
    fbrd: u32,
    ifls: u32,
    /// Reports data forever, as a broken device might.
    stuck: bool,
    /// Bytes that arrive just as `UARTICR` is written (before it applies).
    arrive_on_icr: Vec<u8>,
    writes: Vec<(usize, u32)>,
}

impl FakePl011 {
    fn new() -> Self {
        Self {
            fifo: VecDeque::new(),
            depth: 32,
            trigger: 16, // UARTIFLS reset value 0x12: 1/2 full
            ris: 0,
            imsc: 0,
            cr: 0x301,   // UARTEN | TXE | RXE
            lcr_h: 0x70, // 8 bits, FIFOs on
            ibrd: 13,
            fbrd: 1,
            ifls: 0x12,
            stuck: false,
            arrive_on_icr: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// A burst of bytes arrives, then the line goes idle long enough for
    /// the receive timeout.
    fn receive(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.receive_word(u32::from(b));
        }
    }

    fn receive_word(&mut self, word: u32) {
        if self.fifo.len() == self.depth {
            // Overrun: the byte is lost, the next one read says so.
            if let Some(last) = self.fifo.back_mut() {
                *last |= DR_OE;
            }
        } else {
            self.fifo.push_back(word);
        }
        if self.fifo.len() >= self.trigger {
            self.ris |= INT_RX;
        }
        self.ris |= INT_RT;
    }

    fn irq(&self) -> bool {
        self.ris & self.imsc != 0
    }

    fn wrote(&self, offset: usize) -> bool {
        self.writes.iter().any(|&(o, _)| o == offset)
    }

    fn assert_line_settings_untouched(&self) {
        for offset in [UARTDR, UARTRSR, UARTIBRD, UARTFBRD, UARTLCR_H, UARTCR, UARTIFLS] {
            assert!(!self.wrote(offset), "wrote register {offset:#x}: {:x?}", self.writes);
        }
        assert_eq!((self.cr, self.lcr_h, self.ibrd, self.fbrd, self.ifls), (0x301, 0x70, 13, 1, 0x12));
    }
}

impl Mmio for FakePl011 {
    fn read32(&mut self, offset: usize) -> u32 {
        match offset {
            UARTDR => {
                if self.stuck {
                    return 0x41;
                }
                let word = self.fifo.pop_front().unwrap_or(0);
                if self.fifo.len() < self.trigger {
                    self.ris &= !INT_RX;
                }
                if self.fifo.is_empty() {
                    self.ris &= !INT_RT;
                }
                word
            }
            UARTFR => {
                let empty = self.fifo.is_empty() && !self.stuck;
                (if empty { FR_RXFE } else { 0 }) | (1 << 7) // TXFE
            }
            UARTIBRD => self.ibrd,
            UARTFBRD => self.fbrd,
            UARTLCR_H => self.lcr_h,
            UARTCR => self.cr,
            UARTIFLS => self.ifls,
            UARTIMSC => self.imsc,
            UARTRIS => self.ris,
            UARTMIS => self.ris & self.imsc,
            _ => 0,
        }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        self.writes.push((offset, value));
        match offset {
            UARTIMSC => self.imsc = value & 0x7FF,
            UARTICR => {
                for b in std::mem::take(&mut self.arrive_on_icr) {
                    self.receive(&[b]);
                }
                self.ris &= !value;
            }
            UARTCR => self.cr = value,
            UARTLCR_H => self.lcr_h = value,
            UARTIBRD => self.ibrd = value,
            UARTFBRD => self.fbrd = value,
            UARTIFLS => self.ifls = value,
            _ => {}
        }
    }
}

fn drain(uart: &mut Pl011<&mut FakePl011>) -> (usize, Vec<u8>) {
    let mut got = Vec::new();
    let n = uart.on_interrupt(&mut |b| got.push(b));
    (n, got)
}

#[test]
fn enable_unmasks_rx_and_rt_only() {
    let mut fake = FakePl011::new();
    fake.imsc = INT_TX; // someone else's interrupt stays unmasked
    Pl011::new(&mut fake).enable_rx_interrupt();
    assert_eq!(fake.imsc, INT_TX | INT_RX | INT_RT);
    assert_eq!(fake.imsc & (1 << 4), 1 << 4, "RXIM is bit 4");
    assert_eq!(fake.imsc & (1 << 6), 1 << 6, "RTIM is bit 6");
    assert!(fake.writes.iter().all(|&(o, _)| o == UARTIMSC));
    assert_eq!(UARTIMSC, 0x038);
    fake.assert_line_settings_untouched();
}

#[test]
fn new_touches_nothing() {
    let mut fake = FakePl011::new();
    let _ = Pl011::new(&mut fake);
    assert!(fake.writes.is_empty());
}

#[test]
fn interrupt_drains_fifo_and_clears_interrupts() {
    let mut fake = FakePl011::new();
    Pl011::new(&mut fake).enable_rx_interrupt();
    fake.receive(b"hello\r");
    assert!(fake.irq(), "a short burst raises the receive timeout");
    fake.writes.clear();

    let mut uart = Pl011::new(&mut fake);
    let (n, got) = drain(&mut uart);
    assert_eq!((n, got.as_slice()), (6, &b"hello\r"[..]));
    assert!(!uart.rx_ready());
    assert!(fake.fifo.is_empty());
    assert_eq!(fake.ris & (INT_RX | INT_RT), 0);
    assert!(!fake.irq());
    assert_eq!(fake.writes, vec![(UARTICR, INT_RX | INT_RT)]);
    fake.assert_line_settings_untouched();
}

#[test]
fn full_fifo_at_trigger_level_is_drained() {
    let mut fake = FakePl011::new();
    Pl011::new(&mut fake).enable_rx_interrupt();
    let bytes: Vec<u8> = (0..32).collect();
    fake.receive(&bytes);
    assert_eq!(fake.ris & INT_RX, INT_RX);
    let (n, got) = drain(&mut Pl011::new(&mut fake));
    assert_eq!(n, 32);
    assert_eq!(got, bytes);
    assert!(!fake.irq());
}

#[test]
fn at_most_64_bytes_per_call_and_the_rest_stays_pending() {
    let mut fake = FakePl011::new();
    fake.depth = 200; // a deeper FIFO than the PL011's, to exceed the budget
    Pl011::new(&mut fake).enable_rx_interrupt();
    let bytes: Vec<u8> = (0..100).collect();
    fake.receive(&bytes);
    fake.writes.clear();

    let mut uart = Pl011::new(&mut fake);
    let (n, first) = drain(&mut uart);
    assert_eq!(n, RX_BUDGET);
    assert_eq!(n, 64);
    assert!(uart.rx_ready());
    assert!(!fake.wrote(UARTICR), "interrupts must stay pending for the bytes left");
    assert!(fake.irq());

    let (n, second) = drain(&mut Pl011::new(&mut fake));
    assert_eq!(n, 36);
    assert_eq!([first, second].concat(), bytes);
    assert!(!fake.irq());
    assert!(fake.wrote(UARTICR));
}

#[test]
fn stuck_device_costs_a_bounded_number_of_reads() {
    let mut fake = FakePl011::new();
    fake.stuck = true;
    let (n, got) = drain(&mut Pl011::new(&mut fake));
    assert_eq!(n, 64);
    assert_eq!(got, vec![0x41; 64]);
}

#[test]
fn byte_arriving_as_interrupts_are_cleared_is_not_stranded() {
    let mut fake = FakePl011::new();
    Pl011::new(&mut fake).enable_rx_interrupt();
    fake.receive(b"ab");
    fake.arrive_on_icr = b"c".to_vec();
    let (n, got) = drain(&mut Pl011::new(&mut fake));
    assert_eq!((n, got.as_slice()), (3, &b"abc"[..]));
    assert!(fake.fifo.is_empty());
    assert!(!fake.irq());
}

#[test]
fn spurious_interrupt_reads_nothing_and_clears() {
    let mut fake = FakePl011::new();
    fake.ris = INT_RT;
    let (n, got) = drain(&mut Pl011::new(&mut fake));
    assert_eq!(n, 0);
    assert!(got.is_empty());
    assert_eq!(fake.ris, 0);
}

#[test]
fn error_bytes_are_dropped_and_counted() {
    let mut fake = FakePl011::new();
    fake.receive_word(u32::from(b'a'));
    fake.receive_word(u32::from(b'x') | DR_FE);
    fake.receive_word(u32::from(b'y') | DR_PE);
    fake.receive_word(DR_BE);
    fake.receive_word(u32::from(b'b') | DR_OE);
    let mut uart = Pl011::new(&mut fake);
    let (n, got) = drain(&mut uart);
    assert_eq!((n, got.as_slice()), (2, &b"ab"[..]));
    assert_eq!(uart.errors(), 3);
    assert_eq!(uart.overruns(), 1);
}

#[test]
fn register_offsets_match_the_trm() {
    assert_eq!((UARTDR, UARTFR, UARTIMSC, UARTICR), (0x000, 0x018, 0x038, 0x044));
    assert_eq!((FR_RXFE, INT_RX, INT_RT), (1 << 4, 1 << 4, 1 << 6));
}

#[test]
fn get_mut_and_into_inner_give_the_registers() {
    let mut uart = Pl011::new(FakePl011::new());
    uart.get_mut().receive(b"z");
    let fake = uart.into_inner();
    assert_eq!(fake.fifo.len(), 1);
}
