//! The hosted benchmark as `make bench` runs it (`cargo bench -p evq-bench
//! --bench hosted`): every table, printed as markdown, each figure beside
//! its baseline from the same run and their ratio, and every figure also as
//! one JSON line on standard output (each starting with `{"bench":`).
//!
//! Parts, all by default, or the ones named after `--`: `fanout` (§2:
//! throughput and latency against the relay, the targets), `profile` (§2:
//! what bounds it, with `perf stat`), `inotify` (§2: the VFS domain against
//! inotify, and what a watcher costs each), `memory` (§4), `scaling` (§5,
//! and its plot).
//!
//! Sizes come from the environment: `EVQ_BENCH_QUICK=1` makes every part a
//! smoke run; `EVQ_BENCH_EVENTS` (events per unbatched full-load run),
//! `EVQ_BENCH_BATCH_EVENTS` (per batched run), `EVQ_BENCH_FIXED_EVENTS` (per
//! run at the fixed offered load), `EVQ_BENCH_RUNS` (runs per figure, the
//! median is reported), `EVQ_BENCH_SCALING_EVENTS`, `EVQ_BENCH_STORM_ROUNDS`
//! override them. The fan-out's points are chosen by [`Selection`]
//! (`EVQ_BENCH_CLIENTS`, `EVQ_BENCH_RECORD`, `EVQ_BENCH_PER_MSG`,
//! `EVQ_BENCH_MODE`, `EVQ_BENCH_IMPL`). A value that is not valid is refused
//! before anything runs, with a message naming the variable and its valid
//! values.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use crate::common::{self, latency, rate, ratio, verdict, Json};
use crate::fanout::{self, Kind, Mode, Outcome, Sleep, Spec, BATCH};
use crate::inotify::{self, Side, Storm};
use crate::memory;
use crate::plot::{self, Series};
use crate::profile;
use crate::system::{self, EvqSystem, MAX_CLIENT_SLOTS};

/// The fixed offered load of §2, events/s.
pub const OFFERED: u64 = 50_000;

/// The client counts of §2's points.
pub const CLIENTS: [usize; 4] = [1, 4, 16, 64];

/// The record sizes of §2's points, bytes (`fanout`'s module documentation
/// defines the record).
pub const RECORDS: [usize; 2] = [32, 64];

/// Events per API call and per message of §2's points.
pub const PER_MSG: [usize; 2] = [1, BATCH];

/// The client count the targets are set at.
pub const TARGET_CLIENTS: usize = 4;

/// The client counts of §5, 1 to the server's 64 (every client slot of
/// the fan-out description).
pub const SCALING_CLIENTS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The parts, in the order they run.
pub const PARTS: [&str; 5] = ["fanout", "profile", "inotify", "memory", "scaling"];

const _: () = assert!(SCALING_CLIENTS[SCALING_CLIENTS.len() - 1] <= MAX_CLIENT_SLOTS);
const _: () = assert!(CLIENTS[CLIENTS.len() - 1] <= MAX_CLIENT_SLOTS);

/// The issue's targets (docs/performance.md's summary).
mod target {
    /// evq / relay delivered events per second at 4 clients, per variant.
    pub const THROUGHPUT: f64 = 5.0;
    /// evq / relay at 1 client.
    pub const ONE_CLIENT: f64 = 1.0;
    /// relay p99 / evq p99 at the fixed offered load, 4 clients.
    pub const P99: f64 = 2.0;
    /// Creation rate with a watcher / without, evq's VFS domain.
    pub const VFS_OVERHEAD: f64 = 0.9;
}

/// How much to run.
#[derive(Clone, Debug)]
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
    /// The fan-out's points.
    pub select: Selection,
}

