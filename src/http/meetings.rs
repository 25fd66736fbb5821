//! The user API: `GET /v1/users/{user}/meetings?from=&to=&limit=&cursor=`, a user's meeting
//! list, a page at a time.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike as _, Duration, Utc};
use hcal_actors::detect::AddressKind;
use hcal_actors::ids::UserObjectId;
use hcal_actors::mailbox::events::JoinOrigin;
use serde::{Deserialize, Serialize};

use super::auth::UserCaller;
use super::error::{ApiError, ErrorKind};
use crate::app::AppState;
use crate::projections::meetings::{self as projection, MeetingRow};

/// Length of the window when `to` is not given.
const DEFAULT_SPAN: Duration = Duration::weeks(4);

/// Longest window: about a century, wide enough for clients that ask for everything (2000 to
/// 2100) and far inside what dates can represent.
const MAX_WINDOW: Duration = Duration::days(36_600);

/// Meetings on a page when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;

/// Most meetings on a page.
const MAX_LIMIT: usize = 500;

/// Query of the meeting list; both ends RFC 3339.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Window {
    /// Start of the window; default now.
    pub from: Option<DateTime<Utc>>,
    /// End of the window; default four weeks after `from`.
    pub to: Option<DateTime<Utc>>,
}

/// The page a query asks for: at most `limit` meetings after `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// Meetings per page, 1 to 500; default 100.
    pub limit: Option<usize>,
    /// Where the previous page ended (its `nextLink` carries it); opaque to clients.
    pub cursor: Option<String>,
}

/// Where a page ends: the last meeting's start and id. Written `{unix millis}.{id, URL-safe
/// base64}` so that it survives a query string untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    start: DateTime<Utc>,
    event_id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        use base64::Engine as _;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.event_id.as_bytes());
        format!("{}.{id}", self.start.timestamp_millis())
    }

    fn decode(text: &str) -> Option<Self> {
        use base64::Engine as _;
        let (millis, id) = text.split_once('.')?;
        let start = DateTime::from_timestamp_millis(millis.parse().ok()?)?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id).ok()?;
        Some(Self { start, event_id: String::from_utf8(id).ok()? })
    }
}

impl PageQuery {
    /// The page a query string asks for: 400 `invalid_query` for a limit out of 1 to 500 or a
    /// cursor hcal did not write.
    pub fn parse(query: &str) -> Result<(usize, Option<Cursor>), ApiError> {
        let page = web::Query::<Self>::from_query(query).map_err(|_| super::invalid_query())?.into_inner();
        let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(ErrorKind::InvalidQuery, "limit must be 1 to 500"));
        }
        let cursor = match page.cursor {
            Some(text) => Some(
                Cursor::decode(&text)
                    .ok_or_else(|| ApiError::new(ErrorKind::InvalidQuery, "cursor is not one hcal gave"))?,
            ),
            None => None,
        };
        Ok((limit, cursor))
    }
}

/// The page of `rows` (in start, id order) after `cursor`: at most `limit`, and where the next
/// one starts when there are more.
pub fn page(rows: Vec<MeetingRow>, limit: usize, cursor: Option<&Cursor>) -> (Vec<MeetingRow>, Option<Cursor>) {
    let after = |r: &MeetingRow| cursor.is_none_or(|c| (r.start, r.event_id.as_str()) > (c.start, c.event_id.as_str()));
    let mut rest: Vec<MeetingRow> = rows.into_iter().filter(after).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = more.then(|| rest.last().map(|r| Cursor { start: r.start, event_id: r.event_id.clone() })).flatten();
    (rest, next)
}

impl Window {
    /// The window a query string asks for: `from` and `to` as RFC 3339 times, each at most
    /// once (other parameters are ignored), bounded as [`Window::bounds`] says. 400
    /// `invalid_query` for a query that does not parse, `invalid_window` for a window out of
    /// bounds. A pure function of the query and `now`, so that it can be tested on any input.
    pub fn parse(query: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let window = web::Query::<Self>::from_query(query).map_err(|_| super::invalid_query())?;
        window.bounds(now)
    }

