//! Benchmarks for evq. `make bench` runs them all:
//!
//! * `benches/ring.rs`: the ring against `rtrb` (criterion, and a summary table);
//! * `benches/hosted.rs`: the hosted system end to end, each figure beside
//!   its baseline measured in the same run: fan-out against a seqpacket relay
//!   ([`fanout`]), the VFS domain against inotify ([`inotify`]), the server's
//!   memory ([`memory`]), and scaling with the number of clients, plotted
//!   ([`plot`]);
//! * `benches/server_core.rs`: the server core's instructions per event
//!   under callgrind, for 1 to 8 matching queues ([`callgrind`]).
//!
//! Every hosted and core figure is also printed as one JSON line on
//! standard output, starting with `{"bench":` ([`common::Json`]).
//!
//! This library is the hosted benchmark's machinery: the processes of each
//! workload (the benchmark re-runs its own executable as each of them,
//! [`common::Worker`]), a real `evq run` system to measure ([`system`]), and
//! the report. `docs/performance.md` records what it measured.

pub mod callgrind;
pub mod common;
pub mod fanout;
pub mod inotify;
pub mod memory;
pub mod plot;
pub mod profile;
pub mod suite;
pub mod system;

/// If this process was started as a worker of a workload (its first
/// argument is [`common::WORKER_ARG`]), runs it and exits; otherwise returns.
/// Every bench target that starts workers calls this first.
pub fn run_worker_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(common::WORKER_ARG) {
        return;
    }
    let role = args.get(2).cloned().unwrap_or_default();
    let rest = &args[3.min(args.len())..];
    let result = fanout::worker(&role, rest).and_then(|known| {
        if known {
            return Ok(true);
        }
        inotify::worker(&role, rest)
    });
    let result =
        result.and_then(
            |known| {
                if known {
                    Ok(())
                } else {
                    Err(std::io::Error::other(format!("no worker role {role:?}")))
                }
            },
        );
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("evq-bench worker {role}: {e}");
            std::process::exit(1);
        }
    }
}
