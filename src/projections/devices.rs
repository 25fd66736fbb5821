//! The device index: every room device registered, with its room, how it is reached and its
//! credentials, for the pusher and the admin API.
//!
//! A projection of `mailbox-events` like the access index: one row per device in the local
//! store (address and credentials sealed, bound to the device and its room), the whole index
//! in memory. Every change is also reported to the pusher ([`RoomsChanged`]), so a device gets
//! its room's list as soon as it is registered.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{DeviceId, MailboxId, TenantId, UserObjectId};
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{DevicePrivate, MailboxEvent};
use hcal_actors::seal::{self, KeyRing, Sealed};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::{Position, Projection};
use crate::devices::pusher::RoomsChanged;
use crate::log::sqlite::{ProjectionBatch, SqliteStore};

/// Name of the projection (its rows' namespace and the group of its positions).
pub const DEVICE_INDEX: &str = "device-index";

/// A registered device.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Device {
    /// Its room mailbox.
    pub room: MailboxId,
    /// How it is reached (`roomOs`, `legacy`, `webexCloud`).
    pub kind: String,
    /// When it was registered (or its settings last changed).
    pub registered_at: DateTime<Utc>,
    /// Address and credentials.
    pub private: DevicePrivate,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredDevice {
    tenant_id: TenantId,
    user_id: UserObjectId,
    kind: String,
    registered_at: DateTime<Utc>,
    sealed: Sealed,
}

fn aad(device: &DeviceId, room: &MailboxId) -> Vec<u8> {
    format!("{DEVICE_INDEX}/{device}/{room}").into_bytes()
}

fn encode(ring: &KeyRing, id: &DeviceId, device: &Device) -> Result<Vec<u8>, LogError> {
    let sealed =
        seal::seal(ring, &aad(id, &device.room), &device.private).map_err(|e| LogError::Invalid(e.to_string()))?;
    let stored = StoredDevice {
        tenant_id: device.room.tenant,
        user_id: device.room.user,
        kind: device.kind.clone(),
        registered_at: device.registered_at,
        sealed,
    };
    serde_json::to_vec(&stored).map_err(|e| LogError::Invalid(e.to_string()))
}

fn decode(ring: &KeyRing, key: &str, bytes: &[u8]) -> Result<(DeviceId, Device), LogError> {
    let unreadable = |why: String| LogError::Invalid(format!("device index row: {why}"));
    let id = DeviceId::parse(key).map_err(|e| unreadable(e.to_string()))?;
    let stored: StoredDevice = serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
    let room = MailboxId { tenant: stored.tenant_id, user: stored.user_id };
    let private = seal::open(ring, &aad(&id, &room), &stored.sealed).map_err(|e| unreadable(e.to_string()))?;
    Ok((id, Device { room, kind: stored.kind, registered_at: stored.registered_at, private }))
}

/// Device id to device. Readers see what the last committed batch left.
pub struct DeviceIndex {
    ring: KeyRing,
    devices: RwLock<HashMap<DeviceId, Device>>,
    changed: Option<RoomsChanged>,
}

impl std::fmt::Debug for DeviceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIndex").field("devices", &self.devices.read().len()).finish_non_exhaustive()
    }
}

impl DeviceIndex {
    /// An empty index, sealing its rows with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self { ring, devices: RwLock::default(), changed: None }
    }

    /// Reporting the rooms whose devices changed to `changed`.
    pub fn with_changes(mut self, changed: RoomsChanged) -> Self {
        self.changed = Some(changed);
        self
    }

    /// The index as its rows in `store` left it; a row that cannot be read drops the index and
    /// its positions, so that it is rebuilt from the log.
    pub async fn open(store: &SqliteStore, ring: KeyRing) -> Result<Self, LogError> {
        let index = Self::new(ring);
        let mut devices = HashMap::new();
        for (key, bytes) in store.projection_scan(DEVICE_INDEX, "").await? {
            match decode(&index.ring, &key, &bytes) {
                Ok((id, device)) => {
                    devices.insert(id, device);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the device index cannot be read; rebuilding it from mailbox-events");
                    store.projection_reset(DEVICE_INDEX).await?;
                    return Ok(index);
                }
            }
        }
        *index.devices.write() = devices;
        Ok(index)
    }

    /// One device.
    pub fn get(&self, id: &DeviceId) -> Option<Device> {
        self.devices.read().get(id).cloned()
    }

    /// Every device, by room and id.
    pub fn list(&self) -> Vec<(DeviceId, Device)> {
        let mut all: Vec<(DeviceId, Device)> = self.devices.read().iter().map(|(id, d)| (*id, d.clone())).collect();
        all.sort_by_key(|(id, d)| (d.room, *id));
        all
    }

    /// The devices of a room.
    pub fn of_room(&self, room: &MailboxId) -> Vec<(DeviceId, Device)> {
        // Filtered before anything is cloned: the pusher asks this for every room it pushes.
        let mut of_room: Vec<(DeviceId, Device)> =
            self.devices.read().iter().filter(|(_, d)| d.room == *room).map(|(id, d)| (*id, d.clone())).collect();
        of_room.sort_by_key(|(id, _)| *id);
        of_room
    }

    /// The rooms that have devices.
    pub fn rooms(&self) -> Vec<MailboxId> {
        let mut rooms: Vec<MailboxId> = self.devices.read().values().map(|d| d.room).collect();
        rooms.sort();
        rooms.dedup();
        rooms
    }
}

#[async_trait]
impl Projection for DeviceIndex {
    fn name(&self) -> &'static str {
        DEVICE_INDEX
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        let mut changed: BTreeMap<DeviceId, Option<Device>> = BTreeMap::new();
        for env in events {
            match &env.event {
                MailboxEvent::DeviceRegistered { device_id, kind, private } => {
                    let device = Device {
                        room: env.mailbox,
                        kind: kind.clone(),
                        registered_at: env.occurred_at,
                        private: private.clone(),
                    };
                    changed.insert(*device_id, Some(device));
                }
                MailboxEvent::MailboxErased {} => {
                    let known: Vec<DeviceId> =
                        self.devices.read().iter().filter(|(_, d)| d.room == env.mailbox).map(|(id, _)| *id).collect();
                    for id in known {
                        changed.insert(id, None);
                    }
                    for device in changed.values_mut() {
                        if device.as_ref().is_some_and(|d| d.room == env.mailbox) {
                            *device = None;
                        }
                    }
                }
                MailboxEvent::DeviceRemoved { device_id } => {
                    // Only the room that registered a device removes it.
                    let room = match changed.get(device_id) {
                        Some(entry) => entry.as_ref().map(|d| d.room),
                        None => self.devices.read().get(device_id).map(|d| d.room),
                    };
                    if room == Some(env.mailbox) {
                        changed.insert(*device_id, None);
                    }
                }
                _ => {}
            }
        }
        let mut batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
        for (id, device) in &changed {
            match device {
                Some(device) => batch.upserts.push((id.to_string(), encode(&self.ring, id, device)?)),
                None => batch.deletes.push(id.to_string()),
            }
        }
        store.projection_apply(DEVICE_INDEX, batch).await?;
        let mut rooms = Vec::new();
        {
            let mut devices = self.devices.write();
            for (id, device) in changed {
                match device {
                    Some(device) => {
                        rooms.push(device.room);
                        if let Some(old) = devices.insert(id, device) {
                            rooms.push(old.room);
                        }
                    }
                    None => rooms.extend(devices.remove(&id).map(|d| d.room)),
                }
            }
        }
        if let Some(changes) = &self.changed {
            changes.mark(rooms);
        }
        Ok(())
    }
}
