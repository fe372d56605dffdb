//! Ingest rings: every source's, and the root task's own, each an evq ring
//! (`docs/protocol.md` §2) in frames the root task makes. The control page
//! is laid out here (`evq_ring::Producer::lay_out`, through the scratch
//! page); the frames are mapped read-write into the server (its window for
//! the ring) and into the source, which are the ring's consumer and
//! producer. A source also gets a room notification, which it waits on
//! when its ring is full and the server signals.

use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_domain_info as info;
use evq_sel4_ipc::{RingPublisher, Sel4Doorbell};
use evq_source::{Publisher, RingLink, WhenFull};
use evq_system::ROOT_INGEST_PAGES;
use sel4::init_thread;

use crate::domain::{BuildError, Scratch};
use crate::objects::Objects;

/// One ingest ring, as the root task holds it.
#[derive(Clone, Copy, Debug)]
pub struct IngestRing {
    /// The slot of its first frame in the root task's CNode; frame `f` is
    /// in slot `first + f`. These are the originals, which the server maps.
    pub first: usize,
    /// Its geometry.
    pub geometry: RingGeometry,
    /// Its place among the rings: its window in the server and its bit in
    /// the server's notification word.
    pub index: usize,
    /// The source's room notification; `None` for the root task's ring,
    /// whose producer never waits.
    pub room: Option<sel4::cap::Notification>,
}

impl IngestRing {
    /// Makes the frames of a ring of `pages` data pages, lays out its
    /// control page, and (with `room`) its source's room notification.
    pub fn make(
        objects: &mut Objects,
        scratch: &Scratch,
        pages: u32,
        index: usize,
        room: bool,
    ) -> Result<Self, BuildError> {
        let geometry = RingGeometry::new(pages).map_err(|_| BuildError::BadRing)?;
        let frames = geometry.frames() as usize;
        let first = objects.slots(frames)?;
        for f in 0..frames {
            objects.fixed_into::<sel4::cap_type::Granule>(first + f)?;
        }
        scratch.lay_out_ring(granule(first), geometry)?;
        let room = if room { Some(objects.fixed::<sel4::cap_type::Notification>()?) } else { None };
        Ok(Self { first, geometry, index, room })
    }

    /// Its frames' count.
    pub fn frames(&self) -> usize {
        self.geometry.frames() as usize
    }

    /// Its bytes: the control page and the data pages.
    pub fn bytes(&self) -> usize {
        self.geometry.region_bytes()
    }

    /// Where it is mapped in the server.
    pub fn server_vaddr(&self) -> usize {
        info::INGEST_WINDOW_ADDR + self.index * info::INGEST_STRIDE
    }

    /// The badge of a source's doorbell: a signal, and which ring rang.
    pub fn doorbell_badge(&self) -> u64 {
        info::INGEST_SIGNAL | 1 << self.index
    }

    /// Frame `f`, the original.
    pub fn frame(&self, f: usize) -> sel4::cap::Granule {
        granule(self.first + f)
    }

    /// A copy of frame `f` in a new slot of the root task's CNode: a frame
    /// capability maps once, and the server maps the original.
    pub fn copy_frame(&self, objects: &mut Objects, f: usize) -> Result<sel4::cap::Granule, BuildError> {
        let copy = granule(objects.slot()?);
        let root = init_thread::slot::CNODE.cap();
        root.absolute_cptr(copy).copy(&root.absolute_cptr(self.frame(f)), sel4::CapRights::read_write())?;
        Ok(copy)
    }
}

/// A frame capability of the root task's CNode, by slot.
pub fn granule(index: usize) -> sel4::cap::Granule {
    init_thread::Slot::<sel4::cap_type::Granule>::from_index(index).cap()
}

/// Bytes of the root task's own ring.
const ROOT_RING_BYTES: usize = (ROOT_INGEST_PAGES as usize + 1) * PAGE_SIZE;

#[repr(C, align(4096))]
struct RootRingWindow(#[allow(dead_code)] [u8; ROOT_RING_BYTES]);

/// Pages of the root task's address space, their own frames unmapped,
/// where its ingest ring's frames are mapped. Never read or written as a
/// Rust object: only its address is taken.
static mut ROOT_RING_WINDOW: RootRingWindow = RootRingWindow([0; ROOT_RING_BYTES]);

/// The root task's publisher for its process and system events: its own
/// ring, mapped over [`ROOT_RING_WINDOW`], and a doorbell of its own to
/// the server's notification (`server_notification`, badged like a
/// source's). A full ring drops and counts ([`WhenFull::Drop`]): the root
/// task must go on watching the domains whatever the server does.
pub fn root_publisher(
    bootinfo: &sel4::BootInfo,
    objects: &mut Objects,
    ring: &IngestRing,
    server_notification: sel4::cap::Notification,
) -> Result<RingPublisher, BuildError> {
    unsafe extern "C" {
        static __executable_start: usize;
    }
    let window = core::ptr::addr_of!(ROOT_RING_WINDOW) as usize;
    let image_start = core::ptr::addr_of!(__executable_start) as usize;
    let vspace = init_thread::slot::VSPACE.cap();
    for f in 0..ring.frames() {
        let addr = window + f * PAGE_SIZE;
        bootinfo.user_image_frames().index(addr / PAGE_SIZE - image_start / PAGE_SIZE).cap().frame_unmap()?;
        let copy = ring.copy_frame(objects, f)?;
        copy.frame_map(vspace, addr, sel4::CapRights::read_write(), sel4::VmAttributes::default())?;
    }
    let base = NonNull::new(window as *mut u8).ok_or(BuildError::BadRing)?;
    // SAFETY: the window's pages are the ring's frames, mapped read-write
    // here for the root task's life (their image frames are unmapped, and
    // no Rust object lives there); the server maps them in its own address
    // space, and the producer reaches them through atomics only.
    let producer = unsafe { evq_ring::Producer::attach(base, ring.bytes()) }.map_err(|_| BuildError::BadRing)?;
    let doorbell = init_thread::Slot::<sel4::cap_type::Notification>::from_index(objects.slot()?).cap();
    let root = init_thread::slot::CNODE.cap();
    root.absolute_cptr(doorbell).mint(
        &root.absolute_cptr(server_notification),
        sel4::CapRights::write_only(),
        ring.doorbell_badge(),
    )?;
    Ok(Publisher::new(RingLink::new(producer, Sel4Doorbell::new(doorbell, None), WhenFull::Drop)))
}

const _: () = assert!(ROOT_RING_BYTES <= info::INGEST_STRIDE);
