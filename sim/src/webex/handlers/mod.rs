//! One file per Webex resource. Handlers are plain functions over the core: the HTTP layer
//! ([`super::http`]) has already counted, delayed, authenticated and fault-injected the request.

pub mod body;
pub mod meetings;
pub mod memberships;
pub mod messages;
pub mod personal_room;
pub mod rooms;
pub mod xapi;

use serde_json::Value;

use super::error::WebexError;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with a JSON body.
    Json(Value),
    /// 204 without a body.
    NoContent,
    /// 200 with `{"items": [...]}`; when more items follow, a `Link` header with
    /// `rel="next"` points at the same path with the query string `next`.
    Page {
        /// This page's items.
        items: Vec<Value>,
        /// The query string of the next page, if there is one.
        next: Option<String>,
    },
}

/// A request's query parameters, in order. Webex names parameters case-sensitively.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: &str) -> Self {
        Self(url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true` / `false`), 400 for anything else.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, WebexError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(WebexError::bad_request(format!("{name} must be true or false."))),
        }
    }

    /// A whole-number parameter within `min..=max`, `default` when absent; 400 otherwise.
    pub fn number(&self, name: &str, default: usize, min: usize, max: usize) -> Result<usize, WebexError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| WebexError::bad_request(format!("{name} must be a number from {min} to {max}."))),
        }
    }

    /// This query with `name` set to `value` (replacing any earlier value), as a query string.
    pub fn with(&self, name: &str, value: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| k != name) {
            out.append_pair(k, v);
        }
        out.append_pair(name, value);
        out.finish()
    }
}

/// Cuts `items` into the page the query asks for with `max` (default `default_max`, at most
/// `limit`) and `offset`, the parameter the simulator's own next-page links carry.
pub fn page(items: Vec<Value>, query: &Query, default_max: usize, limit: usize) -> Result<Reply, WebexError> {
    let max = query.number("max", default_max, 1, limit)?;
    let offset = query.number("offset", 0, 0, usize::MAX)?;
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(max).collect();
    let end = offset.saturating_add(items.len());
    let next = (end < total).then(|| query.with("offset", &end.to_string()));
    Ok(Reply::Page { items, next })
}
