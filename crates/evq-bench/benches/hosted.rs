//! The hosted system end to end, each figure beside its baseline from the
//! same run: fan-out against a Unix seqpacket relay, the VFS domain against
//! inotify, the server's memory, and scaling with clients (`evq_bench`'s
//! `suite` module says what each part measures and how). Every figure is
//! printed in a markdown table and as one JSON line (`{"bench":…}`).
//!
//! This is a benchmark, not a test. It runs real processes: `evq run` from
//! the `evq` binary beside this one (`cargo build --release -p evq-hosted`,
//! which `make bench` does first), and this executable again as each
//! workload process. `cargo bench -p evq-bench --bench hosted [-- PART…]`
//! runs it; `EVQ_BENCH_QUICK=1` makes it a smoke run. Under `cargo test
//! --benches` it runs as a smoke run too, or is skipped where there is no
//! `evq` binary.

fn main() {
    evq_bench::run_worker_if_asked();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let cfg = match evq_bench::suite::Config::from_env(evq_bench::common::quick() || !bench) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("hosted benchmark: {e}");
            std::process::exit(2);
        }
    };
    if !bench && evq_bench::common::evq_binary().is_err() {
        println!("hosted benchmark skipped: no evq binary (build it with `cargo build -p evq-hosted`)");
        return;
    }
    let parts: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    if let Err(e) = evq_bench::suite::run(cfg, &parts) {
        eprintln!("hosted benchmark failed: {e}");
        std::process::exit(1);
    }
}
