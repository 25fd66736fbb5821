//! Who may call what: extractors that prove the caller holds a role's bearer token.
//!
//! A handler states its role by taking [`ApiCaller`] (the user API, `/v1`) or [`AdminCaller`]
//! (the admin API, `/admin/v1`) as its **first** argument. actix-web builds every argument's
//! extractor in order and polls them in order, returning the first failure, so a caller
//! without the token gets 401 before the body, the query or the path is looked at: serde's
//! view of the input never reaches someone who may not call the endpoint. `tests/http_errors.rs`
//! proves it for every endpoint (no token and a bad body, query or path: 401).
//!
//! Both roles accept the one API token today; each role names its token in `Role::token`,
//! so giving users or devices their own credentials changes that function only.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use subtle::ConstantTimeEq as _;

use super::error::ApiError;
use crate::app::AppState;

/// A role of the APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Callers of the user API (meeting lists): users' apps and room devices.
    User,
    /// Administrators and their tools (`hcal users`, `hcal tenant`).
    Admin,
}

impl Role {
    /// The bearer token this role presents; empty when none is configured.
    fn token(self, state: &AppState) -> &str {
        match self {
            // One token for both today (separate user and device credentials come later).
            Self::User | Self::Admin => &state.api_token,
        }
    }
}

/// Checks the request's bearer token against the role's, in constant time; no access at all
/// while no token is configured.
pub fn authorize(req: &HttpRequest, role: Role) -> Result<(), ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::internal("the application state is not registered"));
    };
    let expected = role.token(state);
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// A caller of the user API (`/v1`); extracting it answers 401 unless the request carries
/// the user role's bearer token.
#[derive(Debug)]
pub struct ApiCaller(());

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, Role::User).map(|()| Self(())))
    }
}

/// A caller of the admin API (`/admin/v1`); extracting it answers 401 unless the request
/// carries the admin role's bearer token.
#[derive(Debug)]
pub struct AdminCaller(());

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, Role::Admin).map(|()| Self(())))
    }
}
