//! The counter-and-epoch clock: whole seconds from the set point, exact at
//! any rate, holding (not going back) when the counter resets, at most one
//! tick a second; and the `epoch=` argument's parser.

use evq_device::epoch_clock::*;

const EPOCH: u64 = 1_750_000_000;

#[test]
fn counts_whole_seconds_from_the_set_point() {
    // QEMU riscv64 virt's timebase.
    let mut clock = EpochClock::new(10_000_000, EPOCH, 5_000);
    assert_eq!(clock.hz(), 10_000_000);
    assert_eq!(clock.now(5_000), EPOCH);
    assert_eq!(clock.now(5_000 + 9_999_999), EPOCH, "not yet a whole second");
    assert_eq!(clock.now(5_000 + 10_000_000), EPOCH + 1);
    assert_eq!(clock.now(5_000 + 36_000 * 10_000_000 + 1), EPOCH + 36_000);
}

#[test]
fn exact_at_any_rate_and_saturating_at_the_end() {
    // No floating point and no 64-bit overflow of ticks * anything.
    assert_eq!(EpochClock::new(u64::MAX, 0, 0).now(u64::MAX), 1);
    assert_eq!(EpochClock::new(u64::MAX, 0, 0).now(u64::MAX - 1), 0);
    assert_eq!(EpochClock::new(3, 0, 0).now(u64::MAX), u64::MAX / 3);
    assert_eq!(EpochClock::new(1_000_000_007, 0, 1).now(u64::MAX), (u64::MAX - 1) / 1_000_000_007);
    assert_eq!(EpochClock::new(54_000_000, EPOCH, 0).now(54_000_000 * 86_400 - 1), EPOCH + 86_399);
    // Past u64::MAX seconds the time stays there.
    assert_eq!(EpochClock::new(1, u64::MAX - 5, 0).now(u64::MAX), u64::MAX);
    assert_eq!(EpochClock::new(1, u64::MAX, 0).now(1), u64::MAX);
}

#[test]
fn a_rate_of_zero_keeps_the_epoch() {
    let mut clock = EpochClock::new(0, EPOCH, 7);
    for counter in [0, 7, 8, u64::MAX, 3] {
        assert_eq!(clock.now(counter), EPOCH);
    }
    let mut clock = EpochClock::new(0, EPOCH, 7);
    assert_eq!(clock.tick(100), Some(EPOCH));
    assert_eq!(clock.tick(u64::MAX), None);
}

#[test]
fn a_reading_before_the_set_point_holds_the_time() {
    let mut clock = EpochClock::new(1_000, EPOCH, 50_000);
    // The counter reset after the epoch was set.
    assert_eq!(clock.now(40_000), EPOCH, "no going back, no jump forward");
    assert_eq!(clock.now(40_999), EPOCH);
    assert_eq!(clock.now(41_000), EPOCH + 1, "and it counts on from the new reading");
}

#[test]
fn a_reset_keeps_the_time_already_counted_and_its_fraction() {
    let mut clock = EpochClock::new(1_000, 0, 0);
    assert_eq!(clock.now(5_500), 5);
    // Reset to 100: the 5.5 s already counted stay.
    assert_eq!(clock.now(100), 5);
    assert_eq!(clock.now(599), 5);
    assert_eq!(clock.now(600), 6, "5.5 s before the reset and 0.5 s after");
    // A second reset, to 0.
    assert_eq!(clock.now(0), 6);
    assert_eq!(clock.now(1_000), 7);
}

#[test]
fn the_time_never_goes_back_whatever_the_readings() {
    let mut clock = EpochClock::new(977, EPOCH, 1 << 40);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut last = clock.now(1 << 40);
    let mut reading: u64 = 1 << 40;
    for i in 0..10_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        reading = match i % 97 {
            0 => x >> 20,                         // a reset to anywhere
            96 => u64::MAX - (x >> 60),           // near the end
            _ => reading.saturating_add(x >> 54), // running on
        };
        let now = clock.now(reading);
        assert!(now >= last, "went back from {last} to {now} at reading {reading}");
        last = now;
    }
    assert!(last > EPOCH);
}

