//! How `evq tail` shows an event: the default line, `--format`'s fields,
//! `--timefmt`'s wall-clock time, and `--json`'s decoded fields.

use std::ffi::CString;
use std::io;

use evq_abi::event::{
    network, process, vfs, Category, CountersPayload, ExitPayload, FaultPayload, StatePayload, TimePayload,
    UsagePayload,
};
use evq_client::paths::{mounted_root, EventPaths};
use evq_client::{attr_names, kind_name, ReceivedEvent, WithPaths};
use evq_hosted::console::{ClockAnchor, TreeEntry};
use serde_json::{json, Map, Value};
use zerocopy::FromBytes;

/// The `--format` fields, as `--help` lists them.
pub(crate) const FIELDS: &str = "%e kind, %c category, %p full path, %n name, %f a rename's old path, \
     %T time (per --timefmt), %s sequence number, %S source, %l events lost before it, %o object, %% a %";

/// The default `--timefmt`.
pub(crate) const DEFAULT_TIMEFMT: &str = "%H:%M:%S";

/// One piece of a `--format`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(char),
}

/// A parsed `--format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format(Vec<Piece>);

impl Format {
    /// Parses `text`; an unknown `%x` or a `%` at the end is refused in words.
    pub(crate) fn parse(text: &str) -> io::Result<Format> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => literal.push('%'),
                Some(f @ ('e' | 'c' | 'p' | 'n' | 'f' | 'T' | 's' | 'S' | 'l' | 'o')) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(f));
                }
                other => {
                    let what = other.map_or("a % at the end".to_string(), |c| format!("%{c}"));
                    return Err(io::Error::other(format!("--format: {what} is not a field; the fields are {FIELDS}")));
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Format(pieces))
    }

    /// The line for `shown`.
    pub(crate) fn render(&self, shown: &Shown<'_>, time: &Clock) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => match f {
                    'e' => out.push_str(shown.kind),
                    'c' => out.push_str(shown.category),
                    'p' => out.push_str(shown.path.as_deref().unwrap_or("")),
                    'n' => out.push_str(&shown.name),
                    'f' => out.push_str(shown.from.as_deref().unwrap_or("")),
                    'T' => out.push_str(&time.text(shown.wall_ns)),
                    's' => out.push_str(&shown.seq.map_or("-".into(), |s| s.to_string())),
                    'S' => out.push_str(shown.source),
                    'l' => out.push_str(&shown.lost.to_string()),
                    'o' => out.push_str(&shown.object.to_string()),
                    _ => {}
                },
            }
        }
        out
    }
}

/// Wall-clock time: the server's clock mapped to real time
/// ([`ClockAnchor`]), shown per `--timefmt`.
pub(crate) struct Clock {
    anchor: Option<ClockAnchor>,
    timefmt: CString,
}

impl Clock {
    /// The mapping and the `strftime(3)` format; a format with a NUL byte
    /// is refused.
    pub(crate) fn new(anchor: Option<ClockAnchor>, timefmt: &str) -> io::Result<Clock> {
        let timefmt =
            CString::new(timefmt).map_err(|_| io::Error::other("--timefmt: the format has a NUL byte".to_string()))?;
        Ok(Clock { anchor, timefmt })
    }

    /// Wall-clock ns of a server timestamp (now where the launcher gave no
    /// mapping).
    pub(crate) fn wall_ns(&self, timestamp_ns: u64) -> u64 {
        match self.anchor {
            Some(a) => a.wall_ns(timestamp_ns),
            None => now_ns(),
        }
    }

    /// `wall_ns` as `--timefmt` says, in local time.
    pub(crate) fn text(&self, wall_ns: u64) -> String {
        let secs = (wall_ns / 1_000_000_000) as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value for localtime_r to fill.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals; localtime_r is the
        // thread-safe variant.
        if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
            return secs.to_string();
        }
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for its length, the format is
        // NUL-terminated and `tm` was filled above; strftime writes at most
        // `buf.len()` bytes and returns how many (0 if they did not fit).
        let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), self.timefmt.as_ptr(), &tm) };
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// The wall clock now, ns since the epoch.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What a line shows, for a delivered event and a synthetic entry alike.
pub(crate) struct Shown<'a> {
    pub kind: &'a str,
    pub category: &'a str,
    pub path: Option<String>,
    pub name: String,
    pub from: Option<String>,
    pub wall_ns: u64,
    /// None for a synthetic entry.
    pub seq: Option<u64>,
    pub source: &'a str,
    pub lost: u64,
    pub object: u64,
}

