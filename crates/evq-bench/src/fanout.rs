//! §2 and §5: one source, fanned out to N clients, each draining on its own.
//!
//! **evq**: a source process attached to the system's source slot publishes
//! through `evq_hosted::ingest::Publisher` (`evq_source`'s publisher: one `Publish` per event, or one
//! `PublishBatch` of 16); the server domain writes each event into every
//! client's 16-page memfd ring and signals the eventfd of a client that
//! waits; each client process (attached to a client slot) reads its ring
//! with `evq_hosted::client` and, when it is empty, waits by the protocol's
//! wake-up (`Wait`, waiting flag, eventfd).
//!
//! **relay** (the baseline): a source process sends to a relay process over
//! a Unix seqpacket socket, and the relay does one `send` per message per
//! client to the client processes' seqpacket sockets; a message holds one
//! event, or 16.
//!
//! **The record** (`Spec::size`, the JSON lines' `"record"`) is the bytes of
//! one event a client reads and copies out: 32 or 64. For evq that is the
//! ring's event record as the client's reader copies it out of its ring:
//! the 32-byte fixed part (`seq`, the server's timestamp, `object_id` = the
//! publish time, source id, lengths) and, at 64, a 32-byte payload with the
//! source's own sequence number and publish time. (The ring entry's 8-byte
//! header is the ring's framing, as a datagram's boundary is the relay's,
//! and is not counted.) For the relay it is `seq`, publish time and filler
//! to 32 or 64 bytes, `record` bytes per event in the datagram. Either way
//! every client computes each event's latency when it reads it.
//!
//! **Events per call** (`Spec::batch`, the JSON lines' `"per_msg"`): 1 or
//! [`BATCH`]. evq's source makes one API call per event
//! (`Publisher::publish_one`, a `Publish` message each: the caller does not
//! batch) or one per 16 (`Publisher::publish` of 16, one `PublishBatch`);
//! the relay's source sends one datagram per event or one per 16. Both
//! sources report the messages they sent and the driver checks that it was
//! one per call (resends after `Busy` apart), so the two sides frame the
//! same events the same way.
//!
//! **Why the comparison is fair**: both sides carry the same events, in the
//! same framing, to the same number of client processes, and every client
//! copies every byte of every event it reads (the relay's out of the kernel
//! with `recv`; evq's reader out of the shared ring, as it must, since the
//! server could change the ring under it) and checks its sequence number.
//! Only events read count as delivered, so an event evq drops (`Mode::Drop`,
//! a full ring) never counts in its favour; the relay never drops (a full
//! socket blocks it), so it is the same relay in every mode.
//!
//! At the fixed offered load the source paces itself by the clock, and an
//! event's publish time is the time it was due (see `publish_time`).
//!
//! The run ends with an end marker (evq: a critical Device STATE event,
//! which the ring's reserve always has room for; relay: a record with
//! sequence number `u64::MAX`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use evq_abi::event::{device, Category, Priority};
use evq_abi::msg::{Event, Filter};
use evq_hosted::client::{Client, Woken};
use evq_hosted::console::{self, Console};
use evq_hosted::wire::Endpoint;

use crate::common::{self, now_ns, Histogram, Scratch, Worker};
use crate::profile;
pub use crate::system::Mode;
use crate::system::{self, EvqSystem, RING_PAGES, SOURCE_SLOT};

/// Events per message in the batched runs.
pub const BATCH: usize = 16;

/// Which system carries the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// evq's hosted platform.
    Evq,
    /// The seqpacket relay.
    Relay,
}

impl Kind {
    /// Both, in the order the tables list them.
    pub const ALL: [Kind; 2] = [Kind::Evq, Kind::Relay];

    /// Its name in the JSON lines (`"impl"`) and in `EVQ_BENCH_IMPL`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Evq => "evq",
            Kind::Relay => "relay",
        }
    }
}

/// One run's workload.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// evq or the relay.
    pub kind: Kind,
    /// Client processes.
    pub clients: usize,
    /// Bytes of record per event: 32 or 64 (see the module's documentation).
    pub size: usize,
    /// Events per API call and per message: 1 or [`BATCH`].
    pub batch: usize,
    /// What a full ring does. evq runs on a system described in this mode
    /// (the caller's); the relay never drops (a full socket blocks it), so
    /// it is the same relay in every mode.
    pub mode: Mode,
    /// Events the source publishes.
    pub events: u64,
    /// Offered load, events/s; 0: as fast as the source can.
    pub rate: u64,
    /// How evq clients sleep.
    pub sleep: Sleep,
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Events read by all clients together.
    pub delivered: u64,
    /// Events the clients were told they lost (evq's ring was full).
    pub lost: u64,
    /// From the source's first publish to the last client's last read, s.
    pub secs: f64,
    /// Publish-to-read latency of every delivered event.
    pub hist: Histogram,
    /// evq: times the clients found their ring empty and went to sleep
    /// (with [`Sleep::WaitCall`], each a `WAIT` round trip to the server);
    /// relay: 0.
    pub waits: u64,
    /// Events out of order, or clients that timed out: should be 0.
    pub errors: u64,
}

