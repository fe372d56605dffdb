//! Decoding an event entry: its header and record ([`evq_event_decode`]),
//! then its payload by kind. Every decoder reads only the caller's memory
//! (the entry `evq_ring_next` copied out), checks every length, and hands
//! out names as a pointer and a length into that same memory.

use core::ffi::c_char;

use ::evq_client::{decode_event, kind_name, EventError};
use ::evq_ring::EntryRef;
use evq_abi::event::{
    decode_dentry, decode_mount, decode_rename, Category, CountersPayload, ExitPayload, FaultPayload, PayloadError,
    StatePayload, TimePayload, UsagePayload,
};
use evq_abi::ring::EntryHeader;
use zerocopy::{FromBytes, Immutable, KnownLayout};

use crate::error::*;
use crate::ring::{evq_entry, EVQ_ENTRY_EVENT};

/// An event, decoded from an entry. `payload` points into the entry it was
/// decoded from, and is valid while that entry is.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_event {
    /// Its category (`EVQ_CATEGORY_*`).
    pub category: u32,
    /// Its kind within the category (`EVQ_VFS_CREATE`, …).
    pub kind: u32,
    /// Type-specific flags (`EVQ_VFS_FLAG_IS_DIR`, …).
    pub type_flags: u32,
    /// The subscription that matched it.
    pub watch_id: u32,
    /// 1 if it was delivered at critical priority, else 0.
    pub critical: u32,
    /// How many older events it replaced (0 unless coalesced).
    pub coalesced: u32,
    /// Per-queue sequence number: a gap is exactly the events lost.
    pub seq: u64,
    /// When the server took it, in ns of the server's monotonic clock.
    pub timestamp_ns: u64,
    /// The object it is about: an inode, a device, an interface, a domain.
    pub object_id: u64,
    /// The source that published it, stamped by the server.
    pub source_id: u32,
    /// Bytes of payload.
    pub payload_len: u32,
    /// The payload, inside the entry.
    pub payload: *const u8,
}

/// Decodes the event entry `entry` (an `EVQ_ENTRY_EVENT` from
/// `evq_ring_next`) into `event`.
///
/// Returns 0, or `EVQ_ERR_INVAL` (a null pointer, or the entry is not an
/// event entry or claims more body than it holds),
/// `EVQ_ERR_UNKNOWN_CATEGORY`, `EVQ_ERR_TRUNCATED` (the body is shorter
/// than a record or than the payload it declares).
///
/// # Safety
///
/// `entry` points to an `evq_entry` that stays unchanged while `event`'s
/// payload is used; `event` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_event_decode(entry: *const evq_entry, event: *mut evq_event) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let entry = unsafe { arg(entry) }?;
        if entry.kind != EVQ_ENTRY_EVENT {
            return Err(EVQ_ERR_INVAL);
        }
        let body = entry.body.get(..entry.body_len as usize).ok_or(EVQ_ERR_INVAL)?;
        let raw = EntryRef { header: EntryHeader::from_raw(entry.header), body, lost_before: 0 };
        let e = decode_event(&raw).map_err(|e| match e {
            EventError::UnknownCategory(_) => EVQ_ERR_UNKNOWN_CATEGORY,
            EventError::Truncated => EVQ_ERR_TRUNCATED,
            EventError::Ring(_) => EVQ_ERR_CORRUPT,
        })?;
        let decoded = evq_event {
            category: e.category as u32,
            kind: e.kind.into(),
            type_flags: e.type_flags.into(),
            watch_id: e.watch_id.into(),
            critical: e.critical.into(),
            coalesced: e.coalesced.into(),
            seq: e.seq,
            timestamp_ns: e.timestamp_ns,
            object_id: e.object_id,
            source_id: e.source_id,
            payload_len: e.payload.len() as u32,
            payload: e.payload.as_ptr(),
        };
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(event, decoded) }?;
        Ok(EVQ_OK)
    })
}

/// The lower-case name of a kind (`"create"`, `"link-up"`), or `"?"` for
/// one this library does not know. Stores its length in `len`; the bytes
/// are static and not NUL-terminated (print them with `%.*s`).
///
/// # Safety
///
/// `len` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_kind_name(category: u32, kind: u32, len: *mut usize) -> *const c_char {
    let name = match (u8::try_from(category).ok().and_then(Category::from_u8), u8::try_from(kind)) {
        (Some(c), Ok(k)) => kind_name(c, k),
        _ => "?",
    };
    // SAFETY: valid for writes by this function's contract; a null `len`
    // is refused by `put` and the name is still returned.
    let _ = unsafe { put(len, name.len()) };
    name.as_ptr().cast()
}

