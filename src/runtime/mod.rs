//! The service's runtime around the mailbox actors: the registry of actors, leases and epochs
//! of partition ownership ([`registry`]), partition recovery ([`recovery`]), checkpoints
//! ([`checkpoint`]) and the crash points tests use to prove them ([`crash`]).

pub mod checkpoint;
pub mod crash;
pub mod recovery;
pub mod registry;

pub use checkpoint::Checkpoint;
pub use registry::MailboxRegistry;
