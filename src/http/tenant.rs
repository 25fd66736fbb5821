//! The tenant onboarding endpoints; the product logic is in [`crate::tenant`].
//!
//! - `GET /admin/consent/callback`: Entra ID's redirect after admin consent. No API token (a
//!   browser arrives here); the sealed state protects it, and nothing of the request is
//!   reflected before the state is verified.
//! - `POST /admin/v1/tenant/consent-url {"tenant"?, "redirectUri"?}`: a consent link.
//! - `POST /admin/v1/tenant/test {"mailbox", "tenant"?}`: the mailbox check (admin test).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::auth::AdminCaller;
use super::error::{ApiError, ErrorKind};
use crate::app::AppState;
use crate::tenant::Onboarding;
use crate::tenant::cloud::Cloud;
use crate::tenant::consent::{self, CallbackQuery, LinkError, LinkTenant, StateError};
use crate::tenant::mailbox_check::{self, MailboxRef};

/// Answer of a callback that recorded the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRecorded {
    /// The consented tenant.
    pub tenant: TenantId,
    /// `consented`.
    pub status: String,
    /// The cloud it was consented in.
    pub cloud: Cloud,
    /// When.
    pub consented_at: DateTime<Utc>,
    /// What to do next, for the administrator.
    pub next: String,
}

/// `GET /admin/consent/callback`: where Entra ID sends the administrator after the consent
/// screen. Records the tenant (200) or explains why not (400).
pub async fn consent_callback(
    state: web::Data<AppState>,
    onboarding: web::Data<Onboarding>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    const METRIC: &str = "hcal_tenant_consent_callbacks_total";
    let now = Utc::now();
    let query = query.into_inner();
    let refused = |e: StateError| {
        state.metrics.inc(METRIC, "outcome", "bad_state");
        tracing::warn!(problem = %e, "admin-consent callback refused");
        ApiError::new(ErrorKind::InvalidConsentState, e.to_string())
    };
    let verified =
        consent::verify_state(&state.ring, query.state.as_deref().unwrap_or_default(), now).map_err(refused)?;
    let fresh = onboarding.consume_state(&verified, now).await.map_err(|e| {
        state.metrics.inc(METRIC, "outcome", "store_failed");
        ApiError::new(ErrorKind::Unavailable, "the consent could not be recorded; try the link again").with_source(e)
    })?;
    if !fresh {
        return Err(refused(StateError::Replayed));
    }
    let tenant = consent::decide(&query, &verified, &onboarding.settings().tenants).map_err(|refusal| {
        state.metrics.inc(METRIC, "outcome", refusal.label());
        tracing::warn!(reason = refusal.label(), "admin consent not recorded");
        // Only now, with the state verified, is Entra ID's (sanitised) explanation passed on.
        ApiError::new(ErrorKind::ConsentRefused, refusal.to_string())
    })?;
    let cloud = onboarding.settings().cloud.cloud;
    let recorded = onboarding.store().record(tenant, cloud, now).await.map_err(|e| {
        state.metrics.inc(METRIC, "outcome", "store_failed");
        ApiError::new(ErrorKind::Unavailable, "the consent could not be recorded; try the link again").with_source(e)
    })?;
    state.graph.consent_granted(tenant);
    state.metrics.inc(METRIC, "outcome", "recorded");
    tracing::info!(%tenant, cloud = cloud.as_str(), "admin consent recorded");
    Ok(HttpResponse::Ok().json(ConsentRecorded {
        tenant: recorded.id,
        status: "consented".into(),
        cloud: recorded.cloud,
        consented_at: recorded.consented_at,
        next: "Check a mailbox: hcal tenant test --config hcal.toml --mailbox <address>, or POST /admin/v1/tenant/test"
            .into(),
    }))
}

/// Body of `POST /admin/v1/tenant/consent-url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentUrlRequest {
    /// A tenant id or `organizations`; default the configured tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Overrides the redirect URI.
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// `POST /admin/v1/tenant/consent-url {"tenant"?, "redirectUri"?}` (`{}` for the defaults): a
/// consent link ([`consent::ConsentLink`]), for administrators who cannot run the CLI next to
/// the service's data directory.
pub async fn consent_url(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    onboarding: web::Data<Onboarding>,
    body: web::Json<ConsentUrlRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let tenant = match body.tenant.as_deref() {
        // The parser's message quotes the input; this one does not.
        Some(t) => LinkTenant::parse(t).map_err(|_| {
            ApiError::new(ErrorKind::InvalidTenant, "tenant must be a tenant id (GUID) or \"organizations\"")
        })?,
        None => LinkTenant::Configured,
    };
    let link = consent::make_link(&onboarding, &state.ring, tenant, body.redirect_uri.as_deref(), Utc::now()).map_err(
        |e| match e {
            LinkError::NotConfigured { .. } => ApiError::new(ErrorKind::TenantNotConfigured, e.to_string()),
            LinkError::InvalidRedirectUri => ApiError::new(ErrorKind::InvalidRedirectUri, e.to_string()),
            LinkError::Sealing | LinkError::LoginEndpoint(_) => ApiError::internal(e),
        },
    )?;
    Ok(HttpResponse::Ok().json(link))
}

/// Body of `POST /admin/v1/tenant/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MailboxCheckRequest {
    /// User principal name or object id of the mailbox to check.
    pub mailbox: String,
    /// The tenant; default the organisation's.
    #[serde(default)]
    pub tenant: Option<TenantId>,
}

/// `POST /admin/v1/tenant/test {"mailbox", "tenant"?}`: runs the mailbox check and answers 200
/// with the report ([`mailbox_check::MailboxCheckReport`]; its `ok` says whether the mailbox
/// passed); 400 for a malformed mailbox or a tenant this installation does not serve.
pub async fn mailbox_check(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    onboarding: web::Data<Onboarding>,
    body: web::Json<MailboxCheckRequest>,
) -> Result<HttpResponse, ApiError> {
    let mailbox = MailboxRef::parse(&body.mailbox).map_err(|e| ApiError::new(ErrorKind::InvalidMailbox, e))?;
    let tenant = body.tenant.unwrap_or(state.tenant);
    if !onboarding.settings().tenants.contains(&tenant) {
        return Err(ApiError::new(
            ErrorKind::TenantNotConfigured,
            format!("tenant {tenant} is not configured for this installation"),
        ));
    }
    let report =
        mailbox_check::run(state.graph.as_ref(), tenant, &mailbox, &state.config.graph.marker_property_id, Utc::now())
            .await;
    let outcome = report.outcome();
    state.metrics.inc("hcal_tenant_admin_tests_total", "outcome", outcome);
    // The address stays out of the log; the object id identifies the mailbox.
    tracing::info!(
        %tenant,
        user = ?report.user_id,
        outcome,
        step = report.failure.as_ref().map(|f| f.step.as_str()),
        code = report.failure.as_ref().map(|f| f.code.as_str()),
        "admin test finished"
    );
    Ok(HttpResponse::Ok().json(report))
}
