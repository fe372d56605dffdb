//! End to end on the hosted platform: a real system of processes started by
//! `evq run`, driven over its console as an outside process would.
//!
//! Every wait is on a real condition (an event arriving, the server's status
//! changing) with a generous deadline; nothing is timed.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evq_abi::event::{
    decode_dentry, decode_mount, decode_rename, device, encode_dentry, encode_mount, encode_rename, network, process,
    system as sys_kind, vfs, Category, CountersPayload, ExitPayload, FaultPayload, Priority, Rename, MAX_PAYLOAD,
};
use evq_abi::msg::{label, ErrorCode, Event, Filter, StatsTarget};
use evq_hosted::client::{Client, ClientError, HostedQueue};
use evq_hosted::console::{self, Console, Status};
use evq_hosted::domains::probe_bits;
use evq_hosted::ingest::Publisher;
use zerocopy::FromBytes;

const DEADLINE: Duration = Duration::from_secs(20);

/// The test board: the server, a device driver, a network driver (on
/// loopback unless a namespace is allowed), a probe, and console slots for
/// the tests' own sources and clients.
const SYSTEM: &str = r#"
board = "hosted-test"

[[domain]]
name = "evq-server"
image = "evq-server"
priority = 200
role = "server"
ring_pool_pages = 128

[[domain]]
name = "device"
image = "evq-device"
args = "time=0"
priority = 150
role = "source"
badge = 0x12
categories = ["device"]

[[domain]]
name = "network"
image = "evq-network"
args = "evq1"
priority = 150
role = "source"
badge = 0x13
categories = ["network"]

[[domain]]
name = "vfs"
image = "evq-vfs"
priority = 150
role = "source"
badge = 0x11
categories = ["vfs"]

[[domain]]
name = "script"
image = "attach"
priority = 150
role = "source"
badge = 0x31
categories = ["vfs"]

[[domain]]
name = "flood"
image = "attach"
priority = 150
role = "source"
badge = 0x32
categories = ["device"]
budget_per_tick = 20

[[domain]]
name = "probe"
image = "evq-probe"
priority = 100
role = "client"
badge = 0x20

[[domain]]
name = "console-1"
image = "attach"
priority = 100
role = "client"
badge = 0x21

[[domain]]
name = "console-2"
image = "attach"
priority = 100
role = "client"
badge = 0x22

[[domain]]
name = "console-3"
image = "attach"
priority = 100
role = "client"
badge = 0x23
"#;

static NEXT: AtomicU32 = AtomicU32::new(0);

struct System {
    child: Child,
    dir: PathBuf,
    console: Console,
    /// The lines the system wrote on its standard error, when captured
    /// (`start_logged`).
    log: Option<Arc<Mutex<Vec<String>>>>,
}

impl System {
    fn start() -> System {
        let sys = System::start_with(SYSTEM);
        // The probe runs once at start; let it be done, so that the
        // server's tables are settled before a test takes a baseline.
        // Likewise the drivers' events at start (the device's STATE, the
        // network's link state): taken from their rings before a test's
        // clients subscribe, so that none of them sees one.
        sys.until("the probe has run and the drivers have started", |s| {
            s.domains.iter().any(|d| d.name == "probe" && !d.state.starts_with("running"))
                && s.server.endpoints == 4
                && ["device", "network"]
                    .iter()
                    .all(|n| s.server.sources.iter().any(|x| x.name == *n && x.counters.published > 0))
        });
        sys
    }

    /// `evq run` with the description `text`, up and answering its console.
    fn start_with(text: &str) -> System {
        Self::launch(text, false)
    }

    /// [`System::start_with`], keeping every line the system writes on its
    /// standard error (each is passed on to the test's own).
    fn start_logged(text: &str) -> System {
        Self::launch(text, true)
    }

    fn launch(text: &str, logged: bool) -> System {
        let dir = std::env::temp_dir().join(format!(
            "evq-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("system.toml");
        std::fs::write(&file, text).expect("write system");
        let path = dir.join("console");
        let mut run = Command::new(env!("CARGO_BIN_EXE_evq"));
        run.arg("run");
        // EVQ_E2E_RUN_ARGS="--no-netns --no-seccomp" tries the fallbacks.
        if let Ok(extra) = std::env::var("EVQ_E2E_RUN_ARGS") {
            run.args(extra.split_whitespace());
        }
        if logged {
            run.stderr(Stdio::piped());
        }
        let mut child = run
            .arg("--system")
            .arg(&file)
            .arg("--console")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("evq run starts");
        let log = child.stderr.take().map(|stderr| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let keep = lines.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    keep.lock().unwrap().push(line);
                }
            });
            lines
        });
        let console = Console::connect_within(&path, DEADLINE).expect("the system comes up");
        System { child, dir, console, log }
    }

    /// Waits until the system has written a line on its standard error
    /// that contains `text`; returns it.
    fn logged(&self, text: &str) -> String {
        let log = self.log.as_ref().expect("a system started with start_logged");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "timed out waiting for {text:?} on the system's standard error");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("console")
    }

    fn status(&self) -> Status {
        self.console.status().expect("status")
    }

    /// Waits until `check` holds of the status.
    fn until(&self, what: &str, check: impl Fn(&Status) -> bool) -> Status {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.status();
            if check(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting until {what}: {s:#?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A second console connection, holding the slots it attaches.
    fn connect(&self) -> Console {
        Console::connect(&self.path()).expect("console")
    }

    fn pid_of(&self, domain: &str) -> i32 {
        self.status().domains.iter().find(|d| d.name == domain).and_then(|d| d.pid).expect("running")
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.console.request(&console::Request::Shutdown);
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Got {
    category: Category,
    kind: u8,
    type_flags: u8,
    object: u64,
    source: u32,
    seq: u64,
    lost_before: u64,
    payload: Vec<u8>,
}

/// Reads events until `n` have arrived (or fails after the deadline).
fn receive(client: &mut Client, q: &mut HostedQueue, n: usize) -> Vec<Got> {
    let deadline = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(drain(q));
        if out.len() >= n {
            break;
        }
        assert!(Instant::now() < deadline, "timed out with {} of {n} events: {out:#?}", out.len());
        client.wait(q, Duration::from_millis(200)).expect("wait");
    }
    out
}

/// Reads events until one satisfies `want`; returns them all.
fn until_event(client: &mut Client, q: &mut HostedQueue, want: impl Fn(&Got) -> bool) -> Vec<Got> {
    let deadline = Instant::now() + DEADLINE;
    let mut out: Vec<Got> = Vec::new();
    while !out.iter().any(&want) {
        assert!(Instant::now() < deadline, "timed out: {out:#?}");
        out.extend(receive(client, q, 1));
    }
    out
}

/// Reads whatever is in the ring now.
fn drain(q: &mut HostedQueue) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(e) = q.next_event().expect("ring reads") {
        out.push(Got {
            category: e.category,
            kind: e.kind,
            type_flags: e.type_flags,
            object: e.object_id,
            source: e.source_id,
            seq: e.seq,
            lost_before: e.lost_before,
            payload: e.payload.to_vec(),
        });
    }
    out
}

fn subscribe(client: &mut Client, q: &HostedQueue, category: Category) {
    client.subscribe(q, Filter::all_of(category)).expect("subscribe");
}

fn source_id(status: &Status, name: &str) -> u32 {
    status.server.sources.iter().find(|s| s.name == name).map(|s| s.id).expect("a registered source")
}

fn vfs_event<'a>(kind: u8, flags: u8, object: u64, payload: &'a [u8]) -> Event<'a> {
    Event { category: Category::Vfs, kind, type_flags: flags, priority: Priority::Normal, object_id: object, payload }
}

fn device_event(object: u64) -> Event<'static> {
    Event {
        category: Category::Device,
        kind: device::STATE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: object,
        payload: &[0; 8],
    }
}

