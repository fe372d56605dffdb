//! The file-system state machine.

use evq_abi::event::{encode_dentry, encode_mount, encode_rename, vfs, Category, Priority, Rename, MAX_PAYLOAD};
use evq_abi::msg::{Event, MAX_MSG_BYTES};
use evq_vfs_api::{
    check_name, space, Attrs, ErrorCode, Kind, ListingWriter, Reply, Request, SetAttrs, MAX_READ, NAME_MAX, ROOT_INODE,
};
use heapless::Vec;

use crate::data::{blocks_for, BlockList, Pool};
use crate::limits::{MAX_ENTRIES, MAX_FILE_SIZE, MAX_INODES, MAX_MOUNTS};

/// Inode numbers carry their file system's id in the bits from here up, so
/// no two instances' numbers collide (see [`fs_id`]).
pub const FS_ID_SHIFT: u32 = 48;
/// The low bits of an inode number: its number within its file system.
const LOCAL_MASK: u64 = (1 << FS_ID_SHIFT) - 1;
/// Every file system's root directory has this number within it.
const LOCAL_ROOT: u64 = 1;
/// Permission bits of a root directory, the root file system's and each
/// mounted one's.
pub const ROOT_MODE: u32 = 0o755;

/// The id of the file system an inode number belongs to: 0 for the root file
/// system, the mount's id (1 ..= 65535) for a mounted one.
pub const fn fs_id(inode: u64) -> u16 {
    (inode >> FS_ID_SHIFT) as u16
}

/// The root directory's inode number in file system `fs_id`.
pub const fn fs_root(fs_id: u16) -> u64 {
    (fs_id as u64) << FS_ID_SHIFT | LOCAL_ROOT
}

/// How full the tables are; all zero but the root file system's root
/// (`inodes == 1`) when the file system is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Inodes in use, every instance's root included.
    pub inodes: usize,
    /// Names in use.
    pub entries: usize,
    /// Data blocks held by files.
    pub blocks: usize,
    /// File systems mounted (the root one not counted).
    pub mounts: usize,
}

/// One name, as [`Vfs::entries`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The directory holding the name.
    pub parent: u64,
    /// The name.
    pub name: &'a [u8],
    /// The inode it names. For a mount point this is the covered directory,
    /// not the mounted root a `Lookup` answers.
    pub child: u64,
}

/// One mounted file system, as [`Vfs::mounts`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Its id, in the high bits of its inode numbers.
    pub fs_id: u16,
    /// The directory it is mounted on.
    pub covered: u64,
    /// Its root directory.
    pub root: u64,
}

struct Inode {
    ino: u64,
    kind: Kind,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    size: u64,
    atime_ns: u64,
    mtime_ns: u64,
    /// A directory's parent: the directory holding its one name, or 0 for a
    /// root. Kept so a rename can refuse to move a directory under itself
    /// without a search. 0 for a regular file, which may have many parents.
    parent: u64,
    blocks: BlockList,
}

impl Inode {
    fn attrs(&self) -> Attrs {
        Attrs {
            inode: self.ino,
            kind: self.kind,
            mode: self.mode,
            size: self.size,
            nlink: self.nlink,
            atime_ns: self.atime_ns,
            mtime_ns: self.mtime_ns,
            uid: self.uid,
            gid: self.gid,
        }
    }

    fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

struct Entry {
    parent: u64,
    child: u64,
    name: Vec<u8, NAME_MAX>,
    /// When the name was made, counting 1, 2, 3, … and never reused: a
    /// directory lists its names in this order, and a `ReadDir` cookie is
    /// the `seq` to resume at, so a listing taken in parts neither skips nor
    /// repeats a name that stays put meanwhile. A rename keeps it.
    seq: u64,
}

/// A file-system instance: the root one, or one mounted on a directory.
struct Instance {
    fs_id: u16,
    /// The directory it is mounted on; 0 for the root file system.
    covered: u64,
    /// The next inode number to hand out within it. Numbers are never
    /// reused, so a stale inode number finds nothing instead of a stranger.
    next_local: u64,
}

/// Why an operation failed: the reply's code and detail.
struct Fail(ErrorCode, u32);

impl From<ErrorCode> for Fail {
    fn from(code: ErrorCode) -> Self {
        Fail(code, 0)
    }
}

type Outcome<'r> = Result<Reply<'r>, Fail>;

/// The VFS domain's file system: an in-memory tree of directories and
/// regular files, with hard links and mounts, in fixed tables.
///
/// Feed it requests with [`Vfs::handle`] (typed) or
/// [`Vfs::handle_message`] (label and body); every successful change is
/// published as VFS events through the `publish` callback, and a failed
/// request changes nothing and publishes nothing. The crate documentation
/// states the semantics and the events of each request.
pub struct Vfs {
    /// Sorted by inode number, for binary search.
    inodes: Vec<Inode, MAX_INODES>,
    entries: Vec<Entry, MAX_ENTRIES>,
    pool: Pool,
    /// `instances[0]` is the root file system; the rest are mounts.
    instances: Vec<Instance, { MAX_MOUNTS + 1 }>,
    /// Where the search for a free mount id starts, so ids are not reused
    /// until 65535 mounts later.
    next_fs_id: u16,
    /// The `seq` the next name gets.
    next_seq: u64,
}

impl Vfs {
    /// A file system holding only its root directory, [`ROOT_INODE`]:
    /// mode [`ROOT_MODE`], owner 0:0, both times `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        let mut vfs = Vfs {
            inodes: Vec::new(),
            entries: Vec::new(),
            pool: Pool::new(),
            instances: Vec::new(),
            next_fs_id: 1,
            next_seq: 1,
        };
        let _ = vfs.instances.push(Instance { fs_id: 0, covered: 0, next_local: LOCAL_ROOT + 1 });
        let _ = vfs.inodes.push(new_inode(ROOT_INODE, Kind::Dir, ROOT_MODE, 0, now_ns));
        vfs
    }

    // -----------------------------------------------------------------------
    // Inspection: for the shell, tools and tests. None of it changes anything.

    /// How full the tables are.
    pub fn usage(&self) -> Usage {
        Usage {
            inodes: self.inodes.len(),
            entries: self.entries.len(),
            blocks: crate::limits::MAX_BLOCKS - self.pool.free(),
            mounts: self.instances.len() - 1,
        }
    }

    /// The attributes of inode `inode` itself (a covered directory's own, not
    /// the mounted root's as `Stat` answers); `None` if there is no such inode.
    pub fn inode(&self, inode: u64) -> Option<Attrs> {
        self.find(inode).map(|i| self.inodes[i].attrs())
    }

    /// Every inode's attributes, in inode-number order.
    pub fn inodes(&self) -> impl Iterator<Item = Attrs> + '_ {
        self.inodes.iter().map(Inode::attrs)
    }

    /// Every name, in no particular order, including the names hidden under
    /// a mount.
    pub fn entries(&self) -> impl Iterator<Item = DirEntry<'_>> + '_ {
        self.entries.iter().map(|e| DirEntry { parent: e.parent, name: &e.name, child: e.child })
    }

    /// Every mounted file system, in the order they were mounted.
    pub fn mounts(&self) -> impl Iterator<Item = MountInfo> + '_ {
        self.instances.iter().skip(1).map(|m| MountInfo { fs_id: m.fs_id, covered: m.covered, root: fs_root(m.fs_id) })
    }

    /// Reads a regular file as `Read` does, into `buf` (as much of it as the
    /// file has past `offset`); returns the bytes read.
    pub fn read(&self, inode: u64, offset: u64, buf: &mut [u8]) -> Result<usize, ErrorCode> {
        let i = self.find(self.resolve(inode)).ok_or(ErrorCode::NoEntry)?;
        let node = &self.inodes[i];
        if node.is_dir() {
            return Err(ErrorCode::IsDir);
        }
        let start = offset.min(node.size);
        let end = offset.saturating_add(buf.len() as u64).min(node.size);
        let n = (end - start) as usize;
        self.pool.read(&node.blocks, start, &mut buf[..n]);
        Ok(n)
    }

    // -----------------------------------------------------------------------
    // Requests.

    /// Carries out one request at time `now_ns` (the shell's clock, in ns;
    /// it stamps the times the request sets). Every event the request causes
    /// is passed to `publish`, in order, before this returns; a failed
    /// request publishes nothing and changes nothing. A `Read`'s bytes are
    /// copied into `read_buf`, which the reply then borrows: a `read_buf` of
    /// [`MAX_READ`] bytes always holds them; a shorter one shortens the read.
    /// A `ReadDir`'s entries are packed into it the same way: one of
    /// [`MAX_READ`] bytes holds a whole reply's worth
    /// ([`evq_vfs_api::MAX_LISTING`]); with a shorter one a listing takes
    /// more parts, and one too short for the next entry answers no entries
    /// and a `next` that names it.
    pub fn handle<'r>(
        &mut self,
        now_ns: u64,
        request: Request<'_>,
        read_buf: &'r mut [u8],
        publish: &mut impl FnMut(Event<'_>),
    ) -> Reply<'r> {
        if let Err(e) = request.check() {
            return Reply::Error { code: ErrorCode::BadRequest, detail: e.code() };
        }
        let outcome = match request {
            Request::Lookup { dir, name } => self.lookup(dir, name),
            Request::Stat { inode } => self.stat(inode),
            Request::Mkdir { dir, name, mode } => self.make(now_ns, dir, name, mode, Kind::Dir, publish),
            Request::Create { dir, name, mode } => self.make(now_ns, dir, name, mode, Kind::File, publish),
            Request::Write { inode, offset, data } => self.write(now_ns, inode, offset, data, publish),
            Request::Read { inode, offset, len } => {
                let want = (len as usize).min(read_buf.len());
                match self.read(inode, offset, &mut read_buf[..want]) {
                    Ok(n) => Ok(Reply::Data(&read_buf[..n])),
                    Err(code) => Err(code.into()),
                }
            }
            Request::SetAttr { inode, attrs } => self.set_attr(now_ns, inode, attrs, publish),
            Request::Rename { old_dir, old_name, new_dir, new_name } => {
                self.rename(now_ns, old_dir, old_name, new_dir, new_name, publish)
            }
            Request::Link { inode, new_dir, name } => self.link(now_ns, inode, new_dir, name, publish),
            Request::Unlink { dir, name } => self.remove(now_ns, dir, name, Kind::File, publish),
            Request::Rmdir { dir, name } => self.remove(now_ns, dir, name, Kind::Dir, publish),
            Request::Mount { dir } => self.mount(now_ns, dir, publish),
            Request::Unmount { dir } => self.unmount(dir, publish),
            Request::ReadDir { dir, cookie } => self.read_dir(dir, cookie, read_buf),
        };
        match outcome {
            Ok(reply) => reply,
            Err(Fail(code, detail)) => Reply::Error { code, detail },
        }
    }

    /// Carries out one request as it arrived, a label and a body, and writes
    /// the reply into `out`; returns the reply's label and body length. A
    /// body that does not decode (or an unknown label) is answered
    /// `BadRequest` with the [`evq_vfs_api::DecodeError::code`] as detail,
    /// and changes nothing.
    pub fn handle_message(
        &mut self,
        now_ns: u64,
        label: u32,
        body: &[u8],
        out: &mut [u8; MAX_MSG_BYTES],
        publish: &mut impl FnMut(Event<'_>),
    ) -> (u32, usize) {
        let mut read_buf = [0u8; MAX_READ];
        let reply = match Request::decode(label, body) {
            Ok(request) => self.handle(now_ns, request, &mut read_buf, publish),
            Err(e) => Reply::Error { code: ErrorCode::BadRequest, detail: e.code() },
        };
        // Every reply this server makes fits in one message; were one ever
        // refused, an error the client can decode beats a malformed reply.
        reply.encode(out).unwrap_or_else(|_| {
            let fallback = Reply::Error { code: ErrorCode::BadRequest, detail: 0 };
            fallback.encode(out).unwrap_or((evq_vfs_api::label::ERROR, 0))
        })
    }

    fn lookup(&self, dir: u64, name: &[u8]) -> Outcome<'static> {
        check_name(name)?;
        let d = self.dir(dir)?;
        let e = self.find_entry(d, name).ok_or(ErrorCode::NoEntry)?;
        Ok(Reply::Inode(self.resolve(self.entries[e].child)))
    }

    /// The names in `dir` from `cookie` on, in the order they were made, as
    /// many as `buf` holds; `next` is the `seq` of the first one left out.
    fn read_dir<'r>(&self, dir: u64, cookie: u64, buf: &'r mut [u8]) -> Outcome<'r> {
        let d = self.dir(dir)?;
        let mut out = ListingWriter::new(buf);
        let mut from = cookie;
        // The next name by `seq`, searched for each time: the table is small
        // and a listing allocates nothing.
        let next_after =
            |from: u64| self.entries.iter().filter(|e| e.parent == d && e.seq >= from).min_by_key(|e| e.seq);
        while let Some(e) = next_after(from) {
            let child = self.resolve(e.child);
            let kind = self.find(child).map_or(Kind::File, |i| self.inodes[i].kind);
            if !out.push(child, kind, &e.name) {
                return Ok(Reply::Listing(out.finish(e.seq)));
            }
            from = e.seq + 1;
        }
        Ok(Reply::Listing(out.finish(0)))
    }

    fn stat(&self, inode: u64) -> Outcome<'static> {
        let i = self.find(self.resolve(inode)).ok_or(ErrorCode::NoEntry)?;
        Ok(Reply::Attrs(self.inodes[i].attrs()))
    }

    fn make(
        &mut self,
        now: u64,
        dir: u64,
        name: &[u8],
        mode: u32,
        kind: Kind,
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        check_name(name)?;
        let d = self.dir(dir)?;
        if self.find_entry(d, name).is_some() {
            return Err(ErrorCode::Exists.into());
        }
        if self.inodes.is_full() {
            return Err(Fail(ErrorCode::NoSpace, space::INODES));
        }
        if self.entries.is_full() {
            return Err(Fail(ErrorCode::NoSpace, space::ENTRIES));
        }
        let ino = self.next_ino(fs_id(d))?;
        self.insert_inode(new_inode(ino, kind, mode, if kind == Kind::Dir { d } else { 0 }, now));
        self.add_entry(d, name, ino);
        self.touch(d, now);
        let flags = if kind == Kind::Dir { vfs::flags::IS_DIR } else { 0 };
        dentry_event(publish, vfs::CREATE, flags, ino, d, name);
        Ok(Reply::Inode(ino))
    }

    fn write(
        &mut self,
        now: u64,
        inode: u64,
        offset: u64,
        data: &[u8],
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        let ino = self.resolve(inode);
        let i = self.find(ino).ok_or(ErrorCode::NoEntry)?;
        if self.inodes[i].is_dir() {
            return Err(ErrorCode::IsDir.into());
        }
        let end = offset.checked_add(data.len() as u64).filter(|&end| end <= MAX_FILE_SIZE);
        let Some(end) = end else { return Err(ErrorCode::FileTooLarge.into()) };
        // POSIX: writing nothing changes nothing, not even the times.
        if data.is_empty() {
            return Ok(Reply::Attrs(self.inodes[i].attrs()));
        }
        let old_size = self.inodes[i].size;
        let new_size = old_size.max(end);
        self.reserve_blocks(i, new_size)?;
        let node = &mut self.inodes[i];
        self.pool.resize(&mut node.blocks, old_size, new_size);
        self.pool.write(&node.blocks, offset, data);
        node.size = new_size;
        node.mtime_ns = now;
        let attrs = node.attrs();
        // A write always publishes ATTRIB with ATTR_MTIME, even when the clock
        // has not moved: it stands for inotify's IN_MODIFY, which evq has no
        // kind of its own for.
        let mut flags = vfs::flags::ATTR_MTIME;
        if new_size != old_size {
            flags |= vfs::flags::ATTR_SIZE;
        }
        self.attrib_event(publish, ino, flags);
        Ok(Reply::Attrs(attrs))
    }

    fn set_attr(
        &mut self,
        now: u64,
        inode: u64,
        set: SetAttrs,
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        let ino = self.resolve(inode);
        let i = self.find(ino).ok_or(ErrorCode::NoEntry)?;
        if let Some(size) = set.size {
            if self.inodes[i].is_dir() {
                return Err(ErrorCode::IsDir.into());
            }
            if size > MAX_FILE_SIZE {
                return Err(ErrorCode::FileTooLarge.into());
            }
            self.reserve_blocks(i, size)?;
        }
        let node = &mut self.inodes[i];
        let before = node.attrs();
        if let Some(mode) = set.mode {
            node.mode = mode;
        }
        if let Some(size) = set.size {
            self.pool.resize(&mut node.blocks, node.size, size);
            if size != node.size {
                // POSIX: a truncate that changes the size sets the
                // modification time, unless the request sets it itself.
                node.mtime_ns = now;
            }
            node.size = size;
        }
        if let Some(t) = set.atime_ns {
            node.atime_ns = t;
        }
        if let Some(t) = set.mtime_ns {
            node.mtime_ns = t;
        }
        if let Some(uid) = set.uid {
            node.uid = uid;
        }
        if let Some(gid) = set.gid {
            node.gid = gid;
        }
        let after = node.attrs();
        // The flags say which attributes now differ, not which were asked
        // for: setting a value to what it was is no change and no event.
        let mut flags = 0;
        if after.mode != before.mode {
            flags |= vfs::flags::ATTR_MODE;
        }
        if after.size != before.size {
            flags |= vfs::flags::ATTR_SIZE;
        }
        if after.atime_ns != before.atime_ns {
            flags |= vfs::flags::ATTR_ATIME;
        }
        if after.mtime_ns != before.mtime_ns {
            flags |= vfs::flags::ATTR_MTIME;
        }
        if after.uid != before.uid || after.gid != before.gid {
            flags |= vfs::flags::ATTR_OWNER;
        }
        if flags != 0 {
            self.attrib_event(publish, ino, flags);
        }
        Ok(Reply::Attrs(after))
    }

    fn rename(
        &mut self,
        now: u64,
        old_dir: u64,
        old_name: &[u8],
        new_dir: u64,
        new_name: &[u8],
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        check_name(old_name)?;
        check_name(new_name)?;
        let od = self.dir(old_dir)?;
        let nd = self.dir(new_dir)?;
        let e = self.find_entry(od, old_name).ok_or(ErrorCode::NoEntry)?;
        let moved = self.entries[e].child;
        if fs_id(od) != fs_id(nd) {
            return Err(ErrorCode::CrossDevice.into());
        }
        if self.is_covered(moved) {
            return Err(ErrorCode::Busy.into());
        }
        let target = self.find_entry(nd, new_name);
        if let Some(t) = target {
            // POSIX: renaming a name onto itself, or onto another name of the
            // same file, succeeds and does nothing.
            if self.entries[t].child == moved {
                return Ok(Reply::Done);
            }
        }
        let moved_is_dir = self.is_dir(moved);
        if moved_is_dir {
            // Walk up from the destination: meeting the directory being moved
            // means it would become its own ancestor.
            let mut x = nd;
            while x != 0 {
                if x == moved {
                    return Err(ErrorCode::InvalidArgument.into());
                }
                x = self.find(x).map_or(0, |i| self.inodes[i].parent);
            }
        }
        if let Some(t) = target {
            let victim = self.entries[t].child;
            if moved_is_dir {
                if !self.is_dir(victim) {
                    return Err(ErrorCode::NotDir.into());
                }
                if self.is_covered(victim) {
                    return Err(ErrorCode::Busy.into());
                }
                if self.has_entries(victim) {
                    return Err(ErrorCode::NotEmpty.into());
                }
            } else if self.is_dir(victim) {
                return Err(ErrorCode::IsDir.into());
            }
        }
        // Checked: from here on nothing fails.
        if let Some(t) = target {
            self.drop_name(t, publish);
        }
        // Dropping the victim may have moved the entry in the table.
        if let Some(e) = self.find_entry(od, old_name) {
            let entry = &mut self.entries[e];
            entry.parent = nd;
            entry.name.clear();
            let _ = entry.name.extend_from_slice(new_name);
        }
        if moved_is_dir {
            if let Some(i) = self.find(moved) {
                self.inodes[i].parent = nd;
            }
        }
        self.touch(od, now);
        self.touch(nd, now);
        let flags = if moved_is_dir { vfs::flags::IS_DIR } else { 0 };
        let mut buf = [0u8; MAX_PAYLOAD];
        let r = Rename { old_parent: od, old_name, new_parent: nd, new_name };
        if let Ok(n) = encode_rename(&r, &mut buf) {
            publish(vfs_event(vfs::RENAME, flags, moved, &buf[..n]));
        }
        Ok(Reply::Done)
    }

    fn link(
        &mut self,
        now: u64,
        inode: u64,
        new_dir: u64,
        name: &[u8],
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        check_name(name)?;
        let ino = self.resolve(inode);
        let i = self.find(ino).ok_or(ErrorCode::NoEntry)?;
        if self.inodes[i].is_dir() {
            return Err(ErrorCode::IsDir.into());
        }
        let nd = self.dir(new_dir)?;
        if fs_id(ino) != fs_id(nd) {
            return Err(ErrorCode::CrossDevice.into());
        }
        if self.find_entry(nd, name).is_some() {
            return Err(ErrorCode::Exists.into());
        }
        if self.entries.is_full() {
            return Err(Fail(ErrorCode::NoSpace, space::ENTRIES));
        }
        self.add_entry(nd, name, ino);
        self.inodes[i].nlink += 1;
        self.touch(nd, now);
        dentry_event(publish, vfs::CREATE, 0, ino, nd, name);
        dentry_event(publish, vfs::ATTRIB, vfs::flags::ATTR_NLINK, ino, nd, name);
        Ok(Reply::Done)
    }

    /// `Unlink` (`kind` File) and `Rmdir` (`kind` Dir).
    fn remove(
        &mut self,
        now: u64,
        dir: u64,
        name: &[u8],
        kind: Kind,
        publish: &mut impl FnMut(Event<'_>),
    ) -> Outcome<'static> {
        check_name(name)?;
        let d = self.dir(dir)?;
        let e = self.find_entry(d, name).ok_or(ErrorCode::NoEntry)?;
        let child = self.entries[e].child;
        match (kind, self.is_dir(child)) {
            (Kind::File, true) => return Err(ErrorCode::IsDir.into()),
            (Kind::Dir, false) => return Err(ErrorCode::NotDir.into()),
            (Kind::Dir, true) if self.is_covered(child) => return Err(ErrorCode::Busy.into()),
            (Kind::Dir, true) if self.has_entries(child) => return Err(ErrorCode::NotEmpty.into()),
            _ => {}
        }
        self.touch(d, now);
        self.drop_name(e, publish);
        Ok(Reply::Done)
    }

    fn mount(&mut self, now: u64, dir: u64, publish: &mut impl FnMut(Event<'_>)) -> Outcome<'static> {
        // A mount point resolves to the root mounted on it, so mounting on it
        // again lands on a root, which is refused: no stacked mounts.
        let x = self.resolve(dir);
        let i = self.find(x).ok_or(ErrorCode::NoEntry)?;
        if !self.inodes[i].is_dir() {
            return Err(ErrorCode::NotDir.into());
        }
        if x & LOCAL_MASK == LOCAL_ROOT {
            return Err(ErrorCode::Busy.into());
        }
        if self.instances.is_full() {
            return Err(Fail(ErrorCode::NoSpace, space::MOUNTS));
        }
        if self.inodes.is_full() {
            return Err(Fail(ErrorCode::NoSpace, space::INODES));
        }
        let id = self.free_fs_id();
        self.next_fs_id = id.checked_add(1).unwrap_or(1);
        let _ = self.instances.push(Instance { fs_id: id, covered: x, next_local: LOCAL_ROOT + 1 });
        let root = fs_root(id);
        self.insert_inode(new_inode(root, Kind::Dir, ROOT_MODE, 0, now));
        self.mount_event(publish, vfs::MOUNT, x, id);
        Ok(Reply::Inode(root))
    }

    fn unmount(&mut self, dir: u64, publish: &mut impl FnMut(Event<'_>)) -> Outcome<'static> {
        let x = self.resolve(dir);
        let i = self.find(x).ok_or(ErrorCode::NoEntry)?;
        if !self.inodes[i].is_dir() {
            return Err(ErrorCode::NotDir.into());
        }
        let id = fs_id(x);
        let slot = self.instances.iter().position(|m| m.fs_id == id && m.covered != 0);
        let Some(slot) = slot.filter(|_| x & LOCAL_MASK == LOCAL_ROOT) else {
            return Err(ErrorCode::InvalidArgument.into());
        };
        // Something mounted inside keeps this one in use.
        if self.instances.iter().any(|m| m.covered != 0 && fs_id(m.covered) == id) {
            return Err(ErrorCode::Busy.into());
        }
        let covered = self.instances[slot].covered;
        // Everything in the instance goes with it, as with a tmpfs.
        self.entries.retain(|e| fs_id(e.parent) != id);
        let pool = &mut self.pool;
        self.inodes.retain_mut(|node| {
            if fs_id(node.ino) == id {
                pool.release(&mut node.blocks);
                false
            } else {
                true
            }
        });
        self.instances.remove(slot);
        self.mount_event(publish, vfs::UNMOUNT, covered, id);
        Ok(Reply::Done)
    }

    // -----------------------------------------------------------------------
    // Helpers.

    fn find(&self, ino: u64) -> Option<usize> {
        self.inodes.binary_search_by_key(&ino, |n| n.ino).ok()
    }

    fn is_dir(&self, ino: u64) -> bool {
        self.find(ino).is_some_and(|i| self.inodes[i].is_dir())
    }

    /// A mount point stands for the root mounted on it, as a path through it
    /// would: every inode a request names goes through this.
    fn resolve(&self, ino: u64) -> u64 {
        match self.instances.iter().skip(1).find(|m| m.covered == ino) {
            Some(m) => fs_root(m.fs_id),
            None => ino,
        }
    }

    fn is_covered(&self, ino: u64) -> bool {
        self.instances.iter().skip(1).any(|m| m.covered == ino)
    }

    /// The resolved directory `dir` names: NoEntry, or NotDir.
    fn dir(&self, dir: u64) -> Result<u64, Fail> {
        let d = self.resolve(dir);
        let i = self.find(d).ok_or(ErrorCode::NoEntry)?;
        if !self.inodes[i].is_dir() {
            return Err(ErrorCode::NotDir.into());
        }
        Ok(d)
    }

    fn find_entry(&self, dir: u64, name: &[u8]) -> Option<usize> {
        self.entries.iter().position(|e| e.parent == dir && e.name.as_slice() == name)
    }

    fn has_entries(&self, dir: u64) -> bool {
        self.entries.iter().any(|e| e.parent == dir)
    }

    fn next_ino(&mut self, fs: u16) -> Result<u64, Fail> {
        let inst = self.instances.iter_mut().find(|m| m.fs_id == fs).ok_or(ErrorCode::NoEntry)?;
        if inst.next_local > LOCAL_MASK {
            return Err(Fail(ErrorCode::NoSpace, space::INODES));
        }
        let local = inst.next_local;
        inst.next_local += 1;
        Ok(u64::from(fs) << FS_ID_SHIFT | local)
    }

    /// The lowest id from `next_fs_id` on (wrapping, never 0) that no mount
    /// uses. There are 65535 ids and at most `MAX_MOUNTS` in use, so the
    /// search always ends.
    fn free_fs_id(&self) -> u16 {
        let mut id = self.next_fs_id.max(1);
        while self.instances.iter().any(|m| m.fs_id == id) {
            id = id.checked_add(1).unwrap_or(1);
        }
        id
    }

    fn insert_inode(&mut self, node: Inode) {
        let at = self.inodes.partition_point(|n| n.ino < node.ino);
        let _ = self.inodes.insert(at, node);
    }

    fn add_entry(&mut self, parent: u64, name: &[u8], child: u64) {
        let mut n = Vec::new();
        let _ = n.extend_from_slice(name);
        let seq = self.next_seq;
        self.next_seq += 1;
        let _ = self.entries.push(Entry { parent, child, name: n, seq });
    }

    /// A name was added to or removed from `dir`: POSIX sets its
    /// modification time. The CREATE/DELETE/RENAME event says so; like
    /// inotify, no ATTRIB is published for it.
    fn touch(&mut self, dir: u64, now: u64) {
        if let Some(i) = self.find(dir) {
            self.inodes[i].mtime_ns = now;
        }
    }

    /// Checks the pool can grow inode `i` to `new_size` bytes.
    fn reserve_blocks(&self, i: usize, new_size: u64) -> Result<(), Fail> {
        let more = blocks_for(new_size).saturating_sub(self.inodes[i].blocks.len());
        if more > self.pool.free() {
            return Err(Fail(ErrorCode::NoSpace, space::BLOCKS));
        }
        Ok(())
    }

    /// Removes entry `e`, publishing DELETE, and then either frees the inode
    /// (its last name) or publishes ATTRIB/ATTR_NLINK for its lower count.
    fn drop_name(&mut self, e: usize, publish: &mut impl FnMut(Event<'_>)) {
        let entry = self.entries.swap_remove(e);
        let Some(i) = self.find(entry.child) else { return };
        let node = &mut self.inodes[i];
        node.nlink = node.nlink.saturating_sub(1);
        let flags = if node.is_dir() { vfs::flags::IS_DIR } else { 0 };
        let alive = node.nlink > 0;
        dentry_event(publish, vfs::DELETE, flags, entry.child, entry.parent, &entry.name);
        if alive {
            dentry_event(publish, vfs::ATTRIB, flags | vfs::flags::ATTR_NLINK, entry.child, entry.parent, &entry.name);
        } else {
            let mut node = self.inodes.remove(i);
            self.pool.release(&mut node.blocks);
        }
    }

    /// ATTRIB for an inode a request named by number. The payload names it
    /// by its one name if it has exactly one; a root (no name) or a file
    /// with several names gets parent 0 and an empty name, as the protocol
    /// allows, rather than one name picked at random.
    fn attrib_event(&self, publish: &mut impl FnMut(Event<'_>), ino: u64, flags: u8) {
        let mut names = self.entries.iter().filter(|e| e.child == ino);
        let (parent, name): (u64, &[u8]) = match (names.next(), names.next()) {
            (Some(e), None) => (e.parent, &e.name),
            _ => (0, &[]),
        };
        let dir = if self.is_dir(ino) { vfs::flags::IS_DIR } else { 0 };
        dentry_event(publish, vfs::ATTRIB, flags | dir, ino, parent, name);
    }

    /// MOUNT or UNMOUNT of file system `id` on directory `covered`: the
    /// object is the mount point, the payload its parent and name.
    fn mount_event(&self, publish: &mut impl FnMut(Event<'_>), kind: u8, covered: u64, id: u16) {
        let (parent, name): (u64, &[u8]) = match self.entries.iter().find(|e| e.child == covered) {
            Some(e) => (e.parent, &e.name),
            None => (0, &[]),
        };
        let mut buf = [0u8; MAX_PAYLOAD];
        if let Ok(n) = encode_mount(parent, u64::from(id), name, &mut buf) {
            publish(vfs_event(kind, vfs::flags::IS_DIR, covered, &buf[..n]));
        }
    }
}

fn new_inode(ino: u64, kind: Kind, mode: u32, parent: u64, now: u64) -> Inode {
    Inode {
        ino,
        kind,
        mode,
        nlink: 1,
        uid: 0,
        gid: 0,
        size: 0,
        atime_ns: now,
        mtime_ns: now,
        parent,
        blocks: Vec::new(),
    }
}

fn vfs_event(kind: u8, type_flags: u8, object_id: u64, payload: &[u8]) -> Event<'_> {
    Event { category: Category::Vfs, kind, type_flags, priority: Priority::Normal, object_id, payload }
}

/// Publishes a dentry event. The name was checked (at most NAME_MAX bytes)
/// before anything changed, so encoding it cannot fail.
fn dentry_event(publish: &mut impl FnMut(Event<'_>), kind: u8, flags: u8, object: u64, parent: u64, name: &[u8]) {
    let mut buf = [0u8; MAX_PAYLOAD];
    if let Ok(n) = encode_dentry(parent, name, &mut buf) {
        publish(vfs_event(kind, flags, object, &buf[..n]));
    }
}
