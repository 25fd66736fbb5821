//! How a device refuses a request, and the XML its answers carry.
//!
//! What is documented: `/putxml` answers a command with `<Command><{Name}Result status="OK"/>`
//! or `status="Error"` and a `<Reason>`, as `text/xml`, with HTTP 200; a request without valid
//! Basic credentials gets 401 with a `WWW-Authenticate: Basic realm=…` challenge. What the
//! simulator chose where devices are not documented: a body that is not well-formed XML gets
//! 400 with the same `<Result status="Error">` shape, a command the device does not know gets
//! `<Result status="Error"><Reason>Unknown command</Reason></Result>` with HTTP 200, and a
//! `/bookingsputxml` document that cannot be read gets 400 with a `<Reason>`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use quick_xml::escape::escape;

/// Content type of every XML answer.
pub const XML: &str = "text/xml; charset=utf-8";

/// The reason an old device gives for `Bookings Put`, which it does not know.
pub const UNKNOWN_COMMAND: &str = "Unknown command";

/// Why a device refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// No device with that id: 404.
    UnknownDevice,
    /// Missing or wrong Basic credentials: 401 with a challenge.
    Unauthorized,
    /// The body is not well-formed XML (or not UTF-8): 400.
    MalformedXml(String),
    /// A command the device does not know: 200, `status="Error"`.
    UnknownCommand,
    /// A known command refused for its content: 200, `<{result}Result status="Error">`.
    Command {
        /// Result element name, e.g. `BookingsPutResult`.
        result: &'static str,
        /// Why.
        reason: String,
    },
    /// A `/bookingsputxml` document the device cannot read: 400.
    InvalidDocument(String),
}

impl DeviceError {
    /// HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownDevice => 404,
            Self::Unauthorized => 401,
            Self::MalformedXml(_) | Self::InvalidDocument(_) => 400,
            Self::UnknownCommand | Self::Command { .. } => 200,
        }
    }

    /// The answer's body.
    pub fn body(&self) -> String {
        match self {
            Self::UnknownDevice => error_result("Result", "No such device"),
            Self::Unauthorized => String::new(),
            Self::MalformedXml(reason) | Self::InvalidDocument(reason) => error_result("Result", reason),
            Self::UnknownCommand => error_result("Result", UNKNOWN_COMMAND),
            Self::Command { result, reason } => error_result(result, reason),
        }
    }

    /// The whole HTTP answer; `realm` goes into the 401 challenge.
    pub fn response(&self, realm: &str) -> HttpResponse {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        if matches!(self, Self::Unauthorized) {
            builder.insert_header(("WWW-Authenticate", format!("Basic realm=\"{realm}\"")));
            return builder.finish();
        }
        builder.content_type(XML).body(self.body())
    }
}

/// `<Command><{result} status="OK"/></Command>`, a command's success.
pub fn ok_result(result: &str) -> String {
    format!("<?xml version=\"1.0\"?>\n<Command><{result} status=\"OK\"/></Command>\n")
}

fn error_result(result: &str, reason: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<Command><{result} status=\"Error\"><Reason>{}</Reason></{result}></Command>\n",
        escape(reason)
    )
}
