//! Shared set-up for the server's integration tests.
#![allow(dead_code)]

use evq_abi::event::{vfs, Category, CategorySet, Priority};
use evq_abi::msg::{Event, Filter, Reply, Request};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Config, Server, SourceSpec};
use evq_testkit::{Harness, HeapRings};

pub const VFS: u64 = 0x100;
pub const NET: u64 = 0x200;
pub const ROOT: u64 = 0x300;
pub const ALICE: u64 = 0x1000;
pub const BOB: u64 = 0x2000;

/// A server with a VFS source (id 1), a network source (id 2), the root task
/// as supervisor (id 3, process and system events), and clients ALICE and BOB.
pub fn harness(pool_pages: u32) -> Harness {
    harness_with_budget(pool_pages, 0)
}

pub fn harness_with_budget(pool_pages: u32, vfs_budget: u32) -> Harness {
    let mut server = Server::new(Config { ring_pool_pages: pool_pages }, HeapRings::default());
    let vfs_id = server
        .register_source(SourceSpec {
            badge: VFS,
            name: "vfs",
            allowed: CategorySet::of(&[Category::Vfs]),
            supervisor: false,
            budget_per_tick: vfs_budget,
        })
        .unwrap();
    assert_eq!(vfs_id, 1);
    server
        .register_source(SourceSpec {
            badge: NET,
            name: "net",
            allowed: CategorySet::of(&[Category::Network]),
            supervisor: false,
            budget_per_tick: 0,
        })
        .unwrap();
    server
        .register_source(SourceSpec {
            badge: ROOT,
            name: "root",
            allowed: CategorySet::of(&[Category::Process, Category::System]),
            supervisor: true,
            budget_per_tick: 0,
        })
        .unwrap();
    server.register_client(ALICE).unwrap();
    server.register_client(BOB).unwrap();
    Harness::new(server)
}

pub fn create(h: &mut Harness, client: u64, pages: u32) -> u32 {
    match h.call(client, &Request::CreateQueue { geometry: RingGeometry::new(pages).unwrap() }) {
        Reply::QueueCreated { queue, .. } => queue,
        other => panic!("create failed: {other:?}"),
    }
}

pub fn all_of(category: Category) -> Filter {
    Filter::all_of(category)
}

pub fn subscribe(h: &mut Harness, client: u64, queue: u32, filter: Filter) -> u8 {
    match h.call(client, &Request::Subscribe { queue, filter }) {
        Reply::Subscribed { subscription } => subscription,
        other => panic!("subscribe failed: {other:?}"),
    }
}

pub fn vfs_event(kind: u8, object_id: u64, payload: &[u8]) -> Event<'_> {
    Event { category: Category::Vfs, kind, type_flags: 0, priority: Priority::Normal, object_id, payload }
}

pub fn create_event(object_id: u64) -> Event<'static> {
    vfs_event(vfs::CREATE, object_id, b"")
}

pub fn publish(h: &mut Harness, from: u64, event: Event<'_>) -> Reply {
    h.call(from, &Request::Publish(event))
}

/// An event copied out of the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    pub category: Category,
    pub kind: u8,
    pub type_flags: u8,
    pub watch_id: u8,
    pub critical: bool,
    pub coalesced: u16,
    pub lost_before: u64,
    pub seq: u64,
    pub object_id: u64,
    pub source_id: u32,
    pub payload: Vec<u8>,
}

impl From<&evq_client::ReceivedEvent<'_>> for Got {
    fn from(e: &evq_client::ReceivedEvent<'_>) -> Self {
        Got {
            category: e.category,
            kind: e.kind,
            type_flags: e.type_flags,
            watch_id: e.watch_id,
            critical: e.critical,
            coalesced: e.coalesced,
            lost_before: e.lost_before,
            seq: e.seq,
            object_id: e.object_id,
            source_id: e.source_id,
            payload: e.payload.to_vec(),
        }
    }
}

pub fn drain(q: &mut EventQueue) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(e) = q.next_event().expect("ring reads cleanly") {
        out.push(Got::from(&e));
    }
    out
}

/// Reads at most `max` events (stopping early when the ring is empty), each
/// with its server timestamp.
pub fn read_at_most(q: &mut EventQueue, max: usize) -> Vec<(Got, u64)> {
    let mut out = Vec::new();
    while out.len() < max {
        let Some(e) = q.next_event().expect("ring reads cleanly") else { break };
        let got = Got::from(&e);
        out.push((got, e.timestamp_ns));
    }
    out
}
