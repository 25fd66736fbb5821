//! `/subscriptions`: create (with the validation handshake), list, get, renew, reauthorize,
//! delete.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::super::core::{Caller, Core, Req, Resp};
use super::super::error::GraphError;
use super::super::model::{ChangeType, Permission, Subscription};
use super::super::notify;
use super::super::wire;

/// Longest `clientState` Graph accepts.
pub const MAX_CLIENT_STATE: usize = 128;

/// Longest lifetime of a subscription with `includeResourceData` (rich notifications), minutes.
pub const MAX_RICH_MINUTES: i64 = 1440;

fn render(core: &Core, sub: &Subscription) -> Value {
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscriptions/$entity", core.base_url()),
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": sub.app_id,
        "changeType": sub.change_types.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": null,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": wire::format_instant(sub.expiration),
        "creatorId": sub.creator_id,
        "includeResourceData": sub.include_resource_data,
        "latestSupportedTlsVersion": "v1_2",
        "encryptionCertificate": sub.encryption_certificate,
        "encryptionCertificateId": sub.encryption_certificate_id,
        "notificationUrlAppId": null,
    })
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn check_url(core: &Core, url: &str, what: &str) -> Result<(), GraphError> {
    let parsed =
        url::Url::parse(url).map_err(|_| GraphError::invalid_subscription(format!("Invalid {what}: '{url}'.")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let https = parsed.scheme() == "https";
    if !(https || (parsed.scheme() == "http" && (loopback || !core.config.require_https_except_loopback))) {
        return Err(GraphError::invalid_subscription(format!("The {what} must be an HTTPS URL.")));
    }
    Ok(())
}

fn check_expiration(
    core: &Core,
    now: DateTime<Utc>,
    value: Option<&Value>,
    rich: bool,
) -> Result<DateTime<Utc>, GraphError> {
    let raw = value
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_subscription("expirationDateTime is required."))?;
    let at = wire::parse_instant(raw)
        .ok_or_else(|| GraphError::invalid_subscription(format!("Invalid expirationDateTime '{raw}'.")))?;
    if at <= now {
        return Err(GraphError::invalid_subscription("Subscription expiration date must be in the future."));
    }
    let mut max = core.config.max_subscription_minutes;
    if rich {
        max = max.min(MAX_RICH_MINUTES);
    }
    if at > now + Duration::minutes(max) {
        return Err(GraphError::invalid_subscription(format!(
            "Subscription expiration can only be {max} minutes in the future."
        )));
    }
    Ok(at)
}

/// Resolves `/users/{id}/events` (or `/calendar/events`) to the user id in the path.
fn resource_user(resource: &str) -> Result<String, GraphError> {
    let segments: Vec<&str> = resource.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [u, id, e] if u.eq_ignore_ascii_case("users") && e.eq_ignore_ascii_case("events") => Ok((*id).to_owned()),
        [u, id, c, e]
            if u.eq_ignore_ascii_case("users")
                && c.eq_ignore_ascii_case("calendar")
                && e.eq_ignore_ascii_case("events") =>
        {
            Ok((*id).to_owned())
        }
        [m, ..] if m.eq_ignore_ascii_case("me") => {
            Err(GraphError::new(400, "BadRequest", "/me request is only valid with delegated authentication flow."))
        }
        _ => Err(GraphError::invalid_subscription(format!(
            "Resource '{resource}' is not supported by the simulator: use /users/{{id}}/events."
        ))),
    }
}

/// `POST /subscriptions`.
pub async fn create(core: &Core, req: &Req, caller: &Caller) -> Result<Resp, GraphError> {
    let Caller::App { app_id, tenant_id } = caller else {
        return Err(GraphError::access_denied());
    };
    let body =
        req.body.as_ref().ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let now = core.now();
    let change_raw = field(body, "changeType")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_subscription("changeType is required."))?;
    let mut change_types = Vec::new();
    for part in change_raw.split(',') {
        let ct = ChangeType::parse(part)
            .ok_or_else(|| GraphError::invalid_subscription(format!("Invalid changeType '{part}'.")))?;
        if !change_types.contains(&ct) {
            change_types.push(ct);
        }
    }
    let notification_url = field(body, "notificationUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_subscription("notificationUrl is required."))?
        .to_owned();
    check_url(core, &notification_url, "notificationUrl")?;
    let lifecycle_url = field(body, "lifecycleNotificationUrl").and_then(Value::as_str).map(str::to_owned);
    if let Some(url) = &lifecycle_url {
        check_url(core, url, "lifecycleNotificationUrl")?;
    }
    let resource = field(body, "resource")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_subscription("resource is required."))?
        .to_owned();
    let include_resource_data = field(body, "includeResourceData").and_then(Value::as_bool).unwrap_or(false);
    let expiration = check_expiration(core, now, field(body, "expirationDateTime"), include_resource_data)?;
    let client_state = field(body, "clientState").and_then(Value::as_str).map(str::to_owned);
    if client_state.as_ref().is_some_and(|c| c.chars().count() > MAX_CLIENT_STATE) {
        return Err(GraphError::invalid_subscription(format!(
            "clientState must be at most {MAX_CLIENT_STATE} characters."
        )));
    }
    let certificate = field(body, "encryptionCertificate").and_then(Value::as_str).map(str::to_owned);
    if include_resource_data && certificate.is_none() {
        return Err(GraphError::invalid_subscription(
            "A valid encryptionCertificate must be provided when includeResourceData is true.",
        ));
    }
    let user_key = resource_user(&resource)?;
    let user = {
        let store = core.store.lock();
        super::super::router::check_mailbox(&store, caller, &user_key, Permission::CalendarsReadWrite)?
    };
    rate_limit_subscription_writes(core, app_id, tenant_id, now)?;
    {
        let store = core.store.lock();
        let count = store.subscriptions.values().filter(|s| s.user_id == user.id).count();
        if count >= core.config.max_subscriptions_per_mailbox {
            return Err(GraphError::new(
                403,
                "ExtensionError",
                "The number of subscriptions for this mailbox has reached its limit.",
            ));
        }
    }
    // Graph validates before answering; the lifecycle URL is validated too (twice when equal).
    let mut to_validate = vec![notification_url.clone()];
    to_validate.extend(lifecycle_url.clone());
    for url in to_validate {
        notify::validate_url(core, &url).await.map_err(|reason| {
            GraphError::invalid_subscription(format!("Subscription validation request failed. {reason}"))
        })?;
    }
    let sub = Subscription {
        id: core.guid(),
        app_id: app_id.clone(),
        tenant_id: tenant_id.clone(),
        user_id: user.id,
        resource,
        change_types,
        notification_url,
        lifecycle_url,
        expiration,
        client_state,
        include_resource_data,
        encryption_certificate: certificate,
        encryption_certificate_id: field(body, "encryptionCertificateId").and_then(Value::as_str).map(str::to_owned),
        creator_id: core.guid(),
    };
    let rendered = render(core, &sub);
    core.store.lock().subscriptions.insert(sub.id.clone(), sub);
    Ok(Resp::json(201, rendered))
}

