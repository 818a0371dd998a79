//! Serde helpers for time attributes: RFC 3339 with nanoseconds, the zero time as `null`.
//!
//! Generated models use `#[serde(with = "elemental::serde_time::option")]` on
//! `Option<OffsetDateTime>` fields, and `sparse` on the `Option<Option<OffsetDateTime>>` fields
//! of sparse forms (absent = not set, `null` = set to the zero time).

use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;

use time::format_description::well_known::Rfc3339;

use crate::timefmt::{format_rfc3339, is_representable};

/// Go's zero time, which the reference sends for unset times in some places.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Reads a time of a body: RFC 3339 only (as Go's `time.Time`), in years 0..=9999.
fn parse<E: serde::de::Error>(text: Option<String>) -> Result<Option<OffsetDateTime>, E> {
    match text.as_deref() {
        None | Some("") | Some(GO_ZERO_TIME) => Ok(None),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .filter(is_representable)
            .map(Some)
            .ok_or_else(|| E::custom(format!("invalid time '{s}', expected RFC 3339"))),
    }
}

/// `Option<OffsetDateTime>` as an RFC 3339 string or `null`.
pub mod option {
    use super::*;

    /// Serializes `None` as `null`, a time as RFC 3339 with nanoseconds.
    pub fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&format_rfc3339(t)),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`, an empty string or Go's zero time as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        parse(Option::<String>::deserialize(d)?)
    }
}

/// `Option<Option<OffsetDateTime>>` for sparse forms: use with `#[serde(default)]` and
/// `skip_serializing_if = "Option::is_none"`.
pub mod sparse {
    use super::*;

    /// Serializes the inner option like [`super::option`].
    pub fn serialize<S: Serializer>(
        value: &Option<Option<OffsetDateTime>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        super::option::serialize(&value.flatten(), s)
    }

    /// A present field (even `null`) is `Some`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
        parse(Option::<String>::deserialize(d)?).map(Some)
    }
}

/// Reads `null` as the type's default (lists, maps and strings sent as `null` by Go clients).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use time::OffsetDateTime;
    use time::macros::datetime;

    #[derive(Serialize, Deserialize, PartialEq, Debug, Default)]
    #[serde(default)]
    struct T {
        #[serde(with = "super::option")]
        date: Option<OffsetDateTime>,
        #[serde(deserialize_with = "super::null_as_default")]
        list: Vec<String>,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug, Default)]
    #[serde(default)]
    struct S {
        #[serde(with = "super::sparse", skip_serializing_if = "Option::is_none")]
        date: Option<Option<OffsetDateTime>>,
    }

    #[test]
    fn zero_time_is_null() {
        assert_eq!(
            serde_json::to_string(&T::default()).unwrap(),
            r#"{"date":null,"list":[]}"#
        );
        let t: T = serde_json::from_str(r#"{"date":"0001-01-01T00:00:00Z","list":null}"#).unwrap();
        assert_eq!(t, T::default());
        let t: T = serde_json::from_str(r#"{"date":"2020-01-02T03:04:05.123456789Z"}"#).unwrap();
        assert_eq!(t.date, Some(datetime!(2020-01-02 3:04:05.123456789 UTC)));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"date":"2020-01-02T03:04:05.123456789Z","list":[]}"#
        );
        assert!(serde_json::from_str::<T>(r#"{"date":"yesterday"}"#).is_err());
    }

    #[test]
    fn sparse_distinguishes_absent_and_null() {
        assert_eq!(serde_json::from_str::<S>("{}").unwrap().date, None);
        assert_eq!(
            serde_json::from_str::<S>(r#"{"date":null}"#).unwrap().date,
            Some(None)
        );
        assert_eq!(serde_json::to_string(&S::default()).unwrap(), "{}");
    }
}
