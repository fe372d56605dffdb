//! The runtime of every domain the evq root task builds, after rust-sel4's
//! spawn-task example: `_start` sets up a stack in `.bss`, thread-local
//! storage and the IPC buffer (the page after the image, where the root task
//! maps it), then calls the domain's `main` with its [`DomainInfo`].
//!
//! On top of that: evq's messages over seL4 IPC (a label and a body in the
//! message registers, [`evq_abi::msg`]; `evq-sel4-ipc`, re-exported here),
//! the publishers a source reaches the event server with
//! ([`ring_publisher`]: `evq_source::Publisher` over the source's ingest
//! ring, for its events; [`publisher`]: over its badged endpoint, for a
//! publish that needs the server's answer), and leaving through the root
//! task ([`exit`]), which turns it into a process event.
#![no_std]
#![deny(missing_docs)]

use core::ptr;

// Linked for its `#[panic_handler]`: print the panic, then stop.
extern crate sel4_panicking;

mod client;
mod ingest;
pub use client::{Sel4Error, Sel4Transport};
pub use ingest::{ring_publisher, RingError};

pub use evq_domain_info::{self as info, DomainInfo};
pub use evq_sel4_ipc::{call, CallError, EndpointLink, Message, RingPublisher, Sel4Doorbell};
use evq_source::Publisher;
pub use evq_source::WhenFull;
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
/// `KernelArmExportVCNTUser`), the `time` CSR on riscv64, the TSC on
/// x86_64. `None` if the root task could not say how fast the counter runs.
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
#[cfg(target_arch = "riscv64")]
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading the `time` CSR has no side effect; the firmware lets
    // user level read it (`scounteren.TM`, which OpenSBI sets).
    unsafe { core::arch::asm!("rdtime {}", out(reg) ticks, options(nomem, nostack)) };
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

/// A source domain's publisher over its badged endpoint to the event
/// server (slot [`info::slot::SERVER`]), waiting out back-pressure by
/// yielding: calls, one per message, each answered. A source's events go
/// through its ingest ring ([`ring_publisher`]); this is for a publish
/// whose refusal the source must see (the boot test's forged event).
pub fn publisher() -> Publisher<EndpointLink> {
    EndpointLink::publisher(sel4::cap::Endpoint::from_bits(info::slot::SERVER))
}

/// Sets where the next capability this domain receives lands: `slot` of its
/// own CNode.
pub fn receive_into(slot: u64) {
    let cnode = sel4::cap::CNode::from_bits(info::slot::CNODE);
    let target = cnode.absolute_cptr(sel4::cap::Unspecified::from_bits(slot));
    sel4::with_ipc_buffer_mut(|ipc| ipc.set_recv_slot(&target));
}
