//! The hcal service: configuration, HTTP edges (webhook, public and admin APIs), the Graph and
//! meeting-platform clients, the event logs and the local store ([`log`]), projections and the
//! wiring of a running service. The domain lives in `hcal-actors`.

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod dispatch_kafka;
pub mod graph;
pub mod inbox;
pub mod ingest;
pub mod keys;
pub mod log;
pub mod maintenance;
pub mod metrics;
pub mod platform;
pub mod projections;
pub mod replay;
pub mod service;
pub mod tenant;

/// The meeting-list projection under its former path, which the HTTP handlers still use.
pub use projections::meetings as projection;
