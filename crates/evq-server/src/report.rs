//! What the server reports about each of its queues, for a shell's
//! statistics (`evq stats`, `evq top`): the figures the `Stats` request
//! gives a queue's owner, and the rest the core keeps about it.

use evq_abi::msg::Counters;

use crate::origin::Badge;

/// One queue's figures, from [`crate::Server::queue_reports`]. With the
/// `serde` feature it serializes under its fields' names, `owner` as
/// `owner_badge` (a shell's report names the owner itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueReport {
    /// Its queue id (as its owner names it in requests).
    pub queue: u32,
    /// The badge of the client that owns it.
    #[cfg_attr(feature = "serde", serde(rename = "owner_badge"))]
    pub owner: Badge,
    /// Revoked for a corrupt ring: it has no ring any more, and every figure
    /// below but `queue` and `owner` is zero.
    pub revoked: bool,
    /// Its ring's data pages.
    pub data_pages: u32,
    /// Frames its ring takes from the pool: the data pages and the control page.
    pub frames: u32,
    /// Slots in its ring.
    pub slot_count: u32,
    /// Slots held back for critical events.
    pub reserved_slots: u32,
    /// Slots written and not yet read: its fill level, from the ring's head
    /// and its consumer's tail. `None` when the tail the consumer wrote is
    /// impossible (the next event written revokes the queue).
    pub used_slots: Option<u32>,
    /// Its counters: events offered, refused by its filters, delivered,
    /// coalesced, dropped.
    pub counters: Counters,
    /// Events its ring has told its reader of as lost (loss entries'
    /// counts, over its life).
    pub lost: u64,
    /// Its subscriptions.
    pub subscriptions: u32,
    /// Events held back for its coalescing window now.
    pub staged: u32,
    /// Its coalescing window in nanoseconds; 0 for none.
    pub coalesce_window_ns: u64,
    /// Its client is lossless: a full ring holds events back, never drops.
    pub lossless: bool,
}
