//! Outgoing HTTP: the validation handshake and the delivery of change and lifecycle
//! notifications, batched per URL, retried with backoff, dropped after the retry window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::config::ResourceCasing;
use super::core::Core;
use super::model::{Change, Subscription};
use super::wire;

/// Lifecycle events Graph sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleEvent {
    /// The subscription needs reauthorizing.
    ReauthorizationRequired,
    /// The subscription was removed.
    SubscriptionRemoved,
    /// Notifications were missed.
    Missed,
}

impl LifecycleEvent {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReauthorizationRequired => "reauthorizationRequired",
            Self::SubscriptionRemoved => "subscriptionRemoved",
            Self::Missed => "missed",
        }
    }
}

/// Something to POST to a receiver.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A change notification.
    Change {
        /// The subscription as it was when the change happened.
        subscription: Subscription,
        /// The change.
        change: Change,
    },
    /// A lifecycle notification.
    Lifecycle {
        /// The subscription.
        subscription: Subscription,
        /// What happened.
        event: LifecycleEvent,
    },
}

/// Performs the validation handshake against `url`. `Err` carries the reason, which the
/// subscription endpoint appends to Graph's message.
pub async fn validate_url(core: &Core, url: &str) -> Result<(), String> {
    let token =
        format!("Validation: Testing client application reachability for subscription Request-Id: {}", core.guid());
    let mut target = url::Url::parse(url).map_err(|e| format!("Invalid notification URL: {e}."))?;
    target.query_pairs_mut().append_pair("validationToken", &token);
    core.stats.lock().validations += 1;
    let response = core
        .http
        .post(target)
        .header("Content-Type", "text/plain; charset=utf-8")
        .timeout(core.config.validation_timeout)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "Validation request timed out.".to_owned()
            } else {
                "Validation request could not reach the notification URL.".to_owned()
            }
        })?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let body = response.text().await.map_err(|_| "Validation response could not be read.".to_owned())?;
    if status != 200 {
        return Err(format!(
            "Notification endpoint must respond with 200 OK to validation request; it answered {status}."
        ));
    }
    if core.config.validation_requires_text_plain && !content_type.starts_with("text/plain") {
        return Err("The validation response must have Content-Type text/plain.".to_owned());
    }
    if body != token {
        return Err("The validation response body must be the decoded validation token.".to_owned());
    }
    Ok(())
}

/// The notifier: gathers queued notifications into batches per URL and delivers each batch
/// on its own task, so a slow receiver does not hold up the others.
pub async fn run(core: Arc<Core>, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let casing_counter = Arc::new(AtomicU64::new(0));
    while let Some(first) = rx.recv().await {
        let mut items = vec![first];
        let deadline = tokio::time::Instant::now() + core.config.batch_delay;
        while let Ok(Some(next)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            items.push(next);
        }
        // Change and lifecycle notifications never share a POST, even when both URLs are equal.
        let mut by_url: BTreeMap<(String, bool), Vec<Outbound>> = BTreeMap::new();
        for item in items {
            let url = match &item {
                Outbound::Change { subscription, .. } => Some((subscription.notification_url.clone(), false)),
                Outbound::Lifecycle { subscription, .. } => subscription.lifecycle_url.clone().map(|u| (u, true)),
            };
            if let Some(key) = url {
                by_url.entry(key).or_default().push(item);
            }
        }
        for ((url, _), group) in by_url {
            for chunk in group.chunks(core.config.max_batch.max(1)) {
                let chunk = chunk.to_vec();
                if chunk.iter().all(|o| matches!(o, Outbound::Change { .. })) && core.faults().drop_notifications {
                    core.stats.lock().notifications_dropped += chunk.len() as u64;
                    continue;
                }
                let core = core.clone();
                let url = url.clone();
                let counter = casing_counter.clone();
                tokio::spawn(async move { deliver(core, url, chunk, counter).await });
            }
        }
    }
}

fn casing(core: &Core, counter: &AtomicU64) -> (&'static str, &'static str) {
    let lower = match core.config.resource_casing {
        ResourceCasing::Pascal => false,
        ResourceCasing::Lower => true,
        ResourceCasing::Mixed => counter.fetch_add(1, Ordering::Relaxed) % 2 == 1,
    };
    if lower { ("users", "events") } else { ("Users", "Events") }
}

