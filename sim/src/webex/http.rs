//! The HTTP server: the Webex REST API under `/v1`, and the `/_sim` control surface for tests
//! and demos running in other processes.
//!
//! Every API request goes through the same steps, in this order: counted (and its concurrency
//! slot taken), delayed by the configured latency, authenticated, fault-injected, handled.
//! Every response, the control surface's included, carries a `trackingid` header; error
//! bodies repeat it as `trackingId`, as Webex's do.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::WebexFaults;
use super::core::Core;
use super::error::WebexError;
use super::handlers::{Query, Reply, meetings, memberships, messages, personal_room, rooms, xapi};
use super::model::{PersonalRoomSpec, RenderContext};

/// Name of the header that carries each response's tracking id.
pub const TRACKING_HEADER: &str = "trackingid";

/// Largest request body accepted (1 MiB; a meeting is a few hundred bytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// The tracking id of the request being served, put in place by [`stamp`].
#[derive(Debug, Clone)]
struct TrackingId(String);

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY))
        .service(
            web::resource("/v1/meetingPreferences/personalMeetingRoom")
                .route(web::get().to(get_personal_room))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/meetings")
                .route(web::get().to(list_meetings))
                .route(web::post().to(create_meeting))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/meetings/{id}")
                .route(web::get().to(get_meeting))
                .route(web::put().to(update_meeting))
                .route(web::delete().to(delete_meeting))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/rooms")
                .route(web::get().to(list_rooms))
                .route(web::post().to(create_room))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/rooms/{id}")
                .route(web::get().to(get_room))
                .route(web::delete().to(delete_room))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/rooms/{id}/meetingInfo")
                .route(web::get().to(get_meeting_info))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/memberships")
                .route(web::get().to(list_memberships))
                .route(web::post().to(create_membership))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/memberships/{id}")
                .route(web::get().to(get_membership))
                .route(web::delete().to(delete_membership))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/messages")
                .route(web::get().to(list_messages))
                .route(web::post().to(create_message))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/messages/direct")
                .route(web::get().to(direct_messages))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/xapi/command/Bookings.Put")
                .route(web::post().to(bookings_put_command))
                .default_service(web::to(method_not_allowed)),
        )
        .service(web::resource("/_sim/tokens").route(web::post().to(control_add_token)))
        .service(web::resource("/_sim/people").route(web::post().to(control_add_person)))
        .service(
            web::resource("/_sim/people/{email}/personalRoom")
                .route(web::get().to(control_get_room))
                .route(web::put().to(control_set_room))
                .route(web::delete().to(control_remove_room)),
        )
        .service(
            web::resource("/_sim/faults")
                .route(web::get().to(control_get_faults))
                .route(web::put().to(control_set_faults)),
        )
        .service(web::resource("/_sim/stats").route(web::get().to(control_stats)))
        .service(web::resource("/_sim/clock/advance").route(web::post().to(control_advance_clock)))
        .service(web::resource("/_sim/meetings").route(web::get().to(control_meetings)))
        .service(web::resource("/_sim/rooms").route(web::get().to(control_rooms)))
        .service(web::resource("/_sim/devices").route(web::post().to(control_add_device)))
        .service(web::resource("/_sim/devices/{id}/bookings").route(web::get().to(control_device_bookings)))
        .default_service(web::to(unknown_path));
}

/// Middleware: gives each request a tracking id and stamps it on the response.
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.app_data::<web::Data<Arc<Core>>>().map_or_else(|| "ROUTER_UNKNOWN".to_owned(), |c| c.tracking_id());
    req.extensions_mut().insert(TrackingId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(TRACKING_HEADER), value);
    }
    Ok(res)
}

fn tracking_id(http: &HttpRequest) -> String {
    http.extensions().get::<TrackingId>().map_or_else(String::new, |t| t.0.clone())
}

/// Runs one API request through the common steps and renders the outcome.
async fn api(
    core: &Core,
    http: &HttpRequest,
    endpoint: &str,
    handle: impl FnOnce(&Core) -> Result<Reply, WebexError>,
) -> HttpResponse {
    api_scoped(core, http, endpoint, None, handle).await
}