    /// The window's ends: `from` (default `now`) and `to` (default four weeks later), with
    /// `to` not before `from`, at most 36 600 days apart, both within the years 0000 to
    /// 9999 (what RFC 3339 writes). The arithmetic is checked: a `from` near the end of what
    /// dates can hold must not overflow.
    pub fn bounds(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let invalid = |message: &'static str| ApiError::new(ErrorKind::InvalidWindow, message);
        let representable = |t: DateTime<Utc>| (0..=9999).contains(&t.year());
        let from = self.from.unwrap_or(now);
        if !representable(from) || self.to.is_some_and(|to| !representable(to)) {
            return Err(invalid("`from` and `to` must lie within the years 0000 to 9999"));
        }
        let to = match self.to {
            Some(to) => to,
            // Near the end of year 9999 the default end stops at the last representable instant.
            None => from.checked_add_signed(DEFAULT_SPAN).filter(|t| representable(*t)).unwrap_or_else(last_instant),
        };
        if to < from {
            return Err(invalid("`to` is before `from`"));
        }
        if to.signed_duration_since(from) > MAX_WINDOW {
            return Err(invalid("the window is longer than 36 600 days"));
        }
        Ok((from, to))
    }
}

/// 9999-12-31T23:59:59.999999999Z.
fn last_instant() -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 999_999_999))
            .unwrap_or(chrono::NaiveDateTime::MAX),
        Utc,
    )
}

/// The answer: `{"value": [...], "nextLink"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingList {
    /// The meetings, by start.
    pub value: Vec<Meeting>,
    /// The next page (path and query), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Who organises a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organizer {
    /// Display name.
    pub name: Option<String>,
    /// Address.
    pub address: Option<String>,
}

/// One meeting of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    /// Graph event id.
    pub event_id: String,
    /// Subject.
    pub subject: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// The time zone the organiser scheduled it in (Graph's `originalStartTimeZone`, a Windows
    /// or IANA name); `start` and `end` are UTC either way.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// All-day flag.
    pub is_all_day: bool,
    /// Who organises it.
    #[serde(default)]
    pub organizer: Option<Organizer>,
    /// Whether the list's user organises it.
    #[serde(default)]
    pub is_organizer: bool,
    /// The user's response: `organizer`, `accepted`, `tentativelyAccepted`, `declined`,
    /// `notResponded` or `none`.
    #[serde(default)]
    pub response_status: Option<String>,
    /// Marked private or confidential.
    #[serde(default)]
    pub is_private: bool,
    /// How to join, when the meeting has a join target.
    pub join: Option<Join>,
    /// For an occurrence of a series: the series' event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_master_id: Option<String>,
}

/// How to join a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Join {
    /// Platform id (`webex`, `zoom`, …).
    pub provider: String,
    /// Kind of address.
    pub kind: AddressKind,
    /// Where the target came from.
    pub origin: JoinOrigin,
    /// The address to dial or open.
    pub address: Option<String>,
    /// The platform's web link.
    pub web_link: Option<String>,
}

impl From<MeetingRow> for Meeting {
    fn from(r: MeetingRow) -> Self {
        let private = r.private;
        Self {
            event_id: r.event_id,
            subject: private.subject,
            start: r.start,
            end: r.end,
            time_zone: r.time_zone,
            is_all_day: r.is_all_day,
            organizer: (private.organizer.is_some() || private.organizer_address.is_some())
                .then(|| Organizer { name: private.organizer.clone(), address: private.organizer_address.clone() }),
            is_organizer: r.is_organizer,
            response_status: r.response,
            is_private: r.is_private,
            join: r.join.map(|j| Join {
                provider: j.provider,
                kind: j.kind,
                origin: j.origin,
                address: private.join_address,
                web_link: private.web_link,
            }),
            series_master_id: r.series_master_id,
        }
    }
}

