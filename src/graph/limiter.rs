//! Outlook's per-mailbox limits, enforced on our side: at most N requests in flight per
//! mailbox, and a pause shared by all of a mailbox's callers after Graph throttled it. Waiting
//! happens in each caller's own task, so a throttled mailbox never slows another one.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hcal_actors::ids::MailboxId;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Below this many tracked mailboxes, dead entries are not worth a sweep.
const MIN_SWEEP: usize = 64;

/// The gates of all mailboxes with calls in progress.
///
/// The map holds weak references: a gate lives exactly as long as some call holds it, so
/// mailboxes that went quiet cost only a dead map entry, and those are swept whenever the map
/// has doubled since the last sweep (amortised O(1), no background task).
pub(crate) struct MailboxLimiter {
    permits: usize,
    gates: Mutex<Gates>,
}

struct Gates {
    map: HashMap<MailboxId, Weak<Gate>>,
    sweep_at: usize,
}

impl MailboxLimiter {
    /// A limiter allowing `permits` concurrent requests per mailbox.
    pub(crate) fn new(permits: usize) -> Self {
        Self { permits, gates: Mutex::new(Gates { map: HashMap::new(), sweep_at: MIN_SWEEP }) }
    }

    /// The gate of `mailbox`; hold it for the whole call, retries included, so the mailbox's
    /// throttling pause outlives a single attempt.
    pub(crate) fn gate(&self, mailbox: MailboxId) -> Arc<Gate> {
        let mut gates = self.gates.lock();
        if let Some(gate) = gates.map.get(&mailbox).and_then(Weak::upgrade) {
            return gate;
        }
        let gate = Arc::new(Gate { slots: Semaphore::new(self.permits), paused_until: Mutex::new(None) });
        gates.map.insert(mailbox, Arc::downgrade(&gate));
        if gates.map.len() >= gates.sweep_at {
            gates.map.retain(|_, g| g.strong_count() > 0);
            gates.sweep_at = (gates.map.len() * 2).max(MIN_SWEEP);
        }
        gate
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.gates.lock().map.len()
    }
}

/// One mailbox's slots and throttling pause.
pub(crate) struct Gate {
    slots: Semaphore,
    paused_until: Mutex<Option<Instant>>,
}

impl Gate {
    /// Waits until the mailbox is not paused and a slot is free; the slot is released when the
    /// permit drops. `None` only if the semaphore was closed, which this module never does.
    pub(crate) async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        loop {
            if let Some(until) = self.pause_end() {
                tokio::time::sleep_until(until).await;
            }
            let permit = self.slots.acquire().await.ok()?;
            // A 429 may have arrived while we queued for the slot: honour it before sending.
            if self.pause_end().is_none() {
                return Some(permit);
            }
        }
    }

    /// Holds back every caller of this mailbox for `wait` (a pause already running longer is
    /// kept).
    pub(crate) fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock();
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    fn pause_end(&self) -> Option<Instant> {
        let mut paused = self.paused_until.lock();
        match *paused {
            Some(until) if until > Instant::now() => Some(until),
            Some(_) => {
                *paused = None;
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hcal_actors::ids::{TenantId, UserObjectId};

    use super::*;

    fn mailbox(n: u128) -> MailboxId {
        let tenant = TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        MailboxId { tenant, user: UserObjectId::parse(&format!("{n:032x}")).unwrap() }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_n_in_flight_per_mailbox_and_others_unaffected() {
        let limiter = Arc::new(MailboxLimiter::new(4));
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (limiter, now, peak) = (limiter.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let gate = limiter.gate(mailbox(1));
                let _permit = gate.acquire().await.unwrap();
                peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        // While mailbox 1 is saturated, mailbox 2 gets a slot at once.
        let other = limiter.gate(mailbox(2));
        let _permit = tokio::time::timeout(Duration::from_millis(10), other.acquire()).await.unwrap().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pause_holds_back_only_its_mailbox() {
        let limiter = MailboxLimiter::new(4);
        let (paused, free) = (limiter.gate(mailbox(1)), limiter.gate(mailbox(2)));
        paused.pause(Duration::from_millis(150));
        paused.pause(Duration::from_millis(10)); // a shorter pause does not cut the longer one
        let start = Instant::now();
        drop(free.acquire().await.unwrap());
        assert!(start.elapsed() < Duration::from_millis(100));
        drop(paused.acquire().await.unwrap());
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn idle_mailboxes_are_forgotten() {
        let limiter = MailboxLimiter::new(4);
        let held = limiter.gate(mailbox(0));
        for n in 1..1000 {
            drop(limiter.gate(mailbox(n)));
        }
        assert!(limiter.tracked() < 2 * MIN_SWEEP, "dead entries are swept: {}", limiter.tracked());
        assert!(Arc::ptr_eq(&held, &limiter.gate(mailbox(0))), "a gate in use is kept");
    }
}
