//! The bodies of evq's fuzz targets, one module each, so that the same code
//! runs under libFuzzer (`fuzz_targets/<name>.rs`, through cargo-fuzz) and
//! in the smoke test `make test` runs (`tests/smoke.rs`, on stable, over
//! the checked-in seeds and inputs generated from them). Each module's
//! documentation gives its input's layout and what must hold; each `run`
//! panics when that does not.

pub mod console_json;
pub mod consumer_hostile;
pub mod ingest_server;
pub mod payload_decode;
pub mod reply_decode;
pub mod request_decode;
pub mod system_parse;
pub mod vfs_decode;

/// A target's body: panics when a property fails on the input.
pub type Body = fn(&[u8]);

/// Every target: its name, as cargo-fuzz knows it, and its body.
pub const TARGETS: [(&str, Body); 8] = [
    ("consumer_hostile", consumer_hostile::run),
    ("request_decode", request_decode::run),
    ("reply_decode", reply_decode::run),
    ("payload_decode", payload_decode::run),
    ("vfs_decode", vfs_decode::run),
    ("console_json", console_json::run),
    ("system_parse", system_parse::run),
    ("ingest_server", ingest_server::run),
];
