//! The supervisor's semantics, row by row of the crate documentation's
//! table: the one test of what a start, fault or exit means on both
//! platforms.

use evq_abi::event::{process, system, Category, ExitPayload, FaultPayload, Priority};
use evq_supervisor::{Duty, Fault, Supervisor, Verdict};
use zerocopy::FromBytes;

const SYSTEM: &str = r#"
board = "hosted"

[[domain]]
name = "server"
image = "evq-server"
priority = 200
role = "server"
ring_pool_pages = 64

[[domain]]
name = "vfs"
image = "evq-vfs"
priority = 150
role = "source"
badge = 0x10
categories = ["vfs"]

[[domain]]
name = "watch"
image = "evq-watch"
priority = 100
role = "client"
badge = 0x20
"#;

const SERVER: u32 = 1;
const SOURCE: u32 = 2;
const CLIENT: u32 = 3;

/// What a duty says, in a form tests can compare.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Said {
    Event { category: Category, kind: u8, priority: Priority, object: u64, payload: Vec<u8> },
    ClientGone(u64),
}

fn run(f: impl FnOnce(&mut dyn FnMut(Duty)) -> Verdict) -> (Verdict, Vec<Said>) {
    let mut said = Vec::new();
    let verdict = f(&mut |d| {
        said.push(match d {
            Duty::Publish(n) => {
                let e = n.event();
                Said::Event {
                    category: e.category,
                    kind: e.kind,
                    priority: e.priority,
                    object: e.object_id,
                    payload: e.payload.to_vec(),
                }
            }
            Duty::ClientGone { badge } => Said::ClientGone(badge),
        })
    });
    (verdict, said)
}

fn process(kind: u8, id: u32, payload: &[u8]) -> Said {
    let priority = if kind == process::FAULT { Priority::Critical } else { Priority::Normal };
    Said::Event { category: Category::Process, kind, priority, object: u64::from(id), payload: payload.to_vec() }
}

fn sys(kind: u8, priority: Priority) -> Said {
    Said::Event { category: Category::System, kind, priority, object: 0, payload: vec![] }
}

fn exit_payload(code: i64) -> Vec<u8> {
    zerocopy::IntoBytes::as_bytes(&ExitPayload { code: (code as u64).into() }).to_vec()
}

fn booted<'s>(system: &'s evq_system::System<'s>) -> Supervisor<'s> {
    let mut s = Supervisor::new(system);
    for id in [SERVER, SOURCE, CLIENT] {
        s.started(id, &mut |_| {});
    }
    s
}

#[test]
fn booting_reports_the_server_then_up_then_each_domain_then_the_set() {
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = Supervisor::new(&system);
    let mut said = Vec::new();
    for id in [SERVER, SOURCE, CLIENT] {
        let (v, mut d) = run(|out| s.started(id, out));
        assert_eq!(v, Verdict::GoesOn);
        said.append(&mut d);
    }
    let (v, mut d) = run(|out| s.all_started(out));
    assert_eq!(v, Verdict::GoesOn);
    said.append(&mut d);
    assert_eq!(
        said,
        vec![
            process(process::START, SERVER, &[]),
            sys(system::UP, Priority::Normal),
            process(process::START, SOURCE, &[]),
            process(process::START, CLIENT, &[]),
            sys(system::DOMAIN_SET_COMPLETE, Priority::Normal),
        ]
    );
    assert!(s.is_running(SOURCE) && s.goes_on());
}

#[test]
fn a_fault_is_a_critical_fault_then_an_exit_of_128_plus_its_kind() {
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = booted(&system);
    let fault = Fault { kind: process::fault::VM, address: 0x2000_0000, ip: 0x40_1234 };
    let (v, said) = run(|out| s.faulted(SOURCE, fault, out));
    assert_eq!(v, Verdict::GoesOn);
    assert_eq!(said.len(), 2, "{said:?}");
    let Said::Event { kind, priority, object, payload, .. } = &said[0] else { panic!("{said:?}") };
    assert_eq!((*kind, *priority, *object), (process::FAULT, Priority::Critical, u64::from(SOURCE)));
    let f = FaultPayload::read_from_bytes(payload).unwrap();
    assert_eq!((f.kind.get(), f.address.get(), f.ip.get()), (process::fault::VM, 0x2000_0000, 0x40_1234));
    assert_eq!(said[1], process(process::EXIT, SOURCE, &exit_payload(128 + i64::from(process::fault::VM))));
    assert!(!s.is_running(SOURCE));
}

