//! Rules of the access tokens granted to a mailbox's user. The token's secret never reaches the
//! mailbox: the admin API draws it, answers it once and hands the mailbox only its id and digest.

use super::super::effect::Decision;
use super::super::events::{MailboxEvent, TokenHolder, TokenPrivate};
use super::super::state::MailboxState;
use crate::ids::TokenId;

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
