//! `include/evq.h` is what cbindgen makes of this crate, with the ABI's
//! constants written out from `evq-abi` itself: this test regenerates it
//! and fails if the committed header differs. `EVQ_BLESS=1` rewrites it.

use std::fmt::Write;
use std::path::Path;

use evq_abi::event::{memory, meta, process, vfs, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{Counters, ErrorCode, FRAMES_PER_REPLY, MAX_MSG_BYTES, MESSAGES};
use evq_abi::ring::{info, MAX_ENTRY_SLOTS, MAX_RING_PAGES, MIN_RING_PAGES, RING_MAGIC, SLOT_SIZE};
use evq_abi::{ABI_VERSION, PAGE_SIZE};
use evq_client::kind_name;

/// `NAME` for C from one of the ABI's names (`link-up`, `NoSuchQueue`).
fn c_name(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(if ch == '-' { '_' } else { ch.to_ascii_uppercase() });
    }
    out
}

fn define(out: &mut String, name: &str, value: u64, doc: &str) {
    // Labels in hex, as docs/protocol.md gives them; masks too.
    let value = match value {
        _ if name.starts_with("EVQ_LABEL_") => format!("0x{value:04X}"),
        0..0x1_0000 => value.to_string(),
        _ => format!("0x{value:08X}"),
    };
    writeln!(out, "/* {doc} */\n#define {name} {value}").unwrap();
}

/// The ABI's constants, every value read from `evq-abi`.
fn abi_defines() -> String {
    let mut out = String::from("\n/* The evq ABI (crates/evq-abi), values taken from it. */\n\n");
    let o = &mut out;
    define(o, "EVQ_ABI_VERSION", ABI_VERSION.into(), "The ABI version in every ring's control page.");
    define(o, "EVQ_PAGE_SIZE", PAGE_SIZE as u64, "Bytes in a page: rings are built from them.");
    define(o, "EVQ_RING_MAGIC", RING_MAGIC.into(), "\"EVQ1\" as a little-endian word: a control page's first.");
    define(o, "EVQ_SLOT_SIZE", SLOT_SIZE as u64, "Bytes in a ring slot.");
    define(o, "EVQ_MIN_RING_PAGES", MIN_RING_PAGES.into(), "The smallest data area, in pages.");
    define(o, "EVQ_MAX_RING_PAGES", MAX_RING_PAGES.into(), "The largest data area, in pages.");
    define(o, "EVQ_MAX_ENTRY_SLOTS", MAX_ENTRY_SLOTS.into(), "The longest entry, header included, in slots.");
    define(o, "EVQ_MAX_PAYLOAD", MAX_PAYLOAD as u64, "The largest event payload, in bytes.");
    define(o, "EVQ_NAME_MAX", vfs::NAME_MAX as u64, "The longest name a VFS event carries.");
    define(o, "EVQ_MAX_MSG_BYTES", MAX_MSG_BYTES as u64, "The largest message body: 120 registers of 8 bytes.");
    define(o, "EVQ_FRAMES_PER_REPLY", FRAMES_PER_REPLY.into(), "Frame capabilities one seL4 reply carries.");
    o.push('\n');
    for v in 0..=u8::MAX {
        let Some(c) = Category::from_u8(v) else { continue };
        let cat = c_name(c.name());
        define(o, &format!("EVQ_CATEGORY_{cat}"), v.into(), &format!("Category: {}.", c.name()));
        for k in 0..c.kind_count() {
            let kind = kind_name(c, k);
            define(o, &format!("EVQ_{cat}_{}", c_name(kind)), k.into(), &format!("Kind: {} {kind}.", c.name()));
        }
    }
    o.push('\n');
    let vfs_flags = [
        ("IS_DIR", vfs::flags::IS_DIR, "the inode is a directory"),
        ("ATTR_MODE", vfs::flags::ATTR_MODE, "ATTRIB: the mode changed"),
        ("ATTR_SIZE", vfs::flags::ATTR_SIZE, "ATTRIB: the size changed"),
        ("ATTR_ATIME", vfs::flags::ATTR_ATIME, "ATTRIB: the access time changed"),
        ("ATTR_MTIME", vfs::flags::ATTR_MTIME, "ATTRIB: the modification time changed"),
        ("ATTR_OWNER", vfs::flags::ATTR_OWNER, "ATTRIB: the owner or group changed"),
        ("ATTR_NLINK", vfs::flags::ATTR_NLINK, "ATTRIB: the link count changed"),
    ];
    for (name, bit, doc) in vfs_flags {
        define(o, &format!("EVQ_VFS_FLAG_{name}"), bit.into(), &format!("VFS type flag: {doc}."));
    }
    let ring_pool = memory::flags::RING_POOL;
    define(o, "EVQ_MEMORY_FLAG_RING_POOL", ring_pool.into(), "Memory type flag: the server's ring pool.");
    let faults = [
        ("VM", process::fault::VM),
        ("CAP", process::fault::CAP),
        ("UNKNOWN_SYSCALL", process::fault::UNKNOWN_SYSCALL),
        ("USER_EXCEPTION", process::fault::USER_EXCEPTION),
        ("OTHER", process::fault::OTHER),
    ];
    for (name, kind) in faults {
        define(o, &format!("EVQ_FAULT_{name}"), kind.into(), "A fault payload's kind.");
    }
    define(o, "EVQ_PRIORITY_NORMAL", Priority::Normal as u64, "Priority: dropped first when a ring fills.");
    define(o, "EVQ_PRIORITY_CRITICAL", Priority::Critical as u64, "Priority: may use the reserved headroom.");
    o.push('\n');
    let infos = [
        ("LENGTH_MASK", info::LENGTH_MASK, "the entry's length in slots"),
        ("LOSS", info::LOSS, "a loss entry"),
        ("SKIP", info::SKIP, "a skip entry"),
        ("WATCH_ID_MASK", info::WATCH_ID_MASK, "the subscription id"),
        ("WATCH_ID_SHIFT", info::WATCH_ID_SHIFT, "shift of the subscription id"),
        ("TYPE_FLAGS_MASK", info::TYPE_FLAGS_MASK, "the type-specific flags"),
        ("TYPE_FLAGS_SHIFT", info::TYPE_FLAGS_SHIFT, "shift of the type-specific flags"),
        ("COALESCED", info::COALESCED, "the event replaced older ones"),
        ("CRITICAL", info::CRITICAL, "delivered at critical priority"),
    ];
    for (name, bits, doc) in infos {
        define(o, &format!("EVQ_INFO_{name}"), bits.into(), &format!("Header info bits: {doc}."));
    }
    define(o, "EVQ_META_LOSS_SLOTS", meta::LOSS_SLOTS.into(), "Slots of a loss entry.");
    o.push('\n');
    define(o, "EVQ_LABEL_OK", evq_abi::msg::label::OK.into(), "Reply label: success.");
    define(o, "EVQ_LABEL_ERROR", evq_abi::msg::label::ERROR.into(), "Reply label: an error reply.");
    for m in MESSAGES {
        define(o, &format!("EVQ_LABEL_{}", m.name), m.label.into(), &format!("Request label, {}.", m.direction));
    }
    o.push('\n');
    for (i, name) in Counters::NAMES.iter().enumerate() {
        define(o, &format!("EVQ_COUNTER_{}", c_name(name)), i as u64, &format!("evq_stats.counters[]: {name}."));
    }
    o.push('\n');
    for code in ErrorCode::ALL {
        let doc = format!("Server error code {}.", code.name());
        define(o, &format!("EVQ_CODE_{}", c_name(code.name())), code as u64, &doc);
    }
    out
}