impl<'a> Shown<'a> {
    /// A delivered event, with the paths the tail's map gave it.
    pub(crate) fn event(e: &ReceivedEvent<'_>, paths: Option<&EventPaths>, source: &'a str, clock: &Clock) -> Self {
        Shown {
            kind: kind_name(e.category, e.kind),
            category: e.category.name(),
            path: paths.and_then(|p| p.path.clone()),
            name: paths.map_or_else(String::new, |p| p.name.clone()),
            from: paths.and_then(|p| p.from.as_ref()).and_then(|(path, _)| path.clone()),
            wall_ns: clock.wall_ns(e.timestamp_ns),
            seq: Some(e.seq),
            source,
            lost: e.lost_before,
            object: e.object_id,
        }
    }

    /// A listed entry: `kind` is `initial` (the `--initial` listing) or
    /// `create` (found in a directory a recursive watch took on later).
    pub(crate) fn listed(entry: &TreeEntry, kind: &'a str) -> Self {
        Shown {
            kind,
            category: Category::Vfs.name(),
            path: Some(entry.path.clone()),
            name: base_name(&entry.path).to_string(),
            from: None,
            wall_ns: now_ns(),
            seq: None,
            source: "-",
            lost: 0,
            object: entry.inode,
        }
    }
}

/// The last component of an absolute path ("/" for the root).
pub(crate) fn base_name(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, "")) | None => path,
        Some((_, name)) => name,
    }
}

/// The default line of a delivered event: the time, the source, and the
/// event as `evq_client` shows it, with full paths.
pub(crate) fn line(e: &ReceivedEvent<'_>, paths: Option<&EventPaths>, source: &str, clock: &Clock) -> String {
    let time = clock.text(clock.wall_ns(e.timestamp_ns));
    let path = paths.and_then(|p| p.path.as_deref());
    let from = paths.and_then(|p| p.from.as_ref()).and_then(|(p, _)| p.as_deref());
    format!("{time} {source:<8} {}", WithPaths { event: e, path, from })
}

/// The default line of a synthetic entry (see [`Shown::listed`]).
pub(crate) fn listed_line(entry: &TreeEntry, kind: &str, clock: &Clock) -> String {
    let time = clock.text(now_ns());
    let dir = if entry.dir { " dir" } else { "" };
    let tail = if kind == "initial" { "" } else { " (listed)" };
    format!(
        "{time} {:<8} - vfs {kind} path={:?} object={} mode={:04o} size={} nlink={}{dir}{tail}",
        "-", entry.path, entry.inode, entry.mode, entry.size, entry.nlink
    )
}

/// The JSON object of a synthetic entry.
pub(crate) fn listed_json(entry: &TreeEntry, kind: &str, clock: &Clock) -> Value {
    let wall_ns = now_ns();
    json!({
        "synthetic": true,
        "kind": kind,
        "category": "vfs",
        "path": entry.path,
        "name": base_name(&entry.path),
        "object": entry.inode,
        "dir": entry.dir,
        "mode": entry.mode,
        "size": entry.size,
        "nlink": entry.nlink,
        "wall_ns": wall_ns,
        "time": clock.text(wall_ns),
    })
}

/// The name of a fault kind (`process::fault`).
fn fault_name(kind: u32) -> &'static str {
    match kind {
        process::fault::VM => "vm",
        process::fault::CAP => "cap",
        process::fault::UNKNOWN_SYSCALL => "unknown-syscall",
        process::fault::USER_EXCEPTION => "user-exception",
        process::fault::OTHER => "other",
        _ => "?",
    }
}

