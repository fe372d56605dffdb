//! The counters the benchmark reads. Under QEMU's `-icount shift=0,sleep=off`
//! they count retired instructions, exactly and repeatably.
//!
//! - aarch64: `PMCCNTR_EL0`, the cycle counter, counts at every exception
//!   level including the kernel's EL2 (`PMCCFILTR_EL0.NSH`); under icount a
//!   cycle is an instruction. Event counter 0 counts `INST_RETIRED` at EL0
//!   only: the user part. The kernel must let EL0 at the PMU
//!   (`KernelArmExportPMUUser`).
//! - x86_64: the TSC, which under icount advances one per instruction; no
//!   user/kernel split.
//! - riscv64: the `instret` CSR, which QEMU under icount reads from its
//!   instruction count, at every privilege level; no user/kernel split. The
//!   firmware must let user level read it (`scounteren.IR`, which OpenSBI
//!   sets).
//!
//! Every counter is read inside one `asm!` block, so no work can be moved
//! between the reads.

/// One reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Instructions at every level.
    pub total: u64,
    /// Instructions at user level (aarch64 only; 0 elsewhere).
    pub user: u64,
}

impl Count {
    /// What happened from `earlier` to `self`.
    pub fn since(self, earlier: Count) -> Count {
        Count {
            total: self.total.wrapping_sub(earlier.total),
            // The event counter is 32 bits wide.
            user: u64::from((self.user as u32).wrapping_sub(earlier.user as u32)),
        }
    }
}

/// Whether the counters split user from kernel here.
pub const SPLIT: bool = cfg!(target_arch = "aarch64");

/// Sets the PMU up: the cycle counter at every level, event counter 0 on
/// instructions retired at EL0, both started from zero.
#[cfg(target_arch = "aarch64")]
pub fn init() {
    const INST_RETIRED: u64 = 0x08;
    const EXCLUDE_EL1: u64 = 1 << 31; // PMEVTYPER.P
    const INCLUDE_EL2: u64 = 1 << 27; // PMCCFILTR.NSH
    const ENABLE: u64 = 1 << 31 | 1; // PMCNTENSET: cycle counter, counter 0
                                     // PMCR: enable, reset events, reset cycles.
    const START: u64 = 1 | 1 << 1 | 1 << 2;
    // SAFETY: the kernel gives EL0 the PMU (`KernelArmExportPMUUser`); these
    // writes configure counters that nothing else in the system uses.
    unsafe {
        core::arch::asm!(
            "msr pmevtyper0_el0, {ev}",
            "msr pmccfiltr_el0, {cf}",
            "msr pmcntenset_el0, {en}",
            "msr pmcr_el0, {cr}",
            "isb",
            ev = in(reg) INST_RETIRED | EXCLUDE_EL1,
            cf = in(reg) INCLUDE_EL2,
            en = in(reg) ENABLE,
            cr = in(reg) START,
            options(nostack),
        )
    };
}

/// Nothing to set up: the TSC, or `instret`, runs.
#[cfg(any(target_arch = "x86_64", target_arch = "riscv64"))]
pub fn init() {}

/// Reads the counters.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub fn read() -> Count {
    let (total, user): (u64, u64);
    // SAFETY: reading the PMU counters has no side effect; EL0 may.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {t}, pmccntr_el0",
            "mrs {u}, pmevcntr0_el0",
            t = out(reg) total,
            u = out(reg) user,
            options(nomem, nostack),
        )
    };
    Count { total, user }
}

/// Reads the counter.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn read() -> Count {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the time-stamp counter.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    Count { total: u64::from(hi) << 32 | u64::from(lo), user: 0 }
}

/// Reads the counter.
#[cfg(target_arch = "riscv64")]
#[inline(always)]
pub fn read() -> Count {
    let total: u64;
    // SAFETY: reading `instret` has no side effect; user level may.
    unsafe { core::arch::asm!("rdinstret {}", out(reg) total, options(nomem, nostack)) };
    Count { total, user: 0 }
}
