//! The mailbox aggregate (`input`, `events`, `state`, `decide`, with `effect` and `config`), its
//! stored forms (`envelope`, `snapshot`) and the interpreter that runs it (`actor`).

pub mod actor;
pub mod config;
pub mod decide;
pub mod effect;
pub mod envelope;
pub mod events;
pub mod input;
pub mod snapshot;
pub mod state;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
