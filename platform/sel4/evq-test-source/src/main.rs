//! The boot test's source: a driver domain that publishes the script of
//! `evq-test-script` when the test client says go, one phase at a time.
//!
//! It holds a badged endpoint to the server (write, grant-reply) and two
//! notifications (`script-go` to wait on, `script-done` to signal); nothing
//! else.
#![no_std]
#![no_main]

use evq_abi::event::{encode_dentry, process, vfs, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{ErrorCode, Event};
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, EndpointLink};
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
    let mut source = Source { publisher: evq_sel4_runtime::publisher() };

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
    if source.publisher.publish_one(last).is_err() {
        sel4::debug_println!("TEST_FAIL: test-source: the event after the loss was refused");
        exit(1);
    }
    done.signal();
    sel4::debug_println!("evq: test-source: script published");
    exit(0)
}

struct Source {
    publisher: Publisher<EndpointLink>,
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
            self.publisher.publish_one(event).map_err(|_| "a scripted event was refused")?;
        }
        // A driver cannot forge another category: the server knows this
        // source by its badge and refuses, whatever the message says.
        let forged = Event { category: Category::Process, kind: process::EXIT, object_id: 1, ..delete() };
        match self.publisher.publish_one(forged) {
            Err(PublishError::Refused { code: ErrorCode::NotPermitted, .. }) => {
                sel4::debug_println!("evq: test-source: forged process event refused: NotPermitted");
                Ok(())
            }
            _ => Err("a forged process event was not refused"),
        }
    }

    /// Publishes the flood in batches of [`FLOOD_BATCH`], as a busy driver
    /// would. Its budget (`budget_per_tick` in the description) is smaller
    /// than a batch, so the server must push back, and every event must
    /// still get through.
    fn flood(&mut self) -> Result<(), &'static str> {
        let busy_before = self.publisher.stats().busy;
        let mut events = [delete(); FLOOD_BATCH];
        for first in (0..FLOOD).step_by(FLOOD_BATCH) {
            let n = FLOOD_BATCH.min((FLOOD - first) as usize);
            for (i, event) in (first..).zip(events[..n].iter_mut()) {
                event.object_id = flood_object(i);
            }
            self.publisher.publish(&events[..n]).map_err(|_| "a flood batch was refused")?;
        }
        let busy = self.publisher.stats().busy - busy_before;
        if busy == 0 {
            return Err("the server never pushed back on the flood");
        }
        sel4::debug_println!("evq: test-source: flood of {FLOOD} held back {busy} times by back-pressure, all taken");
        Ok(())
    }
}
