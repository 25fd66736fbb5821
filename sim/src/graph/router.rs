//! The Graph API surface: authentication, injected faults, mailbox checks, throttling and the
//! route table, in the order Graph applies them. HTTP requests, `$batch` items and scripts all
//! come through [`execute`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;

use super::core::{Caller, Core, Principal, Req, Resp};
use super::error::GraphError;
use super::handlers::{batch, calendar_view, events, mailbox, subscriptions};
use super::model::{Permission, User};
use super::store::Store;

/// Runs one Graph request and always produces a response (errors become Graph envelopes with
/// `request-id` / `client-request-id` headers).
pub fn execute(core: Arc<Core>, principal: Principal, req: Req) -> Pin<Box<dyn Future<Output = Resp> + Send>> {
    Box::pin(async move {
        let request_id = core.guid();
        let client_request_id = req.header("client-request-id").map_or_else(|| core.guid(), str::to_owned);
        let result = handle(&core, &principal, &req).await;
        let resp = match result {
            Ok(resp) => resp,
            Err(err) => {
                let mut resp = Resp::json(err.status, err.body(&request_id, &client_request_id, &error_date(&core)));
                if let Some(after) = err.retry_after {
                    resp = resp.with_header("Retry-After", format_retry_after(after));
                }
                resp
            }
        };
        resp.with_header("request-id", request_id).with_header("client-request-id", client_request_id)
    })
}

/// `Retry-After` as delta-seconds: a whole number as Graph sends it, or the fraction a test
/// configured (clients must tolerate both).
fn format_retry_after(secs: f64) -> String {
    if secs.fract() == 0.0 { format!("{}", secs as u64) } else { format!("{secs}") }
}

/// The wait after a spent request budget: the rest of the window, at least the configured
/// `Retry-After`. Graph sends whole seconds, so the rest is rounded up unless the configured
/// value is itself fractional (then the rest keeps millisecond precision).
fn window_retry_after(remaining: f64, configured: f64) -> f64 {
    let remaining = if configured.fract() == 0.0 { remaining.ceil() } else { remaining };
    remaining.max(configured)
}

/// Authenticates a principal.
pub fn authenticate(core: &Core, principal: &Principal) -> Result<Caller, GraphError> {
    match principal {
        Principal::Script => Ok(Caller::Script),
        Principal::Bearer(None) => Err(GraphError::unauthenticated("Access token is empty.")),
        Principal::Bearer(Some(token)) => {
            let store = core.store.lock();
            let info = store.tokens.get(token).ok_or_else(|| {
                GraphError::unauthenticated("IDX14100: JWT is not well formed, there are no dots (.).")
            })?;
            if info.expires_at <= core.now() {
                return Err(GraphError::unauthenticated("Lifetime validation failed, the token is expired."));
            }
            Ok(Caller::App { app_id: info.app_id.clone(), tenant_id: info.tenant_id.clone() })
        }
    }
}

/// Checks that the caller may use `user_key`'s mailbox with `permission`, in Graph's order:
/// permission, existence, licence (404 `MailboxNotEnabledForRESTAPI`), access policy (403 RAOP).
pub fn check_mailbox(
    store: &Store,
    caller: &Caller,
    user_key: &str,
    permission: Permission,
) -> Result<User, GraphError> {
    let user = match caller {
        Caller::Script => {
            store.users.values().find(|u| u.id.eq_ignore_ascii_case(user_key) || u.mail.eq_ignore_ascii_case(user_key))
        }
        Caller::App { app_id, tenant_id } => {
            let granted = store.apps.get(app_id).and_then(|a| a.consents.get(tenant_id));
            if !granted.is_some_and(|g| g.contains(&permission)) {
                return Err(GraphError::access_denied());
            }
            store.find_user(tenant_id, user_key)
        }
    }
    .ok_or_else(|| GraphError::new(404, "ErrorInvalidUser", format!("The requested user '{user_key}' is invalid.")))?;
    if matches!(caller, Caller::App { .. }) {
        if !user.licensed {
            return Err(GraphError::mailbox_not_enabled());
        }
        if !user.in_policy {
            return Err(GraphError::raop());
        }
    }
    Ok(user.clone())
}

/// Holds one concurrency slot of an (app, mailbox) pair; released on drop.
struct Slot<'a> {
    core: &'a Core,
    key: (String, String),
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut throttle = self.core.throttle.lock();
        if let Some(n) = throttle.inflight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

