//! A source's ingest ring: its events through shared memory, with no call
//! per event. The source is the ring's producer and the server its
//! consumer, so the server reads an untrusted producer with every check a
//! client's reader makes of the server (`evq_ring::Consumer`), and then
//! checks each entry's body as it checks a `Publish` message.
//!
//! An entry is a ring entry (`docs/protocol.md` §2.4) whose header's type
//! and subtype are the event's category and kind, and whose body is a
//! `Publish` body: the event descriptor and its padded payload (§4.2,
//! §8). Which ring an entry came from says which source published it:
//! nothing in the entry can claim another.

use evq_abi::msg::{DecodeError, Event};
use evq_ring::{Consumer, EntryBuf, EntryRef, Mark, ReadError};

/// Why a source's ingest ring was cut off: the server reads it no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestFault {
    /// The ring itself is inconsistent: an impossible head, a malformed
    /// header or length.
    Ring(ReadError),
    /// An entry's body is not an event, or its header does not name the
    /// event's category and kind.
    Entry(DecodeError),
}

impl core::fmt::Display for IngestFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IngestFault::Ring(e) => e.fmt(f),
            IngestFault::Entry(e) => write!(f, "an entry is not an event: {e}"),
        }
    }
}

/// One source's ring, as the server holds it.
pub(crate) struct Ingest {
    consumer: Consumer,
    /// Why its next event waits in the ring, if it does.
    pub held: Held,
}

/// Why a ring's next event was left in it at the last pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// It was not.
    No,
    /// A lossless queue has no room for it: the client's next request.
    ForClient,
    /// The source's budget ran out: the next tick.
    ForTick,
}

/// An entry, checked.
pub(crate) struct Entry<'b> {
    pub event: Event<'b>,
    /// Events the source dropped (its ring was full) just before this one.
    pub lost_before: u64,
}

impl Ingest {
    pub fn new(consumer: Consumer) -> Self {
        Self { consumer, held: Held::No }
    }

    /// Where the reader stands, to come back to if an entry cannot be taken.
    pub fn mark(&self) -> Mark {
        self.consumer.mark()
    }

    /// Goes back to `mark`: the entries read since stay in the ring.
    pub fn rewind(&mut self, mark: Mark) {
        self.consumer.rewind(mark);
    }

    /// The next entry, copied into `buf` and checked, or `None` when the
    /// ring is empty. Its slots are not yet handed back ([`Ingest::release`]).
    #[inline]
    pub fn next<'b>(&mut self, buf: &'b mut EntryBuf) -> Result<Option<Entry<'b>>, IngestFault> {
        let Some(EntryRef { header, body, lost_before }) = self.consumer.read(buf).map_err(IngestFault::Ring)? else {
            return Ok(None);
        };
        let event = evq_abi::msg::decode_event(body).map_err(IngestFault::Entry)?;
        if header.ty() != event.category as u32 || header.subtype() != event.kind {
            return Err(IngestFault::Entry(DecodeError::BadKind { category: event.category as u8, kind: event.kind }));
        }
        Ok(Some(Entry { event, lost_before }))
    }

    /// Hands the slots read back to the source; returns whether it waits
    /// for room, in which case the shell signals it.
    pub fn release(&mut self) -> bool {
        self.consumer.release();
        self.consumer.take_room_waiter()
    }

    /// Before the server sleeps: sets the ring's waiting flag; `false` if
    /// entries are already there (read them first).
    pub fn prepare_wait(&mut self) -> Result<bool, IngestFault> {
        self.consumer.prepare_wait().map_err(IngestFault::Ring)
    }

    /// Clears the waiting flag.
    pub fn cancel_wait(&mut self) {
        self.consumer.cancel_wait();
    }
}