fn generate() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config {
        language: cbindgen::Language::C,
        header: Some(
            "/* evq's C client library (crates/evq-c, docs/c-api.md).\n * Generated by cbindgen from the crate, \
             checked by crates/evq-c/tests/header.rs: do not edit. */"
                .into(),
        ),
        include_guard: Some("EVQ_H".into()),
        style: cbindgen::Style::Tag,
        sys_includes: vec!["stddef.h".into(), "stdint.h".into()],
        no_includes: true,
        after_includes: Some(abi_defines()),
        cpp_compat: true,
        usize_is_size_t: true,
        documentation_style: cbindgen::DocumentationStyle::Doxy,
        defines: [("feature = hosted".to_string(), "EVQ_HOSTED".to_string())].into_iter().collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    cbindgen::Builder::new().with_crate(dir).with_config(config).generate().expect("cbindgen").write(&mut out);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn the_committed_header_is_what_cbindgen_makes_of_the_crate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/evq.h");
    let made = generate();
    if std::env::var_os("EVQ_BLESS").is_some() {
        std::fs::write(&path, &made).expect("write the header");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == made,
        "include/evq.h is not what the crate generates: run `EVQ_BLESS=1 cargo test -p evq-c --test header`"
    );
}

#[test]
fn every_c_name_is_made_from_the_abis_own() {
    assert_eq!(c_name("link-up"), "LINK_UP");
    assert_eq!(c_name("NoSuchQueue"), "NO_SUCH_QUEUE");
    let defs = abi_defines();
    for line in ["#define EVQ_CATEGORY_VFS 1", "#define EVQ_VFS_RENAME 2", "#define EVQ_LABEL_SUBSCRIBE 0x0203"] {
        assert!(defs.contains(line), "{line}");
    }
}
