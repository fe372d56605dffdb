//! A granted ring: attaching to its memory, reading it entry by entry, and
//! the client's half of the wake-up protocol.
//!
//! The library keeps no state of its own about a ring: [`evq_ring`] is the
//! region's address and length, and each call attaches an
//! `evq_ring::Consumer` to it again, checking the control page and the
//! indices as it does (a few loads). So a reader is never out of step with
//! the tail in shared memory, and an `evq_ring` may be copied; what it may
//! not be is read by two threads at once.

use core::ffi::c_void;
use core::ptr::NonNull;

use ::evq_client::{EventError, WaitFlag};
use ::evq_ring::{AttachError, Consumer, EntryBuf, RawEntry};
use evq_abi::ring::{MAX_ENTRY_SLOTS, SLOT_SIZE};

use crate::error::*;

/// Bytes an entry's body can hold: the slots after its header.
pub const EVQ_ENTRY_BODY_MAX: usize = 496;
const _: () = assert!(EVQ_ENTRY_BODY_MAX == (MAX_ENTRY_SLOTS as usize - 1) * SLOT_SIZE);

/// [`evq_ring_next`]: the ring is empty.
pub const EVQ_ENTRY_NONE: i32 = 0;
/// [`evq_ring_next`]: an event entry (decode it with `evq_event_decode`).
pub const EVQ_ENTRY_EVENT: i32 = 1;
/// [`evq_ring_next`]: a loss entry: `lost` events were dropped here.
pub const EVQ_ENTRY_LOSS: i32 = 2;
/// [`evq_ring_next`]: a skip entry: padding to the end of the slot array.
pub const EVQ_ENTRY_SKIP: i32 = 3;

/// A mapped ring, as [`evq_ring_init`] checked it. Treat it as opaque.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_ring {
    base: *mut u8,
    len: usize,
}

/// One entry, copied out of the ring by [`evq_ring_next`]: nothing in it
/// points into shared memory, so the server cannot change it while it is
/// read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evq_entry {
    /// `EVQ_ENTRY_EVENT`, `EVQ_ENTRY_LOSS` or `EVQ_ENTRY_SKIP`.
    pub kind: i32,
    /// The entry's length in slots, header included.
    pub slots: u32,
    /// A loss entry: how many events were dropped; otherwise 0.
    pub lost: u64,
    /// An event entry's header word (`type:24 | subtype:8 | info:32`);
    /// 0 for loss and skip entries.
    pub header: u64,
    /// Bytes of `body` filled: an event's record and payload, padded to
    /// whole slots; 0 for loss and skip entries.
    pub body_len: u32,
    /// Zero.
    pub reserved: u32,
    /// The entry's body.
    pub body: [u8; EVQ_ENTRY_BODY_MAX],
}

impl Default for evq_ring {
    /// No ring: every call on it fails with `EVQ_ERR_INVAL`.
    fn default() -> Self {
        Self { base: core::ptr::null_mut(), len: 0 }
    }
}

impl evq_ring {
    /// A reader of the ring, attached afresh.
    pub fn consumer(&self) -> Result<Consumer, i32> {
        let base = NonNull::new(self.base).ok_or(EVQ_ERR_INVAL)?;
        // SAFETY: `evq_ring_init`'s contract: the region stays mapped, readable
        // and writable while the ring is used, and is touched in this address
        // space only through this library's atomics.
        unsafe { Consumer::attach(base, self.len) }.map_err(attach_error)
    }
}

fn attach_error(e: AttachError) -> i32 {
    match e {
        AttachError::BadRegion => EVQ_ERR_BAD_REGION,
        AttachError::Control(_) => EVQ_ERR_BAD_RING,
        AttachError::Read(_) => EVQ_ERR_CORRUPT,
    }
}

/// The ring `ring` names, or [`EVQ_ERR_INVAL`].
///
/// # Safety
///
/// A non-null `ring` points to an `evq_ring` that `evq_ring_init` filled.
unsafe fn ring_arg(ring: *const evq_ring) -> Result<evq_ring, i32> {
    // SAFETY: forwarded from this function's contract.
    Ok(*unsafe { arg(ring) }?)
}

/// Checks the ring mapped at `base` (`len` bytes: the control page and the
/// data pages) and fills `ring`.
///
/// Returns 0, or `EVQ_ERR_INVAL` (a null pointer), `EVQ_ERR_BAD_REGION`
/// (misaligned, or shorter than a page), `EVQ_ERR_BAD_RING` (the control
/// page is not an evq ring of this ABI version that fits `len`),
/// `EVQ_ERR_CORRUPT` (its head and tail are already impossible).
///
/// # Safety
///
/// `base..base + len` stays mapped, readable and writable for as long as
/// `ring` is used, and nothing in this address space touches it but this
/// library. `ring` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_ring_init(ring: *mut evq_ring, base: *mut c_void, len: usize) -> i32 {
    guard(|| {
        let candidate = evq_ring { base: base.cast(), len };
        candidate.consumer()?;
        // SAFETY: `ring` is valid for writes, by this function's contract.
        unsafe { put(ring, candidate) }?;
        Ok(EVQ_OK)
    })
}

