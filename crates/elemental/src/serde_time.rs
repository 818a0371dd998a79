//! Serde helpers for time attributes: RFC 3339 with nanoseconds in JSON, the msgpack timestamp
//! extension (type -1) in msgpack, as Go's msgpack encoder writes `time.Time`; the zero time as
//! `null` (nil). Either form is read in either encoding.
//!
//! Generated models use `#[serde(with = "elemental::serde_time::option")]` on
//! `Option<OffsetDateTime>` fields, and `sparse` on the `Option<Option<OffsetDateTime>>` fields
//! of sparse forms (absent = not set, `null` = set to the zero time); events use `required`.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use time::format_description::well_known::Rfc3339;

use crate::timefmt::{format_rfc3339, is_representable};

/// Go's zero time, which the reference sends for unset times in some places.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The type of the msgpack timestamp extension.
const TIMESTAMP_EXT: i8 = -1;

/// Reads a time of a body: RFC 3339 only (as Go's `time.Time`), in years 0..=9999.
fn parse<E: serde::de::Error>(text: &str) -> Result<Option<OffsetDateTime>, E> {
    match text {
        "" | GO_ZERO_TIME => Ok(None),
        s => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .filter(is_representable)
            .map(Some)
            .ok_or_else(|| E::custom(format!("invalid time '{s}', expected RFC 3339"))),
    }
}

/// The payload of the msgpack timestamp extension: 4 bytes (seconds), 8 (30 bits of
/// nanoseconds, 34 of seconds) or 12 (nanoseconds, then signed seconds), the shortest that holds
/// the time.
pub fn msgpack_timestamp(t: &OffsetDateTime) -> Vec<u8> {
    let seconds = t.unix_timestamp();
    let nanos = t.nanosecond();
    if seconds >> 34 == 0 {
        let packed = (u64::from(nanos) << 34) | seconds as u64;
        if packed & 0xffff_ffff_0000_0000 == 0 {
            return (packed as u32).to_be_bytes().to_vec();
        }
        return packed.to_be_bytes().to_vec();
    }
    let mut out = nanos.to_be_bytes().to_vec();
    out.extend_from_slice(&seconds.to_be_bytes());
    out
}

/// The time of a msgpack timestamp extension payload; `None` when it is not one, or is out of
/// the years 0..=9999.
pub fn from_msgpack_timestamp(payload: &[u8]) -> Option<OffsetDateTime> {
    let (seconds, nanos) = match payload.len() {
        4 => (i64::from(u32::from_be_bytes(payload.try_into().ok()?)), 0),
        8 => {
            let packed = u64::from_be_bytes(payload.try_into().ok()?);
            ((packed & 0x3_ffff_ffff) as i64, (packed >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(payload[4..].try_into().ok()?),
            u32::from_be_bytes(payload[..4].try_into().ok()?),
        ),
        _ => return None,
    };
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()?
        .replace_nanosecond(nanos)
        .ok()
        .filter(is_representable)
}

/// The extension as rmp-serde reads and writes it: a newtype named `_ExtStruct` holding
/// `(type, bytes)`.
const EXT_STRUCT: &str = "_ExtStruct";

struct ExtBytes<'a>(&'a [u8]);

impl Serialize for ExtBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Writes a time: RFC 3339 text for human-readable formats (JSON), the timestamp extension
/// otherwise (msgpack).
fn write_time<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&format_rfc3339(t))
    } else {
        let payload = msgpack_timestamp(t);
        s.serialize_newtype_struct(EXT_STRUCT, &(TIMESTAMP_EXT, ExtBytes(&payload)))
    }
}

/// Reads an optional time from RFC 3339 text, the timestamp extension, or null.
struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Option<OffsetDateTime>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 time, a msgpack timestamp or null")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse(v)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(ExtVisitor)
    }
}

/// Reads the `(type, bytes)` of a msgpack extension as a time.
struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = Option<OffsetDateTime>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a msgpack timestamp extension")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let kind: i8 = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("an extension without a type"))?;
        let payload: crate::event::ByteBuf = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("an extension without data"))?;
        if kind != TIMESTAMP_EXT {
            return Err(A::Error::custom(format!(
                "msgpack extension {kind} is not a timestamp"
            )));
        }
        let time = from_msgpack_timestamp(&payload.0)
            .ok_or_else(|| A::Error::custom("invalid msgpack timestamp"))?;
        Ok((format_rfc3339(&time) != GO_ZERO_TIME).then_some(time))
    }
}

fn read_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    d.deserialize_any(TimeVisitor)
}

/// `Option<OffsetDateTime>`: an RFC 3339 string (JSON) or the timestamp extension (msgpack), or
/// `null`.
pub mod option {
    use super::*;

    /// Serializes `None` as `null`, a time as RFC 3339 with nanoseconds (JSON) or the timestamp
    /// extension (msgpack).
    pub fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => write_time(t, s),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`, an empty string or Go's zero time as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        read_time(d)
    }
}

/// `OffsetDateTime` that must be there (event timestamps), in the forms of [`option`].
pub mod required {
    use super::*;

    /// Serializes like [`super::option::serialize`].
    pub fn serialize<S: Serializer>(value: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        write_time(value, s)
    }

    /// Reads a time; `null` or the zero time is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        read_time(d)?.ok_or_else(|| serde::de::Error::custom("a time is required"))
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
        read_time(d).map(Some)
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
    fn msgpack_carries_the_timestamp_extension() {
        let t = T {
            date: Some(datetime!(2026-12-01 10:40:55.792244761 UTC)),
            list: vec![],
        };
        let bytes = rmp_serde::to_vec_named(&t).unwrap();
        // fixext8 (d7), type -1 (ff), then 30 bits of nanoseconds and 34 of seconds.
        let at = bytes.windows(2).position(|w| w == [0xd7, 0xff]).unwrap();
        let payload = u64::from_be_bytes(bytes[at + 2..at + 10].try_into().unwrap());
        assert_eq!(payload >> 34, 792_244_761);
        assert_eq!(payload & 0x3_ffff_ffff, 1_796_121_655);
        assert_eq!(rmp_serde::from_slice::<T>(&bytes).unwrap(), t);
        // The timestamp of an event Go bahamut sent (`d7 ff 41e3ed04 6b0ea44e`).
        let go = [0x41, 0xe3, 0xed, 0x04, 0x6b, 0x0e, 0xa4, 0x4e];
        assert_eq!(
            super::from_msgpack_timestamp(&go),
            Some(datetime!(2026-12-01 10:41:18.276364097 UTC))
        );
        // Whole seconds fit 4 bytes; years before 1970 or after 2514 need 12.
        assert_eq!(
            super::msgpack_timestamp(&datetime!(2020-01-01 0:00 UTC)).len(),
            4
        );
        let far = datetime!(1969-07-20 20:17:40.5 UTC);
        assert_eq!(super::msgpack_timestamp(&far).len(), 12);
        assert_eq!(
            super::from_msgpack_timestamp(&super::msgpack_timestamp(&far)),
            Some(far)
        );
        // An RFC 3339 string and nil are read from msgpack too.
        let text =
            rmp_serde::to_vec_named(&serde_json::json!({"date": "2020-01-02T03:04:05Z"})).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<T>(&text).unwrap().date,
            Some(datetime!(2020-01-02 3:04:05 UTC))
        );
        let nil = rmp_serde::to_vec_named(&serde_json::json!({"date": null})).unwrap();
        assert_eq!(rmp_serde::from_slice::<T>(&nil).unwrap().date, None);
        // JSON stays RFC 3339.
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"date":"2026-12-01T10:40:55.792244761Z","list":[]}"#
        );
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
