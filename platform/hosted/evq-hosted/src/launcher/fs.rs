//! The launcher's client of the VFS domain: `evq fs` commands (paths)
//! turned into the domain's requests (inodes), resolving paths with
//! `Lookup`s, over the launcher's end of the domain's request socket
//! (`docs/hosted.md`, "Limits and choices"). A file's data goes in as many
//! `Write`s and comes out in as many `Read`s as it needs, a directory's
//! names in as many `ReadDir`s.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use evq_abi::msg::MAX_MSG_BYTES;
use evq_vfs_api::{Attrs, ErrorCode, Kind, Refusal, Reply, Request, SetAttrs, MAX_READ, MAX_WRITE, ROOT_INODE};

use evq_vfs::limits::{MAX_ENTRIES, MAX_FILE_SIZE};

use crate::console::{TreeEntry, MAX_FS_WRITE};
use crate::sys;
use crate::wire::{self, HEAD, RECV_BUF};

/// How long the launcher waits for the VFS domain's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A directory's entry as the launcher keeps it: inode, kind, name.
type Named = (u64, Kind, Vec<u8>);

/// The launcher's end of the VFS domain's request socket.
struct Vfs<'a>(&'a OwnedFd);

impl Vfs<'_> {
    /// Sends `request`, waits for the reply, and hands it, decoded, to
    /// `take` (it borrows the receive buffer).
    fn call<T>(&self, request: &Request<'_>, take: impl FnOnce(Reply<'_>) -> T) -> io::Result<T> {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).map_err(|e| io::Error::other(e.to_string()))?;
        let mut out = [0u8; HEAD + MAX_MSG_BYTES];
        let n = wire::frame(label, &body[..len], &mut out);
        sys::send(self.0.as_fd(), &out[..n], &[], false)?;
        if !sys::poll(&[self.0.as_fd()], Some(REPLY_TIMEOUT))?[0] {
            return Err(io::Error::other("the VFS domain does not answer"));
        }
        let mut buf = [0u8; RECV_BUF];
        let got =
            sys::recv(self.0.as_fd(), &mut buf, 0, false)?.ok_or_else(|| io::Error::other("the VFS domain is gone"))?;
        let (rlabel, rbody) = wire::unframe(&buf[..got.len]);
        let reply = Reply::decode(label, rlabel, rbody).map_err(|e| io::Error::other(format!("bad reply: {e}")))?;
        Ok(take(reply))
    }

    /// A request answered with an inode, attributes or nothing: its answer,
    /// or the refusal in words after `what`.
    fn ask(&self, what: &str, request: &Request<'_>) -> io::Result<Answer> {
        self.try_ask(request)?.map_err(|e| refused(what, e))
    }

    /// [`Vfs::ask`], with the refusal as the VFS domain gave it.
    fn try_ask(&self, request: &Request<'_>) -> io::Result<Result<Answer, (ErrorCode, u32)>> {
        self.call(request, |reply| match reply {
            Reply::Inode(i) => Ok(Answer::Inode(i)),
            Reply::Attrs(a) => Ok(Answer::Attrs(a)),
            Reply::Done => Ok(Answer::Done),
            Reply::Error { code, detail } => Err((code, detail)),
            other => Ok(Answer::Unexpected(reply_kind(&other))),
        })
    }

    fn lookup(&self, dir: u64, name: &[u8]) -> io::Result<Option<u64>> {
        match self.call(&Request::Lookup { dir, name }, |r| match r {
            Reply::Inode(i) => Ok(Some(i)),
            Reply::Error { code: ErrorCode::NoEntry, .. } => Ok(None),
            Reply::Error { code, detail } => Err((code, detail)),
            _ => Ok(None),
        })? {
            Ok(found) => Ok(found),
            Err(e) => Err(refused("lookup", e)),
        }
    }

    fn stat(&self, what: &str, inode: u64) -> io::Result<Attrs> {
        match self.ask(what, &Request::Stat { inode })? {
            Answer::Attrs(a) => Ok(a),
            other => Err(other.unexpected(what)),
        }
    }

    /// The directory inode and last name of `path` (absolute, `/`-separated).
    fn parent_of<'p>(&self, path: &'p str) -> io::Result<(u64, &'p [u8])> {
        let mut parts = components(path)?;
        let name = parts.pop().ok_or_else(|| io::Error::other("the root has no parent"))?;
        let mut dir = ROOT_INODE;
        for part in parts {
            dir = self
                .lookup(dir, part.as_bytes())?
                .ok_or_else(|| io::Error::other(format!("{part}: no such directory")))?;
        }
        Ok((dir, name.as_bytes()))
    }

    fn resolve(&self, path: &str) -> io::Result<u64> {
        if components(path)?.is_empty() {
            return Ok(ROOT_INODE);
        }
        let (dir, name) = self.parent_of(path)?;
        self.lookup(dir, name)?.ok_or_else(|| io::Error::other(format!("{path}: no such file or directory")))
    }

    /// Every entry of directory `dir`, following `ReadDir`'s cookies, in
    /// name order.
    fn list(&self, what: &str, dir: u64) -> io::Result<Vec<Named>> {
        let mut all = Vec::new();
        let mut cookie = 0;
        loop {
            let next = self.call(&Request::ReadDir { dir, cookie }, |r| match r {
                Reply::Listing(l) => {
                    all.extend(l.iter().map(|e| (e.inode, e.kind, e.name.to_vec())));
                    Ok(l.next())
                }
                Reply::Error { code, detail } => Err(refused(what, (code, detail))),
                other => Err(Answer::Unexpected(reply_kind(&other)).unexpected(what)),
            })??;
            match resume(what, cookie, next, all.len())? {
                None => {
                    all.sort_by(|a, b| a.2.cmp(&b.2));
                    return Ok(all);
                }
                Some(at) => cookie = at,
            }
        }
    }

    /// A whole file's bytes, in as many `Read`s as it takes.
    fn read_all(&self, what: &str, inode: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let request = Request::Read { inode, offset: out.len() as u64, len: MAX_READ as u32 };
            let more = self.call(&request, |r| match r {
                Reply::Data(d) => {
                    out.extend_from_slice(d);
                    Ok(!d.is_empty())
                }
                Reply::Error { code, detail } => Err(refused(what, (code, detail))),
                other => Err(Answer::Unexpected(reply_kind(&other)).unexpected(what)),
            })??;
            if !more {
                return Ok(out);
            }
            within(what, "bytes of file", out.len(), MAX_FILE_SIZE as usize)?;
        }
    }

    /// Writes `data` to the file at `path` (made if need be): replacing its
    /// contents, or after them with `append`, in `Write`s of at most
    /// [`MAX_WRITE`] bytes at their offsets.
    fn write(&self, path: &str, data: &[u8], append: bool) -> io::Result<String> {
        let what = format!("write {path}");
        if data.len() > MAX_FS_WRITE {
            return Err(io::Error::other(format!(
                "{what}: {} bytes is more than one evq fs write carries ({MAX_FS_WRITE} bytes at most)",
                data.len()
            )));
        }
        let (dir, name) = self.parent_of(path)?;
        let inode = match self.lookup(dir, name)? {
            Some(i) => i,
            None => match self.ask(&what, &Request::Create { dir, name, mode: 0o644 })? {
                Answer::Inode(i) => i,
                other => return Err(other.unexpected(&what)),
            },
        };
        let mut attrs = self.stat(&what, inode)?;
        if attrs.kind == Kind::Dir {
            return Err(refused(&what, (ErrorCode::IsDir, 0)));
        }
        let start = if append { attrs.size } else { 0 };
        // Refused whole, before anything changes, rather than by the WRITE
        // that would cross the line.
        // The size is the VFS domain's word: checked, not trusted to add.
        if start.checked_add(data.len() as u64).is_none_or(|end| end > MAX_FS_WRITE as u64) {
            return Err(refused(&what, (ErrorCode::FileTooLarge, 0)));
        }
        if !append && attrs.size != 0 {
            let truncate = SetAttrs { size: Some(0), ..SetAttrs::default() };
            if let Answer::Attrs(a) = self.ask(&what, &Request::SetAttr { inode, attrs: truncate })? {
                attrs = a;
            }
        }
        for (i, chunk) in data.chunks(MAX_WRITE).enumerate() {
            let offset = start + (i * MAX_WRITE) as u64;
            match self.ask(&what, &Request::Write { inode, offset, data: chunk }) {
                Ok(Answer::Attrs(a)) => attrs = a,
                Ok(other) => return Err(other.unexpected(&what)),
                // Say how far it got: the bytes before this one are written.
                Err(e) if i > 0 => return Err(io::Error::other(format!("{e} (after {} bytes)", i * MAX_WRITE))),
                Err(e) => return Err(e),
            }
        }
        Ok(format!("{what}: {} bytes, inode {inode}, now {} bytes", data.len(), attrs.size))
    }

    /// The subtree at `path`: it first, then, for a directory, each entry
    /// in name order, each directory followed by its own subtree.
    fn tree(&self, path: &str) -> io::Result<Vec<TreeEntry>> {
        let what = format!("tree {path}");
        let parts = components(path)?;
        let inode = self.resolve(path)?;
        let top = format!("/{}", parts.join("/"));
        let mut out = Vec::new();
        self.add(&what, top, inode, &mut out).map(|()| out)
    }

    fn add(&self, what: &str, path: String, inode: u64, out: &mut Vec<TreeEntry>) -> io::Result<()> {
        // Bounds the walk (and its recursion) whatever the VFS domain
        // answers: one that lists a directory inside itself ends here.
        within(what, "entries in a tree", out.len() + 1, MAX_ENTRIES + 1)?;
        let a = self.stat(what, inode)?;
        let dir = a.kind == Kind::Dir;
        out.push(TreeEntry { path: path.clone(), inode: a.inode, dir, mode: a.mode, size: a.size, nlink: a.nlink });
        if dir {
            for (child, _, name) in self.list(what, a.inode)? {
                let sep = if path == "/" { "" } else { "/" };
                self.add(what, format!("{path}{sep}{}", String::from_utf8_lossy(&name)), child, out)?;
            }
        }
        Ok(())
    }
}

