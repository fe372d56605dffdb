//! One client queue: its ring, its subscriptions, its coalescing staging
//! area and its batch wake-up.

use evq_abi::event::{vfs_parents, Category, EventRecord, Priority};
use evq_abi::msg::{Event, Filter};
use evq_abi::ring::{info, make_info};
use evq_ring::{EntryKind, Producer, PushError};
use heapless::Vec;

use crate::limits::{MAX_STAGED, MAX_SUBSCRIPTIONS};
use crate::memory::RingHandle;
use crate::origin::{Badge, Stamped};
use crate::staging::{Staged, Staging};
use evq_abi::msg::Counters;

/// A subscription: a filter and the id that tags the events it matches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subscription {
    pub id: u8,
    pub filter: Filter,
}

impl Subscription {
    /// Whether the subscription's answer depends on more than the event's
    /// category and kind.
    fn has_terms(&self) -> bool {
        let f = &self.filter;
        f.object_id.is_some() || f.source_id.is_some() || f.parent_id.is_some() || f.info_mask != 0
    }

    /// The watch_queue filter model: category, kind mask, object, source,
    /// then `info & mask == filter` on the entry's info word; last the
    /// directory (`PARENT`), the one term that reads the payload.
    fn accepts(&self, e: &Stamped<'_>) -> bool {
        let f = &self.filter;
        let info = (u32::from(e.event.type_flags)) << info::TYPE_FLAGS_SHIFT;
        f.type_mask & (1u64 << e.event.kind) != 0
            && f.object_id.is_none_or(|o| o == e.event.object_id)
            && f.source_id.is_none_or(|s| s == e.source_id)
            && info & f.info_mask == f.info_filter
            && f.parent_id.is_none_or(|dir| vfs_parents(e.event.kind, e.event.payload).contains(&Some(dir)))
    }
}

/// Categories, by number (Meta included, never subscribed).
pub(crate) const CATEGORIES: usize = 7;
/// Kinds a category may define (the most any defines is 6).
const KINDS: usize = 8;
const _: () = {
    let mut c = 0;
    while c < Category::PUBLISHABLE.len() {
        assert!((Category::PUBLISHABLE[c] as usize) < CATEGORIES);
        assert!(Category::PUBLISHABLE[c].kind_count() as usize <= KINDS);
        c += 1;
    }
};

/// What a queue's subscriptions answer for one (category, kind), worked
/// out when they change, so that matching an event is one lookup unless a
/// subscription has an object, source, parent or info term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// No subscription is for the category.
    NotSubscribed,
    /// Subscribed to the category, but no subscription takes the kind.
    Filtered,
    /// Taken by subscription `watch_id` (the lowest that takes it), and
    /// critical if any that takes it is.
    Accepted { watch_id: u8, critical: bool },
    /// A subscription that takes the kind has an object, source, parent or info
    /// term: every subscription must be tried.
    Filter,
}

/// How an event fared against a queue's subscriptions.
pub(crate) enum Match {
    /// No subscription is for its category.
    NotSubscribed,
    /// Subscribed to the category, but every filter refused it.
    Filtered,
    /// Accepted by subscription `watch_id`, at this priority.
    Accepted { watch_id: u8, critical: bool },
}

/// The outcome of writing one entry into the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    Delivered,
    Dropped,
    /// The client corrupted its tail: the queue must be revoked.
    Corrupt,
}

/// When to wake a sleeping client.
#[derive(Clone, Copy, Debug)]
struct Batch {
    min_events: u32,
    deadline_ns: Option<u64>,
    delivered_since_arm: u32,
    /// Something was delivered since the last look: only then can a batch
    /// have become complete, so a client that sets its waiting flag with
    /// nothing new to read is not woken for events it has already seen.
    delivered_since_check: bool,
}

impl Batch {
    const DEFAULT: Batch =
        Batch { min_events: 1, deadline_ns: None, delivered_since_arm: 0, delivered_since_check: false };
}

