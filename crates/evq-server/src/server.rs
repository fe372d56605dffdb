//! The server: its tables, and the handling of each input.

use evq_abi::event::{memory, Category, CategorySet, Priority, UsagePayload};
use evq_abi::msg::{BatchEvents, Counters, ErrorCode, Event, Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_ring::Producer;
use heapless::Vec;
use zerocopy::IntoBytes;

use crate::limits::{MAX_CLIENTS, MAX_QUEUES, MAX_QUEUES_PER_CLIENT, MAX_SOURCES, MAX_SOURCE_NAME, MAX_SUBSCRIPTIONS};
use crate::memory::{RingHandle, RingMemory};
use crate::origin::{Badge, Stamped};
use crate::queue::{Match, Outcomes, Queue, Subscription};
use crate::staging::Staging;

/// The source id the server uses for the events it raises itself (memory
/// pressure, system up). Registered sources get 1, 2, …
pub const SERVER_SOURCE_ID: u32 = 0;

/// What the server is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Frames (4 KiB pages) all rings together may use, control pages
    /// included. Usage at 7/8 of it raises a memory LOW event, a refused
    /// allocation an EXHAUSTED event, and usage back under 3/4 a RECOVERED
    /// event.
    pub ring_pool_pages: u32,
}

/// A source to register: a driver domain or the root task.
#[derive(Clone, Copy, Debug)]
pub struct SourceSpec<'a> {
    /// The badge its messages arrive with.
    pub badge: Badge,
    /// A name for statistics and logs, at most 16 bytes.
    pub name: &'a str,
    /// The categories it may publish.
    pub allowed: CategorySet,
    /// Whether it may report clients gone (the root task).
    pub supervisor: bool,
    /// Events it may publish per tick; 0 for no limit.
    pub budget_per_tick: u32,
}

/// Why a source or client cannot be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The table is full (see [`crate::limits`]).
    TableFull,
    /// The badge is registered already.
    DuplicateBadge,
    /// The name is longer than 16 bytes.
    NameTooLong,
}

/// Something the shell must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the ring's memory to `client` with the reply to its
    /// `CreateQueue`: on seL4 its first [`evq_abi::msg::FRAMES_PER_REPLY`]
    /// frames (control page first), on the hosted platform one descriptor
    /// for the whole region.
    GrantRing {
        /// The client.
        client: Badge,
        /// The new queue.
        queue: u32,
        /// The ring's memory, as the shell named it.
        ring: RingHandle,
        /// How many frames.
        frames: u32,
    },
    /// Send frames `first..first + count` of `client`'s ring with the reply
    /// to its `RingFrames`.
    GrantFrames {
        /// The client.
        client: Badge,
        /// The queue.
        queue: u32,
        /// The ring's memory, as the shell named it.
        ring: RingHandle,
        /// The index of the first frame: 0 is the control page.
        first: u32,
        /// How many: 1 to [`evq_abi::msg::FRAMES_PER_REPLY`].
        count: u32,
    },
    /// Signal the notification of `client`'s `queue`.
    Signal {
        /// The client.
        client: Badge,
        /// The queue.
        queue: u32,
    },
    /// A queue was revoked because its client corrupted the ring; its memory
    /// has been released. The client's requests on it now fail `Revoked`.
    Revoked {
        /// The client.
        client: Badge,
        /// The queue.
        queue: u32,
    },
}

struct Source {
    badge: Badge,
    name: heapless::String<MAX_SOURCE_NAME>,
    allowed: CategorySet,
    supervisor: bool,
    budget_per_tick: u32,
    tokens: u32,
}

impl Source {
    fn take_token(&mut self) -> bool {
        if self.budget_per_tick == 0 {
            return true;
        }
        let ok = self.tokens > 0;
        self.tokens = self.tokens.saturating_sub(1);
        ok
    }
}

struct Client {
    badge: Badge,
    queues: usize,
}

// The table is a fixed array sized for every slot live, so the free variant
// being small saves nothing; there is no heap to box the large one into.
#[allow(clippy::large_enum_variant)]
enum QueueSlot {
    Free,
    Live(Queue),
    /// Revoked for a corrupt ring: kept so the owner learns why, until it
    /// destroys the queue or goes away.
    Revoked {
        owner: Badge,
    },
}

