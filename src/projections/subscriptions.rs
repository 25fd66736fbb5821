//! The subscription index: which Graph subscription belongs to which mailbox, with its client
//! state (the webhook checks every notification against it), and which mailboxes are enabled
//! with what subscription expiry or set-up error (the scheduler renews from it, the admin list
//! shows it).
//!
//! It is a projection of `mailbox-events` like the meeting list: one row per mailbox in the
//! local store, committed with the index's own positions, so a restarted process loads the rows
//! and reads only the events after them instead of the whole log. The webhook's hot path reads
//! the in-memory maps, which are updated after each committed batch; the rows are their
//! snapshot. The client state is a secret: its row holds it sealed, bound to the mailbox and
//! the subscription id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{MailboxEvent, SubscriptionPrivate};
use hcal_actors::ports::{GraphFailure, SubscriptionApi};
use hcal_actors::seal::{self, KeyRing, Sealed};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::{Position, Projection};
use crate::log::sqlite::{ProjectionBatch, SqliteStore};

/// Name of the projection (its rows' namespace and the group of its positions).
pub const SUBSCRIPTION_INDEX: &str = "subscription-index";

/// A known subscription.
#[derive(Clone, PartialEq, Eq)]
pub struct KnownSubscription {
    /// Its mailbox.
    pub mailbox: MailboxId,
    /// The secret Graph echoes.
    pub client_state: String,
}

impl std::fmt::Debug for KnownSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownSubscription").field("mailbox", &self.mailbox).finish_non_exhaustive()
    }
}

/// What the scheduler needs to know of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxEntry {
    /// Enabled.
    pub enabled: bool,
    /// Current subscription and its expiry.
    pub subscription: Option<(String, DateTime<Utc>)>,
    /// Last set-up failure: reason and retry time.
    pub error: Option<(String, Option<DateTime<Utc>>)>,
    /// Erased (its data keys destroyed) and not enabled since.
    pub erased: bool,
}

impl MailboxEntry {
    /// `disabled`, `active`, `error`, `pending` or `erased`, as an admin sees it.
    pub fn status(&self) -> &'static str {
        if self.erased && !self.enabled {
            return "erased";
        }
        hcal_actors::mailbox::state::status_of(self.enabled, self.subscription.is_some(), self.error.is_some())
    }
}

/// Everything the index knows of one mailbox: its row.
#[derive(Clone, Default, PartialEq, Eq)]
struct Row {
    entry: MailboxEntry,
    /// The subscription the webhook accepts for the mailbox, as (id, client state): the one
    /// created last. A lost or disabled subscription stays accepted until a new one replaces
    /// it, so that Graph's last notifications about it (a removal) still get in.
    webhook: Option<(String, String)>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let webhook = self.webhook.as_ref().map(|(id, _)| id);
        f.debug_struct("Row").field("entry", &self.entry).field("webhook", &webhook).finish_non_exhaustive()
    }
}

impl Row {
    /// Folds one event in; returns whether the event concerns the index at all.
    fn observe(&mut self, event: &MailboxEvent) -> bool {
        let entry = &mut self.entry;
        match event {
            MailboxEvent::MailboxEnabled { .. } => {
                entry.enabled = true;
                entry.erased = false;
                entry.error = None;
            }
            MailboxEvent::MailboxErased {} => {
                // The webhook keeps refusing its subscription's notifications: it is forgotten.
                *self = Row { entry: MailboxEntry { erased: true, ..MailboxEntry::default() }, webhook: None };
            }
            MailboxEvent::MailboxDisabled {} => {
                entry.enabled = false;
                entry.subscription = None;
                entry.error = None;
            }
            MailboxEvent::MailboxSetupFailed { reason, retry_at, .. } => {
                entry.error = Some((reason.clone(), *retry_at));
            }
            MailboxEvent::SubscriptionCreated { subscription_id, expires_at, private } => {
                self.webhook = Some((subscription_id.clone(), private.client_state.clone()));
                entry.subscription = Some((subscription_id.clone(), *expires_at));
                entry.error = None;
            }
            MailboxEvent::SubscriptionRenewed { subscription_id, expires_at } => {
                entry.subscription = Some((subscription_id.clone(), *expires_at));
            }
            MailboxEvent::SubscriptionLost { subscription_id, .. } => {
                if entry.subscription.as_ref().is_some_and(|(id, _)| id == subscription_id) {
                    entry.subscription = None;
                }
            }
            _ => return false,
        }
        true
    }
}