#[test]
fn a_scripted_source_session_arrives_exactly_and_in_order_one_by_one_and_batched() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(4).expect("queue");
    subscribe(&mut client, &q, Category::Vfs);
    let (_, mut script) = sys.console.attach_source(Some("script")).expect("source");
    let mut bufs = vec![[0u8; MAX_PAYLOAD]; 8];
    let dir = vfs::flags::IS_DIR;
    let n0 = encode_dentry(1, b"docs", &mut bufs[0]).unwrap();
    let n1 = encode_dentry(2, b"notes.txt", &mut bufs[1]).unwrap();
    let n2 = encode_rename(
        &Rename { old_parent: 2, old_name: b"notes.txt", new_parent: 1, new_name: b"todo.txt" },
        &mut bufs[2],
    )
    .unwrap();
    let n3 = encode_mount(1, 2, b"mnt", &mut bufs[3]).unwrap();
    let n4 = encode_dentry(4, b"a.log", &mut bufs[4]).unwrap();
    let n5 = encode_dentry(1, b"todo.txt", &mut bufs[5]).unwrap();
    let attr = vfs::flags::ATTR_SIZE | vfs::flags::ATTR_MTIME;
    let script_events = [
        vfs_event(vfs::CREATE, dir, 2, &bufs[0][..n0]),
        vfs_event(vfs::CREATE, 0, 3, &bufs[1][..n1]),
        vfs_event(vfs::ATTRIB, attr, 3, &bufs[1][..n1]),
        vfs_event(vfs::RENAME, 0, 3, &bufs[2][..n2]),
        vfs_event(vfs::MOUNT, dir, 4, &bufs[3][..n3]),
        vfs_event(vfs::CREATE, 0, 10, &bufs[4][..n4]),
        vfs_event(vfs::UNMOUNT, dir, 4, &bufs[3][..n3]),
        vfs_event(vfs::DELETE, 0, 3, &bufs[5][..n5]),
    ];
    // One at a time, then all in one batch message.
    for e in &script_events {
        script.publish(std::slice::from_ref(e)).expect("publish");
    }
    script.publish(&script_events).expect("publish batch");
    let sid = source_id(&sys.status(), "script");
    let got = receive(&mut client, &mut q, 2 * script_events.len());
    for (i, g) in got.iter().enumerate() {
        let want = &script_events[i % script_events.len()];
        assert_eq!(
            (g.category, g.kind, g.type_flags, g.object),
            (want.category, want.kind, want.type_flags, want.object_id),
            "event {i}"
        );
        assert_eq!(g.payload, want.payload, "event {i}");
        assert_eq!((g.seq, g.source, g.lost_before), (i as u64, sid, 0), "event {i}");
    }
    // The payloads read back as what the script meant.
    assert_eq!(decode_dentry(&got[1].payload).unwrap(), (2, &b"notes.txt"[..]));
    let r = decode_rename(&got[3].payload).unwrap();
    assert_eq!((r.old_name, r.new_name), (&b"notes.txt"[..], &b"todo.txt"[..]));
    assert_eq!(decode_mount(&got[4].payload).unwrap(), (1, 2, &b"mnt"[..]));
    // Exactly those: nothing more arrives.
    let extra = client.wait(&mut q, Duration::from_millis(300)).expect("wait");
    assert_eq!(drain(&mut q), vec![], "{extra:?}");
}

#[test]
fn two_clients_see_only_their_own_subscriptions_and_rings() {
    let sys = System::start();
    let (_, mut a) = sys.console.attach_client(None).expect("client a");
    let (_, mut b) = sys.console.attach_client(None).expect("client b");
    let mut qa = a.create_queue(1).expect("queue a");
    let mut qb = b.create_queue(1).expect("queue b");
    subscribe(&mut a, &qa, Category::Vfs);
    // B wants only directory creations.
    let mut only_dirs = Filter::all_of(Category::Vfs);
    only_dirs.type_mask = 1 << vfs::CREATE;
    only_dirs.info_mask = u32::from(vfs::flags::IS_DIR) << 16;
    only_dirs.info_filter = only_dirs.info_mask;
    b.subscribe(&qb, only_dirs).expect("subscribe b");
    subscribe(&mut b, &qb, Category::Device);
    let (_, mut script) = sys.console.attach_source(Some("script")).expect("source");
    let (_, mut flood) = sys.console.attach_source(Some("flood")).expect("source");
    let mut buf = [0u8; 64];
    let n = encode_dentry(1, b"x", &mut buf).unwrap();
    script.publish(&[vfs_event(vfs::CREATE, 0, 5, &buf[..n])]).unwrap();
    script.publish(&[vfs_event(vfs::CREATE, vfs::flags::IS_DIR, 6, &buf[..n])]).unwrap();
    script.publish(&[vfs_event(vfs::DELETE, 0, 5, &buf[..n])]).unwrap();
    flood.publish(&[device_event(9)]).unwrap();
    let got_a: Vec<u64> = receive(&mut a, &mut qa, 3).iter().map(|g| g.object).collect();
    let got_b: Vec<(Category, u64)> = receive(&mut b, &mut qb, 2).iter().map(|g| (g.category, g.object)).collect();
    assert_eq!(got_a, vec![5, 6, 5]);
    assert_eq!(got_b, vec![(Category::Vfs, 6), (Category::Device, 9)]);
    // Neither may touch the other's queue.
    let refused = b.stats(StatsTarget::Queue(qa.queue));
    assert!(matches!(refused, Err(ClientError::Refused(ErrorCode::NoSuchQueue, q)) if q == qa.queue), "{refused:?}");
    // And nothing else arrives for either.
    a.wait(&mut qa, Duration::from_millis(200)).unwrap();
    assert_eq!(drain(&mut qa), vec![]);
    assert_eq!(drain(&mut qb), vec![]);
}

#[test]
fn a_system_of_64_clients_starts_and_every_client_gets_the_event() {
    // The server's whole client table (`evq_server::limits::MAX_CLIENTS`):
    // the server domain starts holding 66 descriptors, one notification
    // per client.
    const CLIENTS: usize = 64;
    let mut text = String::from(
        "board = \"hosted-test\"\n\n\
         [[domain]]\nname = \"evq-server\"\nimage = \"evq-server\"\npriority = 200\nrole = \"server\"\nring_pool_pages = 128\n\n\
         [[domain]]\nname = \"src\"\nimage = \"attach\"\npriority = 150\nrole = \"source\"\nbadge = 0x31\ncategories = [\"device\"]\n\n",
    );
    for i in 0..CLIENTS {
        text.push_str(&format!(
            "[[domain]]\nname = \"c{i}\"\nimage = \"attach\"\npriority = 100\nrole = \"client\"\nbadge = {:#x}\n\n",
            0x100 + i
        ));
    }
    let sys = System::start_with(&text);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (_, mut client) = sys.console.attach_client(None).expect("client");
        let queue = client.create_queue(1).expect("queue");
        subscribe(&mut client, &queue, Category::Device);
        clients.push((client, queue));
    }
    assert_eq!(sys.status().server.clients, CLIENTS);
    let (_, mut source) = sys.console.attach_source(Some("src")).expect("source");
    source.publish(&[device_event(7)]).unwrap();
    for (client, queue) in &mut clients {
        let got: Vec<u64> = receive(client, queue, 1).iter().map(|g| g.object).collect();
        assert_eq!(got, vec![7]);
    }
}