/// The lower-case name of a category (`"vfs"`), or `"?"`; as
/// [`evq_kind_name`].
///
/// # Safety
///
/// `len` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_category_name(category: u32, len: *mut usize) -> *const c_char {
    let name = u8::try_from(category).ok().and_then(Category::from_u8).map_or("?", Category::name);
    // SAFETY: as in `evq_kind_name`.
    let _ = unsafe { put(len, name.len()) };
    name.as_ptr().cast()
}

/// A dentry payload (`EVQ_VFS_CREATE`, `EVQ_VFS_DELETE`, `EVQ_VFS_ATTRIB`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_dentry {
    /// The directory holding the name.
    pub parent: u64,
    /// The name, inside the payload; not NUL-terminated.
    pub name: *const u8,
    /// Its length in bytes (at most 200).
    pub name_len: usize,
}

/// A rename payload (`EVQ_VFS_RENAME`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_rename {
    /// The directory the name left.
    pub old_parent: u64,
    /// The old name, inside the payload.
    pub old_name: *const u8,
    /// Its length.
    pub old_name_len: usize,
    /// The directory the name entered.
    pub new_parent: u64,
    /// The new name, inside the payload.
    pub new_name: *const u8,
    /// Its length.
    pub new_name_len: usize,
}

/// A mount payload (`EVQ_VFS_MOUNT`, `EVQ_VFS_UNMOUNT`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_mount {
    /// The directory holding the mount point.
    pub parent: u64,
    /// The file-system instance mounted or unmounted.
    pub fs_id: u64,
    /// The mount point's name, inside the payload.
    pub name: *const u8,
    /// Its length.
    pub name_len: usize,
}

/// A fault payload (`EVQ_PROCESS_FAULT`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_fault {
    /// `EVQ_FAULT_VM`, `EVQ_FAULT_CAP`, …
    pub kind: u32,
    /// The faulting address (VM faults), else 0.
    pub address: u64,
    /// The faulting instruction pointer.
    pub ip: u64,
}

/// Network counters (`EVQ_NETWORK_RX`, `EVQ_NETWORK_TX`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Memory usage (`EVQ_MEMORY_LOW`, `EVQ_MEMORY_EXHAUSTED`, `EVQ_MEMORY_RECOVERED`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_usage {
    /// Bytes in use.
    pub used: u64,
    /// Bytes in all.
    pub total: u64,
}

fn payload_error(e: PayloadError) -> i32 {
    match e {
        PayloadError::Truncated => EVQ_ERR_TRUNCATED,
        PayloadError::TooLong => EVQ_ERR_TOO_LONG,
        PayloadError::ReservedNonZero => EVQ_ERR_RESERVED,
    }
}

/// `len` bytes at `payload` (none if `len` is 0, whatever the pointer).
///
/// # Safety
///
/// A non-zero `len`: `payload..payload + len` is readable and unchanged
/// while the slice is used.
unsafe fn bytes<'a>(payload: *const u8, len: usize) -> Result<&'a [u8], i32> {
    if len == 0 {
        return Ok(&[]);
    }
    if payload.is_null() {
        return Err(EVQ_ERR_INVAL);
    }
    // SAFETY: forwarded from this function's contract.
    Ok(unsafe { core::slice::from_raw_parts(payload, len) })
}

/// A fixed-size payload: exactly its layout's length.
fn fixed<T: FromBytes + KnownLayout + Immutable>(p: &[u8]) -> Result<T, i32> {
    match p.len().cmp(&size_of::<T>()) {
        core::cmp::Ordering::Less => Err(EVQ_ERR_TRUNCATED),
        core::cmp::Ordering::Greater => Err(EVQ_ERR_TOO_LONG),
        core::cmp::Ordering::Equal => T::read_from_bytes(p).map_err(|_| EVQ_ERR_TRUNCATED),
    }
}

/// Decodes a dentry payload. Returns 0, or `EVQ_ERR_INVAL`,
/// `EVQ_ERR_TRUNCATED` (shorter than its fixed part or its name),
/// `EVQ_ERR_TOO_LONG` (a name over 200 bytes), `EVQ_ERR_RESERVED`.
///
/// # Safety
///
/// `payload..payload + len` is readable and unchanged while `out`'s name is
/// used; `out` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_decode_dentry(payload: *const u8, len: usize, out: *mut evq_dentry) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (parent, name) = decode_dentry(unsafe { bytes(payload, len) }?).map_err(payload_error)?;
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(out, evq_dentry { parent, name: name.as_ptr(), name_len: name.len() }) }?;
        Ok(EVQ_OK)
    })
}

