//! The server: its tables, and the handling of each input.

mod clients;
mod drain;
mod publish;

pub use drain::{IngestError, PASS_BUDGET};
use publish::Hold;

use evq_abi::event::CategorySet;
use evq_abi::msg::{BatchEvents, Counters, ErrorCode, Event, Reply, Request};
use heapless::Vec;

use crate::ingest::{Ingest, IngestFault};
use crate::limits::{MAX_CLIENTS, MAX_QUEUES, MAX_SOURCES, MAX_SOURCE_NAME};
use crate::memory::{RingHandle, RingMemory};
use crate::origin::{Badge, Stamped};
use crate::queue::{Outcomes, Queue, CATEGORIES};
use crate::report::QueueReport;
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

impl SourceSpec<'static> {
    /// The root task (the hosted launcher): the supervisor source, with the
    /// identity the system description gives it on every platform
    /// ([`evq_system::ROOT_BADGE`], [`evq_system::ROOT_NAME`],
    /// [`evq_system::ROOT_CATEGORIES`]), and no budget.
    pub const ROOT: SourceSpec<'static> = SourceSpec {
        badge: evq_system::ROOT_BADGE,
        name: evq_system::ROOT_NAME,
        allowed: evq_system::ROOT_CATEGORIES,
        supervisor: true,
        budget_per_tick: 0,
    };
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

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::TableFull => f.write_str("the server's table is full"),
            SetupError::DuplicateBadge => f.write_str("the badge is registered already"),
            SetupError::NameTooLong => write!(f, "the name is longer than {MAX_SOURCE_NAME} bytes"),
        }
    }
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
    /// Signal `source`: it waits for room in its ingest ring, and the
    /// server has just freed some.
    SignalSource {
        /// The source's badge.
        source: Badge,
    },
    /// `source`'s ingest ring is cut off: it broke the ring (`fault`), and
    /// the server reads it no more. Its other events are unaffected, as is
    /// everyone else.
    CutOff {
        /// The source's badge.
        source: Badge,
        /// What it broke.
        fault: IngestFault,
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
    /// Its queues hold events back rather than drop them.
    lossless: bool,
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
    /// Which slots of `queues` are live, a bit each.
    live: [u64; LIVE_WORDS],
    /// By category number, which live queues have a subscription for it: an
    /// event is offered to these only, not to every queue.
    by_category: [[u64; LIVE_WORDS]; CATEGORIES],
    /// Which live queues are lossless.
    lossless: [u64; LIVE_WORDS],
    generations: [u32; MAX_QUEUES],
    staging: Staging,
    pool_pages_used: u32,
    pool_low: bool,
    /// Each source's ingest ring, by source index (source id − 1), if it
    /// has one.
    ingests: [Option<Ingest>; MAX_SOURCES],
}

type Result<T> = core::result::Result<T, Reply>;

const LIVE_WORDS: usize = MAX_QUEUES.div_ceil(64);

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
            by_category: [[0; LIVE_WORDS]; CATEGORIES],
            lossless: [0; LIVE_WORDS],
            generations: [0; MAX_QUEUES],
            staging: Staging::default(),
            pool_pages_used: 0,
            pool_low: false,
            ingests: [const { None }; MAX_SOURCES],
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
        self.add_client(badge, false)
    }

    /// Registers a client whose queues are lossless: an event one of them
    /// subscribes to and has no room for is held back, and the source that
    /// published it with it, until the client makes room; it is never
    /// dropped (`docs/protocol.md` §5.12).
    pub fn register_lossless_client(&mut self, badge: Badge) -> core::result::Result<(), SetupError> {
        self.add_client(badge, true)
    }

    fn add_client(&mut self, badge: Badge, lossless: bool) -> core::result::Result<(), SetupError> {
        if self.clients.iter().any(|c| c.badge == badge) {
            return Err(SetupError::DuplicateBadge);
        }
        self.clients.push(Client { badge, queues: 0, lossless }).map_err(|_| SetupError::TableFull)
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
        // Never held (Hold::Never): always offered.
        let _ =
            self.fan_out(now_ns, &Stamped { source_id: SERVER_SOURCE_ID, timestamp_ns: now_ns, event }, Hold::Never);
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
        self.live_queues().map(|q| q.subscriptions().len()).sum()
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

    /// Every queue that exists (live or revoked), in table order, with its
    /// figures. Takes `&mut self` only to re-read each ring's consumer tail
    /// (the producer caches it); nothing else changes, and a tail found
    /// impossible is reported (`used_slots: None`), not acted on.
    pub fn queue_reports(&mut self) -> impl Iterator<Item = QueueReport> + '_ {
        let (generations, staging, lossless) = (&self.generations, &self.staging, &self.lossless);
        self.queues.iter_mut().enumerate().filter_map(move |(index, slot)| {
            let queue = (generations[index] << 8) | index as u32;
            match slot {
                QueueSlot::Free => None,
                QueueSlot::Revoked { owner } => {
                    Some(QueueReport { queue, owner: *owner, revoked: true, ..Default::default() })
                }
                QueueSlot::Live(q) => {
                    let geometry = q.producer.geometry();
                    Some(QueueReport {
                        queue,
                        owner: q.owner,
                        revoked: false,
                        data_pages: geometry.data_pages(),
                        frames: geometry.frames(),
                        slot_count: geometry.slot_count(),
                        reserved_slots: geometry.reserved_slots(),
                        used_slots: q.producer.unread_slots().ok(),
                        counters: q.stats,
                        lost: q.producer.lost_total(),
                        subscriptions: q.subscriptions().len() as u32,
                        staged: staging.count(index as u8) as u32,
                        coalesce_window_ns: q.coalesce_window_ns(),
                        lossless: lossless[index / 64] & (1 << (index % 64)) != 0,
                    })
                }
            }
        })
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
}
