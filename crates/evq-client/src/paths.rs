//! Full paths for VFS events: a map from inode to where it is named, started
//! from a listing of the tree and kept current from the events themselves.
//!
//! A VFS event names its place as a parent directory's inode and a name
//! (`docs/protocol.md` §5). [`PathMap`] remembers, for every inode it has
//! seen, the directory holding it and its name there, so a full path is a
//! walk up to a directory whose absolute path it was told. Because each
//! entry names only its parent, renaming a directory moves everything under
//! it at once. A mount is the mounted root's inode (the VFS core's rule,
//! [`evq_vfs::fs_root`] of the mount's `fs_id`) named as the mount point, so
//! names inside a mounted file system get full paths too.
//!
//! Limits: one name per inode (a file with several hard links is shown
//! under the last name an event gave it); an event in a directory the map
//! has never seen has the path the map knows for its inode, if any, else
//! none ([`PathMap::path_of`] returns `None`). It holds at most
//! [`MAX_PLACES`] inodes: events come from sources the client does not
//! control, and a flood of creates must not grow it without end; an inode
//! past the limit simply has no path.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use evq_abi::event::{decode_dentry, decode_mount, decode_rename, vfs, Category};

use crate::ReceivedEvent;

/// The most inodes a [`PathMap`] holds (a VFS core holds 64: `evq_vfs::limits`).
pub const MAX_PLACES: usize = 4096;

/// Where an inode is named.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    /// In directory `parent`, as `name`.
    In { parent: u64, name: String },
    /// At this absolute path (the top of a listing).
    At(String),
}

/// A VFS event's names, as full paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPaths {
    /// The name the event is about, as a full path where the map knows its
    /// directory (`None` where it does not, or the event has no name).
    pub path: Option<String>,
    /// The name within its directory (for a rename, the new name).
    pub name: String,
    /// The directory's inode (for a rename, the new directory).
    pub parent: u64,
    /// A rename's old full path and old name.
    pub from: Option<(Option<String>, String)>,
}

/// Inodes and their places; see the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct PathMap {
    places: BTreeMap<u64, Place>,
}

