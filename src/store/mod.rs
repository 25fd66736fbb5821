//! Durable storage of the embedded mode: the event logs, consumer positions and projection rows
//! of a single hcal process, kept in one local SQLite database so that a projection's rows and
//! its consumer positions commit together. Kafka mode implements the same event-log port
//! ([`hcal_actors::log::EventLog`]) on Kafka topics instead.

pub mod embedded;
pub mod kafka;
