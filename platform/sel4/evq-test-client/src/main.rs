//! The boot test's client. Run with no argument, it is the test: it creates
//! a queue, receives and maps the ring's frames, subscribes, drives the test
//! source through its script, checks everything that arrives, lets the rogue
//! loose and checks that its fault arrives as a process event, starts the
//! file-system workload and checks the VFS domain's events against a model,
//! destroys the queue and checks that the kernel took the frames back. It prints a
//! summary and `TEST_PASS`, or `TEST_FAIL: …`.
//!
//! Run with `rogue`, it reads its ring window, where nothing was ever
//! granted, and must fault.
#![no_std]
#![no_main]

use evq_abi::event::{decode_dentry, device, network, process, Category, CountersPayload, FaultPayload, TimePayload};
use evq_abi::msg::{Filter, StatsTarget};
use evq_client::{EventQueue, ReceivedEvent, Session};
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo};
use evq_test_script::{
    flood_object, AFTER_LOSS_OBJECT, COALESCE_NS, FLOOD, FLOOD_FITS, FS_SCRIPT, NET_PROBES, RING_PAGES, SCRIPT, TYPED,
};
use zerocopy::FromBytes;

use evq_sel4_runtime::Sel4Transport;

// The model VFS core is about 55 KiB, and a debug build copies it.
domain_main!(main, stack = 512 * 1024);

fn main(info: &'static DomainInfo) -> ! {
    if info.args.as_str() == "rogue" {
        rogue(info)
    }
    match test(info) {
        Ok(summary) => {
            sel4::debug_println!("evq: {summary}");
            sel4::debug_println!("TEST_PASS");
            exit(0)
        }
        Err(why) => {
            sel4::debug_println!("TEST_FAIL: {why}");
            exit(1)
        }
    }
}

/// Waits to be let loose, then reads the first word of its ring window:
/// the address where a granted ring would be, with nothing mapped there.
fn rogue(info: &DomainInfo) -> ! {
    let Some(go) = info.note("rogue-go", info::rights::WAIT) else {
        sel4::debug_println!("TEST_FAIL: rogue: the description gives it no rogue-go");
        exit(1)
    };
    sel4::cap::Notification::from_bits(go).wait();
    sel4::debug_println!("evq: rogue-client: reading a ring it was never granted at {:#x}", info::RING_WINDOW_ADDR);
    // SAFETY: none: this read is meant to fault. It is volatile so that it
    // happens, and the kernel stops this thread at it.
    let word = unsafe { core::ptr::read_volatile(info::RING_WINDOW_ADDR as *const u64) };
    sel4::debug_println!("TEST_FAIL: rogue-client read {word:#x} from a ring it was never granted");
    exit(1)
}

struct Summary {
    scripted: usize,
    flood_delivered: u64,
    lost: u64,
    seq_after_loss: u64,
    fault_addr: u64,
    fs_events: usize,
    /// The clock's first tick after the typed input; `None` on a board
    /// with no device domain.
    typed_at: Option<u64>,
    net: Option<NetSeen>,
    frames_revoked: usize,
}

impl core::fmt::Display for Summary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "summary scripted={} flood_delivered={} lost={} seq_after_loss={} rogue_fault=vm@{:#x} fs_events={} typed_at={} frames_revoked={}{}",
            self.scripted,
            self.flood_delivered,
            self.lost,
            self.seq_after_loss,
            self.fault_addr,
            self.fs_events,
            Typed(self.typed_at),
            self.frames_revoked,
            Net(self.net)
        )
    }
}

struct Notes {
    go: sel4::cap::Notification,
    done: sel4::cap::Notification,
}

impl Notes {
    /// Runs one phase of the source's script.
    fn phase(&self) {
        self.go.signal();
        self.done.wait();
    }
}

fn note(info: &DomainInfo, name: &str, rights: u32) -> Result<sel4::cap::Notification, &'static str> {
    info.note(name, rights)
        .map(sel4::cap::Notification::from_bits)
        .ok_or("a notification the test needs is not granted")
}

fn next(events: &mut EventQueue) -> Result<ReceivedEvent<'_>, &'static str> {
    events.next_event().map_err(|_| "the ring does not read")?.ok_or("an expected event is missing")
}

