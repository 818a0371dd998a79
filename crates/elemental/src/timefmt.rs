//! Time parsing and printing shared by filters, parameters and events.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Prints a time as RFC 3339 with as many fractional digits as needed (Go's `RFC3339Nano`).
pub fn format_rfc3339(t: &OffsetDateTime) -> String {
    // Formatting a valid OffsetDateTime as RFC 3339 only fails for years outside 0..=9999.
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses the time forms filters accept in `date(...)`: RFC 3339, `YYYY-MM-DD HH:MM`
/// and `YYYY-MM-DD` (the last two in UTC).
pub fn parse_filter_date(s: &str) -> Option<OffsetDateTime> {
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
/// `YYYY-MM-DDTHH:MM:SS` (UTC) and a Unix timestamp in seconds.
pub fn parse_any_time(s: &str) -> Option<OffsetDateTime> {
    if let Some(t) = parse_filter_date(s) {
        return Some(t);
    }
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(s, iso) {
        return Some(t.assume_utc());
    }
    s.parse::<i64>()
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
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
