//! The supervisor's core: what a domain's start, fault or exit means to the
//! system, decided once for both platforms.
//!
//! The seL4 root task and the hosted launcher each watch their domains in
//! their own way (a fault endpoint; `SIGCHLD` and `waitpid`), and each turns
//! what it sees into an input of [`Supervisor`]: a domain [started], [faulted]
//! or [exited], every described domain [started at all](Supervisor::all_started),
//! the system [shutting down](Supervisor::shutdown). The core answers with
//! [`Duty`]s, in order, for the shell to carry out (publish this event as
//! the supervisor source; tell the server this client is gone), and with a
//! [`Verdict`]: whether the system goes on.
//!
//! # Semantics
//!
//! | input | duties, in order | verdict |
//! |---|---|---|
//! | the server started | `Process START` (the server's id), `System UP` | goes on |
//! | another domain started | `Process START` (its id) | goes on |
//! | every described domain started | `System DOMAIN_SET_COMPLETE` | goes on |
//! | a domain faulted | `Process FAULT` (critical; kind, address, instruction pointer), then for a client `ClientGone`, then `Process EXIT` with code 128 + the fault kind | goes on |
//! | a domain exited with a code | for a client `ClientGone`, then `Process EXIT` with the code | goes on |
//! | the server faulted or exited | none: nobody is left to tell | **stops** |
//! | shutdown | `System SHUTDOWN` (critical) | stops |
//!
//! A domain that is not running (never started, or already reported) is
//! not reported again: its fault or exit yields no duty and the system goes
//! on. Once the server is gone, or the system is shutting down, nothing
//! yields a duty: every event would be published to a server that cannot
//! take it. The shell that hears [`Verdict::Stops`] stops every domain.
//!
//! Why the server's end stops the system: no event can reach a client any
//! more, and every domain that calls the server would wait for good (a call
//! on seL4 has no timeout). Nothing restarts it.
//!
//! Every event is published by the supervisor source ([`evq_system::ROOT_BADGE`],
//! named [`evq_system::ROOT_NAME`], allowed [`evq_system::ROOT_CATEGORIES`]);
//! a process event's object is the domain's id.
//!
//! [started]: Supervisor::started
//! [faulted]: Supervisor::faulted
//! [exited]: Supervisor::exited
//!
//! `no_std`, no allocation, no kernel or OS call; its tables hold
//! [`evq_system::MAX_DOMAINS`] domains.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use evq_abi::event::{process, system, Category, ExitPayload, FaultPayload, Priority};
use evq_abi::msg::Event;
use evq_system::{Role, System, MAX_DOMAINS};
use zerocopy::IntoBytes;

/// A fault, as the platform reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// Its kind: one of [`evq_abi::event::process::fault`].
    pub kind: u32,
    /// The address it was about, where there is one (a VM fault's).
    pub address: u64,
    /// The instruction pointer, where the platform knows it.
    pub ip: u64,
}

/// An event for the supervisor to publish; it holds its own payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    category: Category,
    kind: u8,
    priority: Priority,
    object_id: u64,
    payload: [u8; size_of::<FaultPayload>()],
    len: usize,
}

impl Notice {
    fn new(category: Category, kind: u8, priority: Priority, object_id: u64, payload: &[u8]) -> Self {
        let mut bytes = [0; size_of::<FaultPayload>()];
        bytes[..payload.len()].copy_from_slice(payload);
        Notice { category, kind, priority, object_id, payload: bytes, len: payload.len() }
    }

    /// The event.
    pub fn event(&self) -> Event<'_> {
        Event {
            category: self.category,
            kind: self.kind,
            type_flags: 0,
            priority: self.priority,
            object_id: self.object_id,
            payload: &self.payload[..self.len],
        }
    }
}

/// Something the shell must do, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duty {
    /// Publish this event as the supervisor source.
    Publish(Notice),
    /// Tell the server the client with this badge is gone (`ClientGone`),
    /// so that its queues and rings are revoked.
    ClientGone {
        /// The client's badge.
        badge: u64,
    },
}

/// Whether the system goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It goes on.
    GoesOn,
    /// It cannot: the shell stops every domain.
    Stops,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotRunning,
    Running,
}

/// The supervisor of one system. See the crate documentation.
#[derive(Debug)]
pub struct Supervisor<'s> {
    system: &'s System<'s>,
    states: [State; MAX_DOMAINS],
    /// The system still has a server to publish to and is not shutting down.
    live: bool,
}