/// A live queue.
pub(crate) struct Queue {
    pub owner: Badge,
    pub handle: RingHandle,
    pub producer: Producer,
    subscriptions: Vec<Subscription, MAX_SUBSCRIPTIONS>,
    /// What the subscriptions answer, by category and kind.
    answers: [[Answer; KINDS]; CATEGORIES],
    pub stats: Counters,
    /// This queue's index in the server's table, which tags its staged events.
    index: u8,
    next_seq: u64,
    coalesce_window_ns: u64,
    batch: Batch,
    /// The client corrupted its tail: revoke the queue.
    corrupt: bool,
}

impl Queue {
    pub fn new(owner: Badge, index: u8, handle: RingHandle, producer: Producer) -> Self {
        Self {
            owner,
            handle,
            producer,
            subscriptions: Vec::new(),
            answers: [[Answer::NotSubscribed; KINDS]; CATEGORIES],
            stats: Counters::default(),
            index,
            next_seq: 0,
            coalesce_window_ns: 0,
            batch: Batch::DEFAULT,
            corrupt: false,
        }
    }

    pub fn coalesce_window_ns(&self) -> u64 {
        self.coalesce_window_ns
    }

    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }

    pub fn mark_corrupt(&mut self) {
        self.corrupt = true;
    }

    /// The subscriptions.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// The categories some subscription is for, as bits by number.
    pub fn categories(&self) -> u32 {
        self.subscriptions.iter().fold(0, |bits, s| bits | s.filter.category.bit())
    }

    /// Changes the subscriptions through `change`, then works out the
    /// answers again. What `change` returns is passed back.
    pub fn change_subscriptions<R>(
        &mut self,
        change: impl FnOnce(&mut Vec<Subscription, MAX_SUBSCRIPTIONS>) -> R,
    ) -> R {
        let r = change(&mut self.subscriptions);
        self.answers = [[Answer::NotSubscribed; KINDS]; CATEGORIES];
        for sub in &self.subscriptions {
            let category = sub.filter.category as usize;
            for kind in 0..KINDS {
                let answer = &mut self.answers[category][kind];
                if sub.filter.type_mask & (1 << kind) == 0 {
                    if *answer == Answer::NotSubscribed {
                        *answer = Answer::Filtered;
                    }
                    continue;
                }
                let critical = sub.filter.priority == Priority::Critical;
                *answer = match *answer {
                    Answer::Filter => Answer::Filter,
                    _ if sub.has_terms() => Answer::Filter,
                    Answer::Accepted { watch_id, critical: c } => {
                        Answer::Accepted { watch_id: watch_id.min(sub.id), critical: c || critical }
                    }
                    Answer::NotSubscribed | Answer::Filtered => Answer::Accepted { watch_id: sub.id, critical },
                };
            }
        }
        r
    }

    /// Tests the event against the subscriptions: the answer worked out for
    /// its category and kind, or, where a subscription has terms, every
    /// subscription. The accepting subscription with the lowest id tags it;
    /// it is critical if the event or any accepting subscription is.
    #[inline]
    pub fn matches(&self, e: &Stamped<'_>) -> Match {
        let answer = self
            .answers
            .get(e.event.category as usize)
            .and_then(|kinds| kinds.get(usize::from(e.event.kind)))
            .copied()
            .unwrap_or(Answer::NotSubscribed);
        let result = match answer {
            Answer::NotSubscribed => Match::NotSubscribed,
            Answer::Filtered => Match::Filtered,
            Answer::Accepted { watch_id, critical } => Match::Accepted { watch_id, critical },
            Answer::Filter => self.try_each(e),
        };
        match result {
            Match::Accepted { watch_id, critical } => {
                Match::Accepted { watch_id, critical: critical || e.event.priority == Priority::Critical }
            }
            other => other,
        }
    }

    /// Every subscription, for an event some subscription's terms decide.
    #[cold]
    fn try_each(&self, e: &Stamped<'_>) -> Match {
        let mut result = Match::NotSubscribed;
        for sub in self.subscriptions.iter().filter(|s| s.filter.category == e.event.category) {
            if !sub.accepts(e) {
                if matches!(result, Match::NotSubscribed) {
                    result = Match::Filtered;
                }
                continue;
            }
            let critical = sub.filter.priority == Priority::Critical;
            match &mut result {
                Match::Accepted { watch_id, critical: c } => {
                    *watch_id = (*watch_id).min(sub.id);
                    *c |= critical;
                }
                _ => result = Match::Accepted { watch_id: sub.id, critical },
            }
        }
        result
    }

    /// Takes an accepted event: stages it when the queue coalesces, else
    /// writes it. Staging never drops: when this queue's share or the whole
    /// staging pool is full, the queue's oldest held event is written out to
    /// make room, and with nothing of its own to write out the event is
    /// written directly.
    #[inline(always)]
    pub fn offer(
        &mut self,
        e: &Stamped<'_>,
        watch_id: u8,
        critical: bool,
        now_ns: u64,
        staging: &mut Staging,
        out: &mut Outcomes<'_>,
    ) {
        self.stats.published += 1;
        if self.coalesce_window_ns == 0 {
            let w = self.write_event(e, watch_id, critical, 0);
            out.record(e.source_id, w);
            return;
        }
        self.offer_to_staging(e, watch_id, critical, now_ns, staging, out);
    }

    /// [`Queue::offer`] for a queue that coalesces: out of the way of the
    /// usual path, which it would otherwise crowd with a held event's copy.
    #[cold]
    #[inline(never)]
    fn offer_to_staging(
        &mut self,
        e: &Stamped<'_>,
        watch_id: u8,
        critical: bool,
        now_ns: u64,
        staging: &mut Staging,
        out: &mut Outcomes<'_>,
    ) {
        if let Some(staged) = staging.find_mut(self.index, e) {
            staged.replace_with(e, watch_id, critical);
            self.stats.coalesced += 1;
            out.coalesced(e.source_id);
            return;
        }
        if staging.count(self.index) >= MAX_STAGED || staging.is_full() {
            self.flush_one(staging, out);
        }
        if staging.is_full() {
            let w = self.write_event(e, watch_id, critical, 0);
            out.record(e.source_id, w);
            return;
        }
        staging.push(Staged::new(self.index, e, watch_id, critical, now_ns));
    }

    /// Writes out staged events whose window has passed (all of them if
    /// `all`), oldest first.
    pub fn flush_due(&mut self, now_ns: u64, all: bool, staging: &mut Staging, out: &mut Outcomes<'_>) {
        while let Some(oldest) = staging.oldest(self.index) {
            if !all && oldest.staged_at_ns.saturating_add(self.coalesce_window_ns) > now_ns {
                break;
            }
            self.flush_one(staging, out);
        }
    }

    fn flush_one(&mut self, staging: &mut Staging, out: &mut Outcomes<'_>) {
        let Some(s) = staging.take_oldest(self.index) else { return };
        let event = Event {
            category: s.category,
            kind: s.kind,
            type_flags: s.type_flags,
            priority: if s.critical { Priority::Critical } else { Priority::Normal },
            object_id: s.object_id,
            payload: &s.payload[..usize::from(s.payload_len)],
        };
        let stamped = Stamped { source_id: s.source_id, timestamp_ns: s.timestamp_ns, event };
        let w = self.write_event(&stamped, s.watch_id, s.critical, s.coalesced);
        out.record(s.source_id, w);
    }

    /// Sets the coalescing window; turning it off or shortening it writes out
    /// what is no longer due to wait.
    pub fn set_coalescing(&mut self, window_ns: u64, now_ns: u64, staging: &mut Staging, out: &mut Outcomes<'_>) {
        self.coalesce_window_ns = window_ns;
        self.flush_due(now_ns, window_ns == 0, staging, out);
    }

    /// The earliest time at which this queue needs a tick.
    pub fn next_deadline(&self, staging: &Staging) -> Option<u64> {
        let flush = staging.oldest(self.index).map(|s| s.staged_at_ns.saturating_add(self.coalesce_window_ns));
        match (flush, self.batch.deadline_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Slots an entry for `e` takes: its header, its record, its payload.
    pub fn entry_slots(&self, e: &Stamped<'_>) -> u32 {
        (1 + EventRecord::SLOTS + e.event.payload.len().div_ceil(evq_abi::ring::SLOT_SIZE)) as u32
    }

    #[inline(always)]
    fn write_event(&mut self, e: &Stamped<'_>, watch_id: u8, critical: bool, coalesced: u16) -> Written {
        let seq = self.next_seq;
        self.next_seq += 1;
        let record = EventRecord {
            seq: seq.into(),
            timestamp_ns: e.timestamp_ns.into(),
            object_id: e.event.object_id.into(),
            source_id: e.source_id.into(),
            coalesced: coalesced.into(),
            payload_len: (e.event.payload.len() as u16).into(),
        };
        let flags = if coalesced > 0 { info::COALESCED } else { 0 } | if critical { info::CRITICAL } else { 0 };
        let kind = EntryKind {
            ty: e.event.category as u32,
            subtype: e.event.kind,
            info: make_info(0, watch_id, e.event.type_flags, flags),
        };
        match self.producer.push_record(kind, &record.to_slots(), e.event.payload, critical) {
            Ok(()) => {
                self.stats.delivered += 1;
                self.batch.delivered_since_arm = self.batch.delivered_since_arm.saturating_add(1);
                self.batch.delivered_since_check = true;
                Written::Delivered
            }
            // TooLarge and InvalidKind cannot happen: payloads are bounded
            // by the decoder and the category is never Meta; counted as
            // dropped all the same rather than vanishing.
            Err(PushError::Full) | Err(PushError::TooLarge) | Err(PushError::InvalidKind) => {
                self.stats.dropped = self.stats.dropped.saturating_add(1);
                Written::Dropped
            }
            Err(PushError::CorruptTail { .. }) => {
                self.stats.dropped = self.stats.dropped.saturating_add(1);
                self.corrupt = true;
                Written::Corrupt
            }
        }
    }

    /// Arms a batch wake-up. Returns `(armed, unread_slots)`, or `None` when
    /// the ring's tail is corrupt.
    pub fn arm(&mut self, min_events: u32, timeout_ns: u64, now_ns: u64) -> Option<(bool, u32)> {
        let unread = self.producer.unread_slots().ok()?;
        if unread > 0 {
            return Some((false, unread));
        }
        self.batch = Batch {
            min_events,
            deadline_ns: (timeout_ns > 0).then(|| now_ns.saturating_add(timeout_ns)),
            delivered_since_arm: 0,
            delivered_since_check: false,
        };
        Some((true, 0))
    }

    /// Whether to signal the client now: it is waiting, and its batch has
    /// just become complete or its timeout has passed. Signalling disarms
    /// the batch.
    pub fn should_signal(&mut self, now_ns: u64) -> bool {
        let timed_out = self.batch.deadline_ns.is_some_and(|d| now_ns >= d);
        let complete = core::mem::take(&mut self.batch.delivered_since_check)
            && self.batch.delivered_since_arm >= self.batch.min_events;
        if !(timed_out || complete) {
            return false;
        }
        if timed_out {
            // The deadline is spent whether or not anyone was waiting.
            self.batch.deadline_ns = None;
        }
        if !self.producer.consumer_waiting() || !self.producer.take_waiter() {
            return false;
        }
        self.batch = Batch::DEFAULT;
        true
    }
}

/// Where the events of one input ended up, charged to their sources. The
/// server lends its per-source counters (indexed by source id, 0 being the
/// server itself) while it works through its queues.
pub(crate) struct Outcomes<'a> {
    pub sources: &'a mut [Counters],
}

impl Outcomes<'_> {
    fn source(&mut self, source_id: u32) -> Option<&mut Counters> {
        self.sources.get_mut(source_id as usize)
    }

    pub fn record(&mut self, source_id: u32, w: Written) {
        if let Some(c) = self.source(source_id) {
            match w {
                Written::Delivered => c.delivered += 1,
                Written::Dropped | Written::Corrupt => c.dropped = c.dropped.saturating_add(1),
            }
        }
    }

    pub fn coalesced(&mut self, source_id: u32) {
        if let Some(c) = self.source(source_id) {
            c.coalesced += 1;
        }
    }
}
