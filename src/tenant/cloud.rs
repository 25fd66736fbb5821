//! Which Microsoft cloud hcal talks to. Only the worldwide cloud is supported out of the box;
//! the national clouds (US Government, US Government DoD, China) are refused unless the
//! operator opts in and names their endpoints, because tokens do not cross clouds and hcal is
//! not tested against them: a deployment there must be a conscious decision, not a default.
//!
//! [`validate`] is pure: it turns a [`CloudConfig`] into the [`CloudEndpoints`] to use or a
//! [`CloudError`] naming the cloud and what to configure. [`reconcile`] applies the same rules
//! to the endpoints of the `[graph]` section, which may point at a simulator or a proxy.

use serde::{Deserialize, Serialize};

use crate::graph::GraphConfig;

/// Worldwide login endpoint.
pub const WORLDWIDE_LOGIN: &str = "https://login.microsoftonline.com";
/// Worldwide Graph root, v1.0.
pub const WORLDWIDE_GRAPH: &str = "https://graph.microsoft.com/v1.0";
/// Worldwide Graph scope for client credentials.
pub const WORLDWIDE_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    /// The worldwide (commercial) Microsoft 365 cloud. The default and the only one supported
    /// without an explicit opt-in.
    #[default]
    Worldwide,
    /// US Government (GCC High).
    UsGov,
    /// US Government, Department of Defense.
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 4] = [Self::Worldwide, Self::UsGov, Self::UsGovDod, Self::China];

    /// The configuration name (`worldwide`, `us_gov`, `us_gov_dod`, `china`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worldwide => "worldwide",
            Self::UsGov => "us_gov",
            Self::UsGovDod => "us_gov_dod",
            Self::China => "china",
        }
    }

    /// A name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Worldwide => "worldwide Microsoft 365",
            Self::UsGov => "US Government (GCC High)",
            Self::UsGovDod => "US Government DoD",
            Self::China => "Microsoft 365 operated by 21Vianet (China)",
        }
    }

    /// The endpoints Microsoft publishes for this cloud (login, Graph v1.0 root, scope). hcal
    /// uses them unasked only for the worldwide cloud; for the others they appear in error
    /// messages as what to configure.
    pub fn published(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Worldwide => (WORLDWIDE_LOGIN, WORLDWIDE_GRAPH, WORLDWIDE_SCOPE),
            Self::UsGov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us/v1.0",
                "https://graph.microsoft.us/.default",
            ),
            Self::UsGovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us/v1.0",
                "https://dod-graph.microsoft.us/.default",
            ),
            Self::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn/v1.0",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        }
    }

    /// Whether `host` is one of this cloud's published login or Graph hosts.
    fn owns_host(self, host: &str) -> bool {
        let (login, graph, _) = self.published();
        let extra: &[&str] = match self {
            Self::China => &["login.partner.microsoftonline.cn"],
            _ => &[],
        };
        [login, graph].iter().filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned)).any(|h| h == host)
            || extra.contains(&host)
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cloud section of `[tenant]` (proposed as `[tenant.cloud]`).
///
/// ```toml
/// [tenant.cloud]
/// name = "us_gov"                  # default "worldwide"
/// allow_national_clouds = true     # default false
/// login_base = "https://login.microsoftonline.us"
/// graph_base = "https://graph.microsoft.us/v1.0"
/// token_scope = "https://graph.microsoft.us/.default"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    /// The cloud. Default `worldwide`, the only one hcal supports without an opt-in.
    #[serde(default)]
    pub name: Cloud,
    /// Explicit opt-in to a national cloud. Default false: `us_gov`, `us_gov_dod` and `china`
    /// are refused, since hcal is not tested there and a wrong cloud fails only at the first
    /// token request.
    #[serde(default)]
    pub allow_national_clouds: bool,
    /// Entra ID login endpoint of the cloud, without tenant. Default: the worldwide endpoint
    /// for `worldwide`; required for the others.
    #[serde(default)]
    pub login_base: Option<String>,
    /// Graph root including the version. Default: the worldwide root for `worldwide`;
    /// required for the others.
    #[serde(default)]
    pub graph_base: Option<String>,
    /// Client-credential scope (`…/.default`) of the cloud's Graph. Default: the worldwide
    /// scope for `worldwide`; required for the others (tokens do not cross clouds).
    #[serde(default)]
    pub token_scope: Option<String>,
}

/// The endpoints hcal uses, once the cloud is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// The cloud.
    pub cloud: Cloud,
    /// Entra ID login endpoint, without tenant and trailing slash.
    pub login_base: String,
    /// Graph root including the version, without trailing slash.
    pub graph_base: String,
    /// Client-credential scope.
    pub token_scope: String,
}

