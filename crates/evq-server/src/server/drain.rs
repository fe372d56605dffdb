//! The server's passes over the sources' ingest rings: every ready ring's
//! events taken, each offered to the queues that subscribe to it, then
//! each client signalled at most once, and each source that waits for room
//! signalled once its ring has some.

use core::ptr::NonNull;

use evq_ring::{Consumer, EntryBuf};

use super::publish::Hold;
use super::{Server, MAX_SOURCES};
use crate::ingest::{Held, Ingest};
use crate::memory::RingMemory;
use crate::origin::{Badge, Stamped};
use crate::Action;

/// The most events one pass takes from one ring, so that a busy source
/// cannot keep the server from the others, or from its messages, for long.
pub const PASS_BUDGET: usize = 256;

/// Why an ingest ring cannot be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestError {
    /// No source is registered with the badge.
    UnknownSource,
    /// The source has a ring already.
    Attached,
    /// The memory does not hold a ring this server can read.
    NotARing(evq_ring::AttachError),
}

impl core::fmt::Display for IngestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IngestError::UnknownSource => f.write_str("no source is registered with that badge"),
            IngestError::Attached => f.write_str("the source has an ingest ring already"),
            IngestError::NotARing(e) => write!(f, "the memory does not hold a ring: {e}"),
        }
    }
}

impl<M: RingMemory> Server<M> {
    /// Attaches `source`'s ingest ring, laid out (`evq_ring::Producer::lay_out`)
    /// in `base..base + len`, which the shell has mapped: from now on every
    /// [`Server::drain`] takes its events as the source's.
    ///
    /// # Safety
    ///
    /// As `evq_ring::Consumer::attach`: the region stays mapped, readable
    /// and writable for the server's life, and nothing in the server's
    /// address space but this server touches it (the source, in its own,
    /// may write it as it likes: every read of it is checked).
    pub unsafe fn attach_ingest(
        &mut self,
        source: Badge,
        base: NonNull<u8>,
        len: usize,
    ) -> core::result::Result<(), IngestError> {
        let index = self.sources.iter().position(|s| s.badge == source).ok_or(IngestError::UnknownSource)?;
        if self.ingests[index].is_some() {
            return Err(IngestError::Attached);
        }
        // SAFETY: forwarded from this function's contract.
        let consumer = unsafe { Consumer::attach(base, len) }.map_err(IngestError::NotARing)?;
        self.ingests[index] = Some(Ingest::new(consumer));
        Ok(())
    }

