//! Wiring of a running service in either mode: the event log and local store, keys, clients,
//! actors, the HTTP server (webhook, public and admin APIs), the notification consumers, the
//! projections, the scheduler and the orphan sweep.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use hcal_actors::log::{EventLog, NOTIFICATIONS};
use hcal_actors::mailbox::actor::Deps;
use hcal_actors::mailbox::config::{MailboxConfig, Maintenance};
use hcal_actors::ports::{GraphApi, SubscriptionApi};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::clock::Clock;
use crate::config::Config;
use crate::datadir::DataDirLock;
use crate::devices::CiscoPush;
use crate::devices::pusher::{Pusher, RoomsChanged};
use crate::dispatch::kafka::GroupDispatcher;
use crate::graph::GraphClient;
use crate::graph::subscriptions::{GraphSubscriptions, WritePacer};
use crate::log::Storage;
use crate::metrics::Metrics;
use crate::orphans::OrphanSweep;
use crate::platform::webex::WebexClient;
use crate::projections::access::AccessIndex;
use crate::projections::devices::DeviceIndex;
use crate::projections::meetings::MeetingList;
use crate::projections::subscriptions::{Announcing, SubscriptionIndex};
use crate::projections::{self, Projection};
use crate::runtime::MailboxRegistry;
use crate::runtime::crash::{CrashingGraph, CrashingInbox, CrashingLog, CrashingPlatform, CrashingSubscriptions};
use crate::scheduler::Scheduler;
use crate::{dispatch, http, keys};

