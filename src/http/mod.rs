//! The HTTP edge: every endpoint of `hcal serve`, one file per resource, all registered in
//! [`routes`].
//!
//! - [`webhook`]: Graph's change and lifecycle notifications (no API token; clientState).
//! - [`meetings`]: the user API, a user's meeting list.
//! - [`devices`]: room devices, their registry (admin API) and their bookings (device API).
//! - [`mailboxes`], [`tokens`], [`logs`], [`testing`], [`tenant`]: the admin API and tenant
//!   onboarding.
//! - [`ops`]: `/metrics`, `/healthz` and `/readyz`.
//!
//! Every failing answer, including the extractors' (body, query, path), an unknown path and a
//! wrong method, is an [`ApiError`] with the one JSON shape of [`error`]. Authorization is an
//! extractor ([`auth`]) that runs before anything of the request is parsed.

pub mod auth;
pub mod devices;
pub mod error;
pub mod logs;
pub mod mailboxes;
pub mod meetings;
pub mod ops;
pub mod presence;
pub mod stream;
pub mod tenant;
pub mod testing;
pub mod tls;
pub mod tokens;
pub mod webhook;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Resource, ResponseError as _, Route, web};

use self::error::JsonProblem;
pub use self::error::{ApiError, ErrorKind};

/// Registers every endpoint, the extractors' error handlers and the JSON 404; bodies are
/// limited to `max_body` bytes. Needs `web::Data<AppState>` and `web::Data<Onboarding>`.
pub fn routes(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(web::PayloadConfig::new(max_body))
        .app_data(web::JsonConfig::default().limit(max_body).error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(resource("/webhook/graph", [(Method::POST, web::to(webhook::receive))]))
        .service(resource("/webhook/graph/lifecycle", [(Method::POST, web::to(webhook::receive))]))
        .service(
            resource("/v1/users/{user}/meetings", [(Method::GET, web::to(meetings::list))])
                .app_data(user_path_config()),
        )
        .service(resource(
            "/admin/v1/mailboxes",
            [(Method::POST, web::to(mailboxes::enable)), (Method::GET, web::to(mailboxes::list))],
        ))
        .service(
            resource(
                "/admin/v1/mailboxes/{user}",
                [(Method::GET, web::to(mailboxes::status)), (Method::DELETE, web::to(mailboxes::disable))],
            )
            .app_data(user_path_config()),
        )
        .service(
            resource("/admin/v1/mailboxes/{user}/story", [(Method::GET, web::to(mailboxes::story))])
                .app_data(user_path_config()),
        )
        .service(
            resource("/v1/users/{user}/presence", [(Method::GET, web::to(presence::get))]).app_data(user_path_config()),
        )
        .service(
            resource("/v1/users/{user}/meetings/stream", [(Method::GET, web::to(stream::stream))])
                .app_data(user_path_config()),
        )
        .service(
            resource("/v1/devices/{id}/bookings", [(Method::GET, web::to(devices::bookings))])
                .app_data(device_path_config()),
        )
        .service(resource(
            "/admin/v1/devices",
            [(Method::POST, web::to(devices::register)), (Method::GET, web::to(devices::list))],
        ))
        .service(
            resource(
                "/admin/v1/devices/{id}",
                [(Method::GET, web::to(devices::status)), (Method::DELETE, web::to(devices::remove))],
            )
            .app_data(device_path_config()),
        )
        .service(resource(
            "/admin/v1/tokens",
            [(Method::POST, web::to(tokens::issue)), (Method::GET, web::to(tokens::list))],
        ))
        .service(
            resource("/admin/v1/tokens/{id}", [(Method::DELETE, web::to(tokens::revoke))]).app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| ApiError::new(ErrorKind::UnknownToken, "a token id is a GUID").into()),
            ),
        )
        .service(
            resource("/admin/v1/logs/{topic}", [(Method::GET, web::to(logs::records))]).app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| ApiError::new(ErrorKind::UnknownLog, logs::UNKNOWN_LOG_MESSAGE).into()),
            ),
        )
        .service(resource("/admin/v1/testing/clock", [(Method::POST, web::to(testing::advance_clock))]))
        .service(resource("/admin/v1/testing/tick", [(Method::POST, web::to(testing::tick))]))
        .service(resource(crate::tenant::CALLBACK_PATH, [(Method::GET, web::to(tenant::consent_callback))]))
        .service(resource("/admin/v1/tenant/consent-url", [(Method::POST, web::to(tenant::consent_url))]))
        .service(resource("/admin/v1/tenant/test", [(Method::POST, web::to(tenant::mailbox_check))]))
        .service(resource("/metrics", [(Method::GET, web::to(ops::metrics))]))
        .service(resource("/healthz", [(Method::GET, web::to(ops::health))]))
        .service(resource("/readyz", [(Method::GET, web::to(ops::ready))]))
        .default_service(web::to(not_found));
}

