//! Helpers shared by the evq-ring integration tests: a host-allocated ring
//! region with guard words, raw (atomic) peeks and pokes, a tiny PRNG, entry
//! content generators, and a watchdog.
//!
//! The region is reached only through a raw pointer obtained once at
//! allocation and through `AtomicU64`/`AtomicU32::from_ptr`, never through a
//! Rust reference to plain data, so the tests follow the same rule as the
//! ring itself while a producer or consumer is live.
#![allow(dead_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use evq_abi::ring::{control, info, EntryHeader, RingGeometry, SLOT_SIZE};
use evq_abi::PAGE_SIZE;
use evq_ring::{Consumer, EntryKind, Producer};

/// Guard words on each side of a region.
pub const GUARD_WORDS: usize = 512;

/// A host allocation: `GUARD_WORDS` guard words, the ring region, then
/// `GUARD_WORDS` more. Guard word `i` holds `guard_value(i)` so any stray
/// write, whatever its value, is very unlikely to go unnoticed.
pub struct Region {
    alloc: *mut u64,
    total_words: usize,
    len: usize,
}

// SAFETY: every access after construction is an atomic operation through the
// raw pointer; the allocation is freed only on drop.
unsafe impl Send for Region {}
// SAFETY: as for Send: shared use is atomic accesses only.
unsafe impl Sync for Region {}

pub fn guard_value(i: usize) -> u64 {
    0xA5C3_0F1E_0000_0000 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Region {
    /// A zeroed region of `len` bytes (a multiple of 8) between guards.
    pub fn new(len: usize) -> Self {
        assert_eq!(len % 8, 0);
        let total_words = len / 8 + 2 * GUARD_WORDS;
        let mut words = vec![0u64; total_words];
        for i in 0..GUARD_WORDS {
            words[i] = guard_value(i);
            words[total_words - 1 - i] = guard_value(GUARD_WORDS + i);
        }
        let alloc = Box::into_raw(words.into_boxed_slice()) as *mut u64;
        Self { alloc, total_words, len }
    }

    /// A zeroed region sized exactly for `g`.
    pub fn for_geometry(g: RingGeometry) -> Self {
        Self::new(g.region_bytes())
    }

    /// The first byte of the ring region (8-byte aligned).
    pub fn base(&self) -> NonNull<u8> {
        // SAFETY: GUARD_WORDS < total_words; the allocation is non-null.
        NonNull::new(unsafe { self.alloc.add(GUARD_WORDS) }.cast::<u8>()).unwrap()
    }

    /// The ring region's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    fn word_ptr(&self, byte_off: usize) -> *mut u64 {
        assert!(byte_off.is_multiple_of(8) && byte_off + 8 <= self.len, "test bug: offset {byte_off}");
        // SAFETY: in bounds of the allocation, checked above.
        unsafe { self.base().as_ptr().add(byte_off).cast() }
    }

    pub fn load64(&self, byte_off: usize) -> u64 {
        // SAFETY: aligned and in bounds; all accesses to the region are atomic.
        unsafe { AtomicU64::from_ptr(self.word_ptr(byte_off)) }.load(Ordering::SeqCst)
    }

    pub fn store64(&self, byte_off: usize, v: u64) {
        // SAFETY: as for `load64`.
        unsafe { AtomicU64::from_ptr(self.word_ptr(byte_off)) }.store(v, Ordering::SeqCst)
    }

    pub fn load32(&self, byte_off: usize) -> u32 {
        assert!(byte_off.is_multiple_of(4) && byte_off + 4 <= self.len);
        // SAFETY: aligned and in bounds; all accesses to the region are atomic.
        unsafe { AtomicU32::from_ptr(self.base().as_ptr().add(byte_off).cast()) }.load(Ordering::SeqCst)
    }

    pub fn store32(&self, byte_off: usize, v: u32) {
        assert!(byte_off.is_multiple_of(4) && byte_off + 4 <= self.len);
        // SAFETY: as for `load32`.
        unsafe { AtomicU32::from_ptr(self.base().as_ptr().add(byte_off).cast()) }.store(v, Ordering::SeqCst)
    }

    /// Data slot `pos` (already reduced below the slot count).
    pub fn slot(&self, pos: u32) -> u64 {
        self.load64(PAGE_SIZE + pos as usize * SLOT_SIZE)
    }

    pub fn set_slot(&self, pos: u32, v: u64) {
        self.store64(PAGE_SIZE + pos as usize * SLOT_SIZE, v)
    }

    pub fn head(&self) -> u32 {
        self.load32(control::HEAD)
    }
    pub fn set_head(&self, v: u32) {
        self.store32(control::HEAD, v)
    }
    pub fn tail(&self) -> u32 {
        self.load32(control::TAIL)
    }
    pub fn set_tail(&self, v: u32) {
        self.store32(control::TAIL, v)
    }
    pub fn waiting(&self) -> u32 {
        self.load32(control::WAITING)
    }

    /// Overwrites bytes `from..to` of the region (multiples of 8) with random words.
    pub fn randomize(&self, from: usize, to: usize, rng: &mut Rng) {
        for off in (from..to).step_by(8) {
            self.store64(off, rng.next());
        }
    }

    /// Panics unless every guard word still holds its pattern.
    pub fn check_guards(&self) {
        for i in 0..GUARD_WORDS {
            // SAFETY: in bounds; the guards are never touched by the ring
            // (that is what this checks), and only read atomically here.
            let before = unsafe { AtomicU64::from_ptr(self.alloc.add(i)) }.load(Ordering::SeqCst);
            assert_eq!(before, guard_value(i), "guard word {i} before the region was overwritten");
            // SAFETY: as above, for the guard words after the region.
            let after = unsafe { AtomicU64::from_ptr(self.alloc.add(self.total_words - 1 - i)) }.load(Ordering::SeqCst);
            assert_eq!(after, guard_value(GUARD_WORDS + i), "guard word {i} after the region was overwritten");
        }
    }

    /// A producer over this region. The region must outlive it: declare the
    /// region before the producer so it is dropped after.
    pub fn producer(&self, g: RingGeometry) -> Producer {
        // SAFETY: the allocation lives until `self` drops, and is touched
        // only atomically.
        unsafe { Producer::new(self.base(), self.len, g) }.expect("region fits geometry")
    }

    /// A consumer over this region (same lifetime rule as `producer`).
    pub fn attach(&self) -> Result<Consumer, evq_ring::AttachError> {
        self.attach_len(self.len)
    }

    /// A consumer told that the region is `len` bytes long (`len <= self.len()`).
    pub fn attach_len(&self, len: usize) -> Result<Consumer, evq_ring::AttachError> {
        assert!(len <= self.len);
        // SAFETY: as for `producer`.
        unsafe { Consumer::attach(self.base(), len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `alloc` came from `Box::into_raw` of a slice of this length.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.alloc, self.total_words)) });
    }
}