/// The stored form of a row (JSON), the client state sealed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredRow {
    enabled: bool,
    subscription: Option<StoredSubscription>,
    error: Option<StoredError>,
    webhook: Option<StoredWebhook>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    erased: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredSubscription {
    id: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredError {
    reason: String,
    retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredWebhook {
    subscription_id: String,
    client_state: Sealed,
}

/// Additional data of a sealed client state: a sealed value copied to another mailbox's row or
/// paired with another subscription id does not open.
fn aad(mailbox: &MailboxId, subscription_id: &str) -> Vec<u8> {
    format!("{SUBSCRIPTION_INDEX}/{mailbox}/{subscription_id}").into_bytes()
}

fn encode(ring: &KeyRing, mailbox: &MailboxId, row: &Row) -> Result<Vec<u8>, LogError> {
    let webhook = match &row.webhook {
        Some((id, client_state)) => {
            let private = SubscriptionPrivate { client_state: client_state.clone() };
            let sealed = seal::seal(ring, &aad(mailbox, id), &private).map_err(|e| LogError::Invalid(e.to_string()))?;
            Some(StoredWebhook { subscription_id: id.clone(), client_state: sealed })
        }
        None => None,
    };
    let entry = &row.entry;
    let stored = StoredRow {
        enabled: entry.enabled,
        subscription: entry
            .subscription
            .as_ref()
            .map(|(id, at)| StoredSubscription { id: id.clone(), expires_at: *at }),
        error: entry.error.as_ref().map(|(reason, at)| StoredError { reason: reason.clone(), retry_at: *at }),
        webhook,
        erased: entry.erased,
    };
    serde_json::to_vec(&stored).map_err(|e| LogError::Invalid(e.to_string()))
}

fn decode(ring: &KeyRing, key: &str, bytes: &[u8]) -> Result<(MailboxId, Row), LogError> {
    let unreadable = |why: String| LogError::Invalid(format!("subscription index row: {why}"));
    let (tenant, user) = key.split_once('/').ok_or_else(|| unreadable("key is not tenant/user".into()))?;
    let mailbox = MailboxId {
        tenant: TenantId::parse(tenant).map_err(|e| unreadable(e.to_string()))?,
        user: UserObjectId::parse(user).map_err(|e| unreadable(e.to_string()))?,
    };
    let stored: StoredRow = serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
    let webhook = match stored.webhook {
        Some(w) => {
            let private: SubscriptionPrivate = seal::open(ring, &aad(&mailbox, &w.subscription_id), &w.client_state)
                .map_err(|e| unreadable(e.to_string()))?;
            Some((w.subscription_id, private.client_state))
        }
        None => None,
    };
    let entry = MailboxEntry {
        enabled: stored.enabled,
        subscription: stored.subscription.map(|s| (s.id, s.expires_at)),
        error: stored.error.map(|e| (e.reason, e.retry_at)),
        erased: stored.erased,
    };
    Ok((mailbox, Row { entry, webhook }))
}

/// The in-memory maps: every mailbox's row, and subscription id to mailbox and client state.
#[derive(Default)]
struct Maps {
    mailboxes: BTreeMap<MailboxId, Row>,
    by_id: HashMap<String, KnownSubscription>,
}

impl Maps {
    /// Makes `row` the mailbox's row, in both maps.
    fn publish(&mut self, mailbox: MailboxId, row: Row) {
        let previous = self.mailboxes.get(&mailbox).and_then(|r| r.webhook.as_ref()).map(|(id, _)| id.clone());
        if let Some(previous) = previous
            && row.webhook.as_ref().is_none_or(|(id, _)| *id != previous)
        {
            self.by_id.remove(&previous);
        }
        if let Some((id, client_state)) = &row.webhook {
            self.by_id.insert(id.clone(), KnownSubscription { mailbox, client_state: client_state.clone() });
        }
        self.mailboxes.insert(mailbox, row);
    }
}

/// Subscription id to mailbox and client state; mailbox to subscription expiry. Readers see
/// what the last committed batch left.
pub struct SubscriptionIndex {
    ring: KeyRing,
    maps: RwLock<Maps>,
    /// The follower's last word on how current the maps are (see [`Self::caught_up_as_of`]).
    caught_up: parking_lot::Mutex<Option<tokio::time::Instant>>,
    /// Subscriptions this process created and the follower has not read yet (see
    /// [`Self::announce`]), with when each was announced.
    announced: parking_lot::Mutex<HashMap<String, (KnownSubscription, tokio::time::Instant)>>,
}

/// How long an announced subscription is accepted without its `SubscriptionCreated` reaching
/// the index: far longer than a live creator takes to record it, and as long as the orphan
/// sweep's default grace period, after which an unrecorded subscription is deleted anyway.
pub const ANNOUNCED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

impl std::fmt::Debug for SubscriptionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let maps = self.maps.read();
        f.debug_struct("SubscriptionIndex")
            .field("mailboxes", &maps.mailboxes.len())
            .field("subscriptions", &maps.by_id.len())
            .finish_non_exhaustive()
    }
}

