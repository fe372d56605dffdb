//! The client side of evq: events out of a granted ring, with no system call
//! per event.
//!
//! [`EventQueue`] wraps an [`evq_ring::Consumer`] and decodes each entry into
//! a [`ReceivedEvent`]: the header's category, kind and flags, the record's
//! sequence number, timestamp, object and source, and the payload. How the
//! ring got mapped (seL4 frame capabilities, a hosted memfd) is the
//! platform's business; this crate starts from the mapped region.
//!
//! # A client's life
//!
//! A [`Session`] drives it over a platform's [`Transport`], which does the
//! three things only a platform can: a call to the server, the mapping of a
//! granted ring, and a sleep on the client's notification.
//!
//! 1. **Map a ring.** [`Session::create_queue`] sends `CreateQueue`, has the
//!    transport map the frames that come with the reply
//!    ([`Transport::map_ring`]: on seL4 it fetches the frames one reply
//!    could not carry), and attaches an [`EventQueue`], which checks the
//!    control page (magic, ABI version, size) against the mapping.
//! 2. **Subscribe.** [`Session::subscribe`] with an
//!    [`evq_abi::msg::Filter`]: a category, the kinds it accepts
//!    ([`evq_abi::msg::Filter::all_of`] takes every kind), optionally one
//!    object or one source, and a priority. The id it returns tags the
//!    events it accepts ([`ReceivedEvent::watch_id`]).
//! 3. **Read.** [`EventQueue::next_event`] copies the next entry out of
//!    shared memory, hands its slots back to the server, and decodes it;
//!    loss entries become the next event's [`ReceivedEvent::lost_before`],
//!    skip entries are passed over. `None` means the ring is empty.
//! 4. **Wait.** [`Session::wait`] (or [`Session::wait_for`], with a
//!    timeout) runs the wake-up protocol of `docs/protocol.md` §2.9: `Wait`
//!    to the server, the ring's waiting flag ([`WaitFlag`]) and one more
//!    look at the ring, then [`Transport::block`]. It returns when there may
//!    be something to read: read until `None`, then wait again.
//!
//! ```
//! use evq_abi::event::Category;
//! use evq_abi::msg::Filter;
//! use evq_client::{Session, SessionError, Transport};
//!
//! /// Prints every file-system event, forever, over any platform.
//! fn watch<T: Transport>(transport: T) -> Result<(), SessionError<T::Error>> {
//!     let mut session = Session::new(transport);
//!     let (queue, mut events) = session.create_queue(4)?;
//!     session.subscribe(queue, Filter::all_of(Category::Vfs))?;
//!     loop {
//!         while let Some(event) = events.next_event().map_err(SessionError::Ring)? {
//!             let _line = event.to_string(); // `#0 vfs create object=2 …`
//!         }
//!         session.wait(queue, &mut events, 1)?;
//!     }
//! }
//! ```
//!
//! One example per platform shows a whole client: on the hosted platform
//! `platform/hosted/evq-hosted/examples/watch_vfs.rs` (attach through the
//! console, subscribe to VFS events, print five), run by that crate's
//! `tests/clients.rs`. C programs have the same through `crates/evq-c`
//! (`docs/c-api.md`).
//!
//! With the `paths` feature (and an allocator), [`paths::PathMap`] gives VFS
//! events full paths.
//!
//! # Limits
//!
//! * One reader per queue; a [`Session`] is one thread's.
//! * Entries are copied out of shared memory (at most 496 bytes each)
//!   before they are decoded, so a misbehaving server cannot change an event
//!   while it is being read; a corrupt ring is an [`EventError::Ring`] on
//!   every read after it, never a panic or a read outside the mapping.
//! * The timeout of [`Session::wait_for`] is the client's own: the server is
//!   not asked to signal at it, and a platform that cannot wait with a bound
//!   keeps the default [`Transport::block_for`], which does not time out.
//! * The reader does not signal a lossless queue's room-wanted flag; the
//!   server serves such a ring a tick later (`docs/protocol.md` §2.2).
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "paths")]
extern crate alloc;

#[cfg(feature = "paths")]
pub mod paths;
mod session;
mod words;
pub use session::{Batch, Session, SessionError, Transport, WaitFlag, Woken};

use core::ptr::NonNull;

