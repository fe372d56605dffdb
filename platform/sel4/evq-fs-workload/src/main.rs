//! The boot test's file-system workload: when the test client signals
//! `fs-go`, it sends `FS_SCRIPT` to the VFS domain over the `vfs` endpoint,
//! checks that each request succeeds or fails as scripted, and signals
//! `fs-done`. It holds those three capabilities and nothing else.
#![no_std]
#![no_main]

use evq_sel4_runtime::{call, domain_main, exit, info, DomainInfo, Message};
use evq_test_script::FS_SCRIPT;
use evq_vfs_api::Reply;

domain_main!(main, stack = 64 * 1024);

fn main(info: &'static DomainInfo) -> ! {
    let (Some(vfs), Some(go), Some(done)) = (
        info.endpoint("vfs", info::rights::CALL),
        info.note("fs-go", info::rights::WAIT),
        info.note("fs-done", info::rights::SIGNAL),
    ) else {
        sel4::debug_println!("TEST_FAIL: fs-workload: the description gives it no vfs, fs-go or fs-done");
        exit(1)
    };
    let vfs = sel4::cap::Endpoint::from_bits(vfs);
    sel4::cap::Notification::from_bits(go).wait();
    for (i, step) in FS_SCRIPT.iter().enumerate() {
        let mut m = Message::new();
        let Ok((label, len)) = step.request.encode(&mut m.body) else {
            sel4::debug_println!("TEST_FAIL: fs-workload: step {i} does not encode");
            exit(1)
        };
        m.label = label;
        m.len = len;
        let (reply, _) = call(vfs, &m);
        let outcome = match Reply::decode(label, reply.label, reply.body()) {
            Ok(Reply::Error { code, .. }) => Some(code),
            Ok(_) => None,
            Err(e) => {
                sel4::debug_println!("TEST_FAIL: fs-workload: step {i}: the reply does not decode: {e:?}");
                exit(1)
            }
        };
        if outcome != step.fails {
            sel4::debug_println!(
                "TEST_FAIL: fs-workload: step {i} {:?}: got {outcome:?}, scripted {:?}",
                step.request,
                step.fails
            );
            exit(1)
        }
    }
    let failed = FS_SCRIPT.iter().filter(|s| s.fails.is_some()).count();
    sel4::debug_println!("evq: fs-workload: {} requests, {failed} failed as scripted", FS_SCRIPT.len());
    sel4::cap::Notification::from_bits(done).signal();
    exit(0)
}
