//! Jitsi Meet as a meeting platform: a one-time meeting is a fresh room on the configured
//! server, `{base_url}/{room}`. Jitsi rooms exist while someone is in them, so nothing is
//! called: booking picks a room name, moving and deleting have nothing to do.
//!
//! - **Room names are unguessable**: `hcal-` and 26 random characters of `[a-z2-7]` (130 bits).
//!   A booking repeated after a crash before it was recorded picks another name, which is
//!   harmless: the first one was never written anywhere (the booking is recorded before its
//!   block is written, see ADR 010).
//! - **Token authentication** (optional): with `app_id` and `secret_env` set, the link carries
//!   `?jwt=…`, an HS256 token as Jitsi's token authentication reads it (`iss` = app id, `aud` =
//!   `jitsi`, `sub` = the server's host, `room` = the room, `exp` = the meeting's end plus
//!   `token_valid_after_end`). The token is written into the invite, so everyone invited can
//!   join; it is not a moderator token. A meeting moved past the token's expiry needs its
//!   keyword typed again.
//! - **Video address** (optional): Jitsi reaches SIP through a gateway whose dial pattern the
//!   operator knows, e.g. `sip_template = "{room}@sip.meet.example.org"`.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hcal_actors::ports::{Booking, BookingKind, BookingRequest, MeetingPlatform, MeetingRoom, PlatformFailure};
use hmac::{KeyInit as _, Mac as _};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// A `[[platforms]]` entry of kind `jitsi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitsiConfig {
    /// Platform id keywords name (`platform = "…"`).
    pub id: String,
    /// The server, e.g. `https://meet.example.org`. Required.
    pub base_url: String,
    /// `iss` of the room tokens; with `secret_env`, links carry a token.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Environment variable holding the tokens' shared secret (Jitsi's `app_secret`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// How long after the meeting's end its token stays valid. Default `"1d"`.
    #[serde(default = "default_valid_after_end", with = "crate::config::duration")]
    pub token_valid_after_end: Duration,
    /// Video address of a room through a SIP gateway, with `{room}`.
    #[serde(default)]
    pub sip_template: Option<String>,
}

fn default_valid_after_end() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl JitsiConfig {
    /// What is wrong with the entry, each problem in words.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match reqwest::Url::parse(&self.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() && url.query().is_none() => {}
            _ => {
                problems.push(format!("base_url {:?} is not an http:// or https:// URL without a query", self.base_url))
            }
        }
        if self.app_id.is_some() != self.secret_env.is_some() {
            problems.push("app_id and secret_env go together (room tokens need both)".to_owned());
        }
        if let Some(sip) = &self.sip_template
            && (!sip.contains("{room}") || !sip.contains('@'))
        {
            problems
                .push(format!("sip_template {sip:?} must be an address with {{room}}, e.g. {{room}}@sip.example.org"));
        }
        problems
    }
}

/// A Jitsi server under its configured id.
#[derive(Clone)]
pub struct JitsiPlatform {
    id: String,
    config: JitsiConfig,
    base_url: String,
    secret: Option<String>,
}

impl std::fmt::Debug for JitsiPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitsiPlatform").field("id", &self.id).field("config", &self.config).finish_non_exhaustive()
    }
}

impl JitsiPlatform {
    /// The platform of `config`, with the token secret when the entry names one.
    pub fn new(config: JitsiConfig, secret: Option<String>) -> Self {
        let base_url = config.base_url.trim().trim_end_matches('/').to_owned();
        Self { id: config.id.clone(), config, base_url, secret }
    }

    /// The room for `name`, with a token valid until `end` plus the configured grace.
    fn room(&self, name: &str, end: chrono::DateTime<chrono::Utc>) -> Result<MeetingRoom, PlatformFailure> {
        let mut web_link = format!("{}/{name}", self.base_url);
        if let (Some(app_id), Some(secret)) = (&self.config.app_id, &self.secret) {
            let grace =
                chrono::Duration::from_std(self.config.token_valid_after_end).unwrap_or(chrono::Duration::days(1));
            let host = reqwest::Url::parse(&self.base_url).ok().and_then(|u| u.host_str().map(str::to_owned));
            let claims = serde_json::json!({
                "aud": "jitsi",
                "iss": app_id,
                "sub": host.unwrap_or_default(),
                "room": name,
                "exp": (end + grace).timestamp(),
            });
            web_link.push_str("?jwt=");
            web_link.push_str(&token(&claims, secret)?);
        }
        Ok(MeetingRoom {
            platform: self.id.clone(),
            web_link,
            sip_address: self.config.sip_template.as_deref().map(|t| t.replace("{room}", name)),
            meeting_number: None,

            dial_in: Vec::new(),
        })
    }
}

