//! evq's root task: the system initializer and every domain's fault monitor.
//!
//! It reads the system description embedded at build time
//! (`images/<board>/system.toml`, checked by `build.rs`) and builds each
//! domain it names from the domain's embedded ELF image: a VSpace with the
//! image loaded, an IPC buffer, a CNode holding exactly the capabilities its
//! role grants ([`evq_system::System::grants`]), an info page saying where
//! they are (`evq-domain-info`), and a TCB whose fault handler is the root
//! task (`setup`). The event server starts first; it gets untyped memory for
//! its ring pool.
//!
//! The root task is a source of its own, the supervisor: what a domain's
//! start, fault or exit means is `evq_supervisor`'s to say (the one
//! definition for every platform), and the root task carries out its
//! duties: it publishes the events through `evq_source::Publisher` into
//! its own ingest ring, which never blocks it (a full ring drops the event
//! and counts it, and the server turns the count into loss its clients
//! see), and it tells the server when a client is gone, by a call, so that
//! its rings are revoked before the root task goes on. When
//! the event server itself faults or exits, the system stops: the root task
//! suspends every domain, says so on the serial line, and suspends itself.
//! It never calls a server it knows to be gone.
#![no_std]
#![no_main]

mod domain;
mod elf;
mod error;
mod ingest;
mod objects;
mod setup;

use evq_abi::event::process;
use evq_domain_info as info;
use evq_sel4_ipc::{EndpointLink, RingPublisher};
use evq_source::Publisher;
use evq_supervisor::{Duty, Fault, Supervisor, Verdict};
use evq_system::MAX_DOMAINS;
use sel4::init_thread;
use sel4_root_task::{root_task, Never};

use error::SetupError;
use setup::Builder;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}
use generated::{IMAGES, SYSTEM};

#[root_task(stack_size = 256 * 1024)]
fn main(bootinfo: &sel4::BootInfoPtr) -> sel4::Result<Never> {
    sel4::debug_println!("evq: root task: building the {} system: {} domains", SYSTEM.board, SYSTEM.domains.len());
    match System::build(bootinfo, counter_hz(bootinfo)) {
        Ok(mut system) => system.monitor(),
        Err(why) => {
            sel4::debug_println!("TEST_FAIL: evq: root task: {why}");
            init_thread::suspend_self()
        }
    }
}

/// The running system, as its supervisor sees it.
struct System {
    /// What each start, fault and exit means.
    supervisor: Supervisor<'static>,
    /// The supervisor source's events: its own ingest ring.
    events: RingPublisher,
    /// The supervisor's calls (`ClientGone`), on the root task's own
    /// badged capability to the server's endpoint.
    calls: Publisher<EndpointLink>,
    /// Where every domain's faults and exits arrive, badged with its id.
    fault: sel4::cap::Endpoint,
    /// Each running domain's TCB, by domain index.
    tcbs: [Option<sel4::cap::Tcb>; MAX_DOMAINS],
}

impl System {
    /// Builds and starts every domain, the server first: every other
    /// domain's start is published to it.
    fn build(bootinfo: &sel4::BootInfo, counter_hz: u64) -> Result<Self, SetupError> {
        let mut builder = Builder::new(bootinfo, counter_hz)?;
        let publish = builder.publish_endpoint()?;
        let mut system = System {
            supervisor: Supervisor::new(&SYSTEM),
            events: builder.root_publisher()?,
            calls: EndpointLink::publisher(publish),
            fault: builder.fault_endpoint(),
            tcbs: [None; MAX_DOMAINS],
        };
        let (server_id, _) = SYSTEM.server().ok_or(SetupError::NoServer)?;
        let order = core::iter::once(server_id).chain((1..=SYSTEM.domains.len() as u32).filter(|&id| id != server_id));
        for id in order {
            let tcb = builder.domain(id).map_err(|error| SetupError::Domain { id, error })?;
            system.tcbs[id as usize - 1] = Some(tcb);
            let name = SYSTEM.domain_by_id(id).map_or("?", |d| d.name);
            sel4::debug_println!("evq: root task: started domain {id} ({name})");
            system.supervise(|s, duties| s.started(id, duties));
        }
        system.supervise(|s, duties| s.all_started(duties));
        Ok(system)
    }

