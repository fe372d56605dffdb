//! Every capacity of the server's tables, in one place.
//!
//! The server allocates nothing at run time: these constants size its
//! tables, so its memory is fixed when it is built. With the values below a
//! `Server` is about 100 KiB: the staging pool (`MAX_STAGED_TOTAL` held
//! events of up to ~500 bytes each) and the queue table (`MAX_QUEUES` queues
//! with `MAX_SUBSCRIPTIONS` filters each) are most of it. Ring memory is separate: it comes
//! from the shell's [`crate::RingMemory`], bounded by
//! [`crate::Config::ring_pool_pages`].

/// Sources (driver domains, the root task) the server accepts events from.
pub const MAX_SOURCES: usize = 16;
/// Client domains.
pub const MAX_CLIENTS: usize = 64;
/// Queues, over all clients. At most 256: a queue id keeps its index in 8 bits.
pub const MAX_QUEUES: usize = 64;
/// Queues one client may hold.
pub const MAX_QUEUES_PER_CLIENT: usize = 8;
/// Subscriptions on one queue. At most 256: the watch id is 8 bits.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// Events one coalescing queue may hold back at once.
pub const MAX_STAGED: usize = 8;
/// Events all coalescing queues together may hold back at once.
pub const MAX_STAGED_TOTAL: usize = 64;
/// Bytes of a source's name.
pub const MAX_SOURCE_NAME: usize = 16;

const _: () = assert!(MAX_QUEUES <= 256 && MAX_SUBSCRIPTIONS <= 256);