impl CloudEndpoints {
    /// Puts the endpoints into a Graph client configuration.
    pub fn apply(&self, graph: &mut GraphConfig) {
        graph.login_base.clone_from(&self.login_base);
        graph.graph_base.clone_from(&self.graph_base);
        graph.token_scope.clone_from(&self.token_scope);
    }
}

/// Why a cloud configuration is refused. Every message names the cloud and what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// A national cloud without the opt-in.
    #[error(
        "the {cloud} cloud ({label}) is refused: hcal supports the worldwide Microsoft 365 cloud. To use {cloud} anyway, \
         set allow_national_clouds = true and its endpoints explicitly: {hint}",
        label = cloud.label(),
        hint = endpoint_hint(*cloud, &["login_base", "graph_base", "token_scope"])
    )]
    NationalCloudNotAllowed {
        /// The cloud asked for.
        cloud: Cloud,
    },
    /// A national cloud with the opt-in but without every endpoint.
    #[error(
        "the {cloud} cloud ({label}) needs its endpoints configured explicitly; missing: {hint}",
        label = cloud.label(),
        hint = endpoint_hint(*cloud, missing)
    )]
    MissingEndpoints {
        /// The cloud asked for.
        cloud: Cloud,
        /// The fields to set.
        missing: Vec<&'static str>,
    },
    /// A malformed endpoint.
    #[error("{field} of the {cloud} cloud is invalid ('{value}'): {problem}")]
    InvalidEndpoint {
        /// The cloud asked for.
        cloud: Cloud,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// An endpoint of another cloud.
    #[error(
        "{field} '{value}' belongs to the {other} cloud, but the configured cloud is {cloud}: tokens do not cross \
         clouds. Use the endpoints of {cloud}, or set name = \"{other}\"{opt_in}",
        opt_in = if *other == Cloud::Worldwide { "" } else { " with allow_national_clouds = true" }
    )]
    EndpointOfAnotherCloud {
        /// The cloud asked for.
        cloud: Cloud,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// The cloud the endpoint belongs to.
        other: Cloud,
    },
    /// `[graph]` names other endpoints than the cloud section.
    #[error(
        "[graph] {field} is '{graph_value}' but the {cloud} cloud is configured with '{cloud_value}': set the endpoints \
         in one place (the cloud section) and leave [graph] {field} unset"
    )]
    ConflictingGraphEndpoint {
        /// The cloud asked for.
        cloud: Cloud,
        /// The field.
        field: &'static str,
        /// The `[graph]` value.
        graph_value: String,
        /// The cloud section's value.
        cloud_value: String,
    },
}