/// An HS256 JSON Web Token of `claims`.
fn token(claims: &serde_json::Value, secret: &str) -> Result<String, PlatformFailure> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| PlatformFailure::Transient("the Jitsi token secret cannot be used".to_owned()))?;
    mac.update(signed.as_bytes());
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())))
}

/// A fresh room name: `hcal-` and 26 random base32 characters.
fn room_name() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::rng();
    let tail: String = (0..26).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("hcal-{tail}")
}

#[async_trait]
impl MeetingPlatform for JitsiPlatform {
    async fn personal_room(&self, _platform: &str, _organizer: &str) -> Result<MeetingRoom, PlatformFailure> {
        Err(PlatformFailure::Refused(format!("platform {} books one-time rooms only (onetime)", self.id)))
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        if request.kind != BookingKind::OneTime {
            return Err(PlatformFailure::Refused(format!("platform {} books one-time rooms only (onetime)", self.id)));
        }
        let name = room_name();
        Ok(Booking { room: self.room(&name, request.end)?, id: name })
    }

    async fn reschedule(&self, _booking_id: &str, _request: &BookingRequest) -> Result<(), PlatformFailure> {
        // A room has no times.
        Ok(())
    }

    async fn cancel(&self, _platform: &str, _booking_id: &str, _organizer: &str) -> Result<(), PlatformFailure> {
        // A room nobody is in does not exist.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn config() -> JitsiConfig {
        JitsiConfig {
            id: "jitsi".into(),
            base_url: "https://meet.example.org/".into(),
            app_id: None,
            secret_env: None,
            token_valid_after_end: default_valid_after_end(),
            sip_template: None,
        }
    }

    fn request(kind: BookingKind) -> BookingRequest {
        BookingRequest {
            platform: "jitsi".into(),
            kind,
            key: "hcal-0".into(),
            organizer: "alex@contoso.example".into(),
            title: "SENTINEL-SUBJECT".into(),
            start: chrono::Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
            end: chrono::Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap(),
            attendees: vec![],
        }
    }

    #[tokio::test]
    async fn a_booking_is_a_fresh_unguessable_room_on_the_server() {
        let jitsi = JitsiPlatform::new(config(), None);
        let a = jitsi.book(&request(BookingKind::OneTime)).await.unwrap();
        let b = jitsi.book(&request(BookingKind::OneTime)).await.unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.room.web_link, format!("https://meet.example.org/{}", a.id));
        assert_eq!(a.id.len(), 31);
        assert!(
            a.id.starts_with("hcal-") && a.id[5..].chars().all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
        assert!(!a.room.web_link.contains("SENTINEL"), "the subject never goes into a link");
        assert_eq!((a.room.sip_address.clone(), a.room.platform.as_str()), (None, "jitsi"));
    }

    #[tokio::test]
    async fn with_a_secret_the_link_carries_a_room_token_signed_hs256() {
        let secret = "s3cret";
        let config = JitsiConfig {
            app_id: Some("hcal".into()),
            secret_env: Some("HCAL_JITSI_SECRET".into()),
            sip_template: Some("{room}@sip.meet.example.org".into()),
            ..config()
        };
        let jitsi = JitsiPlatform::new(config, Some(secret.into()));
        let booking = jitsi.book(&request(BookingKind::OneTime)).await.unwrap();
        assert_eq!(booking.room.sip_address, Some(format!("{}@sip.meet.example.org", booking.id)));
        let (_, jwt) = booking.room.web_link.split_once("?jwt=").expect("a token");
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, payload, signature] = parts[..] else { panic!("{jwt}") };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).expect("signed with the secret");
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["iss"], "hcal");
        assert_eq!(claims["aud"], "jitsi");
        assert_eq!(claims["sub"], "meet.example.org");
        assert_eq!(claims["room"], booking.id.as_str());
        let end = request(BookingKind::OneTime).end;
        assert_eq!(claims["exp"], (end + chrono::Duration::days(1)).timestamp());
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
    }

    #[tokio::test]
    async fn rooms_only_one_time_and_nothing_to_move_or_delete() {
        let jitsi = JitsiPlatform::new(config(), None);
        assert!(matches!(jitsi.book(&request(BookingKind::Space)).await, Err(PlatformFailure::Refused(_))));
        assert!(matches!(jitsi.personal_room("jitsi", "alex@contoso.example").await, Err(PlatformFailure::Refused(_))));
        assert_eq!(jitsi.reschedule("hcal-x", &request(BookingKind::OneTime)).await, Ok(()));
        assert_eq!(jitsi.cancel("jitsi", "hcal-x", "alex@contoso.example").await, Ok(()));
    }

    #[test]
    fn entries_are_checked_at_load() {
        assert!(config().problems().is_empty());
        let half = JitsiConfig { app_id: Some("hcal".into()), ..config() };
        assert_eq!(half.problems().len(), 1);
        let bad = JitsiConfig { base_url: "meet.example.org".into(), sip_template: Some("room".into()), ..config() };
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
    }
}
