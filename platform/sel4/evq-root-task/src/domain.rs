//! Building one protection domain: its VSpace with its image loaded, its IPC
//! buffer and info page, its CNode holding exactly the capabilities the
//! system description grants, and its TCB, ready to resume.

use core::ops::Range;
use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_domain_info::{self as info, slot, DomainInfo};
use sel4::init_thread;
use zerocopy::IntoBytes;

use crate::elf::{Elf, PF_W};
use crate::objects::{Objects, OutOf};
use sel4::CapTypeForObjectOfFixedSize;

/// Why a domain could not be built.
#[derive(Clone, Copy, Debug)]
pub enum BuildError {
    /// The image is not an executable this root task can load.
    BadImage,
    /// Out of memory or slots.
    Out(OutOf),
    /// The kernel refused an invocation.
    Kernel(sel4::Error),
    /// The image overlaps the info page or the ring window.
    Overlap,
    /// An ingest ring's size is not a ring's, or its control page does not
    /// attach once laid out.
    BadRing,
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::BadImage => f.write_str("the image is not a 64-bit executable"),
            BuildError::Out(OutOf::Slots) => f.write_str("the root task's CNode is full"),
            BuildError::Out(OutOf::Memory(e)) => write!(f, "retype failed (out of memory?): {e}"),
            BuildError::Kernel(e) => write!(f, "the kernel refused: {e}"),
            BuildError::Overlap => f.write_str("the image overlaps the info page or the ring window"),
            BuildError::BadRing => {
                f.write_str("an ingest ring's size is not a ring's, or its laid-out control page does not attach")
            }
        }
    }
}

impl From<OutOf> for BuildError {
    fn from(e: OutOf) -> Self {
        BuildError::Out(e)
    }
}

impl From<sel4::Error> for BuildError {
    fn from(e: sel4::Error) -> Self {
        BuildError::Kernel(e)
    }
}

/// A page of the root task's address space, its own frame unmapped, where
/// a new frame is mapped while the root task fills it.
pub struct Scratch {
    addr: usize,
}

