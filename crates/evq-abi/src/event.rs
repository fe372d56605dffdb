//! What an event entry carries.
//!
//! An event entry is a header slot ([`crate::ring::EntryHeader`]), then the
//! 32-byte [`EventRecord`], then a payload of up to [`MAX_PAYLOAD`] bytes whose
//! layout depends on the event's category and kind, padded with zeros to a
//! whole slot. The header's `type` is the [`Category`], its `subtype` the kind
//! (the constants in each category's module), and its type-specific info flags
//! carry per-kind detail such as which attribute changed.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::ring::{MAX_ENTRY_SLOTS, SLOT_SIZE};

/// Slots taken by the header and the record: the shortest event entry.
pub const EVENT_BASE_SLOTS: u32 = 1 + (core::mem::size_of::<EventRecord>() / SLOT_SIZE) as u32;
/// The largest payload an event can carry, in bytes (464).
pub const MAX_PAYLOAD: usize = (MAX_ENTRY_SLOTS - EVENT_BASE_SLOTS) as usize * SLOT_SIZE;

/// Slots an event entry with `payload_len` payload bytes occupies, header included.
pub const fn event_slots(payload_len: usize) -> u32 {
    EVENT_BASE_SLOTS + payload_len.div_ceil(SLOT_SIZE) as u32
}

/// The fixed part of every event entry, right after the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EventRecord {
    /// Per-queue sequence number. Every event the queue's subscriptions
    /// accepted gets the next number when it is written or dropped, so a gap
    /// is exactly the number of events lost.
    pub seq: U64,
    /// When the server accepted the event, in nanoseconds of the server's
    /// monotonic clock.
    pub timestamp_ns: U64,
    /// The object the event is about: an inode, a device, an interface, a
    /// protection domain.
    pub object_id: U64,
    /// The source that published the event, stamped by the server from the
    /// endpoint badge it arrived on; never taken from the message.
    pub source_id: U32,
    /// How many older undelivered events this one replaced (coalescing);
    /// saturates at 65535.
    pub coalesced: U16,
    /// Length of the payload in bytes; the entry holds it rounded up to slots.
    pub payload_len: U16,
}

impl EventRecord {
    /// Ring slots the record takes.
    pub const SLOTS: usize = core::mem::size_of::<EventRecord>() / SLOT_SIZE;

    /// The record as the slots it fills in a ring entry: each slot's
    /// little-endian word, the same bytes as [`IntoBytes::as_bytes`], so a
    /// producer can store it without assembling the bytes first.
    pub fn to_slots(&self) -> [u64; Self::SLOTS] {
        [
            self.seq.get(),
            self.timestamp_ns.get(),
            self.object_id.get(),
            u64::from(self.source_id.get())
                | u64::from(self.coalesced.get()) << 32
                | u64::from(self.payload_len.get()) << 48,
        ]
    }
}

/// Event categories: the header's `type` field and a subscription's category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Category {
    /// Ring bookkeeping: skip and loss entries. Never published or subscribed.
    Meta = 0,
    /// File-system namespace changes (dentry events).
    Vfs = 1,
    /// Protection-domain lifecycle, reported by the root task.
    Process = 2,
    /// Network interfaces.
    Network = 3,
    /// Devices: input, clocks, state.
    Device = 4,
    /// Memory pressure: the server's ring pool or a domain's memory.
    Memory = 5,
    /// System lifecycle.
    System = 6,
}

impl Category {
    /// Every category that can be published and subscribed to.
    pub const PUBLISHABLE: [Category; 6] =
        [Category::Vfs, Category::Process, Category::Network, Category::Device, Category::Memory, Category::System];

