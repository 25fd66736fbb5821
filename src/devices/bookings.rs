//! A room's bookings as its devices show them: the room mailbox's meeting-list rows of the
//! rolling window, with the room's rules applied. Pure: rows, rules and the time in, bookings
//! out.

use chrono::{DateTime, Duration, Utc};
use hcal_actors::detect::AddressKind;
use serde::{Deserialize, Serialize};

use super::booking::{DeviceBooking, DeviceJoin, JoinPlatform, JoinProtocol};
use crate::projections::meetings::MeetingRow;

/// What a device shows of a private (or confidential) meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivateSubject {
    /// The organiser's name in place of the subject (what peers do by default).
    #[default]
    Organizer,
    /// A fixed word, "Private meeting".
    Hide,
    /// The subject as it is.
    Show,
}

/// Title of a private meeting whose subject is hidden, or whose organiser is unknown.
pub const PRIVATE_TITLE: &str = "Private meeting";

/// The room's rules for its devices' list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomRules {
    /// Days ahead of today (UTC) the list covers; today counts as the first.
    pub days: u32,
    /// Private meetings.
    pub private_subject: PrivateSubject,
    /// Whether meetings without a join address are listed (without a Join button).
    pub list_without_join: bool,
}

impl Default for RoomRules {
    fn default() -> Self {
        Self { days: 8, private_subject: PrivateSubject::Organizer, list_without_join: true }
    }
}

impl RoomRules {
    /// The window the list covers at `now`: from the start of today (UTC) for `days` days, so
    /// a meeting that began this morning stays listed until the device drops it at its end.
    pub fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        (today, today + Duration::days(i64::from(self.days.max(1))))
    }
}

