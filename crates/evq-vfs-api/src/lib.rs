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
//! * Every message is defined once, in the table below
//!   ([`evq_abi::protocol!`]), on the framing every evq protocol shares
//!   ([`evq_abi::framing`]); its layout is in `body.rs` and the checks of
//!   its fields in `codec.rs`.
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

mod body;
mod codec;
mod listing;

pub use body::*;
pub use evq_abi::event::vfs::NAME_MAX;
pub use evq_abi::framing::MAX_MSG_BYTES;
pub use listing::{ListEntry, Listing, ListingWriter, MAX_LISTING};

use codec::{reply as reply_codec, request as request_codec};

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

evq_abi::codes! {
    /// The error codes of an error reply.
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
    /// An attributes reply, or an entry of a listing, names an unknown
    /// [`Kind`].
    BadKind(u8),
    /// An error reply carries an unknown code.
    BadErrorCode(u32),
}

impl core::fmt::Display for DecodeError {
    /// The problem in words, with the limit it broke.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::UnknownLabel(l) => write!(f, "label {l:#06x} is not a VFS message"),
            Self::BadLength { expected, actual } => write!(f, "the body is {actual} bytes where {expected} are needed"),
            Self::ReservedNonZero => f.write_str("a reserved field or padding byte is not zero"),
            Self::BadMode(m) => write!(f, "mode {m:#o} has bits outside {MODE_MASK:#o}"),
            Self::BadMask(m) => write!(f, "attribute mask {m:#x} has bits outside {:#x}", set_attr::ALL),
            Self::TooLong(n) => {
                write!(f, "{n} bytes is more than one message carries ({MAX_READ} read, {MAX_WRITE} written)")
            }
            Self::BadKind(k) => write!(f, "inode kind {k} is not 1 (file) or 2 (directory)"),
            Self::BadErrorCode(c) => write!(f, "error code {c} is not one the VFS protocol defines"),
        }
    }
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

/// An error reply in words: what the VFS domain refused and why, with the
/// limit where one was broken (`rm /nope: no such file or directory`).
/// The `detail` is read as its [`ErrorCode`] defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The reply's code.
    pub code: ErrorCode,
    /// The reply's detail.
    pub detail: u32,
}

impl core::fmt::Display for Refusal {
    /// The refusal in words, with the limit it broke.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.code {
            ErrorCode::BadRequest => {
                let problem = match self.detail {
                    1 => "its label is not a VFS message",
                    2 => "its body has the wrong length",
                    3 => "a reserved field or padding byte is not zero",
                    4 => "a mode has bits outside 0o7777",
                    5 => "an attribute mask has unknown bits",
                    6 => "it asks to read or write more than one message carries",
                    _ => "it does not decode",
                };
                write!(f, "the VFS domain refused the request: {problem}")
            }
            ErrorCode::NoEntry => f.write_str("no such file or directory"),
            ErrorCode::Exists => f.write_str("the name exists already"),
            ErrorCode::NotDir => f.write_str("not a directory"),
            ErrorCode::IsDir => f.write_str("is a directory"),
            ErrorCode::NotEmpty => f.write_str("the directory is not empty"),
            ErrorCode::Busy => f.write_str("a mount point is in the way"),
            ErrorCode::InvalidName => {
                write!(f, "a name must not be empty, . or .., hold / or NUL, or be longer than {NAME_MAX} bytes")
            }
            ErrorCode::NoSpace => {
                let table = match self.detail {
                    space::INODES => "inode table",
                    space::ENTRIES => "name table",
                    space::BLOCKS => "file-data block pool",
                    space::MOUNTS => "mount table",
                    _ => "table",
                };
                write!(f, "the VFS domain's {table} is full")
            }
            ErrorCode::CrossDevice => f.write_str("the two names are on different mounted file systems"),
            ErrorCode::InvalidArgument => f.write_str(
                "not possible: a directory cannot move into its own subtree, and only a mount point can be unmounted",
            ),
            ErrorCode::FileTooLarge => f.write_str("the file would grow past the VFS domain's largest file size"),
        }
    }
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

/// Why a message cannot be encoded.
pub type EncodeError = evq_abi::framing::EncodeError<DecodeError>;

