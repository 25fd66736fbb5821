//! Enabling, set-up failures by Graph code and their retry schedule, renewal, recreation,
//! lifecycle notifications, resyncs, disabling, and finishing what was cut short.

use chrono::Duration;

use crate::ids::GraphEventId;
use crate::mailbox::decide::DecideError;
use crate::mailbox::effect::Effect;
use crate::mailbox::events::MailboxEvent;
use crate::mailbox::input::{MailboxInput as I, SetupStep, SubscriptionCall};
use crate::mailbox::testing::*;
use crate::notification::{ChangeType, LifecycleEvent};
use crate::ports::{EventType, GraphFailure};

fn lifetime() -> Duration {
    config().maintenance.lifetime
}

fn create() -> Effect {
    Effect::CreateSubscription { expiration: now() + lifetime() }
}

fn resync() -> Effect {
    let (from, to) = window();
    Effect::ReadWindow { from, to }
}

fn not_in_scope(code: &str) -> GraphFailure {
    GraphFailure::NotInScope { code: code.into() }
}

fn setup_failed(reason: &str, code: &str, retry_in: Option<Duration>) -> MailboxEvent {
    MailboxEvent::MailboxSetupFailed { reason: reason.into(), code: code.into(), retry_at: retry_in.map(|d| now() + d) }
}

fn create_failed(failure: GraphFailure) -> I {
    I::SetupFailed { step: SetupStep::CreateSubscription, failure }
}

#[test]
fn enabling_reads_the_mailbox_settings_first() {
    given([])
        .when(I::EnableMailbox { locale: None })
        .then_expect_events([])
        .then_expect_effects([Effect::ReadMailboxSettings { locale_hint: None }]);
}

#[test]
fn the_settings_enable_the_mailbox_in_its_language_and_a_subscription_is_created() {
    given([])
        .when(I::MailboxSettingsRead { locale: Some("tr-TR".into()), locale_hint: None, automatic_replies: None })
        .then_expect_events([MailboxEvent::MailboxEnabled { locale: Some("tr-TR".into()) }])
        .then_expect_effects([create()]);
}

#[test]
fn the_language_given_with_the_command_is_used_when_the_settings_name_none() {
    given([])
        .when(I::MailboxSettingsRead { locale: None, locale_hint: Some("de-DE".into()), automatic_replies: None })
        .then_expect_events([MailboxEvent::MailboxEnabled { locale: Some("de-DE".into()) }]);
}

#[test]
fn enabling_an_active_mailbox_again_changes_nothing() {
    given(active())
        .when(I::MailboxSettingsRead { locale: Some("en-US".into()), locale_hint: None, automatic_replies: None })
        .then_expect_nothing();
}

#[test]
fn enabling_again_clears_a_set_up_error_and_tries_at_once() {
    let errored =
        given([enabled(), vec![setup_failed("throttled", "TooManyRequests", Some(Duration::minutes(60)))]].concat());
    errored
        .when(I::MailboxSettingsRead { locale: Some("en-US".into()), locale_hint: None, automatic_replies: None })
        .then_expect_events([MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) }])
        .then_expect_effects([create()]);
}

#[test]
fn set_up_failures_are_classified_by_graph_code() {
    let hour = Some(Duration::minutes(60));
    let cases = [
        (
            not_in_scope("MailboxNotEnabledForRESTAPI"),
            setup_failed("mailbox_not_enabled", "MailboxNotEnabledForRESTAPI", None),
        ),
        (not_in_scope("ErrorAccessDenied"), setup_failed("not_in_scope", "ErrorAccessDenied", None)),
        (not_in_scope("ErrorInvalidUser"), setup_failed("not_in_scope", "ErrorInvalidUser", None)),
        (
            not_in_scope("Authorization_RequestDenied"),
            setup_failed("consent_missing", "Authorization_RequestDenied", None),
        ),
        (GraphFailure::Throttled { retry_after_secs: 2.5 }, setup_failed("throttled", "TooManyRequests", hour)),
        (GraphFailure::Transient("connection reset".into()), setup_failed("unavailable", "", hour)),
        (GraphFailure::Conflict, setup_failed("unavailable", "", hour)),
        (
            GraphFailure::Fatal { status: 400, code: "InvalidRequest".into() },
            setup_failed("unavailable", "InvalidRequest", hour),
        ),
    ];
    for (failure, expected) in cases {
        given(enabled()).when(create_failed(failure)).then_expect_events([expected]).then_expect_effects([]);
    }
}

#[test]
fn the_first_retry_comes_after_an_hour_and_later_ones_daily() {
    let first = given(enabled()).when(create_failed(GraphFailure::Throttled { retry_after_secs: 1.0 }));
    first.then_expect_events([setup_failed("throttled", "TooManyRequests", Some(Duration::minutes(60)))]);
    first.next().when(create_failed(GraphFailure::Transient("timeout".into()))).then_expect_events([setup_failed(
        "unavailable",
        "",
        Some(Duration::days(1)),
    )]);
}