#[test]
fn tick_reports_each_new_second_once() {
    let mut clock = EpochClock::new(1_000, EPOCH, 0);
    assert_eq!(clock.tick(0), Some(EPOCH), "the first tick reports the time");
    assert_eq!(clock.tick(0), None);
    assert_eq!(clock.tick(999), None);
    assert_eq!(clock.tick(1_000), Some(EPOCH + 1));
    assert_eq!(clock.tick(1_500), None);
    // Woken late: the current second, not the ones missed.
    assert_eq!(clock.tick(3_200), Some(EPOCH + 3));
    assert_eq!(clock.tick(3_999), None);
    // `now` does not take a tick's place.
    assert_eq!(clock.now(4_000), EPOCH + 4);
    assert_eq!(clock.tick(4_000), Some(EPOCH + 4));
}

#[test]
fn set_moves_the_time_either_way_and_tick_reports_it() {
    let mut clock = EpochClock::new(1_000, EPOCH, 0);
    assert_eq!(clock.tick(2_000), Some(EPOCH + 2));
    clock.set(EPOCH + 2, 2_500);
    assert_eq!(clock.tick(2_500), None, "the same second: nothing new");
    clock.set(EPOCH - 100, 3_000);
    assert_eq!(clock.now(3_000), EPOCH - 100);
    assert_eq!(clock.tick(3_999), Some(EPOCH - 100), "set back: reported");
    assert_eq!(clock.tick(4_000), Some(EPOCH - 99));
    // Set at a reading below the last: counted from the new set point.
    clock.set(EPOCH, 10);
    assert_eq!(clock.now(1_010), EPOCH + 1);
}

#[test]
fn parse_epoch_finds_the_word_among_others() {
    assert_eq!(parse_epoch(""), Ok(None));
    assert_eq!(parse_epoch("verbose quiet"), Ok(None));
    assert_eq!(parse_epoch("xepoch=5 epochs=7 epoch"), Ok(None), "only a word starting `epoch=` counts");
    assert_eq!(parse_epoch("epoch=1750000000"), Ok(Some(EPOCH)));
    assert_eq!(parse_epoch("  quiet\tepoch=0\n x "), Ok(Some(0)));
    assert_eq!(parse_epoch("epoch=007"), Ok(Some(7)));
    assert_eq!(parse_epoch("epoch=18446744073709551615"), Ok(Some(u64::MAX)));
}

#[test]
fn parse_epoch_refuses_what_is_not_decimal_seconds() {
    assert_eq!(parse_epoch("epoch="), Err(EpochError::Empty));
    assert_eq!(parse_epoch("epoch=12a"), Err(EpochError::NotDecimal('a')));
    assert_eq!(parse_epoch("epoch=-5"), Err(EpochError::NotDecimal('-')));
    assert_eq!(parse_epoch("epoch=+5"), Err(EpochError::NotDecimal('+')));
    assert_eq!(parse_epoch("epoch=1.5"), Err(EpochError::NotDecimal('.')));
    assert_eq!(parse_epoch("epoch=0x10"), Err(EpochError::NotDecimal('x')));
    assert_eq!(parse_epoch("epoch=\u{0661}\u{0662}"), Err(EpochError::NotDecimal('\u{0661}')), "ASCII digits only");
    assert_eq!(parse_epoch("epoch=18446744073709551616"), Err(EpochError::TooLarge));
    assert_eq!(parse_epoch("epoch=99999999999999999999999"), Err(EpochError::TooLarge));
    assert_eq!(parse_epoch("epoch=1 epoch=1"), Err(EpochError::Repeated));
    assert_eq!(parse_epoch("epoch=1 quiet epoch=oops"), Err(EpochError::Repeated));
}

#[test]
fn errors_say_in_words_what_is_wrong() {
    let message = |args: &str| parse_epoch(args).unwrap_err().to_string();
    let empty = message("epoch=");
    assert!(empty.contains("gives no time") && empty.contains("seconds since 1970-01-01"), "{empty}");
    let bad = message("epoch=12a");
    assert!(bad.contains("'a'") && bad.contains("digits 0 to 9"), "{bad}");
    // A control character is shown escaped, not written raw.
    assert!(message("epoch=1\u{7}").contains("'\\u{7}'"));
    let big = message("epoch=18446744073709551616");
    assert!(big.contains("more seconds than the clock holds") && big.contains("18446744073709551615"), "{big}");
    assert!(message("epoch=1 epoch=2").contains("more than once"));
    for args in ["epoch=", "epoch=x", "epoch=99999999999999999999", "epoch=1 epoch=1"] {
        let m = message(args);
        for debug in ["Empty", "NotDecimal", "TooLarge", "Repeated"] {
            assert!(!m.contains(debug), "{m}");
        }
    }
}
