//! Room devices: the admin API's registry (`/admin/v1/devices`) and the device API's bookings
//! (`GET /v1/devices/{id}/bookings`, for devices and integrations that poll).
//!
//! A device is registered to its room mailbox: the admin API seals its address and credentials
//! into a `registerDevice` command for the room, the room records `DeviceRegistered`, and the
//! device index of every process folds it in. No answer ever carries a credential.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use hcal_actors::ids::{DeviceId, MailboxId, UserObjectId};
use hcal_actors::mailbox::events::{DevicePrivate, DeviceSecret};
use hcal_actors::notification::{AdminCommand, NotificationKind, NotificationRecord};
use serde::{Deserialize, Serialize};

use super::auth::{AdminCaller, DeviceCaller};
use super::error::{ApiError, ErrorKind};
use super::invalid_user_id;
use crate::app::AppState;
use crate::devices::booking::roomos_json;
use crate::devices::pusher::{PushStatus, kind_of};
use crate::projections::devices::Device;

/// How long an answer waits for the device index to take a change in.
const SETTLE: Duration = Duration::from_secs(5);

/// Body of `POST /admin/v1/devices`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// The room mailbox's object id (enabled in hcal).
    pub room_user_id: String,
    /// `roomOs`, `legacy` or `webexCloud`.
    pub kind: String,
    /// The device's base URL (`https://10.1.2.3`), or for `webexCloud` the Webex API's.
    pub address: String,
    /// Device admin account (`roomOs`, `legacy`).
    #[serde(default)]
    pub username: Option<String>,
    /// Its password.
    #[serde(default)]
    pub password: Option<String>,
    /// Webex token with `spark:xapi_commands` (`webexCloud`).
    #[serde(default)]
    pub token: Option<String>,
    /// The device's id in Webex (`webexCloud`).
    #[serde(default)]
    pub cloud_device_id: Option<String>,
    /// An existing device to register again with these settings; a new one otherwise.
    #[serde(default)]
    pub device_id: Option<String>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A device as the admin API shows it: never its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// hcal's id of the device.
    pub id: DeviceId,
    /// Its room mailbox.
    pub room_user_id: UserObjectId,
    /// `roomOs`, `legacy` or `webexCloud`.
    pub kind: String,
    /// Its address.
    pub address: String,
    /// When it was registered (or its settings changed); none while not in this process's
    /// index yet.
    pub registered_at: Option<DateTime<Utc>>,
    /// Its last push.
    pub push: Option<PushStatus>,
}

/// `{"value": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceList {
    /// Devices by room.
    pub value: Vec<DeviceInfo>,
}

fn info(state: &AppState, id: DeviceId, device: &Device) -> DeviceInfo {
    DeviceInfo {
        id,
        room_user_id: device.room.user,
        kind: device.kind.clone(),
        address: device.private.address.clone(),
        registered_at: Some(device.registered_at),
        push: Some(state.pusher.status(&id)),
    }
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::new(ErrorKind::InvalidDevice, message)
}

fn unknown() -> ApiError {
    ApiError::new(ErrorKind::UnknownDevice, "hcal knows no such device")
}

/// The device's settings from a request, checked: a known kind, an absolute http(s) URL, and
/// the credentials the kind needs.
fn settings(body: &RegisterRequest) -> Result<DevicePrivate, ApiError> {
    let kind = kind_of(&body.kind).ok_or_else(|| invalid("kind must be roomOs, legacy or webexCloud"))?;
    let address = url::Url::parse(&body.address).map_err(|_| invalid("address must be an absolute URL"))?;
    if !matches!(address.scheme(), "https" | "http") || address.host_str().is_none() {
        return Err(invalid("address must be an http(s) URL with a host"));
    }
    let filled = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let credentials = match kind {
        crate::devices::DeviceKind::RoomOs | crate::devices::DeviceKind::Legacy => {
            match (filled(&body.username), filled(&body.password), &body.token, &body.cloud_device_id) {
                (Some(username), Some(password), None, None) => DeviceSecret::Basic { username, password },
                _ => return Err(invalid("a roomOs or legacy device takes username and password, nothing else")),
            }
        }
        crate::devices::DeviceKind::WebexCloud => {
            match (filled(&body.token), filled(&body.cloud_device_id), &body.username, &body.password) {
                (Some(token), Some(cloud_device_id), None, None) => DeviceSecret::Bearer { token, cloud_device_id },
                _ => return Err(invalid("a webexCloud device takes token and cloudDeviceId, nothing else")),
            }
        }
    };
    Ok(DevicePrivate { address: address.to_string(), credentials })
}

