//! `evq stats`: the server's counters and the domains' states.

use std::io;
use std::path::Path;

use evq_abi::msg::Counters;
use evq_hosted::console::{Console, Status};

pub(crate) fn print_stats(status: &Status) -> io::Result<()> {
    let s = &status.server;
    say!(
        "server: {} clients, {} queues, {} subscriptions, {} held, ring pool {}/{} pages, {} descriptors open",
        s.clients,
        s.queues,
        s.subscriptions,
        s.staged,
        s.pool_pages_used,
        s.pool_pages,
        s.open_fds
    )?;
    // One column per counter, in the core's order and under its names.
    const WIDTHS: [usize; Counters::COUNT] = [9, 9, 9, 9, 8, 8, 9];
    let row = |id: &str, name: &str, cells: [String; Counters::COUNT]| {
        let cells: Vec<String> = cells.iter().zip(WIDTHS).map(|(c, w)| format!("{c:>w$}")).collect();
        say!("{id:<4} {name:<16} {}", cells.join(" "))
    };
    row("id", "source", Counters::NAMES.map(String::from))?;
    for src in &s.sources {
        row(&src.id.to_string(), &src.name, src.counters.to_array().map(|v| v.to_string()))?;
    }
    row("", "total", s.totals.to_array().map(|v| v.to_string()))?;
    // A ring the server no longer reads, and why.
    for src in s.sources.iter().filter(|src| src.ring.starts_with("cut off")) {
        say!("source {}: ingest ring {}", src.name, src.ring)?;
    }
    Ok(())
}

pub(crate) fn stats(path: &Path, json: bool) -> io::Result<i32> {
    let status = Console::connect(path)?.status()?;
    if json {
        say!("{}", serde_json::to_string(&status).map_err(io::Error::other)?)?;
        return Ok(0);
    }
    print_stats(&status)?;
    say!()?;
    say!("{:<4} {:<16} {:<12} {:<7} {:>8}  state", "id", "domain", "image", "role", "pid")?;
    for d in &status.domains {
        let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
        say!("{:<4} {:<16} {:<12} {:<7} {:>8}  {}", d.id, d.name, d.image, d.role, pid, d.state)?;
    }
    if status.degraded.is_empty() {
        say!("\nsystem: up")?;
    } else {
        say!("\nsystem: degraded: {}", status.degraded.join(", "))?;
    }
    say!("seccomp: {}; network: {}", status.seccomp, status.network)?;
    if let Some(p) = &status.pty {
        say!("terminal: {p}")?;
    }
    Ok(0)
}
