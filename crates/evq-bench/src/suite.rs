//! The hosted benchmark as `make bench` runs it (`cargo bench -p evq-bench
//! --bench hosted`): every table, printed as markdown, each figure beside
//! its baseline from the same run and their ratio.
//!
//! Parts, all by default, or the ones named after `--`: `fanout` (§2:
//! throughput and latency against the relay), `profile` (§2: what bounds
//! it, with `perf stat`), `inotify` (§2: the VFS domain against inotify),
//! `memory` (§4), `scaling` (§5, and its plot).
//!
//! Sizes come from the environment: `EVQ_BENCH_QUICK=1` makes every part a
//! smoke run; `EVQ_BENCH_EVENTS` (events per unbatched full-load run),
//! `EVQ_BENCH_BATCH_EVENTS` (per batched run), `EVQ_BENCH_FIXED_EVENTS` (per
//! run at the fixed offered load), `EVQ_BENCH_RUNS` (runs per figure, the
//! median is reported), `EVQ_BENCH_SCALING_EVENTS`, `EVQ_BENCH_STORM_ROUNDS`
//! override them.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use crate::common::{self, latency, rate, ratio};
use crate::fanout::{self, Kind, Outcome, Sleep, Spec, BATCH};
use crate::inotify::{self, Storm};
use crate::memory;
use crate::plot::{self, Series};
use crate::profile;
use crate::system::{self, EvqSystem, MAX_CLIENT_SLOTS};

/// The fixed offered load of §2, events/s.
pub const OFFERED: u64 = 50_000;

/// The client counts of §2's tables.
pub const CLIENTS: [usize; 3] = [1, 4, 16];

/// The client count the targets are set at.
pub const TARGET_CLIENTS: usize = 4;

/// The client counts of §5, 1 to the server's 64 (every client slot of
/// the fan-out description).
pub const SCALING_CLIENTS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

const _: () = assert!(SCALING_CLIENTS[SCALING_CLIENTS.len() - 1] <= MAX_CLIENT_SLOTS);

/// How much to run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// A smoke run.
    pub quick: bool,
    /// Events per unbatched run at full load.
    pub events: u64,
    /// Events per batched run at full load.
    pub batch_events: u64,
    /// Events per run at the fixed offered load.
    pub fixed_events: u64,
    /// Runs per figure (median).
    pub runs: usize,
    /// Events per unbatched scaling run (batched: 4×).
    pub scaling_events: u64,
    /// Rounds of the file-creation storm (32 creations and 32 removals each).
    pub storm_rounds: u64,
}

impl Config {
    /// The sizes for a full or a quick run, with the environment's overrides.
    pub fn from_env(quick: bool) -> Config {
        let (events, batch_events, fixed, runs, scaling, storm) =
            if quick { (2_000, 8_000, 2_000, 1, 1_000, 2) } else { (50_000, 200_000, 25_000, 3, 20_000, 50) };
        Config {
            quick,
            events: common::env_u64("EVQ_BENCH_EVENTS", events),
            batch_events: common::env_u64("EVQ_BENCH_BATCH_EVENTS", batch_events),
            fixed_events: common::env_u64("EVQ_BENCH_FIXED_EVENTS", fixed),
            runs: common::env_u64("EVQ_BENCH_RUNS", runs).max(1) as usize,
            scaling_events: common::env_u64("EVQ_BENCH_SCALING_EVENTS", scaling),
            storm_rounds: common::env_u64("EVQ_BENCH_STORM_ROUNDS", storm).max(1),
        }
    }

    fn events_for(&self, batch: usize, rate: u64) -> u64 {
        if rate > 0 {
            self.fixed_events
        } else if batch > 1 {
            self.batch_events
        } else {
            self.events
        }
    }
}

/// Medians over a figure's runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Delivered events/s.
    pub rate: f64,
    /// Latency p50, ns.
    pub p50: u64,
    /// Latency p99, ns.
    pub p99: u64,
    /// Events lost, over all runs.
    pub lost: u64,
    /// Sleeps per delivered event (evq).
    pub sleeps_per_event: f64,
    /// Errors over all runs (out of order, timeouts): should be 0.
    pub errors: u64,
}

