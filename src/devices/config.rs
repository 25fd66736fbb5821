//! `[devices]`: how room devices' lists are built and pushed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::booking::{Buffers, MAX_BUFFER};
use super::bookings::{PrivateSubject, RoomRules};
use super::push::CiscoPushConfig;
use super::pusher::PusherConfig;

/// `[devices]`. Every field has a default; a deployment without room devices leaves the section
/// out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Join button shown this long before a meeting starts. Default `"5m"` (what peers do);
    /// 0 to 180 minutes.
    #[serde(with = "crate::config::duration")]
    pub join_before: Duration,
    /// Booking kept on the device this long after its end. Default `"0s"`; 0 to 180 minutes.
    #[serde(with = "crate::config::duration")]
    pub keep_after: Duration,
    /// Days of bookings a device gets, today included. Default 8 (today and a week ahead).
    pub days: u32,
    /// What a device shows of a private meeting: `organizer` (the organiser's name, default),
    /// `hide` ("Private meeting") or `show` (the subject).
    pub private_subject: PrivateSubject,
    /// Whether meetings without a join address a device can dial are listed (without a Join
    /// button). Default true: the room's schedule is worth seeing.
    pub list_without_join: bool,
    /// First retry after a failed push. Default `"5s"`.
    #[serde(with = "crate::config::duration")]
    pub retry_first: Duration,
    /// Longest wait between retries, and so the longest a device that came back shows an old
    /// list. Default `"1m"`.
    #[serde(with = "crate::config::duration")]
    pub retry_max: Duration,
    /// Every room's list pushed again this often (the window moves on; a restarted device gets
    /// its list back). Default `"15m"`.
    #[serde(with = "crate::config::duration")]
    pub refresh: Duration,
    /// Connections to devices.
    pub push: CiscoPushConfig,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        let pusher = PusherConfig::default();
        let rules = RoomRules::default();
        let buffers = Buffers::default();
        Self {
            join_before: buffers.join_before,
            keep_after: buffers.keep_after,
            days: rules.days,
            private_subject: rules.private_subject,
            list_without_join: rules.list_without_join,
            retry_first: pusher.retry_first,
            retry_max: pusher.retry_max,
            refresh: pusher.refresh,
            push: CiscoPushConfig::default(),
        }
    }
}

impl DevicesConfig {
    /// What is wrong with the section, one line per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [("join_before", self.join_before), ("keep_after", self.keep_after)] {
            if value > MAX_BUFFER {
                problems.push(format!("[devices] {name} must be at most 180 minutes"));
            }
        }
        if !(1..=60).contains(&self.days) {
            problems.push("[devices] days must be 1 to 60".into());
        }
        if self.retry_first.is_zero() || self.retry_first > self.retry_max {
            problems.push("[devices] retry_first must be above zero and at most retry_max".into());
        }
        if self.refresh < Duration::from_secs(60) {
            problems.push("[devices] refresh must be at least one minute".into());
        }
        problems
    }

    /// The pusher's settings.
    pub fn pusher(&self) -> PusherConfig {
        PusherConfig {
            retry_first: self.retry_first,
            retry_max: self.retry_max,
            refresh: self.refresh,
            rules: RoomRules {
                days: self.days,
                private_subject: self.private_subject,
                list_without_join: self.list_without_join,
            },
            buffers: Buffers { join_before: self.join_before, keep_after: self.keep_after }.clamped(),
            ..PusherConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_sound_and_each_bound_is_checked() {
        assert!(DevicesConfig::default().problems().is_empty());
        let parsed: DevicesConfig = toml::from_str("join_before = \"10m\"\nprivate_subject = \"hide\"").unwrap();
        assert_eq!(parsed.pusher().buffers.join_before, Duration::from_secs(600));
        assert_eq!(parsed.pusher().rules.private_subject, PrivateSubject::Hide);
        let bad: DevicesConfig =
            toml::from_str("join_before = \"4h\"\ndays = 0\nretry_first = \"2m\"\nrefresh = \"10s\"").unwrap();
        assert_eq!(bad.problems().len(), 4, "{:?}", bad.problems());
        assert!(toml::from_str::<DevicesConfig>("colour = \"red\"").is_err());
    }
}
