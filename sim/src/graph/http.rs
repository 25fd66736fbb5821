//! The HTTP server: the Entra ID login endpoints, the Graph API under `/v1.0`, and the
//! `/_sim` control surface for tests and the demo running in other processes.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::FaultConfig;
use super::core::{Core, Principal, Req, Resp};
use super::error::{AadError, GraphError};
use super::model::Permission;
use super::notify::LifecycleEvent;
use super::router;
use super::script::{self, UserSpec};
use super::store::TokenInfo;
use super::wire;

/// Largest request body Graph accepts (4 MB).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1.0/{tail:.*}", web::to(graph))
        .route("/_sim/{tail:.*}", web::to(control))
        .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
        .route("/{tenant}/adminconsent", web::get().to(admin_consent))
        .default_service(web::to(|| async {
            HttpResponse::NotFound()
                .json(json!({"error": {"code": "ResourceNotFound", "message": "No such endpoint."}}))
        }));
}

fn to_http(resp: Resp) -> HttpResponse {
    let mut builder =
        HttpResponse::build(StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &resp.headers {
        builder.insert_header((k.as_str(), v.as_str()));
    }
    match resp.body {
        Some(body) => builder.content_type("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8").body(body.to_string()),
        None => builder.finish(),
    }
}

async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, GraphError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| GraphError::new(400, "BadRequest", "The request body could not be read."))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(GraphError::new(413, "RequestEntityTooLarge", "The request body is larger than 4 MB."));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error_response(core: &Core, err: &GraphError) -> HttpResponse {
    let (request_id, client_request_id) = (core.guid(), core.guid());
    let resp = Resp::json(err.status, err.body(&request_id, &client_request_id, &router::error_date(core)))
        .with_header("request-id", request_id)
        .with_header("client-request-id", client_request_id);
    to_http(resp)
}

async fn graph(core: web::Data<Arc<Core>>, http: HttpRequest, payload: web::Payload) -> HttpResponse {
    let core = core.get_ref().clone();
    let raw = match read_body(payload).await {
        Ok(raw) => raw,
        Err(e) => return error_response(&core, &e),
    };
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Value>(&raw) {
            Ok(v) => Some(v),
            Err(_) => {
                let err = GraphError::new(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                );
                return error_response(&core, &err);
            }
        }
    };
    let target = http.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let (path, query) = super::core::split_query(target.trim_start_matches("/v1.0"));
    let headers = http
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let bearer = http
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    let req = Req { method: http.method().as_str().to_ascii_uppercase(), path, query, headers, body };
    to_http(router::execute(core, Principal::Bearer(bearer), req).await)
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    grant_type: Option<String>,
}

/// The scope of the worldwide Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn aad(core: &Core, err: AadError) -> HttpResponse {
    // Entra ID writes its timestamps with a space and whole seconds: `2016-01-09 02:02:12Z`.
    let timestamp = core.now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = err.body(&core.guid(), &core.guid(), &timestamp);
    HttpResponse::build(StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST)).json(body)
}

async fn token(core: web::Data<Arc<Core>>, tenant: web::Path<String>, form: web::Form<TokenForm>) -> HttpResponse {
    let core = core.get_ref();
    let form = form.into_inner();
    let mut store = core.store.lock();
    let tenant_key = tenant.into_inner();
    let Some(tenant_id) = store
        .tenants
        .values()
        .find(|t| t.id.eq_ignore_ascii_case(&tenant_key) || t.domain.eq_ignore_ascii_case(&tenant_key))
        .map(|t| t.id.clone())
    else {
        let description = format!(
            "Tenant '{tenant_key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        );
        return aad(core, AadError { status: 400, error: "invalid_request", aadsts: 90002, description });
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return aad(
            core,
            AadError {
                status: 400,
                error: "unsupported_grant_type",
                aadsts: 70003,
                description: "The app requested an unsupported grant type.".into(),
            },
        );
    }
    let client_id = form.client_id.unwrap_or_default();
    let Some(app) = store.apps.get(&client_id).filter(|a| a.consents.contains_key(&tenant_id)).cloned() else {
        let description = format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
        );
        return aad(core, AadError { status: 400, error: "unauthorized_client", aadsts: 700016, description });
    };
    if form.client_secret.as_deref() != Some(app.secret.as_str()) {
        let description = format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        );
        return aad(core, AadError { status: 401, error: "invalid_client", aadsts: 7000215, description });
    }
    let scope = form.scope.unwrap_or_default();
    if scope != GRAPH_SCOPE {
        let description = format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        );
        return aad(core, AadError { status: 400, error: "invalid_scope", aadsts: 1002012, description });
    }
    let access_token = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}", core.token(64), core.token(43));
    let lifetime = core.config.token_lifetime_secs;
    store.tokens.insert(
        access_token.clone(),
        TokenInfo {
            tenant_id,
            app_id: client_id,
            expires_at: core.now() + chrono::Duration::seconds(i64::try_from(lifetime).unwrap_or(3599)),
        },
    );
    HttpResponse::Ok().json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}))
}

