//! The framing every evq IPC protocol shares: the event server's
//! ([`crate::msg`]) and every driver's (`evq-vfs-api`).
//!
//! A message is a **label** and a **body**. On seL4 the label is the
//! `MessageInfo` label and the body the message registers, read as
//! little-endian bytes; on the hosted platform a datagram carries the label
//! as a little-endian `u32` followed by the body. Every body is a whole
//! number of 8-byte words (a message register each on 64-bit seL4) and at
//! most [`MAX_MSG_BYTES`]. A reply is [`label::OK`] with a body that depends
//! on the request, or [`label::ERROR`] with an [`ErrorBody`].
//!
//! The helpers here are the pieces a protocol's codecs are written with:
//! reading a fixed head ([`exact`], [`head`]), the variable tail after it
//! ([`tail`]), checking reserved bytes ([`zero`]), and writing a body
//! ([`put`], [`put_with`]). They fail with a [`FrameError`], which each
//! protocol's own `DecodeError` converts from, so a length or reserved-byte
//! error is reported the same way in every protocol. The `protocol!` macro
//! ([`crate::protocol`]) builds a protocol's messages on them.

use zerocopy::byteorder::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The largest message body: seL4's 120 message registers of 8 bytes.
pub const MAX_MSG_BYTES: usize = 960;

/// A body is a whole number of these: one 64-bit message register.
pub const WORD: usize = 8;

/// The reply labels every protocol shares.
pub mod label {
    /// Reply: the request succeeded; the body depends on the request.
    pub const OK: u32 = 0x0000;
    /// Reply: the request failed; the body is an [`super::ErrorBody`].
    pub const ERROR: u32 = 0x0001;
}

/// A framing rule a body breaks. Each protocol's `DecodeError` has a
/// variant for each and converts from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The body has the wrong length.
    BadLength {
        /// What the layout needs.
        expected: usize,
        /// What arrived.
        actual: usize,
    },
    /// A reserved field or padding byte is not zero.
    ReservedNonZero,
}

/// Why a message cannot be encoded; `D` is the protocol's decode error,
/// which says what a decoder would refuse about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError<D> {
    /// The output buffer is too small, or the message exceeds [`MAX_MSG_BYTES`].
    NoSpace,
    /// A field is out of range: what the decoder would refuse.
    Invalid(D),
}

impl<D: core::fmt::Display> core::fmt::Display for EncodeError<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::NoSpace => write!(f, "the message does not fit in {MAX_MSG_BYTES} bytes"),
            EncodeError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// Error reply body (8 bytes), the same in every protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ErrorBody {
    /// The protocol's error code.
    pub code: U32,
    /// Detail, per code.
    pub detail: U32,
}

/// `len` rounded up to a whole number of words.
pub const fn padded(len: usize) -> usize {
    len.next_multiple_of(WORD)
}

/// Checks what every body must be: at most [`MAX_MSG_BYTES`] and a whole
/// number of words.
#[inline]
pub fn check_len(body: &[u8]) -> Result<(), FrameError> {
    if body.len() > MAX_MSG_BYTES || !body.len().is_multiple_of(WORD) {
        return Err(FrameError::BadLength { expected: padded(body.len()).min(MAX_MSG_BYTES), actual: body.len() });
    }
    Ok(())
}

/// Reads a body that is exactly a `T`.
#[inline]
pub fn exact<T: FromBytes + KnownLayout + Immutable>(body: &[u8]) -> Result<T, FrameError> {
    T::read_from_bytes(body).map_err(|_| FrameError::BadLength { expected: size_of::<T>(), actual: body.len() })
}

/// Reads a `T` from the front of `body`; returns it and the rest.
#[inline]
pub fn head<T: FromBytes + KnownLayout + Immutable>(body: &[u8]) -> Result<(T, &[u8]), FrameError> {
    T::read_from_prefix(body).map_err(|_| FrameError::BadLength { expected: size_of::<T>(), actual: body.len() })
}

/// Checks that every byte of `reserved` is zero.
#[inline]
pub fn zero(reserved: &[u8]) -> Result<(), FrameError> {
    if reserved.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(FrameError::ReservedNonZero)
    }
}

/// Checks that a body is empty.
#[inline]
pub fn empty(body: &[u8]) -> Result<(), FrameError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(FrameError::BadLength { expected: 0, actual: body.len() })
    }
}

/// Splits the tail after a head into `lens.len()` strings of those lengths,
/// requiring the tail to be exactly their total padded to a word
/// (BadLength) and the padding zero (ReservedNonZero). `head_len` only makes
/// the error say the whole body's expected length.
#[inline]
pub fn tail<const N: usize>(head_len: usize, rest: &[u8], lens: [usize; N]) -> Result<[&[u8]; N], FrameError> {
    let total: usize = lens.iter().sum();
    if rest.len() != padded(total) {
        return Err(FrameError::BadLength { expected: head_len + padded(total), actual: head_len + rest.len() });
    }
    let (mut strings, pad) = rest.split_at(total);
    zero(pad)?;
    let mut out = [&rest[..0]; N];
    for (slot, len) in out.iter_mut().zip(lens) {
        let (s, more) = strings.split_at(len);
        *slot = s;
        strings = more;
    }
    Ok(out)
}

