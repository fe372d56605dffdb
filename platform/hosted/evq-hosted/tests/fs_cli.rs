//! The VFS from the command line, as a user runs it: `evq fs ls`, `stat`,
//! `tree`, `truncate`, `write` (replacing, `--append`, from standard
//! input, larger than one VFS message) and `cat` (byte for byte), against
//! a running hosted system; and the console's `tree` request they stand on,
//! whose inodes are the ones VFS events carry, across a mount.

mod common;

use std::time::{Duration, Instant};

use common::*;
use evq_abi::event::{decode_dentry, vfs, Category};
use evq_abi::msg::Filter;
use evq_hosted::console::{Console, TreeEntry};

/// `evq fs ARGS` on `sys`, which must succeed; its standard output.
fn fs(sys: &System, args: &[&str]) -> String {
    let mut all = vec!["fs"];
    all.extend_from_slice(args);
    sys.ok(&all)
}

/// `evq fs mount DIR`'s answer: the mounted root's inode.
fn mount(sys: &System, dir: &str) -> u64 {
    let said = fs(sys, &["mount", dir]);
    said.trim().rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("an inode in {said:?}"))
}

fn entry<'a>(tree: &'a [TreeEntry], path: &str) -> &'a TreeEntry {
    tree.iter().find(|e| e.path == path).unwrap_or_else(|| panic!("{path} not in {tree:#?}"))
}

#[test]
fn the_tree_request_lists_a_subtree_across_a_mount_with_the_inodes_events_carry() {
    let sys = System::start();
    let console = Console::connect(&sys.console()).expect("console");
    let (_, mut client) = console.attach_client(None).expect("client");
    let mut q = client.create_queue(4).expect("queue");
    client.subscribe(&q, Filter::all_of(Category::Vfs)).expect("subscribe");

    fs(&sys, &["mkdir", "/a"]);
    fs(&sys, &["mkdir", "/a/b"]);
    fs(&sys, &["write", "/a/f", "four"]);
    fs(&sys, &["mkdir", "/m"]);
    let root = mount(&sys, "/m");
    fs(&sys, &["touch", "/m/in"]);
    fs(&sys, &["mkdir", "/m/sub"]);
    fs(&sys, &["touch", "/m/sub/deep"]);

    let tree = console.tree("/").expect("a tree");
    let paths: Vec<&str> = tree.iter().map(|e| e.path.as_str()).collect();
    // The named directory first, each directory before its entries, names
    // in order, the mounted file system's names under the mount point.
    assert_eq!(paths, ["/", "/a", "/a/b", "/a/f", "/m", "/m/in", "/m/sub", "/m/sub/deep"]);
    let top = entry(&tree, "/");
    assert_eq!((top.inode, top.dir, top.mode, top.size), (1, true, 0o755, 0));
    let f = entry(&tree, "/a/f");
    assert_eq!((f.dir, f.mode, f.size, f.nlink), (false, 0o644, 4, 1));
    // The mount point's entry is the mounted root: fs_id << 48 | 1.
    let m = entry(&tree, "/m");
    assert_eq!((m.inode, m.dir), (root, true));
    assert_eq!(root & ((1 << 48) - 1), 1, "a mounted root is n = 1 of its file system");
    assert_ne!(root >> 48, 0, "in a file system of its own");

    // The events name the same inodes: a CREATE's object is the entry's
    // inode, its parent the directory's, inside the mount too.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut creates = Vec::new();
    while creates.len() < 7 {
        assert!(Instant::now() < deadline, "timed out with {creates:?}");
        while let Some(e) = q.next_event().expect("ring reads") {
            if e.category == Category::Vfs && e.kind == vfs::CREATE {
                let (parent, name) = decode_dentry(e.payload).expect("dentry");
                creates.push((e.object_id, parent, String::from_utf8_lossy(name).into_owned()));
            }
        }
        client.wait(&mut q, Duration::from_millis(200)).expect("wait");
    }
    let parent_of = |path: &str| entry(&tree, &path[..path.rfind('/').unwrap().max(1)]).inode;
    for path in ["/a", "/a/b", "/a/f", "/m", "/m/in", "/m/sub", "/m/sub/deep"] {
        let name = &path[path.rfind('/').unwrap() + 1..];
        let want = (entry(&tree, path).inode, parent_of(path), name.to_string());
        let covered = path == "/m";
        // The mount point's own CREATE names the directory it was before
        // the mount: the tree shows what a path leads to now.
        if covered {
            assert!(creates.iter().any(|c| c.1 == 1 && c.2 == "m" && c.0 != root), "{creates:?}");
        } else {
            assert!(creates.contains(&want), "{path}: {want:?} not in {creates:?}");
        }
    }

    // A subtree, a file, and refusals in words.
    let sub: Vec<String> = console.tree("/m/sub/").expect("a subtree").into_iter().map(|e| e.path).collect();
    assert_eq!(sub, ["/m/sub", "/m/sub/deep"]);
    let one = console.tree("/a/f").expect("a file's tree");
    assert_eq!(one, vec![f.clone()]);
    let missing = console.tree("/nope").unwrap_err().to_string();
    assert_eq!(missing, "/nope: no such file or directory");
    let relative = console.tree("a").unwrap_err().to_string();
    assert_eq!(relative, "a: paths start with /");
}

#[test]
fn a_tree_too_large_for_one_console_reply_is_refused_in_words() {
    let sys = System::start();
    let console = Console::connect(&sys.console()).expect("console");
    // 40 nested directories of 200-byte names: the paths alone are
    // 201 × (1 + 2 + … + 40) = 164,820 bytes, past the 65,536 a reply has.
    let name = "d".repeat(200);
    let mut path = String::new();
    for _ in 0..40 {
        path = format!("{path}/{name}");
        fs(&sys, &["mkdir", &path]);
    }
    let refused = console.tree("/").unwrap_err().to_string();
    assert!(refused.starts_with("the reply is "), "{refused}");
    assert!(refused.contains("more than one console datagram carries (65536)"), "{refused}");
    // A smaller subtree still comes.
    let deep = console.tree(&path).expect("the deepest directory");
    assert_eq!(deep.len(), 1);
}