fn test(info: &DomainInfo) -> Result<Summary, &'static str> {
    let notes = Notes {
        go: note(info, "script-go", info::rights::SIGNAL)?,
        done: note(info, "script-done", info::rights::WAIT)?,
    };
    let rogue_go = note(info, "rogue-go", info::rights::SIGNAL)?;
    let mut session = Session::new(Sel4Transport::new(info));

    let (queue, mut events) = session.create_queue(RING_PAGES).map_err(|_| "CreateQueue failed")?;
    sel4::debug_println!(
        "evq: test-client: queue {queue:#x}: {} frames received and mapped at {:#x}",
        session.transport().mapped_frames(),
        info::RING_WINDOW_ADDR
    );
    for category in [Category::Vfs, Category::Process] {
        session.subscribe(queue, Filter::all_of(category)).map_err(|_| "Subscribe failed")?;
    }
    // Device input only, for now: the clock's events join for the device
    // phase, so that they cannot disturb the exact counts before it.
    let input_only = Filter { type_mask: 1 << device::INPUT, ..Filter::all_of(Category::Device) };
    session.subscribe(queue, input_only).map_err(|_| "Subscribe failed")?;

    // Phase 1: the script, in order, with its payloads.
    notes.phase();
    let mut source_id = 0;
    for (i, s) in SCRIPT.iter().enumerate() {
        let e = next(&mut events)?;
        source_id = e.source_id;
        let payload_ok = if s.category == Category::Vfs {
            decode_dentry(e.payload) == Ok((s.parent, s.name))
        } else {
            e.payload == s.name
        };
        if e.seq != i as u64
            || e.category != s.category
            || e.kind != s.kind
            || e.object_id != s.object_id
            || !payload_ok
        {
            sel4::debug_println!("evq: test-client: got {e}, expected {s:?} as seq {i}");
            return Err("a scripted event arrived wrong");
        }
        sel4::debug_println!("evq: event {e}");
    }
    if events.next_event().map_err(|_| "the ring does not read")?.is_some() {
        return Err("an event arrived that was not published (the forged one?)");
    }
    // The source forged a process event twice: through its ingest ring,
    // where the server refuses it silently and counts it, and by call,
    // where it answers NotPermitted (the source checks that). Both counted.
    let source_stats = |session: &mut Session<Sel4Transport>| {
        session.stats(StatsTarget::Source(source_id)).map(|s| s.counters).map_err(|_| "Stats failed")
    };
    let after_script = source_stats(&mut session)?;
    if after_script.rejected != 2 {
        sel4::debug_println!("evq: test-client: the test source's rejected count is {}", after_script.rejected);
        return Err("the forged events were not both refused and counted");
    }
    sel4::debug_println!("evq: test-client: both forged events refused and counted (ring and call)");

    // Phase 2: a flood into the unread ring. Sequence numbers go on counting
    // through the loss, so the arithmetic is exact.
    notes.phase();
    let first_seq = SCRIPT.len() as u64;
    let mut delivered = 0;
    while let Some(e) = events.next_event().map_err(|_| "the ring does not read")? {
        if e.seq != first_seq + delivered || e.object_id != flood_object(delivered) || e.lost_before != 0 {
            return Err("a flood event arrived out of order");
        }
        delivered += 1;
    }
    let lost = events.lost_total();
    if delivered + lost != FLOOD || !(FLOOD_FITS - 1..=FLOOD_FITS).contains(&delivered) {
        sel4::debug_println!("evq: test-client: flood delivered={delivered} lost={lost}");
        return Err("the flood's loss is not exact");
    }
    // The source's budget is smaller than a flood batch: the server must
    // have left flood events in the source's ring for a later tick, and
    // taken every one of them (above: delivered + lost is the whole flood).
    let after_flood = source_stats(&mut session)?;
    let held = after_flood.throttled - after_script.throttled;
    if held == 0 {
        return Err("the server never pushed back on the flood");
    }
    if after_flood.published - after_script.published != FLOOD {
        return Err("the server did not take the whole flood");
    }
    sel4::debug_println!("evq: test-client: flood of {FLOOD} held back {held} times by the source's budget, all taken");

    // Phase 3: the next event carries the loss; wait for it properly, with
    // the waiting flag set and the server asked to signal.
    go_then_wait(&notes, &mut session, queue, &mut events)?;
    let e = next(&mut events)?;
    if e.object_id != AFTER_LOSS_OBJECT || e.lost_before != lost || e.seq != first_seq + FLOOD {
        return Err("the event after the loss does not report it");
    }
    let seq_after_loss = e.seq;
    sel4::debug_println!("evq: event {e}");

    // The rogue: its fault must come back as a process event.
    rogue_go.signal();
    let fault_addr = loop {
        session.wait(queue, &mut events, 1).map_err(|_| "Wait failed")?;
        let Some(e) = events.next_event().map_err(|_| "the ring does not read")? else { continue };
        sel4::debug_println!("evq: event {e}");
        if e.category == Category::Process && e.kind == process::FAULT {
            let fault =
                FaultPayload::read_from_bytes(e.payload).map_err(|_| "a fault event without a fault payload")?;
            if fault.kind.get() != process::fault::VM || fault.address.get() != info::RING_WINDOW_ADDR as u64 {
                return Err("the rogue's fault arrived with the wrong kind or address");
            }
            break fault.address.get();
        }
    };

    let fs_events = fs_session(info, &mut events)?;
    // A board whose kernel routes no device interrupts (spike) has no
    // device domain, and its description says so in the args.
    let typed_at = match info.args.as_str() {
        "no-device" => None,
        _ => Some(device_phase(&mut session, queue, &mut events)?),
    };
    let net = network_phase(info, &mut session, queue, &mut events)?;

    // Destroying the queue revokes the frames the server granted: the kernel
    // no longer knows them in this CSpace.
    let frames = session.transport().mapped_frames();
    if session.transport().frames_live() != frames {
        return Err("granted frames missing while the queue lives");
    }
    session.destroy_queue(queue, events).map_err(|_| "DestroyQueue failed")?;
    if session.transport().frames_live() != 0 {
        return Err("granted frames survived DestroyQueue");
    }
    sel4::debug_println!("evq: test-client: queue destroyed; the kernel reports all {frames} granted frames revoked");
    Ok(Summary {
        scripted: SCRIPT.len(),
        flood_delivered: delivered,
        lost,
        seq_after_loss,
        fault_addr,
        fs_events,
        typed_at,
        net,
        frames_revoked: frames,
    })
}