/// Copies the next entry of the ring into `entry` and hands its slots back
/// to the server.
///
/// Returns `EVQ_ENTRY_NONE` (the ring is empty; `entry` is untouched),
/// `EVQ_ENTRY_EVENT`, `EVQ_ENTRY_LOSS` or `EVQ_ENTRY_SKIP` (the entry's
/// kind, also in `entry->kind`), or `EVQ_ERR_INVAL`, `EVQ_ERR_BAD_RING` or
/// `EVQ_ERR_CORRUPT` (the head or the header at the tail is impossible;
/// the tail stays where it is, so every later call fails alike).
///
/// # Safety
///
/// `ring` was filled by `evq_ring_init`, whose memory rules hold; `entry`
/// is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_ring_next(ring: *const evq_ring, entry: *mut evq_entry) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let mut consumer = unsafe { ring_arg(ring) }?.consumer()?;
        if entry.is_null() {
            return Err(EVQ_ERR_INVAL);
        }
        let mut buf = EntryBuf::new();
        let read = consumer.read_raw(&mut buf).map_err(|_| EVQ_ERR_CORRUPT)?;
        let mut copied = evq_entry {
            kind: EVQ_ENTRY_NONE,
            slots: 0,
            lost: 0,
            header: 0,
            body_len: 0,
            reserved: 0,
            body: [0; EVQ_ENTRY_BODY_MAX],
        };
        match read {
            None => return Ok(EVQ_ENTRY_NONE),
            Some(RawEntry::Skip { slots }) => {
                copied.kind = EVQ_ENTRY_SKIP;
                copied.slots = slots;
            }
            Some(RawEntry::Loss { lost }) => {
                copied.kind = EVQ_ENTRY_LOSS;
                copied.slots = evq_abi::event::meta::LOSS_SLOTS;
                copied.lost = lost;
            }
            Some(RawEntry::Event(e)) => {
                copied.kind = EVQ_ENTRY_EVENT;
                copied.slots = e.header.len();
                copied.header = e.header.to_word();
                copied.body_len = e.body.len() as u32;
                copied.body[..e.body.len()].copy_from_slice(e.body);
            }
        }
        // The copy is made: the slots are the server's again.
        consumer.release();
        let kind = copied.kind;
        // SAFETY: checked non-null above; valid for writes by the contract.
        unsafe { put(entry, copied) }?;
        Ok(kind)
    })
}

/// The client's half of the wake-up protocol, before it sleeps on its
/// notification: sets the ring's waiting flag, then looks at the ring once
/// more.
///
/// Returns 1 (the ring is still empty: sleep; the server will signal),
/// 0 (an entry arrived meanwhile; the flag is cleared again: read first),
/// or `EVQ_ERR_INVAL`, `EVQ_ERR_BAD_RING`, `EVQ_ERR_CORRUPT`.
///
/// # Safety
///
/// As [`evq_ring_next`].
#[no_mangle]
pub unsafe extern "C" fn evq_ring_prepare_wait(ring: *const evq_ring) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let mut consumer = unsafe { ring_arg(ring) }?.consumer()?;
        Ok(consumer.prepare_wait().map_err(|_| EVQ_ERR_CORRUPT)? as i32)
    })
}

/// Clears the ring's waiting flag: after waking, or instead of sleeping.
/// Returns 0, or `EVQ_ERR_INVAL`, `EVQ_ERR_BAD_RING`, `EVQ_ERR_CORRUPT`.
///
/// # Safety
///
/// As [`evq_ring_next`].
#[no_mangle]
pub unsafe extern "C" fn evq_ring_cancel_wait(ring: *const evq_ring) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { ring_arg(ring) }?.consumer()?.cancel_wait();
        Ok(EVQ_OK)
    })
}

/// Stores in `lost` how many events the server has dropped on this ring
/// since it was made (the control page's count). Returns 0, or
/// `EVQ_ERR_INVAL`, `EVQ_ERR_BAD_RING`, `EVQ_ERR_CORRUPT`.
///
/// # Safety
///
/// As [`evq_ring_next`]; `lost` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_ring_lost_total(ring: *const evq_ring, lost: *mut u64) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let total = unsafe { ring_arg(ring) }?.consumer()?.lost_total();
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(lost, total) }?;
        Ok(EVQ_OK)
    })
}

/// Returns how many slots of the ring are unread (0 when it is empty), or
/// `EVQ_ERR_INVAL`, `EVQ_ERR_BAD_RING`, `EVQ_ERR_CORRUPT`. A ring holds at
/// most 32768 slots, so the count always fits.
///
/// # Safety
///
/// As [`evq_ring_next`].
#[no_mangle]
pub unsafe extern "C" fn evq_ring_unread_slots(ring: *const evq_ring) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let unread = unsafe { ring_arg(ring) }?.consumer()?.unread_slots().map_err(|_| EVQ_ERR_CORRUPT)?;
        Ok(unread as i32)
    })
}

/// The waiting flag of a ring read through this library, for a platform's
/// wait (`evq_client::Session::wait_for`).
#[derive(Debug)]
pub struct RingWaitFlag(Consumer);

impl RingWaitFlag {
    /// The flag of `ring`.
    pub fn new(ring: &evq_ring) -> Result<Self, i32> {
        ring.consumer().map(Self)
    }
}

impl WaitFlag for RingWaitFlag {
    fn prepare_wait(&mut self) -> Result<bool, EventError> {
        Ok(self.0.prepare_wait()?)
    }
    fn cancel_wait(&mut self) {
        self.0.cancel_wait()
    }
}
