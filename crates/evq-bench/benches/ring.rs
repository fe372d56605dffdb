//! Ring throughput: evq-ring against rtrb, producer and consumer on two threads.
//!
//! This is a benchmark, not a test: it checks nothing about evq beyond what it
//! needs to stay honest (every event is popped, in order), and its numbers
//! depend on the machine. Run it with `cargo bench -p evq-bench`.
//!
//! What it measures: one thread pushes events into a ring, another pops them,
//! both busy-spinning (never sleeping) when the ring is full or empty, for
//! 32-byte and 256-byte event bodies. evq uses a 4-page ring (2048 slots,
//! 16 KiB of data; an event takes its body plus an 8-byte header, and the
//! producer leaves the critical reserve, one eighth, free). rtrb, the
//! reference, carries the same bytes as `[u8; N]` items in a ring of the same
//! 16 KiB (`16 KiB / N` items). Each event's first 8 bytes are its sequence
//! number and the consumer checks it.
//!
//! Both consumers take a copy of every byte. evq's must: it copies each
//! entry out of the ring because the peer may change the ring under it.
//! rtrb's `pop` returns the item by value, but a compiler that sees only the
//! sequence number used would load just those 8 bytes of it (it did: one
//! load per item, so at 256 bytes rtrb's consumer touched one cache line of
//! the item's four). So rtrb's items go through `black_box`, which makes
//! the copy real, as a consumer that used the event would.
//!
//! criterion reports each pair per batch of [`BATCH`] events (`Throughput::
//! Elements`); afterwards the bench times its own runs ([`SUMMARY_RUNS`] of
//! [`SUMMARY_EVENTS`] events each, evq and rtrb in adjacent pairs) and
//! prints a plain table of median events/s and the median evq/rtrb ratio
//! of the pairs.
//!
//! `EVQ_BENCH_QUICK=1` makes every part tiny: a smoke test that the bench
//! runs, whose numbers mean nothing. So does `cargo test --benches`, where
//! criterion runs each benchmark once.
//!
//! Both threads busy-spin, so the numbers are only meaningful on an otherwise
//! idle machine with at least two free cores: with one core shared, each
//! side waits out the other's time slice and throughput collapses to what
//! one ring-full per slice allows.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::hint::{black_box, spin_loop};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use evq_abi::event::Category;
use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_ring::{Consumer, EntryBuf, EntryKind, Producer, PushError};

/// Data pages of the evq ring.
const RING_PAGES: u32 = 4;
/// Bytes of ring storage both rings get.
const RING_BYTES: usize = RING_PAGES as usize * PAGE_SIZE;
/// Events moved per criterion iteration.
const BATCH: u64 = 100_000;
/// Timed runs per ring and size for the summary table.
const SUMMARY_RUNS: usize = 9;
/// Events per summary run.
const SUMMARY_EVENTS: u64 = 1_000_000;

fn seq_of(body: &[u8]) -> u64 {
    u64::from_le_bytes(body[..8].try_into().unwrap())
}

// --------------------------------------------------------------------------
// evq

/// A zeroed, page-aligned allocation standing in for the shared mapping, so
/// the ring's cache-line layout is the one it has in a real mapping.
struct Region {
    base: NonNull<u8>,
    layout: Layout,
}

impl Region {
    fn new(len: usize) -> Self {
        let layout = Layout::from_size_align(len, PAGE_SIZE).unwrap();
        // SAFETY: `layout` has a non-zero size.
        let base = NonNull::new(unsafe { alloc_zeroed(layout) }).unwrap_or_else(|| handle_alloc_error(layout));
        Self { base, layout }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) }
    }
}

/// How the consumer takes events: one at a time, publishing its position
/// after each (`pop`), or everything available, publishing once (`read` then
/// `release` for evq, `read_chunk` then `commit_all` for rtrb).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consume {
    PerEvent,
    Drain,
}

