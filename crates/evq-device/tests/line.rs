//! The line assembler.

use evq_device::{LineAssembler, MAX_INPUT};

/// Feeds `input`, collecting every chunk returned.
fn chunks(asm: &mut LineAssembler, input: &[u8]) -> Vec<Vec<u8>> {
    input.iter().filter_map(|&b| asm.push(b).map(<[u8]>::to_vec)).collect()
}

fn lines(input: &[u8]) -> Vec<Vec<u8>> {
    chunks(&mut LineAssembler::new(), input)
}

#[test]
fn cr_lf_and_crlf_end_lines() {
    assert_eq!(lines(b"one\ntwo\rthree\r\nfour"), [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    assert_eq!(lines(b"a\r\n\r\nb\n\nc\r\r"), [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

#[test]
fn empty_lines_give_no_event() {
    assert!(lines(b"\r\n\n\r\r\n").is_empty());
    assert!(lines(b"").is_empty());
}

#[test]
fn the_terminator_completes_the_chunk_returned() {
    let mut asm = LineAssembler::new();
    assert_eq!(asm.push(b'h'), None);
    assert_eq!(asm.push(b'i'), None);
    assert_eq!(asm.pending(), b"hi");
    assert_eq!(asm.push(b'\r'), Some(&b"hi"[..]));
    assert_eq!(asm.pending(), b"");
    assert_eq!(asm.push(b'\n'), None, "the LF of CRLF gives nothing more");
}

#[test]
fn long_input_is_split_at_64() {
    let input: Vec<u8> = (0..150u32).map(|i| b'a' + (i % 26) as u8).collect();
    let got = lines(&[&input[..], b"\n"].concat());
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], input[..64]);
    assert_eq!(got[1], input[64..128]);
    assert_eq!(got[2], input[128..]);
    assert!(got.iter().all(|c| c.len() <= MAX_INPUT));
    assert_eq!(MAX_INPUT, 64);
}

#[test]
fn a_line_of_exactly_64_gives_one_event() {
    let input = [b'x'; 64];
    let mut asm = LineAssembler::new();
    let got = chunks(&mut asm, &[&input[..], b"\r\nnext\n"].concat());
    assert_eq!(got, [input.to_vec(), b"next".to_vec()]);
    assert_eq!(asm.push(b'\n'), None);
}

#[test]
fn control_bytes_and_nul_pass_through() {
    assert_eq!(lines(b"a\0b\x1b[A\t\n"), [b"a\0b\x1b[A\t".to_vec()]);
}

#[test]
fn flush_ends_a_partial_chunk() {
    let mut asm = LineAssembler::new();
    assert_eq!(asm.flush(), None);
    asm.push(b'o');
    asm.push(b'k');
    assert_eq!(asm.flush(), Some(&b"ok"[..]));
    assert_eq!(asm.flush(), None);
    assert_eq!(chunks(&mut asm, b"more\n"), [b"more".to_vec()]);
}

#[test]
fn usable_as_a_static() {
    static _ASM: std::sync::Mutex<LineAssembler> = std::sync::Mutex::new(LineAssembler::new());
    let mut asm = LineAssembler::default();
    assert_eq!(asm.push(b'\n'), None);
}
