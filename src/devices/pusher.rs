//! The pusher: keeps every registered device's list equal to its room's bookings.
//!
//! - **Coalesced.** The meeting list and the device index report the rooms they changed
//!   ([`RoomsChanged`]); the pusher waits a short moment (`debounce`) after the first report,
//!   then pushes each changed room's latest list once, so a burst of changes to a room is one
//!   push per device.
//! - **Retried.** A device that is offline or refuses is tried again with backoff, from
//!   `retry_first` doubling up to `retry_max`; since every push carries the whole list, the
//!   retry after a device comes back gives it the current list (a meeting cancelled meanwhile
//!   is gone within one retry interval of its return). A device that does not take the push
//!   (`Unsupported`) is retried at `retry_max` only.
//! - **Refreshed.** Every `refresh` each room's list is pushed again: the rolling window moves
//!   on, and a device that restarted and lost its list gets it back.
//!
//! Each device's last outcome is kept for `hcal devices status` and counted in
//! `hcal_device_pushes_total{outcome}`. Logs name device ids and outcomes only.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hcal_actors::ids::{DeviceId, MailboxId};
use hcal_actors::mailbox::events::DeviceSecret;
use hcal_actors::seal::KeyRing;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;

use super::booking::{Buffers, DeviceBooking};
use super::bookings::{RoomRules, bookings};
use super::push::{DeviceCredentials, DeviceKind, DevicePush, DeviceTarget, PushFailure};
use crate::clock::Clock;
use crate::log::sqlite::SqliteStore;
use crate::metrics::Metrics;
use crate::projections::devices::{Device, DeviceIndex};
use crate::projections::meetings;

/// Counter of pushes by outcome.
pub const PUSHES: &str = "hcal_device_pushes_total";

/// Rooms whose devices' lists may have changed, reported by the projections to the pusher.
#[derive(Debug, Clone, Default)]
pub struct RoomsChanged {
    inner: Arc<(Mutex<BTreeSet<MailboxId>>, Notify)>,
}

impl RoomsChanged {
    /// Reports `rooms` changed.
    pub fn mark(&self, rooms: impl IntoIterator<Item = MailboxId>) {
        let mut any = false;
        {
            let mut set = self.inner.0.lock();
            for room in rooms {
                any |= set.insert(room);
            }
        }
        if any {
            self.inner.1.notify_one();
        }
    }

    /// Waits until some room was reported (or `limit` passed); takes what was reported.
    async fn next(&self, limit: Duration) -> BTreeSet<MailboxId> {
        if self.inner.0.lock().is_empty() {
            let _ = tokio::time::timeout(limit, self.inner.1.notified()).await;
        }
        std::mem::take(&mut *self.inner.0.lock())
    }
}

/// How the pusher paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PusherConfig {
    /// Wait after a change before pushing, so a burst is one push.
    pub debounce: Duration,
    /// First retry after a failed push.
    pub retry_first: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// Every room's list pushed again this often.
    pub refresh: Duration,
    /// The rooms' rules.
    pub rules: RoomRules,
    /// Join-before and keep-after buffers.
    pub buffers: Buffers,
}

impl Default for PusherConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(200),
            retry_first: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            refresh: Duration::from_secs(15 * 60),
            rules: RoomRules::default(),
            buffers: Buffers::default(),
        }
    }
}

/// A device's last push, as `hcal devices status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushStatus {
    /// `ok`, `offline`, `refused`, `unsupported`, or `pending` before the first push.
    pub outcome: &'static str,
    /// When the last push was tried.
    pub attempted_at: Option<DateTime<Utc>>,
    /// When a push last landed.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Bookings in the last list that landed.
    pub bookings: usize,
    /// Failed pushes in a row.
    pub failures: u32,
    /// When the next retry is due, after a failure.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Default for PushStatus {
    fn default() -> Self {
        Self { outcome: "pending", attempted_at: None, delivered_at: None, bookings: 0, failures: 0, retry_at: None }
    }
}

