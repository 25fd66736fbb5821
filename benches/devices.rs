//! Room devices: building and rendering one room's list, and the pusher's fan-out to 1,000
//! rooms with one device each, once against an in-process [`DevicePush`] double (hcal's own
//! work: reading each room's rows, building and rendering its list, the pusher's bookkeeping)
//! and once over real HTTP to the Cisco device simulator (the same plus HTTP, the simulator's
//! own work and the loopback network, all on this machine). Each fan-out is timed from marking
//! every room changed to the last push landing. The summary printed at the end gives the
//! ratios, pushes per second and the process's memory, measured in the same run.
//!
//! Run: `cargo bench --bench devices`.

// A bench's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use criterion::{Criterion, SamplingMode};
use hcal::clock::Clock;
use hcal::devices::booking::{legacy_xml, putxml_command, roomos_json};
use hcal::devices::bookings::{RoomRules, bookings};
use hcal::devices::pusher::{Pusher, PusherConfig, RoomsChanged};
use hcal::devices::{Buffers, CiscoPush, CiscoPushConfig, DeviceBooking, DevicePush, DeviceTarget, PushFailure};
use hcal::log::sqlite::SqliteStore;
use hcal::metrics::Metrics;
use hcal::projections::devices::DeviceIndex;
use hcal::projections::meetings::{self, MEETING_LIST, MeetingRow, RowPrivate};
use hcal::projections::{Position, Projection};
use hcal_actors::detect::AddressKind;
use hcal_actors::ids::{DeviceId, MailboxId, TenantId, UserObjectId};
use hcal_actors::mailbox::envelope::Envelope;
use hcal_actors::mailbox::events::{DevicePrivate, DeviceSecret, JoinOrigin, JoinTarget, MailboxEvent};
use hcal_actors::seal::{DataKey, KeyRing};
use hcal_sim::device::{DeviceSim, DeviceSimConfig, DeviceSpec};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Rooms, each with one device.
const ROOMS: usize = 1000;
/// Meetings per room over its week (one of them all-day, which devices do not list).
const MEETINGS_PER_ROOM: usize = 40;
/// Back-to-back fan-outs of each kind for the summary.
const SUMMARY_RUNS: usize = 5;

const TEAMS: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NDQ4ZjM2%40thread.v2/0?context=%7b%7d";
const MEET: &str = "https://meet.google.com/abc-defg-hij";
const ZOOM: &str = "https://us02web.zoom.us/j/85123456789?pwd=bench";

fn room(i: usize) -> MailboxId {
    MailboxId {
        tenant: TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        user: UserObjectId::parse(&format!("00000000-0000-0000-0000-{i:012x}")).unwrap(),
    }
}

/// A room's week: eight meetings a day for five days from today (UTC), every seventh private,
/// join targets mixed (Webex SIP, Teams, Google Meet, Zoom, plain SIP, none), the last one
/// all-day.
fn week(room: usize, now: DateTime<Utc>) -> Vec<MeetingRow> {
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    (0..MEETINGS_PER_ROOM)
        .map(|n| {
            let start = today + chrono::Duration::days((n / 8) as i64) + chrono::Duration::hours(8 + (n % 8) as i64);
            let target: Option<(&str, AddressKind, String)> = match n % 6 {
                0 => Some(("webex", AddressKind::Sip, format!("sip:room{room}.meeting{n}@hcal.webex.com"))),
                1 => Some(("teams", AddressKind::Url, TEAMS.to_owned())),
                2 => Some(("google_meet", AddressKind::Url, MEET.to_owned())),
                3 => Some(("zoom", AddressKind::Url, ZOOM.to_owned())),
                4 => Some(("sip", AddressKind::Sip, format!("vmr{n}@video.contoso.example"))),
                _ => None,
            };
            MeetingRow {
                event_id: format!("AAMkAGI2TG93AAAroom{room:04}meeting{n:03}"),
                start,
                end: start + chrono::Duration::minutes(if n % 3 == 0 { 30 } else { 60 }),
                is_all_day: n + 1 == MEETINGS_PER_ROOM,
                join: target.as_ref().map(|(provider, kind, _)| JoinTarget {
                    provider: (*provider).to_owned(),
                    kind: *kind,
                    origin: JoinOrigin::Detected,
                }),
                private: RowPrivate {
                    subject: format!("Weekly planning & review <team {}>", n % 5),
                    join_address: target.map(|(_, _, address)| address),
                    web_link: None,
                    organizer: Some(format!("Organizer {n}")),
                    organizer_address: Some(format!("organizer{n}@contoso.example")),
                },
                occurrences: Vec::new(),
                series_master_id: None,
                is_private: n % 7 == 0,
                is_organizer: false,
                response: Some("accepted".to_owned()),
                time_zone: Some("Pacific Standard Time".to_owned()),
            }
        })
        .collect()
}

/// Records when each push landed and tells the waiter once the expected number has.
#[derive(Default)]
struct Landings {
    at: Mutex<Vec<Instant>>,
    expected: Mutex<usize>,
    all_in: Notify,
}

