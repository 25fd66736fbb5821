//! `[presence]`: how automatic replies are read and where presence goes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[presence]`. Every field has a default; without sinks hcal still records presence (events,
/// `GET /v1/users/{id}/presence`, the kafka topic) and tells no tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Whether mailbox settings are polled at all. Default true.
    pub poll: bool,
    /// Each enabled mailbox's settings are read this often. Default `"5m"` (12 reads an hour).
    #[serde(with = "crate::config::duration")]
    pub cadence: Duration,
    /// How often a mailbox whose scheduled window begins or ends within `soon` is read (the
    /// user may move it at the last minute). Default `"1m"`.
    #[serde(with = "crate::config::duration")]
    pub soon_cadence: Duration,
    /// See `soon_cadence`. Default `"30m"`.
    #[serde(with = "crate::config::duration")]
    pub soon: Duration,
    /// Graph requests the poller makes per tenant in any minute, at most (each mailbox read in a
    /// `$batch` counts as one). Default 2400. When the cadence needs more, reads wait their turn
    /// (the most overdue first) and the cadence stretches.
    pub budget_per_minute: u32,
    /// Mailboxes read per `$batch` request, 1 to 20. Default 20.
    pub batch_size: usize,
    /// Where presence changes are delivered.
    pub sinks: Vec<SinkConfig>,
    /// Who each user is in each kind of tool, by Graph object id: `{ matrix = "@alice:example.org",
    /// slack = "U0123", mattermost = "…" }`. Users without an entry are found by e-mail address.
    pub users: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            poll: true,
            cadence: Duration::from_secs(300),
            soon_cadence: Duration::from_secs(60),
            soon: Duration::from_secs(1800),
            budget_per_minute: 2400,
            batch_size: 20,
            sinks: Vec::new(),
            users: BTreeMap::new(),
        }
    }
}

/// The kind of tool a sink tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Signed JSON POSTs (Standard Webhooks).
    Webhook,
    /// A Matrix homeserver's presence API.
    Matrix,
    /// Mattermost custom status.
    Mattermost,
    /// Slack profile status.
    Slack,
}

impl SinkKind {
    /// The name in configuration and in `[presence.users]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Matrix => "matrix",
            Self::Mattermost => "mattermost",
            Self::Slack => "slack",
        }
    }
}

/// `[[presence.sinks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Its name, unique among the sinks (what logs and metrics say, and the store keeps its
    /// delivery position under). Default: the kind, with its position for the second of a kind.
    #[serde(default)]
    pub name: Option<String>,
    /// The kind of tool.
    pub kind: SinkKind,
    /// The webhook's URL, or the tool's base URL (Matrix homeserver, Mattermost server, Slack
    /// Web API base, `https://slack.com/api` by default).
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the secret: the webhook's signing secret
    /// (`whsec_…`), the Mattermost or Slack token, or for Matrix the access tokens as
    /// `@user:server=token` pairs separated by commas.
    pub secret_env: String,
    /// Matrix only: the server name user ids are derived in (`@{local part of the e-mail}:{server_name}`)
    /// for users without an entry in `[presence.users]`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// The status text shown while a user is out of office (Matrix `status_msg`, Mattermost
    /// and Slack status text; at most 100 characters). Default `"Out of office"`. Not for
    /// webhooks, which carry the status itself.
    #[serde(default)]
    pub text: Option<String>,
    /// Mattermost and Slack: the emoji shown beside it, by name without colons. Default
    /// `"palm_tree"`.
    #[serde(default)]
    pub emoji: Option<String>,
}

impl PresenceConfig {
    /// The sinks' names, in order.
    pub fn sink_names(&self) -> Vec<String> {
        let mut seen: BTreeMap<SinkKind, usize> = BTreeMap::new();
        self.sinks
            .iter()
            .map(|s| {
                let n = seen.entry(s.kind).or_default();
                *n += 1;
                s.name.clone().unwrap_or_else(|| {
                    if *n == 1 { s.kind.as_str().to_owned() } else { format!("{}-{n}", s.kind.as_str()) }
                })
            })
            .collect()
    }

