//! The hcal service: configuration, HTTP edges (webhook, public and admin APIs), the Graph and
//! meeting-platform clients, the event logs and the local store ([`log`]), projections and the
//! wiring of a running service. The domain lives in `hcal-actors`.

#![forbid(unsafe_code)]

pub mod access;
pub mod app;
pub mod clock;
pub mod config;
pub mod datadir;
pub mod devices;
pub mod dispatch;
pub mod graph;
pub mod http;
pub mod inbox;
pub mod keys;
pub mod log;
pub mod metrics;
pub mod orphans;
pub mod platform;
pub mod presence;
pub mod private;
pub mod projections;
pub mod replay;
pub mod runtime;
pub mod scheduler;
pub mod service;
pub mod tenant;
