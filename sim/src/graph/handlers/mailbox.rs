//! `/users/{id}/mailboxSettings` and the user resources.

use serde_json::{Map, Value, json};

use super::super::core::{Core, Req, Resp};
use super::super::error::GraphError;
use super::super::model::User;
use super::super::wire;

const LANGUAGES: &[(&str, &str)] = &[
    ("en-US", "English (United States)"),
    ("en-GB", "English (United Kingdom)"),
    ("de-DE", "German (Germany)"),
    ("fr-FR", "French (France)"),
    ("es-ES", "Spanish (Spain, International Sort)"),
    ("it-IT", "Italian (Italy)"),
    ("nl-NL", "Dutch (Netherlands)"),
    ("pt-BR", "Portuguese (Brazil)"),
    ("tr-TR", "Turkish (Türkiye)"),
    ("ja-JP", "Japanese (Japan)"),
    ("zh-CN", "Chinese (Simplified, PRC)"),
];

/// Default `mailboxSettings` of a new mailbox.
pub fn default_settings(locale: &str, time_zone: &str) -> Value {
    json!({
        "archiveFolder": "AAMkAGArchive",
        "timeZone": time_zone,
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": "2020-01-01T00:00:00.0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2020-01-02T00:00:00.0000000", "timeZone": "UTC"},
        },
        "language": language(locale),
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": time_zone},
        },
    })
}

fn language(locale: &str) -> Value {
    let display = LANGUAGES.iter().find(|(l, _)| l.eq_ignore_ascii_case(locale)).map_or(locale, |(_, d)| d);
    json!({"locale": locale, "displayName": display})
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "ErrorInvalidArgument", message)
}

fn pick(value: &Value, allowed: &[&str], what: &str) -> Result<String, GraphError> {
    let s = value.as_str().unwrap_or_default();
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| invalid(format!("The value '{s}' is not valid for {what}.")))
}

fn date_time_zone(v: &Value) -> Result<Value, GraphError> {
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .and_then(wire::parse_local)
        .ok_or_else(|| invalid("A scheduled date-time is not valid."))?;
    let tz = v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    wire::zone(tz)?;
    Ok(json!({"dateTime": wire::format_local(dt), "timeZone": tz}))
}

fn with_purpose(core: &Core, user: &User, mut settings: Value) -> Value {
    let purpose = if core.config.user_purpose_as_object {
        json!({"value": user.kind.as_str()})
    } else {
        json!(user.kind.as_str())
    };
    if let Some(o) = settings.as_object_mut() {
        o.insert("userPurpose".into(), purpose);
    }
    settings
}

/// `GET …/mailboxSettings`.
pub fn get(core: &Core, user: &User) -> Result<Resp, GraphError> {
    let mut v = with_purpose(core, user, user.settings.clone());
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#users('{}')/mailboxSettings", core.base_url(), user.id)),
        );
    }
    Ok(Resp::json(200, v))
}

/// The settings Graph documents a `GET …/mailboxSettings/{name}` for, in their wire spelling.
pub const SINGLE_SETTINGS: &[&str] = &[
    "automaticRepliesSetting",
    "dateFormat",
    "delegateMeetingMessageDeliveryOptions",
    "language",
    "timeFormat",
    "timeZone",
    "workingHours",
    "userPurpose",
];

/// `GET …/mailboxSettings/{name}`: one setting alone with its `@odata.context`. A complex
/// setting answers with its own properties, a string one as `{"value": …}` (so `userPurpose`
/// reads `{"value": "user"}`, as documented).
pub fn get_one(core: &Core, user: &User, name: &str) -> Result<Resp, GraphError> {
    let Some(canonical) = SINGLE_SETTINGS.iter().find(|s| s.eq_ignore_ascii_case(name)) else {
        return Err(GraphError::new(400, "BadRequest", format!("Resource not found for the segment '{name}'.")));
    };
    let settings = with_purpose(core, user, user.settings.clone());
    let value = settings.get(*canonical).cloned().unwrap_or(Value::Null);
    let mut body = match value {
        Value::Object(fields) => fields,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#users('{}')/mailboxSettings/{canonical}", core.base_url(), user.id)),
    );
    Ok(Resp::json(200, Value::Object(body)))
}

/// `PATCH …/mailboxSettings/{name}`: Graph documents updates of mailbox settings only as a
/// PATCH of `mailboxSettings` itself, so writing one setting by its path is refused rather
/// than accepted on a guess.
pub fn patch_one(name: &str) -> GraphError {
    GraphError::new(
        405,
        "ErrorInvalidRequest",
        format!("The OData request is not supported. Update '{name}' with PATCH /users/{{id}}/mailboxSettings."),
    )
}

