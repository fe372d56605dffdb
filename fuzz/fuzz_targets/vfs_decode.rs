//! libFuzzer's entry for `evq_fuzz::vfs_decode`: its documentation says what the
//! input is and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| evq_fuzz::vfs_decode::run(data));