#[test]
fn a_client_killed_mid_stream_has_its_queue_and_memfd_reclaimed() {
    let sys = System::start();
    let (_, mut script) = sys.console.attach_source(Some("script")).expect("source");
    let base = sys.status().server;
    let mut tail = Command::new(env!("CARGO_BIN_EXE_evq"))
        .args(["tail", "--json", "--console"])
        .arg(sys.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("evq tail");
    let attached = sys.until("tail subscribed", |s| s.server.subscriptions == base.subscriptions + 6);
    assert_eq!(attached.server.queues, base.queues + 1);
    assert_eq!(attached.server.rings, base.rings + 1);
    assert_eq!(attached.server.clients, base.clients + 1);
    // Its endpoint and its ring's memfd.
    assert_eq!(attached.server.open_fds, base.open_fds + 2);
    let mut buf = [0u8; 64];
    let n = encode_dentry(1, b"mid-stream", &mut buf).unwrap();
    let events: Vec<_> = (0..200).map(|i| vfs_event(vfs::CREATE, 0, i, &buf[..n])).collect();
    script.publish(&events).unwrap();
    tail.kill().expect("kill -9");
    tail.wait().unwrap();
    let after = sys.until("the client is reclaimed", |s| {
        s.server.queues == base.queues && s.server.rings == base.rings && s.server.open_fds == base.open_fds
    });
    assert_eq!(after.server.subscriptions, base.subscriptions);
    assert_eq!(after.server.clients, base.clients);
    assert_eq!(after.server.pool_pages_used, base.pool_pages_used);
    assert_eq!(after.server.endpoints, base.endpoints);
    // The slot is free again, and works for the next process.
    let (_, mut again) = sys.console.attach_client(None).expect("attach again");
    let q = again.create_queue(1).expect("queue");
    assert_eq!(sys.status().server.queues, base.queues + 1);
    again.destroy(q).unwrap();
}

/// Writes `value` into the ring's consumer-owned tail, as a hostile client would.
fn corrupt_tail(q: &HostedQueue, value: u32) {
    let (base, len) = q.region();
    assert!(len >= 4096);
    // SAFETY: the region is this test's live mapping of its own ring; the
    // tail is an aligned u32 at 0x100 of the control page, written with an
    // atomic store as the ring protocol requires.
    let tail = unsafe { AtomicU32::from_ptr(base.as_ptr().add(0x100).cast()) };
    tail.store(value, Ordering::Release);
}

#[test]
fn a_client_that_corrupts_its_tail_is_revoked_while_others_go_on() {
    let sys = System::start();
    let (_, mut bad) = sys.console.attach_client(None).expect("client");
    let (_, mut good) = sys.console.attach_client(None).expect("client");
    let mut qbad = bad.create_queue(1).expect("queue");
    let mut qgood = good.create_queue(8).expect("queue");
    subscribe(&mut bad, &qbad, Category::Vfs);
    subscribe(&mut good, &qgood, Category::Vfs);
    let base = sys.status().server;
    let (_, mut script) = sys.console.attach_source(Some("script")).expect("source");
    let mut buf = [0u8; 64];
    let n = encode_dentry(1, b"f", &mut buf).unwrap();
    script.publish(&[vfs_event(vfs::CREATE, 0, 1, &buf[..n])]).unwrap();
    assert_eq!(receive(&mut bad, &mut qbad, 1).len(), 1);
    corrupt_tail(&qbad, 0xFFFF_0000);
    // Enough events that the server must read the bad tail again.
    let events: Vec<_> = (0..150).map(|i| vfs_event(vfs::CREATE, 0, 100 + i, &buf[..n])).collect();
    script.publish(&events).unwrap();
    let got = receive(&mut good, &mut qgood, 151);
    assert_eq!(got.iter().map(|g| g.seq).collect::<Vec<_>>(), (0..151).collect::<Vec<_>>());
    // The corrupt queue is revoked: its client is told so on every request.
    let s = sys.until("the queue is revoked", |s| s.server.revoked == 1);
    assert_eq!(s.server.rings, base.rings - 1);
    let refused = bad.stats(StatsTarget::Queue(qbad.queue));
    assert!(matches!(refused, Err(ClientError::Refused(ErrorCode::Revoked, q)) if q == qbad.queue), "{refused:?}");
    let refused = bad.wait(&mut qbad, Duration::from_millis(1));
    assert!(matches!(refused, Err(ClientError::Refused(ErrorCode::Revoked, _))), "{refused:?}");
    // Destroying it frees its slot; the client can start over.
    bad.destroy(qbad).expect("destroy a revoked queue");
    let mut fresh = bad.create_queue(1).expect("a new queue");
    subscribe(&mut bad, &fresh, Category::Vfs);
    script.publish(&[vfs_event(vfs::DELETE, 0, 1, &buf[..n])]).unwrap();
    assert_eq!(receive(&mut bad, &mut fresh, 1)[0].kind, vfs::DELETE);
    assert_eq!(receive(&mut good, &mut qgood, 1)[0].kind, vfs::DELETE);
}

#[test]
fn a_flooding_source_is_held_back_and_every_loss_is_counted() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Device);
    let base = sys.status().server;
    let (_, mut flood) = sys.console.attach_source(Some("flood")).expect("source");
    const N: u64 = 3000;
    let events: Vec<_> = (0..N).map(device_event).collect();
    // The publisher re-sends what back-pressure refused, a tick later.
    flood.publish(&events).expect("flood");
    assert!(flood.stats().busy > 0, "a budget of 20 a tick must push back on batches of 59");
    // The publisher returns once the last events are in the source's ring;
    // the server takes them 20 a tick.
    sys.until("the server has taken every event from the ring", |s| {
        s.server.sources.iter().any(|x| x.name == "flood" && x.counters.published == N)
    });
    let s = sys.status();
    let fid = source_id(&s, "flood");
    let counters = s.server.sources.iter().find(|x| x.id == fid).unwrap().counters;
    assert_eq!(counters.published, N, "every event is accepted in the end");
    assert!(counters.throttled > 0);
    // The ring (512 slots) cannot hold 3000 events: most were dropped, and counted.
    let got = drain(&mut q);
    let stats = client.stats(StatsTarget::Queue(q.queue)).expect("queue stats");
    assert!(stats.counters.dropped > 0);
    assert_eq!(got.len() as u64 + stats.counters.dropped, N);
    assert_eq!(counters.delivered, got.len() as u64);
    assert_eq!(counters.dropped, stats.counters.dropped);
    // The next event carries the loss since the last one delivered, and
    // the sequence numbers account for every event.
    flood.publish(&[device_event(N)]).unwrap();
    let last = receive(&mut client, &mut q, 1);
    let lost_seen: u64 = got.iter().chain(&last).map(|g| g.lost_before).sum();
    assert_eq!(lost_seen, stats.counters.dropped);
    assert_eq!(last[0].seq, N);
    assert_eq!(q.events().lost_total(), stats.counters.dropped);
    // The server's memory stayed where it was: fixed tables, no new rings or descriptors.
    let after = sys.status().server;
    assert_eq!((after.rings, after.pool_pages_used, after.staged), (base.rings, base.pool_pages_used, 0));
    assert_eq!(after.open_fds, base.open_fds + 1, "only the flood source's endpoint is new");
}

/// The code of an error reply.
fn error_of(label: u32, body: &[u8]) -> (u32, u32) {
    assert_eq!(label, evq_abi::msg::label::ERROR, "an error reply");
    let code = u32::from_le_bytes(body[..4].try_into().unwrap());
    let detail = u32::from_le_bytes(body[4..8].try_into().unwrap());
    (code, detail)
}

#[test]
fn every_kind_of_malformed_message_gets_an_error_and_the_server_goes_on() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Vfs);
    let (_, mut script) = sys.console.attach_source(Some("script")).expect("source");
    let before = sys.status().server.totals.rejected;
    let malformed = ErrorCode::Malformed as u32;
    let cases: Vec<(&str, Vec<u8>, (u32, u32))> = vec![
        ("empty datagram", vec![], (ErrorCode::UnknownLabel as u32, u32::MAX)),
        ("no whole label", vec![1, 1, 0], (ErrorCode::UnknownLabel as u32, u32::MAX)),
        ("unknown label", 0x7777u32.to_le_bytes().to_vec(), (ErrorCode::UnknownLabel as u32, 0x7777)),
        ("label above 16 bits", 0x1_0101u32.to_le_bytes().to_vec(), (ErrorCode::UnknownLabel as u32, 0x1_0101)),
        ("reply label as a request", 0u32.to_le_bytes().to_vec(), (ErrorCode::UnknownLabel as u32, 0)),
        ("body not whole words", [&label::PUBLISH.to_le_bytes()[..], &[0; 5]].concat(), (malformed, 2)),
        ("body too long", [&label::PUBLISH.to_le_bytes()[..], &[0; 2000]].concat(), (malformed, 2)),
        ("publish with category 0", [&label::PUBLISH.to_le_bytes()[..], &[0; 16]].concat(), (malformed, 4)),
        (
            "publish with reserved bits",
            [&label::PUBLISH.to_le_bytes()[..], &[1, 0, 0, 0, 0, 0, 1, 0], &[0; 8]].concat(),
            (malformed, 3),
        ),
        (
            "create queue with flags",
            [&label::CREATE_QUEUE.to_le_bytes()[..], &[1, 0, 0, 0, 1, 0, 0, 0]].concat(),
            (malformed, 9),
        ),
        (
            "a source asking for a queue",
            [&label::CREATE_QUEUE.to_le_bytes()[..], &[1, 0, 0, 0, 0, 0, 0, 0]].concat(),
            (ErrorCode::UnknownSender as u32, 0),
        ),
        (
            "a source publishing outside its categories",
            [&label::PUBLISH.to_le_bytes()[..], &[2, 0, 0, 0, 0, 0, 0, 0], &[0; 8]].concat(),
            (ErrorCode::NotPermitted as u32, 2),
        ),
    ];
    for (what, datagram, want) in &cases {
        let reply = script.link().call_datagram(datagram).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(error_of(reply.label, &reply.body), *want, "{what}");
    }
    // A client publishing, and a client's request with a descriptor attached
    // (the server takes none: the kernel closes it).
    let publish = [&label::PUBLISH.to_le_bytes()[..], &[1, 0, 0, 0, 0, 0, 0, 0], &[0; 8]].concat();
    let reply = client.endpoint().call_datagram(&publish).unwrap();
    assert_eq!(error_of(reply.label, &reply.body), (ErrorCode::UnknownSender as u32, 0), "a client publishing");
    let fds_before = sys.status().server.open_fds;
    let stray = evq_hosted::host::eventfd().unwrap();
    let bad_stats = [&label::STATS.to_le_bytes()[..], &[9, 0, 0, 0, 0, 0, 0, 0]].concat();
    let reply = client.endpoint().call_with_fds(&bad_stats, &[stray.as_fd()]).unwrap();
    assert_eq!(error_of(reply.label, &reply.body), (malformed, 12), "stats target 9, with a descriptor");
    assert_eq!(sys.status().server.open_fds, fds_before, "the descriptor was not kept");
    let s = sys.status();
    // Every refusal counted (the source's and the unknown senders').
    assert_eq!(s.server.totals.rejected, before + cases.len() as u64 + 2);
    // Nothing was delivered, and the server still serves.
    assert_eq!(drain(&mut q), vec![]);
    let mut buf = [0u8; 32];
    let n = encode_dentry(1, b"ok", &mut buf).unwrap();
    script.publish(&[vfs_event(vfs::CREATE, 0, 77, &buf[..n])]).unwrap();
    let got = receive(&mut client, &mut q, 1);
    assert_eq!((got[0].object, got[0].seq), (77, 0));
}

#[test]
fn a_crashed_driver_is_a_process_event_and_the_server_goes_on() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Process);
    subscribe(&mut client, &q, Category::Device);
    let status = sys.status();
    let device = status.domains.iter().find(|d| d.name == "device").unwrap();
    evq_hosted::host::kill(sys.pid_of("device"), libc::SIGSEGV).unwrap();
    let got = receive(&mut client, &mut q, 1);
    assert_eq!(
        (got[0].category, got[0].kind, got[0].object),
        (Category::Process, process::FAULT, u64::from(device.id))
    );
    let fault = FaultPayload::read_from_bytes(&got[0].payload).unwrap();
    assert_eq!(fault.kind.get(), process::fault::VM);
    assert_eq!(got[0].source, source_id(&status, "root"));
    let dead = sys.until("the device is reported dead", |s| {
        s.domains.iter().any(|d| d.name == "device" && d.state == "killed by SIGSEGV")
    });
    // The status names it: the system is degraded, and so `evq stats` says.
    assert_eq!(dead.degraded, ["device killed by SIGSEGV"]);
    let stats = Command::new(env!("CARGO_BIN_EXE_evq")).arg("stats").arg("--console").arg(sys.path()).output().unwrap();
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(text.contains("\nsystem: degraded: device killed by SIGSEGV\n"), "{text}");
    // The server goes on: another source's events still arrive.
    let (_, mut flood) = sys.console.attach_source(Some("flood")).unwrap();
    flood.publish(&[device_event(3)]).unwrap();
    let got = until_event(&mut client, &mut q, |g| g.category == Category::Device);
    assert_eq!(got.last().map(|g| g.object), Some(3));
}

