//! Reading automatic replies under a budget, and the timers of scheduled windows.
//!
//! Graph sends no change notification for mailbox settings, so they are polled. The
//! [`Poller`] reads each enabled mailbox this process owns every `cadence` (every
//! `soon_cadence` when a scheduled window begins or ends within `soon`), each mailbox at its own
//! phase of the cadence (from a hash of its id, plus a little jitter) so that a tenant's
//! request rate stays flat; reads go in `$batch` requests; a tenant's requests in any minute
//! never exceed `budget_per_minute` (reads wait their turn, the most overdue first); a
//! throttled read or batch pauses that tenant's reads for the time Graph asked, and touches
//! nothing else (the Graph client's per-mailbox gates, which pace change handling, are not
//! involved). A read is logged to the mailbox (admin command `recordSettings`) only when it
//! differs from what the presence index holds, so an idle mailbox costs one Graph request per
//! cadence and nothing in the logs.
//!
//! The [`Timers`] fire at a recorded window's start and end: when the presence a mailbox's
//! setting means now differs from the one it recorded, `applyPresence` goes to its input log,
//! and the mailbox records the change in order with everything else. No read is needed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
use hcal_actors::log::partition_for;
use hcal_actors::notification::AdminCommand;
use hcal_actors::ports::GraphFailure;
use parking_lot::Mutex;

use super::config::PresenceConfig;
use crate::clock::Clock;
use crate::dispatch::Ownership;
use crate::graph::{GraphClient, MailboxSettings};
use crate::inbox::Inbox;
use crate::metrics::Metrics;
use crate::projections::presence::{PresenceEntry, PresenceIndex};

/// Reads the settings of a few mailboxes of one tenant at once.
#[async_trait]
pub trait SettingsReader: Send + Sync {
    /// One result per user, in order; `Err` when the request as a whole failed.
    async fn read(
        &self,
        tenant: TenantId,
        users: &[UserObjectId],
    ) -> Result<Vec<Result<MailboxSettings, GraphFailure>>, GraphFailure>;
}

#[async_trait]
impl SettingsReader for GraphClient {
    async fn read(
        &self,
        tenant: TenantId,
        users: &[UserObjectId],
    ) -> Result<Vec<Result<MailboxSettings, GraphFailure>>, GraphFailure> {
        self.batch_mailbox_settings(tenant, users).await
    }
}

/// Which partition of the notifications log a mailbox's inputs go to, and so who owns it.
#[derive(Clone)]
pub struct Owner {
    ownership: Arc<Ownership>,
    partitions: u32,
}

impl Owner {
    /// Ownership as the dispatcher keeps it, over `partitions` notification partitions.
    pub fn new(ownership: Arc<Ownership>, partitions: u32) -> Self {
        Self { ownership, partitions }
    }

    /// Whether this process owns `mailbox`.
    pub fn owns(&self, mailbox: &MailboxId) -> bool {
        self.ownership.owns(partition_for(&mailbox.to_string(), self.partitions))
    }

    /// The partition count, for logs.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }
}

/// Per-tenant bookkeeping of the poller.
#[derive(Debug, Default)]
struct Tenant {
    /// When each request of the last minute was made.
    spent: VecDeque<DateTime<Utc>>,
    /// No reads before this (Graph throttled them).
    paused_until: Option<DateTime<Utc>>,
}

/// Polls automatic replies. See the module documentation.
pub struct Poller {
    reader: Arc<dyn SettingsReader>,
    inbox: Inbox,
    index: Arc<PresenceIndex>,
    owner: Owner,
    clock: Arc<Clock>,
    metrics: Arc<Metrics>,
    config: PresenceConfig,
    next_due: Mutex<HashMap<MailboxId, DateTime<Utc>>>,
    tenants: Mutex<HashMap<TenantId, Tenant>>,
}

