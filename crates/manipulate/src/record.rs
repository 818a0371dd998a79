//! A stored object as a store read it: a JSON document, or a row of attribute values that
//! deserializes into a model directly, without building a document first.

use std::sync::Arc;

use elemental::Model;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::{Document, ManipulateError, from_document};

/// A stored object, as [`Manipulator::retrieve_record`](crate::Manipulator::retrieve_record)
/// returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The object's JSON document.
    Document(Document),
    /// The object's row.
    Row(Row),
}

impl Record {
    /// The model object.
    pub fn into_object<T: Model>(self) -> Result<T, ManipulateError> {
        match self {
            Self::Document(document) => from_document(document),
            Self::Row(row) => T::deserialize(row).map_err(unreadable),
        }
    }

    /// The object's JSON document.
    pub fn into_document(self) -> Document {
        match self {
            Self::Document(document) => document,
            Self::Row(row) => row.into_document(),
        }
    }
}

/// The values of a stored object's attributes, in the store's column order. A row reads as the
/// document of its attributes that have a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Option<Value>>,
}

impl Row {
    /// The row of `values`, one per name of `names` (the names of a table, shared by its
    /// rows); `None` leaves the attribute out, as a missing key of a document does.
    pub fn new(names: Arc<[String]>, values: Vec<Option<Value>>) -> Self {
        Self { names, values }
    }

    /// The value of the attribute `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let index = self.names.iter().position(|n| n == name)?;
        self.values.get(index)?.as_ref()
    }

    /// The document of the attributes that have a value.
    pub fn into_document(self) -> Document {
        let mut document = Document::new();
        for (name, value) in self.names.iter().zip(self.values) {
            if let Some(value) = value {
                document.insert(name.clone(), value);
            }
        }
        document
    }
}

fn unreadable(e: serde_json::Error) -> ManipulateError {
    ManipulateError::Internal(format!("cannot read a stored object: {e}"))
}

/// A row deserializes as a map: the names of its attributes that have a value, each with its
/// value.
impl<'de> de::Deserializer<'de> for Row {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(RowAccess {
            attributes: self.names.iter().zip(self.values),
            pending: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The attributes of a row, one by one.
struct RowAccess<'r> {
    /// Each attribute's name and value, in column order.
    attributes: std::iter::Zip<std::slice::Iter<'r, String>, std::vec::IntoIter<Option<Value>>>,
    /// The value of the key last given.
    pending: Option<Value>,
}

impl<'de> MapAccess<'de> for RowAccess<'_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        for (name, value) in self.attributes.by_ref() {
            let Some(value) = value else {
                continue;
            };
            self.pending = Some(value);
            let key: de::value::StrDeserializer<'_, Self::Error> =
                name.as_str().into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.attributes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn row(values: Vec<Option<Value>>) -> Row {
        let names: Vec<String> = ["name", "count", "tags", "note"]
            .into_iter()
            .map(String::from)
            .collect();
        Row::new(names.into(), values)
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Object {
        name: String,
        #[serde(default)]
        count: i64,
        tags: Vec<String>,
        note: Option<String>,
    }

    #[test]
    fn a_row_reads_as_the_document_of_its_values() {
        let values = vec![
            Some(json!("a")),
            None,
            Some(json!(["x", "y"])),
            Some(Value::Null),
        ];
        let document = json!({"name": "a", "tags": ["x", "y"], "note": null});
        assert_eq!(row(values.clone()).get("name"), Some(&json!("a")));
        assert_eq!(row(values.clone()).get("count"), None);
        assert_eq!(row(values.clone()).get("other"), None);
        assert_eq!(Value::Object(row(values.clone()).into_document()), document);
        let expected = Object {
            name: "a".into(),
            count: 0,
            tags: vec!["x".into(), "y".into()],
            note: None,
        };
        let read = Object::deserialize(row(values)).map_err(|e| e.to_string());
        assert_eq!(read, Ok(expected));
    }

    #[test]
    fn a_row_fails_as_its_document_would() {
        let values = vec![Some(json!(3)), None, Some(json!([])), None];
        let from_row = Object::deserialize(row(values.clone())).map_err(|e| e.to_string());
        let document = Value::Object(row(values).into_document());
        let from_document = serde_json::from_value::<Object>(document).map_err(|e| e.to_string());
        assert_eq!(
            from_row,
            Err("invalid type: integer `3`, expected a string".to_string())
        );
        assert_eq!(from_row, from_document);
        let missing = row(vec![None, None, Some(json!([])), None]);
        assert_eq!(
            Object::deserialize(missing).map_err(|e| e.to_string()),
            Err("missing field `name`".to_string())
        );
    }
}
