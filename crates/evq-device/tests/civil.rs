//! Civil dates to Unix seconds, against known dates.

use evq_device::civil::{days_from_civil, days_in_month, is_leap_year, DateTime};

fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<u64> {
    DateTime { year, month, day, hour, minute, second }.unix_seconds()
}

#[test]
fn known_days() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(1970, 1, 2), 1);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(days_from_civil(2000, 1, 1), 10_957);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(1900, 3, 1), -25_508);
    assert_eq!(days_from_civil(1, 1, 1), -719_162);
    assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
}

#[test]
fn known_times() {
    assert_eq!(at(1970, 1, 1, 0, 0, 0), Some(0));
    assert_eq!(at(1999, 12, 31, 23, 59, 59), Some(946_684_799));
    assert_eq!(at(2000, 1, 1, 0, 0, 0), Some(946_684_800));
    assert_eq!(at(2000, 2, 29, 0, 0, 0), Some(951_782_400));
    assert_eq!(at(2024, 2, 29, 13, 45, 30), Some(1_709_214_330));
    assert_eq!(at(2025, 1, 1, 0, 0, 0), Some(1_735_689_600));
    assert_eq!(at(2038, 1, 19, 3, 14, 7), Some(2_147_483_647));
    assert_eq!(at(2099, 12, 31, 12, 0, 0), Some(4_102_401_600));
    assert_eq!(at(2106, 2, 7, 6, 28, 15), Some(4_294_967_295));
}

#[test]
fn consecutive_days_are_one_apart() {
    // Walks every day from 1970 to 2400 with days_in_month: the count must
    // go up by exactly one each day, across month, year and century ends.
    let mut expected = 0;
    for year in 1970..2400 {
        for month in 1..=12 {
            for day in 1..=days_in_month(year, month).unwrap() {
                assert_eq!(days_from_civil(year, month, day), expected, "{year}-{month}-{day}");
                expected += 1;
            }
        }
    }
}

#[test]
fn leap_years() {
    assert!(is_leap_year(2000));
    assert!(is_leap_year(2024));
    assert!(!is_leap_year(1900));
    assert!(!is_leap_year(2100));
    assert!(!is_leap_year(2023));
    assert_eq!(days_in_month(2024, 2), Some(29));
    assert_eq!(days_in_month(2100, 2), Some(28));
    assert_eq!(days_in_month(2025, 0), None);
    assert_eq!(days_in_month(2025, 13), None);
}

#[test]
fn invalid_fields_and_times_before_the_epoch_are_refused() {
    assert_eq!(at(1969, 12, 31, 23, 59, 59), None);
    assert_eq!(at(2023, 2, 29, 0, 0, 0), None);
    assert_eq!(at(2100, 2, 29, 0, 0, 0), None);
    assert_eq!(at(2025, 4, 31, 0, 0, 0), None);
    assert_eq!(at(2025, 0, 1, 0, 0, 0), None);
    assert_eq!(at(2025, 13, 1, 0, 0, 0), None);
    assert_eq!(at(2025, 1, 0, 0, 0, 0), None);
    assert_eq!(at(2025, 1, 1, 24, 0, 0), None);
    assert_eq!(at(2025, 1, 1, 0, 60, 0), None);
    assert_eq!(at(2025, 1, 1, 0, 0, 60), None, "no leap seconds");
}

#[test]
fn extreme_inputs_do_not_panic() {
    for year in [i32::MIN, -1, 0, i32::MAX] {
        for month in [0, 1, 2, 12, 13, u32::MAX] {
            for day in [0, 1, 31, u32::MAX] {
                let _ = days_from_civil(year, month, day);
                let _ = at(year, month, day, u32::MAX, u32::MAX, u32::MAX);
                let _ = at(year, month, day, 23, 59, 59);
            }
        }
    }
    assert_eq!(at(i32::MAX, 12, 31, 23, 59, 59).map(|s| s > 0), Some(true));
}