impl Config {
    /// The sizes for a full or a quick run, with the environment's
    /// overrides; a variable that is set to something invalid is refused.
    pub fn from_env(quick: bool) -> Result<Config, String> {
        let (events, batch_events, fixed, runs, scaling, storm) =
            if quick { (2_000, 8_000, 2_000, 1, 1_000, 2) } else { (50_000, 200_000, 25_000, 3, 20_000, 50) };
        let at_least_one = |name: &str, default: u64| -> Result<u64, String> {
            match common::env_u64(name, default)? {
                0 => Err(format!("{name}=0: give a count of at least 1, or unset it for {default}")),
                n => Ok(n),
            }
        };
        Ok(Config {
            quick,
            events: at_least_one("EVQ_BENCH_EVENTS", events)?,
            batch_events: at_least_one("EVQ_BENCH_BATCH_EVENTS", batch_events)?,
            fixed_events: at_least_one("EVQ_BENCH_FIXED_EVENTS", fixed)?,
            runs: at_least_one("EVQ_BENCH_RUNS", runs)? as usize,
            scaling_events: at_least_one("EVQ_BENCH_SCALING_EVENTS", scaling)?,
            storm_rounds: at_least_one("EVQ_BENCH_STORM_ROUNDS", storm)?,
            select: Selection::from_env()?,
        })
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

// --------------------------------------------------------------------------
// The fan-out's points

/// One point of the fan-out: what its JSON lines' `clients`, `record`,
/// `per_msg` and `mode` say. Each point is measured for each selected
/// implementation at full load and at the fixed offered load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// What a full ring does.
    pub mode: Mode,
    /// Bytes of record per event.
    pub record: usize,
    /// Client processes.
    pub clients: usize,
    /// Events per API call (evq) and per datagram (relay).
    pub per_msg: usize,
}

/// Which of the fan-out's points run, from the environment: each variable
/// takes one value or a comma-separated list, and unset (or empty) means
/// every value.
///
/// | variable | values |
/// |---|---|
/// | `EVQ_BENCH_CLIENTS` | 1, 4, 16, 64 |
/// | `EVQ_BENCH_RECORD` | 32, 64 |
/// | `EVQ_BENCH_PER_MSG` | 1, 16 |
/// | `EVQ_BENCH_MODE` | drop, lossless |
/// | `EVQ_BENCH_IMPL` | evq, relay |
///
/// It applies to the `fanout` part (its tables, its targets, its `WAIT`
/// variant at 4 clients and 32 B); `scaling` and `profile` have fixed
/// points of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Client counts.
    pub clients: Vec<usize>,
    /// Record sizes.
    pub records: Vec<usize>,
    /// Events per call.
    pub per_msg: Vec<usize>,
    /// Modes.
    pub modes: Vec<Mode>,
    /// Implementations.
    pub impls: Vec<Kind>,
}

impl Selection {
    /// The selection the environment asks for.
    pub fn from_env() -> Result<Selection, String> {
        Selection::parse(&|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(format!("{name}={v:?} is not text")),
        })
    }

    /// The selection `var` (a variable's value, `None` when unset) asks for.
    pub fn parse(var: &dyn Fn(&str) -> Result<Option<String>, String>) -> Result<Selection, String> {
        fn get<T: Copy>(
            var: &dyn Fn(&str) -> Result<Option<String>, String>,
            name: &str,
            valid: &[(&str, T)],
        ) -> Result<Vec<T>, String> {
            common::parse_choice(name, &var(name)?.unwrap_or_default(), valid)
        }
        let counts = |v: &[usize]| -> Vec<(String, usize)> { v.iter().map(|n| (n.to_string(), *n)).collect() };
        fn as_ref(v: &[(String, usize)]) -> Vec<(&str, usize)> {
            v.iter().map(|(n, x)| (n.as_str(), *x)).collect()
        }
        let (c, r, p) = (counts(&CLIENTS), counts(&RECORDS), counts(&PER_MSG));
        let clients = get(var, "EVQ_BENCH_CLIENTS", &as_ref(&c))?;
        let records = get(var, "EVQ_BENCH_RECORD", &as_ref(&r))?;
        let per_msg = get(var, "EVQ_BENCH_PER_MSG", &as_ref(&p))?;
        let impls = get(var, "EVQ_BENCH_IMPL", &Kind::ALL.map(|k| (k.name(), k)))?;
        let modes = get(var, "EVQ_BENCH_MODE", &Mode::ALL.map(|m| (m.name(), m)))?;
        Ok(Selection { clients, records, per_msg, modes, impls })
    }

    /// Whether `point` is selected.
    pub fn admits(&self, point: Point) -> bool {
        self.modes.contains(&point.mode)
            && self.records.contains(&point.record)
            && self.clients.contains(&point.clients)
            && self.per_msg.contains(&point.per_msg)
    }

    /// Whether `kind` runs.
    pub fn has(&self, kind: Kind) -> bool {
        self.impls.contains(&kind)
    }

    /// Every selected point, in the tables' order: by mode, record, clients,
    /// events per call.
    pub fn points(&self) -> Vec<Point> {
        let mut v = Vec::new();
        for mode in Mode::ALL {
            for record in RECORDS {
                for clients in CLIENTS {
                    for per_msg in PER_MSG {
                        let p = Point { mode, record, clients, per_msg };
                        if self.admits(p) {
                            v.push(p);
                        }
                    }
                }
            }
        }
        v
    }

    /// Whether it is every point of both implementations.
    pub fn is_everything(&self) -> bool {
        self.clients.len() == CLIENTS.len()
            && self.records.len() == RECORDS.len()
            && self.per_msg.len() == PER_MSG.len()
            && self.impls.len() == Kind::ALL.len()
            && self.modes.len() == Mode::ALL.len()
    }

    fn describe(&self) -> String {
        let list = |v: Vec<String>| v.join(",");
        format!(
            "clients {}, record {} B, per_msg {}, mode {}, impl {}",
            list(self.clients.iter().map(ToString::to_string).collect()),
            list(self.records.iter().map(ToString::to_string).collect()),
            list(self.per_msg.iter().map(ToString::to_string).collect()),
            list(self.modes.iter().map(|m| m.name().to_string()).collect()),
            list(self.impls.iter().map(|k| k.name().to_string()).collect()),
        )
    }
}

