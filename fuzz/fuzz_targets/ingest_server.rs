//! libFuzzer's entry for `evq_fuzz::ingest_server`: its documentation says what the
//! input is and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| evq_fuzz::ingest_server::run(data));