impl Landings {
    fn expect(&self, n: usize) {
        self.at.lock().clear();
        *self.expected.lock() = n;
    }

    fn landed(&self) {
        let mut at = self.at.lock();
        at.push(Instant::now());
        if at.len() == *self.expected.lock() {
            // notify_one keeps a permit when nobody waits yet.
            self.all_in.notify_one();
        }
    }

    async fn wait(&self) -> Vec<Instant> {
        loop {
            if self.at.lock().len() >= *self.expected.lock() {
                return self.at.lock().clone();
            }
            self.all_in.notified().await;
        }
    }
}

/// The in-process double: renders the `/putxml` body a RoomOS device would get (the work
/// `CiscoPush` does before it sends), then records the landing. No network.
struct Double(Arc<Landings>);

#[async_trait]
impl DevicePush for Double {
    async fn put(&self, target: &DeviceTarget, bookings: &[DeviceBooking]) -> Result<(), PushFailure> {
        black_box(putxml_command(&roomos_json(bookings, target.buffers)));
        self.0.landed();
        Ok(())
    }
}

/// `CiscoPush` over HTTP, recording when each accepted push's answer came back.
struct Timed(CiscoPush, Arc<Landings>);

#[async_trait]
impl DevicePush for Timed {
    async fn put(&self, target: &DeviceTarget, bookings: &[DeviceBooking]) -> Result<(), PushFailure> {
        let outcome = self.0.put(target, bookings).await;
        if outcome.is_ok() {
            self.1.landed();
        }
        outcome
    }
}

/// A pusher over `store` with one registered device per room at `address(i)`.
struct Fleet {
    pusher: Arc<Pusher>,
    changed: RoomsChanged,
    landings: Arc<Landings>,
    devices: Arc<DeviceIndex>,
    ids: Vec<DeviceId>,
    task: tokio::task::JoinHandle<()>,
}

