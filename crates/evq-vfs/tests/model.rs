//! Model-based property test of the VFS core.
//!
//! Random sequences of requests run against the real [`Vfs`] (through the
//! real message encoding: `handle_message` and `Reply::decode`) and against
//! [`Model`], a plain restatement of the crate's documented semantics in std
//! collections: inodes in a `BTreeMap`, names in a `BTreeMap` keyed by
//! (directory, name), file contents as `Vec<u8>`, capacities counted, not
//! stored. After every step the two must agree on the reply, the exact
//! events, and everything observable: every name, every inode's attributes,
//! every file's bytes, the table usage and the mounts.
//!
//! Inode arguments are drawn from the inode numbers seen so far (plus a few
//! that never exist), so requests mostly name real things; names come from a
//! small pool so they collide, with a few invalid ones mixed in.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use evq_abi::event::vfs;
use evq_abi::event::vfs::flags::{ATTR_ATIME, ATTR_MODE, ATTR_MTIME, ATTR_NLINK, ATTR_OWNER, ATTR_SIZE, IS_DIR};
use evq_vfs::limits::{BLOCK_SIZE, MAX_BLOCKS, MAX_ENTRIES, MAX_FILE_SIZE, MAX_INODES, MAX_MOUNTS};
use evq_vfs::{Usage, Vfs};
use evq_vfs_api::{check_name, space, Attrs, ErrorCode, Kind, Request, SetAttrs, MAX_WRITE, ROOT_INODE};
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ---------------------------------------------------------------------------
// The specification, restated.

const ROOT_MODE: u32 = 0o755;

fn fs_of(ino: u64) -> u16 {
    (ino >> 48) as u16
}
fn root_of(fs: u16) -> u64 {
    u64::from(fs) << 48 | 1
}
fn is_root(ino: u64) -> bool {
    ino & ((1 << 48) - 1) == 1
}
fn blocks(size: u64) -> usize {
    size.div_ceil(BLOCK_SIZE as u64) as usize
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    atime: u64,
    mtime: u64,
    data: Vec<u8>,
}

type E = (ErrorCode, u32);

struct Model {
    nodes: BTreeMap<u64, Node>,
    names: BTreeMap<(u64, Vec<u8>), u64>,
    /// Each name's place in its directory's listing: when it was made.
    seqs: BTreeMap<(u64, Vec<u8>), u64>,
    next_seq: u64,
    /// (fs id, mount point), in mount order.
    mounts: Vec<(u16, u64)>,
    next_local: BTreeMap<u16, u64>,
    next_fs: u16,
}

fn err(code: ErrorCode) -> E {
    (code, 0)
}

impl Model {
    fn new(now: u64) -> Self {
        let mut m = Model {
            nodes: BTreeMap::new(),
            names: BTreeMap::new(),
            seqs: BTreeMap::new(),
            next_seq: 1,
            mounts: Vec::new(),
            next_local: BTreeMap::from([(0, 2)]),
            next_fs: 1,
        };
        m.nodes.insert(ROOT_INODE, m.fresh(Kind::Dir, ROOT_MODE, now));
        m
    }

    fn fresh(&self, kind: Kind, mode: u32, now: u64) -> Node {
        Node { kind, mode, nlink: 1, uid: 0, gid: 0, atime: now, mtime: now, data: Vec::new() }
    }

    fn attrs(&self, ino: u64) -> Option<Attrs> {
        self.nodes.get(&ino).map(|n| Attrs {
            inode: ino,
            kind: n.kind,
            mode: n.mode,
            size: n.data.len() as u64,
            nlink: n.nlink,
            atime_ns: n.atime,
            mtime_ns: n.mtime,
            uid: n.uid,
            gid: n.gid,
        })
    }

    fn usage(&self) -> Usage {
        Usage {
            inodes: self.nodes.len(),
            entries: self.names.len(),
            blocks: self.nodes.values().map(|n| blocks(n.data.len() as u64)).sum(),
            mounts: self.mounts.len(),
        }
    }

    fn resolve(&self, ino: u64) -> u64 {
        self.mounts.iter().find(|m| m.1 == ino).map_or(ino, |m| root_of(m.0))
    }

    fn covered(&self, ino: u64) -> bool {
        self.mounts.iter().any(|m| m.1 == ino)
    }

