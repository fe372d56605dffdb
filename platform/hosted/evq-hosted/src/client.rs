//! A client domain's shell: its endpoint, its notification, and the rings it
//! was granted, mapped.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use evq_abi::msg::{ErrorCode, Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_client::{EventError, EventQueue, ReceivedEvent};

use crate::sys::{self, Mapping};
use crate::wire::{CallError, Endpoint};

/// Why a client operation failed.
#[derive(Debug)]
pub enum ClientError {
    /// The call itself failed.
    Call(CallError),
    /// The server answered with an error.
    Refused(ErrorCode, u32),
    /// The server answered something that does not fit the request.
    Unexpected(Reply),
    /// The granted ring memory is missing, unsealed, too short, or does not
    /// hold a ring this client understands.
    BadRing(String),
    /// Reading the ring failed.
    Ring(EventError),
    /// The notification failed.
    Io(io::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Call(e) => write!(f, "{e}"),
            ClientError::Refused(code, detail) => {
                write!(f, "the server refused: {code:?} (detail {detail})")
            }
            ClientError::Unexpected(r) => write!(f, "unexpected reply {r:?}"),
            ClientError::BadRing(m) => write!(f, "granted ring: {m}"),
            ClientError::Ring(e) => write!(f, "ring: {e:?}"),
            ClientError::Io(e) => write!(f, "notification: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<CallError> for ClientError {
    fn from(e: CallError) -> Self {
        ClientError::Call(e)
    }
}

impl From<EventError> for ClientError {
    fn from(e: EventError) -> Self {
        ClientError::Ring(e)
    }
}

fn ok(reply: Reply) -> Result<Reply, ClientError> {
    match reply {
        Reply::Error { code, detail } => Err(ClientError::Refused(code, detail)),
        r => Ok(r),
    }
}

/// A queue's ring, mapped from the memfd the server granted.
pub struct HostedQueue {
    /// The queue id.
    pub queue: u32,
    // Declared before the mapping, so it is dropped first.
    events: EventQueue,
    map: Mapping,
}

impl HostedQueue {
    /// The next event, or `None` if the ring is empty.
    pub fn next_event(&mut self) -> Result<Option<ReceivedEvent<'_>>, EventError> {
        self.events.next_event()
    }

    /// The reader, for what [`EventQueue`] offers beyond reading.
    pub fn events(&mut self) -> &mut EventQueue {
        &mut self.events
    }

    /// The mapped region: its base and length (for tests that play a
    /// hostile client).
    pub fn region(&self) -> (std::ptr::NonNull<u8>, usize) {
        (self.map.base(), self.map.len())
    }
}

/// What a wait ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    /// The ring may have events (or a signal came).
    Ready,
    /// The timeout passed.
    TimedOut,
}

/// A client: its endpoint and its notification.
pub struct Client {
    endpoint: Endpoint,
    notification: OwnedFd,
}

impl Client {
    /// A client over its capabilities.
    pub fn new(endpoint: Endpoint, notification: OwnedFd) -> Self {
        Self { endpoint, notification }
    }

    /// The endpoint, for raw calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Creates a queue with a ring of `pages` data pages and maps the ring.
    pub fn create_queue(&self, pages: u32) -> Result<HostedQueue, ClientError> {
        let geometry = RingGeometry::new(pages).map_err(|_| ClientError::BadRing(format!("{pages} pages")))?;
        let (reply, fds) = self.endpoint.call(&Request::CreateQueue { geometry })?;
        let Reply::QueueCreated { queue, frames, .. } = ok(reply)? else {
            return Err(ClientError::BadRing("no QueueCreated".into()));
        };
        let fd = fds.into_iter().next().ok_or_else(|| ClientError::BadRing("no memfd came with the reply".into()))?;
        let len = frames as usize * PAGE_SIZE;
        // The server is not trusted either: a ring that could shrink under
        // us could fault our reads.
        sys::check_sealed(fd.as_fd(), len).map_err(|e| ClientError::BadRing(e.to_string()))?;
        let map = Mapping::shared(fd.as_fd(), len).map_err(|e| ClientError::BadRing(e.to_string()))?;
        // The mapping stays; the descriptor is not needed any more.
        drop(fd);
        // SAFETY: the mapping lives as long as the queue (dropped after the
        // reader), and this process touches it only through the reader's
        // atomics.
        let events =
            unsafe { EventQueue::attach(map.base(), map.len()) }.map_err(|e| ClientError::BadRing(format!("{e:?}")))?;
        Ok(HostedQueue { queue, events, map })
    }

    /// Subscribes `queue` with `filter`; returns the subscription id.
    pub fn subscribe(&self, queue: &HostedQueue, filter: Filter) -> Result<u8, ClientError> {
        match ok(self.endpoint.call(&Request::Subscribe { queue: queue.queue, filter })?.0)? {
            Reply::Subscribed { subscription } => Ok(subscription),
            r => Err(ClientError::Unexpected(r)),
        }
    }

    /// Destroys a queue.
    pub fn destroy(&self, queue: HostedQueue) -> Result<(), ClientError> {
        let id = queue.queue;
        drop(queue);
        ok(self.endpoint.call(&Request::DestroyQueue { queue: id })?.0).map(drop)
    }

    /// Statistics for `target`.
    pub fn stats(&self, target: StatsTarget) -> Result<Stats, ClientError> {
        match ok(self.endpoint.call(&Request::Stats(target))?.0)? {
            Reply::Stats(s) => Ok(s),
            r => Err(ClientError::Unexpected(r)),
        }
    }

    /// Sleeps until `queue` may have events, by the wake-up protocol
    /// (`docs/protocol.md` §2.9), or until `timeout` passes. Returns at once
    /// if the ring is not empty.
    pub fn wait(&self, queue: &mut HostedQueue, timeout: Duration) -> Result<Woken, ClientError> {
        let deadline = Instant::now() + timeout;
        let request = Request::Wait { queue: queue.queue, min_events: 1, timeout_ns: 0 };
        match ok(self.endpoint.call(&request)?.0)? {
            Reply::Wait { armed: false, .. } => return Ok(Woken::Ready),
            Reply::Wait { armed: true, .. } => {}
            r => return Err(ClientError::Unexpected(r)),
        }
        if !queue.events.prepare_wait()? {
            return Ok(Woken::Ready);
        }
        let woken = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = sys::poll(&[self.notification.as_fd()], Some(left)).map_err(ClientError::Io)?;
            if ready[0] {
                sys::drain(self.notification.as_fd()).map_err(ClientError::Io)?;
                break Woken::Ready;
            }
            if left.is_zero() {
                break Woken::TimedOut;
            }
        };
        queue.events.cancel_wait();
        Ok(woken)
    }
}