impl Outcome {
    /// Events delivered per second, summed over clients.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.delivered as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Latency percentile, ns.
    pub fn p(&self, p: f64) -> u64 {
        self.hist.percentile(p)
    }
}

/// Runs `spec`; for evq, on `system` (which must be idle and have at least
/// `spec.clients` client slots).
pub fn run(spec: Spec, system: Option<&EvqSystem>) -> io::Result<Outcome> {
    Ok(run_profiled(spec, system, false)?.0)
}

/// [`run`], and with `profile`, `perf stat` counts per role (`source`,
/// `server` or `relay`, `clients`) over the run.
pub fn run_profiled(
    spec: Spec,
    system: Option<&EvqSystem>,
    profile: bool,
) -> io::Result<(Outcome, Vec<(String, profile::Counts)>)> {
    let size = spec.size.to_string();
    let src_args = |endpoint: &str| {
        vec![endpoint.to_string(), size.clone(), spec.events.to_string(), spec.batch.to_string(), spec.rate.to_string()]
    };
    let scratch = Scratch::new("run", None)?;
    let mut pids: Vec<(String, u32)> = Vec::new();
    let (mut clients, source, relay) = match spec.kind {
        Kind::Evq => {
            let system = system.ok_or_else(|| io::Error::other("an evq run needs a system"))?;
            system.wait_idle()?;
            pids.push(("server".into(), system.server_pid()? as u32));
            let console = system.console_path.to_string_lossy().into_owned();
            let mut clients = Vec::new();
            for i in 0..spec.clients {
                let args = [console.clone(), size.clone(), spec.sleep.arg().to_string(), system::client_slot(i)];
                clients.push(Worker::spawn("evq-client", &args)?);
            }
            for c in &mut clients {
                c.expect("ready")?;
            }
            let source = Worker::spawn("evq-source", &src_args(&console))?;
            (clients, source, None)
        }
        Kind::Relay => {
            let path = scratch.path.join("relay").to_string_lossy().into_owned();
            let mut relay = Worker::spawn("relay", &[path.clone(), spec.clients.to_string()])?;
            relay.expect("ready")?;
            pids.push(("relay".into(), relay.pid()));
            let mut clients = Vec::new();
            for _ in 0..spec.clients {
                clients.push(Worker::spawn("relay-client", &[path.clone(), size.clone()])?);
            }
            for c in &mut clients {
                c.expect("ready")?;
            }
            let source = Worker::spawn("relay-source", &src_args(&path))?;
            (clients, source, Some(relay))
        }
    };
    let mut source = source;
    source.expect("ready")?;
    pids.insert(0, ("source".into(), source.pid()));
    pids.extend(clients.iter().map(|c| ("clients".to_string(), c.pid())));
    let perf = if profile { Some(profile::Perf::attach(&pids, scratch.path.join("perf.txt"))?) } else { None };
    source.say("go")?;
    let done = source.expect("done")?;
    let report: Vec<u64> = done.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    let [t0, _t1, busy, messages] = report[..] else {
        return Err(io::Error::other(format!("bad source report {done:?}")));
    };
    let mut out = Outcome::default();
    // One message per call (the end marker's included), resends after
    // `Busy` apart: both sides framed the events as the point says.
    if messages.saturating_sub(busy) != spec.events.div_ceil(spec.batch as u64) + 1 {
        out.errors += 1;
    }
    let mut t_end = t0;
    for c in &mut clients {
        let line = c.expect("done")?;
        let r = ClientReport::parse(&line).ok_or_else(|| io::Error::other(format!("bad client report {line:?}")))?;
        out.delivered += r.delivered;
        out.lost += r.lost;
        out.waits += r.waits;
        out.errors += r.errors;
        out.hist.merge(&r.hist);
        t_end = t_end.max(r.t_last);
    }
    let counts = match perf {
        Some(p) => p.finish()?,
        None => Vec::new(),
    };
    source.finish()?;
    for c in clients {
        c.finish()?;
    }
    if let Some(relay) = relay {
        relay.finish()?;
    }
    out.secs = t_end.saturating_sub(t0) as f64 / 1e9;
    Ok((out, counts))
}