/// Writes `body` at the front of `out`; returns its length.
#[inline]
pub fn put<T: IntoBytes + Immutable, D>(out: &mut [u8], body: &T) -> Result<usize, EncodeError<D>> {
    body.write_to_prefix(out).map_err(|_| EncodeError::NoSpace)?;
    Ok(size_of_val(body))
}

/// Writes `head`, then `parts` back to back, then zeros to a whole number of
/// words; returns the length. Refuses a body over [`MAX_MSG_BYTES`] or `out`.
#[inline]
pub fn put_with<D>(out: &mut [u8], head: &[u8], parts: &[&[u8]]) -> Result<usize, EncodeError<D>> {
    let used = head.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let total = padded(used);
    if total > MAX_MSG_BYTES {
        return Err(EncodeError::NoSpace);
    }
    let out = out.get_mut(..total).ok_or(EncodeError::NoSpace)?;
    let (h, mut rest) = out.split_at_mut(head.len());
    h.copy_from_slice(head);
    for part in parts {
        let (dst, more) = rest.split_at_mut(part.len());
        dst.copy_from_slice(part);
        rest = more;
    }
    rest.fill(0);
    Ok(total)
}

/// The codec of an empty body, for the replies that carry nothing. A
/// protocol's reply codecs name it as theirs (`pub use
/// evq_abi::framing::empty_body as done;`).
pub mod empty_body {
    use super::{empty, FrameError, Layout};

    /// No body at all.
    pub const LAYOUT: Layout = Layout::EMPTY;

    /// Checks that the body is empty.
    pub fn decode(body: &[u8]) -> Result<(), FrameError> {
        empty(body)
    }

    /// Writes nothing.
    pub fn encode(_out: &mut [u8]) -> Result<usize, core::convert::Infallible> {
        Ok(0)
    }
}

impl<D> From<core::convert::Infallible> for EncodeError<D> {
    fn from(never: core::convert::Infallible) -> Self {
        match never {}
    }
}

/// What a body looks like, for the tables in `docs/protocol.md`, which a
/// test renders from the definitions and compares: a name, a fixed head and
/// what may follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The body's name in the docs ("Published", "Entry").
    pub name: &'static str,
    /// Bytes of the fixed part.
    pub head: usize,
    /// What follows the head, if anything ("padded payload", "events").
    pub tail: Option<&'static str>,
    /// Whether capabilities (frames) travel with it.
    pub frames: bool,
}

impl Layout {
    /// A body that is exactly a `T`.
    pub const fn fixed<T>(name: &'static str) -> Self {
        Layout { name, head: size_of::<T>(), tail: None, frames: false }
    }
    /// A `T` followed by `tail`.
    pub const fn with_tail<T>(name: &'static str, tail: &'static str) -> Self {
        Layout { name, head: size_of::<T>(), tail: Some(tail), frames: false }
    }
    /// No body at all.
    pub const EMPTY: Layout = Layout { name: "empty", head: 0, tail: None, frames: false };
    /// The same body, with capabilities (frames) beside it.
    pub const fn and_frames(self) -> Self {
        Layout { frames: true, ..self }
    }
}

/// One message of a protocol, as its definition gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageSpec {
    /// Its label constant's name (`PUBLISH`).
    pub name: &'static str,
    /// The label.
    pub label: u32,
    /// Who sends it to whom.
    pub direction: &'static str,
    /// The request body.
    pub request: Layout,
    /// The body of its `OK` reply.
    pub reply: Layout,
}

impl core::fmt::Display for Layout {
    /// As `docs/protocol.md`'s label tables give a body: `Name (head)`,
    /// `Name (head + tail)`, then ` + frames` where capabilities travel
    /// with it; `empty` for no body.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if *self == Layout::EMPTY {
            return f.write_str("empty");
        }
        match self.tail {
            Some(tail) => write!(f, "{} ({} + {tail})", self.name, self.head)?,
            None => write!(f, "{} ({})", self.name, self.head)?,
        }
        if self.frames {
            f.write_str(" + frames")?;
        }
        Ok(())
    }
}

impl core::fmt::Display for MessageSpec {
    /// The message's row in `docs/protocol.md`'s label table:
    /// `| label | name | direction | request body | OK reply body |`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "| `0x{:04X}` | `{}` | {} | {} | {} |",
            self.label, self.name, self.direction, self.request, self.reply
        )
    }
}

// Every body the kit writes is a whole number of words.
const _: () = assert!(size_of::<ErrorBody>() == WORD);
