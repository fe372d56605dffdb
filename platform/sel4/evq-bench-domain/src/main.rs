//! The seL4 instruction-count benchmark (`make bench-sel4`,
//! `images/<board>/bench.toml`, `docs/performance.md` §3). One image, five
//! parts by argument:
//!
//! - `ping-server`: answers calls on the `ping` endpoint, the yardstick's
//!   far end.
//! - `source-a`: when signalled, reads the counters and publishes one event
//!   carrying them; it runs below the client, so the client, woken by the
//!   server, runs as soon as the server is done.
//! - `source-b`: when signalled, reads the counters and publishes a batch;
//!   it runs above the client, which drains without sleeping.
//! - `source-c`: when signalled, reads the counters and publishes
//!   [`STREAM`] events one at a time, as a driver under full load would; it
//!   runs above the server, so it writes until its ring is full and the
//!   server runs only while it waits for room.
//! - `client`: times the yardstick, then (a) one event from publish to a
//!   woken client having read it, then (b) the cost per event of batches of
//!   8, 32 and 64 read by a client that never sleeps, then (c) the cost per
//!   event of the stream; prints each figure and its ratio to the round
//!   trip, then `BENCH_DONE`.
//!
//! Every source publishes as the system's drivers do: `evq_source::Publisher`
//! over its ingest ring (`evq_sel4_runtime::ring_publisher`), which signals
//! the server only when it sleeps, and waits for the server's room signal
//! when the ring is full. The server and client are evq's own, unchanged.
#![no_std]
#![no_main]

mod counters;

use counters::Count;
use evq_abi::event::{device, Category, Priority};
use evq_abi::msg::{Event, Filter, Reply, Request};
use evq_client::{Session, Transport};
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, RingPublisher, Sel4Transport, WhenFull};
use zerocopy::{FromBytes, IntoBytes};

domain_main!(main, stack = 256 * 1024);

/// Round trips timed for the yardstick.
const ROUNDS: usize = 16;
/// Batch sizes for (b).
const BATCHES: [usize; 3] = [8, 32, 64];
/// The largest batch.
const MAX_BATCH: usize = 64;
/// Events in one stream for (c): more than the source's ring holds, so
/// that the source fills it and waits for room again and again.
const STREAM: usize = 1024;

fn main(info: &'static DomainInfo) -> ! {
    match info.args.as_str() {
        "ping-server" => ping_server(info),
        "source-a" => source(info, "go-a", &[1]),
        "source-b" => source(info, "go-b", &BATCHES),
        "source-c" => stream(info, "go-c"),
        "client" => match client(info) {
            Ok(()) => {
                sel4::debug_println!("BENCH_DONE");
                exit(0)
            }
            Err(why) => {
                sel4::debug_println!("BENCH_FAIL: {why}");
                exit(1)
            }
        },
        other => {
            sel4::debug_println!("evq-bench: no part {other:?}");
            exit(1)
        }
    }
}

fn ping_server(info: &DomainInfo) -> ! {
    let Some(ep) = info.endpoint("ping", info::rights::RECEIVE) else { exit(1) };
    let ep = sel4::cap::Endpoint::from_bits(ep);
    let (_, _) = ep.recv(());
    loop {
        ep.reply_recv(sel4::MessageInfo::new(0, 0, 0, 0), ());
    }
}

fn event(payload: &[u8]) -> Event<'_> {
    Event {
        category: Category::Device,
        kind: device::STATE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 1,
        payload,
    }
}

/// The source's publisher over its ingest ring, or the end of it.
fn ring(info: &DomainInfo) -> RingPublisher {
    match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(ring) => ring,
        Err(e) => {
            sel4::debug_println!("BENCH_FAIL: {}: {e}", info.args.as_str());
            exit(1)
        }
    }
}

