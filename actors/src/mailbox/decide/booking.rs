//! The rules of meetings hcal books on a platform (`onetime`, `space`): what is booked for an
//! invite and under which key, when a booked meeting moves with its invite, and when it is
//! deleted (the invite cancelled, the keyword removed) until the platform confirms.

use sha2::{Digest, Sha256};

use super::super::config::Mode;
use super::super::effect::{Decision, Effect};
use super::super::events::{BookingPrivate, MailboxEvent};
use super::super::state::{DueCancellation, MailboxState, Meeting};
use crate::ids::GraphEventId;
use crate::ports::{Booking, BookingKind, BookingRequest, GraphEvent, PlatformFailure};

/// The booking kind of a keyword action; `None` for the personal room, which is looked up,
/// not booked.
pub(super) fn kind(mode: Mode) -> Option<BookingKind> {
    match mode {
        Mode::MyRoom => None,
        Mode::OneTime => Some(BookingKind::OneTime),
        Mode::Space => Some(BookingKind::Space),
    }
}

/// The idempotency key of an invite's booking: the same invite always gives the same key, and
/// nothing of the invite can be read back from it. 45 characters of `[0-9a-z-]` (Webex takes
/// integration tags of up to 64).
pub fn key(event_id: &GraphEventId) -> String {
    let digest = Sha256::digest(format!("hcal-booking-v1\u{0}{}", event_id.as_str()).as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("hcal-{hex}")
}

/// What to book (or move a booking to) for an invite: its subject, times and everyone invited
/// besides the organiser.
pub(super) fn request(event: &GraphEvent, platform: &str, kind: BookingKind, organizer: &str) -> BookingRequest {
    BookingRequest {
        platform: platform.to_owned(),
        kind,
        key: key(&event.id),
        organizer: organizer.to_owned(),
        title: event.subject.clone(),
        start: event.start,
        end: event.end,
        attendees: event.attendees.iter().filter(|a| !a.address.eq_ignore_ascii_case(organizer)).cloned().collect(),
    }
}

/// The booking is recorded before its join details are written: a crash in between writes the
/// same meeting after the restart instead of booking another.
pub(super) fn booked_event(event: &GraphEvent, booking: &Booking, mode: &str) -> MailboxEvent {
    MailboxEvent::MeetingBooked {
        event_id: event.id.clone(),
        platform: booking.room.platform.clone(),
        mode: mode.to_owned(),
        booking_id: booking.id.clone(),
        start: event.start,
        end: event.end,
        private: BookingPrivate { room: booking.room.clone() },
    }
}

/// A booked meeting follows its invite's times (and subject): moved when they differ from what
/// is booked.
pub(super) fn follow(meeting: &Meeting, event: &GraphEvent) -> Option<Effect> {
    let booking = meeting.booking.as_ref()?;
    if booking.start == event.start && booking.end == event.end {
        return None;
    }
    let organizer = event.organizer.as_ref().map(|o| o.address.as_str())?;
    let kind = kind(Mode::parse(&booking.mode)?)?;
    Some(Effect::RescheduleMeeting {
        event_id: event.id.clone(),
        booking_id: booking.id.clone(),
        request: request(event, &booking.platform, kind, organizer),
    })
}

/// Moved: recorded.
pub(super) fn rescheduled(
    event_id: &GraphEventId,
    booking_id: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Decision {
    Decision::event(MailboxEvent::BookingMoved {
        event_id: event_id.clone(),
        booking_id: booking_id.to_owned(),
        start,
        end,
    })
}

/// The deletion of a meeting's booking, when it has one (the one its events make owed).
pub(super) fn cancel(meeting: &Meeting) -> Option<Effect> {
    let (booking_id, due) = DueCancellation::of(&meeting.details, meeting.booking.as_ref()?);
    Some(cancel_effect(booking_id, &due))
}

fn cancel_effect(booking_id: String, due: &DueCancellation) -> Effect {
    Effect::CancelBooking {
        event_id: due.event_id.clone(),
        platform: due.platform.clone(),
        booking_id,
        organizer: due.organizer.clone(),
    }
}

/// Before every record: deletions owed (a crash or an outage cut them short) are done first.
pub(super) fn resume(state: &MailboxState) -> Decision {
    Decision {
        events: Vec::new(),
        effects: state.cancellations.iter().map(|(id, due)| cancel_effect(id.clone(), due)).collect(),
    }
}

/// Deleted (or already gone): recorded, and no longer owed.
pub(super) fn cancelled(event_id: &GraphEventId, booking_id: &str) -> Decision {
    Decision::event(MailboxEvent::BookingDeleted {
        event_id: event_id.clone(),
        booking_id: booking_id.to_owned(),
        deleted: true,
    })
}

/// The deletion failed: an outage holds the record back until it can be done; a refusal is
/// recorded and not tried again (the meeting stays on the platform; the log says so).
pub(super) fn cancel_failed(event_id: &GraphEventId, booking_id: &str, failure: &PlatformFailure) -> Decision {
    match failure {
        PlatformFailure::Transient(reason) => {
            Decision::effect(Effect::RetryLater { after_secs: None, reason: reason.clone() })
        }
        PlatformFailure::Refused(_) => Decision::event(MailboxEvent::BookingDeleted {
            event_id: event_id.clone(),
            booking_id: booking_id.to_owned(),
            deleted: false,
        }),
    }
}
