//! Grouping UART bytes into input events.

/// The most bytes one input event carries.
///
/// Well under the ABI's `MAX_PAYLOAD` (464): a short event takes few ring
/// slots, and a line typed at a terminal rarely needs more.
pub const MAX_INPUT: usize = 64;

/// Groups input bytes into events: a chunk ends at `'\r'` or `'\n'` (the
/// terminator is not included; an empty line gives no event) or when it
/// reaches [`MAX_INPUT`] bytes.
///
/// So CR, LF and CRLF line ends all give one event per line, and a line of
/// exactly [`MAX_INPUT`] bytes gives one event, not a second empty one. Other
/// bytes, control characters and NUL included, are passed through as they
/// are: the assembler frames input, it does not interpret it.
#[derive(Clone, Debug)]
pub struct LineAssembler {
    buf: [u8; MAX_INPUT],
    len: usize,
    // The chunk last returned is still borrowed by the caller when `push`
    // returns, so it is discarded at the start of the next call instead.
    emitted: bool,
}

impl Default for LineAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl LineAssembler {
    /// An assembler holding no bytes.
    pub const fn new() -> Self {
        Self { buf: [0; MAX_INPUT], len: 0, emitted: false }
    }

    /// Feeds one byte; returns `Some(line)` when a chunk is complete.
    pub fn push(&mut self, byte: u8) -> Option<&[u8]> {
        self.discard_emitted();
        if byte == b'\r' || byte == b'\n' {
            return self.emit();
        }
        // `len < MAX_INPUT` here: a full buffer was emitted and discarded.
        self.buf[self.len] = byte;
        self.len += 1;
        if self.len == MAX_INPUT {
            self.emit()
        } else {
            None
        }
    }

    /// Ends the chunk early, returning the bytes held if there are any: for
    /// a shell that publishes a partial line after a quiet period.
    pub fn flush(&mut self) -> Option<&[u8]> {
        self.discard_emitted();
        self.emit()
    }

    /// The bytes of the chunk being assembled, not yet returned.
    pub fn pending(&self) -> &[u8] {
        if self.emitted {
            &[]
        } else {
            &self.buf[..self.len]
        }
    }

    fn discard_emitted(&mut self) {
        if self.emitted {
            self.len = 0;
            self.emitted = false;
        }
    }

    fn emit(&mut self) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        self.emitted = true;
        Some(&self.buf[..self.len])
    }
}
