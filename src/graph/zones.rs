//! Time-zone names as Microsoft 365 writes them in `dateTimeTimeZone` values: Windows names
//! (`W. Europe Standard Time`, mapped to IANA zones as CLDR's `windowsZones` table does for
//! each name's primary territory) or IANA names.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Windows names Outlook and Exchange use, with their IANA zone (CLDR `windowsZones`, territory
/// `001`).
const WINDOWS: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("UTC-11", "Etc/GMT+11"),
    ("UTC-02", "Etc/GMT+2"),
    ("UTC+12", "Etc/GMT-12"),
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time", "America/New_York"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("US Eastern Standard Time", "America/Indianapolis"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Greenland Standard Time", "America/Godthab"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Katmandu"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Myanmar Standard Time", "Asia/Rangoon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
];

/// The zone a name stands for: a Windows name (any case) or an IANA name.
pub fn resolve(name: &str) -> Option<Tz> {
    let name = name.trim();
    let iana = WINDOWS.iter().find(|(w, _)| w.eq_ignore_ascii_case(name)).map_or(name, |(_, iana)| iana);
    iana.parse().ok()
}

/// A `dateTimeTimeZone` value as an instant: the local `dateTime` (with or without Graph's
/// seven fractional digits) in `timeZone`. A local time a clock change skips is read after
/// the change; one it repeats, as its first occurrence.
pub fn instant(date_time: &str, time_zone: &str) -> Option<DateTime<Utc>> {
    let zone = resolve(time_zone)?;
    let local = NaiveDateTime::parse_from_str(date_time.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest().map(|t| t.with_timezone(&Utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_names_resolve() {
        assert_eq!(resolve("W. Europe Standard Time"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(resolve("pacific standard time"), Some(chrono_tz::America::Los_Angeles));
        assert_eq!(resolve("Europe/Istanbul"), Some(chrono_tz::Europe::Istanbul));
        assert_eq!(resolve("UTC"), Some(chrono_tz::UTC));
        assert_eq!(resolve("Mars Standard Time"), None);
        for (windows, iana) in WINDOWS {
            assert!(iana.parse::<Tz>().is_ok(), "{windows} maps to an unknown zone {iana}");
        }
    }

    #[test]
    fn local_times_become_instants() {
        let t = instant("2026-12-02T09:00:00.0000000", "W. Europe Standard Time").unwrap();
        assert_eq!(t, "2026-12-02T08:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let t = instant("2026-07-01T09:00:00", "Pacific Standard Time").unwrap();
        assert_eq!(t, "2026-07-01T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        // 02:30 does not exist in Berlin on 2026-03-29: read after the change.
        let t = instant("2026-03-29T02:30:00", "Europe/Berlin").unwrap();
        assert_eq!(t, "2026-03-29T01:30:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(instant("yesterday", "UTC"), None);
        assert_eq!(instant("2026-12-02T09:00:00", "Nowhere"), None);
    }
}
