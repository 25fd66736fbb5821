//! The access index: every access token hcal granted, whose it is and whether it was revoked,
//! so that the API can tell who a caller is from the token alone.
//!
//! A projection of `mailbox-events` like the subscription index: one row per token in the local
//! store, committed with the index's positions, and the whole index in memory, where every
//! authenticated request looks its token up. The digest of a token's secret is the one value a
//! row holds sealed (bound to the token and its mailbox); the secret itself is nowhere.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hcal_actors::ids::{MailboxId, TenantId, TokenId, UserObjectId};
use hcal_actors::log::LogError;
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{MailboxEvent, TokenHolder, TokenPrivate};
use hcal_actors::seal::{self, KeyRing, Sealed};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::{Position, Projection};
use crate::log::sqlite::{ProjectionBatch, SqliteStore};

/// Name of the projection (its rows' namespace and the group of its positions).
pub const ACCESS_INDEX: &str = "access-index";

/// A granted token, as the index knows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The mailbox whose user holds it.
    pub mailbox: MailboxId,
    /// Who holds it.
    pub holder: TokenHolder,
    /// When it was granted.
    pub issued_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    digest: String,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("mailbox", &self.mailbox)
            .field("holder", &self.holder)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredGrant {
    tenant_id: TenantId,
    user_id: UserObjectId,
    holder: TokenHolder,
    issued_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    digest: Sealed,
}

fn aad(token: &TokenId, mailbox: &MailboxId) -> Vec<u8> {
    format!("{ACCESS_INDEX}/{token}/{mailbox}").into_bytes()
}

fn encode(ring: &KeyRing, token: &TokenId, grant: &Grant) -> Result<Vec<u8>, LogError> {
    let private = TokenPrivate { digest: grant.digest.clone() };
    let digest =
        seal::seal(ring, &aad(token, &grant.mailbox), &private).map_err(|e| LogError::Invalid(e.to_string()))?;
    let stored = StoredGrant {
        tenant_id: grant.mailbox.tenant,
        user_id: grant.mailbox.user,
        holder: grant.holder,
        issued_at: grant.issued_at,
        revoked_at: grant.revoked_at,
        digest,
    };
    serde_json::to_vec(&stored).map_err(|e| LogError::Invalid(e.to_string()))
}

fn decode(ring: &KeyRing, key: &str, bytes: &[u8]) -> Result<(TokenId, Grant), LogError> {
    let unreadable = |why: String| LogError::Invalid(format!("access index row: {why}"));
    let token = TokenId::parse(key).map_err(|e| unreadable(e.to_string()))?;
    let stored: StoredGrant = serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
    let mailbox = MailboxId { tenant: stored.tenant_id, user: stored.user_id };
    let private: TokenPrivate =
        seal::open(ring, &aad(&token, &mailbox), &stored.digest).map_err(|e| unreadable(e.to_string()))?;
    let grant = Grant {
        mailbox,
        holder: stored.holder,
        issued_at: stored.issued_at,
        revoked_at: stored.revoked_at,
        digest: private.digest,
    };
    Ok((token, grant))
}

/// Token id to grant. Readers see what the last committed batch left.
pub struct AccessIndex {
    ring: KeyRing,
    grants: RwLock<HashMap<TokenId, Grant>>,
}

impl std::fmt::Debug for AccessIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessIndex").field("grants", &self.grants.read().len()).finish_non_exhaustive()
    }
}

