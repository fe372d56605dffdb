//! Counters, per source, per queue and for the whole server.

use evq_abi::msg::Stats;

/// One set of counters. Which events each counts depends on where it is
/// kept; see [`evq_abi::msg::StatsReplyBody`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events accepted (source, server) or offered to a queue.
    pub published: u64,
    /// Events no subscription took (source, server) or a queue's filters refused.
    pub filtered: u64,
    /// Events written into rings.
    pub delivered: u64,
    /// Events merged into a newer one.
    pub coalesced: u64,
    /// Events dropped because a ring was full.
    pub dropped: u64,
    /// Messages refused: malformed, or not permitted.
    pub rejected: u64,
    /// Events refused by back-pressure.
    pub throttled: u64,
}

impl Counters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Counters) {
        self.published += other.published;
        self.filtered += other.filtered;
        self.delivered += other.delivered;
        self.coalesced += other.coalesced;
        self.dropped += other.dropped;
        self.rejected += other.rejected;
        self.throttled += other.throttled;
    }

    /// The counters as a statistics reply, with a ring's occupancy.
    pub fn to_stats(&self, used_slots: u32, slot_count: u32) -> Stats {
        Stats {
            published: self.published,
            filtered: self.filtered,
            delivered: self.delivered,
            coalesced: self.coalesced,
            dropped: self.dropped,
            rejected: self.rejected,
            throttled: self.throttled,
            used_slots,
            slot_count,
        }
    }
}