#[test]
fn a_mailbox_whose_settings_cannot_be_read_is_enabled_with_the_reason() {
    let step = SetupStep::ReadSettings { locale_hint: None };
    let failed = given([]).when(I::SetupFailed { step, failure: not_in_scope("ErrorAccessDenied") });
    failed.then_expect_events([
        MailboxEvent::MailboxEnabled { locale: None },
        setup_failed("not_in_scope", "ErrorAccessDenied", None),
    ]);
    let state = failed.next();
    assert_eq!(state.state().status(), ("error", Some("not_in_scope")));
}

#[test]
fn a_new_subscription_is_recorded_and_the_window_resynced() {
    let created = given(enabled()).when(I::SubscriptionCreated {
        subscription_id: "sub-1".into(),
        expires_at: now() + lifetime(),
        client_state: "client-state".into(),
    });
    created.then_expect_events([subscribed("sub-1")]).then_expect_effects([resync()]);
    assert!(created.next().state().resync_due, "the resync is owed until it is recorded");
    let (from, to) = window();
    let done = created.next().when(I::WindowResynced { from, to, changed: 3, removed: 1 });
    done.then_expect_events([MailboxEvent::ResyncCompleted { from, to, changed: 3, removed: 1 }]);
    assert!(!done.next().state().resync_due);
}

#[test]
fn a_resync_feeds_back_the_window_and_the_known_meetings_it_did_not_mention() {
    let meeting = |id: &str, days_ahead: i64| {
        let mut d = crate::mailbox::events::MeetingDetails {
            event_id: GraphEventId::new(id),
            change_key: "ck".into(),
            start: now() + Duration::days(days_ahead),
            end: now() + Duration::days(days_ahead) + Duration::hours(1),
            is_all_day: false,
            event_type: EventType::SingleInstance,
            is_organizer: true,
            is_private: false,
            response: None,
            time_zone: None,
            keyword: None,
            join: None,
            private: Default::default(),
        };
        d.private.subject = "Known".into();
        MailboxEvent::MeetingScheduled(d)
    };
    // `deleted-meanwhile` was deleted while hcal heard nothing: a full delta round does not
    // name it. `far-past` is outside the window and stays alone.
    let history =
        [active(), vec![meeting("listed", 1), meeting("deleted-meanwhile", 2), meeting("far-past", -60)]].concat();
    let (from, to) = window();
    let read = vec![
        (GraphEventId::new("listed"), false),
        (GraphEventId::new("new"), false),
        (GraphEventId::new("gone"), true),
    ];
    given(history).when(I::WindowRead { from, to, changes: read.clone() }).then_expect_events([]).then_expect_effects(
        [Effect::Redeliver {
            from,
            to,
            changes: [read, vec![(GraphEventId::new("deleted-meanwhile"), false)]].concat(),
        }],
    );
}

#[test]
fn renewal_forgets_meetings_over_for_long_and_extends_the_subscription() {
    let meeting = |id: &str, days_ago: i64, event_type: EventType| {
        let mut d = crate::mailbox::events::MeetingDetails {
            event_id: GraphEventId::new(id),
            change_key: "ck".into(),
            start: now() - Duration::days(days_ago),
            end: now() - Duration::days(days_ago) + Duration::hours(1),
            is_all_day: false,
            event_type,
            is_organizer: true,
            is_private: false,
            response: None,
            time_zone: None,
            keyword: None,
            join: None,
            private: Default::default(),
        };
        d.private.subject = "Old".into();
        MailboxEvent::MeetingScheduled(d)
    };
    let history = [
        active(),
        vec![
            meeting("old", 40, EventType::SingleInstance),
            meeting("old-occurrence", 35, EventType::Occurrence),
            meeting("series", 40, EventType::SeriesMaster),
            meeting("recent", 2, EventType::SingleInstance),
        ],
    ]
    .concat();
    let ended = |days_ago: i64| now() - Duration::days(days_ago) + Duration::hours(1);
    let renewal = given(history).when(I::RenewSubscription);
    renewal
        .then_expect_events([
            MailboxEvent::MeetingForgotten { event_id: GraphEventId::new("old"), ended_at: ended(40) },
            MailboxEvent::MeetingForgotten { event_id: GraphEventId::new("old-occurrence"), ended_at: ended(35) },
        ])
        .then_expect_effects([
            // The series stays, and its occurrences are read for the window as it now is.
            Effect::ReadOccurrences { event_id: GraphEventId::new("series"), from: window().0, to: window().1 },
            Effect::RenewSubscription { subscription_id: "sub-1".into(), expiration: now() + lifetime() },
        ]);
    let kept: Vec<_> = renewal.next().state().meetings.keys().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(kept, ["recent", "series"]);
    let expires_at = now() + lifetime();
    given(active())
        .when(I::SubscriptionRenewed { subscription_id: "sub-1".into(), expires_at })
        .then_expect_events([MailboxEvent::SubscriptionRenewed { subscription_id: "sub-1".into(), expires_at }]);
}