impl QueueSlot {
    fn owner(&self) -> Option<Badge> {
        match self {
            QueueSlot::Free => None,
            QueueSlot::Live(q) => Some(q.owner),
            QueueSlot::Revoked { owner } => Some(*owner),
        }
    }
}

/// The event server's core. See the crate documentation.
pub struct Server<M: RingMemory> {
    memory: M,
    config: Config,
    sources: Vec<Source, MAX_SOURCES>,
    /// Per-source counters by source id; index 0 is the server's own events.
    source_stats: [Counters; MAX_SOURCES + 1],
    /// Messages refused from badges that are not sources.
    other_rejected: u64,
    clients: Vec<Client, MAX_CLIENTS>,
    queues: [QueueSlot; MAX_QUEUES],
    /// Which slots of `queues` are live, a bit each: an event is offered to
    /// these only, not to every slot of the table.
    live: [u64; LIVE_WORDS],
    generations: [u32; MAX_QUEUES],
    staging: Staging,
    pool_pages_used: u32,
    pool_low: bool,
}

type Result<T> = core::result::Result<T, Reply>;

const LIVE_WORDS: usize = MAX_QUEUES.div_ceil(64);

/// The set bits of `words`, lowest first.
fn set_bits(words: [u64; LIVE_WORDS]) -> SetBits {
    SetBits { words, word: 0, bits: words[0] }
}

/// The iterator [`set_bits`] returns. A plain loop rather than iterator
/// adaptors: the fan-out runs it for every event, and the adaptors cost a
/// tenth of the fan-out.
struct SetBits {
    words: [u64; LIVE_WORDS],
    /// The word being taken apart.
    word: usize,
    /// Its bits not yet returned.
    bits: u64,
}

impl Iterator for SetBits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            self.bits = *self.words.get(self.word)?;
        }
        let bit = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.word * 64 + bit)
    }
}

fn error(code: ErrorCode, detail: u32) -> Reply {
    Reply::Error { code, detail }
}

impl<M: RingMemory> Server<M> {
    /// A server with no sources, clients or queues.
    pub fn new(config: Config, memory: M) -> Self {
        Self {
            memory,
            config,
            sources: Vec::new(),
            source_stats: [Counters::default(); MAX_SOURCES + 1],
            other_rejected: 0,
            clients: Vec::new(),
            queues: core::array::from_fn(|_| QueueSlot::Free),
            live: [0; LIVE_WORDS],
            generations: [0; MAX_QUEUES],
            staging: Staging::default(),
            pool_pages_used: 0,
            pool_low: false,
        }
    }

    /// Registers a source; returns its source id.
    pub fn register_source(&mut self, spec: SourceSpec<'_>) -> core::result::Result<u32, SetupError> {
        if self.sources.iter().any(|s| s.badge == spec.badge) {
            return Err(SetupError::DuplicateBadge);
        }
        let name = heapless::String::try_from(spec.name).map_err(|_| SetupError::NameTooLong)?;
        let source = Source {
            badge: spec.badge,
            name,
            allowed: spec.allowed,
            supervisor: spec.supervisor,
            budget_per_tick: spec.budget_per_tick,
            tokens: spec.budget_per_tick,
        };
        self.sources.push(source).map_err(|_| SetupError::TableFull)?;
        Ok(self.sources.len() as u32)
    }

    /// Registers a client.
    pub fn register_client(&mut self, badge: Badge) -> core::result::Result<(), SetupError> {
        if self.clients.iter().any(|c| c.badge == badge) {
            return Err(SetupError::DuplicateBadge);
        }
        self.clients.push(Client { badge, queues: 0 }).map_err(|_| SetupError::TableFull)
    }

