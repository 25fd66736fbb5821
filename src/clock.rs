//! The service's clock.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// The service's clock: real time plus an offset that tests may move forward (only when
/// `[testing] controllable_clock` is on; otherwise the offset stays 0).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves time forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds().max(0), Ordering::SeqCst);
    }
}

impl hcal_actors::ports::Clock for Clock {
    fn now(&self) -> DateTime<Utc> {
        Clock::now(self)
    }
}