    fn is_dir(&self, ino: u64) -> bool {
        self.nodes.get(&ino).is_some_and(|n| n.kind == Kind::Dir)
    }

    fn names_of(&self, ino: u64) -> Vec<(u64, Vec<u8>)> {
        self.names.iter().filter(|(_, &c)| c == ino).map(|((p, n), _)| (*p, n.clone())).collect()
    }

    fn has_entries(&self, dir: u64) -> bool {
        self.names.keys().any(|(p, _)| *p == dir)
    }

    fn dir(&self, dir: u64) -> Result<u64, E> {
        let d = self.resolve(dir);
        match self.nodes.get(&d) {
            None => Err(err(ErrorCode::NoEntry)),
            Some(n) if n.kind != Kind::Dir => Err(err(ErrorCode::NotDir)),
            Some(_) => Ok(d),
        }
    }

    fn flags_of(&self, ino: u64) -> u8 {
        if self.is_dir(ino) {
            IS_DIR
        } else {
            0
        }
    }

    /// ATTRIB by number: the inode's name if it has exactly one.
    fn attrib(&self, ino: u64, flags: u8) -> Ev {
        let names = self.names_of(ino);
        let (parent, name) = if names.len() == 1 { names[0].clone() } else { (0, Vec::new()) };
        Ev::attrib(flags | self.flags_of(ino), ino, parent, &name)
    }

    fn drop_name(&mut self, dir: u64, name: &[u8], events: &mut Vec<Ev>) {
        let child = self.names.remove(&(dir, name.to_vec())).expect("checked");
        self.seqs.remove(&(dir, name.to_vec()));
        let flags = self.flags_of(child);
        events.push(Ev::delete(flags, child, dir, name));
        let node = self.nodes.get_mut(&child).expect("named inodes exist");
        node.nlink -= 1;
        if node.nlink == 0 {
            self.nodes.remove(&child);
        } else {
            events.push(Ev::attrib(flags | ATTR_NLINK, child, dir, name));
        }
    }

    fn name_made(&mut self, dir: u64, name: &[u8]) {
        self.seqs.insert((dir, name.to_vec()), self.next_seq);
        self.next_seq += 1;
    }

    /// `ReadDir`: the names in order of making, from `cookie` on, as many as
    /// 944 bytes of 16-byte records and padded names hold.
    fn listing(&self, d: u64, cookie: u64) -> R {
        let mut names: Vec<(u64, &Vec<u8>)> =
            self.seqs.iter().filter(|((p, _), &q)| *p == d && q >= cookie).map(|((_, n), &q)| (q, n)).collect();
        names.sort();
        let (mut entries, mut used) = (Vec::new(), 0);
        for (seq, name) in names {
            let size = 16 + name.len().next_multiple_of(8);
            if used + size > 944 {
                return R::Listing(entries, seq);
            }
            used += size;
            let child = self.resolve(self.names[&(d, name.clone())]);
            entries.push((child, self.nodes[&child].kind, name.clone()));
        }
        R::Listing(entries, 0)
    }

    fn touch(&mut self, dir: u64, now: u64) {
        self.nodes.get_mut(&dir).expect("a directory").mtime = now;
    }

    fn free_blocks(&self) -> usize {
        MAX_BLOCKS - self.usage().blocks
    }

    fn apply(&mut self, now: u64, req: &Request<'_>) -> (Result<R, E>, Vec<Ev>) {
        let mut events = Vec::new();
        let r = self.step(now, req, &mut events);
        if r.is_err() {
            assert!(events.is_empty(), "the model published for a failure");
        }
        (r, events)
    }

