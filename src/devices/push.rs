//! The port through which hcal pushes a room's bookings to one device, and [`CiscoPush`], its
//! implementation for Cisco devices over HTTP:
//!
//! - [`DeviceKind::RoomOs`]: `POST {address}/putxml` with HTTP Basic, `text/xml`, the
//!   `Bookings Put` command ([`putxml_command`]); the answer's `<…Result status="OK|Error">`
//!   decides.
//! - [`DeviceKind::Legacy`]: `POST {address}/bookingsputxml` with HTTP Basic and the TMS-era
//!   document ([`legacy_xml`]); a 2xx answer is success unless it carries `status="Error"`.
//! - [`DeviceKind::WebexCloud`]: `POST {address}/v1/xapi/command/Bookings.Put` with the bearer
//!   token and `{"deviceId", "arguments": {}, "body": {"Bookings": [...]}}`, `body` as a JSON
//!   object (see `docs/adr/011-device-push.md`).
//!
//! Failures are classified so the caller's retry policy is data: [`PushFailure::Offline`]
//! (connect error, reset, timeout: retry with backoff), [`PushFailure::Refused`] (401/403, the
//! device's `status="Error"`, any other unexpected status: retry later and report) and
//! [`PushFailure::Unsupported`] (the device does not know the command, has no such endpoint, or
//! the target cannot work as configured: report, retrying will not help).
//!
//! Titles, organiser names and credentials never reach a log line: only the device id, its
//! kind, the number of bookings, the outcome and an HTTP status are logged.

#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::booking::{Buffers, DeviceBooking, legacy_xml, putxml_command, roomos_json};

/// Pushes a room's whole list of bookings to one device, replacing what it had.
#[async_trait]
pub trait DevicePush: Send + Sync {
    /// Replaces the list on `target` with `bookings` (all of them: the device keeps nothing
    /// else).
    async fn put(&self, target: &DeviceTarget, bookings: &[DeviceBooking]) -> Result<(), PushFailure>;
}

/// How a device is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceKind {
    /// RoomOS 10 or later, reached directly: `/putxml` with `Bookings Put`.
    RoomOs,
    /// TC / CE software from before `Bookings Put`: `/bookingsputxml`.
    Legacy,
    /// A device registered to Webex, reached through the cloud xAPI.
    WebexCloud,
}

/// One device to push to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTarget {
    /// hcal's id of the device (what logs name).
    pub id: String,
    /// How it is reached.
    pub kind: DeviceKind,
    /// The device's base URL (`https://{device}`, or a path below it), or for
    /// [`DeviceKind::WebexCloud`] the Webex API's base (`https://webexapis.com`).
    pub address: url::Url,
    /// The device's admin account, or the Webex token and the device's Webex id.
    pub credentials: DeviceCredentials,
    /// The room's join-before and keep-after buffers.
    pub buffers: Buffers,
}

/// Credentials for one device. `Debug` prints no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum DeviceCredentials {
    /// A device admin account, for HTTP Basic (RoomOS and legacy devices).
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// A Webex token with the `spark:xapi_commands` scope and the device's Webex id.
    Bearer {
        /// The bearer token.
        token: String,
        /// The device's id in Webex (`deviceId`).
        device_id: String,
    },
}

impl std::fmt::Debug for DeviceCredentials {
    // Written out so neither the password nor the token can ever be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &"<redacted>").finish()
            }
            Self::Bearer { device_id, .. } => {
                f.debug_struct("Bearer").field("token", &"<redacted>").field("device_id", device_id).finish()
            }
        }
    }
}

/// Why a push did not land.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushFailure {
    /// The device could not be reached or did not answer in time (connect error, reset,
    /// timeout): retry with backoff. The text says what happened, without the address.
    #[error("device unreachable: {0}")]
    Offline(String),
    /// The device (or Webex) answered and refused: credentials (401/403), the device's
    /// `status="Error"`, or another unexpected answer. Retry later and report. `reason` is the
    /// device's own text, or a short description; it is never logged here.
    #[error("device refused the bookings (HTTP {status}): {reason}")]
    Refused {
        /// HTTP status of the answer.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The device does not take this push (a legacy device asked with `Bookings Put`, no such
    /// endpoint) or the target cannot work as configured (credentials of the wrong kind, an
    /// address that cannot have a path). Retrying will not help.
    #[error("the device does not support this push")]
    Unsupported,
}

