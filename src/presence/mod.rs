//! Out of office as presence: Microsoft 365 automatic replies read from mailbox settings become
//! `OOOChanged` and `PresenceChanged` events of the mailbox, and sinks tell collaboration tools.

pub mod config;
pub mod deliver;
pub mod poller;
pub mod sink;
pub mod sinks;
pub mod topic;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hcal_actors::ids::MailboxId;

use self::config::PresenceConfig;
use self::deliver::{Directory, SinkDelivery};
use self::sink::PresenceSink;
use crate::graph::GraphClient;
use crate::metrics::Metrics;
use crate::service::StartError;

/// Users' e-mail addresses from Graph (`GET /users/{id}?$select=mail,userPrincipalName`),
/// remembered in memory only.
pub struct GraphDirectory {
    graph: Arc<GraphClient>,
    known: parking_lot::Mutex<std::collections::HashMap<MailboxId, Option<String>>>,
}

#[async_trait]
impl Directory for GraphDirectory {
    async fn address(&self, mailbox: &MailboxId) -> Result<Option<String>, String> {
        if let Some(known) = self.known.lock().get(mailbox) {
            return Ok(known.clone());
        }
        let address = self.graph.user_address(mailbox).await.map_err(|e| e.to_string())?;
        self.known.lock().insert(*mailbox, address.clone());
        Ok(address)
    }
}

/// The delivery of presence changes to the `presence` topic (kafka mode).
pub fn topic_delivery(log: Arc<dyn hcal_actors::log::EventLog>, metrics: &Arc<Metrics>) -> Arc<SinkDelivery> {
    Arc::new(SinkDelivery::new(
        topic::NAME,
        Arc::new(topic::TopicSink::new(log)),
        BTreeMap::new(),
        Arc::new(deliver::NoDirectory),
        metrics.clone(),
    ))
}

/// The deliveries of every configured sink, with their secrets (by sink name).
pub fn deliveries(
    config: &PresenceConfig,
    secrets: &BTreeMap<String, String>,
    graph: &Arc<GraphClient>,
    metrics: &Arc<Metrics>,
) -> Result<Vec<Arc<SinkDelivery>>, StartError> {
    let directory: Arc<dyn Directory> =
        Arc::new(GraphDirectory { graph: graph.clone(), known: parking_lot::Mutex::default() });
    let mut out = Vec::new();
    for (sink, name) in config.sinks.iter().zip(config.sink_names()) {
        let secret = secrets.get(&name).cloned().unwrap_or_default();
        let failed = |why: String| StartError::PresenceSink { name: name.clone(), why };
        let built: Arc<dyn PresenceSink> = sinks::build(sink, secret).map_err(failed)?;
        let users: BTreeMap<String, String> = config
            .users
            .iter()
            .filter_map(|(user, map)| map.get(sink.kind.as_str()).map(|id| (user.clone(), id.clone())))
            .collect();
        out.push(Arc::new(SinkDelivery::new(&name, built, users, directory.clone(), metrics.clone())));
    }
    Ok(out)
}