    /// The shell's ring memory.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// The shell's ring memory, mutably (for shells and tests that keep state there).
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// Handles one message from `from`: decodes it, acts on it, and encodes
    /// the reply into `reply` (64 bytes always suffice). Returns the reply's
    /// label and length. Malformed input gets an error reply and changes
    /// nothing but the `rejected` counter.
    pub fn handle(
        &mut self,
        now_ns: u64,
        from: Badge,
        label: u32,
        body: &[u8],
        reply: &mut [u8],
        act: &mut impl FnMut(Action),
    ) -> (u32, usize) {
        let answer = match Request::decode(label, body) {
            Ok(request) => self.request(now_ns, from, request, act),
            Err(e) => {
                self.count_rejected(from);
                match e {
                    evq_abi::msg::DecodeError::UnknownLabel(l) => error(ErrorCode::UnknownLabel, l),
                    e => error(ErrorCode::Malformed, e.code()),
                }
            }
        };
        answer.encode(reply).unwrap_or((evq_abi::msg::label::ERROR, 0))
    }

    /// Acts on a decoded request from `from` and returns the reply.
    pub fn request(&mut self, now_ns: u64, from: Badge, request: Request<'_>, act: &mut impl FnMut(Action)) -> Reply {
        let reply = match request {
            Request::Publish(event) => self.publish(now_ns, from, core::iter::once(event), 1, None, act),
            Request::PublishBatch(batch) => match batch.events() {
                BatchEvents::Checked(events, categories) => {
                    self.publish(now_ns, from, events, batch.len() as u32, Some(categories), act)
                }
                BatchEvents::Built(events) => {
                    self.publish(now_ns, from, events.iter().copied(), events.len() as u32, None, act)
                }
            },
            Request::ClientGone { client } => self.supervised_client_gone(now_ns, from, client, act),
            other => self.client_request(now_ns, from, other, act),
        };
        reply.unwrap_or_else(|e| e)
    }

    /// Publishes an event of the server's own (for example system UP), as
    /// source [`SERVER_SOURCE_ID`]. The event is checked as a decoded one is.
    pub fn publish_own(
        &mut self,
        now_ns: u64,
        event: Event<'_>,
        act: &mut impl FnMut(Action),
    ) -> core::result::Result<(), evq_abi::msg::DecodeError> {
        event.check()?;
        self.fan_out(now_ns, &Stamped { source_id: SERVER_SOURCE_ID, timestamp_ns: now_ns, event });
        self.settle(now_ns, act);
        Ok(())
    }

    /// A timer tick: refills source budgets, writes out coalesced events
    /// whose window has passed, and wakes clients whose timeout has passed.
    pub fn tick(&mut self, now_ns: u64, act: &mut impl FnMut(Action)) {
        for s in self.sources.iter_mut() {
            s.tokens = s.budget_per_tick;
        }
        let mut out = Outcomes { sources: &mut self.source_stats };
        for slot in self.queues.iter_mut() {
            if let QueueSlot::Live(q) = slot {
                q.flush_due(now_ns, false, &mut self.staging, &mut out);
            }
        }
        self.settle(now_ns, act);
    }

    /// The earliest time a [`Server::tick`] has work to do (a coalescing
    /// window or a wait timeout ending), so a shell can set its timer to it.
    pub fn next_deadline(&self) -> Option<u64> {
        self.live_queues().filter_map(|q| q.next_deadline(&self.staging)).min()
    }

    /// A client is gone: destroys its queues and forgets it. Returns whether
    /// it was registered.
    pub fn client_gone(&mut self, now_ns: u64, client: Badge, act: &mut impl FnMut(Action)) -> bool {
        let Some(i) = self.clients.iter().position(|c| c.badge == client) else {
            return false;
        };
        for index in 0..MAX_QUEUES {
            if self.queues[index].owner() == Some(client) {
                self.free_queue(index);
            }
        }
        self.clients.swap_remove(i);
        // Freed memory may end a low-memory condition.
        self.settle(now_ns, act);
        true
    }

    // -- Introspection, for shells, statistics and tests. --------------------

    /// Queues that exist (live or revoked).
    pub fn queue_count(&self) -> usize {
        self.queues.iter().filter(|q| !matches!(q, QueueSlot::Free)).count()
    }

    /// Subscriptions over all queues.
    pub fn subscription_count(&self) -> usize {
        self.live_queues().map(|q| q.subscriptions.len()).sum()
    }

    /// Events held back for coalescing over all queues.
    pub fn staged_count(&self) -> usize {
        self.staging.len()
    }

