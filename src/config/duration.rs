//! The one way durations are written in hcal's configuration: a number with its unit, such as
//! `"500ms"`, `"30s"`, `"10m"`, `"2h"`, `"7d"`, or several of them (`"1h 30m"`). A bare number
//! is refused, so nobody has to guess whether `timeout = 30` meant seconds or minutes. Every
//! duration field uses this module: `#[serde(with = "crate::config::duration")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration the way it is read (`humantime`'s form, e.g. `"6days 22h 40m"`).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// Reads a duration with its unit.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Number(f64),
    }
    match Written::deserialize(d)? {
        Written::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        Written::Number(n) => Err(serde::de::Error::custom(format!(
            "write durations with their unit, e.g. \"{n}s\" or \"{n}m\" (units: ms, s, m, h, d)"
        ))),
    }
}

/// Parses `"30s"`, `"10m"`, `"1h 30m"`, …
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write e.g. \"500ms\", \"30s\", \"10m\", \"2h\", \"7d\"")
    })
}

/// A `chrono` duration from a configured one (the domain counts time in `chrono`).
pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, serde::Serialize, PartialEq)]
    struct Holder {
        #[serde(with = "super")]
        d: Duration,
    }

    fn read(text: &str) -> Result<Duration, String> {
        toml::from_str::<Holder>(text).map(|h| h.d).map_err(|e| e.to_string())
    }

    #[test]
    fn durations_carry_their_unit() {
        assert_eq!(read("d = \"500ms\""), Ok(Duration::from_millis(500)));
        assert_eq!(read("d = \"30s\""), Ok(Duration::from_secs(30)));
        assert_eq!(read("d = \"10m\""), Ok(Duration::from_secs(600)));
        assert_eq!(read("d = \"1h 30m\""), Ok(Duration::from_secs(5400)));
        assert_eq!(read("d = \"7d\""), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn bare_numbers_and_nonsense_are_refused_with_the_way_to_write_them() {
        let bare = read("d = 30").unwrap_err();
        assert!(bare.contains("\"30s\"") && bare.contains("units"), "{bare}");
        let nonsense = read("d = \"soon\"").unwrap_err();
        assert!(nonsense.contains("\"soon\" is not a duration"), "{nonsense}");
    }

    #[test]
    fn what_is_written_reads_back() {
        let h = Holder { d: Duration::from_secs(10_000 * 60) };
        let text = toml::to_string(&h).unwrap();
        assert_eq!(toml::from_str::<Holder>(&text).unwrap(), h);
    }
}