/// The pusher: one task for the process.
pub struct Pusher {
    store: Arc<SqliteStore>,
    ring: KeyRing,
    devices: Arc<DeviceIndex>,
    push: Arc<dyn DevicePush>,
    changed: RoomsChanged,
    clock: Arc<Clock>,
    metrics: Arc<Metrics>,
    config: PusherConfig,
    status: Mutex<HashMap<DeviceId, (PushStatus, Option<tokio::time::Instant>)>>,
    downstream: Option<Arc<crate::projections::downstream::Downstream>>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Pusher {
    /// A pusher over the store's meeting lists and the device index.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<SqliteStore>,
        ring: KeyRing,
        devices: Arc<DeviceIndex>,
        push: Arc<dyn DevicePush>,
        changed: RoomsChanged,
        clock: Arc<Clock>,
        metrics: Arc<Metrics>,
        config: PusherConfig,
    ) -> Self {
        Self {
            store,
            ring,
            devices,
            push,
            changed,
            clock,
            metrics,
            config,
            status: Mutex::new(HashMap::new()),
            downstream: None,
        }
    }

    /// Writing every list it builds to the `room-bookings` topic too (kafka mode).
    pub fn with_downstream(mut self, downstream: Arc<crate::projections::downstream::Downstream>) -> Self {
        self.downstream = Some(downstream);
        self
    }

    /// The buffers the pushed lists carry.
    pub fn buffers(&self) -> Buffers {
        self.config.buffers
    }

    /// A device's last push.
    pub fn status(&self, device: &DeviceId) -> PushStatus {
        self.status.lock().get(device).map(|(s, _)| s.clone()).unwrap_or_default()
    }

    /// The bookings a room's devices get now.
    pub async fn bookings_of(&self, room: &MailboxId) -> Result<Vec<DeviceBooking>, hcal_actors::log::LogError> {
        let (from, to) = self.config.rules.window(self.clock.now());
        let rows = meetings::meetings(&self.store, &self.ring, room, from, to).await?;
        Ok(bookings(&rows, &self.config.rules))
    }

    /// Runs until the process stops: every room with devices first, then changes, retries and
    /// refreshes.
    pub async fn run(self: Arc<Self>) {
        self.changed.mark(self.devices.rooms());
        let mut next_refresh = tokio::time::Instant::now() + self.config.refresh;
        loop {
            let now = tokio::time::Instant::now();
            let due_retry = self.status.lock().values().filter_map(|(_, at)| *at).min();
            let wake = due_retry.map_or(next_refresh, |at| at.min(next_refresh));
            let mut rooms = self.changed.next(wake.saturating_duration_since(now)).await;
            if !rooms.is_empty() {
                // Let the rest of a burst arrive.
                tokio::time::sleep(self.config.debounce).await;
                rooms.extend(self.changed.next(Duration::ZERO).await);
            }
            let now = tokio::time::Instant::now();
            if now >= next_refresh {
                rooms.extend(self.devices.rooms());
                next_refresh = now + self.config.refresh;
            }
            let mut targets: Vec<(DeviceId, Device)> =
                rooms.iter().flat_map(|room| self.devices.of_room(room)).collect();
            let retries: Vec<DeviceId> = self
                .status
                .lock()
                .iter()
                .filter(|(id, (_, at))| at.is_some_and(|at| at <= now) && !targets.iter().any(|(t, _)| t == *id))
                .map(|(id, _)| *id)
                .collect();
            for id in retries {
                match self.devices.get(&id) {
                    Some(device) => targets.push((id, device)),
                    None => {
                        self.status.lock().remove(&id);
                    }
                }
            }
            self.push_all(targets).await;
        }
    }

