//! The network driver: an rtnetlink socket, turned into events by the
//! `evq-net` core's `Interface`, as the seL4 network domain turns its NIC:
//! the link's "up and running" state as LINK_UP / LINK_DOWN (once at start
//! for the state it finds, then on every change), and the kernel's running
//! totals of the link, read every [`COUNTER_PERIOD`], as RX / TX events for
//! the packets and bytes since the last reading (none for a direction
//! where no packet moved). The object is the interface index.
//!
//! `args` names the interface ([`DEFAULT_IFACE`] when empty); where it
//! does not exist (the launcher fell back to loopback), the driver watches
//! `lo`.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use evq_abi::msg::Event;
use evq_net::Interface;
use evq_system::{Domain, System};

use crate::boot::{self, Cap};
use crate::ingest::Publisher;
use crate::netlink::{self, LinkStats};
use crate::{seccomp, sys};

/// How often the network driver reads its interface's counters.
pub const COUNTER_PERIOD: Duration = Duration::from_millis(500);

/// The interface the driver watches when the description names none.
pub const DEFAULT_IFACE: &str = "evq1";

/// Why `args` cannot name an interface (Linux's names are 1 to 15 bytes,
/// without `/` or white space), if it cannot; empty means the default.
pub(super) fn check_iface(args: &str) -> Result<(), String> {
    let bad = args.len() > 15 || args.contains(|c: char| c == '/' || c.is_whitespace());
    if bad {
        return Err(format!("{args:?} is not an interface name (1 to 15 bytes, no '/' or spaces)"));
    }
    Ok(())
}

/// Runs the network driver.
pub(super) fn run(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut publisher = super::publisher(system, me)?;
    let nl = boot::take(&caps, "rtnetlink socket", |c| *c == Cap::Netlink)?;
    seccomp::confine(me.name)?;
    let wanted = if me.args.is_empty() { DEFAULT_IFACE } else { me.args };
    let link = match netlink::query(nl.as_fd(), wanted) {
        Ok(l) => l,
        Err(_) => netlink::query(nl.as_fd(), "lo")?,
    };
    let index = link.index;
    let mut iface = Interface::new(u64::from(index));
    // What was counted before the driver started is the baseline.
    if let Some(stats) = link.stats {
        publish(&mut publisher, iface.totals(stats.rx, stats.tx))?;
    }
    publish(&mut publisher, iface.link(link.running()))?;
    sys::set_nonblocking(nl.as_fd())?;
    let mut next = Instant::now() + COUNTER_PERIOD;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let left = next.saturating_duration_since(Instant::now());
        let ready = sys::poll(&[nl.as_fd()], Some(left))?;
        if Instant::now() >= next {
            netlink::send(nl.as_fd(), &netlink::get_link(index))?;
            next = Instant::now() + COUNTER_PERIOD;
        }
        if !ready[0] {
            continue;
        }
        let n = match sys::read(nl.as_fd(), &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // ENOBUFS: the kernel dropped messages; the next read of the
            // link brings the state back.
            Err(_) => continue,
        };
        for (ty, payload) in netlink::messages(&buf[..n]) {
            if ty != libc::RTM_NEWLINK {
                continue;
            }
            let Some(link) = netlink::parse_link(payload).filter(|l| l.index == index) else {
                continue;
            };
            publish(&mut publisher, iface.link(link.running()))?;
            if let Some(LinkStats { rx, tx }) = link.stats {
                publish(&mut publisher, iface.totals(rx, tx))?;
            }
        }
    }
}

/// Publishes the events the interface owes, in order, together.
fn publish<'e>(publisher: &mut Publisher, events: impl IntoIterator<Item = Event<'e>>) -> io::Result<()> {
    let events: Vec<Event<'_>> = events.into_iter().collect();
    if events.is_empty() {
        return Ok(());
    }
    publisher.publish(&events).map_err(super::publish_failed)
}
