//! OData query options and `Prefer` headers as Graph interprets them for events.

use std::sync::LazyLock;

use regex::Regex;

use super::core::Req;
use super::error::GraphError;
use super::wire::ContentType;

/// Preferences from `Prefer` headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefs {
    /// `outlook.timezone`, as given.
    pub time_zone: Option<String>,
    /// `outlook.body-content-type`.
    pub body_type: Option<ContentType>,
    /// `odata.maxpagesize`.
    pub max_page_size: Option<usize>,
}

impl Prefs {
    /// Reads every `Prefer` header of a request.
    pub fn from_req(req: &Req) -> Result<Self, GraphError> {
        let mut prefs = Prefs::default();
        for header in req.headers_named("prefer") {
            for pref in split_outside_quotes(header) {
                let (name, value) = match pref.split_once('=') {
                    Some((n, v)) => (n.trim(), v.trim().trim_matches('"')),
                    None => (pref.trim(), ""),
                };
                if name.eq_ignore_ascii_case("outlook.timezone") {
                    super::wire::zone(value)?;
                    prefs.time_zone = Some(value.to_owned());
                } else if name.eq_ignore_ascii_case("outlook.body-content-type") {
                    prefs.body_type = ContentType::parse(value);
                } else if name.eq_ignore_ascii_case("odata.maxpagesize") {
                    prefs.max_page_size = value.parse().ok().filter(|n: &usize| *n > 0);
                }
            }
        }
        Ok(prefs)
    }

    /// The `Preference-Applied` header value, if any preference was applied.
    pub fn applied(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(tz) = &self.time_zone {
            parts.push(format!("outlook.timezone=\"{tz}\""));
        }
        if let Some(bt) = self.body_type {
            parts.push(format!("outlook.body-content-type=\"{}\"", bt.as_str()));
        }
        if parts.is_empty() { None } else { Some(parts.join(", ")) }
    }
}

fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

static PROP_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(String|Integer|Boolean|SystemTime|Binary|Double|Float|Long|Short|CLSID|Currency)\s+\{([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}\s+(?-i:(Name|Id))\s+(.+?)\s*$")
        .unwrap_or_else(|_| unreachable!("constant pattern"))
});

/// Canonical form of an extended property id: type and GUID normalised, name kept as given
/// (names are case-sensitive).
pub fn canonical_property_id(id: &str) -> Option<String> {
    let caps = PROP_ID.captures(id)?;
    let kind = &caps[1];
    let kind = format!("{}{}", kind[..1].to_ascii_uppercase(), &kind[1..].to_ascii_lowercase());
    Some(format!("{kind} {{{}}} {} {}", caps[2].to_ascii_lowercase(), &caps[3], &caps[4]))
}

static EXPAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*singleValueExtendedProperties\s*\(\s*\$filter\s*=\s*(.*)\)\s*$")
        .unwrap_or_else(|_| unreachable!("constant pattern"))
});
static ID_EQ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$").unwrap_or_else(|_| unreachable!("constant pattern"))
});
static ANY_FILTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*singleValueExtendedProperties/Any\s*\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+(\w+)/value\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$")
        .unwrap_or_else(|_| unreachable!("constant pattern"))
});

fn invalid_filter() -> GraphError {
    GraphError::new(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
}

/// Parses `$expand`; the only expansion of events Graph supports for extended properties is
/// `singleValueExtendedProperties($filter=id eq '…' [or id eq '…'])`.
pub fn expand_ids(req: &Req) -> Result<Option<Vec<String>>, GraphError> {
    let Some(expand) = req.query("$expand") else { return Ok(None) };
    let caps = EXPAND.captures(expand).ok_or_else(|| {
        GraphError::new(
            400,
            "BadRequest",
            format!("Parsing OData Select and Expand failed: Could not find a property named '{expand}' on type 'microsoft.graph.event'."),
        )
    })?;
    let mut ids = Vec::new();
    for clause in caps[1].split(" or ") {
        let m = ID_EQ.captures(clause).ok_or_else(invalid_filter)?;
        ids.push(canonical_property_id(&m[1].replace("''", "'")).ok_or_else(invalid_filter)?);
    }
    Ok(Some(ids))
}

/// Parses `$filter` on an event collection: only
/// `singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')` is supported.
pub fn extended_filter(req: &Req) -> Result<Option<(String, String)>, GraphError> {
    let Some(filter) = req.query("$filter") else { return Ok(None) };
    let caps = ANY_FILTER.captures(filter).ok_or_else(invalid_filter)?;
    if caps[1] != caps[2] || caps[1] != caps[4] {
        return Err(invalid_filter());
    }
    let id = canonical_property_id(&caps[3].replace("''", "'")).ok_or_else(invalid_filter)?;
    Ok(Some((id, caps[5].replace("''", "'"))))
}

/// `$select` as a list of property names.
pub fn select(req: &Req) -> Option<Vec<String>> {
    req.query("$select").map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect())
}

/// `$top` and `$skip`.
pub fn paging(req: &Req, prefs: &Prefs, default: usize) -> Result<(usize, usize), GraphError> {
    let parse = |name: &str| -> Result<Option<usize>, GraphError> {
        req.query(name)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    GraphError::new(400, "BadRequest", format!("Invalid value '{v}' for query option '{name}'."))
                })
            })
            .transpose()
    };
    let top = parse("$top")?.or(prefs.max_page_size).unwrap_or(default).clamp(1, 1000);
    let skip = parse("$skip")?.unwrap_or(0);
    Ok((top, skip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> Req {
        Req::new("GET", &format!("/users/u/events?{q}"))
    }

    #[test]
    fn property_ids_are_canonical_but_names_keep_case() {
        assert_eq!(
            canonical_property_id("string {66F5A359-4659-4830-9070-00047EC6AC6E} Name hcal.Marker").as_deref(),
            Some("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name hcal.Marker")
        );
        assert_eq!(canonical_property_id("String {nope} Name x"), None);
        assert_eq!(canonical_property_id("String {66f5a359-4659-4830-9070-00047ec6ac6e} name x"), None);
    }

    #[test]
    fn expand_accepts_only_id_eq() {
        let id = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name hcal";
        let ok = expand_ids(&req(&format!("$expand=singleValueExtendedProperties($filter=id%20eq%20'{id}')"))).unwrap();
        assert_eq!(ok, Some(vec![id.to_owned()]));
        let err = expand_ids(&req(&format!("$expand=singleValueExtendedProperties($filter=value%20eq%20'{id}')")))
            .unwrap_err();
        assert_eq!(err.code, "ErrorInvalidUrlQueryFilter");
        assert!(expand_ids(&req("$expand=attachments")).is_err());
    }

    #[test]
    fn prefer_headers_parse_with_quotes_and_commas() {
        let mut r = req("");
        r.headers.push(("prefer".into(), "outlook.timezone=\"Pacific Standard Time\", odata.maxpagesize=5".into()));
        r.headers.push(("prefer".into(), "outlook.body-content-type=\"text\"".into()));
        let p = Prefs::from_req(&r).unwrap();
        assert_eq!(p.time_zone.as_deref(), Some("Pacific Standard Time"));
        assert_eq!(p.max_page_size, Some(5));
        assert_eq!(p.body_type, Some(ContentType::Text));
    }
}
