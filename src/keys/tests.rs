use std::sync::Arc;
use std::time::Duration;

use hcal_actors::ids::{MailboxId, TenantId, UserObjectId};
use hcal_actors::seal::{self, DataKey, KeyRing, KeyScope, SealError};

use super::config::TransitConfig;
use super::kms::{Kms, LocalKms};
use super::ring::StoredKeys;
use super::store::KeyStore;
use super::transit::Transit;

fn mailbox(n: u8) -> MailboxId {
    MailboxId {
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        user: UserObjectId::parse(&format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap(),
    }
}

fn stored(kms: Arc<dyn Kms>, dir: &std::path::Path, legacy: Option<Arc<DataKey>>) -> Arc<StoredKeys> {
    let store = KeyStore::open(&dir.join("keys.db")).unwrap();
    Arc::new(StoredKeys::new(kms, store, legacy, Duration::from_secs(600), Duration::from_secs(90 * 86_400)))
}

fn local(dir: &std::path::Path) -> (Arc<StoredKeys>, KeyRing) {
    let master = super::local::load_or_create_key(&dir.join("local.key")).unwrap();
    let kms = LocalKms::new(master);
    let legacy = Some(kms.master());
    let keys = stored(Arc::new(kms), dir, legacy);
    let ring = KeyRing::from_source(keys.clone());
    (keys, ring)
}

/// What every key service must do: a key per scope, shared through the store, rotation that
/// keeps old ciphertexts readable, erasure that makes them unreadable for good.
fn behaves(keys: &StoredKeys, ring: &KeyRing, again: &KeyRing) {
    let (a, b) = (KeyScope::Mailbox(mailbox(1)), KeyScope::Mailbox(mailbox(2)));
    let sealed_a = seal::seal_for(ring, &a, b"a", "Quarterly review").unwrap();
    let sealed_b = seal::seal_for(ring, &b, b"b", "Board meeting").unwrap();
    let service = seal::seal(ring, b"s", &1u8).unwrap();
    assert_ne!(sealed_a.kid, sealed_b.kid, "each mailbox has a key of its own");
    assert_ne!(sealed_a.kid, service.kid);
    assert_eq!(seal::seal_for(ring, &a, b"a", "x").unwrap().kid, sealed_a.kid, "a scope keeps its key");
    // Another process of the installation (same store) opens it.
    assert_eq!(seal::open::<String>(again, b"a", &sealed_a).unwrap(), "Quarterly review");
    // Bound to its additional data, and a wrong key id is an error, not a panic.
    assert_eq!(seal::open::<String>(ring, b"b", &sealed_a), Err(SealError::Corrupt));
    let mut wrong = sealed_a.clone();
    wrong.kid = sealed_b.kid.clone();
    assert_eq!(seal::open::<String>(ring, b"a", &wrong), Err(SealError::Corrupt));
    wrong.kid = "dk-unknown".into();
    assert_eq!(seal::open::<String>(ring, b"a", &wrong), Err(SealError::UnknownKey("dk-unknown".into())));

    keys.rotate().unwrap();
    let rotated = seal::seal_for(ring, &a, b"a", "after").unwrap();
    assert_ne!(rotated.kid, sealed_a.kid, "after rotation new ciphertexts use a new key");
    assert_eq!(seal::open::<String>(ring, b"a", &sealed_a).unwrap(), "Quarterly review", "old ones still open");
    // The other process notices the rotation within its check interval.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(seal::seal_for(again, &a, b"a", "x").unwrap().kid, rotated.kid);

    let erased = keys.erase_scope(&a).unwrap();
    assert_eq!(erased.keys, 2, "both of the mailbox's keys are erased");
    assert!(keys.is_erased(&a));
    assert!(matches!(seal::open::<String>(ring, b"a", &sealed_a), Err(SealError::Erased(_))));
    assert!(matches!(seal::open::<String>(ring, b"a", &rotated), Err(SealError::Erased(_))));
    assert_eq!(seal::open::<String>(ring, b"b", &sealed_b).unwrap(), "Board meeting", "others are untouched");
    assert_eq!(keys.erase_scope(&a).unwrap().keys, 0, "erasing again is harmless");
    // The mailbox may be enabled again: it gets a new key, and what was erased stays erased.
    let fresh = seal::seal_for(ring, &a, b"a", "new life").unwrap();
    assert!(!keys.is_erased(&a));
    assert_eq!(seal::open::<String>(ring, b"a", &fresh).unwrap(), "new life");
    assert!(matches!(seal::open::<String>(ring, b"a", &sealed_a), Err(SealError::Erased(_))));
}

#[test]
fn local_keys_per_scope_rotate_and_erase() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, ring) = local(dir.path());
    let (_, again) = local(dir.path());
    behaves(&keys, &ring, &again);
    // What the key file sealed directly before data keys existed still opens.
    let old = KeyRing::new(super::local::load_or_create_key(&dir.path().join("local.key")).unwrap());
    let sealed = seal::seal(&old, b"x", "before").unwrap();
    assert_eq!(seal::open::<String>(&ring, b"x", &sealed).unwrap(), "before");
}

