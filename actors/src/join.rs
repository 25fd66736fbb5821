//! The join-details block hcal writes into invites, in the organiser's language, and the marker
//! (an extended property) that records what hcal wrote so it never writes twice.

use serde::{Deserialize, Serialize};

use crate::ports::MeetingRoom;

/// Version of the block's template; part of the marker, so a later template change can tell
/// which invites carry an older block.
pub const TEMPLATE_VERSION: u32 = 1;

/// What hcal wrote into an event, stored in the event's marker extended property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Marker format version.
    pub v: u32,
    /// Platform id.
    pub platform: String,
    /// Keyword action that produced the meeting (`myroom`, `onetime`, `space`).
    pub mode: String,
    /// Template version of the block.
    pub tpl: u32,
    /// Web join link written.
    pub web: String,
    /// Video address written, if any.
    pub sip: Option<String>,
}

impl Marker {
    /// The marker for a room written with the current template.
    pub fn new(room: &MeetingRoom, mode: &str) -> Self {
        Self {
            v: 1,
            platform: room.platform.clone(),
            mode: mode.to_owned(),
            tpl: TEMPLATE_VERSION,
            web: room.web_link.clone(),
            sip: room.sip_address.clone(),
        }
    }

    /// The property value.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a property value; `None` for anything hcal did not write.
    pub fn decode(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}

struct Strings {
    heading: &'static str,
    join_link: &'static str,
    video: &'static str,
    number: &'static str,
}

fn strings(locale: &str) -> Strings {
    let lang = locale.split(['-', '_']).next().unwrap_or("en").to_ascii_lowercase();
    match lang.as_str() {
        "tr" => Strings {
            heading: "Webex toplantısına katılın",
            join_link: "Toplantı bağlantısı",
            video: "Video adresinden katılın",
            number: "Toplantı numarası",
        },
        "de" => Strings {
            heading: "Am Webex-Meeting teilnehmen",
            join_link: "Meeting-Link",
            video: "Über Videoadresse beitreten",
            number: "Meeting-Nummer",
        },
        "fr" => Strings {
            heading: "Rejoindre la réunion Webex",
            join_link: "Lien de la réunion",
            video: "Rejoindre par adresse vidéo",
            number: "Numéro de réunion",
        },
        "es" => Strings {
            heading: "Entrar a la reunión de Webex",
            join_link: "Enlace de la reunión",
            video: "Entrar por dirección de vídeo",
            number: "Número de reunión",
        },
        _ => Strings {
            heading: "Join Webex meeting",
            join_link: "Meeting link",
            video: "Join by video address",
            number: "Meeting number",
        },
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML block with join details, in `locale`'s language (English when unknown).
pub fn render_block(room: &MeetingRoom, locale: &str) -> String {
    let s = strings(locale);
    let mut html = String::new();
    html.push_str("<div class=\"hcal-join\"><p>________________________________________</p>");
    html.push_str(&format!("<p><b>{}</b></p>", escape(s.heading)));
    html.push_str(&format!(
        "<p>{}: <a href=\"{url}\">{url}</a></p>",
        escape(s.join_link),
        url = escape(&room.web_link)
    ));
    if let Some(sip) = &room.sip_address {
        html.push_str(&format!("<p>{}: <a href=\"sip:{}\">{}</a></p>", escape(s.video), escape(sip), escape(sip)));
    }
    if let Some(number) = &room.meeting_number {
        html.push_str(&format!("<p>{}: {}</p>", escape(s.number), escape(number)));
    }
    html.push_str("<p>________________________________________</p></div>");
    html
}

/// Inserts the block into an HTML body, keeping everything already there (an online meeting
/// block included): before `</body>` when present, else appended.
pub fn insert_block(body_html: &str, block: &str) -> String {
    let lower = body_html.to_ascii_lowercase();
    match lower.rfind("</body>") {
        Some(at) => format!("{}{block}{}", &body_html[..at], &body_html[at..]),
        None => format!("{body_html}{block}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> MeetingRoom {
        MeetingRoom {
            platform: "webex".into(),
            web_link: "https://acme.webex.com/meet/alice".into(),
            sip_address: Some("alice@acme.webex.com".into()),
            meeting_number: Some("2551234567".into()),
        }
    }

    #[test]
    fn block_is_localised_and_escaped() {
        let en = render_block(&room(), "en-US");
        assert!(en.contains("Join Webex meeting"));
        assert!(en.contains("Meeting link: <a href=\"https://acme.webex.com/meet/alice\">"));
        assert!(en.contains("sip:alice@acme.webex.com"));
        let tr = render_block(&room(), "tr-TR");
        assert!(tr.contains("Webex toplantısına katılın"));
        assert!(render_block(&room(), "xx").contains("Join Webex meeting"));
        let mut evil = room();
        evil.web_link = "https://x/\"><script>".into();
        assert!(!render_block(&evil, "en").contains("<script>"));
    }

    #[test]
    fn insertion_keeps_the_body() {
        let body = "<html><body><p>Agenda</p></BODY></html>";
        let out = insert_block(body, "<div>JOIN</div>");
        assert_eq!(out, "<html><body><p>Agenda</p><div>JOIN</div></BODY></html>");
        assert_eq!(insert_block("plain", "<b>x</b>"), "plain<b>x</b>");
    }

    #[test]
    fn marker_round_trip() {
        let m = Marker::new(&room(), "myroom");
        assert_eq!(Marker::decode(&m.encode()), Some(m));
        assert_eq!(Marker::decode("something else"), None);
    }
}