fn run_evq<const N: usize>(events: u64, mode: Consume) -> Duration {
    let geometry = RingGeometry::new(RING_PAGES).unwrap();
    let len = geometry.region_bytes();
    let region = Region::new(len);
    // SAFETY: `region` outlives the producer and the consumer (both are moved
    // into the scoped threads below and dropped before it), and nothing else
    // touches it meanwhile.
    let mut producer = unsafe { Producer::new(region.base, len, geometry) }.unwrap();
    // SAFETY: as above.
    let mut consumer = unsafe { Consumer::attach(region.base, len) }.unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || produce_evq::<N>(&mut producer, events));
        s.spawn(move || consume_evq::<N>(&mut consumer, events, mode));
    });
    let elapsed = start.elapsed();
    drop(region);
    elapsed
}

fn produce_evq<const N: usize>(producer: &mut Producer, events: u64) {
    let kind = EntryKind { ty: Category::Device as u32, subtype: 0, info: 0 };
    let mut body = [0x5Au8; N];
    for seq in 0..events {
        body[..8].copy_from_slice(&seq.to_le_bytes());
        // `try_push` refuses a full ring without counting a loss, like
        // rtrb's `push`; the producer keeps the event and retries.
        loop {
            match producer.try_push(kind, &body, false) {
                Ok(()) => break,
                Err(PushError::Full) => spin_loop(),
                Err(e) => panic!("evq: push {seq} failed: {e:?}"),
            }
        }
    }
    assert_eq!(producer.lost_total(), 0);
}

fn consume_evq<const N: usize>(consumer: &mut Consumer, events: u64, mode: Consume) {
    match mode {
        Consume::PerEvent => consume_evq_per_event::<N>(consumer, events),
        Consume::Drain => consume_evq_draining::<N>(consumer, events),
    }
}

fn consume_evq_per_event<const N: usize>(consumer: &mut Consumer, events: u64) {
    let mut buf = EntryBuf::new();
    let mut expected = 0u64;
    while expected < events {
        match consumer.pop(&mut buf) {
            Ok(Some(entry)) => {
                check_evq::<N>(&entry, expected);
                expected += 1;
            }
            Ok(None) => spin_loop(),
            Err(e) => panic!("evq: read error {e:?}"),
        }
    }
}

fn consume_evq_draining<const N: usize>(consumer: &mut Consumer, events: u64) {
    let mut buf = EntryBuf::new();
    let mut expected = 0u64;
    while expected < events {
        match consumer.read(&mut buf) {
            Ok(Some(entry)) => {
                check_evq::<N>(&entry, expected);
                expected += 1;
            }
            Ok(None) => {
                consumer.release();
                spin_loop();
            }
            Err(e) => panic!("evq: read error {e:?}"),
        }
    }
    consumer.release();
}

fn check_evq<const N: usize>(entry: &evq_ring::EntryRef<'_>, expected: u64) {
    if entry.body.len() != N || seq_of(entry.body) != expected || entry.lost_before != 0 {
        panic!("evq: event {expected} arrived wrong: {entry:?}");
    }
}

// --------------------------------------------------------------------------
// rtrb

fn run_rtrb<const N: usize>(events: u64, mode: Consume) -> Duration {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<[u8; N]>::new(RING_BYTES / N);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut body = [0x5Au8; N];
            for seq in 0..events {
                body[..8].copy_from_slice(&seq.to_le_bytes());
                while producer.push(body).is_err() {
                    spin_loop();
                }
            }
        });
        s.spawn(move || {
            fn check<const N: usize>(item: &[u8; N], expected: &mut u64) {
                if seq_of(item) != *expected {
                    panic!("rtrb: event {expected} arrived as {}", seq_of(item));
                }
                *expected += 1;
            }
            let mut expected = 0u64;
            match mode {
                Consume::PerEvent => {
                    while expected < events {
                        match consumer.pop() {
                            Ok(item) => check(&black_box(item), &mut expected),
                            Err(_) => spin_loop(),
                        }
                    }
                }
                Consume::Drain => {
                    while expected < events {
                        match consumer.read_chunk(consumer.slots()) {
                            Ok(chunk) if !chunk.is_empty() => {
                                let (a, b) = chunk.as_slices();
                                a.iter().chain(b).for_each(|item| check(&black_box(*item), &mut expected));
                                chunk.commit_all();
                            }
                            _ => spin_loop(),
                        }
                    }
                }
            }
        });
    });
    start.elapsed()
}