// --------------------------------------------------------------------------
// Figures

/// Medians over a figure's runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Delivered events/s.
    pub rate: f64,
    /// Latency p50, ns.
    pub p50: u64,
    /// Latency p99, ns.
    pub p99: u64,
    /// Events delivered, over all runs (0: no latency to report).
    pub delivered: u64,
    /// Events lost, over all runs.
    pub lost: u64,
    /// Sleeps per delivered event (evq).
    pub sleeps_per_event: f64,
    /// Errors over all runs (out of order, timeouts, framing): should be 0.
    pub errors: u64,
}

impl Summary {
    fn p50_ns(&self) -> Option<u64> {
        (self.delivered > 0).then_some(self.p50)
    }

    fn p99_ns(&self) -> Option<u64> {
        (self.delivered > 0).then_some(self.p99)
    }
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
        delivered,
        lost: v.iter().map(|o| o.lost).sum(),
        sleeps_per_event: v.iter().map(|o| o.waits).sum::<u64>() as f64 / delivered.max(1) as f64,
        errors: v.iter().map(|o| o.errors).sum(),
    }
}

/// evq's and the relay's summaries of one figure; `None` for a side not run.
type Pair = [Option<Summary>; 2];

/// One figure: evq (on `sys`) and the relay, `runs` times each,
/// interleaved, each only if `select` has it.
fn pair(sys: Option<&EvqSystem>, base: Spec, runs: usize, select: &Selection) -> io::Result<Pair> {
    let mut out: [Vec<Outcome>; 2] = Default::default();
    for _ in 0..runs {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            if select.has(kind) {
                let sys = if kind == Kind::Evq { sys } else { None };
                out[i].push(fanout::run(Spec { kind, ..base }, sys)?);
            }
        }
    }
    Ok(out.map(|v| (!v.is_empty()).then(|| summarize(&v))))
}

fn spec(point: Point, events: u64, rate: u64) -> Spec {
    Spec {
        kind: Kind::Evq,
        clients: point.clients,
        size: point.record,
        batch: point.per_msg,
        mode: point.mode,
        events,
        rate,
        sleep: Sleep::Flag,
    }
}

/// One point measured: at full load and at the fixed offered load.
#[derive(Clone, Copy, Debug)]
struct Measured {
    point: Point,
    full: Pair,
    fixed: Pair,
}