/// Publishes, when signalled, batches of each size in `sizes`, `ROUNDS`
/// times each; the first event of a batch carries the counters read just
/// before the driver started on it.
fn source(info: &DomainInfo, go: &str, sizes: &[usize]) -> ! {
    let Some(go) = info.note(go, info::rights::WAIT) else { exit(1) };
    let go = sel4::cap::Notification::from_bits(go);
    let mut ring = ring(info);
    loop {
        for &size in sizes {
            for _ in 0..ROUNDS {
                go.wait();
                // The events are ready before the driver starts on them.
                let mut batch = [event(&[]); MAX_BATCH];
                let start = counters::read();
                let stamp = [start.total, start.user];
                batch[0] = event(stamp.as_bytes());
                let published = if size == 1 { ring.publish_one(batch[0]) } else { ring.publish(&batch[..size]) };
                if published.is_err() {
                    exit(1)
                }
            }
        }
    }
}

/// Publishes, when signalled, [`STREAM`] events one at a time, the first
/// carrying the counters read just before it.
fn stream(info: &DomainInfo, go: &str) -> ! {
    let Some(go) = info.note(go, info::rights::WAIT) else { exit(1) };
    let go = sel4::cap::Notification::from_bits(go);
    let mut ring = ring(info);
    loop {
        go.wait();
        let start = counters::read();
        let stamp = [start.total, start.user];
        let mut ok = ring.publish_one(event(stamp.as_bytes())).is_ok();
        for _ in 1..STREAM {
            ok &= ring.publish_one(event(&[])).is_ok();
        }
        if !ok {
            exit(1)
        }
    }
}

/// Prints one figure, per event where `per` events shared it, with its
/// ratio to the round trip.
fn report(what: &str, c: Count, per: u64, rt: Count) {
    let (total, user) = (c.total / per, c.user / per);
    let ratio_x100 = total * 100 / rt.total.max(1);
    if counters::SPLIT {
        sel4::debug_println!(
            "evq-bench: {what} total={total} user={user} kernel={} round_trips={}.{:02}",
            total - user,
            ratio_x100 / 100,
            ratio_x100 % 100
        );
    } else {
        sel4::debug_println!(
            "evq-bench: {what} total={total} round_trips={}.{:02}",
            ratio_x100 / 100,
            ratio_x100 % 100
        );
    }
}

/// The stamp the driver put in the first event it published.
fn stamp(payload: &[u8]) -> Option<Count> {
    let [total, user] = <[u64; 2]>::read_from_bytes(payload).ok()?;
    Some(Count { total, user })
}

