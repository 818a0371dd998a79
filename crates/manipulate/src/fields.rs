//! A model object handed to storage without an intermediate document: [`Fields`] walks the
//! object's attributes (through its `Serialize` implementation) and gives each one to a
//! [`FieldSink`] as a [`FieldValue`], so that a SQL backend builds its row straight from the typed
//! object.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::{Document, ManipulateError};

/// One attribute's value as storage receives it: a scalar, or the JSON text of a list, map or
/// object.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// No value (`None`, unit).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (also times, in RFC 3339, and enum values).
    Text(&'a str),
    /// A list, map or object, as JSON text.
    Json(String),
}

/// Receives the attributes of an object, in the order the model declares them.
pub trait FieldSink {
    /// One attribute, by its name in the specs.
    fn field(&mut self, name: &str, value: FieldValue<'_>) -> Result<(), ManipulateError>;
}

/// A model object as storage takes it: its attributes one by one, or its JSON document.
/// Every model implements it.
pub trait Fields: Sync {
    /// Gives each serialized attribute to `sink`.
    fn write_fields(&self, sink: &mut dyn FieldSink) -> Result<(), ManipulateError>;
    /// The object's JSON document (for backends that store documents).
    fn document(&self) -> Result<Document, ManipulateError>;
}

impl<T: Serialize + Sync> Fields for T {
    fn write_fields(&self, sink: &mut dyn FieldSink) -> Result<(), ManipulateError> {
        self.serialize(Attributes { sink })
            .map_err(FieldError::into_manipulate)
    }

    fn document(&self) -> Result<Document, ManipulateError> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(not_a_struct()),
            Err(e) => Err(ManipulateError::Internal(format!("cannot serialize: {e}"))),
        }
    }
}

fn not_a_struct() -> ManipulateError {
    ManipulateError::Internal("a model did not serialize to an object".into())
}

/// Why a value was not given to the sink.
#[derive(Debug)]
enum FieldError {
    /// The value is a list, map or object: it goes to the sink as JSON text.
    Compound,
    /// The sink refused the value, or the object is not a struct.
    Failed(ManipulateError),
}

impl FieldError {
    fn into_manipulate(self) -> ManipulateError {
        match self {
            Self::Compound => not_a_struct(),
            Self::Failed(e) => e,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compound => f.write_str("a compound value"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FieldError {}

impl ser::Error for FieldError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self::Failed(ManipulateError::Internal(format!(
            "cannot serialize: {message}"
        )))
    }
}

/// The serializer of the object itself: a struct whose fields are the attributes.
struct Attributes<'s> {
    sink: &'s mut dyn FieldSink,
}

impl ser::SerializeStruct for Attributes<'_> {
    type Ok = ();
    type Error = FieldError;

    fn serialize_field<V: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &V,
    ) -> Result<(), FieldError> {
        let scalar = Scalar {
            name,
            sink: &mut *self.sink,
        };
        match value.serialize(scalar) {
            Err(FieldError::Compound) => {
                let json = serde_json::to_string(value).map_err(ser::Error::custom)?;
                self.sink
                    .field(name, FieldValue::Json(json))
                    .map_err(FieldError::Failed)
            }
            other => other,
        }
    }

    fn end(self) -> Result<(), FieldError> {
        Ok(())
    }
}

/// Serializes a scalar attribute into the sink; anything else is [`FieldError::Compound`].
struct Scalar<'s> {
    name: &'static str,
    sink: &'s mut dyn FieldSink,
}

impl Scalar<'_> {
    fn give(self, value: FieldValue<'_>) -> Result<(), FieldError> {
        self.sink
            .field(self.name, value)
            .map_err(FieldError::Failed)
    }
}

/// The methods of a serializer that refuse what they are given with `$error`.
macro_rules! refuse {
    ($error:expr; $($method:ident($($arg:ty),*) -> $ok:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, FieldError> {
            Err($error)
        })*
    };
}

