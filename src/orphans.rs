//! The orphan sweep: deletes Graph subscriptions that deliver to this installation's webhook
//! but that no mailbox has.
//!
//! A process killed between Graph creating a subscription and hcal recording it
//! (`SubscriptionCreated`) leaves the subscription behind: Graph keeps delivering to it until
//! it expires (up to a week) and the webhook refuses every delivery, while the restarted
//! mailbox creates another one. Nothing in the log names the orphan, so the sweep asks Graph:
//! at start and then every `[service] orphan_sweep_every`, per tenant, it lists the
//! application's subscriptions and deletes those whose `notificationUrl` is this installation's
//! `{public_url}/webhook/graph` and whose id the subscription index does not know. Subscriptions
//! pointing anywhere else (another installation of the same application) are never touched.
//!
//! # The grace period
//!
//! A subscription created a moment ago is listed before its `SubscriptionCreated` reaches the
//! index, so "unknown" alone must not mean "orphan". Graph's list says nothing of when a
//! subscription was created, and its expiry says little: Graph may grant less than was asked
//! and another process may ask for another lifetime, so an age read from it could make a fresh
//! subscription look old. The sweep therefore remembers each unknown id from the moment it first
//! saw it listed and deletes it only when it is still unknown once the index has caught up with
//! the log past that moment plus `[service] orphan_grace` (ten minutes by default). A live
//! creator records its subscription within moments of Graph's answer, so by then the index has
//! it; an index that lags (a process cut off from Kafka) reports an older catch-up instant and
//! the sweep waits for it instead of deleting. A round that leaves unknown ids waiting sweeps
//! again after the grace period rather than the next day, so an orphan found at start is gone
//! minutes later. A creator stalled for longer than the grace between Graph's answer and its
//! record would lose its subscription: the mailbox then finds it gone at its next renewal and
//! recreates it with a resync, as after any subscription Graph removed.
//!
//! # Several processes
//!
//! In kafka mode every process sweeps, each against its own index: deleting a subscription that
//! is already gone is harmless (Graph's 404 counts as deleted), and the grace period keeps a
//! process whose index lags from deleting another process's new subscription.
//!
//! Logs name subscription ids and mailbox GUIDs only; Graph lists no client state, and no URL
//! is logged.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hcal_actors::ids::{SubscriptionId, TenantId};
use hcal_actors::ports::GraphFailure;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::graph::{GraphClient, ListedSubscription};
use crate::metrics::Metrics;
use crate::projections::subscriptions::SubscriptionIndex;

/// Counter of orphans deleted.
pub const DELETED: &str = "hcal_orphan_subscriptions_deleted_total";
/// Counter of failed Graph calls of the sweep, by `reason`.
pub const FAILURES: &str = "hcal_orphan_sweep_failures_total";
/// Gauge of unknown subscriptions waiting out the grace period after the last round.
pub const SUSPECTED: &str = "hcal_orphan_subscriptions_suspected";

/// How much later than the grace period a waiting round comes back: the index's follower
/// reports its catch-up after each pass, so a round exactly at the end of the grace period
/// could find the report a pass short.
const RECHECK_MARGIN: Duration = Duration::from_secs(1);

/// The two Graph calls the sweep makes, so a round can be tested without HTTP.
#[async_trait]
pub trait SubscriptionDirectory: Send + Sync {
    /// Every subscription the application created in `tenant`.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<ListedSubscription>, GraphFailure>;
    /// Deletes one; one already gone counts as deleted.
    async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<(), GraphFailure>;
}

#[async_trait]
impl SubscriptionDirectory for GraphClient {
    async fn list(&self, tenant: &TenantId) -> Result<Vec<ListedSubscription>, GraphFailure> {
        self.list_subscriptions(tenant).await
    }

    async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<(), GraphFailure> {
        self.delete_subscription(tenant, id).await
    }
}

/// What one look at a tenant's subscriptions concluded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Unknown past the grace period: to delete.
    pub orphans: Vec<ListedSubscription>,
    /// Unknown, still within the grace period, with when each was first seen: to look at again.
    pub suspects: HashMap<SubscriptionId, Instant>,
}

