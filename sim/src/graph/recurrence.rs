//! Graph's `patternedRecurrence`: its wire format, the checks Graph makes before accepting one,
//! and its expansion into occurrence dates the way Outlook does it.

use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The date Graph writes for an unset date.
const UNSET: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// Defines a wire enum whose variants are documented by, emitted as and parsed (ignoring ASCII
/// case) from their camelCase names; the first variant is the default, as in Graph's .NET model.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $first:ident = $first_wire:literal, $($variant:ident = $wire:literal,)* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            #[default]
            #[doc = concat!("`", $first_wire, "`")]
            $first,
            $(#[doc = concat!("`", $wire, "`")] $variant,)*
        }

        impl $name {
            /// The name Graph uses on the wire.
            pub fn as_str(self) -> &'static str {
                match self { Self::$first => $first_wire, $(Self::$variant => $wire,)* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                [Self::$first, $(Self::$variant,)*]
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| format!("unknown {} '{s}'", stringify!($name)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let names = &[$first_wire, $($wire,)*];
                s.parse().map_err(|_| serde::de::Error::unknown_variant(&s, names))
            }
        }
    };
}

wire_enum! {
    /// `recurrencePatternType`. `daily`: every `interval` days; `weekly`: every `interval` weeks
    /// on `daysOfWeek`; `absoluteMonthly`: day `dayOfMonth` every `interval` months (months
    /// without it are skipped); `relativeMonthly`: the `index`-th of the `daysOfWeek` days every
    /// `interval` months; `absoluteYearly` and `relativeYearly`: likewise in `month`.
    PatternType {
        Daily = "daily", Weekly = "weekly", AbsoluteMonthly = "absoluteMonthly",
        RelativeMonthly = "relativeMonthly", AbsoluteYearly = "absoluteYearly",
        RelativeYearly = "relativeYearly",
    }
}

wire_enum! {
    /// `dayOfWeek`.
    DayOfWeek {
        Sunday = "sunday", Monday = "monday", Tuesday = "tuesday", Wednesday = "wednesday",
        Thursday = "thursday", Friday = "friday", Saturday = "saturday",
    }
}

wire_enum! {
    /// `weekIndex`: which of the matching days of a month.
    WeekIndex {
        First = "first", Second = "second", Third = "third", Fourth = "fourth", Last = "last",
    }
}

wire_enum! {
    /// `recurrenceRangeType`: up to `endDate` inclusive, without end, or `numberOfOccurrences`.
    RangeType { EndDate = "endDate", NoEnd = "noEnd", Numbered = "numbered", }
}

impl DayOfWeek {
    /// The same day as chrono's `Weekday`.
    pub fn to_chrono(self) -> Weekday {
        match self {
            Self::Sunday => Weekday::Sun,
            Self::Monday => Weekday::Mon,
            Self::Tuesday => Weekday::Tue,
            Self::Wednesday => Weekday::Wed,
            Self::Thursday => Weekday::Thu,
            Self::Friday => Weekday::Fri,
            Self::Saturday => Weekday::Sat,
        }
    }
}

/// `patternedRecurrence`: how often a series repeats and for how long.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PatternedRecurrence {
    /// `pattern`.
    pub pattern: RecurrencePattern,
    /// `range`.
    pub range: RecurrenceRange,
}

/// `recurrencePattern`. Fields a pattern type does not use are 0 or their defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecurrencePattern {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: PatternType,
    /// `interval`: days, weeks, months or years from one period to the next; at least 1.
    #[serde(deserialize_with = "nullable")]
    pub interval: u32,
    /// `month` (1-12) of yearly patterns.
    #[serde(deserialize_with = "nullable")]
    pub month: u32,
    /// `dayOfMonth` (1-31) of absolute patterns.
    #[serde(deserialize_with = "nullable")]
    pub day_of_month: u32,
    /// `daysOfWeek` of weekly and relative patterns.
    #[serde(deserialize_with = "nullable")]
    pub days_of_week: Vec<DayOfWeek>,
    /// `firstDayOfWeek`: where the weeks of weekly patterns start.
    #[serde(deserialize_with = "nullable")]
    pub first_day_of_week: DayOfWeek,
    /// `index` of relative patterns.
    #[serde(deserialize_with = "nullable")]
    pub index: WeekIndex,
}