fn acquire<'a>(core: &'a Core, app_id: &str, user_id: &str) -> Result<Slot<'a>, GraphError> {
    let key = (app_id.to_owned(), user_id.to_owned());
    let cfg = &core.config.throttle;
    let now = core.now();
    let mut throttle = core.throttle.lock();
    let inflight = {
        let n = throttle.inflight.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let slot = Slot { core, key: key.clone() };
    {
        let mut stats = core.stats.lock();
        let max = stats.max_concurrency.entry(user_id.to_owned()).or_insert(0);
        *max = (*max).max(inflight);
    }
    if !cfg.enabled {
        drop(throttle);
        return Ok(slot);
    }
    if inflight > cfg.max_concurrent {
        drop(throttle);
        core.stats.lock().throttled += 1;
        return Err(GraphError::throttled(
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            cfg.retry_after_secs,
        ));
    }
    let window = throttle.windows.entry(key).or_insert((now, 0));
    if now - window.0 >= ChronoDuration::seconds(cfg.window_secs) {
        *window = (now, 0);
    }
    window.1 += 1;
    if window.1 > cfg.budget {
        let remaining =
            (window.0 + ChronoDuration::seconds(cfg.window_secs) - now).num_milliseconds().max(0) as f64 / 1000.0;
        drop(throttle);
        core.stats.lock().throttled += 1;
        return Err(GraphError::throttled(
            "ApplicationThrottled",
            "Application is over its MailboxRequestLimit limit.",
            window_retry_after(remaining, cfg.retry_after_secs),
        ));
    }
    drop(throttle);
    Ok(slot)
}

