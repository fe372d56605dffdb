//! libFuzzer's entry for `evq_fuzz::system_parse`: its documentation says what the
//! input is and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| evq_fuzz::system_parse::run(data));
