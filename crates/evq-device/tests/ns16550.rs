//! The 16550 driver against a model of the chip (PC16550D datasheet): the
//! divisor latch behind `LCR.DLAB`, a receive FIFO with per-byte line
//! status, and the interrupt output gated by OUT2 onto an edge-triggered
//! PC IRQ line; and the same model memory-mapped, its eight registers
//! spread over a device frame as QEMU virt (bytes), DesignWare UARTs and
//! the Raspberry Pi's mini UART (words) lay them out, reached through
//! `MmioPorts`.

use std::collections::VecDeque;

use evq_device::ns16550::*;
use evq_device::{Mmio, Mmio8, PortIo, RX_BUDGET};

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

/// One access the adapter made to the device frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read8(usize),
    Write8(usize, u8),
    Read32(usize),
    Write32(usize, u32),
}

impl Access {
    fn offset(self) -> usize {
        match self {
            Access::Read8(o) | Access::Write8(o, _) | Access::Read32(o) | Access::Write32(o, _) => o,
        }
    }

    fn is_word(self) -> bool {
        matches!(self, Access::Read32(_) | Access::Write32(..))
    }
}

/// The port model mapped into a frame: register `n` at byte
/// `base + (n << shift)`. Records every access; an access anywhere else
/// reaches no register (reads 0). Word reads carry junk in the reserved
/// upper 24 bits, as a bus with wider registers may.
struct MappedFake {
    chip: Fake16550,
    base: usize,
    shift: u32,
    accesses: Vec<Access>,
}

impl MappedFake {
    fn new(base: usize, shift: u32) -> Self {
        Self { chip: Fake16550::new(), base, shift, accesses: Vec::new() }
    }

    fn register(&self, offset: usize) -> Option<u16> {
        let rel = offset.checked_sub(self.base)?;
        let stride = 1usize << self.shift;
        (rel % stride == 0 && rel / stride < 8).then(|| (rel / stride) as u16)
    }

    /// Every access was of the layout's width, to one of its 8 registers.
    fn assert_only_layout_accesses(&self, words: bool) {
        for &a in &self.accesses {
            assert_eq!(a.is_word(), words, "wrong access width: {a:x?}");
            assert!(self.register(a.offset()).is_some(), "not a register of the layout: {a:x?}");
            if words {
                assert_eq!(a.offset() % 4, 0, "unaligned word: {a:x?}");
            }
            if let Access::Write32(_, v) = a {
                assert_eq!(v >> 8, 0, "reserved bits written: {a:x?}");
            }
        }
    }

    fn offsets(&self) -> Vec<usize> {
        self.accesses.iter().map(|a| a.offset()).collect()
    }
}

impl Mmio8 for MappedFake {
    fn read8(&mut self, offset: usize) -> u8 {
        self.accesses.push(Access::Read8(offset));
        self.register(offset).map_or(0, |n| self.chip.inb(n))
    }

    fn write8(&mut self, offset: usize, value: u8) {
        self.accesses.push(Access::Write8(offset, value));
        if let Some(n) = self.register(offset) {
            self.chip.outb(n, value);
        }
    }
}

impl Mmio for MappedFake {
    fn read32(&mut self, offset: usize) -> u32 {
        self.accesses.push(Access::Read32(offset));
        self.register(offset).map_or(0, |n| 0xA5A5_A500 | u32::from(self.chip.inb(n)))
    }

    fn write32(&mut self, offset: usize, value: u32) {
        self.accesses.push(Access::Write32(offset, value));
        if let Some(n) = self.register(offset) {
            self.chip.outb(n, value as u8);
        }
    }
}

