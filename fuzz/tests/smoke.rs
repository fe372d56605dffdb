//! The smoke run `make test` makes of every fuzz target, on stable and
//! without libFuzzer: each target's body (`evq_fuzz::<target>::run`, the
//! very function its libFuzzer entry calls) over its checked-in seeds in
//! `seeds/<target>/`, then over `GENERATED` inputs made from them by a
//! fixed pseudo-random generator: bytes flipped, overwritten, inserted,
//! removed, truncated, spliced from another seed, or all random. The same
//! inputs every run; a target that panics on one fails the test, and the
//! input is printed in hex (`xxd -r -p` turns it back into a file for
//! `cargo fuzz run <target> <file>`).
//!
//! `EVQ_FUZZ_SMOKE_INPUTS` sets how many inputs are generated per target.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const GENERATED: usize = 3000;

/// xorshift64*: fixed, so every run feeds the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).expect("a seed reads")).collect();
    assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(8) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = rng.next() as u8,
            2 => input.insert(at, rng.next() as u8),
            3 if at < input.len() => {
                input.remove(at);
            }
            4 => input.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from.min(other.len()) + 1);
                input.splice(at..at, other[from..from + n].iter().copied());
            }
            6 if at < input.len() => {
                // An interesting value over a little-endian word.
                let v: u64 = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFF_FFFF, u64::MAX][rng.below(8)];
                for (i, b) in v.to_le_bytes().iter().enumerate().take(input.len() - at) {
                    input[at + i] = *b;
                }
            }
            _ => {
                let n = rng.below(64);
                input = (0..n).map(|_| rng.next() as u8).collect();
            }
        }
    }
    input
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_cargo_fuzz_target_is_in_the_smoke_run() {
    // A target in fuzz_targets/ missing from TARGETS would never be smoked.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = evq_fuzz::TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "evq_fuzz::TARGETS and fuzz/fuzz_targets/ disagree");
}

#[test]
fn every_target_survives_its_seeds_and_generated_inputs() {
    let generated = std::env::var("EVQ_FUZZ_SMOKE_INPUTS")
        .ok()
        .map(|v| v.parse::<usize>().expect("EVQ_FUZZ_SMOKE_INPUTS is a count"))
        .unwrap_or(GENERATED);
    let mut failed = Vec::new();
    for (index, (target, run)) in evq_fuzz::TARGETS.iter().enumerate() {
        let seeds = seeds(target);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ index as u64);
        let inputs = seeds.iter().cloned().chain((0..generated).map(|_| mutate(&mut rng, &seeds)));
        let mut count = 0;
        for input in inputs {
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
                failed.push(format!("{target} panics on {}", hex(&input)));
                break;
            }
        }
        println!("{target}: {count} inputs ({} seeds)", seeds.len());
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
