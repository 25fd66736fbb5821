//! Tenant onboarding: which Microsoft cloud hcal talks to ([`cloud`]), the admin-consent flow
//! and the consented tenants ([`consent`], [`store`]), and the mailbox check (the admin test)
//! that proves hcal can write to a mailbox ([`mailbox_check`]).
//!
//! The HTTP handlers (`crate::http::tenant`) share an [`Onboarding`], registered once per
//! server as `web::Data` next to the `AppState` (it holds the replay guard of consent states
//! and serialises writes of `tenants.json`, so every worker must see the same one):
//!
//! ```ignore
//! let onboarding = web::Data::new(tenant::Onboarding::from_config(&config)?);
//! HttpServer::new(move || App::new().app_data(onboarding.clone()).configure(|c| http::routes(c, max_body)))
//! ```

pub mod cloud;
pub mod consent;
pub mod mailbox_check;
pub mod store;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use hcal_actors::ids::TenantId;

use self::cloud::{CloudEndpoints, CloudError};
use self::consent::VerifiedState;
use self::store::{StoreError, TenantStore};
use crate::config::Config;

/// Path of the consent callback (the redirect URI registered on the application ends with it).
/// Not behind the API token: a browser arrives there, and the sealed state protects it.
pub const CALLBACK_PATH: &str = "/admin/consent/callback";

/// How long a consent link stays valid by default: long enough to sign in with MFA and read
/// the consent screen, short enough that a leaked link is soon useless.
pub const DEFAULT_STATE_TTL_MINUTES: i64 = 30;

/// What onboarding needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnboardingSettings {
    /// The cloud and its endpoints (the login endpoint makes the consent links).
    pub cloud: CloudEndpoints,
    /// Application (client) id.
    pub client_id: String,
    /// Default redirect URI of consent links: `{public_url}/admin/consent/callback`.
    pub redirect_uri: String,
    /// Tenants this installation serves: the organisation's first, then any others configured.
    /// Consent from any other tenant is refused.
    pub tenants: Vec<TenantId>,
    /// Lifetime of a consent link.
    pub state_ttl: Duration,
}

impl OnboardingSettings {
    /// Settings from the configuration: the cloud of `[tenant.cloud]` (its endpoints, or the
    /// `[graph]` ones under the worldwide cloud), the `[tenant]` ids, the public URL.
    pub fn from_config(config: &Config) -> Result<Self, CloudError> {
        let cloud = cloud::reconcile(&config.tenant.cloud, &config.graph)?;
        let mut tenants = vec![config.tenant.id];
        for id in &config.tenant.additional_ids {
            if !tenants.contains(id) {
                tenants.push(*id);
            }
        }
        Ok(Self {
            cloud,
            client_id: config.graph.client_id.clone(),
            redirect_uri: format!("{}{CALLBACK_PATH}", config.service.public_url()),
            tenants,
            state_ttl: crate::config::duration::to_chrono(config.tenant.consent_link_lifetime),
        })
    }
}

/// State shared by the onboarding handlers of one server.
#[derive(Debug)]
pub struct Onboarding {
    settings: OnboardingSettings,
    store: TenantStore,
}

impl Onboarding {
    /// Onboarding with the given settings; consented tenants go to `{data_dir}/tenants.json`.
    pub fn new(settings: OnboardingSettings, data_dir: &Path) -> Self {
        Self { settings, store: TenantStore::new(data_dir) }
    }

    /// Onboarding as the configuration describes it.
    pub fn from_config(config: &Config) -> Result<Self, CloudError> {
        Ok(Self::new(OnboardingSettings::from_config(config)?, &config.service.data_dir))
    }

    /// The settings.
    pub fn settings(&self) -> &OnboardingSettings {
        &self.settings
    }

    /// The consented tenants.
    pub fn store(&self) -> &TenantStore {
        &self.store
    }

    /// Marks a verified state as used, in `tenants.json` (so a link works once across restarts
    /// too); false when it was used before.
    pub async fn consume_state(&self, state: &VerifiedState, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.store.consume_state(&state.nonce, state.expires_at, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OnboardingSettings {
        OnboardingSettings {
            cloud: cloud::validate(&cloud::CloudConfig::default()).unwrap(),
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:8080/admin/consent/callback".into(),
            tenants: vec![TenantId::parse("00000000-0000-0000-0000-000000000001").unwrap()],
            state_ttl: Duration::minutes(30),
        }
    }

    #[tokio::test]
    async fn a_state_is_consumed_once_across_restarts_and_forgotten_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let onboarding = Onboarding::new(settings(), dir.path());
        let now = Utc::now();
        let state = VerifiedState { nonce: "n1".into(), expires_at: now + Duration::minutes(5), tenant: None };
        assert!(onboarding.consume_state(&state, now).await.unwrap());
        assert!(!onboarding.consume_state(&state, now).await.unwrap(), "a replay is refused");
        let restarted = Onboarding::new(settings(), dir.path());
        assert!(!restarted.consume_state(&state, now).await.unwrap(), "a replay after a restart is refused");
        let other = VerifiedState { nonce: "n2".into(), ..state.clone() };
        assert!(restarted.consume_state(&other, now + Duration::minutes(6)).await.unwrap());
        let file = restarted.store().load().unwrap();
        assert_eq!(file.used_states.len(), 1, "expired states are dropped");
        let text = std::fs::read_to_string(restarted.store().path()).unwrap();
        assert!(!text.contains("\"n2\""), "nonces are kept as digests: {text}");
    }
}
