//! Fills every fixed table of the VFS core until it answers `NoSpace` with
//! that table's detail, checks that a refused request publishes nothing and
//! changes nothing, then frees everything and checks every table is back to
//! empty, twice over (so freed inodes, names, blocks and mount rows are
//! really reusable, and recycled blocks come back zeroed).

mod common;

use common::*;
use evq_vfs::limits::{BLOCK_SIZE, MAX_BLOCKS, MAX_ENTRIES, MAX_FILE_BLOCKS, MAX_FILE_SIZE, MAX_INODES, MAX_MOUNTS};
use evq_vfs::{Usage, Vfs};
use evq_vfs_api::{space, ErrorCode, Request, SetAttrs, MAX_WRITE, ROOT_INODE};

const ROOT: u64 = ROOT_INODE;
const EMPTY: Usage = Usage { inodes: 1, entries: 0, blocks: 0, mounts: 0 };

fn name(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}{i}").into_bytes()
}

struct T {
    vfs: Box<Vfs>,
    now: u64,
}

impl T {
    fn ok(&mut self, request: Request<'_>) -> R {
        self.now += 1;
        let (reply, _) = call(&mut self.vfs, self.now, &request);
        assert!(!matches!(reply, R::Err(..)), "{request:?}: {reply:?}");
        reply
    }

    /// Must answer NoSpace with `table`, publish nothing, change nothing.
    fn full(&mut self, request: Request<'_>, table: u32) {
        self.now += 1;
        let usage = self.vfs.usage();
        let inodes: Vec<_> = self.vfs.inodes().collect();
        let (reply, events) = call(&mut self.vfs, self.now, &request);
        assert_eq!(reply, R::Err(ErrorCode::NoSpace, table), "{request:?}");
        assert!(events.is_empty());
        assert_eq!(self.vfs.usage(), usage);
        assert_eq!(self.vfs.inodes().collect::<Vec<_>>(), inodes);
    }

    /// Writes `len` bytes of `byte` at `offset`, in message-sized pieces.
    fn fill(&mut self, inode: u64, offset: u64, len: usize, byte: u8) {
        let chunk = [byte; MAX_WRITE];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(MAX_WRITE);
            self.ok(Request::Write { inode, offset: offset + done as u64, data: &chunk[..n] });
            done += n;
        }
    }

    fn remove_everything_in_root(&mut self) {
        let names: Vec<(Vec<u8>, u64)> =
            self.vfs.entries().filter(|e| e.parent == ROOT).map(|e| (e.name.to_vec(), e.child)).collect();
        for (n, child) in names {
            let is_dir = self.vfs.inode(child).map(|a| a.kind) == Some(evq_vfs_api::Kind::Dir);
            if is_dir {
                self.ok(Request::Rmdir { dir: ROOT, name: &n });
            } else {
                self.ok(Request::Unlink { dir: ROOT, name: &n });
            }
        }
    }
}

