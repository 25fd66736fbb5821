//! hcal's domain core: the mailbox aggregate (every rule in `decide`) and the interpreter that
//! runs it, the ports it talks through (with in-process doubles, feature `doubles`), sealing
//! of sensitive fields, detection of meeting addresses and rendering of join details. Without
//! default features it needs no async runtime; feature `actix` (default) adds the actor.

#![forbid(unsafe_code)]

pub mod detect;
#[cfg(any(test, feature = "doubles"))]
pub mod doubles;
pub mod ids;
pub mod join;
pub mod log;
pub mod mailbox;
pub mod notification;
pub mod ports;
pub mod presence;
pub mod seal;
