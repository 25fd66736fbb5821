//! A template platform: an organisation's own video bridge, where every user has a room whose
//! address follows from their e-mail address (`{user}@video.example.com`). Nothing is called:
//! the room is the template filled in. It serves the personal room (`myroom`) only; a booking
//! is refused, since there is nothing to book.
//!
//! Placeholders: `{user}` (the local part of the organiser's address, lower case), `{email}`
//! (the whole address, lower case) and `{domain}` (its domain). Only letters, digits and
//! `.`, `-`, `_`, `+` of an address reach a link; any other character refuses the room rather
//! than put something unexpected into every attendee's invite.

use async_trait::async_trait;
use hcal_actors::ports::{Booking, BookingRequest, MeetingPlatform, MeetingRoom, PlatformFailure};
use serde::{Deserialize, Serialize};

/// A `[[platforms]]` entry of kind `template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Platform id keywords name (`platform = "…"`).
    pub id: String,
    /// Web join link, e.g. `https://video.example.com/meet/{user}`. Required.
    pub web_link: String,
    /// Video (SIP) address, e.g. `{user}@video.example.com`.
    #[serde(default)]
    pub video_address: Option<String>,
    /// Dial-in number or meeting number shown with the room, e.g. `+1 555 0100, {user}`.
    #[serde(default)]
    pub meeting_number: Option<String>,
}

const PLACEHOLDERS: [&str; 3] = ["{user}", "{email}", "{domain}"];

impl TemplateConfig {
    /// What is wrong with the entry, each problem in words.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let filled = fill(&self.web_link, "alex", "contoso.example");
        match reqwest::Url::parse(&filled) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => problems.push(format!("web_link {:?} is not an http:// or https:// URL", self.web_link)),
        }
        let personal = |t: &str| PLACEHOLDERS.iter().any(|p| t.contains(p));
        if !personal(&self.web_link) && !self.video_address.as_deref().is_some_and(personal) {
            problems.push("neither web_link nor video_address names the user ({user} or {email})".to_owned());
        }
        if let Some(video) = &self.video_address
            && !fill(video, "alex", "contoso.example").contains('@')
        {
            problems.push(format!("video_address {video:?} is not a user@host address"));
        }
        problems
    }

    /// The organiser's room.
    pub fn room(&self, platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        let address = organizer_address.trim().to_lowercase();
        let (user, domain) = address
            .split_once('@')
            .filter(|(u, d)| !u.is_empty() && !d.is_empty())
            .ok_or_else(|| PlatformFailure::Refused("the organiser has no usable e-mail address".to_owned()))?;
        let safe = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
        if !safe(user) || !safe(domain) {
            return Err(PlatformFailure::Refused(
                "the organiser's address has characters a room address cannot carry".to_owned(),
            ));
        }
        Ok(MeetingRoom {
            platform: platform.to_owned(),
            web_link: fill(&self.web_link, user, domain),
            sip_address: self.video_address.as_deref().map(|t| fill(t, user, domain)),
            meeting_number: self.meeting_number.as_deref().map(|t| fill(t, user, domain)),
            dial_in: Vec::new(),
        })
    }
}

fn fill(template: &str, user: &str, domain: &str) -> String {
    template.replace("{email}", &format!("{user}@{domain}")).replace("{user}", user).replace("{domain}", domain)
}

/// A template platform.
#[derive(Debug, Clone)]
pub struct TemplatePlatform {
    /// The entry.
    pub config: TemplateConfig,
}

#[async_trait]
impl MeetingPlatform for TemplatePlatform {
    async fn personal_room(&self, _platform: &str, organizer_address: &str) -> Result<MeetingRoom, PlatformFailure> {
        self.config.room(&self.config.id, organizer_address)
    }

    async fn book(&self, _request: &BookingRequest) -> Result<Booking, PlatformFailure> {
        Err(PlatformFailure::Refused(format!("platform {} has personal rooms only (myroom)", self.config.id)))
    }

    async fn reschedule(&self, _booking_id: &str, _request: &BookingRequest) -> Result<(), PlatformFailure> {
        Err(PlatformFailure::Refused(format!("platform {} books nothing to move", self.config.id)))
    }

    async fn cancel(&self, _platform: &str, _booking_id: &str, _organizer: &str) -> Result<(), PlatformFailure> {
        // Nothing was ever booked there.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge() -> TemplateConfig {
        TemplateConfig {
            id: "bridge".into(),
            web_link: "https://video.example.com/meet/{user}".into(),
            video_address: Some("{user}@video.example.com".into()),
            meeting_number: None,
        }
    }

    #[test]
    fn the_room_is_the_template_filled_with_the_organisers_address() {
        let room = bridge().room("bridge", " Alex.Wilber@Contoso.example ").unwrap();
        assert_eq!(
            room,
            MeetingRoom {
                platform: "bridge".into(),
                web_link: "https://video.example.com/meet/alex.wilber".into(),
                sip_address: Some("alex.wilber@video.example.com".into()),
                meeting_number: None,
                dial_in: Vec::new(),
            }
        );
        let by_email = TemplateConfig { web_link: "https://v.example/{email}?d={domain}".into(), ..bridge() };
        assert_eq!(by_email.room("b", "a@c.example").unwrap().web_link, "https://v.example/a@c.example?d=c.example");
    }

    #[test]
    fn an_address_that_cannot_be_put_into_a_link_is_refused_without_quoting_it() {
        for address in ["", "nobody", "a\"b@x.example", "<script>@x.example", "@x.example"] {
            let Err(PlatformFailure::Refused(why)) = bridge().room("bridge", address) else {
                panic!("{address:?} accepted");
            };
            assert!(!why.contains("script") && !why.contains('"'), "{why}");
        }
    }

    #[test]
    fn entries_are_checked_at_load() {
        assert!(bridge().problems().is_empty());
        let not_personal =
            TemplateConfig { web_link: "https://video.example.com/lobby".into(), video_address: None, ..bridge() };
        assert_eq!(not_personal.problems().len(), 1, "{:?}", not_personal.problems());
        let not_a_url = TemplateConfig { web_link: "video.example.com/{user}".into(), ..bridge() };
        assert_eq!(not_a_url.problems().len(), 1, "{:?}", not_a_url.problems());
        let not_an_address = TemplateConfig { video_address: Some("{user}".into()), ..bridge() };
        assert_eq!(not_an_address.problems().len(), 1, "{:?}", not_an_address.problems());
    }

    #[tokio::test]
    async fn it_books_nothing() {
        let platform = TemplatePlatform { config: bridge() };
        let request = BookingRequest {
            platform: "bridge".into(),
            kind: hcal_actors::ports::BookingKind::OneTime,
            key: "hcal-1".into(),
            organizer: "a@c.example".into(),
            title: "t".into(),
            start: chrono::Utc::now(),
            end: chrono::Utc::now(),
            attendees: vec![],
        };
        assert!(matches!(platform.book(&request).await, Err(PlatformFailure::Refused(_))));
        assert_eq!(platform.cancel("bridge", "x", "a@c.example").await, Ok(()));
    }
}