/// Which of a tenant's `listed` subscriptions are orphans: those delivering to `webhook_url`
/// (compared as written: hcal creates them with exactly this URL) whose id is not `known`, and
/// that were first seen (in `suspects` from earlier rounds, else `seen_at`, when this listing
/// returned) at least `grace` before `index_as_of`, the instant before which the index holds
/// every recorded event. Everything else unknown is a suspect with its first sighting;
/// suspects no longer listed are forgotten, as are known ones.
pub fn judge(
    listed: &[ListedSubscription],
    webhook_url: &str,
    known: &HashSet<SubscriptionId>,
    suspects: &HashMap<SubscriptionId, Instant>,
    seen_at: Instant,
    index_as_of: Option<Instant>,
    grace: Duration,
) -> Verdict {
    let mut verdict = Verdict::default();
    for sub in listed {
        if sub.notification_url != webhook_url || known.contains(&sub.id) {
            continue;
        }
        let first_seen = suspects.get(&sub.id).copied().unwrap_or(seen_at);
        let past_grace = first_seen.checked_add(grace).zip(index_as_of).is_some_and(|(due, as_of)| as_of >= due);
        if past_grace {
            verdict.orphans.push(sub.clone());
        } else {
            verdict.suspects.insert(sub.id, first_seen);
        }
    }
    verdict
}

/// The outcome of one round over every tenant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Orphans deleted.
    pub deleted: usize,
    /// Unknown subscriptions still within their grace period (failed deletions included).
    pub suspected: usize,
    /// Tenants whose list could not be read for a passing reason (throttled, unavailable). A
    /// refusal (no consent in the tenant yet) waits for the next regular round instead.
    pub unlisted: usize,
}

impl Round {
    /// Whether the next round should come after the grace period rather than the interval:
    /// something is waiting out its grace, or a tenant could not be looked at.
    pub fn pending(&self) -> bool {
        self.suspected > 0 || self.unlisted > 0
    }
}

/// Sweeps orphaned subscriptions of every tenant (see the module documentation).
pub struct OrphanSweep {
    directory: Arc<dyn SubscriptionDirectory>,
    index: Arc<SubscriptionIndex>,
    metrics: Arc<Metrics>,
    webhook_url: String,
    tenants: Vec<TenantId>,
    grace: Duration,
    /// Unknown ids per tenant with when they were first seen listed.
    suspects: Mutex<HashMap<TenantId, HashMap<SubscriptionId, Instant>>>,
}

impl std::fmt::Debug for OrphanSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrphanSweep")
            .field("tenants", &self.tenants)
            .field("grace", &self.grace)
            .field("suspects", &self.suspects.lock().values().map(HashMap::len).sum::<usize>())
            .finish_non_exhaustive()
    }
}

impl OrphanSweep {
    /// A sweep of `tenants` (and of every tenant with a mailbox in `index`) for subscriptions
    /// delivering to `webhook_url`, deleting them after `grace`.
    pub fn new(
        directory: Arc<dyn SubscriptionDirectory>,
        index: Arc<SubscriptionIndex>,
        metrics: Arc<Metrics>,
        webhook_url: String,
        tenants: Vec<TenantId>,
        grace: Duration,
    ) -> Self {
        Self { directory, index, metrics, webhook_url, tenants, grace, suspects: Mutex::new(HashMap::new()) }
    }

    /// The configured tenants and those of known mailboxes, each once.
    fn tenants(&self) -> BTreeSet<TenantId> {
        let mut tenants: BTreeSet<TenantId> = self.tenants.iter().copied().collect();
        tenants.extend(self.index.mailboxes().into_iter().map(|(mailbox, _)| mailbox.tenant));
        tenants
    }