impl ser::Serializer for Scalar<'_> {
    type Ok = ();
    type Error = FieldError;
    type SerializeSeq = Impossible<(), FieldError>;
    type SerializeTuple = Impossible<(), FieldError>;
    type SerializeTupleStruct = Impossible<(), FieldError>;
    type SerializeTupleVariant = Impossible<(), FieldError>;
    type SerializeMap = Impossible<(), FieldError>;
    type SerializeStruct = Impossible<(), FieldError>;
    type SerializeStructVariant = Impossible<(), FieldError>;

    fn serialize_bool(self, v: bool) -> Result<(), FieldError> {
        self.give(FieldValue::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<(), FieldError> {
        self.give(FieldValue::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<(), FieldError> {
        match i64::try_from(v) {
            Ok(v) => self.give(FieldValue::Int(v)),
            Err(_) => Err(ser::Error::custom(format!(
                "attribute '{}': {v} is larger than a 64-bit signed integer",
                self.name
            ))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), FieldError> {
        self.give(FieldValue::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<(), FieldError> {
        self.give(FieldValue::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<(), FieldError> {
        self.give(FieldValue::Text(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<(), FieldError> {
        self.give(FieldValue::Text(v))
    }
    fn serialize_none(self) -> Result<(), FieldError> {
        self.give(FieldValue::Null)
    }
    fn serialize_some<V: ?Sized + Serialize>(self, value: &V) -> Result<(), FieldError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), FieldError> {
        self.give(FieldValue::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), FieldError> {
        self.give(FieldValue::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), FieldError> {
        self.give(FieldValue::Text(variant))
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<(), FieldError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<(), FieldError> {
        Err(FieldError::Compound)
    }

    refuse! { FieldError::Compound;
        serialize_bytes(&[u8]) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// The object's serializer: only a struct is a model object.
impl<'s> ser::Serializer for Attributes<'s> {
    type Ok = ();
    type Error = FieldError;
    type SerializeSeq = Impossible<(), FieldError>;
    type SerializeTuple = Impossible<(), FieldError>;
    type SerializeTupleStruct = Impossible<(), FieldError>;
    type SerializeTupleVariant = Impossible<(), FieldError>;
    type SerializeMap = Impossible<(), FieldError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), FieldError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, FieldError> {
        Ok(self)
    }

    refuse! { FieldError::Failed(not_a_struct());
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<V: ?Sized + Serialize>(self, value: &V) -> Result<(), FieldError> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<(), FieldError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<(), FieldError> {
        Err(FieldError::Failed(not_a_struct()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Object {
        #[serde(rename = "ID")]
        id: String,
        count: u32,
        ratio: f64,
        on: bool,
        #[serde(rename = "createTime")]
        time: Option<String>,
        tags: Vec<String>,
        labels: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "String::is_empty")]
        empty: String,
    }

    #[derive(Default)]
    struct Recorded(Vec<(String, String)>);

    impl FieldSink for Recorded {
        fn field(&mut self, name: &str, value: FieldValue<'_>) -> Result<(), ManipulateError> {
            self.0.push((name.to_string(), format!("{value:?}")));
            Ok(())
        }
    }

    #[test]
    fn attributes_reach_the_sink_in_order_with_compounds_as_json() {
        let object = Object {
            id: "x1".into(),
            count: 3,
            ratio: 0.5,
            on: true,
            time: None,
            tags: vec!["a".into(), "b".into()],
            labels: BTreeMap::from([("k".to_string(), "v".to_string())]),
            empty: String::new(),
        };
        let mut sink = Recorded::default();
        object.write_fields(&mut sink).unwrap();
        let got: Vec<(&str, &str)> = sink
            .0
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ID", r#"Text("x1")"#),
                ("count", "Int(3)"),
                ("ratio", "Float(0.5)"),
                ("on", "Bool(true)"),
                ("createTime", "Null"),
                ("tags", r#"Json("[\"a\",\"b\"]")"#),
                ("labels", r#"Json("{\"k\":\"v\"}")"#),
            ]
        );
    }

    #[test]
    fn a_sink_error_and_a_non_struct_are_errors() {
        struct Refusing;
        impl FieldSink for Refusing {
            fn field(&mut self, name: &str, _: FieldValue<'_>) -> Result<(), ManipulateError> {
                Err(ManipulateError::Internal(format!("no {name}")))
            }
        }
        let object = Object {
            id: "x".into(),
            count: 0,
            ratio: 0.0,
            on: false,
            time: None,
            tags: vec![],
            labels: BTreeMap::new(),
            empty: String::new(),
        };
        assert_eq!(
            object.write_fields(&mut Refusing),
            Err(ManipulateError::Internal("no ID".into()))
        );
        assert_eq!(
            3u8.write_fields(&mut Recorded::default()),
            Err(not_a_struct())
        );
    }
}
