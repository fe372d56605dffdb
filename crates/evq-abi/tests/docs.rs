//! `docs/protocol.md` against the definitions: the label table (§4.1), the
//! error codes (§4.15) and the Stats reply's counters (§4.13) are what
//! `evq_abi::msg` defines, and the `SUBSCRIBE` examples (§4.8) are what its
//! codec writes, so the document cannot drift from the code.

use evq_abi::msg::{Counters, ErrorCode, MESSAGES};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md"));

/// The table right after `heading`: its rows, `|`-lines up to the first
/// line that is not one, header and rule lines included.
fn table_after(heading: &str) -> Vec<&'static str> {
    let start = DOC.find(heading).unwrap_or_else(|| panic!("docs/protocol.md has no {heading:?}"));
    DOC[start..].lines().skip(1).skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect()
}

/// The cells of a table row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    row.trim().trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn the_label_table_is_the_definition() {
    let mut want = vec![
        "| Label | Name | Direction | Request body | OK reply body |".to_string(),
        "|---|---|---|---|---|".to_string(),
        "| `0x0000` | `OK` | server → requester | — | per request |".to_string(),
        "| `0x0001` | `ERROR` | server → requester | — | Error (8) |".to_string(),
    ];
    want.extend(MESSAGES.iter().map(|m| m.to_string()));
    let got = table_after("### 4.1 Labels");
    assert_eq!(got, want, "docs/protocol.md §4.1 should read:\n{}\n", want.join("\n"));
}

#[test]
fn the_error_code_table_is_the_definition() {
    let rows = table_after("### 4.15 Error codes");
    let listed: Vec<(String, String)> =
        rows[2..].iter().map(|r| cells(r)).map(|c| (c[0].to_string(), c[1].trim_matches('`').to_string())).collect();
    let defined: Vec<(String, String)> =
        ErrorCode::ALL.iter().map(|c| ((*c as u32).to_string(), c.name().to_string())).collect();
    assert_eq!(listed, defined);
}

#[test]
fn the_stats_reply_lists_the_counters_in_wire_order() {
    let heading = "OK reply — **Stats** (64 bytes):";
    let rows = table_after(heading);
    let fields: Vec<(String, String)> =
        rows[2..].iter().map(|r| cells(r)).map(|c| (c[0].to_string(), c[3].trim_matches('`').to_string())).collect();
    let mut want: Vec<(String, String)> =
        Counters::NAMES.iter().enumerate().map(|(i, n)| ((8 * i).to_string(), n.to_string())).collect();
    want.push(("56".into(), "used_slots".into()));
    want.push(("60".into(), "slot_count".into()));
    assert_eq!(fields, want);
}

/// The bytes of the first code block after the line starting `heading`: the
/// hex pairs before each line's gloss (three spaces).
fn example_after(heading: &str) -> Vec<u8> {
    let at = DOC.find(heading).unwrap_or_else(|| panic!("no {heading:?} in docs/protocol.md"));
    let block = DOC[at..].split("```").nth(1).expect("a code block");
    block
        .lines()
        .flat_map(|l| l.split("   ").next().unwrap_or("").split_whitespace())
        .map(|h| u8::from_str_radix(h, 16).unwrap_or_else(|_| panic!("{h:?} is not a hex byte")))
        .collect()
}

#[test]
fn the_subscribe_examples_are_what_the_codec_writes() {
    use evq_abi::event::{vfs, Category, Priority};
    use evq_abi::msg::{subscribe_flags, Filter, Request};
    let mut out = [0u8; 64];
    let object = Filter {
        type_mask: 1 << vfs::CREATE | 1 << vfs::ATTRIB,
        object_id: Some(5),
        info_filter: 0x0001_0000,
        info_mask: 0x0001_0000,
        priority: Priority::Critical,
        ..Filter::all_of(Category::Vfs)
    };
    let n = Request::Subscribe { queue: 0x100, filter: object }.encode(&mut out).unwrap().1;
    assert_eq!(example_after("Example (queue `0x100`; VFS CREATE and ATTRIB"), out[..n]);
    let in_dir = Filter { parent_id: Some(2), ..Filter::all_of(Category::Vfs) };
    let n = Request::Subscribe { queue: 0x100, filter: in_dir }.encode(&mut out).unwrap().1;
    assert_eq!(example_after("Example (queue `0x100`; every VFS kind in directory 2"), out[..n]);
    assert!(DOC.contains(&format!("bit 2 `PARENT` ({:#04x})", subscribe_flags::PARENT)));
}
