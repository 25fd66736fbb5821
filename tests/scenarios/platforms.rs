//! Meetings hcal books on Webex for `@webex:onetime` and `@meet`, end to end: booked once under
//! the invite's key (replays and a kill between the booking and its record included), moved
//! with the invite, deleted when the keyword is removed or the invite cancelled.

use std::time::Duration;

use hcal_actors::ids::GraphEventId;
use hcal_actors::mailbox::decide::booking;
use serde_json::json;

use crate::support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(30);

async fn body(env: &Env, user: &str, id: &str) -> String {
    env.graph_event(user, id).await["body"]["content"].as_str().unwrap_or_default().to_owned()
}

fn key(id: &str) -> String {
    booking::key(&GraphEventId::new(id))
}

pub async fn a_onetime_meeting_is_booked_once_moved_with_its_invite_and_deleted_with_its_keyword(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, invite("Planning", "@webex:onetime", "<p>Agenda</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let meeting = eventually("a meeting booked under the invite's key", WAIT, || async {
        env.webex.meetings_tagged(&key(&id)).into_iter().next()
    })
    .await;
    assert_eq!(meeting.host_email, "alex@contoso.example");
    assert_eq!(meeting.title, "Planning");
    assert!(meeting.invitees.iter().any(|i| i.email == "deniz@contoso.example"), "{:?}", meeting.invitees);
    let decorated = eventually("its join details in the invite", WAIT, || async {
        let b = body(&env, &alex, &id).await;
        (blocks(&b) == 1).then_some(b)
    })
    .await;
    assert!(decorated.contains(&meeting.web_link), "{decorated}");
    assert!(decorated.contains(&meeting.sip_address));
    assert!(!decorated.contains(&meeting.password), "no meeting password in the invite");

    // Every notification again: nothing more is booked or written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.graph.redeliver().await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.webex.meetings_tagged(&key(&id)).len(), 1);
    assert_eq!(blocks(&body(&env, &alex, &id).await), 1);

    // Two hours later: the meeting moves, the block stays one.
    let start = meeting.start + chrono::Duration::hours(2);
    let end = meeting.end + chrono::Duration::hours(2);
    let at = |t: chrono::DateTime<chrono::Utc>| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    env.graph.update_event(&alex, &id, json!({"start": at(start), "end": at(end)})).await.unwrap();
    eventually("the booked meeting moved", WAIT, || async {
        env.webex.meeting(&meeting.id).filter(|m| m.start == start && m.end == end)
    })
    .await;
    assert_eq!(blocks(&body(&env, &alex, &id).await), 1);

    // The keyword removed: the block goes and the meeting is deleted.
    env.graph.update_event(&alex, &id, json!({"location": {"displayName": "Room 4"}})).await.unwrap();
    eventually("the meeting deleted", WAIT, || async { env.webex.meeting(&meeting.id).is_none().then_some(()) }).await;
    let after = eventually("the block removed", WAIT, || async {
        let b = body(&env, &alex, &id).await;
        (blocks(&b) == 0).then_some(b)
    })
    .await;
    assert!(after.contains("<p>Agenda</p>"), "the organiser's text stays: {after}");
}

pub async fn meet_books_a_space_of_the_attendees_and_cancelling_deletes_its_meeting(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, invite("Design sync", "@meet", "<p>Notes</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let meeting = eventually("a space meeting booked", WAIT, || async {
        env.webex.meetings_tagged(&key(&id)).into_iter().next()
    })
    .await;
    let room_id = meeting.room_id.clone().expect("a meeting of a space");
    let members: Vec<String> = env.webex.room_members(&room_id).unwrap().into_iter().map(|m| m.person_email).collect();
    for person in ["alex@contoso.example", "deniz@contoso.example"] {
        assert!(members.iter().any(|m| m == person), "{person} in {members:?}");
    }
    let decorated = eventually("its join details in the invite", WAIT, || async {
        let b = body(&env, &alex, &id).await;
        (blocks(&b) == 1).then_some(b)
    })
    .await;
    assert!(decorated.contains(&meeting.web_link), "{decorated}");

    env.graph.delete_event(&alex, &id).await.unwrap();
    eventually("the space meeting deleted", WAIT, || async { env.webex.meeting(&meeting.id).is_none().then_some(()) })
        .await;
}