/// What one round of the poller did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Mailboxes read (requests made).
    pub read: usize,
    /// Reads that differed from what was known and were logged.
    pub logged: usize,
    /// Mailboxes due but left for a later round (budget spent or tenant paused).
    pub deferred: usize,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Poller {
    /// A poller reading through `reader`.
    pub fn new(
        reader: Arc<dyn SettingsReader>,
        inbox: Inbox,
        index: Arc<PresenceIndex>,
        owner: Owner,
        clock: Arc<Clock>,
        metrics: Arc<Metrics>,
        config: PresenceConfig,
    ) -> Self {
        Self {
            reader,
            inbox,
            index,
            owner,
            clock,
            metrics,
            config,
            next_due: Mutex::default(),
            tenants: Mutex::default(),
        }
    }

    /// The mailbox's phase within the cadence: where in each cadence its reads fall.
    fn phase(&self, mailbox: &MailboxId) -> chrono::Duration {
        let cadence = self.config.cadence.as_millis().max(1) as u64;
        let hash = u64::from(hcal_actors::log::murmur2(mailbox.to_string().as_bytes()));
        chrono::Duration::milliseconds(i64::try_from(hash % cadence).unwrap_or(0))
    }

    /// When the mailbox is read next after a read at `now`.
    fn next_after(&self, entry: Option<&PresenceEntry>, now: DateTime<Utc>) -> DateTime<Utc> {
        let soon = entry.and_then(|e| e.next_boundary(now)).is_some_and(|at| at - now <= chrono(self.config.soon));
        let cadence = if soon { self.config.soon_cadence } else { self.config.cadence };
        // Up to 2 % either way, so mailboxes enabled together drift apart.
        let spread = (cadence.as_millis() / 50).max(1) as i64;
        let jitter = rand::random_range(-spread..=spread);
        now + chrono(cadence) + chrono::Duration::milliseconds(jitter)
    }

    /// One round: reads what is due, as far as each tenant's budget allows.
    pub async fn tick(&self) -> Round {
        let now = self.clock.now();
        let mut round = Round::default();
        let entries: HashMap<MailboxId, PresenceEntry> =
            self.index.enabled().into_iter().filter(|(m, _)| self.owner.owns(m)).collect();
        let mut due: HashMap<TenantId, Vec<(DateTime<Utc>, MailboxId)>> = HashMap::new();
        {
            let mut next_due = self.next_due.lock();
            next_due.retain(|m, _| entries.contains_key(m));
            for mailbox in entries.keys() {
                let at = *next_due.entry(*mailbox).or_insert_with(|| now + self.phase(mailbox));
                if at <= now {
                    due.entry(mailbox.tenant).or_default().push((at, *mailbox));
                }
            }
        }
        for (tenant, mut mailboxes) in due {
            mailboxes.sort();
            let allowance = self.allowance(tenant, now);
            round.deferred += mailboxes.len().saturating_sub(allowance);
            mailboxes.truncate(allowance);
            for chunk in mailboxes.chunks(self.config.batch_size.max(1)) {
                let chunk: Vec<MailboxId> = chunk.iter().map(|(_, m)| *m).collect();
                if self.tenants.lock().get(&tenant).and_then(|t| t.paused_until).is_some_and(|at| at > now) {
                    round.deferred += chunk.len();
                    continue;
                }
                self.spend(tenant, now, chunk.len());
                round.read += chunk.len();
                round.logged += self.read(tenant, &chunk, &entries, now).await;
            }
        }
        round
    }

    /// Requests the tenant may make now.
    fn allowance(&self, tenant: TenantId, now: DateTime<Utc>) -> usize {
        let mut tenants = self.tenants.lock();
        let t = tenants.entry(tenant).or_default();
        if t.paused_until.is_some_and(|at| at > now) {
            return 0;
        }
        while t.spent.front().is_some_and(|at| now - *at >= chrono::Duration::minutes(1)) {
            t.spent.pop_front();
        }
        (self.config.budget_per_minute as usize).saturating_sub(t.spent.len())
    }

    fn spend(&self, tenant: TenantId, now: DateTime<Utc>, requests: usize) {
        let mut tenants = self.tenants.lock();
        let t = tenants.entry(tenant).or_default();
        t.spent.extend(std::iter::repeat_n(now, requests));
    }

    fn pause(&self, tenant: TenantId, now: DateTime<Utc>, secs: f64) {
        let wait = chrono::Duration::milliseconds((secs.clamp(1.0, 3600.0) * 1000.0) as i64);
        let mut tenants = self.tenants.lock();
        let t = tenants.entry(tenant).or_default();
        t.paused_until = Some(t.paused_until.map_or(now + wait, |at| at.max(now + wait)));
        tracing::info!(tenant = %tenant, wait_ms = wait.num_milliseconds(), "Graph throttled presence reads; pausing them");
    }

    /// Reads one batch; returns how many reads were logged.
    async fn read(
        &self,
        tenant: TenantId,
        mailboxes: &[MailboxId],
        entries: &HashMap<MailboxId, PresenceEntry>,
        now: DateTime<Utc>,
    ) -> usize {
        let users: Vec<UserObjectId> = mailboxes.iter().map(|m| m.user).collect();
        self.metrics.inc("hcal_presence_batches_total", "", "");
        let results = match self.reader.read(tenant, &users).await {
            Ok(results) => results,
            Err(failure) => {
                self.metrics.add("hcal_presence_reads_total", "outcome", "failed", mailboxes.len() as u64);
                match failure {
                    GraphFailure::Throttled { retry_after_secs } => self.pause(tenant, now, retry_after_secs),
                    other => {
                        tracing::warn!(tenant = %tenant, error = %other, "reading mailbox settings failed");
                        let mut next_due = self.next_due.lock();
                        for m in mailboxes {
                            next_due.insert(*m, self.next_after(entries.get(m), now));
                        }
                    }
                }
                return 0;
            }
        };
        let mut logged = 0;
        for (mailbox, result) in mailboxes.iter().zip(results) {
            let entry = entries.get(mailbox);
            match result {
                Ok(settings) => {
                    self.metrics.inc("hcal_presence_reads_total", "outcome", "ok");
                    self.next_due.lock().insert(*mailbox, self.next_after(entry, now));
                    let Some(replies) = settings.automatic_replies else { continue };
                    let locale = Some(settings.locale).filter(|l| !l.is_empty());
                    let known = entry
                        .is_some_and(|e| e.auto_replies == Some(replies) && (locale.is_none() || e.locale == locale));
                    if known {
                        continue;
                    }
                    let command = AdminCommand::RecordSettings { locale, automatic_replies: replies };
                    match self.inbox.command(*mailbox, command, now).await {
                        Ok(_) => logged += 1,
                        Err(e) => {
                            // Read again next round rather than a cadence later.
                            self.next_due.lock().insert(*mailbox, now);
                            tracing::error!(mailbox = %mailbox, error = %e, "a settings read could not be logged");
                        }
                    }
                }
                Err(GraphFailure::Throttled { retry_after_secs }) => {
                    self.metrics.inc("hcal_presence_reads_total", "outcome", "throttled");
                    self.pause(tenant, now, retry_after_secs);
                }
                Err(failure) => {
                    self.metrics.inc("hcal_presence_reads_total", "outcome", "failed");
                    tracing::debug!(mailbox = %mailbox, error = %failure, "reading mailbox settings failed");
                    self.next_due.lock().insert(*mailbox, self.next_after(entry, now));
                }
            }
        }
        logged
    }

    /// Polls forever, a round every `every`.
    pub async fn run(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let round = self.tick().await;
            if round.deferred > 0 {
                tracing::debug!(deferred = round.deferred, "presence reads wait for budget");
            }
        }
    }
}