fn rate_limit_subscription_writes(
    core: &Core,
    app_id: &str,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<(), GraphError> {
    let limit = core.config.throttle.subscription_writes_per_20s;
    let mut throttle = core.throttle.lock();
    let writes = throttle.sub_writes.entry((app_id.to_owned(), tenant_id.to_owned())).or_default();
    writes.retain(|t| *t > now - Duration::seconds(20));
    if writes.len() as u64 >= limit {
        return Err(GraphError::throttled(
            "TooManyRequests",
            "Too many subscription operations for this tenant. Please retry later.",
            core.config.throttle.retry_after_secs,
        ));
    }
    writes.push(now);
    Ok(())
}

fn owned(core: &Core, caller: &Caller, id: &str) -> Result<Subscription, GraphError> {
    let store = core.store.lock();
    let sub = store.subscriptions.get(id).cloned();
    match (sub, caller) {
        (Some(s), Caller::App { app_id, .. }) if &s.app_id == app_id => Ok(s),
        (Some(s), Caller::Script) => Ok(s),
        _ => Err(GraphError::resource_not_found("The object was not found.")),
    }
}

/// `GET /subscriptions`.
pub fn list(core: &Core, caller: &Caller) -> Result<Resp, GraphError> {
    let store = core.store.lock();
    let mut subs: Vec<&Subscription> = store
        .subscriptions
        .values()
        .filter(|s| match caller {
            Caller::App { app_id, .. } => &s.app_id == app_id,
            Caller::Script => true,
        })
        .collect();
    subs.sort_by(|a, b| a.id.cmp(&b.id));
    let value: Vec<Value> = subs
        .iter()
        .map(|s| {
            let mut v = render(core, s);
            if let Some(o) = v.as_object_mut() {
                o.remove("@odata.context");
            }
            v
        })
        .collect();
    Ok(Resp::json(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#subscriptions", core.base_url()), "value": value}),
    ))
}

/// `GET /subscriptions/{id}`.
pub fn get(core: &Core, caller: &Caller, id: &str) -> Result<Resp, GraphError> {
    Ok(Resp::json(200, render(core, &owned(core, caller, id)?)))
}

/// `PATCH /subscriptions/{id}`: renews.
pub fn renew(core: &Core, req: &Req, caller: &Caller, id: &str) -> Result<Resp, GraphError> {
    let sub = owned(core, caller, id)?;
    let body =
        req.body.as_ref().ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    if field(body, "lifecycleNotificationUrl").is_some() && sub.lifecycle_url.is_none() {
        return Err(GraphError::invalid_subscription(
            "lifecycleNotificationUrl cannot be added to an existing subscription.",
        ));
    }
    let expiration = check_expiration(core, core.now(), field(body, "expirationDateTime"), sub.include_resource_data)?;
    let mut store = core.store.lock();
    let stored = store
        .subscriptions
        .get_mut(&sub.id)
        .ok_or_else(|| GraphError::resource_not_found("The object was not found."))?;
    stored.expiration = expiration;
    Ok(Resp::json(200, render(core, stored)))
}

/// `POST /subscriptions/{id}/reauthorize`.
pub fn reauthorize(core: &Core, caller: &Caller, id: &str) -> Result<Resp, GraphError> {
    owned(core, caller, id)?;
    Ok(Resp::empty(204))
}

/// `DELETE /subscriptions/{id}`.
pub fn delete(core: &Core, caller: &Caller, id: &str) -> Result<Resp, GraphError> {
    let sub = owned(core, caller, id)?;
    core.store.lock().subscriptions.remove(&sub.id);
    Ok(Resp::empty(204))
}
