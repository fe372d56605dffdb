//! `make run`, until the hosted platform and the seL4 images take it over:
//! the real cores, wired on threads in one process.
//!
//! The server core runs on its own thread and is reached only by encoded
//! messages, as over an endpoint: a scripted VFS source and the "root task"
//! publish, and a client creates a queue, subscribes, and reads its granted
//! ring directly, sleeping on a notification (a channel here) only when the
//! ring is empty. What the isolation is made of (seL4 capabilities, or
//! processes and file descriptors) is what the platform shells add.

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use evq_abi::event::{
    encode_dentry, encode_mount, encode_rename, process, system, vfs, Category, CategorySet, ExitPayload, Priority,
    Rename, MAX_PAYLOAD,
};
use evq_abi::msg::{Event, Filter, Reply, Request, StatsTarget, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, Badge, Config, Server, SourceSpec};
use evq_source::{Link, PublishError, Publisher};
use evq_system::{ROOT_CATEGORIES, ROOT_NAME};
use evq_testkit::HeapRings;
use zerocopy::IntoBytes;

const VFS: Badge = 1;
const ROOT: Badge = 2;
const CLIENT: Badge = 100;

/// A ring granted with a reply: where the client may map it.
struct Grant(NonNull<u8>, usize);
// SAFETY: the ring is heap memory the server thread keeps alive until the
// process ends (`HeapRings` retains released rings), read by the client only
// through `EventQueue`'s atomics.
unsafe impl Send for Grant {}

struct Message {
    from: Badge,
    label: u32,
    body: Vec<u8>,
    reply: Sender<(u32, Vec<u8>, Option<Grant>)>,
}

/// An endpoint capability: a way to send to the server under one badge.
#[derive(Clone)]
struct Endpoint {
    badge: Badge,
    server: Sender<Message>,
}

impl Endpoint {
    fn call(&self, request: &Request<'_>) -> (Reply, Option<Grant>) {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).expect("request encodes");
        self.call_raw(label, &body[..len])
    }

    fn call_raw(&self, label: u32, body: &[u8]) -> (Reply, Option<Grant>) {
        let (tx, rx) = channel();
        let message = Message { from: self.badge, label, body: body.to_vec(), reply: tx };
        self.server.send(message).expect("server is running");
        let (reply_label, reply, grant) = rx.recv().expect("server replies");
        (Reply::decode(label, reply_label, &reply).expect("well-formed reply"), grant)
    }
}

/// A source's link is its endpoint: the calls go over the channel, and
/// after `Busy` it waits out one of the server's ticks.
impl Link for Endpoint {
    type Error = std::convert::Infallible;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, Self::Error> {
        Ok(Endpoint::call(self, request).0)
    }

    fn back_off(&mut self) {
        thread::sleep(TICK);
    }
}

/// How often the server ticks when no message comes.
const TICK: Duration = Duration::from_millis(10);

fn main() {
    let started = Instant::now();
    let now = move || started.elapsed().as_nanos() as u64;
    let (to_server, inbox) = channel::<Message>();
    let (notify_tx, notify_rx) = channel::<()>();

    let server = thread::spawn(move || serve(inbox, notify_tx, now));
    let vfs = Endpoint { badge: VFS, server: to_server.clone() };
    let root = Endpoint { badge: ROOT, server: to_server.clone() };
    let client = Endpoint { badge: CLIENT, server: to_server };

    let (ready_tx, ready_rx) = channel();
    let reader = thread::spawn(move || watch(client, notify_rx, ready_tx));
    // The workload starts once the watcher is subscribed.
    ready_rx.recv().expect("watcher subscribed");
    let (mut vfs, mut root) = (Publisher::new(vfs), Publisher::new(root));
    run_workload(&mut vfs, &mut root);
    let received = reader.join().expect("watcher");
    drop((vfs, root));
    let stats = server.join().expect("server");
    println!("\nwatcher received {received} events");
    println!("{stats}");
}

