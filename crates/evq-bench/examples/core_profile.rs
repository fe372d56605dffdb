//! The server core's own work per published event, for callgrind
//! (`docs/performance.md` §2, "The server core per event"; `make bench`
//! runs it).
//!
//! One source publishes `ROUNDS` batches of [`BATCH`] payload-less Device
//! events (a 32-byte record each, the fan-out's 32 B point) to `QUEUES`
//! queues, each on a client of its own and each subscribed to every Device
//! event, so every event matches every queue. The events reach the core by
//! `PATH`, as a server shell hands them over:
//!
//! * `call`: the source's `PublishBatch` message. The shell hands the
//!   message's body (encoded once per round beforehand: encoding is the
//!   source's work) to [`Server::handle`] with its clock and an action
//!   sink, and keeps the reply.
//! * `ingest`: the source's ingest ring. The source writes the batch into
//!   the ring with `evq_source`'s publisher over a `RingLink` (the source's
//!   work), and the shell runs [`Server::drain`] passes until the core says
//!   no ring holds more.
//!
//! Then a client reader drains every queue with
//! [`evq_client::EventQueue::next_event`], as a client does; it drains
//! after every batch, so it never sleeps and no ring fills.
//!
//! The server's part and the reader's are the two functions `server_round`
//! and `reader_round`, kept out of line, so that callgrind can count each
//! alone:
//!
//! ```sh
//! cargo build --release -p evq-bench --example core_profile
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*core_profile::server_round*' \
//!     target/release/examples/core_profile call 1 2000
//! ```
//!
//! counts only the server's instructions (`reader_round` likewise the
//! reader's); the bench `server_core` of `evq-bench` runs it for 1, 2, 4
//! and 8 queues on each path and divides by the events published. Every
//! reply is checked to be `Published` with the whole batch accepted, and
//! every event to be read once from every queue, outside the counted
//! functions.
//!
//! Usage: `core_profile PATH QUEUES [ROUNDS]` (PATH `call` or `ingest`;
//! QUEUES 1 to 64; ROUNDS default 2000). It prints `published P read R` and
//! exits 0, or says what went wrong and exits 1.

use std::process::ExitCode;

use evq_abi::event::{device, Category, CategorySet, Priority};
use evq_abi::msg::{label, BatchBuilder, Event, Filter, Reply, Request, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, Config, Server, SourceSpec};
use evq_source::{Doorbell, Publisher, RingLink, WhenFull};
use evq_testkit::{Harness, HeapRings, IngestRegion};

/// The source's badge.
const SOURCE: u64 = 0x11;
/// The first client's badge; client `i` is `CLIENT + i`.
const CLIENT: u64 = 0x100;
/// Events per batch: §3's part (b) batch, within `MAX_BATCH`.
const BATCH: usize = 32;
/// Data pages of each queue's ring: the fan-out's 16-page rings.
const RING_PAGES: u32 = 16;
/// Data pages of the source's ingest ring: room for a batch many times over.
const INGEST_PAGES: u32 = 4;
/// Rounds when none are given.
const DEFAULT_ROUNDS: u64 = 2000;

/// How the events reach the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// A `PublishBatch` through `Server::handle`.
    Call,
    /// The source's ingest ring, through `Server::drain`.
    Ingest,
}

/// What the server's part of a round is given.
enum Input<'a> {
    /// The message's body.
    Call(&'a [u8], &'a mut [u8; 64]),
    /// Drain the ingest ring.
    Ingest,
}

/// The server's part of one round: one batch through the core, as a shell
/// hands it over. Returns the reply's label and length (`call`), or the
/// drain passes it took (`ingest`).
#[inline(never)]
fn server_round(server: &mut Server<HeapRings>, now_ns: u64, input: Input<'_>, actions: &mut u64) -> (u32, usize) {
    let mut act = |_: Action| *actions += 1;
    match input {
        Input::Call(body, reply) => server.handle(now_ns, SOURCE, label::PUBLISH_BATCH, body, reply, &mut act),
        Input::Ingest => {
            let mut passes = 1;
            while server.drain(now_ns, &mut act) {
                passes += 1;
            }
            (0, passes)
        }
    }
}

/// The reader's part of one round: every queue drained. Returns the events
/// read and the sum of their object ids (each event's number in the run).
#[inline(never)]
fn reader_round(queues: &mut [EventQueue]) -> Result<(u64, u64), String> {
    let (mut read, mut sum) = (0u64, 0u64);
    for q in queues.iter_mut() {
        while let Some(e) = q.next_event().map_err(|e| format!("reading a ring: {e:?}"))? {
            read += 1;
            sum = sum.wrapping_add(e.object_id);
        }
    }
    Ok((read, sum))
}

/// The source's doorbell in one process: the server runs after every
/// batch, and the ring never fills, so neither call has anything to do.
struct NoDoorbell;

impl Doorbell for NoDoorbell {
    fn ring(&mut self) {}
    fn wait_for_room(&mut self) {}
}

const USAGE: &str = "usage: core_profile call|ingest QUEUES [ROUNDS] (QUEUES 1 to 64, ROUNDS at least 1)";

