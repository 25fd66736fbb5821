//! Change notifications, invites becoming meetings, keywords and their join details, skips with
//! their reasons, and every outcome of the platform and of the write.

use crate::ids::GraphEventId;
use crate::join::{Marker, insert_block, render_block};
use crate::mailbox::config::DecideConfig;
use crate::mailbox::decide::DecideError;
use crate::mailbox::effect::Effect;
use crate::mailbox::events::{JoinOrigin, MailboxEvent, SkipReason};
use crate::mailbox::input::MailboxInput as I;
use crate::mailbox::state::Decoration;
use crate::mailbox::testing::*;
use crate::notification::ChangeType;
use crate::ports::{GraphEvent, GraphFailure, PlatformFailure};

fn id() -> GraphEventId {
    GraphEventId::new("AAMkE1")
}

fn find_room(event: GraphEvent, conflicts: u32) -> Effect {
    Effect::FindPersonalRoom {
        event: Box::new(event),
        organizer: "alice@contoso.example".into(),
        mode: "myroom".into(),
        conflicts,
    }
}

fn room_found(event: GraphEvent) -> I {
    I::RoomFound { event: Box::new(event), room: room(), mode: "myroom".into(), conflicts: 0 }
}

/// The meeting's scheduling events, as `decide` records them for `event`.
fn scheduled(event: GraphEvent) -> Vec<MailboxEvent> {
    given(active()).when(fetched(event)).events().to_vec()
}

#[test]
fn a_change_is_read_first_and_a_deletion_cancels() {
    given(active())
        .when(I::HandleChange { change_type: ChangeType::Created, event_id: id() })
        .then_expect_events([])
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 0 }]);
    let known = [active(), scheduled(invite("Room 1", "", "ck1"))].concat();
    given(known.clone())
        .when(I::HandleChange { change_type: ChangeType::Deleted, event_id: id() })
        .then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
    given(known)
        .when(I::EventFetched { event_id: id(), event: None, conflicts: 0 })
        .then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
    given(active()).when(I::HandleChange { change_type: ChangeType::Deleted, event_id: id() }).then_expect_nothing();
}

#[test]
fn a_keyword_invite_is_scheduled_and_the_organisers_room_looked_up() {
    let event = invite("@webex", "<p>Agenda</p>", "ck1");
    let then = given(active()).when(fetched(event.clone()));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.keyword.as_ref().map(|k| k.name.as_str()), Some("webex"));
    assert_eq!(d.join, None);
    then.then_expect_effects([find_room(event, 0)]);
}

#[test]
fn the_block_is_written_in_the_mailbox_language_with_the_marker_only_if_unchanged() {
    let event = invite("@webex", "<html><body><p>Agenda</p></body></html>", "ck1");
    let history = [enabled(), vec![subscribed("sub-1")], scheduled(event.clone())].concat();
    let expected = |locale: &str| Effect::WriteJoinInfo {
        event_id: id(),
        expected_change_key: "ck1".into(),
        body_html: insert_block(&event.body_html, &render_block(&room(), locale)),
        marker: Marker::new(&room(), "myroom").encode(),
        room: room(),
        mode: "myroom".into(),
        conflicts: 0,
    };
    given(history.clone())
        .when(room_found(event.clone()))
        .then_expect_events([])
        .then_expect_effects([expected("en-US")]);
    let turkish = [vec![MailboxEvent::MailboxEnabled { locale: Some("tr-TR".into()) }], history[1..].to_vec()].concat();
    let then = given(turkish).when(room_found(event.clone()));
    then.then_expect_effects([expected("tr-TR")]);
    let Effect::WriteJoinInfo { body_html, .. } = &then.effects()[0] else { unreachable!() };
    assert!(body_html.contains("Webex toplantısına katılın") && body_html.contains("<p>Agenda</p>"), "{body_html}");
}

#[test]
fn without_a_known_language_the_block_is_in_english() {
    let event = invite("@webex", "", "ck1");
    let history =
        [vec![MailboxEvent::MailboxEnabled { locale: None }, subscribed("sub-1")], scheduled(event.clone())].concat();
    let then = given(history).when(room_found(event));
    let Effect::WriteJoinInfo { body_html, .. } = &then.effects()[0] else { panic!("{:?}", then.effects()) };
    assert!(body_html.contains("Join Webex meeting"), "{body_html}");
}

#[test]
fn the_write_is_recorded_and_its_echo_ignored() {
    let event = invite("@webex", "", "ck1");
    let history = [active(), scheduled(event)].concat();
    let written = given(history.clone()).when(I::JoinInfoWritten {
        event_id: id(),
        room: room(),
        mode: "myroom".into(),
        change_key: "ck2".into(),
    });
    let [MailboxEvent::JoinInfoPatched { change_key, recovered, join, private, .. }] = written.events() else {
        panic!("{:?}", written.events())
    };
    assert_eq!((change_key.as_str(), *recovered, join.origin), ("ck2", false, JoinOrigin::Hcal));
    assert_eq!(private.join_address.as_deref(), Some("sip:alice@acme.webex.com"));
    let mut echo = invite("@webex", "<p>Join</p>", "ck2");
    echo.marker = Some(Marker::new(&room(), "myroom").encode());
    written.next().when(fetched(echo)).then_expect_nothing();
}

