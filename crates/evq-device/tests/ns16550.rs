//! The 16550 driver against a model of the chip (PC16550D datasheet): the
//! divisor latch behind `LCR.DLAB`, a receive FIFO with per-byte line
//! status, and the interrupt output gated by OUT2 onto an edge-triggered
//! PC IRQ line.

use std::collections::VecDeque;

use evq_device::ns16550::*;
use evq_device::{PortIo, RX_BUDGET};

struct Fake16550 {
    /// Bytes with the LSR error bits (PE, FE, BI) that come with each.
    fifo: VecDeque<(u8, u8)>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    dll: u8,
    dlm: u8,
    overrun: bool,
    stuck: bool,
    writes: Vec<(u16, u8)>,
    /// The IRQ line as the interrupt controller sees it, and its rising edges.
    line: bool,
    edges: u32,
}

impl Fake16550 {
    fn new() -> Self {
        // 115200 8N1 as firmware leaves it, DTR and RTS on, no interrupts.
        Self {
            fifo: VecDeque::new(),
            ier: 0,
            lcr: 0x03,
            mcr: MCR_DTR | MCR_RTS,
            dll: 1,
            dlm: 0,
            overrun: false,
            stuck: false,
            writes: Vec::new(),
            line: false,
            edges: 0,
        }
    }

    fn receive(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.fifo.push_back((b, 0));
        }
        self.update_line();
    }

    fn receive_with_status(&mut self, byte: u8, status: u8) {
        self.fifo.push_back((byte, status));
        self.update_line();
    }

    fn data_ready(&self) -> bool {
        self.stuck || !self.fifo.is_empty()
    }

    fn update_line(&mut self) {
        let intr = self.ier & IER_RDA != 0 && self.data_ready();
        let line = intr && self.mcr & MCR_OUT2 != 0;
        if line && !self.line {
            self.edges += 1;
        }
        self.line = line;
    }

    fn wrote(&self, offset: u16) -> bool {
        self.writes.iter().any(|&(o, _)| o == offset)
    }

    fn assert_line_settings_untouched(&self) {
        assert_eq!((self.dll, self.dlm), (1, 0), "baud rate changed");
        assert_eq!(self.lcr & !LCR_DLAB, 0x03, "word format changed");
        assert!(!self.wrote(THR), "wrote THR/DLL: {:x?}", self.writes);
        assert!(!self.wrote(FCR), "wrote FCR: {:x?}", self.writes);
    }
}

impl PortIo for Fake16550 {
    fn inb(&mut self, offset: u16) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        let v = match offset {
            0 if dlab => self.dll,
            1 if dlab => self.dlm,
            RBR => {
                if self.stuck {
                    0x5A
                } else {
                    self.fifo.pop_front().map_or(0, |(b, _)| b)
                }
            }
            IER => self.ier,
            IIR => {
                if self.ier & IER_RDA != 0 && self.data_ready() {
                    0xC4
                } else {
                    0xC1
                }
            }
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => {
                let mut lsr = LSR_THRE | (1 << 6);
                if self.data_ready() {
                    lsr |= LSR_DR;
                }
                if let Some(&(_, status)) = self.fifo.front() {
                    lsr |= status;
                }
                if std::mem::take(&mut self.overrun) {
                    lsr |= LSR_OE;
                }
                lsr
            }
            _ => 0,
        };
        self.update_line();
        v
    }

    fn outb(&mut self, offset: u16, value: u8) {
        self.writes.push((offset, value));
        let dlab = self.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.dll = value,
            1 if dlab => self.dlm = value,
            IER => self.ier = value & 0x0F,
            LCR => self.lcr = value,
            MCR => self.mcr = value & 0x1F,
            _ => {}
        }
        self.update_line();
    }
}

fn drain(uart: &mut Ns16550<&mut Fake16550>) -> (usize, Vec<u8>) {
    let mut got = Vec::new();
    let n = uart.on_interrupt(&mut |b| got.push(b));
    (n, got)
}

#[test]
fn enable_sets_rda_and_out2_only() {
    let mut fake = Fake16550::new();
    fake.ier = IER_MS; // stays enabled
    Ns16550::new(&mut fake).enable_rx_interrupt();
    assert_eq!(fake.ier, IER_MS | IER_RDA);
    assert_eq!(fake.mcr, MCR_DTR | MCR_RTS | MCR_OUT2);
    assert_eq!(MCR_OUT2, 1 << 3);
    assert_eq!(fake.lcr, 0x03);
    assert!(!fake.wrote(LCR), "DLAB was clear; LCR needs no write");
    fake.assert_line_settings_untouched();
}