fn parse_args() -> Result<(Path, usize, u64), String> {
    let mut args = std::env::args().skip(1);
    let path = match args.next().as_deref() {
        Some("call") => Path::Call,
        Some("ingest") => Path::Ingest,
        Some(other) => return Err(format!("PATH {other:?} is neither `call` nor `ingest`; {USAGE}")),
        None => return Err(USAGE.into()),
    };
    let queues: usize = match args.next() {
        Some(a) => a.parse().map_err(|_| format!("QUEUES {a:?} is not a number; {USAGE}"))?,
        None => return Err(USAGE.into()),
    };
    if !(1..=evq_server::limits::MAX_QUEUES).contains(&queues) {
        return Err(format!("QUEUES {queues} is out of range; {USAGE}"));
    }
    let rounds: u64 = match args.next() {
        Some(a) => a.parse().map_err(|_| format!("ROUNDS {a:?} is not a number; {USAGE}"))?,
        None => DEFAULT_ROUNDS,
    };
    if rounds == 0 || args.next().is_some() {
        return Err(USAGE.into());
    }
    Ok((path, queues, rounds))
}

fn event(object_id: u64) -> Event<'static> {
    Event {
        category: Category::Device,
        kind: device::STATE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id,
        payload: &[],
    }
}

fn run(path: Path, queues: usize, rounds: u64) -> Result<(u64, u64), String> {
    let pool = queues as u32 * (RING_PAGES + 1);
    let mut server = Server::new(Config { ring_pool_pages: pool }, HeapRings::default());
    let spec = SourceSpec {
        badge: SOURCE,
        name: "src",
        allowed: CategorySet::of(&[Category::Device]),
        supervisor: false,
        budget_per_tick: 0,
    };
    server.register_source(spec).map_err(|e| format!("register_source: {e:?}"))?;
    for i in 0..queues as u64 {
        server.register_client(CLIENT + i).map_err(|e| format!("register_client: {e:?}"))?;
    }
    let mut h = Harness::new(server);
    let geometry = RingGeometry::new(RING_PAGES).map_err(|e| format!("geometry: {e:?}"))?;
    let mut readers = Vec::with_capacity(queues);
    for i in 0..queues as u64 {
        let queue = match h.call(CLIENT + i, &Request::CreateQueue { geometry }) {
            Reply::QueueCreated { queue, .. } => queue,
            other => return Err(format!("CreateQueue: {other:?}")),
        };
        match h.call(CLIENT + i, &Request::Subscribe { queue, filter: Filter::all_of(Category::Device) }) {
            Reply::Subscribed { .. } => {}
            other => return Err(format!("Subscribe: {other:?}")),
        }
        readers.push(h.attach(queue));
    }
    // The ingest ring, attached whatever the path (a `call` source has one
    // too, empty), and the source's publisher over it.
    let mut ingest = IngestRegion::new(RingGeometry::new(INGEST_PAGES).map_err(|e| format!("geometry: {e:?}"))?);
    h.attach_ingest(SOURCE, &mut ingest);
    let mut source = Publisher::new(RingLink::new(ingest.producer(), NoDoorbell, WhenFull::Wait));
    h.actions.clear();

    let mut body = [0u8; MAX_MSG_BYTES];
    let mut reply = [0u8; 64];
    let mut events = [event(0); BATCH];
    let mut actions = 0u64;
    let (mut published, mut read, mut sum, mut expected_sum) = (0u64, 0u64, 0u64, 0u64);
    let mut now_ns = h.now_ns;
    for _ in 0..rounds {
        // The source's work, not counted: the batch's events are numbered
        // by their object ids so that the reader's sum checks every one.
        for (i, e) in events.iter_mut().enumerate() {
            *e = event(published + i as u64);
            expected_sum = expected_sum.wrapping_add((published + i as u64).wrapping_mul(queues as u64));
        }
        now_ns += 1_000;
        match path {
            Path::Call => {
                let mut batch = BatchBuilder::new(&mut body).map_err(|e| format!("batch: {e:?}"))?;
                for e in &events {
                    batch.push(e).map_err(|e| format!("batch: {e:?}"))?;
                }
                let len = batch.finish();
                let (reply_label, n) =
                    server_round(&mut h.server, now_ns, Input::Call(&body[..len], &mut reply), &mut actions);
                match Reply::decode(label::PUBLISH_BATCH, reply_label, &reply[..n]) {
                    Ok(Reply::Published { accepted }) if accepted as usize == BATCH => {}
                    other => return Err(format!("PublishBatch answered {other:?}")),
                }
            }
            Path::Ingest => {
                source.publish(&events).map_err(|e| format!("writing the ingest ring: {e}"))?;
                server_round(&mut h.server, now_ns, Input::Ingest, &mut actions);
            }
        }
        published += BATCH as u64;
        let (r, s) = reader_round(&mut readers)?;
        read += r;
        sum = sum.wrapping_add(s);
    }
    if read != published * queues as u64 || sum != expected_sum {
        return Err(format!("published {published} events to {queues} queues but read {read} (or not each once)"));
    }
    if actions != 0 {
        return Err(format!("the server asked for {actions} actions; a reader that never sleeps needs none"));
    }
    Ok((published, read))
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|(path, queues, rounds)| run(path, queues, rounds));
    match result {
        Ok((published, read)) => {
            println!("published {published} read {read}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("core_profile: {e}");
            ExitCode::FAILURE
        }
    }
}
