//! A dynamically typed attribute value, as the filter matcher and generic code see it.

use std::collections::BTreeMap;

use time::OffsetDateTime;

/// The value of one attribute of an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value: an unset optional attribute or a zero time.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (also enums).
    String(String),
    /// A point in time.
    Time(OffsetDateTime),
    /// A list.
    List(Vec<Value>),
    /// A map or object.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The "zero" of the value's type: empty string, 0, false, null, empty list or map.
    pub fn is_zero(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Int(i) => *i == 0,
            Value::Float(f) => *f == 0.0,
            Value::String(s) => s.is_empty(),
            Value::Time(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
        }
    }
}

impl Value {
    /// The value of anything serializable, through its JSON form (`Null` if it cannot be
    /// serialized). Used for nested models and external types.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Value {
        serde_json::to_value(value).map_or(Value::Null, |v| Value::from(&v))
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Value::from(&v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(v.clone())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Value::Time(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(v: &[T]) -> Self {
        Value::List(v.iter().cloned().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

/// Anything whose attributes can be read by name: generated models, and decoded JSON objects
/// (for push filters over event entities).
pub trait AttributeValues {
    /// The value of `attribute`, or `None` when the object has no such attribute.
    fn value_for_attribute(&self, attribute: &str) -> Option<Value>;
}

impl AttributeValues for serde_json::Map<String, serde_json::Value> {
    fn value_for_attribute(&self, attribute: &str) -> Option<Value> {
        self.get(attribute).map(Value::from)
    }
}

impl AttributeValues for BTreeMap<String, Value> {
    fn value_for_attribute(&self, attribute: &str) -> Option<Value> {
        self.get(attribute).cloned()
    }
}