fn summarize(v: &[Outcome]) -> Summary {
    let mut rates: Vec<f64> = v.iter().map(Outcome::rate).collect();
    let mut p50: Vec<f64> = v.iter().map(|o| o.p(50.0) as f64).collect();
    let mut p99: Vec<f64> = v.iter().map(|o| o.p(99.0) as f64).collect();
    let delivered: u64 = v.iter().map(|o| o.delivered).sum();
    Summary {
        rate: common::median(&mut rates),
        p50: common::median(&mut p50) as u64,
        p99: common::median(&mut p99) as u64,
        lost: v.iter().map(|o| o.lost).sum(),
        sleeps_per_event: v.iter().map(|o| o.waits).sum::<u64>() as f64 / delivered.max(1) as f64,
        errors: v.iter().map(|o| o.errors).sum(),
    }
}

/// One figure: evq and the relay, `runs` times each, interleaved.
fn pair(sys: &EvqSystem, base: Spec, runs: usize) -> io::Result<(Summary, Summary)> {
    let (mut e, mut r) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        e.push(fanout::run(Spec { kind: Kind::Evq, ..base }, Some(sys))?);
        r.push(fanout::run(Spec { kind: Kind::Relay, ..base }, None)?);
    }
    Ok((summarize(&e), summarize(&r)))
}

fn spec(clients: usize, size: usize, batch: usize, events: u64, rate: u64) -> Spec {
    Spec { kind: Kind::Evq, clients, size, batch, events, rate, sleep: Sleep::Flag }
}

fn per_msg(batch: usize) -> &'static str {
    if batch > 1 {
        "16"
    } else {
        "1"
    }
}

/// Runs the parts named in `parts` (all when empty) and prints their tables.
pub fn run(cfg: Config, parts: &[String]) -> io::Result<()> {
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    header(&cfg);
    let needs_fanout = want("fanout") || want("scaling") || want("profile");
    let sys = if needs_fanout {
        Some(EvqSystem::start("fanout", &system::description(MAX_CLIENT_SLOTS, false))?)
    } else {
        None
    };
    if let (true, Some(sys)) = (want("fanout"), &sys) {
        timed("fanout", || fanout_tables(&cfg, sys))?;
    }
    if let (true, Some(sys)) = (want("profile"), &sys) {
        timed("profile", || profile_table(&cfg, sys))?;
    }
    if want("inotify") {
        timed("inotify", || inotify_table(&cfg))?;
    }
    if want("memory") {
        timed("memory", || {
            println!("\n### §4 Memory: the server with every table full and every ring written\n");
            let r = memory::measure()?;
            print!("{}", memory::table(&r));
            Ok(())
        })?;
    }
    if let (true, Some(sys)) = (want("scaling"), &sys) {
        timed("scaling", || scaling(&cfg, sys))?;
    }
    Ok(())
}

fn timed(what: &str, f: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    let t = Instant::now();
    let r = f();
    eprintln!("[evq-bench] {what}: {:.1} s", t.elapsed().as_secs_f64());
    r
}

fn header(cfg: &Config) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("\n## Hosted benchmark (cargo bench -p evq-bench --bench hosted)\n");
    println!(
        "{date}; {cores} cores ({cpu}); Linux {}; load average at start {}",
        read("/proc/sys/kernel/osrelease").trim(),
        read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "sizes: {} events per unbatched run, {} per batched run, {} per run at {} events/s, median of {} run(s){}",
        cfg.events,
        cfg.batch_events,
        cfg.fixed_events,
        OFFERED,
        cfg.runs,
        if cfg.quick { " — QUICK: a smoke run, the numbers mean nothing" } else { "" }
    );
}

