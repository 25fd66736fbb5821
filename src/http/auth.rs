//! Who may call what: extractors that prove who the caller is from its bearer token.
//!
//! A handler states whom it serves by taking [`UserCaller`] (the user API, `/v1`) or
//! [`AdminCaller`] (the admin API, `/admin/v1`) as its **first** argument. actix-web builds
//! every argument's extractor in order and polls them in order, returning the first failure, so
//! a caller without a valid token gets 401 before the body, the query or the path is looked at:
//! serde's view of the input never reaches someone who may not call the endpoint.
//! `tests/http_errors.rs` proves it for every endpoint (no token and a bad body, query or path:
//! 401).
//!
//! Two credentials, for two kinds of caller ([ADR 012](../../docs/adr/012-access-tokens.md)):
//! - the **admin token**, configured (`[service] api_token_env`): the operator and the `hcal`
//!   commands. It opens `/admin/v1` and nothing of `/v1`: an operator who must see a user's
//!   list issues a token for that user, which leaves a `TokenIssued` in the user's events;
//! - **user tokens**, issued by hcal (`hcal tokens issue --user U`) and kept as digests in the
//!   [access index](crate::projections::access): each opens its user's `/v1/users` resources
//!   only; another user's is 403;
//! - **device tokens** (`hcal tokens issue --device D`): each opens its device's
//!   `/v1/devices/{id}/bookings` only.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use hcal_actors::ids::{DeviceId, MailboxId, TokenId, UserObjectId};
use hcal_actors::mailbox::events::TokenHolder;
use subtle::ConstantTimeEq as _;

use super::error::{ApiError, ErrorKind};
use crate::app::AppState;

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("the application state is not registered"))
}

/// The request's bearer token; empty when there is none.
fn bearer(req: &HttpRequest) -> &str {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// Whether `presented` is the configured admin token, compared in constant time; never while
/// none is configured.
fn is_admin(state: &AppState, presented: &str) -> bool {
    let expected = &state.api_token;
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// A caller of the admin API (`/admin/v1`); extracting it answers 401 unless the request
/// carries the admin token.
#[derive(Debug)]
pub struct AdminCaller(());

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| if is_admin(s, bearer(req)) { Ok(Self(())) } else { Err(ApiError::unauthorized()) }),
        )
    }
}

/// A caller of the user API (`/v1`): the user a valid, unrevoked user token was issued to.
/// Extracting it answers 401 for a missing, unknown or revoked token and 403 for the admin
/// token; which user's resources the caller may read is [`UserCaller::may_read`]'s answer,
/// given once the path is parsed.
#[derive(Debug, Clone, Copy)]
pub struct UserCaller {
    /// The user the token was issued to.
    pub mailbox: MailboxId,
    /// The token presented.
    pub token: TokenId,
}

impl UserCaller {
    /// The caller's own mailbox when `user` is the caller; 403 otherwise.
    pub fn may_read(&self, user: UserObjectId) -> Result<MailboxId, ApiError> {
        if self.mailbox.user == user {
            Ok(self.mailbox)
        } else {
            Err(ApiError::new(ErrorKind::Forbidden, "a user token opens its own user's resources only"))
        }
    }
}

impl FromRequest for UserCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|s| {
            let presented = bearer(req);
            match s.access.verify(presented) {
                Some((token, grant)) if grant.holder == TokenHolder::User => {
                    return Ok(Self { mailbox: grant.mailbox, token });
                }
                Some(_) => {
                    return Err(ApiError::new(ErrorKind::Forbidden, "a device token opens its device's bookings only"));
                }
                None => {}
            }
            if is_admin(s, presented) {
                return Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "the admin token does not open users' resources; issue a user token (hcal tokens issue --user)",
                ));
            }
            Err(ApiError::unauthorized())
        }))
    }
}

/// A caller of the device API (`/v1/devices`): the device a valid, unrevoked device token was
/// issued to. 401 for a missing, unknown or revoked token; 403 for a user's or the admin token.
#[derive(Debug, Clone, Copy)]
pub struct DeviceCaller {
    /// The device.
    pub device: DeviceId,
    /// Its room.
    pub room: MailboxId,
}

impl DeviceCaller {
    /// The caller's own device when `device` is it; 403 otherwise.
    pub fn may_read(&self, device: DeviceId) -> Result<DeviceId, ApiError> {
        if self.device == device {
            Ok(device)
        } else {
            Err(ApiError::new(ErrorKind::Forbidden, "a device token opens its own device's bookings only"))
        }
    }
}

impl FromRequest for DeviceCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|s| {
            let presented = bearer(req);
            match s.access.verify(presented) {
                Some((_, grant)) => match grant.holder {
                    TokenHolder::Device { device_id } => Ok(Self { device: device_id, room: grant.mailbox }),
                    TokenHolder::User => {
                        Err(ApiError::new(ErrorKind::Forbidden, "a user token opens no device's bookings"))
                    }
                },
                None if is_admin(s, presented) => Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "the admin token opens no device's bookings; issue a device token (hcal tokens issue --device)",
                )),
                None => Err(ApiError::unauthorized()),
            }
        }))
    }
}
