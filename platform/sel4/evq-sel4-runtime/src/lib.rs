//! The runtime of every domain the evq root task builds, after rust-sel4's
//! spawn-task example: `_start` sets up a stack in `.bss`, thread-local
//! storage and the IPC buffer (the page after the image, where the root task
//! maps it), then calls the domain's `main` with its [`DomainInfo`].
//!
//! On top of that: evq's messages over seL4 IPC (a label and a body in the
//! message registers, [`evq_abi::msg`]), and leaving through the root task
//! ([`exit`]), which turns it into a process event.
#![no_std]
#![deny(missing_docs)]

use core::ptr;

// Linked for its `#[panic_handler]`: print the panic, then stop.
extern crate sel4_panicking;

mod client;
mod ingest;
pub use client::{Sel4Error, Sel4Transport};
pub use ingest::{ingest_region, IngestPublisher};

use evq_abi::msg::{BatchBuilder, ErrorCode, Reply, Request, MAX_MSG_BYTES};
pub use evq_domain_info::{self as info, DomainInfo};
use sel4::CapTypeForFrameObjectOfFixedSize;

#[doc(hidden)]
pub mod _private {
    pub use sel4_runtime_common;
}

/// Declares the domain's entry point: `$main` is a `fn(&'static DomainInfo) -> !`,
/// run on a `$stack`-byte stack.
#[macro_export]
macro_rules! domain_main {
    ($main:path, stack = $stack:expr) => {
        $crate::_private::sel4_runtime_common::declare_stack!($stack);
        $crate::_private::sel4_runtime_common::declare_entrypoint_with_stack_init!();
        $crate::_private::sel4_runtime_common::declare_rust_entrypoint! {
            __evq_domain_entry()
        }
        fn __evq_domain_entry() -> ! {
            $main($crate::start())
        }
    };
}

sel4_panicking_env::register_debug_put_char!(sel4::debug_put_char);

/// Installs the IPC buffer and finds the domain's [`DomainInfo`]; called by
/// the entry point [`domain_main!`] declares.
#[doc(hidden)]
pub fn start() -> &'static DomainInfo {
    // SAFETY: the root task maps this domain's IPC buffer, and nothing else,
    // on the first page past the end of the image; this thread is its only user.
    unsafe { sel4::set_ipc_buffer(ipc_buffer_addr().as_mut().expect("the IPC buffer is not at 0")) };
    // SAFETY: the root task maps the info page read-only at this address
    // before the domain starts and never changes it; nothing in this domain
    // can write it, so a shared reference for the domain's life is sound.
    let info = unsafe { &*(info::DOMAIN_INFO_ADDR as *const DomainInfo) };
    if info.magic != info::MAGIC {
        sel4::debug_println!("evq domain: no DomainInfo at {:#x}", info::DOMAIN_INFO_ADDR);
        exit(-1);
    }
    info
}

fn ipc_buffer_addr() -> *mut sel4::IpcBuffer {
    unsafe extern "C" {
        static _end: usize;
    }
    (ptr::addr_of!(_end) as usize).next_multiple_of(sel4::cap_type::Granule::FRAME_OBJECT_TYPE.bytes())
        as *mut sel4::IpcBuffer
}

/// The domain's monotonic clock, in nanoseconds since some moment at boot,
/// from the free-running counter user code may read: the generic timer's
/// virtual count on aarch64 (the kernel must export it,
/// `KernelArmExportVCNTUser`), the TSC on x86_64. `None` if the root task
/// could not say how fast the counter runs.
pub fn now_ns(info: &DomainInfo) -> Option<u64> {
    let hz = info.counter_hz;
    (hz != 0).then(|| (u128::from(counter()) * 1_000_000_000 / u128::from(hz)) as u64)
}

