//! §2, the server core's own work per event: instructions counted by
//! callgrind in the example `core_profile` (its documentation
//! says what it runs), for 1, 2, 4 and 8 matching queues, on each of the
//! two paths by which a shell hands the core a source's events: `call` (a
//! `PublishBatch` message through `Server::handle`) and `ingest` (the
//! source's ingest ring through `Server::drain`).
//!
//! Each count is one run of `core_profile PATH QUEUES ROUNDS` under
//! `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect=*core_profile::server_round*`, so callgrind counts the
//! instructions executed inside `server_round` (and everything it calls:
//! `Server::handle` or `Server::drain`, the decode or the ingest ring's
//! read, the fan-out, the ring writes), and nothing
//! else: not the setup, not the source's encoding, not the reader. A second
//! run with `reader_round` counts the client reader alone. The total of
//! each run (callgrind's `totals:` line) divided by the events the program
//! says it published is the figure: **instructions per published event**,
//! over every matching queue. The added cost of each further matching queue
//! is `(I(N) − I(1)) / (N − 1)`. Instruction counts are exact and do not
//! depend on the machine's load, only on the build (and the compiler).
//!
//! `make bench` builds the example first. Where valgrind is missing the
//! part prints one `SKIPPED:` line and the rest of the benchmark runs.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{self, verdict, Json, Scratch};

/// The matching queue counts measured.
pub const QUEUES: [usize; 4] = [1, 2, 4, 8];

/// The paths measured: `core_profile`'s first argument.
pub const PATHS: [&str; 2] = ["call", "ingest"];

/// The target: the server core's instructions per event, 1 queue.
pub const TARGET_ONE_QUEUE: f64 = 150.0;

/// Which function callgrind counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `server_round`: on the call path `Server::handle` of one
    /// `PublishBatch`, on the ingest path the `Server::drain` passes that
    /// take one ring's events.
    Server,
    /// `reader_round`: every queue drained by the client reader.
    Reader,
}

impl Part {
    fn function(self) -> &'static str {
        match self {
            Part::Server => "*core_profile::server_round*",
            Part::Reader => "*core_profile::reader_round*",
        }
    }
}

/// Why the part cannot run here: `Err` with the `SKIPPED:` line's reason.
pub fn available() -> Result<PathBuf, String> {
    let valgrind = Command::new("valgrind").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !valgrind.is_ok_and(|s| s.success()) {
        return Err(
            "valgrind is not installed (install it, e.g. `apt-get install valgrind`, to count instructions)".into()
        );
    }
    profile_binary()
}

/// `core_profile`: `$EVQ_CORE_PROFILE`, else in the `examples` directory
/// of this executable's profile (`target/release/examples/core_profile`
/// for `cargo bench`).
pub fn profile_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("EVQ_CORE_PROFILE") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("no path to this executable: {e}"))?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples").join("core_profile"))
        .ok_or("no profile directory")?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "no core_profile at {} (build it with `cargo build --release -p evq-bench --example core_profile`, \
             which `make bench` does, or set EVQ_CORE_PROFILE)",
            bin.display()
        ))
    }
}

/// One count: `part`'s instructions in `core_profile path queues rounds`,
/// and the events it published.
pub fn count(bin: &Path, part: Part, path: &str, queues: usize, rounds: u64) -> io::Result<(u64, u64)> {
    let scratch = Scratch::new("callgrind", None)?;
    let out_file = scratch.path.join("callgrind.out");
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect={}", part.function()))
        .arg(bin)
        .arg(path)
        .arg(queues.to_string())
        .arg(rounds.to_string())
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "valgrind core_profile {path} {queues} {rounds} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let published = stdout
        .split_whitespace()
        .skip_while(|w| *w != "published")
        .nth(1)
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| io::Error::other(format!("core_profile said {stdout:?}, not `published P read R`")))?;
    let text = std::fs::read_to_string(&out_file)?;
    let total = totals(&text).ok_or_else(|| io::Error::other("callgrind's output has no totals line"))?;
    if total == 0 {
        return Err(io::Error::other(format!(
            "callgrind counted nothing in {}: the function was not found (inlined, or renamed?)",
            part.function()
        )));
    }
    Ok((total, published))
}

