//! evq's notification ring: variable-length entries in shared memory.
//!
//! The event server holds a [`Producer`] and a client holds a [`Consumer`]
//! over the same region, laid out as [`evq_abi::ring`] describes: a control
//! page, then a power-of-two array of 8-byte slots. The producer writes
//! entries of 1 to 63 slots and never splits one across the end of the slot
//! array (it pads the end with a skip entry and wraps). When the ring is full
//! it drops the event, counts it, and writes a loss entry carrying the exact
//! number lost in front of the next entry it delivers.
//!
//! # Trust
//!
//! Neither side trusts the other. The producer keeps its own copy of the
//! geometry and the head, reads only the consumer's `tail` and `waiting`
//! words, and answers an impossible tail with [`PushError::CorruptTail`]; it
//! never writes outside its region whatever the control page holds. The
//! consumer checks the control page when it attaches and every head and
//! header it reads, answering with a [`ReadError`].
//!
//! Shared memory is touched only through atomic loads and stores (module
//! `shared`): never through a Rust reference to plain data, which the peer
//! could change underneath.
//!
//! # Limits
//!
//! * One producer and one consumer per ring.
//! * The region must be 8-byte aligned (a page-aligned mapping always is) and
//!   needs 64-bit atomics.
//! * Entries are at most [`evq_abi::ring::MAX_ENTRY_SLOTS`] slots.
#![cfg_attr(not(loom), no_std)]
#![deny(missing_docs)]

mod consumer;
mod producer;
mod shared;

/// The atomics the ring is built on: `core`'s, or `loom`'s under the model
/// checker (`--cfg loom`).
mod sync {
    #[cfg(not(loom))]
    pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
}

pub use consumer::{AttachError, Consumer, EntryBuf, EntryRef, Mark, RawEntry, ReadError};
pub use producer::{EntryKind, Producer, PushError, RegionError};