#[test]
fn renewal_without_a_subscription_waits_for_the_retry_time_or_the_admin() {
    let throttled =
        [enabled(), vec![setup_failed("throttled", "TooManyRequests", Some(Duration::minutes(60)))]].concat();
    given(throttled.clone()).when(I::RenewSubscription).then_expect_nothing();
    given(throttled)
        .at(now() + Duration::minutes(61))
        .when(I::RenewSubscription)
        .then_expect_effects([Effect::CreateSubscription { expiration: now() + Duration::minutes(61) + lifetime() }]);
    let admin_must_act = [enabled(), vec![setup_failed("not_in_scope", "ErrorAccessDenied", None)]].concat();
    given(admin_must_act).at(now() + Duration::days(30)).when(I::RenewSubscription).then_expect_nothing();
    given([]).when(I::RenewSubscription).then_expect_nothing();
}

#[test]
fn a_subscription_graph_no_longer_has_is_replaced() {
    given(active())
        .when(I::SubscriptionNotFound { subscription_id: "sub-1".into(), call: SubscriptionCall::Renew })
        .then_expect_events([MailboxEvent::SubscriptionLost {
            subscription_id: "sub-1".into(),
            reason: "expired".into(),
        }])
        .then_expect_effects([create()]);
}

#[test]
fn a_renewal_that_failed_changes_nothing() {
    let failure = GraphFailure::Throttled { retry_after_secs: 30.0 };
    given(active())
        .when(I::SubscriptionCallFailed { subscription_id: "sub-1".into(), call: SubscriptionCall::Renew, failure })
        .then_expect_nothing();
}

#[test]
fn lifecycle_notifications_of_the_current_subscription() {
    let missed =
        given(active()).when(I::HandleLifecycle { subscription_id: "sub-1".into(), event: LifecycleEvent::Missed });
    missed
        .then_expect_events([MailboxEvent::ResyncRequested { reason: "missed".into() }])
        .then_expect_effects([resync()]);
    assert!(missed.next().state().resync_due);
    given(active())
        .when(I::HandleLifecycle { subscription_id: "sub-1".into(), event: LifecycleEvent::SubscriptionRemoved })
        .then_expect_events([MailboxEvent::SubscriptionLost {
            subscription_id: "sub-1".into(),
            reason: "removed".into(),
        }])
        .then_expect_effects([create()]);
    given(active())
        .when(I::HandleLifecycle { subscription_id: "sub-1".into(), event: LifecycleEvent::ReauthorizationRequired })
        .then_expect_effects([Effect::ReauthorizeSubscription { subscription_id: "sub-1".into() }]);
}

#[test]
fn lifecycle_notifications_of_an_older_subscription_are_stale() {
    for event in [LifecycleEvent::Missed, LifecycleEvent::SubscriptionRemoved, LifecycleEvent::ReauthorizationRequired]
    {
        given(active()).when(I::HandleLifecycle { subscription_id: "sub-0".into(), event }).then_expect_nothing();
    }
}

#[test]
fn reauthorization_renews_or_replaces_the_subscription() {
    given(active()).when(I::SubscriptionReauthorized { subscription_id: "sub-1".into() }).then_expect_effects([
        Effect::RenewSubscription { subscription_id: "sub-1".into(), expiration: now() + lifetime() },
    ]);
    let lost =
        MailboxEvent::SubscriptionLost { subscription_id: "sub-1".into(), reason: "reauthorization_failed".into() };
    given(active())
        .when(I::SubscriptionNotFound { subscription_id: "sub-1".into(), call: SubscriptionCall::Reauthorize })
        .then_expect_events([lost.clone()])
        .then_expect_effects([create()]);
    let call = SubscriptionCall::Reauthorize;
    given(active())
        .when(I::SubscriptionCallFailed {
            subscription_id: "sub-1".into(),
            call,
            failure: GraphFailure::Throttled { retry_after_secs: 4.0 },
        })
        .then_expect_events([])
        .then_expect_effects([Effect::RetryLater {
            after_secs: Some(4.0),
            reason: "throttled by Graph; retry after 4 s".into(),
        }]);
    given(active())
        .when(I::SubscriptionCallFailed {
            subscription_id: "sub-1".into(),
            call,
            failure: GraphFailure::Fatal { status: 400, code: "InvalidRequest".into() },
        })
        .then_expect_events([lost])
        .then_expect_effects([create()]);
}