impl Measured {
    /// The point's JSON line for `kind`, if it ran: throughput at full
    /// load, latency at the fixed offered load, events lost over both.
    fn json(&self, bench: &str, kind: Kind) -> Option<String> {
        let i = kind as usize;
        let (full, fixed) = (self.full[i], self.fixed[i]);
        if full.is_none() && fixed.is_none() {
            return None;
        }
        let p = self.point;
        let lost = full.map_or(0, |s| s.lost) + fixed.map_or(0, |s| s.lost);
        let line = Json::new(bench)
            .str("impl", kind.name())
            .int("clients", p.clients as u64)
            .int("record", p.record as u64)
            .int("per_msg", p.per_msg as u64)
            .str("mode", p.mode.name());
        let line = match full {
            Some(s) => line.num("delivered_per_s", s.rate, 1),
            None => line.null("delivered_per_s"),
        };
        Some(
            line.opt_int("p50_ns", fixed.and_then(|s| s.p50_ns()))
                .opt_int("p99_ns", fixed.and_then(|s| s.p99_ns()))
                .int("lost", lost)
                .line(),
        )
    }

    fn errors(&self) -> u64 {
        self.full.iter().chain(&self.fixed).flatten().map(|s| s.errors).sum()
    }
}

/// The evq systems of a run, one per mode, started when first needed.
#[derive(Default)]
struct Systems(Vec<(Mode, EvqSystem)>);

impl Systems {
    fn get(&mut self, mode: Mode) -> io::Result<&EvqSystem> {
        if let Some(i) = self.0.iter().position(|(m, _)| *m == mode) {
            return Ok(&self.0[i].1);
        }
        let description = system::description(MAX_CLIENT_SLOTS, false, mode);
        let sys = EvqSystem::start(&format!("fanout-{}", mode.name()), &description)?;
        self.0.push((mode, sys));
        Ok(&self.0[self.0.len() - 1].1)
    }
}

/// Runs the parts named in `parts` (all when empty) and prints their tables.
pub fn run(cfg: Config, parts: &[String]) -> io::Result<()> {
    // `core` is the server_core bench target's part.
    let unknown: Vec<&String> = parts.iter().filter(|p| !PARTS.contains(&p.as_str()) && *p != "core").collect();
    if !unknown.is_empty() {
        // Other bench targets' filters reach this one too (`cargo bench
        // -p evq-bench -- core`), so a name that is not a part of this one
        // is said, not refused.
        eprintln!(
            "[evq-bench] hosted: no part named {} here (parts: {})",
            unknown.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
            PARTS.join(", ")
        );
    }
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    if !PARTS.iter().any(|p| want(p)) {
        return Ok(());
    }
    header(&cfg);
    let mut systems = Systems::default();
    if want("fanout") {
        timed("fanout", || fanout_tables(&cfg, &mut systems))?;
    }
    if want("profile") {
        let sys = systems.get(Mode::Drop)?;
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
            println!("\n{}", memory::json(&r));
            Ok(())
        })?;
    }
    if want("scaling") {
        let sys = systems.get(Mode::Drop)?;
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
    if !cfg.select.is_everything() {
        println!("fan-out points selected: {}", cfg.select.describe());
    }
}

fn cell(s: Option<Summary>, f: impl Fn(Summary) -> String) -> String {
    s.map_or_else(|| "–".into(), f)
}

fn ratio_cell(a: Option<Summary>, b: Option<Summary>, f: impl Fn(Summary, Summary) -> String) -> String {
    match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => "–".into(),
    }
}

fn lat(s: Summary, p: fn(&Summary) -> Option<u64>) -> String {
    p(&s).map_or_else(|| "–".into(), latency)
}

