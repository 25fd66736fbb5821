//! Every knob of the Webex simulator, with its default and why it has that default.
//!
//! Defaults follow the documented behaviour of the Webex REST API, so a client that passes
//! against them has been held to what `webexapis.com` does. Tests switch faults on at run time
//! through [`WebexFaults`] (see [`crate::webex::WebexSim::set_faults`] and `PUT /_sim/faults`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Configuration of one simulator instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebexSimConfig {
    /// Seed of the simulator's random choices (fault draws, ids, numbers, PINs).
    /// Default 42: runs are reproducible unless a test asks otherwise.
    pub seed: u64,
    /// Webex site name: links and SIP addresses live under `{site}.webex.com`. Default `hcal`.
    pub site: String,
    /// The identity behind every token added with [`crate::webex::WebexSim::add_token`] (an
    /// admin or service-app token). It hosts meetings created without `hostEmail`.
    /// Default `webex-admin@example.com`.
    pub admin_email: String,
    /// `dialInIpAddress` of personal rooms and meetings. Default `192.0.2.68`, a documentation
    /// address, so nothing ever dials a real system by mistake.
    pub dial_in_ip_address: String,
    /// `telephony.callInNumbers` of personal rooms and meetings. Default one toll number from
    /// the fictional 555-01xx range, for the same reason.
    pub call_in_numbers: Vec<CallInNumber>,
    /// Give every person added a personal room at once, as Webex does for every licensed host.
    /// Default true; tests of "no personal room" remove it or start with false.
    pub auto_personal_rooms: bool,
    /// Faults active from the start (tests usually change them at run time).
    pub faults: WebexFaults,
    /// Worker threads of the HTTP server. Default 2.
    pub workers: usize,
}

impl Default for WebexSimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            site: "hcal".to_owned(),
            admin_email: "webex-admin@example.com".to_owned(),
            dial_in_ip_address: "192.0.2.68".to_owned(),
            call_in_numbers: vec![CallInNumber {
                label: "United States Toll".to_owned(),
                call_in_number: "+1-202-555-0100".to_owned(),
                toll_type: "toll".to_owned(),
            }],
            auto_personal_rooms: true,
            faults: WebexFaults::default(),
            workers: 2,
        }
    }
}

/// One dial-in number, as `telephony.callInNumbers[]` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallInNumber {
    /// Label, e.g. `United States Toll`.
    pub label: String,
    /// The number to dial.
    pub call_in_number: String,
    /// `toll` or `tollFree`.
    pub toll_type: String,
}

/// Faults a test can switch on. They apply to authenticated API requests only (a bad token is
/// always answered 401, so auth tests stay deterministic), after `latency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebexFaults {
    /// Share of API requests answered 429 with `Retry-After`, a probability in `0.0..=1.0`
    /// drawn per request from the seeded generator. Default 0.
    pub rate_429: f64,
    /// Share of API requests answered with `status_5xx`. Default 0.
    pub rate_5xx: f64,
    /// The next this-many API requests answer 429, before any rate is drawn: a deterministic
    /// "throttled, then fine" for retry tests. Counts down. Default 0.
    pub next_429: u32,
    /// The next this-many API requests (after any `next_429`) answer `status_5xx`. Default 0.
    pub next_5xx: u32,
    /// `Retry-After` of a 429, in whole seconds (Webex sends integers). Default 1.
    pub retry_after_secs: u64,
    /// Status of injected server errors. Default 503, what Webex answers when overloaded;
    /// values outside 500–599 are treated as 503.
    pub status_5xx: u16,
    /// Extra latency added to every API request, holding its concurrency slot (so
    /// `max_concurrency` in the stats shows overlapping calls). Fractional seconds; default 0.
    #[serde(with = "secs_f64")]
    pub latency: Duration,
}

impl Default for WebexFaults {
    fn default() -> Self {
        Self {
            rate_429: 0.0,
            rate_5xx: 0.0,
            next_429: 0,
            next_5xx: 0,
            retry_after_secs: 1,
            status_5xx: 503,
            latency: Duration::ZERO,
        }
    }
}

/// `Duration` as fractional seconds in configuration files and on the control surface.
mod secs_f64 {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
