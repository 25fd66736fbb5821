//! Simulators of the collaboration tools hcal shows presence in, and of a receiver of hcal's
//! presence webhooks:
//!
//! - [`mattermost::MattermostSim`]: Mattermost's API v4 for custom statuses (bearer tokens,
//!   users looked up by e-mail, `PUT` / `DELETE /api/v4/users/{user_id}/status/custom`) with
//!   Mattermost's error shape `{"id", "message", "detailed_error", "request_id", "status_code"}`.
//! - [`slack::SlackSim`]: Slack's Web API methods `users.lookupByEmail` and `users.profile.set`,
//!   which answer HTTP 200 with `{"ok": false, "error": "…"}` for every refusal and HTTP 429
//!   with `Retry-After` when rate limited.
//! - [`hook::HookSim`]: an endpoint that takes webhooks signed per the Standard Webhooks
//!   specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`), checks them, and
//!   keeps the verified ones in arrival order.
//!
//! Each starts an actix-web server on a free 127.0.0.1 port (`start(config)`, then `url()`),
//! lets a test read what it received, and takes a [`Fault`] that every request meets before it
//! is handled: answer 503 as a tool that is down, 429 with `Retry-After` as one that throttles,
//! or any status. `stop()` makes the port refuse connections.

pub mod hook;
pub mod mattermost;
pub mod slack;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpServer, web};

/// A fault every request of a simulator meets before it is handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// None: requests are handled.
    #[default]
    None,
    /// The tool is down: 503 Service Unavailable, nothing handled or recorded.
    Down,
    /// The tool throttles: 429 with `Retry-After` in whole seconds (and, for Slack, its
    /// `ratelimited` body).
    RateLimited {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// Every request is answered with this status and an empty body (e.g. 410 Gone).
    Status(u16),
}

/// The bearer token of a request (`Authorization: Bearer <token>`), if it has one.
pub(crate) fn bearer(http: &HttpRequest) -> Option<String> {
    let value = http.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// `Retry-After` in whole seconds, at least one (a zero would tell a client to hammer).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs().max(1)
}

/// A random identifier of `len` characters from `alphabet`.
pub(crate) fn random_id(alphabet: &[u8], len: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// Starts a server with `configure`'s routes and `data` on a free 127.0.0.1 port; returns its
/// base URL and handle.
pub(crate) fn serve<T: 'static + Send + Sync>(
    data: web::Data<T>,
    workers: usize,
    configure: fn(&mut web::ServiceConfig),
) -> std::io::Result<(String, ServerHandle)> {
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(configure))
        .workers(workers.max(1))
        .disable_signals()
        .shutdown_timeout(1)
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let bound = server.addrs().first().copied().ok_or_else(|| std::io::Error::other("no address bound"))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://{bound}"), handle))
}