fn fanout_tables(cfg: &Config, systems: &mut Systems) -> io::Result<()> {
    let select = &cfg.select;
    let points = select.points();
    if points.is_empty() {
        println!("\n### §2 Fan-out: no point selected\n");
        return Ok(());
    }
    let mut measured = Vec::new();
    for point in points {
        let sys = if select.has(Kind::Evq) { Some(systems.get(point.mode)?) } else { None };
        let full = pair(sys, spec(point, cfg.events_for(point.per_msg, 0), 0), cfg.runs, select)?;
        let fixed = pair(sys, spec(point, cfg.events_for(point.per_msg, OFFERED), OFFERED), cfg.runs, select)?;
        measured.push(Measured { point, full, fixed });
    }

    println!("\n### §2 Fan-out at full load: events/s delivered, summed over clients\n");
    println!("| mode | record | clients | events/call | evq | relay | evq/relay | evq lost | evq sleeps/event | evq p50 / p99 | relay p50 / p99 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &measured {
        let ([e, r], p) = (m.full, m.point);
        println!(
            "| {} | {} B | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.mode.name(),
            p.record,
            p.clients,
            p.per_msg,
            cell(e, |s| rate(s.rate)),
            cell(r, |s| rate(s.rate)),
            ratio_cell(e, r, |e, r| ratio(e.rate, r.rate)),
            cell(e, |s| s.lost.to_string()),
            cell(e, |s| format!("{:.2}", s.sleeps_per_event)),
            cell(e, |s| format!("{} / {}", lat(s, Summary::p50_ns), lat(s, Summary::p99_ns))),
            cell(r, |s| format!("{} / {}", lat(s, Summary::p50_ns), lat(s, Summary::p99_ns))),
        );
    }
    println!("\n### §2 Latency, source publish → client read, at a fixed offered load of {OFFERED} events/s\n");
    println!("| mode | record | clients | events/call | evq p50 | evq p99 | relay p50 | relay p99 | relay p99 / evq p99 | delivered/s evq, relay | evq lost |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &measured {
        let ([e, r], p) = (m.fixed, m.point);
        println!(
            "| {} | {} B | {} | {} | {} | {} | {} | {} | {} | {}, {} | {} |",
            p.mode.name(),
            p.record,
            p.clients,
            p.per_msg,
            cell(e, |s| lat(s, Summary::p50_ns)),
            cell(e, |s| lat(s, Summary::p99_ns)),
            cell(r, |s| lat(s, Summary::p50_ns)),
            cell(r, |s| lat(s, Summary::p99_ns)),
            ratio_cell(e, r, |e, r| ratio(r.p99 as f64, e.p99 as f64)),
            cell(e, |s| rate(s.rate)),
            cell(r, |s| rate(s.rate)),
            cell(e, |s| s.lost.to_string()),
        );
    }
    let errors: u64 = measured.iter().map(Measured::errors).sum();
    if errors > 0 {
        println!("\n**{errors} events arrived out of order, were framed other than the point says, or clients timed out: the figures above are suspect.**");
    }
    targets(&measured);
    println!();
    for m in &measured {
        for kind in Kind::ALL {
            if let Some(line) = m.json("fanout", kind) {
                println!("{line}");
            }
        }
    }
    wait_variant(cfg, systems)
}

/// The issue's targets, for every mode measured, from the points measured;
/// a target whose points were not selected is left out.
fn targets(measured: &[Measured]) {
    let find = |mode: Mode, record: usize, clients: usize, per_msg: usize| {
        measured.iter().find(|m| m.point == Point { mode, record, clients, per_msg })
    };
    let per_call = |k: usize| if k == 1 { "1 event per call".to_string() } else { format!("{k} events per call") };
    let mut rows = Vec::new();
    for mode in Mode::ALL {
        for record in RECORDS {
            for per_msg in PER_MSG {
                let relay_k = if per_msg == 1 { "unbatched".to_string() } else { format!("at {per_msg} per message") };
                // Throughput against the relay: at the target's clients, and at one.
                for (clients, who, goal) in [
                    (TARGET_CLIENTS, format!("{TARGET_CLIENTS} clients"), target::THROUGHPUT),
                    (1, "1 client".to_string(), target::ONE_CLIENT),
                ] {
                    if let Some([Some(e), Some(r)]) = find(mode, record, clients, per_msg).map(|m| m.full) {
                        let x = e.rate / r.rate.max(1.0);
                        rows.push((
                            mode,
                            record,
                            format!("{who}, {}: evq ≥ {goal}× the relay {relay_k}", per_call(per_msg)),
                            format!("{x:.2}× ({} vs {})", rate(e.rate), rate(r.rate)),
                            verdict(x, goal),
                        ));
                    }
                }
                if let Some(m) = find(mode, record, TARGET_CLIENTS, per_msg) {
                    if let [Some(e), Some(r)] = m.fixed {
                        let x = r.p99 as f64 / (e.p99 as f64).max(1.0);
                        rows.push((
                            mode,
                            record,
                            format!(
                                "{TARGET_CLIENTS} clients, {}, {OFFERED} events/s offered: evq p99 ≤ ½ the relay's ({relay_k})",
                                per_call(per_msg)
                            ),
                            format!(
                                "evq {} vs relay {}: relay/evq {x:.2}×",
                                lat(e, Summary::p99_ns),
                                lat(r, Summary::p99_ns)
                            ),
                            verdict(x, target::P99),
                        ));
                    }
                }
                if mode == Mode::Lossless {
                    if let Some(m) = find(mode, record, TARGET_CLIENTS, per_msg) {
                        if let (Some(e), Some(f)) = (m.full[0], m.fixed[0]) {
                            let lost = e.lost + f.lost;
                            rows.push((
                                mode,
                                record,
                                format!("{TARGET_CLIENTS} clients, {}: 0 lost", per_call(per_msg)),
                                format!("{lost} lost, at {} delivered/s", rate(e.rate)),
                                if lost == 0 { "met".into() } else { format!("missed: {lost} lost") },
                            ));
                        }
                    }
                }
            }
        }
    }
    println!("\n### §2 Targets\n");
    if rows.is_empty() {
        println!("no target's points were selected (the targets are at {TARGET_CLIENTS} clients and at 1, evq and relay both)");
    } else {
        println!("| mode | record | target | measured | verdict |\n|---|---|---|---|---|");
        for (mode, record, what, got, v) in rows {
            println!("| {} | {record} B | {what} | {got} | {v} |", mode.name());
        }
    }
}

