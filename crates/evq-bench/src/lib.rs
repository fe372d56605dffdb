//! Benchmarks for evq; the code lives in `benches/`. Run them with
//! `cargo bench -p evq-bench`. This library is empty: it exists only so the
//! package has a target besides its benches.