    /// One round: lists each tenant's subscriptions, deletes its orphans, remembers its
    /// suspects. A tenant whose list fails keeps the suspects it had.
    pub async fn sweep(&self) -> Round {
        let mut round = Round::default();
        for tenant in self.tenants() {
            let listed = match self.directory.list(&tenant).await {
                Ok(listed) => listed,
                Err(failure) => {
                    self.metrics.inc(FAILURES, "reason", reason("list", &failure));
                    tracing::warn!(tenant = %tenant, error = %failure, "listing the subscriptions for the orphan sweep failed");
                    round.unlisted += usize::from(failure.is_retryable());
                    round.suspected += self.suspects.lock().get(&tenant).map_or(0, HashMap::len);
                    continue;
                }
            };
            let seen_at = Instant::now();
            // The catch-up instant first, then the ids: the ids are at least that current.
            let index_as_of = self.index.caught_up_as_of();
            let known: HashSet<SubscriptionId> =
                self.index.known_ids().iter().filter_map(|id| SubscriptionId::parse(id).ok()).collect();
            let earlier = self.suspects.lock().get(&tenant).cloned().unwrap_or_default();
            let mut verdict = judge(&listed, &self.webhook_url, &known, &earlier, seen_at, index_as_of, self.grace);
            for sub in verdict.suspects.keys().filter(|id| !earlier.contains_key(id)) {
                tracing::debug!(tenant = %tenant, subscription = %sub, "an unknown subscription waits out the grace period");
            }
            for orphan in verdict.orphans {
                let user = orphan.user.map(|u| u.to_string()).unwrap_or_default();
                match self.directory.delete(&tenant, &orphan.id).await {
                    Ok(()) => {
                        self.metrics.inc(DELETED, "", "");
                        tracing::info!(tenant = %tenant, user = %user, subscription = %orphan.id, "deleted an orphaned subscription");
                        round.deleted += 1;
                    }
                    Err(failure) => {
                        self.metrics.inc(FAILURES, "reason", reason("delete", &failure));
                        tracing::warn!(tenant = %tenant, user = %user, subscription = %orphan.id, error = %failure, "deleting an orphaned subscription failed");
                        // Still an orphan: the next round tries again.
                        let first_seen = earlier.get(&orphan.id).copied().unwrap_or(seen_at);
                        verdict.suspects.insert(orphan.id, first_seen);
                    }
                }
            }
            round.suspected += verdict.suspects.len();
            self.suspects.lock().insert(tenant, verdict.suspects);
        }
        self.metrics.set(SUSPECTED, i64::try_from(round.suspected).unwrap_or(i64::MAX));
        round
    }