/// The server thread: one message at a time, then its actions; ticks on its
/// own deadline.
fn serve(inbox: Receiver<Message>, notify: Sender<()>, now: impl Fn() -> u64) -> String {
    let mut server = Server::new(Config { ring_pool_pages: 128 }, HeapRings::default());
    server
        .register_source(SourceSpec {
            badge: VFS,
            name: "vfs",
            allowed: CategorySet::of(&[Category::Vfs]),
            supervisor: false,
            budget_per_tick: 0,
        })
        .expect("register vfs");
    server
        .register_source(SourceSpec {
            badge: ROOT,
            name: ROOT_NAME,
            allowed: ROOT_CATEGORIES,
            supervisor: true,
            budget_per_tick: 0,
        })
        .expect("register root");
    server.register_client(CLIENT).expect("register client");
    println!("evq demo: server up with sources vfs (1), root (2) and one client\n");

    let mut notifications: HashMap<Badge, Sender<()>> = HashMap::from([(CLIENT, notify)]);
    loop {
        let timeout = server.next_deadline().map(|d| Duration::from_nanos(d.saturating_sub(now()))).unwrap_or(TICK);
        let message = match inbox.recv_timeout(timeout) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                let mut actions = Vec::new();
                server.tick(now(), &mut |a| actions.push(a));
                carry_out(&actions, &mut notifications);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut actions = Vec::new();
        let mut reply = [0u8; 64];
        let (label, len) =
            server.handle(now(), message.from, message.label, &message.body, &mut reply, &mut |a| actions.push(a));
        let grant = actions.iter().find_map(|a| match a {
            Action::GrantRing { ring, .. } => server.memory_mut().region(*ring).map(|(b, l)| Grant(b, l)),
            _ => None,
        });
        let _ = message.reply.send((label, reply[..len].to_vec(), grant));
        carry_out(&actions, &mut notifications);
    }
    let totals = server.totals();
    let mut table = String::from("source  published  filtered  delivered  coalesced  dropped  rejected\n");
    for id in 0..=2 {
        if let Some((name, c)) = server.source_stats(id) {
            table += &format!(
                "{name:<10}{:>7}{:>10}{:>11}{:>11}{:>9}{:>10}\n",
                c.published, c.filtered, c.delivered, c.coalesced, c.dropped, c.rejected
            );
        }
    }
    table += &format!(
        "{:<10}{:>7}{:>10}{:>11}{:>11}{:>9}{:>10}",
        "total", totals.published, totals.filtered, totals.delivered, totals.coalesced, totals.dropped, totals.rejected
    );
    table
}

fn carry_out(actions: &[Action], notifications: &mut HashMap<Badge, Sender<()>>) {
    for action in actions {
        if let Action::Signal { client, .. } = action {
            if let Some(n) = notifications.get(client) {
                let _ = n.send(());
            }
        }
    }
}

/// The client: a queue, two subscriptions, and a read loop that sleeps only
/// when the ring is empty.
fn watch(server: Endpoint, notification: Receiver<()>, ready: Sender<()>) -> usize {
    let geometry = RingGeometry::new(2).expect("2 pages");
    let (Reply::QueueCreated { queue, slot_count, .. }, Some(Grant(base, len))) =
        server.call(&Request::CreateQueue { geometry })
    else {
        panic!("queue not created");
    };
    // SAFETY: the grant is a live ring the server keeps mapped for the
    // process's life; only this thread reads it.
    let mut events = unsafe { EventQueue::attach(base, len) }.expect("ring attaches");
    println!("watcher: queue {queue:#x}, {slot_count} slots, mapped at {base:p}");
    for category in [Category::Vfs, Category::Process, Category::System] {
        server.call(&Request::Subscribe { queue, filter: Filter::all_of(category) });
    }
    println!("watcher: subscribed to vfs, process and system events\n");
    ready.send(()).expect("main is waiting");
    let mut received = 0;
    loop {
        while let Some(event) = events.next_event().expect("ring reads") {
            received += 1;
            println!("  {event}");
            if event.category == Category::System && event.kind == system::SHUTDOWN {
                if let (Reply::Stats(s), _) = server.call(&Request::Stats(StatsTarget::Queue(queue))) {
                    println!(
                        "\nqueue stats: delivered {} dropped {} filtered {}",
                        s.counters.delivered, s.counters.dropped, s.counters.filtered
                    );
                }
                return received;
            }
        }
        // Arm a batch wake-up, then sleep only if the ring is still empty.
        let (reply, _) = server.call(&Request::Wait { queue, min_events: 1, timeout_ns: 100_000_000 });
        if matches!(reply, Reply::Wait { armed: true, .. }) && events.prepare_wait().expect("ring") {
            let _ = notification.recv_timeout(Duration::from_secs(1));
            events.cancel_wait();
        }
    }
}