/// The `totals:` (or, from older versions, `summary:`) line's first count.
pub fn totals(callgrind_out: &str) -> Option<u64> {
    let line = |key: &str| {
        callgrind_out
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    line("totals:").or_else(|| line("summary:"))
}

/// One path's and queue count's figures, instructions per published event.
#[derive(Clone, Copy, Debug)]
pub struct Figure {
    /// `call` or `ingest`.
    pub path: &'static str,
    /// Matching queues.
    pub queues: usize,
    /// The server core's.
    pub server: f64,
    /// The client reader's, over all queues.
    pub reader: f64,
}

/// Measures every path and queue count, `rounds` batches each.
pub fn measure(bin: &Path, rounds: u64) -> io::Result<Vec<Figure>> {
    let mut v = Vec::new();
    for path in PATHS {
        for queues in QUEUES {
            let (s, published) = count(bin, Part::Server, path, queues, rounds)?;
            let (r, published_r) = count(bin, Part::Reader, path, queues, rounds)?;
            if published == 0 || published != published_r {
                return Err(io::Error::other("core_profile published a different number of events in its two runs"));
            }
            v.push(Figure { path, queues, server: s as f64 / published as f64, reader: r as f64 / published as f64 });
        }
    }
    Ok(v)
}

/// The part as `make bench` runs it: the table, the target, the JSON lines;
/// or its `SKIPPED:` line.
pub fn run(quick: bool) -> io::Result<()> {
    let default = if quick { 200 } else { 2000 };
    let rounds = common::env_u64("EVQ_BENCH_CORE_ROUNDS", default).map_err(io::Error::other)?;
    if rounds == 0 {
        return Err(io::Error::other(format!(
            "EVQ_BENCH_CORE_ROUNDS=0: give a count of at least 1, or unset it for {default}"
        )));
    }
    // A path given by hand that is wrong is an error, not a reason to skip.
    if let Some(p) = std::env::var_os("EVQ_CORE_PROFILE") {
        if !Path::new(&p).is_file() {
            return Err(io::Error::other(format!(
                "EVQ_CORE_PROFILE={p:?} is not a file: give the path of a built core_profile \
                 (cargo build --release -p evq-bench --example core_profile), or unset it"
            )));
        }
    }
    let bin = match available() {
        Ok(bin) => bin,
        Err(why) => {
            println!("SKIPPED: server core instructions per event (callgrind): {why}");
            return Ok(());
        }
    };
    let figures = measure(&bin, rounds)?;
    println!(
        "\n### §2 The server core per published event (callgrind: `core_profile`, {rounds} batches of 32 payload-less events, every queue matching)\n"
    );
    println!("| path | matching queues | server core, instructions/event | added per further queue | client reader, instructions/event | reader per event read |");
    println!("|---|---|---|---|---|---|");
    for f in &figures {
        let one = figures.iter().find(|o| o.path == f.path && o.queues == 1).unwrap_or(f);
        let added =
            if f.queues > 1 { format!("{:.1}", (f.server - one.server) / (f.queues - 1) as f64) } else { "–".into() };
        println!(
            "| {} | {} | {:.1} | {added} | {:.1} | {:.1} |",
            f.path,
            f.queues,
            f.server,
            f.reader,
            f.reader / f.queues as f64
        );
    }
    println!("\n| target | path | measured | verdict |\n|---|---|---|---|");
    for f in figures.iter().filter(|f| f.queues == 1) {
        println!(
            "| server core, 1 queue: ≤ {TARGET_ONE_QUEUE} instructions per event | {} | {:.1} | {} |",
            f.path,
            f.server,
            verdict(TARGET_ONE_QUEUE, f.server)
        );
    }
    println!();
    for f in &figures {
        println!(
            "{}",
            Json::new("core")
                .str("path", f.path)
                .int("queues", f.queues as u64)
                .num("instructions_per_event", f.server, 1)
                .line()
        );
    }
    for f in &figures {
        println!(
            "{}",
            Json::new("core_reader")
                .str("path", f.path)
                .int("queues", f.queues as u64)
                .num("instructions_per_event", f.reader, 1)
                .line()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_either_line() {
        assert_eq!(totals("events: Ir\nsummary: 123\ntotals: 29229360\n"), Some(29_229_360));
        assert_eq!(totals("events: Ir\nsummary: 77\n"), Some(77));
        assert_eq!(totals("events: Ir\n"), None);
    }
}