/// What the supervisor core defines for a fault, on both platforms:
/// `FAULT`, then (for a client) `ClientGone`, then `EXIT` with 128 + the
/// fault kind.
#[test]
fn a_crashed_client_domain_is_a_fault_then_gone_then_an_exit() {
    let text = format!(
        "{SYSTEM}\n[[domain]]\nname = \"watch\"\nimage = \"evq-watch\"\npriority = 100\nrole = \"client\"\nbadge = 0x24\n"
    );
    let sys = System::start_with(&text);
    // The watcher has its queue and a subscription per category.
    // The probe, which runs once at start, must be done too: its end
    // changes the server's client count.
    let base = sys.until("the watcher subscribed and the probe has run", |s| {
        s.server.subscriptions == Category::PUBLISHABLE.len()
            && s.domains.iter().any(|d| d.name == "watch")
            && s.domains.iter().any(|d| d.name == "probe" && !d.state.starts_with("running"))
    });
    let watch = base.domains.iter().find(|d| d.name == "watch").unwrap();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Process);
    let base = sys.status().server;
    evq_hosted::host::kill(watch.pid.expect("running"), libc::SIGSEGV).unwrap();
    let object = u64::from(watch.id);
    let got: Vec<Got> = until_event(&mut client, &mut q, |g| g.kind == process::EXIT && g.object == object)
        .into_iter()
        .filter(|g| g.object == object)
        .collect();
    assert_eq!(got.iter().map(|g| g.kind).collect::<Vec<_>>(), vec![process::FAULT, process::EXIT]);
    let fault = FaultPayload::read_from_bytes(&got[0].payload).unwrap();
    assert_eq!(fault.kind.get(), process::fault::VM);
    let exit = ExitPayload::read_from_bytes(&got[1].payload).unwrap();
    assert_eq!(exit.code.get(), 128 + u64::from(process::fault::VM));
    // The client was reported gone before its exit was published: its queue
    // and subscriptions are already freed.
    let after = sys.status().server;
    assert_eq!(after.queues, base.queues - 1);
    assert_eq!(after.subscriptions, base.subscriptions - Category::PUBLISHABLE.len());
    assert_eq!(after.clients, base.clients - 1);
}

/// A client subscribed to the device driver's input events, and the
/// driver's terminal opened for writing; `None` where the machine has no
/// pseudo-terminal (said on standard error).
fn typing_into_the_terminal(sys: &System) -> Option<(Client, HostedQueue, std::fs::File)> {
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let q = client.create_queue(1).expect("queue");
    let mut input = Filter::all_of(Category::Device);
    input.type_mask = 1 << device::INPUT;
    client.subscribe(&q, input).unwrap();
    let Some(pty) = sys.status().pty else {
        eprintln!("no pseudo-terminal on this machine: the device driver has no input to report");
        return None;
    };
    let term = std::fs::OpenOptions::new().write(true).open(&pty).expect("open the terminal");
    Some((client, q, term))
}

/// A line longer than the device core's `MAX_INPUT` comes in pieces of it.
#[test]
fn a_long_line_typed_comes_in_pieces_of_the_cores_input_size() {
    use std::io::Write;
    let sys = System::start();
    let Some((mut client, mut q, mut term)) = typing_into_the_terminal(&sys) else { return };
    let line: Vec<u8> = (0..150u32).map(|i| b'a' + (i % 26) as u8).collect();
    term.write_all(&[&line[..], b"\n"].concat()).unwrap();
    let max = evq_device::MAX_INPUT;
    let got: Vec<Vec<u8>> = receive(&mut client, &mut q, 3).into_iter().map(|g| g.payload).collect();
    assert_eq!(got, vec![line[..max].to_vec(), line[max..2 * max].to_vec(), line[2 * max..].to_vec()]);
}

#[test]
fn the_device_driver_reports_lines_typed_into_its_terminal() {
    use std::io::Write;
    let sys = System::start();
    let Some((mut client, mut q, mut term)) = typing_into_the_terminal(&sys) else { return };
    term.write_all(b"first line\nsecond\r\n").unwrap();
    let got = receive(&mut client, &mut q, 2);
    assert_eq!(
        got.iter().map(|g| g.payload.clone()).collect::<Vec<_>>(),
        vec![b"first line".to_vec(), b"second".to_vec()]
    );
    assert!(got.iter().all(|g| g.object == evq_hosted::domains::devices::TERMINAL));
}

#[test]
fn the_network_driver_reports_real_traffic_and_link_changes() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(2).expect("queue");
    subscribe(&mut client, &q, Category::Network);
    let status = sys.status();
    let veth = status.network.starts_with("veth");
    eprintln!("network driver: {}", status.network);
    sys.console.request(&console::Request::Traffic { packets: 4, tx: false }).unwrap();
    // Received packets on the watched end (veth), or either way on loopback.
    let mut rx = 0;
    let deadline = Instant::now() + DEADLINE;
    while rx < 4 {
        assert!(Instant::now() < deadline, "no rx counted");
        for g in receive(&mut client, &mut q, 1) {
            if g.kind == network::RX {
                rx += CountersPayload::read_from_bytes(&g.payload).unwrap().packets.get();
            }
        }
    }
    if veth {
        sys.console.request(&console::Request::Link { up: false }).unwrap();
        until_event(&mut client, &mut q, |g| g.kind == network::LINK_DOWN);
        sys.console.request(&console::Request::Link { up: true }).unwrap();
        until_event(&mut client, &mut q, |g| g.kind == network::LINK_UP);
    } else {
        let (reply, _) = sys.console.request(&console::Request::Link { up: false }).unwrap();
        assert!(matches!(reply, console::Reply::Error { .. }), "loopback's link is never touched");
    }
}

#[test]
fn domains_hold_only_their_capabilities_and_are_confined() {
    let sys = System::start();
    let s = sys
        .until("the probe has run", |s| s.domains.iter().any(|d| d.name == "probe" && d.state.starts_with("exited")));
    let state = &s.domains.iter().find(|d| d.name == "probe").unwrap().state;
    let code: i32 = state.strip_prefix("exited ").unwrap().parse().unwrap();
    assert_eq!(code & probe_bits::EXTRA_FDS, 0, "a domain inherits nothing but its capabilities");
    match s.seccomp.as_str() {
        "on" => assert_eq!(code, 0, "seccomp is on: no file, socket or program for a domain"),
        other => {
            eprintln!("seccomp is {other} on this machine: the probe ran unconfined (code {code})");
            assert_ne!(code & probe_bits::OPENED_FILE, 0, "without the filter, opening works: the probe tests it");
        }
    }
}

#[test]
fn the_system_reports_its_life_as_events() {
    let sys = System::start();
    let (name, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Process);
    subscribe(&mut client, &q, Category::System);
    let id = sys.status().domains.iter().find(|d| d.name == name).unwrap().id;
    // Another console process attaches and leaves.
    let other = sys.connect();
    let (other_name, _c) = other.attach_client(None).expect("another client");
    let other_id = sys.status().domains.iter().find(|d| d.name == other_name).unwrap().id;
    drop(_c);
    drop(other);
    let got = receive(&mut client, &mut q, 2);
    assert_eq!(
        got.iter().map(|g| (g.kind, g.object)).collect::<Vec<_>>(),
        vec![(process::START, u64::from(other_id)), (process::EXIT, u64::from(other_id))]
    );
    assert_ne!(id, other_id);
    drop(sys);
    // The launcher's last word.
    let got = drain(&mut q);
    assert_eq!(got.last().map(|g| (g.category, g.kind)), Some((Category::System, sys_kind::SHUTDOWN)), "{got:?}");
}

fn fs(sys: &System, args: &[&str]) -> String {
    match sys.console.request(&console::Request::Fs { args: args.iter().map(|s| s.to_string()).collect() }).unwrap().0 {
        console::Reply::Done { output } => output,
        other => panic!("evq fs {args:?}: {other:?}"),
    }
}

