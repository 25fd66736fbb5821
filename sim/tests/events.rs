//! Events: create, read with `Prefer`, partial PATCH with new change keys, extended
//! properties, delete, paging, attendees' copies, HTML documents and Teams meetings.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Fixture, assert_graph_error, event};

const MARKER: &str = "String {6d2c1a0e-4b1f-4c55-9a51-0c2f3b9d7e11} Name hcal.joinInfo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_201_with_graph_shapes() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Weekly sync", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let change_key = ev["changeKey"].as_str().unwrap();
    assert_eq!(ev["@odata.etag"], format!("W/\"{change_key}\""));
    assert_eq!(ev["start"], json!({"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(ev["type"], "singleInstance");
    assert_eq!(ev["isOrganizer"], true);
    assert_eq!(ev["organizer"]["emailAddress"]["address"], "alice@contoso.example");
    assert_eq!(ev["location"]["displayName"], "@webex");
    assert_eq!(ev["locations"][0]["displayName"], "@webex");
    assert_eq!(ev["body"]["contentType"], "html");
    assert_eq!(ev["bodyPreview"], "Agenda");
    assert!(ev["createdDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ev["onlineMeeting"], Value::Null);
    assert!(ev.get("singleValueExtendedProperties").is_none());
    let id = ev["id"].as_str().unwrap();
    assert!(id.starts_with("AAMk"), "{id}");
    // Ids are opaque base64 that must be percent-encoded in paths.
    let got = f.get(&format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(id))).send().await.unwrap();
    assert_eq!(got.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_headers_convert_time_zone_and_body() {
    let f = Fixture::new().await;
    let mut body = event("Zoned", "2026-07-01T09:00:00", "2026-07-01T10:00:00");
    body["start"]["timeZone"] = json!("W. Europe Standard Time");
    body["end"]["timeZone"] = json!("W. Europe Standard Time");
    body["body"] = json!({"contentType": "text", "content": "Line one\nJoin <here> & now"});
    let ev = f.create(&f.alice, body).await;
    assert_eq!(ev["start"]["dateTime"], "2026-07-01T07:00:00.0000000", "default is UTC");
    assert_eq!(ev["originalStartTimeZone"], "W. Europe Standard Time");
    assert!(
        ev["body"]["content"].as_str().unwrap().contains("Join &lt;here&gt; &amp; now"),
        "text becomes HTML by default"
    );
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    let resp = f
        .get(&path)
        .header("Prefer", "outlook.timezone=\"Pacific Standard Time\"")
        .header("Prefer", "outlook.body-content-type=\"text\"")
        .send()
        .await
        .unwrap();
    let applied = resp.headers()["preference-applied"].to_str().unwrap().to_owned();
    assert!(applied.contains("outlook.timezone=\"Pacific Standard Time\""), "{applied}");
    assert!(applied.contains("outlook.body-content-type=\"text\""), "{applied}");
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["start"], json!({"dateTime": "2026-07-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"}));
    assert_eq!(got["body"]["contentType"], "text");
    assert!(got["body"]["content"].as_str().unwrap().contains("Join <here> & now"));
    let bad = f.get(&path).header("Prefer", "outlook.timezone=\"Mars/Olympus\"").send().await.unwrap();
    assert_graph_error(bad, 400, "TimeZoneNotSupportedException").await;
}

/// The document Exchange wraps an HTML fragment in.
fn exchange_document(fragment: &str) -> String {
    format!(
        "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{fragment}\r\n</body>\r\n</html>\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_bodies_come_back_as_whole_documents() {
    let f = Fixture::new().await;
    let mut body = event("Fragment", "2026-12-01T09:00:00", "2026-12-01T10:00:00");
    body["body"] = json!({"contentType": "HTML", "content": "<p>Agenda</p><p>Join: https://video.example/j/1</p>"});
    let ev = f.create(&f.alice, body).await;
    let expected = exchange_document("<p>Agenda</p><p>Join: https://video.example/j/1</p>");
    assert_eq!(ev["body"], json!({"contentType": "html", "content": expected}));
    // bodyPreview is the text, line by line, as Exchange writes it.
    assert_eq!(ev["bodyPreview"], "Agenda\r\nJoin: https://video.example/j/1");
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    let got: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["body"]["content"], expected.as_str(), "stored that way");

    // PATCHing a fragment wraps it the same way; a whole document stays as given.
    let patched: Value = f
        .patch(&path, &json!({"body": {"contentType": "html", "content": "<div>New agenda</div>"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["body"]["content"], exchange_document("<div>New agenda</div>"));
    let whole = "<html><head></head><body><div>As given</div></body></html>";
    let patched: Value = f
        .patch(&path, &json!({"body": {"contentType": "html", "content": whole}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["body"]["content"], whole);

    // Asked for text, the body is its plain text.
    let text: Value =
        f.get(&path).header("Prefer", "outlook.body-content-type=\"text\"").send().await.unwrap().json().await.unwrap();
    assert_eq!(text["body"], json!({"contentType": "text", "content": "As given\r\n"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_is_partial_and_changes_the_change_key() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Before", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let path = format!("/users/{}/calendar/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    let resp = f.patch(&path, &json!({"subject": "After"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["subject"], "After");
    assert_eq!(after["body"], ev["body"], "untouched fields stay");
    assert_eq!(after["start"], ev["start"]);
    assert_ne!(after["changeKey"], ev["changeKey"]);
    assert_ne!(after["@odata.etag"], ev["@odata.etag"]);
    assert_eq!(after["@odata.etag"], format!("W/\"{}\"", after["changeKey"].as_str().unwrap()));

    // location and locations stay in step.
    let moved: Value =
        f.patch(&path, &json!({"location": {"displayName": "Room 4"}})).send().await.unwrap().json().await.unwrap();
    assert_eq!(moved["locations"], json!([moved["location"]]));
    let many: Value = f
        .patch(&path, &json!({"locations": [{"displayName": "A"}, {"displayName": "B"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(many["location"]["displayName"], "A; B");

    // Optimistic concurrency with If-Match.
    let stale = f
        .patch(&path, &json!({"subject": "x"}))
        .header("If-Match", ev["@odata.etag"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_graph_error(stale, 412, "ErrorIrresolvableConflict").await;
    let fresh = f
        .patch(&path, &json!({"subject": "y"}))
        .header("If-Match", many["@odata.etag"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);

    let unknown = f.patch(&path, &json!({"subjcet": "typo"})).send().await.unwrap();
    assert_graph_error(unknown, 400, "RequestBodyRead").await;
    let attendees: Vec<Value> =
        (0..501).map(|i| json!({"emailAddress": {"address": format!("p{i}@example.org")}})).collect();
    let too_many = f.patch(&path, &json!({"attendees": attendees})).send().await.unwrap();
    assert_graph_error(too_many, 400, "ErrorInvalidRequest").await;
    let backwards =
        f.patch(&path, &json!({"end": {"dateTime": "2026-12-01T08:00:00", "timeZone": "UTC"}})).send().await.unwrap();
    assert_graph_error(backwards, 400, "ErrorInvalidRequest").await;
    let bad_json = f
        .http
        .patch(f.url(&path))
        .bearer_auth(&f.token)
        .header("content-type", "application/json")
        .body("{\"subject\":")
        .send()
        .await
        .unwrap();
    assert_graph_error(bad_json, 400, "BadRequest").await;
    // The online meeting is read-only for apps.
    let om = f
        .patch(&path, &json!({"onlineMeeting": {"joinUrl": "https://teams.microsoft.com/l/meetup-join/x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(om.status(), 200);
    let got: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["onlineMeeting"], Value::Null);
}

async fn patch_json(f: &Fixture, path: &str, body: Value) -> Value {
    let resp = f.patch(path, &body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "PATCH {body}");
    resp.json().await.unwrap()
}

fn join_url(ev: &Value) -> &str {
    ev["onlineMeeting"]["joinUrl"].as_str().unwrap_or_else(|| panic!("no joinUrl in {}", ev["onlineMeeting"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_meetings_are_created_and_kept_as_exchange_does() {
    let f = Fixture::new().await;
    let mut body = event("Teams sync", "2026-12-01T09:00:00", "2026-12-01T10:00:00");
    body["body"] = json!({"contentType": "html", "content": "<p>Agenda</p>"});
    body["isOnlineMeeting"] = json!(true);
    body["onlineMeetingProvider"] = json!("teamsForBusiness");
    let ev = f.create(&f.alice, body.clone()).await;
    assert_eq!(ev["isOnlineMeeting"], true);
    assert_eq!(ev["onlineMeetingProvider"], "teamsForBusiness");
    assert_eq!(ev["onlineMeetingUrl"], Value::Null, "Teams meetings have no onlineMeetingUrl");
    let url = join_url(&ev).to_owned();
    assert!(url.starts_with("https://teams.microsoft.com/l/meetup-join/19%3ameeting_"), "{url}");
    assert!(url.contains("%40thread.v2/0?context=%7b%22Tid%22%3a%22"), "{url}");
    assert!(url.contains(&f.tenant) && url.contains(&f.alice), "context names tenant and organiser: {url}");
    assert!(ev["onlineMeeting"].get("conferenceId").is_none(), "no audio conferencing by default");
    // Exchange writes a join block into the HTML body, after what the organiser wrote.
    let html = ev["body"]["content"].as_str().unwrap();
    assert!(html.starts_with("<html>") && html.ends_with("</body>\r\n</html>\r\n"), "{html}");
    let agenda = html.find("<p>Agenda</p>").unwrap();
    let block = html.find("Microsoft Teams meeting").unwrap();
    assert!(agenda < block, "{html}");
    assert!(html.contains(&format!("<a href=\"{url}\"")), "{html}");
    for text in ["Join the meeting now", "Meeting ID: ", "Passcode: "] {
        assert!(html.contains(text), "{text} in {html}");
    }
    assert!(ev["bodyPreview"].as_str().unwrap().contains("Microsoft Teams meeting"));
    // Every meeting has its own URL.
    let other = f.create(&f.alice, body).await;
    assert_ne!(join_url(&other), url);

    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    let got: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["onlineMeeting"], ev["onlineMeeting"]);
    // Later changes of isOnlineMeeting are ignored; onlineMeeting is read-only and ignored too.
    let kept = patch_json(&f, &path, json!({"subject": "Renamed", "isOnlineMeeting": false})).await;
    assert_eq!((kept["isOnlineMeeting"].clone(), join_url(&kept)), (json!(true), url.as_str()));
    assert_eq!(kept["body"], ev["body"]);
    let kept = patch_json(
        &f,
        &path,
        json!({"onlineMeeting": {"joinUrl": "https://video.example/j/1"}, "onlineMeetingUrl": "x"}),
    )
    .await;
    assert_eq!(join_url(&kept), url);
    // A body rewritten around the meeting block keeps the meeting.
    let rewritten = html.replace("<p>Agenda</p>", "<p>New agenda</p>");
    let kept = patch_json(&f, &path, json!({"body": {"contentType": "html", "content": rewritten}})).await;
    assert_eq!(join_url(&kept), url);
    assert_eq!(kept["body"]["content"], rewritten.as_str());
    // Removing the block disables the online meeting.
    let plain = patch_json(&f, &path, json!({"body": {"contentType": "html", "content": "<p>No meeting</p>"}})).await;
    assert_eq!(plain["onlineMeeting"], Value::Null);
    assert_eq!(plain["isOnlineMeeting"], false);
    assert!(!plain["body"]["content"].as_str().unwrap().contains("Microsoft Teams meeting"));
    // Asking again makes a new meeting; the provider defaults to Teams.
    let again = patch_json(&f, &path, json!({"isOnlineMeeting": true})).await;
    assert_eq!(again["onlineMeetingProvider"], "teamsForBusiness");
    let new_url = join_url(&again).to_owned();
    assert_ne!(new_url, url);
    assert!(again["body"]["content"].as_str().unwrap().contains(&new_url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_meetings_on_text_bodies_and_with_dial_in() {
    let config = hcal_sim::graph::GraphSimConfig {
        teams_toll_number: Some("+1 555-0100".into()),
        ..hcal_sim::graph::GraphSimConfig::default()
    };
    let f = Fixture::with(config).await;
    let mut body = event("Text and Teams", "2026-12-01T09:00:00", "2026-12-01T10:00:00");
    body["body"] = json!({"contentType": "text", "content": "Agenda"});
    let ev = f.create(&f.bob, body).await;
    assert_eq!(ev["onlineMeeting"], Value::Null, "not an online meeting yet");
    let path = format!("/users/{}/events/{}", f.bob, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    // PATCH can make an event a Teams meeting; a text body becomes HTML for the block.
    let teams =
        patch_json(&f, &path, json!({"isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness"})).await;
    let meeting = &teams["onlineMeeting"];
    assert_eq!(meeting["tollNumber"], "+1 555-0100");
    let conference_id = meeting["conferenceId"].as_str().unwrap();
    assert!(conference_id.len() == 9 && conference_id.chars().all(|c| c.is_ascii_digit()), "{conference_id}");
    assert_eq!(teams["body"]["contentType"], "html");
    let html = teams["body"]["content"].as_str().unwrap();
    assert!(html.contains("<div>Agenda</div>") && html.contains(join_url(&teams)), "{html}");
    assert!(html.contains(conference_id), "{html}");
    let text: Value =
        f.get(&path).header("Prefer", "outlook.body-content-type=\"text\"").send().await.unwrap().json().await.unwrap();
    let content = text["body"]["content"].as_str().unwrap();
    assert!(content.starts_with("Agenda\r\n") && content.contains("Microsoft Teams meeting"), "{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_properties_round_trip_only_through_expand() {
    let f = Fixture::new().await;
    let ev = f.create(&f.alice, event("Marked", "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
    let other = f.create(&f.alice, event("Unmarked", "2026-12-02T09:00:00", "2026-12-02T10:00:00")).await;
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    let set = json!({"singleValueExtendedProperties": [{"id": MARKER, "value": "v1:webex:abc"}]});
    let resp = f.patch(&path, &set).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let plain: Value = f.get(&path).send().await.unwrap().json().await.unwrap();
    assert!(plain.get("singleValueExtendedProperties").is_none(), "only $expand shows them");
    let expand = |id: &str| {
        format!(
            "{path}?$expand={}",
            hcal_sim::graph::encode(&format!("singleValueExtendedProperties($filter=id eq '{id}')"))
        )
    };
    let got: Value = f.get(&expand(MARKER)).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["singleValueExtendedProperties"], json!([{"id": MARKER, "value": "v1:webex:abc"}]));
    // GUIDs compare case-insensitively, names case-sensitively.
    let upper_guid = MARKER.replace("6d2c1a0e", "6D2C1A0E");
    let got: Value = f.get(&expand(&upper_guid)).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["singleValueExtendedProperties"].as_array().unwrap().len(), 1);
    let other_name = MARKER.replace("hcal.joinInfo", "hcal.joininfo");
    let got: Value = f.get(&expand(&other_name)).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["singleValueExtendedProperties"], json!([]), "absent property gives an empty array");
    // Only `id eq` is allowed inside the expand filter.
    let bad = format!(
        "{path}?$expand={}",
        hcal_sim::graph::encode(&format!("singleValueExtendedProperties($filter=value eq '{MARKER}')"))
    );
    assert_graph_error(f.get(&bad).send().await.unwrap(), 400, "ErrorInvalidUrlQueryFilter").await;
    // A collection can be filtered by id and value.
    let filter = format!("singleValueExtendedProperties/Any(ep: ep/id eq '{MARKER}' and ep/value eq 'v1:webex:abc')");
    let list: Value = f
        .get(&format!("/users/{}/events?$filter={}", f.alice, hcal_sim::graph::encode(&filter)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![ev["id"].as_str().unwrap()]);
    assert_ne!(ids[0], other["id"].as_str().unwrap());
    // Malformed property ids are refused.
    let bad = f
        .patch(&path, &json!({"singleValueExtendedProperties": [{"id": "String hcal", "value": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_graph_error(bad, 400, "ErrorInvalidProperty").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_and_lists_page_with_next_links() {
    let f = Fixture::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let ev = f.create(&f.bob, event(&format!("E{i}"), "2026-12-01T09:00:00", "2026-12-01T10:00:00")).await;
        ids.push(ev["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut next = Some(f.url(&format!("/users/{}/events?$top=2", f.bob)));
    let mut pages = 0;
    while let Some(url) = next {
        let page: Value = f.http.get(&url).bearer_auth(&f.token).send().await.unwrap().json().await.unwrap();
        pages += 1;
        seen.extend(page["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);

    let path = format!("/users/{}/events/{}", f.bob, hcal_sim::graph::encode(&ids[0]));
    assert_eq!(f.delete(&path).send().await.unwrap().status(), 204);
    assert_graph_error(f.get(&path).send().await.unwrap(), 404, "ErrorItemNotFound").await;
    assert_graph_error(f.delete(&path).send().await.unwrap(), 404, "ErrorItemNotFound").await;
    // Another mailbox's event is not found through this mailbox.
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(&ids[1]));
    assert_graph_error(f.get(&path).send().await.unwrap(), 404, "ErrorItemNotFound").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_reach_attendees_and_rooms_and_cancellations_follow() {
    let f = Fixture::new().await;
    let mut body = event("Design review", "2026-12-03T13:00:00", "2026-12-03T14:00:00");
    body["attendees"] = json!([
        {"type": "required", "emailAddress": {"name": "Bob", "address": "bob@contoso.example"}},
        {"type": "resource", "emailAddress": {"name": "Rainier", "address": "rainier@contoso.example"}},
        {"type": "optional", "emailAddress": {"name": "Guest", "address": "guest@partner.example"}}
    ]);
    let ev = f.create(&f.alice, body).await;
    let window = "startDateTime=2026-12-03T00:00:00Z&endDateTime=2026-12-04T00:00:00Z";
    let view = |u: &str| f.get(&format!("/users/{u}/calendarView?{window}"));
    let bob: Value = view(&f.bob).send().await.unwrap().json().await.unwrap();
    let copy = &bob["value"][0];
    assert_eq!(copy["subject"], "Design review");
    assert_eq!(copy["isOrganizer"], false);
    assert_eq!(copy["iCalUId"], ev["iCalUId"]);
    assert_ne!(copy["id"], ev["id"]);
    assert_eq!(copy["organizer"]["emailAddress"]["address"], "alice@contoso.example");
    let room: Value = view(&f.room).send().await.unwrap().json().await.unwrap();
    assert_eq!(room["value"][0]["responseStatus"]["response"], "accepted");

    // Updates follow.
    let path = format!("/users/{}/events/{}", f.alice, hcal_sim::graph::encode(ev["id"].as_str().unwrap()));
    f.patch(&path, &json!({"body": {"contentType": "html", "content": "<p>Join: sip:123@video.example</p>"}}))
        .send()
        .await
        .unwrap();
    let bob: Value = view(&f.bob).send().await.unwrap().json().await.unwrap();
    assert!(bob["value"][0]["body"]["content"].as_str().unwrap().contains("sip:123@video.example"));

    // Cancelling: the room's copy disappears, the person's is marked cancelled.
    assert_eq!(f.delete(&path).send().await.unwrap().status(), 204);
    let room: Value = view(&f.room).send().await.unwrap().json().await.unwrap();
    assert_eq!(room["value"], json!([]));
    let bob: Value = view(&f.bob).send().await.unwrap().json().await.unwrap();
    assert_eq!(bob["value"][0]["isCancelled"], true);
    assert_eq!(bob["value"][0]["subject"], "Canceled: Design review");
}