fn fanout_tables(cfg: &Config, sys: &EvqSystem) -> io::Result<()> {
    let mut full = Vec::new();
    let mut fixed = Vec::new();
    for size in [32, 64] {
        for clients in CLIENTS {
            for batch in [1, BATCH] {
                let s = spec(clients, size, batch, cfg.events_for(batch, 0), 0);
                full.push((s, pair(sys, s, cfg.runs)?));
                let s = spec(clients, size, batch, cfg.events_for(batch, OFFERED), OFFERED);
                fixed.push((s, pair(sys, s, cfg.runs)?));
            }
        }
    }
    println!("\n### §2 Fan-out at full load: events/s delivered, summed over clients\n");
    println!("| record | clients | events/msg | evq | relay | evq/relay | evq p50 / p99 | relay p50 / p99 | evq lost | evq sleeps/event |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (s, (e, r)) in &full {
        println!(
            "| {} B | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} | {:.2} |",
            s.size,
            s.clients,
            per_msg(s.batch),
            rate(e.rate),
            rate(r.rate),
            ratio(e.rate, r.rate),
            latency(e.p50),
            latency(e.p99),
            latency(r.p50),
            latency(r.p99),
            e.lost,
            e.sleeps_per_event
        );
    }
    println!("\n### §2 Latency, source publish → client read, at a fixed offered load of {OFFERED} events/s\n");
    println!("| record | clients | events/msg | evq p50 | evq p99 | relay p50 | relay p99 | relay p99 / evq p99 | delivered/s evq, relay |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (s, (e, r)) in &fixed {
        println!(
            "| {} B | {} | {} | {} | {} | {} | {} | {} | {}, {} |",
            s.size,
            s.clients,
            per_msg(s.batch),
            latency(e.p50),
            latency(e.p99),
            latency(r.p50),
            latency(r.p99),
            ratio(r.p99 as f64, e.p99 as f64),
            rate(e.rate),
            rate(r.rate)
        );
    }
    let errors: u64 = full.iter().chain(&fixed).map(|(_, (e, r))| e.errors + r.errors).sum();
    if errors > 0 {
        println!("\n**{errors} events arrived out of order or clients timed out: the figures above are suspect.**");
    }
    println!("\n### §2 Targets, at {TARGET_CLIENTS} clients\n");
    println!("| target | record | measured | verdict |\n|---|---|---|---|");
    for size in [32, 64] {
        let find = |v: &[(Spec, (Summary, Summary))], batch: usize| {
            v.iter()
                .find(|(s, _)| s.size == size && s.clients == TARGET_CLIENTS && s.batch == batch)
                .map(|(_, p)| *p)
                .unwrap_or_default()
        };
        for (what, batch) in [("unbatched evq ≥ 5× unbatched relay", 1), ("evq batches of 16 ≥ 5× relay 16/msg", BATCH)]
        {
            let (e, r) = find(&full, batch);
            let x = e.rate / r.rate.max(1.0);
            println!("| {what} | {size} B | {x:.2}× | {} |", verdict(x, 5.0));
        }
        for (what, batch) in
            [("at 50k/s, evq p99 ≤ ½ relay p99 (unbatched)", 1), ("at 50k/s, evq p99 ≤ ½ relay p99 (16/msg)", BATCH)]
        {
            let (e, r) = find(&fixed, batch);
            let x = r.p99 as f64 / (e.p99 as f64).max(1.0);
            println!(
                "| {what} | {size} B | evq {} vs relay {} = relay/evq {x:.2}× | {} |",
                latency(e.p99),
                latency(r.p99),
                verdict(x, 2.0)
            );
        }
    }
    // The reference client's sleep, for comparison.
    println!("\n### §2 evq clients sleeping with a `WAIT` call (`Client::wait`) instead of the waiting flag alone, {TARGET_CLIENTS} clients, 32 B\n");
    println!("| load | events/msg | evq, WAIT per sleep | evq p50 / p99 | sleeps/event | relay | evq/relay |");
    println!("|---|---|---|---|---|---|---|");
    for (rate_, batch) in [(0, 1), (0, BATCH), (OFFERED, 1)] {
        let mut s = spec(TARGET_CLIENTS, 32, batch, cfg.events_for(batch, rate_), rate_);
        s.sleep = Sleep::WaitCall;
        let (e, r) = pair(sys, s, cfg.runs)?;
        println!(
            "| {} | {} | {} | {} / {} | {:.2} | {} | {} |",
            if rate_ > 0 { "50k/s" } else { "full" },
            per_msg(batch),
            rate(e.rate),
            latency(e.p50),
            latency(e.p99),
            e.sleeps_per_event,
            rate(r.rate),
            ratio(e.rate, r.rate)
        );
    }
    Ok(())
}

fn verdict(x: f64, target: f64) -> String {
    if x >= target {
        "met".into()
    } else {
        format!("missed: {:.0} % of the target (short by {:.1}×)", 100.0 * x / target, target / x.max(1e-9))
    }
}

fn profile_table(cfg: &Config, sys: &EvqSystem) -> io::Result<()> {
    println!("\n### §2 Profile: per published event, {TARGET_CLIENTS} clients, 32 B, full load (`perf stat` on every process of the run)\n");
    if !profile::available() {
        println!("skipped: `perf stat` is not available here (or may not count system calls)");
        return Ok(());
    }
    println!("| run | delivered/s | process | syscalls/event | context switches/event | CPU µs/event |");
    println!("|---|---|---|---|---|---|");
    let runs: [(&str, Kind, usize, Sleep); 5] = [
        ("evq, 1/msg", Kind::Evq, 1, Sleep::Flag),
        ("evq, 1/msg, WAIT per sleep", Kind::Evq, 1, Sleep::WaitCall),
        ("relay, 1/msg", Kind::Relay, 1, Sleep::Flag),
        ("evq, 16/msg", Kind::Evq, BATCH, Sleep::Flag),
        ("relay, 16/msg", Kind::Relay, BATCH, Sleep::Flag),
    ];
    for (name, kind, batch, sleep) in runs {
        let mut s = spec(TARGET_CLIENTS, 32, batch, cfg.events_for(batch, 0), 0);
        s.kind = kind;
        s.sleep = sleep;
        let (o, counts) = fanout::run_profiled(s, Some(sys), true)?;
        let n = s.events as f64;
        for (role, c) in counts {
            println!(
                "| {name} | {} | {role} | {:.2} | {:.2} | {:.2} |",
                rate(o.rate()),
                c.syscalls / n,
                c.switches / n,
                c.cpu_ms * 1000.0 / n
            );
        }
    }
    Ok(())
}

