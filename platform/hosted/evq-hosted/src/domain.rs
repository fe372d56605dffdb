//! `evq __domain NAME`: what a domain process runs. It reads the boot
//! information (the system description), finds itself in it, takes its
//! capabilities from their fixed descriptors, installs the seccomp filter,
//! and runs its image's shell.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use evq_abi::event::{device, network, Category, CountersPayload, Priority, StatePayload, TimePayload, MAX_PAYLOAD};
use evq_abi::msg::{Event, Filter};
use evq_system::{Domain, System};
use zerocopy::IntoBytes;

use crate::boot::{self, image, Cap};
use crate::client::{Client, Woken};
use crate::source::Publisher;
use crate::wire::Endpoint;
use crate::{netlink, seccomp, sys};

/// Runs domain `name` of the system in the boot information.
pub fn run(name: &str) -> io::Result<()> {
    // A crash signal kills the domain at once, to be reported as a fault
    // (the runtime's own SIGSEGV handler would let a sent one pass).
    sys::default_crash_signals();
    let text = boot::read_boot_info()?;
    let system = evq_system::parse(&text).map_err(|e| io::Error::other(e.to_string()))?;
    let (_, me) = system.domain(name).ok_or_else(|| io::Error::other(format!("no domain {name:?}")))?;
    let result = match me.image {
        image::SERVER => crate::server_domain::run(&system, name),
        image::DEVICE => device(&system, me),
        image::NETWORK => network(&system, me),
        image::VFS => crate::vfs_domain::run(&system, me),
        image::WATCH => watch(&system, me),
        image::PROBE => probe(&system, me),
        other => Err(io::Error::other(format!("the evq binary has no image {other:?}"))),
    };
    result.map_err(|e| io::Error::new(e.kind(), format!("domain {name}: {e}")))
}

fn publisher(system: &System<'_>, me: &Domain<'_>) -> io::Result<Publisher> {
    let caps = boot::layout(system, me);
    Ok(Publisher::new(Endpoint::new(boot::take(&caps, "endpoint", boot::is_endpoint)?)?))
}

fn publish(p: &mut Publisher, category: Category, kind: u8, object_id: u64, payload: &[u8]) -> io::Result<()> {
    let event = Event { category, kind, type_flags: 0, priority: Priority::Normal, object_id, payload };
    p.publish(&[event]).map_err(|e| io::Error::other(e.to_string()))
}

/// The device driver's devices, as `object_id`s of its events.
pub mod devices {
    /// The terminal (input events, its state).
    pub const TERMINAL: u64 = 1;
    /// The clock (time events).
    pub const CLOCK: u64 = 2;
}

/// The terminal's state: online.
pub const STATE_ONLINE: u32 = 1;

/// The device driver: each line typed into its terminal is an INPUT event
/// (object 1, the bytes without the line end; a longer line is cut into
/// 464-byte pieces), and its timer's ticks TIME events (object 2, the wall
/// clock's seconds). `args` may say `time=SECONDS` (default 5; 0 for none).
fn device(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut p = publisher(system, me)?;
    let pty = boot::take(&caps, "terminal", |c| *c == Cap::Pty)?;
    let timer = boot::take(&caps, "timer", |c| *c == Cap::Timer)?;
    seccomp::confine(me.name)?;
    let period = me
        .args
        .split_whitespace()
        .find_map(|a| a.strip_prefix("time="))
        .map(|s| s.parse::<u64>().map_err(|_| io::Error::other(format!("bad time= in {:?}", me.args))))
        .transpose()?
        .unwrap_or(5);
    if period > 0 {
        sys::timer_set(timer.as_fd(), Duration::from_secs(period), Duration::from_secs(period))?;
    }
    sys::set_nonblocking(pty.as_fd())?;
    let state = StatePayload { state: STATE_ONLINE.into(), reserved: 0.into() };
    publish(&mut p, Category::Device, device::STATE, devices::TERMINAL, state.as_bytes())?;
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let ready = sys::poll(&[pty.as_fd(), timer.as_fd()], None)?;
        if ready[0] {
            let n = match sys::read(pty.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                // EIO: nobody holds the terminal's other side for now.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    0
                }
            };
            for &b in &buf[..n] {
                if b == b'\n' || b == b'\r' {
                    if !line.is_empty() {
                        publish(&mut p, Category::Device, device::INPUT, devices::TERMINAL, &line)?;
                        line.clear();
                    }
                } else {
                    line.push(b);
                    if line.len() == MAX_PAYLOAD {
                        publish(&mut p, Category::Device, device::INPUT, devices::TERMINAL, &line)?;
                        line.clear();
                    }
                }
            }
        }
        if ready[1] && sys::drain(timer.as_fd())? > 0 {
            let time = TimePayload { unix_seconds: sys::unix_seconds().into() };
            publish(&mut p, Category::Device, device::TIME, devices::CLOCK, time.as_bytes())?;
        }
    }
}