impl SubscriptionIndex {
    /// An empty index, sealing its rows with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring,
            maps: RwLock::default(),
            caught_up: parking_lot::Mutex::new(None),
            announced: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// The index as its rows in `store` left it; the follower then applies the events after
    /// its positions ([`super::catch_up`]). Rows that cannot be read (a key that is gone, a
    /// format this version does not know) drop the whole index and its positions, so it is
    /// rebuilt from the log: it is derived data, and a partial index would refuse notifications
    /// of live subscriptions.
    pub async fn open(store: &SqliteStore, ring: KeyRing) -> Result<Self, LogError> {
        let index = Self::new(ring);
        let rows = store.projection_scan(SUBSCRIPTION_INDEX, "").await?;
        let mut maps = Maps::default();
        for (key, bytes) in &rows {
            match decode(&index.ring, key, bytes) {
                Ok((mailbox, row)) => maps.publish(mailbox, row),
                Err(e) => {
                    tracing::warn!(error = %e, "the subscription index cannot be read; rebuilding it from mailbox-events");
                    store.projection_reset(SUBSCRIPTION_INDEX).await?;
                    return Ok(index);
                }
            }
        }
        *index.maps.write() = maps;
        Ok(index)
    }

    /// Looks a subscription up: one the log records, else one this process announced.
    pub fn get(&self, id: &str) -> Option<KnownSubscription> {
        if let Some(known) = self.maps.read().by_id.get(id) {
            return Some(known.clone());
        }
        self.announced.lock().get(id).map(|(known, _)| known.clone())
    }

    /// Makes a subscription this process has just created known to the webhook at once, before
    /// its `SubscriptionCreated` is appended and long before the follower reads it back: Graph
    /// delivers to a subscription as soon as it exists, and a follower slowed by load could
    /// otherwise lag past the webhook's wait, so that a change made right after a subscription
    /// was (re)created would be discarded as unknown. The entry is dropped when the follower
    /// reads the subscription's record, or after [`ANNOUNCED_FOR`] when it never comes (the
    /// process that created it failed to record it; the orphan sweep deletes it on Graph).
    pub fn announce(&self, mailbox: MailboxId, id: &str, client_state: &str) {
        let now = tokio::time::Instant::now();
        let mut announced = self.announced.lock();
        announced.retain(|_, (_, at)| now.duration_since(*at) < ANNOUNCED_FOR);
        let known = KnownSubscription { mailbox, client_state: client_state.to_owned() };
        announced.insert(id.to_owned(), (known, now));
    }