/// `recurrenceRange`: when a series starts and ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecurrenceRange {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// `startDate`: no occurrence falls before it; `0001-01-01` when unset.
    pub start_date: NaiveDate,
    /// `endDate`, the last possible date of `endDate` ranges; `0001-01-01` on the wire if `None`.
    #[serde(serialize_with = "ser_end_date", deserialize_with = "de_end_date")]
    pub end_date: Option<NaiveDate>,
    /// `recurrenceTimeZone`.
    pub recurrence_time_zone: Option<String>,
    /// `numberOfOccurrences` of numbered ranges.
    #[serde(deserialize_with = "nullable")]
    pub number_of_occurrences: u32,
}

impl Default for RecurrenceRange {
    fn default() -> Self {
        Self {
            kind: RangeType::default(),
            start_date: UNSET,
            end_date: None,
            recurrence_time_zone: None,
            number_of_occurrences: 0,
        }
    }
}

/// Reads `null` as the default value.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Writes `None` as `0001-01-01`.
fn ser_end_date<S: Serializer>(date: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    date.unwrap_or(UNSET).serialize(s)
}

/// Reads `0001-01-01` and `null` as `None`.
fn de_end_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(Option::<NaiveDate>::deserialize(d)?.filter(|date| *date != UNSET))
}

/// Checks a recurrence the way Graph does before accepting it; Err carries a Graph-style message.
pub fn validate(rec: &PatternedRecurrence) -> Result<(), String> {
    use PatternType as P;
    let (p, r) = (&rec.pattern, &rec.range);
    let yearly = matches!(p.kind, P::AbsoluteYearly | P::RelativeYearly);
    let absolute = matches!(p.kind, P::AbsoluteMonthly | P::AbsoluteYearly);
    let relative = matches!(p.kind, P::RelativeMonthly | P::RelativeYearly);
    let no_days = p.days_of_week.is_empty();
    let end_date = r.kind == RangeType::EndDate;
    // A leap year, so that February 29 exists.
    let no_such_day = NaiveDate::from_ymd_opt(2000, p.month, p.day_of_month).is_none();
    let message = if p.interval < 1 {
        "Recurrence pattern interval must be at least 1."
    } else if p.kind == P::Weekly && no_days {
        "The days of week must be set for a weekly recurrence."
    } else if relative && no_days {
        "The days of week must be set for a relative recurrence."
    } else if absolute && !(1..=31).contains(&p.day_of_month) {
        "The day of month must be between 1 and 31."
    } else if yearly && !(1..=12).contains(&p.month) {
        "The month must be between 1 and 12."
    } else if absolute && yearly && no_such_day {
        "The day of month does not exist in the month."
    } else if r.start_date == UNSET {
        "The start date must be set."
    } else if end_date && r.end_date.is_none() {
        "The end date must be set for an endDate range."
    } else if end_date && r.end_date.is_some_and(|end| end < r.start_date) {
        "The end date must not be before the start date."
    } else if r.kind == RangeType::Numbered && r.number_of_occurrences == 0 {
        "Numbered recurrence must have numberOfOccurrences greater than 0."
    } else {
        return Ok(());
    };
    Err(message.to_owned())
}

/// A valid series cut into periods of `interval` days, weeks, months or years; period 0 holds
/// the start date.
struct Periods<'a> {
    pattern: &'a RecurrencePattern,
    start: NaiveDate,
    /// The first day of period 0.
    base: NaiveDate,
    /// The pattern's days, distinct, in week order from `firstDayOfWeek`.
    days: Vec<Weekday>,
}