fn endpoint_hint(cloud: Cloud, fields: &[&'static str]) -> String {
    let (login, graph, scope) = cloud.published();
    fields
        .iter()
        .map(|f| {
            let published = match *f {
                "login_base" => login,
                "graph_base" => graph,
                _ => scope,
            };
            format!("{f} (Microsoft publishes {published})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a cloud configuration and returns the endpoints to use.
///
/// - `worldwide`: the worldwide endpoints, or those configured (a simulator, a proxy), which
///   must not be another cloud's.
/// - `us_gov`, `us_gov_dod`, `china`: refused unless `allow_national_clouds` is set and all
///   three endpoints are configured; these must not be another cloud's either.
pub fn validate(config: &CloudConfig) -> Result<CloudEndpoints, CloudError> {
    let cloud = config.name;
    if cloud != Cloud::Worldwide {
        if !config.allow_national_clouds {
            return Err(CloudError::NationalCloudNotAllowed { cloud });
        }
        let missing: Vec<&'static str> = [
            ("login_base", &config.login_base),
            ("graph_base", &config.graph_base),
            ("token_scope", &config.token_scope),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|s| s.trim().is_empty()))
        .map(|(f, _)| f)
        .collect();
        if !missing.is_empty() {
            return Err(CloudError::MissingEndpoints { cloud, missing });
        }
    }
    let pick = |v: &Option<String>, default: &str| v.as_deref().map_or(default, str::trim).to_owned();
    let endpoints = CloudEndpoints {
        cloud,
        login_base: pick(&config.login_base, WORLDWIDE_LOGIN).trim_end_matches('/').to_owned(),
        graph_base: pick(&config.graph_base, WORLDWIDE_GRAPH).trim_end_matches('/').to_owned(),
        token_scope: pick(&config.token_scope, WORLDWIDE_SCOPE),
    };
    check_endpoints(&endpoints)?;
    Ok(endpoints)
}

/// The endpoints the Graph client must use given the cloud section and the `[graph]` section.
///
/// With the worldwide cloud and no endpoints in the cloud section, `[graph]`'s endpoints stay
/// (tests and the demo point them at the simulator) but must not belong to a national cloud.
/// Otherwise the cloud section decides; `[graph]` may leave its endpoints at the worldwide
/// defaults (they are replaced) or repeat the cloud's, but not name others.
pub fn reconcile(config: &CloudConfig, graph: &GraphConfig) -> Result<CloudEndpoints, CloudError> {
    let explicit = config.login_base.is_some() || config.graph_base.is_some() || config.token_scope.is_some();
    if config.name == Cloud::Worldwide && !explicit {
        let endpoints = CloudEndpoints {
            cloud: Cloud::Worldwide,
            login_base: graph.login_base.trim_end_matches('/').to_owned(),
            graph_base: graph.graph_base.trim_end_matches('/').to_owned(),
            token_scope: graph.token_scope.clone(),
        };
        check_endpoints(&endpoints)?;
        return Ok(endpoints);
    }
    let endpoints = validate(config)?;
    let pairs = [
        ("login_base", graph.login_base.trim_end_matches('/'), WORLDWIDE_LOGIN, &endpoints.login_base),
        ("graph_base", graph.graph_base.trim_end_matches('/'), WORLDWIDE_GRAPH, &endpoints.graph_base),
        ("token_scope", graph.token_scope.as_str(), WORLDWIDE_SCOPE, &endpoints.token_scope),
    ];
    for (field, graph_value, default, cloud_value) in pairs {
        if graph_value != default && graph_value != cloud_value.as_str() {
            return Err(CloudError::ConflictingGraphEndpoint {
                cloud: config.name,
                field,
                graph_value: graph_value.to_owned(),
                cloud_value: cloud_value.clone(),
            });
        }
    }
    Ok(endpoints)
}

/// Shapes, and that no endpoint is a known host of another cloud. Unknown hosts (simulators,
/// proxies) are accepted: only Microsoft's own hosts say which cloud they belong to.
fn check_endpoints(e: &CloudEndpoints) -> Result<(), CloudError> {
    let cloud = e.cloud;
    let invalid =
        |field, value: &str, problem| CloudError::InvalidEndpoint { cloud, field, value: value.to_owned(), problem };
    let mut hosts = Vec::new();
    for (field, value) in [("login_base", &e.login_base), ("graph_base", &e.graph_base)] {
        let url = url::Url::parse(value).map_err(|_| invalid(field, value, "not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(field, value, "must be an http(s) URL without query or fragment"));
        }
        hosts.push((field, value, url.host_str().unwrap_or_default().to_ascii_lowercase()));
    }
    if !e.token_scope.ends_with("/.default") {
        return Err(invalid("token_scope", &e.token_scope, "client credentials need a scope ending in /.default"));
    }
    let scope_url = url::Url::parse(&e.token_scope).map_err(|_| invalid("token_scope", &e.token_scope, "not a URL"))?;
    hosts.push(("token_scope", &e.token_scope, scope_url.host_str().unwrap_or_default().to_ascii_lowercase()));
    for (field, value, host) in hosts {
        if cloud.owns_host(&host) {
            continue;
        }
        if let Some(other) = Cloud::ALL.into_iter().find(|c| c.owns_host(&host)) {
            return Err(CloudError::EndpointOfAnotherCloud { cloud, field, value: value.clone(), other });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn national(cloud: Cloud) -> CloudConfig {
        let (login, graph, scope) = cloud.published();
        CloudConfig {
            name: cloud,
            allow_national_clouds: true,
            login_base: Some(login.into()),
            graph_base: Some(graph.into()),
            token_scope: Some(scope.into()),
        }
    }

    #[test]
    fn worldwide_is_the_default_and_needs_nothing() {
        let config: CloudConfig = toml::from_str("").unwrap();
        assert_eq!(config, CloudConfig::default());
        let e = validate(&config).unwrap();
        assert_eq!(e.cloud, Cloud::Worldwide);
        assert_eq!(e.login_base, "https://login.microsoftonline.com");
        assert_eq!(e.graph_base, "https://graph.microsoft.com/v1.0");
        assert_eq!(e.token_scope, "https://graph.microsoft.com/.default");
        assert!(toml::from_str::<CloudConfig>("nme = \"china\"").is_err(), "unknown fields are refused");
    }

    #[test]
    fn national_clouds_are_refused_without_the_opt_in() {
        for cloud in [Cloud::UsGov, Cloud::UsGovDod, Cloud::China] {
            let config = CloudConfig { allow_national_clouds: false, ..national(cloud) };
            let err = validate(&config).unwrap_err();
            assert_eq!(err, CloudError::NationalCloudNotAllowed { cloud });
            let msg = err.to_string();
            assert!(msg.contains(cloud.as_str()) && msg.contains("allow_national_clouds = true"), "{msg}");
            assert!(msg.contains(cloud.published().1), "names the endpoint to configure: {msg}");
        }
        let parsed: CloudConfig = toml::from_str("name = \"us_gov_dod\"").unwrap();
        assert_eq!(parsed.name, Cloud::UsGovDod);
        assert!(matches!(validate(&parsed), Err(CloudError::NationalCloudNotAllowed { .. })));
    }

    #[test]
    fn national_clouds_need_every_endpoint_explicitly() {
        let config = CloudConfig { graph_base: None, token_scope: Some(" ".into()), ..national(Cloud::China) };
        let err = validate(&config).unwrap_err();
        assert_eq!(
            err,
            CloudError::MissingEndpoints { cloud: Cloud::China, missing: vec!["graph_base", "token_scope"] }
        );
        let msg = err.to_string();
        assert!(msg.contains("china") && msg.contains("https://microsoftgraph.chinacloudapi.cn/v1.0"), "{msg}");
        for cloud in [Cloud::UsGov, Cloud::UsGovDod, Cloud::China] {
            let e = validate(&national(cloud)).unwrap();
            assert_eq!((e.cloud, e.graph_base.as_str()), (cloud, cloud.published().1));
        }
    }

    #[test]
    fn endpoints_of_another_cloud_are_refused() {
        let config = CloudConfig { graph_base: Some("https://graph.microsoft.us/v1.0".into()), ..Default::default() };
        let err = validate(&config).unwrap_err();
        assert!(matches!(err, CloudError::EndpointOfAnotherCloud { other: Cloud::UsGov, field: "graph_base", .. }));
        assert!(err.to_string().contains("allow_national_clouds"), "{err}");
        let config =
            CloudConfig { token_scope: Some("https://graph.microsoft.com/.default".into()), ..national(Cloud::UsGov) };
        let err = validate(&config).unwrap_err();
        assert!(matches!(err, CloudError::EndpointOfAnotherCloud { other: Cloud::Worldwide, cloud: Cloud::UsGov, .. }));
        let config =
            CloudConfig { graph_base: Some("https://graph.microsoft.us/v1.0".into()), ..national(Cloud::UsGovDod) };
        assert!(matches!(validate(&config), Err(CloudError::EndpointOfAnotherCloud { other: Cloud::UsGov, .. })));
    }

    #[test]
    fn malformed_endpoints_are_refused_and_unknown_hosts_accepted() {
        let bad = CloudConfig { login_base: Some("login.microsoftonline.com".into()), ..Default::default() };
        assert!(matches!(validate(&bad), Err(CloudError::InvalidEndpoint { field: "login_base", .. })));
        let bad =
            CloudConfig { token_scope: Some("https://graph.microsoft.com/User.Read".into()), ..Default::default() };
        assert!(matches!(validate(&bad), Err(CloudError::InvalidEndpoint { field: "token_scope", .. })));
        let sim = CloudConfig {
            login_base: Some("http://127.0.0.1:9000/".into()),
            graph_base: Some("http://127.0.0.1:9000/v1.0".into()),
            ..Default::default()
        };
        let e = validate(&sim).unwrap();
        assert_eq!(e.login_base, "http://127.0.0.1:9000");
    }

    #[test]
    fn reconcile_keeps_graph_endpoints_for_worldwide_and_lets_the_cloud_section_decide_otherwise() {
        let mut graph = GraphConfig::new("app");
        graph.login_base = "http://127.0.0.1:9000".into();
        graph.graph_base = "http://127.0.0.1:9000/v1.0".into();
        let e = reconcile(&CloudConfig::default(), &graph).unwrap();
        assert_eq!(e.graph_base, "http://127.0.0.1:9000/v1.0", "a simulator stays in place");

        let mut graph = GraphConfig::new("app");
        graph.graph_base = "https://dod-graph.microsoft.us/v1.0".into();
        let err = reconcile(&CloudConfig::default(), &graph).unwrap_err();
        assert!(matches!(err, CloudError::EndpointOfAnotherCloud { other: Cloud::UsGovDod, .. }), "{err}");

        let graph = GraphConfig::new("app");
        let e = reconcile(&national(Cloud::UsGov), &graph).unwrap();
        let mut applied = graph.clone();
        e.apply(&mut applied);
        assert_eq!(applied.graph_base, "https://graph.microsoft.us/v1.0");
        assert_eq!(applied.token_scope, "https://graph.microsoft.us/.default");

        let mut graph = GraphConfig::new("app");
        graph.graph_base = "http://127.0.0.1:9000/v1.0".into();
        let err = reconcile(&national(Cloud::UsGov), &graph).unwrap_err();
        assert!(matches!(err, CloudError::ConflictingGraphEndpoint { field: "graph_base", .. }), "{err}");
        let refused = CloudConfig { allow_national_clouds: false, ..national(Cloud::China) };
        assert!(matches!(
            reconcile(&refused, &GraphConfig::new("app")),
            Err(CloudError::NationalCloudNotAllowed { .. })
        ));
    }
}