// --------------------------------------------------------------------------
// Workers

/// Runs worker `role` with `args`; `Ok(false)` if there is no such role.
pub fn worker(role: &str, args: &[String]) -> io::Result<bool> {
    let arg = |i: usize| -> io::Result<&str> {
        args.get(i).map(String::as_str).ok_or_else(|| io::Error::other(format!("{role}: argument {i} missing")))
    };
    let num = |i: usize| -> io::Result<u64> {
        arg(i)?.parse().map_err(|_| io::Error::other(format!("{role}: argument {i} is not a number")))
    };
    match role {
        "evq-client" => {
            let sleep = if arg(2)? == Sleep::WaitCall.arg() { Sleep::WaitCall } else { Sleep::Flag };
            evq_client(Path::new(arg(0)?), num(1)? as usize, sleep, arg(3)?)?
        }
        "evq-source" => evq_source(Path::new(arg(0)?), source_spec(num(1)?, num(2)?, num(3)?, num(4)?)?)?,
        "relay" => relay(Path::new(arg(0)?), num(1)? as usize)?,
        "relay-client" => relay_client(Path::new(arg(0)?), num(1)? as usize)?,
        "relay-source" => relay_source(Path::new(arg(0)?), source_spec(num(1)?, num(2)?, num(3)?, num(4)?)?)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn source_spec(size: u64, events: u64, batch: u64, rate: u64) -> io::Result<Spec> {
    if !(size == 32 || size == 64) || !(1..=BATCH as u64).contains(&batch) {
        return Err(io::Error::other(format!("source: record {size} or events per call {batch} out of range")));
    }
    Ok(Spec {
        kind: Kind::Evq,
        clients: 0,
        size: size as usize,
        batch: batch as usize,
        mode: Mode::Drop,
        events,
        rate,
        sleep: Sleep::Flag,
    })
}

/// What a client reports: `done DELIVERED LOST T_LAST SLEEPS ERRORS HIST`.
struct ClientReport {
    delivered: u64,
    lost: u64,
    t_last: u64,
    waits: u64,
    errors: u64,
    hist: Histogram,
}

impl ClientReport {
    fn print(&self) {
        println!(
            "done {} {} {} {} {} {}",
            self.delivered,
            self.lost,
            self.t_last,
            self.waits,
            self.errors,
            self.hist.encode()
        );
    }

    fn parse(line: &str) -> Option<ClientReport> {
        let mut w = line.split_whitespace();
        let mut n = || w.next()?.parse::<u64>().ok();
        let (delivered, lost, t_last, waits, errors) = (n()?, n()?, n()?, n()?, n()?);
        let hist = Histogram::decode(line.split_whitespace().nth(5)?)?;
        Some(ClientReport { delivered, lost, t_last, waits, errors, hist })
    }
}

/// How long a client waits without any event before it gives up.
const IDLE_LIMIT: Duration = Duration::from_secs(20);

/// The end marker's sequence number in relay records.
const END: u64 = u64::MAX;

/// How an evq client sleeps when its ring is empty (`docs/protocol.md`
/// §2.9, §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sleep {
    /// Set the ring's waiting flag, check the ring once more, and sleep on
    /// the eventfd: no call to the server. The queue's batch is the default
    /// (`min_events` 1, no deadline) at creation and again after every
    /// signal (§5.7), so the next event written wakes the client; a `WAIT`
    /// would only set what is already set.
    Flag,
    /// `evq_hosted::client::Client::wait`, the reference sequence of §2.9:
    /// a `WAIT` call to the server before every sleep, then the flag.
    WaitCall,
}

impl Sleep {
    fn arg(self) -> &'static str {
        match self {
            Sleep::Flag => "flag",
            Sleep::WaitCall => "wait",
        }
    }
}

