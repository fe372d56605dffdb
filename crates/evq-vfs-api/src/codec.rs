//! Each VFS message's codec: its layout, the checks its fields must pass,
//! in the order `docs/protocol.md` §6.3 and §6.5 list them, and its
//! encoding. Requests that share a layout share a codec. The table in
//! `lib.rs` dispatches to these by label.

use evq_abi::framing::{exact, head, padded, put_with, tail, zero, Layout, MAX_MSG_BYTES};
use zerocopy::byteorder::little_endian::U16;
use zerocopy::IntoBytes;

use crate::body::*;
use crate::{DecodeError, EncodeError, MAX_READ, MAX_WRITE, MODE_MASK};

pub(crate) fn mode(v: u32) -> Result<u32, DecodeError> {
    if v & !MODE_MASK != 0 {
        return Err(DecodeError::BadMode(v));
    }
    Ok(v)
}

/// A name's length as its `u16` field; a longer name could never fit in a
/// message anyway.
fn name_len(name: &[u8]) -> Result<U16, EncodeError> {
    u16::try_from(name.len()).map(U16::new).map_err(|_| EncodeError::NoSpace)
}

/// A length field that cannot fit a body is a length error, like any
/// other mismatch between the head and the body.
fn body_len(len: u32) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX).min(MAX_MSG_BYTES + 1)
}

/// The request codecs.
pub(crate) mod request {
    use super::*;
    use crate::{set_attr, SetAttrs};

    /// `Lookup`, `Unlink`, `Rmdir`: a directory and a name.
    pub mod entry {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<EntryBody>("Entry", "padded name");
        pub fn decode(body: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
            let (h, rest) = head::<EntryBody>(body)?;
            zero(&h.reserved)?;
            let [name] = tail(size_of::<EntryBody>(), rest, [usize::from(h.name_len.get())])?;
            Ok((h.dir.get(), name))
        }
        pub fn encode(dir: u64, name: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
            let h = EntryBody { dir: dir.into(), name_len: name_len(name)?, reserved: [0; 6] };
            put_with(out, h.as_bytes(), &[name])
        }
    }

    /// `Stat`, `Mount`, `Unmount`: one inode.
    pub mod inode {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<InodeBody>("Inode");
        pub fn decode(body: &[u8]) -> Result<(u64,), DecodeError> {
            Ok((exact::<InodeBody>(body)?.inode.get(),))
        }
        pub fn encode(inode: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put_with(out, InodeBody { inode: inode.into() }.as_bytes(), &[])
        }
    }

    /// `Mkdir`, `Create`: a directory, a name and a mode.
    pub mod make {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<MakeBody>("Make", "padded name");
        pub fn decode(body: &[u8]) -> Result<(u64, &[u8], u32), DecodeError> {
            let (h, rest) = head::<MakeBody>(body)?;
            zero(h.reserved.as_bytes())?;
            let mode = mode(h.mode.get())?;
            let [name] = tail(size_of::<MakeBody>(), rest, [usize::from(h.name_len.get())])?;
            Ok((h.dir.get(), name, mode))
        }
        pub fn encode(dir: u64, name: &[u8], m: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            mode(m).map_err(EncodeError::Invalid)?;
            let h = MakeBody { dir: dir.into(), mode: m.into(), name_len: name_len(name)?, reserved: 0.into() };
            put_with(out, h.as_bytes(), &[name])
        }
    }

    pub mod write {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<WriteBody>("Write", "padded data");
        pub fn decode(body: &[u8]) -> Result<(u64, u64, &[u8]), DecodeError> {
            let (h, rest) = head::<WriteBody>(body)?;
            zero(h.reserved.as_bytes())?;
            let [data] = tail(size_of::<WriteBody>(), rest, [body_len(h.len.get())])?;
            Ok((h.inode.get(), h.offset.get(), data))
        }
        pub fn encode(inode: u64, offset: u64, data: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
            if data.len() > MAX_WRITE {
                let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                return Err(EncodeError::Invalid(DecodeError::TooLong(len)));
            }
            let h = WriteBody {
                inode: inode.into(),
                offset: offset.into(),
                len: (data.len() as u32).into(),
                reserved: 0.into(),
            };
            put_with(out, h.as_bytes(), &[data])
        }
    }

