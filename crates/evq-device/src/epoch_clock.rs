//! Wall-clock time for boards with no real-time clock: a free-running
//! counter and an epoch the system description sets.
//!
//! Boards such as the Raspberry Pi 4, the HiFive Unleashed and Spike keep
//! no time of day across a reset. What they have is a counter that runs at
//! a known rate: the aarch64 generic timer's count (`CNTPCT_EL0`, at the
//! rate in `CNTFRQ_EL0`), RISC-V's `time` CSR (at the device tree's
//! `timebase-frequency`), or the Pi's 1 MHz system timer
//! ([`crate::bcm2835_systimer`]). An [`EpochClock`] is told once what time
//! it is and the counter's reading at that moment, and from then on turns
//! readings into seconds since the Unix epoch. The time it is told comes
//! from the device domain's arguments in the system description
//! (`epoch=<seconds>`, read by [`parse_epoch`]).
//!
//! Limits: the clock is only as right as the epoch it was given and the
//! rate it was told; it does not know leap seconds. The counter is taken to
//! be 64 bits wide (the shell extends a narrower one): a reading below the
//! one before is a counter that was reset, or wrapped, and the time holds
//! there instead of jumping either way (see [`EpochClock::now`]).

/// Seconds since the Unix epoch from a free-running counter.
///
/// The time is the epoch plus the whole seconds the counter has run since
/// the reading at which the epoch was set; the arithmetic is exact, in
/// 128 bits, for any counter rate a `u64` holds, and saturates at
/// `u64::MAX` seconds instead of overflowing. A rate of 0 keeps the clock at
/// its epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochClock {
    hz: u64,
    /// Unix seconds at the set point.
    epoch: u64,
    /// The reading the counter's ticks are counted from: the set point, or
    /// the reading after a reset.
    anchor: u64,
    /// Ticks counted since the set point before the counter last reset.
    carried: u128,
    /// The latest reading, never below `anchor`.
    last: u64,
    /// The time the last [`tick`](Self::tick) that returned one returned.
    ticked: Option<u64>,
}

impl EpochClock {
    /// A clock whose counter runs at `hz` ticks per second, which read
    /// `counter_now` at Unix time `unix_seconds`.
    pub const fn new(hz: u64, unix_seconds: u64, counter_now: u64) -> Self {
        Self { hz, epoch: unix_seconds, anchor: counter_now, carried: 0, last: counter_now, ticked: None }
    }

    /// The counter's rate, in ticks per second.
    pub const fn hz(&self) -> u64 {
        self.hz
    }

    /// Sets the time: the counter read `counter_now` at Unix time
    /// `unix_seconds`. The time may move either way; the next
    /// [`tick`](Self::tick) reports it if its second differs from the last
    /// one reported.
    pub fn set(&mut self, unix_seconds: u64, counter_now: u64) {
        self.epoch = unix_seconds;
        self.anchor = counter_now;
        self.carried = 0;
        self.last = counter_now;
    }

    /// Seconds since the Unix epoch at the counter reading `counter`.
    ///
    /// Readings are expected in the order they were taken. A reading below
    /// the one before (below the set point, or below the last one given
    /// here) means the counter was reset, or wrapped: the clock does not go
    /// back, and does not guess how long the counter ran before it reset.
    /// It counts on from the new reading as though it were the last one, so
    /// the time holds at the last time given and advances from there.
    pub fn now(&mut self, counter: u64) -> u64 {
        if counter < self.last {
            // Keep what ran from the anchor to the last reading; start again
            // from this one.
            self.carried = self.carried.saturating_add(u128::from(self.last - self.anchor));
            self.anchor = counter;
        }
        self.last = counter;
        // anchor <= last == counter, so this never wraps.
        let ticks = self.carried.saturating_add(u128::from(counter - self.anchor));
        if self.hz == 0 {
            return self.epoch;
        }
        let seconds = ticks / u128::from(self.hz);
        self.epoch.saturating_add(u64::try_from(seconds).unwrap_or(u64::MAX))
    }

    /// The time at `counter`, if its whole second differs from that of the
    /// last `tick` that returned a time (or this is the first).
    ///
    /// So the shell can call it whenever it wakes, and publish a TIME event
    /// when it returns one: at most one a second, and none while the time
    /// has not moved.
    pub fn tick(&mut self, counter: u64) -> Option<u64> {
        let now = self.now(counter);
        if self.ticked == Some(now) {
            return None;
        }
        self.ticked = Some(now);
        Some(now)
    }
}

/// The word of the device domain's arguments that sets the epoch.
pub const EPOCH_PREFIX: &str = "epoch=";

/// Why the epoch in the device domain's arguments could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochError {
    /// `epoch=` with nothing after it.
    Empty,
    /// A character other than the digits 0 to 9.
    NotDecimal(char),
    /// More seconds than a `u64` holds.
    TooLarge,
    /// `epoch=` more than once.
    Repeated,
}

impl core::fmt::Display for EpochError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EpochError::Empty => {
                write!(f, "`epoch=` gives no time: write the seconds since 1970-01-01 00:00 UTC after it")
            }
            EpochError::NotDecimal(c) => write!(
                f,
                "the epoch has '{}' in it: write it as the seconds since 1970-01-01 00:00 UTC in the digits 0 to 9",
                c.escape_default()
            ),
            EpochError::TooLarge => write!(f, "the epoch is more seconds than the clock holds (at most {})", u64::MAX),
            EpochError::Repeated => write!(f, "`epoch=` is given more than once: give it once"),
        }
    }
}

impl core::error::Error for EpochError {}

/// The epoch the device domain's arguments set, in seconds since the Unix
/// epoch: the word `epoch=<seconds>` among whitespace-separated words, the
/// seconds in decimal digits (no sign). `None` if no word starts with
/// `epoch=`; other words are left for other settings.
pub fn parse_epoch(args: &str) -> Result<Option<u64>, EpochError> {
    let mut epoch = None;
    for word in args.split_whitespace() {
        let Some(value) = word.strip_prefix(EPOCH_PREFIX) else {
            continue;
        };
        if epoch.is_some() {
            return Err(EpochError::Repeated);
        }
        epoch = Some(parse_seconds(value)?);
    }
    Ok(epoch)
}

fn parse_seconds(digits: &str) -> Result<u64, EpochError> {
    if digits.is_empty() {
        return Err(EpochError::Empty);
    }
    let mut seconds: u64 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(10).ok_or(EpochError::NotDecimal(c))?;
        seconds = seconds.checked_mul(10).and_then(|s| s.checked_add(u64::from(digit))).ok_or(EpochError::TooLarge)?;
    }
    Ok(seconds)
}
