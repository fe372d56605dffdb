//! The boot test's source: a driver domain that publishes the script of
//! `evq-test-script` when the test client says go, one phase at a time.
//!
//! It publishes through its ingest ring, as every driver does: its ring,
//! its doorbell to the server and its room notification. It also holds a
//! badged endpoint to the server (write, grant-reply), for the one publish
//! whose answer it must see: the forged event, which the server must refuse
//! `NotPermitted`. And two notifications (`script-go` to wait on,
//! `script-done` to signal); nothing else.
#![no_std]
#![no_main]

use evq_abi::event::{encode_dentry, process, vfs, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{ErrorCode, Event};
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, EndpointLink, RingPublisher, WhenFull};
use evq_source::{PublishError, Publisher};
use evq_test_script::{flood_object, AFTER_LOSS_OBJECT, FLOOD, SCRIPT};

domain_main!(main, stack = 64 * 1024);

fn main(info: &'static DomainInfo) -> ! {
    let (Some(go), Some(done)) =
        (info.note("script-go", info::rights::WAIT), info.note("script-done", info::rights::SIGNAL))
    else {
        sel4::debug_println!("TEST_FAIL: {}: the description gives it no script-go/script-done", info.name.as_str());
        exit(1);
    };
    let go = sel4::cap::Notification::from_bits(go);
    let done = sel4::cap::Notification::from_bits(done);
    let ring = match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(ring) => ring,
        Err(e) => {
            sel4::debug_println!("TEST_FAIL: test-source: {e}");
            exit(1)
        }
    };
    let mut source = Source { ring, calls: evq_sel4_runtime::publisher() };

    go.wait();
    if let Err(why) = source.script() {
        sel4::debug_println!("TEST_FAIL: test-source: {why}");
        exit(1);
    }
    done.signal();

    go.wait();
    if let Err(why) = source.flood() {
        sel4::debug_println!("TEST_FAIL: test-source: {why}");
        exit(1);
    }
    done.signal();

    go.wait();
    let last = Event { object_id: AFTER_LOSS_OBJECT, ..delete() };
    if source.ring.publish_one(last).is_err() {
        sel4::debug_println!("TEST_FAIL: test-source: the event after the loss was refused");
        exit(1);
    }
    done.signal();
    sel4::debug_println!("evq: test-source: script published");
    exit(0)
}

struct Source {
    /// Its events: through its ingest ring.
    ring: RingPublisher,
    /// The forged event's call: the one publish that needs an answer.
    calls: Publisher<EndpointLink>,
}

/// Events in one batch of the flood.
const FLOOD_BATCH: usize = 25;

fn delete() -> Event<'static> {
    Event {
        category: Category::Vfs,
        kind: vfs::DELETE,
        type_flags: 0,
        priority: Priority::Normal,
        object_id: 0,
        payload: &[],
    }
}

impl Source {
    fn script(&mut self) -> Result<(), &'static str> {
        let mut payload = [0u8; MAX_PAYLOAD];
        for s in SCRIPT {
            let n = if s.category == Category::Vfs {
                encode_dentry(s.parent, s.name, &mut payload).map_err(|_| "a scripted name does not encode")?
            } else {
                payload[..s.name.len()].copy_from_slice(s.name);
                s.name.len()
            };
            let event = Event {
                category: s.category,
                kind: s.kind,
                type_flags: 0,
                priority: Priority::Normal,
                object_id: s.object_id,
                payload: &payload[..n],
            };
            self.ring.publish_one(event).map_err(|_| "a scripted event did not go into the ring")?;
        }
        // A driver cannot forge another category, through its ring or by
        // call: the server knows the ring and the badge, and refuses the
        // event whatever it says. Through the ring the refusal is silent
        // and counted (the test client checks the count); by call it is
        // answered.
        let forged = Event { category: Category::Process, kind: process::EXIT, object_id: 1, ..delete() };
        self.ring.publish_one(forged).map_err(|_| "the forged event did not go into the ring")?;
        match self.calls.publish_one(forged) {
            Err(PublishError::Refused { code: ErrorCode::NotPermitted, .. }) => {
                sel4::debug_println!("evq: test-source: forged process event refused: NotPermitted");
                Ok(())
            }
            _ => Err("a forged process event was not refused"),
        }
    }

    /// Publishes the flood in batches of [`FLOOD_BATCH`], as a busy driver
    /// would, into its ring. Its budget (`budget_per_tick` in the
    /// description) is smaller than a batch, so the server must push back:
    /// it leaves the events past the budget in the ring until its next
    /// tick, and takes them then, in order, before this source runs again
    /// (the server runs above it). The test client checks, through the
    /// server's statistics, that it did, and that every event got through.
    fn flood(&mut self) -> Result<(), &'static str> {
        let before = self.ring.stats();
        let signals_before = self.ring.link().signals();
        let mut events = [delete(); FLOOD_BATCH];
        for first in (0..FLOOD).step_by(FLOOD_BATCH) {
            let n = FLOOD_BATCH.min((FLOOD - first) as usize);
            for (i, event) in (first..).zip(events[..n].iter_mut()) {
                event.object_id = flood_object(i);
            }
            self.ring.publish(&events[..n]).map_err(|_| "a flood batch did not go into the ring")?;
        }
        let after = self.ring.stats();
        sel4::debug_println!(
            "evq: test-source: flood of {FLOOD} written into its ingest ring: {} writes, {} waits for room, {} doorbells",
            after.messages - before.messages,
            after.busy - before.busy,
            self.ring.link().signals() - signals_before
        );
        Ok(())
    }
}
