//! The stored form of domain events: an envelope with public fields in clear and the event's
//! `private` part sealed, bound to the envelope (event id, mailbox, type) as additional data.
//! Old versions are upcast on read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::events::MailboxEvent;
use crate::ids::{MailboxId, TenantId, UserObjectId};
use crate::seal::{self, KeyRing, KeyScope, SealError, Sealed};

/// A domain event with its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Unique id.
    pub event_id: Uuid,
    /// Mailbox.
    pub mailbox: MailboxId,
    /// Gapless sequence number within the mailbox, from 1.
    pub seq: u64,
    /// When it was decided.
    pub occurred_at: DateTime<Utc>,
    /// What caused it (notification id, timer id, admin command id).
    pub causation_id: String,
    /// The event.
    pub event: MailboxEvent,
}

/// The wire form (JSON) of the `mailbox-events` topic; `schemas/mailbox-event.envelope.v1.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    event_id: Uuid,
    tenant_id: TenantId,
    user_id: UserObjectId,
    seq: u64,
    #[serde(rename = "type")]
    event_type: String,
    version: u32,
    occurred_at: DateTime<Utc>,
    causation_id: String,
    key_id: Option<String>,
    data: Value,
}

/// Codec failures.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not a valid envelope.
    #[error("malformed event record: {0}")]
    Malformed(String),
    /// A sealed part could not be opened.
    #[error(transparent)]
    Seal(#[from] SealError),
}

fn aad(event_id: &Uuid, mailbox: &MailboxId, event_type: &str) -> Vec<u8> {
    format!("{event_id}|{mailbox}|{event_type}").into_bytes()
}

