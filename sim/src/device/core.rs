//! The shared state of one simulator: its configuration and its devices.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{DeviceSimConfig, DeviceSpec};

/// What a device counted of the booking pushes that reached it (a request refused at the
/// transport level while the device is offline never reaches it and is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutCounts {
    /// Pushes received (`/putxml` and `/bookingsputxml`), whatever their outcome.
    pub received: u64,
    /// Pushes that replaced the list.
    pub accepted: u64,
    /// Pushes refused for their content (bad XML or JSON, unknown command).
    pub rejected: u64,
    /// Pushes refused for their credentials (401).
    pub unauthorized: u64,
}

/// One device's state.
#[derive(Debug, Clone)]
pub struct Device {
    /// Id, account and software.
    pub spec: DeviceSpec,
    /// The stored list, each booking in the shape `Bookings Put` takes it.
    pub bookings: Vec<Value>,
    /// Offline devices reset every connection made to them.
    pub offline: bool,
    /// Time the device takes before it answers.
    pub delay: Duration,
    /// Counts of the pushes it received.
    pub puts: PutCounts,
}

impl Device {
    /// A device that is online, answers at once and has no bookings.
    pub fn new(spec: DeviceSpec) -> Self {
        Self { spec, bookings: Vec::new(), offline: false, delay: Duration::ZERO, puts: PutCounts::default() }
    }
}

/// One simulator's shared state.
#[derive(Debug)]
pub struct Core {
    /// Static configuration.
    pub config: DeviceSimConfig,
    /// Devices by id.
    pub devices: Mutex<BTreeMap<String, Device>>,
}

impl Core {
    /// A core without devices.
    pub fn new(config: DeviceSimConfig) -> Self {
        Self { config, devices: Mutex::new(BTreeMap::new()) }
    }

    /// Whether device `id` exists and is offline.
    pub fn is_offline(&self, id: &str) -> bool {
        self.devices.lock().get(id).is_some_and(|d| d.offline)
    }

    /// Runs `f` over device `id`; `None` when there is no such device.
    pub fn with<T>(&self, id: &str, f: impl FnOnce(&mut Device) -> T) -> Option<T> {
        self.devices.lock().get_mut(id).map(f)
    }
}