impl<'a> Periods<'a> {
    /// The periods of a valid series.
    fn new(rec: &'a PatternedRecurrence) -> Option<Self> {
        validate(rec).ok()?;
        let (pattern, start) = (&rec.pattern, rec.range.start_date);
        let fdow = pattern.first_day_of_week.to_chrono();
        let mut days: Vec<Weekday> = pattern.days_of_week.iter().map(|d| d.to_chrono()).collect();
        days.sort_by_key(|d| d.days_since(fdow));
        days.dedup();
        let back = match pattern.kind {
            PatternType::Daily => 0,
            PatternType::Weekly => start.weekday().days_since(fdow),
            PatternType::AbsoluteMonthly | PatternType::RelativeMonthly => start.day0(),
            _ => start.ordinal0(),
        };
        let base = start.checked_sub_days(Days::new(back.into()))?;
        Some(Self { pattern, start, base, days })
    }

    /// The length of a period: whether it counts months (or else days), and how many.
    fn step(&self) -> (bool, u64) {
        let (months, n) = match self.pattern.kind {
            PatternType::Daily => (false, 1),
            PatternType::Weekly => (false, 7),
            PatternType::AbsoluteMonthly | PatternType::RelativeMonthly => (true, 1),
            _ => (true, 12),
        };
        (months, n * u64::from(self.pattern.interval))
    }

    /// The period holding `date`; negative before the series.
    fn period_of(&self, date: NaiveDate) -> i64 {
        let month_number = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
        let (months, n) = self.step();
        let units = if months { month_number(date) - month_number(self.base) } else { (date - self.base).num_days() };
        units.div_euclid(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// The first day of period `p`; `None` past chrono's range.
    fn first_day(&self, p: u64) -> Option<NaiveDate> {
        let (months, n) = self.step();
        let units = p.checked_mul(n)?;
        if months {
            self.base.checked_add_months(Months::new(u32::try_from(units).ok()?))
        } else {
            self.base.checked_add_days(Days::new(units))
        }
    }

    /// The `index`-th day of a month whose weekday is one of the pattern's days.
    fn relative_day(&self, year: i32, month: u32) -> Option<NaiveDate> {
        let mut matching = (1..=31)
            .map_while(|d| NaiveDate::from_ymd_opt(year, month, d))
            .filter(|d| self.days.contains(&d.weekday()));
        match self.pattern.index {
            WeekIndex::First => matching.next(),
            WeekIndex::Second => matching.nth(1),
            WeekIndex::Third => matching.nth(2),
            WeekIndex::Fourth => matching.nth(3),
            WeekIndex::Last => matching.last(),
        }
    }

    /// The occurrences of the period starting on `first`, ascending, none before the start.
    fn dates(&self, first: NaiveDate) -> Vec<NaiveDate> {
        let p = self.pattern;
        let (year, month) = match p.kind {
            PatternType::AbsoluteYearly | PatternType::RelativeYearly => (first.year(), p.month),
            _ => (first.year(), first.month()),
        };
        let mut dates: Vec<NaiveDate> = match p.kind {
            PatternType::Daily => vec![first],
            PatternType::Weekly => {
                let fdow = p.first_day_of_week.to_chrono();
                let offsets = self.days.iter().map(|d| Days::new(d.days_since(fdow).into()));
                offsets.filter_map(|o| first.checked_add_days(o)).collect()
            }
            PatternType::AbsoluteMonthly | PatternType::AbsoluteYearly => {
                NaiveDate::from_ymd_opt(year, month, p.day_of_month).into_iter().collect()
            }
            _ => self.relative_day(year, month).into_iter().collect(),
        };
        dates.retain(|d| *d >= self.start);
        dates
    }

    /// The number of occurrences of every period but the first, if it is the same for all.
    fn per_period(&self) -> Option<u64> {
        let p = self.pattern;
        match p.kind {
            PatternType::Weekly => u64::try_from(self.days.len()).ok(),
            PatternType::AbsoluteMonthly if p.day_of_month > 28 => None,
            PatternType::AbsoluteYearly if p.month == 2 && p.day_of_month == 29 => None,
            _ => Some(1),
        }
    }
}

/// All occurrence dates d of the series with from <= d <= to (inclusive), in ascending order,
/// honouring the range (numbered ranges count from the series start, not from `from`),
/// and at most `limit` dates. Invalid series have none.
pub fn occurrence_dates(rec: &PatternedRecurrence, from: NaiveDate, to: NaiveDate, limit: usize) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let Some(periods) = Periods::new(rec).filter(|_| from <= to && limit > 0) else {
        return out;
    };
    let range = &rec.range;
    let numbered = range.kind == RangeType::Numbered;
    let last = match (range.kind, range.end_date) {
        (RangeType::EndDate, Some(end)) => end.min(to),
        _ => to,
    };
    let max_count = if numbered { u64::from(range.number_of_occurrences) } else { u64::MAX };
    // Skip the periods before `from`; a numbered range only if it can count what it skips.
    let skip = u64::try_from(periods.period_of(from)).unwrap_or(0);
    let skipped = match (skip, numbered, periods.per_period(), periods.first_day(0)) {
        (0, ..) => None,
        (_, false, ..) => Some(0),
        (_, true, Some(n), Some(first)) => {
            let in_first = u64::try_from(periods.dates(first).len()).unwrap_or(0);
            Some(n.saturating_mul(skip - 1).saturating_add(in_first))
        }
        _ => None,
    };
    let (mut p, mut count) = skipped.map_or((0, 0), |count| (skip, count));
    while count < max_count {
        let Some(first) = periods.first_day(p).filter(|d| *d <= last) else {
            break;
        };
        for date in periods.dates(first).into_iter().take_while(|d| *d <= last) {
            if count >= max_count {
                break;
            }
            count += 1;
            if date >= from {
                out.push(date);
                if out.len() >= limit {
                    return out;
                }
            }
        }
        p += 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn year(y: i32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, 1, 1).expect("test date")
    }

    /// A recurrence from the bodies of its pattern and range JSON objects, written with ' for ".
    fn rec(pattern: &str, range: &str) -> PatternedRecurrence {
        let json = format!("{{'pattern':{{{pattern}}},'range':{{{range}}}}}").replace('\'', "\"");
        serde_json::from_str(&json).expect("test recurrence")
    }

    /// The occurrences from `from` to `to`, space-separated.
    fn window(r: &PatternedRecurrence, from: &str, to: &str) -> String {
        let dates = occurrence_dates(r, d(from), d(to), 1000);
        dates.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" ")
    }

