//! The waiting flag: the consumer's "wake me" handshake with the producer.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{kind_for, make_body, Region};
use evq_abi::ring::RingGeometry;
use evq_ring::{EntryBuf, PushError};

fn ring() -> (Region, RingGeometry) {
    let g = RingGeometry::new(1).unwrap();
    (Region::for_geometry(g), g)
}

#[test]
fn prepare_wait_on_empty_ring_sets_flag_and_take_waiter_clears_it_once() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    assert_eq!(region.waiting(), 0);
    assert!(!p.consumer_waiting());
    assert_eq!(c.prepare_wait(), Ok(true));
    assert_ne!(region.waiting(), 0, "the flag is in shared memory");
    // Looking does not clear it; taking does, exactly once.
    assert!(p.consumer_waiting());
    assert!(p.consumer_waiting());
    assert!(p.take_waiter());
    assert_eq!(region.waiting(), 0);
    assert!(!p.consumer_waiting());
    assert!(!p.take_waiter());
}

#[test]
fn prepare_wait_on_nonempty_ring_returns_false_and_clears_flag() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    p.push(kind_for(1), &make_body(1, 12), false).unwrap();
    assert_eq!(c.prepare_wait(), Ok(false));
    assert_eq!(region.waiting(), 0);
    assert!(!p.consumer_waiting());
    assert!(!p.take_waiter());
    // Once the entry is read the ring is empty again and waiting is allowed.
    let mut buf = EntryBuf::new();
    assert!(c.pop(&mut buf).unwrap().is_some());
    assert_eq!(c.prepare_wait(), Ok(true));
    assert!(p.take_waiter());
}

#[test]
fn cancel_wait_clears_flag() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    assert_eq!(c.prepare_wait(), Ok(true));
    c.cancel_wait();
    assert_eq!(region.waiting(), 0);
    assert!(!p.consumer_waiting());
    assert!(!p.take_waiter());
}

/// A consumer about to sleep must first hand back what it has read, or a
/// producer waiting for room could wait for a consumer waiting for data.
#[test]
fn prepare_wait_releases_read_slots() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    p.push(kind_for(1), &make_body(1, 40), false).unwrap();
    let mut buf = EntryBuf::new();
    assert!(c.read(&mut buf).unwrap().is_some());
    assert_eq!(p.unread_slots(), Ok(6), "read alone does not release");
    assert_eq!(c.prepare_wait(), Ok(true));
    assert_eq!(p.unread_slots(), Ok(0));
    assert_eq!(region.tail(), 6);
}

/// Two threads: the consumer sleeps (thread::park) whenever prepare_wait
/// says the ring is empty; the producer, after every push, wakes it if
/// take_waiter says it asked. A lost wakeup shows as a consumer parked with
/// data in the ring and nobody to wake it: detected by a long park timeout
/// that finds the ring non-empty. (The producer pauses between bursts with a
/// spin loop, not a sleep, so the consumer really does go to sleep often.)
#[test]
fn no_lost_wakeups() {
    let n: u64 = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    let deadline = Duration::from_secs(20);
    let (sleeps, fulls, wakes) = thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut buf = EntryBuf::new();
            let mut expected = 0u64;
            let mut sleeps = 0u64;
            loop {
                while let Some(e) = c.pop(&mut buf).unwrap() {
                    let seq = u64::from_le_bytes(e.body[..8].try_into().unwrap());
                    assert_eq!(seq - expected, e.lost_before, "gap must equal lost_before");
                    expected = seq + 1;
                    if seq == n {
                        return sleeps;
                    }
                }
                if c.prepare_wait().unwrap() {
                    sleeps += 1;
                    let t = Instant::now();
                    thread::park_timeout(deadline);
                    if t.elapsed() >= deadline {
                        assert_eq!(c.unread_slots(), Ok(0), "lost wakeup: asleep with data in the ring");
                        panic!("producer went silent");
                    }
                    c.cancel_wait();
                }
            }
        });
        let waker = consumer.thread().clone();
        let mut seq = 0u64;
        let (mut fulls, mut wakes) = (0u64, 0u64);
        let mut push = |p: &mut evq_ring::Producer, seq: u64, critical: bool| {
            let mut body = make_body(seq, 8 + (seq % 40) as usize);
            body[..8].copy_from_slice(&seq.to_le_bytes());
            let r = p.push(kind_for(seq), &body, critical);
            if p.take_waiter() {
                wakes += 1;
                waker.unpark();
            }
            r
        };
        while seq < n {
            let burst = 1 + seq % 23;
            for _ in 0..burst.min(n - seq) {
                match push(&mut p, seq, false) {
                    Ok(()) => {}
                    Err(PushError::Full) => fulls += 1,
                    Err(e) => panic!("{e:?}"),
                }
                seq += 1;
            }
            for _ in 0..(seq * 7919 % 3000) {
                std::hint::spin_loop();
            }
        }
        // The final entry must be delivered: wait for room, then push it.
        let t = Instant::now();
        while p.unread_slots().unwrap() != 0 {
            assert!(t.elapsed() < deadline, "consumer stopped draining");
            thread::yield_now();
        }
        push(&mut p, n, true).unwrap();
        let sleeps = consumer.join().unwrap();
        (sleeps, fulls, wakes)
    });
    assert_eq!(p.lost_total(), fulls);
    // The handshake was actually exercised.
    assert!(sleeps > 10 && wakes > 10, "sleeps={sleeps} wakes={wakes}");
}

