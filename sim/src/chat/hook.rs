//! A receiver of webhooks signed per the Standard Webhooks specification, standing in for the
//! endpoint an operator points hcal's presence webhook at.
//!
//! `POST` to any path. The request must carry `webhook-id`, `webhook-timestamp` (unix seconds)
//! and `webhook-signature`, a space-separated list of `v1,<base64>` signatures, one of which
//! must be the HMAC-SHA256, keyed with the secret, of `{id}.{timestamp}.{body}`. The secret is
//! configured as the specification serialises it: `whsec_` and the base64 of the key.
//!
//! | request | answer |
//! | --- | --- |
//! | signed, timestamp within the tolerance (5 minutes either way), body JSON | 204, kept as a [`Delivery`] |
//! | a header missing | 400 |
//! | no matching signature, or a timestamp outside the tolerance | 401 |
//! | verified, but the body is not JSON | 400 |
//!
//! The checks are the pure [`verify`]; faults ([`super::Fault`]) come first, so a receiver
//! that is down answers 503 without looking at the request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit as _, Mac as _};
use parking_lot::Mutex;
use serde_json::Value;

use super::{Fault, retry_after_secs, serve};

/// The tolerance the specification's libraries use: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Configuration of one receiver. `Debug` does not print the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSimConfig {
    /// The signing secret, `whsec_<base64 key>` (the prefix is optional, as the
    /// specification's libraries accept it).
    pub secret: String,
    /// How far `webhook-timestamp` may be from the receiver's clock. Default 5 minutes.
    pub tolerance: Duration,
    /// Worker threads of the HTTP server. Default 1.
    pub workers: usize,
}

impl HookSimConfig {
    /// A receiver checking signatures with `secret`, with the default tolerance.
    pub fn new(secret: &str) -> Self {
        Self { secret: secret.to_owned(), tolerance: DEFAULT_TOLERANCE, workers: 1 }
    }
}

impl std::fmt::Debug for HookSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSimConfig")
            .field("secret", &"<redacted>")
            .field("tolerance", &self.tolerance)
            .field("workers", &self.workers)
            .finish()
    }
}

/// One verified delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// The body, parsed.
    pub body: Value,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing (400).
    #[error("a webhook header is missing")]
    MissingHeader,
    /// `webhook-timestamp` is not an integer or is outside the tolerance (401).
    #[error("the webhook timestamp is invalid or outside the tolerance")]
    Timestamp,
    /// No signature matches (401).
    #[error("no webhook signature matches")]
    Signature,
}

impl Rejection {
    /// The HTTP status the receiver answers.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingHeader => 400,
            Self::Timestamp | Self::Signature => 401,
        }
    }
}

/// The key of a `whsec_` secret; `None` when it is not base64.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded.trim()).ok().filter(|k| !k.is_empty())
}

/// Checks a delivery's headers against `body`: `id`, `timestamp` and `signatures` are the
/// values of the three headers, `now` the receiver's clock in unix seconds.
pub fn verify(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<i64, Rejection> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err(Rejection::MissingHeader);
    };
    let at: i64 = timestamp.trim().parse().map_err(|_| Rejection::Timestamp)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if at.abs_diff(now) > tolerance.unsigned_abs() {
        return Err(Rejection::Timestamp);
    }
    let matches = signatures.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|encoded| {
        let Ok(signature) = STANDARD.decode(encoded) else { return false };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return false };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&signature).is_ok()
    });
    if matches { Ok(at) } else { Err(Rejection::Signature) }
}

#[derive(Debug)]
struct State {
    key: Vec<u8>,
    tolerance: Duration,
    fault: Fault,
    deliveries: Vec<Delivery>,
    rejected: u64,
}

type Shared = Arc<Mutex<State>>;

/// A running receiver; [`HookSim::stop`] stops it.
pub struct HookSim {
    state: Shared,
    url: String,
    server: ServerHandle,
}