async fn settle(what: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        if what() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `POST /admin/v1/devices`: registers a device to a room (or, with `deviceId`, changes a
/// device's settings). 201 once this process's index has it (202 past 5 s), with the device
/// and no credential; 400 `invalid_device`, 404 `unknown_user` (the room is not enabled) or
/// `unknown_device` (a `deviceId` hcal does not know).
pub async fn register(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let room_user = UserObjectId::parse(&body.room_user_id).map_err(|_| invalid_user_id())?;
    let room = MailboxId { tenant: state.tenant, user: room_user };
    let private = settings(&body)?;
    let id = match &body.device_id {
        Some(id) => {
            let id = DeviceId::parse(id).map_err(|_| unknown())?;
            let known = state.devices.get(&id).ok_or_else(unknown)?;
            if known.room != room {
                return Err(invalid("a device's room cannot change; remove it and register it again"));
            }
            id
        }
        None => DeviceId::from_uuid(uuid::Uuid::new_v4()),
    };
    let arrived = tokio::time::Instant::now();
    let known = state.subscriptions.knows(&room)
        || (state.subscriptions.wait_caught_up(arrived, SETTLE).await && state.subscriptions.knows(&room));
    if !known {
        return Err(ApiError::new(ErrorKind::UnknownUser, "hcal knows no such room mailbox; enable it first"));
    }
    let kind = body.kind.clone();
    let mut record = NotificationRecord::command(room, AdminCommand::RemoveDevice { device_id: id }, state.clock.now());
    let sealed = hcal_actors::seal::seal(&state.ring, record.id.as_bytes(), &private)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    record.kind = NotificationKind::Command(AdminCommand::RegisterDevice { device_id: id, kind: kind.clone(), sealed });
    state.inbox.append(std::slice::from_ref(&record)).await.map_err(ApiError::unavailable)?;
    state.metrics.inc("hcal_device_commands_total", "command", "register");
    let landed = settle(|| state.devices.get(&id).is_some_and(|d| d.private == private && d.kind == kind)).await;
    let shown = match state.devices.get(&id) {
        Some(device) if landed => info(&state, id, &device),
        _ => DeviceInfo {
            id,
            room_user_id: room_user,
            kind,
            address: private.address.clone(),
            registered_at: None,
            push: None,
        },
    };
    Ok(if landed { HttpResponse::Created().json(shown) } else { HttpResponse::Accepted().json(shown) })
}

/// `GET /admin/v1/devices`: every device with its last push.
pub async fn list(_caller: AdminCaller, state: web::Data<AppState>) -> HttpResponse {
    let value = state.devices.list().iter().map(|(id, d)| info(&state, *id, d)).collect();
    HttpResponse::Ok().json(DeviceList { value })
}

/// `GET /admin/v1/devices/{id}`: one device with its last push.
pub async fn status(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<DeviceId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let device = state.devices.get(&id).ok_or_else(unknown)?;
    Ok(HttpResponse::Ok().json(info(&state, id, &device)))
}

/// `DELETE /admin/v1/devices/{id}`: removes a device; nothing is pushed to it any more (what
/// it shows stays until its bookings end or it is cleared on the device). 200 once gone here
/// (202 past 5 s), 404 `unknown_device`.
pub async fn remove(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<DeviceId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let device = state.devices.get(&id).ok_or_else(unknown)?;
    let shown = info(&state, id, &device);
    let record =
        NotificationRecord::command(device.room, AdminCommand::RemoveDevice { device_id: id }, state.clock.now());
    state.inbox.append(std::slice::from_ref(&record)).await.map_err(ApiError::unavailable)?;
    state.metrics.inc("hcal_device_commands_total", "command", "remove");
    let gone = settle(|| state.devices.get(&id).is_none()).await;
    Ok(if gone { HttpResponse::Ok().json(shown) } else { HttpResponse::Accepted().json(shown) })
}

/// `GET /v1/devices/{id}/bookings`, with the device's token: the bookings the device is pushed,
/// as the `{"Bookings": [...]}` JSON `xCommand Bookings Put` takes.
pub async fn bookings(
    caller: DeviceCaller,
    state: web::Data<AppState>,
    id: web::Path<DeviceId>,
) -> Result<HttpResponse, ApiError> {
    let id = caller.may_read(id.into_inner())?;
    let device = state.devices.get(&id).ok_or_else(unknown)?;
    let list = state.pusher.bookings_of(&device.room).await.map_err(ApiError::unavailable)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(roomos_json(&list, state.pusher.buffers())))
}