    /// The category with this number.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Category::Meta,
            1 => Category::Vfs,
            2 => Category::Process,
            3 => Category::Network,
            4 => Category::Device,
            5 => Category::Memory,
            6 => Category::System,
            _ => return None,
        })
    }

    /// This category's bit in a [`CategorySet`].
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// How many kinds the category defines; valid kinds are `0..kind_count`.
    pub const fn kind_count(self) -> u8 {
        match self {
            Category::Meta => meta::COUNT,
            Category::Vfs => vfs::COUNT,
            Category::Process => process::COUNT,
            Category::Network => network::COUNT,
            Category::Device => device::COUNT,
            Category::Memory => memory::COUNT,
            Category::System => system::COUNT,
        }
    }

    /// Whether `kind` is defined in this category.
    pub const fn has_kind(self, kind: u8) -> bool {
        kind < self.kind_count()
    }

    /// A short lower-case name, for logs and tools.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Meta => "meta",
            Category::Vfs => "vfs",
            Category::Process => "process",
            Category::Network => "network",
            Category::Device => "device",
            Category::Memory => "memory",
            Category::System => "system",
        }
    }
}

/// A set of categories, as a bit mask over `Category as u8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CategorySet(pub u32);

impl CategorySet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// A set holding exactly `cats`.
    pub const fn of(cats: &[Category]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < cats.len() {
            bits |= cats[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// Whether the set holds `cat`.
    pub const fn contains(self, cat: Category) -> bool {
        self.0 & cat.bit() != 0
    }
}

/// Event priorities, on a publish and on a subscription.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Priority {
    /// Dropped first when a ring fills.
    #[default]
    Normal = 0,
    /// May use the ring's reserved headroom, so it is dropped last.
    Critical = 1,
}

impl Priority {
    /// The priority with this number.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Priority::Normal),
            1 => Some(Priority::Critical),
            _ => None,
        }
    }
}

/// Ring bookkeeping kinds ([`Category::Meta`]).
pub mod meta {
    /// Padding to the end of the data area; its length covers the rest.
    pub const SKIP: u8 = 0;
    /// Events were lost: the entry's one body slot is the exact number, a
    /// little-endian `u64`, lost since the previous entry.
    pub const LOSS: u8 = 1;
    /// Number of kinds.
    pub const COUNT: u8 = 2;
    /// Slots of a loss entry: the header and the count.
    pub const LOSS_SLOTS: u32 = 2;
}

/// File-system kinds ([`Category::Vfs`]). The object is the inode the event is
/// about.
pub mod vfs {
    /// A name was created in a directory. Payload: [`super::DentryPayload`].
    pub const CREATE: u8 = 0;
    /// A name was removed from a directory. Payload: [`super::DentryPayload`].
    pub const DELETE: u8 = 1;
    /// A name moved. Payload: [`super::RenamePayload`].
    pub const RENAME: u8 = 2;
    /// Attributes changed; the info flags say which. Payload: [`super::DentryPayload`]
    /// (the parent may be zero when the inode was reached without a name).
    pub const ATTRIB: u8 = 3;
    /// A file system was mounted on a directory. Payload: [`super::MountPayload`].
    pub const MOUNT: u8 = 4;
    /// A file system was unmounted from a directory. Payload: [`super::MountPayload`].
    pub const UNMOUNT: u8 = 5;
    /// Number of kinds.
    pub const COUNT: u8 = 6;
    /// The longest name a VFS event carries: two fit in one rename event.
    pub const NAME_MAX: usize = 200;

    /// Type-specific info flags of VFS events.
    pub mod flags {
        /// The inode is a directory.
        pub const IS_DIR: u8 = 1 << 0;
        /// `ATTRIB`: the mode changed.
        pub const ATTR_MODE: u8 = 1 << 1;
        /// `ATTRIB`: the size changed.
        pub const ATTR_SIZE: u8 = 1 << 2;
        /// `ATTRIB`: the access time changed.
        pub const ATTR_ATIME: u8 = 1 << 3;
        /// `ATTRIB`: the modification time changed.
        pub const ATTR_MTIME: u8 = 1 << 4;
        /// `ATTRIB`: the owner or group changed.
        pub const ATTR_OWNER: u8 = 1 << 5;
        /// `ATTRIB`: the link count changed.
        pub const ATTR_NLINK: u8 = 1 << 6;
    }
}

