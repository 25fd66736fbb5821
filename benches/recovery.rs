//! Taking over a partition: recovering every mailbox of a `mailbox-events` partition from its
//! latest snapshots and the events after the last checkpoint, against folding the whole
//! partition, and against what hcal did before snapshots (each mailbox's actor scanning the
//! partition on its own). The log is in memory, so this measures hcal's work (reading,
//! opening sealed parts, folding), not a broker's or a disk's. The summary printed at the end
//! gives the ratios, measured in the same run.
//!
//! Run: `cargo bench --bench recovery`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use criterion::Criterion;
use hcal::runtime::recovery::recover_partition;
use hcal_actors::ids::{GraphEventId, MailboxId, TenantId, UserObjectId};
use hcal_actors::log::{EventLog, LogError, MAILBOX_EVENTS, MAILBOX_SNAPSHOTS, NOTIFICATIONS, Record};
use hcal_actors::mailbox::envelope::{self, Envelope};
use hcal_actors::mailbox::events::{MailboxEvent, MeetingDetails, MeetingPrivate};
use hcal_actors::mailbox::snapshot::{self, Recovered, Snapshot};
use hcal_actors::ports::{EmailAddress, EventType};
use hcal_actors::seal::{DataKey, KeyRing};

/// Mailboxes on the partition.
const MAILBOXES: usize = 200;
/// Events per mailbox (enable, then meetings scheduled and updated).
const EVENTS_PER_MAILBOX: usize = 50;
/// Share of the events between two checkpoints (and after the last one).
const TAIL: f64 = 0.1;

/// A one-partition log in memory.
#[derive(Default)]
struct MemoryLog {
    topics: HashMap<&'static str, Vec<Record>>,
    snapshots: bool,
}