/// A resource answering the given methods, and 405 with `Allow` for any other.
fn resource<const N: usize>(path: &str, routes: [(Method, Route); N]) -> Resource {
    let allow = routes.iter().map(|(method, _)| method.as_str()).collect::<Vec<_>>().join(", ");
    let mut resource = web::resource(path);
    for (method, route) in routes {
        resource = resource.route(route.method(method));
    }
    resource.default_service(web::to(move || {
        let allow = allow.clone();
        async move { method_not_allowed(&allow) }
    }))
}

fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut response =
        ApiError::new(ErrorKind::MethodNotAllowed, "this endpoint does not answer this method").error_response();
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

async fn not_found() -> HttpResponse {
    ApiError::new(ErrorKind::NotFound, "there is no endpoint at this path").error_response()
}

/// Path errors of the resources whose `{id}` is a device id.
fn device_path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_, _| ApiError::new(ErrorKind::UnknownDevice, "a device id is a GUID").into())
}

/// Path errors of the resources whose `{user}` is a user object id.
fn user_path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| invalid_user_id().into())
}

/// A user id that is not a GUID (in a path or a body).
pub(crate) fn invalid_user_id() -> ApiError {
    ApiError::new(ErrorKind::InvalidUserId, "the user id must be the user's object id (a GUID)")
}

fn json_error(e: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    body_error(e).into()
}

/// A JSON body that could not be read, as an [`ApiError`]; serde's message stays out, even
/// from the source, since it quotes values and field names.
fn body_error(e: JsonPayloadError) -> ApiError {
    match e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => too_large(),
        JsonPayloadError::ContentType => ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "the body must be JSON sent as Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            let problem = JsonProblem::from(&e);
            ApiError::new(ErrorKind::MalformedBody, problem.message()).with_source(problem)
        }
        JsonPayloadError::Payload(e) => payload_error(e),
        // Only the response side serializes; never expected while reading a request.
        other => ApiError::internal(other.to_string()),
    }
}

/// 413.
pub(crate) fn too_large() -> ApiError {
    ApiError::new(ErrorKind::PayloadTooLarge, "the body is larger than this installation accepts (max_body_bytes)")
}

/// A body whose bytes could not be read (cut short, bad compression, too large).
fn payload_error(e: actix_web::error::PayloadError) -> ApiError {
    use actix_web::error::PayloadError;
    match e {
        PayloadError::Overflow => too_large(),
        // Its messages describe the transfer, never the content.
        other => ApiError::new(ErrorKind::MalformedBody, "the body could not be read").with_source(other),
    }
}

fn query_error(_: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    invalid_query().into()
}

/// A query string its parser refused. serde_urlencoded's messages quote the parameters, so
/// none is kept; the endpoint's documentation says what it takes.
pub(crate) fn invalid_query() -> ApiError {
    ApiError::new(ErrorKind::InvalidQuery, "the query string has parameters or values this endpoint does not accept")
}

fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorKind::InvalidPath, "a part of the path is not valid for this endpoint").into()
}