#[test]
fn disabling_deletes_the_subscription_first() {
    given(active())
        .when(I::DisableMailbox)
        .then_expect_events([])
        .then_expect_effects([Effect::DeleteSubscription { subscription_id: "sub-1".into() }]);
    given(active())
        .when(I::SubscriptionDeleted { subscription_id: "sub-1".into() })
        .then_expect_events([MailboxEvent::MailboxDisabled {}]);
    given(enabled()).when(I::DisableMailbox).then_expect_events([MailboxEvent::MailboxDisabled {}]);
    given([]).when(I::DisableMailbox).then_expect_nothing();
}

#[test]
fn erasing_records_the_erasure_deletes_the_subscription_then_destroys_the_keys() {
    given(active())
        .when(I::EraseMailbox)
        .then_expect_events([MailboxEvent::MailboxErased {}])
        .then_expect_effects([Effect::DeleteSubscription { subscription_id: "sub-1".into() }, Effect::DestroyKeys]);
    // Erased already (the key service was away the first time): only the keys, again.
    let mut erased = active();
    erased.push(MailboxEvent::MailboxErased {});
    given(erased.clone()).when(I::EraseMailbox).then_expect_events([]).then_expect_effects([Effect::DestroyKeys]);
    // After the erasure the subscription's deletion is recorded; nothing else is owed.
    given(erased.clone()).when(I::KeysDestroyed).then_expect_nothing();
    // Erased, nothing of it is left but the count; enabling starts afresh.
    let mut state = crate::mailbox::state::MailboxState::default();
    for event in &erased {
        state.apply(event);
    }
    assert!(state.erased && !state.enabled && state.meetings.is_empty() && state.subscription.is_none());
    assert_eq!(state.seq, erased.len() as u64);
    assert_eq!(state.status().0, "erased");
    state.apply(&MailboxEvent::MailboxEnabled { locale: None });
    assert!(!state.erased);
}

#[test]
fn a_subscription_that_cannot_be_deleted_is_retried_or_left_to_expire() {
    let call = SubscriptionCall::Delete;
    let failed = |failure| I::SubscriptionCallFailed { subscription_id: "sub-1".into(), call, failure };
    given(active()).when(failed(GraphFailure::Transient("timeout".into()))).then_expect_events([]).then_expect_effects(
        [Effect::RetryLater { after_secs: None, reason: "transient Graph failure: timeout".into() }],
    );
    given(active())
        .when(failed(GraphFailure::Fatal { status: 403, code: "ErrorAccessDenied".into() }))
        .then_expect_events([MailboxEvent::MailboxDisabled {}]);
}

#[test]
fn resume_recreates_a_lost_subscription() {
    let lost = MailboxEvent::SubscriptionLost { subscription_id: "sub-1".into(), reason: "removed".into() };
    given([active(), vec![lost]].concat()).when(I::Resume).then_expect_events([]).then_expect_effects([create()]);
}

#[test]
fn resume_finishes_a_resync_a_new_subscription_owes() {
    given([enabled(), vec![subscribed("sub-2")]].concat()).when(I::Resume).then_expect_effects([resync()]);
}

#[test]
fn resume_finishes_a_resync_begun_for_missed_notifications() {
    let begun = MailboxEvent::ResyncRequested { reason: "missed".into() };
    given([active(), vec![begun]].concat()).when(I::Resume).then_expect_effects([resync()]);
}

#[test]
fn resume_has_nothing_to_do_for_a_healthy_or_held_back_mailbox() {
    given(active()).when(I::Resume).then_expect_nothing();
    given([]).when(I::Resume).then_expect_nothing();
    let held = [enabled(), vec![setup_failed("throttled", "TooManyRequests", Some(Duration::minutes(60)))]].concat();
    given(held).when(I::Resume).then_expect_nothing();
}

#[test]
fn a_resync_that_failed_is_retried_or_reported() {
    given(active())
        .when(I::ResyncFailed { failure: GraphFailure::Throttled { retry_after_secs: 0.5 } })
        .then_expect_events([])
        .then_expect_effects([Effect::RetryLater {
            after_secs: Some(0.5),
            reason: "throttled by Graph; retry after 0.5 s".into(),
        }]);
    given(active())
        .when(I::ResyncFailed { failure: not_in_scope("MailboxNotEnabledForRESTAPI") })
        .then_expect_events([setup_failed("mailbox_not_enabled", "MailboxNotEnabledForRESTAPI", None)])
        .then_expect_effects([]);
}

#[test]
fn a_disabled_mailbox_refuses_notifications() {
    given([])
        .when(I::HandleChange { change_type: ChangeType::Created, event_id: GraphEventId::new("x") })
        .then_expect_error(DecideError::NotEnabled);
    given([])
        .when(I::HandleLifecycle { subscription_id: "sub-1".into(), event: LifecycleEvent::Missed })
        .then_expect_error(DecideError::NotEnabled);
}