/// Protection-domain lifecycle kinds ([`Category::Process`]). The object is
/// the domain's id in the system description.
pub mod process {
    /// The domain started. No payload.
    pub const START: u8 = 0;
    /// The domain faulted. Payload: [`super::FaultPayload`].
    pub const FAULT: u8 = 1;
    /// The domain exited. Payload: [`super::ExitPayload`].
    pub const EXIT: u8 = 2;
    /// Number of kinds.
    pub const COUNT: u8 = 3;

    /// Fault kinds in [`super::FaultPayload::kind`], after seL4's fault types.
    pub mod fault {
        /// A virtual-memory fault (page fault).
        pub const VM: u32 = 1;
        /// A capability fault.
        pub const CAP: u32 = 2;
        /// An unknown system call.
        pub const UNKNOWN_SYSCALL: u32 = 3;
        /// A user exception (illegal instruction, divide by zero, …).
        pub const USER_EXCEPTION: u32 = 4;
        /// Anything else, for example a crash signal on the hosted platform.
        pub const OTHER: u32 = 5;
    }
}

/// Network kinds ([`Category::Network`]). The object is the interface index.
pub mod network {
    /// The link came up. No payload.
    pub const LINK_UP: u8 = 0;
    /// The link went down. No payload.
    pub const LINK_DOWN: u8 = 1;
    /// Packets were received. Payload: [`super::CountersPayload`].
    pub const RX: u8 = 2;
    /// Packets were sent. Payload: [`super::CountersPayload`].
    pub const TX: u8 = 3;
    /// Number of kinds.
    pub const COUNT: u8 = 4;
}

/// Device kinds ([`Category::Device`]). The object is the device id.
pub mod device {
    /// Input arrived (for example bytes from a UART). Payload: the bytes.
    pub const INPUT: u8 = 0;
    /// A clock reading. Payload: [`super::TimePayload`].
    pub const TIME: u8 = 1;
    /// The device changed state. Payload: [`super::StatePayload`].
    pub const STATE: u8 = 2;
    /// Number of kinds.
    pub const COUNT: u8 = 3;
}

/// Memory-pressure kinds ([`Category::Memory`]). The object is the domain id,
/// or 0 for the server's ring pool.
pub mod memory {
    /// Usage crossed the low-memory threshold. Payload: [`super::UsagePayload`].
    pub const LOW: u8 = 0;
    /// An allocation failed: the memory is exhausted. Payload: [`super::UsagePayload`].
    pub const EXHAUSTED: u8 = 1;
    /// Usage fell back under the threshold. Payload: [`super::UsagePayload`].
    pub const RECOVERED: u8 = 2;
    /// Number of kinds.
    pub const COUNT: u8 = 3;

    /// Type-specific info flags of memory events.
    pub mod flags {
        /// The memory is the event server's ring pool.
        pub const RING_POOL: u8 = 1 << 0;
    }
}

/// System lifecycle kinds ([`Category::System`]).
pub mod system {
    /// The system is up: the event server is serving. No payload.
    pub const UP: u8 = 0;
    /// Every domain in the system description has started. No payload.
    pub const DOMAIN_SET_COMPLETE: u8 = 1;
    /// The system is shutting down. No payload.
    pub const SHUTDOWN: u8 = 2;
    /// Number of kinds.
    pub const COUNT: u8 = 3;
}

/// Payload of VFS create, delete and attribute events: the parent directory
/// and the name, followed by `name_len` bytes of name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DentryPayload {
    /// Inode of the directory holding the name.
    pub parent: U64,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// Payload of a VFS rename, followed by the old name then the new name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RenamePayload {
    /// Inode of the directory the name left.
    pub old_parent: U64,
    /// Inode of the directory the name entered.
    pub new_parent: U64,
    /// Bytes of the old name.
    pub old_name_len: U16,
    /// Bytes of the new name.
    pub new_name_len: U16,
    /// Zero.
    pub reserved: [u8; 4],
}

