//! Retry policy as data: what an attempt's failure means, how long to wait before the next
//! one, and what the caller gets when the budget is spent. No I/O here; the client sleeps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hcal_actors::ports::GraphFailure;
use rand::Rng;

/// Why an attempt may be worth repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryKind {
    /// 429 or 503: the service asked us to slow down.
    Throttled,
    /// Other 5xx, timeouts, broken connections.
    Transient,
}

/// A failed attempt that a later attempt may fix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retryable {
    /// Throttled or transient.
    pub kind: RetryKind,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// Whether the request certainly had no effect (429/503, no connection, no token yet),
    /// so even a non-idempotent request may be sent again.
    pub unprocessed: bool,
    /// For logs and `Transient(…)`: status and code or the kind of I/O failure, never a URL,
    /// a body or a token.
    pub reason: String,
}

impl Retryable {
    /// The failure the caller gets once no further attempt is made, after `attempts` tries.
    pub(crate) fn into_failure(self, attempts: u32, backoff: &Backoff) -> GraphFailure {
        match self.kind {
            RetryKind::Throttled => GraphFailure::Throttled {
                // Without a server hint, suggest what our own schedule would have waited.
                retry_after_secs: self.retry_after.unwrap_or_else(|| backoff.ceiling(attempts)).as_secs_f64(),
            },
            RetryKind::Transient => GraphFailure::Transient(format!("{} (after {attempts} attempts)", self.reason)),
        }
    }
}

/// The outcome of one attempt that did not produce a usable answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttemptError {
    /// Try again (budget permitting).
    Retry(Retryable),
    /// Final: retrying cannot help.
    Final(GraphFailure),
}

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// First ceiling.
    pub base: Duration,
    /// Largest wait.
    pub cap: Duration,
}

impl Backoff {
    /// Upper bound of the wait before retry number `retry` (0-based): `base * 2^retry`, capped.
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(30));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait in `0..=ceiling(retry)`. Full jitter spreads callers that failed together
    /// (one outage hits many mailboxes at once) so they do not return together.
    pub(crate) fn jittered(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

/// What to do after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Next {
    /// Sleep this long, then try again.
    Wait(Duration),
    /// Stop and report.
    GiveUp,
}

/// Decides the next step after retry number `retries_done` failed with `err`.
pub(crate) fn plan(
    err: &Retryable,
    retries_done: u32,
    max_retries: u32,
    backoff: &Backoff,
    rng: &mut impl Rng,
) -> Next {
    if retries_done >= max_retries {
        return Next::GiveUp;
    }
    match err.retry_after {
        // Sleeping longer than the cap would park the caller's task for minutes; hand the
        // server's value back instead so the work can be scheduled for later.
        Some(after) if after > backoff.cap => Next::GiveUp,
        Some(after) => Next::Wait(after),
        None => Next::Wait(backoff.jittered(retries_done, rng)),
    }
}

/// Parses `Retry-After`: delta-seconds, which Graph may send with fractions ("0.5"), or an
/// HTTP date. Unusable values are ignored (the caller falls back to backoff).
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `Retry-After` of a response, if present and usable.
pub(crate) fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, Utc::now())
}

/// Classifies a failure below HTTP. The reason names the kind of failure only: reqwest's own
/// message would carry the URL, which holds mailbox and item ids.
pub(crate) fn transport_failure(err: &reqwest::Error) -> Retryable {
    let reason = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed"
    } else {
        "the connection failed"
    };
    // Without a connection nothing reached the server; anything later may have been processed.
    Retryable { kind: RetryKind::Transient, retry_after: None, unprocessed: err.is_connect(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const BACKOFF: Backoff = Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(60) };

    fn transient() -> Retryable {
        Retryable { kind: RetryKind::Transient, retry_after: None, unprocessed: false, reason: "502 BadGateway".into() }
    }

    #[test]
    fn retry_after_seconds_fractions_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 ", now), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        assert_eq!(BACKOFF.ceiling(0), Duration::from_millis(500));
        assert_eq!(BACKOFF.ceiling(3), Duration::from_secs(4));
        assert_eq!(BACKOFF.ceiling(10), Duration::from_secs(60));
        assert_eq!(BACKOFF.ceiling(u32::MAX), Duration::from_secs(60));
        let mut rng = StdRng::seed_from_u64(7);
        let waits: Vec<Duration> = (0..200).map(|_| BACKOFF.jittered(2, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
        assert!(waits.iter().any(|w| *w < Duration::from_millis(500)), "jitter reaches down to zero");
    }

    #[test]
    fn plan_honours_retry_after_and_the_budget() {
        let mut rng = StdRng::seed_from_u64(1);
        let throttled = Retryable {
            kind: RetryKind::Throttled,
            retry_after: Some(Duration::from_millis(1500)),
            unprocessed: true,
            reason: "429 ApplicationThrottled".into(),
        };
        assert_eq!(plan(&throttled, 0, 5, &BACKOFF, &mut rng), Next::Wait(Duration::from_millis(1500)));
        assert_eq!(plan(&throttled, 5, 5, &BACKOFF, &mut rng), Next::GiveUp);
        let long = Retryable { retry_after: Some(Duration::from_secs(120)), ..throttled.clone() };
        assert_eq!(plan(&long, 0, 5, &BACKOFF, &mut rng), Next::GiveUp, "longer than the cap: hand back");
        assert!(matches!(plan(&transient(), 1, 5, &BACKOFF, &mut rng), Next::Wait(w) if w <= Duration::from_secs(1)));
    }

    #[test]
    fn exhausted_failures_are_classified() {
        let throttled = Retryable {
            kind: RetryKind::Throttled,
            retry_after: Some(Duration::from_millis(250)),
            unprocessed: true,
            reason: "429".into(),
        };
        assert_eq!(throttled.into_failure(6, &BACKOFF), GraphFailure::Throttled { retry_after_secs: 0.25 });
        let no_hint = Retryable { kind: RetryKind::Throttled, retry_after: None, unprocessed: true, reason: "".into() };
        assert_eq!(no_hint.into_failure(2, &BACKOFF), GraphFailure::Throttled { retry_after_secs: 2.0 });
        assert_eq!(
            transient().into_failure(6, &BACKOFF),
            GraphFailure::Transient("502 BadGateway (after 6 attempts)".into())
        );
    }
}
