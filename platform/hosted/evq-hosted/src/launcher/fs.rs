//! The launcher's client of the VFS domain: `evq fs` commands (paths)
//! turned into the domain's requests (inodes), resolving paths with
//! `Lookup`s, over the launcher's end of the domain's request socket
//! (`docs/hosted.md`, "Limits and choices").

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use evq_abi::msg::MAX_MSG_BYTES;
use evq_vfs_api::{ErrorCode, Reply, Request, SetAttrs, ROOT_INODE};

use crate::sys;
use crate::wire::{self, HEAD, RECV_BUF};

/// How long the launcher waits for the VFS domain's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request` and waits for the reply; returns the request's label and
/// the reply's label and body (in `buf`).
fn exchange<'b>(fd: &OwnedFd, request: &Request<'_>, buf: &'b mut [u8; RECV_BUF]) -> io::Result<(u32, u32, &'b [u8])> {
    let mut body = [0u8; MAX_MSG_BYTES];
    let (label, len) = request.encode(&mut body).map_err(|e| io::Error::other(e.to_string()))?;
    let mut out = [0u8; HEAD + MAX_MSG_BYTES];
    let n = wire::frame(label, &body[..len], &mut out);
    sys::send(fd.as_fd(), &out[..n], &[], false)?;
    if !sys::poll(&[fd.as_fd()], Some(REPLY_TIMEOUT))?[0] {
        return Err(io::Error::other("the VFS domain does not answer"));
    }
    let got = sys::recv(fd.as_fd(), buf, 0, false)?.ok_or_else(|| io::Error::other("the VFS domain is gone"))?;
    let (rlabel, rbody) = wire::unframe(&buf[..got.len]);
    Ok((label, rlabel, rbody))
}

/// One request to the VFS domain over the launcher's end of its socket.
fn call(fd: &OwnedFd, request: &Request<'_>) -> io::Result<Result<Reply<'static>, (ErrorCode, u32)>> {
    let mut buf = [0u8; RECV_BUF];
    let (label, rlabel, rbody) = exchange(fd, request, &mut buf)?;
    let reply = Reply::decode(label, rlabel, rbody).map_err(|e| io::Error::other(format!("bad reply: {e}")))?;
    Ok(match reply {
        Reply::Error { code, detail } => Err((code, detail)),
        Reply::Done => Ok(Reply::Done),
        Reply::Inode(i) => Ok(Reply::Inode(i)),
        Reply::Attrs(a) => Ok(Reply::Attrs(a)),
        Reply::Data(_) | Reply::Listing(_) => Ok(Reply::Done),
    })
}

fn refused(what: &str, (code, detail): (ErrorCode, u32)) -> io::Error {
    io::Error::other(format!("{what}: {}", evq_vfs_api::Refusal { code, detail }))
}

/// The directory inode and last name of `path` (absolute, `/`-separated).
fn parent_of<'p>(fd: &OwnedFd, path: &'p str) -> io::Result<(u64, &'p [u8])> {
    let path = path.strip_prefix('/').ok_or_else(|| io::Error::other(format!("{path}: paths start with /")))?;
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let name = parts.pop().ok_or_else(|| io::Error::other("the root has no parent"))?;
    let mut dir = ROOT_INODE;
    for part in parts {
        dir =
            lookup(fd, dir, part.as_bytes())?.ok_or_else(|| io::Error::other(format!("{part}: no such directory")))?;
    }
    Ok((dir, name.as_bytes()))
}

fn lookup(fd: &OwnedFd, dir: u64, name: &[u8]) -> io::Result<Option<u64>> {
    match call(fd, &Request::Lookup { dir, name })? {
        Ok(Reply::Inode(i)) => Ok(Some(i)),
        Err((ErrorCode::NoEntry, _)) => Ok(None),
        Err(e) => Err(refused("lookup", e)),
        Ok(other) => Err(io::Error::other(format!("lookup: unexpected {other:?}"))),
    }
}

fn resolve(fd: &OwnedFd, path: &str) -> io::Result<u64> {
    if path.trim_matches('/').is_empty() {
        return Ok(ROOT_INODE);
    }
    let (dir, name) = parent_of(fd, path)?;
    lookup(fd, dir, name)?.ok_or_else(|| io::Error::other(format!("{path}: no such file or directory")))
}

fn done(what: String, reply: Result<Reply<'static>, (ErrorCode, u32)>) -> io::Result<String> {
    match reply {
        Ok(Reply::Inode(i)) => Ok(format!("{what}: inode {i}")),
        Ok(Reply::Attrs(a)) => Ok(format!("{what}: inode {}, {} bytes, mode {:o}", a.inode, a.size, a.mode)),
        Ok(_) => Ok(what),
        Err(e) => Err(refused(&what, e)),
    }
}