    /// Pushes each target its room's list, at once (a slow device holds up no other).
    async fn push_all(self: &Arc<Self>, targets: Vec<(DeviceId, Device)>) {
        let mut lists: HashMap<MailboxId, Vec<DeviceBooking>> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (id, device) in targets {
            let list = match lists.get(&device.room) {
                Some(list) => list.clone(),
                None => match self.bookings_of(&device.room).await {
                    Ok(list) => {
                        lists.insert(device.room, list.clone());
                        self.publish(&device.room, &list).await;
                        list
                    }
                    Err(e) => {
                        tracing::warn!(device = %id, error = %e, "the room's bookings could not be read; trying again later");
                        self.failed(id, "unavailable", Duration::ZERO);
                        continue;
                    }
                },
            };
            let this = Arc::clone(self);
            tasks.spawn(async move { this.push_one(id, &device, &list).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Writes a room's list for downstream consumers; a failure is logged, the pushes go on
    /// (the next list of the room is written again).
    async fn publish(&self, room: &MailboxId, list: &[DeviceBooking]) {
        let Some(downstream) = &self.downstream else { return };
        let now = self.clock.now();
        let json = super::booking::roomos_json(list, self.config.buffers);
        if let Err(e) = downstream.room(room, self.config.rules.window(now), list.len(), &json, now).await {
            tracing::warn!(error = %e, "a room's bookings could not be written for downstream consumers");
        }
    }

    async fn push_one(&self, id: DeviceId, device: &Device, list: &[DeviceBooking]) {
        let target = match target_of(id, device, self.config.buffers) {
            Some(target) => target,
            None => {
                tracing::warn!(device = %id, "the device's kind, address or credentials do not fit together");
                self.failed(id, "unsupported", self.config.retry_max);
                return;
            }
        };
        let attempted = self.clock.now();
        match self.push.put(&target, list).await {
            Ok(()) => {
                self.metrics.inc(PUSHES, "outcome", "ok");
                tracing::debug!(device = %id, bookings = list.len(), "bookings pushed");
                let status = PushStatus {
                    outcome: "ok",
                    attempted_at: Some(attempted),
                    delivered_at: Some(attempted),
                    bookings: list.len(),
                    failures: 0,
                    retry_at: None,
                };
                self.status.lock().insert(id, (status, None));
            }
            Err(failure) => {
                let (outcome, wait) = match &failure {
                    PushFailure::Offline(_) => ("offline", Duration::ZERO),
                    PushFailure::Refused { .. } => ("refused", Duration::ZERO),
                    PushFailure::Unsupported => ("unsupported", self.config.retry_max),
                };
                tracing::info!(device = %id, outcome, "push failed; trying again later");
                self.failed(id, outcome, wait);
            }
        }
    }

    /// Records a failed push and schedules its retry: after `at_least`, else the backoff.
    fn failed(&self, id: DeviceId, outcome: &'static str, at_least: Duration) {
        self.metrics.inc(PUSHES, "outcome", outcome);
        let mut status = self.status.lock();
        let (entry, retry) = status.entry(id).or_default();
        entry.failures = entry.failures.saturating_add(1);
        let exponent = entry.failures.saturating_sub(1).min(16);
        let backoff = self.config.retry_first.saturating_mul(1u32 << exponent).min(self.config.retry_max);
        let wait = backoff.max(at_least);
        entry.outcome = outcome;
        entry.attempted_at = Some(self.clock.now());
        entry.retry_at = chrono::Duration::from_std(wait).ok().map(|w| self.clock.now() + w);
        *retry = Some(tokio::time::Instant::now() + wait);
    }
}

/// The push target of a registered device; `None` when its settings cannot work.
pub fn target_of(id: DeviceId, device: &Device, buffers: Buffers) -> Option<DeviceTarget> {
    let kind = kind_of(&device.kind)?;
    let address = url::Url::parse(&device.private.address).ok()?;
    let credentials = match (&device.private.credentials, kind) {
        (DeviceSecret::Basic { username, password }, DeviceKind::RoomOs | DeviceKind::Legacy) => {
            DeviceCredentials::Basic { username: username.clone(), password: password.clone() }
        }
        (DeviceSecret::Bearer { token, cloud_device_id }, DeviceKind::WebexCloud) => {
            DeviceCredentials::Bearer { token: token.clone(), device_id: cloud_device_id.clone() }
        }
        _ => return None,
    };
    Some(DeviceTarget { id: id.to_string(), kind, address, credentials, buffers })
}

/// A device kind by its wire name (`roomOs`, `legacy`, `webexCloud`).
pub fn kind_of(name: &str) -> Option<DeviceKind> {
    match name {
        "roomOs" => Some(DeviceKind::RoomOs),
        "legacy" => Some(DeviceKind::Legacy),
        "webexCloud" => Some(DeviceKind::WebexCloud),
        _ => None,
    }
}