impl AccessIndex {
    /// An empty index, sealing its rows with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self { ring, grants: RwLock::default() }
    }

    /// The index as its rows in `store` left it; the follower applies the events after its
    /// positions. A row that cannot be read drops the index and its positions, so that it is
    /// rebuilt from the log (a partial index would lock holders out).
    pub async fn open(store: &SqliteStore, ring: KeyRing) -> Result<Self, LogError> {
        let index = Self::new(ring);
        let mut grants = HashMap::new();
        for (key, bytes) in store.projection_scan(ACCESS_INDEX, "").await? {
            match decode(&index.ring, &key, &bytes) {
                Ok((token, grant)) => {
                    grants.insert(token, grant);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the access index cannot be read; rebuilding it from mailbox-events");
                    store.projection_reset(ACCESS_INDEX).await?;
                    return Ok(index);
                }
            }
        }
        *index.grants.write() = grants;
        Ok(index)
    }

    /// Who presents `text`: the grant of a well-formed token whose secret matches and that was
    /// not revoked.
    pub fn verify(&self, text: &str) -> Option<(TokenId, Grant)> {
        let (id, secret) = crate::access::parse(text)?;
        let grant = self.grants.read().get(&id).cloned()?;
        (grant.revoked_at.is_none() && crate::access::matches(secret, &grant.digest)).then_some((id, grant))
    }

    /// One grant.
    pub fn get(&self, id: &TokenId) -> Option<Grant> {
        self.grants.read().get(id).cloned()
    }

    /// Every grant, of one mailbox or of all, by time of issue.
    pub fn list(&self, mailbox: Option<&MailboxId>) -> Vec<(TokenId, Grant)> {
        let mut all: Vec<(TokenId, Grant)> = self
            .grants
            .read()
            .iter()
            .filter(|(_, g)| mailbox.is_none_or(|m| g.mailbox == *m))
            .map(|(id, g)| (*id, g.clone()))
            .collect();
        all.sort_by_key(|(id, grant)| (grant.issued_at, *id));
        all
    }
}

