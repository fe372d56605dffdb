//! §4: the server's memory with every table full and every ring written,
//! against what the system description and `evq_server::limits` allow.
//!
//! The server core's tables are fixed-size arrays (`limits.rs`), so their
//! memory is `size_of::<Server<_>>()` whatever is in them; ring memory comes
//! from the description's `ring_pool_pages`. The measurement fills the
//! hosted server domain as far as a description lets it: every client slot
//! attached, the whole queue table (64 queues) with 16-page rings, 16
//! subscriptions on each, and every ring written to its end by critical
//! events (which may use the reserve); then reads the server process's
//! resident memory from `/proc/PID/status`, and asks for one queue more.

use std::io;

use evq_abi::event::{device, Category, Priority};
use evq_abi::msg::{Event, Filter, MAX_BATCH};
use evq_hosted::client::{Client, ClientError, HostedQueue};
use evq_server::limits::{MAX_CLIENTS, MAX_QUEUES, MAX_STAGED_TOTAL, MAX_SUBSCRIPTIONS};

use crate::system::{self, EvqSystem, Mode, MAX_CLIENT_SLOTS, POOL_PAGES, RING_PAGES, SOURCE_SLOT};

/// Resident memory of a process, KiB (`/proc/PID/status`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    /// `VmRSS`: all resident memory.
    pub total: u64,
    /// `RssAnon`: heap, stacks, the server's tables.
    pub anon: u64,
    /// `RssFile`: the executable's pages.
    pub file: u64,
    /// `RssShmem`: the rings (memfd pages), as far as they are touched.
    pub shmem: u64,
}

/// Reads `/proc/PID/status`.
pub fn rss(pid: i32) -> io::Result<Rss> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Rss { total: field("VmRSS:"), anon: field("RssAnon:"), file: field("RssFile:"), shmem: field("RssShmem:") })
}

/// What §4 reports.
#[derive(Clone, Debug)]
pub struct Report {
    /// `size_of::<Server<MemfdRings>>()`, bytes: the core's fixed tables.
    pub server_struct: usize,
    /// Clients attached.
    pub clients: usize,
    /// Queues made.
    pub queues: usize,
    /// Subscriptions over all queues.
    pub subscriptions: usize,
    /// Ring frames in use, as the server counts them.
    pub pool_pages_used: u32,
    /// The description's pool.
    pub pool_pages: u32,
    /// The server process when the system is up and empty.
    pub idle: Rss,
    /// With every table full and every ring written.
    pub full: Rss,
    /// What the server answered the request for one queue more.
    pub one_more: String,
    /// Events the rings dropped while being filled (they were full).
    pub dropped: u64,
}

