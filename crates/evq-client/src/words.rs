//! What went wrong with a ring, in words (the ring's own errors say
//! themselves: `evq_ring`'s `Display`).

use core::fmt;

use crate::EventError;

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Ring(e) => write!(f, "ring: {e}"),
            EventError::UnknownCategory(ty) => write!(f, "ring: an entry's type ({ty}) is no known category"),
            EventError::Truncated => f.write_str("ring: an entry is shorter than its record or its payload"),
        }
    }
}
