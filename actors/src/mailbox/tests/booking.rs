//! Meetings hcal books on a platform (`:onetime`, `@meet`): booked once per invite whatever
//! crashes and replays happen, moved with the invite, deleted when it is cancelled or loses its
//! keyword, and never booked for a meeting that is over.

use chrono::Duration;

use crate::ids::GraphEventId;
use crate::join::has_block;
use crate::mailbox::decide::booking;
use crate::mailbox::effect::Effect;
use crate::mailbox::events::{MailboxEvent, SkipReason};
use crate::mailbox::input::MailboxInput as I;
use crate::mailbox::testing::*;
use crate::notification::ChangeType;
use crate::ports::{BookingKind, EmailAddress, EventType, GraphEvent, PlatformFailure};

/// A world with Alice's mailbox active and her `location` invite `E1` decorated.
fn decorated(location: &str) -> (World, GraphEventId) {
    let mut w = World::new();
    w.enable();
    let id = w.put("E1", location);
    assert!(matches!(w.handle(&w.change(ChangeType::Created, &id)), Some(Ok(()))));
    w.drain();
    (w, id)
}

/// The invite as Graph now holds it.
fn current(w: &World, id: &GraphEventId) -> GraphEvent {
    w.graph.event(mailbox(), id).expect("the invite exists")
}

/// Graph's copy edited by the organiser (a new change key), then its notification handled.
fn edit(w: &mut World, id: &GraphEventId, change: impl FnOnce(&mut GraphEvent)) {
    let mut event = current(w, id);
    change(&mut event);
    event.change_key = format!("{}-edited", event.change_key);
    w.graph.put(mailbox(), event);
    assert!(matches!(w.handle(&w.change(ChangeType::Updated, id)), Some(Ok(()))));
}

fn count(w: &World, type_name: &str) -> usize {
    w.event_types().iter().filter(|t| **t == type_name).count()
}

#[test]
fn a_onetime_invite_books_one_meeting_under_its_key_and_writes_its_join_details() {
    let (w, id) = decorated("@webex:onetime");
    let bookings = w.platform.bookings();
    let [b] = bookings.as_slice() else { panic!("{bookings:?}") };
    assert_eq!(b.request.key, booking::key(&id));
    assert_eq!(b.request.kind, BookingKind::OneTime);
    assert_eq!((b.request.title.as_str(), b.request.organizer.as_str()), ("Quarterly review", "alice@contoso.example"));
    assert_eq!(count(&w, "MeetingBooked"), 1);
    assert_eq!(w.writes(&id), 1);
    let body = current(&w, &id).body_html;
    assert!(body.contains(&format!("https://webex.example/j/{}", b.id)), "{body}");
    // The personal room was not looked up.
    assert_eq!(w.platform.lookups(), 0);
}

#[test]
fn the_key_is_the_invites_and_reveals_nothing_of_it() {
    let (a, b) = (GraphEventId::new("AAMkA"), GraphEventId::new("AAMkB"));
    assert_eq!(booking::key(&a), booking::key(&a));
    assert_ne!(booking::key(&a), booking::key(&b));
    let key = booking::key(&a);
    assert!(key.len() <= 64 && key.starts_with("hcal-") && !key.contains("AAMk"), "{key}");
    assert!(key.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '-'), "{key}");
}

#[test]
fn a_crash_after_the_booking_books_nothing_more_after_the_restart() {
    let mut w = World::new();
    w.enable();
    let id = w.put("E1", "@webex:onetime");
    let record = w.change(ChangeType::Created, &id);
    w.platform.halt_after("book");
    assert!(w.handle(&record).is_none(), "the process died after booking");
    assert_eq!(count(&w, "MeetingBooked"), 0, "the booking was not recorded");
    w.restart();
    assert!(matches!(w.handle(&record), Some(Ok(()))));
    assert_eq!(w.platform.bookings().len(), 1, "found again by its key");
    assert_eq!((count(&w, "MeetingBooked"), w.writes(&id)), (1, 1));
    // Replayed once more: nothing new.
    assert!(matches!(w.handle(&record), Some(Ok(()))));
    assert_eq!((w.platform.bookings().len(), count(&w, "MeetingBooked"), w.writes(&id)), (1, 1, 1));
}

#[test]
fn a_crash_after_the_booking_was_recorded_writes_the_booked_meeting() {
    let mut w = World::new();
    w.enable();
    let id = w.put("E1", "@webex:onetime");
    let record = w.change(ChangeType::Created, &id);
    w.log.halt_after_event("MeetingBooked");
    assert!(w.handle(&record).is_none());
    w.restart();
    assert!(matches!(w.handle(&record), Some(Ok(()))));
    assert_eq!((w.platform.bookings().len(), count(&w, "MeetingBooked"), w.writes(&id)), (1, 1, 1));
}

#[test]
fn moving_the_invite_moves_its_booking_and_a_replay_moves_nothing_more() {
    let (mut w, id) = decorated("@webex:onetime");
    edit(&mut w, &id, |e| {
        e.start += Duration::hours(2);
        e.end += Duration::hours(2);
    });
    let moved = current(&w, &id);
    let [b] = w.platform.bookings().try_into().unwrap_or_else(|b| panic!("{b:?}"));
    assert_eq!((b.moves, b.request.start, b.request.end), (1, moved.start, moved.end));
    assert_eq!(count(&w, "BookingMoved"), 1);
    assert_eq!(w.writes(&id), 1, "the block stays as written");
    assert!(matches!(w.handle(&w.change(ChangeType::Updated, &id)), Some(Ok(()))));
    assert_eq!(w.platform.bookings()[0].moves, 1);
}

