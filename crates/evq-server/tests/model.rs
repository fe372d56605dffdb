//! Model-based property tests of the whole server core.
//!
//! Random sequences of requests, events, reads and ticks run against the
//! real [`evq_server::Server`] (through [`Harness`], so every request and
//! reply goes through the real message encoding, and every event is read back
//! out of the real ring by a real reader) and against [`Model`], a plain
//! re-statement of the server's specification in std collections. After
//! every step the two must agree on: the reply, every event read, every
//! counter (per source, per queue, server totals), the table sizes, the
//! ring's unread slots and lost total, and the actions asked of the shell.
//!
//! What the main model covers: queue creation and destruction (queue ids,
//! slot reuse, generations, stale and foreign ids, per-client and pool
//! limits, the server's own ring-pool memory events), subscriptions (ids,
//! filters on kind, object, source and the IS_DIR info flag, priorities,
//! swap-remove order), publishing single events, batches and bursts from
//! each source (category permissions, back-pressure budgets), fan-out and
//! tagging, ring occupancy at slot level (reserve, critical headroom, skip
//! padding at the wrap, loss entries, exact boundaries), partial reads,
//! clients going away and coming back, and every statistic. It keeps
//! coalescing off; a second, smaller property tests coalescing alone against
//! its own model.

mod common;

use std::collections::{BTreeMap, VecDeque};

use common::*;
use evq_abi::event::{memory, vfs, Category, Priority};
use evq_abi::msg::{label, BatchBuilder, ErrorCode, Event, Filter, Reply, Request, Stats, StatsTarget, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, Counters, SetupError, SERVER_SOURCE_ID};
use evq_testkit::Harness;
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// The specification, restated.

const SLOTS_PER_PAGE: u32 = 512;
/// A header slot and the 32-byte record.
const EVENT_BASE_SLOTS: u32 = 5;
const LOSS_SLOTS: u32 = 2;
const MAX_QUEUES: usize = 64;
const MAX_QUEUES_PER_CLIENT: usize = 8;
const MAX_SUBSCRIPTIONS: u8 = 16;
const MAX_STAGED: usize = 8;
const IS_DIR_INFO: u32 = (vfs::flags::IS_DIR as u32) << 16;
const MAX_PAYLOAD: usize = 464;
const PAGE_SIZE: u64 = 4096;

fn event_slots(payload_len: usize) -> u32 {
    EVENT_BASE_SLOTS + payload_len.div_ceil(8) as u32
}

/// The registered sources: badge, source id, categories it may publish,
/// whether it is the supervisor.
const SOURCES: [(u64, u32, &[Category], bool); 3] = [
    (VFS, 1, &[Category::Vfs], false),
    (NET, 2, &[Category::Network], false),
    (ROOT, 3, &[Category::Process, Category::System], true),
];

fn source_of(badge: u64) -> Option<(u32, &'static [Category], bool)> {
    SOURCES.iter().find(|s| s.0 == badge).map(|s| (s.1, s.2, s.3))
}

fn err(code: ErrorCode, detail: u32) -> Reply {
    Reply::Error { code, detail }
}

fn other_client(c: u64) -> u64 {
    if c == ALICE {
        BOB
    } else {
        ALICE
    }
}

/// An event as the model holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MEvent {
    category: Category,
    kind: u8,
    type_flags: u8,
    critical: bool,
    object: u64,
    payload: Vec<u8>,
}

impl MEvent {
    fn as_event(&self) -> Event<'_> {
        Event {
            category: self.category,
            kind: self.kind,
            type_flags: self.type_flags,
            priority: if self.critical { Priority::Critical } else { Priority::Normal },
            object_id: self.object,
            payload: &self.payload,
        }
    }
}

#[derive(Clone, Debug)]
struct MSub {
    id: u8,
    filter: Filter,
}

impl MSub {
    fn accepts(&self, source_id: u32, e: &MEvent) -> bool {
        let f = &self.filter;
        f.category == e.category
            && f.type_mask & (1 << e.kind) != 0
            && f.object_id.is_none_or(|o| o == e.object)
            && f.source_id.is_none_or(|s| s == source_id)
            && (u32::from(e.type_flags) << 16) & f.info_mask == f.info_filter
    }
}

/// A ring at slot level: what the producer wrote, as entries in order.
#[derive(Debug)]
enum Entry {
    Skip(u32),
    Loss(u64),
    Event { len: u32, got: Got, timestamp: u64 },
}

#[derive(Debug)]
struct MRing {
    size: u64,
    reserved: u64,
    head: u64,
    /// What the reader has consumed (and released).
    tail: u64,
    pending_loss: u64,
    lost_total: u64,
    entries: VecDeque<Entry>,
}

impl MRing {
    fn new(pages: u32) -> Self {
        let size = u64::from(pages * SLOTS_PER_PAGE);
        Self { size, reserved: size / 8, head: 0, tail: 0, pending_loss: 0, lost_total: 0, entries: VecDeque::new() }
    }

    /// Writes an event entry (with a loss entry before it when events were
    /// lost, and skip padding wherever an entry would cross the end), or
    /// drops it.
    fn push(&mut self, got: Got, timestamp: u64, critical: bool) -> bool {
        let len = event_slots(got.payload.len());
        let (planned, at) = self.plan(len);
        let needed = at - self.head;
        let free = self.free();
        let reserve = if critical { 0 } else { self.reserved };
        if needed + reserve > free {
            self.pending_loss += 1;
            self.lost_total += 1;
            return false;
        }
        self.pending_loss = 0;
        self.entries.extend(planned);
        self.entries.push_back(Entry::Event { len, got, timestamp });
        self.head = at;
        true
    }

    /// The entries (skips, a loss entry, then the event's `len` slots)
    /// writing an event would take from the head, and where they end.
    fn plan(&self, len: u32) -> (Vec<Entry>, u64) {
        let mut planned = Vec::new();
        let mut at = self.head;
        let place = |n: u32, planned: &mut Vec<Entry>, at: &mut u64| {
            let to_end = self.size - *at % self.size;
            if to_end < u64::from(n) {
                planned.push(Entry::Skip(to_end as u32));
                *at += to_end;
            }
            *at += u64::from(n);
        };
        if self.pending_loss > 0 {
            place(LOSS_SLOTS, &mut planned, &mut at);
            planned.push(Entry::Loss(self.pending_loss));
        }
        place(len, &mut planned, &mut at);
        (planned, at)
    }

