//! Out of office as presence, the pure part: Microsoft 365 automatic replies as hcal keeps them
//! ([`AutoReplies`]: the status and the scheduled window, never the reply messages) and the
//! presence they mean at a given time ([`AutoReplies::presence_at`]), with the next time that
//! may change ([`AutoReplies::next_boundary`]), which is when a timer must fire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `automaticRepliesSetting.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AutoReplyStatus {
    /// Off.
    Disabled,
    /// On until turned off.
    AlwaysEnabled,
    /// On inside the scheduled window.
    Scheduled,
}

impl AutoReplyStatus {
    /// Graph's spelling, as hcal writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::AlwaysEnabled => "alwaysEnabled",
            Self::Scheduled => "scheduled",
        }
    }

    /// Graph's value, read without regard to case (Graph's own documentation writes both
    /// `scheduled` and `Scheduled`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Disabled, Self::AlwaysEnabled, Self::Scheduled].into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// A mailbox's automatic replies as hcal keeps them: what decides presence, and nothing else
/// (the reply messages and their audience are sensitive and not needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoReplies {
    /// The status.
    pub status: AutoReplyStatus,
    /// The window's start, for `scheduled` (in UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// The window's end, for `scheduled` (in UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

/// A user's presence as hcal derives it from automatic replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PresenceStatus {
    /// Automatic replies are on (always, or inside their scheduled window).
    OutOfOffice,
    /// Automatic replies are off, or outside their scheduled window.
    #[default]
    Available,
}

impl PresenceStatus {
    /// The wire name (`outOfOffice`, `available`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfOffice => "outOfOffice",
            Self::Available => "available",
        }
    }
}

/// The presence automatic replies mean at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceAt {
    /// Out of office or available.
    pub status: PresenceStatus,
    /// Since when, when the setting says (a scheduled window's start or end); `None` when it
    /// holds since the setting changed.
    pub since: Option<DateTime<Utc>>,
    /// Until when out of office is known to last (a scheduled window's end).
    pub until: Option<DateTime<Utc>>,
}

impl AutoReplies {
    /// Off.
    pub const DISABLED: Self = Self { status: AutoReplyStatus::Disabled, start: None, end: None };

    /// The setting as hcal keeps it: the window only for `scheduled`.
    pub fn new(status: AutoReplyStatus, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Self {
        match status {
            AutoReplyStatus::Scheduled => Self { status, start, end },
            _ => Self { status, start: None, end: None },
        }
    }

    /// The presence at `now`. A scheduled window is `[start, end)`; one without an end (or
    /// ending before it starts) never holds, as Exchange sends no replies for it.
    pub fn presence_at(&self, now: DateTime<Utc>) -> PresenceAt {
        let available = |since| PresenceAt { status: PresenceStatus::Available, since, until: None };
        match self.status {
            AutoReplyStatus::Disabled => available(None),
            AutoReplyStatus::AlwaysEnabled => {
                PresenceAt { status: PresenceStatus::OutOfOffice, since: None, until: None }
            }
            AutoReplyStatus::Scheduled => match (self.start, self.end) {
                (Some(start), Some(end)) if start < end => {
                    if now < start {
                        available(None)
                    } else if now < end {
                        PresenceAt { status: PresenceStatus::OutOfOffice, since: Some(start), until: Some(end) }
                    } else {
                        available(Some(end))
                    }
                }
                _ => available(None),
            },
        }
    }

    /// The next time after `now` at which [`Self::presence_at`] changes by itself (a window's
    /// start or end), if any.
    pub fn next_boundary(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (self.status, self.start, self.end) {
            (AutoReplyStatus::Scheduled, Some(start), Some(end)) if start < end => {
                [start, end].into_iter().find(|t| *t > now)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_scheduled_window_is_out_of_office_from_its_start_to_its_end() {
        let replies = AutoReplies::new(
            AutoReplyStatus::Scheduled,
            Some(at("2026-12-02T09:00:00Z")),
            Some(at("2026-12-04T17:00:00Z")),
        );
        let before = replies.presence_at(at("2026-12-02T08:59:59Z"));
        assert_eq!(before.status, PresenceStatus::Available);
        assert_eq!(replies.next_boundary(at("2026-12-02T08:59:59Z")), Some(at("2026-12-02T09:00:00Z")));
        let inside = replies.presence_at(at("2026-12-02T09:00:00Z"));
        assert_eq!(inside.status, PresenceStatus::OutOfOffice);
        assert_eq!(inside.since, Some(at("2026-12-02T09:00:00Z")));
        assert_eq!(inside.until, Some(at("2026-12-04T17:00:00Z")));
        assert_eq!(replies.next_boundary(at("2026-12-02T09:00:00Z")), Some(at("2026-12-04T17:00:00Z")));
        let after = replies.presence_at(at("2026-12-04T17:00:00Z"));
        assert_eq!(after.status, PresenceStatus::Available);
        assert_eq!(after.since, Some(at("2026-12-04T17:00:00Z")));
        assert_eq!(replies.next_boundary(at("2026-12-04T17:00:00Z")), None);
    }

    #[test]
    fn always_enabled_and_disabled_have_no_boundaries() {
        let now = at("2026-12-02T09:00:00Z");
        let always = AutoReplies::new(AutoReplyStatus::AlwaysEnabled, Some(now), Some(now));
        assert_eq!(always.start, None, "the window is kept only for scheduled");
        assert_eq!(always.presence_at(now).status, PresenceStatus::OutOfOffice);
        assert_eq!(always.next_boundary(now), None);
        assert_eq!(AutoReplies::DISABLED.presence_at(now).status, PresenceStatus::Available);
        assert_eq!(AutoReplies::DISABLED.next_boundary(now), None);
    }

    #[test]
    fn a_window_without_an_end_or_ending_before_it_starts_never_holds() {
        let now = at("2026-12-02T09:00:00Z");
        let open = AutoReplies::new(AutoReplyStatus::Scheduled, Some(now), None);
        assert_eq!(open.presence_at(now).status, PresenceStatus::Available);
        let backwards = AutoReplies::new(AutoReplyStatus::Scheduled, Some(now), Some(at("2026-12-01T09:00:00Z")));
        assert_eq!(backwards.presence_at(now).status, PresenceStatus::Available);
        assert_eq!(backwards.next_boundary(at("2026-11-01T00:00:00Z")), None);
    }

    #[test]
    fn statuses_parse_in_any_case() {
        assert_eq!(AutoReplyStatus::parse("Scheduled"), Some(AutoReplyStatus::Scheduled));
        assert_eq!(AutoReplyStatus::parse("alwaysenabled"), Some(AutoReplyStatus::AlwaysEnabled));
        assert_eq!(AutoReplyStatus::parse("sometimes"), None);
    }
}
