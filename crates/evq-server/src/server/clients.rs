//! Client requests (queues, subscriptions, waits, statistics), the
//! supervisor's `ClientGone`, and the queue table they work on.

use evq_abi::event::memory;
use evq_abi::msg::{ErrorCode, Filter, Reply, Request, Stats, StatsTarget};
use evq_abi::ring::RingGeometry;
use evq_ring::Producer;

use super::{error, QueueSlot, Result, Server};
use crate::limits::{MAX_QUEUES, MAX_QUEUES_PER_CLIENT, MAX_SUBSCRIPTIONS};
use crate::memory::RingMemory;
use crate::origin::Badge;
use crate::queue::{Outcomes, Queue, Subscription};
use crate::Action;

impl<M: RingMemory> Server<M> {
    // -- Client requests. -------------------------------------------------------

    pub(super) fn client_request(
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
                let index = self.live_index(from, queue)?;
                self.change_subscriptions(index, |subs| subscribe(subs, filter))
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
                let index = self.live_index(from, queue)?;
                self.change_subscriptions(index, |subs| {
                    let i = find_subscription(subs, subscription)?;
                    subs.swap_remove(i);
                    Ok(Reply::Done)
                })
            }
            Request::SetPriority { queue, subscription, priority } => {
                let index = self.live_index(from, queue)?;
                self.change_subscriptions(index, |subs| {
                    let i = find_subscription(subs, subscription)?;
                    subs[i].filter.priority = priority;
                    Ok(Reply::Done)
                })
            }
            Request::SetCoalescing { queue, window_ns } => {
                let index = self.live_index(from, queue)?;
                // A held event cannot wait in two places: a lossless queue
                // does not coalesce.
                if window_ns > 0 && self.lossless[index / 64] & (1 << (index % 64)) != 0 {
                    return Err(error(ErrorCode::InvalidArgument, 0));
                }
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

    pub(super) fn create_queue(
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
        if self.clients[client].lossless {
            self.lossless[index / 64] |= 1 << (index % 64);
        }
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

    pub(super) fn pool_exhausted(&mut self, now_ns: u64, frames: u32, act: &mut impl FnMut(Action)) -> Reply {
        self.raise_pool_event(now_ns, memory::EXHAUSTED);
        self.settle(now_ns, act);
        error(ErrorCode::NoMemory, frames)
    }

    pub(super) fn stats(
        &mut self,
        now_ns: u64,
        from: Badge,
        target: StatsTarget,
        act: &mut impl FnMut(Action),
    ) -> Result<Reply> {
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

    pub(super) fn supervised_client_gone(
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

    /// Changes the subscriptions of live queue `index` and keeps the
    /// category index in step: queue `index` is in `by_category[c]` while a
    /// subscription of its is for category `c`.
    pub(super) fn change_subscriptions(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut Subscriptions) -> Result<Reply>,
    ) -> Result<Reply> {
        let QueueSlot::Live(q) = &mut self.queues[index] else { return Err(error(ErrorCode::Revoked, 0)) };
        let reply = q.change_subscriptions(change);
        let categories = q.categories();
        self.index_categories(index, categories);
        reply
    }

    // -- Queue table. -------------------------------------------------------------

    pub(super) fn queue_id(&self, index: usize) -> u32 {
        (self.generations[index] << 8) | index as u32
    }

    /// The index of `queue` if it exists and belongs to `owner`.
    pub(super) fn owned(&self, owner: Badge, queue: u32) -> Result<usize> {
        let index = (queue & 0xFF) as usize;
        match self.queues.get(index) {
            Some(slot) if slot.owner() == Some(owner) && self.queue_id(index) == queue => Ok(index),
            _ => Err(error(ErrorCode::NoSuchQueue, queue)),
        }
    }

    pub(super) fn live_index(&self, owner: Badge, queue: u32) -> Result<usize> {
        let index = self.owned(owner, queue)?;
        match self.queues[index] {
            QueueSlot::Live(_) => Ok(index),
            _ => Err(error(ErrorCode::Revoked, queue)),
        }
    }

    pub(super) fn live(&mut self, owner: Badge, queue: u32) -> Result<&mut Queue> {
        let index = self.live_index(owner, queue)?;
        match &mut self.queues[index] {
            QueueSlot::Live(q) => Ok(q),
            _ => Err(error(ErrorCode::Revoked, queue)),
        }
    }

    pub(super) fn live_queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.iter().filter_map(|q| match q {
            QueueSlot::Live(q) => Some(q),
            _ => None,
        })
    }

    /// Frees a queue slot and whatever it held.
    pub(super) fn free_queue(&mut self, index: usize) {
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
    pub(super) fn release_ring(&mut self, index: usize) {
        if let QueueSlot::Live(q) = &mut self.queues[index] {
            let sources = &mut self.source_stats;
            self.staging.discard(index as u8, |source_id| {
                q.stats.dropped = q.stats.dropped.saturating_add(1);
                if let Some(c) = sources.get_mut(source_id as usize) {
                    c.dropped = c.dropped.saturating_add(1);
                }
            });
            self.memory.release(q.handle);
            self.pool_pages_used -= q.producer.geometry().frames();
        }
    }

    pub(super) fn count_rejected(&mut self, from: Badge) {
        match self.sources.iter().position(|s| s.badge == from) {
            Some(i) => self.source_stats[i + 1].rejected += 1,
            None => self.other_rejected += 1,
        }
    }
}

type Subscriptions = heapless::Vec<Subscription, MAX_SUBSCRIPTIONS>;

fn subscribe(subs: &mut Subscriptions, filter: Filter) -> Result<Reply> {
    let Some(id) = (0..MAX_SUBSCRIPTIONS as u8).find(|id| subs.iter().all(|s| s.id != *id)) else {
        return Err(error(ErrorCode::TableFull, MAX_SUBSCRIPTIONS as u32));
    };
    // Cannot fail: a free id means a free entry.
    let _ = subs.push(Subscription { id, filter });
    Ok(Reply::Subscribed { subscription: id })
}

fn find_subscription(subs: &Subscriptions, id: u8) -> Result<usize> {
    subs.iter().position(|s| s.id == id).ok_or(error(ErrorCode::NoSuchSubscription, u32::from(id)))
}
