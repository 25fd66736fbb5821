//! The interpreter through in-process doubles: an invite decorated once end to end, and the
//! subscription-lost → recreate → resync and missed → resync paths killed at every step, then
//! restarted from the log: every invite made in the gap gets its join details, exactly once.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::ids::GraphEventId;
use crate::mailbox::actor::{Lease, ProcessError};
use crate::mailbox::state::Decoration;
use crate::mailbox::testing::*;
use crate::notification::{AdminCommand, ChangeType, LifecycleEvent};
use crate::ports::{GraphFailure, PlatformFailure};

/// Invites the user makes while hcal hears nothing of them.
const GAP: usize = 6;

fn gap_invites(world: &World) -> Vec<GraphEventId> {
    let ids: Vec<GraphEventId> = (1..=GAP).map(|n| world.put(&format!("gap-{n}"), "@webex")).collect();
    world.subscriptions.set_window(mailbox(), ids.iter().map(|id| (id.clone(), false)).collect());
    ids
}

#[track_caller]
fn each_decorated_once(world: &World, ids: &[GraphEventId], step: &str) {
    for id in ids {
        assert_eq!(world.writes(id), 1, "{step}: {} written {} times", id.as_str(), world.writes(id));
        let decoration = world.mailbox.state.meetings.get(id).map(|m| &m.decoration);
        assert!(matches!(decoration, Some(Decoration::Done { .. })), "{step}: {} is {decoration:?}", id.as_str());
    }
}

#[test]
fn an_invite_is_decorated_once_through_every_port() {
    let mut world = World::new();
    world.enable();
    assert_eq!(world.event_types(), ["MailboxEnabled", "OOOChanged", "SubscriptionCreated", "ResyncCompleted"]);
    let id = world.put("inv-1", "@webex");
    let change = world.change(ChangeType::Created, &id);
    assert!(matches!(world.handle(&change), Some(Ok(()))));
    assert_eq!(world.writes(&id), 1);
    let patched = world.graph.event(mailbox(), &id).unwrap();
    assert!(patched.body_html.contains("<p>Agenda</p>") && patched.body_html.contains("hcal-join"));
    assert!(patched.marker.is_some());
    // The echo of hcal's write and a redelivery of the first notification change nothing.
    let recorded = world.events().len();
    let echo = world.change(ChangeType::Updated, &id);
    assert!(matches!(world.handle(&echo), Some(Ok(()))));
    assert!(matches!(world.handle(&change), Some(Ok(()))));
    assert_eq!((world.writes(&id), world.events().len()), (1, recorded));
}

#[test]
fn a_conflicting_edit_is_read_again_and_written_on_top() {
    let mut world = World::new();
    world.enable();
    let id = world.put("inv-1", "@webex");
    world.graph.fail_patches([GraphFailure::Conflict]);
    assert!(matches!(world.handle(&world.change(ChangeType::Created, &id)), Some(Ok(()))));
    assert_eq!(world.writes(&id), 1);
}

#[test]
fn an_unreachable_mailbox_is_enabled_with_its_reason_and_not_subscribed() {
    let mut world = World::new();
    world.subscriptions.fail("settings", [GraphFailure::NotInScope { code: "ErrorAccessDenied".into() }]);
    let record = World::command(AdminCommand::EnableMailbox { locale: None });
    assert!(matches!(world.handle(&record), Some(Ok(()))));
    assert_eq!(world.mailbox.state.status(), ("error", Some("not_in_scope")));
    assert!(world.subscriptions.subscriptions().is_empty());
    // Later records do not retry what an admin must fix.
    assert!(matches!(world.handle(&World::command(AdminCommand::RenewSubscription)), Some(Ok(()))));
    assert_eq!(world.subscriptions.calls(), ["settings"]);
}

#[test]
fn an_organiser_the_platform_refuses_is_told_and_tried_again_when_the_invite_changes() {
    let mut world = World::new();
    world.enable();
    let id = world.put("inv-1", "@webex");
    world.platform.fail([PlatformFailure::Refused("no personal room".into())]);
    assert!(matches!(world.handle(&world.change(ChangeType::Created, &id)), Some(Ok(()))));
    assert!(
        world.event_types().ends_with(&["MeetingScheduled", "MeetingSkipped", "OrganizerNotified"]),
        "{:?}",
        world.event_types()
    );
    let notice = world.graph.event(mailbox(), &id).unwrap().body_html;
    assert!(notice.contains("hcal-join-notice") && notice.contains("Webex did not give a meeting"), "{notice}");
    // The same invite again (a replay, the echo of the notice): nothing.
    assert!(matches!(world.handle(&world.change(ChangeType::Updated, &id)), Some(Ok(()))));
    assert_eq!((world.writes(&id), world.platform.lookups()), (1, 1));
    // Edited once the organiser has an account: the block replaces the notice.
    let mut event = world.graph.event(mailbox(), &id).unwrap();
    event.change_key = "edited".into();
    event.subject = "Edited".into();
    world.graph.put(mailbox(), event);
    assert!(matches!(world.handle(&world.change(ChangeType::Updated, &id)), Some(Ok(()))));
    let body = world.graph.event(mailbox(), &id).unwrap().body_html;
    assert!(!body.contains("hcal-join-notice") && body.contains("https://acme.webex.com/meet/alice"), "{body}");
    assert_eq!((world.writes(&id), world.platform.lookups()), (2, 2));
}