    pub mod read {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<ReadBody>("Read");
        pub fn decode(body: &[u8]) -> Result<(u64, u64, u32), DecodeError> {
            let b = exact::<ReadBody>(body)?;
            zero(b.reserved.as_bytes())?;
            let len = b.len.get();
            if len as usize > MAX_READ {
                return Err(DecodeError::TooLong(len));
            }
            Ok((b.inode.get(), b.offset.get(), len))
        }
        pub fn encode(inode: u64, offset: u64, len: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
            if len as usize > MAX_READ {
                return Err(EncodeError::Invalid(DecodeError::TooLong(len)));
            }
            let b = ReadBody { inode: inode.into(), offset: offset.into(), len: len.into(), reserved: 0.into() };
            put_with(out, b.as_bytes(), &[])
        }
    }

    pub mod set_attrs {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<SetAttrBody>("SetAttr");
        pub fn decode(body: &[u8]) -> Result<(u64, SetAttrs), DecodeError> {
            let b = exact::<SetAttrBody>(body)?;
            let mask = b.mask.get();
            if mask & !set_attr::ALL != 0 {
                return Err(DecodeError::BadMask(mask));
            }
            let has = |bit: u32| mask & bit != 0;
            // A value that is not being set must be zero, so every
            // `SetAttrs` has exactly one encoding.
            let unset_nonzero = (!has(set_attr::MODE) && b.mode.get() != 0)
                || (!has(set_attr::SIZE) && b.size.get() != 0)
                || (!has(set_attr::ATIME) && b.atime_ns.get() != 0)
                || (!has(set_attr::MTIME) && b.mtime_ns.get() != 0)
                || (!has(set_attr::UID) && b.uid.get() != 0)
                || (!has(set_attr::GID) && b.gid.get() != 0);
            if unset_nonzero {
                return Err(DecodeError::ReservedNonZero);
            }
            let attrs = SetAttrs {
                mode: if has(set_attr::MODE) { Some(mode(b.mode.get())?) } else { None },
                size: has(set_attr::SIZE).then(|| b.size.get()),
                atime_ns: has(set_attr::ATIME).then(|| b.atime_ns.get()),
                mtime_ns: has(set_attr::MTIME).then(|| b.mtime_ns.get()),
                uid: has(set_attr::UID).then(|| b.uid.get()),
                gid: has(set_attr::GID).then(|| b.gid.get()),
            };
            Ok((b.inode.get(), attrs))
        }
        pub fn encode(inode: u64, attrs: SetAttrs, out: &mut [u8]) -> Result<usize, EncodeError> {
            if let Some(m) = attrs.mode {
                mode(m).map_err(EncodeError::Invalid)?;
            }
            let b = SetAttrBody {
                inode: inode.into(),
                mask: attrs.mask().into(),
                mode: attrs.mode.unwrap_or(0).into(),
                size: attrs.size.unwrap_or(0).into(),
                atime_ns: attrs.atime_ns.unwrap_or(0).into(),
                mtime_ns: attrs.mtime_ns.unwrap_or(0).into(),
                uid: attrs.uid.unwrap_or(0).into(),
                gid: attrs.gid.unwrap_or(0).into(),
            };
            put_with(out, b.as_bytes(), &[])
        }
    }

    pub mod rename {
        use super::*;
        /// A rename's fields: the old directory and name, the new ones.
        type Fields<'a> = (u64, &'a [u8], u64, &'a [u8]);
        pub const LAYOUT: Layout = Layout::with_tail::<RenameBody>("Rename", "padded names");
        pub fn decode(body: &[u8]) -> Result<Fields<'_>, DecodeError> {
            let (h, rest) = head::<RenameBody>(body)?;
            zero(h.reserved.as_bytes())?;
            let lens = [usize::from(h.old_name_len.get()), usize::from(h.new_name_len.get())];
            let [old_name, new_name] = tail(size_of::<RenameBody>(), rest, lens)?;
            Ok((h.old_dir.get(), old_name, h.new_dir.get(), new_name))
        }
        pub fn encode(
            old_dir: u64,
            old_name: &[u8],
            new_dir: u64,
            new_name: &[u8],
            out: &mut [u8],
        ) -> Result<usize, EncodeError> {
            let h = RenameBody {
                old_dir: old_dir.into(),
                new_dir: new_dir.into(),
                old_name_len: name_len(old_name)?,
                new_name_len: name_len(new_name)?,
                reserved: 0.into(),
            };
            put_with(out, h.as_bytes(), &[old_name, new_name])
        }
    }

    pub mod read_dir {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<ReadDirBody>("ReadDir");
        pub fn decode(body: &[u8]) -> Result<(u64, u64), DecodeError> {
            let b = exact::<ReadDirBody>(body)?;
            Ok((b.dir.get(), b.cookie.get()))
        }
        pub fn encode(dir: u64, cookie: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put_with(out, ReadDirBody { dir: dir.into(), cookie: cookie.into() }.as_bytes(), &[])
        }
    }

    pub mod link {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<LinkBody>("Link", "padded name");
        pub fn decode(body: &[u8]) -> Result<(u64, u64, &[u8]), DecodeError> {
            let (h, rest) = head::<LinkBody>(body)?;
            zero(&h.reserved)?;
            let [name] = tail(size_of::<LinkBody>(), rest, [usize::from(h.name_len.get())])?;
            Ok((h.inode.get(), h.new_dir.get(), name))
        }
        pub fn encode(inode: u64, new_dir: u64, name: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
            let h =
                LinkBody { inode: inode.into(), new_dir: new_dir.into(), name_len: name_len(name)?, reserved: [0; 6] };
            put_with(out, h.as_bytes(), &[name])
        }
    }
}

