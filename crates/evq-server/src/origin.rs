//! Where an event comes from: the badge its message arrived on, and the
//! source id and time the server stamps it with. Every other module of the
//! core builds on these and on nothing of each other's here.

use evq_abi::msg::Event;

/// A badge: what the kernel tells the server about who sent a message (an
/// seL4 endpoint badge, or the socket a datagram arrived on when hosted).
pub type Badge = u64;

/// An event on its way to a ring: what the source said, stamped by the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamped<'a> {
    pub source_id: u32,
    pub timestamp_ns: u64,
    pub event: Event<'a>,
}
