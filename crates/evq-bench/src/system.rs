//! A real hosted evq system for the benchmark: `evq run` with a description
//! of the benchmark's own, driven over its console like `evq tail` and the
//! end-to-end tests drive theirs.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use evq_hosted::console::{self, Console, Status};

use crate::common::{self, Scratch};

/// Data pages of every client's ring in the benchmark (§4's 16-page rings).
pub const RING_PAGES: u32 = 16;

/// Client slots in the fan-out description: as many clients as the server's
/// client table holds (`evq_server::limits::MAX_CLIENTS`, 64).
pub const MAX_CLIENT_SLOTS: usize = evq_server::limits::MAX_CLIENTS;

// The server, the source and every client slot make one description.
const _: () = assert!(MAX_CLIENT_SLOTS + 2 <= evq_system::MAX_DOMAINS);

/// The source slot the workload's source attaches to.
pub const SOURCE_SLOT: &str = "bench-source";

/// Frames of the ring pool: 64 rings (the server's whole queue table,
/// `evq_server::limits::MAX_QUEUES`) of [`RING_PAGES`] data pages and their
/// control page.
pub const POOL_PAGES: u32 = 64 * (RING_PAGES + 1);

/// What a client's queue does when its ring is full: a parameter of every
/// fan-out point (the JSON lines' `"mode"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The server drops the event for that queue, counts it and tells the
    /// client (a loss entry).
    Drop,
    /// The server holds the event, and the source, back instead, so no
    /// event is lost: every client slot is marked [`LOSSLESS_FLAG_LINE`],
    /// and the hosted server shell registers those clients with
    /// `Server::register_lossless_client`.
    Lossless,
}

/// The line of a client domain's table in the system description that
/// makes its queues lossless (`evq-system`'s `lossless` flag).
pub const LOSSLESS_FLAG_LINE: &str = "lossless = true";

impl Mode {
    /// Both modes, in the order the tables list them. The fan-out measures
    /// every point in each, on a system of its own.
    pub const ALL: [Mode; 2] = [Mode::Drop, Mode::Lossless];

    /// Its name in the JSON lines and in `EVQ_BENCH_MODE`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Drop => "drop",
            Mode::Lossless => "lossless",
        }
    }

    /// What a client slot's table says for this mode.
    pub fn client_flag(self) -> &'static str {
        match self {
            Mode::Drop => "",
            Mode::Lossless => LOSSLESS_FLAG_LINE,
        }
    }
}

/// The fan-out description: the server, a source slot publishing Device
/// events with no budget, and `clients` client slots (at most
/// [`MAX_CLIENT_SLOTS`]) in `mode`; with `vfs`, the VFS domain besides
/// them (a source of VFS events).
pub fn description(clients: usize, vfs: bool, mode: Mode) -> String {
    let flag = mode.client_flag();
    let mut d = format!(
        "board = \"hosted-bench\"\n\n\
         [[domain]]\nname = \"evq-server\"\nimage = \"evq-server\"\npriority = 200\nrole = \"server\"\nring_pool_pages = {POOL_PAGES}\n\n\
         [[domain]]\nname = \"{SOURCE_SLOT}\"\nimage = \"attach\"\npriority = 150\nrole = \"source\"\nbadge = 0x31\ncategories = [\"device\"]\n\n"
    );
    if vfs {
        d.push_str(
            "[[domain]]\nname = \"vfs\"\nimage = \"evq-vfs\"\npriority = 150\nrole = \"source\"\nbadge = 0x11\ncategories = [\"vfs\"]\n\n",
        );
    }
    for i in 0..clients {
        d.push_str(&format!(
            "[[domain]]\nname = \"{}\"\nimage = \"attach\"\npriority = 100\nrole = \"client\"\nbadge = {:#x}\n",
            client_slot(i),
            0x100 + i
        ));
        if !flag.is_empty() {
            d.push_str(flag);
            d.push('\n');
        }
        d.push('\n');
    }
    d
}

/// The name of client slot `i` in [`description`]'s systems (the fan-out's
/// clients attach to their slots by name: a lossless slot is taken only so).
pub fn client_slot(i: usize) -> String {
    format!("client-{i}")
}

