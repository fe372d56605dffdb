//! docs/c-api.md against the header and the example: every function the
//! header declares is documented, every prototype the document gives is
//! the header's, and the worked example's loop is the example's.

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(")
}

/// The function declarations in `c`: statements that start with a return
/// type and name an `evq_` function, comments removed, spaces squeezed.
fn declarations(c: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = c;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..].find("*/").map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    let text: String =
        text.lines().filter(|l| !l.trim_start().starts_with('#')).map(|l| l.to_string() + "\n").collect();
    text.split(';')
        .map(|s| squeeze(s.rsplit(['{', '}']).next().unwrap_or(s)))
        .filter(|s| {
            ["int32_t evq_", "const char *evq_", "void evq_"].iter().any(|t| s.starts_with(t)) && s.ends_with(')')
        })
        .map(|s| s + ";")
        .collect()
}

/// The text of the document's C code blocks.
fn c_blocks(doc: &str) -> String {
    doc.split("```c\n").skip(1).filter_map(|b| b.split("```").next()).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_function_is_documented_with_the_headers_prototype() {
    let header = read("include/evq.h");
    let doc = read("../../docs/c-api.md");
    let declared = declarations(&header);
    assert!(declared.len() > 30, "{declared:?}");
    for d in &declared {
        let name = d.split('(').next().unwrap().rsplit([' ', '*']).next().unwrap();
        assert!(doc.contains(&format!("`{name}`")) || doc.contains(&format!("{name}(")), "{name} is not documented");
    }
    let documented = declarations(&c_blocks(&doc));
    for d in &declared {
        assert!(documented.contains(d), "docs/c-api.md does not give the prototype {d}");
    }
    for d in &documented {
        assert!(declared.contains(d), "docs/c-api.md gives {d}, which the header does not declare");
    }
}

#[test]
fn the_worked_example_is_the_examples_own_loop() {
    let doc = read("../../docs/c-api.md");
    let example = read("examples/evq-tail.c");
    let block = doc.split("```c\nwhile").nth(1).and_then(|b| b.split("```").next()).expect("the loop in the doc");
    let indented: String =
        format!("while{block}").lines().map(|l| format!("    {l}\n").replace("    \n", "\n")).collect();
    assert!(example.contains(&indented), "the loop in docs/c-api.md is not evq-tail.c's:\n{indented}");
}
