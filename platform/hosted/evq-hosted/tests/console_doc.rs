//! `docs/console.md` against the definitions: every request and reply
//! variant has its section and every field its row, every row is a field,
//! and every example is JSON the launcher and the tool read as its section
//! says; so the specification cannot drift from `evq_hosted::console`.

use std::collections::BTreeSet;

use evq_abi::msg::Counters;
use evq_hosted::admin::{ClockAnchor, QueueStatus, ServerStatus, SourceStatus};
use evq_hosted::console::{decode_reply, decode_request, DomainStatus, Reply, Request, Status, TreeEntry, VERSION};
use evq_server::QueueReport;
use serde_json::Value;

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../docs/console.md"));

/// The text from `heading` to the next heading of any level.
fn section(heading: &str) -> &'static str {
    let start = DOC.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("docs/console.md has no {heading:?}"));
    let body = &DOC[start + heading.len() + 2..];
    &body[..body.find("\n#").unwrap_or(body.len())]
}

/// The first cells of the first table in `text`, backquotes taken off,
/// header and rule rows left out.
fn first_column(text: &str) -> BTreeSet<String> {
    let rows = text.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).skip(2);
    rows.map(|r| r.trim_matches('|').split('|').next().unwrap().trim().trim_matches('`').to_string()).collect()
}

/// The tables of a section's field tables, each after its own heading.
fn fields_of(heading: &str) -> BTreeSet<String> {
    first_column(section(heading))
}

/// The `json` blocks of `text`.
fn examples(text: &str) -> Vec<&str> {
    text.split("```json\n").skip(1).map(|b| b.split("\n```").next().unwrap()).collect()
}