    fn step(&mut self, now: u64, req: &Request<'_>, ev: &mut Vec<Ev>) -> Result<R, E> {
        match *req {
            Request::Lookup { dir, name } => {
                check_name(name).map_err(err)?;
                let d = self.dir(dir)?;
                let child = *self.names.get(&(d, name.to_vec())).ok_or(err(ErrorCode::NoEntry))?;
                Ok(R::Inode(self.resolve(child)))
            }
            Request::Stat { inode } => Ok(R::Attrs(self.attrs(self.resolve(inode)).ok_or(err(ErrorCode::NoEntry))?)),
            Request::Mkdir { dir, name, mode } | Request::Create { dir, name, mode } => {
                let kind = if matches!(req, Request::Mkdir { .. }) { Kind::Dir } else { Kind::File };
                check_name(name).map_err(err)?;
                let d = self.dir(dir)?;
                if self.names.contains_key(&(d, name.to_vec())) {
                    return Err(err(ErrorCode::Exists));
                }
                if self.nodes.len() == MAX_INODES {
                    return Err((ErrorCode::NoSpace, space::INODES));
                }
                if self.names.len() == MAX_ENTRIES {
                    return Err((ErrorCode::NoSpace, space::ENTRIES));
                }
                let next = self.next_local.get_mut(&fs_of(d)).expect("every fs has a counter");
                let ino = u64::from(fs_of(d)) << 48 | *next;
                *next += 1;
                self.nodes.insert(ino, self.fresh(kind, mode, now));
                self.names.insert((d, name.to_vec()), ino);
                self.name_made(d, name);
                self.touch(d, now);
                ev.push(Ev::create(self.flags_of(ino), ino, d, name));
                Ok(R::Inode(ino))
            }
            Request::Write { inode, offset, data } => {
                let i = self.resolve(inode);
                let node = self.nodes.get(&i).ok_or(err(ErrorCode::NoEntry))?;
                if node.kind == Kind::Dir {
                    return Err(err(ErrorCode::IsDir));
                }
                let end = match offset.checked_add(data.len() as u64) {
                    Some(end) if end <= MAX_FILE_SIZE => end,
                    _ => return Err(err(ErrorCode::FileTooLarge)),
                };
                if data.is_empty() {
                    return Ok(R::Attrs(self.attrs(i).unwrap()));
                }
                let old = node.data.len() as u64;
                let new = old.max(end);
                if blocks(new) - blocks(old) > self.free_blocks() {
                    return Err((ErrorCode::NoSpace, space::BLOCKS));
                }
                let node = self.nodes.get_mut(&i).unwrap();
                node.data.resize(new as usize, 0);
                node.data[offset as usize..end as usize].copy_from_slice(data);
                node.mtime = now;
                let flags = ATTR_MTIME | if new != old { ATTR_SIZE } else { 0 };
                ev.push(self.attrib(i, flags));
                Ok(R::Attrs(self.attrs(i).unwrap()))
            }
            Request::Read { inode, offset, len } => {
                let i = self.resolve(inode);
                let node = self.nodes.get(&i).ok_or(err(ErrorCode::NoEntry))?;
                if node.kind == Kind::Dir {
                    return Err(err(ErrorCode::IsDir));
                }
                let size = node.data.len() as u64;
                let start = offset.min(size) as usize;
                let end = offset.saturating_add(u64::from(len)).min(size) as usize;
                Ok(R::Data(node.data[start..end].to_vec()))
            }
            Request::SetAttr { inode, attrs: set } => {
                let i = self.resolve(inode);
                let node = self.nodes.get(&i).ok_or(err(ErrorCode::NoEntry))?;
                if let Some(size) = set.size {
                    if node.kind == Kind::Dir {
                        return Err(err(ErrorCode::IsDir));
                    }
                    if size > MAX_FILE_SIZE {
                        return Err(err(ErrorCode::FileTooLarge));
                    }
                    if blocks(size).saturating_sub(blocks(node.data.len() as u64)) > self.free_blocks() {
                        return Err((ErrorCode::NoSpace, space::BLOCKS));
                    }
                }
                let before = self.attrs(i).unwrap();
                let node = self.nodes.get_mut(&i).unwrap();
                if let Some(m) = set.mode {
                    node.mode = m;
                }
                if let Some(size) = set.size {
                    if size != node.data.len() as u64 {
                        node.mtime = now;
                    }
                    node.data.resize(size as usize, 0);
                }
                if let Some(t) = set.atime_ns {
                    node.atime = t;
                }
                if let Some(t) = set.mtime_ns {
                    node.mtime = t;
                }
                if let Some(u) = set.uid {
                    node.uid = u;
                }
                if let Some(g) = set.gid {
                    node.gid = g;
                }
                let after = self.attrs(i).unwrap();
                let mut flags = 0;
                for (changed, bit) in [
                    (before.mode != after.mode, ATTR_MODE),
                    (before.size != after.size, ATTR_SIZE),
                    (before.atime_ns != after.atime_ns, ATTR_ATIME),
                    (before.mtime_ns != after.mtime_ns, ATTR_MTIME),
                    (before.uid != after.uid || before.gid != after.gid, ATTR_OWNER),
                ] {
                    if changed {
                        flags |= bit;
                    }
                }
                if flags != 0 {
                    ev.push(self.attrib(i, flags));
                }
                Ok(R::Attrs(after))
            }
            Request::Rename { old_dir, old_name, new_dir, new_name } => {
                check_name(old_name).map_err(err)?;
                check_name(new_name).map_err(err)?;
                let od = self.dir(old_dir)?;
                let nd = self.dir(new_dir)?;
                let moved = *self.names.get(&(od, old_name.to_vec())).ok_or(err(ErrorCode::NoEntry))?;
                if fs_of(od) != fs_of(nd) {
                    return Err(err(ErrorCode::CrossDevice));
                }
                if self.covered(moved) {
                    return Err(err(ErrorCode::Busy));
                }
                let target = self.names.get(&(nd, new_name.to_vec())).copied();
                if target == Some(moved) {
                    return Ok(R::Done);
                }
                let moved_dir = self.is_dir(moved);
                if moved_dir {
                    // Up from the destination by the directories' one names.
                    let mut x = nd;
                    loop {
                        if x == moved {
                            return Err(err(ErrorCode::InvalidArgument));
                        }
                        match self.names_of(x).first() {
                            Some((p, _)) => x = *p,
                            None => break,
                        }
                    }
                }
                if let Some(victim) = target {
                    if moved_dir {
                        if !self.is_dir(victim) {
                            return Err(err(ErrorCode::NotDir));
                        }
                        if self.covered(victim) {
                            return Err(err(ErrorCode::Busy));
                        }
                        if self.has_entries(victim) {
                            return Err(err(ErrorCode::NotEmpty));
                        }
                    } else if self.is_dir(victim) {
                        return Err(err(ErrorCode::IsDir));
                    }
                    self.drop_name(nd, new_name, ev);
                }
                self.names.remove(&(od, old_name.to_vec()));
                self.names.insert((nd, new_name.to_vec()), moved);
                let seq = self.seqs.remove(&(od, old_name.to_vec())).expect("a name has a place");
                self.seqs.insert((nd, new_name.to_vec()), seq);
                self.touch(od, now);
                self.touch(nd, now);
                ev.push(Ev::rename(self.flags_of(moved), moved, od, old_name, nd, new_name));
                Ok(R::Done)
            }
            Request::Link { inode, new_dir, name } => {
                check_name(name).map_err(err)?;
                let i = self.resolve(inode);
                let node = self.nodes.get(&i).ok_or(err(ErrorCode::NoEntry))?;
                if node.kind == Kind::Dir {
                    return Err(err(ErrorCode::IsDir));
                }
                let nd = self.dir(new_dir)?;
                if fs_of(i) != fs_of(nd) {
                    return Err(err(ErrorCode::CrossDevice));
                }
                if self.names.contains_key(&(nd, name.to_vec())) {
                    return Err(err(ErrorCode::Exists));
                }
                if self.names.len() == MAX_ENTRIES {
                    return Err((ErrorCode::NoSpace, space::ENTRIES));
                }
                self.names.insert((nd, name.to_vec()), i);
                self.name_made(nd, name);
                self.nodes.get_mut(&i).unwrap().nlink += 1;
                self.touch(nd, now);
                ev.push(Ev::create(0, i, nd, name));
                ev.push(Ev::attrib(ATTR_NLINK, i, nd, name));
                Ok(R::Done)
            }
            Request::Unlink { dir, name } | Request::Rmdir { dir, name } => {
                let rmdir = matches!(req, Request::Rmdir { .. });
                check_name(name).map_err(err)?;
                let d = self.dir(dir)?;
                let child = *self.names.get(&(d, name.to_vec())).ok_or(err(ErrorCode::NoEntry))?;
                let child_dir = self.is_dir(child);
                if !rmdir && child_dir {
                    return Err(err(ErrorCode::IsDir));
                }
                if rmdir {
                    if !child_dir {
                        return Err(err(ErrorCode::NotDir));
                    }
                    if self.covered(child) {
                        return Err(err(ErrorCode::Busy));
                    }
                    if self.has_entries(child) {
                        return Err(err(ErrorCode::NotEmpty));
                    }
                }
                self.touch(d, now);
                self.drop_name(d, name, ev);
                Ok(R::Done)
            }
            Request::Mount { dir } => {
                let x = self.resolve(dir);
                let node = self.nodes.get(&x).ok_or(err(ErrorCode::NoEntry))?;
                if node.kind != Kind::Dir {
                    return Err(err(ErrorCode::NotDir));
                }
                if is_root(x) {
                    return Err(err(ErrorCode::Busy));
                }
                if self.mounts.len() == MAX_MOUNTS {
                    return Err((ErrorCode::NoSpace, space::MOUNTS));
                }
                if self.nodes.len() == MAX_INODES {
                    return Err((ErrorCode::NoSpace, space::INODES));
                }
                let mut id = self.next_fs.max(1);
                while self.mounts.iter().any(|m| m.0 == id) {
                    id = id.checked_add(1).unwrap_or(1);
                }
                self.next_fs = id.checked_add(1).unwrap_or(1);
                self.next_local.insert(id, 2);
                self.mounts.push((id, x));
                self.nodes.insert(root_of(id), self.fresh(Kind::Dir, ROOT_MODE, now));
                let (parent, name) = self.names_of(x)[0].clone();
                ev.push(Ev::mount(vfs::MOUNT, x, parent, u64::from(id), &name));
                Ok(R::Inode(root_of(id)))
            }
            Request::ReadDir { dir, cookie } => {
                let d = self.dir(dir)?;
                Ok(self.listing(d, cookie))
            }
            Request::Unmount { dir } => {
                let x = self.resolve(dir);
                let node = self.nodes.get(&x).ok_or(err(ErrorCode::NoEntry))?;
                if node.kind != Kind::Dir {
                    return Err(err(ErrorCode::NotDir));
                }
                let id = fs_of(x);
                if !is_root(x) || id == 0 {
                    return Err(err(ErrorCode::InvalidArgument));
                }
                if self.mounts.iter().any(|m| fs_of(m.1) == id) {
                    return Err(err(ErrorCode::Busy));
                }
                let at = self.mounts.iter().position(|m| m.0 == id).expect("a mounted root");
                let (_, covered) = self.mounts.remove(at);
                self.nodes.retain(|&ino, _| fs_of(ino) != id);
                self.names.retain(|(p, _), _| fs_of(*p) != id);
                self.seqs.retain(|(p, _), _| fs_of(*p) != id);
                let (parent, name) = self.names_of(covered)[0].clone();
                ev.push(Ev::mount(vfs::UNMOUNT, covered, parent, u64::from(id), &name));
                Ok(R::Done)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Random requests.

/// An inode argument: with `live`, one of the inodes of the argument's sort
/// (directories or files) that exist now, so requests mostly hit; else any
/// inode number seen so far, or one that never existed.
#[derive(Clone, Copy, Debug)]
struct Pick {
    live: bool,
    ix: Index,
}

impl Pick {
    fn dir(&self, model: &Model, known: &[u64]) -> u64 {
        let dirs: Vec<u64> = model.nodes.iter().filter(|(_, n)| n.kind == Kind::Dir).map(|(&i, _)| i).collect();
        if self.live {
            *self.ix.get(&dirs)
        } else {
            *self.ix.get(known)
        }
    }

    fn file(&self, model: &Model, known: &[u64]) -> u64 {
        let files: Vec<u64> = model.nodes.iter().filter(|(_, n)| n.kind == Kind::File).map(|(&i, _)| i).collect();
        if self.live && !files.is_empty() {
            *self.ix.get(&files)
        } else {
            *self.ix.get(known)
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Lookup(Pick, Vec<u8>),
    Stat(Pick),
    Mkdir(Pick, Vec<u8>, u32),
    Create(Pick, Vec<u8>, u32),
    Write(Pick, u64, usize, u8),
    Read(Pick, u64, u32),
    SetAttr(Pick, SetAttrs),
    Rename(Pick, Vec<u8>, Pick, Vec<u8>),
    Link(Pick, Pick, Vec<u8>),
    Unlink(Pick, Vec<u8>),
    Rmdir(Pick, Vec<u8>),
    Mount(Pick),
    Unmount(Pick),
    ReadDir(Pick, u64),
    /// Creates `f0`, `f1`, … in one directory: one request each. Single
    /// requests from a small name pool would rarely fill the tables.
    CreateMany(Pick, u8),
    /// Writes whole messages one after another from offset 0: one request
    /// each, so files grow to the largest size and the pool fills.
    WriteMany(Pick, u8, u8),
    /// Links one file as `l0`, `l1`, … in one directory, to fill the name
    /// table without the inode table.
    LinkMany(Pick, Pick, u8),
}

impl Op {
    /// The single requests a bulk op stands for.
    fn expand(&self) -> Vec<Op> {
        match self {
            Op::CreateMany(d, n) => (0..*n).map(|k| Op::Create(*d, format!("f{k}").into_bytes(), 0o644)).collect(),
            Op::WriteMany(i, n, b) => {
                (0..*n).map(|k| Op::Write(*i, u64::from(k) * MAX_WRITE as u64, MAX_WRITE, *b)).collect()
            }
            Op::LinkMany(i, d, n) => (0..*n).map(|k| Op::Link(*i, *d, format!("l{k}").into_bytes())).collect(),
            other => vec![other.clone()],
        }
    }
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    let valid: Vec<Vec<u8>> = ["a", "b", "c", "d", "e"].iter().map(|s| s.as_bytes().to_vec()).collect();
    let invalid: Vec<Vec<u8>> =
        vec![b"".to_vec(), b".".to_vec(), b"..".to_vec(), b"x/y".to_vec(), b"n\0".to_vec(), vec![b'z'; 201]];
    prop_oneof![30 => select(valid), 1 => select(invalid)]
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => select(vec![0u64, 1, 100, 511, 512, 513, 1000, 4096]),
        1 => select(vec![8000u64, MAX_FILE_SIZE - MAX_WRITE as u64, MAX_FILE_SIZE - 1, MAX_FILE_SIZE, u64::MAX]),
    ]
}

fn set_attrs() -> impl Strategy<Value = SetAttrs> {
    use proptest::option::weighted;
    let size = select(vec![0u64, 1, 100, 512, 513, 3000, 9000, MAX_FILE_SIZE, MAX_FILE_SIZE + 1]);
    let time = select(vec![0u64, 5, 1 << 40]);
    (
        weighted(0.3, 0u32..=0o7777),
        weighted(0.3, size),
        weighted(0.2, time.clone()),
        weighted(0.2, time),
        weighted(0.2, 0u32..3),
        weighted(0.2, 0u32..3),
    )
        .prop_map(|(mode, size, atime_ns, mtime_ns, uid, gid)| SetAttrs {
            mode,
            size,
            atime_ns,
            mtime_ns,
            uid,
            gid,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let ix = || (proptest::bool::weighted(0.75), any::<Index>()).prop_map(|(live, ix)| Pick { live, ix });
    let mode = || 0u32..=0o7777;
    prop_oneof![
        3 => (ix(), name()).prop_map(|(d, n)| Op::Lookup(d, n)),
        1 => ix().prop_map(Op::Stat),
        6 => (ix(), name(), mode()).prop_map(|(d, n, m)| Op::Mkdir(d, n, m)),
        8 => (ix(), name(), mode()).prop_map(|(d, n, m)| Op::Create(d, n, m)),
        5 => (ix(), offset(), prop_oneof![0usize..=16, 0usize..=MAX_WRITE], any::<u8>())
            .prop_map(|(i, o, l, b)| Op::Write(i, o, l, b)),
        2 => (ix(), offset(), prop_oneof![0u32..=16, 0u32..=952]).prop_map(|(i, o, l)| Op::Read(i, o, l)),
        3 => (ix(), set_attrs()).prop_map(|(i, a)| Op::SetAttr(i, a)),
        5 => (ix(), name(), ix(), name()).prop_map(|(a, n, b, m)| Op::Rename(a, n, b, m)),
        3 => (ix(), ix(), name()).prop_map(|(i, d, n)| Op::Link(i, d, n)),
        4 => (ix(), name()).prop_map(|(d, n)| Op::Unlink(d, n)),
        3 => (ix(), name()).prop_map(|(d, n)| Op::Rmdir(d, n)),
        2 => ix().prop_map(Op::Mount),
        2 => ix().prop_map(Op::Unmount),
        2 => (ix(), select(vec![0u64, 1, 2, 5, 20, 60, 200, u64::MAX])).prop_map(|(d, c)| Op::ReadDir(d, c)),
        2 => (ix(), 1u8..=64).prop_map(|(d, n)| Op::CreateMany(d, n)),
        1 => (ix(), 1u8..19, any::<u8>()).prop_map(|(i, n, b)| Op::WriteMany(i, n, b)),
        1 => (ix(), ix(), 1u8..=64).prop_map(|(i, d, n)| Op::LinkMany(i, d, n)),
    ]
}

// ---------------------------------------------------------------------------
// The property.

fn check_same(vfs: &Vfs, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(vfs.usage(), model.usage());
    let names: BTreeMap<(u64, Vec<u8>), u64> = vfs.entries().map(|e| ((e.parent, e.name.to_vec()), e.child)).collect();
    prop_assert_eq!(names.len(), vfs.usage().entries, "no duplicate names");
    prop_assert_eq!(&names, &model.names);
    let inodes: Vec<Attrs> = vfs.inodes().collect();
    let want: Vec<Attrs> = model.nodes.keys().map(|&i| model.attrs(i).unwrap()).collect();
    prop_assert_eq!(inodes, want);
    for (&ino, node) in &model.nodes {
        if node.kind == Kind::File {
            prop_assert_eq!(&contents(vfs, ino), &node.data, "contents of {}", ino);
        }
    }
    let mounts: Vec<(u16, u64)> = vfs.mounts().map(|m| (m.fs_id, m.covered)).collect();
    prop_assert_eq!(&mounts, &model.mounts);
    Ok(())
}

/// What the runs reached, for the coverage test.
#[derive(Default)]
struct Seen {
    errors: BTreeSet<(u32, u32)>,
    kinds: BTreeSet<u8>,
    flags: u8,
    most: Usage,
    replaced: usize,
}

impl Seen {
    /// Every outcome the typed generator can reach: each error but
    /// BadRequest (the model test sends only what encodes), NoSpace for
    /// each table, every kind and flag, and a rename over an existing name.
    fn everything(&self) -> bool {
        let codes: BTreeSet<u32> = self.errors.iter().map(|e| e.0).collect();
        ErrorCode::ALL.iter().all(|&c| c == ErrorCode::BadRequest || codes.contains(&(c as u32)))
            && [space::INODES, space::ENTRIES, space::BLOCKS, space::MOUNTS]
                .iter()
                .all(|&t| self.errors.contains(&(ErrorCode::NoSpace as u32, t)))
            && self.kinds.len() == usize::from(vfs::COUNT)
            && self.flags == 0x7F
            && self.replaced > 0
    }
}

fn ops() -> impl Strategy<Value = Vec<(Op, u64)>> {
    proptest::collection::vec((op(), select(vec![0u64, 1, 1000])), 1..160)
}

/// Runs `ops` against the model and the real core, comparing after every
/// step, and notes what happened in `seen`.
fn run(ops: &[(Op, u64)], seen: &mut Seen) -> Result<(), TestCaseError> {
    let mut now = 100;
    let mut vfs = Box::new(Vfs::new(now));
    let mut model = Model::new(now);
    // Inode numbers to draw from: ones that will exist, and some that never do.
    let mut known: Vec<u64> = vec![ROOT_INODE, 0, 2, 3, 999_999, root_of(1), root_of(1) + 1, u64::MAX];
    for (bulk, dt) in ops {
        now += dt;
        for op in &bulk.expand() {
            let data;
            let req = match op {
                Op::Lookup(d, n) => Request::Lookup { dir: d.dir(&model, &known), name: n },
                Op::Stat(i) => Request::Stat { inode: i.file(&model, &known) },
                Op::Mkdir(d, n, m) => Request::Mkdir { dir: d.dir(&model, &known), name: n, mode: *m },
                Op::Create(d, n, m) => Request::Create { dir: d.dir(&model, &known), name: n, mode: *m },
                Op::Write(i, o, l, b) => {
                    data = (0..*l).map(|k| b.wrapping_add(k as u8)).collect::<Vec<u8>>();
                    Request::Write { inode: i.file(&model, &known), offset: *o, data: &data }
                }
                Op::Read(i, o, l) => Request::Read { inode: i.file(&model, &known), offset: *o, len: *l },
                Op::SetAttr(i, a) => Request::SetAttr { inode: i.file(&model, &known), attrs: *a },
                Op::Rename(a, n, b, m) => Request::Rename {
                    old_dir: a.dir(&model, &known),
                    old_name: n,
                    new_dir: b.dir(&model, &known),
                    new_name: m,
                },
                Op::Link(i, d, n) => {
                    Request::Link { inode: i.file(&model, &known), new_dir: d.dir(&model, &known), name: n }
                }
                Op::Unlink(d, n) => Request::Unlink { dir: d.dir(&model, &known), name: n },
                Op::Rmdir(d, n) => Request::Rmdir { dir: d.dir(&model, &known), name: n },
                Op::Mount(d) => Request::Mount { dir: d.dir(&model, &known) },
                Op::Unmount(d) => Request::Unmount { dir: d.dir(&model, &known) },
                Op::ReadDir(d, c) => Request::ReadDir { dir: d.dir(&model, &known), cookie: *c },
                Op::CreateMany(..) | Op::WriteMany(..) | Op::LinkMany(..) => unreachable!("expanded"),
            };
            let (want, want_events) = model.apply(now, &req);
            let want = want.unwrap_or_else(|(code, detail)| R::Err(code, detail));
            let (got, got_events) = call(&mut vfs, now, &req);
            prop_assert_eq!(&got, &want, "reply to {:?}", req);
            prop_assert_eq!(&got_events, &want_events, "events of {:?}", req);
            check_same(&vfs, &model)?;
            if let R::Inode(i) = want {
                if !known.contains(&i) {
                    known.push(i);
                }
            }
            if let R::Err(code, detail) = want {
                seen.errors.insert((code as u32, detail));
            }
            if matches!(req, Request::Rename { .. }) && want_events.len() > 1 {
                seen.replaced += 1;
            }
            for e in &want_events {
                seen.kinds.insert(e.kind);
                seen.flags |= e.flags;
            }
            let u = model.usage();
            seen.most = Usage {
                inodes: seen.most.inodes.max(u.inodes),
                entries: seen.most.entries.max(u.entries),
                blocks: seen.most.blocks.max(u.blocks),
                mounts: seen.most.mounts.max(u.mounts),
            };
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn the_core_behaves_like_the_model(ops in ops()) {
        run(&ops, &mut Seen::default())?;
    }
}

/// The generator is only as good as what it reaches. With a fixed seed, runs
/// (compared like the property's) go on until every error the typed
/// requests can cause, every event kind and flag, every full table, and a
/// rename over an existing name have all happened, within a bound; so the
/// comparison is known to have covered each of them.
#[test]
fn the_generator_reaches_every_outcome() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = ops();
    let mut seen = Seen::default();
    let mut runs = 0;
    while runs < 3000 && !seen.everything() {
        let ops = strategy.new_tree(&mut runner).expect("a value").current();
        run(&ops, &mut seen).expect("the core agrees with the model");
        runs += 1;
    }
    eprintln!("{runs} runs: errors {:?} most {:?} replaced {}", seen.errors, seen.most, seen.replaced);
    let codes: BTreeSet<u32> = seen.errors.iter().map(|e| e.0).collect();
    for code in ErrorCode::ALL {
        if code != ErrorCode::BadRequest {
            assert!(codes.contains(&(code as u32)), "never saw {code:?}");
        }
    }
    for table in [space::INODES, space::ENTRIES, space::BLOCKS, space::MOUNTS] {
        assert!(seen.errors.contains(&(ErrorCode::NoSpace as u32, table)), "never filled table {table}");
    }
    assert_eq!(seen.kinds.len(), usize::from(vfs::COUNT), "kinds seen: {:?}", seen.kinds);
    assert_eq!(seen.flags, 0x7F, "flags seen: {:#x}", seen.flags);
    assert!(seen.replaced > 0);
    assert!(seen.everything());
}
