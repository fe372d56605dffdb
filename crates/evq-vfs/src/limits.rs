//! Every capacity of the file system's tables, in one place.
//!
//! The VFS core allocates nothing at run time: these constants size its
//! tables, so its memory is fixed when it is built. With the values below a
//! [`crate::Vfs`] is about 55 KiB: the data pool (`MAX_BLOCKS × BLOCK_SIZE` =
//! 32 KiB), the entry table (`MAX_ENTRIES` names of up to
//! [`evq_vfs_api::NAME_MAX`] bytes, ~14 KiB) and the inode table (~9 KiB). All mounted
//! instances share these tables: a mount takes one inode (its root) and one
//! mount-table row, and the rest as it fills.

/// Inodes, over every file-system instance together (each instance's root
/// directory included).
pub const MAX_INODES: usize = 64;
/// Directory entries (names), over every instance together.
pub const MAX_ENTRIES: usize = 64;
/// Bytes in one data block.
pub const BLOCK_SIZE: usize = 512;
/// Data blocks in the pool shared by every regular file.
pub const MAX_BLOCKS: usize = 64;
/// Blocks one regular file may hold.
pub const MAX_FILE_BLOCKS: usize = 32;
/// The largest regular file, in bytes (16 KiB). Files are not sparse: every
/// block below the size is held, so extending a file takes pool space.
pub const MAX_FILE_SIZE: u64 = (MAX_FILE_BLOCKS * BLOCK_SIZE) as u64;
/// File systems mounted at once, besides the root one.
pub const MAX_MOUNTS: usize = 4;

// Block indices are u16, and every mount's root needs an inode beside the
// root file system's.
const _: () = assert!(MAX_BLOCKS <= u16::MAX as usize && MAX_FILE_BLOCKS <= MAX_BLOCKS);
const _: () = assert!(MAX_INODES > MAX_MOUNTS);
