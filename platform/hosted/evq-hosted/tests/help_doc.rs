//! `docs/hosted.md`'s table of every option against what `evq … --help`
//! gives: every command and subcommand of the `evq` binary is in it with
//! exactly its options, so neither can drift from the other.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../docs/hosted.md"));

/// `evq WORDS --help`'s standard output.
fn help(words: &[&str]) -> String {
    let mut args = words.to_vec();
    args.push("--help");
    let said = run_evq(&args);
    assert!(said.status.success(), "evq {args:?}: {}", said.stderr);
    said.stdout
}

/// The names in a help text's `Commands:` section, `help` left out.
fn subcommands(text: &str) -> Vec<String> {
    let Some(start) = text.find("Commands:\n") else { return Vec::new() };
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

/// The long options a help text lists, `--help` and `--version` left out.
fn options(text: &str) -> BTreeSet<String> {
    let Some(start) = text.find("Options:\n") else { return BTreeSet::new() };
    text[start..]
        .lines()
        .skip(1)
        // An option's own line starts with it (`-n, --count <N>` or
        // `--json`); a description's lines may name other options.
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches(',').to_string())
        .filter(|w| w != "--help" && w != "--version")
        .collect()
}

/// The backquoted pieces of a table cell.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_options_table_is_what_help_gives() {
    let start = DOC.find("Every option, as `--help` gives it:").expect("docs/hosted.md's options table");
    let rows = DOC[start..].lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).skip(2);
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
        let long: Vec<String> = quoted(cells[1])
            .into_iter()
            .filter(|o| o.starts_with("--"))
            .map(|o| o.split(' ').next().unwrap().to_string())
            .collect();
        for command in quoted(cells[0]) {
            let words: Vec<&str> = command.split(' ').skip(1).filter(|w| *w != "…").collect();
            let mut all = vec![words.join(" ")];
            if command.ends_with(" …") {
                all.extend(subcommands(&help(&words)).into_iter().map(|s| format!("{} {s}", words.join(" "))));
            }
            for c in all {
                documented.entry(c).or_default().extend(long.iter().cloned());
            }
        }
    }
    let top = subcommands(&help(&[]));
    assert!(top.iter().any(|c| c == "top") && top.iter().any(|c| c == "stats"), "{top:?}");
    let mut given: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for command in &top {
        let text = help(&[command]);
        given.insert(command.clone(), options(&text));
        for sub in subcommands(&text) {
            given.insert(format!("{command} {sub}"), options(&help(&[command, &sub])));
        }
    }
    assert_eq!(documented, given, "docs/hosted.md's options table, by command, against --help");
}