    /// What is wrong with the section, one line per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.cadence < Duration::from_secs(10) || self.cadence > Duration::from_secs(86_400) {
            problems.push("[presence] cadence must be 10 seconds to 24 hours".into());
        }
        if self.soon_cadence < Duration::from_secs(10) || self.soon_cadence > self.cadence {
            problems.push("[presence] soon_cadence must be at least 10 seconds and at most cadence".into());
        }
        if self.budget_per_minute == 0 {
            problems.push("[presence] budget_per_minute must be above zero".into());
        }
        if !(1..=crate::graph::MAX_BATCH).contains(&self.batch_size) {
            problems.push(format!("[presence] batch_size must be 1 to {}", crate::graph::MAX_BATCH));
        }
        let names = self.sink_names();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                problems.push(format!("[presence] two sinks are named {name:?}"));
            }
        }
        for (sink, name) in self.sinks.iter().zip(&names) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                problems.push(format!("[[presence.sinks]] {name:?}: a name is letters, digits, - and _"));
            }
            let url_needed = !matches!(sink.kind, SinkKind::Slack);
            match &sink.url {
                None if url_needed => problems.push(format!("[[presence.sinks]] {name}: url is required")),
                Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                    problems.push(format!("[[presence.sinks]] {name}: url must be an http(s) URL"));
                }
                _ => {}
            }
            if sink.server_name.is_some() && sink.kind != SinkKind::Matrix {
                problems.push(format!("[[presence.sinks]] {name}: server_name is for matrix sinks only"));
            }
            if sink.kind == SinkKind::Webhook && (sink.text.is_some() || sink.emoji.is_some()) {
                problems.push(format!("[[presence.sinks]] {name}: text and emoji are not for webhook sinks"));
            }
            if sink.kind == SinkKind::Matrix && sink.emoji.is_some() {
                problems.push(format!("[[presence.sinks]] {name}: emoji is not for matrix sinks"));
            }
            if let Some(text) = &sink.text
                && (text.trim().is_empty() || text.chars().count() > 100)
            {
                problems.push(format!("[[presence.sinks]] {name}: text must be 1 to 100 characters"));
            }
            if let Some(emoji) = &sink.emoji
                && (emoji.is_empty() || !emoji.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)))
            {
                problems.push(format!("[[presence.sinks]] {name}: emoji must be an emoji name without colons"));
            }
        }
        for (user, map) in &self.users {
            if hcal_actors::ids::UserObjectId::parse(user).is_err() {
                problems.push(format!("[presence.users] {user:?} is not a Graph object id"));
            }
            for kind in map.keys() {
                if !["webhook", "matrix", "mattermost", "slack"].contains(&kind.as_str()) {
                    problems.push(format!("[presence.users] {user}: unknown sink kind {kind:?}"));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_reads_with_defaults_and_names_its_sinks() {
        let config: PresenceConfig = toml::from_str(
            r#"
            cadence = "2m"
            [[sinks]]
            kind = "webhook"
            url = "https://hooks.example.org/presence"
            secret_env = "HCAL_PRESENCE_WEBHOOK_SECRET"
            [[sinks]]
            kind = "webhook"
            url = "https://other.example.org/presence"
            secret_env = "HCAL_OTHER_SECRET"
            [[sinks]]
            kind = "slack"
            secret_env = "HCAL_SLACK_TOKEN"
            [users."6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01"]
            slack = "U0123"
            "#,
        )
        .unwrap();
        assert_eq!(config.cadence, Duration::from_secs(120));
        assert_eq!(config.budget_per_minute, 2400);
        assert_eq!(config.sink_names(), ["webhook", "webhook-2", "slack"]);
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }

    #[test]
    fn problems_are_named() {
        let config: PresenceConfig = toml::from_str(
            r#"
            cadence = "1s"
            batch_size = 21
            budget_per_minute = 0
            [[sinks]]
            kind = "matrix"
            secret_env = "T"
            [users.alice]
            teams = "x"
            "#,
        )
        .unwrap();
        let problems = config.problems().join("\n");
        for expected in [
            "cadence",
            "soon_cadence",
            "batch_size",
            "budget_per_minute",
            "url is required",
            "not a Graph object id",
            "unknown sink kind",
        ] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        assert!(toml::from_str::<PresenceConfig>("[[sinks]]\nkind = \"teams\"\nsecret_env = \"T\"").is_err());
    }
}
