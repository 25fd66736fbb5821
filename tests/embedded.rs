//! The end-to-end scenarios (embedded mode: the local SQLite store on disk).

#[macro_use]
mod scenarios;
mod support;

scenario_tests!(support::Backend::Embedded);