/// Fires at scheduled windows' edges. See the module documentation.
pub struct Timers {
    inbox: Inbox,
    index: Arc<PresenceIndex>,
    owner: Owner,
    clock: Arc<Clock>,
    /// When `applyPresence` was last logged per mailbox, so one is not repeated while the
    /// index has yet to see its outcome.
    requested: Mutex<HashMap<MailboxId, DateTime<Utc>>>,
}

/// How long a logged timer is given to show in the index before it is logged again.
const TIMER_PATIENCE: chrono::Duration = chrono::Duration::seconds(10);

impl Timers {
    /// Timers over the mailboxes of `index`.
    pub fn new(inbox: Inbox, index: Arc<PresenceIndex>, owner: Owner, clock: Arc<Clock>) -> Self {
        Self { inbox, index, owner, clock, requested: Mutex::default() }
    }

    /// Logs `applyPresence` for every owned mailbox whose window edge has passed; how many.
    pub async fn tick(&self) -> usize {
        let now = self.clock.now();
        let mut fired = 0;
        for (mailbox, entry) in self.index.enabled() {
            if !entry.due(now) || !self.owner.owns(&mailbox) {
                continue;
            }
            if self.requested.lock().get(&mailbox).is_some_and(|at| now - *at < TIMER_PATIENCE) {
                continue;
            }
            match self.inbox.command(mailbox, AdminCommand::ApplyPresence, now).await {
                Ok(_) => {
                    self.requested.lock().insert(mailbox, now);
                    fired += 1;
                }
                Err(e) => tracing::error!(mailbox = %mailbox, error = %e, "a presence timer could not be logged"),
            }
        }
        fired
    }

    /// Ticks forever.
    pub async fn run(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            self.tick().await;
        }
    }
}
