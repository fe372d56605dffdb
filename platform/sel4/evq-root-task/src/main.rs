//! evq's first step onto seL4: the event-server core, a source and a client
//! running in the root task, against a ring pool of frames retyped from
//! untyped memory, whose granted copies are revoked when a queue goes.
//!
//! This proves the cores build for and run on seL4 on both architectures.
//! The system issue splits it into protection domains: the server in its own
//! domain with frames retyped from untyped memory, clients mapping granted
//! frame capabilities, sources calling over badged endpoints.
//!
//! The run is a boot test: it prints a summary line and `TEST_PASS`, or
//! `TEST_FAIL: …` and the reason.
#![no_std]
#![no_main]

mod pool;

use evq_abi::event::{decode_dentry, encode_dentry, vfs, Category, CategorySet, Priority, MAX_PAYLOAD};
use evq_abi::msg::{Event, Filter, Reply, Request, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, Config, Server, SourceSpec};
use sel4_root_task::{root_task, Never};

use pool::{FramePool, POOL_PAGES};

const VFS: u64 = 1;
const CLIENT: u64 = 100;

/// A `Server` is about 100 KiB and lives on this stack; an unoptimised build
/// makes several temporary copies of it while constructing it, so the stack
/// is sized for that, not for the one copy a release build keeps.
#[root_task(stack_size = 4 * 1024 * 1024)]
fn main(bootinfo: &sel4::BootInfoPtr) -> sel4::Result<Never> {
    sel4::debug_println!("evq: root task up, {} untypeds, ring pool {} frames", bootinfo.untyped_list().len(), POOL_PAGES);
    match run(bootinfo) {
        Ok(summary) => {
            sel4::debug_println!("evq: {summary}");
            sel4::debug_println!("TEST_PASS");
        }
        Err(why) => sel4::debug_println!("TEST_FAIL: {why}"),
    }
    sel4::init_thread::suspend_self()
}

struct Summary {
    delivered: u64,
    lost: u64,
    gap_seq: u64,
}

impl core::fmt::Display for Summary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "summary delivered={} lost={} seq_after_loss={}", self.delivered, self.lost, self.gap_seq)
    }
}

/// Drives the server through encoded messages, as a shell would.
struct Shell {
    server: Server<FramePool>,
    now_ns: u64,
    granted: Option<(u32, evq_server::RingHandle)>,
}

impl Shell {
    fn call(&mut self, from: u64, request: &Request<'_>) -> Result<Reply, &'static str> {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).map_err(|_| "request does not encode")?;
        let mut reply = [0u8; 64];
        self.now_ns += 1_000;
        let granted = &mut self.granted;
        let (reply_label, n) = self.server.handle(self.now_ns, from, label, &body[..len], &mut reply, &mut |a| {
            if let Action::GrantRing { queue, ring, .. } = a {
                *granted = Some((queue, ring));
            }
        });
        Reply::decode(label, reply_label, &reply[..n]).map_err(|_| "server reply does not decode")
    }
}

fn run(bootinfo: &sel4::BootInfo) -> Result<Summary, &'static str> {
    let pool = FramePool::new(bootinfo).map_err(|_| "ring pool: retype or map failed")?;
    let server = Server::new(Config { ring_pool_pages: POOL_PAGES as u32 }, pool);
    let mut shell = Shell {
        server,
        now_ns: 0,
        granted: None,
    };
    let vfs_source = SourceSpec {
        badge: VFS,
        name: "vfs",
        allowed: CategorySet::of(&[Category::Vfs]),
        supervisor: false,
        budget_per_tick: 0,
    };
    shell.server.register_source(vfs_source).map_err(|_| "register source")?;
    shell.server.register_client(CLIENT).map_err(|_| "register client")?;

    let geometry = RingGeometry::new(1).map_err(|_| "geometry")?;
    let Reply::QueueCreated { queue, .. } = shell.call(CLIENT, &Request::CreateQueue { geometry })? else {
        return Err("queue not created");
    };
    let (granted_queue, ring) = shell.granted.ok_or("no ring granted")?;
    if granted_queue != queue {
        return Err("ring granted for another queue");
    }
    let (base, len) = shell.server.memory().region(ring).ok_or("granted ring is not in the pool")?;
    // SAFETY: the ring is live pool memory, mapped for the root task's life,
    // and only the server's producer and this reader touch it.
    let mut events = unsafe { EventQueue::attach(base, len) }.map_err(|_| "ring does not attach")?;
    let Reply::Subscribed { .. } = shell.call(CLIENT, &Request::Subscribe { queue, filter: Filter::all_of(Category::Vfs) })?
    else {
        return Err("subscribe failed");
    };

    // A scripted session: each create carries its name, and arrives in order.
    let names: [&[u8]; 4] = [b"etc", b"hosts", b"passwd", b"motd"];
    let mut payload = [0u8; MAX_PAYLOAD];
    for (i, name) in names.iter().enumerate() {
        let n = encode_dentry(1, name, &mut payload).map_err(|_| "name")?;
        let event = Event {
            category: Category::Vfs,
            kind: vfs::CREATE,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: 10 + i as u64,
            payload: &payload[..n],
        };
        if shell.call(VFS, &Request::Publish(event))? != (Reply::Published { accepted: 1 }) {
            return Err("publish refused");
        }
    }
    let mut delivered = 0;
    for (i, name) in names.iter().enumerate() {
        let e = events.next_event().map_err(|_| "ring read error")?.ok_or("event missing")?;
        let (parent, got_name) = decode_dentry(e.payload).map_err(|_| "payload does not decode")?;
        if e.seq != i as u64 || e.object_id != 10 + i as u64 || e.source_id != 1 || parent != 1 || got_name != *name {
            return Err("event arrived wrong");
        }
        sel4::debug_println!("evq: event {e}");
        delivered += 1;
    }

    // Overfill the ring: 512 slots less 64 reserved take 89 five-slot events.
    let mut published = 0u64;
    for i in 0..100 {
        let event = Event {
            category: Category::Vfs,
            kind: vfs::DELETE,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: 1000 + i,
            payload: &[],
        };
        shell.call(VFS, &Request::Publish(event))?;
        published += 1;
    }
    let mut read = 0;
    while events.next_event().map_err(|_| "ring read error")?.is_some() {
        read += 1;
    }
    let lost = events.lost_total();
    if read + lost != published || lost != 11 {
        return Err("loss not counted exactly");
    }
    let one_more =
        Event { category: Category::Vfs, kind: vfs::CREATE, type_flags: 0, priority: Priority::Normal, object_id: 7, payload: &[] };
    shell.call(VFS, &Request::Publish(one_more))?;
    let e = events.next_event().map_err(|_| "ring read error")?.ok_or("event after loss missing")?;
    if e.lost_before != lost {
        return Err("loss not reported with the next event");
    }

    // Destroying the queue revokes the copies of its frames that were granted.
    let first = ring.0 as usize;
    let frames = geometry.frames() as usize;
    if !(first..first + frames).all(|i| shell.server.memory().grant_is_live(i)) {
        return Err("granted frame copies missing while the queue lives");
    }
    if shell.call(CLIENT, &Request::DestroyQueue { queue })? != Reply::Done {
        return Err("destroy refused");
    }
    if (first..first + frames).any(|i| shell.server.memory().grant_is_live(i)) {
        return Err("granted frame copies survived the queue");
    }
    sel4::debug_println!("evq: queue destroyed; the kernel reports its {frames} granted frame copies revoked");
    Ok(Summary { delivered: delivered + read + 1, lost, gap_seq: e.seq })
}