#[test]
fn enable_with_dlab_set_does_not_write_the_divisor() {
    let mut fake = Fake16550::new();
    fake.lcr = 0x83;
    Ns16550::new(&mut fake).enable_rx_interrupt();
    assert_eq!(fake.lcr, 0x03, "DLAB cleared, word format kept");
    assert_eq!(fake.ier, IER_RDA);
    fake.assert_line_settings_untouched();
}

#[test]
fn new_touches_nothing() {
    let mut fake = Fake16550::new();
    let _ = Ns16550::new(&mut fake);
    assert!(fake.writes.is_empty());
}

#[test]
fn interrupt_drains_fifo_and_drops_the_line() {
    let mut fake = Fake16550::new();
    Ns16550::new(&mut fake).enable_rx_interrupt();
    assert!(!fake.line);
    fake.receive(b"ls -l\n");
    assert!(fake.line);
    assert_eq!(fake.edges, 1);
    fake.writes.clear();

    let mut uart = Ns16550::new(&mut fake);
    let (n, got) = drain(&mut uart);
    assert_eq!((n, got.as_slice()), (6, &b"ls -l\n"[..]));
    assert!(!uart.rx_ready());
    assert!(fake.fifo.is_empty());
    assert!(!fake.line, "reading the data clears the interrupt");
    assert!(fake.writes.is_empty(), "draining writes nothing: {:x?}", fake.writes);
    fake.assert_line_settings_untouched();
}

#[test]
fn without_out2_the_irq_never_reaches_the_pc() {
    let mut fake = Fake16550::new();
    fake.ier = IER_RDA;
    fake.receive(b"x");
    assert!(!fake.line);
    Ns16550::new(&mut fake).enable_rx_interrupt();
    assert!(fake.line);
}

#[test]
fn at_most_64_bytes_per_call_and_a_fresh_edge_for_the_rest() {
    let mut fake = Fake16550::new();
    Ns16550::new(&mut fake).enable_rx_interrupt();
    let bytes: Vec<u8> = (0..100).collect();
    fake.receive(&bytes);
    assert_eq!(fake.edges, 1);

    let mut uart = Ns16550::new(&mut fake);
    let (n, first) = drain(&mut uart);
    assert_eq!(n, RX_BUDGET);
    assert_eq!(n, 64);
    assert!(uart.rx_ready());
    assert!(fake.line);
    assert_eq!(fake.edges, 2, "the line must rise again for an edge-triggered IRQ");
    assert_eq!(fake.ier, IER_RDA, "IER restored");

    let (n, second) = drain(&mut Ns16550::new(&mut fake));
    assert_eq!(n, 36);
    assert_eq!([first, second].concat(), bytes);
    assert!(!fake.line);
    assert_eq!(fake.edges, 2);
    fake.assert_line_settings_untouched();
}

#[test]
fn stuck_device_costs_a_bounded_number_of_reads() {
    let mut fake = Fake16550::new();
    fake.stuck = true;
    let (n, got) = drain(&mut Ns16550::new(&mut fake));
    assert_eq!(n, 64);
    assert_eq!(got, vec![0x5A; 64]);
}

#[test]
fn spurious_interrupt_reads_nothing() {
    let mut fake = Fake16550::new();
    let (n, got) = drain(&mut Ns16550::new(&mut fake));
    assert_eq!(n, 0);
    assert!(got.is_empty());
    assert!(!fake.wrote(IER));
}

#[test]
fn error_bytes_are_dropped_and_counted() {
    let mut fake = Fake16550::new();
    fake.receive(b"a");
    fake.receive_with_status(b'x', LSR_PE);
    fake.receive_with_status(b'y', LSR_FE);
    fake.receive_with_status(0, LSR_BI | LSR_FE);
    fake.receive(b"b");
    fake.overrun = true;
    let mut uart = Ns16550::new(&mut fake);
    let (n, got) = drain(&mut uart);
    assert_eq!((n, got.as_slice()), (2, &b"ab"[..]));
    assert_eq!(uart.errors(), 3);
    assert_eq!(uart.overruns(), 1);
}

#[test]
fn register_offsets_match_the_datasheet() {
    assert_eq!((RBR, THR, IER, IIR, FCR, LCR, MCR, LSR), (0, 0, 1, 2, 2, 3, 4, 5));
    assert_eq!((IER_RDA, LSR_DR, LCR_DLAB), (1, 1, 0x80));
}
