//! Room devices: the "One Button To Push" list each room's video devices show. hcal pushes a
//! room's whole list of bookings to each of its devices and the device replaces what it had.
//!
//! - [`booking`]: what is pushed ([`DeviceBooking`]) and the pure renderers of the three wire
//!   forms (the `Bookings Put` JSON, the `/putxml` command around it, the legacy
//!   `/bookingsputxml` document).
//! - [`bookings`]: a room's bookings from its meeting list, under the room's rules (pure).
//! - [`pusher`]: keeps each device's list equal to its room's bookings (coalesced, retried,
//!   refreshed).
//! - [`push`]: the port ([`DevicePush`]), its failures and [`CiscoPush`], which carries the
//!   list to a RoomOS device, a legacy TC / CE device or a Webex cloud-registered device.
//!
//! The wire decisions and their sources are in `docs/adr/011-device-push.md`.

pub mod booking;
pub mod bookings;
pub mod config;
pub mod push;
pub mod pusher;

pub use self::booking::{Buffers, DeviceBooking, DeviceJoin, JoinPlatform, JoinProtocol};
pub use self::push::{
    CiscoPush, CiscoPushConfig, DeviceCredentials, DeviceKind, DevicePush, DeviceTarget, PushFailure,
};
