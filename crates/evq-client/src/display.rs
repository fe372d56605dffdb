//! One line per event, in the manner of `inotifywait`.

use core::fmt;

use evq_abi::event::{
    decode_dentry, decode_mount, decode_rename, device, memory, network, process, system, vfs, Category,
    CountersPayload, ExitPayload, FaultPayload, StatePayload, TimePayload, UsagePayload,
};
use zerocopy::FromBytes;

use crate::ReceivedEvent;

/// The lower-case name of a kind, or `"?"` for one this client does not know.
pub fn kind_name(category: Category, kind: u8) -> &'static str {
    const VFS: [&str; 6] = ["create", "delete", "rename", "attrib", "mount", "unmount"];
    const PROCESS: [&str; 3] = ["start", "fault", "exit"];
    const NETWORK: [&str; 4] = ["link-up", "link-down", "rx", "tx"];
    const DEVICE: [&str; 3] = ["input", "time", "state"];
    const MEMORY: [&str; 3] = ["low", "exhausted", "recovered"];
    const SYSTEM: [&str; 3] = ["up", "domain-set-complete", "shutdown"];
    let names: &[&str] = match category {
        Category::Meta => &["skip", "loss"],
        Category::Vfs => &VFS,
        Category::Process => &PROCESS,
        Category::Network => &NETWORK,
        Category::Device => &DEVICE,
        Category::Memory => &MEMORY,
        Category::System => &SYSTEM,
    };
    names.get(usize::from(kind)).copied().unwrap_or("?")
}

/// The names of the attribute flags set in a VFS event's `type_flags`
/// (`mode`, `size`, `atime`, `mtime`, `owner`, `nlink`), in bit order.
pub fn attr_names(type_flags: u8) -> impl Iterator<Item = &'static str> {
    const ATTRS: [(u8, &str); 6] = [
        (vfs::flags::ATTR_MODE, "mode"),
        (vfs::flags::ATTR_SIZE, "size"),
        (vfs::flags::ATTR_ATIME, "atime"),
        (vfs::flags::ATTR_MTIME, "mtime"),
        (vfs::flags::ATTR_OWNER, "owner"),
        (vfs::flags::ATTR_NLINK, "nlink"),
    ];
    ATTRS.into_iter().filter(move |(bit, _)| type_flags & bit != 0).map(|(_, name)| name)
}

struct Name<'a>(&'a [u8]);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                write!(f, "{}", c.escape_debug())?;
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

/// An event shown with the full paths of its names (from
/// [`crate::paths::PathMap`] or anything else that knows them): a VFS
/// event's `name=PARENT:"NAME"` becomes `path="PATH"`, a rename's
/// `from=…:… to=…:…` becomes `from="OLD" to="NEW"`, a mount's `at=…:…`
/// becomes `at="PATH"`; where a path is `None` the parent and name are
/// shown as without one. Other events are shown as [`ReceivedEvent`]'s
/// `Display` shows them.
#[derive(Clone, Copy, Debug)]
pub struct WithPaths<'a> {
    /// The event.
    pub event: &'a ReceivedEvent<'a>,
    /// The full path of the name it is about (a rename's new name).
    pub path: Option<&'a str>,
    /// A rename's old full path.
    pub from: Option<&'a str>,
}

impl fmt::Display for WithPaths<'_> {
    /// As [`ReceivedEvent`]'s, with paths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_event(f, self.event, self.path, self.from)
    }
}

impl fmt::Display for ReceivedEvent<'_> {
    /// `seq category kind object=… source=… detail`, plus markers for loss,
    /// coalescing and priority. Payloads that do not decode are shown by length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_event(f, self, None, None)
    }
}

