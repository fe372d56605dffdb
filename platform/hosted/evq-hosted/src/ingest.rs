//! Ingest rings on the hosted platform: every source's events through
//! shared memory (`docs/protocol.md` §8), with no call per event.
//!
//! The launcher makes each source's ring ([`make_ring`]): a sealed memfd of
//! the ring's whole region, whose control page it lays out
//! (`evq_ring::Producer::lay_out`) through a mapping of its own that it
//! then drops. It hands the memfd to the source (at a fixed descriptor,
//! [`crate::boot`], or with a console attach reply) and to the server (over
//! the supervisor channel, [`crate::admin::OP_INGEST`]). Two eventfds join
//! each source slot and the server (made at start, and afresh at each
//! attach of a console slot): the **doorbell**
//! (the source signals, the server waits) and the **room** notification
//! (the server signals, the source waits), each used only by the
//! handshakes of `docs/protocol.md` §2.9, which the cores carry out.
//!
//! A source publishes through [`Publisher`]: `evq_source`'s publisher over a
//! [`SourceLink`], which writes events into the ring (`evq_source::RingLink`)
//! and keeps the source's endpoint for what needs a call: `ClientGone` (the
//! launcher's), raw requests (tests), and the call-based `PUBLISH` for an
//! event whose publisher needs the server's answer
//! ([`SourceLink::publish_by_call`]).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use evq_abi::msg::{Event, Reply, Request};
use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_ring::Producer;
use evq_source::{Doorbell, PublishError, RingLink, RingLinkError, WhenFull};

use crate::sys::{self, Mapping};
use crate::wire::{CallError, Endpoint, RawReply, TICK};

/// A source's publisher: [`evq_source::Publisher`] over its ingest ring and
/// endpoint.
pub type Publisher = evq_source::Publisher<SourceLink>;

/// The longest a source waits for the server's room signal in one go
/// ([`Doorbell::wait_for_room`]) before it looks at its ring again: the
/// room handshake never loses a signal, so this only bounds what one lost
/// by a bug would cost.
pub const ROOM_WAIT: Duration = Duration::from_millis(100);

/// The largest ingest ring a source maps.
const MAX_REGION: usize = match RingGeometry::new(evq_system::MAX_INGEST_PAGES) {
    Ok(g) => g.region_bytes(),
    Err(_) => PAGE_SIZE,
};

/// Makes an ingest ring of `pages` data pages: a sealed memfd, its control
/// page laid out, its data pages untouched (zero).
pub fn make_ring(pages: u32) -> io::Result<OwnedFd> {
    let geometry = RingGeometry::new(pages).map_err(|e| io::Error::other(format!("ingest ring: {e}")))?;
    let fd = sys::sealed_memfd("evq-ingest", geometry.region_bytes())?;
    let control = Mapping::shared(fd.as_fd(), PAGE_SIZE)?;
    // SAFETY: `control` is a fresh, page-aligned mapping of the memfd's
    // first page, which nobody else holds yet; it is dropped (unmapped)
    // right after, before the memfd is handed to anyone.
    unsafe { Producer::lay_out(control.base(), geometry) }
        .map_err(|e| io::Error::other(format!("ingest ring: {e}")))?;
    drop(control);
    Ok(fd)
}

/// Maps an ingest ring's memfd of `len` bytes, after checking that it is
/// sealed against shrinking and that long: what the server and the source
/// each do with the memfd they were given.
pub(crate) fn map_ring(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
    sys::check_sealed(fd, len)?;
    Mapping::shared(fd, len)
}

/// A source's two notifications with the server, as
/// [`evq_source::Doorbell`]: the doorbell it signals, and the room eventfd
/// it waits on for at most [`ROOM_WAIT`] at a time.
#[derive(Debug)]
pub struct RingDoorbell {
    doorbell: OwnedFd,
    room: OwnedFd,
}

impl Doorbell for RingDoorbell {
    fn ring(&mut self) {
        // An eventfd write fails only when its counter is at its maximum:
        // then it is signalled already, and the server wakes all the same.
        let _ = sys::signal(self.doorbell.as_fd());
    }

    fn wait_for_room(&mut self) {
        // A failed or timed-out wait is a spurious return: the producer
        // looks at the ring again.
        if let Ok(ready) = sys::poll(&[self.room.as_fd()], Some(ROOM_WAIT)) {
            if ready.first() == Some(&true) {
                let _ = sys::drain(self.room.as_fd());
            }
        }
    }
}

/// Why a source's link failed.
#[derive(Debug)]
pub enum SourceError {
    /// The ingest ring refused the request.
    Ring(RingLinkError),
    /// A call on the endpoint failed.
    Call(CallError),
    /// The server is gone: it hung up the source's endpoint while the
    /// source waited for room.
    ServerGone,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Ring(e) => write!(f, "ingest ring: {e}"),
            SourceError::Call(e) => write!(f, "{e}"),
            SourceError::ServerGone => f.write_str("the server is gone (it hung up the endpoint)"),
        }
    }
}

impl std::error::Error for SourceError {}

/// A source's capabilities as one [`evq_source::Link`]: `Publish` and
/// `PublishBatch` go into its ingest ring (back-pressure or counted drops,
/// as `when_full` says), every other request (`ClientGone`) is a call on
/// its endpoint.
#[derive(Debug)]
pub struct SourceLink {
    ring: RingLink<RingDoorbell>,
    endpoint: Endpoint,
    server_gone: bool,
    // Declared after `ring`, so the producer is dropped before its memory
    // is unmapped.
    map: Mapping,
}

