//! Time parsing and printing shared by filters, parameters and events.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Prints a time as RFC 3339 with as many fractional digits as needed (Go's `RFC3339Nano`).
///
/// Every time the parsers of this module accept prints and parses back; a time built in code
/// outside years 0..=9999 (which RFC 3339 cannot write) prints as the nearest representable
/// bound rather than as text that would not parse back.
pub fn format_rfc3339(t: &OffsetDateTime) -> String {
    let representable = if t.year() < 0 {
        time::macros::datetime!(0000-01-01 0:00 UTC)
    } else if t.year() > 9999 {
        time::macros::datetime!(9999-12-31 23:59:59.999999999 UTC)
    } else {
        *t
    };
    representable
        .format(&Rfc3339)
        .unwrap_or_else(|_| "0000-01-01T00:00:00Z".to_string())
}

/// True when the time is in the years RFC 3339 can write (0..=9999), in its own offset and
/// in UTC (where the SQL backends store it).
pub fn is_representable(t: &OffsetDateTime) -> bool {
    let in_range = |year: i32| (0..=9999).contains(&year);
    in_range(t.year())
        && t.checked_to_offset(time::UtcOffset::UTC)
            .is_some_and(|utc| in_range(utc.year()))
}

/// Parses the time forms filters accept in `date(...)`: RFC 3339, `YYYY-MM-DD HH:MM`
/// and `YYYY-MM-DD` (the last two in UTC). Years outside 0..=9999 are refused.
pub fn parse_filter_date(s: &str) -> Option<OffsetDateTime> {
    parse_filter_forms(s).filter(is_representable)
}

fn parse_filter_forms(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let date_time = format_description!("[year]-[month]-[day] [hour]:[minute]");
    if let Ok(t) = PrimitiveDateTime::parse(s, date_time) {
        return Some(t.assume_utc());
    }
    let date = format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// Parses the time forms `time` parameters accept: the filter forms, plus
/// `YYYY-MM-DDTHH:MM:SS` (UTC) and a Unix timestamp in seconds. Years outside 0..=9999 are
/// refused.
pub fn parse_any_time(s: &str) -> Option<OffsetDateTime> {
    if let Some(t) = parse_filter_forms(s) {
        return Some(t).filter(is_representable);
    }
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(s, iso) {
        return Some(t.assume_utc()).filter(is_representable);
    }
    s.parse::<i64>()
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .filter(is_representable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_filter_forms() {
        assert_eq!(
            parse_filter_date("2018-04-26 23:50"),
            Some(datetime!(2018-04-26 23:50 UTC))
        );
        assert_eq!(
            parse_filter_date("2018-04-26"),
            Some(datetime!(2018-04-26 0:00 UTC))
        );
        assert_eq!(
            parse_filter_date("2018-04-26T23:50:01.5+02:00"),
            Some(datetime!(2018-04-26 23:50:01.5 +2))
        );
        assert_eq!(parse_filter_date("yesterday"), None);
    }

    #[test]
    fn refuses_years_rfc3339_cannot_write() {
        assert_eq!(parse_filter_date("-0001-01-01"), None);
        assert_eq!(parse_filter_date("+10000-01-01"), None);
        assert_eq!(parse_filter_date("0000-01-01T00:30:00+01:00"), None);
        assert_eq!(parse_filter_date("9999-12-31T23:30:00-01:00"), None);
        assert_eq!(parse_any_time("-62167219201"), None);
        assert_eq!(
            parse_filter_date("0000-01-01"),
            Some(datetime!(0000-01-01 0:00 UTC))
        );
        let far = datetime!(-0001-06-01 0:00 UTC);
        assert_eq!(format_rfc3339(&far), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn prints_nanoseconds_only_when_needed() {
        assert_eq!(
            format_rfc3339(&datetime!(2018-04-26 23:50 UTC)),
            "2018-04-26T23:50:00Z"
        );
        assert_eq!(
            format_rfc3339(&datetime!(2018-04-26 23:50:00.000000123 UTC)),
            "2018-04-26T23:50:00.000000123Z"
        );
    }

    #[test]
    fn parses_parameter_forms() {
        assert_eq!(parse_any_time("0"), Some(OffsetDateTime::UNIX_EPOCH));
        assert_eq!(
            parse_any_time("2020-01-02T03:04:05"),
            Some(datetime!(2020-01-02 3:04:05 UTC))
        );
    }
}
