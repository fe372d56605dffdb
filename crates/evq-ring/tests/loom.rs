//! The ring's two sleep/wake handshakes, model-checked with `loom` over the
//! real producer and consumer (their region is loom's atomics under
//! `--cfg loom`): every interleaving and every reordering the memory model
//! allows is tried.
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p evq-ring --test loom --release --target-dir target/loom
//! ```
//!
//! - **Consumer waits for events** (the client ring; the server's side of an
//!   ingest ring): the consumer finds the ring empty, sets `waiting`,
//!   checks again and sleeps; the producer writes an entry and signals only
//!   if it finds `waiting` set. A lost wake-up is a consumer asleep on a
//!   ring holding an entry, with no signal coming.
//! - **Producer waits for room** (a source on a full ingest ring; the
//!   server on a lossless client's full ring): the producer finds the ring
//!   full, sets `room_wanted`, checks again and sleeps; the consumer frees
//!   slots and signals only if it finds `room_wanted` set. A lost wake-up is
//!   a producer asleep on a ring with room, with no signal coming.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

use evq_abi::ring::RingGeometry;
use evq_ring::{EntryBuf, EntryKind, Producer, PushError};

const KIND: EntryKind = EntryKind { ty: 3, subtype: 1, info: 0 };

fn geometry() -> RingGeometry {
    RingGeometry::new(1).unwrap()
}

#[test]
fn a_consumer_that_sleeps_is_always_woken_for_an_entry_written_meanwhile() {
    loom::model(|| {
        let (mut producer, mut consumer) = Producer::model(geometry());
        let signalled = Arc::new(AtomicBool::new(false));
        let signal = signalled.clone();
        let writer = thread::spawn(move || {
            producer.try_push(KIND, &[7; 8], false).unwrap();
            // The producer's side of the handshake: signal only a waiter.
            if producer.take_waiter() {
                signal.store(true, Ordering::SeqCst);
            }
        });
        let mut buf = EntryBuf::new();
        let first = consumer.pop(&mut buf).unwrap().is_some();
        // The consumer's side: found nothing, so flag, re-check, sleep.
        let slept = !first && consumer.prepare_wait().unwrap();
        writer.join().unwrap();
        if slept {
            assert!(signalled.load(Ordering::SeqCst), "a lost wake-up: the consumer sleeps, the entry is written");
            consumer.cancel_wait();
        }
        // Whichever way it went, the entry is there to read, exactly once.
        let got = usize::from(first) + usize::from(consumer.pop(&mut buf).unwrap().is_some());
        assert_eq!(got, 1);
    });
}

#[test]
fn a_producer_that_sleeps_for_room_is_always_woken_when_room_is_made() {
    // Filling the ring is some 500 atomic stores, each a branch of the
    // model's; the default bound (1,000) is too tight for the two threads.
    let mut model = loom::model::Builder::new();
    model.max_branches = 20_000;
    model.check(|| {
        let (mut producer, mut consumer) = Producer::model(geometry());
        // Fill the ring: seven entries of 63 slots leave 7 of the 448 a
        // non-critical entry may use.
        let body = [1u8; 62 * 8];
        for _ in 0..7 {
            producer.try_push(KIND, &body, false).unwrap();
        }
        assert_eq!(producer.try_push(KIND, &body, false), Err(PushError::Full));
        let room = Arc::new(AtomicBool::new(false));
        let signal = room.clone();
        let reader = thread::spawn(move || {
            let mut buf = EntryBuf::new();
            assert!(consumer.read(&mut buf).unwrap().is_some());
            consumer.release();
            // The consumer's side: signal only a producer waiting for room.
            if consumer.take_room_waiter() {
                signal.store(true, Ordering::SeqCst);
            }
        });
        // The producer's side: full, so flag, re-check, sleep.
        let pushed = producer.try_push(KIND, &body, false).is_ok();
        let slept = !pushed && producer.prepare_room_wait(1 + 62, false).unwrap();
        reader.join().unwrap();
        if slept {
            assert!(room.load(Ordering::SeqCst), "a lost wake-up: the producer sleeps, room is made");
            producer.cancel_room_wait();
        }
        // Whichever way it went, the entry goes in now (it may already have).
        if !pushed {
            producer.try_push(KIND, &body, false).unwrap();
        }
    });
}

#[test]
fn without_the_fences_the_model_finds_the_lost_wake_up() {
    // The check is only worth something if it can fail: the same consumer
    // handshake with the flag set after the re-check instead of before it
    // (the classic mistake) loses the wake-up in some interleaving, and the
    // model must find one.
    let found = std::panic::catch_unwind(|| {
        loom::model(|| {
            let (mut producer, mut consumer) = Producer::model(geometry());
            let signalled = Arc::new(AtomicBool::new(false));
            let signal = signalled.clone();
            let writer = thread::spawn(move || {
                producer.try_push(KIND, &[7; 8], false).unwrap();
                if producer.take_waiter() {
                    signal.store(true, Ordering::SeqCst);
                }
            });
            let mut buf = EntryBuf::new();
            let empty = consumer.pop(&mut buf).unwrap().is_none();
            // Wrong order: decide to sleep on what was seen, then flag.
            let slept = empty && {
                let _ = consumer.prepare_wait();
                true
            };
            writer.join().unwrap();
            if slept {
                assert!(signalled.load(Ordering::SeqCst) || consumer.unread_slots().unwrap() == 0);
            }
        })
    });
    assert!(found.is_err(), "the model should find the interleaving that loses the wake-up");
}

#[test]
fn without_the_flag_first_the_model_finds_the_lost_room_wake_up() {
    // The mirror of the check above, for room: a producer that decides to
    // sleep on the full ring it saw, then sets its flag, can miss the
    // consumer's release.
    let found = std::panic::catch_unwind(|| {
        let mut model = loom::model::Builder::new();
        model.max_branches = 20_000;
        model.check(|| {
            let (mut producer, mut consumer) = Producer::model(geometry());
            let body = [1u8; 62 * 8];
            for _ in 0..7 {
                producer.try_push(KIND, &body, false).unwrap();
            }
            let room = Arc::new(AtomicBool::new(false));
            let signal = room.clone();
            let reader = thread::spawn(move || {
                let mut buf = EntryBuf::new();
                assert!(consumer.read(&mut buf).unwrap().is_some());
                consumer.release();
                if consumer.take_room_waiter() {
                    signal.store(true, Ordering::SeqCst);
                }
            });
            let full = producer.try_push(KIND, &body, false).is_err();
            // Wrong order: decide to sleep on what was seen, then flag.
            let slept = full && {
                let _ = producer.prepare_room_wait(1 + 62, false);
                true
            };
            reader.join().unwrap();
            if slept {
                assert!(room.load(Ordering::SeqCst) || producer.try_push(KIND, &body, false).is_err());
            }
        })
    });
    assert!(found.is_err(), "the model should find the interleaving that loses the room wake-up");
}