impl SourceLink {
    /// A link over a source's endpoint, its ingest ring's memfd (mapped
    /// here whole, after checking its seals; the descriptor is not kept),
    /// its doorbell and its room eventfd.
    pub fn new(
        endpoint: Endpoint,
        ring: OwnedFd,
        doorbell: OwnedFd,
        room: OwnedFd,
        when_full: WhenFull,
    ) -> io::Result<Self> {
        let len = sys::file_len(ring.as_fd())?;
        if !(2 * PAGE_SIZE..=MAX_REGION).contains(&len) {
            return Err(io::Error::other(format!("the ingest ring's memfd is {len} bytes: not a ring")));
        }
        let map = map_ring(ring.as_fd(), len)?;
        // SAFETY: `map` is a shared read-write mapping of exactly `len`
        // bytes of a memfd sealed against shrinking (so it never faults),
        // page-aligned, and it lives in `self` after the producer (dropped
        // first). Nothing in this process touches it but the producer; the
        // server, in its own address space, touches it only through the
        // ring's atomics.
        let producer = unsafe { Producer::attach(map.base(), map.len()) }
            .map_err(|e| io::Error::other(format!("the ingest ring does not attach: {e}")))?;
        let doorbell = RingDoorbell { doorbell, room };
        Ok(Self { ring: RingLink::new(producer, doorbell, when_full), endpoint, server_gone: false, map })
    }

    /// The endpoint, for raw calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one datagram on the endpoint exactly as given and waits for
    /// the reply ([`Endpoint::call_datagram`]).
    pub fn call_datagram(&self, datagram: &[u8]) -> Result<RawReply, CallError> {
        self.endpoint.call_datagram(datagram)
    }

    /// [`Endpoint::call_with_fds`] on the endpoint.
    pub fn call_with_fds(&self, datagram: &[u8], fds: &[BorrowedFd<'_>]) -> Result<RawReply, CallError> {
        self.endpoint.call_with_fds(datagram, fds)
    }

    /// Events dropped because the ring was full (a link made with
    /// [`WhenFull::Drop`]).
    pub fn dropped(&self) -> u64 {
        self.ring.dropped()
    }

    /// Times the source signalled the server's doorbell: once per event
    /// written while the server had said it sleeps, never otherwise.
    pub fn signals(&self) -> u64 {
        self.ring.signals()
    }

    /// Signals the server's doorbell whether or not it sleeps (a source
    /// that wrote its ring by other means: the tests' hostile sources).
    pub fn signal_server(&mut self) {
        self.ring.doorbell().ring();
    }

    /// The ring's mapping: its base and length (for tests that play a
    /// hostile source).
    pub fn region(&self) -> (NonNull<u8>, usize) {
        (self.map.base(), self.map.len())
    }

    /// Publishes `events` by call on the endpoint (the call-based `PUBLISH`,
    /// `docs/protocol.md` §8.4), for a publisher that needs the server's
    /// answer: when this returns `Ok`, the server has taken every event
    /// (written it to the rings of the queues that subscribe to it, or
    /// staged it for a coalescing window); otherwise it says why not.
    /// Back-pressure (`Busy`) is waited out a tick at a time for at most
    /// `patience`. Not ordered against the ring's events but as the hosted
    /// server orders them: it takes the events in a source's ring before
    /// the calls it handles in the same wake-up (`docs/hosted.md`).
    pub fn publish_by_call(&self, events: &[Event<'_>], patience: Duration) -> Result<(), PublishError<CallError>> {
        let link = Patient { endpoint: &self.endpoint, until: Instant::now() + patience, expired: false };
        evq_source::Publisher::new(link).publish(events)
    }
}

impl evq_source::Link for SourceLink {
    type Error = SourceError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, SourceError> {
        match request {
            Request::Publish(_) | Request::PublishBatch(_) if self.server_gone => Err(SourceError::ServerGone),
            Request::Publish(_) | Request::PublishBatch(_) => self.ring.call(request).map_err(SourceError::Ring),
            // A source is granted nothing: descriptors with a reply are closed.
            other => self.endpoint.request(other).map(|(reply, _)| reply).map_err(SourceError::Call),
        }
    }

    /// Waits for room in the ring (the room handshake, at most
    /// [`ROOM_WAIT`]), then checks that the server is still there: one
    /// that has hung up the endpoint makes the next publish fail.
    fn back_off(&mut self) {
        self.ring.back_off();
        if sys::peer_gone(self.endpoint.fd()).unwrap_or(true) {
            self.server_gone = true;
        }
    }
}

/// The endpoint as a link that waits out `Busy` a tick at a time until a
/// deadline, then fails.
struct Patient<'e> {
    endpoint: &'e Endpoint,
    until: Instant,
    expired: bool,
}

impl evq_source::Link for Patient<'_> {
    type Error = CallError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, CallError> {
        if self.expired {
            return Err(CallError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server held the events back for longer than the publisher waits",
            )));
        }
        self.endpoint.request(request).map(|(reply, _)| reply)
    }

    fn back_off(&mut self) {
        if Instant::now() >= self.until {
            self.expired = true;
        } else {
            std::thread::sleep(TICK);
        }
    }
}
