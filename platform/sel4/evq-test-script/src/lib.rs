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
//!
//! Then the file-system session, [`FS_SCRIPT`]: the workload domain sends it
//! to the VFS domain when the test client signals `fs-go`, checks each
//! reply's outcome, and signals `fs-done`; the test client replays it on a
//! model VFS core of its own and checks that exactly the model's events
//! arrived, in order, and none for the requests that failed.
#![no_std]
#![deny(missing_docs)]

use evq_abi::event::{device, vfs, Category};
use evq_vfs_api::{ErrorCode, Request, SetAttrs};

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

/// ARP requests the network domain sends when its link comes up (its
/// `args` in the description).
pub const NET_PROBES: u64 = 4;

/// The coalescing window the test client sets for the network phase.
pub const COALESCE_NS: u64 = 50_000_000;

/// What the boot-test harness types on the console once the test client
/// asks for it (`tests/sel4/boot-test.sh` types it followed by a carriage
/// return); the device domain must publish it as one input event.
pub const TYPED: &[u8] = b"hello evq";

/// One request of the file-system session and the outcome it must have.
#[derive(Clone, Copy, Debug)]
pub struct FsStep {
    /// The request.
    pub request: Request<'static>,
    /// `None`: it succeeds. `Some(code)`: it fails with `code`.
    pub fails: Option<ErrorCode>,
}

const fn ok(request: Request<'static>) -> FsStep {
    FsStep { request, fails: None }
}

const fn fails(request: Request<'static>, code: ErrorCode) -> FsStep {
    FsStep { request, fails: Some(code) }
}

const NO_ATTRS: SetAttrs = SetAttrs { mode: None, size: None, atime_ns: None, mtime_ns: None, uid: None, gid: None };

/// Inodes the session creates, numbered as the VFS core numbers them: the
/// root is 1, and each new inode of a file system takes the next number.
pub mod inode {
    /// `/`.
    pub const ROOT: u64 = 1;
    /// `/etc`.
    pub const ETC: u64 = 2;
    /// `/home`.
    pub const HOME: u64 = 3;
    /// `/etc/motd`, later `/home/motd` and `/etc/motd.old`.
    pub const MOTD: u64 = 4;
    /// The root of the file system mounted on `/home` (file system 1).
    pub const MOUNTED_ROOT: u64 = 1 << 48 | 1;
}

/// The session: make, write, set attributes, rename across directories,
/// link, unlink, mount and unmount, with requests that must fail between.
pub const FS_SCRIPT: [FsStep; 17] = [
    ok(Request::Mkdir { dir: inode::ROOT, name: b"etc", mode: 0o755 }),
    ok(Request::Mkdir { dir: inode::ROOT, name: b"home", mode: 0o755 }),
    fails(Request::Mkdir { dir: inode::ROOT, name: b"etc", mode: 0o755 }, ErrorCode::Exists),
    ok(Request::Create { dir: inode::ETC, name: b"motd", mode: 0o644 }),
    ok(Request::Write { inode: inode::MOTD, offset: 0, data: b"welcome to evq on seL4\n" }),
    ok(Request::SetAttr { inode: inode::MOTD, attrs: SetAttrs { mode: Some(0o600), ..NO_ATTRS } }),
    fails(Request::Create { dir: inode::MOTD, name: b"x", mode: 0o644 }, ErrorCode::NotDir),
    ok(Request::Rename { old_dir: inode::ETC, old_name: b"motd", new_dir: inode::HOME, new_name: b"motd" }),
    ok(Request::Link { inode: inode::MOTD, new_dir: inode::ETC, name: b"motd.old" }),
    fails(Request::Unlink { dir: inode::ETC, name: b"passwd" }, ErrorCode::NoEntry),
    ok(Request::Unlink { dir: inode::HOME, name: b"motd" }),
    fails(Request::Rmdir { dir: inode::ROOT, name: b"etc" }, ErrorCode::NotEmpty),
    ok(Request::Mount { dir: inode::HOME }),
    ok(Request::Create { dir: inode::HOME, name: b"scratch", mode: 0o600 }),
    fails(Request::Rmdir { dir: inode::ROOT, name: b"home" }, ErrorCode::Busy),
    ok(Request::Unmount { dir: inode::HOME }),
    ok(Request::Rmdir { dir: inode::ROOT, name: b"home" }),
];
