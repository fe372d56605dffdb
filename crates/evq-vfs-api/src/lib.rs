//! The VFS domain's IPC protocol: what a client sends the VFS domain over its
//! endpoint, and what it answers.
//!
//! This is the VFS domain's "-api" crate, in the manner of Hubris: the one
//! definition of the bytes, shared by the server (`evq-vfs`) and its clients.
//! It follows the conventions of [`evq_abi::msg`]:
//!
//! * A message is a **label** and a **body**. Labels are `u32` values that
//!   fit in 16 bits (the seL4 `MessageInfo` label); this protocol uses
//!   `0x0301 ..` ([`label`]), beside evq-abi's `0x01xx` and `0x02xx`. Replies
//!   are [`label::OK`] or [`label::ERROR`], as in evq-abi.
//! * A body is a whole number of 8-byte words, at most
//!   [`MAX_MSG_BYTES`] (960) bytes, little-endian, with the exact length its
//!   layout gives. Names and data follow a fixed head and are padded with
//!   zeros to the next multiple of 8.
//! * [`Request::decode`] and [`Reply::decode`] check the length, every
//!   reserved field and padding byte, and every enumeration, and answer a
//!   typed [`DecodeError`]; they never panic. The encoders write exactly what
//!   the decoders accept.
//!
//! Names are carried as bytes and are **not** judged by the decoders beyond
//! their length fitting the body: whether a name is acceptable (not empty,
//! not `.` or `..`, no `/` or NUL, at most [`NAME_MAX`] bytes) is the
//! server's answer, [`ErrorCode::InvalidName`], so that one rule ([`check_name`])
//! decides it whatever the request came from.
//!
//! `docs/protocol.md`, section "VFS domain protocol", specifies every body
//! byte by byte.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use evq_abi::event::vfs::NAME_MAX;
pub use evq_abi::msg::MAX_MSG_BYTES;

/// Bytes of data one `Write` can carry (936): what is left of a message
/// after the 24-byte head.
pub const MAX_WRITE: usize = MAX_MSG_BYTES - core::mem::size_of::<WriteBody>();
/// Bytes of data one `Read` can return (952): what is left of a reply after
/// the 8-byte head.
pub const MAX_READ: usize = MAX_MSG_BYTES - core::mem::size_of::<DataHead>();
/// The permission bits a mode may have (`0o7777`: rwx for user, group and
/// others, set-uid, set-gid, sticky). The file type is not part of the mode;
/// it is the inode's [`Kind`].
pub const MODE_MASK: u32 = 0o7777;
/// The root directory of the file system the VFS domain starts with.
pub const ROOT_INODE: u64 = 1;

/// Message labels.
pub mod label {
    /// Reply: the request succeeded; the body depends on the request.
    pub const OK: u32 = evq_abi::msg::label::OK;
    /// Reply: the request failed; the body is an [`super::ErrorBody`].
    pub const ERROR: u32 = evq_abi::msg::label::ERROR;
    /// Look a name up in a directory.
    pub const LOOKUP: u32 = 0x0301;
    /// Read an inode's attributes.
    pub const STAT: u32 = 0x0302;
    /// Make a directory.
    pub const MKDIR: u32 = 0x0303;
    /// Make a regular file.
    pub const CREATE: u32 = 0x0304;
    /// Write bytes into a regular file.
    pub const WRITE: u32 = 0x0305;
    /// Read bytes from a regular file.
    pub const READ: u32 = 0x0306;
    /// Change attributes.
    pub const SET_ATTR: u32 = 0x0307;
    /// Move a name, within a directory or to another.
    pub const RENAME: u32 = 0x0308;
    /// Give an inode another name (a hard link).
    pub const LINK: u32 = 0x0309;
    /// Remove a name of a non-directory.
    pub const UNLINK: u32 = 0x030A;
    /// Remove an empty directory.
    pub const RMDIR: u32 = 0x030B;
    /// Mount a fresh, empty file system on a directory.
    pub const MOUNT: u32 = 0x030C;
    /// Unmount the file system mounted on a directory.
    pub const UNMOUNT: u32 = 0x030D;

