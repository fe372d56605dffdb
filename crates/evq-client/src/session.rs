//! A client's conversation with the server, the same on every platform: a
//! [`Transport`] carries requests and maps granted rings, and [`Session`]
//! turns that into queues to read and a `wait` that sleeps only when it
//! must.

use core::fmt;
use core::ptr::NonNull;
use core::time::Duration;

use evq_abi::msg::{ErrorCode, Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::ring::RingGeometry;

use crate::{EventError, EventQueue};

/// What a platform provides for a client.
pub trait Transport {
    /// Why a call or a mapping failed (the platform's error).
    type Error;

    /// Sends `request` to the server and returns its reply. Memory granted
    /// with a `CreateQueue` reply is kept for [`Transport::map_ring`].
    fn call(&mut self, request: &Request<'_>) -> Result<Reply, Self::Error>;

    /// Maps the ring of a queue just created (`frames` frames, control page
    /// first) and returns where. On seL4 this fetches the frames the
    /// `CreateQueue` reply could not carry (`RingFrames`); on the hosted
    /// platform it maps the descriptor that came with the reply.
    fn map_ring(&mut self, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), Self::Error>;

    /// Blocks until the server signals this client's notification.
    fn block(&mut self);

    /// Blocks until the server signals this client's notification or
    /// `timeout` passes; returns whether the signal came. A platform whose
    /// notification cannot be waited on with a bound keeps the default,
    /// which is [`Transport::block`] and reports the signal.
    fn block_for(&mut self, timeout: Duration) -> Result<bool, Self::Error> {
        let _ = timeout;
        self.block();
        Ok(true)
    }
}

/// A ring's waiting flag, as the wake-up protocol sets and clears it
/// (`docs/protocol.md` §2.9): [`EventQueue`], or any other reader of a
/// ring (the C library's).
pub trait WaitFlag {
    /// Sets the flag and checks the ring once more: `Ok(true)` if it is
    /// still empty, so the caller may sleep; `Ok(false)` (the flag cleared
    /// again) if something arrived meanwhile.
    fn prepare_wait(&mut self) -> Result<bool, EventError>;
    /// Clears the flag.
    fn cancel_wait(&mut self);
}

impl WaitFlag for EventQueue {
    fn prepare_wait(&mut self) -> Result<bool, EventError> {
        EventQueue::prepare_wait(self)
    }
    fn cancel_wait(&mut self) {
        EventQueue::cancel_wait(self)
    }
}

/// What [`Session::wait_for`] ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    /// The ring has events to read, or the server signalled.
    Ready,
    /// The timeout passed without a signal.
    TimedOut,
}

/// Why a session request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError<E> {
    /// The transport failed.
    Transport(E),
    /// The server refused, with this code and detail.
    Refused(ErrorCode, u32),
    /// The server's reply does not answer the request.
    UnexpectedReply,
    /// The granted ring does not attach.
    Attach(evq_ring::AttachError),
    /// Reading the ring failed.
    Ring(EventError),
}

impl<E: fmt::Display> fmt::Display for SessionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Transport(e) => write!(f, "{e}"),
            SessionError::Refused(code, detail) => write!(f, "the server refused: {code} (detail {detail})"),
            SessionError::UnexpectedReply => f.write_str("the server's reply does not answer the request"),
            SessionError::Attach(e) => write!(f, "the granted ring does not attach: {e}"),
            SessionError::Ring(e) => write!(f, "{e}"),
        }
    }
}

/// When the server wakes a waiting client: the `Wait` request's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Events to wait for (at least 1).
    pub min_events: u32,
    /// How long after the `Wait` the server signals anyway, with fewer
    /// events ready, ns; 0: only once `min_events` are.
    pub max_latency_ns: u64,
}

/// A client of the event server over `T`.
#[derive(Debug)]
pub struct Session<T> {
    transport: T,
}

impl<T: Transport> Session<T> {
    /// A session over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends any request and returns the reply, with error replies turned
    /// into [`SessionError::Refused`].
    pub fn request(&mut self, request: &Request<'_>) -> Result<Reply, SessionError<T::Error>> {
        match self.transport.call(request).map_err(SessionError::Transport)? {
            Reply::Error { code, detail } => Err(SessionError::Refused(code, detail)),
            reply => Ok(reply),
        }
    }

    /// Creates a queue with a ring of `data_pages`, maps it, and attaches to it.
    pub fn create_queue(&mut self, data_pages: u32) -> Result<(u32, EventQueue), SessionError<T::Error>> {
        let geometry =
            RingGeometry::new(data_pages).map_err(|_| SessionError::Refused(ErrorCode::InvalidArgument, 0))?;
        let Reply::QueueCreated { queue, frames, .. } = self.request(&Request::CreateQueue { geometry })? else {
            return Err(SessionError::UnexpectedReply);
        };
        let (base, len) = self.transport.map_ring(queue, frames).map_err(SessionError::Transport)?;
        // SAFETY: the transport's contract: the ring stays mapped while the
        // queue lives, and only this queue's reader touches it.
        let events = unsafe { EventQueue::attach(base, len) }.map_err(SessionError::Attach)?;
        Ok((queue, events))
    }