#[test]
fn a_file_system_session_on_the_vfs_domain_yields_exactly_its_events_in_order() {
    let sys = System::start();
    let (_, mut client) = sys.console.attach_client(None).expect("client");
    let mut q = client.create_queue(4).expect("queue");
    subscribe(&mut client, &q, Category::Vfs);
    let session: &[&[&str]] = &[
        &["mkdir", "/docs"],
        &["touch", "/docs/notes.txt"],
        &["write", "/docs/notes.txt", "hello"],
        &["chmod", "600", "/docs/notes.txt"],
        &["ln", "/docs/notes.txt", "/link.txt"],
        &["mv", "/docs/notes.txt", "/docs/todo.txt"],
        &["rm", "/link.txt"],
        &["mkdir", "/mnt"],
        &["mount", "/mnt"],
        &["touch", "/mnt/a.log"],
        &["umount", "/mnt"],
        &["rm", "/docs/todo.txt"],
        &["rm", "/docs"],
    ];
    for cmd in session {
        fs(&sys, cmd);
        if cmd[0] == "write" {
            // A read answers the data and publishes nothing.
            assert_eq!(fs(&sys, &["cat", "/docs/notes.txt"]), "hello");
        }
    }
    use vfs::flags::*;
    let want: Vec<(u8, u8, &str)> = vec![
        (vfs::CREATE, IS_DIR, "1:docs"),
        (vfs::CREATE, 0, "D:notes.txt"),
        (vfs::ATTRIB, ATTR_MTIME | ATTR_SIZE, "D:notes.txt"),
        (vfs::ATTRIB, ATTR_MODE, "D:notes.txt"),
        (vfs::CREATE, 0, "1:link.txt"),
        (vfs::ATTRIB, ATTR_NLINK, ""),
        (vfs::RENAME, 0, "D:notes.txt>D:todo.txt"),
        (vfs::DELETE, 0, "1:link.txt"),
        (vfs::ATTRIB, ATTR_NLINK, ""),
        (vfs::CREATE, IS_DIR, "1:mnt"),
        (vfs::MOUNT, IS_DIR, "1:mnt"),
        (vfs::CREATE, 0, "M:a.log"),
        (vfs::UNMOUNT, IS_DIR, "1:mnt"),
        (vfs::DELETE, 0, "D:todo.txt"),
        (vfs::DELETE, IS_DIR, "1:docs"),
    ];
    let got = receive(&mut client, &mut q, want.len());
    let docs = got[0].object;
    let notes = got[1].object;
    let mounted_root = {
        let (parent, _) = decode_dentry(&got[11].payload).unwrap();
        parent
    };
    let names = |g: &Got| -> String {
        let show = |parent: u64, name: &[u8]| {
            let p = if parent == docs {
                "D".to_string()
            } else if parent == mounted_root {
                "M".into()
            } else {
                parent.to_string()
            };
            format!("{p}:{}", String::from_utf8_lossy(name))
        };
        match g.kind {
            vfs::RENAME => {
                let r = decode_rename(&g.payload).unwrap();
                format!("{}>{}", show(r.old_parent, r.old_name), show(r.new_parent, r.new_name))
            }
            vfs::MOUNT | vfs::UNMOUNT => {
                let (parent, _, name) = decode_mount(&g.payload).unwrap();
                show(parent, name)
            }
            vfs::ATTRIB if g.type_flags & ATTR_NLINK != 0 => String::new(),
            _ => {
                let (parent, name) = decode_dentry(&g.payload).unwrap();
                show(parent, name)
            }
        }
    };
    let seen: Vec<(u8, u8, String)> = got.iter().map(|g| (g.kind, g.type_flags, names(g))).collect();
    let want: Vec<(u8, u8, String)> = want.into_iter().map(|(k, f, n)| (k, f, n.to_string())).collect();
    assert_eq!(seen, want);
    // The file keeps its inode through write, chmod, link, rename and delete.
    for i in [2, 3, 4, 5, 6, 7, 8, 13] {
        assert_eq!(got[i].object, notes, "event {i}");
    }
    assert_eq!(got[14].object, docs);
    let vfs_id = source_id(&sys.status(), "vfs");
    assert!(got.iter().all(|g| g.source == vfs_id && g.lost_before == 0));
    assert_eq!(got.iter().map(|g| g.seq).collect::<Vec<_>>(), (0..want.len() as u64).collect::<Vec<_>>());
    // Exactly those, and refusals publish nothing.
    let (reply, _) = sys.console.request(&console::Request::Fs { args: vec!["rm".into(), "/nothing".into()] }).unwrap();
    assert!(matches!(reply, console::Reply::Error { .. }));
    client.wait(&mut q, Duration::from_millis(300)).unwrap();
    assert_eq!(drain(&mut q), vec![]);
}

// ---------------------------------------------------------------------------
// Ingest rings: every source publishes through shared memory.

/// A board for the ingest-ring tests: source slots for concurrent,
/// hostile and slow sources, client slots, and a lossless client slot
/// (`audit`), which the console hands out only by name.
const INGEST_SYSTEM: &str = r#"
board = "hosted-ingest"

[[domain]]
name = "evq-server"
image = "evq-server"
priority = 200
role = "server"
ring_pool_pages = 256

[[domain]]
name = "s1"
image = "attach"
priority = 150
role = "source"
badge = 0x31
categories = ["device"]

[[domain]]
name = "s2"
image = "attach"
priority = 150
role = "source"
badge = 0x32
categories = ["device"]
ingest_pages = 1

[[domain]]
name = "s3"
image = "attach"
priority = 150
role = "source"
badge = 0x33
categories = ["device"]
ingest_pages = 8

[[domain]]
name = "bad-head"
image = "attach"
priority = 150
role = "source"
badge = 0x34
categories = ["vfs"]

[[domain]]
name = "bad-entry"
image = "attach"
priority = 150
role = "source"
badge = 0x35
categories = ["vfs"]

[[domain]]
name = "audit"
image = "attach"
priority = 100
role = "client"
badge = 0x20
lossless = true

[[domain]]
name = "c1"
image = "attach"
priority = 100
role = "client"
badge = 0x21

[[domain]]
name = "c2"
image = "attach"
priority = 100
role = "client"
badge = 0x22

[[domain]]
name = "c3"
image = "attach"
priority = 100
role = "client"
badge = 0x23
"#;

/// A Device INPUT event: `n` as its object, the source's tag as its payload.
fn numbered(n: u64, tag: u8) -> Event<'static> {
    const TAGS: [[u8; 8]; 4] = [[0; 8], [1; 8], [2; 8], [3; 8]];
    Event {
        category: Category::Device,
        kind: device::INPUT,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: n,
        payload: &TAGS[tag as usize % TAGS.len()],
    }
}

/// The end of a source's run: a critical event (the ring's reserve always
/// has room for it), object `u64::MAX`.
fn end_marker() -> Event<'static> {
    Event { priority: Priority::Critical, ..numbered(u64::MAX, 0) }
}

/// What one client made of a run: per source id, how many numbers it
/// received and the last; and the loss its queue reported.
#[derive(Debug, Default)]
struct Tally {
    received: std::collections::BTreeMap<u32, u64>,
    last: std::collections::BTreeMap<u32, u64>,
    ended: std::collections::BTreeSet<u32>,
    lost: u64,
    next_seq: u64,
}

impl Tally {
    /// Checks one event against everything before it: its sequence number
    /// follows the last one's, with exactly the loss it reports in
    /// between; its source's numbers only rise.
    fn take(&mut self, g: &Got) {
        assert_eq!(g.seq, self.next_seq + g.lost_before, "sequence numbers account for every event: {g:?}");
        self.next_seq = g.seq + 1;
        self.lost += g.lost_before;
        assert!(!self.ended.contains(&g.source), "nothing after a source's end marker: {g:?}");
        if g.object == u64::MAX {
            self.ended.insert(g.source);
            return;
        }
        let expected = self.last.get(&g.source).map_or(0, |l| l + 1);
        assert!(g.object >= expected, "each number once, in order: {g:?} after {expected}");
        *self.received.entry(g.source).or_default() += 1;
        self.last.insert(g.source, g.object);
    }

    /// After every source's end marker: each of `per_source` numbers of
    /// each source arrived once or is missing, and the missing are exactly
    /// the loss the queue reported.
    fn check(&self, sources: &[u32], per_source: u64) {
        let mut missing = 0;
        for s in sources {
            let got = self.received.get(s).copied().unwrap_or(0);
            assert!(self.last.get(s).is_none_or(|l| *l < per_source), "source {s}: a number never sent: {self:?}");
            missing += per_source - got;
        }
        assert_eq!(missing, self.lost, "the loss reported is exactly the numbers missing: {self:?}");
    }
}

/// Reads until every one of `sources` has sent its end marker.
fn read_run(client: &mut Client, q: &mut HostedQueue, sources: usize) -> Tally {
    let mut tally = Tally::default();
    let deadline = Instant::now() + DEADLINE;
    while tally.ended.len() < sources {
        for g in drain(q) {
            tally.take(&g);
        }
        if tally.ended.len() == sources {
            break;
        }
        assert!(Instant::now() < deadline, "timed out: {tally:?}");
        client.wait(q, Duration::from_millis(200)).expect("wait");
    }
    tally
}

