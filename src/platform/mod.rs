//! Meeting platforms hcal puts join details from: clients implementing
//! [`hcal_actors::ports::MeetingPlatform`] over each platform's HTTP API.

pub mod webex;