#[derive(Deserialize)]
struct ConsentQuery {
    client_id: Option<String>,
    state: Option<String>,
    redirect_uri: Option<String>,
}

async fn admin_consent(
    core: web::Data<Arc<Core>>,
    tenant: web::Path<String>,
    q: web::Query<ConsentQuery>,
) -> HttpResponse {
    let core = core.get_ref();
    let q = q.into_inner();
    let mut store = core.store.lock();
    let client_id = q.client_id.unwrap_or_default();
    let Some(app) = store.apps.get(&client_id).cloned() else {
        return HttpResponse::BadRequest()
            .content_type("text/plain")
            .body(format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory."));
    };
    let redirect = q.redirect_uri.unwrap_or_default();
    if !app.redirect_uris.contains(&redirect) {
        return HttpResponse::BadRequest().content_type("text/plain").body(format!(
            "AADSTS50011: The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
        ));
    }
    let path_tenant = tenant.into_inner();
    let specific = !["common", "organizations"].iter().any(|c| c.eq_ignore_ascii_case(&path_tenant));
    let (admin_tenant, approves) = match &store.consent_admin {
        Some((t, a)) => (t.clone(), *a),
        None if specific => (path_tenant.clone(), true),
        None => {
            return HttpResponse::BadRequest()
                .content_type("text/plain")
                .body("No administrator is signed in to the simulator (set one with /_sim/consent-admin).");
        }
    };
    let Some(tenant_id) = store
        .tenants
        .values()
        .find(|t| t.id.eq_ignore_ascii_case(&admin_tenant) || t.domain.eq_ignore_ascii_case(&admin_tenant))
        .map(|t| t.id.clone())
    else {
        return HttpResponse::BadRequest()
            .content_type("text/plain")
            .body(format!("AADSTS90002: Tenant '{admin_tenant}' not found."));
    };
    let state = q.state.unwrap_or_default();
    let mut location =
        url::Url::parse(&redirect).unwrap_or_else(|_| unreachable!("registered redirect URIs are valid URLs"));
    if approves {
        if let Some(app) = store.apps.get_mut(&client_id) {
            app.consents.insert(tenant_id.clone(), Permission::ALL.into_iter().collect::<HashSet<_>>());
        }
        location
            .query_pairs_mut()
            .append_pair("admin_consent", "True")
            .append_pair("tenant", &tenant_id)
            .append_pair("state", &state)
            .append_pair("scope", GRAPH_SCOPE);
    } else {
        location
            .query_pairs_mut()
            .append_pair("error", "permission_denied")
            .append_pair("error_description", "AADSTS65004: User declined to consent to access the app.")
            .append_pair("state", &state);
    }
    HttpResponse::Found().insert_header(("Location", location.to_string())).finish()
}

async fn control(core: web::Data<Arc<Core>>, http: HttpRequest, payload: web::Payload) -> HttpResponse {
    let core = core.get_ref().clone();
    let raw = match read_body(payload).await {
        Ok(raw) => raw,
        Err(e) => return error_response(&core, &e),
    };
    let body: Value = if raw.is_empty() { Value::Null } else { serde_json::from_slice(&raw).unwrap_or(Value::Null) };
    let target = http.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let tail = target.trim_start_matches("/_sim");
    let method = http.method().as_str().to_ascii_uppercase();
    if let Some(rest) = tail.strip_prefix("/as/") {
        let (path, query) = super::core::split_query(&format!("/{rest}"));
        let headers = http
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let req = Req { method, path, query, headers, body: if body.is_null() { None } else { Some(body) } };
        return to_http(router::execute(core, Principal::Script, req).await);
    }
    let segs: Vec<&str> = tail.split('?').next().unwrap_or("").split('/').filter(|s| !s.is_empty()).collect();
    let bad = |m: &str| HttpResponse::BadRequest().json(json!({"error": m}));
    match (method.as_str(), segs.as_slice()) {
        ("POST", ["tenants"]) => {
            let domain = body.get("domain").and_then(Value::as_str).unwrap_or("contoso.example");
            HttpResponse::Created()
                .json(json!({"id": script::add_tenant(&core, body.get("id").and_then(Value::as_str), domain)}))
        }
        ("POST", ["apps"]) => {
            let uris: Vec<String> = body
                .get("redirectUris")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let (client_id, secret) = script::add_app(
                &core,
                body.get("clientId").and_then(Value::as_str),
                body.get("secret").and_then(Value::as_str),
                uris,
            );
            HttpResponse::Created().json(json!({"clientId": client_id, "secret": secret}))
        }
        ("POST", ["consents"]) => {
            let perms: Option<Vec<Permission>> =
                body.get("permissions").and_then(|p| serde_json::from_value(p.clone()).ok());
            match (body.get("clientId").and_then(Value::as_str), body.get("tenantId").and_then(Value::as_str)) {
                (Some(c), Some(t)) => {
                    match script::consent(&core, c, t, perms.as_deref().unwrap_or(&Permission::ALL)) {
                        Ok(()) => HttpResponse::NoContent().finish(),
                        Err(e) => bad(&e),
                    }
                }
                _ => bad("clientId and tenantId are required"),
            }
        }
        ("POST", ["consent-admin"]) => {
            let tenant = body.get("tenantId").and_then(Value::as_str).unwrap_or_default().to_owned();
            core.store.lock().consent_admin =
                Some((tenant, body.get("approve").and_then(Value::as_bool).unwrap_or(true)));
            HttpResponse::NoContent().finish()
        }
        ("POST", ["users"]) => match serde_json::from_value::<UserSpec>(body) {
            Ok(spec) => match script::add_user(&core, &spec) {
                Ok(id) => HttpResponse::Created().json(json!({"id": id})),
                Err(e) => bad(&e),
            },
            Err(e) => bad(&e.to_string()),
        },
        ("PATCH", ["users", id]) => {
            let mut store = core.store.lock();
            let Some(user) = store.users.get_mut(*id) else { return HttpResponse::NotFound().finish() };
            if let Some(v) = body.get("licensed").and_then(Value::as_bool) {
                user.licensed = v;
            }
            if let Some(v) = body.get("inPolicy").and_then(Value::as_bool) {
                user.in_policy = v;
            }
            HttpResponse::NoContent().finish()
        }
        ("GET", ["faults"]) => HttpResponse::Ok().json(core.faults()),
        ("PUT", ["faults"]) => match serde_json::from_value::<FaultConfig>(body) {
            Ok(f) => {
                *core.faults.write() = f;
                HttpResponse::NoContent().finish()
            }
            Err(e) => bad(&e.to_string()),
        },
        ("GET", ["stats"]) => HttpResponse::Ok().json(core.stats.lock().clone()),
        ("POST", ["clock", "advance"]) => {
            let secs = body.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
            match std::time::Duration::try_from_secs_f64(secs) {
                Ok(d) => {
                    core.clock.advance(d);
                    router::sweep_expired(&core);
                    HttpResponse::Ok().json(json!({"now": wire::format_instant(core.now())}))
                }
                Err(e) => bad(&e.to_string()),
            }
        }
        ("POST", ["subscriptions", id, "lifecycle"]) => {
            match serde_json::from_value::<LifecycleEvent>(body.get("lifecycleEvent").cloned().unwrap_or(Value::Null)) {
                Ok(event) => match script::trigger_lifecycle(&core, id, event) {
                    Ok(()) => HttpResponse::Accepted().finish(),
                    Err(e) => bad(&e),
                },
                Err(e) => bad(&e.to_string()),
            }
        }
        ("DELETE", ["subscriptions", id]) => {
            if core.store.lock().subscriptions.remove(*id).is_some() {
                HttpResponse::NoContent().finish()
            } else {
                HttpResponse::NotFound().finish()
            }
        }
        ("POST", ["delta", "expire"]) => {
            core.store.lock().delta.clear();
            HttpResponse::NoContent().finish()
        }
        _ => HttpResponse::NotFound().json(json!({"error": "unknown control endpoint"})),
    }
}