#[test]
fn sources_publishing_at_once_reach_every_client_exactly_once_in_order_or_counted_lost() {
    const N: u64 = 4000;
    let sys = System::start_with(INGEST_SYSTEM);
    let path = sys.path();
    // Three readers: two keep up (a large ring, a middling one), one reads
    // nothing until the sources are done (a one-page ring: it must lose,
    // and count, most of it).
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let done_rx = Arc::new(Mutex::new(done_rx));
    let mut readers = Vec::new();
    for (slot, pages, lazy) in [("c1", 16, false), ("c2", 4, false), ("c3", 1, true)] {
        let (path, ready, done) = (path.clone(), ready_tx.clone(), done_rx.clone());
        readers.push(std::thread::spawn(move || {
            let console = Console::connect(&path).expect("console");
            let (_, mut client) = console.attach_client(Some(slot)).expect("client");
            let mut q = client.create_queue(pages).expect("queue");
            subscribe(&mut client, &q, Category::Device);
            ready.send(()).unwrap();
            if lazy {
                let _ = done.lock().unwrap().recv();
            }
            let tally = read_run(&mut client, &mut q, 3);
            let stats = client.stats(StatsTarget::Queue(q.queue)).expect("queue stats");
            (slot, tally, stats.counters.dropped)
        }));
    }
    for _ in &readers {
        ready_rx.recv_timeout(DEADLINE).expect("a reader is ready");
    }
    // Three sources at once, each its own console connection and slot, in
    // batches of changing sizes; ring sizes of 4, 1 and 8 pages.
    let mut sources = Vec::new();
    for (tag, slot) in ["s1", "s2", "s3"].into_iter().enumerate() {
        let path = path.clone();
        sources.push(std::thread::spawn(move || {
            let console = Console::connect(&path).expect("console");
            let (_, mut publisher) = console.attach_source(Some(slot)).expect("source");
            let mut n = 0;
            let mut size = 1;
            while n < N {
                let batch: Vec<_> = (n..(n + size).min(N)).map(|i| numbered(i, tag as u8)).collect();
                publisher.publish(&batch).expect("publish");
                n += batch.len() as u64;
                size = size % 61 + 1;
            }
            publisher.publish_one(end_marker()).expect("publish the end");
            // The slot stays held (and its ring read) until the readers are done.
            (console, publisher.stats())
        }));
    }
    let sources: Vec<_> = sources.into_iter().map(|t| t.join().expect("a source")).collect();
    done_tx.send(()).unwrap();
    let status = sys.status();
    let ids: Vec<u32> = ["s1", "s2", "s3"].iter().map(|n| source_id(&status, n)).collect();
    for reader in readers {
        let (slot, tally, dropped) = reader.join().expect("a reader");
        tally.check(&ids, N);
        assert_eq!(tally.lost, dropped, "{slot}: the queue's dropped count is the loss it reported");
        if slot == "c3" {
            assert!(tally.lost > 0, "c3's one-page ring cannot hold the run: it lost, and counted, most of it");
        }
        eprintln!("{slot}: {:?} received, {} lost", tally.received, tally.lost);
    }
    // The server took every event of every source, and none twice.
    let status = sys.until("the sources are counted", |s| {
        ["s1", "s2", "s3"].iter().all(|n| {
            s.server.sources.iter().any(|x| x.name == *n && x.counters.published == N + 1 && x.ring == "attached")
        })
    });
    assert_eq!(status.server.cut_off, 0);
    for (_, stats) in &sources {
        assert_eq!(stats.events, N + 1);
    }
    drop(sources);
}

/// Stores `value` into the ring word at `offset` of a mapped region with
/// an atomic store, as the ring protocol requires (a hostile party does
/// what it likes with it).
fn store_word(region: (std::ptr::NonNull<u8>, usize), offset: usize, value: u32) {
    let (base, len) = region;
    assert!(offset + 4 <= len && offset.is_multiple_of(4));
    // SAFETY: the region is this test's live mapping; `offset` is inside
    // it and 4-byte aligned (checked above).
    let word = unsafe { AtomicU32::from_ptr(base.as_ptr().add(offset).cast()) };
    word.store(value, Ordering::Release);
}

fn load_word(region: (std::ptr::NonNull<u8>, usize), offset: usize) -> u32 {
    let (base, len) = region;
    assert!(offset + 4 <= len && offset.is_multiple_of(4));
    // SAFETY: as in `store_word`.
    let word = unsafe { AtomicU32::from_ptr(base.as_ptr().add(offset).cast()) };
    word.load(Ordering::Acquire)
}

fn ring_state(status: &Status, name: &str) -> String {
    status.server.sources.iter().find(|s| s.name == name).map(|s| s.ring.clone()).expect("a registered source")
}

#[test]
fn a_source_that_breaks_its_ring_is_cut_off_and_everyone_else_goes_on() {
    use evq_abi::ring::control;
    let sys = System::start_logged(INGEST_SYSTEM);
    let (_, mut client) = sys.console.attach_client(Some("c1")).expect("client");
    let mut q = client.create_queue(8).expect("queue");
    subscribe(&mut client, &q, Category::Vfs);
    subscribe(&mut client, &q, Category::Device);
    let (_, mut good) = sys.console.attach_source(Some("s1")).expect("good source");
    let mut seq = 0;
    /// A hundred events of the good source, numbered from `from`: each
    /// arrives once, in order.
    fn good_run(good: &mut Publisher, client: &mut Client, q: &mut HostedQueue, from: u64, seq: &mut u64) {
        let events: Vec<_> = (from..from + 100).map(|i| numbered(i, 1)).collect();
        good.publish(&events).expect("publish");
        let got = receive(client, q, 100);
        assert_eq!(got.iter().map(|g| g.object).collect::<Vec<_>>(), (from..from + 100).collect::<Vec<_>>());
        assert_eq!(got.iter().map(|g| g.seq).collect::<Vec<_>>(), (*seq..*seq + 100).collect::<Vec<_>>());
        *seq += 100;
    }
    good_run(&mut good, &mut client, &mut q, 0, &mut seq);
    let mut buf = [0u8; 32];
    let n = encode_dentry(1, b"f", &mut buf).unwrap();

    // A source that moves its ring's head where no entry is.
    let hostile = sys.connect();
    let (_, mut bad_head) = hostile.attach_source(Some("bad-head")).expect("source");
    bad_head.publish(&[vfs_event(vfs::CREATE, 0, 7, &buf[..n])]).unwrap();
    assert_eq!(receive(&mut client, &mut q, 1)[0].object, 7, "its good event first");
    seq += 1;
    store_word(bad_head.link().region(), control::HEAD, 100_000);
    bad_head.link().signal_server();
    let line = sys.logged("source bad-head's ingest ring is cut off");
    assert!(line.contains("its head 100000 is impossible"), "the reason, in words: {line}");
    let s = sys.until("the status says so", |s| s.server.cut_off == 1);
    assert!(ring_state(&s, "bad-head").starts_with("cut off: its head 100000"), "{s:#?}");
    good_run(&mut good, &mut client, &mut q, 100, &mut seq);

    // A source that writes an entry that is no event: a header for a VFS
    // CREATE whose body names category 0.
    let (_, mut bad_entry) = hostile.attach_source(Some("bad-entry")).expect("source");
    bad_entry.publish(&[vfs_event(vfs::CREATE, 0, 8, &buf[..n])]).unwrap();
    assert_eq!(receive(&mut client, &mut q, 1)[0].object, 8);
    seq += 1;
    {
        let (base, len) = bad_entry.link().region();
        // SAFETY: the region is this test's live mapping of the slot's ring;
        // the producer here writes it only through the ring's atomics, and
        // the publisher's own producer is not used again.
        let mut forger = unsafe { evq_ring::Producer::attach(base, len) }.expect("the ring attaches");
        let kind = evq_ring::EntryKind { ty: Category::Vfs as u32, subtype: vfs::CREATE, info: 0 };
        forger.push(kind, &[0u8; 16], false).expect("room for the entry");
    }
    bad_entry.link().signal_server();
    let line = sys.logged("source bad-entry's ingest ring is cut off");
    assert!(line.contains("an entry is not an event"), "{line}");
    sys.until("the status says so", |s| s.server.cut_off == 2 && ring_state(s, "bad-entry").starts_with("cut off"));
    good_run(&mut good, &mut client, &mut q, 200, &mut seq);

    // The cut-off source's endpoint still works: a call-based publish is
    // answered once the event is in the client's ring.
    bad_head.link().publish_by_call(&[vfs_event(vfs::ATTRIB, 0, 11, &buf[..n])], DEADLINE).expect("by call");
    let got = drain(&mut q);
    assert_eq!(got.iter().map(|g| (g.object, g.seq)).collect::<Vec<_>>(), vec![(11, seq)]);
    seq += 1;
    // Nothing more of theirs arrives; the server still serves (its status,
    // the other source, the client's requests) and runs.
    bad_head.publish(&[vfs_event(vfs::DELETE, 0, 9, &buf[..n])]).unwrap();
    bad_entry.publish(&[vfs_event(vfs::DELETE, 0, 9, &buf[..n])]).unwrap();
    client.wait(&mut q, Duration::from_millis(300)).unwrap();
    assert_eq!(drain(&mut q), vec![]);
    let s = sys.status();
    assert!(s.domains.iter().any(|d| d.name == "evq-server" && d.state == "running"));
    assert_eq!(client.stats(StatsTarget::Queue(q.queue)).expect("stats").counters.dropped, 0);
    // The slot's next holder gets a fresh ring, which works.
    drop(bad_head);
    drop(bad_entry);
    drop(hostile);
    sys.until("the slots are free", |s| {
        s.domains.iter().filter(|d| d.name.starts_with("bad-") && d.state == "free").count() == 2
    });
    let (_, mut again) = sys.console.attach_source(Some("bad-head")).expect("the slot again");
    again.publish(&[vfs_event(vfs::CREATE, 0, 10, &buf[..n])]).unwrap();
    let got = receive(&mut client, &mut q, 1);
    assert_eq!((got[0].object, got[0].seq), (10, seq));
    seq += 1;
    assert_eq!(ring_state(&sys.status(), "bad-head"), "attached");
    good_run(&mut good, &mut client, &mut q, 300, &mut seq);
}