/// The keys of `value`'s JSON object, `tag` left out.
fn keys(value: &impl serde::Serialize, tag: &str) -> BTreeSet<String> {
    match serde_json::to_value(value).unwrap() {
        Value::Object(map) => map.keys().filter(|k| *k != tag).cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// The variant names serde knows, from its refusal of one it does not.
fn variants(refusal: String) -> Vec<String> {
    let list = refusal.split("expected one of ").nth(1).unwrap_or_else(|| panic!("no variant list in {refusal:?}"));
    let list = list.split(" at line").next().unwrap();
    list.split(", ").map(|v| v.trim_matches('`').to_string()).collect()
}

fn counters() -> Counters {
    Counters::from_array([1, 2, 3, 4, 5, 6, 7])
}

fn status() -> Status {
    Status {
        version: VERSION,
        board: "hosted".into(),
        seccomp: "on".into(),
        network: "none".into(),
        pty: Some("/dev/pts/3".into()),
        domains: vec![domain()],
        degraded: vec!["vfs killed by SIGSEGV".into()],
        server: server(),
    }
}

fn domain() -> DomainStatus {
    DomainStatus {
        name: "console-1".into(),
        id: 5,
        image: "attach".into(),
        role: "client".into(),
        badge: Some(0x21),
        pid: Some(7),
        state: "attached".into(),
    }
}

fn server() -> ServerStatus {
    ServerStatus {
        sources: vec![SourceStatus { id: 2, name: "vfs".into(), counters: counters(), ring: "attached".into() }],
        queue_list: vec![queue()],
        totals: counters(),
        clock: Some(ClockAnchor { realtime_ns: 1_796_300_000_000_000_000, server_ns: 1 }),
        ..ServerStatus::default()
    }
}

fn entry() -> TreeEntry {
    TreeEntry { path: "/".into(), inode: 1, dir: true, mode: 0o755, size: 0, nlink: 1 }
}

fn queue() -> QueueStatus {
    let report = QueueReport { queue: 0x100, owner: 0x21, used_slots: Some(3), ..QueueReport::default() };
    QueueStatus { owner: "console-1".into(), owner_id: 5, report }
}

/// One request of each variant, by its `op`.
fn requests() -> Vec<(&'static str, Request)> {
    vec![
        ("attach", Request::Attach { domain: Some("console-1".into()), role: "client".into() }),
        ("status", Request::Status),
        ("fs", Request::Fs { args: vec!["mkdir".into(), "/a".into()] }),
        ("fs-write", Request::FsWrite { path: "/a".into(), hex: "00".into(), append: true }),
        ("fs-read", Request::FsRead { path: "/a".into() }),
        ("tree", Request::Tree { path: "/".into() }),
        ("link", Request::Link { up: true }),
        ("traffic", Request::Traffic { packets: 3, tx: false }),
        ("shutdown", Request::Shutdown),
    ]
}

/// One reply of each variant with its own fields, by its `reply`.
fn replies() -> Vec<(&'static str, Reply)> {
    vec![
        ("attached", Reply::Attached { domain: "console-1".into(), id: 5, badge: 0x21, ingest_pages: None }),
        ("done", Reply::Done { output: "stopping".into() }),
        ("bytes", Reply::Bytes { hex: "00".into() }),
        ("tree", Reply::Tree { entries: vec![entry()] }),
        ("error", Reply::Error { message: "no".into() }),
    ]
}

#[test]
fn every_request_has_its_section_its_row_and_its_fields() {
    let defined = variants(decode_request(br#"{"op":"?"}"#).unwrap_err());
    let samples = requests();
    for name in &defined {
        let sample = samples.iter().find(|(n, _)| n == name);
        let (_, sample) = sample.unwrap_or_else(|| panic!("request {name} has no sample in this test: add one"));
        let heading = format!("### Request `{name}`");
        let rows = first_column(section(&heading));
        assert_eq!(rows, keys(sample, "op"), "the field table of {heading}");
    }
    let documented = first_column(section("## 3. Requests"));
    let want: BTreeSet<String> = defined.iter().cloned().collect();
    assert_eq!(documented, want, "the table of docs/console.md §3");
    let headed: BTreeSet<String> = DOC
        .lines()
        .filter_map(|l| l.strip_prefix("### Request `"))
        .map(|l| l.trim_end_matches('`').to_string())
        .collect();
    assert_eq!(headed, want, "the requests with a section");
}

#[test]
fn every_reply_has_its_section_and_its_fields() {
    let defined = variants(decode_reply(br#"{"reply":"?"}"#).unwrap_err());
    let headed: BTreeSet<String> = DOC
        .lines()
        .filter_map(|l| l.strip_prefix("### Reply `"))
        .map(|l| l.trim_end_matches('`').to_string())
        .collect();
    let want: BTreeSet<String> = defined.iter().cloned().collect();
    assert_eq!(headed, want, "the replies with a section");
    let samples = replies();
    for name in defined.iter().filter(|n| *n != "status") {
        let sample = samples.iter().find(|(n, _)| n == name);
        let (_, sample) = sample.unwrap_or_else(|| panic!("reply {name} has no sample in this test: add one"));
        assert_eq!(fields_of(&format!("### Reply `{name}`")), keys(sample, "reply"), "reply {name}");
    }
    // The status reply is the status's fields beside its tag.
    assert_eq!(keys(&Reply::Status(Box::new(status())), "reply"), keys(&status(), ""));
}

#[test]
fn every_status_field_has_its_row_and_every_row_is_a_field() {
    assert_eq!(fields_of("### Status fields"), keys(&status(), ""));
    assert_eq!(fields_of("### DomainStatus fields"), keys(&domain(), ""));
    assert_eq!(fields_of("### ServerStatus fields"), keys(&server(), ""));
    assert_eq!(fields_of("### SourceStatus fields"), keys(&server().sources[0], ""));
    assert_eq!(fields_of("### ClockAnchor fields"), keys(&server().clock.unwrap(), ""));
    assert_eq!(fields_of("### QueueStatus fields"), keys(&queue(), ""));
    let tree = section("### Reply `tree`");
    let each = &tree[tree.find("Each entry:").expect("the tree reply's entry table")..];
    assert_eq!(first_column(each), keys(&entry(), ""), "a tree entry's fields");
    let names: BTreeSet<String> = Counters::NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(fields_of("### Counters fields"), names);
    assert_eq!(keys(&counters(), ""), names);
}

#[test]
fn every_example_is_read_as_its_section_says() {
    for (name, _) in requests() {
        let heading = format!("### Request `{name}`");
        let found = examples(section(&heading));
        assert!(!found.is_empty(), "{heading} has no example");
        for example in found {
            let request = decode_request(example.as_bytes()).unwrap_or_else(|e| panic!("{heading}: {e}"));
            assert_eq!(serde_json::to_value(&request).unwrap()["op"], name, "{example}");
        }
    }
    for name in ["attached", "status", "done", "bytes", "tree", "error"] {
        let heading = format!("### Reply `{name}`");
        let found = examples(section(&heading));
        assert!(!found.is_empty(), "{heading} has no example");
        for example in found {
            let reply = decode_reply(example.as_bytes()).unwrap_or_else(|e| panic!("{heading}: {e}"));
            assert_eq!(serde_json::to_value(&reply).unwrap()["reply"], name, "{example}");
            // Read back, nothing is lost: every field the example gives is one.
            let given: Value = serde_json::from_str(example).unwrap();
            assert_eq!(serde_json::to_value(&reply).unwrap(), given, "{heading}");
        }
    }
}

#[test]
fn an_absent_domain_is_the_first_free_slot_and_unknown_fields_are_ignored() {
    let want = Request::Attach { domain: None, role: "client".into() };
    assert_eq!(decode_request(br#"{"op":"attach","role":"client"}"#), Ok(want.clone()));
    assert_eq!(decode_request(br#"{"op":"attach","domain":null,"role":"client","x":1}"#), Ok(want));
    let refused = decode_request(br#"{"op":"attach","domain":"console-1"}"#).unwrap_err();
    assert!(refused.starts_with("bad request: missing field `role`"), "{refused}");
    let status = r#"{"reply":"status","version":1,"board":"hosted","seccomp":"on","network":"none","pty":null,
        "domains":[],"degraded":[],"server":{"clients":0,"queues":0,"subscriptions":0,"staged":0,
        "pool_pages_used":0,"pool_pages":2,"rings":0,"endpoints":0,"open_fds":0,"replies_lost":0,"revoked":0,
        "sources":[],"totals":{"published":0,"filtered":0,"delivered":0,"coalesced":0,"dropped":0,"rejected":0,
        "throttled":0},"a_later_field":[1,2]}}"#;
    assert!(matches!(decode_reply(status.as_bytes()), Ok(Reply::Status(_))), "a reply's unknown field is ignored");
    // A launcher from before versions sent none: read as 0.
    let old = status.replace(r#""version":1,"#, "");
    assert_ne!(old, status);
    let Ok(Reply::Status(old)) = decode_reply(old.as_bytes()) else { panic!("an old status reply") };
    assert_eq!(old.version, 0);
    assert_eq!(VERSION, 1);
    assert!(section("## 2. Version").contains("now **1**"));
}
