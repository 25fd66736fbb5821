//! The event log behind the port [`hcal_actors::log::EventLog`], and the local store of the
//! projections. Embedded mode keeps both in one SQLite database ([`sqlite`]); kafka mode keeps
//! the logs in Kafka topics ([`kafka`]) and the projections in the same local SQLite store, so
//! that a projection's rows and its positions commit together in either mode.

pub mod kafka;
pub mod sqlite;