    fn free(&self) -> u64 {
        self.size - (self.head - self.tail)
    }

    /// Slots writing an event with `payload_len` payload bytes would need,
    /// beyond what it may use, at priority `critical`: > 0 means dropped.
    fn excess(&self, payload_len: usize, critical: bool) -> i64 {
        let (_, at) = self.plan(event_slots(payload_len));
        let reserve = if critical { 0 } else { self.reserved };
        (at - self.head + reserve) as i64 - self.free() as i64
    }

    /// The next event, as a reader sees it; the slots it passed are released.
    fn pop(&mut self) -> Option<(Got, u64)> {
        let mut lost = 0;
        while let Some(e) = self.entries.pop_front() {
            match e {
                Entry::Skip(n) => self.tail += u64::from(n),
                Entry::Loss(n) => {
                    lost += n;
                    self.tail += u64::from(LOSS_SLOTS);
                }
                Entry::Event { len, mut got, timestamp } => {
                    self.tail += u64::from(len);
                    got.lost_before = lost;
                    return Some((got, timestamp));
                }
            }
        }
        None
    }

    fn unread(&self) -> u32 {
        (self.head - self.tail) as u32
    }
}

#[derive(Debug)]
struct MQueue {
    owner: u64,
    slot: usize,
    pages: u32,
    /// In the server's order: appended on subscribe, swap-removed on unsubscribe.
    subs: Vec<MSub>,
    ring: MRing,
    seq: u64,
    stats: Counters,
}

enum Verdict {
    NotSubscribed,
    Filtered,
    Accepted { watch_id: u8, critical: bool },
}

impl MQueue {
    fn judge(&self, source_id: u32, e: &MEvent) -> Verdict {
        let in_category: Vec<&MSub> = self.subs.iter().filter(|s| s.filter.category == e.category).collect();
        if in_category.is_empty() {
            return Verdict::NotSubscribed;
        }
        let accepting: Vec<&MSub> = in_category.into_iter().filter(|s| s.accepts(source_id, e)).collect();
        match accepting.iter().min_by_key(|s| s.id) {
            None => Verdict::Filtered,
            Some(lowest) => Verdict::Accepted {
                watch_id: lowest.id,
                critical: e.critical || accepting.iter().any(|s| s.filter.priority == Priority::Critical),
            },
        }
    }
}

/// The whole server, restated.
struct Model {
    now: u64,
    pool_total: u32,
    pool_used: u32,
    pool_low: bool,
    clients: Vec<u64>,
    generations: [u32; MAX_QUEUES],
    queues: BTreeMap<u32, MQueue>,
    /// Every queue id ever created, with its owner (for stale-id requests).
    ever: Vec<(u32, u64)>,
    /// Counters by source id; 0 is the server's own events.
    sources: [Counters; 4],
    other_rejected: u64,
    vfs_budget: u32,
    vfs_tokens: u32,
}

impl Model {
    fn new(pool_total: u32, vfs_budget: u32) -> Self {
        Self {
            now: 1,
            pool_total,
            pool_used: 0,
            pool_low: false,
            clients: vec![ALICE, BOB],
            generations: [0; MAX_QUEUES],
            queues: BTreeMap::new(),
            ever: Vec::new(),
            sources: [Counters::default(); 4],
            other_rejected: 0,
            vfs_budget,
            vfs_tokens: vfs_budget,
        }
    }

    /// Whether `from` may make a client request; a refusal is counted for
    /// the source it came from, if it is one, else for the server.
    fn is_client(&mut self, from: u64) -> bool {
        let ok = self.clients.contains(&from);
        if !ok {
            match source_of(from) {
                Some((id, _, _)) => self.sources[id as usize].rejected += 1,
                None => self.other_rejected += 1,
            }
        }
        ok
    }

    fn owned(&mut self, from: u64, queue: u32) -> Result<&mut MQueue, Reply> {
        match self.queues.get_mut(&queue) {
            Some(q) if q.owner == from => Ok(q),
            _ => Err(err(ErrorCode::NoSuchQueue, queue)),
        }
    }

    /// The server's own ring-pool event of `kind`, as source 0.
    fn own_event(&mut self, kind: u8) {
        let used = u64::from(self.pool_used) * PAGE_SIZE;
        let total = u64::from(self.pool_total) * PAGE_SIZE;
        let e = MEvent {
            category: Category::Memory,
            kind,
            type_flags: memory::flags::RING_POOL,
            critical: kind != memory::RECOVERED,
            object: 0,
            payload: [used.to_le_bytes(), total.to_le_bytes()].concat(),
        };
        self.fan_out(SERVER_SOURCE_ID, &e);
    }

    fn settle_pool(&mut self) {
        let (used, total) = (u64::from(self.pool_used), u64::from(self.pool_total));
        if !self.pool_low && total > 0 && used * 8 >= total * 7 {
            self.pool_low = true;
            self.own_event(memory::LOW);
        } else if self.pool_low && used * 4 < total * 3 {
            self.pool_low = false;
            self.own_event(memory::RECOVERED);
        }
    }