#[test]
fn a_lossless_client_that_reads_slowly_loses_nothing_while_a_normal_one_drops_and_counts() {
    const N: u64 = 2000;
    let sys = System::start_with(INGEST_SYSTEM);
    // The lossless slot is handed out only by name.
    let (name, mut other) = sys.console.attach_client(None).expect("a client");
    assert_ne!(name, "audit");
    let (_, mut audit) = sys.console.attach_client(Some("audit")).expect("the lossless slot");
    let mut qa = audit.create_queue(1).expect("queue");
    subscribe(&mut audit, &qa, Category::Device);
    let mut qo = other.create_queue(1).expect("queue");
    subscribe(&mut other, &qo, Category::Device);
    let path = sys.path();
    let source = std::thread::spawn(move || {
        let console = Console::connect(&path).expect("console");
        let (_, mut publisher) = console.attach_source(Some("s1")).expect("source");
        let events: Vec<_> = (0..N).map(|i| numbered(i, 1)).collect();
        publisher.publish(&events).expect("publish");
        (console, publisher)
    });
    // The lossless queue's one-page ring fills, and the source is held.
    sys.until("the source is held back", |s| {
        s.server.sources.iter().any(|x| x.name == "s1" && x.counters.throttled > 0)
    });
    // Read slowly: a few events at a time, with a pause between.
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while (got.len() as u64) < N {
        assert!(Instant::now() < deadline, "timed out with {} of {N}", got.len());
        let mut read = 0;
        while read < 16 {
            let Some(e) = qa.next_event().expect("ring reads") else { break };
            got.push((e.object_id, e.seq, e.lost_before));
            read += 1;
        }
        if read == 0 {
            audit.wait(&mut qa, Duration::from_millis(200)).expect("wait");
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let (_console, mut publisher) = source.join().expect("the source");
    assert!(publisher.stats().busy > 0, "the source waited for room");
    assert_eq!(got, (0..N).map(|i| (i, i, 0)).collect::<Vec<_>>(), "every event, once, in order, none lost");
    let audit_stats = audit.stats(StatsTarget::Queue(qa.queue)).expect("stats");
    assert_eq!(audit_stats.counters.dropped, 0);
    // The other client, beside it, read nothing meanwhile: its one-page
    // ring dropped most of the run. It reads what it has, and the next
    // event brings the count of the rest.
    let mut tally = Tally::default();
    for g in drain(&mut qo) {
        tally.take(&g);
    }
    publisher.publish_one(end_marker()).expect("publish the end");
    for g in receive(&mut other, &mut qo, 1) {
        tally.take(&g);
    }
    let s1 = source_id(&sys.status(), "s1");
    tally.check(&[s1], N);
    let dropped = other.stats(StatsTarget::Queue(qo.queue)).expect("stats").counters.dropped;
    assert!(dropped > 0, "{tally:?}");
    assert_eq!((tally.lost, qo.events().lost_total()), (dropped, dropped), "every drop counted, in the ring too");
    let end = receive(&mut audit, &mut qa, 1);
    assert_eq!((end[0].object, end[0].seq, end[0].lost_before), (u64::MAX, N, 0));
    let s = sys.status();
    let counters = s.server.sources.iter().find(|x| x.name == "s1").unwrap().counters;
    assert_eq!((counters.published, counters.dropped), (N + 1, dropped), "the source's drops are the other queue's");
}

#[test]
fn a_lone_event_wakes_a_sleeping_server_and_client_by_their_doorbells() {
    use evq_abi::ring::control;
    const ROUNDS: u64 = 20;
    let sys = System::start_with(INGEST_SYSTEM);
    let (_, mut client) = sys.console.attach_client(Some("c1")).expect("client");
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Device);
    let (_, publisher) = sys.console.attach_source(Some("s1")).expect("source");
    // The client's ring, for the source to see when the client sleeps.
    let client_ring = q.region().0.as_ptr() as usize;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<u64>();
    let source = std::thread::spawn(move || {
        let mut publisher = publisher;
        let mut latencies = Vec::new();
        for n in go_rx {
            // Until the client sleeps (it has set its waiting flag), and so
            // does the server (it has set the ingest ring's).
            let deadline = Instant::now() + DEADLINE;
            let client_ring = std::ptr::NonNull::new(client_ring as *mut u8).unwrap();
            while load_word((client_ring, 4096), control::WAITING) == 0
                || load_word(publisher.link().region(), control::WAITING) == 0
            {
                assert!(Instant::now() < deadline, "the server and the client never slept");
                std::thread::yield_now();
            }
            let t = evq_hosted::host::monotonic_ns();
            publisher.publish_one(Event { object_id: t, ..numbered(n, 1) }).expect("publish");
            latencies.push(t);
        }
        (publisher.link().signals(), latencies.len())
    });
    let mut latencies = Vec::new();
    for n in 0..ROUNDS {
        go_tx.send(n).unwrap();
        // One wait: the signal that ends it is the server's, after the
        // source's doorbell woke it.
        let mut woken = client.wait(&mut q, DEADLINE).expect("wait");
        let mut got = drain(&mut q);
        while got.is_empty() {
            woken = client.wait(&mut q, DEADLINE).expect("wait");
            got = drain(&mut q);
        }
        assert_eq!(woken, evq_hosted::client::Woken::Ready, "woken, within the deadline");
        let now = evq_hosted::host::monotonic_ns();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].seq, n);
        latencies.push(now - got[0].object);
    }
    drop(go_tx);
    let (signals, published) = source.join().expect("the source");
    assert_eq!(published as u64, ROUNDS);
    // Each lone event found the server asleep and rang its doorbell: no
    // tick had to find it. (One that lands while the server is awake for
    // its own tick needs no doorbell; that window is short.)
    assert!(signals >= ROUNDS / 2, "{signals} doorbells for {ROUNDS} lone events");
    latencies.sort_unstable();
    eprintln!(
        "a lone event, publish to a sleeping client's read: median {} us, max {} us; {signals} doorbells",
        latencies[latencies.len() / 2] / 1000,
        latencies[latencies.len() - 1] / 1000
    );
}

#[test]
fn a_source_that_goes_right_after_publishing_still_has_its_events_taken() {
    let sys = System::start_with(INGEST_SYSTEM);
    let (_, mut client) = sys.console.attach_client(Some("c1")).expect("client");
    let mut q = client.create_queue(16).expect("queue");
    subscribe(&mut client, &q, Category::Device);
    {
        let console = sys.connect();
        // A one-page ring: the publish waits for room on the way.
        let (_, mut source) = console.attach_source(Some("s2")).expect("source");
        let events: Vec<_> = (0..300).map(|i| numbered(i, 2)).collect();
        source.publish(&events).expect("publish");
        // Gone at once, its console connection and ring with it.
    }
    let got = receive(&mut client, &mut q, 300);
    assert_eq!(
        got.iter().map(|g| (g.object, g.seq, g.lost_before)).collect::<Vec<_>>(),
        (0..300).map(|i| (i, i, 0)).collect::<Vec<_>>()
    );
    sys.until("the slot is free", |s| s.domains.iter().any(|d| d.name == "s2" && d.state == "free"));
}

#[test]
fn a_source_waiting_for_room_learns_that_the_server_is_gone() {
    let sys = System::start_with(INGEST_SYSTEM);
    // A lossless client that reads nothing holds its sources back for good.
    let (_, mut audit) = sys.console.attach_client(Some("audit")).expect("the lossless slot");
    let qa = audit.create_queue(1).expect("queue");
    subscribe(&mut audit, &qa, Category::Device);
    let path = sys.path();
    let source = std::thread::spawn(move || {
        let console = Console::connect(&path).expect("console");
        let (_, mut publisher) = console.attach_source(Some("s1")).expect("source");
        let events: Vec<_> = (0..2000).map(|i| numbered(i, 1)).collect();
        publisher.publish(&events).map_err(|e| e.to_string())
    });
    sys.until("the source is held back", |s| {
        s.server.sources.iter().any(|x| x.name == "s1" && x.counters.throttled > 0)
    });
    evq_hosted::host::kill(sys.pid_of("evq-server"), libc::SIGKILL).unwrap();
    let result = source.join().expect("the source's thread");
    let error = result.expect_err("no publish succeeds without a server");
    assert!(error.contains("the server is gone"), "{error}");
    drop(qa);
}

/// Signals an eventfd as its holder would.
fn signal_note(fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from a live buffer to an eventfd.
    assert_eq!(unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) }, 8);
}

/// Whether an eventfd has a signal pending (without taking it).
fn pending(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    evq_hosted::host::poll(&[fd], Some(Duration::ZERO)).expect("poll")[0]
}

/// Attaches slot `name` with `role` on `console`, as raw descriptors.
fn attach_raw(console: &Console, name: &str, role: &str) -> Vec<std::os::fd::OwnedFd> {
    let request = console::Request::Attach { domain: Some(name.into()), role: role.into() };
    match console.request(&request).expect("attach") {
        (console::Reply::Attached { .. }, fds) => fds,
        (other, _) => panic!("attach {name}: {other:?}"),
    }
}