    /// All the occurrences of a series that ends before 2300.
    fn all(r: &PatternedRecurrence) -> String {
        window(r, "1900-01-01", "2299-12-31")
    }

    const MON_WED: &str = "'type':'weekly','interval':1,'daysOfWeek':['monday','wednesday']";

    #[test]
    fn weekly_mon_wed_until_end_date() {
        let range = "'type':'endDate','startDate':'2026-05-06','endDate':'2026-05-18'";
        let r = rec(MON_WED, range);
        assert_eq!(all(&r), "2026-05-06 2026-05-11 2026-05-13 2026-05-18");
    }

    #[test]
    fn weekly_interval_two_depends_on_first_day_of_week() {
        let pattern = "'type':'weekly','interval':2,'daysOfWeek':['monday','sunday']";
        let range = "'type':'endDate','startDate':'2026-05-04','endDate':'2026-05-24'";
        let mut r = rec(pattern, range);
        // Weeks from Sunday: 3 May is before the start, 10 May in a skipped week.
        assert_eq!(all(&r), "2026-05-04 2026-05-17 2026-05-18");
        // Weeks from Monday: 10 May is in the first week.
        r.pattern.first_day_of_week = DayOfWeek::Monday;
        assert_eq!(all(&r), "2026-05-04 2026-05-10 2026-05-18 2026-05-24");
    }

    #[test]
    fn daily_numbered_five() {
        let range = "'type':'numbered','startDate':'2026-02-25','numberOfOccurrences':5";
        let r = rec("'type':'daily','interval':3", range);
        let want = "2026-02-25 2026-02-28 2026-03-03 2026-03-06 2026-03-09";
        assert_eq!(all(&r), want);
    }