/// `GET /v1/users/{user}/meetings?from=&to=`: meetings overlapping the window (default: now to
/// four weeks ahead; bounded as [`Window::bounds`] says), by start, with their join target.
pub async fn list(
    caller: UserCaller,
    state: web::Data<AppState>,
    user: web::Path<UserObjectId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mailbox = caller.may_read(user.into_inner())?;
    let (from, to) = Window::parse(req.query_string(), Utc::now())?;
    let (limit, cursor) = PageQuery::parse(req.query_string())?;
    let rows =
        projection::meetings(&state.store, &state.ring, &mailbox, from, to).await.map_err(ApiError::unavailable)?;
    let (rows, next) = page(rows, limit, cursor.as_ref());
    let next_link = next.map(|c| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .append_pair("to", &to.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .append_pair("limit", &limit.to_string())
            .append_pair("cursor", &c.encode())
            .finish();
        format!("{}?{query}", req.path())
    });
    Ok(HttpResponse::Ok().json(MeetingList { value: rows.into_iter().map(Meeting::from).collect(), next_link }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn window(from: Option<&str>, to: Option<&str>) -> Window {
        Window { from: from.map(at), to: to.map(at) }
    }

    fn code(w: &Window) -> Option<ErrorKind> {
        w.bounds(at("2025-03-01T12:00:00Z")).err().map(|e| e.kind())
    }

    #[test]
    fn the_window_defaults_to_four_weeks_from_now() {
        let now = at("2025-03-01T12:00:00Z");
        assert_eq!(Window::default().bounds(now).unwrap(), (now, at("2025-03-29T12:00:00Z")));
        let from = at("2025-06-01T00:00:00Z");
        assert_eq!(window(Some("2025-06-01T00:00:00Z"), None).bounds(now).unwrap(), (from, from + DEFAULT_SPAN));
        let wide = window(Some("2000-01-01T00:00:00Z"), Some("2100-01-01T00:00:00Z"));
        assert!(wide.bounds(now).is_ok(), "what the demo and the tests ask for");
    }

    #[test]
    fn a_from_at_the_end_of_time_is_refused_not_overflowed() {
        // As the query parser reads `from=%2B262142-12-31T23:59:59Z`; adding four weeks to it
        // used to panic and drop the connection.
        let end = parsed("+262142-12-31T23:59:59Z");
        assert_eq!(code(&end), Some(ErrorKind::InvalidWindow));
        assert_eq!(code(&Window { from: Some(DateTime::<Utc>::MAX_UTC), to: None }), Some(ErrorKind::InvalidWindow));
        assert_eq!(code(&Window { from: Some(DateTime::<Utc>::MIN_UTC), to: None }), Some(ErrorKind::InvalidWindow));
        let late = window(Some("9999-12-20T00:00:00Z"), None).bounds(at("2025-03-01T12:00:00Z")).unwrap();
        assert_eq!(late.1, last_instant(), "the default end stops at the end of year 9999");
    }

    #[test]
    fn reversed_and_overlong_windows_are_refused() {
        assert_eq!(
            code(&window(Some("2025-03-02T00:00:00Z"), Some("2025-03-01T00:00:00Z"))),
            Some(ErrorKind::InvalidWindow)
        );
        assert_eq!(
            code(&window(Some("0001-01-01T00:00:00Z"), Some("9999-01-01T00:00:00Z"))),
            Some(ErrorKind::InvalidWindow)
        );
        assert_eq!(code(&window(Some("2025-03-01T00:00:00Z"), Some("2025-03-01T00:00:00Z"))), None, "empty is fine");
    }

    fn row(id: &str, start: &str) -> MeetingRow {
        let start = at(start);
        MeetingRow {
            event_id: id.into(),
            start,
            end: start + Duration::hours(1),
            is_all_day: false,
            join: None,
            private: crate::projections::meetings::RowPrivate::default(),
            occurrences: Vec::new(),
            series_master_id: None,
            is_private: false,
            is_organizer: false,
            response: None,
            time_zone: None,
        }
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        // Two meetings at the same time are told apart by id.
        let rows: Vec<MeetingRow> = (0..7)
            .map(|n| row(&format!("e{n}"), if n < 3 { "2026-12-03T09:00:00Z" } else { "2026-12-04T09:00:00Z" }))
            .collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page_rows, next) = page(rows.clone(), 2, cursor.as_ref());
            assert!(page_rows.len() <= 2);
            seen.extend(page_rows.into_iter().map(|r| r.event_id));
            // The cursor survives its text form.
            cursor = next.map(|c| Cursor::decode(&c.encode()).unwrap());
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, (0..7).map(|n| format!("e{n}")).collect::<Vec<_>>());
        let (all, next) = page(rows, 100, None);
        assert_eq!((all.len(), next), (7, None));
    }

    #[test]
    fn a_page_query_out_of_bounds_or_a_made_up_cursor_is_refused() {
        assert_eq!(PageQuery::parse("").unwrap().0, DEFAULT_LIMIT);
        assert_eq!(PageQuery::parse("limit=500&from=x").unwrap().0, 500);
        for bad in ["limit=0", "limit=501", "limit=-1", "limit=ten", "cursor=abc", "cursor=12.%FF", "cursor=1.!!"] {
            assert_eq!(PageQuery::parse(bad).err().map(|e| e.kind()), Some(ErrorKind::InvalidQuery), "{bad}");
        }
    }

    /// A window with `from` read by serde (chrono's visitor, as in the query extractor).
    fn parsed(from: &str) -> Window {
        serde_json::from_value(serde_json::json!({ "from": from })).unwrap()
    }

    #[test]
    fn the_query_parser_reads_what_the_extractor_read() {
        let now = at("2025-03-01T12:00:00Z");
        assert_eq!(Window::parse("", now).unwrap(), (now, at("2025-03-29T12:00:00Z")));
        let both = "from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00%2B01:00&other=1";
        assert_eq!(Window::parse(both, now).unwrap(), (at("2025-01-01T00:00:00Z"), at("2025-01-31T23:00:00Z")));
        let kind = |q: &str| Window::parse(q, now).err().map(|e| e.kind());
        assert_eq!(kind("from=yesterday"), Some(ErrorKind::InvalidQuery));
        assert_eq!(kind("from=2025-01-01T00:00:00Z&from=2025-01-02T00:00:00Z"), Some(ErrorKind::InvalidQuery));
        assert_eq!(kind("from=%2B262142-12-31T23:59:59Z"), Some(ErrorKind::InvalidWindow));
        assert_eq!(kind("from=%FF%FE"), Some(ErrorKind::InvalidQuery));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn query(pairs: &[(&str, String)]) -> String {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            q.finish()
        }

        /// The answer is a window within the documented bounds, or one of the two refusals.
        fn sound(answer: Result<(DateTime<Utc>, DateTime<Utc>), ApiError>) -> Result<(), TestCaseError> {
            match answer {
                Ok((from, to)) => {
                    prop_assert!(from <= to);
                    prop_assert!(to.signed_duration_since(from) <= MAX_WINDOW);
                    prop_assert!((0..=9999).contains(&from.year()) && (0..=9999).contains(&to.year()));
                }
                Err(e) => prop_assert!(matches!(e.kind(), ErrorKind::InvalidQuery | ErrorKind::InvalidWindow)),
            }
            Ok(())
        }

        /// Any instant chrono holds.
        fn instant() -> impl Strategy<Value = DateTime<Utc>> {
            let (min, max) = (DateTime::<Utc>::MIN_UTC.timestamp(), DateTime::<Utc>::MAX_UTC.timestamp());
            (min..=max, 0u32..1_000_000_000).prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or_default())
        }

        /// Two instants of the years 0000 to 9999: independent ones, and ones around the
        /// longest window.
        fn representable_pair() -> impl Strategy<Value = (DateTime<Utc>, DateTime<Utc>)> {
            let first = at("0000-01-01T00:00:00Z").timestamp();
            let last = last_instant().timestamp();
            let instant = move || (first..=last).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default());
            let span = MAX_WINDOW.num_seconds();
            prop_oneof![
                (instant(), instant()),
                (instant(), -86_400..=span + 86_400).prop_map(|(from, by)| {
                    let to = from.checked_add_signed(Duration::seconds(by)).filter(|t| (0..=9999).contains(&t.year()));
                    (from, to.unwrap_or(from))
                }),
            ]
        }

        /// Times as a client might write them: RFC 3339 of any instant, near misses, anything.
        fn written() -> impl Strategy<Value = String> {
            prop_oneof![
                instant().prop_map(|t| t.to_rfc3339()),
                instant().prop_map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()),
                "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
                any::<String>(),
            ]
        }

        proptest! {
            #[test]
            fn any_query_string_gets_a_window_or_a_400(q in any::<String>(), now in instant()) {
                sound(Window::parse(&q, now))?;
            }

            #[test]
            fn any_query_string_gets_a_page_or_a_400(q in any::<String>(), cursor in any::<String>()) {
                for query in [q, format!("cursor={}", cursor), format!("cursor={}.{}", cursor.len(), cursor)] {
                    match PageQuery::parse(&query) {
                        Ok((limit, _)) => prop_assert!((1..=MAX_LIMIT).contains(&limit)),
                        Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidQuery),
                    }
                }
            }

            #[test]
            fn any_from_and_to_get_a_window_or_a_400(
                from in prop::option::of(written()),
                to in prop::option::of(written()),
                now in instant(),
            ) {
                let mut pairs = Vec::new();
                pairs.extend(from.map(|v| ("from", v)));
                pairs.extend(to.map(|v| ("to", v)));
                sound(Window::parse(&query(&pairs), now))?;
            }

            #[test]
            fn well_formed_times_of_the_representable_years_are_judged_only_on_the_window(
                (from, to) in representable_pair(),
            ) {
                let q = query(&[("from", from.to_rfc3339()), ("to", to.to_rfc3339())]);
                match Window::parse(&q, at("2025-03-01T12:00:00Z")) {
                    Ok(window) => prop_assert_eq!(window, (from, to)),
                    Err(e) => {
                        prop_assert_eq!(e.kind(), ErrorKind::InvalidWindow);
                        prop_assert!(to < from || to.signed_duration_since(from) > MAX_WINDOW);
                    }
                }
            }
        }
    }
}