#[test]
fn a_slots_last_holder_keeps_nothing_that_reaches_its_next_holder() {
    let sys = System::start();
    // The first holders of a client slot and a source slot keep copies of
    // everything they were handed, then leave.
    let first = sys.connect();
    let old_client = attach_raw(&first, "console-1", "client");
    let old_source = attach_raw(&first, "script", "source");
    drop(first);
    sys.until("both slots are free", |s| {
        ["console-1", "script"].iter().all(|n| s.domains.iter().any(|d| d.name == *n && d.state == "free"))
    });
    let (old_note, old_bell, old_room) = (old_client[1].as_fd(), old_source[2].as_fd(), old_source[3].as_fd());

    // The next holders.
    let second = sys.connect();
    let client_fds = attach_raw(&second, "console-1", "client");
    let source_fds = attach_raw(&second, "script", "source");
    let (note, bell, room) = (client_fds[1].as_fd(), source_fds[2].as_fd(), source_fds[3].as_fd());
    // Each notification is a new object: a signal on the old copy is not
    // seen on the new one, nor the other way round.
    for (old, new, what) in
        [(old_note, note, "client notification"), (old_bell, bell, "doorbell"), (old_room, room, "room")]
    {
        signal_note(old);
        assert!(!pending(new), "the last holder's {what} signals the new holder's");
        evq_hosted::host::drain(old).expect("drain");
        signal_note(new);
        assert!(!pending(old), "the last holder's {what} sees the new holder's signals");
        evq_hosted::host::drain(new).expect("drain");
    }
    // The old endpoint no longer speaks for the slot: the server closed its end.
    let old_endpoint = evq_hosted::wire::Endpoint::new(old_client[0].try_clone().unwrap()).expect("endpoint");
    let mut old_caller = Client::new(old_endpoint, old_client[1].try_clone().unwrap());
    assert!(old_caller.create_queue(1).is_err(), "the last holder's endpoint still reaches the server");

    // And the new capabilities are the ones the server uses: a lone event
    // through the new ring wakes the server by the new doorbell and the
    // client by its new notification.
    let mut fds = client_fds.into_iter();
    let mut client =
        Client::new(evq_hosted::wire::Endpoint::new(fds.next().unwrap()).expect("endpoint"), fds.next().unwrap());
    let mut q = client.create_queue(1).expect("queue");
    subscribe(&mut client, &q, Category::Vfs);
    let mut fds = source_fds.into_iter();
    let (ep, ring, bell, room) = (fds.next().unwrap(), fds.next().unwrap(), fds.next().unwrap(), fds.next().unwrap());
    let link = evq_hosted::ingest::SourceLink::new(
        evq_hosted::wire::Endpoint::new(ep).expect("endpoint"),
        ring,
        bell,
        room,
        evq_source::WhenFull::Wait,
    )
    .expect("link");
    let mut publisher = Publisher::new(link);
    // The old ring is no longer read: an event the last holder writes into
    // it, ringing both doorbells, never arrives.
    let old_link = evq_hosted::ingest::SourceLink::new(
        evq_hosted::wire::Endpoint::new(old_source[0].try_clone().unwrap()).expect("endpoint"),
        old_source[1].try_clone().unwrap(),
        old_source[2].try_clone().unwrap(),
        old_source[3].try_clone().unwrap(),
        evq_source::WhenFull::Drop,
    )
    .expect("the old ring still maps");
    Publisher::new(old_link).publish_one(vfs_event(vfs::CREATE, 0, 666, b"")).expect("written into the old ring");
    publisher.link().signal_server();
    let waiter = std::thread::spawn(move || {
        let woken = client.wait(&mut q, DEADLINE).expect("wait");
        (woken, drain(&mut q))
    });
    // Until the server sleeps on the new ring, so that only the new
    // doorbell can wake it.
    let deadline = Instant::now() + DEADLINE;
    while load_word(publisher.link().region(), evq_abi::ring::control::WAITING) == 0 {
        assert!(Instant::now() < deadline, "the server never slept on the new ring");
        std::thread::yield_now();
    }
    publisher.publish_one(vfs_event(vfs::CREATE, 0, 7, b"")).expect("publish");
    let (woken, got) = waiter.join().expect("the client");
    assert_eq!(woken, evq_hosted::client::Woken::Ready);
    assert_eq!(got.iter().map(|g| g.object).collect::<Vec<_>>(), [7]);
    assert!(!pending(old_note), "the last holder saw the new holder's wake-up");
}

#[test]
fn a_traffic_request_is_bounded_so_that_the_launcher_always_answers() {
    let sys = System::start();
    let console = sys.connect();
    // Sent from another thread: if the launcher took it on, its loop would
    // be held for hours (2 µs a packet), and the answer would never come
    // within the deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(console.request(&console::Request::Traffic { packets: u32::MAX, tx: false }).map(|r| r.0));
    });
    let reply = rx.recv_timeout(DEADLINE).expect("the launcher answered").expect("a reply");
    let console::Reply::Error { message } = reply else { panic!("{reply:?}") };
    assert_eq!(
        message,
        format!(
            "{} packets is more than the {} one traffic request sends; ask in pieces",
            u32::MAX,
            console::MAX_TRAFFIC
        )
    );
    // The most one request sends is done, and the launcher answers next.
    let (reply, _) =
        sys.console.request(&console::Request::Traffic { packets: console::MAX_TRAFFIC, tx: false }).unwrap();
    assert!(matches!(reply, console::Reply::Done { .. }), "{reply:?}");
    assert!(sys.status().domains.iter().any(|d| d.name == "network"));
}

/// `evq run` at `console` with the test description, which must end
/// within the deadline (it is killed, and the test fails, if it does not);
/// its exit status and what it wrote on standard error, then on standard
/// output.
fn run_to_end(dir: &std::path::Path, console: &std::path::Path) -> (std::process::ExitStatus, String) {
    run_text_to_end(dir, console, SYSTEM)
}

/// [`run_to_end`] with the description `text`.
fn run_text_to_end(dir: &std::path::Path, console: &std::path::Path, text: &str) -> (std::process::ExitStatus, String) {
    use std::io::Read as _;
    let file = dir.join("system.toml");
    std::fs::write(&file, text).expect("write system");
    let mut run = Command::new(env!("CARGO_BIN_EXE_evq"));
    run.arg("run").arg("--system").arg(&file).arg("--console").arg(console);
    let stdout = std::fs::File::create(dir.join("stdout")).expect("stdout file");
    let mut child = run.stdin(Stdio::null()).stdout(stdout).stderr(Stdio::piped()).spawn().expect("evq run");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("evq run at {} did not end: it took the path over", console.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    // Standard output follows, so that one string says all it said.
    stderr.push_str(&std::fs::read_to_string(dir.join("stdout")).expect("read stdout"));
    (status, stderr)
}

#[test]
fn evq_run_never_takes_over_a_console_path_that_is_not_a_dead_systems_socket() {
    // A live system's path: a second `evq run` there is refused and the
    // first goes on answering at it.
    let sys = System::start_with(SYSTEM);
    let (status, stderr) = run_to_end(&sys.dir, &sys.path());
    assert!(!status.success(), "a second evq run on a live console path succeeded");
    assert!(stderr.contains(&format!("a running system answers at {}", sys.path().display())), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    sys.connect().status().expect("the first system still answers at its path");

    // A regular file: refused, and left as it was.
    let file = sys.dir.join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let (status, stderr) = run_to_end(&sys.dir, &file);
    assert!(!status.success());
    assert!(stderr.contains(&format!("{} exists and is not a socket", file.display())), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    // A dead system's socket (bound, then its listener gone): replaced, and
    // the new system comes up there.
    let stale = sys.dir.join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let file = sys.dir.join("system.toml");
    let mut second = Command::new(env!("CARGO_BIN_EXE_evq"))
        .arg("run")
        .arg("--system")
        .arg(&file)
        .arg("--console")
        .arg(&stale)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("evq run");
    let console = Console::connect_within(&stale, DEADLINE).expect("the new system comes up at the stale path");
    console.request(&console::Request::Shutdown).expect("shutdown");
    assert!(second.wait().expect("wait").success());
    assert!(!stale.exists(), "the system removes its own socket when it stops");
}

#[test]
fn a_description_the_hosted_platform_cannot_run_is_refused_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("evq-e2e-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosted = include_str!("../../../../images/hosted/system.toml");
    let cases = [
        (
            hosted.replace("board = \"hosted\"", "board = \"pc99\""),
            "the description is for board \"pc99\"; the hosted platform runs board = \"hosted\" or \"hosted-…\" (images/hosted/system.toml)",
        ),
        (
            hosted.replace("ring_pool_pages = 256", "ring_pool_pages = 100000000"),
            "the server's ring_pool_pages is 100000000; it must be from 2 to 262144 (1024 MiB of rings)",
        ),
        (
            hosted.replace("badge = 0x12", "badge = 0x11"),
            "domains \"vfs\" and \"device\" have the same badge 0x11; each needs its own",
        ),
        (
            hosted.replace("image = \"evq-vfs\"", "image = \"evq-nope\""),
            "domain vfs: the hosted platform has no image \"evq-nope\" (it runs evq-server, evq-vfs, evq-device, evq-network, evq-watch, evq-probe, attach)",
        ),
        (
            hosted.replace("args = \"time=5\"", "args = \"time=abc\""),
            "domain device: args = \"time=abc\": time= takes whole seconds, not \"time=abc\"",
        ),
        (
            hosted.replace("args = \"evq1\"", "args = \"a/very/long/interface\""),
            "domain network: args = \"a/very/long/interface\": \"a/very/long/interface\" is not an interface name",
        ),
    ];
    for (text, reason) in cases {
        let console = dir.join("console");
        let (status, stderr) = run_text_to_end(&dir, &console, &text);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(reason), "expected {reason:?} in:\n{stderr}");
        assert!(!stderr.contains("is up"), "the system came up: {stderr}");
        assert!(!console.exists(), "the console path was taken: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