fn evq_client(console: &Path, size: usize, sleep: Sleep, slot: &str) -> io::Result<()> {
    let console = Console::connect_within(console, Duration::from_secs(20))?;
    // Attach by hand rather than with `attach_client`, to keep a handle on
    // the notification for sleeping without a `WAIT`; by the slot's name,
    // since a lossless slot is taken only by name.
    let request = console::Request::Attach { domain: Some(slot.into()), role: "client".into() };
    let fds = match console.request(&request)? {
        (console::Reply::Attached { .. }, fds) => fds,
        (other, _) => return Err(io::Error::other(format!("attach: {other:?}"))),
    };
    let mut fds = fds.into_iter();
    let (Some(ep), Some(note)) = (fds.next(), fds.next()) else {
        return Err(io::Error::other("attach: no capabilities"));
    };
    let mut client = Client::new(Endpoint::new(ep)?, note.try_clone()?);
    let err = |e: evq_hosted::client::ClientError| io::Error::other(e.to_string());
    let mut queue = client.create_queue(RING_PAGES).map_err(err)?;
    client.subscribe(&queue, Filter::all_of(Category::Device)).map_err(err)?;
    println!("ready");
    let mut r = ClientReport { delivered: 0, lost: 0, t_last: 0, waits: 0, errors: 0, hist: Histogram::default() };
    let mut next_seq = 0u64;
    let mut idle_since = now_ns();
    'read: loop {
        loop {
            let ev = match queue.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => return Err(io::Error::other(format!("ring: {e:?}"))),
            };
            let now = now_ns();
            r.lost += ev.lost_before;
            if ev.seq != next_seq + ev.lost_before {
                r.errors += 1;
            }
            next_seq = ev.seq + 1;
            if ev.kind == device::STATE {
                break 'read;
            }
            let published = ev.object_id;
            if ev.payload.len() != size - 32 || (size == 64 && ev.payload[8..16] != published.to_le_bytes()) {
                r.errors += 1;
            }
            r.hist.record(now.saturating_sub(published));
            r.delivered += 1;
            r.t_last = now;
            idle_since = now;
        }
        r.waits += 1;
        let woken = match sleep {
            Sleep::WaitCall => client.wait(&mut queue, Duration::from_secs(1)).map_err(err)?,
            Sleep::Flag => {
                let ring = queue.events();
                let mut woken = Woken::Ready;
                if ring.prepare_wait().map_err(|e| io::Error::other(format!("ring: {e:?}")))? {
                    if evq_hosted::host::poll(&[note.as_fd()], Some(Duration::from_secs(1)))?[0] {
                        evq_hosted::host::drain(note.as_fd())?;
                    } else {
                        woken = Woken::TimedOut;
                    }
                    ring.cancel_wait();
                }
                woken
            }
        };
        if woken == Woken::TimedOut && now_ns() - idle_since > IDLE_LIMIT.as_nanos() as u64 {
            r.errors += 1;
            break;
        }
    }
    r.print();
    Ok(())
}

/// The publish time of the message whose first event is number `sent`: at
/// full load (`interval` 0), now; at a fixed offered load, the time the
/// schedule says it is due, waited for. A source held back by the system
/// under test (evq's synchronous `Publish`, a relay socket that is full)
/// publishes late, and that delay is the system's, so it counts in the
/// latency (no coordinated omission).
fn publish_time(t0: u64, sent: u64, interval: f64) -> u64 {
    if interval > 0.0 {
        let due = t0 + (sent as f64 * interval) as u64;
        common::pace_until(due);
        due
    } else {
        now_ns()
    }
}

/// A workload event: Device INPUT, the publish time as its object, the
/// first `len` bytes of `payload` (sequence number, publish time, zeros).
fn device_input(payload: &[u8; 32], len: usize, published: u64) -> Event<'_> {
    Event {
        category: Category::Device,
        kind: device::INPUT,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: published,
        payload: &payload[..len],
    }
}

fn evq_source(console: &Path, spec: Spec) -> io::Result<()> {
    let console = Console::connect_within(console, Duration::from_secs(20))?;
    let (_, mut publisher) = console.attach_source(Some(SOURCE_SLOT))?;
    println!("ready");
    common::wait_for_go()?;
    let payload_len = spec.size - 32;
    let mut payloads = vec![[0u8; 32]; spec.batch];
    let interval = if spec.rate > 0 { 1e9 / spec.rate as f64 } else { 0.0 };
    let t0 = now_ns();
    let mut sent = 0u64;
    while sent < spec.events {
        let n = (spec.events - sent).min(spec.batch as u64) as usize;
        let ts = publish_time(t0, sent, interval);
        for (i, p) in payloads.iter_mut().enumerate().take(n) {
            p[..8].copy_from_slice(&(sent + i as u64).to_le_bytes());
            p[8..16].copy_from_slice(&ts.to_le_bytes());
        }
        let event = |p| device_input(p, payload_len, ts);
        // One API call per event, or one per BATCH (see the module's
        // documentation); the unbatched source builds no list.
        let published = if spec.batch == 1 {
            publisher.publish_one(event(&payloads[0]))
        } else {
            let mut events = [event(&payloads[0]); BATCH];
            for (e, p) in events.iter_mut().zip(&payloads[..n]) {
                *e = event(p);
            }
            publisher.publish(&events[..n])
        };
        published.map_err(|e| io::Error::other(format!("publish: {e}")))?;
        sent += n as u64;
    }
    let t1 = now_ns();
    let end = Event {
        category: Category::Device,
        kind: device::STATE,
        type_flags: 0,
        priority: Priority::Critical,
        object_id: 0,
        payload: &[],
    };
    publisher.publish_one(end).map_err(|e| io::Error::other(format!("publish: {e}")))?;
    let stats = publisher.stats();
    println!("done {t0} {t1} {} {}", stats.busy, stats.messages);
    Ok(())
}

