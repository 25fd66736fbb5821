//! The testing endpoints (only with `[testing] controllable_clock`): move the clock, run one
//! scheduler round.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike as _, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::auth::AdminCaller;
use super::error::{ApiError, ErrorKind};
use crate::app::AppState;

/// Longest move of one call: ten years.
const MAX_ADVANCE: Duration = Duration::days(3660);

/// Body of `POST /admin/v1/testing/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvanceRequest {
    /// How far to move the clock forward: 0 to ten years.
    pub advance_seconds: i64,
}

/// Answer of `POST /admin/v1/testing/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockAnswer {
    /// The clock after the move.
    pub now: DateTime<Utc>,
}

/// Answer of `POST /admin/v1/testing/tick`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickAnswer {
    /// Renewals the round asked for.
    pub renewals_requested: usize,
}

fn testing_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.testing.controllable_clock {
        Ok(())
    } else {
        Err(ApiError::new(ErrorKind::TestingDisabled, "the clock is not controllable in this installation"))
    }
}

/// `POST /admin/v1/testing/clock {"advanceSeconds"}`.
pub async fn advance_clock(
    _caller: AdminCaller,
    state: web::Data<AppState>,
    body: web::Json<AdvanceRequest>,
) -> Result<HttpResponse, ApiError> {
    testing_enabled(&state)?;
    // Checked: `Duration::seconds` and the clock's addition panic on values this large.
    let by = Duration::try_seconds(body.advance_seconds)
        .filter(|by| (Duration::zero()..=MAX_ADVANCE).contains(by))
        .ok_or_else(|| ApiError::new(ErrorKind::InvalidRequest, "advanceSeconds must be between 0 and ten years"))?;
    if state.clock.now().checked_add_signed(by).is_none_or(|t| t.year() > 9999) {
        return Err(ApiError::new(ErrorKind::InvalidRequest, "the clock cannot move past the year 9999"));
    }
    state.clock.advance(by);
    Ok(HttpResponse::Ok().json(ClockAnswer { now: state.clock.now() }))
}

/// `POST /admin/v1/testing/tick`: one scheduler round now.
pub async fn tick(_caller: AdminCaller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    testing_enabled(&state)?;
    let requested = state.scheduler.tick().await;
    Ok(HttpResponse::Ok().json(TickAnswer { renewals_requested: requested }))
}
