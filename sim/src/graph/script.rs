//! Setting up tenants, apps and mailboxes, and acting as users and as Graph itself. Actions of
//! users go through the same router as API calls (as [`Principal::Script`]), so they validate,
//! change keys and notify exactly as API writes do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::core::{Core, Principal, Req, Resp};
use super::handlers::mailbox::default_settings;
use super::model::{App, MailboxKind, Permission, Tenant, User};
use super::notify::{LifecycleEvent, Outbound};
use super::router;

/// A mailbox to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    /// Tenant id.
    pub tenant_id: String,
    /// Object id; a GUID is generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Primary address.
    pub mail: String,
    /// Mailbox kind. Default `user`.
    #[serde(default)]
    pub kind: MailboxKind,
    /// Mailbox language. Default `en-US`.
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Mailbox time zone. Default `UTC`.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Licensed for Exchange Online. Default true.
    #[serde(default = "yes")]
    pub licensed: bool,
    /// Inside the application access policy. Default true.
    #[serde(default = "yes")]
    pub in_policy: bool,
}

fn default_locale() -> String {
    "en-US".into()
}
fn default_zone() -> String {
    "UTC".into()
}
fn yes() -> bool {
    true
}

impl UserSpec {
    /// A licensed person's mailbox in `tenant_id` with defaults.
    pub fn new(tenant_id: &str, display_name: &str, mail: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            id: None,
            display_name: display_name.to_owned(),
            mail: mail.to_owned(),
            kind: MailboxKind::User,
            locale: default_locale(),
            time_zone: default_zone(),
            licensed: true,
            in_policy: true,
        }
    }
}

/// Adds a tenant; returns its id.
pub fn add_tenant(core: &Core, id: Option<&str>, domain: &str) -> String {
    let id = id.map_or_else(|| core.guid(), str::to_owned);
    core.store.lock().tenants.insert(id.clone(), Tenant { id: id.clone(), domain: domain.to_owned() });
    id
}

/// Registers an application; returns (client id, secret).
pub fn add_app(
    core: &Core,
    client_id: Option<&str>,
    secret: Option<&str>,
    redirect_uris: Vec<String>,
) -> (String, String) {
    let client_id = client_id.map_or_else(|| core.guid(), str::to_owned);
    let secret = secret.map_or_else(|| format!("{}~{}", core.token(3), core.token(36)), str::to_owned);
    core.store.lock().apps.insert(
        client_id.clone(),
        App { client_id: client_id.clone(), secret: secret.clone(), redirect_uris, consents: HashMap::new() },
    );
    (client_id, secret)
}

/// Grants an application permissions in a tenant (what admin consent does).
pub fn consent(core: &Core, client_id: &str, tenant_id: &str, permissions: &[Permission]) -> Result<(), String> {
    let mut store = core.store.lock();
    if !store.tenants.contains_key(tenant_id) {
        return Err(format!("unknown tenant {tenant_id}"));
    }
    let app = store.apps.get_mut(client_id).ok_or_else(|| format!("unknown app {client_id}"))?;
    app.consents.insert(tenant_id.to_owned(), permissions.iter().copied().collect::<HashSet<_>>());
    Ok(())
}

/// Adds a mailbox; returns its object id.
pub fn add_user(core: &Core, spec: &UserSpec) -> Result<String, String> {
    super::wire::zone(&spec.time_zone).map_err(|e| e.message)?;
    let mut store = core.store.lock();
    if !store.tenants.contains_key(&spec.tenant_id) {
        return Err(format!("unknown tenant {}", spec.tenant_id));
    }
    if store.user_by_mail(&spec.tenant_id, &spec.mail).is_some() {
        return Err(format!("a mailbox with that address already exists in tenant {}", spec.tenant_id));
    }
    let id = spec.id.clone().unwrap_or_else(|| core.guid());
    store.users.insert(
        id.clone(),
        User {
            id: id.clone(),
            tenant_id: spec.tenant_id.clone(),
            display_name: spec.display_name.clone(),
            mail: spec.mail.clone(),
            kind: spec.kind,
            licensed: spec.licensed,
            in_policy: spec.in_policy,
            settings: default_settings(&spec.locale, &spec.time_zone),
        },
    );
    Ok(id)
}

/// Acts as a user (or as Graph's own back end) on the Graph API without a token.
pub async fn act(core: &Arc<Core>, method: &str, path: &str, body: Option<Value>) -> Resp {
    let mut req = Req::new(method, path);
    req.body = body;
    router::execute(core.clone(), Principal::Script, req).await
}

/// Sends a lifecycle notification for a subscription; `subscriptionRemoved` also removes it.
pub fn trigger_lifecycle(core: &Core, subscription_id: &str, event: LifecycleEvent) -> Result<(), String> {
    let sub = {
        let mut store = core.store.lock();
        let sub = store
            .subscriptions
            .get(subscription_id)
            .cloned()
            .ok_or_else(|| format!("unknown subscription {subscription_id}"))?;
        if sub.lifecycle_url.is_none() {
            return Err("the subscription has no lifecycleNotificationUrl".into());
        }
        if event == LifecycleEvent::SubscriptionRemoved {
            store.subscriptions.remove(subscription_id);
        }
        sub
    };
    core.outbound
        .send(Outbound::Lifecycle { subscription: sub, event })
        .map_err(|_| "the notifier has stopped".to_owned())
}

