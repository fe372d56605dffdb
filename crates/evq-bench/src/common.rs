//! What every part of the hosted benchmark shares: settings from the
//! environment, the clock, latency histograms, worker processes, formatting.

use std::io::{self, BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// `EVQ_BENCH_QUICK=1`: every part tiny, a smoke run whose numbers mean
/// nothing.
pub fn quick() -> bool {
    std::env::var_os("EVQ_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty())
}

/// A count from the environment variable `name` (digits, `_` allowed
/// between them), or `default` when it is unset or empty. Anything else is
/// refused, in words naming the variable and what it takes.
pub fn env_u64(name: &str, default: u64) -> Result<u64, String> {
    let bad = |v: &dyn std::fmt::Debug| {
        format!("{name}={v:?} is not a count: give a whole number such as {default} (digits, `_` between them allowed), or unset it for {default}")
    };
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(std::env::VarError::NotUnicode(v)) => Err(bad(&v)),
        Ok(v) => match parse_count(&v) {
            Some(n) => Ok(n.unwrap_or(default)),
            None => Err(bad(&v)),
        },
    }
}

/// `Some(Some(n))` for a count, `Some(None)` for an empty value.
fn parse_count(v: &str) -> Option<Option<u64>> {
    let v = v.trim();
    if v.is_empty() {
        return Some(None);
    }
    if !v.bytes().all(|b| b.is_ascii_digit() || b == b'_') || !v.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    v.replace('_', "").parse().ok().map(Some)
}

/// A list of values from the environment variable `name`: one of `valid`'s
/// names, or several separated by commas, in `valid`'s order; all of them
/// when it is unset or empty. A name not in `valid` is refused, in words
/// naming the variable and every valid value.
pub fn env_choice<T: Copy>(name: &str, valid: &[(&str, T)]) -> Result<Vec<T>, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(valid.iter().map(|(_, v)| *v).collect()),
        Err(std::env::VarError::NotUnicode(v)) => Err(choice_error(name, &format!("{v:?}"), valid)),
        Ok(v) => parse_choice(name, &v, valid),
    }
}

/// [`env_choice`] of a value already read.
pub fn parse_choice<T: Copy>(name: &str, value: &str, valid: &[(&str, T)]) -> Result<Vec<T>, String> {
    if value.trim().is_empty() {
        return Ok(valid.iter().map(|(_, v)| *v).collect());
    }
    let mut chosen = vec![false; valid.len()];
    for word in value.split(',').map(str::trim) {
        match valid.iter().position(|(n, _)| n.eq_ignore_ascii_case(word)) {
            Some(i) => chosen[i] = true,
            None => return Err(choice_error(name, &format!("{value:?}"), valid)),
        }
    }
    Ok(valid.iter().zip(chosen).filter(|(_, c)| *c).map(|((_, v), _)| *v).collect())
}

fn choice_error<T>(name: &str, value: &str, valid: &[(&str, T)]) -> String {
    let names: Vec<&str> = valid.iter().map(|(n, _)| *n).collect();
    format!(
        "{name}={value} is not valid: give one of {} (or several, separated by commas), or unset it for all",
        names.join(", ")
    )
}

/// `CLOCK_MONOTONIC`, ns: the clock every process of a run stamps and reads,
/// so a latency is one reading minus another taken in a different process.
pub fn now_ns() -> u64 {
    evq_hosted::host::monotonic_ns()
}

/// Waits until the monotonic clock reaches `due_ns`: sleeps while it is far
/// off, then spins (yielding the CPU to whatever else is runnable), so that
/// paced events leave within a few microseconds of their due time.
pub fn pace_until(due_ns: u64) {
    loop {
        let now = now_ns();
        if now >= due_ns {
            return;
        }
        let left = due_ns - now;
        if left > 300_000 {
            std::thread::sleep(Duration::from_nanos(left - 200_000));
        } else {
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }
}

// --------------------------------------------------------------------------
// Latency histogram

/// Sub-buckets per power of two: 32, so a recorded value is reported within
/// 1/64 (about 1.6 %) of itself.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (2 * SUB + (64 - SUB_BITS as u64 - 1) * SUB) as usize;

/// A log-linear histogram of nanosecond latencies (HDR-style), small enough
/// for every worker to send whole to the driver, which merges them.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0 }
    }
}

fn bucket(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let m = v >> (e - SUB_BITS);
    (2 * SUB + u64::from(e - SUB_BITS - 1) * SUB + (m - SUB)) as usize
}

