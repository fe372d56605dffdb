//! Every error reply reads as words, never as the code's Rust name.

use evq_vfs_api::{space, DecodeError, ErrorCode, Refusal, NAME_MAX};

#[test]
fn every_error_code_is_said_in_words_not_by_its_name() {
    for code in ErrorCode::ALL {
        for detail in [0, 1, 4, 6, 99] {
            let text = Refusal { code, detail }.to_string();
            assert!(!text.contains(code.name()), "{code:?}/{detail}: {text:?} says the code's name");
            assert!(!text.contains("detail"), "{code:?}/{detail}: {text:?}");
            assert!(text.contains(' '), "{code:?}/{detail}: {text:?} is not words");
        }
    }
}

#[test]
fn the_refusals_name_the_problem_and_the_limit() {
    assert_eq!(Refusal { code: ErrorCode::NoEntry, detail: 0 }.to_string(), "no such file or directory");
    assert!(Refusal { code: ErrorCode::InvalidName, detail: 0 }.to_string().contains(&NAME_MAX.to_string()));
    assert_eq!(
        Refusal { code: ErrorCode::NoSpace, detail: space::INODES }.to_string(),
        "the VFS domain's inode table is full"
    );
    let bad_mode = Refusal { code: ErrorCode::BadRequest, detail: DecodeError::BadMode(0o17777).code() };
    assert!(bad_mode.to_string().contains("0o7777"), "{bad_mode}");
}