    #[test]
    fn absolute_monthly_31st_skips_short_months() {
        let range = "'type':'numbered','startDate':'2026-01-15','numberOfOccurrences':4";
        let pattern = "'type':'absoluteMonthly','interval':1,'dayOfMonth':31";
        let r = rec(pattern, range);
        assert_eq!(all(&r), "2026-01-31 2026-03-31 2026-05-31 2026-07-31");
    }

    #[test]
    fn relative_monthly_last_friday_and_second_tuesday() {
        let pattern = "'type':'relativeMonthly','interval':1,'index':'last'";
        let range = "'type':'endDate','startDate':'2026-01-01','endDate':'2026-04-30'";
        let mut r = rec(pattern, range);
        r.pattern.days_of_week = vec![DayOfWeek::Friday];
        assert_eq!(all(&r), "2026-01-30 2026-02-27 2026-03-27 2026-04-24");
        r.pattern.days_of_week = vec![DayOfWeek::Tuesday];
        (r.pattern.index, r.pattern.interval) = (WeekIndex::Second, 2);
        assert_eq!(all(&r), "2026-01-13 2026-03-10");
        // Several days: the second of all Saturdays and Sundays.
        r.pattern.days_of_week = vec![DayOfWeek::Saturday, DayOfWeek::Sunday];
        assert_eq!(all(&r), "2026-01-04 2026-03-07");
    }

    #[test]
    fn absolute_yearly_feb_29_only_in_leap_years() {
        let range = "'type':'numbered','startDate':'2025-01-01','numberOfOccurrences':3";
        let pattern = "'type':'absoluteYearly','interval':1,'month':2,'dayOfMonth':29";
        let r = rec(pattern, range);
        assert_eq!(all(&r), "2028-02-29 2032-02-29 2036-02-29");
    }

    #[test]
    fn relative_yearly() {
        let pattern = "'type':'relativeYearly','interval':1,'month':11,'index':'fourth'";
        let range = "'type':'numbered','startDate':'2026-11-27','numberOfOccurrences':2";
        let mut r = rec(pattern, range);
        r.pattern.days_of_week = vec![DayOfWeek::Thursday];
        assert_eq!(all(&r), "2027-11-25 2028-11-23");
    }

    #[test]
    fn window_clips_and_numbered_counts_from_series_start() {
        // The series: 4, 6, 11, 13, 18 and 20 May.
        let range = "'type':'numbered','startDate':'2026-05-04','numberOfOccurrences':6";
        let r = rec(MON_WED, range);
        let got = window(&r, "2026-05-12", "2026-05-19");
        assert_eq!(got, "2026-05-13 2026-05-18");
        assert_eq!(window(&r, "2026-05-19", "2026-12-31"), "2026-05-20");
        assert_eq!(window(&r, "2026-05-21", "2026-12-31"), "");
        let two = occurrence_dates(&r, d("2026-05-01"), d("2026-05-31"), 2);
        assert_eq!(two, [d("2026-05-04"), d("2026-05-06")]);
        // Months without the 30th are counted one by one rather than skipped over.
        let range = "'type':'numbered','startDate':'2026-01-01','numberOfOccurrences':3";
        let m = rec("'type':'absoluteMonthly','interval':1,'dayOfMonth':30", range);
        let got = window(&m, "2026-03-15", "2026-12-31");
        assert_eq!(got, "2026-03-30 2026-04-30");
    }

