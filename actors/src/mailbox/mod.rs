//! The mailbox aggregate (`input`, `events`, `state`, `decide`), its stored form (`envelope`)
//! and its actor (`actor`).

pub mod actor;
pub mod decide;
pub mod envelope;
pub mod events;
pub mod input;
pub mod snapshot;
pub mod state;
