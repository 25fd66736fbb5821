//! The shared heart of one simulator instance: configuration, faults, state, statistics and
//! the seeded random generator every id, number and fault draw comes from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::config::{WebexFaults, WebexSimConfig};
use super::model::{CloudDevice, Meeting, Person, PersonalRoom, PersonalRoomSpec};
use super::space::{Membership, Message, Room};

/// What the simulator counted; tests assert on it (also at `GET /_sim/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebexStats {
    /// API requests seen (the `/_sim` control surface excluded), unknown paths included.
    pub requests: u64,
    /// API requests per endpoint, keyed `METHOD /path` with `{id}` for path parameters, e.g.
    /// `GET /v1/meetingPreferences/personalMeetingRoom` or `DELETE /v1/meetings/{id}`. Every
    /// request that reached an endpoint counts, whatever it was answered.
    pub by_endpoint: BTreeMap<String, u64>,
    /// API responses per status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests answered 401.
    pub unauthorized: u64,
    /// Requests answered with an injected fault (429 or 5xx).
    pub faults_injected: u64,
    /// Highest number of API requests in flight at once.
    pub max_concurrency: usize,
    /// Meetings scheduled (`POST /v1/meetings` answered 200).
    pub meetings_created: u64,
    /// Meetings changed (`PUT /v1/meetings/{id}` answered 200).
    pub meetings_updated: u64,
    /// Meetings deleted (`DELETE /v1/meetings/{id}` answered 204).
    pub meetings_deleted: u64,
    /// Spaces created, group spaces with `POST /v1/rooms` and direct ones by a first message.
    pub rooms_created: u64,
    /// Spaces deleted (`DELETE /v1/rooms/{id}` answered 204).
    pub rooms_deleted: u64,
    /// Memberships created, the creator's own and those of direct spaces included.
    pub memberships_created: u64,
    /// Memberships deleted (`DELETE /v1/memberships/{id}` answered 204).
    pub memberships_deleted: u64,
    /// Messages posted (`POST /v1/messages` answered 200).
    pub messages_created: u64,
}

/// The simulator's data.
#[derive(Debug, Default)]
pub struct Store {
    /// Accepted bearer tokens.
    pub tokens: HashSet<String>,
    /// The scopes of tokens added with a limited set ([`crate::webex::WebexSim::add_token_with_scopes`]);
    /// a token not listed here is an admin token with every scope.
    pub token_scopes: HashMap<String, HashSet<String>>,
    /// Cloud-registered RoomOS devices by device id, for the cloud xAPI.
    pub devices: HashMap<String, CloudDevice>,
    /// People by lower-cased e-mail address (Webex matches addresses case-insensitively).
    pub people: HashMap<String, Person>,
    /// Scheduled meetings by id.
    pub meetings: HashMap<String, Meeting>,
    /// Meetings deleted through the API, oldest first, as they were when deleted (tests
    /// assert on what was removed).
    pub deleted_meetings: Vec<Meeting>,
    /// Spaces by id.
    pub rooms: HashMap<String, Room>,
    /// Memberships, oldest first.
    pub memberships: Vec<Membership>,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
}

impl Store {
    /// Whether `token` carries `scope`: admin tokens carry every scope.
    pub fn token_has(&self, token: &str, scope: &str) -> bool {
        self.token_scopes.get(token).is_none_or(|scopes| scopes.contains(scope))
    }

    /// The person with `email`, in any case.
    pub fn person(&self, email: &str) -> Option<&Person> {
        self.people.get(&email.to_lowercase())
    }

    /// The person with Webex person id `id`.
    pub fn person_by_id(&self, id: &str) -> Option<&Person> {
        self.people.values().find(|p| p.id == id)
    }

    /// A licensed user of the site with `email` (one who may host meetings), in any case.
    pub fn user(&self, email: &str) -> Option<&Person> {
        self.person(email).filter(|p| p.licensed)
    }