#[test]
fn the_store_holds_no_key_in_clear_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ring) = local(dir.path());
    let key = ring.current(&KeyScope::Mailbox(mailbox(1))).unwrap();
    drop(ring);
    let mut bytes = std::fs::read(dir.path().join("keys.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("keys.db-wal")) {
        bytes.extend(wal);
    }
    let b64 = super::kms::base64_of(key.bytes());
    assert!(!bytes.windows(32).any(|w| w == key.bytes()), "raw key bytes in the store");
    assert!(!bytes.windows(b64.len()).any(|w| w == b64.as_bytes()), "base64 key in the store");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("keys.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "keys.db is readable by others: {mode:o}");
    }
}

fn transit(server: &hcal_sim::openbao::Server, token: &str) -> Arc<Transit> {
    let config = TransitConfig {
        url: server.url(),
        mount: "transit".into(),
        key_prefix: "hcal".into(),
        token_env: "UNUSED".into(),
        timeout: Duration::from_secs(2),
    };
    Transit::new(&config, token.to_owned()).unwrap()
}

#[test]
fn transit_keys_per_scope_rotate_and_erase_at_the_kms() {
    if !hcal_sim::openbao::Server::usable_for("transit_keys_per_scope_rotate_and_erase_at_the_kms") {
        return;
    }
    let server = hcal_sim::openbao::Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = stored(transit(&server, server.root_token()), dir.path(), None);
    let ring = KeyRing::from_source(keys.clone());
    let again = KeyRing::from_source(stored(transit(&server, server.root_token()), dir.path(), None));
    let kek = keys.kms().kek_of(&KeyScope::Mailbox(mailbox(1)));
    behaves(&keys, &ring, &again);
    // The erased mailbox got a new key-encryption key when it sealed again; erase once more and
    // the KMS no longer has it.
    assert!(server.transit_keys().unwrap().contains(&kek));
    keys.erase_scope(&KeyScope::Mailbox(mailbox(1))).unwrap();
    let left = server.transit_keys().unwrap();
    assert!(!left.contains(&kek), "the erased mailbox's key is still at the KMS: {left:?}");
    assert!(left.contains(&keys.kms().kek_of(&KeyScope::Mailbox(mailbox(2)))));
}

#[test]
fn a_kms_that_is_down_or_refuses_is_a_passing_error_and_work_resumes() {
    if !hcal_sim::openbao::Server::usable_for("a_kms_that_is_down_or_refuses_is_a_passing_error_and_work_resumes") {
        return;
    }
    let mut server = hcal_sim::openbao::Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = stored(transit(&server, server.root_token()), dir.path(), None);
    let ring = KeyRing::from_source(keys.clone());
    let a = KeyScope::Mailbox(mailbox(1));
    let sealed = seal::seal_for(&ring, &a, b"a", "kept").unwrap();

    // A wrong token: refused, told as a passing failure (an operator fixes the token).
    let refused = KeyRing::from_source(stored(transit(&server, "not-a-token"), dir.path(), None));
    let err = seal::open::<String>(&refused, b"a", &sealed).unwrap_err();
    assert!(matches!(&err, SealError::Unavailable(why) if why.contains("403")), "{err:?}");
    assert!(err.is_passing());
    let err = seal::seal_for(&refused, &KeyScope::Mailbox(mailbox(3)), b"c", "x").unwrap_err();
    assert!(err.is_passing(), "{err:?}");

    server.stop();
    // Cached keys keep working while the KMS is away.
    assert_eq!(seal::open::<String>(&ring, b"a", &sealed).unwrap(), "kept");
    // A new process (nothing cached) and a new mailbox must wait for it.
    let cold = KeyRing::from_source(stored(transit(&server, server.root_token()), dir.path(), None));
    let started = std::time::Instant::now();
    let err = seal::open::<String>(&cold, b"a", &sealed).unwrap_err();
    assert!(err.is_passing(), "{err:?}");
    let err = seal::seal_for(&cold, &KeyScope::Mailbox(mailbox(2)), b"b", "x").unwrap_err();
    assert!(err.is_passing(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "a KMS that is down is not waited on for long");

    server.resume().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(seal::open::<String>(&cold, b"a", &sealed).unwrap(), "kept");
    let b = seal::seal_for(&cold, &KeyScope::Mailbox(mailbox(2)), b"b", "now").unwrap();
    assert_eq!(seal::open::<String>(&ring, b"b", &b).unwrap(), "now");
}