/// `PATCH …/mailboxSettings`: partial; answers with what changed.
pub fn patch(core: &Core, req: &Req, user: &User) -> Result<Resp, GraphError> {
    let body = req
        .body
        .as_ref()
        .and_then(Value::as_object)
        .ok_or_else(|| GraphError::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let mut settings = user.settings.clone();
    let mut changed = Map::new();
    for (key, value) in body {
        let canonical = match key.to_ascii_lowercase().as_str() {
            "automaticrepliessetting" => {
                let mut ars = settings.get("automaticRepliesSetting").cloned().unwrap_or(json!({}));
                let src = value.as_object().ok_or_else(|| invalid("automaticRepliesSetting must be an object."))?;
                for (k, v) in src {
                    let (name, val) = match k.to_ascii_lowercase().as_str() {
                        "status" => ("status", json!(pick(v, &["disabled", "alwaysEnabled", "scheduled"], "status")?)),
                        "externalaudience" => {
                            ("externalAudience", json!(pick(v, &["none", "contactsOnly", "all"], "externalAudience")?))
                        }
                        "scheduledstartdatetime" => ("scheduledStartDateTime", date_time_zone(v)?),
                        "scheduledenddatetime" => ("scheduledEndDateTime", date_time_zone(v)?),
                        "internalreplymessage" => ("internalReplyMessage", json!(v.as_str().unwrap_or_default())),
                        "externalreplymessage" => ("externalReplyMessage", json!(v.as_str().unwrap_or_default())),
                        _ => {
                            return Err(GraphError::new(
                                400,
                                "RequestBodyRead",
                                format!(
                                    "The property '{k}' does not exist on type 'microsoft.graph.automaticRepliesSetting'."
                                ),
                            ));
                        }
                    };
                    if let Some(o) = ars.as_object_mut() {
                        o.insert(name.into(), val);
                    }
                }
                ("automaticRepliesSetting", ars)
            }
            "language" => {
                let locale = value.get("locale").and_then(Value::as_str).unwrap_or_default();
                let valid = locale.len() >= 2
                    && locale.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
                if !valid {
                    return Err(invalid(format!("The locale '{locale}' is not valid.")));
                }
                ("language", language(locale))
            }
            "timezone" => {
                let tz = value.as_str().unwrap_or_default();
                wire::zone(tz)?;
                ("timeZone", json!(tz))
            }
            "workinghours" => ("workingHours", value.clone()),
            "dateformat" => ("dateFormat", value.clone()),
            "timeformat" => ("timeFormat", value.clone()),
            "delegatemeetingmessagedeliveryoptions" => ("delegateMeetingMessageDeliveryOptions", value.clone()),
            "userpurpose" => return Err(invalid("The property 'userPurpose' is read-only.")),
            _ => {
                return Err(GraphError::new(
                    400,
                    "RequestBodyRead",
                    format!("The property '{key}' does not exist on type 'microsoft.graph.mailboxSettings'."),
                ));
            }
        };
        if let Some(o) = settings.as_object_mut() {
            o.insert(canonical.0.into(), canonical.1.clone());
        }
        changed.insert(canonical.0.into(), canonical.1);
    }
    if let Some(stored) = core.store.lock().users.get_mut(&user.id) {
        stored.settings = settings;
    }
    changed.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#users('{}')/mailboxSettings", core.base_url(), user.id)),
    );
    Ok(Resp::json(200, Value::Object(changed)))
}

/// A user as `GET /users/{id}` shows it.
pub fn user_json(user: &User) -> Value {
    let mut parts = user.display_name.splitn(2, ' ');
    json!({
        "id": user.id,
        "displayName": user.display_name,
        "givenName": parts.next(),
        "surname": parts.next(),
        "mail": user.mail,
        "userPrincipalName": user.mail,
        "businessPhones": [],
        "jobTitle": null,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": user.settings.pointer("/language/locale"),
    })
}

/// `GET /users`: the caller's tenant, paged.
pub fn list_users(core: &Core, req: &Req, tenant_id: &str) -> Result<Resp, GraphError> {
    let prefs = super::super::odata::Prefs::from_req(req)?;
    let (top, skip) = super::super::odata::paging(req, &prefs, 100)?;
    let store = core.store.lock();
    let mut users: Vec<&User> = store.users.values().filter(|u| u.tenant_id == tenant_id).collect();
    users.sort_by(|a, b| a.id.cmp(&b.id));
    let items = users.iter().map(|u| user_json(u)).collect();
    let context = format!("{}/v1.0/$metadata#users", core.base_url());
    Ok(Resp::json(200, super::events::page(core, req, context, items, top, skip)))
}
