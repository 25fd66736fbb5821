//! Rules of the access tokens granted to a mailbox's user and of the devices registered to a
//! room mailbox. The token's secret never reaches the
//! mailbox: the admin API draws it, answers it once and hands the mailbox only its id and digest.

use super::super::effect::Decision;
use super::super::events::{DevicePrivate, MailboxEvent, TokenHolder, TokenPrivate};
use super::super::state::MailboxState;
use crate::ids::{DeviceId, TokenId};

/// A token to grant: granted once, whatever the number of times the command is delivered.
pub(super) fn issue(state: &MailboxState, token_id: &TokenId, holder: TokenHolder, digest: &str) -> Decision {
    if state.tokens.contains_key(token_id) {
        return Decision::nothing();
    }
    Decision::event(MailboxEvent::TokenIssued {
        token_id: *token_id,
        holder,
        private: TokenPrivate { digest: digest.to_owned() },
    })
}

/// A token to revoke: only one this mailbox granted and has not revoked yet.
pub(super) fn revoke(state: &MailboxState, token_id: &TokenId) -> Decision {
    match state.tokens.get(token_id) {
        Some(false) => Decision::event(MailboxEvent::TokenRevoked { token_id: *token_id }),
        _ => Decision::nothing(),
    }
}

/// A device to register: recorded when it is new or its settings changed, so a command
/// delivered again records nothing.
pub(super) fn register_device(
    state: &MailboxState,
    device_id: &DeviceId,
    kind: &str,
    private: &DevicePrivate,
) -> Decision {
    if state.devices.get(device_id).is_some_and(|(k, p)| k == kind && p == private) {
        return Decision::nothing();
    }
    Decision::event(MailboxEvent::DeviceRegistered {
        device_id: *device_id,
        kind: kind.to_owned(),
        private: private.clone(),
    })
}

/// A device to remove: only one this room has.
pub(super) fn remove_device(state: &MailboxState, device_id: &DeviceId) -> Decision {
    if state.devices.contains_key(device_id) {
        Decision::event(MailboxEvent::DeviceRemoved { device_id: *device_id })
    } else {
        Decision::nothing()
    }
}