/// [`api`] for an endpoint whose token must carry `scope` (403 otherwise, after the 401 for an
/// unknown token, as Webex orders them).
async fn api_scoped(
    core: &Core,
    http: &HttpRequest,
    endpoint: &str,
    scope: Option<&str>,
    handle: impl FnOnce(&Core) -> Result<Reply, WebexError>,
) -> HttpResponse {
    let _slot = core.enter();
    *core.stats.lock().by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
    let latency = core.faults.read().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let result = authenticate(core, http)
        .and_then(|token| authorize(core, &token, scope))
        .and_then(|()| inject_fault(core))
        .and_then(|()| handle(core));
    finish(core, http, result)
}

/// Renders a result and counts its status.
fn finish(core: &Core, http: &HttpRequest, result: Result<Reply, WebexError>) -> HttpResponse {
    let response = match result {
        Ok(Reply::Json(body)) => HttpResponse::Ok().json(body),
        Ok(Reply::NoContent) => HttpResponse::NoContent().finish(),
        Ok(Reply::Page { items, next }) => {
            let mut builder = HttpResponse::Ok();
            if let Some(next) = next {
                // Webex's pagination: RFC 5988 Link headers with rel="next" (absolute URLs).
                let info = http.connection_info();
                let link = format!("<{}://{}{}?{next}>; rel=\"next\"", info.scheme(), info.host(), http.path());
                builder.insert_header(("Link", link));
            }
            builder.json(json!({ "items": items }))
        }
        Err(err) => {
            let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut builder = HttpResponse::build(status);
            if let Some(after) = err.retry_after {
                builder.insert_header(("Retry-After", after.to_string()));
            }
            builder.json(err.body(&tracking_id(http)))
        }
    };
    let mut stats = core.stats.lock();
    *stats.by_status.entry(response.status().as_u16()).or_default() += 1;
    match response.status().as_u16() {
        401 => stats.unauthorized += 1,
        429 | 500..=599 => stats.faults_injected += 1,
        _ => {}
    }
    response
}

/// Accepts `Authorization: Bearer <token>` with a token added to the simulator; returns it.
fn authenticate(core: &Core, http: &HttpRequest) -> Result<String, WebexError> {
    let token = http
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    match token {
        Some(token) if core.store.lock().tokens.contains(token) => Ok(token.to_owned()),
        _ => Err(WebexError::unauthorized()),
    }
}

/// 403 unless `token` carries `scope` (when the endpoint needs one).
fn authorize(core: &Core, token: &str, scope: Option<&str>) -> Result<(), WebexError> {
    match scope {
        Some(scope) if !core.store.lock().token_has(token, scope) => Err(WebexError::forbidden()),
        _ => Ok(()),
    }
}

/// Applies the active faults: the deterministic counters first, then the random rates.
fn inject_fault(core: &Core) -> Result<(), WebexError> {
    let mut faults = core.faults.write();
    let server_status = if (500..=599).contains(&faults.status_5xx) { faults.status_5xx } else { 503 };
    if faults.next_429 > 0 {
        faults.next_429 -= 1;
        return Err(WebexError::too_many_requests(faults.retry_after_secs));
    }
    if faults.next_5xx > 0 {
        faults.next_5xx -= 1;
        return Err(WebexError::server_error(server_status));
    }
    let (rate_429, rate_5xx, retry_after) = (faults.rate_429, faults.rate_5xx, faults.retry_after_secs);
    drop(faults);
    if core.chance(rate_429) {
        return Err(WebexError::too_many_requests(retry_after));
    }
    if core.chance(rate_5xx) {
        return Err(WebexError::server_error(server_status));
    }
    Ok(())
}

async fn get_personal_room(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(http.query_string().as_bytes()).into_owned().collect();
    api(&core, &http, personal_room::ENDPOINT, |core| personal_room::get(core, &query)).await
}