fn render(core: &Core, item: &Outbound, counter: &AtomicU64) -> Value {
    match item {
        Outbound::Change { subscription, change } => {
            let (users, events) = casing(core, counter);
            let resource = format!("{users}/{}/{events}/{}", change.user_id, change.event_id);
            let mut resource_data = json!({
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": resource,
                "id": change.event_id,
            });
            if let (Some(etag), Some(obj)) = (&change.etag, resource_data.as_object_mut()) {
                obj.insert("@odata.etag".into(), json!(etag));
            }
            json!({
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": expiration(subscription),
                "changeType": change.change_type.as_str(),
                "resource": resource,
                "resourceData": resource_data,
                "clientState": subscription.client_state,
                "tenantId": subscription.tenant_id,
            })
        }
        Outbound::Lifecycle { subscription, event } => json!({
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": expiration(subscription),
            "tenantId": subscription.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": event.as_str(),
        }),
    }
}

/// Notifications write the expiry with an explicit offset, unlike the subscription resource.
fn expiration(sub: &Subscription) -> String {
    format!("{}+00:00", wire::format_local(sub.expiration.naive_utc()))
}

async fn deliver(core: Arc<Core>, url: String, items: Vec<Outbound>, counter: Arc<AtomicU64>) {
    let delay = core.faults().notification_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let is_lifecycle = matches!(items.first(), Some(Outbound::Lifecycle { .. }));
    let started = Instant::now();
    let mut backoff = core.config.retry_initial;
    loop {
        // Notifications of subscriptions deleted meanwhile are not delivered any more.
        let live: Vec<&Outbound> = {
            let store = core.store.lock();
            items
                .iter()
                .filter(|o| match o {
                    Outbound::Change { subscription, .. } => store.subscriptions.contains_key(&subscription.id),
                    Outbound::Lifecycle { .. } => true,
                })
                .collect()
        };
        if live.is_empty() {
            return;
        }
        let body = json!({"value": live.iter().map(|o| render(&core, o, &counter)).collect::<Vec<_>>()});
        let outcome = core.http.post(&url).json(&body).timeout(core.config.delivery_timeout).send().await;
        let ok = matches!(&outcome, Ok(r) if r.status().is_success());
        if ok {
            let mut stats = core.stats.lock();
            if is_lifecycle {
                stats.lifecycle_delivered += live.len() as u64;
            } else {
                stats.notifications_delivered += live.len() as u64;
                let mut delivered = core.delivered.lock();
                if delivered.len() == super::core::REDELIVERY_MEMORY {
                    delivered.pop_front();
                }
                delivered.push_back((url.clone(), body.clone()));
            }
            return;
        }
        core.stats.lock().delivery_failures += 1;
        if started.elapsed() + backoff > core.config.retry_window {
            drop_items(&core, &live, is_lifecycle);
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(core.config.retry_max.max(Duration::from_millis(1)));
    }
}

fn drop_items(core: &Core, items: &[&Outbound], is_lifecycle: bool) {
    if is_lifecycle {
        return;
    }
    core.stats.lock().notifications_dropped += items.len() as u64;
    if !core.config.missed_on_drop {
        return;
    }
    let mut seen = Vec::new();
    for item in items {
        if let Outbound::Change { subscription, .. } = item
            && subscription.lifecycle_url.is_some()
            && !seen.contains(&subscription.id)
        {
            seen.push(subscription.id.clone());
            let _ = core
                .outbound
                .send(Outbound::Lifecycle { subscription: subscription.clone(), event: LifecycleEvent::Missed });
        }
    }
}

/// Delivers every remembered change-notification POST once more, in the original order (Graph
/// delivers at least once). Returns how many POSTs were answered 2xx.
pub async fn redeliver(core: &Core) -> usize {
    let posts: Vec<(String, Value)> = core.delivered.lock().iter().cloned().collect();
    let mut ok = 0;
    for (url, body) in posts {
        let sent = core.http.post(&url).json(&body).timeout(core.config.delivery_timeout).send().await;
        if matches!(&sent, Ok(r) if r.status().is_success()) {
            ok += 1;
        }
    }
    ok
}