/// Payload of VFS mount and unmount, followed by the mount point's name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MountPayload {
    /// Inode of the directory holding the mount point.
    pub parent: U64,
    /// Id of the file-system instance mounted or unmounted.
    pub fs_id: U64,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// Payload of a process fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FaultPayload {
    /// One of [`process::fault`].
    pub kind: U32,
    /// Zero.
    pub reserved: U32,
    /// The faulting address (VM faults), else zero.
    pub address: U64,
    /// The faulting instruction pointer.
    pub ip: U64,
}

/// Payload of a process exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ExitPayload {
    /// The exit code, as a two's-complement `i64`.
    pub code: U64,
}

/// Payload of network rx/tx events: counts since the previous event of the
/// same kind (a coalesced event carries the sum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CountersPayload {
    /// Packets.
    pub packets: U64,
    /// Bytes.
    pub bytes: U64,
}

/// Payload of a device time event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TimePayload {
    /// Seconds since the Unix epoch, as the device reads them.
    pub unix_seconds: U64,
}

/// Payload of a device state event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StatePayload {
    /// Device-specific state number.
    pub state: U32,
    /// Zero.
    pub reserved: U32,
}

/// Payload of memory events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UsagePayload {
    /// Bytes in use.
    pub used: U64,
    /// Bytes available in all.
    pub total: U64,
}

/// Why a payload is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// The payload is shorter than its fixed part or its declared names.
    Truncated,
    /// A name is longer than [`vfs::NAME_MAX`], or the payload longer than [`MAX_PAYLOAD`].
    TooLong,
    /// A reserved field is not zero.
    ReservedNonZero,
}

/// Writes a dentry payload (`parent`, `name`) into `out`; returns its length.
pub fn encode_dentry(parent: u64, name: &[u8], out: &mut [u8]) -> Result<usize, PayloadError> {
    if name.len() > vfs::NAME_MAX {
        return Err(PayloadError::TooLong);
    }
    let fixed = DentryPayload { parent: parent.into(), name_len: (name.len() as u16).into(), reserved: [0; 6] };
    write_parts(out, fixed.as_bytes(), &[name])
}

/// Reads a dentry payload: the parent and the name.
pub fn decode_dentry(payload: &[u8]) -> Result<(u64, &[u8]), PayloadError> {
    let (fixed, rest) = DentryPayload::read_from_prefix(payload).map_err(|_| PayloadError::Truncated)?;
    if fixed.reserved != [0; 6] {
        return Err(PayloadError::ReservedNonZero);
    }
    let name = take_name(rest, fixed.name_len.get())?;
    Ok((fixed.parent.get(), name))
}

/// A decoded rename payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rename<'a> {
    /// Directory the name left.
    pub old_parent: u64,
    /// The name it had.
    pub old_name: &'a [u8],
    /// Directory the name entered.
    pub new_parent: u64,
    /// The name it has now.
    pub new_name: &'a [u8],
}

/// Writes a rename payload into `out`; returns its length.
pub fn encode_rename(r: &Rename<'_>, out: &mut [u8]) -> Result<usize, PayloadError> {
    if r.old_name.len() > vfs::NAME_MAX || r.new_name.len() > vfs::NAME_MAX {
        return Err(PayloadError::TooLong);
    }
    let fixed = RenamePayload {
        old_parent: r.old_parent.into(),
        new_parent: r.new_parent.into(),
        old_name_len: (r.old_name.len() as u16).into(),
        new_name_len: (r.new_name.len() as u16).into(),
        reserved: [0; 4],
    };
    write_parts(out, fixed.as_bytes(), &[r.old_name, r.new_name])
}