evq_abi::protocol! {
    errors { decode: DecodeError, code: ErrorCode }

    /// Message labels: this protocol uses `0x0301 ..`, beside the event
    /// server's `0x01xx` and `0x02xx`.
    labels label;

    /// A decoded request. Names and data borrow from the message body.
    requests Request<'a> in request_codec {
        /// Look `name` up in `dir`.
        LOOKUP = 0x0301, "client → VFS", entry: Lookup {
            /// The directory.
            dir: u64,
            /// The name.
            name: &'a [u8],
        } => Inode;
        /// Read an inode's attributes.
        STAT = 0x0302, "client → VFS", inode: Stat {
            /// The inode.
            inode: u64,
        } => Attrs;
        /// Make a directory `name` in `dir`.
        MKDIR = 0x0303, "client → VFS", make: Mkdir {
            /// The directory to hold it.
            dir: u64,
            /// Its name.
            name: &'a [u8],
            /// Its permission bits.
            mode: u32,
        } => Inode;
        /// Make an empty regular file `name` in `dir`.
        CREATE = 0x0304, "client → VFS", make: Create {
            /// The directory to hold it.
            dir: u64,
            /// Its name.
            name: &'a [u8],
            /// Its permission bits.
            mode: u32,
        } => Inode;
        /// Write `data` into a regular file at `offset`.
        WRITE = 0x0305, "client → VFS", write: Write {
            /// The file.
            inode: u64,
            /// Where.
            offset: u64,
            /// What, at most [`MAX_WRITE`](crate::MAX_WRITE) bytes.
            data: &'a [u8],
        } => Attrs;
        /// Read up to `len` bytes of a regular file at `offset`.
        READ = 0x0306, "client → VFS", read: Read {
            /// The file.
            inode: u64,
            /// Where.
            offset: u64,
            /// How many, at most [`MAX_READ`](crate::MAX_READ).
            len: u32,
        } => Data;
        /// Change attributes.
        SET_ATTR = 0x0307, "client → VFS", set_attrs: SetAttr {
            /// The inode.
            inode: u64,
            /// What to set.
            attrs: SetAttrs,
        } => Attrs;
        /// Move `old_dir`/`old_name` to `new_dir`/`new_name`, within a
        /// directory or to another.
        RENAME = 0x0308, "client → VFS", rename: Rename {
            /// The directory holding the name now.
            old_dir: u64,
            /// The name now.
            old_name: &'a [u8],
            /// The directory to hold it.
            new_dir: u64,
            /// Its new name.
            new_name: &'a [u8],
        } => Done;
        /// Give `inode` the name `name` in `new_dir` (a hard link).
        LINK = 0x0309, "client → VFS", link: Link {
            /// The inode (not a directory).
            inode: u64,
            /// The directory to hold the name.
            new_dir: u64,
            /// The name.
            name: &'a [u8],
        } => Done;
        /// Remove the name `name` of a non-directory from `dir`.
        UNLINK = 0x030A, "client → VFS", entry: Unlink {
            /// The directory.
            dir: u64,
            /// The name.
            name: &'a [u8],
        } => Done;
        /// Remove the empty directory `name` from `dir`.
        RMDIR = 0x030B, "client → VFS", entry: Rmdir {
            /// The directory holding it.
            dir: u64,
            /// Its name.
            name: &'a [u8],
        } => Done;
        /// Mount a fresh, empty file-system instance on the directory `dir`.
        MOUNT = 0x030C, "client → VFS", inode: Mount {
            /// The mount point.
            dir: u64,
        } => Inode;
        /// Unmount the instance mounted on `dir` (the mount point, or the
        /// mounted root, which stands for it).
        UNMOUNT = 0x030D, "client → VFS", inode: Unmount {
            /// The mount point or the mounted root.
            dir: u64,
        } => Done;
        /// List the names in the directory `dir`, from `cookie` on (0: from
        /// the first), as many as fit in one reply.
        READDIR = 0x030E, "client → VFS", read_dir: ReadDir {
            /// The directory.
            dir: u64,
            /// Where to resume: 0, or the previous reply's `next`.
            cookie: u64,
        } => Listing;
    }

    /// A decoded reply. Read data borrows from the reply body (or, on the
    /// server, from the buffer it was read into).
    replies Reply<'a> in reply_codec {
        /// Success with an empty body (`Rename`, `Link`, `Unlink`, `Rmdir`,
        /// `Unmount`).
        done: Done;
        /// Success naming an inode: what `Lookup` found, what `Mkdir` or
        /// `Create` made, the root `Mount` mounted.
        inode: Inode(u64);
        /// Success with attributes: `Stat`'s, and the attributes after a
        /// `SetAttr` or `Write`.
        attrs: Attrs(Attrs);
        /// `Read`'s bytes; fewer than asked at the end of the file.
        data: Data(&'a [u8]);
        /// `ReadDir`'s entries and where the next one resumes.
        listing: Listing(Listing<'a>);
    }
}

impl Request<'_> {
    /// Checks what a decoder checks of a request already in typed form: modes
    /// within [`MODE_MASK`], a `Read` of at most [`MAX_READ`] bytes, a `Write`
    /// of at most [`MAX_WRITE`]. For requests built by code rather than
    /// decoded; names are the server's to judge ([`check_name`]).
    pub fn check(&self) -> Result<(), DecodeError> {
        match *self {
            Request::Mkdir { mode: m, .. } | Request::Create { mode: m, .. } => codec::mode(m).map(|_| ()),
            Request::SetAttr { attrs: SetAttrs { mode: Some(m), .. }, .. } => codec::mode(m).map(|_| ()),
            Request::Read { len, .. } if len as usize > MAX_READ => Err(DecodeError::TooLong(len)),
            Request::Write { data, .. } if data.len() > MAX_WRITE => {
                Err(DecodeError::TooLong(u32::try_from(data.len()).unwrap_or(u32::MAX)))
            }
            _ => Ok(()),
        }
    }
}

impl Reply<'_> {
    /// An error reply with detail 0.
    pub const fn error(code: ErrorCode) -> Self {
        Reply::Error { code, detail: 0 }
    }
}

// Every head is a whole number of message registers, and the largest
// names fit.
const _: () = {
    assert!(size_of::<InodeBody>() == 8);
    assert!(size_of::<EntryBody>() == 16);
    assert!(size_of::<MakeBody>() == 16);
    assert!(size_of::<WriteBody>() == 24);
    assert!(size_of::<ReadBody>() == 24);
    assert!(size_of::<SetAttrBody>() == 48);
    assert!(size_of::<RenameBody>() == 24);
    assert!(size_of::<LinkBody>() == 24);
    assert!(size_of::<AttrsBody>() == 56);
    assert!(size_of::<DataHead>() == 8);
    assert!(size_of::<ReadDirBody>() == 16);
    assert!(size_of::<ListingHead>() == 16 && size_of::<ListingRecord>() == 16);
    // A reply holds at least four entries of the longest name.
    assert!(MAX_LISTING >= 4 * (16 + NAME_MAX));
    assert!(MAX_WRITE == 936 && MAX_READ == 952);
    // A rename of two maximal names fits in one message.
    assert!(size_of::<RenameBody>() + 2 * NAME_MAX <= MAX_MSG_BYTES);
};
