//! `Session::wait_for` (the wake-up protocol's reference sequence with a
//! timeout of the client's own), `Session::stats`, and what a session's
//! errors say, over an in-process server.

use std::ptr::NonNull;
use std::time::Duration;

use evq_abi::event::{vfs, Category, CategorySet, Priority};
use evq_abi::msg::{ErrorCode, Event, Filter, Reply, Request, StatsTarget};
use evq_client::{Session, SessionError, Transport, Woken};
use evq_server::{Action, Config, Server, SourceSpec};
use evq_testkit::{Harness, HeapRings};

const SOURCE: u64 = 0x11;
const CLIENT: u64 = 0x21;

/// What the transport does when the session blocks with a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sleeper {
    /// Another domain publishes while the client sleeps; the transport
    /// reports whether the server signalled.
    PublishMeanwhile,
    /// Nothing happens: the timeout passes.
    Nothing,
    /// The transport has no bounded wait: `block_for` is the default.
    Unbounded,
}

struct InProcess {
    harness: Harness,
    sleeper: Sleeper,
    blocked: usize,
}

impl InProcess {
    fn signalled(&mut self) -> bool {
        self.harness.take_actions().iter().any(|a| matches!(a, Action::Signal { client: CLIENT, .. }))
    }
}

/// A transport that leaves `block_for` to the trait's default.
struct Unbounded(InProcess);

fn map(harness: &mut Harness, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), &'static str> {
    let ring = harness
        .actions
        .iter()
        .find_map(|a| match *a {
            Action::GrantRing { queue: q, ring, frames: f, .. } if q == queue && f == frames => Some(ring),
            _ => None,
        })
        .ok_or("no ring granted")?;
    harness.server.memory_mut().region(ring).ok_or("the granted ring is not live")
}

impl Transport for InProcess {
    type Error = &'static str;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, &'static str> {
        Ok(self.harness.call(CLIENT, request))
    }

    fn map_ring(&mut self, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), &'static str> {
        map(&mut self.harness, queue, frames)
    }

    fn block(&mut self) {
        unreachable!("this transport blocks with a timeout only")
    }

    fn block_for(&mut self, _timeout: Duration) -> Result<bool, &'static str> {
        self.blocked += 1;
        self.harness.take_actions();
        if self.sleeper == Sleeper::PublishMeanwhile {
            self.harness.call(SOURCE, &Request::Publish(delete(7)));
        }
        Ok(self.signalled())
    }
}

impl Transport for Unbounded {
    type Error = &'static str;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, &'static str> {
        self.0.call(request)
    }

    fn map_ring(&mut self, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), &'static str> {
        self.0.map_ring(queue, frames)
    }

    fn block(&mut self) {
        self.0.blocked += 1;
        self.0.harness.take_actions();
        self.0.harness.call(SOURCE, &Request::Publish(delete(7)));
    }
}

fn delete(object_id: u64) -> Event<'static> {
    Event {
        category: Category::Vfs,
        kind: vfs::DELETE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id,
        payload: &[],
    }
}

fn transport(sleeper: Sleeper) -> InProcess {
    let mut server = Server::new(Config { ring_pool_pages: 16 }, HeapRings::default());
    let vfs = SourceSpec {
        badge: SOURCE,
        name: "vfs",
        allowed: CategorySet::of(&[Category::Vfs]),
        supervisor: false,
        budget_per_tick: 0,
    };
    server.register_source(vfs).unwrap();
    server.register_client(CLIENT).unwrap();
    InProcess { harness: Harness::new(server), sleeper, blocked: 0 }
}

const A_WHILE: Duration = Duration::from_millis(100);

#[test]
fn unread_events_are_ready_without_a_sleep() {
    let mut s = Session::new(transport(Sleeper::Nothing));
    let (queue, mut events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();
    s.transport().harness.call(SOURCE, &Request::Publish(delete(8)));
    assert_eq!(s.wait_for(queue, &mut events, 1, A_WHILE), Ok(Woken::Ready));
    assert_eq!(s.transport().blocked, 0, "the server saw unread slots: no sleep");
    assert_eq!(events.next_event().unwrap().map(|e| e.object_id), Some(8));
}

#[test]
fn an_empty_ring_sleeps_until_the_signal() {
    let mut s = Session::new(transport(Sleeper::PublishMeanwhile));
    let (queue, mut events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();
    assert_eq!(s.wait_for(queue, &mut events, 1, A_WHILE), Ok(Woken::Ready));
    assert_eq!(s.transport().blocked, 1);
    assert_eq!(events.next_event().unwrap().map(|e| e.object_id), Some(7));
}

#[test]
fn a_timeout_is_reported_and_the_waiting_flag_is_cleared() {
    let mut s = Session::new(transport(Sleeper::Nothing));
    let (queue, mut events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();
    assert_eq!(s.wait_for(queue, &mut events, 1, A_WHILE), Ok(Woken::TimedOut));
    assert_eq!(s.transport().blocked, 1);
    // The client no longer sleeps: an event now is written, not signalled.
    s.transport().harness.call(SOURCE, &Request::Publish(delete(9)));
    assert!(!s.transport().signalled(), "a client that stopped waiting was signalled");
    assert_eq!(events.next_event().unwrap().map(|e| e.object_id), Some(9));
}

#[test]
fn without_a_bounded_wait_the_transport_blocks() {
    let mut s = Session::new(Unbounded(transport(Sleeper::Unbounded)));
    let (queue, mut events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();
    assert_eq!(s.wait_for(queue, &mut events, 1, A_WHILE), Ok(Woken::Ready));
    assert_eq!(s.transport().0.blocked, 1);
    assert_eq!(events.next_event().unwrap().map(|e| e.object_id), Some(7));
}

#[test]
fn a_queue_not_the_clients_is_refused_before_any_sleep() {
    let mut s = Session::new(transport(Sleeper::PublishMeanwhile));
    let (queue, mut events) = s.create_queue(1).unwrap();
    let other = queue ^ 0x100;
    assert_eq!(s.wait_for(other, &mut events, 1, A_WHILE), Err(SessionError::Refused(ErrorCode::NoSuchQueue, other)));
    assert_eq!(s.transport().blocked, 0);
}

#[test]
fn stats_are_the_queues_counters_and_occupancy() {
    let mut s = Session::new(transport(Sleeper::Nothing));
    let (queue, _events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();
    for object in [1, 2] {
        s.transport().harness.call(SOURCE, &Request::Publish(delete(object)));
    }
    let stats = s.stats(StatsTarget::Queue(queue)).unwrap();
    assert_eq!((stats.counters.delivered, stats.counters.dropped), (2, 0));
    assert!(stats.used_slots > 0 && stats.used_slots <= stats.slot_count, "{stats:?}");
    let other = queue ^ 0x100;
    assert_eq!(s.stats(StatsTarget::Queue(other)), Err(SessionError::Refused(ErrorCode::NoSuchQueue, other)));
}

#[test]
fn errors_are_said_in_words() {
    let refused: SessionError<&str> = SessionError::Refused(ErrorCode::NoSuchQueue, 5);
    assert_eq!(refused.to_string(), "the server refused: NoSuchQueue (detail 5)");
    let transport: SessionError<&str> = SessionError::Transport("the server is gone");
    assert_eq!(transport.to_string(), "the server is gone");
    let ring: SessionError<&str> = SessionError::Ring(evq_client::EventError::Truncated);
    assert_eq!(ring.to_string(), "ring: an entry is shorter than its record or its payload");
}
