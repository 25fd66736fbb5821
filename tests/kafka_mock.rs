//! The end-to-end scenarios (kafka mode on librdkafka's in-process mock cluster).

#[macro_use]
mod scenarios;
mod support;

scenario_tests!(support::Backend::KafkaMock);