// --------------------------------------------------------------------------
// Driver

fn quick() -> bool {
    std::env::var_os("EVQ_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty())
}

fn bench_size<const N: usize>(c: &mut Criterion, batch: u64) {
    let mut group = c.benchmark_group(format!("ring_2threads_{N}B"));
    group.throughput(Throughput::Elements(batch));
    group.bench_function(BenchmarkId::new("evq", N), |b| {
        b.iter_custom(|iters| run_evq::<N>(iters * batch, Consume::PerEvent));
    });
    group.bench_function(BenchmarkId::new("rtrb", N), |b| {
        b.iter_custom(|iters| run_rtrb::<N>(iters * batch, Consume::PerEvent));
    });
    group.finish();
}

/// Median events/s of `runs` runs of `events` events each, evq and rtrb
/// interleaved, and the median of the ratios of each adjacent pair: on a
/// shared machine whose speed drifts from minute to minute, a ratio taken
/// within one pair is steadier than the ratio of two medians.
fn summary<const N: usize>(runs: usize, events: u64, mode: Consume) -> (f64, f64, f64) {
    let mut evq = Vec::with_capacity(runs);
    let mut rtrb = Vec::with_capacity(runs);
    let mut ratios = Vec::with_capacity(runs);
    for _ in 0..runs {
        let e = events as f64 / run_evq::<N>(events, mode).as_secs_f64();
        let r = events as f64 / run_rtrb::<N>(events, mode).as_secs_f64();
        evq.push(e);
        rtrb.push(r);
        ratios.push(e / r);
    }
    (median(&mut evq), median(&mut rtrb), median(&mut ratios))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = quick();
    let mut c = Criterion::default();
    let batch = if quick {
        c = c.sample_size(10).warm_up_time(Duration::from_millis(50)).measurement_time(Duration::from_millis(200));
        1_000
    } else {
        BATCH
    };
    let mut c = c.configure_from_args();
    bench_size::<32>(&mut c, batch);
    bench_size::<256>(&mut c, batch);
    c.final_summary();

    // The summary follows criterion's mode: none when listing or profiling,
    // the full one under `cargo bench`, a token one under `cargo test
    // --benches` (where criterion runs each benchmark once, as a test).
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") || args.iter().any(|a| a.starts_with("--profile-time")) {
        return;
    }
    let full = has("--bench") && !has("--test") && !quick;
    let (runs, events) = if full { (SUMMARY_RUNS, SUMMARY_EVENTS) } else { (3, 10_000) };
    let rows = [
        ("32 B", "per event", summary::<32>(runs, events, Consume::PerEvent)),
        ("256 B", "per event", summary::<256>(runs, events, Consume::PerEvent)),
        ("32 B", "drain", summary::<32>(runs, events, Consume::Drain)),
        ("256 B", "drain", summary::<256>(runs, events, Consume::Drain)),
    ];
    println!();
    println!("ring throughput (2 threads, events/s; consumer per event, or draining what is there)");
    println!("size   consumer   evq          rtrb         evq/rtrb (median of paired runs)");
    for (size, mode, (evq, rtrb, ratio)) in rows {
        println!("{:<6} {:<10} {:<12} {:<12} {:.2}x", size, mode, format_rate(evq), format_rate(rtrb), ratio);
    }
}

fn format_rate(r: f64) -> String {
    format!("{:.2}M", r / 1e6)
}
