//! The device driver: a raw pseudo-terminal's master and a timerfd, turned
//! into events by the `evq-device` core, as the seL4 device domain turns
//! its UART and clock: every byte typed goes through the core's
//! `LineAssembler`, each line (or 64-byte piece of a longer one,
//! `evq_device::MAX_INPUT`) is an INPUT event (object
//! [`devices::TERMINAL`]), and each tick of the timer a TIME event (object
//! [`devices::CLOCK`], the wall clock's seconds). STATE [`STATE_ONLINE`]
//! is published for the terminal at start.
//!
//! `args` may say `time=SECONDS` (default 5; 0 for none).

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use evq_abi::event::{StatePayload, TimePayload};
use evq_abi::msg::Event;
use evq_device::{input_event, state_event, time_event, LineAssembler, MAX_INPUT};
use evq_source::Outbox;
use evq_system::{Domain, System};

use crate::boot::{self, Cap};
use crate::ingest::Publisher;
use crate::{seccomp, sys};

/// The device driver's devices, as `object_id`s of its events.
pub mod devices {
    /// The terminal (input events, its state).
    pub const TERMINAL: u64 = 1;
    /// The clock (time events).
    pub const CLOCK: u64 = 2;
}

/// The terminal's state: online.
pub const STATE_ONLINE: u32 = 1;

/// Bytes read from the terminal at once.
const READ_BYTES: usize = 4096;

/// The lines of one read, gathered to be published together (in as few
/// messages as they fit): up to 64 lines and 16 full lines' bytes; a read
/// with more is published in several rounds, in order.
type Lines = Outbox<64, { 16 * MAX_INPUT }>;

/// The seconds between time events that `args` asks for (`time=SECONDS`;
/// 5 when it says none, 0 for no time events), or why it cannot be read.
pub(super) fn time_period(args: &str) -> Result<u64, String> {
    args.split_whitespace()
        .map(|word| {
            word.strip_prefix("time=")
                .ok_or_else(|| format!("unknown argument {word:?} (the device driver takes time=SECONDS)"))
        })
        .try_fold(5, |_, value| value?.parse::<u64>().map_err(|_| format!("time= takes whole seconds, not {args:?}")))
}

/// Runs the device driver.
pub(super) fn run(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut publisher = super::publisher(system, me)?;
    let pty = boot::take(&caps, "terminal", |c| *c == Cap::Pty)?;
    let timer = boot::take(&caps, "timer", |c| *c == Cap::Timer)?;
    seccomp::confine(me.name)?;
    let period = time_period(me.args).map_err(io::Error::other)?;
    if period > 0 {
        sys::timer_set(timer.as_fd(), Duration::from_secs(period), Duration::from_secs(period))?;
    }
    sys::set_nonblocking(pty.as_fd())?;
    let online = StatePayload { state: STATE_ONLINE.into(), reserved: 0.into() };
    publisher.publish_one(state_event(devices::TERMINAL, &online)).map_err(super::publish_failed)?;
    let mut line = LineAssembler::new();
    let mut lines = Box::new(Lines::new());
    let mut buf = [0u8; READ_BYTES];
    loop {
        let ready = sys::poll(&[pty.as_fd(), timer.as_fd()], None)?;
        if ready[0] {
            let n = match sys::read(pty.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                // EIO: nobody holds the terminal's other side for now.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    0
                }
            };
            for &b in &buf[..n] {
                if let Some(chunk) = line.push(b) {
                    gather(&mut lines, &mut publisher, &input_event(devices::TERMINAL, chunk))?;
                }
            }
            flush(&mut lines, &mut publisher)?;
        }
        if ready[1] && sys::drain(timer.as_fd())? > 0 {
            let now = TimePayload { unix_seconds: sys::unix_seconds().into() };
            publisher.publish_one(time_event(devices::CLOCK, &now)).map_err(super::publish_failed)?;
        }
    }
}

/// Adds `event` to the lines gathered, publishing them first if it does
/// not fit.
fn gather(lines: &mut Lines, publisher: &mut Publisher, event: &Event<'_>) -> io::Result<()> {
    if lines.push(event).is_ok() {
        return Ok(());
    }
    flush(lines, publisher)?;
    // An empty outbox holds any one input event (at most MAX_INPUT bytes).
    lines.push(event).map_err(|_| io::Error::other("an input event does not fit an empty outbox"))
}

/// Publishes the lines gathered, in order.
fn flush(lines: &mut Lines, publisher: &mut Publisher) -> io::Result<()> {
    if !lines.is_empty() {
        publisher.publish(&lines.events()).map_err(super::publish_failed)?;
        lines.clear();
    }
    Ok(())
}
