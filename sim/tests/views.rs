//! Recurring series and their instances, calendarView with paging and time zones, and
//! calendarView delta with skip and delta tokens, removals and expiry.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use hcal_sim::graph::encode;
use serde_json::{Value, json};
use support::{Fixture, assert_graph_error, event};

/// Reads a 200 response as JSON, with the headers.
async fn ok_json(resp: reqwest::Response) -> (reqwest::header::HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "status of {body}");
    (headers, body)
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

/// Follows `@odata.nextLink` from `url` (sending `prefer` on every page); returns the pages.
async fn pages(f: &Fixture, url: String, prefer: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url);
    while let Some(url) = next {
        assert!(out.len() < 20, "endless paging");
        let mut req = f.http.get(&url).bearer_auth(&f.token);
        if let Some(p) = prefer {
            req = req.header("Prefer", p);
        }
        let (_, page) = ok_json(req.send().await.unwrap()).await;
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
        out.push(page);
    }
    out
}

fn values(pages: &[Value]) -> Vec<Value> {
    pages.iter().flat_map(|p| p["value"].as_array().unwrap().clone()).collect()
}

fn weekly_series() -> Value {
    json!({
        "subject": "Weekly planning",
        "body": {"contentType": "text", "content": "Plan the week"},
        "start": {"dateTime": "2026-06-01T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-06-01T11:00:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            // Four weeks: the Mondays 1, 8, 15 and 22 June (29 June is past the end date).
            "range": {"type": "endDate", "startDate": "2026-06-01", "endDate": "2026-06-28"}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_of_a_weekly_series_with_an_exception_and_a_deletion() {
    let f = Fixture::new().await;
    let master = f.create(&f.alice, weekly_series()).await;
    assert_eq!(master["type"], "seriesMaster");
    let master_id = master["id"].as_str().unwrap().to_owned();
    let window = "startDateTime=2026-05-25T00:00:00Z&endDateTime=2026-07-06T00:00:00Z";
    let instances_path = format!("/users/{}/calendar/events/{}/instances", f.alice, encode(&master_id));
    let instances = || async {
        let (_, page) = ok_json(f.get(&format!("{instances_path}?{window}")).send().await.unwrap()).await;
        page["value"].as_array().unwrap().clone()
    };

    let occurrences = instances().await;
    assert_eq!(occurrences.len(), 4, "{occurrences:#?}");
    let starts: Vec<&str> = occurrences.iter().map(|o| o["start"]["dateTime"].as_str().unwrap()).collect();
    // 10:00 in Berlin is 08:00 UTC in summer.
    assert_eq!(
        starts,
        [
            "2026-06-01T08:00:00.0000000",
            "2026-06-08T08:00:00.0000000",
            "2026-06-15T08:00:00.0000000",
            "2026-06-22T08:00:00.0000000"
        ]
    );
    for o in &occurrences {
        assert_eq!(o["type"], "occurrence");
        assert_eq!(o["seriesMasterId"], master_id.as_str());
        assert_eq!(o["recurrence"], Value::Null);
        assert_eq!(o["start"]["timeZone"], "UTC");
        assert_eq!(o["subject"], "Weekly planning");
        assert_ne!(o["id"], master_id.as_str());
    }
    let occ_ids = ids(&occurrences);
    assert_eq!(occ_ids.iter().collect::<BTreeSet<_>>().len(), 4, "distinct occurrence ids");
    let uids: BTreeSet<&str> = occurrences.iter().map(|o| o["iCalUId"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), 4, "iCalUId differs per occurrence");
    // An occurrence can be read by its id.
    let (_, second) =
        ok_json(f.get(&format!("/users/{}/events/{}", f.alice, encode(&occ_ids[1]))).send().await.unwrap()).await;
    assert_eq!(second["type"], "occurrence");
    assert_eq!(second["start"]["dateTime"], "2026-06-08T08:00:00.0000000");

    // Changing an occurrence makes it an exception with an id of its own.
    let resp = f
        .patch(
            &format!("/users/{}/events/{}", f.alice, encode(&occ_ids[1])),
            &json!({"subject": "Planning, moved agenda"}),
        )
        .send()
        .await
        .unwrap();
    let (_, exception) = ok_json(resp).await;
    assert_eq!(exception["type"], "exception");
    assert_eq!(exception["subject"], "Planning, moved agenda");
    assert_eq!(exception["seriesMasterId"], master_id.as_str());
    assert_eq!(exception["recurrence"], Value::Null);
    let exception_id = exception["id"].as_str().unwrap().to_owned();
    assert_ne!(exception_id, occ_ids[1]);

    let after = instances().await;
    assert_eq!(after.len(), 4);
    let kinds: Vec<&str> = after.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["occurrence", "exception", "occurrence", "occurrence"], "sorted by start");
    assert_eq!(after[1]["id"], exception_id.as_str());
    assert_eq!(after[1]["subject"], "Planning, moved agenda");
    assert_eq!(after[1]["start"]["dateTime"], "2026-06-08T08:00:00.0000000");
    assert_eq!(after[1]["recurrence"], Value::Null);
    assert_eq!([&after[0]["id"], &after[2]["id"], &after[3]["id"]], [&occ_ids[0], &occ_ids[2], &occ_ids[3]]);

    // Deleting an occurrence removes it from the series.
    let resp = f.delete(&format!("/users/{}/events/{}", f.alice, encode(&occ_ids[2]))).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let left = instances().await;
    assert_eq!(ids(&left), [occ_ids[0].clone(), exception_id.clone(), occ_ids[3].clone()]);
    let gone = f.get(&format!("/users/{}/events/{}", f.alice, encode(&occ_ids[2]))).send().await.unwrap();
    assert_graph_error(gone, 404, "ErrorItemNotFound").await;

    // The window is required, both ends of it.
    let missing = f.get(&instances_path).send().await.unwrap();
    assert_graph_error(missing, 400, "ErrorInvalidParameter").await;
    let half = f.get(&format!("{instances_path}?startDateTime=2026-05-25T00:00:00Z")).send().await.unwrap();
    assert_graph_error(half, 400, "ErrorInvalidParameter").await;

    // /events lists the master (not its occurrences or exceptions) with its recurrence.
    let (_, list) = ok_json(f.get(&format!("/users/{}/events", f.alice)).send().await.unwrap()).await;
    let list = list["value"].as_array().unwrap();
    assert_eq!(ids(list), [master_id.as_str()]);
    let listed = &list[0];
    assert_eq!(listed["type"], "seriesMaster");
    assert_eq!(listed["seriesMasterId"], Value::Null);
    assert_eq!(listed["start"]["dateTime"], "2026-06-01T08:00:00.0000000");
    let rec = &listed["recurrence"];
    assert_eq!(rec["pattern"]["type"], "weekly");
    assert_eq!(rec["pattern"]["interval"], 1);
    assert_eq!(rec["pattern"]["daysOfWeek"], json!(["monday"]));
    assert_eq!(rec["range"]["type"], "endDate");
    assert_eq!(rec["range"]["startDate"], "2026-06-01");
    assert_eq!(rec["range"]["endDate"], "2026-06-28");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_carry_their_original_start() {
    let f = Fixture::new().await;
    let master = f.create(&f.alice, weekly_series()).await;
    assert!(master.get("originalStart").is_none(), "a series master has none: {master}");
    assert_eq!(master["originalStartTimeZone"], "W. Europe Standard Time");
    assert_eq!(master["originalEndTimeZone"], "W. Europe Standard Time");
    let single = f.create(&f.alice, event("Single", "2026-06-02T09:00:00", "2026-06-02T10:00:00")).await;
    assert!(single.get("originalStart").is_none(), "a single instance has none: {single}");
    let master_id = master["id"].as_str().unwrap().to_owned();
    let window = "startDateTime=2026-05-25T00:00:00Z&endDateTime=2026-07-06T00:00:00Z";
    let instances = format!("/users/{}/events/{}/instances?{window}", f.alice, encode(&master_id));
    let (_, page) = ok_json(f.get(&instances).send().await.unwrap()).await;
    let occurrences = page["value"].as_array().unwrap().clone();
    let originals: Vec<&str> = occurrences.iter().map(|o| o["originalStart"].as_str().unwrap()).collect();
    // 10:00 in Berlin, in UTC, as a DateTimeOffset.
    assert_eq!(
        originals,
        ["2026-06-01T08:00:00Z", "2026-06-08T08:00:00Z", "2026-06-15T08:00:00Z", "2026-06-22T08:00:00Z"]
    );
    for o in &occurrences {
        assert_eq!(o["originalStartTimeZone"], "W. Europe Standard Time");
        assert_eq!(o["originalEndTimeZone"], "W. Europe Standard Time");
    }
    let occ_ids = ids(&occurrences);

    // GET of an occurrence has it too.
    let path = format!("/users/{}/events/{}", f.alice, encode(&occ_ids[1]));
    let (_, second) = ok_json(f.get(&path).send().await.unwrap()).await;
    assert_eq!(second["originalStart"], "2026-06-08T08:00:00Z");

    // Moving an occurrence makes an exception that keeps the start it had in the series.
    let moved = json!({
        "start": {"dateTime": "2026-06-09T14:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-06-09T15:00:00", "timeZone": "UTC"}
    });
    let (_, exception) = ok_json(f.patch(&path, &moved).send().await.unwrap()).await;
    assert_eq!(exception["type"], "exception");
    assert_eq!(exception["start"]["dateTime"], "2026-06-09T14:00:00.0000000");
    assert_eq!(exception["originalStart"], "2026-06-08T08:00:00Z");
    let exception_id = exception["id"].as_str().unwrap().to_owned();

    // An instance cannot be moved onto or past the day of a neighbouring occurrence.
    for (day, what) in [
        ("2026-06-01", "the previous occurrence's day"),
        ("2026-06-15", "the next occurrence's day"),
        ("2026-06-20", "past the next occurrence"),
    ] {
        let crossing = json!({
            "start": {"dateTime": format!("{day}T12:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{day}T13:00:00"), "timeZone": "UTC"}
        });
        let resp = f.patch(&path, &crossing).send().await.unwrap();
        let body = assert_graph_error(resp, 400, "ErrorOccurrenceCrossingBoundary").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("adjacent occurrence"), "{what}");
    }

    // calendarView and delta show it on occurrences and exceptions alike.
    let view = format!("/users/{}/calendarView?{window}", f.alice);
    let (_, page) = ok_json(f.get(&view).send().await.unwrap()).await;
    let in_view = page["value"].as_array().unwrap();
    let exception_in_view = in_view.iter().find(|e| e["id"] == exception_id.as_str()).unwrap();
    assert_eq!(exception_in_view["originalStart"], "2026-06-08T08:00:00Z");
    let first = in_view.iter().find(|e| e["id"] == occ_ids[0].as_str()).unwrap();
    assert_eq!(first["originalStart"], "2026-06-01T08:00:00Z");
    let in_single = in_view.iter().find(|e| e["id"] == single["id"]).unwrap();
    assert!(in_single.get("originalStart").is_none());
    let delta = f.url(&format!("/users/{}/calendarView/delta?{window}", f.alice));
    let (items, _) = delta_round(&f, delta, None).await;
    let exception_in_delta = items.iter().find(|e| e["id"] == exception_id.as_str()).unwrap();
    assert_eq!(exception_in_delta["originalStart"], "2026-06-08T08:00:00Z");
    let last = items.iter().find(|e| e["id"] == occ_ids[3].as_str()).unwrap();
    assert_eq!(last["originalStart"], "2026-06-22T08:00:00Z");
}

/// Alice's calendar for the calendarView tests: returns (ids expected in the window of
/// 2026-06-01T00:00Z to 2026-06-08T00:00Z, in start order; the master's id).
async fn seed_view(f: &Fixture) -> (Vec<String>, String) {
    let a = &f.alice;
    let straddling = f.create(a, event("Straddles the start", "2026-05-31T23:00:00", "2026-06-01T01:00:00")).await;
    f.create(a, event("Ends at the start", "2026-05-31T23:00:00", "2026-06-01T00:00:00")).await;
    f.create(a, event("Starts at the end", "2026-06-08T00:00:00", "2026-06-08T01:00:00")).await;
    f.create(a, event("Later", "2026-07-15T09:00:00", "2026-07-15T10:00:00")).await;
    let single = f.create(a, event("Single", "2026-06-02T09:00:00", "2026-06-02T10:00:00")).await;
    let mut daily = event("Daily stand-up", "2026-06-03T12:00:00", "2026-06-03T12:15:00");
    daily["recurrence"] = json!({
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2026-06-03", "numberOfOccurrences": 3}
    });
    let master = f.create(a, daily).await;
    let master_id = master["id"].as_str().unwrap().to_owned();
    let (_, inst) = ok_json(
        f.get(&format!(
            "/users/{a}/events/{}/instances?startDateTime=2026-06-01T00:00:00Z&endDateTime=2026-06-08T00:00:00Z",
            encode(&master_id)
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let occ = ids(inst["value"].as_array().unwrap());
    assert_eq!(occ.len(), 3);
    let resp = f
        .patch(&format!("/users/{a}/events/{}", encode(&occ[1])), &json!({"subject": "Stand-up (demo)"}))
        .send()
        .await
        .unwrap();
    let (_, exception) = ok_json(resp).await;
    let expected = vec![
        straddling["id"].as_str().unwrap().to_owned(),
        single["id"].as_str().unwrap().to_owned(),
        occ[0].clone(),
        exception["id"].as_str().unwrap().to_owned(),
        occ[2].clone(),
    ];
    (expected, master_id)
}

const VIEW_WINDOW: &str = "startDateTime=2026-06-01T00:00:00Z&endDateTime=2026-06-08T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_view_lists_instances_never_masters_and_pages() {
    let f = Fixture::new().await;
    let (expected, master_id) = seed_view(&f).await;
    let view = format!("/users/{}/calendarView", f.alice);

    let missing = f.get(&view).send().await.unwrap();
    assert_graph_error(missing, 400, "ErrorInvalidParameter").await;
    let half = f.get(&format!("{view}?endDateTime=2026-06-08T00:00:00Z")).send().await.unwrap();
    assert_graph_error(half, 400, "ErrorInvalidParameter").await;

    let (_, page) = ok_json(f.get(&format!("{view}?{VIEW_WINDOW}")).send().await.unwrap()).await;
    let items = page["value"].as_array().unwrap();
    assert_eq!(ids(items), expected, "overlapping instances in start order");
    assert!(page.get("@odata.nextLink").is_none());
    let kinds: Vec<&str> = items.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["singleInstance", "singleInstance", "occurrence", "exception", "occurrence"]);
    assert!(items.iter().all(|e| e["id"] != master_id.as_str()), "no series master in a view");
    for e in &items[2..] {
        assert_eq!(e["seriesMasterId"], master_id.as_str());
        assert_eq!(e["recurrence"], Value::Null);
    }
    assert_eq!(items[3]["subject"], "Stand-up (demo)");

    // An offset in the window is honoured; 02:00+02:00 is midnight UTC.
    let offset = format!(
        "{view}?startDateTime={}&endDateTime={}",
        encode("2026-06-01T02:00:00+02:00"),
        encode("2026-06-08T02:00:00+02:00")
    );
    let (_, page) = ok_json(f.get(&offset).send().await.unwrap()).await;
    assert_eq!(ids(page["value"].as_array().unwrap()), expected);

    // Paging with odata.maxpagesize (sent again on every page, as clients do).
    let prefer = "odata.maxpagesize=2";
    let by_prefer = pages(&f, f.url(&format!("{view}?{VIEW_WINDOW}")), Some(prefer)).await;
    assert_eq!(by_prefer.len(), 3);
    assert_eq!(by_prefer.iter().map(|p| p["value"].as_array().unwrap().len()).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(ids(&values(&by_prefer)), expected, "every instance exactly once");
    // Paging with $top, whose next links carry the page size themselves.
    let by_top = pages(&f, f.url(&format!("{view}?{VIEW_WINDOW}&$top=2")), None).await;
    assert_eq!(by_top.len(), 3);
    assert_eq!(ids(&values(&by_top)), expected, "every instance exactly once");
    for p in &by_top[..2] {
        let next = p["@odata.nextLink"].as_str().unwrap();
        assert!(next.starts_with(&f.sim.graph_url()), "{next}");
        assert!(next.contains("startDateTime=") && next.contains("endDateTime="), "{next}");
    }

    // outlook.timezone converts start and end and is acknowledged.
    let resp = f
        .get(&format!("{view}?{VIEW_WINDOW}"))
        .header("Prefer", "outlook.timezone=\"Pacific Standard Time\"")
        .send()
        .await
        .unwrap();
    let (headers, page) = ok_json(resp).await;
    let applied = headers.get("preference-applied").unwrap().to_str().unwrap();
    assert!(applied.contains("outlook.timezone=\"Pacific Standard Time\""), "{applied}");
    let items = page["value"].as_array().unwrap();
    assert_eq!(ids(items), expected);
    assert_eq!(
        items[1]["start"],
        json!({"dateTime": "2026-06-02T02:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );
    assert_eq!(
        items[1]["end"],
        json!({"dateTime": "2026-06-02T03:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );
    assert_eq!(items[0]["start"]["dateTime"], "2026-05-31T16:00:00.0000000");
}

async fn delta_round(f: &Fixture, url: String, prefer: Option<&str>) -> (Vec<Value>, String) {
    let pages = pages(f, url, prefer).await;
    let last = pages.last().unwrap();
    for p in &pages[..pages.len() - 1] {
        let next = p["@odata.nextLink"].as_str().unwrap();
        assert!(next.contains("$skiptoken="), "{next}");
        assert!(p.get("@odata.deltaLink").is_none());
    }
    let delta_link = last["@odata.deltaLink"].as_str().unwrap_or_else(|| panic!("deltaLink in {last}")).to_owned();
    assert!(delta_link.contains("$deltatoken="), "{delta_link}");
    (values(&pages), delta_link)
}

fn removed(items: &[Value]) -> Vec<String> {
    items.iter().filter(|e| e.get("@removed").is_some()).map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_pages_then_reports_changes_removals_and_expires() {
    let f = Fixture::new().await;
    let window = "startDateTime=2026-09-01T00:00:00Z&endDateTime=2026-09-08T00:00:00Z";
    let mut created = Vec::new();
    for day in 1..=5 {
        let start = format!("2026-09-0{day}T09:00:00");
        let end = format!("2026-09-0{day}T10:00:00");
        let ev = f.sim.create_event(&f.bob, event(&format!("Day {day}"), &start, &end)).await.unwrap();
        created.push(ev["id"].as_str().unwrap().to_owned());
    }
    f.sim.create_event(&f.bob, event("Outside", "2026-10-01T09:00:00", "2026-10-01T10:00:00")).await.unwrap();
    let delta = f.url(&format!("/users/{}/calendarView/delta", f.bob));

    // The first round: pages of two with skip tokens, then a delta link.
    let first_round = pages(&f, format!("{delta}?{window}"), Some("odata.maxpagesize=2")).await;
    assert_eq!(first_round.iter().map(|p| p["value"].as_array().unwrap().len()).collect::<Vec<_>>(), [2, 2, 1]);
    let (items, delta_link) = delta_round(&f, format!("{delta}?{window}"), Some("odata.maxpagesize=2")).await;
    let mut seen = ids(&items);
    seen.sort();
    let mut want = created.clone();
    want.sort();
    assert_eq!(seen, want, "each event exactly once");
    assert!(items.iter().all(|e| e["subject"].is_string() && e["start"].is_object()), "full events");

    // Changes made in Outlook.
    let (updated, deleted) = (&created[0], &created[1]);
    f.sim.update_event(&f.bob, updated, json!({"subject": "Day 1 (changed)"})).await.unwrap();
    f.sim.delete_event(&f.bob, deleted).await.unwrap();
    let new = f.sim.create_event(&f.bob, event("New", "2026-09-06T09:00:00", "2026-09-06T10:00:00")).await.unwrap();
    let new_id = new["id"].as_str().unwrap().to_owned();

    let (changes, delta_link) = delta_round(&f, delta_link, None).await;
    assert_eq!(changes.len(), 3, "{changes:#?}");
    let full: Vec<&Value> = changes.iter().filter(|e| e.get("@removed").is_none()).collect();
    let mut full_ids: Vec<&str> = full.iter().map(|e| e["id"].as_str().unwrap()).collect();
    full_ids.sort();
    let mut want = vec![updated.as_str(), new_id.as_str()];
    want.sort();
    assert_eq!(full_ids, want);
    let changed = full.iter().find(|e| e["id"] == updated.as_str()).unwrap();
    assert_eq!(changed["subject"], "Day 1 (changed)");
    assert_eq!(changed["start"]["dateTime"], "2026-09-01T09:00:00.0000000");
    let fresh = full.iter().find(|e| e["id"] == new_id.as_str()).unwrap();
    assert_eq!(fresh["subject"], "New");
    let gone = changes.iter().find(|e| e.get("@removed").is_some()).unwrap();
    assert_eq!(gone["id"], deleted.as_str());
    assert_eq!(gone["@removed"], json!({"reason": "deleted"}));

    // Nothing changed since: an empty page and a new delta link.
    let (nothing, delta_link) = delta_round(&f, delta_link, None).await;
    assert_eq!(nothing, Vec::<Value>::new());

    // An event moved out of the window is removed from the client's view.
    let moved = &created[2];
    let out = json!({
        "start": {"dateTime": "2026-10-02T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-10-02T10:00:00", "timeZone": "UTC"}
    });
    f.sim.update_event(&f.bob, moved, out).await.unwrap();
    let (changes, delta_link) = delta_round(&f, delta_link, None).await;
    assert_eq!(removed(&changes), [moved.as_str()]);
    assert_eq!(changes.len(), 1, "{changes:#?}");

    // Delta takes no $select, $filter or $expand.
    for query in ["$select=subject", "$filter=subject%20eq%20'x'", "$expand=attachments"] {
        let resp = f.http.get(format!("{delta}?{window}&{query}")).bearer_auth(&f.token).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
    }
    let no_window = f.http.get(&delta).bearer_auth(&f.token).send().await.unwrap();
    assert_graph_error(no_window, 400, "ErrorInvalidParameter").await;

    // A skip token of an unfinished round and the delta link both expire.
    let (_, first) = ok_json(
        f.http
            .get(format!("{delta}?{window}"))
            .bearer_auth(&f.token)
            .header("Prefer", "odata.maxpagesize=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let skip_link = first["@odata.nextLink"].as_str().unwrap().to_owned();
    f.sim.expire_delta_tokens();
    let expired = f.http.get(&delta_link).bearer_auth(&f.token).send().await.unwrap();
    assert_graph_error(expired, 410, "SyncStateNotFound").await;
    let expired = f.http.get(&skip_link).bearer_auth(&f.token).send().await.unwrap();
    assert_graph_error(expired, 410, "SyncStateNotFound").await;
    // A new full round works again.
    let (items, _) = delta_round(&f, format!("{delta}?{window}"), None).await;
    assert_eq!(items.len(), 4, "{items:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_converts_time_zones_and_its_links_expire() {
    let config = hcal_sim::graph::GraphSimConfig { delta_token_lifetime_secs: 60, ..Default::default() };
    let f = Fixture::with(config).await;
    let window = "startDateTime=2026-09-01T00:00:00Z&endDateTime=2026-09-08T00:00:00Z";
    let ev = f.sim.create_event(&f.alice, event("Zoned", "2026-09-02T16:00:00", "2026-09-02T17:00:00")).await.unwrap();
    let delta = f.url(&format!("/users/{}/calendarView/delta?{window}", f.alice));
    let prefer = "outlook.timezone=\"Pacific Standard Time\"";
    let resp = f.http.get(&delta).bearer_auth(&f.token).header("Prefer", prefer).send().await.unwrap();
    let (headers, page) = ok_json(resp).await;
    let applied = headers.get("preference-applied").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(applied.as_deref(), Some(prefer));
    assert_eq!(ids(page["value"].as_array().unwrap()), [ev["id"].as_str().unwrap().to_owned()]);
    let start = &page["value"][0]["start"];
    assert_eq!(*start, json!({"dateTime": "2026-09-02T09:00:00.0000000", "timeZone": "Pacific Standard Time"}));
    let delta_link = page["@odata.deltaLink"].as_str().unwrap().to_owned();

    // Within its lifetime the link works; past it, the client must start over.
    f.sim.advance_clock(std::time::Duration::from_secs(30));
    let (_, page) = ok_json(f.http.get(&delta_link).bearer_auth(&f.token).send().await.unwrap()).await;
    assert_eq!(page["value"], json!([]));
    f.sim.advance_clock(std::time::Duration::from_secs(61));
    let expired = f.http.get(&delta_link).bearer_auth(&f.token).send().await.unwrap();
    assert_graph_error(expired, 410, "SyncStateNotFound").await;
}