/// The reply codecs.
pub(crate) mod reply {
    use super::*;
    use crate::{Attrs, Kind};

    pub use evq_abi::framing::empty_body as done;

    pub mod inode {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<InodeBody>("Inode");
        pub fn decode(body: &[u8]) -> Result<u64, DecodeError> {
            Ok(exact::<InodeBody>(body)?.inode.get())
        }
        pub fn encode(inode: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
            put_with(out, InodeBody { inode: inode.into() }.as_bytes(), &[])
        }
    }

    pub mod attrs {
        use super::*;
        pub const LAYOUT: Layout = Layout::fixed::<AttrsBody>("Attrs");
        pub fn decode(body: &[u8]) -> Result<Attrs, DecodeError> {
            let b = exact::<AttrsBody>(body)?;
            zero(&b.reserved)?;
            let kind = Kind::from_u8(b.kind).ok_or(DecodeError::BadKind(b.kind))?;
            Ok(Attrs {
                inode: b.inode.get(),
                kind,
                mode: mode(b.mode.get())?,
                size: b.size.get(),
                nlink: b.nlink.get(),
                atime_ns: b.atime_ns.get(),
                mtime_ns: b.mtime_ns.get(),
                uid: b.uid.get(),
                gid: b.gid.get(),
            })
        }
        pub fn encode(a: Attrs, out: &mut [u8]) -> Result<usize, EncodeError> {
            mode(a.mode).map_err(EncodeError::Invalid)?;
            let b = AttrsBody {
                inode: a.inode.into(),
                size: a.size.into(),
                atime_ns: a.atime_ns.into(),
                mtime_ns: a.mtime_ns.into(),
                mode: a.mode.into(),
                nlink: a.nlink.into(),
                uid: a.uid.into(),
                gid: a.gid.into(),
                kind: a.kind as u8,
                reserved: [0; 7],
            };
            put_with(out, b.as_bytes(), &[])
        }
    }

    pub mod listing {
        use super::*;
        use crate::Listing;
        pub const LAYOUT: Layout = Layout::with_tail::<ListingHead>("Listing", "entries");
        pub fn decode(body: &[u8]) -> Result<Listing<'_>, DecodeError> {
            let (h, rest) = head::<ListingHead>(body)?;
            zero(&h.reserved)?;
            Listing::parse(h.next.get(), h.count.get(), rest)
        }
        pub fn encode(l: Listing<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
            let h = ListingHead { next: l.next().into(), count: (l.len() as u16).into(), reserved: [0; 6] };
            put_with(out, h.as_bytes(), &[l.records()])
        }
    }

    pub mod data {
        use super::*;
        pub const LAYOUT: Layout = Layout::with_tail::<DataHead>("Data", "padded data");
        pub fn decode(body: &[u8]) -> Result<&[u8], DecodeError> {
            let (h, rest) = head::<DataHead>(body)?;
            zero(h.reserved.as_bytes())?;
            let [data] = tail(size_of::<DataHead>(), rest, [body_len(h.len.get())])?;
            Ok(data)
        }
        pub fn encode(data: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
            if data.len() > MAX_READ {
                return Err(EncodeError::NoSpace);
            }
            let h = DataHead { len: (data.len() as u32).into(), reserved: 0.into() };
            put_with(out, h.as_bytes(), &[data])
        }
    }
}

// A padded maximal read or write fills exactly one message.
const _: () = assert!(padded(MAX_WRITE) + size_of::<WriteBody>() <= MAX_MSG_BYTES);
