//! Embeds the system description and the domains' ELF images.
//!
//! The description is `images/<board>/system.toml` (`EVQ_BOARD`, which the
//! Makefile sets; without it the target's QEMU board: qemu-arm-virt for
//! aarch64, pc99 for x86_64, qemu-riscv-virt for riscv64; `EVQ_SYSTEM`
//! another file of the board's, such as `bench.toml`). It is parsed and
//! checked here, on the host, and written out as
//! a Rust constant, so a description that does not make a system fails the
//! build rather than the boot. Each domain's image is `<image>.elf` in
//! `EVQ_DOMAIN_ELFS`, which the Makefile builds first.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let board = env::var("EVQ_BOARD").unwrap_or_else(|_| {
        match env::var("CARGO_CFG_TARGET_ARCH").unwrap().as_str() {
            "aarch64" => "qemu-arm-virt",
            "x86_64" => "pc99",
            "riscv64" => "qemu-riscv-virt",
            other => panic!("no default board for {other}: set EVQ_BOARD"),
        }
        .to_string()
    });
    let file = env::var("EVQ_SYSTEM").unwrap_or_else(|_| "system.toml".to_string());
    let description = manifest.join("../../../images").join(&board).join(file);
    println!("cargo:rerun-if-changed={}", description.display());
    println!("cargo:rerun-if-env-changed=EVQ_BOARD");
    println!("cargo:rerun-if-env-changed=EVQ_SYSTEM");
    println!("cargo:rerun-if-env-changed=EVQ_DOMAIN_ELFS");
    let text = fs::read_to_string(&description).unwrap_or_else(|e| panic!("{}: {e}", description.display()));
    let system = evq_system::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", description.display()));
    check_fits(&system, &description.display().to_string());

    let elfs = PathBuf::from(env::var("EVQ_DOMAIN_ELFS").expect(
        "EVQ_DOMAIN_ELFS: the directory holding each domain's <image>.elf (the Makefile builds them: make image)",
    ));
    let mut out = String::new();
    writeln!(out, "/// `{}`, checked at build time.", description.display()).unwrap();
    writeln!(out, "pub const SYSTEM: evq_system::System<'static> = {};", system.to_rust()).unwrap();
    writeln!(out, "/// Each image the description names, by name.").unwrap();
    out.push_str("pub const IMAGES: &[(&str, &[u8])] = &[\n");
    let mut images: Vec<&str> = system.domains.iter().map(|d| d.image).collect();
    images.sort();
    images.dedup();
    for image in images {
        let path = elfs.join(format!("{image}.elf"));
        let path = path.canonicalize().unwrap_or_else(|e| panic!("{}: {e} (build the domains first)", path.display()));
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(out, "    ({image:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR").unwrap()).join("system.rs"), out).unwrap();
}

/// What the description may ask of this root task beyond `System::validate`:
/// what fits in a domain's info page (`evq-domain-info`). Checked here so a
/// description that would not fit fails the build, not the boot.
fn check_fits(system: &evq_system::System<'_>, path: &str) {
    use evq_domain_info::{MAX_DEVICES, MAX_NAMED, MAX_PEERS};
    let peers = system.domains.iter().filter(|d| d.badge().is_some()).count();
    if peers + 1 > MAX_PEERS {
        panic!("{path}: {peers} sources and clients; the server's info page holds {}", MAX_PEERS - 1);
    }
    for d in system.domains {
        let named = system
            .grants(d)
            .filter(|g| matches!(g, evq_system::Grant::Notification { .. } | evq_system::Grant::Endpoint { .. }))
            .count();
        if named > MAX_NAMED || d.devices.len() > MAX_DEVICES {
            panic!("{path}: domain {:?} has {named} notifications and endpoints (at most {MAX_NAMED}) and {} devices (at most {MAX_DEVICES})", d.name, d.devices.len());
        }
    }
}