#[test]
fn every_table_fills_refuses_and_empties_again() {
    let mut t = T { vfs: Box::new(Vfs::new(0)), now: 0 };
    assert_eq!(t.vfs.usage(), EMPTY);
    let mut last_inode = ROOT;
    for round in 0..2 {
        // Inodes: the root holds one.
        let mut files = Vec::new();
        for i in 0..MAX_INODES - 1 {
            let ino = t.ok(Request::Create { dir: ROOT, name: &name("f", i), mode: 0o644 }).inode();
            assert!(ino > last_inode, "inode numbers are never reused");
            last_inode = ino;
            files.push(ino);
        }
        assert_eq!(t.vfs.usage().inodes, MAX_INODES);
        t.full(Request::Create { dir: ROOT, name: b"x", mode: 0 }, space::INODES);
        t.full(Request::Mkdir { dir: ROOT, name: b"x", mode: 0 }, space::INODES);

        // Names: the rest of the entry table goes to links.
        for i in 0..MAX_ENTRIES - (MAX_INODES - 1) {
            t.ok(Request::Link { inode: files[0], new_dir: ROOT, name: &name("l", i) });
        }
        assert_eq!(t.vfs.usage().entries, MAX_ENTRIES);
        t.full(Request::Link { inode: files[0], new_dir: ROOT, name: b"x" }, space::ENTRIES);
        // Free one inode and its name, take the name back with a link: now
        // the inode table has room and the entry table does not.
        t.ok(Request::Unlink { dir: ROOT, name: &name("f", 1) });
        t.ok(Request::Link { inode: files[0], new_dir: ROOT, name: b"extra" });
        assert_eq!(t.vfs.usage().inodes, MAX_INODES - 1);
        t.full(Request::Create { dir: ROOT, name: b"x", mode: 0 }, space::ENTRIES);
        t.full(Request::Mkdir { dir: ROOT, name: b"x", mode: 0 }, space::ENTRIES);

        // Blocks: whole files until the pool is empty.
        let whole = MAX_BLOCKS / MAX_FILE_BLOCKS;
        for (k, &f) in files.iter().skip(2).take(whole).enumerate() {
            t.fill(f, 0, MAX_FILE_SIZE as usize, k as u8 + 1);
        }
        assert_eq!(t.vfs.usage().blocks, MAX_BLOCKS);
        let spare = files[2 + whole];
        t.full(Request::Write { inode: spare, offset: 0, data: b"x" }, space::BLOCKS);
        t.full(
            Request::SetAttr { inode: spare, attrs: SetAttrs { size: Some(1), ..SetAttrs::default() } },
            space::BLOCKS,
        );
        // Writing inside blocks already held needs none.
        t.ok(Request::Write { inode: files[2], offset: 5, data: b"inside" });
        // Truncating gives blocks back; the next holder sees zeros.
        t.ok(Request::SetAttr {
            inode: files[2],
            attrs: SetAttrs { size: Some(BLOCK_SIZE as u64 + 1), ..SetAttrs::default() },
        });
        assert_eq!(t.vfs.usage().blocks, MAX_BLOCKS - MAX_FILE_BLOCKS + 2);
        t.ok(Request::SetAttr {
            inode: spare,
            attrs: SetAttrs { size: Some(3 * BLOCK_SIZE as u64), ..SetAttrs::default() },
        });
        t.ok(Request::Write { inode: spare, offset: 2 * BLOCK_SIZE as u64 + 7, data: b"z" });
        let mut want = vec![0u8; 3 * BLOCK_SIZE];
        want[2 * BLOCK_SIZE + 7] = b'z';
        assert_eq!(contents(&t.vfs, spare), want);
        let mut want = vec![1u8; BLOCK_SIZE + 1];
        want[5..11].copy_from_slice(b"inside");
        assert_eq!(contents(&t.vfs, files[2]), want);

        // Everything goes: back to the root alone.
        t.remove_everything_in_root();
        assert_eq!(t.vfs.usage(), EMPTY, "round {round}");

        // Mounts: every row, then NoSpace; then the inode a mount needs.
        let dirs: Vec<u64> = (0..=MAX_MOUNTS)
            .map(|i| t.ok(Request::Mkdir { dir: ROOT, name: &name("d", i), mode: 0 }).inode())
            .collect();
        let roots: Vec<u64> = dirs[..MAX_MOUNTS].iter().map(|&d| t.ok(Request::Mount { dir: d }).inode()).collect();
        assert_eq!(t.vfs.usage().mounts, MAX_MOUNTS);
        t.full(Request::Mount { dir: dirs[MAX_MOUNTS] }, space::MOUNTS);
        // Names in a mounted file system come from the same tables.
        t.ok(Request::Create { dir: roots[0], name: b"inner", mode: 0 });
        t.ok(Request::Unmount { dir: dirs[0] });
        let used = t.vfs.usage().inodes;
        for i in 0..MAX_INODES - used {
            t.ok(Request::Create { dir: ROOT, name: &name("g", i), mode: 0 });
        }
        t.full(Request::Mount { dir: dirs[0] }, space::INODES);
        for &d in &dirs[1..MAX_MOUNTS] {
            t.ok(Request::Unmount { dir: d });
        }
        t.remove_everything_in_root();
        assert_eq!(t.vfs.usage(), EMPTY, "round {round}");
        assert_eq!(t.vfs.mounts().count(), 0);
    }
}

#[test]
fn a_vfs_is_as_large_as_its_limits_say() {
    // The limits module promises about 55 KiB; keep it honest.
    let size = core::mem::size_of::<Vfs>();
    assert!(size < 64 * 1024, "Vfs is {size} bytes");
    assert!(size > MAX_BLOCKS * BLOCK_SIZE);
}