#[test]
fn qemu_virt_s_uart_is_driven_by_bytes_at_consecutive_offsets() {
    let mut fake = MappedFake::new(0, 0);
    Ns16550::new(MmioPorts::bytes(&mut fake, 0, 0)).enable_rx_interrupt();
    assert_eq!(fake.chip.ier, IER_RDA);
    assert_eq!(fake.chip.mcr, MCR_DTR | MCR_RTS | MCR_OUT2);
    // LCR (3) read, IER (1) read and written, MCR (4) read and written.
    assert_eq!(
        fake.accesses,
        [
            Access::Read8(3),
            Access::Read8(1),
            Access::Write8(1, IER_RDA),
            Access::Read8(4),
            Access::Write8(4, MCR_DTR | MCR_RTS | MCR_OUT2),
        ]
    );

    fake.chip.receive(b"uname -a\n");
    assert!(fake.chip.line);
    let mut got = Vec::new();
    let mut uart = Ns16550::new(MmioPorts::bytes(&mut fake, 0, 0));
    assert_eq!(uart.on_interrupt(&mut |b| got.push(b)), 9);
    assert_eq!(got, b"uname -a\n");
    assert!(!uart.rx_ready());
    assert!(!fake.chip.line, "reading the data clears the interrupt");
    fake.assert_only_layout_accesses(false);
    assert!(fake.offsets().iter().all(|&o| o < 8));
    fake.chip.assert_line_settings_untouched();
}

#[test]
fn the_pi_s_mini_uart_is_driven_by_words_from_0x40() {
    let mut fake = MappedFake::new(BCM2835_AUX_MU_BASE, 2);
    let ports = MmioPorts::words(&mut fake, BCM2835_AUX_MU_BASE, 2);
    // The mini UART's registers, as the BCM2711 manual places them.
    let at: Vec<Option<usize>> = [RBR, IER, IIR, LCR, MCR, LSR].iter().map(|&r| ports.register_offset(r)).collect();
    assert_eq!(at, [Some(0x40), Some(0x44), Some(0x48), Some(0x4C), Some(0x50), Some(0x54)]);

    let mut uart = Ns16550::new(ports);
    uart.enable_rx_interrupt();
    assert_eq!(fake.chip.ier, IER_RDA);
    assert_eq!(fake.offsets(), [0x4C, 0x44, 0x44, 0x50, 0x50]);

    fake.chip.receive(b"ok\n");
    fake.accesses.clear();
    let mut got = Vec::new();
    let mut uart = Ns16550::new(MmioPorts::words(&mut fake, BCM2835_AUX_MU_BASE, 2));
    assert_eq!(uart.on_interrupt(&mut |b| got.push(b)), 3);
    // The junk in the upper bits of each word read is not part of the byte.
    assert_eq!(got, b"ok\n");
    // LSR then the data register, per byte, then the LSR that reads empty.
    assert_eq!(fake.offsets(), [0x54, 0x40, 0x54, 0x40, 0x54, 0x40, 0x54]);
    fake.assert_only_layout_accesses(true);
    fake.chip.assert_line_settings_untouched();
}

#[test]
fn a_designware_layout_keeps_the_budget_and_the_fresh_edge() {
    let mut fake = MappedFake::new(0, 2);
    Ns16550::new(MmioPorts::words(&mut fake, 0, 2)).enable_rx_interrupt();
    let bytes: Vec<u8> = (0..100).collect();
    fake.chip.receive(&bytes);
    assert_eq!(fake.chip.edges, 1);

    let mut first = Vec::new();
    assert_eq!(Ns16550::new(MmioPorts::words(&mut fake, 0, 2)).on_interrupt(&mut |b| first.push(b)), RX_BUDGET);
    assert_eq!(fake.chip.edges, 2, "IER toggled through its word at 0x04");
    assert_eq!(fake.chip.ier, IER_RDA);
    let mut second = Vec::new();
    assert_eq!(Ns16550::new(MmioPorts::words(&mut fake, 0, 2)).on_interrupt(&mut |b| second.push(b)), 36);
    assert_eq!([first, second].concat(), bytes);
    fake.assert_only_layout_accesses(true);
    fake.chip.assert_line_settings_untouched();
}