#[test]
fn a_throttled_set_up_is_tried_again_once_its_retry_time_has_come() {
    let mut world = World::new();
    world.subscriptions.fail("create", [GraphFailure::Throttled { retry_after_secs: 30.0 }]);
    assert!(matches!(world.handle(&World::command(AdminCommand::EnableMailbox { locale: None })), Some(Ok(()))));
    assert_eq!(world.mailbox.state.status(), ("error", Some("throttled")));
    let renew = World::command(AdminCommand::RenewSubscription);
    assert!(matches!(world.handle(&renew), Some(Ok(()))));
    assert!(world.subscription().is_none(), "not before its retry time");
    world.clock.advance(chrono::Duration::minutes(61));
    assert!(matches!(world.handle(&renew), Some(Ok(()))));
    world.drain();
    assert_eq!(world.mailbox.state.status(), ("active", None));
}

#[test]
fn disabling_deletes_the_subscription() {
    let mut world = World::new();
    world.enable();
    assert!(matches!(world.handle(&World::command(AdminCommand::DisableMailbox)), Some(Ok(()))));
    assert!(world.subscriptions.subscriptions().is_empty());
    assert_eq!(world.mailbox.state.status(), ("disabled", None));
}

#[test]
fn a_record_handed_out_before_an_ownership_change_records_nothing() {
    let mut world = World::new();
    world.enable();
    let recorded = world.events().len();
    world.mailbox.lease = Some(Lease::new(1, Arc::new(AtomicU64::new(2))));
    let id = world.put("inv-1", "@webex");
    let outcome = world.handle(&world.change(ChangeType::Created, &id));
    assert!(matches!(outcome, Some(Err(ProcessError::Revoked))), "{outcome:?}");
    assert_eq!((world.events().len(), world.writes(&id)), (recorded, 0));
}

/// A place a kill lands: its name, and what arms a double to halt there.
type KillPoint = (&'static str, fn(&World));

/// Where a kill lands on the subscription-lost → recreate → resync path.
fn kill_points_of_a_lost_subscription() -> Vec<KillPoint> {
    vec![
        ("after SubscriptionLost is recorded", |w| w.log.halt_after_event("SubscriptionLost")),
        ("after Graph created the new subscription, before it is recorded", |w| w.subscriptions.halt_after("create")),
        ("after SubscriptionCreated is recorded, before the resync", |w| w.log.halt_after_event("SubscriptionCreated")),
        ("after the window was fed back, before ResyncCompleted", |w| w.inbox.halt_after_redelivery()),
    ]
}

#[test]
fn a_kill_anywhere_between_a_lost_subscription_and_its_resync_loses_no_invite() {
    for (step, arm) in kill_points_of_a_lost_subscription() {
        let mut world = World::new();
        world.enable();
        let old = world.subscription().unwrap();
        // Graph removes the subscription; invites made meanwhile send no notification; the
        // lifecycle notification arrives later.
        world.subscriptions.remove(&old);
        let ids = gap_invites(&world);
        let removed = World::lifecycle(&old, LifecycleEvent::SubscriptionRemoved);
        arm(&world);
        assert!(world.handle(&removed).is_none(), "{step}: the kill point was not reached");
        // The record was not done, so it comes back to the restarted process.
        world.restart();
        assert!(matches!(world.handle(&removed), Some(Ok(()))), "{step}");
        world.drain();
        each_decorated_once(&world, &ids, step);
        let current = world.subscription().unwrap();
        assert!(world.subscriptions.subscriptions().contains_key(&current), "{step}: the current subscription lives");
        assert!(!world.mailbox.state.resync_due, "{step}");
    }
}

#[test]
fn a_kill_during_the_resync_of_missed_notifications_loses_no_invite() {
    let points: Vec<KillPoint> = vec![
        ("after ResyncRequested is recorded", |w| w.log.halt_after_event("ResyncRequested")),
        ("after the window was fed back, before ResyncCompleted", |w| w.inbox.halt_after_redelivery()),
    ];
    for (step, arm) in points {
        let mut world = World::new();
        world.enable();
        let ids = gap_invites(&world);
        let missed = World::lifecycle(&world.subscription().unwrap(), LifecycleEvent::Missed);
        arm(&world);
        assert!(world.handle(&missed).is_none(), "{step}: the kill point was not reached");
        world.restart();
        assert!(world.mailbox.state.resync_due, "{step}: the state shows the resync owed");
        assert!(matches!(world.handle(&missed), Some(Ok(()))), "{step}");
        world.drain();
        each_decorated_once(&world, &ids, step);
    }
}

#[test]
fn a_resync_throttled_after_the_subscription_was_recreated_is_finished_when_the_record_is_retried() {
    let mut world = World::new();
    world.enable();
    let old = world.subscription().unwrap();
    world.subscriptions.remove(&old);
    let ids = gap_invites(&world);
    world.subscriptions.fail("delta", [GraphFailure::Throttled { retry_after_secs: 2.0 }]);
    let removed = World::lifecycle(&old, LifecycleEvent::SubscriptionRemoved);
    let outcome = world.handle(&removed);
    assert!(matches!(outcome, Some(Err(ProcessError::Retry { after_secs: Some(2.0), .. }))), "{outcome:?}");
    // The same process tries the record again: it now names an older subscription, and the
    // resync the new one owes is still done.
    assert!(matches!(world.handle(&removed), Some(Ok(()))));
    world.drain();
    each_decorated_once(&world, &ids, "retried");
    assert_eq!(world.subscriptions.calls().iter().filter(|c| **c == "create").count(), 2, "enable, then one recreate");
}