use evq_abi::event::{Category, EventRecord};
use evq_abi::ring::info;
use evq_ring::{AttachError, Consumer, EntryBuf, EntryRef, ReadError};
use zerocopy::FromBytes;

/// One event, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedEvent<'a> {
    /// Its category.
    pub category: Category,
    /// Its kind within the category.
    pub kind: u8,
    /// Type-specific info flags.
    pub type_flags: u8,
    /// The subscription that matched it.
    pub watch_id: u8,
    /// Whether it was delivered at critical priority.
    pub critical: bool,
    /// How many older events it replaced (0 unless coalesced).
    pub coalesced: u16,
    /// Events lost just before it.
    pub lost_before: u64,
    /// Per-queue sequence number.
    pub seq: u64,
    /// Server timestamp, ns.
    pub timestamp_ns: u64,
    /// The object it is about.
    pub object_id: u64,
    /// The source that published it.
    pub source_id: u32,
    /// Its payload.
    pub payload: &'a [u8],
}

/// Why an entry is not a well-formed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventError {
    /// The ring itself is inconsistent.
    Ring(ReadError),
    /// The header's type is not a known category.
    UnknownCategory(u32),
    /// The body is shorter than a record, or than the payload it declares.
    Truncated,
}

impl From<ReadError> for EventError {
    fn from(e: ReadError) -> Self {
        EventError::Ring(e)
    }
}

/// Decodes an entry read from a ring.
pub fn decode_event<'a>(entry: &EntryRef<'a>) -> Result<ReceivedEvent<'a>, EventError> {
    let ty = entry.header.ty();
    let category = u8::try_from(ty).ok().and_then(Category::from_u8).ok_or(EventError::UnknownCategory(ty))?;
    let (record, rest) = EventRecord::read_from_prefix(entry.body).map_err(|_| EventError::Truncated)?;
    let payload = rest.get(..usize::from(record.payload_len.get())).ok_or(EventError::Truncated)?;
    Ok(ReceivedEvent {
        category,
        kind: entry.header.subtype(),
        type_flags: entry.header.type_flags(),
        watch_id: entry.header.watch_id(),
        critical: entry.header.info() & info::CRITICAL != 0,
        coalesced: record.coalesced.get(),
        lost_before: entry.lost_before,
        seq: record.seq.get(),
        timestamp_ns: record.timestamp_ns.get(),
        object_id: record.object_id.get(),
        source_id: record.source_id.get(),
        payload,
    })
}

/// A client's view of one queue's ring.
#[derive(Debug)]
pub struct EventQueue {
    consumer: Consumer,
    buf: EntryBuf,
}

impl EventQueue {
    /// Attaches to a ring mapped at `base..base + len`.
    ///
    /// # Safety
    ///
    /// As [`Consumer::attach`]: the region stays mapped, readable and
    /// writable while the queue exists, and nothing in this address space
    /// touches it except through atomics.
    pub unsafe fn attach(base: NonNull<u8>, len: usize) -> Result<Self, AttachError> {
        // SAFETY: forwarded from this function's contract.
        let consumer = unsafe { Consumer::attach(base, len)? };
        Ok(Self { consumer, buf: EntryBuf::new() })
    }

    /// The next event, or `None` if the ring is empty. Its slots are released
    /// to the server before it is returned (it lives in this queue's buffer).
    pub fn next_event(&mut self) -> Result<Option<ReceivedEvent<'_>>, EventError> {
        match self.consumer.pop(&mut self.buf)? {
            None => Ok(None),
            Some(entry) => decode_event(&entry).map(Some),
        }
    }

    /// Before sleeping on the queue's notification: sets the waiting flag and
    /// returns `true` if the ring is still empty. `false` means read first.
    pub fn prepare_wait(&mut self) -> Result<bool, EventError> {
        Ok(self.consumer.prepare_wait()?)
    }

    /// Clears the waiting flag.
    pub fn cancel_wait(&mut self) {
        self.consumer.cancel_wait();
    }

    /// Events the server has dropped on this ring since it was created.
    pub fn lost_total(&self) -> u64 {
        self.consumer.lost_total()
    }

    /// The underlying ring consumer.
    pub fn consumer(&mut self) -> &mut Consumer {
        &mut self.consumer
    }
}

mod display;
pub use display::{attr_names, kind_name, WithPaths};
