//! Publishing: checking a source's events, offering each to every live
//! queue, and the ring pool's memory events.

use evq_abi::event::{memory, Category, CategorySet, Priority, UsagePayload};
use evq_abi::msg::{ErrorCode, Event, Reply};
use evq_abi::PAGE_SIZE;
use zerocopy::IntoBytes;

use super::{error, QueueSlot, Result, Server, LIVE_WORDS, SERVER_SOURCE_ID};
use crate::memory::RingMemory;
use crate::origin::{Badge, Stamped};
use crate::queue::{Match, Outcomes};
use crate::Action;

/// Whether an event a lossless queue has no room for is held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hold {
    /// A source's event: held, and the source with it.
    IfLossless,
    /// The server's own event (memory pressure, system up): nothing waits
    /// for it, so a full lossless ring drops it and counts it, as any ring.
    Never,
}

/// What became of an offered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(super) enum Offered {
    /// Offered to every queue that subscribes to it.
    Offered,
    /// Held back for a lossless queue: offered to none.
    Held,
}

impl<M: RingMemory> Server<M> {
    // -- Publishing. ----------------------------------------------------------

    /// Publishes `events` (`count` of them) from `from`. `checked` is the
    /// set of their categories when they come from a decoded batch, every
    /// one already checked; `None` for events that may have been built in
    /// code (a single `Publish` is also cheap to check again), which are
    /// checked here first: the rings rely on their bounds.
    pub(super) fn publish<'e>(
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
            // Over budget, or a lossless queue without room: back-pressure.
            if !self.sources[index].take_token()
                || self.fan_out(now_ns, &Stamped { source_id, timestamp_ns: now_ns, event }, Hold::IfLossless)
                    == Offered::Held
            {
                self.source_stats[source_id as usize].throttled += u64::from(count - accepted);
                break;
            }
            accepted += 1;
        }
        self.settle(now_ns, act);
        if accepted < count {
            return Err(error(ErrorCode::Busy, accepted));
        }
        Ok(Reply::Published { accepted })
    }

    /// Offers one stamped event to every queue that subscribes to its
    /// category. With [`Hold::IfLossless`], an event a lossless queue
    /// accepts and has no room for goes nowhere ([`Offered::Held`]): the
    /// caller keeps it and its source waits.
    #[inline]
    pub(super) fn fan_out(&mut self, now_ns: u64, e: &Stamped<'_>, hold: Hold) -> Offered {
        let sid = e.source_id as usize;
        let mut taken = false;
        let Some(candidates) = self.by_category.get(e.event.category as usize).copied() else {
            return Offered::Offered;
        };
        if hold == Hold::IfLossless && self.holds(e) {
            return Offered::Held;
        }
        let mut out = Outcomes { sources: &mut self.source_stats };
        for index in set_bits(candidates) {
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
        Offered::Offered
    }

    /// Whether `e` must be held back: a lossless queue that subscribes to
    /// its category accepts it and has no room for it.
    #[inline]
    pub(super) fn holds(&mut self, e: &Stamped<'_>) -> bool {
        let Some(candidates) = self.by_category.get(e.event.category as usize).copied() else { return false };
        self.lossless.iter().zip(candidates).any(|(l, c)| l & c != 0) && self.no_room(e, candidates)
    }

    /// Whether a lossless queue among `candidates` accepts `e` and has no
    /// room for it.
    #[cold]
    fn no_room(&mut self, e: &Stamped<'_>, candidates: [u64; LIVE_WORDS]) -> bool {
        let mut lossless = candidates;
        for (l, c) in lossless.iter_mut().zip(self.lossless) {
            *l &= c;
        }
        for index in set_bits(lossless) {
            let QueueSlot::Live(q) = &mut self.queues[index] else { continue };
            if let Match::Accepted { critical, .. } = q.matches(e) {
                // An impossible tail counts as room: the write finds it and
                // revokes the queue.
                if q.producer.fits(q.entry_slots(e), critical) == Ok(false) {
                    return true;
                }
            }
        }
        false
    }

    pub(super) fn set_live(&mut self, index: usize, live: bool) {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if live {
            self.live[word] |= bit;
        } else {
            self.live[word] &= !bit;
            self.lossless[word] &= !bit;
            self.index_categories(index, 0);
        }
    }

    /// Puts queue `index` in the category index for the categories in
    /// `categories` (bits by number) and takes it out of the others.
    pub(super) fn index_categories(&mut self, index: usize, categories: u32) {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        for (c, queues) in self.by_category.iter_mut().enumerate() {
            if categories & (1 << c) != 0 {
                queues[word] |= bit;
            } else {
                queues[word] &= !bit;
            }
        }
    }

    /// After events were written: revoke queues whose client corrupted its
    /// ring, signal clients whose batch is complete, and raise memory events
    /// when the ring pool crosses a threshold, until nothing more changes.
    pub(super) fn settle(&mut self, now_ns: u64, act: &mut impl FnMut(Action)) {
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

    pub(super) fn pool_transition(&mut self) -> Option<u8> {
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

    pub(super) fn raise_pool_event(&mut self, now_ns: u64, kind: u8) {
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
        // Never held (Hold::Never): always offered.
        let _ =
            self.fan_out(now_ns, &Stamped { source_id: SERVER_SOURCE_ID, timestamp_ns: now_ns, event }, Hold::Never);
    }
}

/// The set bits of `words`, lowest first.
pub(super) fn set_bits(words: [u64; LIVE_WORDS]) -> SetBits {
    SetBits { words, word: 0, bits: words[0] }
}

/// The iterator [`set_bits`] returns. A plain loop rather than iterator
/// adaptors: the fan-out runs it for every event, and the adaptors cost a
/// tenth of the fan-out.
pub(super) struct SetBits {
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
