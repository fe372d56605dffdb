//! The byte layout of every VFS message body, little-endian, as
//! `docs/protocol.md` §6.3 and §6.5 tabulate them.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use evq_abi::framing::ErrorBody;

/// Body naming one inode (`Stat`, `Mount`, `Unmount`): 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct InodeBody {
    /// The inode.
    pub inode: U64,
}

/// Head of a body naming a directory entry (`Lookup`, `Unlink`, `Rmdir`):
/// 16 bytes, then the name padded to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EntryBody {
    /// The directory.
    pub dir: U64,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// Head of a `Mkdir` or `Create` body: 16 bytes, then the name padded to a
/// multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MakeBody {
    /// The directory to hold the new name.
    pub dir: U64,
    /// Permission bits of the new inode (within [`MODE_MASK`](crate::MODE_MASK)).
    pub mode: U32,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Zero.
    pub reserved: U16,
}

/// Head of a `Write` body: 24 bytes, then the data padded to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct WriteBody {
    /// The regular file.
    pub inode: U64,
    /// Byte offset to write at.
    pub offset: U64,
    /// Bytes of data that follow, at most [`MAX_WRITE`](crate::MAX_WRITE).
    pub len: U32,
    /// Zero.
    pub reserved: U32,
}

/// `Read` body: 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReadBody {
    /// The regular file.
    pub inode: U64,
    /// Byte offset to read from.
    pub offset: U64,
    /// Bytes wanted, at most [`MAX_READ`](crate::MAX_READ).
    pub len: U32,
    /// Zero.
    pub reserved: U32,
}

/// `SetAttr` body: 48 bytes. A value whose bit is clear in `mask` must be zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetAttrBody {
    /// The inode.
    pub inode: U64,
    /// Which of the values below to set: [`set_attr`](crate::set_attr) bits.
    pub mask: U32,
    /// New permission bits (within [`MODE_MASK`](crate::MODE_MASK)).
    pub mode: U32,
    /// New size: truncate or extend with zeros (regular files only).
    pub size: U64,
    /// New access time, ns.
    pub atime_ns: U64,
    /// New modification time, ns.
    pub mtime_ns: U64,
    /// New owner.
    pub uid: U32,
    /// New group.
    pub gid: U32,
}

/// Head of a `Rename` body: 24 bytes, then the old name, then the new name,
/// then zeros to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RenameBody {
    /// The directory holding the name now.
    pub old_dir: U64,
    /// The directory to hold it.
    pub new_dir: U64,
    /// Bytes of the old name.
    pub old_name_len: U16,
    /// Bytes of the new name.
    pub new_name_len: U16,
    /// Zero.
    pub reserved: U32,
}

/// Head of a `Link` body: 24 bytes, then the name padded to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LinkBody {
    /// The inode to name (not a directory).
    pub inode: U64,
    /// The directory to hold the new name.
    pub new_dir: U64,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// `ReadDir` body: 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReadDirBody {
    /// The directory.
    pub dir: U64,
    /// Where to resume: 0 for the first entry, else the `next` of the
    /// previous `Listing`.
    pub cookie: U64,
}

/// Head of a `Listing` reply: 16 bytes, then `count` entries, each an
/// [`ListingRecord`] and its name padded to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ListingHead {
    /// The cookie of the next `ReadDir`; 0 when the listing is complete.
    pub next: U64,
    /// Entries that follow.
    pub count: U16,
    /// Zero.
    pub reserved: [u8; 6],
}

/// Head of one entry of a `Listing`: 16 bytes, then the name padded to a
/// multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ListingRecord {
    /// The inode the name stands for (a mount point's mounted root, as
    /// `Lookup` answers).
    pub inode: U64,
    /// Bytes of name that follow.
    pub name_len: U16,
    /// Its [`Kind`](crate::Kind) number.
    pub kind: u8,
    /// Zero.
    pub reserved: [u8; 5],
}

/// Attributes reply body (`Stat`, `SetAttr`, `Write`): 56 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct AttrsBody {
    /// The inode.
    pub inode: U64,
    /// Bytes in the file (0 for a directory).
    pub size: U64,
    /// Access time, ns.
    pub atime_ns: U64,
    /// Modification time, ns.
    pub mtime_ns: U64,
    /// Permission bits.
    pub mode: U32,
    /// Names the inode has.
    pub nlink: U32,
    /// Owner.
    pub uid: U32,
    /// Group.
    pub gid: U32,
    /// [`Kind`](crate::Kind) number.
    pub kind: u8,
    /// Zero.
    pub reserved: [u8; 7],
}

/// Head of a `Read` reply: 8 bytes, then the data padded to a multiple of 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DataHead {
    /// Bytes of data that follow.
    pub len: U32,
    /// Zero.
    pub reserved: U32,
}
