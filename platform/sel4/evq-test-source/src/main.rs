//! The boot test's source: a driver domain that publishes the script of
//! `evq-test-script` when the test client says go, one phase at a time.
//!
//! It holds a badged endpoint to the server (write, grant-reply) and two
//! notifications (`script-go` to wait on, `script-done` to signal); nothing
//! else.
#![no_std]
#![no_main]

use evq_abi::event::{encode_dentry, process, vfs, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{label, BatchBuilder, ErrorCode, Event, Request, MAX_MSG_BYTES};
use evq_sel4_runtime::{domain_main, exit, info, publish, publish_counting, DomainInfo, PublishError};
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
    let mut source = Source { server: sel4::cap::Endpoint::from_bits(info::slot::SERVER) };

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
    if publish(source.server, &Request::Publish(last)).is_err() {
        sel4::debug_println!("TEST_FAIL: test-source: the event after the loss was refused");
        exit(1);
    }
    done.signal();
    sel4::debug_println!("evq: test-source: script published");
    exit(0)
}

struct Source {
    server: sel4::cap::Endpoint,
}

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
            publish(self.server, &Request::Publish(event)).map_err(|_| "a scripted event was refused")?;
        }
        // A driver cannot forge another category: the server knows this
        // source by its badge and refuses, whatever the message says.
        let forged = Event { category: Category::Process, kind: process::EXIT, object_id: 1, ..delete() };
        match publish(self.server, &Request::Publish(forged)) {
            Err(PublishError::Refused(ErrorCode::NotPermitted, _)) => {
                sel4::debug_println!("evq: test-source: forged process event refused: NotPermitted");
                Ok(())
            }
            _ => Err("a forged process event was not refused"),
        }
    }

    /// Publishes the flood in batches, as a busy driver would. Its budget
    /// (`budget_per_tick` in the description) is smaller than a batch, so
    /// the server must push back, and every event must still get through.
    fn flood(&mut self) -> Result<(), &'static str> {
        let mut busy = 0;
        let mut i = 0;
        while i < FLOOD {
            let mut body = [0u8; MAX_MSG_BYTES];
            let mut batch = BatchBuilder::new(&mut body).map_err(|_| "batch")?;
            let mut in_batch = 0;
            while i + in_batch < FLOOD && in_batch < 25 {
                let event = Event { object_id: flood_object(i + in_batch), ..delete() };
                batch.push(&event).map_err(|_| "batch full")?;
                in_batch += 1;
            }
            let len = batch.finish();
            let request = Request::decode(label::PUBLISH_BATCH, &body[..len]).map_err(|_| "batch")?;
            publish_counting(self.server, &request, &mut busy).map_err(|_| "a flood batch was refused")?;
            i += in_batch;
        }
        if busy == 0 {
            return Err("the server never pushed back on the flood");
        }
        sel4::debug_println!("evq: test-source: flood of {FLOOD} held back {busy} times by back-pressure, all taken");
        Ok(())
    }
}