    fn create(&mut self, from: u64, pages: u32) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        if self.queues.values().filter(|q| q.owner == from).count() >= MAX_QUEUES_PER_CLIENT {
            return err(ErrorCode::TableFull, MAX_QUEUES_PER_CLIENT as u32);
        }
        let Some(slot) = (0..MAX_QUEUES).find(|i| self.queues.values().all(|q| q.slot != *i)) else {
            return err(ErrorCode::TableFull, MAX_QUEUES as u32);
        };
        let frames = pages + 1;
        if self.pool_used + frames > self.pool_total {
            self.own_event(memory::EXHAUSTED);
            return err(ErrorCode::NoMemory, frames);
        }
        self.generations[slot] += 1;
        let id = (self.generations[slot] << 8) | slot as u32;
        let q = MQueue {
            owner: from,
            slot,
            pages,
            subs: Vec::new(),
            ring: MRing::new(pages),
            seq: 0,
            stats: Counters::default(),
        };
        self.queues.insert(id, q);
        self.ever.push((id, from));
        self.pool_used += frames;
        self.settle_pool();
        let slot_count = pages * SLOTS_PER_PAGE;
        Reply::QueueCreated { queue: id, slot_count, frames, reserved_slots: slot_count / 8 }
    }

    fn remove_queue(&mut self, id: u32) {
        let q = self.queues.remove(&id).expect("live queue");
        self.pool_used -= q.pages + 1;
    }

    fn destroy(&mut self, from: u64, queue: u32) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        if let Err(e) = self.owned(from, queue) {
            return e;
        }
        self.remove_queue(queue);
        self.settle_pool();
        Reply::Done
    }

    fn subscribe(&mut self, from: u64, queue: u32, filter: Filter) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        let q = match self.owned(from, queue) {
            Ok(q) => q,
            Err(e) => return e,
        };
        let Some(id) = (0..MAX_SUBSCRIPTIONS).find(|id| q.subs.iter().all(|s| s.id != *id)) else {
            return err(ErrorCode::TableFull, u32::from(MAX_SUBSCRIPTIONS));
        };
        q.subs.push(MSub { id, filter });
        Reply::Subscribed { subscription: id }
    }

    fn unsubscribe(&mut self, from: u64, queue: u32, sub: u8) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        let q = match self.owned(from, queue) {
            Ok(q) => q,
            Err(e) => return e,
        };
        match q.subs.iter().position(|s| s.id == sub) {
            Some(i) => {
                q.subs.swap_remove(i);
                Reply::Done
            }
            None => err(ErrorCode::NoSuchSubscription, u32::from(sub)),
        }
    }

    fn set_priority(&mut self, from: u64, queue: u32, sub: u8, priority: Priority) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        let q = match self.owned(from, queue) {
            Ok(q) => q,
            Err(e) => return e,
        };
        match q.subs.iter_mut().find(|s| s.id == sub) {
            Some(s) => {
                s.filter.priority = priority;
                Reply::Done
            }
            None => err(ErrorCode::NoSuchSubscription, u32::from(sub)),
        }
    }

    fn totals(&self) -> Counters {
        let mut t = Counters::default();
        for c in &self.sources {
            t.add(c);
        }
        t.rejected += self.other_rejected;
        t
    }

    fn stats(&mut self, from: u64, target: StatsTarget) -> Reply {
        if !self.is_client(from) {
            return err(ErrorCode::UnknownSender, 0);
        }
        let to_stats = |c: &Counters, used_slots: u32, slot_count: u32| Stats { counters: *c, used_slots, slot_count };
        match target {
            StatsTarget::Queue(queue) => match self.owned(from, queue) {
                Ok(q) => Reply::Stats(to_stats(&q.stats, q.ring.unread(), q.pages * SLOTS_PER_PAGE)),
                Err(e) => e,
            },
            StatsTarget::Source(id) => match self.sources.get(id as usize) {
                Some(c) => Reply::Stats(to_stats(c, 0, 0)),
                None => err(ErrorCode::InvalidArgument, id),
            },
            StatsTarget::Server => Reply::Stats(to_stats(&self.totals(), 0, 0)),
        }
    }

    fn publish(&mut self, from: u64, events: &[MEvent]) -> Reply {
        let Some((source_id, allowed, _)) = source_of(from) else {
            self.other_rejected += 1;
            return err(ErrorCode::UnknownSender, 0);
        };
        if let Some(bad) = events.iter().find(|e| !allowed.contains(&e.category)) {
            self.sources[source_id as usize].rejected += 1;
            return err(ErrorCode::NotPermitted, bad.category as u32);
        }
        let count = events.len() as u32;
        let mut accepted = 0;
        for e in events {
            if source_id == 1 && self.vfs_budget > 0 {
                if self.vfs_tokens == 0 {
                    self.sources[1].throttled += u64::from(count - accepted);
                    break;
                }
                self.vfs_tokens -= 1;
            }
            self.fan_out(source_id, e);
            accepted += 1;
        }
        if accepted < count {
            err(ErrorCode::Busy, accepted)
        } else {
            Reply::Published { accepted }
        }
    }

    fn fan_out(&mut self, source_id: u32, e: &MEvent) {
        let now = self.now;
        let mut taken = false;
        for q in self.queues.values_mut() {
            match q.judge(source_id, e) {
                Verdict::NotSubscribed => {}
                Verdict::Filtered => q.stats.filtered += 1,
                Verdict::Accepted { watch_id, critical } => {
                    taken = true;
                    q.stats.published += 1;
                    let got = Got {
                        category: e.category,
                        kind: e.kind,
                        type_flags: e.type_flags,
                        watch_id,
                        critical,
                        coalesced: 0,
                        lost_before: 0,
                        seq: q.seq,
                        object_id: e.object,
                        source_id,
                        payload: e.payload.clone(),
                    };
                    q.seq += 1;
                    let src = &mut self.sources[source_id as usize];
                    if q.ring.push(got, now, critical) {
                        q.stats.delivered += 1;
                        src.delivered += 1;
                    } else {
                        q.stats.dropped += 1;
                        src.dropped += 1;
                    }
                }
            }
        }
        let src = &mut self.sources[source_id as usize];
        src.published += 1;
        if !taken {
            src.filtered += 1;
        }
    }

    fn client_gone(&mut self, from: u64, client: u64) -> Reply {
        match source_of(from) {
            None => {
                self.other_rejected += 1;
                return err(ErrorCode::UnknownSender, 0);
            }
            Some((id, _, false)) => {
                self.sources[id as usize].rejected += 1;
                return err(ErrorCode::NotPermitted, 0);
            }
            Some(_) => {}
        }
        let Some(i) = self.clients.iter().position(|c| *c == client) else {
            return err(ErrorCode::InvalidArgument, 0);
        };
        self.clients.remove(i);
        let ids: Vec<u32> = self.queues.iter().filter(|(_, q)| q.owner == client).map(|(id, _)| *id).collect();
        for id in ids {
            self.remove_queue(id);
        }
        self.settle_pool();
        Reply::Done
    }

    fn rejoin(&mut self, client: u64) -> Result<(), SetupError> {
        if self.clients.contains(&client) {
            return Err(SetupError::DuplicateBadge);
        }
        self.clients.push(client);
        Ok(())
    }

    fn tick(&mut self, dt: u64) {
        self.now += dt;
        self.vfs_tokens = self.vfs_budget;
    }

    fn read(&mut self, queue: u32, max: usize) -> Vec<(Got, u64)> {
        let ring = &mut self.queues.get_mut(&queue).expect("live queue").ring;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(e) = ring.pop() else { break };
            out.push(e);
        }
        out
    }

    fn subscription_count(&self) -> usize {
        self.queues.values().map(|q| q.subs.len()).sum()
    }
}

