//! Counting what each process of a run does, with `perf stat` attached to
//! it: system calls (`raw_syscalls:sys_enter`), context switches and CPU
//! time. This is the evidence `docs/performance.md` gives for what bounds a
//! figure. Where `perf` is missing or refused, the profile is skipped.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The counters of one process over a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// System calls entered.
    pub syscalls: f64,
    /// Context switches.
    pub switches: f64,
    /// CPU time, ms.
    pub cpu_ms: f64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.syscalls += o.syscalls;
        self.switches += o.switches;
        self.cpu_ms += o.cpu_ms;
    }
}

const EVENTS: &str = "raw_syscalls:sys_enter,context-switches,task-clock";

/// Whether `perf stat` can count system calls here.
pub fn available() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", EVENTS, "--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `perf stat` attached to some processes.
pub struct Perf {
    child: Child,
    out: PathBuf,
    pids: Vec<(String, u32)>,
}

impl Perf {
    /// Attaches to `pids`, each named by its role.
    pub fn attach(pids: &[(String, u32)], out: PathBuf) -> io::Result<Perf> {
        let list: Vec<String> = pids.iter().map(|(_, p)| p.to_string()).collect();
        let child = Command::new("perf")
            .args(["stat", "-x,", "--per-thread", "-e", EVENTS, "-p", &list.join(","), "-o"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // perf opens its counters before the workload starts.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Perf { child, out, pids: pids.to_vec() })
    }

    /// Stops counting; the counts summed per role, in the order roles first
    /// appear.
    pub fn finish(mut self) -> io::Result<Vec<(String, Counts)>> {
        // SAFETY: signals our own child, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait()?;
        let text = std::fs::read_to_string(&self.out)?;
        let mut roles: Vec<(String, Counts)> = Vec::new();
        for (role, _) in &self.pids {
            if !roles.iter().any(|(r, _)| r == role) {
                roles.push((role.clone(), Counts::default()));
            }
        }
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() < 4 {
                continue;
            }
            let Some(tid) = f[0].rsplit('-').next().and_then(|t| t.parse::<u32>().ok()) else { continue };
            let value: f64 = f[1].parse().unwrap_or(0.0);
            let Some((role, _)) = self.pids.iter().find(|(_, p)| *p == tid) else { continue };
            let mut c = Counts::default();
            match f[3] {
                e if e.starts_with("raw_syscalls") => c.syscalls = value,
                "context-switches" => c.switches = value,
                "task-clock" => c.cpu_ms = value,
                _ => continue,
            }
            if let Some((_, total)) = roles.iter_mut().find(|(r, _)| r == role) {
                total.add(&c);
            }
        }
        let _ = std::fs::remove_file(&self.out);
        Ok(roles)
    }
}