impl Fleet {
    async fn start(
        store: &Arc<SqliteStore>,
        ring: &KeyRing,
        push: impl FnOnce(Arc<Landings>) -> Arc<dyn DevicePush>,
        address: impl Fn(usize) -> String,
    ) -> Self {
        // Both fleets' devices land in the one store's device rows, under distinct ids.
        let devices = Arc::new(DeviceIndex::new(ring.clone()));
        let ids: Vec<DeviceId> = (0..ROOMS).map(|_| DeviceId::from_uuid(uuid::Uuid::new_v4())).collect();
        let registrations: Vec<Envelope> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Envelope {
                event_id: uuid::Uuid::new_v4(),
                mailbox: room(i),
                seq: 1,
                occurred_at: Utc::now(),
                causation_id: "bench".into(),
                event: MailboxEvent::DeviceRegistered {
                    device_id: *id,
                    kind: "roomOs".into(),
                    private: DevicePrivate {
                        address: address(i),
                        credentials: DeviceSecret::Basic { username: "admin".into(), password: format!("device-{i}") },
                    },
                },
            })
            .collect();
        devices.apply(store, &registrations, Position { partition: 0, next: ROOMS as u64 }).await.unwrap();
        let landings = Arc::new(Landings::default());
        let changed = RoomsChanged::default();
        let config = PusherConfig {
            // Measured from the mark: the default 200 ms of coalescing would only add itself.
            debounce: Duration::ZERO,
            refresh: Duration::from_secs(24 * 3600),
            ..PusherConfig::default()
        };
        let pusher = Arc::new(Pusher::new(
            store.clone(),
            ring.clone(),
            devices.clone(),
            push(landings.clone()),
            changed.clone(),
            Arc::new(Clock::default()),
            Arc::new(Metrics::default()),
            config,
        ));
        // The pusher's first pass pushes every room with devices: wait for it, so each timed
        // fan-out starts from an idle pusher.
        landings.expect(ROOMS);
        let task = tokio::spawn(pusher.clone().run());
        landings.wait().await;
        Self { pusher, changed, landings, devices, ids, task }
    }

    /// Marks every room changed; when each push landed, from the mark.
    async fn fan_out(&self) -> Vec<Duration> {
        self.landings.expect(ROOMS);
        let rooms: Vec<MailboxId> = (0..ROOMS).map(room).collect();
        let marked = Instant::now();
        self.changed.mark(rooms);
        let mut landed: Vec<Duration> = self.landings.wait().await.iter().map(|at| *at - marked).collect();
        landed.sort();
        landed
    }
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (rss_start, _) = memory();

    // One room's list, pure.
    let now = Utc::now();
    let rows = week(0, now);
    let rules = RoomRules::default();
    let buffers = Buffers::default();
    let list = bookings(&rows, &rules);
    assert_eq!(list.len(), MEETINGS_PER_ROOM - 1, "every meeting but the all-day one");
    let putxml = putxml_command(&roomos_json(&list, buffers));
    let legacy = legacy_xml(&list, buffers);

    // The store: 1,000 rooms' weeks written as the meeting-list projection writes them (sealed).
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), 1).unwrap());
    let ring = KeyRing::new(DataKey::generate("bench").unwrap());
    rt.block_on(async {
        for i in 0..ROOMS {
            let mailbox = room(i);
            let rows: meetings::Rows =
                week(i, now).into_iter().map(|r| (meetings::row_key(&mailbox, &r.event_id), Some(r))).collect();
            let batch = meetings::batch_of(&ring, rows, Vec::new()).unwrap();
            store.projection_apply(MEETING_LIST, batch).await.unwrap();
        }
    });
    let (rss_store, _) = memory();

    let double = rt.block_on(Fleet::start(
        &store,
        &ring,
        |landings| Arc::new(Double(landings)),
        |i| format!("https://room-{i:04}.devices.contoso.example"),
    ));
    let sim = rt.block_on(DeviceSim::start(DeviceSimConfig::default())).unwrap();
    for i in 0..ROOMS {
        sim.add_device(DeviceSpec::roomos(&format!("room-{i:04}"), "admin", &format!("device-{i}")));
    }
    let http = rt.block_on(Fleet::start(
        &store,
        &ring,
        |landings| Arc::new(Timed(CiscoPush::new(&CiscoPushConfig::default()), landings)),
        |i| sim.url_of(&format!("room-{i:04}")),
    ));
    // Every device took the first pass, with the room's whole list.
    for i in [0, ROOMS / 2, ROOMS - 1] {
        let id = format!("room-{i:04}");
        assert!(sim.puts(&id).is_some_and(|p| p.accepted >= 1), "{id} got its list");
        assert_eq!(sim.bookings(&id).map(|b| b.len()), Some(MEETINGS_PER_ROOM - 1));
        assert_eq!(http.pusher.status(&http.ids[i]).outcome, "ok");
    }
    let (rss_fleets, _) = memory();

    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let mut group = c.benchmark_group("one room's list");
    group.bench_function("bookings (40 rows)", |b| b.iter(|| black_box(bookings(black_box(&rows), &rules))));
    group.bench_function("roomos_json + putxml_command", |b| {
        b.iter(|| black_box(putxml_command(&roomos_json(black_box(&list), buffers))))
    });
    group.bench_function("legacy_xml", |b| b.iter(|| black_box(legacy_xml(black_box(&list), buffers))));
    group.bench_function("bookings_of (store read, unseal, bookings)", |b| {
        b.iter(|| rt.block_on(double.pusher.bookings_of(&room(7))).unwrap().len())
    });
    group.finish();

    let mut group = c.benchmark_group("1,000 rooms");
    group.sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.bench_function("device index: of_room for every room", |b| {
        b.iter(|| (0..ROOMS).map(|i| double.devices.of_room(&room(i)).len()).sum::<usize>())
    });
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("fan-out, in-process double", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(double.fan_out())[ROOMS - 1]).sum())
    });
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("fan-out, HTTP to the device simulator", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(http.fan_out())[ROOMS - 1]).sum())
    });
    group.finish();

    // Back to back, for the ratios and the spread of landings within a fan-out.
    let runs =
        |fleet: &Fleet| -> Vec<Vec<Duration>> { (0..SUMMARY_RUNS).map(|_| rt.block_on(fleet.fan_out())).collect() };
    let in_process = runs(&double);
    let over_http = runs(&http);
    let (rss_end, hwm_end) = memory();
    let median_of = |all: &[Vec<Duration>], at: fn(&[Duration]) -> Duration| {
        let mut v: Vec<Duration> = all.iter().map(|r| at(r)).collect();
        v.sort();
        v[v.len() / 2]
    };
    let first = |r: &[Duration]| r[0];
    let half = |r: &[Duration]| r[r.len() / 2];
    let last = |r: &[Duration]| r[r.len() - 1];
    println!(
        "\n{ROOMS} rooms, one device each, {} bookings per list ({} bytes as /putxml, {} as legacy XML); \
         median of {SUMMARY_RUNS} back-to-back fan-outs, from the mark:",
        list.len(),
        putxml.len(),
        legacy.len()
    );
    println!("                          first push   half landed   last push    pushes/s");
    for (name, all) in [("in-process double", &in_process), ("HTTP, device simulator", &over_http)] {
        let l = median_of(all, last);
        println!(
            "  {name:<22} {:>10.2?}  {:>11.2?}  {:>10.2?}  {:>10.0}",
            median_of(all, first),
            median_of(all, half),
            l,
            ROOMS as f64 / l.as_secs_f64()
        );
    }
    println!(
        "  HTTP / in-process (last push): {:.1}x",
        median_of(&over_http, last).as_secs_f64() / median_of(&in_process, last).as_secs_f64()
    );
    println!(
        "memory (VmRSS): {:.1} MiB at start, {:.1} MiB with the store written, {:.1} MiB with both fleets \
         and the simulator up, {:.1} MiB at the end; peak (VmHWM) {:.1} MiB",
        mib(rss_start),
        mib(rss_store),
        mib(rss_fleets),
        mib(rss_end),
        mib(hwm_end)
    );
    let ok = http.ids.iter().filter(|id| http.pusher.status(id).outcome == "ok").count();
    println!("HTTP devices whose last push was accepted: {ok} of {ROOMS}");

    double.task.abort();
    http.task.abort();
    rt.block_on(sim.stop());
}