    /// Gives the supervisor one input and carries out its duties, in
    /// order; stops the system when it says so.
    fn supervise(&mut self, input: impl FnOnce(&mut Supervisor<'static>, &mut dyn FnMut(Duty)) -> Verdict) {
        let System { supervisor, events, calls, .. } = self;
        if input(supervisor, &mut |duty| carry_out(events, calls, duty)) == Verdict::Stops {
            self.stop()
        }
    }

    /// Waits for faults and exits, forever.
    fn monitor(&mut self) -> ! {
        loop {
            let (msg, badge) = self.fault.recv(());
            let id = badge as u32;
            let Some(tcb) = self.tcbs.get(id.wrapping_sub(1) as usize).copied().flatten() else {
                sel4::debug_println!("evq: root task: a message on the fault endpoint from unknown badge {badge}");
                continue;
            };
            let Some(domain) = SYSTEM.domain_by_id(id) else { continue };
            let _ = tcb.tcb_suspend();
            self.tcbs[id as usize - 1] = None;
            if msg.label() == info::EXIT_LABEL {
                let code = sel4::with_ipc_buffer(|ipc| ipc.msg_regs()[0]) as i64;
                sel4::debug_println!("evq: root task: domain {id} ({}) exited with {code}", domain.name);
                self.supervise(|s, duties| s.exited(id, code, duties));
            } else {
                let fault = fault_of(&msg);
                sel4::debug_println!(
                    "evq: root task: domain {id} ({}) faulted: kind {} address {:#x} ip {:#x}",
                    domain.name,
                    fault.kind,
                    fault.address,
                    fault.ip
                );
                self.supervise(|s, duties| s.faulted(id, fault, duties));
            }
        }
    }

    /// The system cannot go on (the event server is gone): every domain is
    /// suspended, and then the root task itself. Nothing is published: there
    /// is no server to take it, and a call to it would never return.
    fn stop(&mut self) -> ! {
        for tcb in self.tcbs.iter_mut().filter_map(Option::take) {
            // A TCB the root task made and holds; suspending it cannot fail
            // but for a revoked capability, and then the thread is gone anyway.
            let _ = tcb.tcb_suspend();
        }
        sel4::debug_println!("evq: root task: the event server is gone; the system is stopped");
        init_thread::suspend_self()
    }
}

/// Carries out one duty of the supervisor. A failure is logged, not fatal:
/// the root task goes on monitoring whatever the server does.
fn carry_out(events: &mut RingPublisher, calls: &mut Publisher<EndpointLink>, duty: Duty) {
    match duty {
        Duty::Publish(notice) => {
            let dropped = events.link().dropped();
            if let Err(e) = events.publish_one(notice.event()) {
                sel4::debug_println!("evq: root task: a supervisor event did not go into its ring: {e}");
            }
            if events.link().dropped() != dropped {
                sel4::debug_println!(
                    "evq: root task: its ingest ring is full: {} events dropped so far (clients see the loss)",
                    events.link().dropped()
                );
            }
        }
        Duty::ClientGone { badge } => match calls.client_gone(badge) {
            Ok(true) => {}
            // Every client is registered when the server starts.
            Ok(false) => sel4::debug_println!("evq: root task: the server did not know client {badge:#x}"),
            Err(e) => sel4::debug_println!("evq: root task: reporting client {badge:#x} gone: {e}"),
        },
    }
}

/// The fault the kernel reported in `msg`. A domain can also send on its
/// own fault endpoint, so the label is checked before the message is
/// decoded as a fault (rust-sel4's decoder panics on a label it does not
/// know): anything but the faults the kernel sends for a thread like these
/// is reported as "other", and the domain is stopped all the same.
fn fault_of(msg: &sel4::MessageInfo) -> Fault {
    use sel4::sys::seL4_Fault_tag as tag;
    let known = [
        tag::seL4_Fault_CapFault,
        tag::seL4_Fault_UnknownSyscall,
        tag::seL4_Fault_UserException,
        tag::seL4_Fault_VMFault,
    ];
    let (kind, address, ip) = if !known.contains(&msg.label()) {
        (process::fault::OTHER, 0, 0)
    } else {
        match sel4::with_ipc_buffer(|ipc| sel4::Fault::new(ipc, msg)) {
            sel4::Fault::VmFault(f) => (process::fault::VM, f.inner().get_Addr(), f.inner().get_IP()),
            sel4::Fault::CapFault(f) => (process::fault::CAP, 0, f.inner().get_IP()),
            sel4::Fault::UnknownSyscall(f) => (process::fault::UNKNOWN_SYSCALL, 0, f.inner().get_FaultIP()),
            sel4::Fault::UserException(f) => (process::fault::USER_EXCEPTION, 0, f.inner().get_FaultIP()),
            _ => (process::fault::OTHER, 0, 0),
        }
    };
    Fault { kind, address, ip }
}

/// How fast the counter user code reads runs: the generic timer's frequency
/// register on aarch64.
#[cfg(target_arch = "aarch64")]
fn counter_hz(_bootinfo: &sel4::BootInfoPtr) -> u64 {
    let hz: u64;
    // SAFETY: reading the counter frequency has no side effect; the kernel
    // lets EL0 read it with the count (`KernelArmExportVCNTUser`).
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
    hz
}

/// How fast the `time` CSR user code reads runs: the platform's timebase,
/// as seL4's configuration of the platform declares it (`TIMER_FREQUENCY`,
/// the device tree's `timebase-frequency`), which the kernel programs its
/// own timer by.
#[cfg(target_arch = "riscv64")]
fn counter_hz(_bootinfo: &sel4::BootInfoPtr) -> u64 {
    sel4::sel4_cfg_usize!(TIMER_FREQUENCY) as u64
}

/// How fast the TSC runs, as the kernel measured it at boot (boot-info
/// extra `X86TscFreq`, in MHz); 0 if it did not say.
#[cfg(target_arch = "x86_64")]
fn counter_hz(bootinfo: &sel4::BootInfoPtr) -> u64 {
    bootinfo
        .extra()
        .find(|e| e.id == sel4::BootInfoExtraId::X86TscFreq)
        .and_then(|e| e.content().get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .map_or(0, |mhz| u64::from(mhz) * 1_000_000)
}
