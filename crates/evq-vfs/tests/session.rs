//! A scripted session through the VFS core, checking the exact events every
//! request publishes (kinds, flags, objects, parents, names, fs ids), the
//! replies, and that every failing request answers its error, publishes
//! nothing and changes nothing.

mod common;

use common::*;
use evq_abi::event::vfs::flags::{ATTR_MODE, ATTR_MTIME, ATTR_NLINK, ATTR_OWNER, ATTR_SIZE, IS_DIR};
use evq_abi::event::vfs::{MOUNT, UNMOUNT};
use evq_vfs::limits::MAX_FILE_SIZE;
use evq_vfs::{fs_root, Usage, Vfs, ROOT_MODE};
use evq_vfs_api::{label, ErrorCode, Kind, Request, SetAttrs, ROOT_INODE};

/// Everything observable about the file system, for "nothing changed".
type Snapshot = (Usage, Vec<(u64, Vec<u8>, u64)>, Vec<evq_vfs_api::Attrs>, Vec<evq_vfs::MountInfo>);

struct Session {
    vfs: Box<Vfs>,
    now: u64,
}

impl Session {
    fn new() -> Self {
        Session { vfs: Box::new(Vfs::new(10)), now: 10 }
    }

    fn snapshot(&self) -> Snapshot {
        let mut entries: Vec<_> = self.vfs.entries().map(|e| (e.parent, e.name.to_vec(), e.child)).collect();
        entries.sort();
        (self.vfs.usage(), entries, self.vfs.inodes().collect(), self.vfs.mounts().collect())
    }

    /// A request that must succeed with exactly `events`; the clock moves on
    /// by 10 ns first.
    fn ok(&mut self, request: Request<'_>, events: &[Ev]) -> R {
        self.now += 10;
        let (reply, got) = call(&mut self.vfs, self.now, &request);
        assert!(!matches!(reply, R::Err(..)), "{request:?} failed: {reply:?}");
        assert_eq!(got, events, "events of {request:?}");
        reply
    }

    /// A request that must fail with `code`, publish nothing and change nothing.
    fn fail(&mut self, request: Request<'_>, code: ErrorCode) {
        self.fail_detail(request, code, 0);
    }

    fn fail_detail(&mut self, request: Request<'_>, code: ErrorCode, detail: u32) {
        self.now += 10;
        let before = self.snapshot();
        let (reply, got) = call(&mut self.vfs, self.now, &request);
        assert_eq!(reply, R::Err(code, detail), "{request:?}");
        assert!(got.is_empty(), "{request:?} published {got:?}");
        assert_eq!(self.snapshot(), before, "{request:?} changed something");
    }

    fn stat(&mut self, inode: u64) -> evq_vfs_api::Attrs {
        self.ok(Request::Stat { inode }, &[]).attrs()
    }