    #[test]
    fn no_end_far_window_is_bounded_by_limit() {
        let range = "'type':'noEnd','startDate':'2026-01-01'";
        let mut r = rec("'type':'daily','interval':1", range);
        let got = occurrence_dates(&r, d("2026-01-01"), d("2100-12-31"), 10_000);
        assert_eq!((got.len(), got.last()), (10_000, Some(&d("2053-05-18"))));
        let far = occurrence_dates(&r, year(262_000), NaiveDate::MAX, 10);
        assert_eq!(far.first(), Some(&year(262_000)));
        (r.range.kind, r.range.number_of_occurrences) = (RangeType::Numbered, u32::MAX);
        let far = occurrence_dates(&r, year(262_000), NaiveDate::MAX, 10);
        assert_eq!(far.first(), Some(&year(262_000)));
        let range = "'type':'numbered','startDate':'2026-01-01','numberOfOccurrences':4000000000";
        let pattern = "'type':'absoluteYearly','interval':1,'month':2,'dayOfMonth':29";
        let leap = rec(pattern, range);
        let far = occurrence_dates(&leap, year(200_000), NaiveDate::MAX, 5);
        assert_eq!(far.first(), Some(&d("+200000-02-29")));
        r.pattern.interval = 0;
        assert!(occurrence_dates(&r, NaiveDate::MIN, NaiveDate::MAX, 10).is_empty());
    }

    #[test]
    fn validate_errors() {
        let range = "'type':'endDate','startDate':'2026-05-04','endDate':'2026-06-30'";
        let ok = rec(MON_WED, range);
        assert_eq!(validate(&ok), Ok(()));
        let check = |edit: fn(&mut PatternedRecurrence), message: &str| {
            let mut r = ok.clone();
            edit(&mut r);
            assert_eq!(validate(&r), Err(message.to_owned()));
        };
        let interval = "Recurrence pattern interval must be at least 1.";
        check(|r| r.pattern.interval = 0, interval);
        let no_days = "The days of week must be set for a weekly recurrence.";
        check(|r| r.pattern.days_of_week.clear(), no_days);
        let early = "The end date must not be before the start date.";
        check(|r| r.range.end_date = Some(d("2026-05-01")), early);
        let no_end = "The end date must be set for an endDate range.";
        check(|r| r.range.end_date = None, no_end);
        check(|r| r.range.start_date = UNSET, "The start date must be set.");
        let none = "Numbered recurrence must have numberOfOccurrences greater than 0.";
        check(|r| r.range.kind = RangeType::Numbered, none);
        let day = "The day of month must be between 1 and 31.";
        check(|r| r.pattern.kind = PatternType::AbsoluteMonthly, day);
        let month = "The month must be between 1 and 12.";
        check(|r| r.pattern.kind = PatternType::RelativeYearly, month);
        let feb_30 = |r: &mut PatternedRecurrence| {
            r.pattern.kind = PatternType::AbsoluteYearly;
            (r.pattern.month, r.pattern.day_of_month) = (2, 30);
        };
        check(feb_30, "The day of month does not exist in the month.");
    }

    #[test]
    fn json_round_trip() {
        let wire = serde_json::json!({
            "pattern": {"type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0,
                "daysOfWeek": ["monday", "wednesday"], "firstDayOfWeek": "sunday",
                "index": "first"},
            "range": {"type": "noEnd", "startDate": "2026-05-04", "endDate": "0001-01-01",
                "recurrenceTimeZone": "UTC", "numberOfOccurrences": 0}
        });
        let r: PatternedRecurrence = serde_json::from_value(wire.clone()).expect("parse");
        assert_eq!(r.range.end_date, None);
        assert_eq!(serde_json::to_value(&r).expect("serialise"), wire);
        // Other spellings, and missing and null fields.
        let days = "'daysOfWeek':['Monday','WEDNESDAY'],'index':null";
        let pattern = format!("'type':'Weekly','interval':1,{days}");
        let range = "'type':'NoEnd','startDate':'2026-05-04','recurrenceTimeZone':'UTC'";
        assert_eq!(rec(&pattern, range), r);
        let hourly = r#"{"pattern":{"type":"hourly"}}"#;
        assert!(serde_json::from_str::<PatternedRecurrence>(hourly).is_err());
        let empty = rec("", "");
        assert_eq!((empty.range.start_date, empty.pattern.interval), (UNSET, 0));
        assert!(validate(&empty).is_err());
    }
}