async fn inject_faults(core: &Core) -> Result<(), GraphError> {
    let faults = core.faults();
    if core.chance(faults.rate_429) {
        core.stats.lock().faults_injected += 1;
        return Err(GraphError::throttled(
            "TooManyRequests",
            "Too many requests.",
            core.config.throttle.retry_after_secs,
        ));
    }
    if core.chance(faults.rate_503) {
        core.stats.lock().faults_injected += 1;
        let mut err =
            GraphError::new(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.");
        err.retry_after = Some(core.config.throttle.retry_after_secs);
        return Err(err);
    }
    if core.chance(faults.rate_timeout) {
        core.stats.lock().faults_injected += 1;
        let hang = if faults.hang.is_zero() { Duration::from_secs(30) } else { faults.hang };
        tokio::time::sleep(hang).await;
        return Err(GraphError::new(504, "UnknownError", "The request timed out."));
    }
    Ok(())
}

/// Removes subscriptions past their expiry, silently, as Graph does.
pub fn sweep_expired(core: &Core) {
    let now = core.now();
    let mut store = core.store.lock();
    let before = store.subscriptions.len();
    store.subscriptions.retain(|_, s| s.expiration > now);
    let removed = before - store.subscriptions.len();
    if removed > 0 {
        drop(store);
        core.stats.lock().subscriptions_expired += removed as u64;
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

async fn handle(core: &Arc<Core>, principal: &Principal, req: &Req) -> Result<Resp, GraphError> {
    let caller = authenticate(core, principal)?;
    let is_app = matches!(caller, Caller::App { .. });
    core.stats.lock().requests += u64::from(is_app);
    sweep_expired(core);
    let segs = segments(&req.path);
    let parts: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method.as_str();

    match parts.as_slice() {
        [b] if eq(b, "$batch") => {
            return if method == "POST" {
                batch::run(core.clone(), principal.clone(), req).await
            } else {
                Err(GraphError::method_not_allowed())
            };
        }
        [m, ..] if eq(m, "me") => {
            return Err(GraphError::new(
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            ));
        }
        _ => {}
    }
    if is_app {
        inject_faults(core).await?;
    }
    match parts.as_slice() {
        [s] if eq(s, "subscriptions") => match method {
            "GET" => subscriptions::list(core, req, &caller),
            "POST" => subscriptions::create(core, req, &caller).await,
            _ => Err(GraphError::method_not_allowed()),
        },
        [s, id] if eq(s, "subscriptions") => match method {
            "GET" => subscriptions::get(core, &caller, id),
            "PATCH" => subscriptions::renew(core, req, &caller, id),
            "DELETE" => subscriptions::delete(core, &caller, id),
            _ => Err(GraphError::method_not_allowed()),
        },
        [s, id, r] if eq(s, "subscriptions") && eq(r, "reauthorize") && method == "POST" => {
            subscriptions::reauthorize(core, &caller, id)
        }
        [u] if eq(u, "users") && method == "GET" => match &caller {
            Caller::App { app_id, tenant_id } => {
                let granted = core
                    .store
                    .lock()
                    .apps
                    .get(app_id)
                    .and_then(|a| a.consents.get(tenant_id))
                    .is_some_and(|g| g.contains(&Permission::UserReadAll));
                if !granted {
                    return Err(GraphError::access_denied());
                }
                mailbox::list_users(core, req, tenant_id)
            }
            Caller::Script => Err(GraphError::method_not_allowed()),
        },
        [u, user_key, rest @ ..] if eq(u, "users") => {
            let permission = match rest.first() {
                None => Permission::UserReadAll,
                Some(r) if eq(r, "mailboxSettings") => Permission::MailboxSettingsReadWrite,
                Some(_) => Permission::CalendarsReadWrite,
            };
            let user = check_mailbox(&core.store.lock(), &caller, user_key, permission)?;
            let _slot = match &caller {
                Caller::App { app_id, .. } => Some(acquire(core, app_id, &user.id)?),
                Caller::Script => None,
            };
            let latency = core.faults().latency;
            if is_app && !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            user_route(core, req, &caller, &user, rest)
        }
        _ => Err(GraphError::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{}'.", parts.first().copied().unwrap_or("")),
        )),
    }
}

fn user_route(core: &Core, req: &Req, caller: &Caller, user: &User, rest: &[&str]) -> Result<Resp, GraphError> {
    let script = matches!(caller, Caller::Script);
    let method = req.method.as_str();
    // `/calendar/events…` and `/events…` are the same collection here (the default calendar).
    let rest: &[&str] = match rest {
        [c, tail @ ..] if eq(c, "calendar") && !tail.is_empty() => tail,
        other => other,
    };
    match rest {
        [] if method == "GET" => Ok(Resp::json(200, mailbox::user_json(user))),
        [m] if eq(m, "mailboxSettings") => match method {
            "GET" => {
                if !script {
                    *core.stats.lock().settings_reads.entry(user.id.clone()).or_default() += 1;
                }
                mailbox::get(core, user)
            }
            "PATCH" => mailbox::patch(core, req, user),
            _ => Err(GraphError::method_not_allowed()),
        },
        [m, name] if eq(m, "mailboxSettings") => match method {
            "GET" => mailbox::get_one(core, user, name),
            "PATCH" => Err(mailbox::patch_one(name)),
            _ => Err(GraphError::method_not_allowed()),
        },
        [e] if eq(e, "events") => match method {
            "GET" => events::list(core, req, user),
            "POST" => events::create(core, req, user, script),
            _ => Err(GraphError::method_not_allowed()),
        },
        [e, id] if eq(e, "events") => match method {
            "GET" => events::get(core, req, user, id),
            "PATCH" => events::patch(core, req, user, id, script),
            "DELETE" => events::delete(core, req, user, id),
            _ => Err(GraphError::method_not_allowed()),
        },
        [e, id, i] if eq(e, "events") && eq(i, "instances") && method == "GET" => {
            events::instances(core, req, user, id)
        }
        [v] if eq(v, "calendarView") && method == "GET" => calendar_view::view(core, req, user),
        [v, d] if eq(v, "calendarView") && eq(d, "delta") && method == "GET" => calendar_view::delta(core, req, user),
        _ => Err(GraphError::new(400, "BadRequest", "Resource not found for the segment.".to_owned())),
    }
}

/// `innerError.date` as Graph writes it: UTC, seconds, no offset (`2025-02-13T10:17:06`).
pub fn error_date(core: &Core) -> String {
    core.now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_unless_configured_fractional() {
        assert_eq!(format_retry_after(2.0), "2");
        assert_eq!(format_retry_after(0.05), "0.05");
        assert_eq!(window_retry_after(599.25, 2.0), 600.0);
        assert_eq!(window_retry_after(0.2, 2.0), 2.0);
        assert_eq!(window_retry_after(599.25, 0.5), 599.25);
    }
}
