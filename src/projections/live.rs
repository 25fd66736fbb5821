//! The live side of the meeting lists: every change the meeting-list projection commits,
//! handed to the open event streams (`GET /v1/users/{user}/meetings/stream`), and the last few
//! hundred changes of each user kept in memory so that a stream that reconnects with
//! `Last-Event-ID` gets what it missed.
//!
//! A change is named by the mailbox event that made it (the mailbox's sequence number), so ids
//! are increasing per user and the same in every process. What is kept is in memory only, as
//! the rows read for an answer are: nothing here reaches a disk or a log.

use std::collections::{HashMap, VecDeque};

use hcal_actors::ids::MailboxId;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::meetings::MeetingRow;

/// Changes kept per user for streams that reconnect.
const KEPT: usize = 256;

/// What happened to a meeting of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new meeting.
    Created,
    /// A meeting that changed.
    Updated,
    /// A meeting that is gone (cancelled, deleted, forgotten).
    Cancelled,
}

impl ChangeKind {
    /// The stream's event name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One change of one user's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The list's mailbox.
    pub mailbox: MailboxId,
    /// The sequence number of the mailbox event that made it.
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The meeting's event id.
    pub event_id: String,
    /// The meeting as it is now (none once cancelled).
    pub row: Option<MeetingRow>,
}

/// What a reconnecting stream gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Missed {
    /// The changes after the one it saw last.
    Changes(Vec<Change>),
    /// More happened than is kept: the stream must read the list again.
    TooMany,
}

/// The hub: a broadcast of every change and each user's recent ones.
#[derive(Debug)]
pub struct LiveLists {
    sender: broadcast::Sender<Change>,
    recent: Mutex<HashMap<MailboxId, VecDeque<Change>>>,
}

impl Default for LiveLists {
    fn default() -> Self {
        Self { sender: broadcast::channel(4096).0, recent: Mutex::default() }
    }
}

impl LiveLists {
    /// Hands changes to the streams and keeps them for reconnections.
    pub fn publish(&self, changes: Vec<Change>) {
        for change in changes {
            {
                let mut recent = self.recent.lock();
                let kept = recent.entry(change.mailbox).or_default();
                kept.push_back(change.clone());
                while kept.len() > KEPT {
                    kept.pop_front();
                }
            }
            // No stream open: nothing to hand it to.
            let _ = self.sender.send(change);
        }
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// What a stream that saw the change `last_seen` of `mailbox` last has missed. Changes of
    /// this process's lifetime only: after a restart a stream that names an older change reads
    /// the list again ([`Missed::TooMany`]) unless nothing happened since.
    pub fn since(&self, mailbox: &MailboxId, last_seen: u64) -> Missed {
        let recent = self.recent.lock();
        let Some(kept) = recent.get(mailbox) else { return Missed::Changes(Vec::new()) };
        let oldest = kept.front().map_or(0, |c| c.seq);
        let missed: Vec<Change> = kept.iter().filter(|c| c.seq > last_seen).cloned().collect();
        if oldest > last_seen.saturating_add(1) && kept.len() >= KEPT {
            return Missed::TooMany;
        }
        Missed::Changes(missed)
    }
}

#[cfg(test)]
mod tests {
    use hcal_actors::ids::{TenantId, UserObjectId};

    use super::*;

    fn mailbox() -> MailboxId {
        MailboxId {
            tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            user: UserObjectId::parse("e7b64acf-f267-4b54-bbb7-c31361954251").unwrap(),
        }
    }

    fn change(seq: u64) -> Change {
        Change { mailbox: mailbox(), seq, kind: ChangeKind::Cancelled, event_id: format!("e{seq}"), row: None }
    }

    #[test]
    fn a_reconnecting_stream_gets_what_it_missed_or_is_told_to_read_again() {
        let live = LiveLists::default();
        let mut stream = live.subscribe();
        live.publish((1..=5).map(change).collect());
        assert_eq!(stream.try_recv().unwrap().seq, 1);
        let Missed::Changes(missed) = live.since(&mailbox(), 3) else { panic!("kept") };
        assert_eq!(missed.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(live.since(&mailbox(), 5), Missed::Changes(Vec::new()));
        live.publish((6..=400).map(change).collect());
        assert_eq!(live.since(&mailbox(), 3), Missed::TooMany);
        let Missed::Changes(missed) = live.since(&mailbox(), 390) else { panic!("kept") };
        assert_eq!(missed.len(), 10);
    }
}