#[test]
fn a_client_that_ends_is_reported_gone_before_its_exit() {
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = booted(&system);
    let (v, said) = run(|out| s.exited(CLIENT, 3, out));
    assert_eq!(v, Verdict::GoesOn);
    assert_eq!(said, vec![Said::ClientGone(0x20), process(process::EXIT, CLIENT, &exit_payload(3))]);

    let mut s = booted(&system);
    let (_, said) = run(|out| s.faulted(CLIENT, Fault { kind: process::fault::CAP, ..Fault::default() }, out));
    let kinds: Vec<_> = said
        .iter()
        .map(|d| match d {
            Said::Event { kind, .. } => format!("event {kind}"),
            Said::ClientGone(b) => format!("gone {b:#x}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![format!("event {}", process::FAULT), "gone 0x20".into(), format!("event {}", process::EXIT)]
    );
}

#[test]
fn an_exit_is_reported_once_and_a_domain_that_never_ran_not_at_all() {
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = booted(&system);
    assert_eq!(run(|out| s.exited(SOURCE, 0, out)).1.len(), 1);
    assert_eq!(run(|out| s.exited(SOURCE, 0, out)), (Verdict::GoesOn, vec![]));
    assert_eq!(run(|out| s.faulted(SOURCE, Fault::default(), out)), (Verdict::GoesOn, vec![]));
    let mut fresh = Supervisor::new(&system);
    assert_eq!(run(|out| fresh.exited(CLIENT, 0, out)), (Verdict::GoesOn, vec![]));
    // Ids outside the description are nobody.
    assert_eq!(run(|out| fresh.started(0, out)), (Verdict::GoesOn, vec![]));
    assert_eq!(run(|out| fresh.started(99, out)), (Verdict::GoesOn, vec![]));
}

#[test]
fn a_domain_that_starts_again_is_reported_again() {
    // A console slot on the hosted platform: attached, detached, attached.
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = booted(&system);
    run(|out| s.exited(CLIENT, 0, out));
    assert_eq!(run(|out| s.started(CLIENT, out)), (Verdict::GoesOn, vec![process(process::START, CLIENT, &[])]));
}

#[test]
fn the_servers_end_stops_the_system_and_nothing_is_published_after_it() {
    let system = evq_system::parse(SYSTEM).unwrap();
    for fault in [true, false] {
        let mut s = booted(&system);
        let (v, said) = if fault {
            run(|out| s.faulted(SERVER, Fault { kind: process::fault::VM, ..Fault::default() }, out))
        } else {
            run(|out| s.exited(SERVER, 1, out))
        };
        assert_eq!((v, said), (Verdict::Stops, vec![]));
        assert!(!s.goes_on());
        assert_eq!(run(|out| s.faulted(CLIENT, Fault::default(), out)), (Verdict::Stops, vec![]));
        assert_eq!(run(|out| s.started(SOURCE, out)), (Verdict::Stops, vec![]));
        assert_eq!(run(|out| s.all_started(out)), (Verdict::Stops, vec![]));
        assert_eq!(run(|out| s.shutdown(out)), (Verdict::Stops, vec![]));
    }
}

#[test]
fn shutdown_is_the_last_word() {
    let system = evq_system::parse(SYSTEM).unwrap();
    let mut s = booted(&system);
    assert_eq!(run(|out| s.shutdown(out)), (Verdict::Stops, vec![sys(system::SHUTDOWN, Priority::Critical)]));
    // The domains stopped for the shutdown are not reported.
    assert_eq!(run(|out| s.exited(SOURCE, 0, out)), (Verdict::Stops, vec![]));
    assert_eq!(run(|out| s.shutdown(out)), (Verdict::Stops, vec![]));
}