    fn read(&mut self, inode: u64, offset: u64, len: u32) -> Vec<u8> {
        match self.ok(Request::Read { inode, offset, len }, &[]) {
            R::Data(d) => d,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn scripted_session_publishes_exactly_the_expected_events() {
    let mut s = Session::new();
    let root = ROOT_INODE;
    assert_eq!(s.vfs.usage(), Usage { inodes: 1, entries: 0, blocks: 0, mounts: 0 });
    let a = s.stat(root);
    assert_eq!((a.kind, a.mode, a.nlink, a.size, a.mtime_ns), (Kind::Dir, ROOT_MODE, 1, 0, 10));

    // mkdir /docs, create /docs/notes.txt: inode numbers 2, 3.
    let docs = s.ok(Request::Mkdir { dir: root, name: b"docs", mode: 0o755 }, &[Ev::create(IS_DIR, 2, root, b"docs")]);
    assert_eq!(docs, R::Inode(2));
    let t = s.now;
    assert_eq!(s.stat(root).mtime_ns, t, "a new name sets the directory's mtime");
    let notes =
        s.ok(Request::Create { dir: 2, name: b"notes.txt", mode: 0o644 }, &[Ev::create(0, 3, 2, b"notes.txt")]).inode();
    assert_eq!(notes, 3);
    let a = s.stat(notes);
    assert_eq!((a.kind, a.mode, a.nlink, a.size, a.uid, a.gid), (Kind::File, 0o644, 1, 0, 0, 0));

    // Writes: ATTRIB with MTIME always, SIZE when it grows.
    let w = s.ok(
        Request::Write { inode: notes, offset: 0, data: b"hello world" },
        &[Ev::attrib(ATTR_MTIME | ATTR_SIZE, notes, 2, b"notes.txt")],
    );
    assert_eq!((w.attrs().size, w.attrs().mtime_ns), (11, s.now));
    s.ok(Request::Write { inode: notes, offset: 6, data: b"WORLD" }, &[Ev::attrib(ATTR_MTIME, notes, 2, b"notes.txt")]);
    assert_eq!(s.read(notes, 0, 100), b"hello WORLD");
    assert_eq!(s.read(notes, 6, 3), b"WOR");
    assert_eq!(s.read(notes, 11, 3), b"");
    assert_eq!(s.read(notes, u64::MAX, 3), b"");
    // Writing nothing changes nothing.
    let before = s.stat(notes);
    assert_eq!(s.ok(Request::Write { inode: notes, offset: 3, data: b"" }, &[]).attrs(), before);
    // A write past the end leaves zeros in the gap.
    s.ok(
        Request::Write { inode: notes, offset: 13, data: b"!" },
        &[Ev::attrib(ATTR_MTIME | ATTR_SIZE, notes, 2, b"notes.txt")],
    );
    assert_eq!(s.read(notes, 0, 100), b"hello WORLD\0\0!");

    // SetAttr: the flags are the attributes whose values changed.
    let set = SetAttrs { mode: Some(0o600), uid: Some(1000), gid: Some(0), ..SetAttrs::default() };
    let a = s.ok(
        Request::SetAttr { inode: notes, attrs: set },
        &[Ev::attrib(ATTR_MODE | ATTR_OWNER, notes, 2, b"notes.txt")],
    );
    assert_eq!((a.attrs().mode, a.attrs().uid, a.attrs().gid), (0o600, 1000, 0));
    s.ok(Request::SetAttr { inode: notes, attrs: set }, &[]);
    s.ok(Request::SetAttr { inode: notes, attrs: SetAttrs::default() }, &[]);
    // Truncation sets the mtime too.
    let a = s.ok(
        Request::SetAttr { inode: notes, attrs: SetAttrs { size: Some(5), ..SetAttrs::default() } },
        &[Ev::attrib(ATTR_SIZE | ATTR_MTIME, notes, 2, b"notes.txt")],
    );
    assert_eq!((a.attrs().size, a.attrs().mtime_ns), (5, s.now));
    assert_eq!(s.read(notes, 0, 100), b"hello");
    // ...unless the request sets it itself; extension zero-fills.
    let set = SetAttrs { size: Some(8), mtime_ns: Some(7), atime_ns: Some(3), ..SetAttrs::default() };
    let a = s.ok(
        Request::SetAttr { inode: notes, attrs: set },
        &[Ev::attrib(ATTR_SIZE | ATTR_MTIME | evq_abi::event::vfs::flags::ATTR_ATIME, notes, 2, b"notes.txt")],
    );
    assert_eq!((a.attrs().size, a.attrs().mtime_ns, a.attrs().atime_ns), (8, 7, 3));
    assert_eq!(s.read(notes, 0, 100), b"hello\0\0\0");
    // A directory's attributes, by number: the directory's one name.
    s.ok(
        Request::SetAttr { inode: 2, attrs: SetAttrs { mode: Some(0o700), ..SetAttrs::default() } },
        &[Ev::attrib(IS_DIR | ATTR_MODE, 2, root, b"docs")],
    );
    // The root has no name.
    s.ok(
        Request::SetAttr { inode: root, attrs: SetAttrs { gid: Some(5), ..SetAttrs::default() } },
        &[Ev::attrib(IS_DIR | ATTR_OWNER, root, 0, b"")],
    );

    // Rename across directories.
    let archive =
        s.ok(Request::Mkdir { dir: root, name: b"archive", mode: 0o755 }, &[Ev::create(IS_DIR, 4, root, b"archive")]);
    assert_eq!(archive, R::Inode(4));
    s.ok(
        Request::Rename { old_dir: 2, old_name: b"notes.txt", new_dir: 4, new_name: b"old.txt" },
        &[Ev::rename(0, notes, 2, b"notes.txt", 4, b"old.txt")],
    );
    let t = s.now;
    assert_eq!((s.stat(2).mtime_ns, s.stat(4).mtime_ns), (t, t));
    assert_eq!(s.ok(Request::Lookup { dir: 4, name: b"old.txt" }, &[]), R::Inode(notes));
    s.fail(Request::Lookup { dir: 2, name: b"notes.txt" }, ErrorCode::NoEntry);

    // A hard link: CREATE, then ATTRIB for the link count.
    s.ok(
        Request::Link { inode: notes, new_dir: 2, name: b"again" },
        &[Ev::create(0, notes, 2, b"again"), Ev::attrib(ATTR_NLINK, notes, 2, b"again")],
    );
    assert_eq!(s.stat(notes).nlink, 2);
    // With two names, an ATTRIB by number names neither.
    s.ok(Request::Write { inode: notes, offset: 0, data: b"H" }, &[Ev::attrib(ATTR_MTIME, notes, 0, b"")]);
    // Unlinking one name: DELETE, then ATTRIB for the count.
    s.ok(
        Request::Unlink { dir: 4, name: b"old.txt" },
        &[Ev::delete(0, notes, 4, b"old.txt"), Ev::attrib(ATTR_NLINK, notes, 4, b"old.txt")],
    );
    assert_eq!(s.stat(notes).nlink, 1);
    assert_eq!(s.read(notes, 0, 100), b"Hello\0\0\0");

    // Mount a fresh file system on /docs: its root is fs 1's inode 1.
    let m1 = fs_root(1);
    assert_eq!(m1, 1 << 48 | 1);
    let r = s.ok(Request::Mount { dir: 2 }, &[Ev::mount(MOUNT, 2, root, 1, b"docs")]);
    assert_eq!(r, R::Inode(m1));
    assert_eq!(s.vfs.usage().mounts, 1);
    // The mount point stands for the mounted root.
    assert_eq!(s.ok(Request::Lookup { dir: root, name: b"docs" }, &[]), R::Inode(m1));
    assert_eq!(s.stat(2).inode, m1);
    s.fail(Request::Lookup { dir: 2, name: b"again" }, ErrorCode::NoEntry);
    let inner = s.ok(Request::Create { dir: 2, name: b"m.txt", mode: 0o644 }, &[Ev::create(0, m1 + 1, m1, b"m.txt")]);
    assert_eq!(inner, R::Inode(m1 + 1));
    assert_eq!(s.ok(Request::Lookup { dir: m1, name: b"m.txt" }, &[]), R::Inode(m1 + 1));
    // The hidden file is still there by number.
    assert_eq!(s.stat(notes).size, 8);

    // What a mount forbids.
    s.fail(Request::Link { inode: notes, new_dir: m1, name: b"x" }, ErrorCode::CrossDevice);
    s.fail(Request::Rename { old_dir: 4, old_name: b"nothing", new_dir: m1, new_name: b"x" }, ErrorCode::NoEntry);
    s.fail(Request::Rename { old_dir: m1, old_name: b"m.txt", new_dir: root, new_name: b"x" }, ErrorCode::CrossDevice);
    s.fail(Request::Rename { old_dir: root, old_name: b"docs", new_dir: root, new_name: b"d2" }, ErrorCode::Busy);
    s.fail(Request::Rename { old_dir: root, old_name: b"archive", new_dir: root, new_name: b"docs" }, ErrorCode::Busy);
    s.fail(Request::Rmdir { dir: root, name: b"docs" }, ErrorCode::Busy);
    s.fail(Request::Unmount { dir: 4 }, ErrorCode::InvalidArgument);
    s.fail(Request::Unmount { dir: root }, ErrorCode::InvalidArgument);
    s.fail(Request::Unmount { dir: notes }, ErrorCode::NotDir);
    s.fail(Request::Mount { dir: 2 }, ErrorCode::Busy);
    s.fail(Request::Mount { dir: m1 }, ErrorCode::Busy);
    s.fail(Request::Mount { dir: root }, ErrorCode::Busy);
    s.fail(Request::Mount { dir: notes }, ErrorCode::NotDir);
    s.fail(Request::Mount { dir: 999 }, ErrorCode::NoEntry);

    // A nested mount: fs 2 on /docs/sub (a directory of fs 1).
    let sub =
        s.ok(Request::Mkdir { dir: m1, name: b"sub", mode: 0o755 }, &[Ev::create(IS_DIR, m1 + 2, m1, b"sub")]).inode();
    let m2 = s.ok(Request::Mount { dir: sub }, &[Ev::mount(MOUNT, sub, m1, 2, b"sub")]).inode();
    assert_eq!(m2, fs_root(2));
    s.fail(Request::Unmount { dir: 2 }, ErrorCode::Busy);
    s.ok(Request::Unmount { dir: m2 }, &[Ev::mount(UNMOUNT, sub, m1, 2, b"sub")]);
    // Unmounting fs 1 discards everything in it.
    s.ok(Request::Unmount { dir: 2 }, &[Ev::mount(UNMOUNT, 2, root, 1, b"docs")]);
    s.fail(Request::Stat { inode: m1 + 1 }, ErrorCode::NoEntry);
    s.fail(Request::Stat { inode: m1 }, ErrorCode::NoEntry);
    assert_eq!(s.ok(Request::Lookup { dir: root, name: b"docs" }, &[]), R::Inode(2));
    assert_eq!(s.ok(Request::Lookup { dir: 2, name: b"again" }, &[]), R::Inode(notes));
    // A new mount gets a new id: old numbers stay stale.
    s.ok(Request::Mount { dir: 4 }, &[Ev::mount(MOUNT, 4, root, 3, b"archive")]);
    s.fail(Request::Stat { inode: m1 }, ErrorCode::NoEntry);
    s.ok(Request::Unmount { dir: 4 }, &[Ev::mount(UNMOUNT, 4, root, 3, b"archive")]);

    // Failures, each publishing nothing.
    s.fail(Request::Mkdir { dir: root, name: b"docs", mode: 0 }, ErrorCode::Exists);
    s.fail(Request::Create { dir: 2, name: b"again", mode: 0 }, ErrorCode::Exists);
    for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"nul\0", &[b'x'; 201]] {
        s.fail(Request::Create { dir: root, name: bad, mode: 0 }, ErrorCode::InvalidName);
        s.fail(Request::Lookup { dir: root, name: bad }, ErrorCode::InvalidName);
    }
    s.ok(Request::Create { dir: root, name: &[b'x'; 200], mode: 0 }, &[Ev::create(0, 5, root, &[b'x'; 200])]);
    s.ok(Request::Unlink { dir: root, name: &[b'x'; 200] }, &[Ev::delete(0, 5, root, &[b'x'; 200])]);
    s.fail(Request::Lookup { dir: root, name: b"nope" }, ErrorCode::NoEntry);
    s.fail(Request::Lookup { dir: 12345, name: b"a" }, ErrorCode::NoEntry);
    s.fail(Request::Create { dir: notes, name: b"x", mode: 0 }, ErrorCode::NotDir);
    s.fail(Request::Unlink { dir: root, name: b"docs" }, ErrorCode::IsDir);
    s.fail(Request::Rmdir { dir: 2, name: b"again" }, ErrorCode::NotDir);
    s.fail(Request::Rmdir { dir: root, name: b"docs" }, ErrorCode::NotEmpty);
    s.fail(Request::Write { inode: 2, offset: 0, data: b"x" }, ErrorCode::IsDir);
    s.fail(Request::Read { inode: 2, offset: 0, len: 1 }, ErrorCode::IsDir);
    s.fail(Request::Write { inode: 77, offset: 0, data: b"x" }, ErrorCode::NoEntry);
    s.fail(Request::Write { inode: notes, offset: MAX_FILE_SIZE, data: b"x" }, ErrorCode::FileTooLarge);
    s.fail(Request::Write { inode: notes, offset: u64::MAX, data: b"x" }, ErrorCode::FileTooLarge);
    let big = SetAttrs { size: Some(MAX_FILE_SIZE + 1), ..SetAttrs::default() };
    s.fail(Request::SetAttr { inode: notes, attrs: big }, ErrorCode::FileTooLarge);
    let size = SetAttrs { size: Some(0), mode: Some(0o777), ..SetAttrs::default() };
    s.fail(Request::SetAttr { inode: 2, attrs: size }, ErrorCode::IsDir);
    s.fail(Request::Link { inode: 2, new_dir: 4, name: b"d" }, ErrorCode::IsDir);
    s.fail(Request::Link { inode: notes, new_dir: 2, name: b"again" }, ErrorCode::Exists);
    s.fail(Request::Link { inode: notes, new_dir: notes, name: b"z" }, ErrorCode::NotDir);
    s.fail(
        Request::Rename { old_dir: root, old_name: b"docs", new_dir: 2, new_name: b"inner" },
        ErrorCode::InvalidArgument,
    );
    s.fail(
        Request::Rename { old_dir: root, old_name: b"docs", new_dir: 2, new_name: b"again" },
        ErrorCode::InvalidArgument,
    );
    s.fail(Request::Rename { old_dir: root, old_name: b"archive", new_dir: 2, new_name: b"again" }, ErrorCode::NotDir);
    s.fail(Request::Rename { old_dir: 2, old_name: b"again", new_dir: root, new_name: b"archive" }, ErrorCode::IsDir);
    s.fail(
        Request::Rename { old_dir: root, old_name: b"archive", new_dir: root, new_name: b"docs" },
        ErrorCode::NotEmpty,
    );
    s.fail(Request::Rename { old_dir: root, old_name: b"x", new_dir: root, new_name: b".." }, ErrorCode::InvalidName);
    s.fail(Request::Unmount { dir: 2 }, ErrorCode::InvalidArgument);

    // Malformed messages: BadRequest with the decode error's code.
    s.now += 10;
    let before = s.snapshot();
    let (r, ev) = call_raw(&mut s.vfs, s.now, label::STAT, &[0; 12]);
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 2), vec![]));
    let (r, ev) = call_raw(&mut s.vfs, s.now, 0x0399, &[]);
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 1), vec![]));
    let mut body = vec![0u8; 24];
    body[0] = 1;
    body[8] = 0xFF;
    body[9] = 0xFF; // mode 0xFFFF
    body[12] = 1; // name_len 1
    body[16] = b'a';
    let (r, ev) = call_raw(&mut s.vfs, s.now, label::MKDIR, &body);
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 4), vec![]));
    // Typed requests built in code are checked like decoded ones.
    let (r, ev) = call_typed(&mut s.vfs, s.now, Request::Mkdir { dir: root, name: b"m", mode: 0o10000 });
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 4), vec![]));
    let (r, ev) = call_typed(&mut s.vfs, s.now, Request::Read { inode: notes, offset: 0, len: 10_000 });
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 6), vec![]));
    let data = [0u8; 2000];
    let (r, ev) = call_typed(&mut s.vfs, s.now, Request::Write { inode: notes, offset: 0, data: &data });
    assert_eq!((r, ev), (R::Err(ErrorCode::BadRequest, 6), vec![]));
    assert_eq!(s.snapshot(), before);

    // Rename over existing names.
    let f1 = s.ok(Request::Create { dir: root, name: b"f1", mode: 0 }, &[Ev::create(0, 6, root, b"f1")]).inode();
    let f2 = s.ok(Request::Create { dir: root, name: b"f2", mode: 0 }, &[Ev::create(0, 7, root, b"f2")]).inode();
    s.ok(
        Request::Write { inode: f2, offset: 0, data: &[1; 600] },
        &[Ev::attrib(ATTR_MTIME | ATTR_SIZE, f2, root, b"f2")],
    );
    assert_eq!(s.vfs.usage().blocks, 3, "notes.txt holds one block, f2 two");
    s.ok(
        Request::Rename { old_dir: root, old_name: b"f1", new_dir: root, new_name: b"f2" },
        &[Ev::delete(0, f2, root, b"f2"), Ev::rename(0, f1, root, b"f1", root, b"f2")],
    );
    s.fail(Request::Stat { inode: f2 }, ErrorCode::NoEntry);
    assert_eq!(s.vfs.usage().blocks, 1, "notes.txt's one block is all that is left");
    // Over a name of a file that has another: the replaced file lives on.
    s.ok(
        Request::Rename { old_dir: 2, old_name: b"again", new_dir: root, new_name: b"f2" },
        &[Ev::delete(0, f1, root, b"f2"), Ev::rename(0, notes, 2, b"again", root, b"f2")],
    );
    s.ok(
        Request::Link { inode: notes, new_dir: 2, name: b"again" },
        &[Ev::create(0, notes, 2, b"again"), Ev::attrib(ATTR_NLINK, notes, 2, b"again")],
    );
    let g = s.ok(Request::Create { dir: root, name: b"g", mode: 0 }, &[Ev::create(0, 8, root, b"g")]).inode();
    s.ok(
        Request::Link { inode: g, new_dir: 4, name: b"g" },
        &[Ev::create(0, g, 4, b"g"), Ev::attrib(ATTR_NLINK, g, 4, b"g")],
    );
    s.ok(
        Request::Rename { old_dir: root, old_name: b"f2", new_dir: root, new_name: b"g" },
        &[
            Ev::delete(0, g, root, b"g"),
            Ev::attrib(ATTR_NLINK, g, root, b"g"),
            Ev::rename(0, notes, root, b"f2", root, b"g"),
        ],
    );
    assert_eq!(s.stat(g).nlink, 1);
    // Onto itself, or onto another name of the same file: nothing happens.
    s.ok(Request::Rename { old_dir: root, old_name: b"g", new_dir: root, new_name: b"g" }, &[]);
    s.ok(Request::Rename { old_dir: root, old_name: b"g", new_dir: 2, new_name: b"again" }, &[]);
    // A directory over an empty directory.
    let e1 = s.ok(Request::Mkdir { dir: root, name: b"e1", mode: 0 }, &[Ev::create(IS_DIR, 9, root, b"e1")]).inode();
    let e2 = s.ok(Request::Mkdir { dir: 4, name: b"e2", mode: 0 }, &[Ev::create(IS_DIR, 10, 4, b"e2")]).inode();
    s.ok(
        Request::Rename { old_dir: root, old_name: b"e1", new_dir: 4, new_name: b"e2" },
        &[Ev::delete(IS_DIR, e2, 4, b"e2"), Ev::rename(IS_DIR, e1, root, b"e1", 4, b"e2")],
    );
    // ...and the moved directory's new place counts for the subtree check.
    s.fail(
        Request::Rename { old_dir: root, old_name: b"archive", new_dir: e1, new_name: b"a" },
        ErrorCode::InvalidArgument,
    );

    // Take everything down: all tables back to the root alone.
    s.ok(Request::Rmdir { dir: 4, name: b"e2" }, &[Ev::delete(IS_DIR, e1, 4, b"e2")]);
    s.ok(Request::Unlink { dir: 4, name: b"g" }, &[Ev::delete(0, g, 4, b"g")]);
    s.ok(Request::Rmdir { dir: root, name: b"archive" }, &[Ev::delete(IS_DIR, 4, root, b"archive")]);
    s.ok(
        Request::Unlink { dir: 2, name: b"again" },
        &[Ev::delete(0, notes, 2, b"again"), Ev::attrib(ATTR_NLINK, notes, 2, b"again")],
    );
    s.ok(Request::Unlink { dir: root, name: b"g" }, &[Ev::delete(0, notes, root, b"g")]);
    s.ok(Request::Rmdir { dir: root, name: b"docs" }, &[Ev::delete(IS_DIR, 2, root, b"docs")]);
    assert_eq!(s.vfs.usage(), Usage { inodes: 1, entries: 0, blocks: 0, mounts: 0 });
    assert_eq!(s.vfs.entries().count(), 0);
}