/// Reads a rename payload.
pub fn decode_rename(payload: &[u8]) -> Result<Rename<'_>, PayloadError> {
    let (fixed, rest) = RenamePayload::read_from_prefix(payload).map_err(|_| PayloadError::Truncated)?;
    if fixed.reserved != [0; 4] {
        return Err(PayloadError::ReservedNonZero);
    }
    let old_len = fixed.old_name_len.get();
    let old_name = take_name(rest, old_len)?;
    let new_name = take_name(&rest[old_name.len()..], fixed.new_name_len.get())?;
    Ok(Rename { old_parent: fixed.old_parent.get(), old_name, new_parent: fixed.new_parent.get(), new_name })
}

/// Writes a mount payload into `out`; returns its length.
pub fn encode_mount(parent: u64, fs_id: u64, name: &[u8], out: &mut [u8]) -> Result<usize, PayloadError> {
    if name.len() > vfs::NAME_MAX {
        return Err(PayloadError::TooLong);
    }
    let fixed = MountPayload {
        parent: parent.into(),
        fs_id: fs_id.into(),
        name_len: (name.len() as u16).into(),
        reserved: [0; 6],
    };
    write_parts(out, fixed.as_bytes(), &[name])
}

/// Reads a mount payload: the parent, the file-system id and the name.
pub fn decode_mount(payload: &[u8]) -> Result<(u64, u64, &[u8]), PayloadError> {
    let (fixed, rest) = MountPayload::read_from_prefix(payload).map_err(|_| PayloadError::Truncated)?;
    if fixed.reserved != [0; 6] {
        return Err(PayloadError::ReservedNonZero);
    }
    let name = take_name(rest, fixed.name_len.get())?;
    Ok((fixed.parent.get(), fixed.fs_id.get(), name))
}