/// The `evq fs` commands: `mkdir PATH`, `touch PATH`, `write PATH TEXT`
/// (appends, making the file if need be), `mv FROM TO`, `ln FILE NEWPATH`
/// (a hard link), `rm PATH` (a file, or an empty directory), `chmod MODE
/// PATH` (octal), `mount DIR`, `umount DIR`, `cat FILE`.
pub(super) fn forward(vfs: Option<&OwnedFd>, args: &[String]) -> io::Result<String> {
    let fd = vfs.ok_or_else(|| io::Error::other("this system has no VFS domain"))?;
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = || io::Error::other(format!("usage: evq fs {}", forward_usage(a.first().copied())));
    match a.as_slice() {
        ["mkdir", path] => {
            let (dir, name) = parent_of(fd, path)?;
            done(format!("mkdir {path}"), call(fd, &Request::Mkdir { dir, name, mode: 0o755 })?)
        }
        ["touch", path] => {
            let (dir, name) = parent_of(fd, path)?;
            match lookup(fd, dir, name)? {
                None => done(format!("touch {path}"), call(fd, &Request::Create { dir, name, mode: 0o644 })?),
                Some(inode) => {
                    let now = Some(sys::unix_seconds() * 1_000_000_000);
                    let attrs = SetAttrs { atime_ns: now, mtime_ns: now, ..SetAttrs::default() };
                    done(format!("touch {path}"), call(fd, &Request::SetAttr { inode, attrs })?)
                }
            }
        }
        ["write", path, text @ ..] if !text.is_empty() => {
            let (dir, name) = parent_of(fd, path)?;
            let inode = match lookup(fd, dir, name)? {
                Some(i) => i,
                None => match call(fd, &Request::Create { dir, name, mode: 0o644 })? {
                    Ok(Reply::Inode(i)) => i,
                    other => return done(format!("write {path}"), other),
                },
            };
            let size = match call(fd, &Request::Stat { inode })? {
                Ok(Reply::Attrs(a)) => a.size,
                other => return done(format!("write {path}"), other),
            };
            let data = text.join(" ");
            done(format!("write {path}"), call(fd, &Request::Write { inode, offset: size, data: data.as_bytes() })?)
        }
        ["mv", from, to] => {
            let (old_dir, old_name) = parent_of(fd, from)?;
            let (new_dir, new_name) = parent_of(fd, to)?;
            done(format!("mv {from} {to}"), call(fd, &Request::Rename { old_dir, old_name, new_dir, new_name })?)
        }
        ["ln", file, link] => {
            let inode = resolve(fd, file)?;
            let (new_dir, name) = parent_of(fd, link)?;
            done(format!("ln {file} {link}"), call(fd, &Request::Link { inode, new_dir, name })?)
        }
        ["rm", path] => {
            let (dir, name) = parent_of(fd, path)?;
            match call(fd, &Request::Unlink { dir, name })? {
                Err((ErrorCode::IsDir, _)) => done(format!("rm {path}"), call(fd, &Request::Rmdir { dir, name })?),
                other => done(format!("rm {path}"), other),
            }
        }
        ["chmod", mode, path] => {
            let mode =
                u32::from_str_radix(mode, 8).map_err(|_| io::Error::other(format!("{mode}: not an octal mode")))?;
            let inode = resolve(fd, path)?;
            let attrs = SetAttrs { mode: Some(mode), ..SetAttrs::default() };
            done(format!("chmod {mode:o} {path}"), call(fd, &Request::SetAttr { inode, attrs })?)
        }
        ["mount", path] => {
            let dir = resolve(fd, path)?;
            done(format!("mount {path}"), call(fd, &Request::Mount { dir })?)
        }
        ["umount", path] => {
            let dir = resolve(fd, path)?;
            done(format!("umount {path}"), call(fd, &Request::Unmount { dir })?)
        }
        ["cat", path] => {
            let inode = resolve(fd, path)?;
            let mut out = Vec::new();
            loop {
                let request = Request::Read { inode, offset: out.len() as u64, len: evq_vfs_api::MAX_READ as u32 };
                let mut buf = [0u8; RECV_BUF];
                let (label, rl, rb) = exchange(fd, &request, &mut buf)?;
                match Reply::decode(label, rl, rb).map_err(|e| io::Error::other(format!("bad reply: {e}")))? {
                    Reply::Data([]) => break,
                    Reply::Data(d) => out.extend_from_slice(d),
                    Reply::Error { code, detail } => return Err(refused(&format!("cat {path}"), (code, detail))),
                    other => return Err(io::Error::other(format!("cat: unexpected {other:?}"))),
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(usage()),
    }
}

fn forward_usage(cmd: Option<&str>) -> &'static str {
    match cmd {
        Some("mkdir") => "mkdir PATH",
        Some("touch") => "touch PATH",
        Some("write") => "write PATH TEXT…",
        Some("mv") => "mv FROM TO",
        Some("ln") => "ln FILE NEWPATH",
        Some("rm") => "rm PATH",
        Some("chmod") => "chmod MODE PATH",
        Some("mount") => "mount DIR",
        Some("umount") => "umount DIR",
        Some("cat") => "cat FILE",
        _ => "mkdir|touch|write|mv|ln|rm|chmod|mount|umount|cat …",
    }
}
