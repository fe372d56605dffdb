//! `evq __domain NAME`: what a domain process runs. It makes itself
//! non-dumpable and takes its capabilities from the launcher
//! ([`boot::receive_capabilities`]), reads the boot information (the system
//! description), finds itself in it, installs the seccomp filter,
//! and runs its image's shell, one module each:
//!
//! | image | module | core |
//! |---|---|---|
//! | `evq-server` | `server.rs` | `evq-server` |
//! | `evq-vfs` | `vfs.rs` | `evq-vfs` |
//! | `evq-device` | `device.rs` | `evq-device`'s line assembler and events |
//! | `evq-network` | `network.rs` | `evq-net`'s interface |
//! | `evq-watch` | `watch.rs` | `evq-client`'s session |
//! | `evq-probe` | `probe.rs` | none: it checks its own confinement ([`probe_bits`]) |
//!
//! Every source publishes through `evq_source`'s publisher over its
//! ingest ring ([`crate::ingest::Publisher`]), waiting for room when the
//! ring is full.

mod device;
mod network;
mod probe;
mod server;
mod vfs;
mod watch;

pub use device::{devices, STATE_ONLINE};
pub use network::{COUNTER_PERIOD, DEFAULT_IFACE};
pub use probe::probe_bits;

use std::io;

use evq_source::WhenFull;
use evq_system::{Domain, System};

use crate::boot::{self, image, Cap};
use crate::ingest::{Publisher, SourceLink};
use crate::sys;
use crate::wire::Endpoint;

/// The images the hosted platform runs, as the description names them.
pub const IMAGES: [&str; 7] =
    [image::SERVER, image::VFS, image::DEVICE, image::NETWORK, image::WATCH, image::PROBE, image::ATTACH];

/// Checks that the hosted platform can run `system` as described, before
/// anything starts: a description for another board, a domain whose image
/// the `evq` binary does not have, or arguments its image cannot read, is
/// refused with the reason.
pub fn check(system: &System<'_>) -> io::Result<()> {
    // A board of this platform is "hosted", or a variant of it for a test
    // or a benchmark ("hosted-test").
    if system.board != "hosted" && !system.board.starts_with("hosted-") {
        return Err(io::Error::other(format!(
            "the description is for board {:?}; the hosted platform runs board = \"hosted\" or \"hosted-…\" (images/hosted/system.toml)",
            system.board
        )));
    }
    for d in system.domains {
        let args = match d.image {
            image::DEVICE => device::time_period(d.args).map(|_| ()),
            image::NETWORK => network::check_iface(d.args),
            i if IMAGES.contains(&i) => Ok(()),
            other => {
                return Err(io::Error::other(format!(
                    "domain {}: the hosted platform has no image {other:?} (it runs {})",
                    d.name,
                    IMAGES.join(", ")
                )))
            }
        };
        args.map_err(|e| io::Error::other(format!("domain {}: args = {:?}: {e}", d.name, d.args)))?;
    }
    Ok(())
}

/// Runs domain `name` of the system in the boot information.
pub fn run(name: &str) -> io::Result<()> {
    // A crash signal kills the domain at once, to be reported as a fault
    // (the runtime's own SIGSEGV handler would let a sent one pass).
    sys::default_crash_signals();
    boot::receive_capabilities().map_err(|e| io::Error::new(e.kind(), format!("domain {name}: {e}")))?;
    let text = boot::read_boot_info()?;
    let system = evq_system::parse(&text).map_err(|e| io::Error::other(e.to_string()))?;
    let (_, me) = system.domain(name).ok_or_else(|| io::Error::other(format!("no domain {name:?}")))?;
    let result = match me.image {
        image::SERVER => server::run(&system, name),
        image::DEVICE => device::run(&system, me),
        image::NETWORK => network::run(&system, me),
        image::VFS => vfs::run(&system, me),
        image::WATCH => watch::run(&system, me),
        image::PROBE => probe::run(&system, me),
        other => Err(io::Error::other(format!("the evq binary has no image {other:?}"))),
    };
    result.map_err(|e| io::Error::new(e.kind(), format!("domain {name}: {e}")))
}

/// A source domain's publisher, over its ingest ring (back-pressure when
/// it is full) and its endpoint.
fn publisher(system: &System<'_>, me: &Domain<'_>) -> io::Result<Publisher> {
    let caps = boot::layout(system, me);
    let endpoint = Endpoint::new(boot::take(&caps, "endpoint", boot::is_endpoint)?)?;
    let ring = boot::take(&caps, "ingest ring", |c| *c == Cap::IngestRing)?;
    let doorbell = boot::take(&caps, "doorbell", |c| *c == Cap::Doorbell)?;
    let room = boot::take(&caps, "room notification", |c| *c == Cap::Room)?;
    Ok(Publisher::new(SourceLink::new(endpoint, ring, doorbell, room, WhenFull::Wait)?))
}

/// A publish's failure, as the `io::Error` a domain ends with.
fn publish_failed(e: evq_source::PublishError<crate::ingest::SourceError>) -> io::Error {
    io::Error::other(format!("publishing: {e}"))
}