/// What a request other than `Read` or `ReadDir` answered.
enum Answer {
    Inode(u64),
    Attrs(Attrs),
    Done,
    /// Another kind of reply, as [`reply_kind`] names it.
    Unexpected(&'static str),
}

/// A reply's kind in words, for a reply the request does not take (its
/// bytes would be no message).
fn reply_kind(reply: &Reply<'_>) -> &'static str {
    match reply {
        Reply::Done => "an empty reply",
        Reply::Inode(_) => "an inode",
        Reply::Attrs(_) => "attributes",
        Reply::Data(_) => "file data",
        Reply::Listing(_) => "a directory listing",
        Reply::Error { .. } => "a refusal",
    }
}

impl Answer {
    fn unexpected(&self, what: &str) -> io::Error {
        let got = match self {
            Answer::Inode(i) => format!("inode {i}"),
            Answer::Attrs(a) => format!("attributes of inode {}", a.inode),
            Answer::Done => "an empty reply".into(),
            Answer::Unexpected(kind) => (*kind).into(),
        };
        io::Error::other(format!("{what}: the VFS domain answered with {got}"))
    }

    fn said(self, what: String) -> String {
        match self {
            Answer::Inode(i) => format!("{what}: inode {i}"),
            Answer::Attrs(a) => format!("{what}: inode {}, {} bytes, mode {:o}", a.inode, a.size, a.mode),
            Answer::Done | Answer::Unexpected(_) => what,
        }
    }
}

/// The cookie to ask for after a listing reply whose `next` is given, or
/// `None` at the end. The VFS domain is a peer: a cookie that does not
/// advance, or more names than its tables hold, would keep the launcher's
/// loop asking for ever; either is refused in words.
fn resume(what: &str, cookie: u64, next: u64, listed: usize) -> io::Result<Option<u64>> {
    within(what, "names in a directory", listed, MAX_ENTRIES)?;
    match next {
        0 => Ok(None),
        n if n > cookie => Ok(Some(n)),
        n => Err(io::Error::other(format!(
            "{what}: the VFS domain's listing does not advance (cookie {n} after {cookie})"
        ))),
    }
}

/// Refuses `count` of `what_of` past `limit`: more than the VFS core's
/// tables can hold (`evq_vfs::limits`), so an answer not to be believed.
fn within(what: &str, what_of: &str, count: usize, limit: usize) -> io::Result<()> {
    if count > limit {
        return Err(io::Error::other(format!(
            "{what}: the VFS domain answered with more {what_of} than its tables hold ({limit}); its answers are refused"
        )));
    }
    Ok(())
}

fn refused(what: &str, (code, detail): (ErrorCode, u32)) -> io::Error {
    io::Error::other(format!("{what}: {}", Refusal { code, detail }))
}

/// The names along an absolute path, empty ones (`//`, a trailing `/`)
/// dropped; the root is none.
fn components(path: &str) -> io::Result<Vec<&str>> {
    let rest = path.strip_prefix('/').ok_or_else(|| io::Error::other(format!("{path}: paths start with /")))?;
    Ok(rest.split('/').filter(|p| !p.is_empty()).collect())
}

fn vfs(fd: Option<&OwnedFd>) -> io::Result<Vfs<'_>> {
    fd.map(Vfs).ok_or_else(|| io::Error::other("this system has no VFS domain"))
}

/// The console's `fs-write`: `data` into the file at `path`.
pub(super) fn write(fd: Option<&OwnedFd>, path: &str, data: &[u8], append: bool) -> io::Result<String> {
    vfs(fd)?.write(path, data, append)
}

/// The console's `fs-read`: the whole file at `path`.
pub(super) fn read(fd: Option<&OwnedFd>, path: &str) -> io::Result<Vec<u8>> {
    let vfs = vfs(fd)?;
    let what = format!("cat {path}");
    let inode = vfs.resolve(path)?;
    vfs.read_all(&what, inode)
}

/// The console's `tree`.
pub(super) fn tree(fd: Option<&OwnedFd>, path: &str) -> io::Result<Vec<TreeEntry>> {
    vfs(fd)?.tree(path)
}

/// `ls -l`'s line for one entry: type, mode, links, size, inode, name.
fn long_line(a: &Attrs, name: &str) -> String {
    let (t, slash) = if a.kind == Kind::Dir { ('d', "/") } else { ('-', "") };
    format!("{t} {:04o} {:>3} {:>6} {:>16} {name}{slash}", a.mode, a.nlink, a.size, a.inode)
}

/// The `evq fs` commands as words: `mkdir PATH`, `touch PATH`, `write
/// [--append] PATH TEXT` (replaces the contents, or appends, making the
/// file if need be), `mv FROM TO`, `ln FILE NEWPATH` (a hard link), `rm
/// PATH` (a file, or an empty directory), `chmod MODE PATH` (octal),
/// `truncate PATH SIZE`, `mount DIR`, `umount DIR`, `cat FILE` (as text),
/// `ls [-l] [PATH]`, `stat [--json] PATH`.
pub(super) fn forward(fd: Option<&OwnedFd>, args: &[String]) -> io::Result<String> {
    let vfs = vfs(fd)?;
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = || io::Error::other(format!("usage: evq fs {}", forward_usage(a.first().copied())));
    match a.as_slice() {
        ["mkdir", path] => {
            let (dir, name) = vfs.parent_of(path)?;
            let what = format!("mkdir {path}");
            Ok(vfs.ask(&what, &Request::Mkdir { dir, name, mode: 0o755 })?.said(what))
        }
        ["touch", path] => {
            let (dir, name) = vfs.parent_of(path)?;
            let what = format!("touch {path}");
            let answer = match vfs.lookup(dir, name)? {
                None => vfs.ask(&what, &Request::Create { dir, name, mode: 0o644 })?,
                Some(inode) => {
                    let now = Some(sys::unix_seconds() * 1_000_000_000);
                    let attrs = SetAttrs { atime_ns: now, mtime_ns: now, ..SetAttrs::default() };
                    vfs.ask(&what, &Request::SetAttr { inode, attrs })?
                }
            };
            Ok(answer.said(what))
        }
        ["write", "--append", path, text @ ..] if !text.is_empty() => vfs.write(path, text.join(" ").as_bytes(), true),
        ["write", path, text @ ..] if !text.is_empty() && *path != "--append" => {
            vfs.write(path, text.join(" ").as_bytes(), false)
        }
        ["mv", from, to] => {
            let (old_dir, old_name) = vfs.parent_of(from)?;
            let (new_dir, new_name) = vfs.parent_of(to)?;
            let what = format!("mv {from} {to}");
            Ok(vfs.ask(&what, &Request::Rename { old_dir, old_name, new_dir, new_name })?.said(what))
        }
        ["ln", file, link] => {
            let inode = vfs.resolve(file)?;
            let (new_dir, name) = vfs.parent_of(link)?;
            let what = format!("ln {file} {link}");
            Ok(vfs.ask(&what, &Request::Link { inode, new_dir, name })?.said(what))
        }
        ["rm", path] => {
            let (dir, name) = vfs.parent_of(path)?;
            let what = format!("rm {path}");
            match vfs.try_ask(&Request::Unlink { dir, name })? {
                Err((ErrorCode::IsDir, _)) => Ok(vfs.ask(&what, &Request::Rmdir { dir, name })?.said(what)),
                other => Ok(other.map_err(|e| refused(&what, e))?.said(what)),
            }
        }
        ["chmod", mode, path] => {
            let mode =
                u32::from_str_radix(mode, 8).map_err(|_| io::Error::other(format!("{mode}: not an octal mode")))?;
            let inode = vfs.resolve(path)?;
            let attrs = SetAttrs { mode: Some(mode), ..SetAttrs::default() };
            let what = format!("chmod {mode:o} {path}");
            Ok(vfs.ask(&what, &Request::SetAttr { inode, attrs })?.said(what))
        }
        ["truncate", path, size] => {
            let what = format!("truncate {path}");
            let size: u64 = size
                .parse()
                .map_err(|_| io::Error::other(format!("{what}: {size:?} is not a size in bytes (a whole number)")))?;
            let inode = vfs.resolve(path)?;
            let attrs = SetAttrs { size: Some(size), ..SetAttrs::default() };
            Ok(vfs.ask(&what, &Request::SetAttr { inode, attrs })?.said(what))
        }
        ["mount", path] => {
            let dir = vfs.resolve(path)?;
            let what = format!("mount {path}");
            Ok(vfs.ask(&what, &Request::Mount { dir })?.said(what))
        }
        ["umount", path] => {
            let dir = vfs.resolve(path)?;
            let what = format!("umount {path}");
            Ok(vfs.ask(&what, &Request::Unmount { dir })?.said(what))
        }
        ["cat", path] => {
            let inode = vfs.resolve(path)?;
            Ok(String::from_utf8_lossy(&vfs.read_all(&format!("cat {path}"), inode)?).into_owned())
        }
        ["ls", rest @ ..] => {
            let (long, paths) = match rest {
                ["-l", more @ ..] => (true, more),
                more => (false, more),
            };
            let path = match paths {
                [] => "/",
                [p] => p,
                _ => return Err(usage()),
            };
            let what = format!("ls {path}");
            let inode = vfs.resolve(path)?;
            let top = vfs.stat(&what, inode)?;
            let entries = if top.kind == Kind::Dir {
                vfs.list(&what, top.inode)?
            } else {
                let name = components(path)?.last().map_or(Vec::new(), |n| n.as_bytes().to_vec());
                vec![(top.inode, top.kind, name)]
            };
            let mut lines = Vec::new();
            for (inode, kind, name) in entries {
                let name = String::from_utf8_lossy(&name);
                if long {
                    lines.push(long_line(&vfs.stat(&what, inode)?, &name));
                } else {
                    lines.push(format!("{name}{}", if kind == Kind::Dir { "/" } else { "" }));
                }
            }
            Ok(lines.join("\n"))
        }
        ["stat", "--json", path] => {
            let inode = vfs.resolve(path)?;
            let a = vfs.stat(&format!("stat {path}"), inode)?;
            let kind = if a.kind == Kind::Dir { "directory" } else { "file" };
            let json = serde_json::json!({
                "path": path, "inode": a.inode, "type": kind, "mode": a.mode, "size": a.size, "nlink": a.nlink,
                "uid": a.uid, "gid": a.gid, "atime_ns": a.atime_ns, "mtime_ns": a.mtime_ns,
            });
            Ok(json.to_string())
        }
        ["stat", path] => {
            let inode = vfs.resolve(path)?;
            let a = vfs.stat(&format!("stat {path}"), inode)?;
            let kind = if a.kind == Kind::Dir { "directory" } else { "file" };
            Ok(format!(
                "path: {path}\ninode: {}\ntype: {kind}\nmode: {:04o}\nsize: {}\nnlink: {}\nuid: {}\ngid: {}\natime_ns: {}\nmtime_ns: {}",
                a.inode, a.mode, a.size, a.nlink, a.uid, a.gid, a.atime_ns, a.mtime_ns
            ))
        }
        _ => Err(usage()),
    }
}

fn forward_usage(cmd: Option<&str>) -> &'static str {
    match cmd {
        Some("mkdir") => "mkdir PATH",
        Some("touch") => "touch PATH",
        Some("write") => "write [--append] PATH TEXT…",
        Some("mv") => "mv FROM TO",
        Some("ln") => "ln FILE NEWPATH",
        Some("rm") => "rm PATH",
        Some("chmod") => "chmod MODE PATH",
        Some("truncate") => "truncate PATH SIZE",
        Some("mount") => "mount DIR",
        Some("umount") => "umount DIR",
        Some("cat") => "cat FILE",
        Some("ls") => "ls [-l] [PATH]",
        Some("stat") => "stat [--json] PATH",
        _ => "mkdir|touch|write|mv|ln|rm|chmod|truncate|mount|umount|cat|ls|stat …",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vfs_domain_that_lists_for_ever_is_refused_in_words() {
        assert_eq!(resume("ls /", 0, 0, 3).unwrap(), None);
        assert_eq!(resume("ls /", 0, 9, 3).unwrap(), Some(9));
        let stuck = resume("ls /", 9, 9, 3).unwrap_err().to_string();
        assert_eq!(stuck, "ls /: the VFS domain's listing does not advance (cookie 9 after 9)");
        assert!(resume("ls /", 9, 4, 3).is_err(), "a cookie that goes back");
        assert!(resume("ls /", 0, 0, MAX_ENTRIES).is_ok());
        let many = resume("ls /", 0, 0, MAX_ENTRIES + 1).unwrap_err().to_string();
        assert!(many.contains("more names in a directory than its tables hold (64)"), "{many}");
        assert!(within("tree /", "entries in a tree", MAX_ENTRIES + 1, MAX_ENTRIES + 1).is_ok());
        assert!(within("tree /", "entries in a tree", MAX_ENTRIES + 2, MAX_ENTRIES + 1).is_err());
    }
}