/// Serialises an envelope, sealing the event's `private` part with the ring's current key.
pub fn encode(env: &Envelope, ring: &KeyRing) -> Result<Vec<u8>, CodecError> {
    let tagged = serde_json::to_value(&env.event).map_err(|e| CodecError::Malformed(e.to_string()))?;
    let event_type = env.event.type_name();
    let mut data = tagged.get("data").cloned().unwrap_or(Value::Object(Default::default()));
    let mut key_id = None;
    if let Some(obj) = data.as_object_mut()
        && let Some(private) = obj.remove("private")
    {
        let scope = KeyScope::Mailbox(env.mailbox);
        let sealed = seal::seal_for(ring, &scope, &aad(&env.event_id, &env.mailbox, event_type), &private)?;
        key_id = Some(sealed.kid.clone());
        obj.insert("sealed".into(), serde_json::to_value(sealed).map_err(|e| CodecError::Malformed(e.to_string()))?);
    }
    let stored = Stored {
        event_id: env.event_id,
        tenant_id: env.mailbox.tenant,
        user_id: env.mailbox.user,
        seq: env.seq,
        event_type: event_type.to_owned(),
        version: env.event.version(),
        occurred_at: env.occurred_at,
        causation_id: env.causation_id.clone(),
        key_id,
        data,
    };
    serde_json::to_vec(&stored).map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Upcasts older versions of an event's data to the current shape. Every event is at version 1
/// today; a version 2 adds a branch here instead of optional fields everywhere.
fn upcast(event_type: &str, version: u32, data: Value) -> Result<Value, CodecError> {
    match version {
        1 => Ok(data),
        v => Err(CodecError::Malformed(format!("{event_type} version {v} is newer than this build"))),
    }
}

/// Reads an envelope, opening its sealed part.
pub fn decode(bytes: &[u8], ring: &KeyRing) -> Result<Envelope, CodecError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    let mailbox = MailboxId { tenant: stored.tenant_id, user: stored.user_id };
    let mut data = upcast(&stored.event_type, stored.version, stored.data)?;
    let mut opened = false;
    if let Some(obj) = data.as_object_mut()
        && let Some(sealed) = obj.remove("sealed")
    {
        let sealed: Sealed = serde_json::from_value(sealed).map_err(|e| CodecError::Malformed(e.to_string()))?;
        let private: Value = match seal::open(ring, &aad(&stored.event_id, &mailbox, &stored.event_type), &sealed) {
            Ok(private) => private,
            // Its mailbox was erased: what the event said is gone for good, and it reads as the
            // erasure itself (same id and sequence number), which every reader folds as "forget".
            Err(SealError::Erased(_)) => {
                return Ok(Envelope {
                    event_id: stored.event_id,
                    mailbox,
                    seq: stored.seq,
                    occurred_at: stored.occurred_at,
                    causation_id: stored.causation_id,
                    event: MailboxEvent::MailboxErased {},
                });
            }
            Err(e) => return Err(e.into()),
        };
        obj.insert("private".into(), private);
        opened = true;
    }
    let event: MailboxEvent = serde_json::from_value(serde_json::json!({"type": &stored.event_type, "data": data}))
        .map_err(|e| {
            // Serde quotes the values it refuses; once the private part is in, those may be
            // subjects or addresses, which never go into an error (errors are logged).
            if opened {
                CodecError::Malformed(format!("{} data does not match its type", stored.event_type))
            } else {
                CodecError::Malformed(e.to_string())
            }
        })?;
    Ok(Envelope {
        event_id: stored.event_id,
        mailbox,
        seq: stored.seq,
        occurred_at: stored.occurred_at,
        causation_id: stored.causation_id,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GraphEventId;
    use crate::mailbox::events::{MeetingDetails, MeetingPrivate};
    use crate::ports::{EmailAddress, EventType};
    use crate::seal::DataKey;

    fn mailbox() -> MailboxId {
        MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("00000000-0000-0000-0000-0000000000a1").unwrap(),
        }
    }

    /// A `MeetingScheduled` envelope with these private details.
    fn scheduled(private: MeetingPrivate) -> Envelope {
        Envelope {
            event_id: Uuid::new_v4(),
            mailbox: mailbox(),
            seq: 1,
            occurred_at: Utc::now(),
            causation_id: "n1".into(),
            event: MailboxEvent::MeetingScheduled(MeetingDetails {
                event_id: GraphEventId::new("AAMk1"),
                change_key: "ck".into(),
                start: Utc::now(),
                end: Utc::now(),
                is_all_day: false,
                event_type: EventType::SingleInstance,
                is_organizer: true,
                is_private: false,
                response: None,
                time_zone: None,
                keyword: None,
                join: None,
                private,
            }),
        }
    }

    #[test]
    fn private_parts_are_sealed_and_come_back() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let env = scheduled(MeetingPrivate {
            subject: "SENTINEL-SUBJECT".into(),
            organizer: Some(EmailAddress { name: "A".into(), address: "sentinel@contoso.example".into() }),
            ..Default::default()
        });
        let bytes = encode(&env, &ring).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("SENTINEL") && !text.contains("sentinel@"), "{text}");
        assert!(text.contains("\"type\":\"MeetingScheduled\"") && text.contains("\"keyId\":\"k1\""));
        assert_eq!(decode(&bytes, &ring).unwrap(), env);
        // Moving the sealed part to another envelope breaks it.
        let moved = text.replace(&env.event_id.to_string(), &Uuid::new_v4().to_string());
        assert!(matches!(decode(moved.as_bytes(), &ring), Err(CodecError::Seal(SealError::Corrupt))));
    }

    /// Keys that were all destroyed.
    struct Destroyed;

    impl crate::seal::KeySource for Destroyed {
        fn current(&self, _: &crate::seal::KeyScope) -> Result<std::sync::Arc<DataKey>, SealError> {
            Err(SealError::Unavailable("no key service".into()))
        }
        fn get(&self, kid: &str) -> Result<std::sync::Arc<DataKey>, SealError> {
            Err(SealError::Erased(kid.into()))
        }
        fn erase(&self, _: &crate::seal::KeyScope) -> Result<(), SealError> {
            Ok(())
        }
    }

    #[test]
    fn an_event_whose_key_was_destroyed_reads_as_the_erasure_and_a_missing_key_service_is_an_error() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let env = scheduled(MeetingPrivate { subject: "Gone".into(), ..Default::default() });
        let bytes = encode(&env, &ring).unwrap();
        let erased = decode(&bytes, &KeyRing::from_source(std::sync::Arc::new(Destroyed))).unwrap();
        assert_eq!((erased.event_id, erased.seq, erased.mailbox), (env.event_id, env.seq, env.mailbox));
        assert_eq!(erased.event, MailboxEvent::MailboxErased {});
        // Sealing without a key service fails as passing: the caller tries again later.
        let err = encode(&env, &KeyRing::from_source(std::sync::Arc::new(Destroyed))).unwrap_err();
        assert!(matches!(&err, CodecError::Seal(e) if e.is_passing()), "{err:?}");
    }

    #[test]
    fn an_opened_private_part_that_does_not_fit_is_refused_without_quoting_it() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let env = scheduled(MeetingPrivate::default());
        let mut stored: Value = serde_json::from_slice(&encode(&env, &ring).unwrap()).unwrap();
        // Attendees as a string: serde would quote it in its message.
        let private = serde_json::json!({"subject": "s", "attendees": "SENTINEL-ATTENDEE"});
        let sealed = seal::seal(&ring, &aad(&env.event_id, &mailbox(), "MeetingScheduled"), &private).unwrap();
        stored["data"]["sealed"] = serde_json::to_value(sealed).unwrap();
        let err = decode(&serde_json::to_vec(&stored).unwrap(), &ring).unwrap_err().to_string();
        assert!(!err.contains("SENTINEL"), "{err}");
        assert!(err.contains("MeetingScheduled data does not match its type"), "{err}");
    }

    #[test]
    fn events_without_private_parts_have_no_key() {
        let ring = KeyRing::new(DataKey::generate("k1").unwrap());
        let env = Envelope {
            event_id: Uuid::new_v4(),
            mailbox: mailbox(),
            seq: 1,
            occurred_at: Utc::now(),
            causation_id: "admin".into(),
            event: MailboxEvent::MailboxEnabled { locale: Some("tr-TR".into()) },
        };
        let bytes = encode(&env, &ring).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"keyId\":null"));
        assert_eq!(decode(&bytes, &ring).unwrap(), env);
    }
}