    /// Registered clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Ring frames in use.
    pub fn pool_pages_used(&self) -> u32 {
        self.pool_pages_used
    }

    /// A registered source's name and counters, by source id.
    pub fn source_stats(&self, source_id: u32) -> Option<(&str, Counters)> {
        if source_id == SERVER_SOURCE_ID {
            return Some(("evq-server", self.source_stats[0]));
        }
        let source = self.sources.get((source_id as usize).checked_sub(1)?)?;
        Some((source.name.as_str(), self.source_stats[source_id as usize]))
    }

    /// The server's totals: the sum over its sources, plus messages refused
    /// from badges that are not sources.
    pub fn totals(&self) -> Counters {
        let mut total = Counters::default();
        for c in &self.source_stats[..=self.sources.len()] {
            total.add(c);
        }
        total.rejected += self.other_rejected;
        total
    }

    // -- Publishing. ----------------------------------------------------------

    /// Publishes `events` (`count` of them) from `from`. `checked` is the
    /// set of their categories when they come from a decoded batch, every
    /// one already checked; `None` for events that may have been built in
    /// code (a single `Publish` is also cheap to check again), which are
    /// checked here first: the rings rely on their bounds.
    fn publish<'e>(
        &mut self,
        now_ns: u64,
        from: Badge,
        events: impl Iterator<Item = Event<'e>> + Clone,
        count: u32,
        checked: Option<CategorySet>,
        act: &mut impl FnMut(Action),
    ) -> Result<Reply> {
        let Some(index) = self.sources.iter().position(|s| s.badge == from) else {
            self.other_rejected += 1;
            return Err(error(ErrorCode::UnknownSender, 0));
        };
        let source_id = index as u32 + 1;
        let categories = match checked {
            Some(categories) => categories,
            None => {
                let mut categories = CategorySet::EMPTY;
                for e in events.clone() {
                    if let Err(err) = e.check() {
                        self.source_stats[source_id as usize].rejected += 1;
                        return Err(error(ErrorCode::Malformed, err.code()));
                    }
                    categories.0 |= e.category.bit();
                }
                categories
            }
        };
        // A batch with one forbidden event is refused whole, before any of it
        // is delivered, so the source can tell exactly what was not sent: the
        // category of the first such event.
        let allowed = self.sources[index].allowed;
        if categories.0 & !allowed.0 != 0 {
            self.source_stats[source_id as usize].rejected += 1;
            let bad = events.clone().find(|e| !allowed.contains(e.category)).map_or(0, |e| e.category as u32);
            return Err(error(ErrorCode::NotPermitted, bad));
        }
        let mut accepted = 0;
        for event in events {
            if !self.sources[index].take_token() {
                self.source_stats[source_id as usize].throttled += u64::from(count - accepted);
                break;
            }
            self.fan_out(now_ns, &Stamped { source_id, timestamp_ns: now_ns, event });
            accepted += 1;
        }
        self.settle(now_ns, act);
        if accepted < count {
            return Err(error(ErrorCode::Busy, accepted));
        }
        Ok(Reply::Published { accepted })
    }

    /// Offers one stamped event to every live queue.
    fn fan_out(&mut self, now_ns: u64, e: &Stamped<'_>) {
        let sid = e.source_id as usize;
        let mut taken = false;
        let mut out = Outcomes { sources: &mut self.source_stats };
        for index in set_bits(self.live) {
            let QueueSlot::Live(q) = &mut self.queues[index] else { continue };
            match q.matches(e) {
                Match::NotSubscribed => {}
                Match::Filtered => q.stats.filtered += 1,
                Match::Accepted { watch_id, critical } => {
                    taken = true;
                    q.offer(e, watch_id, critical, now_ns, &mut self.staging, &mut out);
                }
            }
        }
        let stats = &mut self.source_stats[sid];
        stats.published += 1;
        if !taken {
            stats.filtered += 1;
        }
    }

    fn set_live(&mut self, index: usize, live: bool) {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if live {
            self.live[word] |= bit;
        } else {
            self.live[word] &= !bit;
        }
    }

    /// After events were written: revoke queues whose client corrupted its
    /// ring, signal clients whose batch is complete, and raise memory events
    /// when the ring pool crosses a threshold, until nothing more changes.
    fn settle(&mut self, now_ns: u64, act: &mut impl FnMut(Action)) {
        loop {
            for index in set_bits(self.live) {
                let queue = self.queue_id(index);
                let QueueSlot::Live(q) = &mut self.queues[index] else { continue };
                let client = q.owner;
                if q.is_corrupt() {
                    self.release_ring(index);
                    self.queues[index] = QueueSlot::Revoked { owner: client };
                    self.set_live(index, false);
                    act(Action::Revoked { client, queue });
                    // Wake it, so that a client asleep on this queue finds out.
                    act(Action::Signal { client, queue });
                } else if q.should_signal(now_ns) {
                    act(Action::Signal { client, queue });
                }
            }
            let Some(kind) = self.pool_transition() else { break };
            self.raise_pool_event(now_ns, kind);
        }
    }

    // -- Ring pool. -------------------------------------------------------------

    fn pool_transition(&mut self) -> Option<u8> {
        let total = u64::from(self.config.ring_pool_pages);
        let used = u64::from(self.pool_pages_used);
        if !self.pool_low && used * 8 >= total * 7 && total > 0 {
            self.pool_low = true;
            return Some(memory::LOW);
        }
        if self.pool_low && used * 4 < total * 3 {
            self.pool_low = false;
            return Some(memory::RECOVERED);
        }
        None
    }

    fn raise_pool_event(&mut self, now_ns: u64, kind: u8) {
        let page = PAGE_SIZE as u64;
        let usage = UsagePayload {
            used: (u64::from(self.pool_pages_used) * page).into(),
            total: (u64::from(self.config.ring_pool_pages) * page).into(),
        };
        let event = Event {
            category: Category::Memory,
            kind,
            type_flags: memory::flags::RING_POOL,
            priority: if kind == memory::RECOVERED { Priority::Normal } else { Priority::Critical },
            object_id: 0,
            payload: usage.as_bytes(),
        };
        self.fan_out(now_ns, &Stamped { source_id: SERVER_SOURCE_ID, timestamp_ns: now_ns, event });
    }

    // -- Client requests. -------------------------------------------------------

    fn client_request(
        &mut self,
        now_ns: u64,
        from: Badge,
        request: Request<'_>,
        act: &mut impl FnMut(Action),
    ) -> Result<Reply> {
        let Some(client) = self.clients.iter().position(|c| c.badge == from) else {
            // A source is not a client: its refused request is its own to
            // count; only badges that are not sources count as the server's.
            self.count_rejected(from);
            return Err(error(ErrorCode::UnknownSender, 0));
        };
        match request {
            Request::CreateQueue { geometry } => self.create_queue(now_ns, client, geometry, act),
            Request::DestroyQueue { queue } => {
                let index = self.owned(from, queue)?;
                self.free_queue(index);
                self.settle(now_ns, act);
                Ok(Reply::Done)
            }
            Request::Subscribe { queue, filter } => {
                let q = self.live(from, queue)?;
                subscribe(q, filter)
            }
            Request::RingFrames { queue, first } => {
                let q = self.live(from, queue)?;
                let frames = q.producer.geometry().frames();
                if first >= frames {
                    return Err(error(ErrorCode::InvalidArgument, frames));
                }
                let count = (frames - first).min(evq_abi::msg::FRAMES_PER_REPLY);
                act(Action::GrantFrames { client: from, queue, ring: q.handle, first, count });
                Ok(Reply::RingFrames { first, count })
            }
            Request::Unsubscribe { queue, subscription } => {
                let q = self.live(from, queue)?;
                let i = find_subscription(q, subscription)?;
                q.subscriptions.swap_remove(i);
                Ok(Reply::Done)
            }
            Request::SetPriority { queue, subscription, priority } => {
                let q = self.live(from, queue)?;
                let i = find_subscription(q, subscription)?;
                q.subscriptions[i].filter.priority = priority;
                Ok(Reply::Done)
            }
            Request::SetCoalescing { queue, window_ns } => {
                let index = self.live_index(from, queue)?;
                let mut out = Outcomes { sources: &mut self.source_stats };
                if let QueueSlot::Live(q) = &mut self.queues[index] {
                    q.set_coalescing(window_ns, now_ns, &mut self.staging, &mut out);
                }
                self.settle(now_ns, act);
                Ok(Reply::Done)
            }
            Request::Wait { queue, min_events, timeout_ns } => {
                let index = self.live_index(from, queue)?;
                let QueueSlot::Live(q) = &mut self.queues[index] else {
                    return Err(error(ErrorCode::NoSuchQueue, queue));
                };
                match q.arm(min_events, timeout_ns, now_ns) {
                    Some((armed, unread_slots)) => Ok(Reply::Wait { armed, unread_slots }),
                    None => {
                        q.mark_corrupt();
                        self.settle(now_ns, act);
                        Err(error(ErrorCode::Revoked, queue))
                    }
                }
            }
            Request::Stats(target) => self.stats(now_ns, from, target, act),
            // Publish and ClientGone are routed before this point.
            Request::Publish(_) | Request::PublishBatch(_) | Request::ClientGone { .. } => {
                Err(error(ErrorCode::NotPermitted, 0))
            }
        }
    }

    fn create_queue(
        &mut self,
        now_ns: u64,
        client: usize,
        geometry: RingGeometry,
        act: &mut impl FnMut(Action),
    ) -> Result<Reply> {
        let badge = self.clients[client].badge;
        if self.clients[client].queues >= MAX_QUEUES_PER_CLIENT {
            return Err(error(ErrorCode::TableFull, MAX_QUEUES_PER_CLIENT as u32));
        }
        let Some(index) = self.queues.iter().position(|q| matches!(q, QueueSlot::Free)) else {
            return Err(error(ErrorCode::TableFull, MAX_QUEUES as u32));
        };
        let frames = geometry.frames();
        if self.pool_pages_used + frames > self.config.ring_pool_pages {
            return Err(self.pool_exhausted(now_ns, frames, act));
        }
        let Ok(ring) = self.memory.allocate(badge, geometry) else {
            return Err(self.pool_exhausted(now_ns, frames, act));
        };
        // SAFETY: `RingMemory`'s contract: the memory is valid, aligned, long
        // enough, shared only with this client, and kept until released.
        let producer = match unsafe { Producer::new(ring.base, ring.len, geometry) } {
            Ok(p) => p,
            Err(_) => {
                self.memory.release(ring.handle);
                return Err(error(ErrorCode::NoMemory, frames));
            }
        };
        self.generations[index] = (self.generations[index] + 1) & 0x00FF_FFFF;
        if self.generations[index] == 0 {
            self.generations[index] = 1;
        }
        let queue = self.queue_id(index);
        self.queues[index] = QueueSlot::Live(Queue::new(badge, index as u8, ring.handle, producer));
        self.set_live(index, true);
        self.clients[client].queues += 1;
        self.pool_pages_used += frames;
        act(Action::GrantRing { client: badge, queue, ring: ring.handle, frames });
        self.settle(now_ns, act);
        Ok(Reply::QueueCreated {
            queue,
            slot_count: geometry.slot_count(),
            frames,
            reserved_slots: geometry.reserved_slots(),
        })
    }

    fn pool_exhausted(&mut self, now_ns: u64, frames: u32, act: &mut impl FnMut(Action)) -> Reply {
        self.raise_pool_event(now_ns, memory::EXHAUSTED);
        self.settle(now_ns, act);
        error(ErrorCode::NoMemory, frames)
    }

    fn stats(&mut self, now_ns: u64, from: Badge, target: StatsTarget, act: &mut impl FnMut(Action)) -> Result<Reply> {
        let stats = match target {
            StatsTarget::Queue(queue) => {
                let q = self.live(from, queue)?;
                let Ok(used) = q.producer.unread_slots() else {
                    q.mark_corrupt();
                    self.settle(now_ns, act);
                    return Err(error(ErrorCode::Revoked, queue));
                };
                Stats { counters: q.stats, used_slots: used, slot_count: q.producer.geometry().slot_count() }
            }
            StatsTarget::Source(id) => match self.source_stats(id) {
                Some((_, counters)) => Stats { counters, ..Stats::default() },
                None => return Err(error(ErrorCode::InvalidArgument, id)),
            },
            StatsTarget::Server => Stats { counters: self.totals(), ..Stats::default() },
        };
        Ok(Reply::Stats(stats))
    }

    fn supervised_client_gone(
        &mut self,
        now_ns: u64,
        from: Badge,
        client: Badge,
        act: &mut impl FnMut(Action),
    ) -> Result<Reply> {
        match self.sources.iter().position(|s| s.badge == from) {
            Some(i) if self.sources[i].supervisor => {}
            Some(i) => {
                self.source_stats[i + 1].rejected += 1;
                return Err(error(ErrorCode::NotPermitted, 0));
            }
            None => {
                self.other_rejected += 1;
                return Err(error(ErrorCode::UnknownSender, 0));
            }
        }
        if self.client_gone(now_ns, client, act) {
            Ok(Reply::Done)
        } else {
            Err(error(ErrorCode::InvalidArgument, 0))
        }
    }

    // -- Queue table. -------------------------------------------------------------

    fn queue_id(&self, index: usize) -> u32 {
        (self.generations[index] << 8) | index as u32
    }

    /// The index of `queue` if it exists and belongs to `owner`.
    fn owned(&self, owner: Badge, queue: u32) -> Result<usize> {
        let index = (queue & 0xFF) as usize;
        match self.queues.get(index) {
            Some(slot) if slot.owner() == Some(owner) && self.queue_id(index) == queue => Ok(index),
            _ => Err(error(ErrorCode::NoSuchQueue, queue)),
        }
    }

    fn live_index(&self, owner: Badge, queue: u32) -> Result<usize> {
        let index = self.owned(owner, queue)?;
        match self.queues[index] {
            QueueSlot::Live(_) => Ok(index),
            _ => Err(error(ErrorCode::Revoked, queue)),
        }
    }

    fn live(&mut self, owner: Badge, queue: u32) -> Result<&mut Queue> {
        let index = self.live_index(owner, queue)?;
        match &mut self.queues[index] {
            QueueSlot::Live(q) => Ok(q),
            _ => Err(error(ErrorCode::Revoked, queue)),
        }
    }

    fn live_queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.iter().filter_map(|q| match q {
            QueueSlot::Live(q) => Some(q),
            _ => None,
        })
    }

    /// Frees a queue slot and whatever it held.
    fn free_queue(&mut self, index: usize) {
        let Some(owner) = self.queues[index].owner() else { return };
        self.release_ring(index);
        self.queues[index] = QueueSlot::Free;
        self.set_live(index, false);
        if let Some(c) = self.clients.iter_mut().find(|c| c.badge == owner) {
            c.queues -= 1;
        }
    }

    /// Gives a live queue's ring back to the shell. Events it held back for
    /// coalescing are dropped with it, and counted so.
    fn release_ring(&mut self, index: usize) {
        if let QueueSlot::Live(q) = &mut self.queues[index] {
            let sources = &mut self.source_stats;
            self.staging.discard(index as u8, |source_id| {
                q.stats.dropped += 1;
                if let Some(c) = sources.get_mut(source_id as usize) {
                    c.dropped += 1;
                }
            });
            self.memory.release(q.handle);
            self.pool_pages_used -= q.producer.geometry().frames();
        }
    }

    fn count_rejected(&mut self, from: Badge) {
        match self.sources.iter().position(|s| s.badge == from) {
            Some(i) => self.source_stats[i + 1].rejected += 1,
            None => self.other_rejected += 1,
        }
    }
}

fn subscribe(q: &mut Queue, filter: Filter) -> Result<Reply> {
    let Some(id) = (0..MAX_SUBSCRIPTIONS as u8).find(|id| q.subscriptions.iter().all(|s| s.id != *id)) else {
        return Err(error(ErrorCode::TableFull, MAX_SUBSCRIPTIONS as u32));
    };
    // Cannot fail: a free id means a free entry.
    let _ = q.subscriptions.push(Subscription { id, filter });
    Ok(Reply::Subscribed { subscription: id })
}

fn find_subscription(q: &Queue, id: u8) -> Result<usize> {
    q.subscriptions.iter().position(|s| s.id == id).ok_or(error(ErrorCode::NoSuchSubscription, u32::from(id)))
}
