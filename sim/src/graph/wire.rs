//! Wire formats: Graph's `dateTimeTimeZone`, time-zone names (IANA and Windows), ISO instants
//! in query strings, and body content conversion between HTML and text.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::GraphError;

/// Windows time-zone names Outlook uses most, mapped to IANA zones (CLDR `windowsZones`).
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("Israel Standard Time", "Asia/Jerusalem"),
];

/// Resolves a time-zone name as Graph accepts it: a Windows name or an IANA name.
pub fn zone(name: &str) -> Result<Tz, GraphError> {
    let trimmed = name.trim();
    if let Some((_, iana)) = WINDOWS_ZONES.iter().find(|(w, _)| w.eq_ignore_ascii_case(trimmed)) {
        return iana.parse::<Tz>().map_err(|_| unsupported_zone(name));
    }
    trimmed.parse::<Tz>().map_err(|_| unsupported_zone(name))
}

fn unsupported_zone(name: &str) -> GraphError {
    GraphError::new(
        400,
        "TimeZoneNotSupportedException",
        format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."),
    )
}

/// Graph's local date-time format: 7 fractional digits, no offset.
pub fn format_local(dt: NaiveDateTime) -> String {
    format!("{}.{:07}", dt.format("%Y-%m-%dT%H:%M:%S"), dt.and_utc().timestamp_subsec_nanos() / 100)
}

/// An instant as Graph writes `createdDateTime` and friends: UTC with 7 digits and `Z`.
pub fn format_instant(dt: DateTime<Utc>) -> String {
    format!("{}Z", format_local(dt.naive_utc()))
}

/// Parses a local date-time as clients send it (with or without fractions; an offset or `Z`
/// is tolerated and ignored, as Graph does when a `timeZone` is given).
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_local());
    }
    let s = s.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// Parses an instant from a query string (`startDateTime=…`): an offset when present, else UTC.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    parse_local(s).map(|n| n.and_utc())
}

/// Converts a local date-time in `zone_name` to UTC.
pub fn to_utc(local: NaiveDateTime, zone_name: &str) -> Result<DateTime<Utc>, GraphError> {
    let tz = zone(zone_name)?;
    // Times inside a spring-forward gap do not exist; Exchange moves them forward an hour.
    let mapped = tz
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
        .ok_or_else(|| GraphError::bad_request("The date-time does not exist in its time zone."))?;
    Ok(mapped.with_timezone(&Utc))
}

/// Converts a UTC instant to local time in `zone_name`.
pub fn from_utc(instant: DateTime<Utc>, zone_name: &str) -> Result<NaiveDateTime, GraphError> {
    let tz = zone(zone_name)?;
    Ok(instant.with_timezone(&tz).naive_local())
}

/// Body content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `text`.
    Text,
    /// `html`.
    Html,
}

impl ContentType {
    /// Parses `text`/`html`, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("text") {
            Some(Self::Text)
        } else if s.eq_ignore_ascii_case("html") {
            Some(Self::Html)
        } else {
            None
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Html => "html",
        }
    }
}

/// Converts stored body content to the type the client prefers, roughly as Exchange does:
/// text becomes an HTML document with escaped lines; HTML becomes its text content.
pub fn convert_body(content: &str, from: ContentType, to: ContentType) -> String {
    match (from, to) {
        (ContentType::Text, ContentType::Html) => {
            let lines: Vec<String> = content.lines().map(escape_html).collect();
            format!(
                "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>{}</div>\r\n</body>\r\n</html>\r\n",
                lines.join("<br>\r\n")
            )
        }
        (ContentType::Html, ContentType::Text) => html_to_text(content),
        _ => content.to_owned(),
    }
}

/// Escapes text for HTML.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A small HTML-to-text conversion for the simulator's `body-content-type="text"`: drops tags,
/// `<head>`/`<style>`/`<script>` content, breaks lines at block elements and decodes the
/// common entities. The product uses a real HTML parser; the simulator only needs Exchange's
/// rough behaviour.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..lt]);
        }
        let after = &rest[lt..];
        let gt = after.find('>').map_or(after.len(), |i| i + 1);
        let tag = after[..gt].to_ascii_lowercase();
        let name: String =
            tag.trim_start_matches('<').chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect();
        if let Some(end) = skip_until {
            if name == end {
                skip_until = None;
            }
        } else {
            match name.as_str() {
                "head" => skip_until = Some("/head"),
                "style" => skip_until = Some("/style"),
                "script" => skip_until = Some("/script"),
                "br" | "/p" | "/div" | "/tr" | "/li" | "/h1" | "/h2" | "/h3" => out.push_str("\r\n"),
                _ => {}
            }
        }
        rest = &after[gt..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_format_has_seven_fraction_digits() {
        let dt = parse_local("2014-11-03T17:00:00").unwrap();
        assert_eq!(format_local(dt), "2014-11-03T17:00:00.0000000");
        let dt = parse_local("2014-11-03T17:00:00.1234567").unwrap();
        assert_eq!(format_local(dt), "2014-11-03T17:00:00.1234567");
    }

    #[test]
    fn windows_and_iana_names_resolve() {
        assert_eq!(zone("Pacific Standard Time").unwrap(), chrono_tz::America::Los_Angeles);
        assert_eq!(zone("Europe/Istanbul").unwrap(), chrono_tz::Europe::Istanbul);
        let err = zone("Mars/Olympus").unwrap_err();
        assert_eq!(err.code, "TimeZoneNotSupportedException");
    }

    #[test]
    fn conversion_round_trip() {
        let local = parse_local("2026-07-01T09:00:00").unwrap();
        let utc = to_utc(local, "W. Europe Standard Time").unwrap();
        assert_eq!(utc.to_rfc3339(), "2026-07-01T07:00:00+00:00");
        assert_eq!(from_utc(utc, "Europe/Berlin").unwrap(), local);
    }

    #[test]
    fn html_to_text_drops_head_and_breaks_blocks() {
        let html = "<html><head><style>p{}</style></head><body><p>Join&nbsp;here</p><div>a &amp; b</div></body></html>";
        assert_eq!(html_to_text(html), "Join here\r\na & b\r\n");
    }
}
