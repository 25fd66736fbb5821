//! Series end to end: each occurrence listed with its own times, a moved occurrence listed
//! once where it went and keeping one block, a cancelled one gone, and a keyword on one
//! occurrence decorating that occurrence only.

use std::time::Duration;

use chrono::Datelike as _;
use serde_json::{Value, json};

use crate::support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(30);

/// A weekly series of four, a week ahead, with `location`.
fn weekly(subject: &str, location: &str) -> Value {
    let mut event = invite(subject, location, "<p>Agenda</p>");
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    event["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day_name(day.weekday())]},
        "range": {"type": "numbered", "startDate": day.to_string(), "numberOfOccurrences": 4}
    });
    event
}

/// A day as Graph names it.
fn day_name(day: chrono::Weekday) -> &'static str {
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][day.num_days_from_monday() as usize]
}

/// The series' occurrences as Graph lists them, by start.
async fn instances(env: &Env, user: &str, series: &str) -> Vec<Value> {
    let from = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(60)).format("%Y-%m-%dT%H:%M:%SZ");
    let path = format!(
        "/users/{user}/events/{}/instances?startDateTime={from}&endDateTime={to}",
        hcal_sim::graph::encode(series)
    );
    let resp = env.graph.act("GET", &path, None).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    resp.body.unwrap()["value"].as_array().unwrap().clone()
}

async fn body(env: &Env, user: &str, id: &str) -> String {
    env.graph_event(user, id).await["body"]["content"].as_str().unwrap_or_default().to_owned()
}

fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    let s = v["dateTime"].as_str().unwrap();
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap().and_utc()
}

pub async fn a_weekly_series_is_listed_per_occurrence_with_its_moves_and_cancellations(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, weekly("Weekly sync", "@webex")).await.unwrap();
    let series = created["id"].as_str().unwrap().to_owned();
    eventually("the series decorated", WAIT, || async {
        (blocks(&body(&env, &alex, &series).await) == 1).then_some(())
    })
    .await;
    let occurrences = instances(&env, &alex, &series).await;
    assert_eq!(occurrences.len(), 4);
    let listed = eventually("a row per occurrence", WAIT, || async {
        let rows: Vec<Value> =
            env.meetings(&alex).await.into_iter().filter(|m| m["seriesMasterId"] == series.as_str()).collect();
        (rows.len() == 4).then_some(rows)
    })
    .await;
    for (row, occurrence) in listed.iter().zip(&occurrences) {
        assert_eq!(row["eventId"], occurrence["id"]);
        assert_eq!(row["join"]["origin"], "hcal", "every occurrence has the series' join target");
    }

    // The second occurrence moved two hours later, the third cancelled.
    let (moved, cancelled) = (occurrences[1]["id"].as_str().unwrap(), occurrences[2]["id"].as_str().unwrap());
    let start = instant(&occurrences[1]["start"]) + chrono::Duration::hours(2);
    let at = |t: chrono::DateTime<chrono::Utc>| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    env.graph
        .update_event(&alex, moved, json!({"start": at(start), "end": at(start + chrono::Duration::hours(1))}))
        .await
        .unwrap();
    env.graph.delete_event(&alex, cancelled).await.unwrap();
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let moved_day = day(start);
    let rows = eventually("the move and the cancellation in the list", WAIT, || async {
        let rows: Vec<Value> =
            env.meetings(&alex).await.into_iter().filter(|m| m["subject"] == "Weekly sync").collect();
        let ids: Vec<&str> = rows.iter().filter_map(|r| r["eventId"].as_str()).collect();
        (rows.len() == 3 && !ids.contains(&cancelled) && !ids.contains(&moved)).then_some(rows)
    })
    .await;
    // The moved occurrence is an exception now, listed once, at its new time.
    let on_that_day: Vec<&Value> =
        rows.iter().filter(|r| r["start"].as_str().is_some_and(|s| s.starts_with(&moved_day))).collect();
    assert_eq!(on_that_day.len(), 1, "never one date twice: {rows:#?}");
    let exception = on_that_day[0]["eventId"].as_str().unwrap().to_owned();
    let listed_start = on_that_day[0]["start"].as_str().unwrap();
    assert!(listed_start.starts_with(&start.format("%Y-%m-%dT%H:%M").to_string()), "{listed_start}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(blocks(&body(&env, &alex, &exception).await), 1, "a moved occurrence keeps one block");
    assert_eq!(blocks(&body(&env, &alex, &series).await), 1);
}

pub async fn a_keyword_on_one_occurrence_decorates_that_occurrence_only(env: Env) {
    let _hcal = env.start("").await;
    let alex = env.user("alex");
    env.enable(&alex).await;
    env.wait_active(&alex).await;
    let created = env.graph.create_event(&alex, weekly("Standup", "Room 1")).await.unwrap();
    let series = created["id"].as_str().unwrap().to_owned();
    let occurrences = instances(&env, &alex, &series).await;
    let one = occurrences[1]["id"].as_str().unwrap().to_owned();
    env.graph.update_event(&alex, &one, json!({"location": {"displayName": "@webex"}})).await.unwrap();
    eventually("that occurrence decorated", WAIT, || async {
        (blocks(&body(&env, &alex, &one).await) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(blocks(&body(&env, &alex, &series).await), 0, "the series is left alone");
    for other in [&occurrences[0], &occurrences[2], &occurrences[3]] {
        assert_eq!(blocks(&body(&env, &alex, other["id"].as_str().unwrap()).await), 0);
    }
}