    /// Sweeps at once, then every `every`; after a round that left something waiting, again
    /// once the grace period has passed.
    pub async fn run(self: Arc<Self>, every: Duration) {
        loop {
            let round = self.sweep().await;
            let wait = if round.pending() { every.min(self.grace + RECHECK_MARGIN) } else { every };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The fixed `reason` label of a failed call.
fn reason(call: &'static str, failure: &GraphFailure) -> &'static str {
    match (call, failure) {
        ("list", GraphFailure::Throttled { .. }) => "list_throttled",
        ("list", GraphFailure::Transient(_)) => "list_unavailable",
        ("list", _) => "list_refused",
        (_, GraphFailure::Throttled { .. }) => "delete_throttled",
        (_, GraphFailure::Transient(_)) => "delete_unavailable",
        _ => "delete_refused",
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use hcal_actors::ids::{MailboxId, UserObjectId};
    use hcal_actors::mailbox::events::{MailboxEvent, SubscriptionPrivate};
    use hcal_actors::seal::{DataKey, KeyRing};

    use super::*;
    use crate::projections::Projection;

    const HOOK: &str = "https://hcal.example/webhook/graph";
    const GRACE: Duration = Duration::from_secs(600);

    fn id(n: u128) -> SubscriptionId {
        SubscriptionId::parse(&uuid::Uuid::from_u128(n).to_string()).unwrap()
    }

    fn listed(n: u128, url: &str) -> ListedSubscription {
        ListedSubscription {
            id: id(n),
            notification_url: url.to_owned(),
            user: Some(UserObjectId::parse("6f0c5b0e-6a4a-4a55-9f4c-2f7c3f8c9d01").unwrap()),
            expiration: None,
        }
    }

    fn ids(orphans: &[ListedSubscription]) -> Vec<SubscriptionId> {
        orphans.iter().map(|s| s.id).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_subscription_is_an_orphan_only_once_the_index_is_current_past_its_grace() {
        let t0 = Instant::now();
        let all = [listed(1, HOOK)];
        let none = HashSet::new();
        // First sighting: a suspect, however current the index.
        let first = judge(&all, HOOK, &none, &HashMap::new(), t0, Some(t0), GRACE);
        assert!(first.orphans.is_empty());
        assert_eq!(first.suspects, HashMap::from([(id(1), t0)]));
        // Seen again before the grace has passed: still a suspect, first sighting kept.
        let later = t0 + GRACE / 2;
        let again = judge(&all, HOOK, &none, &first.suspects, later, Some(later), GRACE);
        assert!(again.orphans.is_empty());
        assert_eq!(again.suspects, first.suspects);
        // Past the grace, but the index has not caught up past it: wait.
        let late = t0 + GRACE * 2;
        let lagging = judge(&all, HOOK, &none, &first.suspects, late, Some(t0 + GRACE / 2), GRACE);
        assert!(lagging.orphans.is_empty());
        assert_eq!(lagging.suspects, first.suspects);
        let unknown_index = judge(&all, HOOK, &none, &first.suspects, late, None, GRACE);
        assert!(unknown_index.orphans.is_empty());
        // Past the grace with the index current past it: an orphan.
        let due = judge(&all, HOOK, &none, &first.suspects, late, Some(t0 + GRACE), GRACE);
        assert_eq!(ids(&due.orphans), vec![id(1)]);
        assert!(due.suspects.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn known_subscriptions_and_other_urls_are_never_orphans_and_forgotten_suspects_start_over() {
        let t0 = Instant::now();
        let late = t0 + GRACE * 3;
        let listed = [
            listed(1, HOOK),
            listed(2, HOOK),
            listed(3, "https://other.example/webhook/graph"),
            listed(4, "https://hcal.example/webhook/graph/lifecycle"),
            listed(5, "https://HCAL.example/webhook/graph"),
            listed(6, HOOK),
        ];
        // 2 became known since it was first seen (its record reached the index); 6 was never
        // seen before; the others point elsewhere.
        let known = HashSet::from([id(2)]);
        let earlier = HashMap::from([(id(1), t0), (id(2), t0), (id(3), t0), (id(9), t0)]);
        let verdict = judge(&listed, HOOK, &known, &earlier, late, Some(late), GRACE);
        assert_eq!(ids(&verdict.orphans), vec![id(1)]);
        // 9 is no longer listed: forgotten; 6 starts its grace now.
        assert_eq!(verdict.suspects, HashMap::from([(id(6), late)]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_grace_too_long_to_add_never_deletes() {
        let t0 = Instant::now();
        let verdict = judge(&[listed(1, HOOK)], HOOK, &HashSet::new(), &HashMap::new(), t0, Some(t0), Duration::MAX);
        assert!(verdict.orphans.is_empty());
        assert_eq!(verdict.suspects.len(), 1);
    }

    /// Graph's side of the sweep: a tenant's subscriptions, and failures to inject.
    #[derive(Default)]
    struct FakeGraph {
        subscriptions: Mutex<HashMap<TenantId, Vec<ListedSubscription>>>,
        fail_list: Mutex<Option<GraphFailure>>,
        fail_delete: Mutex<Option<GraphFailure>>,
        deleted: Mutex<Vec<SubscriptionId>>,
    }

    #[async_trait]
    impl SubscriptionDirectory for FakeGraph {
        async fn list(&self, tenant: &TenantId) -> Result<Vec<ListedSubscription>, GraphFailure> {
            if let Some(failure) = self.fail_list.lock().clone() {
                return Err(failure);
            }
            Ok(self.subscriptions.lock().get(tenant).cloned().unwrap_or_default())
        }

        async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<(), GraphFailure> {
            if let Some(failure) = self.fail_delete.lock().clone() {
                return Err(failure);
            }
            self.deleted.lock().push(*id);
            if let Some(subs) = self.subscriptions.lock().get_mut(tenant) {
                subs.retain(|s| s.id != *id);
            }
            Ok(())
        }
    }

    fn tenant() -> TenantId {
        TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap()
    }

    fn created(n: u128) -> MailboxEvent {
        MailboxEvent::SubscriptionCreated {
            subscription_id: id(n).to_string(),
            expires_at: Utc::now(),
            private: SubscriptionPrivate { client_state: "state".into() },
        }
    }

    struct World {
        graph: Arc<FakeGraph>,
        index: Arc<SubscriptionIndex>,
        metrics: Arc<Metrics>,
        sweep: OrphanSweep,
    }

    fn world() -> World {
        let graph = Arc::new(FakeGraph::default());
        let index = Arc::new(SubscriptionIndex::new(KeyRing::new(DataKey::generate("k1").unwrap())));
        let metrics = Arc::new(Metrics::default());
        let sweep = OrphanSweep::new(graph.clone(), index.clone(), metrics.clone(), HOOK.into(), vec![tenant()], GRACE);
        World { graph, index, metrics, sweep }
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_deletes_what_stayed_unknown_and_keeps_what_got_recorded() {
        let w = world();
        let mailbox = |n: u128| MailboxId {
            tenant: tenant(),
            user: UserObjectId::parse(&uuid::Uuid::from_u128(n).to_string()).unwrap(),
        };
        // 1: a mailbox's recorded subscription; 2: an orphan; 3: another mailbox's, created a
        // moment ago, its record not yet followed; 4: another installation's.
        w.index.observe(mailbox(71), &created(1));
        let other = "https://other.example/webhook/graph";
        let all = vec![listed(1, HOOK), listed(2, HOOK), listed(3, HOOK), listed(4, other)];
        w.graph.subscriptions.lock().insert(tenant(), all);
        w.index.caught_up(Instant::now());
        let round = w.sweep.sweep().await;
        assert_eq!(round, Round { deleted: 0, suspected: 2, unlisted: 0 });
        assert!(round.pending());
        assert!(w.metrics.render().contains("hcal_orphan_subscriptions_suspected 2"));

        // The record of 3 arrives; the grace passes and the index follows past it.
        w.index.observe(mailbox(72), &created(3));
        tokio::time::advance(GRACE + RECHECK_MARGIN).await;
        w.index.caught_up(Instant::now());
        let round = w.sweep.sweep().await;
        assert_eq!(round, Round { deleted: 1, suspected: 0, unlisted: 0 });
        assert!(!round.pending());
        assert_eq!(*w.graph.deleted.lock(), vec![id(2)]);
        assert_eq!(w.metrics.get(DELETED, "", ""), 1);
        assert!(w.metrics.render().contains("hcal_orphan_subscriptions_suspected 0"));

        // A subscription replaced by its mailbox's next one becomes unknown: a suspect first.
        w.index.observe(mailbox(71), &created(5));
        w.graph.subscriptions.lock().entry(tenant()).or_default().push(listed(5, HOOK));
        assert_eq!(w.sweep.sweep().await, Round { deleted: 0, suspected: 1, unlisted: 0 });
        assert_eq!(w.sweep.suspects.lock()[&tenant()].keys().copied().collect::<Vec<_>>(), vec![id(1)]);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_counted_by_reason_and_the_suspects_wait_for_the_next_round() {
        let w = world();
        w.graph.subscriptions.lock().insert(tenant(), vec![listed(2, HOOK)]);
        w.index.caught_up(Instant::now());
        assert_eq!(w.sweep.sweep().await.suspected, 1);
        tokio::time::advance(GRACE).await;
        w.index.caught_up(Instant::now());

        *w.graph.fail_list.lock() = Some(GraphFailure::Throttled { retry_after_secs: 1.0 });
        let round = w.sweep.sweep().await;
        assert_eq!(round, Round { deleted: 0, suspected: 1, unlisted: 1 });
        assert_eq!(w.metrics.get(FAILURES, "reason", "list_throttled"), 1);
        // A refusal does not bring the next round forward; the suspect is kept all the same.
        *w.graph.fail_list.lock() = Some(GraphFailure::Fatal { status: 403, code: "Forbidden".into() });
        assert_eq!(w.sweep.sweep().await, Round { deleted: 0, suspected: 1, unlisted: 0 });
        assert_eq!(w.metrics.get(FAILURES, "reason", "list_refused"), 1);
        *w.graph.fail_list.lock() = None;

        *w.graph.fail_delete.lock() = Some(GraphFailure::Transient("timeout".into()));
        let round = w.sweep.sweep().await;
        assert_eq!(round, Round { deleted: 0, suspected: 1, unlisted: 0 });
        assert_eq!(w.metrics.get(FAILURES, "reason", "delete_unavailable"), 1);
        *w.graph.fail_delete.lock() = None;

        // The failed deletion kept its first sighting: deleted at the next round.
        assert_eq!(w.sweep.sweep().await.deleted, 1);
        assert_eq!(w.metrics.get(DELETED, "", ""), 1);
    }

    #[test]
    fn failure_reasons_are_a_fixed_vocabulary() {
        let fatal = GraphFailure::Fatal { status: 403, code: "Forbidden".into() };
        assert_eq!(reason("list", &fatal), "list_refused");
        assert_eq!(reason("delete", &GraphFailure::Throttled { retry_after_secs: 2.0 }), "delete_throttled");
        assert_eq!(reason("delete", &GraphFailure::NotInScope { code: "x".into() }), "delete_refused");
    }
}
