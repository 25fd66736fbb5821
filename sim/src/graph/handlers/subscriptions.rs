//! `/subscriptions`: create (with the validation handshake), list (paged, the caller's own),
//! get, renew, reauthorize, delete.

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

/// `GET /subscriptions`, as documented for an app calling on behalf of itself: the
/// subscriptions this app created in the caller's tenant (for any user of it), never another
/// app's nor another tenant's, each without its `clientState` (Graph returns `null` "for
/// security purposes"), in pages of `subscription_page_size` linked by `@odata.nextLink`. The
/// method supports no OData query options; `$skiptoken` only comes from the next link.
pub fn list(core: &Core, req: &Req, caller: &Caller) -> Result<Resp, GraphError> {
    if let Some((name, _)) = req.query.iter().find(|(k, _)| k.starts_with('$') && !k.eq_ignore_ascii_case("$skiptoken"))
    {
        return Err(unsupported_query_option(name));
    }
    // The token is the id of the last subscription of the previous page: ids are listed in
    // order, so a subscription deleted between two pages does not shift the next one away.
    let after = req.query("$skiptoken").map(str::to_owned);
    let page_size = core.config.subscription_page_size.max(1);
    let store = core.store.lock();
    let mut subs: Vec<&Subscription> = store
        .subscriptions
        .values()
        .filter(|s| match caller {
            Caller::App { app_id, tenant_id } => &s.app_id == app_id && &s.tenant_id == tenant_id,
            Caller::Script => true,
        })
        .filter(|s| after.as_ref().is_none_or(|after| s.id > *after))
        .collect();
    subs.sort_by(|a, b| a.id.cmp(&b.id));
    let more = subs.len() > page_size;
    subs.truncate(page_size);
    let value: Vec<Value> = subs
        .iter()
        .map(|s| {
            let mut v = render(core, s);
            if let Some(o) = v.as_object_mut() {
                o.remove("@odata.context");
                o.insert("clientState".into(), Value::Null);
            }
            v
        })
        .collect();
    let mut body =
        json!({"@odata.context": format!("{}/v1.0/$metadata#subscriptions", core.base_url()), "value": value});
    if let (true, Some(last), Some(o)) = (more, subs.last(), body.as_object_mut()) {
        let next = format!("{}/v1.0/subscriptions?$skiptoken={}", core.base_url(), super::super::encode(&last.id));
        o.insert("@odata.nextLink".into(), json!(next));
    }
    Ok(Resp::json(200, body))
}

/// The 400 Graph answers to an OData query option on `/subscriptions`, worded as seen live.
fn unsupported_query_option(name: &str) -> GraphError {
    let bare = name.trim_start_matches('$');
    let mut option = bare.to_ascii_lowercase();
    if let Some(first) = option.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    GraphError::new(
        400,
        "BadRequest",
        format!(
            "The query specified in the URI is not valid. Query option '{option}' is not allowed. To allow it, set \
             the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings."
        ),
    )
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
