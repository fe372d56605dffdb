//! The server core's own work per published event, in instructions counted
//! by callgrind, for 1, 2, 4 and 8 matching queues (`evq_bench::callgrind`
//! says how). It runs the example `core_profile`, which `make
//! bench` builds first (`cargo build --release -p evq-bench --example
//! core_profile`), under valgrind; where valgrind or the example is
//! missing it prints one `SKIPPED:` line.
//!
//! `cargo bench -p evq-bench --bench server_core [-- core]`;
//! `EVQ_BENCH_QUICK=1` (or `cargo test --benches`) runs fewer rounds, and
//! `EVQ_BENCH_CORE_ROUNDS` sets them. Other bench targets' part names
//! (`cargo bench -p evq-bench -- fanout`) leave this one out.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let parts: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !parts.is_empty() && !parts.iter().any(|p| *p == "core") {
        return;
    }
    if let Err(e) = evq_bench::callgrind::run(evq_bench::common::quick() || !bench) {
        eprintln!("server core benchmark failed: {e}");
        std::process::exit(1);
    }
}