    /// Whether the mailbox was ever enabled (its events reached the index).
    pub fn knows(&self, mailbox: &MailboxId) -> bool {
        self.maps.read().mailboxes.contains_key(mailbox)
    }

    /// Every known mailbox.
    pub fn mailboxes(&self) -> Vec<(MailboxId, MailboxEntry)> {
        self.maps.read().mailboxes.iter().map(|(k, v)| (*k, v.entry.clone())).collect()
    }

    /// Every subscription id the index knows: the one each mailbox's webhook accepts (the one
    /// created last, kept after a loss or a disable until a new one replaces it), each
    /// mailbox's current one and those announced and not recorded yet. Graph subscriptions
    /// outside this set were never recorded, or were replaced since.
    pub fn known_ids(&self) -> std::collections::HashSet<String> {
        let maps = self.maps.read();
        let current = maps.mailboxes.values().filter_map(|row| row.entry.subscription.as_ref().map(|(id, _)| id));
        let mut ids: std::collections::HashSet<String> = maps.by_id.keys().chain(current).cloned().collect();
        ids.extend(self.announced.lock().keys().cloned());
        ids
    }

    /// The latest instant before which every event appended to `mailbox-events` is in the
    /// index, as the follower last reported it; `None` before its first report. Readers that
    /// must not mistake "not yet read" for "never recorded" (the orphan sweep) wait for it.
    pub fn caught_up_as_of(&self) -> Option<tokio::time::Instant> {
        *self.caught_up.lock()
    }