#[repr(C, align(4096))]
struct ScratchPage(#[allow(dead_code)] [u8; PAGE_SIZE]);

static mut SCRATCH_PAGE: ScratchPage = ScratchPage([0; PAGE_SIZE]);

impl Scratch {
    /// Unmaps the image frame behind the scratch page.
    pub fn new(bootinfo: &sel4::BootInfo) -> sel4::Result<Self> {
        unsafe extern "C" {
            static __executable_start: usize;
        }
        let addr = core::ptr::addr_of!(SCRATCH_PAGE) as usize;
        let image_start = core::ptr::addr_of!(__executable_start) as usize;
        bootinfo.user_image_frames().index(addr / PAGE_SIZE - image_start / PAGE_SIZE).cap().frame_unmap()?;
        Ok(Self { addr })
    }

    /// Writes `bytes` at `offset` into `frame`.
    fn fill(&self, frame: sel4::cap::Granule, offset: usize, bytes: &[u8]) -> sel4::Result<()> {
        assert!(offset + bytes.len() <= PAGE_SIZE);
        let vspace = init_thread::slot::VSPACE.cap();
        frame.frame_map(vspace, self.addr, sel4::CapRights::read_write(), sel4::VmAttributes::default())?;
        // SAFETY: the frame is new and mapped only here, at a page no Rust
        // object occupies (its image frame was unmapped), so nothing else
        // reads or writes it while it is filled.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (self.addr + offset) as *mut u8, bytes.len()) };
        frame.frame_unmap()
    }

    /// Lays out the control page of a fresh ring of `geometry` in
    /// `frame`, its first frame (`evq_ring::Producer::lay_out`).
    pub fn lay_out_ring(&self, frame: sel4::cap::Granule, geometry: RingGeometry) -> Result<(), BuildError> {
        let vspace = init_thread::slot::VSPACE.cap();
        frame.frame_map(vspace, self.addr, sel4::CapRights::read_write(), sel4::VmAttributes::default())?;
        let page = NonNull::new(self.addr as *mut u8).ok_or(BuildError::BadRing)?;
        // SAFETY: the frame is new and mapped only here, at a page no Rust
        // object occupies (its image frame was unmapped), page-aligned, so
        // nothing else touches it while its control page is written.
        let laid_out = unsafe { evq_ring::Producer::lay_out(page, geometry) };
        frame.frame_unmap()?;
        laid_out.map_err(|_| BuildError::BadRing)
    }
}

/// A domain under construction.
pub struct Domain {
    /// Its id.
    pub id: u32,
    /// Its CNode, as the root task addresses it.
    pub cnode: sel4::cap::CNode,
    /// Its CNode has `2^cnode_bits` slots.
    pub cnode_bits: u32,
    /// Its TCB.
    pub tcb: sel4::cap::Tcb,
    vspace: sel4::cap::VSpace,
    entry: usize,
    ipc_buffer: (usize, sel4::cap::Granule),
    info_frame: sel4::cap::Granule,
}

fn round_down(n: usize, to: usize) -> usize {
    n - n % to
}

/// Maps the translation tables that `range` of `vspace` needs, leaving the
/// ones already there.
pub fn map_tables(objects: &mut Objects, vspace: sel4::cap::VSpace, range: Range<usize>) -> Result<(), BuildError> {
    for level in 1..sel4::vspace_levels::NUM_LEVELS {
        let span = 1usize << sel4::vspace_levels::span_bits(level);
        let ty = sel4::TranslationTableObjectType::from_level(level).ok_or(BuildError::BadImage)?;
        let mut addr = round_down(range.start, span);
        while addr < range.end {
            let table = objects.make(ty.blueprint())?.cast::<sel4::cap_type::UnspecifiedIntermediateTranslationTable>();
            match table.generic_intermediate_translation_table_map(ty, vspace, addr, sel4::VmAttributes::default()) {
                // The table is there already, for a range mapped before:
                // the new one is not needed (its memory stays retyped).
                Ok(()) | Err(sel4::Error::DeleteFirst) => {}
                Err(e) => return Err(e.into()),
            }
            addr += span;
        }
    }
    Ok(())
}

impl Domain {
    /// Builds domain `id` from `image`: loads it, maps its IPC buffer and
    /// prepares the tables of its info page and of `ring_window_pages` of
    /// ring window and `device_pages` of device window. Its CNode has
    /// `2^cnode_bits` slots, all empty.
    pub fn build(
        objects: &mut Objects,
        scratch: &Scratch,
        id: u32,
        image: &[u8],
        cnode_bits: u32,
        ring_window_pages: usize,
        device_pages: usize,
    ) -> Result<Self, BuildError> {
        let elf = Elf::parse(image).ok_or(BuildError::BadImage)?;
        let vspace = objects.fixed::<sel4::cap_type::VSpace>()?;
        init_thread::slot::ASID_POOL.cap().asid_pool_assign(vspace)?;

        // The pages the segments cover: from the lowest start to the highest end.
        let (mut lowest, mut highest) = (usize::MAX, 0);
        for segment in elf.segments() {
            let s = segment.ok_or(BuildError::BadImage)?;
            lowest = lowest.min(round_down(s.vaddr, PAGE_SIZE));
            highest = highest.max((s.vaddr + s.memsz).next_multiple_of(PAGE_SIZE));
        }
        if lowest >= highest {
            return Err(BuildError::BadImage);
        }
        let footprint = lowest..highest;
        let ipc_buffer_addr = footprint.end;
        let window = info::RING_WINDOW_ADDR..info::RING_WINDOW_ADDR + ring_window_pages * PAGE_SIZE;
        let info_page = info::DOMAIN_INFO_ADDR..info::DOMAIN_INFO_ADDR + PAGE_SIZE;
        let image_range = footprint.start..ipc_buffer_addr + PAGE_SIZE;
        let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
        if overlaps(&image_range, &window) || overlaps(&image_range, &info_page) || overlaps(&info_page, &window) {
            return Err(BuildError::Overlap);
        }
        map_tables(objects, vspace, image_range.clone())?;
        map_tables(objects, vspace, info_page)?;
        if !window.is_empty() {
            map_tables(objects, vspace, window)?;
        }
        if device_pages > 0 {
            let devices = info::DEVICE_WINDOW_ADDR..info::DEVICE_WINDOW_ADDR + device_pages * PAGE_SIZE;
            if overlaps(&image_range, &devices) {
                return Err(BuildError::Overlap);
            }
            map_tables(objects, vspace, devices)?;
        }

        // The image, page by page: each page gets the data of every segment
        // that touches it, and is writable if any of them is.
        let mut addr = footprint.start;
        while addr < footprint.end {
            let frame = objects.fixed::<sel4::cap_type::Granule>()?;
            let mut writable = false;
            for s in elf.segments().flatten() {
                if s.vaddr >= addr + PAGE_SIZE || s.vaddr + s.memsz <= addr {
                    continue;
                }
                writable |= s.flags & PF_W != 0;
                let start = s.vaddr.max(addr);
                let end = (s.vaddr + s.data.len()).min(addr + PAGE_SIZE);
                if start < end {
                    scratch.fill(frame, start - addr, &s.data[start - s.vaddr..end - s.vaddr])?;
                }
            }
            let rights = if writable { sel4::CapRights::read_write() } else { sel4::CapRights::read_only() };
            frame.frame_map(vspace, addr, rights, sel4::VmAttributes::default())?;
            addr += PAGE_SIZE;
        }

        let ipc_frame = objects.fixed::<sel4::cap_type::Granule>()?;
        ipc_frame.frame_map(vspace, ipc_buffer_addr, sel4::CapRights::read_write(), sel4::VmAttributes::default())?;
        let info_frame = objects.fixed::<sel4::cap_type::Granule>()?;
        let cnode = objects.sized::<sel4::cap_type::CNode>(cnode_bits as usize)?;
        let tcb = objects.fixed::<sel4::cap_type::Tcb>()?;
        Ok(Self {
            id,
            cnode,
            cnode_bits,
            tcb,
            vspace,
            entry: elf.entry(),
            ipc_buffer: (ipc_buffer_addr, ipc_frame),
            info_frame,
        })
    }

    /// The guard that makes a capability pointer in this CSpace its slot index.
    fn guard(&self) -> sel4::CNodeCapData {
        sel4::CNodeCapData::new(0, sel4::WORD_SIZE - self.cnode_bits as usize)
    }

    /// Slot `index` of this domain's CNode, as the root task addresses it.
    pub fn slot(&self, index: u64) -> sel4::AbsoluteCPtr {
        self.cnode.absolute_cptr_from_bits_with_depth(index, self.cnode_bits as usize)
    }

    /// Puts a copy of the root task's `cap` in `index`, with `rights` and `badge`.
    pub fn grant<T: sel4::CapType>(
        &self,
        index: u64,
        cap: sel4::Cap<T>,
        rights: sel4::CapRights,
        badge: u64,
    ) -> sel4::Result<()> {
        self.slot(index).mint(&init_thread::slot::CNODE.cap().absolute_cptr(cap), rights, badge)
    }

    /// Moves the root task's `cap` into `index`: the root task keeps no copy.
    pub fn give<T: sel4::CapType>(&self, index: u64, cap: sel4::Cap<T>) -> sel4::Result<()> {
        self.slot(index).move_(&init_thread::slot::CNODE.cap().absolute_cptr(cap))
    }

    /// Makes `pages` of physically contiguous memory, maps them at the DMA
    /// window, and returns their physical address.
    pub fn map_dma(&self, objects: &mut Objects, pages: usize) -> Result<u64, BuildError> {
        if pages == 0 {
            return Ok(0);
        }
        // One untyped, retyped into all the frames at once, hands them out
        // in address order from its start: they are contiguous.
        let bits = (pages * PAGE_SIZE).next_power_of_two().trailing_zeros() as usize;
        let untyped = objects.sized::<sel4::cap_type::Untyped>(bits)?;
        let first = objects.slots(pages)?;
        untyped.untyped_retype(
            &sel4::cap_type::Granule::object_blueprint(),
            &init_thread::slot::CNODE.cap().absolute_cptr_for_self(),
            first,
            pages,
        )?;
        let frame = |i: usize| init_thread::Slot::<sel4::cap_type::Granule>::from_index(first + i).cap();
        map_tables(objects, self.vspace, info::DMA_WINDOW_ADDR..info::DMA_WINDOW_ADDR + pages * PAGE_SIZE)?;
        for i in 0..pages {
            let addr = info::DMA_WINDOW_ADDR + i * PAGE_SIZE;
            frame(i).frame_map(self.vspace, addr, sel4::CapRights::read_write(), sel4::VmAttributes::default())?;
        }
        Ok(frame(0).frame_get_address()? as u64)
    }

    /// Its VSpace, for the root task to map shared frames into later.
    pub fn vspace(&self) -> sel4::cap::VSpace {
        self.vspace
    }

    /// Maps a page of device registers, uncached, as page `index` of the
    /// domain's device window.
    pub fn map_device(&self, frame: sel4::cap::Granule, index: usize) -> sel4::Result<usize> {
        let addr = info::DEVICE_WINDOW_ADDR + index * PAGE_SIZE;
        // On RISC-V whether memory is cached is the platform's fixed choice
        // per physical region (its PMAs), not the mapping's.
        #[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
        let attributes = sel4::VmAttributes::EXECUTE_NEVER;
        #[cfg(target_arch = "x86_64")]
        let attributes = sel4::VmAttributes::CACHE_DISABLED;
        frame.frame_map(self.vspace, addr, sel4::CapRights::read_write(), attributes)?;
        Ok(addr)
    }

    /// Fills the fixed slots every domain has: its own CNode, VSpace and
    /// TCB, and its badged capability to the root task's fault endpoint.
    pub fn grant_own(&self, fault: sel4::cap::Endpoint) -> sel4::Result<()> {
        self.grant(slot::CNODE, self.cnode, sel4::CapRights::all(), self.guard().into_word())?;
        self.grant(slot::VSPACE, self.vspace, sel4::CapRights::all(), 0)?;
        self.grant(slot::TCB, self.tcb, sel4::CapRights::all(), 0)?;
        // Send, and grant-reply so that the kernel can deliver faults on it.
        self.grant(slot::FAULT, fault, sel4::CapRights::new(true, false, false, true), u64::from(self.id))
    }

    /// Writes the info page, maps it read-only, configures the TCB at
    /// `priority`, and starts the domain.
    pub fn start(self, scratch: &Scratch, info: &DomainInfo, priority: u8) -> Result<sel4::cap::Tcb, BuildError> {
        scratch.fill(self.info_frame, 0, info.as_bytes())?;
        self.info_frame.frame_map(
            self.vspace,
            info::DOMAIN_INFO_ADDR,
            sel4::CapRights::read_only(),
            sel4::VmAttributes::default(),
        )?;
        let (ipc_addr, ipc_frame) = self.ipc_buffer;
        self.tcb.tcb_configure(
            sel4::CPtr::from_bits(slot::FAULT),
            self.cnode,
            self.guard(),
            self.vspace,
            ipc_addr as sel4::Word,
            ipc_frame,
        )?;
        let authority = init_thread::slot::TCB.cap();
        self.tcb.tcb_set_sched_params(authority, priority.into(), priority.into())?;
        let mut regs = sel4::UserContext::default();
        *regs.pc_mut() = self.entry as sel4::Word;
        self.tcb.tcb_write_all_registers(true, &mut regs)?;
        Ok(self.tcb)
    }
}