/// Decodes a rename payload; as [`evq_decode_dentry`].
///
/// # Safety
///
/// As [`evq_decode_dentry`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_rename(payload: *const u8, len: usize, out: *mut evq_rename) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let r = decode_rename(unsafe { bytes(payload, len) }?).map_err(payload_error)?;
        let decoded = evq_rename {
            old_parent: r.old_parent,
            old_name: r.old_name.as_ptr(),
            old_name_len: r.old_name.len(),
            new_parent: r.new_parent,
            new_name: r.new_name.as_ptr(),
            new_name_len: r.new_name.len(),
        };
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(out, decoded) }?;
        Ok(EVQ_OK)
    })
}

/// Decodes a mount payload; as [`evq_decode_dentry`].
///
/// # Safety
///
/// As [`evq_decode_dentry`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_mount(payload: *const u8, len: usize, out: *mut evq_mount) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (parent, fs_id, name) = decode_mount(unsafe { bytes(payload, len) }?).map_err(payload_error)?;
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(out, evq_mount { parent, fs_id, name: name.as_ptr(), name_len: name.len() }) }?;
        Ok(EVQ_OK)
    })
}

/// Decodes a fixed-size payload into `out` with `convert`.
///
/// # Safety
///
/// `payload..payload + len` is readable; `out` is valid for writes.
unsafe fn decode_fixed<T: FromBytes + KnownLayout + Immutable, C>(
    payload: *const u8,
    len: usize,
    out: *mut C,
    convert: impl FnOnce(T) -> Result<C, i32>,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let value = convert(fixed::<T>(unsafe { bytes(payload, len) }?)?)?;
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(out, value) }?;
        Ok(EVQ_OK)
    })
}

/// Decodes a fault payload. Returns 0, or `EVQ_ERR_INVAL`,
/// `EVQ_ERR_TRUNCATED` or `EVQ_ERR_TOO_LONG` (not exactly its layout's 24
/// bytes), `EVQ_ERR_RESERVED`.
///
/// # Safety
///
/// `payload..payload + len` is readable; `out` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_decode_fault(payload: *const u8, len: usize, out: *mut evq_fault) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        decode_fixed(payload, len, out, |p: FaultPayload| match p.reserved.get() {
            0 => Ok(evq_fault { kind: p.kind.get(), address: p.address.get(), ip: p.ip.get() }),
            _ => Err(EVQ_ERR_RESERVED),
        })
    }
}

/// Decodes an exit payload: the exit code. As [`evq_decode_fault`] (8 bytes).
///
/// # Safety
///
/// As [`evq_decode_fault`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_exit(payload: *const u8, len: usize, code: *mut i64) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { decode_fixed(payload, len, code, |p: ExitPayload| Ok(p.code.get() as i64)) }
}

/// Decodes network counters. As [`evq_decode_fault`] (16 bytes).
///
/// # Safety
///
/// As [`evq_decode_fault`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_counters(payload: *const u8, len: usize, out: *mut evq_counters) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        decode_fixed(payload, len, out, |p: CountersPayload| {
            Ok(evq_counters { packets: p.packets.get(), bytes: p.bytes.get() })
        })
    }
}

/// Decodes a device time payload: seconds since the Unix epoch. As
/// [`evq_decode_fault`] (8 bytes).
///
/// # Safety
///
/// As [`evq_decode_fault`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_time(payload: *const u8, len: usize, unix_seconds: *mut u64) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { decode_fixed(payload, len, unix_seconds, |p: TimePayload| Ok(p.unix_seconds.get())) }
}

/// Decodes a device state payload. As [`evq_decode_fault`] (8 bytes).
///
/// # Safety
///
/// As [`evq_decode_fault`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_state(payload: *const u8, len: usize, state: *mut u32) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        decode_fixed(payload, len, state, |p: StatePayload| match p.reserved.get() {
            0 => Ok(p.state.get()),
            _ => Err(EVQ_ERR_RESERVED),
        })
    }
}

/// Decodes a memory usage payload. As [`evq_decode_fault`] (16 bytes).
///
/// # Safety
///
/// As [`evq_decode_fault`].
#[no_mangle]
pub unsafe extern "C" fn evq_decode_usage(payload: *const u8, len: usize, out: *mut evq_usage) -> i32 {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        decode_fixed(payload, len, out, |p: UsagePayload| Ok(evq_usage { used: p.used.get(), total: p.total.get() }))
    }
}