#[test]
fn a_conflict_reads_the_invite_again_twice_then_the_record_waits() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    given(history.clone())
        .when(I::PatchConflicted { event_id: id(), conflicts: 0 })
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 1 }]);
    given(history.clone())
        .when(I::PatchConflicted { event_id: id(), conflicts: 1 })
        .then_expect_effects([Effect::FetchEvent { event_id: id(), conflicts: 2 }]);
    given(history).when(I::PatchConflicted { event_id: id(), conflicts: 2 }).then_expect_effects([
        Effect::RetryLater {
            after_secs: None,
            reason: "the invite kept changing while join details were written".into(),
        },
    ]);
}

#[test]
fn a_failed_write_is_retried_or_given_up_with_its_reason() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    given(history.clone())
        .when(I::PatchFailed { event_id: id(), failure: GraphFailure::Throttled { retry_after_secs: 1.5 } })
        .then_expect_events([])
        .then_expect_effects([Effect::RetryLater {
            after_secs: Some(1.5),
            reason: "throttled by Graph; retry after 1.5 s".into(),
        }]);
    let failed =
        |reason: &str| MailboxEvent::JoinInfoPatchFailed { event_id: id(), reason: reason.into(), retryable: false };
    let then = given(history.clone()).when(I::PatchFailed {
        event_id: id(),
        failure: GraphFailure::NotInScope { code: "ErrorAccessDenied".into() },
    });
    then.then_expect_events([failed("not_in_scope")]);
    assert_eq!(then.next().state().meetings[&id()].decoration, Decoration::Abandoned);
    given(history)
        .when(I::PatchFailed { event_id: id(), failure: GraphFailure::Fatal { status: 400, code: "x".into() } })
        .then_expect_events([failed("fatal")]);
}

#[test]
fn a_platform_that_refuses_the_organiser_skips_the_invite_and_an_outage_waits() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    let refused = given(history.clone())
        .when(I::PlatformFailed { event_id: id(), failure: PlatformFailure::Refused("no personal room".into()) });
    let [MailboxEvent::MeetingSkipped { reason: SkipReason::PlatformRefused, .. }] = refused.events() else {
        panic!("{:?}", refused.events())
    };
    // Refused once, the invite is left alone from then on.
    refused.next().when(fetched(invite("@webex", "", "ck1"))).then_expect_nothing();
    given(history)
        .when(I::PlatformFailed { event_id: id(), failure: PlatformFailure::Transient("503".into()) })
        .then_expect_effects([Effect::RetryLater { after_secs: None, reason: "503".into() }]);
}

#[test]
fn a_failed_read_is_retried_or_dropped() {
    given(active())
        .when(I::FetchFailed { event_id: id(), failure: GraphFailure::Transient("reset".into()) })
        .then_expect_effects([Effect::RetryLater {
            after_secs: None,
            reason: "transient Graph failure: reset".into(),
        }]);
    given(active())
        .when(I::FetchFailed { event_id: id(), failure: GraphFailure::Fatal { status: 400, code: "x".into() } })
        .then_expect_nothing();
}

#[test]
fn a_keyword_action_hcal_does_not_book_and_an_invite_without_organiser_are_given_up() {
    let then = given(active()).when(fetched(invite("@webex:onetime", "", "ck1")));
    let [MailboxEvent::MeetingScheduled(_), MailboxEvent::JoinInfoPatchFailed { reason, retryable: false, .. }] =
        then.events()
    else {
        panic!("{:?}", then.events())
    };
    assert_eq!(reason, "unsupported_mode", "a fixed word, never the text typed after the keyword");
    then.then_expect_effects([]);
    let mut anonymous = invite("@webex", "", "ck1");
    anonymous.organizer = None;
    let then = given(active()).when(fetched(anonymous));
    assert!(
        matches!(then.events(), [_, MailboxEvent::JoinInfoPatchFailed { reason, .. }] if reason == "no_organizer"),
        "{:?}",
        then.events()
    );
}

#[test]
fn a_decoration_cut_short_is_finished_when_the_invite_is_read_again() {
    // Recorded as scheduled, then the process died before the write: the same invite, read
    // again, looks up the room once more (and records nothing new).
    let event = invite("@webex", "", "ck1");
    let history = [active(), scheduled(event.clone())].concat();
    given(history).when(fetched(event.clone())).then_expect_events([]).then_expect_effects([find_room(event, 0)]);
}

