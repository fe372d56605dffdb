//! Civil (proleptic Gregorian, UTC) dates and times to Unix seconds.
//!
//! Clocks such as the PC's CMOS RTC keep the date as fields; events carry
//! seconds since the Unix epoch. The conversion is Howard Hinnant's
//! `days_from_civil`, exact for every Gregorian date, with no tables and no
//! floating point.
//!
//! Limits: no time zones and no leap seconds (a second of 60 is refused);
//! dates before 1970-01-01 have no `u64` Unix time and are refused.

/// Days from 1970-01-01 to `year`-`month`-`day` (negative before it).
///
/// Expects `month` in 1..=12 and `day` in 1..=31; other values give a
/// meaningless number but never panic. [`DateTime::unix_seconds`] checks the
/// fields first.
pub const fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    // Counting years from March puts the leap day at the end of the year,
    // so the day of the year is a linear formula of the month.
    let m = month as i64;
    let y = if m <= 2 { year as i64 - 1 } else { year as i64 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let year_of_era = y - era * 400;
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 is the day of the era count at 1970-01-01 from 0000-03-01.
    era * 146_097 + day_of_era - 719_468
}

/// Whether `year` is a Gregorian leap year.
pub const fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` of `year`; `None` if `month` is not 1..=12.
pub const fn days_in_month(year: i32, month: u32) -> Option<u32> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// A UTC calendar date and time of day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateTime {
    /// The year, e.g. 2025.
    pub year: i32,
    /// 1..=12.
    pub month: u32,
    /// 1..=days in the month.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
}

impl DateTime {
    /// Whether every field is in range for its month and year.
    pub const fn is_valid(&self) -> bool {
        let day_ok = match days_in_month(self.year, self.month) {
            Some(days) => self.day >= 1 && self.day <= days,
            None => false,
        };
        day_ok && self.hour < 24 && self.minute < 60 && self.second < 60
    }

    /// Seconds since 1970-01-01 00:00:00 UTC; `None` if a field is out of
    /// range or the time is before the epoch.
    pub const fn unix_seconds(&self) -> Option<u64> {
        if !self.is_valid() {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400 + (self.hour * 3600 + self.minute * 60 + self.second) as i64;
        if secs < 0 {
            None
        } else {
            Some(secs as u64)
        }
    }
}