/// How [`CiscoPush`] reaches devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiscoPushConfig {
    /// Time allowed to connect. Default `"5s"`: a device on the local network connects in
    /// milliseconds, and one that does not within seconds is off (and worth a retry later).
    #[serde(with = "crate::config::duration")]
    pub connect_timeout: Duration,
    /// Time allowed for one push, connect to last byte. Default `"15s"`: devices take a few
    /// hundred milliseconds to store a day of bookings; a hung device must not hold up the
    /// pushes to the room's other devices for long.
    #[serde(with = "crate::config::duration")]
    pub timeout: Duration,
    /// Accept a device's certificate without checking it. Default false. Devices ship with
    /// self-signed certificates; install a proper one (or reach them over a trusted network)
    /// rather than turning this on.
    pub accept_invalid_certs: bool,
}

impl Default for CiscoPushConfig {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(5), timeout: Duration::from_secs(15), accept_invalid_certs: false }
    }
}

/// [`DevicePush`] for Cisco RoomOS, TC / CE and Webex cloud-registered devices.
#[derive(Debug, Clone)]
pub struct CiscoPush {
    /// The HTTP client, or why it could not be built (reported on every push rather than
    /// panicking at start-up).
    http: Result<reqwest::Client, String>,
}

impl CiscoPush {
    /// A pusher with `config`'s timeouts.
    pub fn new(config: &CiscoPushConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            // Devices do not redirect their API; refusing keeps credentials on the device.
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(config.accept_invalid_certs)
            .user_agent(concat!("hcal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string());
        Self { http }
    }

    async fn send(&self, target: &DeviceTarget, bookings: &[DeviceBooking]) -> Result<(), PushFailure> {
        let http = self.http.as_ref().map_err(|e| PushFailure::Offline(format!("no HTTP client: {e}")))?;
        match (&target.kind, &target.credentials) {
            (DeviceKind::RoomOs, DeviceCredentials::Basic { username, password }) => {
                let body = putxml_command(&roomos_json(bookings, target.buffers));
                let request = http.post(endpoint(&target.address, &["putxml"])?).basic_auth(username, Some(password));
                let (status, text) = exchange(request.header("content-type", "text/xml").body(body)).await?;
                judge_xml(status, &text, true)
            }
            (DeviceKind::Legacy, DeviceCredentials::Basic { username, password }) => {
                let body = legacy_xml(bookings, target.buffers);
                let request =
                    http.post(endpoint(&target.address, &["bookingsputxml"])?).basic_auth(username, Some(password));
                let (status, text) = exchange(request.header("content-type", "text/xml").body(body)).await?;
                judge_xml(status, &text, false)
            }
            (DeviceKind::WebexCloud, DeviceCredentials::Bearer { token, device_id }) => {
                let url = endpoint(&target.address, &["v1", "xapi", "command", "Bookings.Put"])?;
                let body = json!({
                    "deviceId": device_id,
                    "arguments": {},
                    "body": roomos_json(bookings, target.buffers),
                });
                let (status, text) = exchange(http.post(url).bearer_auth(token).json(&body)).await?;
                judge_cloud(status, &text)
            }
            _ => Err(PushFailure::Unsupported),
        }
    }
}

#[async_trait]
impl DevicePush for CiscoPush {
    async fn put(&self, target: &DeviceTarget, bookings: &[DeviceBooking]) -> Result<(), PushFailure> {
        let outcome = self.send(target, bookings).await;
        match &outcome {
            Ok(()) => {
                tracing::info!(device = %target.id, kind = ?target.kind, bookings = bookings.len(), "device push accepted")
            }
            Err(PushFailure::Offline(_)) => {
                tracing::warn!(device = %target.id, kind = ?target.kind, "device push: unreachable")
            }
            Err(PushFailure::Refused { status, .. }) => {
                tracing::warn!(device = %target.id, kind = ?target.kind, status, "device push refused")
            }
            Err(PushFailure::Unsupported) => {
                tracing::warn!(device = %target.id, kind = ?target.kind, "device push unsupported")
            }
        }
        outcome
    }
}

/// `address` with `segments` appended to its path (`Url::join` would replace the last
/// segment of an address like `https://host/devices/room-1`).
fn endpoint(address: &url::Url, segments: &[&str]) -> Result<url::Url, PushFailure> {
    let mut url = address.clone();
    url.path_segments_mut().map_err(|()| PushFailure::Unsupported)?.pop_if_empty().extend(segments);
    Ok(url)
}

/// Sends a request and reads the whole answer; transport failures are [`PushFailure::Offline`].
async fn exchange(request: reqwest::RequestBuilder) -> Result<(u16, String), PushFailure> {
    let response = request.send().await.map_err(offline)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(offline)?;
    Ok((status, text))
}

/// What went wrong at the transport level, without the URL (which names the device's address).
fn offline(err: reqwest::Error) -> PushFailure {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        PushFailure::Offline(kind.to_owned())
    } else {
        PushFailure::Offline(format!("{kind}: {detail}"))
    }
}

/// Judges a device's XML answer. `needs_result`: `/putxml` must say `status="OK"`; the legacy
/// endpoint's 2xx is success unless it says `status="Error"`.
fn judge_xml(status: u16, text: &str, needs_result: bool) -> Result<(), PushFailure> {
    match status {
        401 | 403 => {
            return Err(PushFailure::Refused { status, reason: "the device refused the credentials".to_owned() });
        }
        404 => return Err(PushFailure::Unsupported),
        _ => {}
    }
    match command_status(text) {
        Some(answer) if answer.status.eq_ignore_ascii_case("OK") && (200..300).contains(&status) => Ok(()),
        Some(answer) if answer.status.eq_ignore_ascii_case("Error") => {
            let reason = answer.reason.unwrap_or_default();
            // What a device answers for a command its software does not have.
            if reason.eq_ignore_ascii_case("Unknown command") || reason.to_ascii_lowercase().contains("no such command")
            {
                Err(PushFailure::Unsupported)
            } else {
                Err(PushFailure::Refused { status, reason })
            }
        }
        _ if (200..300).contains(&status) && !needs_result => Ok(()),
        _ => Err(PushFailure::Refused { status, reason: "unexpected answer from the device".to_owned() }),
    }
}

/// Judges the cloud xAPI's answer: 2xx is done; Webex's error body gives the reason.
fn judge_cloud(status: u16, text: &str) -> Result<(), PushFailure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason = match status {
        401 => "Webex refused the token".to_owned(),
        403 => "the token lacks the spark:xapi_commands scope".to_owned(),
        404 => "Webex does not know the device".to_owned(),
        _ => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "unexpected answer from Webex".to_owned()),
    };
    Err(PushFailure::Refused { status, reason })
}

/// The `status` of an xAPI answer's first element that has one, and its `<Reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CommandStatus {
    status: String,
    reason: Option<String>,
}

fn command_status(text: &str) -> Option<CommandStatus> {
    let mut reader = Reader::from_str(text);
    let mut found: Option<CommandStatus> = None;
    let mut in_reason = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                if found.is_none() {
                    let status = e.try_get_attribute("status").ok().flatten();
                    if let Some(attr) = status {
                        found = Some(CommandStatus { status: attr.unescape_value().ok()?.into_owned(), reason: None });
                    }
                } else {
                    in_reason = e.name().as_ref() == b"Reason";
                }
            }
            Event::Text(t) if in_reason => {
                let piece = t.xml_content().ok()?;
                found.as_mut()?.reason.get_or_insert_with(String::new).push_str(&piece);
            }
            Event::GeneralRef(r) if in_reason => {
                let piece = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r.decode().ok()?)?.to_owned(),
                };
                found.as_mut()?.reason.get_or_insert_with(String::new).push_str(&piece);
            }
            Event::End(_) => in_reason = false,
            Event::Eof => return found,
            _ => {}
        }
    }
}
