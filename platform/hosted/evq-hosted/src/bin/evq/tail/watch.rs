//! `evq tail PATH… [-r]`: watches on directories and files, the way
//! inotifywait keeps them.
//!
//! A directory is watched by a `PARENT` subscription on its inode (the
//! server then delivers only the VFS events in it), a file, and each
//! watched path itself, by an `OBJECT` subscription. With `-r` every
//! directory of the subtree gets its own `PARENT` subscription, and so does
//! each directory that appears in it later (made, moved in, or a file
//! system mounted on one), as inotifywait adds a watch per directory.
//!
//! Subscribe first, then list: a directory's listing is taken after its
//! subscription is in place, so a name made in between arrives as an event
//! as well as in the listing (the event is then not shown twice), and
//! nothing is missed. The listing fills the tail's [`PathMap`], which the
//! events keep current.

use std::collections::BTreeMap;
use std::io;

use evq_abi::event::{decode_mount, decode_rename, vfs, Category, Priority};
use evq_abi::msg::{ErrorCode, Filter};
use evq_client::paths::{mounted_root, PathMap};
use evq_client::{ReceivedEvent, SessionError};
use evq_hosted::client::{Client, HostedQueue};
use evq_hosted::console::{Console, TreeEntry};

/// What every watch subscription shares: the source and priority asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Terms {
    pub source_id: Option<u32>,
    pub priority: Priority,
}

impl Terms {
    fn filter(self) -> Filter {
        Filter { source_id: self.source_id, priority: self.priority, ..Filter::all_of(Category::Vfs) }
    }
}

/// What watching goes through: the console that lists the tree, and the
/// client and queue that subscribe.
pub(crate) struct Via<'a> {
    pub console: &'a Console,
    pub client: &'a mut Client,
    pub queue: &'a HostedQueue,
}

/// The listing of the subtree at `path`, or why not.
fn list(console: &Console, path: &str) -> io::Result<Vec<TreeEntry>> {
    console.tree(path).map_err(|e| io::Error::other(format!("cannot watch {path}: {e}")))
}

/// The watches of one tail.
pub(crate) struct Watches {
    terms: Terms,
    recursive: bool,
    /// Watched directories: inode → subscription.
    dirs: BTreeMap<u64, u8>,
    /// The map of paths every VFS event is shown with.
    pub map: PathMap,
    /// Inodes a listing reported but no event has yet: a create event for
    /// one of these at the same place is the listing's twin, not shown.
    listed: BTreeMap<u64, (u64, String)>,
}

/// A new subscription failed: said in words, the limit named when it is the
/// queue's subscription table that is full.
fn refused(what: &str, e: &SessionError<evq_hosted::client::HostError>) -> io::Error {
    match e {
        SessionError::Refused(ErrorCode::TableFull, limit) => io::Error::other(format!(
            "cannot watch {what}: a queue holds at most {limit} subscriptions (the server's MAX_SUBSCRIPTIONS), \
             one a watched directory; watch a smaller tree"
        )),
        e => io::Error::other(format!("cannot watch {what}: {e}")),
    }
}

impl Watches {
    /// No watches yet.
    pub(crate) fn new(terms: Terms, recursive: bool) -> Self {
        Watches { terms, recursive, dirs: BTreeMap::new(), map: PathMap::new(), listed: BTreeMap::new() }
    }

    /// How many directories are watched.
    pub(crate) fn dir_count(&self) -> usize {
        self.dirs.len()
    }

    /// Watches `path` (a top given on the command line): an `OBJECT`
    /// subscription for the path itself, and for a directory a `PARENT`
    /// one for it (with `-r`, for every directory under it). Returns the
    /// listing, taken once every directory in it was watched.
    pub(crate) fn add_top(&mut self, via: &mut Via<'_>, path: &str) -> io::Result<Vec<TreeEntry>> {
        let first = list(via.console, path)?;
        let top = first.first().ok_or_else(|| io::Error::other(format!("cannot watch {path}: no such path")))?;
        let itself = Filter { object_id: Some(top.inode), ..self.terms.filter() };
        via.client.subscribe(via.queue, itself).map_err(|e| refused(path, &e))?;
        self.add_dirs(via, path)
    }

