//! The VFS domain's core: a sans-IO, in-memory file-system server.
//!
//! [`Vfs`] takes the VFS domain's requests (`evq_vfs_api::Request`: look up,
//! stat, make, write, read, set attributes, rename, link, unlink, remove a
//! directory, mount, unmount, list a directory), answers each with an `evq_vfs_api::Reply`,
//! and hands every change it makes to its shell as evq VFS events
//! ([`evq_abi::msg::Event`], category Vfs) for the shell to publish to the
//! event server. It makes no kernel or OS call and allocates nothing: its
//! tables are fixed ([`limits`]), so its memory is known when it is built.
//!
//! # The file system
//!
//! * **Inodes** are directories and regular files. The root file system's
//!   root directory is [`evq_vfs_api::ROOT_INODE`] (1). An inode number is
//!   `fs_id << 48 | n`: the file system's id in the high 16 bits ([`fs_id`],
//!   0 for the root file system) and, in the low 48, a number handed out
//!   1, 2, 3, … within that file system and **never reused**, so a stale
//!   number gets `NoEntry` rather than somebody else's file. Each file
//!   system's root is `n = 1` ([`fs_root`]).
//! * **Names** are bytes: not empty, not `.` or `..`, no `/` or NUL, at most
//!   200 bytes (`evq_vfs_api::check_name`). There are no `.` and `..`
//!   entries; a directory has exactly one name (its link count is 1) and a
//!   regular file one per hard link.
//! * **Attributes**: kind, permission bits (`0o7777`), size, link count,
//!   access and modification times (ns, from the `now_ns` the shell passes),
//!   owner and group. New inodes are owned by 0:0 (the VFS domain does not
//!   know its callers' identities; a shell that does sets them with
//!   `SetAttr`) and get both times from `now_ns`. A directory's size is 0.
//!   Reads do not set the access time (as `noatime`): a read changes nothing
//!   and publishes nothing.
//! * **Directory times**: adding or removing a name in a directory (make,
//!   link, unlink, rmdir, rename) sets its modification time, as POSIX does;
//!   as in inotify, the CREATE/DELETE/RENAME event stands for that, and no
//!   ATTRIB is published for the directory.
//! * **File data** lives in a pool of fixed blocks; a file holds every block
//!   below its size (no holes), so writing past the end or extending with
//!   `SetAttr` takes pool space and zero-fills the gap.
//! * **Mounts**: `Mount(dir)` puts a fresh, empty file system (a new root
//!   directory, mode 0o755) on a directory and answers its root. While
//!   mounted, the directory **stands for that root** in every request that
//!   names it by number, as a path through it would: `Lookup` of its name
//!   answers the mounted root, and making, linking or looking up names "in"
//!   it does so in the mounted root. Its own contents stay, hidden, until
//!   the unmount. `Unmount` takes the mount point or the mounted root and
//!   discards everything in the mounted file system, as a tmpfs does. A
//!   mounted file system with id `f` has its root at inode [`fs_root`]`(f)`
//!   = `f << 48 | 1`: the number `Mount` answers, a `Lookup` of the mount
//!   point's name answers, events name as `parent` for names made in it,
//!   and a `ReadDir` of the mount point's directory lists for that name.
//! * **Listing**: `ReadDir` lists a directory's names in the order they were
//!   made (a rename keeps a name's place), resuming at a cookie, which is
//!   the place of the first name a reply left out: a listing taken in parts
//!   neither skips nor repeats a name that stays put meanwhile.
//!
//! # Rules where POSIX leaves a choice
//!
//! * Mounting on a mount point or on any file system's root answers `Busy`
//!   (no stacked mounts, and the root file system is not re-mounted).
//!   Mounts may nest: a file system may be mounted on a directory inside a
//!   mounted one.
//! * `Unmount` answers `Busy` when another file system is mounted on a
//!   directory inside the one being unmounted (unmount that one first), and
//!   `InvalidArgument` for a directory nothing is mounted on (including the
//!   root file system's root).
//! * A mount point cannot be removed, renamed or replaced by a rename
//!   (`Busy`). A rename or link whose two directories (or inode and
//!   directory) are in different file systems answers `CrossDevice`.
//! * `Rename` over an existing name: a file replaces a file; a directory
//!   replaces an empty directory; a directory over a file answers `NotDir`,
//!   a file over a directory `IsDir`, a directory over a non-empty one
//!   `NotEmpty`. Moving a directory into itself or below itself answers
//!   `InvalidArgument`. Renaming a name onto itself, or onto another name
//!   of the same file, succeeds and does nothing.
//! * `Link` to a directory answers `IsDir`.
//! * A `Write` of no bytes succeeds and changes nothing.
//! * Failed requests change nothing: every check is made before the first
//!   change.
//!
//! # Events
//!
//! Every successful request that changes something publishes exactly these
//! events, in this order (category Vfs, priority Normal; `IS_DIR` is set
//! whenever the event's object is a directory); a failed request, and
//! `Lookup`, `Stat`, `Read` and `ReadDir`, publish nothing.
//!
//! | request | events: kind (object; payload) | extra type flags |
//! |---|---|---|
//! | `Mkdir`, `Create` | CREATE (new inode; parent dir, name) | |
//! | `Link` | CREATE (inode; new dir, name), then ATTRIB (inode; new dir, name) | ATTRIB: `ATTR_NLINK` |
//! | `Unlink`, `Rmdir` | DELETE (inode; dir, name); then, if the inode still has names, ATTRIB (inode; dir, name) | ATTRIB: `ATTR_NLINK` |
//! | `Rename` | if it replaces a name: DELETE (+ ATTRIB, as `Unlink`) for the replaced inode and the new name; then RENAME (moved inode; old dir, new dir, old name, new name) | |
//! | `Write` of ≥ 1 byte | ATTRIB (file; see below) | `ATTR_MTIME` always (it stands for inotify's `IN_MODIFY`), `ATTR_SIZE` if the size changed |
//! | `SetAttr` | ATTRIB (inode; see below), only if some attribute's value changed | one `ATTR_*` for each attribute whose value differs afterwards (`ATTR_OWNER` for uid or gid); a size change sets the modification time too (unless the request sets it), so it reports both `ATTR_SIZE` and `ATTR_MTIME` |
//! | `Mount` | MOUNT (the mount point; its parent, the new fs id, its name) | |
//! | `Unmount` | UNMOUNT (the mount point; its parent, the fs id, its name) | |
//!
//! `Write` and `SetAttr` name the inode by number, not by name, so their
//! ATTRIB carries the inode's name when it has exactly one, and parent 0
//! with an empty name otherwise (a root, or a file with several hard links),
//! as the protocol allows for ATTRIB. Parents in events are always the
//! directory actually holding the name (a mounted root, never the mount
//! point standing for it).
//!
//! # Limits
//!
//! Table sizes are in [`limits`]: inodes, names and data blocks are shared
//! by every mounted file system; a full table answers `NoSpace` with the
//! table in the detail (`evq_vfs_api::space`). Inode numbers within a file
//! system run out after 2^48 − 2 creations (`NoSpace`, inodes); mount ids
//! are searched from the last one given, wrapping after 65535, so an id is
//! reused only after that many mounts.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod data;
pub mod limits;
mod vfs;

pub use vfs::{fs_id, fs_root, DirEntry, MountInfo, Usage, Vfs, FS_ID_SHIFT, ROOT_MODE};