    /// The memberships of space `room_id`, oldest first.
    pub fn members_of<'a>(&'a self, room_id: &'a str) -> impl Iterator<Item = &'a Membership> + 'a {
        self.memberships.iter().filter(move |m| m.room_id == room_id)
    }

    /// Whether the person with id `person_id` is a member of space `room_id`.
    pub fn is_member(&self, room_id: &str, person_id: &str) -> bool {
        self.members_of(room_id).any(|m| m.person_id == person_id)
    }

    /// The direct space of the token's identity (`admin_id`) with the person `person_id`.
    pub fn direct_room(&self, admin_id: &str, person_id: &str) -> Option<&Room> {
        self.rooms
            .values()
            .find(|r| r.is_direct() && self.is_member(&r.id, admin_id) && self.is_member(&r.id, person_id))
    }

    /// Whether some personal room already uses `link`.
    fn link_taken(&self, link: &str) -> bool {
        self.people
            .values()
            .any(|p| p.personal_room.as_ref().is_some_and(|r| r.spec.personal_meeting_room_link == link))
    }
}

/// One simulator's shared state.
pub struct Core {
    /// Static configuration.
    pub config: WebexSimConfig,
    /// Faults, switchable at run time.
    pub faults: RwLock<WebexFaults>,
    /// Data.
    pub store: Mutex<Store>,
    /// Statistics.
    pub stats: Mutex<WebexStats>,
    /// The simulated clock every "now" comes from.
    pub clock: Clock,
    /// Person id of the admin identity behind every token (stable, so meetings it hosts agree).
    pub admin_id: String,
    /// Organisation id of the site (`personOrgId`, `ownerId`).
    pub org_id: String,
    /// API requests in flight now; the stats keep the maximum.
    inflight: Mutex<usize>,
    rng: Mutex<StdRng>,
}