#[test]
fn a_move_the_platform_could_not_make_is_made_when_the_record_is_tried_again() {
    let (mut w, id) = decorated("@webex:onetime");
    let mut event = current(&w, &id);
    event.start += Duration::hours(1);
    event.end += Duration::hours(1);
    event.change_key = "moved".into();
    w.graph.put(mailbox(), event);
    let record = w.change(ChangeType::Updated, &id);
    w.platform.fail([PlatformFailure::Transient("down".into())]);
    assert!(matches!(w.handle(&record), Some(Err(_))), "held back for a retry");
    assert!(matches!(w.handle(&record), Some(Ok(()))));
    assert_eq!(w.platform.bookings()[0].moves, 1);
}

#[test]
fn cancelling_the_invite_deletes_its_booking_even_across_a_crash() {
    let (mut w, id) = decorated("@webex:onetime");
    w.graph.delete(mailbox(), &id);
    let record = w.change(ChangeType::Deleted, &id);
    w.platform.halt_after("cancel");
    assert!(w.handle(&record).is_none(), "died after the platform deleted it");
    w.restart();
    assert_eq!(w.mailbox.state.cancellations.len(), 1, "still owed after the restart");
    // Whatever comes next finishes it first.
    assert!(matches!(w.handle(&record), Some(Ok(()))));
    assert!(w.mailbox.state.cancellations.is_empty());
    assert_eq!((w.platform.bookings().len(), w.platform.deleted().len()), (0, 1));
    assert_eq!(count(&w, "BookingDeleted"), 1);
}

#[test]
fn removing_the_keyword_removes_the_block_and_the_marker_and_deletes_the_booking() {
    let (mut w, id) = decorated("@webex:onetime");
    assert!(has_block(&current(&w, &id).body_html));
    edit(&mut w, &id, |e| e.location = "Room 4".into());
    let event = current(&w, &id);
    assert!(!has_block(&event.body_html), "{}", event.body_html);
    assert!(event.body_html.contains("<p>Agenda</p>"));
    assert_eq!(event.marker.as_deref(), Some(""));
    assert_eq!(count(&w, "JoinInfoRemoved"), 1);
    assert_eq!(w.platform.deleted().len(), 1);
    let m = &w.mailbox.state.meetings[&id];
    assert_eq!(m.details.join, None);
    assert!(m.booking.is_none());
    // The keyword typed again: a new booking and a new block.
    edit(&mut w, &id, |e| e.location = "@webex:onetime".into());
    w.drain();
    assert_eq!(w.platform.bookings().len(), 1);
    assert!(has_block(&current(&w, &id).body_html));
}

#[test]
fn removing_the_keyword_of_a_personal_room_invite_removes_the_block() {
    let (mut w, id) = decorated("@webex");
    edit(&mut w, &id, |e| e.location = String::new());
    assert!(!has_block(&current(&w, &id).body_html));
    assert_eq!(count(&w, "JoinInfoRemoved"), 1);
    assert_eq!(w.platform.deleted().len(), 0, "a personal room is not deleted");
}

#[test]
fn meet_books_a_space_meeting_with_everyone_invited_but_the_organiser() {
    let mut event = invite("@meet", "<p>Agenda</p>", "ck1");
    event.attendees = vec![
        EmailAddress { name: "Alice".into(), address: "ALICE@contoso.example".into() },
        EmailAddress { name: "Deniz".into(), address: "deniz@contoso.example".into() },
    ];
    let then = given(active()).when(fetched(event.clone()));
    let [Effect::BookMeeting { request, mode, .. }] = then.effects() else { panic!("{:?}", then.effects()) };
    assert_eq!((request.kind, mode.as_str(), request.platform.as_str()), (BookingKind::Space, "space", "webex"));
    let invited: Vec<&str> = request.attendees.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(invited, ["deniz@contoso.example"]);
}

#[test]
fn a_meeting_already_over_gets_nothing() {
    let mut event = invite("@webex:onetime", "", "ck1");
    event.start = now() - Duration::hours(2);
    event.end = now() - Duration::hours(1);
    let then = given(active()).when(fetched(event));
    assert!(then.effects().is_empty(), "{:?}", then.effects());
    assert!(
        matches!(
            then.events(),
            [MailboxEvent::MeetingScheduled(_), MailboxEvent::MeetingSkipped { reason: SkipReason::MeetingOver, .. }]
        ),
        "{:?}",
        then.events()
    );
}

#[test]
fn a_series_is_not_booked_as_one_meeting() {
    let mut event = invite("@webex:onetime", "", "ck1");
    event.event_type = EventType::SeriesMaster;
    let then = given(active()).when(fetched(event));
    assert!(
        matches!(then.events(), [_, MailboxEvent::JoinInfoPatchFailed { reason, retryable: false, .. }] if reason == "series_not_bookable"),
        "{:?}",
        then.events()
    );
}

#[test]
fn a_refused_deletion_is_recorded_and_not_tried_again() {
    let (mut w, id) = decorated("@webex:onetime");
    w.graph.delete(mailbox(), &id);
    w.platform.fail([PlatformFailure::Refused("403".into())]);
    assert!(matches!(w.handle(&w.change(ChangeType::Deleted, &id)), Some(Ok(()))));
    assert!(w.mailbox.state.cancellations.is_empty());
    assert!(matches!(w.events().last(), Some(MailboxEvent::BookingDeleted { deleted: false, .. })));
    let _ = I::Resume;
}
