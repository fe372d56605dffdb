//! evq's hosted platform: the same cores as on seL4, in Linux processes.
//!
//! A **domain** is a process of the `evq` binary (`evq __domain NAME`) that
//! holds exactly the capabilities the system description grants it, as file
//! descriptors at fixed numbers ([`boot`]), and nothing else: every other
//! descriptor is closed, the environment is empty, and a seccomp filter
//! (`seccomp.rs`) stops it from opening files or sockets of its own.
//!
//! | seL4 | hosted |
//! |---|---|
//! | root task | the launcher ([`launcher`]), `evq run` |
//! | badged endpoint | a Unix seqpacket socket pair per badge; the server knows the badge by the socket a datagram arrived on ([`wire`]) |
//! | a source's ingest ring and its two notifications | a sealed memfd the launcher lays out and hands to the source and the server, a doorbell and a room eventfd per source slot ([`ingest`]) |
//! | ring frames | one sealed memfd per ring, sent with the `CreateQueue` reply (`SCM_RIGHTS`) and mapped by the client ([`rings`], [`client`]) |
//! | notification | an eventfd |
//! | fault endpoint | `SIGCHLD` and `waitpid`: the launcher reports exits and crashes as process events |
//! | untyped for the ring pool | the ring pool's size in the description; memfds are counted against it by the core |
//!
//! The shells here only turn descriptors into core inputs and carry out the
//! cores' actions. What the system does with an event, a request or a
//! domain's end is decided by the cores, as on seL4: the server's by
//! `evq-server`, a client's conversation by `evq-client`'s session, a
//! source's publishing (batching, back-pressure) by `evq-source`, the
//! events of the VFS, device and network domains by `evq-vfs`, `evq-device`
//! and `evq-net`, and what a domain's start, fault or exit means by
//! `evq-supervisor`. What the shells keep is what only a host has: which
//! descriptor is which capability, how a signal maps to a fault kind, the
//! console's JSON (and the `evq fs` commands it turns into the VFS domain's
//! requests, resolving paths with `Lookup`s), and the launcher's veth pair
//! and terminal.
//!
//! The crate's system calls are in one private module, `sys`; [`host`] is
//! the part of it the tools and tests outside the crate use.
//! `docs/hosted.md` describes the platform; `docs/protocol.md` ("Hosted
//! framing") the datagrams.
#![deny(missing_docs)]

pub mod admin;
pub mod boot;
pub mod client;
pub mod console;
pub mod domains;
pub mod host;
pub mod ingest;
pub mod launcher;
pub mod rings;
pub mod wire;

mod netlink;
mod seccomp;
mod sys;