impl<'s> Supervisor<'s> {
    /// The supervisor of `system`, no domain running yet.
    pub fn new(system: &'s System<'s>) -> Self {
        Self { system, states: [State::NotRunning; MAX_DOMAINS], live: true }
    }

    /// Whether domain `id` is running, as far as the supervisor was told.
    pub fn is_running(&self, id: u32) -> bool {
        self.index(id).is_some_and(|i| self.states[i] == State::Running)
    }

    /// Whether the system still goes on: it has a server and is not
    /// shutting down.
    pub fn goes_on(&self) -> bool {
        self.live
    }

    /// Domain `id` has started.
    pub fn started(&mut self, id: u32, duties: &mut (impl FnMut(Duty) + ?Sized)) -> Verdict {
        let Some(i) = self.index(id) else { return self.verdict() };
        if !self.live || self.states[i] == State::Running {
            return self.verdict();
        }
        self.states[i] = State::Running;
        duties(process_event(process::START, id, &[]));
        if self.is_server(i) {
            duties(system_event(system::UP, Priority::Normal));
        }
        Verdict::GoesOn
    }

    /// Every domain the description lists has started (those started at
    /// boot; attach slots start later).
    pub fn all_started(&mut self, duties: &mut (impl FnMut(Duty) + ?Sized)) -> Verdict {
        if self.live {
            duties(system_event(system::DOMAIN_SET_COMPLETE, Priority::Normal));
        }
        self.verdict()
    }

    /// Domain `id` faulted and has been stopped.
    pub fn faulted(&mut self, id: u32, fault: Fault, duties: &mut (impl FnMut(Duty) + ?Sized)) -> Verdict {
        let payload = FaultPayload {
            kind: fault.kind.into(),
            reserved: 0.into(),
            address: fault.address.into(),
            ip: fault.ip.into(),
        };
        // The shell's convention for a death by fault: 128 + kind.
        let code = 128 + i64::from(fault.kind);
        self.ended(id, Some(payload), code, duties)
    }

    /// Domain `id` exited with `code`.
    pub fn exited(&mut self, id: u32, code: i64, duties: &mut (impl FnMut(Duty) + ?Sized)) -> Verdict {
        self.ended(id, None, code, duties)
    }

    /// The system is shutting down: its last event. Nothing is reported
    /// after it.
    pub fn shutdown(&mut self, duties: &mut (impl FnMut(Duty) + ?Sized)) -> Verdict {
        if self.live {
            duties(system_event(system::SHUTDOWN, Priority::Critical));
            self.live = false;
        }
        Verdict::Stops
    }

    fn ended(
        &mut self,
        id: u32,
        fault: Option<FaultPayload>,
        code: i64,
        duties: &mut (impl FnMut(Duty) + ?Sized),
    ) -> Verdict {
        let Some(i) = self.index(id) else { return self.verdict() };
        if self.states[i] != State::Running {
            return self.verdict();
        }
        self.states[i] = State::NotRunning;
        if self.is_server(i) {
            self.live = false;
            return Verdict::Stops;
        }
        if !self.live {
            return Verdict::Stops;
        }
        if let Some(fault) = fault {
            duties(process_event(process::FAULT, id, fault.as_bytes()));
        }
        if let Role::Client { badge } = self.system.domains[i].role {
            duties(Duty::ClientGone { badge });
        }
        let exit = ExitPayload { code: (code as u64).into() };
        duties(process_event(process::EXIT, id, exit.as_bytes()));
        Verdict::GoesOn
    }

    fn verdict(&self) -> Verdict {
        if self.live {
            Verdict::GoesOn
        } else {
            Verdict::Stops
        }
    }

    fn index(&self, id: u32) -> Option<usize> {
        let i = (id as usize).checked_sub(1)?;
        (i < self.system.domains.len() && i < MAX_DOMAINS).then_some(i)
    }

    fn is_server(&self, i: usize) -> bool {
        matches!(self.system.domains[i].role, Role::Server { .. })
    }
}

fn process_event(kind: u8, id: u32, payload: &[u8]) -> Duty {
    let priority = if kind == process::FAULT { Priority::Critical } else { Priority::Normal };
    Duty::Publish(Notice::new(Category::Process, kind, priority, u64::from(id), payload))
}

fn system_event(kind: u8, priority: Priority) -> Duty {
    Duty::Publish(Notice::new(Category::System, kind, priority, 0, &[]))
}
