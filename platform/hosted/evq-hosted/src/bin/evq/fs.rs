//! `evq fs`: the VFS domain from the command line, each command as the
//! launcher's client of it takes it (`launcher::fs`) over the console:
//! most as the words of the `fs` request; `write` and `cat` as `fs-write`
//! and `fs-read`, which carry bytes (as hex), so any data goes in and comes
//! out exactly; `tree` as the `tree` request.

use std::io::{self, Read as _};
use std::path::Path;

use clap::Subcommand;
use evq_hosted::console::{self, from_hex, to_hex, Console, MAX_FS_WRITE};

use crate::output::write_bytes;

/// The `evq fs` commands. Paths are absolute (`/docs/a`); a mount point
/// stands for the root of the file system mounted on it.
#[derive(Subcommand, Clone)]
pub(crate) enum FsCmd {
    /// Make a directory (mode 755).
    Mkdir {
        /// The new directory.
        path: String,
    },
    /// Make an empty file (mode 644), or set a file's times to now.
    Touch {
        /// The file.
        path: String,
    },
    /// Write data to a file, making it if need be (mode 644): in place of
    /// what it held, or after it with --append. The data is TEXT's words
    /// joined by single spaces (after `--` for a text that starts with
    /// `-`), or standard input, byte for byte, when TEXT is `-` or absent.
    /// At most 16384 bytes (the VFS domain's largest file) in one write;
    /// more than one VFS message's 936 bytes go in as many messages as they
    /// need.
    Write {
        /// The file.
        path: String,
        /// Append to the file rather than replace its contents.
        #[arg(short, long)]
        append: bool,
        /// The text; `-` or none: read standard input.
        text: Vec<String>,
    },
    /// Rename.
    Mv {
        /// The old path.
        from: String,
        /// The new path.
        to: String,
    },
    /// Give a file another name (a hard link).
    Ln {
        /// The file.
        file: String,
        /// Its new name.
        link: String,
    },
    /// Remove a file, or an empty directory.
    Rm {
        /// What to remove.
        path: String,
    },
    /// Set the permission bits.
    Chmod {
        /// The mode, in octal (at most 7777).
        mode: String,
        /// The file or directory.
        path: String,
    },
    /// Set a file's size: cut it short, or extend it with zero bytes (at
    /// most 16384, the largest file).
    Truncate {
        /// The file.
        path: String,
        /// The new size in bytes, a whole number.
        size: String,
    },
    /// Mount a fresh, empty file system on a directory; prints its root's inode.
    Mount {
        /// The directory.
        dir: String,
    },
    /// Unmount the file system mounted on a directory (and discard its contents).
    Umount {
        /// The directory.
        dir: String,
    },
    /// Print a file's bytes exactly as they are (nothing added, binary included).
    Cat {
        /// The file.
        file: String,
    },
    /// List a directory's names in name order, directories marked with a
    /// trailing `/`; a file lists itself.
    Ls {
        /// One line per name: type (`d` directory, `-` file), mode in
        /// octal, links, size in bytes, inode, name.
        #[arg(short = 'l')]
        long: bool,
        /// The directory.
        #[arg(default_value = "/")]
        path: String,
    },
    /// Print an inode's attributes, one `name: value` a line: path, inode,
    /// type (file or directory), mode (octal), size, nlink, uid, gid,
    /// atime_ns, mtime_ns (nanoseconds).
    Stat {
        /// The file or directory.
        path: String,
        /// As one JSON object, the same fields (mode as a number).
        #[arg(long)]
        json: bool,
    },
    /// Print a subtree, one path a line, the directory first and each
    /// directory before its entries (in name order, directories marked
    /// with a trailing `/`), across mount points.
    Tree {
        /// The directory (or file).
        #[arg(default_value = "/")]
        path: String,
        /// One JSON object per entry: path, inode, dir, mode, size, nlink.
        #[arg(long)]
        json: bool,
    },
}

/// The words of the console's `fs` request for the commands that take
/// them.
fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// The data of `evq fs write`: its words, or standard input; more than
/// [`MAX_FS_WRITE`] bytes is refused here, saying so.
fn write_data(path: &str, text: &[String]) -> io::Result<Vec<u8>> {
    let too_long = |what: String| {
        io::Error::other(format!(
            "write {path}: {what} more than one evq fs write carries ({MAX_FS_WRITE} bytes at most)"
        ))
    };
    if text.is_empty() || text == ["-"] {
        let mut data = Vec::new();
        io::stdin()
            .take(MAX_FS_WRITE as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| io::Error::new(e.kind(), format!("write {path}: standard input: {e}")))?;
        if data.len() > MAX_FS_WRITE {
            return Err(too_long("standard input holds".into()));
        }
        return Ok(data);
    }
    let data = text.join(" ").into_bytes();
    if data.len() > MAX_FS_WRITE {
        return Err(too_long(format!("{} bytes is", data.len())));
    }
    Ok(data)
}

/// Runs one `evq fs` command against the console at `path`.
pub(crate) fn fs(path: &Path, what: FsCmd) -> io::Result<i32> {
    let simple = |args: Vec<String>| super::simple(path, console::Request::Fs { args });
    match what {
        FsCmd::Mkdir { path } => simple(words(&["mkdir", &path])),
        FsCmd::Touch { path } => simple(words(&["touch", &path])),
        FsCmd::Write { path: file, append, text } => {
            let data = write_data(&file, &text)?;
            super::simple(path, console::Request::FsWrite { path: file, hex: to_hex(&data), append })
        }
        FsCmd::Mv { from, to } => simple(words(&["mv", &from, &to])),
        FsCmd::Ln { file, link } => simple(words(&["ln", &file, &link])),
        FsCmd::Rm { path } => simple(words(&["rm", &path])),
        FsCmd::Chmod { mode, path } => simple(words(&["chmod", &mode, &path])),
        FsCmd::Truncate { path, size } => simple(words(&["truncate", &path, &size])),
        FsCmd::Mount { dir } => simple(words(&["mount", &dir])),
        FsCmd::Umount { dir } => simple(words(&["umount", &dir])),
        FsCmd::Cat { file } => {
            let console = Console::connect(path)?;
            match console.request(&console::Request::FsRead { path: file })?.0 {
                console::Reply::Bytes { hex } => {
                    let bytes = from_hex(&hex).map_err(|e| io::Error::other(format!("bad reply: {e}")))?;
                    write_bytes(&bytes)?;
                    Ok(0)
                }
                console::Reply::Error { message } => Err(io::Error::other(message)),
                other => Err(other.unexpected()),
            }
        }
        FsCmd::Ls { long, path: dir } => {
            let mut args = vec!["ls"];
            if long {
                args.push("-l");
            }
            args.push(&dir);
            simple(words(&args))
        }
        FsCmd::Stat { path: file, json } => {
            let args = if json { words(&["stat", "--json", &file]) } else { words(&["stat", &file]) };
            simple(args)
        }
        FsCmd::Tree { path: top, json } => {
            for e in Console::connect(path)?.tree(&top)? {
                if json {
                    say!("{}", serde_json::to_string(&e).map_err(io::Error::other)?)?;
                } else {
                    let slash = if e.dir && e.path != "/" { "/" } else { "" };
                    say!("{}{slash}", e.path)?;
                }
            }
            Ok(0)
        }
    }
}