/// The reference client's sleep (`WAIT` before every sleep), at the
/// target's 4 clients and 32 B, drop mode, for the selected events per
/// call; the relay beside it again.
fn wait_variant(cfg: &Config, systems: &mut Systems) -> io::Result<()> {
    let select = &cfg.select;
    let points: Vec<Point> = PER_MSG
        .iter()
        .map(|&per_msg| Point { mode: Mode::Drop, record: 32, clients: TARGET_CLIENTS, per_msg })
        .filter(|p| select.admits(*p))
        .collect();
    if points.is_empty() || !select.has(Kind::Evq) {
        return Ok(());
    }
    let sys = systems.get(Mode::Drop)?;
    let mut measured = Vec::new();
    for point in points {
        let mut full = spec(point, cfg.events_for(point.per_msg, 0), 0);
        let mut fixed = spec(point, cfg.events_for(point.per_msg, OFFERED), OFFERED);
        full.sleep = Sleep::WaitCall;
        fixed.sleep = Sleep::WaitCall;
        measured.push(Measured {
            point,
            full: pair(Some(sys), full, cfg.runs, select)?,
            fixed: pair(Some(sys), fixed, cfg.runs, select)?,
        });
    }
    println!("\n### §2 evq clients sleeping with a `WAIT` call (`Client::wait`) instead of the waiting flag alone, {TARGET_CLIENTS} clients, 32 B\n");
    println!("| load | events/call | evq, WAIT per sleep | evq p50 / p99 | sleeps/event | relay | evq/relay |");
    println!("|---|---|---|---|---|---|---|");
    for m in &measured {
        for (load, [e, r]) in [("full", m.full), ("50k/s", m.fixed)] {
            println!(
                "| {load} | {} | {} | {} | {} | {} | {} |",
                m.point.per_msg,
                cell(e, |s| rate(s.rate)),
                cell(e, |s| format!("{} / {}", lat(s, Summary::p50_ns), lat(s, Summary::p99_ns))),
                cell(e, |s| format!("{:.2}", s.sleeps_per_event)),
                cell(r, |s| rate(s.rate)),
                ratio_cell(e, r, |e, r| ratio(e.rate, r.rate)),
            );
        }
    }
    println!();
    for m in &measured {
        for kind in Kind::ALL {
            if let Some(line) = m.json("fanout_wait", kind) {
                println!("{line}");
            }
        }
    }
    Ok(())
}

