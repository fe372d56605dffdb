//! A hostile producer: the fuzz input becomes the ring region a `Consumer`
//! attaches to and reads. Whatever the region holds, the consumer must not
//! panic, must never hand out more slots than the head covers, and must keep
//! reporting the same error once it has hit one.
//!
//! Input layout:
//!
//! * byte 0, `sel`: bits 0..=1 pick the data pages (1, 2, 4, 1); bit 2 picks
//!   *raw* mode; bit 3 reads with `read` + `release` instead of `pop`; bit 4
//!   calls `prepare_wait` whenever the ring reads empty.
//! * raw mode: the rest is copied over the region from byte 0: the control
//!   page, then the slots. The control page is as hostile as the slots.
//! * structured mode: a valid control page is written (so the fuzzer reaches
//!   the slot parsing quickly), then the rest is: `tail` (u32 LE), four
//!   successive `head` values (u32 LE each), then bytes copied into the slot
//!   array starting at slot `tail & mask`, wrapping around. The consumer
//!   attaches with the first head; each later head is stored while it is
//!   attached, as a producer would, and the consumer reads again.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use evq_abi::event::Category;
use evq_abi::ring::{control, RingGeometry, RING_MAGIC, SLOT_SIZE};
use evq_abi::{ABI_VERSION, PAGE_SIZE};
use evq_ring::{Consumer, EntryBuf, ReadError};

fn put_u32(bytes: &mut [u8], off: usize, v: u32) {
    bytes[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn take_u32(input: &mut &[u8]) -> u32 {
    let mut word = [0u8; 4];
    let n = input.len().min(4);
    word[..n].copy_from_slice(&input[..n]);
    *input = &input[n..];
    u32::from_le_bytes(word)
}

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let pages = [1u32, 2, 4, 1][usize::from(sel & 3)];
    let raw = sel & 4 != 0;
    let batched = sel & 8 != 0;
    let waits = sel & 16 != 0;
    let geometry = RingGeometry::new(pages).unwrap();
    let len = geometry.region_bytes();
    let slot_count = geometry.slot_count();
    let mask = slot_count - 1;

    // Build the region's bytes, then move them into 8-byte aligned storage.
    let mut bytes = vec![0u8; len];
    let mut heads = [0u32; 4];
    if raw {
        let n = rest.len().min(len);
        bytes[..n].copy_from_slice(&rest[..n]);
    } else {
        put_u32(&mut bytes, control::MAGIC, RING_MAGIC);
        put_u32(&mut bytes, control::VERSION, u32::from(ABI_VERSION));
        put_u32(&mut bytes, control::SLOT_COUNT, slot_count);
        put_u32(&mut bytes, control::DATA_OFFSET, PAGE_SIZE as u32);
        put_u32(&mut bytes, control::RESERVED_SLOTS, geometry.reserved_slots());
        let tail = take_u32(&mut rest);
        for h in &mut heads {
            *h = take_u32(&mut rest);
        }
        put_u32(&mut bytes, control::TAIL, tail);
        put_u32(&mut bytes, control::HEAD, heads[0]);
        let data_bytes = slot_count as usize * SLOT_SIZE;
        let start = (tail & mask) as usize * SLOT_SIZE;
        for (i, &b) in rest.iter().take(data_bytes).enumerate() {
            bytes[PAGE_SIZE + (start + i) % data_bytes] = b;
        }
    }
    let mut region: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())).collect();
    drop(bytes);
    let base = NonNull::new(region.as_mut_ptr().cast::<u8>()).unwrap();

    // SAFETY: `region` lives until the end of this function, after the
    // consumer is dropped, and is touched meanwhile only through atomics.
    let mut consumer = match unsafe { Consumer::attach(base, len) } {
        Ok(c) => c,
        Err(_) => return,
    };
    let slot_count = consumer.geometry().slot_count();
    let word32 = |off: usize| {
        // SAFETY: `off` is a control-page offset inside `region`, 4-aligned;
        // the consumer too touches it only atomically.
        unsafe { AtomicU32::from_ptr(base.as_ptr().add(off).cast()) }
    };

    let mut buf = EntryBuf::new();
    let rounds = if raw { 1 } else { heads.len() };
    for (round, &head) in heads.iter().enumerate().take(rounds) {
        // A later head is stored only after the consumer read the ring empty,
        // so the head it checks entries against is always the one stored.
        if round > 0 {
            word32(control::HEAD).store(head, Ordering::Release);
        }
        // More pops than the ring has slots would mean an entry of zero slots.
        let mut caught_up = false;
        for _ in 0..=slot_count {
            let head = word32(control::HEAD).load(Ordering::Relaxed);
            let tail_before = word32(control::TAIL).load(Ordering::Relaxed);
            let result = if batched { consumer.read(&mut buf) } else { consumer.pop(&mut buf) };
            let entry = match result {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    if batched {
                        consumer.release();
                    }
                    if waits && consumer.prepare_wait() == Ok(true) {
                        consumer.cancel_wait();
                    }
                    caught_up = true;
                    break;
                }
                Err(e) => {
                    // The consumer does not advance past an error.
                    let again: Result<_, ReadError> = consumer.pop(&mut buf).map(|_| ());
                    assert_eq!(again, Err(e), "a second read after {e:?} differs");
                    caught_up = false;
                    break;
                }
            };
            let header = entry.header;
            assert_ne!(header.ty(), Category::Meta as u32, "a meta entry was handed out");
            assert!(header.len() >= 1);
            assert_eq!(entry.body.len(), (header.len() as usize - 1) * SLOT_SIZE);
            let _ = entry.lost_before;
            if batched {
                consumer.release();
            }
            // Never past the head the producer published.
            let tail_after = word32(control::TAIL).load(Ordering::Relaxed);
            let available = head.wrapping_sub(tail_before);
            let now_head = word32(control::HEAD).load(Ordering::Relaxed);
            assert_eq!(now_head, head);
            assert!(
                tail_after.wrapping_sub(tail_before) <= available,
                "consumed past the head: head {head}, tail {tail_before} -> {tail_after}"
            );
        }
        let _ = consumer.unread_slots();
        let _ = consumer.lost_total();
        if !caught_up {
            break;
        }
    }
    // `consumer` is dropped before `region`, which was declared first.
}