/// The directories a VFS event of `kind` is in, read from the fixed part of
/// its payload without decoding the names: `[parent, None]` for every kind
/// but RENAME, `[old_parent, new_parent]` for RENAME. A payload too short
/// for its fixed part is in no directory. What a `PARENT` subscription
/// matches on (`docs/protocol.md` §4.8).
pub fn vfs_parents(kind: u8, payload: &[u8]) -> [Option<u64>; 2] {
    let at = |offset: usize| {
        let bytes = payload.get(offset..offset + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    };
    match kind {
        vfs::RENAME if payload.len() >= core::mem::size_of::<RenamePayload>() => [at(0), at(8)],
        vfs::RENAME => [None, None],
        // Dentry's fixed part is the shorter of the two that begin with
        // the parent (Mount's is longer).
        _ if payload.len() >= core::mem::size_of::<DentryPayload>() => [at(0), None],
        _ => [None, None],
    }
}

fn take_name(rest: &[u8], len: u16) -> Result<&[u8], PayloadError> {
    let len = usize::from(len);
    if len > vfs::NAME_MAX {
        return Err(PayloadError::TooLong);
    }
    rest.get(..len).ok_or(PayloadError::Truncated)
}

fn write_parts(out: &mut [u8], fixed: &[u8], names: &[&[u8]]) -> Result<usize, PayloadError> {
    let total = fixed.len() + names.iter().map(|n| n.len()).sum::<usize>();
    if total > MAX_PAYLOAD {
        return Err(PayloadError::TooLong);
    }
    let out = out.get_mut(..total).ok_or(PayloadError::TooLong)?;
    let (head, mut rest) = out.split_at_mut(fixed.len());
    head.copy_from_slice(fixed);
    for name in names {
        let (dst, tail) = rest.split_at_mut(name.len());
        dst.copy_from_slice(name);
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_32_bytes_and_limits_follow() {
        assert_eq!(core::mem::size_of::<EventRecord>(), 32);
        assert_eq!(EVENT_BASE_SLOTS, 5);
        assert_eq!(MAX_PAYLOAD, 464);
        assert_eq!(event_slots(0), 5);
        assert_eq!(event_slots(1), 6);
        assert_eq!(event_slots(MAX_PAYLOAD), MAX_ENTRY_SLOTS);
        // Two maximal names fit in one rename.
        assert!(core::mem::size_of::<RenamePayload>() + 2 * vfs::NAME_MAX <= MAX_PAYLOAD);
    }

    #[test]
    fn record_slots_are_its_bytes() {
        let record = EventRecord {
            seq: 0x0102_0304_0506_0708.into(),
            timestamp_ns: 0x1112_1314_1516_1718.into(),
            object_id: 0x2122_2324_2526_2728.into(),
            source_id: 0x3132_3334.into(),
            coalesced: 0x3536.into(),
            payload_len: 0x3738.into(),
        };
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_mut(8).zip(record.to_slots()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        assert_eq!(&bytes, record.as_bytes());
    }

    #[test]
    fn category_numbers_round_trip_and_unknown_is_none() {
        for v in 0..=255u8 {
            match Category::from_u8(v) {
                Some(c) => assert_eq!(c as u8, v),
                None => assert!(v > 6),
            }
        }
        assert!(Category::Vfs.has_kind(vfs::UNMOUNT));
        assert!(!Category::Vfs.has_kind(vfs::COUNT));
        assert!(CategorySet::of(&[Category::Vfs, Category::System]).contains(Category::System));
        assert!(!CategorySet::of(&[Category::Vfs]).contains(Category::Network));
    }

    #[test]
    fn dentry_round_trip_and_rejections() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode_dentry(7, b"hello", &mut buf).unwrap();
        assert_eq!(n, 16 + 5);
        assert_eq!(decode_dentry(&buf[..n]), Ok((7, &b"hello"[..])));
        assert_eq!(decode_dentry(&buf[..n - 1]), Err(PayloadError::Truncated));
        assert_eq!(decode_dentry(&buf[..8]), Err(PayloadError::Truncated));
        buf[12] = 1;
        assert_eq!(decode_dentry(&buf[..n]), Err(PayloadError::ReservedNonZero));
        assert_eq!(encode_dentry(1, &[b'a'; vfs::NAME_MAX + 1], &mut buf), Err(PayloadError::TooLong));
    }

    #[test]
    fn rename_round_trip_and_rejections() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let r = Rename { old_parent: 2, old_name: b"a.txt", new_parent: 9, new_name: b"b-longer.txt" };
        let n = encode_rename(&r, &mut buf).unwrap();
        assert_eq!(decode_rename(&buf[..n]), Ok(r));
        assert_eq!(decode_rename(&buf[..n - 1]), Err(PayloadError::Truncated));
        let long = [b'x'; vfs::NAME_MAX];
        let r = Rename { old_parent: 1, old_name: &long, new_parent: 1, new_name: &long };
        let n = encode_rename(&r, &mut buf).unwrap();
        assert_eq!(decode_rename(&buf[..n]), Ok(r));
    }

    #[test]
    fn mount_round_trip() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode_mount(1, 2, b"mnt", &mut buf).unwrap();
        assert_eq!(decode_mount(&buf[..n]), Ok((1, 2, &b"mnt"[..])));
        assert_eq!(decode_mount(&buf[..n - 2]), Err(PayloadError::Truncated));
    }

    #[test]
    fn vfs_parents_reads_the_parent_or_both_sides_of_a_rename() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode_dentry(7, b"a", &mut buf).unwrap();
        assert_eq!(vfs_parents(vfs::CREATE, &buf[..n]), [Some(7), None]);
        let n = encode_mount(3, 2, b"m", &mut buf).unwrap();
        assert_eq!(vfs_parents(vfs::MOUNT, &buf[..n]), [Some(3), None]);
        let r = Rename { old_parent: 4, old_name: b"x", new_parent: 5, new_name: b"y" };
        let n = encode_rename(&r, &mut buf).unwrap();
        assert_eq!(vfs_parents(vfs::RENAME, &buf[..n]), [Some(4), Some(5)]);
        assert_eq!(vfs_parents(vfs::RENAME, &buf[..10]), [None, None]);
        assert_eq!(vfs_parents(vfs::DELETE, &buf[..7]), [None, None]);
        // Room for the parent but not for the rest of the fixed part.
        assert_eq!(vfs_parents(vfs::DELETE, &buf[..8]), [None, None]);
    }
}
