//! A source's side of the event server, the same on every platform: a
//! [`Publisher`] turns events into as few `Publish`/`PublishBatch`
//! messages as fit, sends them over a platform's [`Link`], waits out
//! back-pressure, resends exactly the events the server did not take, and
//! counts what happened.
//!
//! Every source publishes through it: the drivers (VFS, device, network),
//! the root task and the hosted launcher, and the test sources. A platform
//! provides only the [`Link`]: the call (seL4 IPC on the source's badged
//! endpoint; a seqpacket datagram when hosted) and how to wait before
//! sending again after `Busy` (a yield on seL4, a server tick when hosted).
//!
//! # Back-pressure
//!
//! A server over a source's budget answers `Busy` with the number of
//! events it accepted (`docs/protocol.md` §5.8): the first `accepted`
//! events of the message were delivered, the rest were not. The publisher
//! backs off and sends the rest again, so every event is delivered once or
//! refused for a reason other than back-pressure, and nothing is published
//! twice. Any other refusal ends the publish with [`PublishError::Refused`],
//! saying how many events had been taken before it.
//!
//! A [`RingLink`] is the `Link` of a source with an ingest ring: events go
//! into shared memory, with no call per event, and the server is signalled
//! only when it has said it is going to sleep; a full ring is back-pressure
//! ([`WhenFull::Wait`]) or counted loss ([`WhenFull::Drop`]).
//!
//! An [`Outbox`] gathers the events a core hands its shell one at a time
//! (with payloads that live only for the call), so that they go out
//! together in one publish.
//!
//! `no_std`, no allocation, no kernel or OS call.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod outbox;
mod ring;
pub use outbox::{Outbox, OutboxFull};
pub use ring::{Doorbell, RingLink, RingLinkError, WhenFull};

use evq_abi::msg::{Batch, DecodeError, ErrorCode, Event, Reply, Request};

/// What a platform provides for a source.
pub trait Link {
    /// Why a call failed (the platform's error: the server is gone, the
    /// reply did not decode).
    type Error;

    /// Sends `request` to the server and returns its reply.
    fn call(&mut self, request: &Request<'_>) -> Result<Reply, Self::Error>;

    /// Waits before sending again after the server answered `Busy`: until
    /// the server's budgets refill (a tick), or at least until the server
    /// has run.
    fn back_off(&mut self);
}

/// Why a publish did not deliver every event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishError<E> {
    /// The call failed.
    Link(E),
    /// The server refused, for a reason other than back-pressure; `sent`
    /// events of the publish had been taken before the refused message.
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// Its detail (for `NotPermitted`, the category).
        detail: u32,
        /// Events taken before the refusal.
        sent: usize,
    },
    /// An event is not one the server could take (its payload is too long,
    /// its kind undefined); the events before it were sent, nothing from it
    /// on.
    Invalid {
        /// What is wrong with it.
        error: DecodeError,
        /// Events taken before it.
        sent: usize,
    },
    /// The server answered something that is not an answer to a publish.
    Unexpected(Reply),
}

impl<E: core::fmt::Display> core::fmt::Display for PublishError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PublishError::Link(e) => write!(f, "{e}"),
            PublishError::Refused { code, detail, sent } => {
                write!(f, "the server refused the events after {sent}: {code} (detail {detail})")
            }
            PublishError::Invalid { error, sent } => write!(f, "event {sent} cannot be published: {error}"),
            PublishError::Unexpected(reply) => write!(f, "the server answered a publish with {reply:?}"),
        }
    }
}

/// What a publisher has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishStats {
    /// Events the server took.
    pub events: u64,
    /// Messages sent (resends after back-pressure included).
    pub messages: u64,
    /// Times the server answered `Busy`.
    pub busy: u64,
}

/// A source's publisher over `L`. See the crate documentation.
#[derive(Debug)]
pub struct Publisher<L> {
    link: L,
    stats: PublishStats,
}

impl<L: Link> Publisher<L> {
    /// A publisher over `link`.
    pub fn new(link: L) -> Self {
        Self { link, stats: PublishStats::default() }
    }

    /// The link, for requests beyond publishing (the supervisor's
    /// `ClientGone`, a test's raw message).
    pub fn link(&mut self) -> &mut L {
        &mut self.link
    }

    /// What this publisher has done so far.
    pub fn stats(&self) -> PublishStats {
        self.stats
    }

    /// The supervisor's other message: tells the server the client with
    /// `badge` is gone (`ClientGone`), so that its queues and rings are
    /// revoked. `Ok(false)` when the server no longer knew it (a console
    /// slot that was never used again, a client already reported).
    pub fn client_gone(&mut self, badge: u64) -> Result<bool, PublishError<L::Error>> {
        match self.link.call(&Request::ClientGone { client: badge }).map_err(PublishError::Link)? {
            Reply::Done => Ok(true),
            Reply::Error { code: ErrorCode::InvalidArgument, .. } => Ok(false),
            Reply::Error { code, detail } => Err(PublishError::Refused { code, detail, sent: 0 }),
            other => Err(PublishError::Unexpected(other)),
        }
    }

    /// Publishes one event: [`Publisher::publish`] of one.
    pub fn publish_one(&mut self, event: Event<'_>) -> Result<(), PublishError<L::Error>> {
        self.publish(&[event])
    }

    /// Publishes `events` in order, in as few messages as fit (a lone event
    /// as `Publish`, more as `PublishBatch`), waiting out back-pressure.
    /// Returns once the server has taken every one, or with the reason it
    /// did not.
    pub fn publish(&mut self, events: &[Event<'_>]) -> Result<(), PublishError<L::Error>> {
        let mut sent = 0;
        while sent < events.len() {
            let rest = &events[sent..];
            let mut n = Batch::fitting(rest).max(1);
            // Events before an invalid one go; the invalid one ends the publish.
            if let Some((i, error)) = rest[..n].iter().enumerate().find_map(|(i, e)| Some((i, e.check().err()?))) {
                if i == 0 {
                    return Err(PublishError::Invalid { error, sent });
                }
                n = i;
            }
            let request =
                if n == 1 { Request::Publish(rest[0]) } else { Request::PublishBatch(Batch::from_events(&rest[..n])) };
            self.stats.messages += 1;
            let taken = match self.link.call(&request).map_err(PublishError::Link)? {
                Reply::Published { .. } => n,
                Reply::Error { code: ErrorCode::Busy, detail } => {
                    self.stats.busy += 1;
                    self.link.back_off();
                    (detail as usize).min(n)
                }
                Reply::Error { code, detail } => return Err(PublishError::Refused { code, detail, sent }),
                other => return Err(PublishError::Unexpected(other)),
            };
            sent += taken;
            self.stats.events += taken as u64;
        }
        Ok(())
    }
}