// ---------------------------------------------------------------------------
// Operations and their generators.

/// Which queue a request names, resolved against the model when it runs.
#[derive(Clone, Copy, Debug)]
enum QSel {
    /// The n-th live queue (modulo), if any.
    Live(usize),
    /// The n-th queue ever created (modulo): possibly stale.
    Any(usize),
    /// A made-up id.
    Raw(u32),
}

/// Which subscription a request names.
#[derive(Clone, Copy, Debug)]
enum SubSel {
    /// The n-th subscription of the queue (modulo), if any.
    Existing(usize),
    /// A raw id.
    Raw(u8),
}

#[derive(Clone, Debug)]
struct EvSpec {
    category: Category,
    /// Replace the category with one the publishing source may use.
    conform: bool,
    kind: u8,
    object: u64,
    dir: bool,
    critical: bool,
    payload: Vec<u8>,
}

impl EvSpec {
    fn resolve(&self, from: u64) -> MEvent {
        let category = match (self.conform, from) {
            (true, VFS) => Category::Vfs,
            (true, NET) => Category::Network,
            (true, ROOT) if self.category != Category::System => Category::Process,
            _ => self.category,
        };
        MEvent {
            category,
            kind: self.kind % category.kind_count(),
            type_flags: if self.dir { vfs::flags::IS_DIR } else { 0 },
            critical: self.critical,
            object: self.object,
            payload: self.payload.clone(),
        }
    }
}

#[derive(Clone, Debug)]
struct SubSpec {
    category: Category,
    mask: u64,
    object: Option<u64>,
    source: Option<u32>,
    /// Some(true): directories only; Some(false): non-directories only.
    dirs: Option<bool>,
    critical: bool,
}

impl SubSpec {
    fn filter(&self) -> Filter {
        let defined = (1u64 << self.category.kind_count()) - 1;
        let mask = match self.mask & defined {
            0 => defined,
            m => m,
        };
        Filter {
            category: self.category,
            type_mask: mask,
            object_id: self.object,
            source_id: self.source,
            parent_id: None,
            info_filter: if self.dirs == Some(true) { IS_DIR_INFO } else { 0 },
            info_mask: if self.dirs.is_some() { IS_DIR_INFO } else { 0 },
            priority: if self.critical { Priority::Critical } else { Priority::Normal },
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// `count` creates in a row (more than one to reach the table and pool limits).
    Create {
        client: u64,
        pages: u32,
        count: usize,
    },
    Destroy {
        q: QSel,
        owner: bool,
    },
    /// `count` identical subscriptions (more than one to reach the table limit).
    Subscribe {
        q: QSel,
        owner: bool,
        spec: SubSpec,
        count: usize,
    },
    Unsubscribe {
        q: QSel,
        owner: bool,
        sub: SubSel,
    },
    SetPriority {
        q: QSel,
        owner: bool,
        sub: SubSel,
        critical: bool,
    },
    Publish {
        from: u64,
        ev: EvSpec,
    },
    Batch {
        from: u64,
        evs: Vec<EvSpec>,
    },
    /// `n` separate publishes of one event, to fill rings.
    Burst {
        from: u64,
        ev: EvSpec,
        n: usize,
    },
    /// Reads from the n-th queue (modulo) that has unread events, if any.
    Read {
        q: usize,
        max: usize,
    },
    /// Fills the n-th live queue's ring to its exact limit, then reads `room`
    /// events from it and publishes one more whose entry needs `excess`
    /// slots more than the ring may give it (0: exactly the room there is;
    /// -1 just fits, 1 just misses). The events are ones the queue's first
    /// satisfiable subscription accepts, sized to fit exactly or else as
    /// large as fits, up to `tries` of them for the filling.
    PublishFit {
        q: usize,
        room: usize,
        excess: i64,
        critical: bool,
        tries: usize,
    },
    ClientGone {
        from: u64,
        client: u64,
    },
    Rejoin {
        client: u64,
    },
    Tick {
        dt: u64,
    },
    StatsQueue {
        q: QSel,
        owner: bool,
    },
    StatsSource {
        from: u64,
        id: u32,
    },
    StatsServer {
        from: u64,
    },
}

/// The categories sources publish, and memory, which only the server does.
fn category() -> impl Strategy<Value = Category> {
    prop_oneof![
        3 => Just(Category::Vfs),
        3 => Just(Category::Network),
        3 => Just(Category::Process),
        3 => Just(Category::System),
        1 => Just(Category::Memory),
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        4 => vec(any::<u8>(), 1..=24),
        1 => vec(any::<u8>(), 25..=200),
    ]
}

fn ev_spec() -> impl Strategy<Value = EvSpec> {
    (
        prop_oneof![8 => category(), 1 => Just(Category::Device)],
        prop::bool::weighted(0.75),
        0u8..6,
        1u64..=3,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
        payload(),
    )
        .prop_map(|(category, conform, kind, object, dir, critical, payload)| EvSpec {
            category,
            conform,
            kind,
            object,
            dir,
            critical,
            payload,
        })
}

fn sub_spec() -> impl Strategy<Value = SubSpec> {
    (
        category(),
        prop_oneof![2 => Just(u64::MAX), 2 => (0u32..6).prop_map(|k| 1u64 << k), 3 => any::<u64>()],
        prop::option::weighted(0.3, 1u64..=3),
        prop::option::weighted(0.2, 0u32..=3),
        prop::option::weighted(0.2, any::<bool>()),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(category, mask, object, source, dirs, critical)| SubSpec {
            category,
            mask,
            object,
            source,
            dirs,
            critical,
        })
}

fn qsel() -> impl Strategy<Value = QSel> {
    prop_oneof![
        8 => any::<usize>().prop_map(QSel::Live),
        2 => any::<usize>().prop_map(QSel::Any),
        1 => prop::sample::select(vec![0u32, 0x100, 0x101, 0x203, 0x140, 0xFFFF_FF3F]).prop_map(QSel::Raw),
    ]
}

fn owner() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.9)
}

