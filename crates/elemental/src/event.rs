//! Events: what the push channel sends when an object changes.
//!
//! JSON wire shape (keys sorted, as the reference's canonical encoder):
//! `{"encoding":"application/json","entity":{...},"identity":"list","timestamp":"<RFC 3339>","type":"create"}`.
//! In msgpack the entity is carried as raw msgpack bytes under `entity`, and the timestamp is
//! the msgpack timestamp extension (type -1), as Go bahamut sends it (an RFC 3339 string is read
//! too).

use std::fmt;

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::{EncodingType, Error, Identifiable};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An object was created.
    Create,
    /// An object was updated (also by a patch).
    Update,
    /// An object was deleted.
    Delete,
    /// An error for the session (its entity is an [`Error`]).
    Error,
}

impl EventType {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Create => "create",
            EventType::Update => "update",
            EventType::Delete => "delete",
            EventType::Error => "error",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The identity name of the entity (`list`).
    pub identity: String,
    /// What happened.
    pub event_type: EventType,
    /// The entity, encoded in `encoding` (shared, not copied, by clones: an automatic event
    /// holds the very bytes of the answer).
    pub entity: bytes::Bytes,
    /// The encoding of `entity`.
    pub encoding: EncodingType,
    /// When it happened.
    pub timestamp: OffsetDateTime,
    /// Its number in the push stream of the server cluster, increasing; 0 until the push
    /// server numbers it (and then left out of the wire form). Beyond the reference: a session
    /// resumes with `since=<sequence>`.
    pub sequence: u64,
}

impl Event {
    /// An event about `entity` of the given identity, encoded in `encoding`, stamped now.
    pub fn new<T: Serialize + ?Sized>(
        event_type: EventType,
        identity: &str,
        entity: &T,
        encoding: EncodingType,
    ) -> Result<Self, Error> {
        Ok(Self {
            identity: identity.to_string(),
            event_type,
            entity: crate::encode(encoding, entity)?.into(),
            encoding,
            timestamp: OffsetDateTime::now_utc(),
            sequence: 0,
        })
    }

    /// An event about an entity already encoded in `encoding` (such as the answer that
    /// carries it), stamped now.
    pub fn from_encoded(
        event_type: EventType,
        identity: &str,
        entity: impl Into<bytes::Bytes>,
        encoding: EncodingType,
    ) -> Self {
        Self {
            identity: identity.to_string(),
            event_type,
            entity: entity.into(),
            encoding,
            timestamp: OffsetDateTime::now_utc(),
            sequence: 0,
        }
    }

    /// An event about a model object.
    pub fn from_identifiable(
        event_type: EventType,
        object: &dyn Identifiable,
        encoding: EncodingType,
    ) -> Result<Self, Error> {
        Ok(Self {
            identity: object.identity().name.to_string(),
            event_type,
            entity: object.encode(encoding)?.into(),
            encoding,
            timestamp: OffsetDateTime::now_utc(),
            sequence: 0,
        })
    }

    /// An error event carrying `error` as its entity.
    pub fn error(error: &Error, encoding: EncodingType) -> Result<Self, Error> {
        Self::new(EventType::Error, "", error, encoding)
    }

    /// Decodes the entity.
    pub fn decode_entity<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::decode(self.encoding, &self.entity)
    }

    /// Encodes the event for the wire in `wire` encoding (the entity is converted if needed).
    pub fn encode(&self, wire: EncodingType) -> Result<Vec<u8>, Error> {
        let entity = crate::convert(self.encoding, wire, &self.entity)?;
        let timestamp = self.timestamp;
        match wire {
            EncodingType::Json => {
                let text = String::from_utf8(entity)
                    .map_err(|e| Error::bad_request(format!("invalid JSON entity: {e}")))?;
                let entity = serde_json::value::RawValue::from_string(text)
                    .map_err(|e| Error::bad_request(format!("invalid JSON entity: {e}")))?;
                crate::encode(
                    wire,
                    &WireEvent {
                        encoding: wire.as_str(),
                        entity: &*entity,
                        identity: &self.identity,
                        sequence: self.sequence,
                        timestamp,
                        event_type: self.event_type,
                    },
                )
            }
            EncodingType::Msgpack => crate::encode(
                wire,
                &WireEvent {
                    encoding: wire.as_str(),
                    entity: Bytes(&entity),
                    identity: &self.identity,
                    sequence: self.sequence,
                    timestamp,
                    event_type: self.event_type,
                },
            ),
        }
    }

    /// Decodes an event from the wire.
    pub fn decode(wire: EncodingType, data: &[u8]) -> Result<Event, Error> {
        let (entity, identity, timestamp, event_type, sequence) = match wire {
            EncodingType::Json => {
                let e: WireEventOwned<Box<serde_json::value::RawValue>> =
                    crate::decode(wire, data)?;
                (
                    e.entity.get().as_bytes().to_vec(),
                    e.identity,
                    e.timestamp,
                    e.event_type,
                    e.sequence,
                )
            }
            EncodingType::Msgpack => {
                let e: WireEventOwned<ByteBuf> = crate::decode(wire, data)?;
                (
                    e.entity.0,
                    e.identity,
                    e.timestamp,
                    e.event_type,
                    e.sequence,
                )
            }
        };
        Ok(Event {
            identity,
            event_type,
            entity: entity.into(),
            encoding: wire,
            timestamp,
            sequence,
        })
    }
}