#[test]
fn a_port_number_beyond_the_eight_reaches_nothing() {
    // On the mini UART, register 8 would be AUX_MU_CNTL_REG at 0x60, the
    // receiver and transmitter enables.
    let mut fake = MappedFake::new(BCM2835_AUX_MU_BASE, 2);
    let mut ports = MmioPorts::words(&mut fake, BCM2835_AUX_MU_BASE, 2);
    assert_eq!(ports.register_offset(SCR), Some(0x5C));
    for n in [REGISTERS, 9, 0x100, u16::MAX] {
        assert_eq!(ports.register_offset(n), None);
        assert_eq!(ports.inb(n), 0xFF);
        ports.outb(n, 0);
    }
    assert!(fake.accesses.is_empty(), "{:x?}", fake.accesses);

    let mut fake = MappedFake::new(0, 0);
    let mut ports = MmioPorts::bytes(&mut fake, 0, 0);
    assert_eq!(ports.inb(REGISTERS), 0xFF);
    ports.outb(REGISTERS, 0x55);
    assert!(fake.accesses.is_empty(), "{:x?}", fake.accesses);
}

#[test]
fn registers_past_the_page_or_unaligned_are_not_reached() {
    // Bytes from 0xFFC: registers 0 to 3 fit, 4 to 7 would be past the page.
    let mut fake = MappedFake::new(0xFFC, 0);
    let mut ports = MmioPorts::bytes(&mut fake, 0xFFC, 0);
    assert_eq!(ports.register_offset(3), Some(0xFFF));
    assert_eq!(ports.register_offset(4), None);
    ports.inb(3);
    assert_eq!(ports.inb(LSR), 0xFF);
    ports.outb(MCR, 0xFF);
    assert_eq!(fake.accesses, [Access::Read8(0xFFF)]);

    // Words from 0xFF0: register 3's word ends at the page's end; 4 is past it.
    let ports = MmioPorts::words(MappedFake::new(0xFF0, 2), 0xFF0, 2);
    assert_eq!(ports.register_offset(3), Some(0xFFC));
    assert_eq!(ports.register_offset(4), None);
    // A word register must be 4-byte aligned, as Mmio promises the shell.
    let ports = MmioPorts::words(MappedFake::new(0x41, 2), 0x41, 2);
    assert_eq!(ports.register_offset(0), None);
    let ports = MmioPorts::words(MappedFake::new(0, 1), 0, 1);
    assert_eq!(ports.register_offset(1), None);
    assert_eq!(ports.register_offset(2), Some(4));
    // Layouts whose arithmetic overflows reach nothing and do not panic.
    let mut ports = MmioPorts::bytes(MappedFake::new(0, 0), usize::MAX, 0);
    assert_eq!((ports.register_offset(0), ports.register_offset(1)), (None, None));
    assert_eq!(ports.inb(1), 0xFF);
    let ports = MmioPorts::bytes(MappedFake::new(0, 0), 0, usize::BITS - 1);
    assert_eq!((ports.register_offset(0), ports.register_offset(1)), (Some(0), None));
    for shift in [usize::BITS, u32::MAX] {
        let mut ports = MmioPorts::bytes(MappedFake::new(0, 0), 0, shift);
        assert_eq!(ports.inb(7), 0xFF);
        ports.outb(1, 0);
        assert!(ports.into_inner().accesses.is_empty());
    }
}

#[test]
fn a_layout_off_the_page_costs_bounded_accesses_and_yields_no_bytes() {
    // LSR falls past the page and reads 0xFF: "data ready", with every
    // error bit set. The driver must neither loop nor hand out the bytes.
    let mut fake = MappedFake::new(0xFFC, 0);
    fake.chip.receive(b"abc");
    let mut uart = Ns16550::new(MmioPorts::bytes(&mut fake, 0xFFC, 0));
    let mut got = Vec::new();
    assert_eq!(uart.on_interrupt(&mut |b| got.push(b)), 0);
    assert!(got.is_empty());
    assert_eq!(uart.errors(), RX_BUDGET as u32);
    assert!(fake.accesses.len() <= 2 * RX_BUDGET + 4, "{} accesses", fake.accesses.len());
    assert!(fake.offsets().iter().all(|&o| o < FRAME_SIZE));
}
