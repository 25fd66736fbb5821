//! hcal's domain core: identifiers shared by the mailbox aggregate, its actor and the
//! projections. The aggregate itself arrives with the walking skeleton.

#![forbid(unsafe_code)]

pub mod ids;