fn write_event(
    f: &mut fmt::Formatter<'_>,
    e: &ReceivedEvent<'_>,
    path: Option<&str>,
    from: Option<&str>,
) -> fmt::Result {
    let path = path.map(|p| Name(p.as_bytes()));
    let from = from.map(|p| Name(p.as_bytes()));
    if e.lost_before > 0 {
        write!(f, "[{} lost] ", e.lost_before)?;
    }
    write!(
        f,
        "#{} {} {} object={} source={}",
        e.seq,
        e.category.name(),
        kind_name(e.category, e.kind),
        e.object_id,
        e.source_id
    )?;
    let p = e.payload;
    match (e.category, e.kind) {
        (Category::Vfs, vfs::RENAME) => match decode_rename(p) {
            Ok(r) => {
                match &from {
                    Some(old) => write!(f, " from={old}")?,
                    None => write!(f, " from={}:{}", r.old_parent, Name(r.old_name))?,
                }
                match &path {
                    Some(new) => write!(f, " to={new}")?,
                    None => write!(f, " to={}:{}", r.new_parent, Name(r.new_name))?,
                }
            }
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Vfs, vfs::MOUNT | vfs::UNMOUNT) => match (decode_mount(p), &path) {
            (Ok((_, fs, _)), Some(at)) => write!(f, " at={at} fs={fs}")?,
            (Ok((parent, fs, name)), None) => write!(f, " at={}:{} fs={}", parent, Name(name), fs)?,
            (Err(_), _) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Vfs, _) => match (decode_dentry(p), &path) {
            (Ok(_), Some(at)) => write!(f, " path={at}")?,
            (Ok((parent, name)), None) => write!(f, " name={}:{}", parent, Name(name))?,
            (Err(_), _) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Process, process::FAULT) => match FaultPayload::read_from_bytes(p) {
            Ok(x) => write!(f, " fault={} addr={:#x} ip={:#x}", x.kind.get(), x.address.get(), x.ip.get())?,
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Process, process::EXIT) => match ExitPayload::read_from_bytes(p) {
            Ok(x) => write!(f, " code={}", x.code.get() as i64)?,
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Network, network::RX | network::TX) => match CountersPayload::read_from_bytes(p) {
            Ok(x) => write!(f, " packets={} bytes={}", x.packets.get(), x.bytes.get())?,
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Device, device::INPUT) => write!(f, " input={}", Name(p))?,
        (Category::Device, device::TIME) => match TimePayload::read_from_bytes(p) {
            Ok(x) => write!(f, " unix={}", x.unix_seconds.get())?,
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Device, device::STATE) => match StatePayload::read_from_bytes(p) {
            Ok(x) => write!(f, " state={}", x.state.get())?,
            Err(_) => write!(f, " payload={}B", p.len())?,
        },
        (Category::Memory, memory::LOW | memory::EXHAUSTED | memory::RECOVERED) => {
            match UsagePayload::read_from_bytes(p) {
                Ok(x) => write!(f, " used={} total={}", x.used.get(), x.total.get())?,
                Err(_) => write!(f, " payload={}B", p.len())?,
            }
        }
        (Category::System, system::UP | system::SHUTDOWN | system::DOMAIN_SET_COMPLETE) if p.is_empty() => {}
        _ if p.is_empty() => {}
        _ => write!(f, " payload={}B", p.len())?,
    }
    if e.category == Category::Vfs {
        if e.type_flags & vfs::flags::IS_DIR != 0 {
            f.write_str(" dir")?;
        }
        let mut sep = " attrs=";
        for name in attr_names(e.type_flags) {
            write!(f, "{sep}{name}")?;
            sep = ",";
        }
    }
    if e.coalesced > 0 {
        write!(f, " (+{} coalesced)", e.coalesced)?;
    }
    if e.critical {
        f.write_str(" !critical")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::string::ToString;

    use super::*;
    use evq_abi::event::{encode_rename, Rename};

    fn event(category: Category, kind: u8, type_flags: u8, payload: &[u8]) -> ReceivedEvent<'_> {
        ReceivedEvent {
            category,
            kind,
            type_flags,
            watch_id: 0,
            critical: false,
            coalesced: 0,
            lost_before: 0,
            seq: 4,
            timestamp_ns: 0,
            object_id: 9,
            source_id: 1,
            payload,
        }
    }

    #[test]
    fn a_rename_shows_both_names() {
        let mut buf = [0u8; 64];
        let n = encode_rename(&Rename { old_parent: 1, old_name: b"a", new_parent: 2, new_name: b"b\n" }, &mut buf)
            .unwrap();
        let line = format!("{}", event(Category::Vfs, vfs::RENAME, 0, &buf[..n]));
        assert_eq!(line, "#4 vfs rename object=9 source=1 from=1:\"a\" to=2:\"b\\n\"");
    }

    #[test]
    fn loss_coalescing_attributes_and_bad_payloads_are_marked() {
        let mut e = event(Category::Vfs, vfs::ATTRIB, vfs::flags::ATTR_SIZE | vfs::flags::ATTR_MODE, b"xx");
        e.lost_before = 3;
        e.coalesced = 2;
        e.critical = true;
        let line = format!("{e}");
        assert_eq!(
            line,
            "[3 lost] #4 vfs attrib object=9 source=1 payload=2B attrs=mode,size (+2 coalesced) !critical"
        );
    }

    #[test]
    fn with_paths_shows_full_paths_for_names_renames_and_mounts() {
        use evq_abi::event::{encode_dentry, encode_mount, MAX_PAYLOAD};
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = encode_dentry(3, b"f", &mut buf).unwrap();
        let e = event(Category::Vfs, vfs::CREATE, 0, &buf[..n]);
        assert!(WithPaths { event: &e, path: Some("/d/f"), from: None }.to_string().ends_with(" path=\"/d/f\""));
        assert!(WithPaths { event: &e, path: None, from: None }.to_string().ends_with(" name=3:\"f\""));
        let r = Rename { old_parent: 3, old_name: b"f", new_parent: 4, new_name: b"g" };
        let n = encode_rename(&r, &mut buf).unwrap();
        let e = event(Category::Vfs, vfs::RENAME, 0, &buf[..n]);
        let shown = WithPaths { event: &e, path: Some("/e/g"), from: Some("/d/f") }.to_string();
        assert!(shown.ends_with(" from=\"/d/f\" to=\"/e/g\""), "{shown}");
        let n = encode_mount(3, 2, b"m", &mut buf).unwrap();
        let e = event(Category::Vfs, vfs::MOUNT, 0, &buf[..n]);
        assert!(WithPaths { event: &e, path: Some("/d/m"), from: None }.to_string().ends_with(" at=\"/d/m\" fs=2"));
    }
}
