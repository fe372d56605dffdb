//! evq's hosted platform: the same cores as on seL4, in Linux processes.
//!
//! A **domain** is a process of the `evq` binary (`evq __domain NAME`) that
//! holds exactly the capabilities the system description grants it, as file
//! descriptors at fixed numbers ([`boot`]), and nothing else: every other
//! descriptor is closed, the environment is empty, and a seccomp filter
//! ([`seccomp`]) stops it from opening files or sockets of its own.
//!
//! | seL4 | hosted |
//! |---|---|
//! | root task | the launcher ([`launcher`]), `evq run` |
//! | badged endpoint | a Unix seqpacket socket pair per badge; the server knows the badge by the socket a datagram arrived on ([`wire`]) |
//! | ring frames | one sealed memfd per ring, sent with the `CreateQueue` reply (`SCM_RIGHTS`) and mapped by the client ([`rings`], [`client`]) |
//! | notification | an eventfd |
//! | fault endpoint | `SIGCHLD` and `waitpid`: the launcher reports exits and crashes as process events |
//! | untyped for the ring pool | the ring pool's size in the description; memfds are counted against it by the core |
//!
//! The shells here only turn descriptors into core inputs and carry out the
//! cores' actions; the event logic is all in `evq-server` and `evq-client`.
//! `docs/hosted.md` describes the platform; `docs/protocol.md` ("Hosted
//! framing") the datagrams.
#![deny(missing_docs)]

pub mod admin;
pub mod boot;
pub mod client;
pub mod console;
pub mod domain;
pub mod launcher;
pub mod net;
pub mod netlink;
pub mod rings;
pub mod seccomp;
pub mod server_domain;
pub mod source;
pub mod sys;
pub mod vfs_domain;
pub mod wire;