    /// A pass over every ingest ring: takes up to [`PASS_BUDGET`] events
    /// from each, in order, checks each as a `Publish` from the ring's
    /// source would be checked (its categories, its budget), offers it to
    /// every queue that subscribes to it, then settles (each client whose
    /// batch is complete and who waits is signalled, once) and hands the
    /// slots back, signalling each source that waits for room
    /// ([`Action::SignalSource`]). A ring the source has broken is cut off
    /// ([`Action::CutOff`]) and read no more.
    ///
    /// Returns whether some ring may hold more (its budget ran out): pass
    /// again before sleeping.
    pub fn drain(&mut self, now_ns: u64, act: &mut impl FnMut(Action)) -> bool {
        let mut more = false;
        let mut taken = false;
        // Not cleared: a read hands out only what it has written.
        let mut buf = EntryBuf::new();
        for index in 0..self.sources.len().min(MAX_SOURCES) {
            let Some(ingest) = &mut self.ingests[index] else { continue };
            // Awake: a source need not signal until the next sleep. A ring
            // held at the last pass is tried again.
            ingest.cancel_wait();
            ingest.held = Held::No;
            let badge = self.sources[index].badge;
            let source_id = index as u32 + 1;
            let mut read = 0;
            let outcome = loop {
                let Some(ingest) = &mut self.ingests[index] else { break Ok(()) };
                if read == PASS_BUDGET {
                    more = true;
                    break Ok(());
                }
                let mark = ingest.mark();
                let entry = match ingest.next(&mut buf) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => break Ok(()),
                    Err(fault) => break Err(fault),
                };
                read += 1;
                let event = entry.event;
                let stamped = Stamped { source_id, timestamp_ns: now_ns, event };
                let allowed = self.sources[index].allowed.contains(event.category);
                if allowed && !self.sources[index].take_token() {
                    // Over budget: the event stays in the ring, and with it
                    // every later one, until the tick refills the budget.
                    self.rewind(index, mark);
                    if let Some(ingest) = &mut self.ingests[index] {
                        ingest.held = Held::ForTick;
                    }
                    self.source_stats[source_id as usize].throttled += 1;
                    break Ok(());
                }
                if allowed && self.holds(&stamped) {
                    // A lossless queue has no room: the event, and with it
                    // the ring, waits for the client's next request (it has
                    // read then) or the next tick; the source, its ring
                    // filling, waits for room.
                    self.rewind(index, mark);
                    if let Some(ingest) = &mut self.ingests[index] {
                        ingest.held = Held::ForClient;
                    }
                    self.source_stats[source_id as usize].throttled += 1;
                    break Ok(());
                }
                // Taken now, for good: what the source lost before it goes
                // in front of it in the rings (counted once: a rewound entry
                // brings its loss back with it).
                if entry.lost_before > 0 {
                    self.lost_before_ingest(index, entry.lost_before);
                }
                if !allowed {
                    self.source_stats[source_id as usize].rejected += 1;
                    continue;
                }
                // Held already checked: offered to every subscriber.
                let _ = self.fan_out(now_ns, &stamped, Hold::Never);
                taken = true;
            };
            match outcome {
                // Slots are handed back only where some were read.
                Ok(()) if read > 0 => {
                    if self.ingests[index].as_mut().is_some_and(Ingest::release) {
                        act(Action::SignalSource { source: badge });
                    }
                }
                Ok(()) => {}
                Err(fault) => {
                    self.ingests[index] = None;
                    act(Action::CutOff { source: badge, fault });
                }
            }
        }
        if taken {
            self.settle(now_ns, act);
        }
        more
    }

    fn rewind(&mut self, index: usize, mark: evq_ring::Mark) {
        if let Some(ingest) = &mut self.ingests[index] {
            ingest.rewind(mark);
        }
    }

    /// Before the shell sleeps: sets every ingest ring's waiting flag, so
    /// that its source signals once it writes. Returns `false` if some ring
    /// already holds entries: [`Server::drain`] first. A ring found broken
    /// is cut off ([`Action::CutOff`]).
    pub fn prepare_sleep(&mut self, act: &mut impl FnMut(Action)) -> bool {
        let mut empty = true;
        for index in 0..self.sources.len().min(MAX_SOURCES) {
            let Some(ingest) = &mut self.ingests[index] else { continue };
            match ingest.prepare_wait() {
                Ok(true) => {}
                // Held for a lossless queue or by the budget: the client's
                // request or the tick wakes the server, not the source.
                Ok(false) if ingest.held != Held::No => {}
                Ok(false) => empty = false,
                Err(fault) => {
                    self.ingests[index] = None;
                    act(Action::CutOff { source: self.sources[index].badge, fault });
                }
            }
        }
        empty
    }

    /// Detaches source `badge`'s ingest ring, unread events and all (the
    /// hosted launcher gives a console slot's next holder a fresh ring, so
    /// that nothing a previous holder kept can still reach the slot).
    /// Returns whether it had one. After this the shell may unmap it.
    pub fn detach_ingest(&mut self, source: Badge) -> bool {
        match self.sources.iter().position(|s| s.badge == source) {
            Some(index) => self.ingests[index].take().is_some(),
            None => false,
        }
    }

    /// Whether a ring waits for its budget to refill: a shell that sleeps
    /// should be woken by the next tick (a shell with no timer of its own
    /// may have to stay awake until then).
    pub fn waits_for_tick(&self) -> bool {
        self.ingests.iter().flatten().any(|i| i.held == Held::ForTick)
    }

    /// Whether source `badge` has an ingest ring the server reads.
    pub fn has_ingest(&self, badge: Badge) -> bool {
        self.sources.iter().position(|s| s.badge == badge).is_some_and(|i| self.ingests[i].is_some())
    }

    /// `n` events the source at `index` dropped before they reached its
    /// ring: counted as its drops, and made loss in every queue that could
    /// have received them (one subscribed to a category the source may
    /// publish), so its client sees it in its ring.
    fn lost_before_ingest(&mut self, index: usize, n: u64) {
        // `n` is the source's word: a count it may have made up.
        let stats = &mut self.source_stats[index + 1];
        stats.dropped = stats.dropped.saturating_add(n);
        let allowed = self.sources[index].allowed;
        for queue in super::publish::set_bits(self.live) {
            if let super::QueueSlot::Live(q) = &mut self.queues[queue] {
                if q.categories() & allowed.0 != 0 {
                    q.stats.dropped = q.stats.dropped.saturating_add(n);
                    q.producer.count_lost(n);
                }
            }
        }
    }
}
