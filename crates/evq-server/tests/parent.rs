//! Directory subscriptions (`PARENT`): a filter that takes only the VFS
//! events naming a directory as their parent, as an inotify watch on a
//! directory does, through the real message encoding and a real ring
//! reader.

mod common;

use common::*;
use evq_abi::event::{encode_dentry, encode_mount, encode_rename, vfs, Category, Rename, MAX_PAYLOAD};
use evq_abi::msg::{label, subscribe_flags, DecodeError, ErrorCode, Filter, Reply, Request};

fn dentry(parent: u64, name: &[u8]) -> Vec<u8> {
    let mut out = [0u8; MAX_PAYLOAD];
    let n = encode_dentry(parent, name, &mut out).unwrap();
    out[..n].to_vec()
}

fn rename(old_parent: u64, new_parent: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_PAYLOAD];
    let r = Rename { old_parent, old_name: b"a", new_parent, new_name: b"b" };
    let n = encode_rename(&r, &mut out).unwrap();
    out[..n].to_vec()
}

fn in_dir(dir: u64) -> Filter {
    Filter { parent_id: Some(dir), ..all_of(Category::Vfs) }
}

#[test]
fn a_parent_subscription_takes_only_the_events_in_its_directory() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    let watch = subscribe(&mut h, ALICE, q, in_dir(10));
    let mut reader = h.attach(q);
    let mut mount = [0u8; MAX_PAYLOAD];
    let n = encode_mount(10, 3, b"m", &mut mount).unwrap();
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 21, &dentry(10, b"in")));
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 22, &dentry(11, b"elsewhere")));
    publish(&mut h, VFS, vfs_event(vfs::DELETE, 23, &dentry(10, b"gone")));
    publish(&mut h, VFS, vfs_event(vfs::ATTRIB, 10, &dentry(1, b"the-dir-itself")));
    publish(&mut h, VFS, vfs_event(vfs::MOUNT, 24, &mount[..n]));
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 25, b"short"));
    let got: Vec<_> = drain(&mut reader).iter().map(|g| (g.object_id, g.watch_id)).collect();
    assert_eq!(got, vec![(21, watch), (23, watch), (24, watch)]);
}

#[test]
fn a_rename_is_in_the_directory_it_left_and_the_one_it_entered() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    subscribe(&mut h, ALICE, q, in_dir(10));
    let mut reader = h.attach(q);
    publish(&mut h, VFS, vfs_event(vfs::RENAME, 31, &rename(10, 11)));
    publish(&mut h, VFS, vfs_event(vfs::RENAME, 32, &rename(11, 10)));
    publish(&mut h, VFS, vfs_event(vfs::RENAME, 33, &rename(11, 12)));
    publish(&mut h, VFS, vfs_event(vfs::RENAME, 34, &rename(10, 10)));
    let got: Vec<_> = drain(&mut reader).iter().map(|g| g.object_id).collect();
    assert_eq!(got, vec![31, 32, 34]);
}

#[test]
fn beside_an_unfiltered_subscription_each_event_is_tagged_by_the_one_that_took_it() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    let dir = subscribe(&mut h, ALICE, q, in_dir(10));
    let creates = subscribe(&mut h, ALICE, q, Filter { type_mask: 1 << vfs::CREATE, ..all_of(Category::Vfs) });
    let mut reader = h.attach(q);
    publish(&mut h, VFS, vfs_event(vfs::DELETE, 41, &dentry(10, b"x")));
    publish(&mut h, VFS, vfs_event(vfs::DELETE, 42, &dentry(11, b"x")));
    publish(&mut h, VFS, vfs_event(vfs::CREATE, 43, &dentry(11, b"x")));
    let got: Vec<_> = drain(&mut reader).iter().map(|g| (g.object_id, g.watch_id)).collect();
    assert_eq!(got, vec![(41, dir), (43, creates)]);
}

#[test]
fn object_with_parent_is_refused_as_malformed_flags() {
    let mut h = harness(64);
    let q = create(&mut h, ALICE, 1);
    let mut body = [0u8; 64];
    let (l, n) = Request::Subscribe { queue: q, filter: in_dir(10) }.encode(&mut body).unwrap();
    body[6] |= subscribe_flags::OBJECT;
    let flags = u32::from(body[6]);
    assert_eq!(l, label::SUBSCRIBE);
    let reply = h.raw(ALICE, l, &body[..n]);
    assert_eq!(reply, Reply::Error { code: ErrorCode::Malformed, detail: DecodeError::BadFlags(flags).code() });
}