impl Core {
    /// A new core.
    pub fn new(config: WebexSimConfig) -> Self {
        let mut core = Self {
            faults: RwLock::new(config.faults.clone()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            store: Mutex::new(Store::default()),
            stats: Mutex::new(WebexStats::default()),
            clock: Clock::default(),
            admin_id: String::new(),
            org_id: String::new(),
            inflight: Mutex::new(0),
        };
        core.admin_id = core.person_id();
        core.org_id = core.spark_id("ORGANIZATION");
        core
    }

    /// The simulated "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The identity behind every token: the site admin (or service app).
    pub fn admin(&self) -> Identity {
        Identity {
            id: self.admin_id.clone(),
            email: self.config.admin_email.clone(),
            display_name: ADMIN_DISPLAY_NAME.to_owned(),
        }
    }

    /// Counts one successful change in the stats.
    pub fn count(&self, what: impl FnOnce(&mut WebexStats) -> &mut u64) {
        *what(&mut self.stats.lock()) += 1;
    }

    /// Current faults.
    pub fn faults(&self) -> WebexFaults {
        self.faults.read().clone()
    }

    /// `{site}.webex.com`.
    pub fn site_host(&self) -> String {
        format!("{}.webex.com", self.config.site)
    }

    /// Counts an API request entering; the slot is released when the returned guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        let now = {
            let mut n = self.inflight.lock();
            *n += 1;
            *n
        };
        let mut stats = self.stats.lock();
        stats.requests += 1;
        stats.max_concurrency = stats.max_concurrency.max(now);
        InFlight { core: self }
    }

    /// Lower-case hex of `len` random nibbles.
    pub fn hex(&self, len: usize) -> String {
        let rng = &mut *self.rng.lock();
        (0..len).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect()
    }

    /// `len` random digits, the first not zero (Webex numbers never start with one).
    pub fn digits(&self, len: usize) -> String {
        let rng = &mut *self.rng.lock();
        (0..len)
            .map(|i| {
                let low = if i == 0 { 1 } else { 0 };
                char::from(b'0' + rng.random_range(low..10u8))
            })
            .collect()
    }

    /// A Webex-style tracking id (`ROUTER_` and an upper-case UUID).
    pub fn tracking_id(&self) -> String {
        let bytes: [u8; 16] = self.rng.lock().random();
        format!("ROUTER_{}", uuid::Builder::from_random_bytes(bytes).into_uuid().to_string().to_uppercase())
    }

    /// A Webex person id: base64 of `ciscospark://us/PEOPLE/{uuid}`.
    pub fn person_id(&self) -> String {
        self.spark_id("PEOPLE")
    }

    /// A Webex messaging id of `kind` (`ROOM`, `MEMBERSHIP`, `MESSAGE`, `ORGANIZATION`, …):
    /// base64 without padding of `ciscospark://us/{kind}/{uuid}`, as Webex writes them.
    pub fn spark_id(&self, kind: &str) -> String {
        let bytes: [u8; 16] = self.rng.lock().random();
        let uri = format!("ciscospark://us/{kind}/{}", uuid::Builder::from_random_bytes(bytes).into_uuid());
        base64_no_pad(uri.as_bytes())
    }

    /// A random UUID in its usual lower-case form (space meeting links use one).
    pub fn uuid(&self) -> String {
        let bytes: [u8; 16] = self.rng.lock().random();
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// An attendee password: eight letters and digits with at least one of each case and a
    /// digit, as Webex's generated passwords have.
    pub fn password(&self) -> String {
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
        const DIGIT: &[u8] = b"23456789";
        let rng = &mut *self.rng.lock();
        let mut pick = |set: &[u8]| char::from(set[rng.random_range(0..set.len())]);
        let mut out = String::with_capacity(8);
        out.push(pick(UPPER));
        out.push(pick(LOWER));
        out.push(pick(DIGIT));
        for i in 0..5 {
            out.push(pick([UPPER, LOWER, DIGIT][i % 3]));
        }
        out
    }

    /// A four-digit host PIN that Webex would accept: no run such as 1234 or 4321 and not one
    /// digit repeated.
    pub fn host_pin(&self) -> String {
        loop {
            let pin = self.digits(4);
            let d: Vec<i32> = pin.bytes().map(|b| i32::from(b - b'0')).collect();
            let steps: HashSet<i32> = d.windows(2).map(|w| w[1] - w[0]).collect();
            let monotone_run = steps.len() == 1 && steps.iter().all(|s| s.abs() <= 1);
            if !monotone_run {
                return pin;
            }
        }
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().random_bool(p.min(1.0))
    }

    /// Adds a person (or renames an existing one); returns the person id and, when the
    /// configuration asks for it, gives a new person a personal room.
    pub fn add_person(&self, email: &str, display_name: &str) -> String {
        let key = email.to_lowercase();
        let mut store = self.store.lock();
        if let Some(person) = store.people.get_mut(&key) {
            person.display_name = display_name.to_owned();
            return person.id.clone();
        }
        let id = self.person_id();
        let personal_room = if self.config.auto_personal_rooms {
            let spec = self.generated_room(&store, email, display_name);
            Some(PersonalRoom { id: self.hex(32), spec })
        } else {
            None
        };
        store.people.insert(
            key,
            Person {
                id: id.clone(),
                email: email.to_owned(),
                display_name: display_name.to_owned(),
                personal_room,
                licensed: true,
            },
        );
        id
    }

    /// The identity with `email`: the admin, a person of the site, or, for an address Webex
    /// does not know, a new invited person (what Webex does when a space member or message
    /// recipient has no account yet: it creates one and sends an invitation). Invited people
    /// have no licence: they cannot host meetings and have no personal room.
    pub fn identity_or_invite(&self, store: &mut Store, email: &str) -> Identity {
        if email.eq_ignore_ascii_case(&self.config.admin_email) {
            return self.admin();
        }
        if let Some(p) = store.person(email) {
            return Identity::of(p);
        }
        let person = Person {
            id: self.person_id(),
            email: email.to_owned(),
            display_name: email.to_owned(),
            personal_room: None,
            licensed: false,
        };
        let identity = Identity::of(&person);
        store.people.insert(email.to_lowercase(), person);
        identity
    }

    /// The identity with person id `id` (the admin or a person of the site), if any.
    pub fn identity_by_id(&self, store: &Store, id: &str) -> Option<Identity> {
        if id == self.admin_id {
            return Some(self.admin());
        }
        store.person_by_id(id).map(Identity::of)
    }

    /// Sets (or with `None` removes) a person's personal room; false if there is no such person.
    pub fn set_personal_room(&self, email: &str, spec: Option<PersonalRoomSpec>) -> bool {
        let room_id = self.hex(32);
        let mut store = self.store.lock();
        let Some(person) = store.people.get_mut(&email.to_lowercase()) else { return false };
        person.personal_room =
            spec.map(|spec| PersonalRoom { id: person.personal_room.as_ref().map_or(room_id, |r| r.id.clone()), spec });
        true
    }

    /// A personal room as Webex would make it for a new host: `/meet/{localpart}` on the site,
    /// made unique with a number when another host already has that name.
    fn generated_room(&self, store: &Store, email: &str, display_name: &str) -> PersonalRoomSpec {
        let local = room_name(email);
        let host = self.site_host();
        let mut name = local.clone();
        let mut n = 1;
        while store.link_taken(&format!("https://{host}/meet/{name}")) {
            n += 1;
            name = format!("{local}{n}");
        }
        PersonalRoomSpec {
            topic: format!("{display_name}'s Personal Room"),
            host_pin: self.host_pin(),
            personal_meeting_room_link: format!("https://{host}/meet/{name}"),
            sip_address: format!("{name}@{host}"),
            access_code: self.digits(10),
            call_in_numbers: self.config.call_in_numbers.clone(),
            support_co_host: false,
        }
    }
}

