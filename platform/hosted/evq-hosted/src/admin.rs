//! The launcher's supervisor channel to the server, a hosted-only seqpacket
//! socket that stands where the seL4 root task's authority over the server's
//! endpoint stands.
//!
//! On seL4 one endpoint object serves every badge; the root task mints a
//! badged copy for each domain and the server never needs to be told. On
//! Linux every badge is its own socket pair, so the launcher hands the server
//! its end of each, with the badge it stands for: at start for every domain
//! it starts, and later for each outside process that attaches to a console
//! slot. It hands it each source's ingest ring the same way ([`OP_INGEST`]:
//! at start, and for a console source slot at every attach, with fresh
//! notifications), and a console client slot's fresh notification at every
//! attach ([`OP_NOTIFY`]). It also asks
//! the server for its [`ServerStatus`], for `evq stats` and the tests.
//! Nothing on this channel is an evq message; nothing but the launcher
//! holds it.
//!
//! Messages are 16 bytes: `[op: u32][reserved: u32][badge: u64]`, little
//! endian; [`OP_ENDPOINT`], [`OP_INGEST`] and [`OP_NOTIFY`] carry their
//! descriptors with `SCM_RIGHTS`. The status
//! is JSON; its counters are the core's own ([`evq_abi::msg::Counters`]),
//! under the same names.

use evq_abi::msg::Counters;
use evq_server::QueueReport;
use serde::{Deserialize, Serialize};

/// "Here is the server's end of the endpoint for `badge`" (one descriptor
/// attached). It replaces any earlier socket for the badge, which the server
/// closes; a client badge is registered again if it had been forgotten.
pub const OP_ENDPOINT: u32 = 1;
/// "Send your status": the server replies with [`ServerStatus`] as JSON.
pub const OP_STATUS: u32 = 2;
/// "Here is the ingest ring of the source with `badge`" (the ring's memfd,
/// laid out, `crate::ingest::make_ring`; for a console slot's new holder
/// also a fresh doorbell and room notification, three descriptors in that
/// order). The server maps the ring and reads it from then on; a ring it
/// had for the badge is detached first, unread events and all, and
/// unmapped, and notifications it had are closed, so that nothing a
/// console slot's previous holder kept can still reach the slot.
pub const OP_INGEST: u32 = 3;
/// "Here is the notification of the client with `badge`" (one eventfd
/// attached), fresh for a console slot's new holder: the server signals it
/// from then on and closes the one it had, so that the slot's previous
/// holder neither sees this holder's wake-ups nor fakes them.
pub const OP_NOTIFY: u32 = 4;

/// Encodes an admin message.
pub fn encode(op: u32, badge: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&op.to_le_bytes());
    out[8..].copy_from_slice(&badge.to_le_bytes());
    out
}

/// Decodes an admin message: `(op, badge)`.
pub fn decode(msg: &[u8]) -> Option<(u32, u64)> {
    let msg: &[u8; 16] = msg.try_into().ok()?;
    let op = u32::from_le_bytes(msg[..4].try_into().ok()?);
    let badge = u64::from_le_bytes(msg[8..].try_into().ok()?);
    Some((op, badge))
}

/// The server's clock (what every event's `timestamp_ns` is read from:
/// `CLOCK_MONOTONIC` since the server started, plus 1) and the wall clock
/// (`CLOCK_REALTIME`), read one right after the other when the server
/// started: a timestamp `t` happened at wall-clock
/// `realtime_ns + (t - server_ns)`. The mapping is fixed at that instant: a
/// later step of the wall clock (a settime, NTP) does not move it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockAnchor {
    /// `CLOCK_REALTIME`, ns since the Unix epoch.
    pub realtime_ns: u64,
    /// The server's clock at the same instant, ns.
    pub server_ns: u64,
}

impl ClockAnchor {
    /// The wall-clock time, ns since the Unix epoch, of a server timestamp
    /// (saturating at the epoch and at `u64::MAX`).
    pub fn wall_ns(&self, timestamp_ns: u64) -> u64 {
        if timestamp_ns >= self.server_ns {
            self.realtime_ns.saturating_add(timestamp_ns - self.server_ns)
        } else {
            self.realtime_ns.saturating_sub(self.server_ns - timestamp_ns)
        }
    }
}

/// One source's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Its source id (0: the server itself).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its counters.
    pub counters: Counters,
    /// Its ingest ring: `attached`, `none` (a console slot nobody has held
    /// yet), or `cut off: ` and the reason (the source broke it).
    #[serde(default)]
    pub ring: String,
}

/// One queue's figures: the core's own ([`QueueReport`], under its
/// fields' names), and its owner named as the description names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// The client domain that owns it.
    pub owner: String,
    /// That domain's id.
    pub owner_id: u32,
    /// The core's figures.
    #[serde(flatten)]
    pub report: QueueReport,
}

/// What the server reports about itself: the core's table sizes and
/// counters, and the shell's descriptors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Registered clients.
    pub clients: usize,
    /// Queues, live or revoked.
    pub queues: usize,
    /// Subscriptions over all live queues.
    pub subscriptions: usize,
    /// Events held for coalescing.
    pub staged: usize,
    /// Ring-pool frames in use.
    pub pool_pages_used: u32,
    /// Ring-pool frames in all.
    pub pool_pages: u32,
    /// Ring memfds the server holds.
    pub rings: usize,
    /// Endpoint sockets the server holds.
    pub endpoints: usize,
    /// Descriptors open in the server process.
    pub open_fds: usize,
    /// Replies the server could not send (the caller's socket was full or gone).
    pub replies_lost: u64,
    /// Queues revoked for a corrupt ring since start.
    pub revoked: u64,
    /// Ingest rings cut off since start (their sources broke them).
    #[serde(default)]
    pub cut_off: u64,
    /// Per source, the server's own (id 0) first.
    pub sources: Vec<SourceStatus>,
    /// Per queue, live or revoked, in the server's table order.
    #[serde(default)]
    pub queue_list: Vec<QueueStatus>,
    /// The server's totals.
    pub totals: Counters,
    /// Its clock and the wall clock, read together at its start: how
    /// `evq tail` shows events' wall-clock time. Absent from a server that
    /// does not report it.
    #[serde(default)]
    pub clock: Option<ClockAnchor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_bad_lengths_do_not_decode() {
        assert_eq!(decode(&encode(OP_ENDPOINT, 0x21)), Some((OP_ENDPOINT, 0x21)));
        assert_eq!(decode(&[0u8; 15]), None);
    }

    #[test]
    fn the_status_json_names_each_counter_as_the_core_does() {
        let counters = Counters::from_array([1, 2, 3, 4, 5, 6, 7]);
        let source = SourceStatus { id: 2, name: "vfs".into(), counters, ring: "attached".into() };
        let json: serde_json::Value = serde_json::to_value(&source).unwrap();
        assert_eq!(json["ring"], "attached");
        let names: Vec<&str> = json["counters"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = Counters::NAMES.to_vec();
        want.sort_unstable();
        let mut names = names;
        names.sort_unstable();
        assert_eq!(names, want);
        for (name, value) in Counters::NAMES.iter().zip(counters.to_array()) {
            assert_eq!(json["counters"][name], value, "{name}");
        }
        let back: SourceStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, source);
    }
}
