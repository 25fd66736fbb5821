//! Access tokens: granted once, revoked once, whatever the mailbox's state.

use crate::ids::TokenId;
use crate::mailbox::events::{MailboxEvent, TokenHolder, TokenPrivate};
use crate::mailbox::input::MailboxInput as I;
use crate::mailbox::testing::*;

fn token(n: u8) -> TokenId {
    TokenId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
}

fn issue(n: u8) -> I {
    I::IssueToken { token_id: token(n), holder: TokenHolder::User, digest: format!("sha256:{n:064}") }
}

fn issued(n: u8) -> MailboxEvent {
    MailboxEvent::TokenIssued {
        token_id: token(n),
        holder: TokenHolder::User,
        private: TokenPrivate { digest: format!("sha256:{n:064}") },
    }
}

#[test]
fn a_token_is_granted_to_a_mailbox_enabled_or_not() {
    given([]).when(issue(1)).then_expect_events([issued(1)]).then_expect_effects([]);
    given([MailboxEvent::MailboxEnabled { locale: None }]).when(issue(1)).then_expect_events([issued(1)]);
}

#[test]
fn a_grant_delivered_again_grants_nothing_and_never_brings_a_revoked_token_back() {
    given([issued(1)]).when(issue(1)).then_expect_events([]);
    given([issued(1), MailboxEvent::TokenRevoked { token_id: token(1) }]).when(issue(1)).then_expect_events([]);
    given([issued(1)]).when(issue(2)).then_expect_events([issued(2)]);
}

#[test]
fn only_a_granted_token_not_yet_revoked_is_revoked() {
    let revoked = MailboxEvent::TokenRevoked { token_id: token(1) };
    given([issued(1)]).when(I::RevokeToken { token_id: token(1) }).then_expect_events([revoked.clone()]);
    given([issued(1), revoked]).when(I::RevokeToken { token_id: token(1) }).then_expect_events([]);
    given([]).when(I::RevokeToken { token_id: token(1) }).then_expect_events([]);
    given([issued(1), MailboxEvent::MailboxDisabled {}])
        .when(I::RevokeToken { token_id: token(1) })
        .then_expect_events([MailboxEvent::TokenRevoked { token_id: token(1) }]);
}

fn device() -> crate::ids::DeviceId {
    crate::ids::DeviceId::parse("00000000-0000-4000-8000-00000000d001").unwrap()
}

fn settings(password: &str) -> crate::mailbox::events::DevicePrivate {
    crate::mailbox::events::DevicePrivate {
        address: "https://room-1.example".into(),
        credentials: crate::mailbox::events::DeviceSecret::Basic {
            username: "admin".into(),
            password: password.into(),
        },
    }
}

fn registered(password: &str) -> MailboxEvent {
    MailboxEvent::DeviceRegistered { device_id: device(), kind: "roomOs".into(), private: settings(password) }
}

fn register(password: &str) -> I {
    I::RegisterDevice { device_id: device(), kind: "roomOs".into(), private: Box::new(settings(password)) }
}

#[test]
fn a_device_is_registered_once_and_again_only_with_new_settings() {
    given([]).when(register("one")).then_expect_events([registered("one")]).then_expect_effects([]);
    given([registered("one")]).when(register("one")).then_expect_events([]);
    given([registered("one")]).when(register("two")).then_expect_events([registered("two")]);
    let shown = format!("{:?}", settings("SECRET-PASSWORD"));
    assert!(!shown.contains("SECRET-PASSWORD") && !shown.contains("room-1"), "{shown}");
}

#[test]
fn only_a_registered_device_is_removed() {
    let removed = MailboxEvent::DeviceRemoved { device_id: device() };
    given([registered("one")]).when(I::RemoveDevice { device_id: device() }).then_expect_events([removed.clone()]);
    given([registered("one"), removed]).when(I::RemoveDevice { device_id: device() }).then_expect_events([]);
    given([]).when(I::RemoveDevice { device_id: device() }).then_expect_events([]);
}
