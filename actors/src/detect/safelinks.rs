//! Unwrapping of link-protection and tracking wrappers (Outlook Safe Links and the like), so
//! the meeting URL inside is what gets matched.
//!
//! The loop is bounded: a wrapper may wrap a wrapper (a forwarded invite crosses two tenants),
//! but never more than [`MAX_LAYERS`] deep; past that the URL is used as it stands.

use std::borrow::Cow;

/// Wrappers removed at most.
pub const MAX_LAYERS: usize = 5;

/// The URL inside any wrappers and how many were removed.
pub fn unwrap(url: &str) -> (Cow<'_, str>, usize) {
    let mut current = Cow::Borrowed(url);
    for layer in 0..MAX_LAYERS {
        match unwrap_once(&current) {
            Some(inner) if inner != current.as_ref() => current = Cow::Owned(inner),
            _ => return (current, layer),
        }
    }
    (current, MAX_LAYERS)
}

/// Host of an absolute URL (as written: callers lower-case it when they need to), without
/// user info or port, and the rest of the URL after it.
pub(crate) fn host_of(url: &str) -> Option<(&str, &str)> {
    let after = url.split_once("://").map(|(_, r)| r)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h).trim_end_matches('.');
    (!host.is_empty()).then_some((host, &after[end..]))
}

/// Whether `host` (any case) is `suffix` (lower case) or one of its subdomains.
fn host_is(host: &str, suffix: &str) -> bool {
    host.len() >= suffix.len()
        && host.is_char_boundary(host.len() - suffix.len())
        && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        && (host.len() == suffix.len() || host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
}

fn query_param(rest: &str, names: &[&str]) -> Option<String> {
    let query = rest.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.contains("://"))
}

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn unwrap_once(url: &str) -> Option<String> {
    let (host, rest) = host_of(url)?;
    if host_is(host, "safelinks.protection.outlook.com")
        || host_is(host, "safelinks.protection.office365.us")
        || host.eq_ignore_ascii_case("statics.teams.cdn.office.net")
    {
        return query_param(rest, &["url"]);
    }
    if (host.eq_ignore_ascii_case("www.google.com") || host.eq_ignore_ascii_case("google.com"))
        && starts_ci(rest, "/url?")
    {
        return query_param(rest, &["q", "url"]);
    }
    if host_is(host, "urldefense.com") && starts_ci(rest, "/v3/__") {
        // Proofpoint v3: `/v3/__{url}__;{mask}!!{signature}`; the url is literal apart from
        // characters listed in the mask, which only matters for rare characters.
        let inner = rest.get(6..)?;
        return inner.split_once("__;").map(|(u, _)| u.to_owned()).or_else(|| Some(inner.to_owned()));
    }
    if host.eq_ignore_ascii_case("urldefense.proofpoint.com") && starts_ci(rest, "/v2/url?") {
        // Proofpoint v2: `u=` holds the url with `%` written `-` and `/` written `_`.
        let query = rest.split_once('?')?.1;
        let raw = query.split('&').find_map(|p| p.strip_prefix("u="))?;
        let restored = raw.replace('_', "/").replace('-', "%");
        return Some(url::form_urlencoded::parse(format!("u={restored}").as_bytes()).next()?.1.into_owned());
    }
    if host_is(host, "protect2.fireeye.com") || host_is(host, "linkprotect.cudasvc.com") {
        return query_param(rest, &["u", "a"]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_safe_links_unwrap_including_nested_ones() {
        let inner = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Y2E%40thread.v2/0?context=%7b%7d";
        let once = format!(
            "https://nam02.safelinks.protection.outlook.com/?url={}&data=05%7C01%7C&sdata=abc%3D&reserved=0",
            url::form_urlencoded::byte_serialize(inner.as_bytes()).collect::<String>()
        );
        assert_eq!(unwrap(&once), (Cow::Borrowed(inner), 1));
        let twice = format!(
            "https://eur03.safelinks.protection.outlook.com/?url={}&data=x",
            url::form_urlencoded::byte_serialize(once.as_bytes()).collect::<String>()
        );
        assert_eq!(unwrap(&twice).0, inner);
        assert_eq!(unwrap(&twice).1, 2);
    }

    #[test]
    fn other_wrappers_and_limits() {
        assert_eq!(
            unwrap("https://www.google.com/url?q=https://meet.google.com/abc-defg-hij&sa=D&source=calendar").0,
            "https://meet.google.com/abc-defg-hij"
        );
        assert_eq!(
            unwrap("https://urldefense.com/v3/__https://acme.webex.com/meet/alice__;!!ABC!def$").0,
            "https://acme.webex.com/meet/alice"
        );
        assert_eq!(
            unwrap("https://urldefense.proofpoint.com/v2/url?u=https-3A__zoom.us_j_123456789&d=DwMF").0,
            "https://zoom.us/j/123456789"
        );
        // A wrapper without a target stays as it is.
        assert_eq!(unwrap("https://nam02.safelinks.protection.outlook.com/?data=1").1, 0);
        // A wrapper pointing to itself cannot loop.
        let mut nested = "https://zoom.us/j/1".to_owned();
        for _ in 0..20 {
            nested = format!(
                "https://nam02.safelinks.protection.outlook.com/?url={}",
                url::form_urlencoded::byte_serialize(nested.as_bytes()).collect::<String>()
            );
        }
        assert_eq!(unwrap(&nested).1, MAX_LAYERS);
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("https://User@US02Web.Zoom.us:443/j/1"), Some(("US02Web.Zoom.us", "/j/1")));
        assert_eq!(host_of("https://zoom.us?x"), Some(("zoom.us", "?x")));
        assert!(host_is("EUR01.SafeLinks.Protection.Outlook.com", "safelinks.protection.outlook.com"));
        assert!(!host_is("evilsafelinks.protection.outlook.com", "safelinks.protection.outlook.com"));
        assert_eq!(host_of("nope"), None);
    }
}
