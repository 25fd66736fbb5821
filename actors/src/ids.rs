//! Typed identifiers. A mailbox is named by its tenant and Graph user object id (GUIDs), never
//! by its e-mail address: addresses are sensitive and identifiers end up in keys and logs.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{kind} must be a GUID")]
pub struct InvalidId {
    /// Which identifier.
    pub kind: &'static str,
}

macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the textual GUID form (any case, hyphenated).
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| InvalidId { kind: $kind })
            }

            /// The GUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The id of a GUID.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

guid_id!(
    /// An Entra ID tenant.
    TenantId,
    "tenant id"
);
guid_id!(
    /// A Graph user (mailbox) object id.
    UserObjectId,
    "user object id"
);
guid_id!(
    /// A Graph change-notification subscription.
    SubscriptionId,
    "subscription id"
);
guid_id!(
    /// A room device hcal pushes bookings to.
    DeviceId,
    "device id"
);
guid_id!(
    /// An access token hcal issued (the public half of the token; the secret is never kept).
    TokenId,
    "token id"
);

/// A mailbox: tenant plus user object id. Its text form `tenant/user` is the partition key of
/// every per-mailbox log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MailboxId {
    /// Tenant.
    pub tenant: TenantId,
    /// User object id.
    pub user: UserObjectId,
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.user)
    }
}

/// A Graph event id: opaque, case-sensitive, URL-safe base64 with padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GraphEventId(String);

impl GraphEventId {
    /// Wraps an id as Graph gave it.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as Graph gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_ids_parse_any_case_and_print_lower() {
        let t = TenantId::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
        assert_eq!(t.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(UserObjectId::parse("alice@contoso.example"), Err(InvalidId { kind: "user object id" }));
    }

    #[test]
    fn mailbox_key_is_tenant_slash_user() {
        let m = MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("00000000-0000-0000-0000-000000000001").unwrap(),
        };
        assert_eq!(m.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47/00000000-0000-0000-0000-000000000001");
    }
}