    /// Every request label, in label order.
    pub const REQUESTS: [u32; 13] =
        [LOOKUP, STAT, MKDIR, CREATE, WRITE, READ, SET_ATTR, RENAME, LINK, UNLINK, RMDIR, MOUNT, UNMOUNT];
}

/// The error codes of an error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// The request does not decode (or, built in code, breaks a rule the
    /// decoder checks); `detail` is the [`DecodeError::code`].
    BadRequest = 1,
    /// No such inode, or no such name in the directory.
    NoEntry = 2,
    /// The name already exists in the directory.
    Exists = 3,
    /// A directory was needed and the inode is not one.
    NotDir = 4,
    /// The operation needs a non-directory and the inode is a directory.
    IsDir = 5,
    /// The directory to remove or replace is not empty.
    NotEmpty = 6,
    /// A mount point is in the way: mounting on a mount point or a file
    /// system's root, removing, renaming or replacing a mount point, or
    /// unmounting a file system that has another mounted inside it.
    Busy = 7,
    /// The name is empty, `.` or `..`, holds `/` or NUL, or is longer than
    /// [`NAME_MAX`].
    InvalidName = 8,
    /// A fixed table is full; `detail` says which ([`space`]).
    NoSpace = 9,
    /// The operation would join two file-system instances (a rename or link
    /// across a mount).
    CrossDevice = 10,
    /// Decodes, but is not possible: moving a directory into itself or its
    /// own subtree, or unmounting a directory nothing is mounted on.
    InvalidArgument = 11,
    /// The file would grow past the server's largest file size.
    FileTooLarge = 12,
}

impl ErrorCode {
    /// Every code, in number order.
    pub const ALL: [ErrorCode; 12] = [
        Self::BadRequest,
        Self::NoEntry,
        Self::Exists,
        Self::NotDir,
        Self::IsDir,
        Self::NotEmpty,
        Self::Busy,
        Self::InvalidName,
        Self::NoSpace,
        Self::CrossDevice,
        Self::InvalidArgument,
        Self::FileTooLarge,
    ];

    /// The code with this number.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::BadRequest,
            2 => Self::NoEntry,
            3 => Self::Exists,
            4 => Self::NotDir,
            5 => Self::IsDir,
            6 => Self::NotEmpty,
            7 => Self::Busy,
            8 => Self::InvalidName,
            9 => Self::NoSpace,
            10 => Self::CrossDevice,
            11 => Self::InvalidArgument,
            12 => Self::FileTooLarge,
            _ => return None,
        })
    }
}

/// The `detail` of a [`ErrorCode::NoSpace`] error: which table is full.
pub mod space {
    /// The inode table.
    pub const INODES: u32 = 1;
    /// The directory-entry (name) table.
    pub const ENTRIES: u32 = 2;
    /// The file-data block pool.
    pub const BLOCKS: u32 = 3;
    /// The mount table.
    pub const MOUNTS: u32 = 4;
}

/// Why a message does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The label is not known in this direction.
    UnknownLabel(u32),
    /// The body has the wrong length: over [`MAX_MSG_BYTES`], not a multiple
    /// of 8, shorter than its head, or not exactly the head plus the padded
    /// names or data its length fields announce.
    BadLength {
        /// What the layout needs.
        expected: usize,
        /// What arrived.
        actual: usize,
    },
    /// A reserved field, a padding byte, or a `SetAttr` value whose bit is
    /// clear in its mask, is not zero.
    ReservedNonZero,
    /// A mode has bits outside [`MODE_MASK`].
    BadMode(u32),
    /// A `SetAttr` mask has bits outside [`set_attr::ALL`].
    BadMask(u32),
    /// A `Read` asks for more than [`MAX_READ`] bytes, or a `Write` built in
    /// code carries more than [`MAX_WRITE`].
    TooLong(u32),
    /// An attributes reply names an unknown [`Kind`].
    BadKind(u8),
    /// An error reply carries an unknown code.
    BadErrorCode(u32),
}

