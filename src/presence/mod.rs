//! Out of office as presence: Microsoft 365 automatic replies read from mailbox settings become
//! `OOOChanged` and `PresenceChanged` events of the mailbox, and sinks tell collaboration tools.

pub mod sink;
pub mod sinks;
