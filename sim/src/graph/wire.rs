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
            html_document(&format!("<div>{}</div>", lines.join("<br>\r\n")))
        }
        (ContentType::Html, ContentType::Text) => html_to_text(content),
        _ => content.to_owned(),
    }
}

/// An HTML fragment inside the whole document Exchange stores and returns for an HTML body,
/// with the `\r\n` line breaks Exchange writes.
pub fn html_document(fragment: &str) -> String {
    format!(
        "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{fragment}\r\n</body>\r\n</html>\r\n"
    )
}

/// Whether HTML content already is a whole document: `<html>` comes first, after an optional
/// doctype, comments and white space.
pub fn is_html_document(content: &str) -> bool {
    let mut rest = content.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.split_once("-->").map_or("", |(_, tail)| tail).trim_start();
        } else if rest.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("<!doctype")) {
            rest = rest.split_once('>').map_or("", |(_, tail)| tail).trim_start();
        } else {
            break;
        }
    }
    rest.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("<html"))
        && rest[5..].chars().next().is_some_and(|c| c == '>' || c.is_ascii_whitespace())
}

/// HTML body content as Exchange stores it: a whole document stays as given, a fragment is
/// wrapped into one; empty content stays empty.
pub fn store_html(content: &str) -> String {
    if content.trim().is_empty() || is_html_document(content) { content.to_owned() } else { html_document(content) }
}

/// Inserts `block` at the end of an HTML document's body (before `</body>`), or appends it
/// when the document has no closing body tag; Exchange puts the Teams join block there.
pub fn append_to_body(html: &str, block: &str) -> String {
    let lower = html.to_ascii_lowercase();
    match lower.rfind("</body") {
        Some(at) => format!("{}{block}\r\n{}", &html[..at], &html[at..]),
        None => format!("{html}{block}"),
    }
}

/// `bodyPreview` as Exchange computes it: the body's text, one line per non-empty line
/// (trimmed), joined with `\r\n`, at most 255 characters.
pub fn body_preview(content: &str, content_type: ContentType) -> String {
    let text = convert_body(content, content_type, ContentType::Text);
    let lines: Vec<String> =
        text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect();
    lines.join("\r\n").chars().take(255).collect()
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
        // White space with a line break between tags only lays out the markup (Exchange
        // writes `\r\n` after most tags); it is not text.
        let text = &rest[..lt];
        let layout = text.trim().is_empty() && text.contains('\n');
        if skip_until.is_none() && !layout {
            out.push_str(text);
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
    if skip_until.is_none() && !(rest.trim().is_empty() && rest.contains('\n')) {
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
    fn html_fragments_become_documents_and_documents_stay() {
        let doc = store_html("<p>Agenda</p>");
        assert_eq!(
            doc,
            "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<p>Agenda</p>\r\n</body>\r\n</html>\r\n"
        );
        assert_eq!(store_html(&doc), doc);
        for whole in
            ["<html><body>x</body></html>", "<!DOCTYPE html>\n<!-- c --><HTML lang=\"en\"><body>x</body></HTML>"]
        {
            assert!(is_html_document(whole), "{whole}");
            assert_eq!(store_html(whole), whole);
        }
        assert!(!is_html_document("<htmlish>"));
        assert!(!is_html_document("<div><html></html></div>"));
        assert_eq!(store_html(""), "");
        assert_eq!(html_to_text(&doc), "Agenda\r\n");
        let joined = append_to_body(&doc, "<div>Join</div>");
        assert!(joined.ends_with("<p>Agenda</p>\r\n<div>Join</div>\r\n</body>\r\n</html>\r\n"), "{joined}");
    }

    #[test]
    fn body_preview_keeps_lines_and_is_short() {
        let doc = store_html("<p>First   line</p>\r\n<div>&nbsp;</div><div>Second</div>");
        assert_eq!(body_preview(&doc, ContentType::Html), "First line\r\nSecond");
        assert_eq!(body_preview("a\n\n  b  ", ContentType::Text), "a\r\nb");
        assert_eq!(body_preview(&"x".repeat(300), ContentType::Text).len(), 255);
    }

    #[test]
    fn html_to_text_drops_head_and_breaks_blocks() {
        let html = "<html><head><style>p{}</style></head><body><p>Join&nbsp;here</p><div>a &amp; b</div></body></html>";
        assert_eq!(html_to_text(html), "Join here\r\na & b\r\n");
    }
}