impl MemoryLog {
    fn push(&mut self, topic: &'static str, key: String, payload: Vec<u8>) -> u64 {
        let records = self.topics.entry(topic).or_default();
        let offset = records.len() as u64;
        records.push(Record { partition: 0, offset, key, payload });
        offset
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    fn partitions(&self, topic: &str) -> u32 {
        // Without snapshots the snapshot topic "differs", which turns them off.
        if topic == MAILBOX_SNAPSHOTS && !self.snapshots { 2 } else { 1 }
    }
    async fn append(&self, _: &str, _: &str, _: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        Err(LogError::Invalid("read-only".into()))
    }
    async fn read(&self, topic: &str, _: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let records = self.topics.get(topic).map_or(&[][..], |r| r.as_slice());
        Ok(records.iter().skip(from as usize).take(max).cloned().collect())
    }
    async fn wait(&self, _: &str, _: u32, _: u64, _: Duration) {}
    async fn committed(&self, _: &str, _: &str, _: u32) -> Result<u64, LogError> {
        Ok(0)
    }
    async fn commit(&self, _: &str, _: &str, _: u32, _: u64) -> Result<(), LogError> {
        Ok(())
    }
}

fn meeting(n: usize) -> MeetingDetails {
    MeetingDetails {
        event_id: GraphEventId::new(format!("AAMkAGI2TG93AAA{n:08}")),
        change_key: format!("DwAAABYAAAA{n}"),
        start: Utc::now(),
        end: Utc::now(),
        is_all_day: false,
        event_type: EventType::SingleInstance,
        is_organizer: true,
        is_private: false,
        response: None,
        time_zone: None,
        keyword: None,
        join: None,
        private: MeetingPrivate {
            subject: format!("Quarterly planning review {n}"),
            organizer: Some(EmailAddress { name: "Organizer".into(), address: "organizer@contoso.example".into() }),
            ..Default::default()
        },
    }
}

/// Two logs with the same events: one with checkpoints before the last `2 * TAIL` and the last
/// `TAIL` of them; the last names the first as complete, so recovery folds from the first.
fn logs() -> (MemoryLog, MemoryLog, KeyRing, Vec<MailboxId>) {
    let ring = KeyRing::new(DataKey::generate("bench").unwrap_or_else(|_| unreachable!()));
    let tenant = TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap_or_else(|_| unreachable!());
    let mailboxes: Vec<MailboxId> = (0..MAILBOXES)
        .map(|i| MailboxId {
            tenant,
            user: UserObjectId::parse(&format!("00000000-0000-0000-0000-{i:012x}")).unwrap_or_else(|_| unreachable!()),
        })
        .collect();
    let mut log = MemoryLog { snapshots: true, ..Default::default() };
    // Each mailbox's state as the events so far make it.
    let mut states: HashMap<MailboxId, Recovered> = HashMap::new();
    let total = MAILBOXES * EVENTS_PER_MAILBOX;
    let checkpoints = [((1.0 - 2.0 * TAIL) * total as f64) as usize, ((1.0 - TAIL) * total as f64) as usize];
    let mut complete = 0;
    let mut seq = vec![0u64; MAILBOXES];
    for n in 0..total {
        if checkpoints.contains(&n) {
            let end = states.values().map(|r| r.events_next).max().unwrap_or(0);
            for (mailbox, r) in &states {
                let snap = Snapshot::of(*mailbox, r.state.clone(), end, complete, Utc::now());
                let payload = snapshot::encode(&snap, &ring).unwrap_or_else(|_| unreachable!());
                log.push(MAILBOX_SNAPSHOTS, mailbox.to_string(), payload);
            }
            complete = end;
        }
        let i = n % MAILBOXES;
        seq[i] += 1;
        let event = match seq[i] {
            1 => MailboxEvent::MailboxEnabled { locale: Some("en-US".into()) },
            s if s % 2 == 0 => MailboxEvent::MeetingScheduled(meeting(n)),
            _ => MailboxEvent::MeetingUpdated(meeting(n - MAILBOXES)),
        };
        let env = Envelope {
            event_id: uuid::Uuid::new_v4(),
            mailbox: mailboxes[i],
            seq: seq[i],
            occurred_at: Utc::now(),
            causation_id: "bench".into(),
            event,
        };
        let payload = envelope::encode(&env, &ring).unwrap_or_else(|_| unreachable!());
        let offset = log.push(MAILBOX_EVENTS, mailboxes[i].to_string(), payload);
        let recovered = states.entry(mailboxes[i]).or_default();
        recovered.state.apply(&env.event);
        recovered.events_next = offset + 1;
    }
    let mut plain = MemoryLog::default();
    plain.topics.insert(MAILBOX_EVENTS, log.topics[MAILBOX_EVENTS].clone());
    plain.topics.insert(NOTIFICATIONS, Vec::new());
    (log, plain, ring, mailboxes)
}

fn main() {
    let (snapshotted, plain, ring, mailboxes) = logs();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|_| unreachable!());
    let with_snapshots = || rt.block_on(recover_partition(&snapshotted, &ring, 0, None)).map(|m| m.len());
    let whole_partition = || rt.block_on(recover_partition(&plain, &ring, 0, None)).map(|m| m.len());
    let per_mailbox = || {
        mailboxes
            .iter()
            .filter(|m| rt.block_on(recover_partition(&plain, &ring, 0, Some(**m))).is_ok_and(|r| r.len() == 1))
            .count()
    };
    assert_eq!(with_snapshots().ok(), Some(MAILBOXES));
    assert_eq!(whole_partition().ok(), Some(MAILBOXES));

    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let mut group = c.benchmark_group("recover a partition");
    group.bench_function("latest snapshots + tail", |b| b.iter(|| black_box(with_snapshots())));
    group.bench_function("whole partition", |b| b.iter(|| black_box(whole_partition())));
    group.bench_function("each mailbox scans the partition", |b| b.iter(|| black_box(per_mailbox())));
    group.finish();

    // The same three, timed back to back, for the ratios.
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..3 {
            f();
        }
        start.elapsed() / 3
    };
    let s = time(&|| {
        black_box(with_snapshots()).ok();
    });
    let w = time(&|| {
        black_box(whole_partition()).ok();
    });
    let p = time(&|| {
        black_box(per_mailbox());
    });
    let events = MAILBOXES * EVENTS_PER_MAILBOX;
    println!(
        "\n{MAILBOXES} mailboxes, {events} events, checkpoints before the last {:.0} % and {:.0} %:",
        TAIL * 200.0,
        TAIL * 100.0
    );
    println!("  latest snapshots + tail          {s:>10.2?}");
    println!("  whole partition                  {w:>10.2?}  ({:.1}x the snapshot recovery)", ratio(w, s));
    println!("  each mailbox scans the partition {p:>10.2?}  ({:.1}x the snapshot recovery)", ratio(p, s));
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE)
}
