//! The end-to-end scenarios (kafka mode on a real Kafka-protocol broker process (tansu, installed by `.ci/run`)).

#[macro_use]
mod scenarios;
mod support;

scenario_tests!(support::Backend::KafkaBroker);