#[async_trait]
impl Projection for AccessIndex {
    fn name(&self) -> &'static str {
        ACCESS_INDEX
    }

    async fn apply(&self, store: &SqliteStore, events: &[Envelope], position: Position) -> Result<(), LogError> {
        // The follower is the only writer, so memory is the rows as committed so far.
        let mut changed: BTreeMap<TokenId, Grant> = BTreeMap::new();
        for env in events {
            match &env.event {
                MailboxEvent::TokenIssued { token_id, holder, private } => {
                    // A grant is made once; a second record of it changes nothing.
                    let known = changed.contains_key(token_id) || self.grants.read().contains_key(token_id);
                    if !known {
                        let grant = Grant {
                            mailbox: env.mailbox,
                            holder: *holder,
                            issued_at: env.occurred_at,
                            revoked_at: None,
                            digest: private.digest.clone(),
                        };
                        changed.insert(*token_id, grant);
                    }
                }
                MailboxEvent::MailboxErased {} => {
                    let mut grants: Vec<(TokenId, Grant)> = self
                        .grants
                        .read()
                        .iter()
                        .filter(|(id, g)| g.mailbox == env.mailbox && !changed.contains_key(*id))
                        .map(|(id, g)| (*id, g.clone()))
                        .collect();
                    grants.extend(
                        changed.iter().filter(|(_, g)| g.mailbox == env.mailbox).map(|(id, g)| (*id, g.clone())),
                    );
                    for (id, mut grant) in grants {
                        if grant.revoked_at.is_none() {
                            grant.revoked_at = Some(env.occurred_at);
                            changed.insert(id, grant);
                        }
                    }
                }
                MailboxEvent::TokenRevoked { token_id } => {
                    let grant = changed.get(token_id).cloned().or_else(|| self.grants.read().get(token_id).cloned());
                    // Only the mailbox that granted a token revokes it.
                    if let Some(mut grant) = grant.filter(|g| g.mailbox == env.mailbox && g.revoked_at.is_none()) {
                        grant.revoked_at = Some(env.occurred_at);
                        changed.insert(*token_id, grant);
                    }
                }
                _ => {}
            }
        }
        let mut batch = ProjectionBatch { positions: position.into_positions(), ..Default::default() };
        for (token, grant) in &changed {
            batch.upserts.push((token.to_string(), encode(&self.ring, token, grant)?));
        }
        store.projection_apply(ACCESS_INDEX, batch).await?;
        self.grants.write().extend(changed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use hcal_actors::log::{EventLog as _, MAILBOX_EVENTS};
    use hcal_actors::mailbox::envelope;
    use hcal_actors::seal::DataKey;

    use super::*;
    use crate::access::NewToken;
    use crate::projections::catch_up;

    struct World {
        store: SqliteStore,
        ring: KeyRing,
        seq: HashMap<MailboxId, u64>,
        _dir: tempfile::TempDir,
    }

    impl World {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            Self {
                store: SqliteStore::open(dir.path(), 2).unwrap(),
                ring: KeyRing::new(DataKey::generate("k1").unwrap()),
                seq: HashMap::new(),
                _dir: dir,
            }
        }

        async fn event(&mut self, mailbox: MailboxId, event: MailboxEvent) {
            let seq = self.seq.entry(mailbox).or_default();
            *seq += 1;
            let env = Envelope {
                event_id: uuid::Uuid::new_v4(),
                mailbox,
                seq: *seq,
                occurred_at: Utc::now(),
                causation_id: "test".into(),
                event,
            };
            let payload = envelope::encode(&env, &self.ring).unwrap();
            self.store.append(MAILBOX_EVENTS, &mailbox.to_string(), vec![payload]).await.unwrap();
        }

        async fn index(&self) -> AccessIndex {
            let index = AccessIndex::open(&self.store, self.ring.clone()).await.unwrap();
            catch_up(&self.store, &self.store, &self.ring, &[&index]).await.unwrap();
            index
        }
    }

    fn mailbox() -> MailboxId {
        MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
        }
    }

    fn issued(token: &NewToken) -> MailboxEvent {
        MailboxEvent::TokenIssued {
            token_id: token.id,
            holder: TokenHolder::User,
            private: TokenPrivate { digest: token.digest() },
        }
    }

    #[tokio::test]
    async fn a_granted_token_names_its_mailbox_until_it_is_revoked_and_survives_a_restart() {
        let mut w = World::new();
        let (alex, megan) = (mailbox(), mailbox());
        let (a, b, m) = (NewToken::generate(), NewToken::generate(), NewToken::generate());
        w.event(alex, issued(&a)).await;
        w.event(alex, issued(&b)).await;
        w.event(megan, issued(&m)).await;
        let index = w.index().await;
        assert_eq!(index.verify(&a.text()).map(|(id, g)| (id, g.mailbox)), Some((a.id, alex)));
        assert_eq!(index.verify(&m.text()).map(|(_, g)| g.mailbox), Some(megan));
        // A token with another's secret, or a made-up one, is nobody.
        let forged = format!("{}{}", &a.text()[..38], &b.text()[38..]);
        assert!(index.verify(&forged).is_none());
        assert!(index.verify(&NewToken::generate().text()).is_none());
        assert_eq!(index.list(Some(&alex)).len(), 2);
        assert_eq!(index.list(None).len(), 3);

        // Revoked by another mailbox: nothing happens. By its own: it opens nothing more.
        w.event(megan, MailboxEvent::TokenRevoked { token_id: a.id }).await;
        catch_up(&w.store, &w.store, &w.ring, &[&index]).await.unwrap();
        assert!(index.verify(&a.text()).is_some());
        w.event(alex, MailboxEvent::TokenRevoked { token_id: a.id }).await;
        catch_up(&w.store, &w.store, &w.ring, &[&index]).await.unwrap();
        assert!(index.verify(&a.text()).is_none());
        assert!(index.get(&a.id).is_some_and(|g| g.revoked_at.is_some()));
        // Granted again (a command delivered twice): still revoked.
        w.event(alex, issued(&a)).await;
        catch_up(&w.store, &w.store, &w.ring, &[&index]).await.unwrap();
        assert!(index.verify(&a.text()).is_none());

        // Reopened from its rows: the same answers, and the rows hold no digest in clear.
        drop(index);
        let index = w.index().await;
        assert!(index.verify(&a.text()).is_none());
        assert!(index.verify(&b.text()).is_some());
        for (_, row) in w.store.projection_scan(ACCESS_INDEX, "").await.unwrap() {
            let text = String::from_utf8_lossy(&row);
            assert!(!text.contains("sha256:"), "{text}");
        }
    }
}