fn client(info: &DomainInfo) -> Result<(), &'static str> {
    counters::init();
    let ping = sel4::cap::Endpoint::from_bits(info.endpoint("ping", info::rights::CALL).ok_or("no ping endpoint")?);
    let go_a = sel4::cap::Notification::from_bits(info.note("go-a", info::rights::SIGNAL).ok_or("no go-a")?);
    let go_b = sel4::cap::Notification::from_bits(info.note("go-b", info::rights::SIGNAL).ok_or("no go-b")?);
    let go_c = sel4::cap::Notification::from_bits(info.note("go-c", info::rights::SIGNAL).ok_or("no go-c")?);

    // The yardstick: one call and its reply, between two address spaces.
    let mut rt = Vec16::new();
    for _ in 0..ROUNDS {
        let start = counters::read();
        ping.call(sel4::MessageInfo::new(0, 0, 0, 0));
        rt.push(counters::read().since(start));
    }
    let rt = rt.steady("round trips vary")?;
    report("round_trip", rt, 1, rt);

    let mut session = Session::new(Sel4Transport::new(info));
    let (queue, mut events) = session.create_queue(16).map_err(|_| "CreateQueue failed")?;
    session.subscribe(queue, Filter::all_of(Category::Device)).map_err(|_| "Subscribe failed")?;

    // (a) One event, from the driver's first instruction to the woken client
    // holding it; split where the client wakes (before: driver, server and
    // the switch; after: the client reading the event).
    let mut a = Vec16::new();
    let mut a_read = Vec16::new();
    for _ in 0..ROUNDS {
        if !events.prepare_wait().map_err(|_| "ring")? {
            return Err("the ring is not empty");
        }
        match session.request(&Request::Wait { queue, min_events: 1, timeout_ns: 0 }) {
            Ok(Reply::Wait { armed: true, .. }) => {}
            _ => return Err("Wait was not armed"),
        }
        go_a.signal();
        session.transport().block();
        let woken = counters::read();
        let e = events.next_event().map_err(|_| "ring")?.ok_or("woken with nothing to read")?;
        let start = stamp(e.payload).ok_or("no stamp")?;
        let end = counters::read();
        a.push(end.since(start));
        a_read.push(end.since(woken));
    }
    let a = a.steady("(a) varies")?;
    let a_read = a_read.steady("(a) varies")?;
    report("publish_to_woken_client", a, 1, rt);
    report("  of_which_publish_and_wake", a.since(a_read), 1, rt);
    report("  of_which_client_read", a_read, 1, rt);

    // (b) Batches, read by a client that never sleeps.
    // Split where the client is back from letting the driver go (before:
    // driver and server; after: the client draining).
    for size in BATCHES {
        let mut b = Vec16::new();
        let mut b_read = Vec16::new();
        for _ in 0..ROUNDS {
            go_b.signal();
            let back = counters::read();
            let mut start = None;
            for _ in 0..size {
                let e = events.next_event().map_err(|_| "ring")?.ok_or("a batch is short")?;
                start = start.or_else(|| stamp(e.payload));
            }
            let end = counters::read();
            b.push(end.since(start.ok_or("no stamp")?));
            b_read.push(end.since(back));
        }
        let mut what = [0u8; 16];
        let n = write_batch_name(&mut what, size);
        let (b, b_read) = (b.steady("(b) varies")?, b_read.steady("(b) varies")?);
        report(core::str::from_utf8(&what[..n]).unwrap_or("batch"), b, size as u64, rt);
        report("  of_which_publish", b.since(b_read), size as u64, rt);
        report("  of_which_client_read", b_read, size as u64, rt);
    }

    // (c) A stream at full load: the source writes until its ring is full
    // and waits for room, the server drains it, the client reads at the
    // end without sleeping. Split as (b).
    let mut c = Vec16::new();
    let mut c_read = Vec16::new();
    for _ in 0..ROUNDS {
        go_c.signal();
        let back = counters::read();
        let mut start = None;
        for _ in 0..STREAM {
            let e = events.next_event().map_err(|_| "ring")?.ok_or("the stream is short")?;
            start = start.or_else(|| stamp(e.payload));
        }
        let end = counters::read();
        c.push(end.since(start.ok_or("no stamp")?));
        c_read.push(end.since(back));
    }
    let (c, c_read) = (c.steady("(c) varies")?, c_read.steady("(c) varies")?);
    report("stream", c, STREAM as u64, rt);
    report("  of_which_publish", c.since(c_read), STREAM as u64, rt);
    report("  of_which_client_read", c_read, STREAM as u64, rt);
    let _ = session.destroy_queue(queue, events);
    Ok(())
}

fn write_batch_name(out: &mut [u8; 16], size: usize) -> usize {
    let prefix = b"batch_";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut n = prefix.len();
    let digits = [size / 10 % 10, size % 10];
    for (i, d) in digits.iter().enumerate() {
        if i == 0 && *d == 0 {
            continue;
        }
        out[n] = b'0' + *d as u8;
        n += 1;
    }
    n
}

/// A round's readings.
struct Vec16 {
    items: [Count; ROUNDS],
    len: usize,
}

impl Vec16 {
    fn new() -> Self {
        Self { items: [Count::default(); ROUNDS], len: 0 }
    }

    fn push(&mut self, c: Count) {
        if self.len < ROUNDS {
            self.items[self.len] = c;
            self.len += 1;
        }
    }

    /// The last reading, after the first half warmed up: under icount the
    /// steady state repeats exactly, which the spread printed beside shows.
    fn steady(&self, _why: &'static str) -> Result<Count, &'static str> {
        let warm = &self.items[ROUNDS / 2..self.len];
        let last = *warm.last().ok_or("no readings")?;
        let (lo, hi) = warm.iter().fold((u64::MAX, 0), |(lo, hi), c| (lo.min(c.total), hi.max(c.total)));
        sel4::debug_println!("evq-bench:   (last {} readings: total {lo}..={hi})", warm.len());
        Ok(last)
    }
}
