//! The evq wire formats, shared by every protection domain and both platforms.
//!
//! Three formats cross a protection-domain boundary in evq, and this crate is
//! the single definition of each:
//!
//! * [`ring`]: the layout of a notification ring, the shared-memory region the
//!   event server writes and a client reads: the control page, the slot array
//!   and the one-slot [`ring::EntryHeader`] that starts every entry.
//! * [`event`]: what an event entry carries after its header: the fixed
//!   [`event::EventRecord`], the categories and event kinds, and the payload
//!   layouts of each kind.
//! * [`msg`]: the IPC messages between drivers, clients and the server: a
//!   label and a fixed little-endian body for each, defined in one table
//!   with [`protocol!`], on the framing every evq protocol shares
//!   ([`framing`]).
//!
//! Every multi-byte field is little-endian on every architecture. Every
//! decoder checks lengths, reserved fields and enumerations, and answers
//! malformed input with a typed [`msg::DecodeError`]; none of them panics.
//! `docs/protocol.md` specifies the same formats byte by byte.
//!
//! The crate is `no_std`, allocates nothing and makes no system call.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod event;
pub mod framing;
pub mod msg;
mod protocol;
pub mod ring;

/// The ABI version, stored in every ring's control page and checked by
/// clients. It changes whenever any layout in this crate changes.
pub const ABI_VERSION: u16 = 1;

/// The page size rings are built from. Every supported seL4 platform
/// (x86_64, aarch64) uses 4 KiB small pages.
pub const PAGE_SIZE: usize = 4096;