impl PathMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `inode` is at the absolute `path` (from a listing):
    /// under its parent directory if the map knows that directory's path,
    /// else as a top whose path is given.
    pub fn insert_path(&mut self, path: &str, inode: u64) {
        let place = match path.rsplit_once('/') {
            Some((dir, name)) if !name.is_empty() => {
                let dir = if dir.is_empty() { "/" } else { dir };
                match self.inode_at(dir) {
                    Some(parent) => Place::In { parent, name: name.into() },
                    None => Place::At(path.into()),
                }
            }
            _ => Place::At(path.into()),
        };
        self.place(inode, place);
    }

    /// Records that `inode` is named `name` in directory `parent`.
    pub fn insert(&mut self, parent: u64, name: &str, inode: u64) {
        self.place(inode, Place::In { parent, name: name.into() });
    }

    /// Records `place` for `inode`, unless the map is full and does not
    /// know `inode` yet.
    fn place(&mut self, inode: u64, place: Place) {
        if self.places.len() < MAX_PLACES || self.places.contains_key(&inode) {
            self.places.insert(inode, place);
        }
    }

    /// Forgets `inode`.
    pub fn remove(&mut self, inode: u64) {
        self.places.remove(&inode);
    }

    /// Whether the map knows where `inode` is.
    pub fn contains(&self, inode: u64) -> bool {
        self.places.contains_key(&inode)
    }

    /// The inode the map has at the absolute `path`, if any. A mount point
    /// has two, the covered directory's and the mounted root's: the one
    /// with the highest number, the mounted root (a mount's `fs_id` is in
    /// the high bits, and the root file system's is 0), is the one seen.
    pub fn inode_at(&self, path: &str) -> Option<u64> {
        self.places.keys().rev().copied().find(|&i| self.path_of(i).as_deref() == Some(path))
    }

    /// The full path of `inode`, if the map knows every directory up to a
    /// top it was given.
    pub fn path_of(&self, inode: u64) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        let mut at = inode;
        // Each step goes one directory up; more steps than entries is a loop.
        for _ in 0..=self.places.len() {
            match self.places.get(&at)? {
                Place::At(top) => {
                    let mut path = String::from(top.as_str());
                    for name in names.iter().rev() {
                        join(&mut path, name);
                    }
                    return Some(path);
                }
                Place::In { parent, name } => {
                    names.push(name);
                    at = *parent;
                }
            }
        }
        None
    }

    /// A rename's new full path: in its new directory where the map knows
    /// it, else, for a rename within one directory, the old path with its
    /// last name replaced.
    fn renamed_path(&self, r: &evq_abi::event::Rename<'_>, old_path: Option<&str>, new: &str) -> Option<String> {
        self.path_in(r.new_parent, new).or_else(|| {
            let (dir, _) = old_path?.rsplit_once('/')?;
            (r.old_parent == r.new_parent).then(|| {
                let mut path = String::from(if dir.is_empty() { "/" } else { dir });
                join(&mut path, new);
                path
            })
        })
    }

    /// The full path of `name` in directory `parent`.
    pub fn path_in(&self, parent: u64, name: &str) -> Option<String> {
        let mut path = self.path_of(parent)?;
        join(&mut path, name);
        Some(path)
    }

    /// Reads a VFS event's names as paths (before [`PathMap::apply`], so a
    /// delete still finds the directory it was in); `None` for an event of
    /// another category or a payload that does not decode.
    pub fn paths(&self, e: &ReceivedEvent<'_>) -> Option<EventPaths> {
        if e.category != Category::Vfs {
            return None;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Some(match e.kind {
            vfs::RENAME => {
                let r = decode_rename(e.payload).ok()?;
                let (old, new) = (text(r.old_name), text(r.new_name));
                let old_path = self.path_in(r.old_parent, &old).or_else(|| self.path_of(e.object_id));
                EventPaths {
                    path: self.renamed_path(&r, old_path.as_deref(), &new),
                    from: Some((old_path, old)),
                    name: new,
                    parent: r.new_parent,
                }
            }
            vfs::MOUNT | vfs::UNMOUNT => {
                let (parent, _, name) = decode_mount(e.payload).ok()?;
                let name = text(name);
                EventPaths { path: self.path_in(parent, &name), name, parent, from: None }
            }
            _ => {
                let (parent, name) = decode_dentry(e.payload).ok()?;
                let name = text(name);
                // Reached without a name (an ATTRIB with parent 0), or in a
                // directory the map does not know (a watched top's own
                // events): where the map last saw the inode.
                let path = match parent == 0 && name.is_empty() {
                    true => self.path_of(e.object_id),
                    false => self.path_in(parent, &name).or_else(|| self.path_of(e.object_id)),
                };
                EventPaths { path, name, parent, from: None }
            }
        })
    }

    /// Keeps the map current with a VFS event: a create names its inode, a
    /// delete forgets it, a rename moves it (and so everything under it), a
    /// mount names the mounted root as the mount point, an unmount forgets
    /// it. Other events change nothing.
    pub fn apply(&mut self, e: &ReceivedEvent<'_>) {
        if e.category != Category::Vfs {
            return;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match e.kind {
            vfs::CREATE => {
                if let Ok((parent, name)) = decode_dentry(e.payload) {
                    self.insert(parent, &text(name), e.object_id);
                }
            }
            vfs::DELETE => {
                if let Ok((parent, name)) = decode_dentry(e.payload) {
                    // Another link may be the one the map holds.
                    if self.places.get(&e.object_id) == Some(&Place::In { parent, name: text(name) }) {
                        self.remove(e.object_id);
                    }
                }
            }
            vfs::RENAME => {
                if let Ok(r) = decode_rename(e.payload) {
                    let new = text(r.new_name);
                    if self.contains(r.new_parent) {
                        self.insert(r.new_parent, &new, e.object_id);
                    } else {
                        // A top renamed in its own directory stays a top.
                        let old = self.path_of(e.object_id);
                        match self.renamed_path(&r, old.as_deref(), &new) {
                            Some(path) => self.place(e.object_id, Place::At(path)),
                            None => self.place(e.object_id, Place::In { parent: r.new_parent, name: new }),
                        }
                    }
                }
            }
            vfs::MOUNT | vfs::UNMOUNT => {
                if let Ok((parent, fs_id, name)) = decode_mount(e.payload) {
                    let Some(root) = mounted_root(fs_id) else { return };
                    if e.kind == vfs::MOUNT {
                        self.insert(parent, &text(name), root);
                    } else {
                        self.remove(root);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The inode of the root of the file system a mount event names (the VFS
/// core's rule); `None` for an id no mount can have.
pub fn mounted_root(fs_id: u64) -> Option<u64> {
    u16::try_from(fs_id).ok().filter(|&id| id != 0).map(evq_vfs::fs_root)
}

fn join(path: &mut String, name: &str) {
    if !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use evq_abi::event::{encode_dentry, encode_mount, encode_rename, Rename, MAX_PAYLOAD};

    struct Ev {
        kind: u8,
        object: u64,
        payload: Vec<u8>,
    }

    impl Ev {
        fn dentry(kind: u8, object: u64, parent: u64, name: &str) -> Ev {
            let mut out = [0u8; MAX_PAYLOAD];
            let n = encode_dentry(parent, name.as_bytes(), &mut out).unwrap();
            Ev { kind, object, payload: out[..n].to_vec() }
        }
        fn rename(object: u64, old_parent: u64, old: &str, new_parent: u64, new: &str) -> Ev {
            let mut out = [0u8; MAX_PAYLOAD];
            let r = Rename { old_parent, old_name: old.as_bytes(), new_parent, new_name: new.as_bytes() };
            let n = encode_rename(&r, &mut out).unwrap();
            Ev { kind: vfs::RENAME, object, payload: out[..n].to_vec() }
        }
        fn mount(kind: u8, object: u64, parent: u64, fs_id: u64, name: &str) -> Ev {
            let mut out = [0u8; MAX_PAYLOAD];
            let n = encode_mount(parent, fs_id, name.as_bytes(), &mut out).unwrap();
            Ev { kind, object, payload: out[..n].to_vec() }
        }
        fn event(&self) -> ReceivedEvent<'_> {
            ReceivedEvent {
                category: Category::Vfs,
                kind: self.kind,
                type_flags: 0,
                watch_id: 0,
                critical: false,
                coalesced: 0,
                seq: 0,
                timestamp_ns: 0,
                object_id: self.object,
                source_id: 1,
                lost_before: 0,
                payload: &self.payload,
            }
        }
    }

    /// `/`, `/d` (2), `/d/sub` (3), `/d/sub/f` (4).
    fn listed() -> PathMap {
        let mut m = PathMap::new();
        for (p, i) in [("/", 1), ("/d", 2), ("/d/sub", 3), ("/d/sub/f", 4)] {
            m.insert_path(p, i);
        }
        m
    }

    fn path_after(m: &mut PathMap, e: &Ev) -> Option<String> {
        let p = m.paths(&e.event()).unwrap().path;
        m.apply(&e.event());
        p
    }

    #[test]
    fn a_listing_gives_full_paths_from_its_top() {
        let m = listed();
        assert_eq!(m.path_of(4).as_deref(), Some("/d/sub/f"));
        assert_eq!(m.path_in(1, "x").as_deref(), Some("/x"));
        assert_eq!(m.inode_at("/d/sub"), Some(3));
        let mut sub = PathMap::new();
        sub.insert_path("/d/sub", 3);
        sub.insert_path("/d/sub/f", 4);
        assert_eq!(sub.path_of(4).as_deref(), Some("/d/sub/f"));
        assert_eq!(sub.path_of(2), None);
    }

    #[test]
    fn creates_deletes_and_names_reached_without_a_parent() {
        let mut m = listed();
        assert_eq!(path_after(&mut m, &Ev::dentry(vfs::CREATE, 5, 3, "new")).as_deref(), Some("/d/sub/new"));
        assert_eq!(m.path_of(5).as_deref(), Some("/d/sub/new"));
        assert_eq!(path_after(&mut m, &Ev::dentry(vfs::ATTRIB, 5, 0, "")).as_deref(), Some("/d/sub/new"));
        assert_eq!(path_after(&mut m, &Ev::dentry(vfs::DELETE, 5, 3, "new")).as_deref(), Some("/d/sub/new"));
        assert!(!m.contains(5));
        // A delete of another link keeps the name the map holds.
        m.apply(&Ev::dentry(vfs::DELETE, 4, 2, "other-link").event());
        assert!(m.contains(4));
    }

    #[test]
    fn renaming_a_directory_moves_everything_under_it() {
        let mut m = listed();
        let e = Ev::rename(3, 3 - 1, "sub", 1, "moved");
        let p = m.paths(&e.event()).unwrap();
        assert_eq!(p.from, Some((Some("/d/sub".into()), "sub".into())));
        assert_eq!((p.path.as_deref(), p.name.as_str(), p.parent), (Some("/moved"), "moved", 1));
        m.apply(&e.event());
        assert_eq!(m.path_of(4).as_deref(), Some("/moved/f"));
    }

    #[test]
    fn names_inside_a_mount_have_full_paths_until_it_is_unmounted() {
        let mut m = listed();
        let root = mounted_root(7).unwrap();
        assert_eq!(root, evq_vfs::fs_root(7));
        assert_eq!(path_after(&mut m, &Ev::mount(vfs::MOUNT, 3, 2, 7, "sub")).as_deref(), Some("/d/sub"));
        assert_eq!(
            path_after(&mut m, &Ev::dentry(vfs::CREATE, root + 1, root, "inner")).as_deref(),
            Some("/d/sub/inner")
        );
        assert_eq!(m.inode_at("/d/sub"), Some(root));
        path_after(&mut m, &Ev::mount(vfs::UNMOUNT, 3, 2, 7, "sub"));
        assert_eq!(m.inode_at("/d/sub"), Some(3));
        assert_eq!(m.path_of(root + 1), None);
        assert_eq!(mounted_root(0), None);
        assert_eq!(mounted_root(1 << 20), None);
    }

    #[test]
    fn an_event_in_an_unknown_directory_has_the_path_of_its_inode() {
        let mut m = PathMap::new();
        m.insert_path("/d", 2);
        let e = Ev::dentry(vfs::ATTRIB, 2, 1, "d");
        assert_eq!(m.paths(&e.event()).unwrap().path.as_deref(), Some("/d"));
        let e = Ev::rename(2, 1, "d", 1, "e");
        let p = m.paths(&e.event()).unwrap();
        assert_eq!((p.from, p.path.as_deref()), (Some((Some("/d".into()), "d".into())), Some("/e")));
        m.apply(&e.event());
        assert_eq!(m.path_of(2).as_deref(), Some("/e"));
        // Moved to a directory the map does not know: no path.
        m.apply(&Ev::rename(2, 1, "e", 7, "f").event());
        assert_eq!(m.path_of(2), None);
        assert_eq!(m.paths(&Ev::dentry(vfs::CREATE, 9, 1, "x").event()).unwrap().path, None);
    }

    #[test]
    fn a_loop_of_parents_has_no_path() {
        let mut m = PathMap::new();
        m.insert(2, "a", 3);
        m.insert(3, "b", 2);
        assert_eq!(m.path_of(3), None);
    }

    #[test]
    fn a_flood_of_creates_fills_the_map_no_further_than_its_limit() {
        let mut map = PathMap::new();
        map.insert_path("/", 1);
        for inode in 2..=MAX_PLACES as u64 + 10 {
            map.insert(1, "f", inode);
        }
        assert!(map.contains(MAX_PLACES as u64));
        assert!(!map.contains(MAX_PLACES as u64 + 1), "one inode past the limit");
        assert_eq!(map.path_of(MAX_PLACES as u64 + 1), None);
        // A known inode still moves when the map is full.
        map.insert(1, "g", 2);
        assert_eq!(map.path_of(2).as_deref(), Some("/g"));
    }
}