    /// Watches the directories of the subtree at `path` (only `path` itself
    /// without `-r`), listing it again until every directory in the
    /// listing was watched before it was taken; fills the map from it.
    fn add_dirs(&mut self, via: &mut Via<'_>, path: &str) -> io::Result<Vec<TreeEntry>> {
        loop {
            let entries = list(via.console, path)?;
            let wanted: Vec<&TreeEntry> = entries
                .iter()
                .enumerate()
                .filter(|(i, e)| e.dir && (self.recursive || *i == 0) && !self.dirs.contains_key(&e.inode))
                .map(|(_, e)| e)
                .collect();
            if wanted.is_empty() {
                let shown: Vec<TreeEntry> = if self.recursive {
                    entries
                } else {
                    // The directory and its own names, not deeper ones.
                    let depth = |p: &str| p.trim_end_matches('/').matches('/').count();
                    let top = entries.first().map_or(0, |e| depth(&e.path));
                    entries.into_iter().filter(|e| depth(&e.path) <= top + 1 || e.path == "/").collect()
                };
                for e in &shown {
                    self.map.insert_path(&e.path, e.inode);
                }
                return Ok(shown);
            }
            for dir in wanted {
                let filter = Filter { parent_id: Some(dir.inode), ..self.terms.filter() };
                let id = via.client.subscribe(via.queue, filter).map_err(|e| refused(&dir.path, &e))?;
                self.dirs.insert(dir.inode, id);
            }
        }
    }

    /// Notes a listing's entries as reported, so a create event for one of
    /// them (made after its directory's subscription, before the listing)
    /// is not shown twice.
    pub(crate) fn note_listed(&mut self, entries: &[TreeEntry]) {
        for e in entries {
            let dir = match e.path.rsplit_once('/') {
                Some(("", _)) => "/",
                Some((dir, _)) => dir,
                None => continue,
            };
            let Some(parent) = self.map.inode_at(dir) else { continue };
            self.listed.insert(e.inode, (parent, super::format::base_name(&e.path).to_string()));
        }
    }

    /// Whether `e` is a create a listing already reported.
    pub(crate) fn is_listed_twin(&mut self, e: &ReceivedEvent<'_>) -> bool {
        if e.category != Category::Vfs || e.kind != vfs::CREATE {
            return false;
        }
        let Ok((parent, name)) = evq_abi::event::decode_dentry(e.payload) else { return false };
        match self.listed.get(&e.object_id) {
            Some((p, n)) if *p == parent && n.as_bytes() == name => {
                self.listed.remove(&e.object_id);
                true
            }
            _ => false,
        }
    }

    /// The directory `e` brings into a recursive watch, by its full path:
    /// one made or moved into a watched directory, or a file system mounted
    /// on one. Call after the map has taken the event.
    pub(crate) fn new_dir(&self, e: &ReceivedEvent<'_>) -> Option<String> {
        if !self.recursive || e.category != Category::Vfs {
            return None;
        }
        let is_dir = e.type_flags & vfs::flags::IS_DIR != 0;
        match e.kind {
            vfs::CREATE if is_dir => {
                let (parent, _) = evq_abi::event::decode_dentry(e.payload).ok()?;
                (self.dirs.contains_key(&parent) && !self.dirs.contains_key(&e.object_id))
                    .then(|| self.map.path_of(e.object_id))?
            }
            vfs::RENAME if is_dir => {
                let r = decode_rename(e.payload).ok()?;
                (self.dirs.contains_key(&r.new_parent) && !self.dirs.contains_key(&e.object_id))
                    .then(|| self.map.path_of(e.object_id))?
            }
            vfs::MOUNT => {
                let (parent, fs_id, _) = decode_mount(e.payload).ok()?;
                let root = mounted_root(fs_id)?;
                self.dirs.contains_key(&parent).then(|| self.map.path_of(root))?
            }
            _ => None,
        }
    }

    /// Watches a directory that `e` brought in ([`Watches::new_dir`]) and
    /// returns the names already in it, to report (not the directory
    /// itself: the event that brought it in was shown).
    pub(crate) fn add_later(&mut self, via: &mut Via<'_>, path: &str) -> io::Result<Vec<TreeEntry>> {
        let mut entries = self.add_dirs(via, path)?;
        self.note_listed(&entries);
        entries.drain(..entries.len().min(1));
        Ok(entries)
    }

    /// The watched directories `e` ends: a watched directory removed, or
    /// the directories of a file system unmounted.
    pub(crate) fn gone(&self, e: &ReceivedEvent<'_>) -> Vec<u64> {
        if e.category != Category::Vfs {
            return Vec::new();
        }
        match e.kind {
            vfs::DELETE if e.type_flags & vfs::flags::IS_DIR != 0 && self.dirs.contains_key(&e.object_id) => {
                vec![e.object_id]
            }
            vfs::UNMOUNT => match decode_mount(e.payload).map(|(_, fs_id, _)| u16::try_from(fs_id)) {
                Ok(Ok(fs)) if fs != 0 => self.dirs.keys().copied().filter(|&d| evq_vfs::fs_id(d) == fs).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Drops the watches on `dirs` ([`Watches::gone`]), freeing their
    /// subscriptions.
    pub(crate) fn unwatch(&mut self, via: &mut Via<'_>, dirs: &[u64]) -> io::Result<()> {
        for dir in dirs {
            if let Some(id) = self.dirs.remove(dir) {
                via.client
                    .unsubscribe(via.queue, id)
                    .map_err(|e| io::Error::other(format!("unwatching a directory: {e}")))?;
            }
        }
        Ok(())
    }
}
