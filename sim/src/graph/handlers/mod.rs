//! Request handlers, one file per resource.

pub mod batch;
pub mod calendar_view;
pub mod events;
pub mod mailbox;
pub mod subscriptions;