    /// Subscribes `queue`; returns the subscription id that tags its events.
    pub fn subscribe(&mut self, queue: u32, filter: Filter) -> Result<u8, SessionError<T::Error>> {
        match self.request(&Request::Subscribe { queue, filter })? {
            Reply::Subscribed { subscription } => Ok(subscription),
            _ => Err(SessionError::UnexpectedReply),
        }
    }

    /// Removes subscription `subscription` of `queue`.
    pub fn unsubscribe(&mut self, queue: u32, subscription: u8) -> Result<(), SessionError<T::Error>> {
        match self.request(&Request::Unsubscribe { queue, subscription })? {
            Reply::Done => Ok(()),
            _ => Err(SessionError::UnexpectedReply),
        }
    }

    /// Sets `queue`'s coalescing window (0: off): events that may be merged
    /// are held that long for a newer one to replace them.
    pub fn set_coalescing(&mut self, queue: u32, window_ns: u64) -> Result<(), SessionError<T::Error>> {
        match self.request(&Request::SetCoalescing { queue, window_ns })? {
            Reply::Done => Ok(()),
            _ => Err(SessionError::UnexpectedReply),
        }
    }

    /// Returns once `events` has something to read: at once if the server
    /// sees unread slots, otherwise after it signals that at least
    /// `min_events` are ready. [`Session::wait_for`] without a timeout.
    pub fn wait(
        &mut self,
        queue: u32,
        events: &mut impl WaitFlag,
        min_events: u32,
    ) -> Result<(), SessionError<T::Error>> {
        self.sleep(queue, events, Batch { min_events, max_latency_ns: 0 }, None).map(drop)
    }

    /// Returns once `events` has something to read, the server signals, or
    /// `timeout` passes, by the reference sequence of the wake-up protocol
    /// (`docs/protocol.md` §2.9): `Wait` first (so a revoked queue is told
    /// so, and a ring the server sees unread is [`Woken::Ready`] at once),
    /// then the waiting flag, checked against the ring once more, then
    /// [`Transport::block_for`]; the flag is cleared again before it
    /// returns. The timeout is the client's own: the server is not asked to
    /// signal at it.
    pub fn wait_for(
        &mut self,
        queue: u32,
        events: &mut impl WaitFlag,
        min_events: u32,
        timeout: Duration,
    ) -> Result<Woken, SessionError<T::Error>> {
        self.sleep(queue, events, Batch { min_events, max_latency_ns: 0 }, Some(timeout))
    }

    /// [`Session::wait_for`] with a batch: the server signals once
    /// `batch.min_events` are ready or, with a non-zero
    /// `batch.max_latency_ns`, once that long has passed since the `Wait`
    /// (its `timeout_ns`), whichever comes first.
    pub fn wait_batch(
        &mut self,
        queue: u32,
        events: &mut impl WaitFlag,
        batch: Batch,
        timeout: Duration,
    ) -> Result<Woken, SessionError<T::Error>> {
        self.sleep(queue, events, batch, Some(timeout))
    }

    fn sleep(
        &mut self,
        queue: u32,
        events: &mut impl WaitFlag,
        batch: Batch,
        timeout: Option<Duration>,
    ) -> Result<Woken, SessionError<T::Error>> {
        let Batch { min_events, max_latency_ns: timeout_ns } = batch;
        match self.request(&Request::Wait { queue, min_events, timeout_ns })? {
            Reply::Wait { armed: false, .. } => return Ok(Woken::Ready),
            Reply::Wait { armed: true, .. } => {}
            _ => return Err(SessionError::UnexpectedReply),
        }
        // `false`: an event landed since the server looked; the flag is
        // already cleared.
        if !events.prepare_wait().map_err(SessionError::Ring)? {
            return Ok(Woken::Ready);
        }
        let signalled = match timeout {
            None => {
                self.transport.block();
                Ok(true)
            }
            Some(timeout) => self.transport.block_for(timeout),
        };
        events.cancel_wait();
        match signalled.map_err(SessionError::Transport)? {
            true => Ok(Woken::Ready),
            false => Ok(Woken::TimedOut),
        }
    }

    /// The counters of `target` (one of this client's queues, a source, or
    /// the server).
    pub fn stats(&mut self, target: StatsTarget) -> Result<Stats, SessionError<T::Error>> {
        match self.request(&Request::Stats(target))? {
            Reply::Stats(stats) => Ok(stats),
            _ => Err(SessionError::UnexpectedReply),
        }
    }

    /// Destroys `queue`; the server revokes its ring, which is unmapped.
    pub fn destroy_queue(&mut self, queue: u32, events: EventQueue) -> Result<(), SessionError<T::Error>> {
        // The reader goes first: once the server revokes the ring, its memory
        // may be unmapped under it.
        let _gone = events;
        match self.request(&Request::DestroyQueue { queue })? {
            Reply::Done => Ok(()),
            _ => Err(SessionError::UnexpectedReply),
        }
    }
}
