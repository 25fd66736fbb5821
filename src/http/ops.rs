//! For operators and orchestrators: `GET /metrics`, `GET /healthz` (the process answers) and
//! `GET /readyz` (it can do its work: the event log and the store answer, and a Graph token is
//! held or can be had for every tenant). No token: the metrics carry fixed-vocabulary labels
//! only, and readiness says which check failed without user data.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::app::AppState;

/// Answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

/// `GET /healthz`: liveness.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// Answer of `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready` or `unready`.
    pub status: String,
    /// Each check: `ok`, or what failed.
    pub checks: std::collections::BTreeMap<String, String>,
}

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

async fn check<T, E: std::fmt::Display>(future: impl std::future::Future<Output = Result<T, E>>) -> String {
    match tokio::time::timeout(CHECK_TIMEOUT, future).await {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
    }
}

/// `GET /readyz`: 200 when every check passes, else 503 naming the failed ones.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    use hcal_actors::log::{EventLog as _, NOTIFICATIONS};
    const PROBE: &str = "hcal-readiness";
    let mut checks = std::collections::BTreeMap::new();
    checks.insert("log".to_owned(), check(state.log.committed(PROBE, NOTIFICATIONS, 0)).await);
    checks.insert("store".to_owned(), check(state.store.committed(PROBE, NOTIFICATIONS, 0)).await);
    let mut tenants = vec![state.tenant];
    tenants.extend(state.config.tenant.additional_ids.iter().copied());
    for tenant in tenants {
        checks.insert(format!("graphToken/{tenant}"), check(state.graph.token_ready(tenant)).await);
    }
    let ready = checks.values().all(|v| v == "ok");
    let body = Readiness { status: if ready { "ready" } else { "unready" }.to_owned(), checks };
    state.metrics.inc("hcal_readiness_checks_total", "outcome", if ready { "ready" } else { "unready" });
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
