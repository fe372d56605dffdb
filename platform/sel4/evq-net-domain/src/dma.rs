//! DMA memory for virtio-drivers: the domain's DMA window, physically
//! contiguous, handed out by a bump allocator and never returned (the
//! queues and buffers live as long as the domain).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use evq_sel4_runtime::info::DeviceInfo;
use evq_sel4_runtime::{info, DomainInfo};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

const PAGE: usize = 4096;

static PADDR: AtomicU64 = AtomicU64::new(0);
static PAGES: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// The NIC's registers: physical address, mapping, length.
static MMIO_PADDR: AtomicU64 = AtomicU64::new(0);
static MMIO_VADDR: AtomicUsize = AtomicUsize::new(0);
static MMIO_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Takes the DMA window the root task described, and where the NIC's
/// registers are; false if there is no DMA memory.
pub fn init(info: &DomainInfo, nic: &DeviceInfo) -> bool {
    PADDR.store(info.dma_paddr, Ordering::Relaxed);
    PAGES.store(info.dma_pages as usize, Ordering::Relaxed);
    MMIO_PADDR.store(nic.paddr, Ordering::Relaxed);
    MMIO_VADDR.store(nic.vaddr as usize, Ordering::Relaxed);
    MMIO_BYTES.store(nic.pages as usize * PAGE - (nic.paddr as usize % PAGE), Ordering::Relaxed);
    info.dma_pages > 0
}

/// `pages` of the window, zeroed; `None` when it is used up.
fn take(pages: usize) -> Option<(PhysAddr, NonNull<u8>)> {
    let first = NEXT.fetch_add(pages, Ordering::Relaxed);
    if first + pages > PAGES.load(Ordering::Relaxed) {
        return None;
    }
    let vaddr = info::DMA_WINDOW_ADDR + first * PAGE;
    // SAFETY: the pages lie in the DMA window, mapped read-write for the
    // domain's life, and were handed out to nobody before.
    unsafe { core::ptr::write_bytes(vaddr as *mut u8, 0, pages * PAGE) };
    Some((PADDR.load(Ordering::Relaxed) + (first * PAGE) as u64, NonNull::new(vaddr as *mut u8)?))
}

/// A frame buffer in DMA memory: two pages, more than a virtio-net frame
/// and its header need.
pub struct Buffer {
    base: NonNull<u8>,
}

impl Buffer {
    const BYTES: usize = 2 * PAGE;

    /// A new buffer, or `None` when the window is used up.
    pub fn new() -> Option<Self> {
        take(Self::BYTES / PAGE).map(|(_, base)| Self { base })
    }

    /// Its bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the buffer's pages are this domain's alone (the NIC reads
        // or writes them only while lent, when the driver does not call
        // this), mapped for the domain's life.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), Self::BYTES) }
    }
}

/// virtio-drivers' view of the DMA window.
pub struct DmaHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned, physically contiguous
// memory that nothing else uses, with its true physical address; `share`
// gives the physical address of memory inside the window (every buffer this
// domain lends the NIC is a `Buffer` there) and refuses anything else;
// `mmio_phys_to_virt` maps only the NIC's granted registers.
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match take(pages) {
            Some(region) => region,
            None => panic!("evq-net: the DMA window is used up"),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // Only the NIC's own registers, which the root task mapped.
        let base = MMIO_PADDR.load(Ordering::Relaxed);
        let bytes = MMIO_BYTES.load(Ordering::Relaxed) as u64;
        let inside = paddr >= base && paddr.checked_add(size as u64).is_some_and(|end| end <= base + bytes);
        match NonNull::new((MMIO_VADDR.load(Ordering::Relaxed) + (paddr.wrapping_sub(base)) as usize) as *mut u8) {
            Some(vaddr) if inside => vaddr,
            _ => panic!("evq-net: the NIC named registers outside the ones it was granted"),
        }
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let vaddr = buffer.cast::<u8>().as_ptr() as usize;
        let window = info::DMA_WINDOW_ADDR..info::DMA_WINDOW_ADDR + PAGES.load(Ordering::Relaxed) * PAGE;
        if !window.contains(&vaddr) || vaddr + buffer.len() > window.end {
            panic!("evq-net: a buffer outside DMA memory was lent to the NIC");
        }
        PADDR.load(Ordering::Relaxed) + (vaddr - info::DMA_WINDOW_ADDR) as u64
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