/// Sets up the wake-up first, then lets the source publish, then sleeps: the
/// event arrives while this client waits, and the server must signal it.
fn go_then_wait(
    notes: &Notes,
    session: &mut Session<Sel4Transport>,
    queue: u32,
    events: &mut EventQueue,
) -> Result<(), &'static str> {
    if !events.prepare_wait().map_err(|_| "the ring does not read")? {
        return Err("the ring is not empty before the last phase");
    }
    match session.request(&evq_abi::msg::Request::Wait { queue, min_events: 1, timeout_ns: 0 }) {
        Ok(evq_abi::msg::Reply::Wait { armed: true, .. }) => {}
        _ => return Err("Wait was not armed on an empty ring"),
    }
    notes.go.signal();
    notes.done.wait();
    // Only the server's signal ends this wait; were it never sent, the boot
    // test would time out and fail.
    evq_client::Transport::block(session.transport());
    Ok(())
}

/// An event as the VFS domain published it: what the test compares.
#[derive(PartialEq, Eq)]
struct Published {
    kind: u8,
    type_flags: u8,
    object_id: u64,
    payload: [u8; evq_abi::event::MAX_PAYLOAD],
    payload_len: usize,
}

impl Published {
    fn new(kind: u8, type_flags: u8, object_id: u64, payload: &[u8]) -> Option<Self> {
        let mut p =
            Self { kind, type_flags, object_id, payload: [0; evq_abi::event::MAX_PAYLOAD], payload_len: payload.len() };
        p.payload.get_mut(..payload.len())?.copy_from_slice(payload);
        Some(p)
    }
}

/// Starts the workload, then checks that the VFS domain's events are
/// exactly those a model VFS core publishes for the same requests, in order:
/// names, parents, inodes, kinds and flags, and none for a failed request.
fn fs_session(info: &DomainInfo, events: &mut EventQueue) -> Result<usize, &'static str> {
    let go = note(info, "fs-go", info::rights::SIGNAL)?;
    let done = note(info, "fs-done", info::rights::WAIT)?;
    go.signal();
    done.wait();

    let mut model = evq_vfs::Vfs::new(0);
    let mut source = None;
    let mut checked = 0;
    for (i, step) in FS_SCRIPT.iter().enumerate() {
        let mut expected: [Option<Published>; 4] = [None, None, None, None];
        let mut n = 0;
        let mut read_buf = [0u8; 64];
        let reply = model.handle(i as u64, step.request, &mut read_buf, &mut |e| {
            if n < expected.len() {
                expected[n] = Published::new(e.kind, e.type_flags, e.object_id, e.payload);
            }
            n += 1;
        });
        let failed = matches!(reply, evq_vfs_api::Reply::Error { .. });
        if failed != step.fails.is_some() || n > expected.len() || (failed && n != 0) {
            return Err("the model disagrees with the script");
        }
        for want in expected.iter().take(n) {
            let want = want.as_ref().ok_or("a model event does not fit")?;
            let got = loop {
                let e = next(events)?;
                if e.category == Category::Vfs {
                    break e;
                }
                // Process events (the workload's exit) may interleave.
            };
            if *source.get_or_insert(got.source_id) != got.source_id {
                return Err("VFS events arrived from two sources");
            }
            let same = Published::new(got.kind, got.type_flags, got.object_id, got.payload).as_ref() == Some(want);
            if !same {
                sel4::debug_println!("evq: test-client: step {i}: got {got}");
                return Err("a VFS event differs from the model's");
            }
            sel4::debug_println!("evq: event {got}");
            checked += 1;
        }
    }
    while let Some(e) = events.next_event().map_err(|_| "the ring does not read")? {
        if e.category == Category::Vfs {
            sel4::debug_println!("evq: test-client: unexpected {e}");
            return Err("the VFS domain published more than the model");
        }
    }
    Ok(checked)
}

