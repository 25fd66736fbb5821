//! `hcal detect`: what the detection engine finds in an invite, and why.
//!
//! Reads a Graph event (JSON) on standard input, or the fields given as options, and prints
//! one JSON object: `{"keyword", "join", "candidates", "explain"}`. Exits 0 whether or not a
//! join address was found, 2 when the input cannot be read.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use hcal_actors::detect::{Body, Detector, Invite, RuleSpec, Rules};
use serde::Deserialize;
use serde_json::Value;

/// Options of `hcal detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Location text (instead of a Graph event on standard input).
    #[arg(long)]
    pub location: Option<String>,
    /// Body as plain text.
    #[arg(long, conflicts_with = "body_html")]
    pub body: Option<String>,
    /// Body as HTML.
    #[arg(long)]
    pub body_html: Option<String>,
    /// Structured online-meeting join URL (Graph `onlineMeeting.joinUrl`).
    #[arg(long)]
    pub online_meeting_url: Option<String>,
    /// Keyword names recognised in Location (repeatable). Default: webex, meet.
    #[arg(long = "keyword", value_name = "NAME", conflicts_with = "config")]
    pub keywords: Vec<String>,
    /// Admin rules: a JSON array, or TOML with `[[rule]]` tables (see docs/detection.md).
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub rules: Option<PathBuf>,
    /// The service's configuration file: its `[domain]` keywords and rules, exactly as
    /// `hcal serve` uses them.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pretty-print the JSON.
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<RuleSpec>,
}

/// The parts of a Graph event detection reads.
struct Event {
    location: String,
    body: String,
    html: bool,
    online_meeting_url: Option<String>,
}

fn text_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

/// Reads a Graph event: `location.displayName` (or a plain `location` string, and the other
/// `locations`), `body.content` with its `contentType`, `onlineMeeting.joinUrl` (or the older
/// `onlineMeetingUrl`).
fn parse_event(input: &str) -> Result<Event, String> {
    let v: Value = serde_json::from_str(input).map_err(|e| format!("not a JSON Graph event: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON Graph event: expected an object".into());
    }
    let mut location =
        text_at(&v, &["location", "displayName"]).or_else(|| text_at(&v, &["location"])).unwrap_or("").to_owned();
    if let Some(all) = v.get("locations").and_then(Value::as_array) {
        for name in all.iter().filter_map(|l| text_at(l, &["displayName"])) {
            if !location.contains(name) {
                location = if location.is_empty() { name.to_owned() } else { format!("{location}; {name}") };
            }
        }
    }
    let body = text_at(&v, &["body", "content"]).unwrap_or("").to_owned();
    let html = !text_at(&v, &["body", "contentType"]).is_some_and(|t| t.eq_ignore_ascii_case("text"));
    let online_meeting_url =
        text_at(&v, &["onlineMeeting", "joinUrl"]).or_else(|| text_at(&v, &["onlineMeetingUrl"])).map(str::to_owned);
    Ok(Event { location, body, html, online_meeting_url })
}

fn load_rules(path: &PathBuf) -> Result<Rules, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read rules {}: {e}", path.display()))?;
    let specs: Vec<RuleSpec> = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        serde_json::from_str(&text).map_err(|e| format!("rules {}: {e}", path.display()))?
    } else {
        toml::from_str::<RulesFile>(&text).map_err(|e| format!("rules {}: {e}", path.display()))?.rule
    };
    Rules::load(&specs).map_err(|e| e.to_string())
}

fn input(args: &DetectArgs) -> Result<Event, String> {
    if args.location.is_some() || args.body.is_some() || args.body_html.is_some() || args.online_meeting_url.is_some() {
        return Ok(Event {
            location: args.location.clone().unwrap_or_default(),
            html: args.body.is_none(),
            body: args.body.clone().or_else(|| args.body_html.clone()).unwrap_or_default(),
            online_meeting_url: args.online_meeting_url.clone(),
        });
    }
    let mut raw = String::new();
    std::io::stdin().read_to_string(&mut raw).map_err(|e| format!("cannot read standard input: {e}"))?;
    parse_event(&raw)
}

/// Runs `hcal detect`; unreadable input ends the process with status 2.
pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let prepared = args.rules.as_ref().map(load_rules).transpose().and_then(|rules| Ok((rules, input(&args)?)));
    let (rules, event) = match prepared {
        Ok(ok) => ok,
        Err(message) => {
            eprintln!("hcal detect: {message}");
            std::process::exit(2);
        }
    };
    let body = if event.html { Body::Html(&event.body) } else { Body::Text(&event.body) };
    let invite = Invite { location: &event.location, body, online_meeting_url: event.online_meeting_url.as_deref() };
    let detection = match &args.config {
        Some(path) => match hcal::config::load(path) {
            Ok(config) => config.domain.rules.detector().detect(&invite, &config.domain.keyword_names()),
            Err(e) => {
                eprintln!("hcal detect: {e}");
                std::process::exit(2);
            }
        },
        None => {
            let keywords =
                if args.keywords.is_empty() { vec!["webex".to_owned(), "meet".to_owned()] } else { args.keywords };
            Detector::new(rules.unwrap_or_default()).detect(&invite, &keywords)
        }
    };
    let out = if args.pretty { serde_json::to_string_pretty(&detection)? } else { serde_json::to_string(&detection)? };
    println!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_events_are_read_with_their_locations_and_body_type() {
        let e = parse_event(
            r#"{"location":{"displayName":"Room 1"},"locations":[{"displayName":"Room 1"},{"displayName":"@webex"}],
                "body":{"contentType":"text","content":"hi"},"onlineMeeting":{"joinUrl":"https://teams.microsoft.com/meet/123456?p=x"}}"#,
        )
        .unwrap();
        assert_eq!((e.location.as_str(), e.body.as_str(), e.html), ("Room 1; @webex", "hi", false));
        assert_eq!(e.online_meeting_url.as_deref(), Some("https://teams.microsoft.com/meet/123456?p=x"));
        assert!(parse_event("[1]").is_err());
        assert!(parse_event("{").is_err());
    }
}