impl DecodeError {
    /// A stable number for the error, sent as the `detail` of an
    /// [`ErrorCode::BadRequest`] reply.
    pub const fn code(&self) -> u32 {
        match self {
            Self::UnknownLabel(_) => 1,
            Self::BadLength { .. } => 2,
            Self::ReservedNonZero => 3,
            Self::BadMode(_) => 4,
            Self::BadMask(_) => 5,
            Self::TooLong(_) => 6,
            Self::BadKind(_) => 7,
            Self::BadErrorCode(_) => 8,
        }
    }
}

/// Why a message cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small, or the message exceeds [`MAX_MSG_BYTES`].
    NoSpace,
    /// A field is out of range: what the decoder would refuse.
    Invalid(DecodeError),
}

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A regular file: bytes.
    File = 1,
    /// A directory: names.
    Dir = 2,
}

impl Kind {
    /// The kind with this number.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Kind::File),
            2 => Some(Kind::Dir),
            _ => None,
        }
    }
}

/// Checks a name the way the server does: not empty, not `.` or `..`, no
/// `/` or NUL byte, at most [`NAME_MAX`] bytes. Other bytes, including
/// non-UTF-8 ones, are allowed: a name is bytes, as in POSIX.
pub fn check_name(name: &[u8]) -> Result<(), ErrorCode> {
    if name.is_empty()
        || name.len() > NAME_MAX
        || name == b"."
        || name == b".."
        || name.iter().any(|&b| b == b'/' || b == 0)
    {
        return Err(ErrorCode::InvalidName);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Bodies: the byte layouts. `docs/protocol.md` tabulates each one.

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
    /// Permission bits of the new inode (within [`MODE_MASK`]).
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
    /// Bytes of data that follow, at most [`MAX_WRITE`].
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
    /// Bytes wanted, at most [`MAX_READ`].
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
    /// Which of the values below to set: [`set_attr`] bits.
    pub mask: U32,
    /// New permission bits (within [`MODE_MASK`]).
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

/// The `mask` bits of a [`SetAttrBody`].
pub mod set_attr {
    /// Set the mode.
    pub const MODE: u32 = 1 << 0;
    /// Set the size.
    pub const SIZE: u32 = 1 << 1;
    /// Set the access time.
    pub const ATIME: u32 = 1 << 2;
    /// Set the modification time.
    pub const MTIME: u32 = 1 << 3;
    /// Set the owner.
    pub const UID: u32 = 1 << 4;
    /// Set the group.
    pub const GID: u32 = 1 << 5;
    /// Every defined bit.
    pub const ALL: u32 = MODE | SIZE | ATIME | MTIME | UID | GID;
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
    /// [`Kind`] number.
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

/// Error reply body: 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ErrorBody {
    /// An [`ErrorCode`].
    pub code: U32,
    /// Detail, per code.
    pub detail: U32,
}

// ---------------------------------------------------------------------------
// Decoded forms.

/// Which attributes a `SetAttr` sets; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttrs {
    /// New permission bits (within [`MODE_MASK`]).
    pub mode: Option<u32>,
    /// New size of a regular file: truncate, or extend with zeros.
    pub size: Option<u64>,
    /// New access time, ns.
    pub atime_ns: Option<u64>,
    /// New modification time, ns.
    pub mtime_ns: Option<u64>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
}

impl SetAttrs {
    /// The wire mask: a [`set_attr`] bit for each value that is set.
    pub const fn mask(&self) -> u32 {
        (if self.mode.is_some() { set_attr::MODE } else { 0 })
            | (if self.size.is_some() { set_attr::SIZE } else { 0 })
            | (if self.atime_ns.is_some() { set_attr::ATIME } else { 0 })
            | (if self.mtime_ns.is_some() { set_attr::MTIME } else { 0 })
            | (if self.uid.is_some() { set_attr::UID } else { 0 })
            | (if self.gid.is_some() { set_attr::GID } else { 0 })
    }
}

/// An inode's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attrs {
    /// The inode number.
    pub inode: u64,
    /// File or directory.
    pub kind: Kind,
    /// Permission bits (within [`MODE_MASK`]).
    pub mode: u32,
    /// Bytes in the file; 0 for a directory.
    pub size: u64,
    /// Names the inode has.
    pub nlink: u32,
    /// Access time, ns.
    pub atime_ns: u64,
    /// Modification time, ns.
    pub mtime_ns: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// A decoded request. Names and data borrow from the message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Look `name` up in `dir`.
    Lookup {
        /// The directory.
        dir: u64,
        /// The name.
        name: &'a [u8],
    },
    /// Read an inode's attributes.
    Stat {
        /// The inode.
        inode: u64,
    },
    /// Make a directory `name` in `dir`.
    Mkdir {
        /// The directory to hold it.
        dir: u64,
        /// Its name.
        name: &'a [u8],
        /// Its permission bits.
        mode: u32,
    },
    /// Make an empty regular file `name` in `dir`.
    Create {
        /// The directory to hold it.
        dir: u64,
        /// Its name.
        name: &'a [u8],
        /// Its permission bits.
        mode: u32,
    },
    /// Write `data` into a regular file at `offset`.
    Write {
        /// The file.
        inode: u64,
        /// Where.
        offset: u64,
        /// What, at most [`MAX_WRITE`] bytes.
        data: &'a [u8],
    },
    /// Read up to `len` bytes of a regular file at `offset`.
    Read {
        /// The file.
        inode: u64,
        /// Where.
        offset: u64,
        /// How many, at most [`MAX_READ`].
        len: u32,
    },
    /// Change attributes.
    SetAttr {
        /// The inode.
        inode: u64,
        /// What to set.
        attrs: SetAttrs,
    },
    /// Move `old_dir`/`old_name` to `new_dir`/`new_name`.
    Rename {
        /// The directory holding the name now.
        old_dir: u64,
        /// The name now.
        old_name: &'a [u8],
        /// The directory to hold it.
        new_dir: u64,
        /// Its new name.
        new_name: &'a [u8],
    },
    /// Give `inode` the name `name` in `new_dir`.
    Link {
        /// The inode (not a directory).
        inode: u64,
        /// The directory to hold the name.
        new_dir: u64,
        /// The name.
        name: &'a [u8],
    },
    /// Remove the name `name` of a non-directory from `dir`.
    Unlink {
        /// The directory.
        dir: u64,
        /// The name.
        name: &'a [u8],
    },
    /// Remove the empty directory `name` from `dir`.
    Rmdir {
        /// The directory holding it.
        dir: u64,
        /// Its name.
        name: &'a [u8],
    },
    /// Mount a fresh, empty file-system instance on the directory `dir`.
    Mount {
        /// The mount point.
        dir: u64,
    },
    /// Unmount the instance mounted on `dir` (the mount point, or the
    /// mounted root, which stands for it).
    Unmount {
        /// The mount point or the mounted root.
        dir: u64,
    },
}