/// Display name of the admin identity behind every token.
pub const ADMIN_DISPLAY_NAME: &str = "Webex Admin";

/// Who someone is, as messages, memberships and meetings name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Webex person id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
}

impl Identity {
    fn of(p: &Person) -> Self {
        Self { id: p.id.clone(), email: p.email.clone(), display_name: p.display_name.clone() }
    }
}

/// The simulator's clock: real time plus an offset a test can move forward, so that meetings
/// can be scheduled "tomorrow" and then seen to have passed without waiting.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// The simulated "now".
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves simulated time forward (never back: Webex's clock does not go back either).
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

/// The personal-room name Webex derives from an address: the local part, lower-cased, with
/// only letters, digits, `.`, `_` and `-` kept.
fn room_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let kept: String = local.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
    if kept.is_empty() { "room".to_owned() } else { kept }
}

/// Standard base64 without padding, as Webex writes ids. Written out here because it is the
/// only base64 the Webex simulator needs.
fn base64_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// One API request in flight; dropping it frees the slot.
pub struct InFlight<'a> {
    core: &'a Core,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut n = self.core.inflight.lock();
        *n = n.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_without_padding() {
        assert_eq!(base64_no_pad(b""), "");
        assert_eq!(base64_no_pad(b"f"), "Zg");
        assert_eq!(base64_no_pad(b"fo"), "Zm8");
        assert_eq!(base64_no_pad(b"foo"), "Zm9v");
        assert_eq!(base64_no_pad(b"ciscospark://us/PEOPLE/"), "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8");
    }

    #[test]
    fn host_pins_are_never_runs_or_repeats() {
        let core = Core::new(WebexSimConfig::default());
        for _ in 0..2_000 {
            let pin = core.host_pin();
            assert_eq!(pin.len(), 4);
            assert!(!["1234", "4321", "1111", "2345", "9876"].contains(&pin.as_str()), "{pin}");
            let d: Vec<u8> = pin.bytes().collect();
            assert!(!d.windows(2).all(|w| w[0] == w[1]), "{pin}");
        }
    }

    #[test]
    fn room_names_keep_only_safe_characters() {
        assert_eq!(room_name("Alice.Adams@contoso.example"), "alice.adams");
        assert_eq!(room_name("o'brien+cal@x.example"), "obriencal");
        assert_eq!(room_name("@x.example"), "room");
    }
}