fn cerr(e: ClientError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Fills a fresh system and measures it.
pub fn measure() -> io::Result<Report> {
    let sys = EvqSystem::start("memory", &system::description(MAX_CLIENT_SLOTS, false, Mode::Drop))?;
    let pid = sys.server_pid()?;
    let idle = rss(pid)?;
    let console = sys.connect()?;
    let mut clients: Vec<Client> = Vec::new();
    for _ in 0..MAX_CLIENT_SLOTS {
        clients.push(console.attach_client(None)?.1);
    }
    let mut queues: Vec<HostedQueue> = Vec::new();
    for q in 0..MAX_QUEUES {
        let n = clients.len();
        let client = &mut clients[q % n];
        let queue = client.create_queue(RING_PAGES).map_err(cerr)?;
        for _ in 0..MAX_SUBSCRIPTIONS {
            client.subscribe(&queue, Filter::all_of(Category::Device)).map_err(cerr)?;
        }
        queues.push(queue);
    }
    // Every slot of every ring written: critical events may use the whole
    // ring, and a 16-page ring holds 8192 / 5 of these.
    let (_, mut source) = console.attach_source(Some(SOURCE_SLOT))?;
    let per_ring = (RING_PAGES as u64 * 512) / 5 + 1;
    let event = Event {
        category: Category::Device,
        kind: device::INPUT,
        type_flags: 0,
        priority: Priority::Critical,
        object_id: 0,
        payload: &[],
    };
    let batch = vec![event; MAX_BATCH];
    let mut sent = 0;
    while sent < per_ring {
        source.publish(&batch).map_err(|e| io::Error::other(e.to_string()))?;
        sent += MAX_BATCH as u64;
    }
    let status = sys.status()?;
    let full = rss(pid)?;
    let last = clients.len() - 1;
    let one_more = match clients[last].create_queue(RING_PAGES) {
        Ok(_) => "granted (unexpected)".to_string(),
        Err(ClientError::Refused(code, detail)) => format!("{code:?} (detail {detail})"),
        Err(e) => e.to_string(),
    };
    let dropped = status.server.totals.dropped;
    drop(queues);
    Ok(Report {
        server_struct: std::mem::size_of::<evq_server::Server<evq_hosted::rings::MemfdRings>>(),
        clients: clients.len(),
        queues: status.server.queues,
        subscriptions: status.server.subscriptions,
        pool_pages_used: status.server.pool_pages_used,
        pool_pages: POOL_PAGES,
        idle,
        full,
        one_more,
        dropped,
    })
}

/// The report as a markdown table.
pub fn table(r: &Report) -> String {
    let kib = |b: u64| b / 1024;
    let ring_bytes = u64::from(r.pool_pages_used) * 4096;
    let pool_bytes = u64::from(r.pool_pages) * 4096;
    let growth = r.full.total.saturating_sub(r.idle.total);
    let bound = kib(pool_bytes) + kib(r.server_struct as u64);
    let mut s = String::new();
    s.push_str("| what | measured | bound (description, limits.rs) |\n|---|---|---|\n");
    s.push_str(&format!(
        "| server core tables: `size_of::<Server<MemfdRings>>()` | {} B ({} KiB) | fixed at build: {MAX_CLIENTS} clients, {MAX_QUEUES} queues × {MAX_SUBSCRIPTIONS} subscriptions, {MAX_STAGED_TOTAL} staged events |\n",
        r.server_struct,
        kib(r.server_struct as u64)
    ));
    s.push_str(&format!(
        "| tables in use | {} clients, {} queues, {} subscriptions | {MAX_CLIENTS} clients (the description: {} client slots), {MAX_QUEUES} queues, {} subscriptions |\n",
        r.clients,
        r.queues,
        r.subscriptions,
        MAX_CLIENT_SLOTS,
        MAX_QUEUES * MAX_SUBSCRIPTIONS
    ));
    s.push_str(&format!(
        "| ring frames ({} queues × ({RING_PAGES} + 1)) | {} pages = {} KiB | `ring_pool_pages` = {} = {} KiB |\n",
        r.queues,
        r.pool_pages_used,
        kib(ring_bytes),
        r.pool_pages,
        kib(pool_bytes)
    ));
    s.push_str(&format!(
        "| server RSS, empty | {} KiB (anon {}, file {}, shmem {}) | |\n",
        r.idle.total, r.idle.anon, r.idle.file, r.idle.shmem
    ));
    s.push_str(&format!(
        "| server RSS, full (every ring written; {} events dropped once full) | {} KiB (anon {}, file {}, shmem {}) | |\n",
        r.dropped, r.full.total, r.full.anon, r.full.file, r.full.shmem
    ));
    s.push_str(&format!(
        "| growth, empty → full | {growth} KiB (rings {} KiB, anon {} KiB) | ≤ pool + core tables = {bound} KiB: {} |\n",
        r.full.shmem.saturating_sub(r.idle.shmem),
        r.full.anon as i64 - r.idle.anon as i64,
        if growth <= bound { "within" } else { "EXCEEDED" }
    ));
    s.push_str(&format!("| one queue more | {} | the queue table is full |\n", r.one_more));
    s
}

/// The report as one JSON line: `{"bench":"memory",…}`, sizes in bytes
/// (`core_tables_bytes`) and KiB (`*_kib`).
pub fn json(r: &Report) -> String {
    let pool_kib = u64::from(r.pool_pages) * 4;
    let bound = pool_kib + r.server_struct as u64 / 1024;
    crate::common::Json::new("memory")
        .int("clients", r.clients as u64)
        .int("queues", r.queues as u64)
        .int("subscriptions", r.subscriptions as u64)
        .int("core_tables_bytes", r.server_struct as u64)
        .int("ring_pages_used", u64::from(r.pool_pages_used))
        .int("ring_pool_pages", u64::from(r.pool_pages))
        .int("rss_empty_kib", r.idle.total)
        .int("rss_full_kib", r.full.total)
        .int("growth_kib", r.full.total.saturating_sub(r.idle.total))
        .int("bound_kib", bound)
        .line()
}