/// A decoded reply. Read data borrows from the reply body (or, on the
/// server, from the buffer it was read into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Success with an empty body (`Rename`, `Link`, `Unlink`, `Rmdir`,
    /// `Unmount`).
    Done,
    /// Success naming an inode: what `Lookup` found, what `Mkdir` or `Create`
    /// made, the root `Mount` mounted.
    Inode(u64),
    /// Success with attributes: `Stat`'s, and the attributes after a
    /// `SetAttr` or `Write`.
    Attrs(Attrs),
    /// `Read`'s bytes; fewer than asked at the end of the file.
    Data(&'a [u8]),
    /// The request failed.
    Error {
        /// Why.
        code: ErrorCode,
        /// Detail, per code.
        detail: u32,
    },
}

impl Reply<'_> {
    /// An error reply with detail 0.
    pub const fn error(code: ErrorCode) -> Self {
        Reply::Error { code, detail: 0 }
    }
}

// ---------------------------------------------------------------------------
// Decoding.

fn padded(len: usize) -> usize {
    len.next_multiple_of(8)
}

fn check_len(body: &[u8]) -> Result<(), DecodeError> {
    if body.len() > MAX_MSG_BYTES || !body.len().is_multiple_of(8) {
        return Err(DecodeError::BadLength { expected: padded(body.len()).min(MAX_MSG_BYTES), actual: body.len() });
    }
    Ok(())
}