fn bucket_value(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let e = (i - 2 * SUB) / SUB + u64::from(SUB_BITS) + 1;
    let m = (i - 2 * SUB) % SUB + SUB;
    let shift = e - u64::from(SUB_BITS);
    // The middle of the bucket.
    (m << shift) + (1 << shift) / 2
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.total += 1;
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds `other`'s values to these.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The `p`-th percentile (0..=100), ns; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_value(i);
            }
        }
        bucket_value(BUCKETS - 1)
    }

    /// The non-empty buckets as `index:count,…` (`-` when empty).
    pub fn encode(&self) -> String {
        let parts: Vec<String> =
            self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| format!("{i}:{c}")).collect();
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(",")
        }
    }

    /// The inverse of [`Histogram::encode`].
    pub fn decode(s: &str) -> Option<Histogram> {
        let mut h = Histogram::default();
        if s == "-" {
            return Some(h);
        }
        for part in s.split(',') {
            let (i, c) = part.split_once(':')?;
            let (i, c): (usize, u64) = (i.parse().ok()?, c.parse().ok()?);
            *h.counts.get_mut(i)? += c;
            h.total += c;
        }
        Some(h)
    }
}

// --------------------------------------------------------------------------
// Worker processes

/// The first argument that makes this benchmark's executable a worker
/// rather than the driver.
pub const WORKER_ARG: &str = "__evq-bench-worker";

/// A worker: this executable re-run as one process of a workload, reporting
/// on its standard output one line per step (`ready`, then `done …`).
pub struct Worker {
    /// What it is, for messages.
    pub name: String,
    child: Child,
    out: BufReader<ChildStdout>,
    input: Option<ChildStdin>,
}

impl Worker {
    /// Starts `role` with `args`.
    pub fn spawn(role: &str, args: &[String]) -> io::Result<Worker> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(WORKER_ARG)
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let input = child.stdin.take();
        Ok(Worker { name: format!("{role} (pid {})", child.id()), child, out, input })
    }

    /// Tells it `line` (on its standard input).
    pub fn say(&mut self, line: &str) -> io::Result<()> {
        let input = self.input.as_mut().ok_or_else(|| io::Error::other("no input"))?;
        writeln!(input, "{line}")?;
        input.flush()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line it reports, which must start with `word`; the rest of it.
    pub fn expect(&mut self, word: &str) -> io::Result<String> {
        let mut line = String::new();
        if self.out.read_line(&mut line)? == 0 {
            return Err(io::Error::other(format!("worker {} ended before saying {word:?}", self.name)));
        }
        let line = line.trim_end();
        match line.strip_prefix(word) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(io::Error::other(format!("worker {} said {line:?}, not {word:?}", self.name))),
        }
    }

    /// Waits for it to exit.
    pub fn finish(mut self) -> io::Result<()> {
        let status = self.child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("worker {} failed: {status}", self.name)))
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker left running (the driver failed half-way) is stopped.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where the `evq` binary is: `$EVQ_BIN`, else beside this benchmark's
/// profile directory (`target/release/evq` for `cargo bench`), which `make
/// bench` builds first.
pub fn evq_binary() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("EVQ_BIN") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<bench>-<hash>
    let profile_dir = exe.parent().and_then(|d| d.parent()).ok_or_else(|| io::Error::other("no profile directory"))?;
    let evq = profile_dir.join("evq");
    if evq.exists() {
        Ok(evq)
    } else {
        Err(io::Error::other(format!(
            "no evq binary at {} (build it with `cargo build --release -p evq-hosted`, \
             or set EVQ_BIN; `make bench` does the first)",
            evq.display()
        )))
    }
}

/// A scratch directory of this driver's, removed when dropped.
pub struct Scratch {
    /// Its path.
    pub path: PathBuf,
}