pub async fn a_kill_after_a_booking_before_it_is_recorded_books_nothing_more(env: Env) {
    let mut hcal = env.start("crash_at = \"after_booking\"").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, invite("Crash course", "@webex:onetime", "<p>x</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(hcal.wait_exit(WAIT), "hcal should abort at the crash point");
    drop(hcal);
    assert_eq!(env.webex.meetings_tagged(&key(&id)).len(), 1, "booked before the crash");
    assert_eq!(blocks(&body(&env, &alex, &id).await), 0, "not yet written");

    let _hcal = env.start("").await;
    eventually("the join details written after the restart", WAIT, || async {
        (blocks(&body(&env, &alex, &id).await) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(env.graph.redeliver().await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.webex.meetings_tagged(&key(&id)).len(), 1, "one meeting for one invite");
    assert_eq!(blocks(&body(&env, &alex, &id).await), 1);
    let booked =
        env.records("mailbox-events").await.into_iter().filter(|r| r["value"]["type"] == "MeetingBooked").count();
    assert_eq!(booked, 1);
}

/// A Jitsi server and a template bridge of the organisation's own, each behind a keyword.
const OWN_PLATFORMS: &str = r#"
[[platforms]]
kind = "jitsi"
id = "jitsi"
base_url = "https://meet.example.org"

[[platforms]]
kind = "template"
id = "bridge"
web_link = "https://video.example.com/meet/{user}"
video_address = "{user}@video.example.com"

[[domain.keywords]]
keyword = "webex"
platform = "webex"
default_mode = "myroom"

[[domain.keywords]]
keyword = "jitsi"
platform = "jitsi"
default_mode = "onetime"

[[domain.keywords]]
keyword = "vmr"
platform = "bridge"
default_mode = "myroom"
"#;

pub async fn jitsi_and_template_keywords_get_their_platforms_rooms(env: Env) {
    let _hcal = env.start_with_sections(OWN_PLATFORMS).await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let jitsi = env.graph.create_event(&alex, invite("Retro", "@jitsi", "<p>Retro</p>")).await.unwrap();
    let vmr = env.graph.create_event(&alex, invite("1:1", "@vmr", "<p>Check-in</p>")).await.unwrap();
    let (jitsi, vmr) = (jitsi["id"].as_str().unwrap().to_owned(), vmr["id"].as_str().unwrap().to_owned());
    let jitsi_body = eventually("a Jitsi room in the invite", WAIT, || async {
        let b = body(&env, &alex, &jitsi).await;
        (blocks(&b) == 1).then_some(b)
    })
    .await;
    let at = jitsi_body.find("https://meet.example.org/hcal-").expect("a room on the configured server");
    let room: String = jitsi_body[at + "https://meet.example.org/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert_eq!(room.len(), 31, "{room}");
    assert!(!jitsi_body.contains("Retro\"") && !room.contains("retro"), "the subject is not the room name");
    let vmr_body = eventually("the bridge room in the invite", WAIT, || async {
        let b = body(&env, &alex, &vmr).await;
        (blocks(&b) == 1).then_some(b)
    })
    .await;
    assert!(vmr_body.contains("https://video.example.com/meet/alex"), "{vmr_body}");
    assert!(vmr_body.contains("alex@video.example.com"), "{vmr_body}");
    assert_eq!(env.webex.meeting_count(), 0, "nothing booked on Webex");

    // The meeting list names the platforms.
    let rows = eventually("both listed with hcal's join targets", WAIT, || async {
        let rows = env.meetings(&alex).await;
        let hcal = |id: &str| rows.iter().find(|m| m["eventId"] == id && m["join"]["origin"] == "hcal").cloned();
        Some((hcal(&jitsi)?, hcal(&vmr)?))
    })
    .await;
    assert_eq!(
        (rows.0["join"]["provider"].as_str(), rows.1["join"]["provider"].as_str()),
        (Some("jitsi"), Some("bridge"))
    );

    // A replay writes nothing more; removing the keyword removes the block.
    assert!(env.graph.redeliver().await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(body(&env, &alex, &jitsi).await, jitsi_body, "the same room, written once");
    env.graph.update_event(&alex, &vmr, json!({"location": {"displayName": ""}})).await.unwrap();
    eventually("the bridge block removed", WAIT, || async {
        (blocks(&body(&env, &alex, &vmr).await) == 0).then_some(())
    })
    .await;
}

pub async fn organiser_and_attendee_list_the_same_join_target(env: Env) {
    let _hcal = env.start("").await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    env.enable(&alex).await;
    env.enable(&deniz).await;
    env.wait_active(&alex).await;
    env.wait_active(&deniz).await;
    let created = env.graph.create_event(&alex, invite("Weekly", "@webex", "<p>Agenda</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let organiser = eventually("the organiser's row with hcal's join target", WAIT, || async {
        env.meetings(&alex).await.into_iter().find(|m| m["eventId"] == id.as_str() && m["join"]["origin"] == "hcal")
    })
    .await;
    let attendee = eventually("the attendee's row with hcal's join target", WAIT, || async {
        env.meetings(&deniz).await.into_iter().find(|m| m["subject"] == "Weekly" && m["join"]["origin"] == "hcal")
    })
    .await;
    assert_eq!(attendee["join"], organiser["join"], "one join target for organiser and attendee");
    assert_eq!(organiser["join"]["address"], "sip:alex@hcal.webex.com");
}

pub async fn a_typo_in_the_keyword_gets_a_notice_that_the_block_replaces_once_fixed(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, invite("Typo", "@webex:onetim", "<p>Agenda</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let notice = eventually("a notice in the invite", WAIT, || async {
        let b = body(&env, &alex, &id).await;
        b.contains("hcal-join-notice").then_some(b)
    })
    .await;
    assert!(notice.contains(":myroom, :onetime or :space") && notice.contains("<p>Agenda</p>"), "{notice}");
    assert!(!notice.contains("onetim<") && !notice.contains("onetim "), "nothing typed is quoted: {notice}");
    assert_eq!(blocks(&notice), 0, "a notice, no join details");
    assert_eq!(env.webex.meeting_count(), 0, "nothing booked on a guess");
    let status = env.wait_active(&alex).await;
    assert_eq!(status["joinDetails"]["givenUp"], 1, "{status}");

    env.graph.update_event(&alex, &id, json!({"location": {"displayName": "@webex:onetime"}})).await.unwrap();
    let fixed = eventually("the block in place of the notice", WAIT, || async {
        let b = body(&env, &alex, &id).await;
        (blocks(&b) == 1 && !b.contains("hcal-join-notice")).then_some(b)
    })
    .await;
    assert!(fixed.contains("<p>Agenda</p>"));
    assert_eq!(env.webex.meetings_tagged(&key(&id)).len(), 1);
    // The reasons are counted, as fixed words.
    let metrics = eventually("the outcomes counted", WAIT, || async {
        let m = env.metrics().await;
        m.contains("hcal_join_details_total{outcome=\"written\"}").then_some(m)
    })
    .await;
    for outcome in ["skipped_unknown_modifier", "notified_unknown_modifier", "booked"] {
        assert!(
            metrics.contains(&format!("hcal_join_details_total{{outcome=\"{outcome}\"}} 1")),
            "{outcome}: {metrics}"
        );
    }
}
