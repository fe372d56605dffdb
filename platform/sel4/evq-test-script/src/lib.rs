//! The boot test's script, shared by the test source (which publishes it)
//! and the test client (which checks it), so the two cannot drift apart.
//!
//! The client starts each phase by signalling `script-go`; the source
//! publishes the phase and signals `script-done`.
//!
//! 1. [`SCRIPT`]: VFS, device and network events; the client checks their
//!    order, sequence numbers, objects and payloads. The source also tries
//!    to forge a process event and must be refused.
//! 2. [`FLOOD`] events into a one-page ring the client does not read: the
//!    client checks that what arrived plus what was lost is exactly what was
//!    published, and that the loss matches the ring's arithmetic.
//! 3. One more event, which must carry the loss count.
#![no_std]
#![deny(missing_docs)]

use evq_abi::event::{device, vfs, Category};

/// One scripted event: what the source sends, and what the client expects.
#[derive(Clone, Copy, Debug)]
pub struct Scripted {
    /// Its category.
    pub category: Category,
    /// Its kind.
    pub kind: u8,
    /// The object it is about.
    pub object_id: u64,
    /// For VFS events, the parent directory; the payload is that and `name`.
    /// For device input, 0, and `name` is the input bytes.
    pub parent: u64,
    /// A dentry name, or input bytes.
    pub name: &'static [u8],
}

/// Phase 1.
pub const SCRIPT: [Scripted; 5] = [
    Scripted { category: Category::Vfs, kind: vfs::CREATE, object_id: 10, parent: 1, name: b"etc" },
    Scripted { category: Category::Vfs, kind: vfs::CREATE, object_id: 11, parent: 10, name: b"hosts" },
    Scripted { category: Category::Device, kind: device::INPUT, object_id: 1, parent: 0, name: b"evq\n" },
    Scripted { category: Category::Vfs, kind: vfs::CREATE, object_id: 12, parent: 10, name: b"passwd" },
    Scripted { category: Category::Vfs, kind: vfs::DELETE, object_id: 11, parent: 10, name: b"hosts" },
];

/// Phase 2: events published into a ring nobody reads.
pub const FLOOD: u64 = 100;

/// The object id of flood event `i` (VFS DELETE, no payload).
pub const fn flood_object(i: u64) -> u64 {
    1000 + i
}

/// The data pages of the client's ring.
pub const RING_PAGES: u32 = 1;

/// How many payload-less events fit in a `RING_PAGES` ring: 512 slots less
/// the 1/8 held back for critical events, 5 slots each (header and record).
pub const FLOOD_FITS: u64 = (512 - 512 / 8) / 5;

/// Phase 3: the object of the event that must report the loss.
pub const AFTER_LOSS_OBJECT: u64 = 7;
