//! Two threads, one ring: the producer pushes numbered entries as fast as it
//! can while the consumer pops them. Every number must arrive exactly once,
//! in order, with intact contents, or be accounted for as lost: the gap in
//! front of each delivered entry must equal its `lost_before`, and all the
//! gaps together must equal the producer's Full results.
//!
//! No sleeps: the consumer stalls with a spin loop now and then (so the
//! producer runs into a full ring), and the end of the run is a sentinel
//! entry pushed once the ring is empty.

mod common;

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{mix, Region};
use evq_abi::ring::{RingGeometry, SLOT_SIZE};
use evq_ring::{EntryBuf, EntryKind, PushError};

fn entry_count() -> u64 {
    if cfg!(debug_assertions) {
        150_000
    } else {
        2_000_000
    }
}

/// Slots (2..=63) and body bytes of entry `seq`: a pure function of `seq`,
/// so the consumer can recompute exactly what it should receive.
fn shape(seq: u64) -> (u32, usize) {
    let h = mix(seq);
    let slots = 2 + (h % 62) as u32;
    let full = (slots as usize - 1) * SLOT_SIZE;
    let short = ((h >> 8) % 8) as usize;
    (slots, (full - short).max(8))
}

fn kind(seq: u64) -> EntryKind {
    EntryKind { ty: 1 + (seq % 6) as u32, subtype: seq as u8, info: ((seq >> 8) as u32 & 0xFF) << 8 }
}

/// Writes entry `seq`'s body into `buf`: the sequence number, then words
/// that depend on it and their position (cheap enough not to dominate).
fn fill(seq: u64, buf: &mut [u8]) -> usize {
    let (_, bytes) = shape(seq);
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let salt = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for (k, chunk) in buf[8..bytes].chunks_mut(8).enumerate() {
        let word = (salt ^ (k as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)).rotate_left(k as u32 % 64) | 1;
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    bytes
}

struct Report {
    delivered: u64,
    lost: u64,
    fulls: u64,
    max_gap: u64,
    elapsed: Duration,
}

#[derive(Clone, Copy)]
enum Mode {
    /// Push and count Full; the consumer stalls now and then for `stall`
    /// spins (0: never), so the producer runs into a full ring. After a
    /// Full the producer spins `backoff` times (a server doing other work)
    /// so that drops come in bursts rather than swamping the run.
    Lossy { stall: u32, backoff: u32 },
    /// Wait for room before each push; no entry may be dropped.
    Lossless,
}

/// The tests in this file each want two cores to themselves: run them one
/// at a time even though the harness starts them in parallel.
static SERIAL: Mutex<()> = Mutex::new(());

fn run(pages: u32, n: u64, mode: Mode) -> Report {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = RingGeometry::new(pages).unwrap();
    let sc = g.slot_count();
    let region = Region::for_geometry(g);
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    let deadline = Duration::from_secs(120);
    let start = Instant::now();

    let (fulls, (delivered, lost, max_gap, consumer_lost_total)) = thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut buf = EntryBuf::new();
            let mut want = [0u8; 62 * SLOT_SIZE];
            let mut expected = 0u64;
            let (mut delivered, mut lost, mut max_gap) = (0u64, 0u64, 0u64);
            let mut idle = 0u64;
            loop {
                // Alternate between pop and batched read + release.
                let batch = if delivered % 3 == 0 { 1 } else { 8 };
                let mut got_any = false;
                for _ in 0..batch {
                    let Some(e) = c.read(&mut buf).expect("no read errors") else { break };
                    got_any = true;
                    let seq = u64::from_le_bytes(e.body[..8].try_into().unwrap());
                    assert!(seq >= expected, "seq {seq} arrived after {expected}: duplicate or reordered");
                    let gap = seq - expected;
                    assert_eq!(gap, e.lost_before, "seq {seq}: gap {gap} but lost_before {}", e.lost_before);
                    let (slots, bytes) = if seq == n { (2, 8) } else { shape(seq) };
                    assert_eq!(e.header.len(), slots, "seq {seq}: length");
                    let k = kind(seq);
                    assert_eq!(
                        (e.header.ty(), e.header.subtype(), e.header.watch_id()),
                        (k.ty, k.subtype, (seq >> 8) as u8)
                    );
                    if seq < n {
                        fill(seq, &mut want);
                        assert_eq!(&e.body[..bytes], &want[..bytes], "seq {seq}: body");
                        assert!(e.body[bytes..].iter().all(|&b| b == 0), "seq {seq}: padding");
                    }
                    lost += gap;
                    max_gap = max_gap.max(gap);
                    delivered += 1;
                    expected = seq + 1;
                    if seq == n {
                        c.release();
                        return (delivered - 1, lost, max_gap, c.lost_total());
                    }
                    // Now and then stall, so the producer fills the ring.
                    if let Mode::Lossy { stall, .. } = mode {
                        if stall > 0 && mix(seq ^ 0x77).is_multiple_of(1024) {
                            for _ in 0..stall {
                                std::hint::spin_loop();
                            }
                        }
                    }
                }
                c.release();
                if got_any {
                    idle = 0;
                } else {
                    idle += 1;
                    if idle.is_multiple_of(1024) {
                        assert!(start.elapsed() < deadline, "consumer starved: producer stuck?");
                        thread::yield_now();
                    }
                    std::hint::spin_loop();
                }
            }
        });

        let mut body = [0u8; 62 * SLOT_SIZE];
        let mut fulls = 0u64;
        // Worst case for one push: a skip, a loss entry, another skip and
        // a 63-slot entry; plus the reserve for non-critical pushes.
        let room_needed = 62 + 2 + 62 + 63 + g.reserved_slots();
        for seq in 0..n {
            let bytes = fill(seq, &mut body);
            let critical = seq % 16 == 0;
            if matches!(mode, Mode::Lossless) {
                let mut spins = 0u64;
                while sc - p.unread_slots().unwrap() < room_needed {
                    spins += 1;
                    if spins.is_multiple_of(1024) {
                        assert!(start.elapsed() < deadline, "producer never got room: consumer stuck?");
                        thread::yield_now();
                    }
                    std::hint::spin_loop();
                }
            }
            match p.push(kind(seq), &body[..bytes], critical) {
                Ok(()) => {}
                Err(PushError::Full) if matches!(mode, Mode::Lossy { .. }) => {
                    fulls += 1;
                    if let Mode::Lossy { backoff, .. } = mode {
                        for _ in 0..backoff {
                            std::hint::spin_loop();
                        }
                    }
                }
                Err(e) => panic!("seq {seq}: {e:?}"),
            }
        }
        // The sentinel carries whatever was lost at the very end; wait until
        // the ring is empty so it cannot itself be dropped.
        while p.unread_slots().unwrap() != 0 {
            assert!(start.elapsed() < deadline, "consumer stopped draining");
            thread::yield_now();
        }
        p.push(kind(n), &n.to_le_bytes(), true).expect("an empty ring takes the sentinel");
        (fulls, consumer.join().unwrap())
    });
    let elapsed = start.elapsed();

    assert_eq!(delivered + lost, n, "every number delivered or lost");
    assert_eq!(lost, fulls, "gaps == lost_before sum == Full results");
    assert_eq!(p.lost_total(), fulls);
    assert_eq!(consumer_lost_total, fulls);
    region.check_guards();
    Report { delivered, lost, fulls, max_gap, elapsed }
}