fn profile_table(cfg: &Config, sys: &EvqSystem) -> io::Result<()> {
    println!("\n### §2 Profile: per published event, {TARGET_CLIENTS} clients, 32 B, full load (`perf stat` on every process of the run)\n");
    if !profile::available() {
        println!(
            "SKIPPED: hosted profile (perf stat): `perf stat` is not available here, or may not count system calls"
        );
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
    let mut json = Vec::new();
    for (name, kind, batch, sleep) in runs {
        let point = Point { mode: Mode::Drop, record: 32, clients: TARGET_CLIENTS, per_msg: batch };
        let mut s = spec(point, cfg.events_for(batch, 0), 0);
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
            json.push(
                Json::new("profile")
                    .str("impl", kind.name())
                    .int("clients", TARGET_CLIENTS as u64)
                    .int("record", 32)
                    .int("per_msg", batch as u64)
                    .str("sleep", if sleep == Sleep::WaitCall { "wait" } else { "flag" })
                    .str("process", &role)
                    .num("delivered_per_s", o.rate(), 1)
                    .num("syscalls_per_event", c.syscalls / n, 3)
                    .num("switches_per_event", c.switches / n, 3)
                    .num("cpu_us_per_event", c.cpu_ms * 1000.0 / n, 3)
                    .line(),
            );
        }
    }
    println!();
    for line in json {
        println!("{line}");
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
        println!(
            "SKIPPED: VFS storm and notification overhead: neither /dev/shm nor the temporary directory is a tmpfs"
        );
        return Ok(());
    };
    let sys = EvqSystem::start("vfs", &system::description(1, true, Mode::Drop))?;
    let (e, i): (Side, Side) = inotify::compare(storm, &sys, &dir, cfg.runs)?;
    println!("| watcher | events/s (CREATE + DELETE) | creations/s | evq/inotify |\n|---|---|---|---|");
    println!(
        "| evq: `evq fs touch`/`rm` → VFS domain → server → client ring | {} | {} | {} |",
        rate(e.events_per_s),
        rate(e.events_per_s / 2.0),
        ratio(e.events_per_s, i.events_per_s)
    );
    println!(
        "| inotify: `open(O_CREAT)`/`unlink` on tmpfs ({}) → inotify fd | {} | {} | 1.00× |",
        dir.display(),
        rate(i.events_per_s),
        rate(i.events_per_s / 2.0)
    );
    println!(
        "\n### §2 VFS notification overhead: file creations/s at the creator with a watcher, over the rate with none\n"
    );
    println!("| path | with a watcher | without | ratio | target |\n|---|---|---|---|---|");
    println!(
        "| evq: VFS domain, a client subscribed to its CREATE and DELETE | {} | {} | {:.2} | ≥ {}: {} |",
        rate(e.with_watcher_per_s),
        rate(e.without_per_s),
        e.overhead_ratio(),
        target::VFS_OVERHEAD,
        verdict(e.overhead_ratio(), target::VFS_OVERHEAD)
    );
    println!(
        "| inotify on tmpfs, `IN_CREATE \\| IN_DELETE` watch on the directory | {} | {} | {:.2} | (beside it) |",
        rate(i.with_watcher_per_s),
        rate(i.without_per_s),
        i.overhead_ratio()
    );
    println!();
    for (name, side) in [("evq", e), ("inotify", i)] {
        println!("{}", Json::new("vfs_storm").str("impl", name).num("events_per_s", side.events_per_s, 1).line());
    }
    for (name, side) in [("evq", e), ("inotify", i)] {
        println!(
            "{}",
            Json::new("vfs_overhead")
                .str("impl", name)
                .num("with_watcher_per_s", side.with_watcher_per_s, 1)
                .num("without_per_s", side.without_per_s, 1)
                .num("ratio", side.overhead_ratio(), 4)
                .line()
        );
    }
    Ok(())
}

