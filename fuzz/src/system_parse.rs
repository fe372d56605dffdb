//! The system description parser, `evq_system::parse`, on arbitrary text
//! (the input as UTF-8; other bytes are not a `&str` and never reach it).
//! It must never panic; what it accepts must pass `System::validate`,
//! render as Rust (`System::to_rust`) and find each domain by its name;
//! what it refuses it refuses again with the same message, which starts
//! `system description`.
//!
//! `parse` leaks what it returns, by design (a description is read once):
//! run this target with `-detect_leaks=0`.

/// One input: the text of a `system.toml`.
pub fn run(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else { return };
    match evq_system::parse(text) {
        Ok(system) => {
            assert_eq!(system.validate(), Ok(()), "an accepted description is not valid");
            assert!(system.to_rust().starts_with("evq_system::System {"));
            for (id, d) in system.domains.iter().enumerate() {
                let found = system.domain(d.name).map(|(i, _)| i);
                assert_eq!(found, Some(id as u32 + 1), "domain {:?} is not found by its name", d.name);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("system description"), "{message:?}");
            let again = evq_system::parse(text).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(again, Err(message), "a second parse of the same text differs");
        }
    }
}
