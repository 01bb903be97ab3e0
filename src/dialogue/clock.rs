//! The current time, behind a trait so that expiry is tested without sleeping.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use jiff::ZonedDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> ZonedDateTime;
}

/// The system clock in the system time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// A clock that moves only when its owner moves it, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<ZonedDateTime>,
}

impl Clock for SystemClock {
    fn now(&self) -> ZonedDateTime {
        ZonedDateTime::now()
    }
}

impl ManualClock {
    pub fn new(now: ZonedDateTime) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock forward by `duration`. A duration beyond the range
    /// of time stamps leaves the clock at the latest time it can hold.
    pub fn advance(&self, duration: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(duration);
    }

    pub fn set(&self, to: ZonedDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> ZonedDateTime {
        self.now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start: ZonedDateTime = "2025-06-12T12:00:00+00:00[UTC]".parse().unwrap();
        let clock = ManualClock::new(start.clone());
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(301));
        assert_eq!(
            clock.now().timestamp().as_second() - start.timestamp().as_second(),
            301
        );
    }
}