fn scaling(cfg: &Config, sys: &EvqSystem) -> io::Result<()> {
    println!("\n### §5 Scaling: events/s delivered, summed over clients, 32 B, full load\n");
    println!("| clients | evq 1/msg | relay 1/msg | evq/relay | evq 16/msg | relay 16/msg | evq/relay |");
    println!("|---|---|---|---|---|---|---|");
    let mut lines: [Vec<(u32, f64)>; 4] = Default::default();
    let mut json = Vec::new();
    for n in SCALING_CLIENTS {
        let mut row = Vec::new();
        for batch in [1, BATCH] {
            let events = if batch > 1 { 4 * cfg.scaling_events } else { cfg.scaling_events };
            let s = spec(Point { mode: Mode::Drop, record: 32, clients: n, per_msg: batch }, events, 0);
            let e = fanout::run(s, Some(sys))?;
            let r = fanout::run(Spec { kind: Kind::Relay, ..s }, None)?;
            let k = if batch > 1 { 2 } else { 0 };
            lines[k].push((n as u32, e.rate()));
            lines[k + 1].push((n as u32, r.rate()));
            row.push((e.rate(), r.rate()));
            for (kind, o) in [(Kind::Evq, &e), (Kind::Relay, &r)] {
                json.push(
                    Json::new("scaling")
                        .str("impl", kind.name())
                        .int("clients", n as u64)
                        .int("record", 32)
                        .int("per_msg", batch as u64)
                        .str("mode", Mode::Drop.name())
                        .num("delivered_per_s", o.rate(), 1)
                        .null("p50_ns")
                        .null("p99_ns")
                        .int("lost", o.lost)
                        .line(),
                );
            }
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
    println!();
    for line in json {
        println!("{line}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<Option<String>, String> + 'a {
        move |name| Ok(pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_environment_selects_points() {
        let all = Selection::parse(&env(&[])).unwrap();
        assert!(all.is_everything());
        assert_eq!(all.modes, Mode::ALL);
        assert_eq!(all.points().len(), Mode::ALL.len() * CLIENTS.len() * RECORDS.len() * PER_MSG.len());
        let one = Selection::parse(&env(&[("EVQ_BENCH_CLIENTS", "4"), ("EVQ_BENCH_RECORD", "32")])).unwrap();
        assert!(one.points().iter().all(|p| p.clients == 4 && p.record == 32));
        assert_eq!(one.points().len(), Mode::ALL.len() * PER_MSG.len());
        for mode in Mode::ALL {
            let only = Selection::parse(&env(&[("EVQ_BENCH_MODE", mode.name())])).unwrap();
            assert_eq!(only.modes, vec![mode]);
            assert!(!only.is_everything());
            assert!(only.points().iter().all(|p| p.mode == mode));
            assert_eq!(only.points().len(), CLIENTS.len() * RECORDS.len() * PER_MSG.len());
        }
        let both = Selection::parse(&env(&[("EVQ_BENCH_MODE", "lossless, drop")])).unwrap();
        assert_eq!(both.modes, Mode::ALL);
        assert!(both.is_everything());
        let relay = Selection::parse(&env(&[("EVQ_BENCH_IMPL", "relay"), ("EVQ_BENCH_PER_MSG", "16")])).unwrap();
        assert_eq!(relay.impls, vec![Kind::Relay]);
        assert!(relay.points().iter().all(|p| p.per_msg == 16));
    }

    #[test]
    fn bad_selections_are_refused_in_words() {
        for (name, value, says) in [
            ("EVQ_BENCH_CLIENTS", "5", "1, 4, 16, 64"),
            ("EVQ_BENCH_RECORD", "48", "32, 64"),
            ("EVQ_BENCH_PER_MSG", "8", "1, 16"),
            ("EVQ_BENCH_IMPL", "kafka", "evq, relay"),
            ("EVQ_BENCH_MODE", "sometimes", "drop, lossless"),
            ("EVQ_BENCH_MODE", "drop,sometimes", "drop, lossless"),
        ] {
            let e = Selection::parse(&env(&[(name, value)])).unwrap_err();
            assert!(e.contains(name) && e.contains(value) && e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_fanout_line_has_exactly_the_issue_schema() {
        let point = Point { mode: Mode::Drop, record: 32, clients: 4, per_msg: 16 };
        let s = Summary { rate: 1_250_000.0, p50: 46_600, p99: 82_900, delivered: 10, lost: 3, ..Default::default() };
        let m = Measured { point, full: [Some(s), None], fixed: [Some(Summary { lost: 1, ..s }), None] };
        assert_eq!(
            m.json("fanout", Kind::Evq).unwrap(),
            r#"{"bench":"fanout","impl":"evq","clients":4,"record":32,"per_msg":16,"mode":"drop","delivered_per_s":1250000.0,"p50_ns":46600,"p99_ns":82900,"lost":4}"#
        );
        assert_eq!(m.json("fanout", Kind::Relay), None);
        let m = Measured { fixed: [None, None], ..m };
        assert!(m.json("fanout", Kind::Evq).unwrap().contains(r#""p50_ns":null,"p99_ns":null,"lost":3}"#));
    }
}
