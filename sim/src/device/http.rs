//! The HTTP server behind the front ([`super::front`]): each device's endpoints under
//! `/devices/{id}`, and the `/_sim` control surface.
//!
//! A push goes through the same steps, in this order: the device found (404 otherwise),
//! counted, delayed by its configured delay (a slow device is slow to refuse too), its Basic
//! credentials checked (401 with a challenge), handled.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;

use super::config::DeviceKind;
use super::core::Core;
use super::error::{DeviceError, XML};
use super::handlers::{bookings_put_xml, control, putxml};

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(web::PayloadConfig::new(max_body))
        .service(web::resource("/devices/{id}/putxml").route(web::post().to(post_putxml)))
        .service(web::resource("/devices/{id}/bookingsputxml").route(web::post().to(post_bookings_put_xml)))
        .service(web::resource("/_sim/devices/{id}/bookings").route(web::get().to(control_bookings)))
        .default_service(web::to(HttpResponse::NotFound));
}

/// Finds the device, counts the push, waits its delay and checks its credentials; returns its
/// kind.
async fn admit(core: &Core, http: &HttpRequest, id: &str) -> Result<DeviceKind, DeviceError> {
    let (delay, spec) = core
        .with(id, |d| {
            d.puts.received += 1;
            (d.delay, d.spec.clone())
        })
        .ok_or(DeviceError::UnknownDevice)?;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match basic_credentials(http) {
        Some((user, password)) if user == spec.username && password == spec.password => Ok(spec.kind),
        _ => {
            core.with(id, |d| d.puts.unauthorized += 1);
            Err(DeviceError::Unauthorized)
        }
    }
}

/// `Authorization: Basic base64(user:password)`, decoded.
fn basic_credentials(http: &HttpRequest) -> Option<(String, String)> {
    let value = http.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((user, password))
}

/// Renders an outcome, counting a refusal for its content.
fn finish(core: &Core, id: &str, outcome: Result<String, DeviceError>) -> HttpResponse {
    match outcome {
        Ok(body) => HttpResponse::Ok().content_type(XML).body(body),
        Err(err) => {
            if !matches!(err, DeviceError::Unauthorized | DeviceError::UnknownDevice) {
                core.with(id, |d| d.puts.rejected += 1);
            }
            err.response(&core.config.realm)
        }
    }
}

async fn post_putxml(
    core: web::Data<Arc<Core>>,
    http: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let outcome = match admit(&core, &http, &id).await {
        Ok(kind) => putxml::handle(&core, &id, kind, &body),
        Err(err) => Err(err),
    };
    finish(&core, &id, outcome)
}

async fn post_bookings_put_xml(
    core: web::Data<Arc<Core>>,
    http: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let outcome = match admit(&core, &http, &id).await {
        // The document carries no result element; an empty 200 is all a TMS push expects.
        Ok(_) => bookings_put_xml::handle(&core, &id, &body).map(|()| String::new()),
        Err(err) => Err(err),
    };
    finish(&core, &id, outcome)
}

async fn control_bookings(core: web::Data<Arc<Core>>, id: web::Path<String>) -> HttpResponse {
    match control::bookings(&core, &id) {
        Some(body) => HttpResponse::Ok().json(body),
        None => HttpResponse::NotFound().json(serde_json::json!({"error": "no such device"})),
    }
}