#[test]
fn a_marker_without_a_record_is_recovered_not_rewritten() {
    let history = [active(), scheduled(invite("@webex", "", "ck1"))].concat();
    let mut after_crash = invite("@webex", "<p>block</p>", "ck2");
    after_crash.marker = Some(Marker::new(&room(), "myroom").encode());
    let then = given(history).when(fetched(after_crash));
    assert!(
        matches!(then.events().last(), Some(MailboxEvent::JoinInfoPatched { recovered: true, .. })),
        "{:?}",
        then.events()
    );
    then.then_expect_effects([]);
    assert!(matches!(then.next().state().meetings[&id()].decoration, Decoration::Done { .. }));
}

#[test]
fn replays_decide_nothing() {
    let event = invite("Room 1", "", "ck1");
    given([active(), scheduled(event.clone())].concat()).when(fetched(event)).then_expect_nothing();
}

#[test]
fn an_existing_zoom_link_is_listed_not_rewritten() {
    let body = "<a href=\"https://us02web.zoom.us/j/8512345678?pwd=x\">Join Zoom</a>";
    let then = given(active()).when(fetched(invite("Room 1", body, "ck1")));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.join.as_ref().map(|j| (j.provider.as_str(), j.origin)), Some(("zoom", JoinOrigin::Detected)));
    then.then_expect_effects([]);
}

#[test]
fn a_keyword_with_webex_details_already_in_the_invite_is_skipped_with_an_explanation() {
    let then = given(active()).when(fetched(invite("@webex", "<p>https://acme.webex.com/meet/bob</p>", "ck1")));
    let Some(MailboxEvent::MeetingSkipped { event_id, reason, explain }) = then.events().last() else {
        panic!("{:?}", then.events())
    };
    assert_eq!((event_id, *reason), (&id(), SkipReason::AlreadyHasJoinDetails));
    assert_eq!(
        explain,
        "the invite already carries join details of the keyword's platform; detection: keyword @webex; \
         join address: webex url from body (best of 1)"
    );
    assert!(!explain.contains("acme.webex.com"), "no address in an unsealed field: {explain}");
    then.then_expect_effects([]);
}

#[test]
fn an_attendee_copy_is_not_decorated() {
    let mut copy = invite("@webex", "", "ck1");
    copy.is_organizer = false;
    let then = given(active()).when(fetched(copy));
    let Some(MailboxEvent::MeetingSkipped { reason, explain, .. }) = then.events().last() else {
        panic!("{:?}", then.events())
    };
    assert_eq!(*reason, SkipReason::NotOrganizer);
    assert!(explain.starts_with("the keyword is in an attendee's copy"), "{explain}");
    assert!(explain.ends_with("no join address found"), "{explain}");
    then.then_expect_effects([]);
}

#[test]
fn subject_edits_update_and_cancellation_removes() {
    let history = [active(), scheduled(invite("Room", "", "ck1"))].concat();
    let mut edited = invite("Room", "", "ck2");
    edited.subject = "Quarterly review (moved)".into();
    let then = given(history.clone()).when(fetched(edited));
    assert!(
        matches!(then.events(), [MailboxEvent::MeetingUpdated(d)] if d.private.subject == "Quarterly review (moved)")
    );
    // A new change key alone is not a visible change.
    given(history.clone()).when(fetched(invite("Room", "", "ck3"))).then_expect_nothing();
    let mut cancelled = invite("Room", "", "ck4");
    cancelled.is_cancelled = true;
    given(history).when(fetched(cancelled)).then_expect_events([MailboxEvent::MeetingCancelled { event_id: id() }]);
}

#[test]
fn admin_rules_find_what_the_catalogue_does_not_and_bad_rules_are_refused() {
    let domain: DecideConfig = serde_json::from_value(serde_json::json!({
        "keywords": [{"keyword": "webex", "platform": "webex", "default_mode": "myroom"}],
        "rules": [{"name": "vmr", "priority": 1, "pattern": "VMR (\\d{6})", "replacement": "$1@vc.contoso.example"}]
    }))
    .unwrap();
    let then = given(active()).with_domain(domain).when(fetched(invite("Room 1", "<p>Dial VMR 123456</p>", "ck1")));
    let [MailboxEvent::MeetingScheduled(d)] = then.events() else { panic!("{:?}", then.events()) };
    assert_eq!(d.private.join_address.as_deref(), Some("sip:123456@vc.contoso.example"));
    let bad = serde_json::from_value::<DecideConfig>(serde_json::json!({
        "rules": [{"name": "broken", "priority": 1, "pattern": "(", "replacement": "x"}]
    }));
    assert!(bad.unwrap_err().to_string().contains("broken"));
}

#[test]
fn outcomes_about_unknown_meetings_are_refused() {
    given(active())
        .when(I::JoinInfoWritten { event_id: id(), room: room(), mode: "myroom".into(), change_key: "ck2".into() })
        .then_expect_error(DecideError::UnknownMeeting);
    given(active()).when(room_found(invite("@webex", "", "ck1"))).then_expect_error(DecideError::UnknownMeeting);
}
