//! `Session` over an in-process server: the same conversation a client
//! domain has on seL4 or the hosted platform, with a transport that counts
//! what it is asked to do.

use std::ptr::NonNull;

use evq_abi::event::{vfs, Category, CategorySet, Priority};
use evq_abi::msg::{ErrorCode, Event, Filter, Reply, Request};
use evq_client::{Session, SessionError, Transport};
use evq_server::{Action, Config, Server, SourceSpec};
use evq_testkit::{Harness, HeapRings};

const SOURCE: u64 = 0x11;
const CLIENT: u64 = 0x21;

/// A transport whose `block` publishes one event first (what another domain
/// would do while the client sleeps) and then checks that the server sent
/// the wake-up this client would otherwise sleep for ever without.
struct InProcess {
    harness: Harness,
    blocked: usize,
    publish_while_blocked: bool,
}

impl Transport for InProcess {
    type Error = &'static str;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, &'static str> {
        Ok(self.harness.call(CLIENT, request))
    }

    fn map_ring(&mut self, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), &'static str> {
        let ring = self
            .harness
            .actions
            .iter()
            .find_map(|a| match *a {
                Action::GrantRing { queue: q, ring, frames: f, .. } if q == queue && f == frames => Some(ring),
                _ => None,
            })
            .ok_or("no ring granted")?;
        self.harness.server.memory_mut().region(ring).ok_or("the granted ring is not live")
    }

    fn block(&mut self) {
        self.blocked += 1;
        self.harness.take_actions();
        if self.publish_while_blocked {
            self.harness.call(SOURCE, &Request::Publish(delete(7)));
        }
        let woken = self.harness.take_actions().iter().any(|a| matches!(a, Action::Signal { client: CLIENT, .. }));
        assert!(woken, "the client blocked and the server never signalled it");
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

fn session() -> Session<InProcess> {
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
    Session::new(InProcess { harness: Harness::new(server), blocked: 0, publish_while_blocked: true })
}

#[test]
fn a_session_creates_subscribes_waits_and_reads() {
    let mut s = session();
    let (queue, mut events) = s.create_queue(1).unwrap();
    s.subscribe(queue, Filter::all_of(Category::Vfs)).unwrap();

    // Nothing to read: the session arms the wake-up and sleeps until the
    // event published meanwhile arrives with a signal.
    s.wait(queue, &mut events, 1).unwrap();
    assert_eq!(s.transport().blocked, 1);
    let e = events.next_event().unwrap().expect("the event that woke the client");
    assert_eq!((e.category, e.kind, e.object_id, e.source_id), (Category::Vfs, vfs::DELETE, 7, 1));

    // Something to read already: no request, no sleep.
    s.transport().harness.call(SOURCE, &Request::Publish(delete(8)));
    s.wait(queue, &mut events, 1).unwrap();
    assert_eq!(s.transport().blocked, 1, "a client with unread events must not sleep");
    assert_eq!(events.next_event().unwrap().map(|e| e.object_id), Some(8));

    s.destroy_queue(queue, events).unwrap();
    assert_eq!(s.transport().harness.server.queue_count(), 0);
}

#[test]
fn refusals_come_back_as_errors_and_nothing_is_mapped_for_them() {
    let mut s = session();
    s.transport().publish_while_blocked = false;
    assert!(matches!(s.create_queue(3), Err(SessionError::Refused(ErrorCode::InvalidArgument, _))));
    let (queue, _events) = s.create_queue(1).unwrap();
    assert_eq!(
        s.subscribe(queue ^ 0x100, Filter::all_of(Category::Vfs)),
        Err(SessionError::Refused(ErrorCode::NoSuchQueue, queue ^ 0x100))
    );
    // Queues beyond the pool are refused by the server, not half-made.
    let (q2, _e2) = s.create_queue(8).unwrap();
    assert!(matches!(s.create_queue(8), Err(SessionError::Refused(ErrorCode::NoMemory, _))));
    assert_eq!(s.transport().harness.server.queue_count(), 2);
    let _ = q2;
}
