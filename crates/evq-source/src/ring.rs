//! Publishing through an ingest ring: a [`Link`] that writes each event
//! into the source's ring in shared memory and signals the server only when
//! it has said it is going to sleep.

use evq_abi::event::Priority;
use evq_abi::msg::{ErrorCode, Event, Reply, Request};
use evq_abi::ring::{info, make_info, EntryHeader, SLOT_SIZE};
use evq_ring::{EntryKind, Producer, PushError};

use crate::Link;

/// What a platform provides for a source's ingest ring: its two
/// notifications.
pub trait Doorbell {
    /// Signals the server: it set the ring's waiting flag and sleeps.
    fn ring(&mut self);
    /// Blocks until the server signals room in the ring (it frees slots and
    /// finds the room-wanted flag set). A spurious return is harmless: the
    /// producer looks at the ring again.
    fn wait_for_room(&mut self);
}

/// What the link does when the ring has no room for an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Back-pressure: report `Busy` with the events taken so far; the
    /// publisher backs off (sleeps until the server signals room) and sends
    /// the rest again. A driver's path.
    Wait,
    /// Never block: drop the event and count it; the ring carries the
    /// count to the server, which turns it into loss every client that
    /// could have received the event sees. The supervisor's path: it must
    /// go on watching the domains whatever the server does.
    Drop,
}

/// Why an ingest ring cannot take a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingLinkError {
    /// Only events go through the ring; this request needs a call.
    NotAnEvent,
    /// The server's tail is impossible: the ring is unusable.
    CorruptTail,
}

impl core::fmt::Display for RingLinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingLinkError::NotAnEvent => f.write_str("only events go through an ingest ring"),
            RingLinkError::CorruptTail => f.write_str("the server's tail in the ingest ring is impossible"),
        }
    }
}

/// A source's ingest ring as a [`Link`]: a `Publish` or `PublishBatch`
/// writes its events into the ring, each an entry whose header names its
/// category and kind and whose body is the `Publish` body
/// (`docs/protocol.md` §8), then signals the server if it waits.
#[derive(Debug)]
pub struct RingLink<D> {
    producer: Producer,
    doorbell: D,
    when_full: WhenFull,
    /// The entry that did not fit, for `back_off`: its slots and priority.
    blocked: Option<(u32, bool)>,
    signals: u64,
}

impl<D: Doorbell> RingLink<D> {
    /// A link over `producer` (the source's end of its ingest ring).
    pub fn new(producer: Producer, doorbell: D, when_full: WhenFull) -> Self {
        Self { producer, doorbell, when_full, blocked: None, signals: 0 }
    }

    /// Events dropped because the ring was full ([`WhenFull::Drop`]).
    pub fn dropped(&self) -> u64 {
        self.producer.lost_total()
    }

    /// Times the server was signalled.
    pub fn signals(&self) -> u64 {
        self.signals
    }

    /// The platform's side.
    pub fn doorbell(&mut self) -> &mut D {
        &mut self.doorbell
    }

    /// Writes one event; `Ok(false)` if it did not fit and waits.
    #[inline]
    fn put(&mut self, e: &Event<'_>) -> Result<bool, RingLinkError> {
        let critical = e.priority == Priority::Critical;
        let kind = EntryKind { ty: e.category as u32, subtype: e.kind, info: make_info(0, 0, 0, 0) };
        let len = e.payload.len() as u16;
        let desc = u64::from_le_bytes([
            e.category as u8,
            e.kind,
            e.type_flags,
            e.priority as u8,
            len as u8,
            (len >> 8) as u8,
            0,
            0,
        ]);
        let words = [desc, e.object_id];
        let pushed = match self.when_full {
            WhenFull::Wait => self.producer.try_push_record(kind, &words, e.payload, critical),
            WhenFull::Drop => self.producer.push_record(kind, &words, e.payload, critical),
        };
        match pushed {
            Ok(()) => Ok(true),
            Err(PushError::Full) if self.when_full == WhenFull::Wait => {
                let slots = 1 + words.len() as u32 + e.payload.len().div_ceil(SLOT_SIZE) as u32;
                self.blocked = Some((slots, critical));
                Ok(false)
            }
            // Dropped and counted: the ring reports it.
            Err(PushError::Full) => Ok(true),
            Err(PushError::CorruptTail { .. }) => Err(RingLinkError::CorruptTail),
            // The publisher checked the event; these cannot happen. Were
            // one to, the event is not the ring's to carry.
            Err(PushError::TooLarge) | Err(PushError::InvalidKind) => Err(RingLinkError::NotAnEvent),
        }
    }

    fn signal_if_waiting(&mut self) {
        if self.producer.take_waiter() {
            self.signals += 1;
            self.doorbell.ring();
        }
    }
}

impl<D: Doorbell> Link for RingLink<D> {
    type Error = RingLinkError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, RingLinkError> {
        let mut accepted = 0u32;
        let mut full = false;
        match request {
            Request::Publish(e) => {
                full = !self.put(e)?;
                accepted += u32::from(!full);
            }
            Request::PublishBatch(batch) => {
                for e in batch.iter() {
                    if !self.put(&e)? {
                        full = true;
                        break;
                    }
                    accepted += 1;
                }
            }
            _ => return Err(RingLinkError::NotAnEvent),
        }
        // Whatever went in, the server hears of it if it sleeps.
        self.signal_if_waiting();
        if full {
            return Ok(Reply::Error { code: ErrorCode::Busy, detail: accepted });
        }
        Ok(Reply::Published { accepted })
    }

    /// Sleeps until the server has made room for the entry that did not
    /// fit, by the room handshake (`docs/protocol.md` §2.9).
    fn back_off(&mut self) {
        let Some((slots, critical)) = self.blocked.take() else { return };
        // The server must be awake to free slots.
        self.signal_if_waiting();
        if let Ok(true) = self.producer.prepare_room_wait(slots, critical) {
            self.doorbell.wait_for_room();
        }
        self.producer.cancel_room_wait();
    }
}

// An entry's header holds its length; the link's entries are at most
// 1 + 2 + ceil(464 / 8) = 61 slots, below the 63 a header can say.
const _: () =
    assert!(1 + 2 + evq_abi::event::MAX_PAYLOAD.div_ceil(SLOT_SIZE) < evq_abi::ring::MAX_ENTRY_SLOTS as usize);
const _: () = assert!(info::LENGTH_MASK >= 63 && EntryHeader::TYPE_MAX > 6);