/// A subscription Graph removed whose `subscriptionRemoved` notification is still on its way
/// (Graph sends lifecycle notifications late, sometimes minutes late): what the owner does not
/// hear of meanwhile is what its resync must find.
pub struct RemovedSubscription {
    core: Arc<Core>,
    subscription: super::model::Subscription,
}

impl std::fmt::Debug for RemovedSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemovedSubscription").field("id", &self.subscription.id).finish_non_exhaustive()
    }
}

impl RemovedSubscription {
    /// Sends the `subscriptionRemoved` lifecycle notification now.
    pub fn announce(self) -> Result<(), String> {
        self.core
            .outbound
            .send(Outbound::Lifecycle { subscription: self.subscription, event: LifecycleEvent::SubscriptionRemoved })
            .map_err(|_| "the notifier has stopped".to_owned())
    }
}

/// Removes a subscription now and holds its lifecycle notification back (see
/// [`RemovedSubscription`]).
pub fn remove_quietly(core: &Arc<Core>, subscription_id: &str) -> Result<RemovedSubscription, String> {
    let subscription = core
        .store
        .lock()
        .subscriptions
        .remove(subscription_id)
        .ok_or_else(|| format!("unknown subscription {subscription_id}"))?;
    if subscription.lifecycle_url.is_none() {
        return Err("the subscription has no lifecycleNotificationUrl".into());
    }
    Ok(RemovedSubscription { core: core.clone(), subscription })
}

/// A JSON summary of a subscription for tests.
pub fn subscription_summary(core: &Core) -> Vec<Value> {
    let store = core.store.lock();
    let mut subs: Vec<Value> = store
        .subscriptions
        .values()
        .map(|s| json!({"id": s.id, "userId": s.user_id, "expirationDateTime": super::wire::format_instant(s.expiration), "notificationUrl": s.notification_url}))
        .collect();
    subs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    subs
}

/// What [`seed_demo`] created, for printing and for clients to connect with.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoTenant {
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant domain.
    pub domain: String,
    /// Application (client) id, consented in the tenant.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Mailboxes: (object id, display name, address, kind).
    pub users: Vec<(String, String, String, MailboxKind)>,
}

/// Domain of the demo tenant.
pub const DEMO_DOMAIN: &str = "contoso.example";

/// Mailboxes of the demo tenant: (display name, local part, kind, locale, time zone). The
/// Webex simulator's `hcal sim webex` gives the people among them a Webex account.
pub const DEMO_MAILBOXES: [(&str, &str, MailboxKind, &str, &str); 4] = [
    ("Alex Wilber", "alex", MailboxKind::User, "en-US", "Pacific Standard Time"),
    ("Deniz Yılmaz", "deniz", MailboxKind::User, "tr-TR", "Turkey Standard Time"),
    ("Megan Bowen", "megan", MailboxKind::User, "de-DE", "W. Europe Standard Time"),
    ("Conf Room Rainier", "rainier", MailboxKind::Room, "en-US", "Pacific Standard Time"),
];

/// Identifiers of the demo tenant to use instead of generated ones, so a deployment (e.g.
/// docker compose) can configure hcal before the simulator runs.
#[derive(Debug, Clone, Default)]
pub struct DemoIds {
    /// Tenant id; a GUID is generated when absent.
    pub tenant_id: Option<String>,
    /// Application (client) id; a GUID is generated when absent.
    pub client_id: Option<String>,
    /// Client secret; a random one is generated when absent.
    pub client_secret: Option<String>,
}

/// Creates a tenant with a consented application, three people and a room, as the demo and
/// `hcal sim graph` use.
pub fn seed_demo(core: &Core, redirect_uri: &str) -> Result<DemoTenant, String> {
    seed_demo_with(core, redirect_uri, &DemoIds::default())
}

/// [`seed_demo`] with the given identifiers where they are set.
pub fn seed_demo_with(core: &Core, redirect_uri: &str, ids: &DemoIds) -> Result<DemoTenant, String> {
    let domain = DEMO_DOMAIN;
    let tenant_id = add_tenant(core, ids.tenant_id.as_deref(), domain);
    let (client_id, client_secret) =
        add_app(core, ids.client_id.as_deref(), ids.client_secret.as_deref(), vec![redirect_uri.to_owned()]);
    consent(core, &client_id, &tenant_id, &Permission::ALL)?;
    let mut users = Vec::new();
    for (name, local, kind, locale, zone) in DEMO_MAILBOXES {
        let mail = format!("{local}@{domain}");
        let spec =
            UserSpec { kind, locale: locale.into(), time_zone: zone.into(), ..UserSpec::new(&tenant_id, name, &mail) };
        let id = add_user(core, &spec)?;
        users.push((id, name.to_owned(), mail, kind));
    }
    Ok(DemoTenant { tenant_id, domain: domain.into(), client_id, client_secret, users })
}