// --------------------------------------------------------------------------
// The relay baseline

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::other("socket path too long"));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok((addr, std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t))
}

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = seqpacket()?;
    let (addr, len) = sockaddr(path)?;
    // SAFETY: a valid address of `len` bytes.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(fd)
}

fn send(fd: &OwnedFd, data: &[u8]) -> io::Result<()> {
    // SAFETY: sends from a live buffer.
    let n = unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One datagram; 0 bytes at end of file (no workload message is empty).
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: receives into a live buffer.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The relay: accepts `clients` client connections, then the source's, and
/// forwards each datagram from the source to every client, one `send` each,
/// until the source closes.
fn relay(path: &Path, clients: usize) -> io::Result<()> {
    let listener = seqpacket()?;
    let (addr, len) = sockaddr(path)?;
    // SAFETY: a valid address of `len` bytes.
    cvt(unsafe { libc::bind(listener.as_raw_fd(), (&raw const addr).cast(), len) })?;
    // SAFETY: plain system call.
    cvt(unsafe { libc::listen(listener.as_raw_fd(), 256) })?;
    println!("ready");
    let accept = || -> io::Result<OwnedFd> {
        // SAFETY: plain system call; no address wanted.
        let fd = cvt(unsafe {
            libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
        })?;
        // SAFETY: a new descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let mut outs = Vec::with_capacity(clients);
    for _ in 0..clients {
        outs.push(accept()?);
    }
    let source = accept()?;
    let mut buf = vec![0u8; 64 * BATCH + 64];
    let mut messages = 0u64;
    loop {
        let n = recv(&source, &mut buf)?;
        if n == 0 {
            break;
        }
        for c in &outs {
            send(c, &buf[..n])?;
        }
        messages += 1;
    }
    println!("done {messages}");
    Ok(())
}

fn relay_client(path: &Path, size: usize) -> io::Result<()> {
    let fd = connect(path)?;
    println!("ready");
    let mut r = ClientReport { delivered: 0, lost: 0, t_last: 0, waits: 0, errors: 0, hist: Histogram::default() };
    let mut buf = vec![0u8; 64 * BATCH + 64];
    let mut next_seq = 0u64;
    'read: loop {
        let n = recv(&fd, &mut buf)?;
        if n == 0 {
            r.errors += 1;
            break;
        }
        let now = now_ns();
        if n % size != 0 {
            r.errors += 1;
        }
        for rec in buf[..n].chunks_exact(size) {
            let seq = u64::from_le_bytes(rec[..8].try_into().unwrap());
            if seq == END {
                break 'read;
            }
            let published = u64::from_le_bytes(rec[8..16].try_into().unwrap());
            if seq != next_seq {
                r.errors += 1;
            }
            next_seq = seq + 1;
            r.hist.record(now.saturating_sub(published));
            r.delivered += 1;
            r.t_last = now;
        }
    }
    r.print();
    Ok(())
}

fn relay_source(path: &Path, spec: Spec) -> io::Result<()> {
    let fd = connect(path)?;
    println!("ready");
    common::wait_for_go()?;
    let mut msg = vec![0x5Au8; spec.size * spec.batch];
    let interval = if spec.rate > 0 { 1e9 / spec.rate as f64 } else { 0.0 };
    let t0 = now_ns();
    let (mut sent, mut messages) = (0u64, 0u64);
    while sent < spec.events {
        let n = (spec.events - sent).min(spec.batch as u64) as usize;
        let ts = publish_time(t0, sent, interval);
        for (i, rec) in msg.chunks_exact_mut(spec.size).take(n).enumerate() {
            rec[..8].copy_from_slice(&(sent + i as u64).to_le_bytes());
            rec[8..16].copy_from_slice(&ts.to_le_bytes());
        }
        send(&fd, &msg[..n * spec.size])?;
        messages += 1;
        sent += n as u64;
    }
    let t1 = now_ns();
    let mut end = vec![0u8; spec.size];
    end[..8].copy_from_slice(&END.to_le_bytes());
    send(&fd, &end)?;
    messages += 1;
    println!("done {t0} {t1} 0 {messages}");
    drop(fd);
    Ok(())
}