/// The request body as JSON: `None` when empty, `Err` when it is not JSON. Parsed before the
/// common steps but judged inside them, so a bad token still wins over a bad body, as on the
/// real service.
fn json_body(body: &[u8]) -> Result<Option<Value>, ()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        serde_json::from_slice(body).map(Some).map_err(|_| ())
    }
}

/// Runs `handle` over a parsed body, or answers Webex's 400 for one that is not JSON.
fn with_body(
    parsed: Result<Option<Value>, ()>,
    handle: impl FnOnce(Option<&Value>) -> Result<Reply, WebexError>,
) -> Result<Reply, WebexError> {
    match parsed {
        Ok(body) => handle(body.as_ref()),
        Err(()) => Err(WebexError::bad_request("The request body is not valid JSON.")),
    }
}

fn query(http: &HttpRequest) -> Query {
    Query::parse(http.query_string())
}

/// The `timezone` request header, which names the zone of the times in meeting answers.
fn timezone_header(http: &HttpRequest) -> Option<String> {
    http.headers().get("timezone").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn create_meeting(core: web::Data<Arc<Core>>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = json_body(&body);
    api(&core, &http, meetings::CREATE, |core| with_body(parsed, |b| meetings::create(core, b))).await
}

async fn list_meetings(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let (q, zone) = (query(&http), timezone_header(&http));
    api(&core, &http, meetings::LIST, |core| meetings::list(core, &q, zone.as_deref())).await
}

async fn get_meeting(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let (q, zone) = (query(&http), timezone_header(&http));
    api(&core, &http, meetings::GET, |core| meetings::get(core, &id, &q, zone.as_deref())).await
}

async fn update_meeting(
    core: web::Data<Arc<Core>>,
    http: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let parsed = json_body(&body);
    api(&core, &http, meetings::UPDATE, |core| with_body(parsed, |b| meetings::update(core, &id, b))).await
}

async fn delete_meeting(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let q = query(&http);
    api(&core, &http, meetings::DELETE, |core| meetings::delete(core, &id, &q)).await
}

async fn create_room(core: web::Data<Arc<Core>>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = json_body(&body);
    api(&core, &http, rooms::CREATE, |core| with_body(parsed, |b| rooms::create(core, b))).await
}

async fn list_rooms(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let q = query(&http);
    api(&core, &http, rooms::LIST, |core| rooms::list(core, &q)).await
}

async fn get_room(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    api(&core, &http, rooms::GET, |core| rooms::get(core, &id)).await
}

async fn delete_room(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    api(&core, &http, rooms::DELETE, |core| rooms::delete(core, &id)).await
}

async fn get_meeting_info(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    api(&core, &http, rooms::MEETING_INFO, |core| rooms::meeting_info(core, &id)).await
}

async fn create_membership(core: web::Data<Arc<Core>>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = json_body(&body);
    api(&core, &http, memberships::CREATE, |core| with_body(parsed, |b| memberships::create(core, b))).await
}

async fn list_memberships(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let q = query(&http);
    api(&core, &http, memberships::LIST, |core| memberships::list(core, &q)).await
}

async fn get_membership(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    api(&core, &http, memberships::GET, |core| memberships::get(core, &id)).await
}

async fn delete_membership(core: web::Data<Arc<Core>>, http: HttpRequest, id: web::Path<String>) -> HttpResponse {
    api(&core, &http, memberships::DELETE, |core| memberships::delete(core, &id)).await
}

async fn create_message(core: web::Data<Arc<Core>>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = json_body(&body);
    api(&core, &http, messages::CREATE, |core| with_body(parsed, |b| messages::create(core, b))).await
}

async fn list_messages(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let q = query(&http);
    api(&core, &http, messages::LIST, |core| messages::list(core, &q)).await
}

async fn direct_messages(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let q = query(&http);
    api(&core, &http, messages::DIRECT, |core| messages::direct(core, &q)).await
}

async fn bookings_put_command(core: web::Data<Arc<Core>>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = json_body(&body);
    api_scoped(&core, &http, xapi::BOOKINGS_PUT, Some(xapi::SCOPE), |core| {
        with_body(parsed, |b| xapi::bookings_put_command(core, b))
    })
    .await
}

async fn method_not_allowed(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    let _slot = core.enter();
    finish(&core, &http, Err(WebexError::method_not_allowed()))
}

async fn unknown_path(core: web::Data<Arc<Core>>, http: HttpRequest) -> HttpResponse {
    if http.path().starts_with("/_sim") {
        return HttpResponse::NotFound().json(json!({"error": "unknown control endpoint"}));
    }
    let _slot = core.enter();
    finish(&core, &http, Err(WebexError::not_found()))
}

// ---- control surface ------------------------------------------------------------------------

fn bad(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": message}))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpResponse> {
    serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    token: String,
    /// Absent: an admin token with every scope.
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PersonInput {
    email: String,
    display_name: String,
}

/// `POST /_sim/tokens {"token", "scopes"?}`: accept a bearer token (with only `scopes`, when
/// given).
async fn control_add_token(core: web::Data<Arc<Core>>, body: web::Bytes) -> HttpResponse {
    match parse::<TokenInput>(&body) {
        Ok(input) if !input.token.trim().is_empty() => {
            let token = input.token.trim().to_owned();
            let mut store = core.store.lock();
            match input.scopes {
                Some(scopes) => store.token_scopes.insert(token.clone(), scopes.into_iter().collect()),
                None => store.token_scopes.remove(&token),
            };
            store.tokens.insert(token);
            HttpResponse::NoContent().finish()
        }
        Ok(_) => bad("token must not be empty"),
        Err(resp) => resp,
    }
}

/// `POST /_sim/people {"email", "displayName"}` → 201 `{"id", "personalRoom"}`.
async fn control_add_person(core: web::Data<Arc<Core>>, body: web::Bytes) -> HttpResponse {
    match parse::<PersonInput>(&body) {
        Ok(input) if input.email.contains('@') => {
            let id = core.add_person(&input.email, &input.display_name);
            let room = room_spec(&core, &input.email);
            HttpResponse::Created().json(json!({"id": id, "personalRoom": room}))
        }
        Ok(_) => bad("email must be an e-mail address"),
        Err(resp) => resp,
    }
}

fn room_spec(core: &Core, email: &str) -> Option<PersonalRoomSpec> {
    core.store.lock().person(email).and_then(|p| p.personal_room.as_ref()).map(|r| r.spec.clone())
}

/// `GET /_sim/people/{email}/personalRoom`: the room's spec, or 404.
async fn control_get_room(core: web::Data<Arc<Core>>, email: web::Path<String>) -> HttpResponse {
    match room_spec(&core, &email) {
        Some(spec) => HttpResponse::Ok().json(spec),
        None => HttpResponse::NotFound().json(json!({"error": "no such person or no personal room"})),
    }
}

/// `PUT /_sim/people/{email}/personalRoom` with a [`PersonalRoomSpec`].
async fn control_set_room(core: web::Data<Arc<Core>>, email: web::Path<String>, body: web::Bytes) -> HttpResponse {
    match parse::<PersonalRoomSpec>(&body) {
        Ok(spec) => {
            if core.set_personal_room(&email, Some(spec)) {
                HttpResponse::NoContent().finish()
            } else {
                HttpResponse::NotFound().json(json!({"error": "no such person"}))
            }
        }
        Err(resp) => resp,
    }
}

/// `DELETE /_sim/people/{email}/personalRoom`: the person keeps their account, loses the room.
async fn control_remove_room(core: web::Data<Arc<Core>>, email: web::Path<String>) -> HttpResponse {
    if core.set_personal_room(&email, None) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::NotFound().json(json!({"error": "no such person"}))
    }
}

/// `GET /_sim/faults`.
async fn control_get_faults(core: web::Data<Arc<Core>>) -> HttpResponse {
    HttpResponse::Ok().json(core.faults())
}

/// `PUT /_sim/faults` with a [`WebexFaults`]; fields left out take their defaults.
async fn control_set_faults(core: web::Data<Arc<Core>>, body: web::Bytes) -> HttpResponse {
    match parse::<WebexFaults>(&body) {
        Ok(faults) => {
            *core.faults.write() = faults;
            HttpResponse::NoContent().finish()
        }
        Err(resp) => resp,
    }
}

/// `GET /_sim/stats`.
async fn control_stats(core: web::Data<Arc<Core>>) -> HttpResponse {
    HttpResponse::Ok().json(core.stats.lock().clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceInput {
    seconds: f64,
}

/// `POST /_sim/clock/advance {"seconds"}` → 200 `{"now"}`: moves simulated time forward.
async fn control_advance_clock(core: web::Data<Arc<Core>>, body: web::Bytes) -> HttpResponse {
    match parse::<AdvanceInput>(&body)
        .and_then(|input| std::time::Duration::try_from_secs_f64(input.seconds).map_err(|e| bad(&e.to_string())))
    {
        Ok(by) => {
            core.clock.advance(by);
            HttpResponse::Ok().json(json!({"now": crate::webex::space::format_millis(core.now())}))
        }
        Err(resp) => resp,
    }
}

/// `GET /_sim/meetings` → `{"items"}`: every scheduled meeting as the API renders it (in its
/// own time zone), whoever hosts it, with its `invitees` added.
async fn control_meetings(core: web::Data<Arc<Core>>) -> HttpResponse {
    let now = core.now();
    let store = core.store.lock();
    let mut meetings: Vec<_> = store.meetings.values().collect();
    meetings.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    let items: Vec<Value> = meetings
        .iter()
        .map(|m| {
            let ctx = RenderContext {
                site: &core.config.site,
                dial_in_ip_address: &core.config.dial_in_ip_address,
                call_in_numbers: &core.config.call_in_numbers,
                now,
                zone: m.timezone,
            };
            let mut body = m.render(&ctx);
            let invitees: Vec<Value> = m
                .invitees
                .iter()
                .map(|i| json!({"email": i.email, "displayName": i.display_name, "coHost": i.co_host}))
                .collect();
            if let Some(obj) = body.as_object_mut() {
                obj.insert("invitees".to_owned(), json!(invitees));
            }
            body
        })
        .collect();
    HttpResponse::Ok().json(json!({ "items": items }))
}

/// `GET /_sim/rooms` → `{"items"}`: every space with its meeting details and its members'
/// addresses.
async fn control_rooms(core: web::Data<Arc<Core>>) -> HttpResponse {
    let store = core.store.lock();
    let mut all: Vec<_> = store.rooms.values().collect();
    all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let items: Vec<Value> = all
        .iter()
        .map(|r| {
            let mut body = r.render(&rooms::title_for(&store, r, &core.admin_id), &core.org_id);
            let members: Vec<&str> = store.members_of(&r.id).map(|m| m.person_email.as_str()).collect();
            if let Some(obj) = body.as_object_mut() {
                obj.insert("members".to_owned(), json!(members));
                obj.insert("meetingInfo".to_owned(), r.render_meeting_info());
            }
            body
        })
        .collect();
    HttpResponse::Ok().json(json!({ "items": items }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeviceInput {
    device_id: String,
}

/// `POST /_sim/devices {"deviceId"}`: register a cloud device (without bookings).
async fn control_add_device(core: web::Data<Arc<Core>>, body: web::Bytes) -> HttpResponse {
    match parse::<DeviceInput>(&body) {
        Ok(input) if !input.device_id.trim().is_empty() => {
            core.store.lock().devices.entry(input.device_id.trim().to_owned()).or_default();
            HttpResponse::NoContent().finish()
        }
        Ok(_) => bad("deviceId must not be empty"),
        Err(resp) => resp,
    }
}

/// `GET /_sim/devices/{id}/bookings` → `{"Bookings"}`: a cloud device's list as
/// `Bookings.Put` left it.
async fn control_device_bookings(core: web::Data<Arc<Core>>, id: web::Path<String>) -> HttpResponse {
    match core.store.lock().devices.get(id.as_str()) {
        Some(device) => HttpResponse::Ok().json(json!({ "Bookings": device.bookings })),
        None => HttpResponse::NotFound().json(json!({"error": "no such device"})),
    }
}