/// The device domain: what the harness types on the console arrives as an
/// input event, and the clock ticks arrive as time events. Returns the time
/// of the first tick after the input.
fn device_phase(
    session: &mut Session<Sel4Transport>,
    queue: u32,
    events: &mut EventQueue,
) -> Result<u64, &'static str> {
    let time_only = Filter { type_mask: 1 << device::TIME, ..Filter::all_of(Category::Device) };
    session.subscribe(queue, time_only).map_err(|_| "Subscribe failed")?;
    // The harness types when it reads this line.
    sel4::debug_println!("evq: test-client: waiting for typed input");
    let mut typed = false;
    loop {
        session.wait(queue, events, 1).map_err(|_| "Wait failed")?;
        while let Some(e) = events.next_event().map_err(|_| "the ring does not read")? {
            if e.category != Category::Device {
                continue;
            }
            sel4::debug_println!("evq: event {e}");
            match e.kind {
                device::INPUT if e.payload == TYPED => typed = true,
                device::INPUT => return Err("device input arrived that nobody typed"),
                device::TIME => {
                    let t = TimePayload::read_from_bytes(e.payload).map_err(|_| "a time event without a time")?;
                    // 2020-01-01: a clock that reads less was not read.
                    if t.unix_seconds.get() < 1_577_836_800 {
                        return Err("the clock's time is implausible");
                    }
                    if typed {
                        return Ok(t.unix_seconds.get());
                    }
                }
                _ => return Err("an unexpected device event"),
            }
        }
    }
}

/// The device part of the summary: the time of the tick after the typed
/// input, or that the system has no device domain.
struct Typed(Option<u64>);

impl core::fmt::Display for Typed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("none"),
        }
    }
}

/// The network part of the summary: the packets seen and how many events
/// carried them, or that the system has no network domain.
struct Net(Option<NetSeen>);

#[derive(Clone, Copy)]
struct NetSeen {
    tx: u64,
    rx: u64,
    events: u64,
}

impl core::fmt::Display for Net {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(n) => write!(f, " net=link_up,tx={},rx={},in_events={}", n.tx, n.rx, n.events),
            None => f.write_str(" net=none"),
        }
    }
}

/// The network domain, where the description has one. With coalescing on,
/// it brings its link up and sends its ARP probes to the gateway: the
/// client must see the link come up, and every probe and at least one
/// answer counted, the probes' TX events merged into fewer events whose
/// counts add up.
fn network_phase(
    info: &DomainInfo,
    session: &mut Session<Sel4Transport>,
    queue: u32,
    events: &mut EventQueue,
) -> Result<Option<NetSeen>, &'static str> {
    let Some(go) = info.note("net-go", info::rights::SIGNAL) else { return Ok(None) };
    session.subscribe(queue, Filter::all_of(Category::Network)).map_err(|_| "Subscribe failed")?;
    session
        .request(&evq_abi::msg::Request::SetCoalescing { queue, window_ns: COALESCE_NS })
        .map_err(|_| "SetCoalescing failed")?;
    sel4::cap::Notification::from_bits(go).signal();
    let mut link = false;
    let mut seen = NetSeen { tx: 0, rx: 0, events: 0 };
    let mut tx_events = 0;
    while !(link && seen.tx >= NET_PROBES && seen.rx > 0) {
        session.wait(queue, events, 1).map_err(|_| "Wait failed")?;
        while let Some(e) = events.next_event().map_err(|_| "the ring does not read")? {
            if e.category != Category::Network {
                continue;
            }
            sel4::debug_println!("evq: event {e}");
            let packets = || CountersPayload::read_from_bytes(e.payload).map(|c| c.packets.get());
            let count = |e: &evq_client::ReceivedEvent<'_>, n: u64| {
                // A coalesced event stands for its own packet and those it merged.
                if n == u64::from(e.coalesced) + 1 {
                    Ok(n)
                } else {
                    Err("a coalesced event's counts do not add up")
                }
            };
            match e.kind {
                network::LINK_UP => link = true,
                network::LINK_DOWN => return Err("the link went down"),
                network::TX if link => {
                    seen.tx += count(&e, packets().map_err(|_| "a TX event without counts")?)?;
                    tx_events += 1;
                    seen.events += 1;
                }
                network::RX if link => {
                    seen.rx += count(&e, packets().map_err(|_| "an RX event without counts")?)?;
                    seen.events += 1;
                }
                _ => return Err("traffic before the link came up"),
            }
        }
    }
    if seen.tx != NET_PROBES || tx_events >= NET_PROBES {
        return Err("the probes were not counted exactly, or not coalesced");
    }
    Ok(Some(seen))
}