fn exact<T: FromBytes + KnownLayout + Immutable>(body: &[u8]) -> Result<T, DecodeError> {
    T::read_from_bytes(body)
        .map_err(|_| DecodeError::BadLength { expected: core::mem::size_of::<T>(), actual: body.len() })
}

fn head<T: FromBytes + KnownLayout + Immutable>(body: &[u8]) -> Result<(T, &[u8]), DecodeError> {
    T::read_from_prefix(body)
        .map_err(|_| DecodeError::BadLength { expected: core::mem::size_of::<T>(), actual: body.len() })
}

fn zero(reserved: &[u8]) -> Result<(), DecodeError> {
    if reserved.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(DecodeError::ReservedNonZero)
    }
}

fn mode(v: u32) -> Result<u32, DecodeError> {
    if v & !MODE_MASK != 0 {
        return Err(DecodeError::BadMode(v));
    }
    Ok(v)
}

/// Splits the tail after a head into `lens.len()` strings of those lengths,
/// requiring the tail to be exactly their total padded to 8 (BadLength) and
/// the padding zero (ReservedNonZero). `head_len` only makes the error say
/// the whole body's expected length.
fn tail<const N: usize>(head_len: usize, rest: &[u8], lens: [usize; N]) -> Result<[&[u8]; N], DecodeError> {
    let total: usize = lens.iter().sum();
    if rest.len() != padded(total) {
        return Err(DecodeError::BadLength { expected: head_len + padded(total), actual: head_len + rest.len() });
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

impl<'a> Request<'a> {
    /// Decodes a request from its label and body.
    pub fn decode(label: u32, body: &'a [u8]) -> Result<Self, DecodeError> {
        if !label::REQUESTS.contains(&label) {
            return Err(DecodeError::UnknownLabel(label));
        }
        check_len(body)?;
        Ok(match label {
            label::LOOKUP | label::UNLINK | label::RMDIR => {
                let (h, rest) = head::<EntryBody>(body)?;
                zero(&h.reserved)?;
                let [name] = tail(16, rest, [usize::from(h.name_len.get())])?;
                let dir = h.dir.get();
                match label {
                    label::LOOKUP => Request::Lookup { dir, name },
                    label::UNLINK => Request::Unlink { dir, name },
                    _ => Request::Rmdir { dir, name },
                }
            }
            label::STAT | label::MOUNT | label::UNMOUNT => {
                let b = exact::<InodeBody>(body)?;
                let inode = b.inode.get();
                match label {
                    label::STAT => Request::Stat { inode },
                    label::MOUNT => Request::Mount { dir: inode },
                    _ => Request::Unmount { dir: inode },
                }
            }
            label::MKDIR | label::CREATE => {
                let (h, rest) = head::<MakeBody>(body)?;
                zero(h.reserved.as_bytes())?;
                let mode = mode(h.mode.get())?;
                let [name] = tail(16, rest, [usize::from(h.name_len.get())])?;
                let dir = h.dir.get();
                if label == label::MKDIR {
                    Request::Mkdir { dir, name, mode }
                } else {
                    Request::Create { dir, name, mode }
                }
            }
            label::WRITE => {
                let (h, rest) = head::<WriteBody>(body)?;
                zero(h.reserved.as_bytes())?;
                // A length that cannot fit the body is a length error, like
                // any other mismatch between the head and the body.
                let len = usize::try_from(h.len.get()).unwrap_or(usize::MAX).min(MAX_MSG_BYTES + 1);
                let [data] = tail(24, rest, [len])?;
                Request::Write { inode: h.inode.get(), offset: h.offset.get(), data }
            }
            label::READ => {
                let b = exact::<ReadBody>(body)?;
                zero(b.reserved.as_bytes())?;
                let len = b.len.get();
                if len as usize > MAX_READ {
                    return Err(DecodeError::TooLong(len));
                }
                Request::Read { inode: b.inode.get(), offset: b.offset.get(), len }
            }
            label::SET_ATTR => {
                let b = exact::<SetAttrBody>(body)?;
                let mask = b.mask.get();
                if mask & !set_attr::ALL != 0 {
                    return Err(DecodeError::BadMask(mask));
                }
                let has = |bit: u32| mask & bit != 0;
                // A value that is not being set must be zero, so every
                // `SetAttrs` has exactly one encoding.
                let unset_nonzero = (!has(set_attr::MODE) && b.mode.get() != 0)
                    || (!has(set_attr::SIZE) && b.size.get() != 0)
                    || (!has(set_attr::ATIME) && b.atime_ns.get() != 0)
                    || (!has(set_attr::MTIME) && b.mtime_ns.get() != 0)
                    || (!has(set_attr::UID) && b.uid.get() != 0)
                    || (!has(set_attr::GID) && b.gid.get() != 0);
                if unset_nonzero {
                    return Err(DecodeError::ReservedNonZero);
                }
                let attrs = SetAttrs {
                    mode: if has(set_attr::MODE) { Some(mode(b.mode.get())?) } else { None },
                    size: has(set_attr::SIZE).then(|| b.size.get()),
                    atime_ns: has(set_attr::ATIME).then(|| b.atime_ns.get()),
                    mtime_ns: has(set_attr::MTIME).then(|| b.mtime_ns.get()),
                    uid: has(set_attr::UID).then(|| b.uid.get()),
                    gid: has(set_attr::GID).then(|| b.gid.get()),
                };
                Request::SetAttr { inode: b.inode.get(), attrs }
            }
            label::RENAME => {
                let (h, rest) = head::<RenameBody>(body)?;
                zero(h.reserved.as_bytes())?;
                let lens = [usize::from(h.old_name_len.get()), usize::from(h.new_name_len.get())];
                let [old_name, new_name] = tail(24, rest, lens)?;
                Request::Rename { old_dir: h.old_dir.get(), old_name, new_dir: h.new_dir.get(), new_name }
            }
            label::LINK => {
                let (h, rest) = head::<LinkBody>(body)?;
                zero(&h.reserved)?;
                let [name] = tail(24, rest, [usize::from(h.name_len.get())])?;
                Request::Link { inode: h.inode.get(), new_dir: h.new_dir.get(), name }
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }

    /// The label this request is sent with.
    pub const fn label(&self) -> u32 {
        match self {
            Request::Lookup { .. } => label::LOOKUP,
            Request::Stat { .. } => label::STAT,
            Request::Mkdir { .. } => label::MKDIR,
            Request::Create { .. } => label::CREATE,
            Request::Write { .. } => label::WRITE,
            Request::Read { .. } => label::READ,
            Request::SetAttr { .. } => label::SET_ATTR,
            Request::Rename { .. } => label::RENAME,
            Request::Link { .. } => label::LINK,
            Request::Unlink { .. } => label::UNLINK,
            Request::Rmdir { .. } => label::RMDIR,
            Request::Mount { .. } => label::MOUNT,
            Request::Unmount { .. } => label::UNMOUNT,
        }
    }

    /// Checks what a decoder checks of a request already in typed form: modes
    /// within [`MODE_MASK`], a `Read` of at most [`MAX_READ`] bytes, a `Write`
    /// of at most [`MAX_WRITE`]. For requests built by code rather than
    /// decoded; names are the server's to judge ([`check_name`]).
    pub fn check(&self) -> Result<(), DecodeError> {
        match *self {
            Request::Mkdir { mode: m, .. } | Request::Create { mode: m, .. } => mode(m).map(|_| ()),
            Request::SetAttr { attrs: SetAttrs { mode: Some(m), .. }, .. } => mode(m).map(|_| ()),
            Request::Read { len, .. } if len as usize > MAX_READ => Err(DecodeError::TooLong(len)),
            Request::Write { data, .. } if data.len() > MAX_WRITE => {
                Err(DecodeError::TooLong(u32::try_from(data.len()).unwrap_or(u32::MAX)))
            }
            _ => Ok(()),
        }
    }

    /// Encodes the request's body into `out`; returns the label and the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), EncodeError> {
        self.check().map_err(EncodeError::Invalid)?;
        let len = match *self {
            Request::Lookup { dir, name } | Request::Unlink { dir, name } | Request::Rmdir { dir, name } => {
                let h = EntryBody { dir: dir.into(), name_len: name_len(name)?, reserved: [0; 6] };
                put_with(out, h.as_bytes(), &[name])?
            }
            Request::Stat { inode: dir } | Request::Mount { dir } | Request::Unmount { dir } => {
                put_with(out, InodeBody { inode: dir.into() }.as_bytes(), &[])?
            }
            Request::Mkdir { dir, name, mode } | Request::Create { dir, name, mode } => {
                let h = MakeBody { dir: dir.into(), mode: mode.into(), name_len: name_len(name)?, reserved: 0.into() };
                put_with(out, h.as_bytes(), &[name])?
            }
            Request::Write { inode, offset, data } => {
                let h = WriteBody {
                    inode: inode.into(),
                    offset: offset.into(),
                    len: (data.len() as u32).into(),
                    reserved: 0.into(),
                };
                put_with(out, h.as_bytes(), &[data])?
            }
            Request::Read { inode, offset, len } => {
                let b = ReadBody { inode: inode.into(), offset: offset.into(), len: len.into(), reserved: 0.into() };
                put_with(out, b.as_bytes(), &[])?
            }
            Request::SetAttr { inode, attrs } => {
                let b = SetAttrBody {
                    inode: inode.into(),
                    mask: attrs.mask().into(),
                    mode: attrs.mode.unwrap_or(0).into(),
                    size: attrs.size.unwrap_or(0).into(),
                    atime_ns: attrs.atime_ns.unwrap_or(0).into(),
                    mtime_ns: attrs.mtime_ns.unwrap_or(0).into(),
                    uid: attrs.uid.unwrap_or(0).into(),
                    gid: attrs.gid.unwrap_or(0).into(),
                };
                put_with(out, b.as_bytes(), &[])?
            }
            Request::Rename { old_dir, old_name, new_dir, new_name } => {
                let h = RenameBody {
                    old_dir: old_dir.into(),
                    new_dir: new_dir.into(),
                    old_name_len: name_len(old_name)?,
                    new_name_len: name_len(new_name)?,
                    reserved: 0.into(),
                };
                put_with(out, h.as_bytes(), &[old_name, new_name])?
            }
            Request::Link { inode, new_dir, name } => {
                let h = LinkBody {
                    inode: inode.into(),
                    new_dir: new_dir.into(),
                    name_len: name_len(name)?,
                    reserved: [0; 6],
                };
                put_with(out, h.as_bytes(), &[name])?
            }
        };
        Ok((self.label(), len))
    }
}

/// A name's length as its `u16` field; a longer name could never fit in a
/// message anyway.
fn name_len(name: &[u8]) -> Result<U16, EncodeError> {
    u16::try_from(name.len()).map(U16::new).map_err(|_| EncodeError::NoSpace)
}

/// Writes `head`, then `parts` back to back, then zeros to a multiple of 8;
/// returns the length. Refuses a body over [`MAX_MSG_BYTES`] or `out`.
fn put_with(out: &mut [u8], head: &[u8], parts: &[&[u8]]) -> Result<usize, EncodeError> {
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

impl<'a> Reply<'a> {
    /// Decodes the reply to a request sent with `request_label`.
    pub fn decode(request_label: u32, reply_label: u32, body: &'a [u8]) -> Result<Self, DecodeError> {
        check_len(body)?;
        if reply_label == label::ERROR {
            let b = exact::<ErrorBody>(body)?;
            let code = ErrorCode::from_u32(b.code.get()).ok_or(DecodeError::BadErrorCode(b.code.get()))?;
            return Ok(Reply::Error { code, detail: b.detail.get() });
        }
        if reply_label != label::OK {
            return Err(DecodeError::UnknownLabel(reply_label));
        }
        Ok(match request_label {
            label::LOOKUP | label::MKDIR | label::CREATE | label::MOUNT => {
                Reply::Inode(exact::<InodeBody>(body)?.inode.get())
            }
            label::STAT | label::SET_ATTR | label::WRITE => {
                let b = exact::<AttrsBody>(body)?;
                zero(&b.reserved)?;
                let kind = Kind::from_u8(b.kind).ok_or(DecodeError::BadKind(b.kind))?;
                Reply::Attrs(Attrs {
                    inode: b.inode.get(),
                    kind,
                    mode: mode(b.mode.get())?,
                    size: b.size.get(),
                    nlink: b.nlink.get(),
                    atime_ns: b.atime_ns.get(),
                    mtime_ns: b.mtime_ns.get(),
                    uid: b.uid.get(),
                    gid: b.gid.get(),
                })
            }
            label::READ => {
                let (h, rest) = head::<DataHead>(body)?;
                zero(h.reserved.as_bytes())?;
                let len = usize::try_from(h.len.get()).unwrap_or(usize::MAX).min(MAX_MSG_BYTES + 1);
                let [data] = tail(8, rest, [len])?;
                Reply::Data(data)
            }
            label::RENAME | label::LINK | label::UNLINK | label::RMDIR | label::UNMOUNT => {
                if !body.is_empty() {
                    return Err(DecodeError::BadLength { expected: 0, actual: body.len() });
                }
                Reply::Done
            }
            other => return Err(DecodeError::UnknownLabel(other)),
        })
    }

    /// Encodes the reply's body into `out`; returns the reply label and length.
    pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), EncodeError> {
        let len = match *self {
            Reply::Done => 0,
            Reply::Inode(inode) => put_with(out, InodeBody { inode: inode.into() }.as_bytes(), &[])?,
            Reply::Attrs(a) => {
                mode(a.mode).map_err(EncodeError::Invalid)?;
                let b = AttrsBody {
                    inode: a.inode.into(),
                    size: a.size.into(),
                    atime_ns: a.atime_ns.into(),
                    mtime_ns: a.mtime_ns.into(),
                    mode: a.mode.into(),
                    nlink: a.nlink.into(),
                    uid: a.uid.into(),
                    gid: a.gid.into(),
                    kind: a.kind as u8,
                    reserved: [0; 7],
                };
                put_with(out, b.as_bytes(), &[])?
            }
            Reply::Data(data) => {
                if data.len() > MAX_READ {
                    return Err(EncodeError::NoSpace);
                }
                let h = DataHead { len: (data.len() as u32).into(), reserved: 0.into() };
                put_with(out, h.as_bytes(), &[data])?
            }
            Reply::Error { code, detail } => {
                let n = put_with(out, ErrorBody { code: (code as u32).into(), detail: detail.into() }.as_bytes(), &[])?;
                return Ok((label::ERROR, n));
            }
        };
        Ok((label::OK, len))
    }
}

// Compile-time checks that every head is a whole number of message registers
// and that the largest names fit.
const _: () = {
    assert!(core::mem::size_of::<InodeBody>() == 8);
    assert!(core::mem::size_of::<EntryBody>() == 16);
    assert!(core::mem::size_of::<MakeBody>() == 16);
    assert!(core::mem::size_of::<WriteBody>() == 24);
    assert!(core::mem::size_of::<ReadBody>() == 24);
    assert!(core::mem::size_of::<SetAttrBody>() == 48);
    assert!(core::mem::size_of::<RenameBody>() == 24);
    assert!(core::mem::size_of::<LinkBody>() == 24);
    assert!(core::mem::size_of::<AttrsBody>() == 56);
    assert!(core::mem::size_of::<DataHead>() == 8);
    assert!(core::mem::size_of::<ErrorBody>() == 8);
    assert!(MAX_WRITE == 936 && MAX_READ == 952);
    // A rename of two maximal names fits in one message.
    assert!(core::mem::size_of::<RenameBody>() + 2 * NAME_MAX <= MAX_MSG_BYTES);
};
