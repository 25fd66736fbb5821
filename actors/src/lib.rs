//! hcal's domain core: the mailbox aggregate and its actor, the ports it talks through,
//! sealing of sensitive fields, detection of meeting addresses and rendering of join details.

#![forbid(unsafe_code)]

pub mod detect;
pub mod ids;
pub mod join;
pub mod log;
pub mod mailbox;
pub mod notification;
pub mod ports;
pub mod seal;