/// SplitMix64: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform-ish in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// The SplitMix64 finaliser: a good 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Recognisable body byte `i` of the entry tagged `id`: differs between
/// entries and between positions, so a stale, torn or shifted read shows.
pub fn body_byte(id: u64, i: usize) -> u8 {
    (mix(id.wrapping_mul(0x1_0000_0001) ^ (i as u64 / 8)) >> ((i % 8) * 8)) as u8 | 1
}

/// A body of `bytes` recognisable bytes for entry `id`.
pub fn make_body(id: u64, bytes: usize) -> Vec<u8> {
    (0..bytes).map(|i| body_byte(id, i)).collect()
}

/// The body as the consumer must return it: padded with zeros to whole slots.
pub fn padded(body: &[u8]) -> Vec<u8> {
    let mut v = body.to_vec();
    v.resize(body.len().div_ceil(SLOT_SIZE) * SLOT_SIZE, 0);
    v
}

/// The info bits the producer must keep from a caller's `EntryKind::info`.
pub fn kept_info(info_word: u32) -> u32 {
    info_word & !(info::LENGTH_MASK | info::LOSS | info::SKIP)
}

/// A non-meta entry kind derived from `id`. Its info word deliberately has
/// junk in the length, LOSS and SKIP bits, which the producer must replace;
/// reserved bits are left clear (the consumer rejects them).
pub fn kind_for(id: u64) -> EntryKind {
    let h = mix(id ^ 0xC0FF_EE00);
    let ty = 1 + (h as u32 % EntryHeader::TYPE_MAX); // never 0: 0 is Category::Meta
    EntryKind { ty, subtype: (h >> 32) as u8, info: mix(h) as u32 & !info::RESERVED_MASK }
}

/// Runs `f` on its own thread and fails if it does not finish within `secs`:
/// turns "loops forever" into a test failure instead of a hung run.
pub fn with_watchdog<F: FnOnce() + Send + 'static>(secs: u64, f: F) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => handle.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic here.
            if let Err(p) = handle.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: did not finish within {secs}s (infinite loop?)"),
    }
}
