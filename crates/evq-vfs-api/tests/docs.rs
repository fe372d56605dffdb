//! `docs/protocol.md` §6 against the definitions: the VFS label table
//! (§6.2) and error codes (§6.5) are what `evq_vfs_api` defines.

use evq_vfs_api::{ErrorCode, MESSAGES};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md"));

/// The first table after `heading`.
fn table_after(heading: &str) -> Vec<&'static str> {
    let start = DOC.find(heading).unwrap_or_else(|| panic!("docs/protocol.md has no {heading:?}"));
    DOC[start..].lines().skip(1).skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect()
}

#[test]
fn the_vfs_label_table_is_the_definition() {
    let mut want = vec![
        "| Label | Name | Direction | Request body | OK reply body |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    want.extend(MESSAGES.iter().map(|m| m.to_string()));
    let got = table_after("### 6.2 Labels");
    assert_eq!(got, want, "docs/protocol.md §6.2 should read:\n{}\n", want.join("\n"));
}

#[test]
fn the_vfs_error_code_table_is_the_definition() {
    let rows = table_after("| Code | Name | Meaning | `detail` |\n|---|---|---|---|\n| 1 | `BadRequest`");
    let listed: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| r.trim_matches('|').split('|').map(str::trim).collect::<Vec<_>>())
        .map(|c| (c[0].to_string(), c[1].trim_matches('`').to_string()))
        .collect();
    let defined: Vec<(String, String)> =
        ErrorCode::ALL.iter().map(|c| ((*c as u32).to_string(), c.name().to_string())).collect();
    assert_eq!(listed, defined);
}