impl HookSim {
    /// Starts a receiver on a free 127.0.0.1 port; an error of kind `InvalidInput` when the
    /// secret is not base64.
    pub async fn start(config: HookSimConfig) -> std::io::Result<Self> {
        let key = secret_key(&config.secret)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the secret is not whsec_<base64>"))?;
        let state = Arc::new(Mutex::new(State {
            key,
            tolerance: config.tolerance,
            fault: Fault::None,
            deliveries: Vec::new(),
            rejected: 0,
        }));
        let (url, server) = serve(web::Data::new(state.clone()), config.workers, routes)?;
        Ok(Self { state, url: format!("{url}/hooks/presence"), server })
    }

    /// The endpoint's URL (`http://127.0.0.1:PORT/hooks/presence`; any path is accepted).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server: connections are refused from then on.
    pub async fn stop(self) {
        self.server.stop(false).await;
    }

    /// Sets the fault every request meets from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().fault = fault;
    }

    /// Shorthand for [`Fault::Down`] (true: 503) or [`Fault::None`] (false).
    pub fn set_down(&self, down: bool) {
        self.set_fault(if down { Fault::Down } else { Fault::None });
    }

    /// The verified deliveries, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().deliveries.clone()
    }

    /// How many requests were refused for their headers, signature or body.
    pub fn rejected(&self) -> u64 {
        self.state.lock().rejected
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::route().to(receive));
}

fn header<'a>(http: &'a HttpRequest, name: &str) -> Option<&'a str> {
    http.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn receive(state: web::Data<Shared>, http: HttpRequest, body: web::Bytes) -> HttpResponse {
    let mut s = state.lock();
    match s.fault {
        Fault::None => {}
        Fault::Down => return HttpResponse::ServiceUnavailable().finish(),
        Fault::RateLimited { retry_after } => {
            return HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_secs(retry_after).to_string()))
                .finish();
        }
        Fault::Status(status) => {
            return HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .finish();
        }
    }
    if http.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed().finish();
    }
    let verified = verify(
        &s.key,
        header(&http, "webhook-id"),
        header(&http, "webhook-timestamp"),
        header(&http, "webhook-signature"),
        &body,
        chrono::Utc::now().timestamp(),
        s.tolerance,
    );
    let timestamp = match verified {
        Ok(at) => at,
        Err(rejection) => {
            s.rejected += 1;
            let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return HttpResponse::build(status).body(rejection.to_string());
        }
    };
    let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
        s.rejected += 1;
        return HttpResponse::BadRequest().body("the body is not JSON");
    };
    let id = header(&http, "webhook-id").unwrap_or_default().to_owned();
    s.deliveries.push(Delivery { id, timestamp, body: parsed });
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The signing example of the Standard Webhooks reference libraries' tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(signatures: &str, now: i64) -> Result<i64, Rejection> {
        let key = secret_key(SECRET).unwrap();
        verify(&key, Some(ID), Some(&AT.to_string()), Some(signatures), BODY, now, DEFAULT_TOLERANCE)
    }

    #[test]
    fn the_specification_example_verifies() {
        assert_eq!(check(SIGNATURE, AT), Ok(AT));
        assert_eq!(check(&format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIGNATURE}"), AT + 299), Ok(AT));
    }

    #[test]
    fn a_wrong_signature_or_an_old_timestamp_is_refused() {
        assert_eq!(check("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", AT), Err(Rejection::Signature));
        assert_eq!(check("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", AT), Err(Rejection::Signature));
        assert_eq!(check(SIGNATURE, AT + 301), Err(Rejection::Timestamp));
        assert_eq!(check(SIGNATURE, AT - 301), Err(Rejection::Timestamp));
        let key = secret_key(SECRET).unwrap();
        assert_eq!(
            verify(&key, None, Some("1"), Some(SIGNATURE), BODY, AT, DEFAULT_TOLERANCE),
            Err(Rejection::MissingHeader)
        );
    }
}
