//! What went wrong with a ring, in words.

use core::fmt;

use evq_abi::ring::{ControlError, HeaderError};
use evq_ring::{AttachError, ReadError};

use crate::EventError;

/// A ring's read error, said in words.
pub(crate) struct ReadWords<'a>(pub(crate) &'a ReadError);

impl fmt::Display for ReadWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            ReadError::CorruptHead { head, tail } => {
                write!(f, "the head ({head}) claims more unread slots than the ring holds (tail {tail})")
            }
            ReadError::BadHeader { tail, error } => {
                let what = match error {
                    HeaderError::ZeroLength => "its length is zero",
                    HeaderError::ReservedBits => "a reserved info bit is set",
                };
                write!(f, "the entry header at tail {tail} is malformed: {what}")
            }
            ReadError::BadLength { tail, len } => {
                write!(f, "the entry at tail {tail} ({len} slots) runs past the slots or the head")
            }
            ReadError::BadMeta { tail } => write!(f, "the entry at tail {tail} is neither a skip nor a loss entry"),
        }
    }
}

/// Why a granted ring does not attach, in words.
pub(crate) struct AttachWords<'a>(pub(crate) &'a AttachError);

impl fmt::Display for AttachWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AttachError::BadRegion => f.write_str("the region is unaligned or shorter than a control page"),
            AttachError::Control(ControlError::BadMagic(m)) => write!(f, "its control page's magic is {m:#x}"),
            AttachError::Control(ControlError::BadVersion(v)) => write!(f, "its ABI version is {v}"),
            AttachError::Control(ControlError::BadSlotCount(n)) => {
                write!(f, "its slot count ({n}) is not a ring size that fits the region")
            }
            AttachError::Control(ControlError::BadDataOffset(o)) => write!(f, "its data offset ({o}) is not one page"),
            AttachError::Read(e) => write!(f, "{}", ReadWords(e)),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Ring(e) => write!(f, "ring: {}", ReadWords(e)),
            EventError::UnknownCategory(ty) => write!(f, "ring: an entry's type ({ty}) is no known category"),
            EventError::Truncated => f.write_str("ring: an entry is shorter than its record or its payload"),
        }
    }
}