#[derive(Serialize)]
struct WireEvent<'a, E: Serialize> {
    encoding: &'a str,
    entity: E,
    identity: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    sequence: u64,
    #[serde(with = "crate::serde_time::required")]
    timestamp: OffsetDateTime,
    #[serde(rename = "type")]
    event_type: EventType,
}

#[derive(Deserialize)]
struct WireEventOwned<E> {
    entity: E,
    #[serde(default)]
    identity: String,
    #[serde(default)]
    sequence: u64,
    #[serde(with = "crate::serde_time::required")]
    timestamp: OffsetDateTime,
    #[serde(rename = "type")]
    event_type: EventType,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Bytes serialized as msgpack `bin`.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Bytes read from msgpack `bin` (or an array of integers).
pub(crate) struct ByteBuf(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> Event {
        Event {
            identity: "list".into(),
            event_type: EventType::Create,
            entity: bytes::Bytes::from_static(br#"{"ID":"x","name":"a"}"#),
            encoding: EncodingType::Json,
            timestamp: datetime!(2026-11-24 01:41:33.5 UTC),
            sequence: 0,
        }
    }

    #[test]
    fn sequence_is_on_the_wire_once_numbered() {
        let mut event = sample();
        event.sequence = 42;
        let bytes = event.encode(EncodingType::Json).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"encoding":"application/json","entity":{"ID":"x","name":"a"},"identity":"list","sequence":42,"timestamp":"2026-11-24T01:41:33.5Z","type":"create"}"#
        );
        assert_eq!(
            Event::decode(EncodingType::Json, &bytes).unwrap().sequence,
            42
        );
        let packed = event.encode(EncodingType::Msgpack).unwrap();
        assert_eq!(
            Event::decode(EncodingType::Msgpack, &packed)
                .unwrap()
                .sequence,
            42
        );
    }

    #[test]
    fn json_wire_shape() {
        let bytes = sample().encode(EncodingType::Json).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"encoding":"application/json","entity":{"ID":"x","name":"a"},"identity":"list","timestamp":"2026-11-24T01:41:33.5Z","type":"create"}"#
        );
    }

    #[test]
    fn msgpack_round_trip_carries_raw_entity() {
        let bytes = sample().encode(EncodingType::Msgpack).unwrap();
        let back = Event::decode(EncodingType::Msgpack, &bytes).unwrap();
        assert_eq!(back.encoding, EncodingType::Msgpack);
        assert_eq!(back.event_type, EventType::Create);
        let entity: serde_json::Value = back.decode_entity().unwrap();
        assert_eq!(entity, serde_json::json!({"ID": "x", "name": "a"}));
        assert_eq!(back.timestamp, sample().timestamp);
    }

    #[test]
    fn json_round_trip() {
        let bytes = sample().encode(EncodingType::Json).unwrap();
        assert_eq!(Event::decode(EncodingType::Json, &bytes).unwrap(), sample());
    }

    #[test]
    fn error_event() {
        let e = Error::new("Bad request", "boom", "bahamut", 400);
        let event = Event::error(&e, EncodingType::Json).unwrap();
        assert_eq!(event.event_type, EventType::Error);
        assert_eq!(event.decode_entity::<Error>().unwrap(), e);
    }
}
