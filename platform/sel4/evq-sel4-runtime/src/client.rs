//! evq's client transport on seL4, for `evq_client::Session`: requests are
//! calls on the client's badged endpoint, ring frames arrive one per reply
//! in slots of the client's own CNode, and are mapped into its ring window,
//! whose page tables the root task prepared.
//!
//! Limits: one ring at a time (the window holds one of up to 64 data pages
//! and its control page, and a second `CreateQueue` is refused with
//! [`Sel4Error::NoRoom`]).

use core::ptr::NonNull;

use crate::{call, info, receive_into, DomainInfo, Message};
use evq_abi::msg::{Reply, Request};
use evq_abi::PAGE_SIZE;
use evq_client::Transport;

/// The most frames one client maps: its ring window.
const MAX_FRAMES: usize = info::CLIENT_RING_WINDOW_PAGES;

/// Why a call or a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel4Error {
    /// The request does not encode.
    Encode,
    /// The reply does not decode.
    Decode,
    /// A reply that should carry a frame carried none.
    NoFrame,
    /// The ring does not fit the window, or the CNode is full.
    NoRoom,
    /// The kernel refused to map a frame.
    Map(sel4::Error),
}

impl core::fmt::Display for Sel4Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Sel4Error::Encode => f.write_str("the request does not encode"),
            Sel4Error::Decode => f.write_str("the server's reply does not decode"),
            Sel4Error::NoFrame => f.write_str("a reply that should carry a frame carried none"),
            Sel4Error::NoRoom => f.write_str("the ring does not fit the ring window, or the CNode is full"),
            Sel4Error::Map(e) => write!(f, "the kernel refused to map a frame: {e}"),
        }
    }
}

/// The transport.
pub struct Sel4Transport {
    server: sel4::cap::Endpoint,
    notification: sel4::cap::Notification,
    next_free_slot: u64,
    slot_limit: u64,
    /// Frames received for the queue being set up, by frame index.
    frames: [u64; MAX_FRAMES],
    received: usize,
    mapped: usize,
}

impl Sel4Transport {
    /// The transport of the client `info` describes.
    pub fn new(info: &DomainInfo) -> Self {
        Self {
            server: sel4::cap::Endpoint::from_bits(info::slot::SERVER),
            notification: sel4::cap::Notification::from_bits(info::slot::SIXTH),
            next_free_slot: info.first_free_slot,
            slot_limit: 1 << info.cnode_bits,
            frames: [0; MAX_FRAMES],
            received: 0,
            mapped: 0,
        }
    }

    /// Frames mapped so far.
    pub fn mapped_frames(&self) -> usize {
        self.mapped
    }

    /// How many of the mapped frames' capabilities the kernel still knows.
    pub fn frames_live(&self) -> usize {
        self.frames[..self.mapped].iter().filter(|&&slot| frame_is_live(sel4::cap::Granule::from_bits(slot))).count()
    }

    fn rpc(&mut self, request: &Request<'_>, expect_frame: bool) -> Result<Reply, Sel4Error> {
        let mut m = Message::new();
        let (label, len) = request.encode(&mut m.body).map_err(|_| Sel4Error::Encode)?;
        m.label = label;
        m.len = len;
        let slot = self.next_free_slot;
        if expect_frame {
            if slot >= self.slot_limit || self.received >= MAX_FRAMES {
                return Err(Sel4Error::NoRoom);
            }
            receive_into(slot);
        }
        let (reply, caps) = call(self.server, &m);
        let reply = Reply::decode(label, reply.label, reply.body()).map_err(|_| Sel4Error::Decode)?;
        if expect_frame && !matches!(reply, Reply::Error { .. }) {
            if caps != 1 {
                return Err(Sel4Error::NoFrame);
            }
            self.frames[self.received] = slot;
            self.received += 1;
            self.next_free_slot += 1;
        }
        Ok(reply)
    }
}

impl Transport for Sel4Transport {
    type Error = Sel4Error;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, Sel4Error> {
        let expect_frame = matches!(request, Request::CreateQueue { .. } | Request::RingFrames { .. });
        if matches!(request, Request::CreateQueue { .. }) {
            // This transport maps one ring: its window holds one.
            if self.mapped != 0 {
                return Err(Sel4Error::NoRoom);
            }
            self.received = 0;
        }
        self.rpc(request, expect_frame)
    }

    fn map_ring(&mut self, queue: u32, frames: u32) -> Result<(NonNull<u8>, usize), Sel4Error> {
        let frames = frames as usize;
        if frames > MAX_FRAMES {
            return Err(Sel4Error::NoRoom);
        }
        while self.received < frames {
            let first = self.received as u32;
            match self.rpc(&Request::RingFrames { queue, first }, true)? {
                Reply::RingFrames { first: got, count: 1 } if got == first => {}
                _ => return Err(Sel4Error::NoFrame),
            }
        }
        let vspace = sel4::cap::VSpace::from_bits(info::slot::VSPACE);
        for (i, &slot) in self.frames[..frames].iter().enumerate() {
            sel4::cap::Granule::from_bits(slot)
                .frame_map(
                    vspace,
                    info::RING_WINDOW_ADDR + i * PAGE_SIZE,
                    sel4::CapRights::read_write(),
                    sel4::VmAttributes::default(),
                )
                .map_err(Sel4Error::Map)?;
            self.mapped = i + 1;
        }
        let base = NonNull::new(info::RING_WINDOW_ADDR as *mut u8).ok_or(Sel4Error::NoRoom)?;
        Ok((base, frames * PAGE_SIZE))
    }

    fn block(&mut self) {
        self.notification.wait();
    }
}

/// Whether `frame` still holds a capability. A debug kernel says so quietly.
#[sel4::sel4_cfg(DEBUG_BUILD)]
fn frame_is_live(frame: sel4::cap::Granule) -> bool {
    frame.debug_identify() != 0
}

/// Whether `frame` still holds a capability: a release kernel is asked for
/// the frame's address, which fails on an empty slot.
#[sel4::sel4_cfg(not(DEBUG_BUILD))]
fn frame_is_live(frame: sel4::cap::Granule) -> bool {
    frame.frame_get_address().is_ok()
}