/// The free-running counter.
#[cfg(target_arch = "aarch64")]
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading the virtual count has no side effect; the kernel lets
    // EL0 read it (`KernelArmExportVCNTUser`).
    unsafe { core::arch::asm!("mrs {}, cntvct_el0", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// The free-running counter.
#[cfg(target_arch = "x86_64")]
pub fn counter() -> u64 {
    // SAFETY: `rdtsc` only reads the time-stamp counter, which the kernel
    // leaves readable at user level.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Tells the root task this domain is done, with `code`; it publishes the
/// exit as a process event and stops this domain's thread.
pub fn exit(code: i64) -> ! {
    let fault = sel4::cap::Endpoint::from_bits(info::slot::FAULT);
    sel4::with_ipc_buffer_mut(|ipc| ipc.msg_regs_mut()[0] = code as sel4::Word);
    fault.send(sel4::MessageInfo::new(info::EXIT_LABEL, 0, 0, 1));
    // The root task stops this thread before it would run again.
    loop {
        sel4::cap::Tcb::from_bits(info::slot::TCB).tcb_suspend().ok();
    }
}

/// A message as evq's ABI sees it: a label and a body of whole words.
#[derive(Clone, Copy)]
pub struct Message {
    /// The label.
    pub label: u32,
    /// Body bytes; `len` of them count.
    pub body: [u8; MAX_MSG_BYTES],
    /// The body's length, a multiple of 8.
    pub len: usize,
}

impl Message {
    /// An empty message.
    pub const fn new() -> Self {
        Self { label: 0, body: [0; MAX_MSG_BYTES], len: 0 }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body[..self.len]
    }

    /// Copies the message registers `info` names out of the IPC buffer.
    /// A label that does not fit 32 bits arrives as `u32::MAX`, which no
    /// evq message uses, so the decoder refuses it.
    pub fn from_ipc(info: &sel4::MessageInfo) -> Self {
        let mut m = Self::new();
        m.read_ipc(info);
        m
    }

    /// [`Message::from_ipc`] into this message, for a loop that keeps one
    /// rather than zeroing a new one per message.
    pub fn read_ipc(&mut self, info: &sel4::MessageInfo) {
        self.label = u32::try_from(info.label()).unwrap_or(u32::MAX);
        self.len = (info.length() * 8).min(MAX_MSG_BYTES);
        sel4::with_ipc_buffer(|ipc| self.body[..self.len].copy_from_slice(&ipc.msg_bytes()[..self.len]));
    }

    /// Writes the message into the IPC buffer, with `caps` as extra
    /// capabilities, and returns its `MessageInfo`.
    pub fn to_ipc(&self, caps: &[sel4::CPtr]) -> sel4::MessageInfo {
        let words = self.len.div_ceil(8);
        sel4::with_ipc_buffer_mut(|ipc| {
            ipc.msg_bytes_mut()[..self.len].copy_from_slice(&self.body[..self.len]);
            for (i, cap) in caps.iter().enumerate() {
                ipc.caps_or_badges_mut()[i] = cap.bits();
            }
        });
        sel4::MessageInfo::new(self.label.into(), 0, caps.len(), words)
    }
}

impl Default for Message {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls `endpoint` with `request` and returns the reply, and how many
/// capabilities arrived with it in the receive slot set beforehand.
pub fn call(endpoint: sel4::cap::Endpoint, request: &Message) -> (Message, usize) {
    let info = endpoint.call(request.to_ipc(&[]));
    (Message::from_ipc(&info), info.extra_caps())
}

/// Sets where the next capability this domain receives lands: `slot` of its
/// own CNode.
pub fn receive_into(slot: u64) {
    let cnode = sel4::cap::CNode::from_bits(info::slot::CNODE);
    let target = cnode.absolute_cptr(sel4::cap::Unspecified::from_bits(slot));
    sel4::with_ipc_buffer_mut(|ipc| ipc.set_recv_slot(&target));
}

/// Why the server did not take an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishError {
    /// It refused, with this code and detail (not `Busy`: that is retried).
    Refused(ErrorCode, u32),
    /// The request did not encode, or the reply did not decode.
    Malformed,
}

/// Publishes `request` (`Publish` or `PublishBatch`) on `server` until the
/// server has every event: back-pressure (`Busy`, with the number of events
/// it took) is waited out by yielding, and only the events not yet taken are
/// sent again, so nothing is lost and nothing is published twice.
pub fn publish(server: sel4::cap::Endpoint, request: &Request<'_>) -> Result<(), PublishError> {
    publish_counting(server, request, &mut 0)
}

/// [`publish`], adding to `busy` each time the server pushed back.
pub fn publish_counting(
    server: sel4::cap::Endpoint,
    request: &Request<'_>,
    busy: &mut u64,
) -> Result<(), PublishError> {
    let mut m = Message::new();
    let (label, len) = request.encode(&mut m.body).map_err(|_| PublishError::Malformed)?;
    m.label = label;
    m.len = len;
    loop {
        let (reply, _) = call(server, &m);
        match Reply::decode(m.label, reply.label, reply.body()) {
            Ok(Reply::Published { .. }) => return Ok(()),
            Ok(Reply::Error { code: ErrorCode::Busy, detail: taken }) => {
                *busy += 1;
                if taken > 0 {
                    m = rest_of_batch(&m, taken as usize)?;
                }
                sel4::r#yield();
            }
            Ok(Reply::Error { code, detail }) => return Err(PublishError::Refused(code, detail)),
            _ => return Err(PublishError::Malformed),
        }
    }
}

/// The events of batch `m` from the `skip`-th on, as a new batch.
fn rest_of_batch(m: &Message, skip: usize) -> Result<Message, PublishError> {
    let Ok(Request::PublishBatch(batch)) = Request::decode(m.label, m.body()) else {
        return Err(PublishError::Malformed);
    };
    let mut rest = Message::new();
    let mut builder = BatchBuilder::new(&mut rest.body).map_err(|_| PublishError::Malformed)?;
    for event in batch.iter().skip(skip) {
        builder.push(&event).map_err(|_| PublishError::Malformed)?;
    }
    rest.len = builder.finish();
    rest.label = m.label;
    Ok(rest)
}
