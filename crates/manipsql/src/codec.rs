//! Documents to column values and back.

use manipulate::{Document, ManipulateError};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::schema::{Column, ColumnKind};
use crate::sql::SqlValue;

/// A value read from a row, before it is turned back into JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (also SQLite booleans).
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean (PostgreSQL).
    Bool(bool),
    /// Text (also JSON and times).
    Text(String),
}

/// A time as stored: UTC with nine fractional digits, so that text order is time order.
/// Years before 0 or after 9999 cannot be stored.
pub fn storage_time(t: OffsetDateTime) -> Result<String, String> {
    let utc = t.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return Err(format!(
            "year {} is out of the storable range 0-9999",
            utc.year()
        ));
    }
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    utc.format(&format).map_err(|e| e.to_string())
}

fn invalid(column: &Column, expected: &str, value: &Value) -> ManipulateError {
    ManipulateError::Internal(format!(
        "attribute '{}': expected {expected}, got {value}",
        column.name
    ))
}

/// The value to store for a column, from the document.
pub fn to_sql(column: &Column, document: &Document) -> Result<SqlValue, ManipulateError> {
    let value = match document.get(&column.name) {
        None | Some(Value::Null) => return Ok(SqlValue::Null(column.kind)),
        Some(v) => v,
    };
    match column.kind {
        ColumnKind::Text => value
            .as_str()
            .map(|s| SqlValue::Text(s.to_string()))
            .ok_or_else(|| invalid(column, "a string", value)),
        ColumnKind::Integer => value
            .as_i64()
            .map(SqlValue::Int)
            .ok_or_else(|| invalid(column, "an integer", value)),
        ColumnKind::Float => value
            .as_f64()
            .map(SqlValue::Float)
            .ok_or_else(|| invalid(column, "a number", value)),
        ColumnKind::Boolean => value
            .as_bool()
            .map(SqlValue::Bool)
            .ok_or_else(|| invalid(column, "a boolean", value)),
        ColumnKind::Time => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid(column, "a time", value))?;
            if text.is_empty() {
                return Ok(SqlValue::Null(column.kind));
            }
            let t = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| invalid(column, "an RFC 3339 time", value))?;
            storage_time(t).map(SqlValue::Text).map_err(|e| {
                ManipulateError::InvalidQuery(format!("attribute '{}': {e}", column.name))
            })
        }
        ColumnKind::List | ColumnKind::Json => Ok(SqlValue::Json(value.to_string())),
    }
}

/// The JSON value of a cell; `None` for NULL (the attribute is left out of the document, and
/// takes its default when decoded).
pub fn to_json(column: &Column, cell: Cell) -> Result<Option<Value>, ManipulateError> {
    let corrupt = |what: &str| {
        ManipulateError::Internal(format!(
            "attribute '{}': stored value is not {what}",
            column.name
        ))
    };
    let value = match (column.kind, cell) {
        (_, Cell::Null) => return Ok(None),
        (ColumnKind::Text, Cell::Text(s)) => Value::String(s),
        (ColumnKind::Integer, Cell::Int(i)) => Value::from(i),
        (ColumnKind::Float, Cell::Float(f)) => Value::from(f),
        (ColumnKind::Float, Cell::Int(i)) => Value::from(i as f64),
        (ColumnKind::Boolean, Cell::Bool(b)) => Value::Bool(b),
        (ColumnKind::Boolean, Cell::Int(i)) => Value::Bool(i != 0),
        (ColumnKind::Time, Cell::Text(s)) => {
            let t = OffsetDateTime::parse(&s, &Rfc3339).map_err(|_| corrupt("a time"))?;
            Value::String(elemental::timefmt::format_rfc3339(&t))
        }
        (ColumnKind::List | ColumnKind::Json, Cell::Text(s)) => {
            serde_json::from_str(&s).map_err(|_| corrupt("JSON"))?
        }
        (kind, _) => return Err(corrupt(kind.as_str())),
    };
    Ok(Some(value))
}

/// The document of a row (cells in column order).
pub fn to_document(columns: &[Column], cells: Vec<Cell>) -> Result<Document, ManipulateError> {
    let mut document = Document::new();
    for (column, cell) in columns.iter().zip(cells) {
        if let Some(value) = to_json(column, cell)? {
            document.insert(column.name.clone(), value);
        }
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ElementKind;
    use time::macros::datetime;

    fn column(kind: ColumnKind) -> Column {
        Column {
            name: "a".into(),
            kind,
            element: ElementKind::Text,
            indexed: false,
        }
    }

    #[test]
    fn times_are_fixed_width_utc() {
        assert_eq!(
            storage_time(datetime!(2020-01-02 03:04:05.5 +02:00)),
            Ok("2020-01-02T01:04:05.500000000Z".into())
        );
        let cell = Cell::Text("2020-01-02T01:04:05.500000000Z".into());
        assert_eq!(
            to_json(&column(ColumnKind::Time), cell),
            Ok(Some(Value::String("2020-01-02T01:04:05.5Z".into())))
        );
    }

    #[test]
    fn null_cells_leave_the_attribute_out() {
        assert_eq!(to_json(&column(ColumnKind::Text), Cell::Null), Ok(None));
    }

    #[test]
    fn wrong_json_types_are_errors() {
        let mut document = Document::new();
        document.insert("a".into(), Value::from(3));
        assert_eq!(
            to_sql(&column(ColumnKind::Text), &document),
            Err(ManipulateError::Internal(
                "attribute 'a': expected a string, got 3".into()
            ))
        );
    }
}
