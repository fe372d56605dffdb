//! A directory listing: the entries of a `Listing` reply, read from its
//! bytes ([`Listing`]) and packed into them ([`ListingWriter`]).
//!
//! Each entry is a 16-byte [`ListingRecord`] and its name padded with zeros
//! to a multiple of 8, back to back after the reply's 16-byte head; so an
//! entry with a name of `n` bytes takes `16 + ceil(n / 8) × 8` bytes, and a
//! reply holds at least four of the longest names ([`MAX_LISTING`] bytes of
//! entries).

use evq_abi::framing::{head, padded, tail, zero, MAX_MSG_BYTES};
use zerocopy::IntoBytes;

use crate::body::{ListingHead, ListingRecord};
use crate::{DecodeError, Kind};

/// Bytes of entries one `Listing` reply can carry (944): what is left of a
/// reply after its 16-byte head.
pub const MAX_LISTING: usize = MAX_MSG_BYTES - size_of::<ListingHead>();

/// One entry of a directory listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListEntry<'a> {
    /// The inode the name stands for; for a mount point, the root of the
    /// file system mounted on it (what `Lookup` of the name answers).
    pub inode: u64,
    /// File or directory.
    pub kind: Kind,
    /// The name.
    pub name: &'a [u8],
}

/// Some entries of a directory, in the order the server lists them, and
/// where the next `ReadDir` resumes. Made only by decoding a reply or by a
/// [`ListingWriter`], so its bytes always hold exactly `len()` well-formed
/// entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listing<'a> {
    next: u64,
    count: u16,
    records: &'a [u8],
}

impl<'a> Listing<'a> {
    /// The cookie to send in the next `ReadDir` for the entries after these;
    /// 0 when there are none.
    pub const fn next(&self) -> u64 {
        self.next
    }

    /// Whether this is the last part of the listing.
    pub const fn is_complete(&self) -> bool {
        self.next == 0
    }

    /// How many entries this part holds.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether this part holds no entries.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The packed entries, as they travel after the head.
    pub const fn records(&self) -> &'a [u8] {
        self.records
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = ListEntry<'a>> + 'a {
        let mut rest = self.records;
        (0..self.count).map_while(move |_| {
            let (entry, more) = read_record(rest).ok()?;
            rest = more;
            Some(entry)
        })
    }

    /// Checks `records` holds exactly `count` well-formed entries: each
    /// record present and its name and padding inside the bytes
    /// (BadLength), reserved bytes and padding zero (ReservedNonZero), a
    /// known kind (BadKind).
    pub(crate) fn parse(next: u64, count: u16, records: &'a [u8]) -> Result<Self, DecodeError> {
        let mut rest = records;
        for _ in 0..count {
            rest = read_record(rest)?.1;
        }
        if !rest.is_empty() {
            let used = records.len() - rest.len();
            return Err(DecodeError::BadLength { expected: HEAD + used, actual: HEAD + records.len() });
        }
        Ok(Listing { next, count, records })
    }
}

const HEAD: usize = size_of::<ListingHead>();
const RECORD: usize = size_of::<ListingRecord>();

/// One entry from the front of `bytes`, and the bytes after it.
fn read_record(bytes: &[u8]) -> Result<(ListEntry<'_>, &[u8]), DecodeError> {
    let (r, rest) = head::<ListingRecord>(bytes)?;
    zero(&r.reserved)?;
    let kind = Kind::from_u8(r.kind).ok_or(DecodeError::BadKind(r.kind))?;
    let len = usize::from(r.name_len.get());
    let span = padded(len);
    if rest.len() < span {
        return Err(DecodeError::BadLength { expected: RECORD + span, actual: bytes.len() });
    }
    let (named, after) = rest.split_at(span);
    let [name] = tail(RECORD, named, [len])?;
    Ok((ListEntry { inode: r.inode.get(), kind, name }, after))
}

/// Packs entries into a buffer, as many as fit in it and in one reply
/// ([`MAX_LISTING`]), for a server to answer `ReadDir` with.
pub struct ListingWriter<'a> {
    buf: &'a mut [u8],
    used: usize,
    count: u16,
}

impl<'a> ListingWriter<'a> {
    /// A writer over `buf`; only its first [`MAX_LISTING`] bytes are used.
    pub fn new(buf: &'a mut [u8]) -> Self {
        let cap = buf.len().min(MAX_LISTING);
        ListingWriter { buf: &mut buf[..cap], used: 0, count: 0 }
    }

    /// Appends one entry; `false`, changing nothing, when it does not fit
    /// (or its name is longer than a `u16` counts).
    pub fn push(&mut self, inode: u64, kind: Kind, name: &[u8]) -> bool {
        let Ok(name_len) = u16::try_from(name.len()) else { return false };
        let size = RECORD + padded(name.len());
        if self.buf.len() - self.used < size || self.count == u16::MAX {
            return false;
        }
        let r = ListingRecord { inode: inode.into(), name_len: name_len.into(), kind: kind as u8, reserved: [0; 5] };
        let out = &mut self.buf[self.used..self.used + size];
        out[..RECORD].copy_from_slice(r.as_bytes());
        out[RECORD..RECORD + name.len()].copy_from_slice(name);
        out[RECORD + name.len()..].fill(0);
        self.used += size;
        self.count += 1;
        true
    }

    /// The entries packed, with `next` as the cookie that resumes after
    /// them (0: there are no more).
    pub fn finish(self, next: u64) -> Listing<'a> {
        let buf: &'a [u8] = self.buf;
        Listing { next, count: self.count, records: &buf[..self.used] }
    }
}