/// A running system: `evq run` in a scratch directory, with its console.
pub struct EvqSystem {
    child: Child,
    /// Its console.
    pub console_path: PathBuf,
    console: Console,
    dir: Scratch,
}

impl EvqSystem {
    /// Starts `evq run` with `description` (seccomp on where the kernel has
    /// it, as `make run` runs it).
    pub fn start(tag: &str, description: &str) -> io::Result<EvqSystem> {
        let evq = common::evq_binary()?;
        let dir = Scratch::new(tag, None)?;
        let file = dir.path.join("system.toml");
        std::fs::write(&file, description)?;
        let console_path = dir.path.join("console");
        let log = std::fs::File::create(dir.path.join("evq-run.log"))?;
        let child = Command::new(evq)
            .arg("run")
            .arg("--system")
            .arg(&file)
            .arg("--console")
            .arg(&console_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let console = match Console::connect_within(&console_path, Duration::from_secs(20)) {
            Ok(c) => c,
            Err(e) => {
                let log = std::fs::read_to_string(dir.path.join("evq-run.log")).unwrap_or_default();
                return Err(io::Error::other(format!("evq run did not come up: {e}\n{log}")));
            }
        };
        Ok(EvqSystem { child, console_path, console, dir })
    }

    /// The system's state.
    pub fn status(&self) -> io::Result<Status> {
        self.console.status()
    }

    /// A new console connection (its attached slots are held until it closes).
    pub fn connect(&self) -> io::Result<Console> {
        Console::connect(&self.console_path)
    }

    /// Waits until no slot is attached and the server holds no queue: the
    /// previous run's processes are gone and reclaimed.
    pub fn wait_idle(&self) -> io::Result<()> {
        common::until("the system is idle", Duration::from_secs(20), || {
            let s = self.status()?;
            Ok(s.server.queues == 0 && s.domains.iter().all(|d| d.state != "attached"))
        })
    }

    /// The server domain's process id.
    pub fn server_pid(&self) -> io::Result<i32> {
        self.status()?
            .domains
            .iter()
            .find(|d| d.role == "server")
            .and_then(|d| d.pid)
            .ok_or_else(|| io::Error::other("no server process"))
    }

    /// The launcher's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("evq-run.log")).unwrap_or_default()
    }
}

impl Drop for EvqSystem {
    fn drop(&mut self) {
        let _ = self.console.request(&console::Request::Shutdown);
        let stopped = common::until("evq run stops", Duration::from_secs(10), || Ok(self.child.try_wait()?.is_some()));
        if stopped.is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_description_the_benchmark_writes_is_a_valid_system() {
        for mode in Mode::ALL {
            for (clients, vfs) in [(MAX_CLIENT_SLOTS, false), (1, true)] {
                let d = description(clients, vfs, mode);
                let system = match evq_system::parse(&d) {
                    Ok(system) => system,
                    Err(e) => panic!("{} description with {clients} clients does not parse: {e:?}\n{d}", mode.name()),
                };
                // The client slots are exactly `client_slot(0..clients)`, and
                // in lossless mode exactly they are lossless.
                let mut slots: Vec<&str> = system
                    .domains
                    .iter()
                    .filter(|d| matches!(d.role, evq_system::Role::Client { .. }))
                    .map(|d| d.name)
                    .collect();
                slots.sort_unstable();
                let mut expected: Vec<String> = (0..clients).map(client_slot).collect();
                expected.sort_unstable();
                assert_eq!(slots, expected, "{} description's client slots", mode.name());
                let mut lossless: Vec<&str> = system.domains.iter().filter(|d| d.lossless).map(|d| d.name).collect();
                lossless.sort_unstable();
                assert_eq!(
                    lossless,
                    if mode == Mode::Lossless { slots.clone() } else { Vec::new() },
                    "{} description",
                    mode.name()
                );
                assert!(system.domains.iter().any(|d| d.name == SOURCE_SLOT));
                assert_eq!(system.domains.iter().any(|d| d.name == "vfs"), vfs);
            }
        }
    }
}