fn print(name: &str, pages: u32, r: &Report) {
    println!(
        "{name}: pages={pages} delivered={} lost={} (Full results {}, largest gap {}) in {:.3}s, {:.1} M entries/s",
        r.delivered,
        r.lost,
        r.fulls,
        r.max_gap,
        r.elapsed.as_secs_f64(),
        (r.delivered + r.lost) as f64 / r.elapsed.as_secs_f64() / 1e6
    );
}

/// A small ring and a consumer that stalls: many drops, all accounted for.
#[test]
fn stress_lossy_small_ring() {
    let r = run(1, entry_count(), Mode::Lossy { stall: 2000, backoff: 120 });
    print("stress_lossy_small_ring", 1, &r);
    // With 512 slots and periodic stalls the ring must have overflowed, and
    // most entries still arrive; otherwise the test tested nothing.
    assert!(r.lost > 0, "no drops: the lossy path was never exercised");
    assert!(r.delivered > 1000, "almost nothing delivered: ordering barely exercised");
}

/// A producer that waits for room: nothing may be lost, everything arrives.
#[test]
fn stress_lossless() {
    let r = run(4, entry_count(), Mode::Lossless);
    print("stress_lossless", 4, &r);
    assert_eq!(r.lost, 0);
    assert_eq!(r.delivered, entry_count());
}

/// A large ring with no back-pressure help: drops only if the consumer
/// falls a whole 32768 slots behind.
#[test]
fn stress_lossy_large_ring() {
    let r = run(64, entry_count() / 2, Mode::Lossy { stall: 0, backoff: 100 });
    print("stress_lossy_large_ring", 64, &r);
    assert!(r.delivered > 0);
}
