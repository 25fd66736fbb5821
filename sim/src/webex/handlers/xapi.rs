//! `POST /v1/xapi/command/Bookings.Put`: the cloud xAPI carrying `xCommand Bookings Put` to a
//! cloud-registered RoomOS device. The request is `{"deviceId", "arguments"?, "body"}`; `body`
//! is the command's multiline payload, which Webex documents as "a complex JSON object or a
//! string", so both are taken (a string must hold the JSON). The device checks the bookings as
//! a local device would ([`crate::device::model::bookings_put`]) and replaces its whole list;
//! the answer echoes `deviceId` and `arguments` and carries the command's `result`.
//!
//! Needs a token with the `spark:xapi_commands` scope (403 otherwise); 400 for a missing
//! `deviceId` or `body` or bookings the device refuses, 404 for a device Webex does not know.

use serde_json::{Value, json};

use super::Reply;
use super::body::Fields;
use crate::device::model::bookings_put;
use crate::webex::core::Core;
use crate::webex::error::WebexError;

/// Stats key of this endpoint.
pub const BOOKINGS_PUT: &str = "POST /v1/xapi/command/Bookings.Put";

/// The scope every xAPI command needs.
pub const SCOPE: &str = "spark:xapi_commands";

/// Carries out `Bookings.Put` on the device the body names.
pub fn bookings_put_command(core: &Core, body: Option<&Value>) -> Result<Reply, WebexError> {
    let fields = Fields::of(body)?;
    let device_id = fields.required("deviceId")?;
    let arguments = match body.and_then(|b| b.get("arguments")) {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(args)) => Value::Object(args.clone()),
        Some(_) => return Err(WebexError::bad_request("arguments must be an object.")),
    };
    let payload = match body.and_then(|b| b.get("body")) {
        None | Some(Value::Null) => return Err(WebexError::bad_request("Missing required field: body.")),
        Some(Value::String(text)) => serde_json::from_str(text)
            .map_err(|_| WebexError::bad_request("body is not valid JSON for Bookings.Put."))?,
        Some(other) => other.clone(),
    };
    let mut store = core.store.lock();
    let device = store.devices.get_mut(device_id).ok_or_else(WebexError::not_found)?;
    let bookings =
        bookings_put(&payload).map_err(|reason| WebexError::bad_request(format!("Bookings.Put failed: {reason}")))?;
    device.bookings = bookings;
    device.puts += 1;
    Ok(Reply::Json(json!({"deviceId": device_id, "arguments": arguments, "result": {}})))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::webex::{WebexSim, WebexSimConfig};

    const DEVICE: &str = "Y2lzY29zcGFyazovL3VzL0RFVklDRS9yb29tLTE";

    fn bookings() -> Value {
        json!({"Bookings": [{"Id": "1", "Title": "Weekly sync", "Number": "room@video.example.com", "Protocol": "Spark",
            "MeetingPlatform": "Webex", "Organizer": {"Name": "Alex Wilber"},
            "Time": {"StartTime": "2026-05-04T10:00:00Z", "Duration": 60, "StartTimeBuffer": 300, "EndTimeBuffer": 0}}]})
    }

    async fn setup() -> (WebexSim, reqwest::Client) {
        let sim = WebexSim::start(WebexSimConfig::default()).await.expect("simulator starts");
        sim.add_token("admin-token");
        sim.add_token_with_scopes("xapi-token", &["spark:xapi_commands"]);
        sim.add_token_with_scopes("status-token", &["spark:xapi_statuses"]);
        sim.add_device(DEVICE);
        (sim, reqwest::Client::new())
    }

    async fn call(sim: &WebexSim, http: &reqwest::Client, token: &str, body: &Value) -> (u16, Value) {
        let res = http
            .post(format!("{}/v1/xapi/command/Bookings.Put", sim.url()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webex_xapi_bookings_put_replaces_the_cloud_devices_list() {
        let (sim, http) = setup().await;
        let (status, answer) = call(&sim, &http, "xapi-token", &json!({"deviceId": DEVICE, "body": bookings()})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, json!({"deviceId": DEVICE, "arguments": {}, "result": {}}));
        assert_eq!(sim.device_bookings(DEVICE), bookings()["Bookings"].as_array().cloned());

        // The body may also be the JSON as a string; an empty list clears the device.
        let empty = json!({"Bookings": []}).to_string();
        let (status, _) = call(&sim, &http, "admin-token", &json!({"deviceId": DEVICE, "body": empty})).await;
        assert_eq!(status, 200);
        assert_eq!(sim.device_bookings(DEVICE), Some(vec![]));
        assert_eq!(sim.device_puts(DEVICE), Some(2));

        let read: Value = http
            .get(format!("{}/_sim/devices/{DEVICE}/bookings", sim.url()))
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(read, json!({"Bookings": []}));
        sim.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webex_xapi_refuses_bad_tokens_missing_fields_and_unknown_devices() {
        let (sim, http) = setup().await;
        let good = json!({"deviceId": DEVICE, "body": bookings()});
        let (status, answer) = call(&sim, &http, "nobody", &good).await;
        assert_eq!(status, 401);
        assert!(answer["trackingId"].is_string() && answer["message"].is_string(), "{answer}");
        assert_eq!(call(&sim, &http, "status-token", &good).await.0, 403);

        let (status, answer) = call(&sim, &http, "xapi-token", &json!({"body": bookings()})).await;
        assert_eq!((status, answer["message"].as_str()), (400, Some("Missing required field: deviceId.")));
        let (status, answer) = call(&sim, &http, "xapi-token", &json!({"deviceId": DEVICE})).await;
        assert_eq!((status, answer["message"].as_str()), (400, Some("Missing required field: body.")));
        let unknown = json!({"deviceId": "no-such-device", "body": bookings()});
        assert_eq!(call(&sim, &http, "xapi-token", &unknown).await.0, 404);
        let refused = json!({"deviceId": DEVICE, "body": {"Bookings": [{"Id": "1"}]}});
        let (status, answer) = call(&sim, &http, "xapi-token", &refused).await;
        assert_eq!(status, 400);
        assert!(answer["message"].as_str().unwrap_or_default().contains("Title: required"), "{answer}");
        assert_eq!(sim.device_bookings(DEVICE), Some(vec![]));
        sim.stop().await;
    }
}