/// The JSON object of a delivered event: the record's fields, the payload
/// decoded into named fields where its kind defines one, the payload as hex
/// beside them, and the default text.
pub(crate) fn event_json(e: &ReceivedEvent<'_>, paths: Option<&EventPaths>, source: &str, clock: &Clock) -> Value {
    let wall_ns = clock.wall_ns(e.timestamp_ns);
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    put("seq", e.seq.into());
    put("timestamp_ns", e.timestamp_ns.into());
    put("wall_ns", wall_ns.into());
    put("time", clock.text(wall_ns).into());
    put("category", e.category.name().into());
    put("kind", kind_name(e.category, e.kind).into());
    put("object", e.object_id.into());
    put("source_id", e.source_id.into());
    put("source", source.into());
    put("type_flags", e.type_flags.into());
    put("watch", e.watch_id.into());
    put("critical", e.critical.into());
    put("coalesced", e.coalesced.into());
    put("lost_before", e.lost_before.into());
    let p = e.payload;
    match e.category {
        Category::Vfs => {
            put("dir", (e.type_flags & vfs::flags::IS_DIR != 0).into());
            if e.kind == vfs::ATTRIB {
                put("attrs", attr_names(e.type_flags).collect::<Vec<_>>().into());
            }
            if let Some(paths) = paths {
                put("name", paths.name.clone().into());
                put("parent", paths.parent.into());
                put("path", paths.path.clone().into());
                if let Some((old_path, old_name)) = &paths.from {
                    let old_parent = evq_abi::event::decode_rename(p).map_or(0, |r| r.old_parent);
                    put("old_name", old_name.clone().into());
                    put("old_parent", old_parent.into());
                    put("old_path", old_path.clone().into());
                    put("new_name", paths.name.clone().into());
                    put("new_parent", paths.parent.into());
                    put("new_path", paths.path.clone().into());
                }
            }
            if let (vfs::MOUNT | vfs::UNMOUNT, Ok((_, fs_id, _))) = (e.kind, evq_abi::event::decode_mount(p)) {
                put("fs_id", fs_id.into());
                put("mounted_root", mounted_root(fs_id).into());
            }
        }
        Category::Process if e.kind == process::FAULT => {
            if let Ok(f) = FaultPayload::read_from_bytes(p) {
                put("fault", fault_name(f.kind.get()).into());
                put("fault_kind", f.kind.get().into());
                put("address", f.address.get().into());
                put("ip", f.ip.get().into());
            }
        }
        Category::Process if e.kind == process::EXIT => {
            if let Ok(x) = ExitPayload::read_from_bytes(p) {
                put("code", (x.code.get() as i64).into());
            }
        }
        Category::Network => match e.kind {
            network::LINK_UP => put("link", "up".into()),
            network::LINK_DOWN => put("link", "down".into()),
            _ => {
                if let Ok(c) = CountersPayload::read_from_bytes(p) {
                    put("packets", c.packets.get().into());
                    put("bytes", c.bytes.get().into());
                }
            }
        },
        Category::Device => match e.kind {
            evq_abi::event::device::INPUT => put("input", String::from_utf8_lossy(p).into_owned().into()),
            evq_abi::event::device::TIME => {
                if let Ok(t) = TimePayload::read_from_bytes(p) {
                    put("unix_seconds", t.unix_seconds.get().into());
                }
            }
            _ => {
                if let Ok(s) = StatePayload::read_from_bytes(p) {
                    put("state", s.state.get().into());
                }
            }
        },
        Category::Memory => {
            if let Ok(u) = UsagePayload::read_from_bytes(p) {
                put("used", u.used.get().into());
                put("total", u.total.get().into());
            }
        }
        _ => {}
    }
    put("payload", p.iter().map(|b| format!("{b:02x}")).collect::<String>().into());
    let path = paths.and_then(|x| x.path.as_deref());
    let from = paths.and_then(|x| x.from.as_ref()).and_then(|(x, _)| x.as_deref());
    put("text", WithPaths { event: e, path, from }.to_string().into());
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_is_text_and_fields_and_unknown_fields_are_refused() {
        let f = Format::parse("%e %p 100%%").unwrap();
        assert_eq!(
            f.0,
            vec![Piece::Field('e'), Piece::Text(" ".into()), Piece::Field('p'), Piece::Text(" 100%".into())]
        );
        assert!(Format::parse("%q").unwrap_err().to_string().contains("%q is not a field"));
        assert!(Format::parse("50%").unwrap_err().to_string().contains("a % at the end"));
    }

    #[test]
    fn base_names() {
        assert_eq!((base_name("/"), base_name("/d/sub"), base_name("/x")), ("/", "sub", "x"));
    }
}
