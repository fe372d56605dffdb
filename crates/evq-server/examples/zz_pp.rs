//! What the server core spends on a published batch, for a profiler: one
//! source publishes batches of 32 payload-less device events to one client
//! queue, which a reader drains, as in the seL4 benchmark's part (b)
//! (docs/performance.md §3). Run it under callgrind:
//!
//! ```sh
//! cargo build --release -p evq-server --example publish_profile
//! valgrind --tool=callgrind target/release/examples/publish_profile
//! ```

use evq_abi::event::{device, Category, CategorySet, Priority};
use evq_abi::msg::{label, BatchBuilder, Event, Filter, Request, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_server::{Config, Server, SourceSpec};
use evq_testkit::{Harness, HeapRings};

const SOURCE: u64 = 0x11;
const CLIENT: u64 = 0x21;
const BATCH: usize = 32;
const ROUNDS: usize = 20_000;

fn main() {
    let mut server = Server::new(Config { ring_pool_pages: 64 }, HeapRings::default());
    let spec = SourceSpec {
        badge: SOURCE,
        name: "src",
        allowed: CategorySet::of(&[Category::Device]),
        supervisor: false,
        budget_per_tick: 0,
    };
    server.register_source(spec).unwrap();
    server.register_client(CLIENT).unwrap();
    let mut h = Harness::new(server);
    let geometry = RingGeometry::new(16).unwrap();
    let evq_abi::msg::Reply::QueueCreated { queue, .. } = h.call(CLIENT, &Request::CreateQueue { geometry }) else {
        panic!()
    };
    h.call(CLIENT, &Request::Subscribe { queue, filter: Filter::all_of(Category::Device) });
    let mut events = h.attach(queue);
    let mut body = [0u8; MAX_MSG_BYTES];
    let mut batch = BatchBuilder::new(&mut body).unwrap();
    let event = Event {
        category: Category::Device,
        kind: device::STATE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 1,
        payload: &[],
    };
    for _ in 0..BATCH {
        batch.push(&event).unwrap();
    }
    let len = batch.finish();
    let mut read = 0u64;
    for _ in 0..ROUNDS {
        h.raw(SOURCE, label::PUBLISH_BATCH, &body[..len]);
        while let Some(e) = events.next_event().unwrap() {
            read += e.object_id;
        }
        h.actions.clear();
    }
    assert_eq!(read, (ROUNDS * BATCH) as u64);
}