/// The bookings of `rows` (the room's meeting list over [`RoomRules::window`], occurrences
/// expanded), in start order, under `rules`. All-day events are no bookings: nobody joins a
/// room's day-long block from its device.
pub fn bookings(rows: &[MeetingRow], rules: &RoomRules) -> Vec<DeviceBooking> {
    let mut out: Vec<DeviceBooking> = rows
        .iter()
        .filter(|row| !row.is_all_day)
        .filter_map(|row| {
            let join =
                row.join.as_ref().and_then(|j| join_of(&j.provider, j.kind, row.private.join_address.as_deref()));
            if join.is_none() && !rules.list_without_join {
                return None;
            }
            let title = match (row.is_private, rules.private_subject) {
                (false, _) | (true, PrivateSubject::Show) => row.private.subject.clone(),
                (true, PrivateSubject::Organizer) => {
                    row.private.organizer.clone().unwrap_or_else(|| PRIVATE_TITLE.into())
                }
                (true, PrivateSubject::Hide) => PRIVATE_TITLE.into(),
            };
            Some(DeviceBooking {
                id: booking_id(row),
                title,
                organizer: row.private.organizer.clone(),
                start: row.start,
                end: row.end,
                private: row.is_private,
                join,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    out
}

/// A booking's id on the device: stable across pushes (the device matches a moved meeting by
/// it), short (devices show ids in their logs), and telling nothing of the meeting: the first
/// 16 hex digits of the SHA-256 of the event id (each occurrence of a series is listed under
/// its own occurrence id).
fn booking_id(row: &MeetingRow) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(&Sha256::digest(row.event_id.as_bytes())[..8])
}

/// What the Join button dials for a join target, when a device can: SIP addresses as SIP
/// (Webex's with the Webex platform, so that a Webex-registered device joins natively), Teams
/// and Meet links as a WebRTC guest join; anything else (a Zoom web link, a phone number) no
/// button, since the device cannot dial it.
pub fn join_of(provider: &str, kind: AddressKind, address: Option<&str>) -> Option<DeviceJoin> {
    let address = address?.trim();
    if address.is_empty() {
        return None;
    }
    let platform = match provider {
        "webex" => JoinPlatform::Webex,
        "teams" => JoinPlatform::MicrosoftTeams,
        "google_meet" => JoinPlatform::GoogleMeet,
        _ => JoinPlatform::Other,
    };
    match kind {
        AddressKind::Sip | AddressKind::H323 => {
            let number = address.strip_prefix("sip:").unwrap_or(address).to_owned();
            Some(DeviceJoin { number, protocol: JoinProtocol::Sip, platform, meeting_id: None })
        }
        AddressKind::Url if matches!(platform, JoinPlatform::MicrosoftTeams | JoinPlatform::GoogleMeet) => {
            Some(DeviceJoin { number: address.to_owned(), protocol: JoinProtocol::WebRtc, platform, meeting_id: None })
        }
        AddressKind::Url | AddressKind::Tel => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use hcal_actors::mailbox::events::{JoinOrigin, JoinTarget};

    use super::*;
    use crate::projections::meetings::RowPrivate;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn row(id: &str, hour: u32, join: Option<(&str, AddressKind, &str)>) -> MeetingRow {
        MeetingRow {
            event_id: id.into(),
            start: at(3, hour),
            end: at(3, hour + 1),
            is_all_day: false,
            join: join.map(|(provider, kind, _)| JoinTarget {
                provider: provider.into(),
                kind,
                origin: JoinOrigin::Detected,
            }),
            private: RowPrivate {
                subject: format!("Subject {id}"),
                join_address: join.map(|(_, _, a)| a.to_owned()),
                web_link: None,
                organizer: Some("Alex Wilber".into()),
                organizer_address: None,
            },
            occurrences: Vec::new(),
            series_master_id: None,
            is_private: false,
            is_organizer: false,
            response: None,
            time_zone: None,
        }
    }

    #[test]
    fn each_platform_gets_the_join_a_device_can_dial() {
        let teams = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0";
        let rows = vec![
            row("w", 9, Some(("webex", AddressKind::Sip, "sip:alex@hcal.webex.com"))),
            row("t", 10, Some(("teams", AddressKind::Url, teams))),
            row("z", 11, Some(("zoom", AddressKind::Url, "https://us02web.zoom.us/j/851"))),
            row("p", 12, None),
            row("s", 13, Some(("sip", AddressKind::Sip, "room@video.example.com"))),
        ];
        let out = bookings(&rows, &RoomRules::default());
        let joins: Vec<Option<(String, JoinProtocol, JoinPlatform)>> =
            out.iter().map(|b| b.join.as_ref().map(|j| (j.number.clone(), j.protocol, j.platform))).collect();
        assert_eq!(
            joins,
            vec![
                Some(("alex@hcal.webex.com".into(), JoinProtocol::Sip, JoinPlatform::Webex)),
                Some((teams.into(), JoinProtocol::WebRtc, JoinPlatform::MicrosoftTeams)),
                None,
                None,
                Some(("room@video.example.com".into(), JoinProtocol::Sip, JoinPlatform::Other)),
            ]
        );
        let without = RoomRules { list_without_join: false, ..RoomRules::default() };
        assert_eq!(bookings(&rows, &without).len(), 3, "no Join button, not listed");
    }

    #[test]
    fn a_private_meeting_shows_what_the_room_rule_says() {
        let mut private = row("x", 9, None);
        private.is_private = true;
        let title = |row: &MeetingRow, rule| {
            bookings(std::slice::from_ref(row), &RoomRules { private_subject: rule, ..RoomRules::default() })[0]
                .title
                .clone()
        };
        assert_eq!(title(&private, PrivateSubject::Organizer), "Alex Wilber");
        assert_eq!(title(&private, PrivateSubject::Hide), PRIVATE_TITLE);
        assert_eq!(title(&private, PrivateSubject::Show), "Subject x");
        private.private.organizer = None;
        assert_eq!(title(&private, PrivateSubject::Organizer), PRIVATE_TITLE);
        assert!(bookings(&[private], &RoomRules::default())[0].private);
    }

    #[test]
    fn ids_are_stable_opaque_and_distinct_per_occurrence_and_all_day_events_are_left_out() {
        // Occurrences are listed under their own ids (see `projections::meetings::in_window`).
        let a = row("event-a", 9, None);
        let moved = MeetingRow { start: at(4, 9), end: at(4, 10), ..a.clone() };
        assert_eq!(
            bookings(std::slice::from_ref(&a), &RoomRules::default())[0].id,
            bookings(&[moved], &RoomRules::default())[0].id
        );
        let id = bookings(std::slice::from_ref(&a), &RoomRules::default())[0].id.clone();
        assert_eq!(id.len(), 16);
        assert!(!id.contains("event"));
        let mut first = MeetingRow { event_id: "occurrence-1".into(), ..a.clone() };
        first.series_master_id = Some("series".into());
        let second = MeetingRow { event_id: "occurrence-2".into(), start: at(10, 9), end: at(10, 10), ..first.clone() };
        let ids: Vec<String> = bookings(&[first, second], &RoomRules::default()).into_iter().map(|b| b.id).collect();
        assert_ne!(ids[0], ids[1]);
        let all_day = MeetingRow { is_all_day: true, ..a };
        assert!(bookings(&[all_day], &RoomRules::default()).is_empty());
    }

    #[test]
    fn the_window_starts_today_and_covers_the_days_asked() {
        let (from, to) = RoomRules::default().window(at(3, 15));
        assert_eq!((from, to), (at(3, 0), at(11, 0)));
    }
}