/// The room-wanted word of the control page, as the consumer sees it.
fn room_wanted(region: &Region) -> u32 {
    region.load32(evq_abi::ring::control::ROOM_WANTED)
}

#[test]
fn a_producer_waits_for_room_only_while_the_ring_is_full_and_is_woken_once() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    let body = make_body(3, 62 * 8);
    // With room, nothing is flagged: push again.
    assert_eq!(p.prepare_room_wait(63, false), Ok(false));
    assert_eq!(room_wanted(&region), 0);
    while p.try_push(kind_for(3), &body, false).is_ok() {}
    assert_eq!(p.prepare_room_wait(63, false), Ok(true), "full: sleep");
    assert_ne!(room_wanted(&region), 0, "the flag is in shared memory");
    // Nothing freed yet: the consumer has nobody to wake on its own account,
    // but the flag stays until it frees slots and takes it.
    let mut buf = EntryBuf::new();
    assert!(c.read(&mut buf).unwrap().is_some());
    c.release();
    assert!(c.take_room_waiter());
    assert_eq!(room_wanted(&region), 0);
    assert!(!c.take_room_waiter(), "one signal per wait");
    assert!(p.try_push(kind_for(3), &body, false).is_ok());
    // Full again for a normal entry; a critical one may use the reserve.
    assert_eq!(p.prepare_room_wait(63, false), Ok(true));
    p.cancel_room_wait();
    assert_eq!(room_wanted(&region), 0);
    assert_eq!(p.prepare_room_wait(2, true), Ok(false));
    assert_eq!(room_wanted(&region), 0);
}

#[test]
fn a_consumer_can_go_back_to_a_mark_it_has_not_released() {
    let (region, g) = ring();
    let mut p = region.producer(g);
    let mut c = region.attach().unwrap();
    for n in 1..=3u64 {
        p.push(kind_for(n), &make_body(n, 16), false).unwrap();
    }
    let mut buf = EntryBuf::new();
    let mark = c.mark();
    assert_eq!(c.read(&mut buf).unwrap().unwrap().header.ty(), kind_for(1).ty);
    assert_eq!(c.read(&mut buf).unwrap().unwrap().header.ty(), kind_for(2).ty);
    assert!(c.rewind(mark));
    assert_eq!(c.read(&mut buf).unwrap().unwrap().header.ty(), kind_for(1).ty, "read again");
    c.release();
    assert!(!c.rewind(mark), "released slots are the producer's again");
    assert_eq!(c.read(&mut buf).unwrap().unwrap().header.ty(), kind_for(2).ty);
}