fn inotify_table(cfg: &Config) -> io::Result<()> {
    let storm = Storm { rounds: cfg.storm_rounds, per_round: 32 };
    println!(
        "\n### §2 File-creation storm: evq's VFS domain against inotify on tmpfs ({} creations and {} removals, {} events)\n",
        storm.creations(),
        storm.creations(),
        storm.events()
    );
    let Some(dir) = inotify::tmpfs_dir() else {
        println!("skipped: neither /dev/shm nor the temporary directory is a tmpfs");
        return Ok(());
    };
    let sys = EvqSystem::start("vfs", &system::description(1, true))?;
    let (e, i) = inotify::compare(storm, &sys, &dir, cfg.runs)?;
    println!("| watcher | events/s (CREATE + DELETE) | creations/s | evq/inotify |\n|---|---|---|---|");
    println!(
        "| evq: `evq fs touch`/`rm` → VFS domain → server → client ring | {} | {} | {} |",
        rate(e),
        rate(e / 2.0),
        ratio(e, i)
    );
    println!(
        "| inotify: `open(O_CREAT)`/`unlink` on tmpfs ({}) → inotify fd | {} | {} | 1.00× |",
        dir.display(),
        rate(i),
        rate(i / 2.0)
    );
    Ok(())
}

fn scaling(cfg: &Config, sys: &EvqSystem) -> io::Result<()> {
    println!("\n### §5 Scaling: events/s delivered, summed over clients, 32 B, full load\n");
    println!("| clients | evq 1/msg | relay 1/msg | evq/relay | evq 16/msg | relay 16/msg | evq/relay |");
    println!("|---|---|---|---|---|---|---|");
    let mut lines: [Vec<(u32, f64)>; 4] = Default::default();
    for n in SCALING_CLIENTS {
        let mut row = Vec::new();
        for batch in [1, BATCH] {
            let events = if batch > 1 { 4 * cfg.scaling_events } else { cfg.scaling_events };
            let s = spec(n, 32, batch, events, 0);
            let e = fanout::run(s, Some(sys))?.rate();
            let r = fanout::run(Spec { kind: Kind::Relay, ..s }, None)?.rate();
            let k = if batch > 1 { 2 } else { 0 };
            lines[k].push((n as u32, e));
            lines[k + 1].push((n as u32, r));
            row.push((e, r));
        }
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} |",
            rate(row[0].0),
            rate(row[0].1),
            ratio(row[0].0, row[0].1),
            rate(row[1].0),
            rate(row[1].1),
            ratio(row[1].0, row[1].1)
        );
    }
    let [a, b, c, d] = lines;
    let series = [
        Series { label: "evq, 1 event per publish".into(), points: a, baseline: false },
        Series { label: "relay, 1 event per message".into(), points: b, baseline: true },
        Series { label: "evq, 16 events per publish".into(), points: c, baseline: false },
        Series { label: "relay, 16 events per message".into(), points: d, baseline: true },
    ];
    let path = plot_path(cfg.quick)?;
    let text = plot::scaling(&path, "evq hosted fan-out vs seqpacket relay (32-byte events, 2 cores)", &series)?;
    println!(
        "\nplot: {}{}",
        path.display(),
        if text {
            ""
        } else {
            " (no font found: drawn without text; lines in the table's order: evq 1/msg, relay 1/msg, evq 16/msg, relay 16/msg)"
        }
    );
    Ok(())
}

/// `docs/hosted-scaling.png` for a full run; a quick run's goes under
/// `target/` so it never replaces the committed one.
fn plot_path(quick: bool) -> io::Result<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = if quick { root.join("target/evq-bench") } else { root.join("docs") };
    std::fs::create_dir_all(&dir)?;
    Ok(dir.canonicalize()?.join("hosted-scaling.png"))
}
