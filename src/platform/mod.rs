//! Meeting platforms hcal puts join details from: clients implementing
//! [`hcal_actors::ports::MeetingPlatform`] over each platform's HTTP API.

pub mod webex;

/// The platform ids a keyword may name (`[[domain.keywords]] platform`); a configuration naming
/// any other is refused when it is loaded.
pub const PLATFORMS: &[&str] = &[webex::PLATFORM];