impl Scratch {
    /// A fresh directory under `parent` (the system's temporary directory
    /// when `None`).
    pub fn new(tag: &str, parent: Option<PathBuf>) -> io::Result<Scratch> {
        let parent = parent.unwrap_or_else(std::env::temp_dir);
        let path = parent.join(format!("evq-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Polls `check` every few milliseconds until it holds or `timeout` passes.
pub fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> io::Result<bool>) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if check()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!("timed out waiting until {what}")));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// In a worker: waits for the driver's `go` on standard input.
pub fn wait_for_go() -> io::Result<()> {
    let mut line = String::new();
    io::stdin().read_line(&mut line)?;
    if line.trim() == "go" {
        Ok(())
    } else {
        Err(io::Error::other(format!("expected go, got {line:?}")))
    }
}

// --------------------------------------------------------------------------
// Formatting

/// Events per second, readable: `1.23M`, `456k`.
pub fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.0}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// A latency, readable: `12.3 µs`, `4.5 ms`.
pub fn latency(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// A ratio `a / b`, as `2.34×`; `–` when `b` is 0.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// The median of `v` (which is sorted).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Whether `measured` reaches `target` (both "higher is better"): `met`,
/// or `missed by X×` with X = `target / measured`.
pub fn verdict(measured: f64, target: f64) -> String {
    if measured >= target {
        "met".into()
    } else if measured > 0.0 && measured.is_finite() {
        format!("missed by {:.1}×", target / measured)
    } else {
        "missed (nothing measured)".into()
    }
}

// --------------------------------------------------------------------------
// JSON lines

/// One figure as one JSON line, its keys in the order they are added:
/// `Json::new("fanout").str("impl", "evq").int("clients", 4)….line()`
/// gives `{"bench":"fanout","impl":"evq","clients":4,…}`. Every line the
/// benchmark prints this way starts with `{"bench":`.
#[derive(Clone, Debug)]
pub struct Json(String);

impl Json {
    /// A line for the figure `bench`.
    pub fn new(bench: &str) -> Json {
        let mut j = Json(String::from("{"));
        j.key("bench");
        push_str(&mut j.0, bench);
        j
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_str(&mut self.0, k);
        self.0.push(':');
    }

    /// A string value.
    pub fn str(mut self, k: &str, v: &str) -> Json {
        self.key(k);
        push_str(&mut self.0, v);
        self
    }

    /// A whole number.
    pub fn int(mut self, k: &str, v: u64) -> Json {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    /// A whole number, or `null`.
    pub fn opt_int(self, k: &str, v: Option<u64>) -> Json {
        match v {
            Some(v) => self.int(k, v),
            None => self.null(k),
        }
    }

    /// A number with `decimals` decimals (`null` if it is not finite).
    pub fn num(mut self, k: &str, v: f64, decimals: usize) -> Json {
        if !v.is_finite() {
            return self.null(k);
        }
        self.key(k);
        self.0.push_str(&format!("{v:.decimals$}"));
        self
    }

    /// `null`.
    pub fn null(mut self, k: &str) -> Json {
        self.key(k);
        self.0.push_str("null");
        self
    }

    /// The line.
    pub fn line(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values_closely() {
        for v in [0u64, 1, 63, 64, 65, 100, 1000, 12_345, 1 << 20, 987_654_321, u64::MAX >> 2] {
            let b = bucket(v);
            assert!(b < BUCKETS);
            let back = bucket_value(b);
            let err = back.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err <= 1.0 / 32.0, "{v} -> {b} -> {back}");
        }
    }

    #[test]
    fn percentiles_and_the_wire_form() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0) as f64;
        let p99 = h.percentile(99.0) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.02, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.02, "{p99}");
        let back = Histogram::decode(&h.encode()).unwrap();
        assert_eq!(back.count(), 1000);
        assert_eq!(back.percentile(99.0), h.percentile(99.0));
        assert_eq!(Histogram::decode("-").unwrap().count(), 0);
    }

    #[test]
    fn json_lines_keep_their_keys_in_order() {
        let line = Json::new("fanout")
            .str("impl", "evq")
            .int("clients", 4)
            .num("delivered_per_s", 1234.56, 1)
            .opt_int("p50_ns", None)
            .num("ratio", f64::NAN, 2)
            .str("note", "a \"b\"\\")
            .line();
        assert_eq!(
            line,
            r#"{"bench":"fanout","impl":"evq","clients":4,"delivered_per_s":1234.6,"p50_ns":null,"ratio":null,"note":"a \"b\"\\"}"#
        );
    }

    #[test]
    fn counts_and_choices_from_the_environment_are_checked() {
        assert_eq!(parse_count(" 50_000 "), Some(Some(50_000)));
        assert_eq!(parse_count(""), Some(None));
        for bad in ["-1", "1e6", "_1", "ten", "1.5"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
        let valid = [("1", 1usize), ("4", 4), ("16", 16), ("64", 64)];
        assert_eq!(parse_choice("X", "16, 4", &valid), Ok(vec![4, 16]));
        assert_eq!(parse_choice("X", "", &valid), Ok(vec![1, 4, 16, 64]));
        let e = parse_choice("EVQ_BENCH_CLIENTS", "5", &valid).unwrap_err();
        assert!(e.contains("EVQ_BENCH_CLIENTS") && e.contains("1, 4, 16, 64"), "{e}");
    }

    #[test]
    fn verdicts_say_by_how_much() {
        assert_eq!(verdict(5.0, 5.0), "met");
        assert_eq!(verdict(0.5, 5.0), "missed by 10.0×");
        assert_eq!(verdict(0.0, 5.0), "missed (nothing measured)");
    }
}