/// A scripted file-system session, as the VFS domain would report it, and
/// the root task's process events around it, each published through the
/// source's `evq_source::Publisher`.
fn run_workload(vfs_ep: &mut Publisher<Endpoint>, root: &mut Publisher<Endpoint>) {
    fn event(category: Category, kind: u8, type_flags: u8, object_id: u64, payload: &[u8]) -> Event<'_> {
        Event { category, kind, type_flags, priority: Priority::Normal, object_id, payload }
    }
    let publish = |p: &mut Publisher<Endpoint>, e: Event<'_>| {
        if let Err(e) = p.publish_one(e) {
            println!("  (the server refused a scripted event: {e})");
        }
    };
    let mut buf = [0u8; MAX_PAYLOAD];
    publish(root, event(Category::Process, process::START, 0, 7, b""));
    let dir = vfs::flags::IS_DIR;
    let n = encode_dentry(1, b"docs", &mut buf).expect("name");
    publish(vfs_ep, event(Category::Vfs, vfs::CREATE, dir, 2, &buf[..n]));
    let n = encode_dentry(2, b"notes.txt", &mut buf).expect("name");
    publish(vfs_ep, event(Category::Vfs, vfs::CREATE, 0, 3, &buf[..n]));
    publish(vfs_ep, event(Category::Vfs, vfs::ATTRIB, vfs::flags::ATTR_SIZE | vfs::flags::ATTR_MTIME, 3, &buf[..n]));
    let n = encode_rename(
        &Rename { old_parent: 2, old_name: b"notes.txt", new_parent: 1, new_name: b"todo.txt" },
        &mut buf,
    )
    .expect("names");
    publish(vfs_ep, event(Category::Vfs, vfs::RENAME, 0, 3, &buf[..n]));
    let n = encode_mount(1, 2, b"mnt", &mut buf).expect("name");
    publish(vfs_ep, event(Category::Vfs, vfs::MOUNT, dir, 4, &buf[..n]));
    // Three files created under the mount, published together: one
    // `PublishBatch` message.
    let mut names = [[0u8; 64]; 3];
    let mut lens = [0usize; 3];
    for (i, name) in ["a.log", "b.log", "c.log"].iter().enumerate() {
        lens[i] = encode_dentry(4, name.as_bytes(), &mut names[i]).expect("name");
    }
    let created: Vec<Event<'_>> =
        (0..3).map(|i| event(Category::Vfs, vfs::CREATE, 0, 10 + i as u64, &names[i][..lens[i]])).collect();
    if let Err(e) = vfs_ep.publish(&created) {
        println!("  (the server refused the batch: {e})");
    }
    let n = encode_mount(1, 2, b"mnt", &mut buf).expect("name");
    publish(vfs_ep, event(Category::Vfs, vfs::UNMOUNT, dir, 4, &buf[..n]));
    let n = encode_dentry(1, b"todo.txt", &mut buf).expect("name");
    publish(vfs_ep, event(Category::Vfs, vfs::DELETE, 0, 3, &buf[..n]));
    // A forged event: the VFS domain may not publish process events.
    match vfs_ep.publish_one(event(Category::Process, process::EXIT, 0, 7, b"")) {
        Err(PublishError::Refused { code, detail, .. }) => {
            println!("  (vfs forging a process event was refused: Error {{ code: {}, detail: {detail} }})", code.name())
        }
        other => println!("  (vfs forging a process event was not refused: {other:?})"),
    }
    let code = ExitPayload { code: 0u64.into() };
    publish(root, event(Category::Process, process::EXIT, 0, 7, code.as_bytes()));
    publish(root, event(Category::System, system::SHUTDOWN, 0, 0, b""));
}
