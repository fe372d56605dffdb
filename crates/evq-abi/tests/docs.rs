//! `docs/protocol.md` against the definitions: the label table (§4.1), the
//! error codes (§4.15) and the Stats reply's counters (§4.13) are what
//! `evq_abi::msg` defines, so the document cannot drift from the code.

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
