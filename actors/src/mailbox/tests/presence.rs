//! Automatic replies and presence: recorded when they change, presence at a window's edges,
//! back to available when the mailbox is disabled.

use chrono::Duration;

use crate::mailbox::decide::DecideError;
use crate::mailbox::events::MailboxEvent;
use crate::mailbox::input::MailboxInput as I;
use crate::mailbox::testing::*;
use crate::presence::{AutoReplies, AutoReplyStatus, PresenceStatus};

fn window_from_now(start_in: Duration, length: Duration) -> AutoReplies {
    AutoReplies::new(AutoReplyStatus::Scheduled, Some(now() + start_in), Some(now() + start_in + length))
}

fn ooo_changed(r: &AutoReplies) -> MailboxEvent {
    MailboxEvent::OooChanged { status: r.status, start: r.start, end: r.end }
}

fn polled(replies: AutoReplies) -> I {
    I::SettingsPolled { locale: Some("en-US".into()), automatic_replies: replies }
}

const ALWAYS: AutoReplies = AutoReplies { status: AutoReplyStatus::AlwaysEnabled, start: None, end: None };

#[test]
fn replies_already_on_when_the_mailbox_is_enabled_make_it_out_of_office_at_once() {
    given([])
        .when(I::MailboxSettingsRead {
            locale: Some("en-US".into()),
            locale_hint: None,
            automatic_replies: Some(ALWAYS),
        })
        .then_expect_events([
            MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) },
            ooo_changed(&ALWAYS),
            MailboxEvent::PresenceChanged { status: PresenceStatus::OutOfOffice, since: now(), until: None },
        ]);
}

#[test]
fn a_future_window_is_recorded_and_presence_waits_for_its_start() {
    let replies = window_from_now(Duration::hours(2), Duration::hours(8));
    given(active()).when(polled(replies)).then_expect_events([ooo_changed(&replies)]);
    let recorded = [active(), vec![ooo_changed(&replies)]].concat();
    given(recorded.clone()).when(I::PresenceDue).then_expect_nothing();
    given(recorded.clone()).at(now() + Duration::hours(2)).when(I::PresenceDue).then_expect_events([
        MailboxEvent::PresenceChanged {
            status: PresenceStatus::OutOfOffice,
            since: now() + Duration::hours(2),
            until: replies.end,
        },
    ]);
    let away = [
        recorded,
        vec![MailboxEvent::PresenceChanged {
            status: PresenceStatus::OutOfOffice,
            since: now() + Duration::hours(2),
            until: replies.end,
        }],
    ]
    .concat();
    // A late timer gives the window's edge as the time of the change, not its own.
    given(away.clone()).at(now() + Duration::hours(11)).when(I::PresenceDue).then_expect_events([
        MailboxEvent::PresenceChanged {
            status: PresenceStatus::Available,
            since: now() + Duration::hours(10),
            until: None,
        },
    ]);
    given(away).at(now() + Duration::hours(5)).when(I::PresenceDue).then_expect_nothing();
}

#[test]
fn the_same_read_again_records_nothing() {
    let on = [
        active(),
        vec![ooo_changed(&ALWAYS)],
        vec![MailboxEvent::PresenceChanged { status: PresenceStatus::OutOfOffice, since: now(), until: None }],
    ]
    .concat();
    given(on.clone()).when(polled(ALWAYS)).then_expect_nothing();
    given(on).when(polled(AutoReplies::DISABLED)).then_expect_events([
        ooo_changed(&AutoReplies::DISABLED),
        MailboxEvent::PresenceChanged { status: PresenceStatus::Available, since: now(), until: None },
    ]);
}

#[test]
fn a_new_language_is_detected() {
    given([active(), vec![ooo_changed(&AutoReplies::DISABLED)]].concat())
        .when(I::SettingsPolled { locale: Some("tr-TR".into()), automatic_replies: AutoReplies::DISABLED })
        .then_expect_events([MailboxEvent::LanguageDetected { locale: "tr-TR".into() }]);
}

#[test]
fn disabling_a_mailbox_that_is_out_of_office_makes_it_available() {
    let away = [
        enabled(),
        vec![ooo_changed(&ALWAYS)],
        vec![MailboxEvent::PresenceChanged { status: PresenceStatus::OutOfOffice, since: now(), until: None }],
    ]
    .concat();
    given(away).when(I::DisableMailbox).then_expect_events([
        MailboxEvent::MailboxDisabled {},
        MailboxEvent::PresenceChanged { status: PresenceStatus::Available, since: now(), until: None },
    ]);
}

#[test]
fn a_disabled_mailbox_takes_no_reads_or_timers() {
    given([]).when(polled(ALWAYS)).then_expect_error(DecideError::NotEnabled);
    given([]).when(I::PresenceDue).then_expect_error(DecideError::NotEnabled);
}
