//! `ReadDir` as the crate documentation and docs/protocol.md §6.4 state it:
//! names in the order they were made, a rename keeping a name's place, a
//! listing taken in parts that neither skips nor repeats, a mount point
//! standing for its mounted root (at `fs_root(fs_id)`), and no events.

mod common;

use common::*;
use evq_abi::event::vfs;
use evq_vfs::{fs_root, Vfs};
use evq_vfs_api::{ErrorCode, Kind, Request, ROOT_INODE};

/// Every entry of `dir`, following cookies; also how many parts it took.
fn list_all(vfs: &mut Vfs, dir: u64) -> (Vec<(u64, Kind, Vec<u8>)>, usize) {
    let (mut all, mut cookie, mut parts) = (Vec::new(), 0, 0);
    loop {
        let (r, events) = call(vfs, 5, &Request::ReadDir { dir, cookie });
        assert!(events.is_empty(), "a listing publishes nothing");
        let R::Listing(entries, next) = r else { panic!("a listing, got {r:?}") };
        parts += 1;
        all.extend(entries);
        if next == 0 {
            return (all, parts);
        }
        cookie = next;
    }
}

fn names(entries: &[(u64, Kind, Vec<u8>)]) -> Vec<String> {
    entries.iter().map(|e| String::from_utf8_lossy(&e.2).into_owned()).collect()
}

#[test]
fn names_come_in_the_order_made_and_a_rename_keeps_its_place() {
    let mut vfs = Vfs::new(1);
    for n in ["c", "a", "b"] {
        call(&mut vfs, 2, &Request::Create { dir: ROOT_INODE, name: n.as_bytes(), mode: 0o644 });
    }
    let d = call(&mut vfs, 2, &Request::Mkdir { dir: ROOT_INODE, name: b"d", mode: 0o755 }).0.inode();
    call(&mut vfs, 3, &Request::Rename { old_dir: ROOT_INODE, old_name: b"a", new_dir: ROOT_INODE, new_name: b"z" });
    let (all, parts) = list_all(&mut vfs, ROOT_INODE);
    assert_eq!((names(&all), parts), (vec!["c".into(), "z".into(), "b".into(), "d".into()], 1));
    assert_eq!(all[3], (d, Kind::Dir, b"d".to_vec()));
    assert_eq!(all[0].1, Kind::File);
    // A file, and a name that is not there.
    assert_eq!(call(&mut vfs, 4, &Request::ReadDir { dir: all[0].0, cookie: 0 }).0, R::err(ErrorCode::NotDir));
    assert_eq!(call(&mut vfs, 4, &Request::ReadDir { dir: 999, cookie: 0 }).0, R::err(ErrorCode::NoEntry));
    assert_eq!(list_all(&mut vfs, d).0, vec![]);
}

#[test]
fn a_listing_in_parts_neither_skips_nor_repeats_what_stays_put() {
    let mut vfs = Vfs::new(1);
    let long = |i: usize| format!("{i:03}{}", "x".repeat(150));
    for i in 0..12 {
        let (r, _) = call(&mut vfs, 2, &Request::Create { dir: ROOT_INODE, name: long(i).as_bytes(), mode: 0o600 });
        assert!(matches!(r, R::Inode(_)));
    }
    // 12 entries of 16 + 160 bytes: five to a reply of 944 bytes.
    let (first, next) = match call(&mut vfs, 2, &Request::ReadDir { dir: ROOT_INODE, cookie: 0 }).0 {
        R::Listing(e, next) => (e, next),
        other => panic!("{other:?}"),
    };
    assert_eq!((first.len(), next > 0), (5, true));
    // Between parts, one name already listed goes, one not yet listed goes,
    // and one is made: the rest come exactly once.
    call(&mut vfs, 3, &Request::Unlink { dir: ROOT_INODE, name: long(1).as_bytes() });
    call(&mut vfs, 3, &Request::Unlink { dir: ROOT_INODE, name: long(7).as_bytes() });
    call(&mut vfs, 3, &Request::Create { dir: ROOT_INODE, name: b"new", mode: 0o600 });
    let mut rest = Vec::new();
    let mut cookie = next;
    while cookie != 0 {
        let R::Listing(e, n) = call(&mut vfs, 4, &Request::ReadDir { dir: ROOT_INODE, cookie }).0 else { panic!() };
        rest.extend(e);
        cookie = n;
    }
    let mut want: Vec<String> = (5..12).filter(|&i| i != 7).map(long).collect();
    want.push("new".into());
    assert_eq!(names(&rest), want);
    // Ten names of 176 bytes and one of 24: five and six to a part.
    assert_eq!(list_all(&mut vfs, ROOT_INODE).1, 2);
}

#[test]
fn a_mount_point_lists_its_mounted_root_which_is_fs_root_of_the_mount_events_id() {
    let mut vfs = Vfs::new(1);
    let mnt = call(&mut vfs, 2, &Request::Mkdir { dir: ROOT_INODE, name: b"mnt", mode: 0o755 }).0.inode();
    call(&mut vfs, 2, &Request::Create { dir: mnt, name: b"hidden", mode: 0o644 });
    let (r, events) = call(&mut vfs, 3, &Request::Mount { dir: mnt });
    let id = match &events[..] {
        [Ev { kind: vfs::MOUNT, payload: P::Mount { fs_id, .. }, .. }] => *fs_id as u16,
        other => panic!("{other:?}"),
    };
    let root = fs_root(id);
    assert_eq!((r.inode(), root), (root, u64::from(id) << 48 | 1));
    let (_, events) = call(&mut vfs, 4, &Request::Create { dir: mnt, name: b"inside", mode: 0o644 });
    let inside = match &events[..] {
        [Ev { kind: vfs::CREATE, object, payload: P::Dentry { parent, .. }, .. }] => {
            assert_eq!(*parent, root, "events name the mounted root as parent");
            *object
        }
        other => panic!("{other:?}"),
    };
    // The root lists the mount point's name with the mounted root, as
    // Lookup answers it; listing the mount point lists the mounted root.
    assert_eq!(list_all(&mut vfs, ROOT_INODE).0, vec![(root, Kind::Dir, b"mnt".to_vec())]);
    assert_eq!(call(&mut vfs, 4, &Request::Lookup { dir: ROOT_INODE, name: b"mnt" }).0, R::Inode(root));
    let want = vec![(inside, Kind::File, b"inside".to_vec())];
    assert_eq!(list_all(&mut vfs, mnt).0, want);
    assert_eq!(list_all(&mut vfs, root).0, want);
    // Unmounted, the hidden name is back.
    call(&mut vfs, 5, &Request::Unmount { dir: mnt });
    assert_eq!(names(&list_all(&mut vfs, mnt).0), ["hidden"]);
    assert_eq!(list_all(&mut vfs, ROOT_INODE).0, vec![(mnt, Kind::Dir, b"mnt".to_vec())]);
}
