//! Simulators of the outside world hcal talks to. They stand in for services that cannot be
//! reached from tests, benchmarks and the demo, and follow the documented wire behaviour of the
//! real services closely enough that hcal built against them works against the real ones.
//! [`device`] simulates Cisco room devices taking their bookings; [`tansu`] starts a real
//! Kafka-protocol broker process for the kafka-mode tests; [`synapse`] starts a real Matrix
//! homeserver process for the Matrix presence tests.

#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod chat;
pub mod device;
pub mod graph;
pub mod openbao;
pub mod synapse;
pub mod tansu;
pub mod webex;