    /// Waits until the index holds every event appended before `instant`, at most `limit`;
    /// whether it does. A subscription Graph delivers to at once after creating it may not be
    /// in the index yet: the webhook asks this before it discards an item as unknown.
    pub async fn wait_caught_up(&self, instant: tokio::time::Instant, limit: std::time::Duration) -> bool {
        let deadline = instant + limit;
        loop {
            if self.caught_up_as_of().is_some_and(|as_of| as_of >= instant) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Number of known subscriptions.
    pub fn len(&self) -> usize {
        self.maps.read().by_id.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes in one event of a mailbox, in memory only: for tests and tools that build an index
    /// without a store. The running service's index changes through [`Projection::apply`].
    pub fn observe(&self, mailbox: MailboxId, event: &MailboxEvent) {
        let mut maps = self.maps.write();
        let mut row = maps.mailboxes.get(&mailbox).cloned().unwrap_or_default();
        if row.observe(event) {
            maps.publish(mailbox, row);
        }
    }
}

/// The actors' `SubscriptionApi` with every subscription it creates announced to the index
/// ([`SubscriptionIndex::announce`]) as soon as Graph answers.
pub struct Announcing {
    /// The port that talks to Graph.
    pub inner: Arc<dyn SubscriptionApi>,
    /// The webhook's index.
    pub index: Arc<SubscriptionIndex>,
}

#[async_trait]
impl SubscriptionApi for Announcing {
    async fn create(
        &self,
        mailbox: &MailboxId,
        client_state: &str,
        expiration: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), GraphFailure> {
        let created = self.inner.create(mailbox, client_state, expiration).await?;
        self.index.announce(*mailbox, &created.0, client_state);
        Ok(created)
    }

    async fn renew(
        &self,
        mailbox: &MailboxId,
        id: &str,
        expiration: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, GraphFailure> {
        self.inner.renew(mailbox, id, expiration).await
    }

    async fn delete(&self, mailbox: &MailboxId, id: &str) -> Result<(), GraphFailure> {
        self.inner.delete(mailbox, id).await
    }

    async fn mailbox_settings(&self, mailbox: &MailboxId) -> Result<hcal_actors::ports::SettingsRead, GraphFailure> {
        self.inner.mailbox_settings(mailbox).await
    }

    async fn reauthorize(&self, mailbox: &MailboxId, id: &str) -> Result<bool, GraphFailure> {
        self.inner.reauthorize(mailbox, id).await
    }

    async fn changed_ids(
        &self,
        mailbox: &MailboxId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(GraphEventId, bool)>, GraphFailure> {
        self.inner.changed_ids(mailbox, start, end).await
    }
}

#[async_trait]
impl Projection for SubscriptionIndex {
    fn name(&self) -> &'static str {
        SUBSCRIPTION_INDEX
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        // The follower is the only writer, so the maps are the rows as committed so far.
        let mut changed: BTreeMap<MailboxId, Row> = BTreeMap::new();
        for env in events {
            let mut row = match changed.get(&env.mailbox) {
                Some(row) => row.clone(),
                None => self.maps.read().mailboxes.get(&env.mailbox).cloned().unwrap_or_default(),
            };
            if row.observe(&env.event) {
                changed.insert(env.mailbox, row);
            }
        }
        // Events that leave a row as it was (enabling an enabled mailbox) rewrite nothing.
        {
            let maps = self.maps.read();
            changed.retain(|mailbox, row| maps.mailboxes.get(mailbox) != Some(row));
        }
        let mut batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
        for (mailbox, row) in &changed {
            batch.upserts.push((mailbox.to_string(), encode(&self.ring, mailbox, row)?));
        }
        store.projection_apply(SUBSCRIPTION_INDEX, batch).await?;
        let mut maps = self.maps.write();
        for (mailbox, row) in changed {
            maps.publish(mailbox, row);
        }
        drop(maps);
        let mut announced = self.announced.lock();
        for env in events {
            if let MailboxEvent::SubscriptionCreated { subscription_id, .. } = &env.event {
                announced.remove(subscription_id);
            }
        }
        Ok(())
    }

    fn caught_up(&self, as_of: tokio::time::Instant) {
        let mut caught_up = self.caught_up.lock();
        // Passes end in order, but a report never moves the instant back.
        if caught_up.is_none_or(|at| at < as_of) {
            *caught_up = Some(as_of);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use hcal_actors::log::{EventLog, MAILBOX_EVENTS, Record};
    use hcal_actors::mailbox::envelope;
    use hcal_actors::seal::DataKey;

    use super::*;
    use crate::projections::catch_up;

    /// A log that counts the `mailbox-events` records read from it.
    struct Counting {
        log: SqliteStore,
        read: AtomicUsize,
    }

    #[async_trait]
    impl EventLog for Counting {
        fn partitions(&self, topic: &str) -> u32 {
            self.log.partitions(topic)
        }
        async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
            self.log.append(topic, key, payloads).await
        }
        async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
            let records = self.log.read(topic, partition, from, max).await?;
            if topic == MAILBOX_EVENTS {
                self.read.fetch_add(records.len(), Ordering::SeqCst);
            }
            Ok(records)
        }
        async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: Duration) {
            self.log.wait(topic, partition, from, timeout).await
        }
        async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
            self.log.committed(group, topic, partition).await
        }
        async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError> {
            self.log.commit(group, topic, partition, next).await
        }
    }

    impl Counting {
        fn taken(&self) -> usize {
            self.read.swap(0, Ordering::SeqCst)
        }
    }

    /// The log and the projection store apart, as in kafka mode (the log has more partitions
    /// than the store), or the same store, as in embedded mode.
    struct World {
        log: Counting,
        store: SqliteStore,
        ring: KeyRing,
        seq: HashMap<MailboxId, u64>,
        _dirs: Vec<tempfile::TempDir>,
    }

    impl World {
        fn new() -> Self {
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            Self {
                log: Counting { log: SqliteStore::open(a.path(), 6).unwrap(), read: AtomicUsize::new(0) },
                store: SqliteStore::open(b.path(), 2).unwrap(),
                ring: KeyRing::new(DataKey::generate("k1").unwrap()),
                seq: HashMap::new(),
                _dirs: vec![a, b],
            }
        }

        async fn event(&mut self, mailbox: MailboxId, event: MailboxEvent) {
            let seq = self.seq.entry(mailbox).or_default();
            *seq += 1;
            let env = Envelope {
                event_id: uuid::Uuid::new_v4(),
                mailbox,
                seq: *seq,
                occurred_at: Utc::now(),
                causation_id: "test".into(),
                event,
            };
            let payload = envelope::encode(&env, &self.ring).unwrap();
            self.log.append(MAILBOX_EVENTS, &mailbox.to_string(), vec![payload]).await.unwrap();
        }

        /// Opens the index from the store and catches it up; returns it with the events read.
        async fn index(&self) -> (SubscriptionIndex, usize, usize) {
            let index = SubscriptionIndex::open(&self.store, self.ring.clone()).await.unwrap();
            let before = self.log.taken();
            catch_up(&self.log, &self.store, &self.ring, &[&index]).await.unwrap();
            (index, before, self.log.taken())
        }
    }

    fn mailbox() -> MailboxId {
        MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
        }
    }

    fn created(id: &str, state: &str) -> MailboxEvent {
        MailboxEvent::SubscriptionCreated {
            subscription_id: id.into(),
            expires_at: Utc::now() + chrono::Duration::days(6),
            private: SubscriptionPrivate { client_state: state.into() },
        }
    }

    fn renewed(id: &str, days: i64) -> MailboxEvent {
        MailboxEvent::SubscriptionRenewed {
            subscription_id: id.into(),
            expires_at: Utc::now() + chrono::Duration::days(days),
        }
    }

    #[test]
    fn the_webhook_keeps_the_latest_subscription_and_the_scheduler_its_status() {
        let index = SubscriptionIndex::new(KeyRing::new(DataKey::generate("k1").unwrap()));
        let (m, other) = (mailbox(), mailbox());
        index.observe(m, &MailboxEvent::MailboxEnabled { locale: None });
        assert_eq!(index.mailboxes(), vec![(m, MailboxEntry { enabled: true, ..Default::default() })]);
        assert_eq!(index.mailboxes()[0].1.status(), "pending");
        index.observe(m, &created("s1", "state-1"));
        index.observe(other, &created("o1", "state-o"));
        assert_eq!(index.get("s1"), Some(KnownSubscription { mailbox: m, client_state: "state-1".into() }));
        // The mailboxes come in id order, and the ids are random.
        let entry = |id: MailboxId| index.mailboxes().into_iter().find(|(m, _)| *m == id).map(|(_, e)| e);
        assert_eq!(entry(m).map(|e| e.status()), Some("active"));
        // A lost subscription leaves the status, not the webhook: Graph's removal notice for it
        // still gets in. Losing another id changes nothing.
        index.observe(m, &MailboxEvent::SubscriptionLost { subscription_id: "zz".into(), reason: "removed".into() });
        assert!(index.mailboxes().iter().any(|(id, e)| *id == m && e.subscription.is_some()));
        index.observe(m, &MailboxEvent::SubscriptionLost { subscription_id: "s1".into(), reason: "removed".into() });
        assert!(index.mailboxes().iter().any(|(id, e)| *id == m && e.subscription.is_none()));
        assert!(index.get("s1").is_some());
        // Its successor replaces it for the webhook.
        index.observe(m, &created("s2", "state-2"));
        assert_eq!(index.get("s1"), None);
        assert_eq!(index.get("s2").map(|k| k.client_state), Some("state-2".into()));
        assert_eq!(index.len(), 2);
        // Meeting events do not concern the index; disabling keeps the webhook's subscription.
        index.observe(m, &MailboxEvent::MeetingCancelled { event_id: hcal_actors::ids::GraphEventId::new("e") });
        index.observe(m, &MailboxEvent::MailboxDisabled {});
        assert!(index.get("s2").is_some());
        assert!(index.mailboxes().iter().any(|(id, e)| *id == m && e.status() == "disabled"));
        let shown = format!("{:?} {:?}", index, index.get("s2"));
        assert!(!shown.contains("state-2"), "{shown}");
    }

    #[test]
    fn known_ids_are_what_the_webhook_accepts_and_what_the_mailboxes_renew() {
        let index = SubscriptionIndex::new(KeyRing::new(DataKey::generate("k1").unwrap()));
        let (m, other) = (mailbox(), mailbox());
        let known = |ids: &[&str]| ids.iter().map(|id| (*id).to_owned()).collect::<std::collections::HashSet<_>>();
        assert!(index.known_ids().is_empty());
        index.observe(m, &created("s1", "state-1"));
        index.observe(other, &created("o1", "state-o"));
        assert_eq!(index.known_ids(), known(&["s1", "o1"]));
        // Lost: still accepted by the webhook, so still known.
        index.observe(m, &MailboxEvent::SubscriptionLost { subscription_id: "s1".into(), reason: "removed".into() });
        assert_eq!(index.known_ids(), known(&["s1", "o1"]));
        // Replaced: the old one is known no more.
        index.observe(m, &created("s2", "state-2"));
        assert_eq!(index.known_ids(), known(&["s2", "o1"]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_this_process_created_is_accepted_before_the_follower_reads_its_record() {
        let mut w = World::new();
        let (index, _, _) = w.index().await;
        let index = Arc::new(index);
        let m = mailbox();
        let graph = Arc::new(hcal_actors::doubles::FakeSubscriptions::default());
        let port = Announcing { inner: graph.clone(), index: index.clone() };
        let (id, _) = port.create(&m, "fresh-state", Utc::now() + chrono::Duration::days(2)).await.unwrap();
        // Nothing recorded, nothing read: the webhook knows it anyway, and the orphan sweep
        // does not take it for an orphan.
        assert_eq!(index.get(&id), Some(KnownSubscription { mailbox: m, client_state: "fresh-state".into() }));
        assert!(index.known_ids().contains(&id));
        assert_eq!(index.mailboxes(), vec![], "the scheduler still learns of it from the log only");
        // Once the follower reads the record, the record is what answers.
        w.event(m, created(&id, "fresh-state")).await;
        catch_up(&w.log, &w.store, &w.ring, &[index.as_ref()]).await.unwrap();
        assert!(index.announced.lock().is_empty());
        assert_eq!(index.get(&id).map(|k| k.mailbox), Some(m));
        // A creation never recorded (the append failed) is accepted for a bounded time only.
        let (lost, _) = port.create(&m, "lost-state", Utc::now() + chrono::Duration::days(2)).await.unwrap();
        assert!(index.get(&lost).is_some());
        tokio::time::advance(ANNOUNCED_FOR).await;
        let (later, _) = port.create(&m, "later-state", Utc::now() + chrono::Duration::days(2)).await.unwrap();
        assert_eq!(index.get(&lost), None);
        assert!(index.get(&later).is_some());
        // A failed creation announces nothing.
        graph.fail("create", [GraphFailure::Transient("down".into())]);
        assert!(port.create(&m, "refused", Utc::now()).await.is_err());
        assert_eq!(index.announced.lock().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_index_keeps_the_latest_instant_the_follower_caught_up_to() {
        let index = SubscriptionIndex::new(KeyRing::new(DataKey::generate("k1").unwrap()));
        assert_eq!(index.caught_up_as_of(), None);
        let first = tokio::time::Instant::now();
        Projection::caught_up(&index, first + Duration::from_secs(5));
        Projection::caught_up(&index, first);
        assert_eq!(index.caught_up_as_of(), Some(first + Duration::from_secs(5)), "never moved back");
    }

    #[tokio::test]
    async fn a_reopened_index_resumes_from_its_rows_and_positions_instead_of_rescanning() {
        let mut w = World::new();
        let mailboxes: Vec<MailboxId> = (0..60).map(|_| mailbox()).collect();
        for (n, m) in mailboxes.iter().enumerate() {
            w.event(*m, MailboxEvent::MailboxEnabled { locale: None }).await;
            w.event(*m, created(&format!("sub-{n}"), &format!("state-{n}"))).await;
            for day in 0..5 {
                w.event(*m, renewed(&format!("sub-{n}"), day)).await;
            }
        }
        let total = 60 * 7;
        let (index, _, read) = w.index().await;
        assert_eq!(read, total, "the first build reads everything");
        assert_eq!(index.len(), 60);
        let expected = index.mailboxes();
        drop(index);

        // Reopened: every row is back before a single event is read, and catching up reads none.
        let (index, loaded, read) = w.index().await;
        assert_eq!((loaded, read), (0, 0));
        assert_eq!(index.mailboxes(), expected);
        assert_eq!(index.get("sub-7").map(|k| (k.mailbox, k.client_state)), Some((mailboxes[7], "state-7".into())));
        // Its positions are the log's ends (on the log's partitions, more than the store has).
        for partition in 0..w.log.partitions(MAILBOX_EVENTS) {
            let end =
                w.log.log.read(MAILBOX_EVENTS, partition, 0, 10_000).await.unwrap().last().map_or(0, |r| r.offset + 1);
            assert_eq!(w.store.projection_position(SUBSCRIPTION_INDEX, MAILBOX_EVENTS, partition).await.unwrap(), end);
        }
        drop(index);

        // What happened while it was closed is all it reads.
        w.event(mailboxes[3], created("sub-3b", "state-3b")).await;
        w.event(mailboxes[4], MailboxEvent::MailboxDisabled {}).await;
        let (index, _, read) = w.index().await;
        assert_eq!(read, 2);
        assert_eq!(index.get("sub-3"), None);
        assert_eq!(index.get("sub-3b").map(|k| k.client_state), Some("state-3b".into()));
        assert!(index.mailboxes().iter().any(|(m, e)| *m == mailboxes[4] && !e.enabled));
    }

    #[tokio::test]
    async fn client_states_are_sealed_in_their_rows_and_a_row_that_does_not_open_rebuilds_the_index() {
        let mut w = World::new();
        let (a, b) = (mailbox(), mailbox());
        w.event(a, created("sub-a", "CLIENT-STATE-A")).await;
        w.event(b, created("sub-b", "CLIENT-STATE-B")).await;
        drop(w.index().await);
        let rows = w.store.projection_scan(SUBSCRIPTION_INDEX, "").await.unwrap();
        assert_eq!(rows.len(), 2);
        for (_, value) in &rows {
            let text = String::from_utf8_lossy(value);
            assert!(!text.contains("CLIENT-STATE"), "{text}");
        }
        // A's sealed row under B's key: the seal is bound to its mailbox, so it does not open,
        // and the index is rebuilt from the log rather than trusted.
        let a_row = rows.iter().find(|(k, _)| *k == a.to_string()).map(|(_, v)| v.clone()).unwrap();
        let swap = ProjectionBatch { upserts: vec![(b.to_string(), a_row)], ..Default::default() };
        w.store.projection_apply(SUBSCRIPTION_INDEX, swap).await.unwrap();
        let (index, _, read) = w.index().await;
        assert_eq!(read, 2, "rebuilt from the start");
        assert_eq!(index.get("sub-b").map(|k| (k.mailbox, k.client_state)), Some((b, "CLIENT-STATE-B".into())));
        assert_eq!(index.get("sub-a").map(|k| k.mailbox), Some(a));
    }

    #[tokio::test]
    async fn a_failed_commit_leaves_memory_rows_and_positions_as_they_were() {
        let mut w = World::new();
        let m = mailbox();
        w.event(m, created("sub-1", "s1")).await;
        let (index, _, _) = w.index().await;
        w.event(m, created("sub-2", "s2")).await;
        // A position no store can hold makes the batch fail after the fold.
        let env = Envelope {
            event_id: uuid::Uuid::new_v4(),
            mailbox: m,
            seq: 9,
            occurred_at: Utc::now(),
            causation_id: "test".into(),
            event: created("sub-3", "s3"),
        };
        let impossible = Position { partition: 0, next: u64::MAX };
        assert!(index.apply(&w.store, &[env], impossible).await.is_err());
        assert!(index.get("sub-1").is_some() && index.get("sub-3").is_none());
        catch_up(&w.log, &w.store, &w.ring, &[&index]).await.unwrap();
        assert!(index.get("sub-2").is_some() && index.get("sub-1").is_none());
    }
}
