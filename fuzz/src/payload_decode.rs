//! The VFS payload decoders on arbitrary bytes. They must never panic, and
//! whatever they accept must re-encode to the same bytes (the decoded part of
//! the input: a payload may be followed by padding) and decode again alike.

use evq_abi::event::MAX_PAYLOAD;
use evq_abi::event::{decode_dentry, decode_mount, decode_rename, encode_dentry, encode_mount, encode_rename};

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let mut out = [0u8; MAX_PAYLOAD];

    if let Ok((parent, name)) = decode_dentry(data) {
        let n = encode_dentry(parent, name, &mut out).expect("a decoded dentry must encode");
        assert_eq!(&out[..n], &data[..n]);
        assert_eq!(decode_dentry(&out[..n]), Ok((parent, name)));
    }

    if let Ok(rename) = decode_rename(data) {
        let n = encode_rename(&rename, &mut out).expect("a decoded rename must encode");
        assert_eq!(&out[..n], &data[..n]);
        assert_eq!(decode_rename(&out[..n]), Ok(rename));
    }

    if let Ok((parent, fs_id, name)) = decode_mount(data) {
        let n = encode_mount(parent, fs_id, name, &mut out).expect("a decoded mount must encode");
        assert_eq!(&out[..n], &data[..n]);
        assert_eq!(decode_mount(&out[..n]), Ok((parent, fs_id, name)));
    }
}
