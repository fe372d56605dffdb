//! A client domain's shell: `evq_client::Session` over the hosted
//! [`Transport`]: the client's endpoint for calls, the memfd that comes with
//! a `CreateQueue` reply mapped as the queue's ring, and its eventfd to
//! block on. The conversation itself (creating, subscribing, the wake-up
//! protocol, statistics) is the core's.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::time::Duration;

use evq_abi::msg::{Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::PAGE_SIZE;
use evq_client::{EventError, EventQueue, ReceivedEvent, Session, SessionError, Transport, WaitFlag};

pub use evq_client::{Batch, Woken};

use crate::sys::{self, Mapping};
use crate::wire::{CallError, Endpoint};

/// Why the hosted transport failed.
#[derive(Debug)]
pub enum HostError {
    /// The call itself failed.
    Call(CallError),
    /// The granted ring memory is missing, unsealed, too short, or does not
    /// map.
    BadRing(String),
    /// Waiting on the notification failed.
    Notification(io::Error),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Call(e) => write!(f, "{e}"),
            HostError::BadRing(m) => write!(f, "granted ring: {m}"),
            HostError::Notification(e) => write!(f, "notification: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

/// Why a client operation failed: the session's error over the hosted
/// transport.
pub type ClientError = SessionError<HostError>;

/// The hosted [`Transport`]: a client's endpoint and notification, and the
/// ring memory that came with the last `CreateQueue` reply.
#[derive(Debug)]
pub struct HostTransport {
    endpoint: Endpoint,
    notification: OwnedFd,
    /// The memfd granted with the last `CreateQueue` reply, until mapped.
    granted: Option<OwnedFd>,
    /// The ring mapped last, until its queue takes it.
    mapped: Option<Mapping>,
}

impl HostTransport {
    /// A transport over a client's capabilities.
    pub fn new(endpoint: Endpoint, notification: OwnedFd) -> Self {
        Self { endpoint, notification, granted: None, mapped: None }
    }

    /// The endpoint, for raw calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Transport for HostTransport {
    type Error = HostError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, HostError> {
        let (reply, fds) = self.endpoint.request(request).map_err(HostError::Call)?;
        if matches!(request, Request::CreateQueue { .. }) {
            // The ring's memfd, if the queue was made; any other descriptor
            // a reply carries is closed.
            self.granted = fds.into_iter().next();
        }
        Ok(reply)
    }

    fn map_ring(&mut self, _queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), HostError> {
        let fd = self.granted.take().ok_or_else(|| HostError::BadRing("no memfd came with the reply".into()))?;
        let len = frames as usize * PAGE_SIZE;
        // The server is not trusted either: a ring that could shrink under
        // us could fault our reads.
        sys::check_sealed(fd.as_fd(), len).map_err(|e| HostError::BadRing(e.to_string()))?;
        let map = Mapping::shared(fd.as_fd(), len).map_err(|e| HostError::BadRing(e.to_string()))?;
        // The mapping stays (with the queue, `Client::create_queue`); the
        // descriptor is not needed any more.
        let region = (map.base(), map.len());
        self.mapped = Some(map);
        Ok(region)
    }

    fn block(&mut self) {
        while let Ok(false) = self.block_for(Duration::from_secs(3600)) {}
    }

    fn block_for(&mut self, timeout: Duration) -> Result<bool, HostError> {
        let ready = sys::poll(&[self.notification.as_fd()], Some(timeout)).map_err(HostError::Notification)?;
        if ready[0] {
            sys::drain(self.notification.as_fd()).map_err(HostError::Notification)?;
        }
        Ok(ready[0])
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
    pub fn region(&self) -> (NonNull<u8>, usize) {
        (self.map.base(), self.map.len())
    }
}

/// A client: an `evq_client::Session` over its capabilities.
pub struct Client {
    session: Session<HostTransport>,
}

impl Client {
    /// A client over its capabilities.
    pub fn new(endpoint: Endpoint, notification: OwnedFd) -> Self {
        Self { session: Session::new(HostTransport::new(endpoint, notification)) }
    }

    /// The endpoint, for raw calls.
    pub fn endpoint(&mut self) -> &Endpoint {
        self.session.transport().endpoint()
    }

    /// Creates a queue with a ring of `pages` data pages and maps the ring.
    pub fn create_queue(&mut self, pages: u32) -> Result<HostedQueue, ClientError> {
        let made = self.session.create_queue(pages);
        let map = self.session.transport().mapped.take();
        self.session.transport().granted = None;
        let (queue, events) = made?;
        let map = map.ok_or(SessionError::Transport(HostError::BadRing("the ring was not mapped".into())))?;
        Ok(HostedQueue { queue, events, map })
    }

    /// Subscribes `queue` with `filter`; returns the subscription id.
    pub fn subscribe(&mut self, queue: &HostedQueue, filter: Filter) -> Result<u8, ClientError> {
        self.session.subscribe(queue.queue, filter)
    }

    /// Removes a subscription of `queue`.
    pub fn unsubscribe(&mut self, queue: &HostedQueue, subscription: u8) -> Result<(), ClientError> {
        self.session.unsubscribe(queue.queue, subscription)
    }

    /// Sets `queue`'s coalescing window (0: off).
    pub fn set_coalescing(&mut self, queue: &HostedQueue, window: Duration) -> Result<(), ClientError> {
        self.session.set_coalescing(queue.queue, u64::try_from(window.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Destroys a queue; its ring is unmapped once the server has revoked
    /// it.
    pub fn destroy(&mut self, queue: HostedQueue) -> Result<(), ClientError> {
        let HostedQueue { queue, events, map } = queue;
        let done = self.session.destroy_queue(queue, events);
        drop(map);
        done
    }

    /// Sends any request and returns its reply, an error reply as
    /// [`SessionError::Refused`] (`evq_client::Session::request`).
    pub fn request(&mut self, request: &Request<'_>) -> Result<Reply, ClientError> {
        self.session.request(request)
    }

    /// Statistics for `target`.
    pub fn stats(&mut self, target: StatsTarget) -> Result<Stats, ClientError> {
        self.session.stats(target)
    }

    /// Sleeps until `queue` may have events, by the wake-up protocol
    /// (`docs/protocol.md` §2.9), or until `timeout` passes
    /// (`evq_client::Session::wait_for`). Returns at once if the server
    /// sees unread slots.
    pub fn wait(&mut self, queue: &mut HostedQueue, timeout: Duration) -> Result<Woken, ClientError> {
        self.session.wait_for(queue.queue, &mut queue.events, 1, timeout)
    }

    /// [`Client::wait`] with a batch (`evq_client::Session::wait_batch`):
    /// the server signals once `batch.min_events` are ready, or its
    /// `max_latency_ns` has passed.
    pub fn wait_batch(
        &mut self,
        queue: &mut HostedQueue,
        batch: Batch,
        timeout: Duration,
    ) -> Result<Woken, ClientError> {
        self.session.wait_batch(queue.queue, &mut queue.events, batch, timeout)
    }

    /// [`Client::wait`] for a reader of `queue`'s ring other than its
    /// [`HostedQueue`]'s own (the C library's), which reads the ring
    /// through `flag`. The queue's own reader must then read nothing: two
    /// readers of one ring each keep a tail of their own.
    pub fn wait_on(&mut self, queue: u32, flag: &mut impl WaitFlag, timeout: Duration) -> Result<Woken, ClientError> {
        self.session.wait_for(queue, flag, 1, timeout)
    }
}
