//! Helpers shared by the VFS core's tests: a harness that drives a [`Vfs`]
//! through the real message encoding and collects its events, and owned,
//! comparable forms of replies and events.
#![allow(dead_code)]

use evq_abi::event::{decode_dentry, decode_mount, decode_rename, vfs, Category, Priority};
use evq_abi::msg::{Event, MAX_MSG_BYTES};
use evq_vfs::Vfs;
use evq_vfs_api::{Attrs, ErrorCode, Kind, Reply, Request, MAX_READ};

/// A reply that owns its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum R {
    Done,
    Inode(u64),
    Attrs(Attrs),
    Data(Vec<u8>),
    /// A listing's entries (inode, kind, name) and its `next`.
    Listing(Vec<(u64, Kind, Vec<u8>)>, u64),
    Err(ErrorCode, u32),
}

impl R {
    pub fn from_reply(reply: Reply<'_>) -> Self {
        match reply {
            Reply::Done => R::Done,
            Reply::Inode(i) => R::Inode(i),
            Reply::Attrs(a) => R::Attrs(a),
            Reply::Data(d) => R::Data(d.to_vec()),
            Reply::Listing(l) => R::Listing(l.iter().map(|e| (e.inode, e.kind, e.name.to_vec())).collect(), l.next()),
            Reply::Error { code, detail } => R::Err(code, detail),
        }
    }

    pub fn err(code: ErrorCode) -> Self {
        R::Err(code, 0)
    }

    pub fn inode(&self) -> u64 {
        match self {
            R::Inode(i) => *i,
            other => panic!("expected an inode, got {other:?}"),
        }
    }

    pub fn attrs(&self) -> Attrs {
        match self {
            R::Attrs(a) => *a,
            other => panic!("expected attributes, got {other:?}"),
        }
    }
}

/// A VFS event's payload, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P {
    Dentry { parent: u64, name: Vec<u8> },
    Rename { old_parent: u64, old_name: Vec<u8>, new_parent: u64, new_name: Vec<u8> },
    Mount { parent: u64, fs_id: u64, name: Vec<u8> },
}

/// A VFS event, decoded: kind, type flags, object, payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub kind: u8,
    pub flags: u8,
    pub object: u64,
    pub payload: P,
}

impl Ev {
    /// Decodes a published event, checking everything that is the same for
    /// every VFS event.
    pub fn decode(e: &Event<'_>) -> Ev {
        assert_eq!(e.category, Category::Vfs);
        assert_eq!(e.priority, Priority::Normal);
        e.check().expect("a valid event");
        let payload = match e.kind {
            vfs::CREATE | vfs::DELETE | vfs::ATTRIB => {
                let (parent, name) = decode_dentry(e.payload).expect("dentry payload");
                assert_eq!(e.payload.len(), 16 + name.len(), "no bytes after the name");
                P::Dentry { parent, name: name.to_vec() }
            }
            vfs::RENAME => {
                let r = decode_rename(e.payload).expect("rename payload");
                assert_eq!(e.payload.len(), 24 + r.old_name.len() + r.new_name.len());
                P::Rename {
                    old_parent: r.old_parent,
                    old_name: r.old_name.to_vec(),
                    new_parent: r.new_parent,
                    new_name: r.new_name.to_vec(),
                }
            }
            vfs::MOUNT | vfs::UNMOUNT => {
                let (parent, fs_id, name) = decode_mount(e.payload).expect("mount payload");
                assert_eq!(e.payload.len(), 24 + name.len());
                P::Mount { parent, fs_id, name: name.to_vec() }
            }
            other => panic!("unknown VFS kind {other}"),
        };
        Ev { kind: e.kind, flags: e.type_flags, object: e.object_id, payload }
    }

    fn dentry(kind: u8, flags: u8, object: u64, parent: u64, name: &[u8]) -> Ev {
        Ev { kind, flags, object, payload: P::Dentry { parent, name: name.to_vec() } }
    }
    pub fn create(flags: u8, object: u64, parent: u64, name: &[u8]) -> Ev {
        Self::dentry(vfs::CREATE, flags, object, parent, name)
    }
    pub fn delete(flags: u8, object: u64, parent: u64, name: &[u8]) -> Ev {
        Self::dentry(vfs::DELETE, flags, object, parent, name)
    }
    pub fn attrib(flags: u8, object: u64, parent: u64, name: &[u8]) -> Ev {
        Self::dentry(vfs::ATTRIB, flags, object, parent, name)
    }
    pub fn rename(flags: u8, object: u64, old_parent: u64, old_name: &[u8], new_parent: u64, new_name: &[u8]) -> Ev {
        Ev {
            kind: vfs::RENAME,
            flags,
            object,
            payload: P::Rename { old_parent, old_name: old_name.to_vec(), new_parent, new_name: new_name.to_vec() },
        }
    }
    pub fn mount(kind: u8, object: u64, parent: u64, fs_id: u64, name: &[u8]) -> Ev {
        Ev { kind, flags: vfs::flags::IS_DIR, object, payload: P::Mount { parent, fs_id, name: name.to_vec() } }
    }
}

/// Sends `request` to `vfs` as a message (encoded, handled by
/// `handle_message`, the reply decoded), at `now`; returns the reply and the
/// events published.
pub fn call(vfs: &mut Vfs, now: u64, request: &Request<'_>) -> (R, Vec<Ev>) {
    let mut body = [0u8; MAX_MSG_BYTES];
    let (label, len) = request.encode(&mut body).expect("test requests encode");
    call_raw(vfs, now, label, &body[..len])
}

/// Sends a raw label and body.
pub fn call_raw(vfs: &mut Vfs, now: u64, label: u32, body: &[u8]) -> (R, Vec<Ev>) {
    let mut events = Vec::new();
    let mut out = [0u8; MAX_MSG_BYTES];
    let (reply_label, n) =
        vfs.handle_message(now, label, body, &mut out, &mut |e: Event<'_>| events.push(Ev::decode(&e)));
    let reply = Reply::decode(label, reply_label, &out[..n]).expect("the server's replies decode");
    (R::from_reply(reply), events)
}

/// Calls `request` with the typed entry point, as a shell that built it in
/// code would.
pub fn call_typed(vfs: &mut Vfs, now: u64, request: Request<'_>) -> (R, Vec<Ev>) {
    let mut events = Vec::new();
    let mut buf = [0u8; MAX_READ];
    let reply = vfs.handle(now, request, &mut buf, &mut |e: Event<'_>| events.push(Ev::decode(&e)));
    (R::from_reply(reply), events)
}

/// A whole file's bytes.
pub fn contents(vfs: &Vfs, inode: u64) -> Vec<u8> {
    let mut buf = vec![0u8; evq_vfs::limits::MAX_FILE_SIZE as usize + 1];
    let n = vfs.read(inode, 0, &mut buf).expect("a readable file");
    buf.truncate(n);
    buf
}
