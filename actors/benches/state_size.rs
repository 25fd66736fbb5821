//! How large a mailbox's snapshot grows over a year of a busy calendar, with and without
//! forgetting meetings that ended long ago (`MeetingForgotten`, at each subscription renewal).
//! A size, not a time: it is the same on every machine. The snapshot is one log record, so it
//! has to stay under the broker's record limit (hcal leaves out snapshots over
//! `MAX_SNAPSHOT_BYTES`, and those mailboxes recover from their whole history).
//!
//! Run: `cargo bench -p hcal-actors --bench state_size`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use hcal_actors::mailbox::config::MailboxConfig;
use hcal_actors::mailbox::decide::decide;
use hcal_actors::mailbox::events::{MailboxEvent, MeetingDetails, MeetingPrivate};
use hcal_actors::mailbox::input::MailboxInput;
use hcal_actors::mailbox::snapshot::{self, MAX_SNAPSHOT_BYTES, Snapshot};
use hcal_actors::mailbox::state::MailboxState;
use hcal_actors::ports::{EmailAddress, EventType};
use hcal_actors::seal::{DataKey, KeyRing};

/// Meetings per working day.
const PER_DAY: u32 = 6;
/// Attendees per meeting.
const ATTENDEES: usize = 8;
/// Days ahead a meeting is booked.
const BOOKED_AHEAD: i64 = 14;
/// Hours between subscription renewals (half of the 10,000-minute lifetime, about).
const RENEW_EVERY_HOURS: i64 = 83;
/// The default of `service.forget_meetings_after`, in days.
const FORGET_AFTER_DAYS: i64 = 30;

fn meeting(n: u32, start: DateTime<Utc>) -> MeetingDetails {
    MeetingDetails {
        event_id: GraphEventId::new(format!("AAMkAGI2TG93AAAAAAEOAAAAAAAAAAA{n:010}")),
        change_key: format!("DwAAABYAAAAnOpcQiL2rQ4v{n:08}"),
        start,
        end: start + Duration::hours(1),
        is_all_day: false,
        event_type: EventType::SingleInstance,
        is_organizer: n.is_multiple_of(3),
        is_private: false,
        response: None,
        time_zone: None,
        keyword: None,
        join: None,
        private: MeetingPrivate {
            subject: format!("Weekly planning and review of the quarter's roadmap, part {n}"),
            organizer: Some(EmailAddress {
                name: "Organiser Name".into(),
                address: "organiser.name@contoso.example".into(),
            }),
            attendees: (0..ATTENDEES)
                .map(|a| EmailAddress {
                    name: format!("Attendee Number {a}"),
                    address: format!("attendee.number.{a}@contoso.example"),
                })
                .collect(),
            join_address: Some(format!("https://contoso.webex.com/meet/room{n}")),
            web_link: None,
        },
    }
}

/// What a year did to a mailbox.
struct Year {
    state: MailboxState,
    /// The largest snapshot, measured weekly.
    largest: usize,
    /// The first week's end (in days) at which the snapshot was over the limit.
    over_from: Option<i64>,
}

/// A year of bookings.
fn year(forget: bool, ring: &KeyRing, mailbox: MailboxId) -> Year {
    let mut config = MailboxConfig::default();
    config.maintenance.forget_after = Duration::days(FORGET_AFTER_DAYS);
    let mut state = MailboxState::default();
    state.apply(&MailboxEvent::MailboxEnabled { locale: Some("en-GB".into()) });
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0).single().unwrap_or_else(|| unreachable!());
    let mut next_renewal = start;
    let mut n = 0;
    let (mut largest, mut over_from) = (0, None);
    for day in 0..365 {
        let today = start + Duration::days(day);
        if day % 7 < 5 {
            for slot in 0..PER_DAY {
                n += 1;
                let at = today + Duration::days(BOOKED_AHEAD) + Duration::hours(9 + i64::from(slot));
                state.apply(&MailboxEvent::MeetingScheduled(meeting(n, at)));
            }
        }
        while next_renewal <= today {
            if forget {
                // A renewal's decision: the meetings it forgets (and the renewal itself, which
                // a bench has no Graph for).
                let renewal = decide(&state, &MailboxInput::RenewSubscription, &config, next_renewal);
                for event in renewal.map(|d| d.events).unwrap_or_default() {
                    state.apply(&event);
                }
            }
            next_renewal += Duration::hours(RENEW_EVERY_HOURS);
        }
        if day % 7 == 6 {
            let bytes = size(&state, ring, mailbox);
            largest = largest.max(bytes);
            if bytes > MAX_SNAPSHOT_BYTES {
                over_from.get_or_insert(day + 1);
            }
        }
    }
    Year { state, largest, over_from }
}

fn size(state: &MailboxState, ring: &KeyRing, mailbox: MailboxId) -> usize {
    let snap = Snapshot::of(mailbox, state.clone(), 1, 0, Utc::now());
    snapshot::encode(&snap, ring).map(|b| b.len()).unwrap_or_default()
}

fn main() {
    let ring = KeyRing::new(DataKey::generate("bench").unwrap_or_else(|_| unreachable!()));
    let mailbox = MailboxId {
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap_or_else(|_| unreachable!()),
        user: UserObjectId::parse("00000000-0000-0000-0000-000000000001").unwrap_or_else(|_| unreachable!()),
    };
    println!(
        "A year of {PER_DAY} meetings a working day, {ATTENDEES} attendees each, booked {BOOKED_AHEAD} days ahead; \
         renewals every {RENEW_EVERY_HOURS} h; snapshot limit {MAX_SNAPSHOT_BYTES} bytes."
    );
    println!(
        "{:<26} {:>9} {:>15} {:>17} {:>22}",
        "", "meetings", "snapshot bytes", "largest (weekly)", "over the limit from"
    );
    for (label, forget) in [("keeping every meeting", false), ("forgetting after 30 days", true)] {
        let y = year(forget, &ring, mailbox);
        let bytes = size(&y.state, &ring, mailbox);
        let over = y.over_from.map_or_else(|| "never".to_owned(), |d| format!("day {d}"));
        println!("{label:<26} {:>9} {bytes:>15} {:>17} {over:>22}", y.state.meetings.len(), y.largest);
    }
}