/// How often the network driver reads its interface's counters.
pub const COUNTER_PERIOD: Duration = Duration::from_millis(500);

/// The network driver: LINK_UP/LINK_DOWN when its interface gains or loses
/// "up and running" (once at start for the state it finds), and RX/TX with
/// the packets and bytes since the last report, read every 500 ms and
/// reported when non-zero. The object is the interface index. `args` names
/// the interface; where it does not exist (the launcher fell back to
/// loopback), the driver watches `lo`.
fn network(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut p = publisher(system, me)?;
    let nl = boot::take(&caps, "rtnetlink socket", |c| *c == Cap::Netlink)?;
    seccomp::confine(me.name)?;
    let wanted = if me.args.is_empty() { crate::net::DEFAULT_IFACE } else { me.args };
    let link = match netlink::query(nl.as_fd(), wanted) {
        Ok(l) => l,
        Err(_) => netlink::query(nl.as_fd(), "lo")?,
    };
    let index = link.index;
    let object = u64::from(index);
    let mut running = link.running();
    let mut last = link.stats.unwrap_or_default();
    let kind = if running { network::LINK_UP } else { network::LINK_DOWN };
    publish(&mut p, Category::Network, kind, object, &[])?;
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
            let Some(link) = netlink::parse_link(payload) else {
                continue;
            };
            if link.index != index {
                continue;
            }
            if link.running() != running {
                running = link.running();
                let kind = if running { network::LINK_UP } else { network::LINK_DOWN };
                publish(&mut p, Category::Network, kind, object, &[])?;
            }
            if let Some(now) = link.stats {
                let rx = (now.rx_packets.wrapping_sub(last.rx_packets), now.rx_bytes.wrapping_sub(last.rx_bytes));
                let tx = (now.tx_packets.wrapping_sub(last.tx_packets), now.tx_bytes.wrapping_sub(last.tx_bytes));
                for (kind, (packets, bytes)) in [(network::RX, rx), (network::TX, tx)] {
                    if packets > 0 {
                        let c = CountersPayload { packets: packets.into(), bytes: bytes.into() };
                        publish(&mut p, Category::Network, kind, object, c.as_bytes())?;
                    }
                }
                last = now;
            }
        }
    }
}

/// A client that subscribes to every category and prints each event it
/// receives on standard output, one line each.
fn watch(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let endpoint = Endpoint::new(boot::take(&caps, "endpoint", boot::is_endpoint)?)?;
    let note = boot::take(&caps, "notification", boot::is_own_notification)?;
    seccomp::confine(me.name)?;
    let client = Client::new(endpoint, note);
    let e = |e: crate::client::ClientError| io::Error::other(e.to_string());
    let mut q = client.create_queue(4).map_err(e)?;
    for category in Category::PUBLISHABLE {
        client.subscribe(&q, Filter::all_of(category)).map_err(e)?;
    }
    loop {
        while let Some(event) = q.next_event().map_err(|x| io::Error::other(format!("{x:?}")))? {
            println!("{}: {event}", me.name);
        }
        if client.wait(&mut q, Duration::from_secs(60)).map_err(e)? == Woken::TimedOut {
            continue;
        }
    }
}

/// Exit-code bits of the probe domain: each set bit is a confinement that
/// did not hold.
pub mod probe_bits {
    /// It held descriptors beyond standard input, output and error and its
    /// capabilities.
    pub const EXTRA_FDS: i32 = 1;
    /// It could open a file.
    pub const OPENED_FILE: i32 = 2;
    /// It could make a socket.
    pub const MADE_SOCKET: i32 = 4;
    /// It could start a program.
    pub const RAN_PROGRAM: i32 = 8;
}

/// The probe: counts its descriptors, installs the filter, tries to open a
/// file, make a socket and start a program, and exits with a code of
/// [`probe_bits`] (0: everything was refused).
fn probe(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut code = 0;
    let open = sys::open_fd_count();
    if open != 3 + caps.len() {
        eprintln!("probe: {open} descriptors open, expected {}", 3 + caps.len());
        code |= probe_bits::EXTRA_FDS;
    }
    seccomp::confine(me.name)?;
    if std::fs::File::open("/proc/self/status").is_ok() {
        code |= probe_bits::OPENED_FILE;
    }
    if std::net::UdpSocket::bind("127.0.0.1:0").is_ok() {
        code |= probe_bits::MADE_SOCKET;
    }
    if std::process::Command::new("/bin/true").status().is_ok() {
        code |= probe_bits::RAN_PROGRAM;
    }
    std::process::exit(code)
}
