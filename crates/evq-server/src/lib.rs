//! The evq event server's core: a deterministic, `no_std` state machine.
//!
//! [`Server`] takes the event server's inputs — a message from a badged
//! endpoint ([`Server::handle`]), a timer tick ([`Server::tick`]), the loss of
//! a client ([`Server::client_gone`]) — and produces a reply and
//! [`Action`]s for the platform shell to carry out: grant a ring's frames,
//! signal a client's notification, report a revoked queue. It makes no kernel
//! or OS call; the one thing it asks of the shell while it works is ring
//! memory, through [`RingMemory`].
//!
//! What it does with events:
//!
//! * **Sources** are registered with a badge, a name and the categories they
//!   may publish. An event in another category is refused. Every accepted
//!   event is stamped with the source id of the badge it arrived on and the
//!   server's clock; nothing in the message can claim another source.
//! * **Subscriptions** follow Linux's watch_queue filter model: a category, a
//!   mask of kinds, optional object and source filters, and an info
//!   filter/mask over the type-specific flags. An event goes once to every
//!   queue with a subscription that accepts it (fan-out), tagged with that
//!   subscription's id.
//! * **Priorities**: a critical event, or one accepted by a critical
//!   subscription, may use the ring's reserved headroom, so it is dropped last.
//! * **Coalescing**: a queue with a coalescing window holds events back for
//!   that long; a newer event with the same (source, category, kind, object)
//!   replaces the held one and says how many it replaced.
//! * **Batching**: a client is signalled once per batch, when `min_events`
//!   have been delivered since it armed a [`evq_abi::msg::Request::Wait`] or
//!   its timeout passes, and only if its ring says it is waiting.
//! * **Back-pressure**: a source may be given a budget of events per tick;
//!   past it, publishes are answered `Busy` with the number accepted.
//! * **Loss** is never silent: a full ring drops the event, counts it for the
//!   queue and the source, and the ring tells the client exactly how many.
//!
//! # Limits
//!
//! Table sizes are fixed in [`limits`]. Queue ids carry a 24-bit generation,
//! so a stale id is refused unless its slot has been reused exactly a multiple
//! of 2^24 − 1 times since (generation 0 is never used).
#![no_std]
#![deny(missing_docs)]

mod ingest;
pub mod limits;
mod memory;
mod origin;
mod queue;
mod report;
mod server;
mod staging;

pub use evq_abi::msg::Counters;
pub use ingest::IngestFault;
pub use memory::{AllocError, RingAllocation, RingHandle, RingMemory};
pub use origin::Badge;
pub use report::QueueReport;
pub use server::{Action, Config, IngestError, Server, SetupError, SourceSpec, PASS_BUDGET, SERVER_SOURCE_ID};