fn sub_sel() -> impl Strategy<Value = SubSel> {
    prop_oneof![3 => any::<usize>().prop_map(SubSel::Existing), 1 => (0u8..20).prop_map(SubSel::Raw)]
}

fn source() -> impl Strategy<Value = u64> {
    prop_oneof![6 => Just(VFS), 4 => Just(NET), 4 => Just(ROOT), 1 => Just(ALICE)]
}

fn client() -> impl Strategy<Value = u64> {
    prop_oneof![Just(ALICE), Just(BOB)]
}

fn create_op() -> impl Strategy<Value = Op> {
    (client(), prop_oneof![4 => Just(1u32), 1 => Just(2u32)], prop_oneof![12 => Just(1usize), 1 => 2usize..=10])
        .prop_map(|(client, pages, count)| Op::Create { client, pages, count })
}

fn subscribe_op() -> impl Strategy<Value = Op> {
    (qsel(), owner(), sub_spec(), prop_oneof![30 => Just(1usize), 1 => 2usize..=18])
        .prop_map(|(q, owner, spec, count)| Op::Subscribe { q, owner, spec, count })
}

/// A start that gives the random operations queues and subscriptions to work on.
fn setup() -> impl Strategy<Value = Vec<Op>> {
    (vec(create_op(), 1..=3), vec(subscribe_op(), 0..=6)).prop_map(|(mut a, b)| {
        a.extend(b);
        a
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => create_op(),
        3 => (qsel(), owner()).prop_map(|(q, owner)| Op::Destroy { q, owner }),
        12 => subscribe_op(),
        3 => (qsel(), owner(), sub_sel()).prop_map(|(q, owner, sub)| Op::Unsubscribe { q, owner, sub }),
        3 => (qsel(), owner(), sub_sel(), any::<bool>())
            .prop_map(|(q, owner, sub, critical)| Op::SetPriority { q, owner, sub, critical }),
        20 => (source(), ev_spec()).prop_map(|(from, ev)| Op::Publish { from, ev }),
        8 => (source(), vec(ev_spec(), 1..=5)).prop_map(|(from, evs)| Op::Batch { from, evs }),
        7 => (prop_oneof![Just(VFS), Just(NET), Just(ROOT)], ev_spec(), 5usize..120)
            .prop_map(|(from, ev, n)| Op::Burst { from, ev: EvSpec { conform: true, ..ev }, n }),
        14 => (any::<usize>(), prop::sample::select(vec![1usize, 2, 5, 20, usize::MAX, usize::MAX]))
            .prop_map(|(q, max)| Op::Read { q, max }),
        1 => (
            prop_oneof![8 => Just(ROOT), 1 => Just(VFS), 1 => Just(ALICE)],
            prop_oneof![Just(ALICE), Just(BOB), Just(0x9999u64)],
        )
            .prop_map(|(from, client)| Op::ClientGone { from, client }),
        6 => (any::<usize>(), prop_oneof![Just(0usize), 1usize..=3], -1i64..=1, prop::bool::weighted(0.2), 1usize..=12)
            .prop_map(|(q, room, excess, critical, tries)| Op::PublishFit { q, room, excess, critical, tries }),
        1 => client().prop_map(|client| Op::Rejoin { client }),
        3 => (0u64..1_000).prop_map(|dt| Op::Tick { dt }),
        2 => (qsel(), owner()).prop_map(|(q, owner)| Op::StatsQueue { q, owner }),
        1 => (prop_oneof![4 => client(), 1 => Just(VFS)], 0u32..=4)
            .prop_map(|(from, id)| Op::StatsSource { from, id }),
        1 => prop_oneof![4 => client(), 1 => Just(NET)].prop_map(|from| Op::StatsServer { from }),
    ]
}

// ---------------------------------------------------------------------------
// Running an operation on both sides.

struct World {
    h: Harness,
    m: Model,
    readers: BTreeMap<u32, EventQueue>,
}

impl World {
    /// The sender and queue id a `QSel` names, now.
    fn resolve(&self, q: QSel, owner: bool) -> (u64, u32) {
        let pick = |client: u64| if owner { client } else { other_client(client) };
        match q {
            QSel::Live(i) if !self.m.queues.is_empty() => {
                let (id, q) = self.m.queues.iter().nth(i % self.m.queues.len()).unwrap();
                (pick(q.owner), *id)
            }
            QSel::Any(i) if !self.m.ever.is_empty() => {
                let (id, o) = self.m.ever[i % self.m.ever.len()];
                (pick(o), id)
            }
            QSel::Raw(id) => (pick(ALICE), id),
            _ => (pick(ALICE), 0x100),
        }
    }

    fn sub_id(&self, queue: u32, sub: SubSel) -> u8 {
        match (sub, self.m.queues.get(&queue)) {
            (SubSel::Existing(i), Some(q)) if !q.subs.is_empty() => q.subs[i % q.subs.len()].id,
            (SubSel::Existing(i), _) => (i % 20) as u8,
            (SubSel::Raw(id), _) => id,
        }
    }

    fn call(&mut self, from: u64, request: &Request<'_>, expected: Reply) -> Result<Reply, TestCaseError> {
        let got = self.h.call(from, request);
        prop_assert_eq!(got, expected, "reply to {:?} from {:#x}", request, from);
        Ok(got)
    }

    fn read(&mut self, id: u32, max: usize) -> Result<(), TestCaseError> {
        let expected = self.m.read(id, max);
        let got = read_at_most(self.readers.get_mut(&id).expect("every live queue has a reader"), max);
        prop_assert_eq!(got, expected, "events read from queue {:#x}", id);
        Ok(())
    }

    /// See [`Op::PublishFit`]. The source is the one allowed the category.
    /// Also says whether the size is the one asked for.
    fn fitting_event(&self, id: u32, excess: i64, critical: bool) -> Option<(u64, MEvent, bool)> {
        let queue = &self.m.queues[&id];
        for sub in &queue.subs {
            let f = &sub.filter;
            let Some(&(badge, source_id, _, _)) = SOURCES.iter().find(|s| s.2.contains(&f.category)) else {
                continue;
            };
            if f.source_id.is_some_and(|s| s != source_id) {
                continue;
            }
            let mut e = MEvent {
                category: f.category,
                kind: f.type_mask.trailing_zeros() as u8,
                type_flags: if f.info_filter != 0 { vfs::flags::IS_DIR } else { 0 },
                critical,
                object: f.object_id.unwrap_or(1),
                payload: Vec::new(),
            };
            let Verdict::Accepted { critical: effective, .. } = queue.judge(source_id, &e) else {
                unreachable!("the subscription accepts it")
            };
            let exact = (0..=MAX_PAYLOAD).find(|&n| queue.ring.excess(n, effective) == excess);
            let len =
                exact.or_else(|| (0..=MAX_PAYLOAD).rev().find(|&n| queue.ring.excess(n, effective) <= 0)).unwrap_or(0);
            e.payload = (0..len).map(|i| i as u8).collect();
            return Some((badge, e, exact.is_some()));
        }
        None
    }

    fn forget_readers(&mut self) {
        let m = &self.m;
        self.readers.retain(|id, _| m.queues.contains_key(id));
    }

    fn create(&mut self, client: u64, pages: u32) -> Result<(), TestCaseError> {
        let expected = self.m.create(client, pages);
        let geometry = RingGeometry::new(pages).unwrap();
        self.call(client, &Request::CreateQueue { geometry }, expected)?;
        let actions = self.h.take_actions();
        if let Reply::QueueCreated { queue, frames, .. } = expected {
            let grants: Vec<_> = actions
                .iter()
                .map(|a| match *a {
                    Action::GrantRing { client, queue, frames, .. } => Some((client, queue, frames)),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(grants, vec![Some((client, queue, frames))]);
            self.h.actions = actions; // `attach` finds the grant there
            let reader = self.h.attach(queue);
            self.h.take_actions();
            self.readers.insert(queue, reader);
        } else {
            prop_assert!(actions.is_empty(), "{:?}", actions);
        }
        Ok(())
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Create { client, pages, count } => {
                for _ in 0..*count {
                    self.create(*client, *pages)?;
                }
            }
            Op::Destroy { q, owner } => {
                let (from, queue) = self.resolve(*q, *owner);
                let expected = self.m.destroy(from, queue);
                self.call(from, &Request::DestroyQueue { queue }, expected)?;
                self.forget_readers();
            }
            Op::Subscribe { q, owner, spec, count } => {
                let (from, queue) = self.resolve(*q, *owner);
                let filter = spec.filter();
                for _ in 0..*count {
                    let expected = self.m.subscribe(from, queue, filter);
                    self.call(from, &Request::Subscribe { queue, filter }, expected)?;
                }
            }
            Op::Unsubscribe { q, owner, sub } => {
                let (from, queue) = self.resolve(*q, *owner);
                let subscription = self.sub_id(queue, *sub);
                let expected = self.m.unsubscribe(from, queue, subscription);
                self.call(from, &Request::Unsubscribe { queue, subscription }, expected)?;
            }
            Op::SetPriority { q, owner, sub, critical } => {
                let (from, queue) = self.resolve(*q, *owner);
                let subscription = self.sub_id(queue, *sub);
                let priority = if *critical { Priority::Critical } else { Priority::Normal };
                let expected = self.m.set_priority(from, queue, subscription, priority);
                self.call(from, &Request::SetPriority { queue, subscription, priority }, expected)?;
            }
            Op::Publish { from, ev } => {
                let e = ev.resolve(*from);
                let expected = self.m.publish(*from, std::slice::from_ref(&e));
                self.call(*from, &Request::Publish(e.as_event()), expected)?;
            }
            Op::Batch { from, evs } => {
                let events: Vec<MEvent> = evs.iter().map(|e| e.resolve(*from)).collect();
                let expected = self.m.publish(*from, &events);
                let mut body = [0u8; MAX_MSG_BYTES];
                let mut b = BatchBuilder::new(&mut body).unwrap();
                for e in &events {
                    b.push(&e.as_event()).expect("a batch of five small events fits");
                }
                let len = b.finish();
                let got = self.h.raw(*from, label::PUBLISH_BATCH, &body[..len]);
                prop_assert_eq!(got, expected, "reply to batch {:?} from {:#x}", events, from);
            }
            Op::Burst { from, ev, n } => {
                let e = ev.resolve(*from);
                for _ in 0..*n {
                    let expected = self.m.publish(*from, std::slice::from_ref(&e));
                    self.call(*from, &Request::Publish(e.as_event()), expected)?;
                }
            }
            Op::Read { q, max } => {
                let unread: Vec<u32> =
                    self.m.queues.iter().filter(|(_, q)| q.ring.unread() > 0).map(|(id, _)| *id).collect();
                let Some(&id) = unread.get(q % unread.len().max(1)) else { return Ok(()) };
                self.read(id, *max)?;
            }
            Op::PublishFit { q, room, excess, critical, tries } => {
                if self.m.queues.is_empty() {
                    return Ok(());
                }
                let id = *self.m.queues.keys().nth(q % self.m.queues.len()).unwrap();
                for _ in 0..*tries {
                    let Some((from, e, exact)) = self.fitting_event(id, 0, *critical) else { return Ok(()) };
                    let expected = self.m.publish(from, std::slice::from_ref(&e));
                    self.call(from, &Request::Publish(e.as_event()), expected)?;
                    if exact {
                        break;
                    }
                }
                if *room > 0 {
                    self.read(id, *room)?;
                    let Some((from, e, _)) = self.fitting_event(id, *excess, *critical) else { return Ok(()) };
                    let expected = self.m.publish(from, std::slice::from_ref(&e));
                    self.call(from, &Request::Publish(e.as_event()), expected)?;
                }
            }
            Op::ClientGone { from, client } => {
                let expected = self.m.client_gone(*from, *client);
                self.call(*from, &Request::ClientGone { client: *client }, expected)?;
                self.forget_readers();
            }
            Op::Rejoin { client } => {
                prop_assert_eq!(self.h.server.register_client(*client), self.m.rejoin(*client));
            }
            Op::Tick { dt } => {
                self.m.tick(*dt);
                self.h.tick(*dt);
            }
            Op::StatsQueue { q, owner } => {
                let (from, queue) = self.resolve(*q, *owner);
                let expected = self.m.stats(from, StatsTarget::Queue(queue));
                self.call(from, &Request::Stats(StatsTarget::Queue(queue)), expected)?;
            }
            Op::StatsSource { from, id } => {
                let expected = self.m.stats(*from, StatsTarget::Source(*id));
                self.call(*from, &Request::Stats(StatsTarget::Source(*id)), expected)?;
            }
            Op::StatsServer { from } => {
                let expected = self.m.stats(*from, StatsTarget::Server);
                self.call(*from, &Request::Stats(StatsTarget::Server), expected)?;
            }
        }
        Ok(())
    }

    /// Everything observable without changing state, compared.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let actions = self.h.take_actions();
        prop_assert!(actions.is_empty(), "unexpected actions {:?}", actions);
        prop_assert_eq!(self.h.now_ns, self.m.now);
        let s = &self.h.server;
        prop_assert_eq!(s.queue_count(), self.m.queues.len());
        prop_assert_eq!(s.subscription_count(), self.m.subscription_count());
        prop_assert_eq!(s.pool_pages_used(), self.m.pool_used);
        prop_assert_eq!(s.client_count(), self.m.clients.len());
        prop_assert_eq!(s.staged_count(), 0);
        prop_assert_eq!(s.next_deadline(), None);
        for id in 0..=3u32 {
            prop_assert_eq!(s.source_stats(id).map(|(_, c)| c), Some(self.m.sources[id as usize]), "source {}", id);
        }
        prop_assert!(s.source_stats(4).is_none());
        prop_assert_eq!(s.totals(), self.m.totals());
        prop_assert_eq!(self.readers.len(), self.m.queues.len());
        // Each live queue's counters and occupancy, asked the way a client asks.
        let queues: Vec<(u32, u64)> = self.m.queues.iter().map(|(id, q)| (*id, q.owner)).collect();
        for (id, owner) in queues {
            let expected = self.m.stats(owner, StatsTarget::Queue(id));
            self.call(owner, &Request::Stats(StatsTarget::Queue(id)), expected)?;
            let lost = self.readers.get_mut(&id).unwrap().lost_total();
            prop_assert_eq!(lost, self.m.queues[&id].ring.lost_total, "lost total of {:#x}", id);
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct Case {
    pool_pages: u32,
    vfs_budget: u32,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    (prop::sample::select(vec![12u32, 20, 64]), prop_oneof![3 => Just(0u32), 1 => 2u32..10], setup(), vec(op(), 1..=60))
        .prop_map(|(pool_pages, vfs_budget, mut ops, more)| {
            ops.extend(more);
            Case { pool_pages, vfs_budget, ops }
        })
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let mut w = World {
        h: harness_with_budget(case.pool_pages, case.vfs_budget),
        m: Model::new(case.pool_pages, case.vfs_budget),
        readers: BTreeMap::new(),
    };
    w.check()?;
    for (i, op) in case.ops.iter().enumerate() {
        w.run(op).map_err(|e| TestCaseError::fail(format!("step {i} {op:?}: {e}")))?;
        w.check().map_err(|e| TestCaseError::fail(format!("after step {i} {op:?}: {e}")))?;
    }
    // Finally every queue read dry must match too.
    let ids: Vec<u32> = w.m.queues.keys().copied().collect();
    for id in ids {
        let expected = w.m.read(id, usize::MAX);
        let got = read_at_most(w.readers.get_mut(&id).unwrap(), usize::MAX);
        prop_assert_eq!(got, expected, "final read of {:#x}", id);
    }
    w.check()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_server_behaves_like_its_model(case in case()) {
        run_case(&case)?;
    }
}

// ---------------------------------------------------------------------------
// Coalescing, on its own: one queue, one VFS subscription, window W.

#[derive(Clone, Debug)]
enum COp {
    Publish {
        kind: u8,
        object: u64,
        dir: bool,
        critical: bool,
        payload: Vec<u8>,
    },
    /// Advance the clock by this many tenths of the window, and tick.
    Tick {
        tenths: u64,
    },
    Read {
        max: usize,
    },
}

fn cop() -> impl Strategy<Value = COp> {
    prop_oneof![
        6 => (0u8..4, 1u64..=4, prop::bool::weighted(0.2), prop::bool::weighted(0.2), vec(any::<u8>(), 0..=16))
            .prop_map(|(kind, object, dir, critical, payload)| COp::Publish { kind, object, dir, critical, payload }),
        3 => (0u64..=20).prop_map(|tenths| COp::Tick { tenths }),
        1 => prop::sample::select(vec![1usize, 3, usize::MAX]).prop_map(|max| COp::Read { max }),
    ]
}

/// An event held back for the window.
#[derive(Debug)]
struct Held {
    kind: u8,
    object: u64,
    type_flags: u8,
    critical: bool,
    payload: Vec<u8>,
    timestamp: u64,
    staged_at: u64,
    coalesced: u16,
}

struct CModel {
    now: u64,
    window: u64,
    /// In order of first arrival.
    held: Vec<Held>,
    /// Written, not yet read (the ring never fills in this test).
    ring: VecDeque<(Got, u64)>,
    seq: u64,
    published: u64,
    merged: u64,
}

impl CModel {
    fn write_oldest(&mut self) {
        let h = self.held.remove(0);
        let got = Got {
            category: Category::Vfs,
            kind: h.kind,
            type_flags: h.type_flags,
            watch_id: 0,
            critical: h.critical,
            coalesced: h.coalesced,
            lost_before: 0,
            seq: self.seq,
            object_id: h.object,
            source_id: 1,
            payload: h.payload,
        };
        self.seq += 1;
        self.ring.push_back((got, h.timestamp));
    }

    fn publish(&mut self, kind: u8, object: u64, type_flags: u8, critical: bool, payload: &[u8]) {
        self.published += 1;
        if let Some(h) = self.held.iter_mut().find(|h| h.kind == kind && h.object == object) {
            h.type_flags |= type_flags;
            h.critical |= critical;
            h.payload = payload.to_vec();
            h.timestamp = self.now;
            h.coalesced += 1;
            self.merged += 1;
            return;
        }
        if self.held.len() >= MAX_STAGED {
            self.write_oldest();
        }
        self.held.push(Held {
            kind,
            object,
            type_flags,
            critical,
            payload: payload.to_vec(),
            timestamp: self.now,
            staged_at: self.now,
            coalesced: 0,
        });
    }

    fn tick(&mut self, dt: u64) {
        self.now += dt;
        while self.held.first().is_some_and(|h| h.staged_at + self.window <= self.now) {
            self.write_oldest();
        }
    }

    fn deadline(&self) -> Option<u64> {
        self.held.first().map(|h| h.staged_at + self.window)
    }
}

fn queue_stats(h: &mut Harness, queue: u32) -> Stats {
    match h.call(ALICE, &Request::Stats(StatsTarget::Queue(queue))) {
        Reply::Stats(s) => s,
        other => panic!("stats failed: {other:?}"),
    }
}

fn run_coalescing(window: u64, ops: &[COp]) -> Result<(), TestCaseError> {
    let mut h = harness(64);
    let queue = create(&mut h, ALICE, 2);
    subscribe(&mut h, ALICE, queue, all_of(Category::Vfs));
    prop_assert_eq!(h.call(ALICE, &Request::SetCoalescing { queue, window_ns: window }), Reply::Done);
    let mut reader = h.attach(queue);
    let mut m =
        CModel { now: h.now_ns, window, held: Vec::new(), ring: VecDeque::new(), seq: 0, published: 0, merged: 0 };
    let mut delivered: Vec<Got> = Vec::new();
    let read = |reader: &mut EventQueue, m: &mut CModel, max: usize, delivered: &mut Vec<Got>| {
        let got = read_at_most(reader, max);
        let expected: Vec<(Got, u64)> = (0..max).map_while(|_| m.ring.pop_front()).collect();
        delivered.extend(got.iter().map(|(g, _)| g.clone()));
        (got, expected)
    };
    for (i, op) in ops.iter().enumerate() {
        match op {
            COp::Publish { kind, object, dir, critical, payload } => {
                let type_flags = if *dir { vfs::flags::IS_DIR } else { 0 };
                let event = Event {
                    category: Category::Vfs,
                    kind: *kind,
                    type_flags,
                    priority: if *critical { Priority::Critical } else { Priority::Normal },
                    object_id: *object,
                    payload,
                };
                prop_assert_eq!(publish(&mut h, VFS, event), Reply::Published { accepted: 1 }, "step {}", i);
                m.publish(*kind, *object, type_flags, *critical, payload);
            }
            COp::Tick { tenths } => {
                let dt = window * tenths / 10;
                h.tick(dt);
                m.tick(dt);
            }
            COp::Read { max } => {
                let (got, expected) = read(&mut reader, &mut m, *max, &mut delivered);
                prop_assert_eq!(got, expected, "step {} {:?}", i, op);
            }
        }
        prop_assert_eq!(h.server.staged_count(), m.held.len(), "step {} {:?}", i, op);
        prop_assert_eq!(h.server.next_deadline(), m.deadline(), "step {} {:?}", i, op);
        let s = queue_stats(&mut h, queue).counters;
        prop_assert_eq!((s.published, s.coalesced, s.delivered, s.dropped), (m.published, m.merged, m.seq, 0));
    }
    // Turning coalescing off writes out whatever is still held.
    prop_assert_eq!(h.call(ALICE, &Request::SetCoalescing { queue, window_ns: 0 }), Reply::Done);
    while !m.held.is_empty() {
        m.write_oldest();
    }
    prop_assert_eq!(h.server.staged_count(), 0);
    let (got, expected) = read(&mut reader, &mut m, usize::MAX, &mut delivered);
    prop_assert_eq!(got, expected, "final read");
    // Nothing lost, nothing duplicated: every published event is either
    // delivered or counted in exactly one delivered event's `coalesced`.
    let represented: u64 = delivered.iter().map(|g| u64::from(g.coalesced) + 1).sum();
    prop_assert_eq!(represented, m.published);
    prop_assert_eq!(
        delivered.iter().map(|g| g.seq).collect::<Vec<_>>(),
        (0..delivered.len() as u64).collect::<Vec<_>>()
    );
    let s = queue_stats(&mut h, queue).counters;
    prop_assert_eq!(
        (s.published, s.coalesced, s.delivered, s.dropped),
        (m.published, m.merged, delivered.len() as u64, 0)
    );
    let (_, src) = h.server.source_stats(1).unwrap();
    prop_assert_eq!(
        (src.published, src.coalesced, src.delivered, src.dropped),
        (m.published, m.merged, delivered.len() as u64, 0)
    );
    let actions = h.take_actions();
    prop_assert!(actions.iter().all(|a| matches!(a, Action::GrantRing { .. })), "{:?}", actions);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn coalescing_behaves_like_its_model(
        window in prop::sample::select(vec![1u64, 10, 100, 1_000]),
        ops in vec(cop(), 1..=60),
    ) {
        run_coalescing(window, &ops)?;
    }
}

/// Found by the model: a client request from a badge that is a source but not
/// a client was counted as refused from a badge that is not a source.
#[test]
fn a_client_request_from_a_source_is_counted_as_that_sources_rejection() {
    let mut h = harness(64);
    assert_eq!(h.call(NET, &Request::Stats(StatsTarget::Server)), err(ErrorCode::UnknownSender, 0));
    assert_eq!(h.server.source_stats(2).unwrap().1.rejected, 1);
    assert_eq!(h.server.totals().rejected, 1);
    assert_eq!(h.call(0xDEAD, &Request::Stats(StatsTarget::Server)), err(ErrorCode::UnknownSender, 0));
    assert_eq!(h.server.source_stats(2).unwrap().1.rejected, 1);
    assert_eq!(h.server.totals().rejected, 2);
}