/// Secrets, read from the environment (names in the configuration) or given by the demo.
#[derive(Clone)]
pub struct Secrets {
    /// Graph client secret.
    pub graph_client_secret: String,
    /// Webex bearer token.
    pub webex_token: String,
    /// Bearer token of hcal's own APIs.
    pub api_token: String,
    /// Secrets of `[[platforms]]` entries that name one (a Jitsi server's token secret), by
    /// platform id.
    pub platforms: std::collections::BTreeMap<String, String>,
    /// Secrets of `[[presence.sinks]]`, by sink name.
    pub presence: std::collections::BTreeMap<String, String>,
    /// The key service's token, when `[keys]` names one.
    pub kms_token: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// Reads every secret from the variables the configuration names; a missing one is
    /// reported together with every other missing one.
    pub fn from_env(config: &Config) -> Result<Self, StartError> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut missing = Vec::new();
        let mut required = |name: &String| {
            let value = read(name);
            if value.is_none() {
                missing.push(name.clone());
            }
            value.unwrap_or_default()
        };
        let graph_client_secret = required(&config.graph.client_secret_env);
        let webex_token = required(&config.webex.token_env);
        let api_token = required(&config.service.api_token_env);
        let mut platforms = std::collections::BTreeMap::new();
        for entry in &config.platforms {
            if let Some(name) = entry.secret_env() {
                platforms.insert(entry.id().to_owned(), required(&name.to_owned()));
            }
        }
        let mut presence = std::collections::BTreeMap::new();
        for (sink, name) in config.presence.sinks.iter().zip(config.presence.sink_names()) {
            presence.insert(name, required(&sink.secret_env));
        }
        let kms_token = config.keys.token_env().map(|name| required(&name.to_owned()));
        if missing.is_empty() {
            Ok(Self { graph_client_secret, webex_token, api_token, platforms, presence, kms_token })
        } else {
            Err(StartError::MissingSecrets(missing))
        }
    }
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Environment variables the configuration names are not set.
    #[error("environment variables not set: {}", .0.join(", "))]
    MissingSecrets(Vec<String>),
    /// Another process runs on the data directory, or it cannot be locked.
    #[error(transparent)]
    DataDir(#[from] crate::datadir::LockError),
    /// The HTTP address cannot be used.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `[service.tls]` names files that do not hold a usable certificate and key.
    #[error("[service.tls]: {0}")]
    Tls(String),
    /// The event log or the local store could not be opened.
    #[error("opening the event log: {0}")]
    Log(#[from] hcal_actors::log::LogError),
    /// The key file could not be used.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The Microsoft cloud's endpoints do not fit the configuration.
    #[error(transparent)]
    Cloud(#[from] crate::tenant::cloud::CloudError),
    /// The Graph client could not be built.
    #[error("configuring the Graph client: {0}")]
    Graph(#[from] crate::graph::GraphSetupError),
    /// A presence sink could not be set up.
    #[error("setting up presence sink {name}: {why}")]
    PresenceSink {
        /// The sink's name.
        name: String,
        /// Why.
        why: String,
    },
    /// The Kafka consumer could not be created.
    #[error("joining the Kafka consumer group: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// A running service.
pub struct Running {
    /// Base URL it listens on.
    pub url: String,
    /// Shared state.
    pub state: web::Data<AppState>,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<JoinHandle<()>>,
    storage: Storage,
    /// Held for as long as the service runs; released last, after the store is shut down.
    lock: DataDirLock,
}

impl Running {
    /// Stops the HTTP server and the background tasks, then releases the data directory.
    pub async fn stop(self) {
        let Self { server, tasks, storage, lock, .. } = self;
        for task in &tasks {
            task.abort();
        }
        server.stop(true).await;
        storage.shutdown().await;
        drop(lock);
    }
}

/// Starts the service; must run inside an actix `System` (the actors need its arbiters).
/// First of all it locks the data directory ([`DataDirLock`]): a second process on the same
/// directory fails here with [`StartError::DataDir`], before it binds or opens anything.
pub async fn start(mut config: Config, secrets: Secrets) -> Result<Running, StartError> {
    let lock = DataDirLock::acquire(&config.service.data_dir)?;
    let listen = |source| StartError::Listen { addr: config.service.listen, source };
    let listener = TcpListener::bind(config.service.listen).map_err(listen)?;
    let addr = listener.local_addr().map_err(listen)?;
    config.service.listen = addr;
    // TLS first: a certificate that cannot be used stops the start before anything is opened.
    let tls = match &config.service.tls {
        Some(tls) => Some(crate::http::tls::Certificates::open(tls).map_err(StartError::Tls)?),
        None => None,
    };
    let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
    if config.service.public_url.is_none() {
        config.service.public_url = Some(url.clone());
    }
    let data_dir = config.service.data_dir.clone();
    let storage = crate::log::open(&config.log, &data_dir).await?;
    let (log, store): (Arc<dyn EventLog>, _) = (storage.log.clone(), storage.store.clone());
    let inbox = crate::inbox::Inbox::new(log.clone());
    let keys = keys::open(&config, secrets.kms_token.clone())?;
    let ring = keys.ring.clone();
    crate::tenant::cloud::reconcile(&config.tenant.cloud, &config.graph)?.apply(&mut config.graph);
    let graph = Arc::new(GraphClient::new(config.graph.clone(), secrets.graph_client_secret.clone())?);
    let metrics = Arc::new(Metrics::default());
    graph.report_to(metrics.clone());
    let mut webex: Arc<dyn hcal_actors::ports::MeetingPlatform> =
        Arc::new(WebexClient::new(config.webex.clone(), secrets.webex_token.clone()));
    // Build the detection tables now rather than on the first invite.
    hcal_actors::detect::warm_up();
    let clock = Arc::new(Clock::default());
    let base = config.service.public_url();
    let to_chrono = crate::config::duration::to_chrono;
    let lifetime = to_chrono(config.service.subscription_lifetime);
    let mut actor_graph: Arc<dyn GraphApi> = graph.clone();
    let notification_url = format!("{base}/webhook/graph");
    let subscriptions = Arc::new(SubscriptionIndex::open(&store, ring.clone()).await?);
    let mut actor_subscriptions: Arc<dyn SubscriptionApi> = Arc::new(Announcing {
        inner: Arc::new(GraphSubscriptions {
            client: graph.clone(),
            notification_url: notification_url.clone(),
            lifecycle_url: format!("{base}/webhook/graph/lifecycle"),
            pacer: WritePacer::new(config.service.subscription_writes_per_20s, std::time::Duration::from_secs(20)),
        }),
        index: subscriptions.clone(),
    });
    let mut actor_inbox: Arc<dyn hcal_actors::ports::Inbox> = Arc::new(inbox.clone());
    let mut actor_log = log.clone();
    // Test builds that prove recovery abort at a configured point, by wrapping the port that
    // does the work there.
    if let Some(point) = config.testing.crash_at.clone() {
        actor_graph = Arc::new(CrashingGraph(actor_graph, point.clone()));
        actor_subscriptions = Arc::new(CrashingSubscriptions(actor_subscriptions, point.clone()));
        actor_inbox = Arc::new(CrashingInbox(actor_inbox, point.clone()));
        actor_log = Arc::new(CrashingLog(actor_log, point.clone()));
        webex = Arc::new(CrashingPlatform(webex, point));
    }
    let platforms: Arc<dyn hcal_actors::ports::MeetingPlatform> =
        Arc::new(crate::platform::Platforms::new(webex, &config.platforms, &secrets.platforms));
    let deps = Arc::new(Deps {
        graph: actor_graph,
        subscriptions: actor_subscriptions,
        platform: platforms,
        log: actor_log,
        inbox: actor_inbox,
        ring: ring.clone(),
        clock: clock.clone(),
        config: MailboxConfig {
            domain: config.domain.clone(),
            maintenance: Maintenance {
                lifetime,
                resync_back: chrono::Duration::days(7),
                resync_ahead: to_chrono(config.service.resync_ahead),
                retry_first: to_chrono(config.service.retry_first),
                retry_later: to_chrono(config.service.retry_later),
                forget_after: to_chrono(config.service.forget_meetings_after),
            },
        },
    });
    let arbiters = (0..2).map(|_| actix::Arbiter::new().handle()).collect();
    let registry = Arc::new(MailboxRegistry::new(deps, arbiters, config.service.snapshot_every));
    // The webhook must know every existing subscription before it answers Graph: the stored
    // rows, then the events after their positions, before the server starts.
    let began = tokio::time::Instant::now();
    let access = Arc::new(AccessIndex::open(&store, ring.clone()).await?);
    let rooms_changed = RoomsChanged::default();
    let devices = Arc::new(DeviceIndex::open(&store, ring.clone()).await?.with_changes(rooms_changed.clone()));
    let presence = Arc::new(crate::projections::presence::PresenceIndex::open(&store).await?);
    let indexes: [&dyn Projection; 4] = [subscriptions.as_ref(), access.as_ref(), devices.as_ref(), presence.as_ref()];
    projections::catch_up(log.as_ref(), &store, &ring, &indexes).await?;
    subscriptions.caught_up(began);
    let live = Arc::new(crate::projections::live::LiveLists::default());
    // Downstream topics exist in kafka mode only: embedded mode has no consumers but hcal.
    let downstream = matches!(config.log, crate::log::LogConfig::Kafka(_))
        .then(|| Arc::new(crate::projections::downstream::Downstream::new(log.clone(), ring.clone())));
    let mut pusher = Pusher::new(
        store.clone(),
        ring.clone(),
        devices.clone(),
        Arc::new(CiscoPush::new(&config.devices.push)),
        rooms_changed.clone(),
        clock.clone(),
        metrics.clone(),
        config.devices.pusher(),
    );
    if let Some(downstream) = &downstream {
        pusher = pusher.with_downstream(downstream.clone());
    }
    let pusher = Arc::new(pusher);
    let scheduler = Arc::new(Scheduler::new(inbox.clone(), subscriptions.clone(), clock.clone(), lifetime));
    let mut tenants = vec![config.tenant.id];
    tenants.extend(config.tenant.additional_ids.iter().copied());
    let orphans = Arc::new(OrphanSweep::new(
        graph.clone(),
        subscriptions.clone(),
        metrics.clone(),
        notification_url,
        tenants,
        config.service.orphan_grace,
    ));
    let state = web::Data::new(AppState {
        tenant: config.tenant.id,
        store: store.clone(),
        log: log.clone(),
        inbox,
        ring: ring.clone(),
        keys: keys.clone(),
        subscriptions: subscriptions.clone(),
        access: access.clone(),
        devices: devices.clone(),
        presence: presence.clone(),
        live: live.clone(),
        pusher: pusher.clone(),
        registry: registry.clone(),
        graph,
        metrics: metrics.clone(),
        api_token: secrets.api_token.clone(),
        clock,
        scheduler: scheduler.clone(),
        webhook: http::webhook::WebhookLimits::new(&config.service),
        config: config.clone(),
    });
    let onboarding = web::Data::new(crate::tenant::Onboarding::from_config(&config)?);
    let max_body = config.service.max_body_bytes;
    let data = state.clone();
    // actix-web counts connections per worker; the configuration counts them for the process.
    let connections_per_worker = config.service.max_connections.div_ceil(HTTP_WORKERS).max(1);
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).app_data(onboarding.clone()).configure(|cfg| http::routes(cfg, max_body))
    })
    .workers(HTTP_WORKERS)
    .client_request_timeout(config.service.request_head_timeout)
    .max_connections(connections_per_worker)
    .disable_signals();
    let server = match &tls {
        Some(certificates) => {
            let config = certificates.server_config().map_err(StartError::Tls)?;
            server.listen_rustls_0_23(listener, config)
        }
        None => server.listen(listener),
    }
    .map_err(|source| StartError::Listen { addr, source })?
    .run();
    let handle = server.handle();
    let mut tasks = vec![tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    })];
    if let Some(certificates) = tls {
        tasks.push(tokio::spawn(certificates.watch()));
    }
    if !config.testing.hold_processing {
        match &storage.kafka {
            Some(k) => {
                let kafka = k.config();
                // Stable per installation: the data directory and address identify the process.
                let instance =
                    format!("hcal-{}", short_hash(&format!("{}|{}", data_dir.display(), config.service.listen)));
                let instance = kafka.static_membership.then_some(instance.as_str());
                let group = format!("{}mailbox-actors", kafka.topic_prefix);
                let timeout = kafka.request_timeout;
                let dispatcher = GroupDispatcher::new(k, &group, instance, timeout, registry.clone(), metrics.clone())?;
                tasks.push(tokio::spawn(dispatcher.run()));
            }
            None => {
                metrics.set("hcal_partitions_owned", i64::from(log.partitions(NOTIFICATIONS)));
                registry.ownership.set(0..log.partitions(NOTIFICATIONS));
                for partition in 0..log.partitions(NOTIFICATIONS) {
                    let task =
                        dispatch::embedded::run_partition(log.clone(), registry.clone(), metrics.clone(), partition);
                    tasks.push(tokio::spawn(task));
                }
            }
        }
    }
    let mut meeting_list = MeetingList::new(ring.clone())
        .with_metrics(metrics.clone())
        .with_changes(rooms_changed)
        .with_live(live.clone())
        .with_retention(crate::config::duration::to_chrono(config.service.meeting_retention));
    if let Some(downstream) = downstream {
        meeting_list = meeting_list.with_downstream(downstream);
    }
    let followed: Vec<Arc<dyn Projection>> =
        vec![subscriptions, access, devices, presence.clone(), Arc::new(meeting_list)];
    let owner = crate::presence::poller::Owner::new(registry.ownership.clone(), log.partitions(NOTIFICATIONS));
    let timers = Arc::new(crate::presence::poller::Timers::new(
        state.inbox.clone(),
        presence.clone(),
        owner.clone(),
        state.clock.clone(),
    ));
    tasks.push(tokio::spawn(timers.run(PRESENCE_TIMER_TICK)));
    if config.presence.poll {
        let poller = Arc::new(crate::presence::poller::Poller::new(
            state.graph.clone(),
            state.inbox.clone(),
            presence.clone(),
            owner,
            state.clock.clone(),
            metrics.clone(),
            config.presence.clone(),
        ));
        tasks.push(tokio::spawn(poller.run(PRESENCE_POLL_TICK)));
    }
    let mut deliveries = crate::presence::deliveries(&config.presence, &secrets.presence, &state.graph, &metrics)?;
    if matches!(config.log, crate::log::LogConfig::Kafka(_)) {
        deliveries.push(crate::presence::topic_delivery(log.clone(), &metrics));
    }
    for delivery in deliveries {
        tasks.push(tokio::spawn(crate::presence::deliver::run(log.clone(), store.clone(), ring.clone(), delivery)));
    }
    tasks.push(tokio::spawn(pusher.run()));
    tasks.push(tokio::spawn(projections::run(log.clone(), store, ring, followed)));
    if !config.testing.controllable_clock {
        tasks.push(tokio::spawn(scheduler.run(config.service.scheduler_tick)));
    }
    // Its grace period is measured on the monotonic clock, not the controllable one: it is
    // about how long the log takes to reach the index, which moving the clock does not change.
    tasks.push(tokio::spawn(orphans.run(config.service.orphan_sweep_every)));
    tracing::info!(%url, "hcal is listening");
    let public_url = config.service.public_url();
    if config.service.public_url_is_insecure() {
        tracing::warn!(
            %public_url,
            "service.public_url is not https: Microsoft Graph delivers notifications only to https URLs, and meeting \
             lists carry subjects; put hcal behind a TLS proxy and set public_url to its https address"
        );
    }
    Ok(Running { url, state, server: handle, tasks, storage, lock })
}

/// How often the presence timers look for a window's edge: presence changes within this of it.
const PRESENCE_TIMER_TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// How often the presence poller looks for reads that are due.
const PRESENCE_POLL_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Threads (actix-web workers) of the HTTP server.
const HTTP_WORKERS: usize = 2;

/// A short, stable hash of `s` (for ids derived from configuration).
fn short_hash(s: &str) -> String {
    hcal_actors::log::murmur2(s.as_bytes()).to_string()
}
