//! The memory budget of a request body: how many values (strings, numbers, lists, maps, ...) a
//! body may hold for its size.
//!
//! Decoding a body into a model costs memory per value, not per byte: `["a","a",...]` is 4 bytes
//! a value on the wire and about 200 bytes a value once decoded and carried through a write. A
//! body may therefore hold at most [`BASE_VALUES`] values plus one per [`BYTES_PER_VALUE`] bytes,
//! which keeps the extra memory of a request near 4 times its size plus a constant, whatever its
//! shape. The count is a scan that allocates nothing and stops at the first value past the
//! budget.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{EncodingType, Error};

/// Values every body may hold, whatever its size.
pub const BASE_VALUES: u64 = 16_384;

/// Bytes of body that pay for one more value.
pub const BYTES_PER_VALUE: u64 = 64;

/// The most values a body of `len` bytes may hold.
pub fn max_values(len: usize) -> u64 {
    BASE_VALUES + len as u64 / BYTES_PER_VALUE
}

/// Fails with a 413 when `data` holds more values than its size allows. A body that does not
/// decode passes: decoding it reports the error.
pub fn check_body_budget(encoding: EncodingType, data: &[u8]) -> Result<(), Error> {
    let max = max_values(data.len());
    // Every value takes at least one byte in JSON and in msgpack (a digit, `""`, `[]`, a
    // fixint, a header byte): a body no longer than its budget cannot hold more values, and
    // needs no scan.
    if data.len() as u64 <= max {
        return Ok(());
    }
    let mut count = Count { seen: 0, max };
    let over = match encoding {
        EncodingType::Json => {
            let mut de = serde_json::Deserializer::from_slice(data);
            (&mut count).deserialize(&mut de).is_err() && count.seen > max
        }
        EncodingType::Msgpack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(data);
            (&mut count).deserialize(&mut de).is_err() && count.seen > max
        }
    };
    if over {
        return Err(Error::new(
            "Payload Too Large",
            format!(
                "The request body holds more than {max} values: a body of {} bytes may hold at most {BASE_VALUES} values plus one per {BYTES_PER_VALUE} bytes",
                data.len()
            ),
            "elemental",
            413,
        ));
    }
    Ok(())
}

/// Counts the values of whatever it deserializes, and fails past `max`.
struct Count {
    seen: u64,
    max: u64,
}

impl Count {
    fn one<E: serde::de::Error>(&mut self) -> Result<(), E> {
        self.seen += 1;
        if self.seen > self.max {
            Err(E::custom("too many values"))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for &mut Count {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

macro_rules! count_scalars {
    ($($method:ident($ty:ty)),*) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> Result<(), E> {
            self.one()
        })*
    };
}

impl<'de> Visitor<'de> for &mut Count {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    count_scalars!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_str(&str),
        visit_bytes(&[u8])
    );

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.one()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.one()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.one()?;
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.one()?;
        while map.next_key_seed(&mut *self)?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }

    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        let ((), variant) = data.variant_seed(&mut *self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(n: usize) -> Vec<u8> {
        format!("[{}]", vec!["\"a\""; n].join(",")).into_bytes()
    }

    #[test]
    fn small_bodies_may_hold_the_base_budget() {
        assert_eq!(max_values(0), 16_384);
        assert_eq!(max_values(64_000), 17_384);
        // The list itself is one value.
        assert!(check_body_budget(EncodingType::Json, &strings(16_383)).is_ok());
        let refused = check_body_budget(EncodingType::Json, &strings(100_000)).unwrap_err();
        assert_eq!(refused.code, 413);
        assert_eq!(
            refused.description,
            "The request body holds more than 22634 values: a body of 400001 bytes may hold at most 16384 values plus one per 64 bytes"
        );
    }

    #[test]
    fn msgpack_bodies_are_counted_too() {
        let many: Vec<u8> = vec![1; 100_000];
        let data = rmp_serde::to_vec(&many).unwrap();
        let refused = check_body_budget(EncodingType::Msgpack, &data).unwrap_err();
        assert_eq!(refused.code, 413);
        let few = rmp_serde::to_vec_named(&serde_json::json!({"a": [1, 2, {"b": null}]})).unwrap();
        assert!(check_body_budget(EncodingType::Msgpack, &few).is_ok());
    }

    #[test]
    fn large_values_are_not_refused_and_broken_bodies_are_left_to_the_decoder() {
        let big = format!("{{\"description\":\"{}\"}}", "x".repeat(10 << 20));
        assert!(check_body_budget(EncodingType::Json, big.as_bytes()).is_ok());
        assert!(check_body_budget(EncodingType::Json, b"{\"a\":").is_ok());
    }

    #[test]
    fn the_densest_bodies_are_refused_exactly_past_their_budget_around_the_unscanned_size() {
        // One byte a value: a msgpack list of small integers. Its lengths here run from below
        // the size that needs no scan to above it.
        for n in 16_500..16_800 {
            let data = rmp_serde::to_vec(&vec![1_u8; n]).unwrap();
            let values = n as u64 + 1;
            let allowed = values <= max_values(data.len());
            assert_eq!(
                check_body_budget(EncodingType::Msgpack, &data).is_ok(),
                allowed,
                "{n} values in {} bytes",
                data.len()
            );
        }
    }
}