/// The worked example of docs/protocol.md §6.9, byte for byte.
#[test]
fn the_protocol_documents_worked_example() {
    let mut vfs = Box::new(Vfs::new(0));
    let body: [u8; 24] = [
        0x01, 0, 0, 0, 0, 0, 0, 0, // dir 1
        0xa4, 0x01, 0, 0, 0x05, 0, 0, 0, // mode 0o644, name_len 5
        b'a', b'.', b't', b'x', b't', 0, 0, 0,
    ];
    let mut out = [0u8; evq_abi::msg::MAX_MSG_BYTES];
    let mut events = Vec::new();
    let (l, n) = vfs.handle_message(1, 0x0304, &body, &mut out, &mut |e| {
        events.push((e.category, e.kind, e.type_flags, e.object_id, e.payload.to_vec()))
    });
    assert_eq!((l, &out[..n]), (0x0000, &[2, 0, 0, 0, 0, 0, 0, 0][..]));
    let mut payload = vec![1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(b"a.txt");
    assert_eq!(events, vec![(evq_abi::event::Category::Vfs, 0, 0, 2, payload)]);
    events.clear();
    let (l, n) = vfs.handle_message(2, 0x0304, &body, &mut out, &mut |e| {
        events.push((e.category, e.kind, e.type_flags, e.object_id, e.payload.to_vec()))
    });
    assert_eq!((l, &out[..n]), (0x0001, &[3, 0, 0, 0, 0, 0, 0, 0][..]));
    assert!(events.is_empty());
}
