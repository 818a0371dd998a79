//! Attribute values to column values, and rows back to attribute values.

use manipulate::{FieldSink, FieldValue, ManipulateError, Row};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::schema::{Column, ColumnKind, TableSchema};
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

fn invalid(column: &Column, expected: &str, value: &FieldValue<'_>) -> ManipulateError {
    ManipulateError::Internal(format!(
        "attribute '{}': expected {expected}, got {value:?}",
        column.name
    ))
}

/// True when `bytes` start with a date and time of the form `dddd-dd-ddTdd:dd:dd` whose
/// fields are in range without asking the calendar: months 1-12, days 1-28 (later days depend
/// on the month and take the parser), hours below 24, minutes and seconds below 60.
fn plain_date_time(bytes: &[u8]) -> bool {
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let fits = bytes.len() >= shape.len()
        && bytes.iter().zip(shape).all(|(b, s)| match s {
            b'd' => b.is_ascii_digit(),
            _ => b == s,
        });
    let field = |at: usize| u32::from(bytes[at] - b'0') * 10 + u32::from(bytes[at + 1] - b'0');
    fits && (1..=12).contains(&field(5))
        && (1..=28).contains(&field(8))
        && field(11) < 24
        && field(14) < 60
        && field(17) < 60
}

/// The API's text of a time stored by [`storage_time`] (`2020-01-02T01:04:05.500000000Z` ->
/// `2020-01-02T01:04:05.5Z`), without parsing it; `None` for any other text and for days after
/// the 28th, which take the parser.
fn api_time(stored: &str) -> Option<String> {
    let bytes = stored.as_bytes();
    let fits = bytes.len() == 30
        && plain_date_time(bytes)
        && bytes[19] == b'.'
        && bytes[20..29].iter().all(u8::is_ascii_digit)
        && bytes[29] == b'Z';
    if !fits {
        return None;
    }
    let fraction = stored[20..29].trim_end_matches('0');
    let mut text = String::with_capacity(30);
    text.push_str(&stored[..19]);
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(fraction);
    }
    text.push('Z');
    Some(text)
}

/// The stored text ([`storage_time`]) of an API time in UTC with up to nine fractional digits
/// (`2020-01-02T01:04:05.5Z` -> `2020-01-02T01:04:05.500000000Z`), without parsing it; `None`
/// for any other text (offsets, days after the 28th), which takes the parser.
fn stored_time(api: &str) -> Option<String> {
    let bytes = api.as_bytes();
    let fraction = match bytes.get(19..bytes.len().checked_sub(1)?)? {
        [] => &[][..],
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => digits,
        _ => return None,
    };
    let fits =
        plain_date_time(bytes) && bytes.ends_with(b"Z") && fraction.iter().all(u8::is_ascii_digit);
    if !fits {
        return None;
    }
    let mut text = String::with_capacity(30);
    text.push_str(&api[..19]);
    text.push('.');
    text.push_str(&api[20..20 + fraction.len()]);
    text.extend(std::iter::repeat_n('0', 9 - fraction.len()));
    text.push('Z');
    Some(text)
}

/// The value to store in a column for an attribute's value.
pub fn to_sql(column: &Column, value: FieldValue<'_>) -> Result<SqlValue, ManipulateError> {
    match (column.kind, value) {
        (kind, FieldValue::Null) => Ok(SqlValue::Null(kind)),
        (ColumnKind::Text, FieldValue::Text(s)) => Ok(SqlValue::Text(s.to_string())),
        (ColumnKind::Integer, FieldValue::Int(i)) => Ok(SqlValue::Int(i)),
        (ColumnKind::Float, FieldValue::Float(f)) => Ok(SqlValue::Float(f)),
        (ColumnKind::Float, FieldValue::Int(i)) => Ok(SqlValue::Float(i as f64)),
        (ColumnKind::Boolean, FieldValue::Bool(b)) => Ok(SqlValue::Bool(b)),
        (ColumnKind::Time, FieldValue::Text("")) => Ok(SqlValue::Null(column.kind)),
        (ColumnKind::Time, FieldValue::Text(text)) => {
            if let Some(stored) = stored_time(text) {
                return Ok(SqlValue::Text(stored));
            }
            let t = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| invalid(column, "an RFC 3339 time", &FieldValue::Text(text)))?;
            storage_time(t).map(SqlValue::Text).map_err(|e| {
                ManipulateError::InvalidQuery(format!("attribute '{}': {e}", column.name))
            })
        }
        (ColumnKind::List | ColumnKind::Json, FieldValue::Json(json)) => Ok(SqlValue::Json(json)),
        (ColumnKind::List | ColumnKind::Json, scalar) => Ok(SqlValue::Json(scalar_json(scalar))),
        (kind, value) => Err(invalid(column, expected(kind), &value)),
    }
}

/// What a column of this kind takes, as an error message says it.
fn expected(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "a string",
        ColumnKind::Integer => "an integer",
        ColumnKind::Float => "a number",
        ColumnKind::Boolean => "a boolean",
        ColumnKind::Time => "an RFC 3339 time",
        ColumnKind::List | ColumnKind::Json => "JSON",
    }
}

/// The JSON text of a scalar value.
fn scalar_json(value: FieldValue<'_>) -> String {
    let json = match value {
        FieldValue::Null => Value::Null,
        FieldValue::Bool(b) => Value::Bool(b),
        FieldValue::Int(i) => Value::from(i),
        FieldValue::Float(f) => Value::from(f),
        FieldValue::Text(s) => Value::from(s),
        FieldValue::Json(json) => return json,
    };
    json.to_string()
}

/// Builds a row, in column order, from an object's attributes ([`FieldSink`]); attributes
/// without a column are left out, columns without an attribute are NULL.
pub struct RowBuilder<'t> {
    columns: &'t [Column],
    values: Vec<SqlValue>,
    /// Where the next attribute's column is looked for first: attributes come in the order of
    /// the specs, as the columns do.
    next: usize,
}

impl<'t> RowBuilder<'t> {
    /// A row of NULLs.
    pub fn new(columns: &'t [Column]) -> Self {
        Self {
            columns,
            values: columns.iter().map(|c| SqlValue::Null(c.kind)).collect(),
            next: 0,
        }
    }

    /// Sets a column's value by the column's name.
    pub fn set(&mut self, name: &str, value: FieldValue<'_>) -> Result<(), ManipulateError> {
        let hinted = self.columns.get(self.next).filter(|c| c.name == name);
        let index = match hinted {
            Some(_) => Some(self.next),
            None => self.columns.iter().position(|c| c.name == name),
        };
        if let Some(index) = index {
            self.values[index] = to_sql(&self.columns[index], value)?;
            self.next = index + 1;
        }
        Ok(())
    }

    /// The values, in column order.
    pub fn finish(self) -> Vec<SqlValue> {
        self.values
    }
}

impl FieldSink for RowBuilder<'_> {
    fn field(&mut self, name: &str, value: FieldValue<'_>) -> Result<(), ManipulateError> {
        self.set(name, value)
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
        (ColumnKind::Time, Cell::Text(s)) => match api_time(&s) {
            Some(text) => Value::String(text),
            None => {
                let t = OffsetDateTime::parse(&s, &Rfc3339).map_err(|_| corrupt("a time"))?;
                Value::String(elemental::timefmt::format_rfc3339(&t))
            }
        },
        (ColumnKind::List | ColumnKind::Json, Cell::Text(s)) => {
            serde_json::from_str(&s).map_err(|_| corrupt("JSON"))?
        }
        (kind, _) => return Err(corrupt(kind.as_str())),
    };
    Ok(Some(value))
}

/// The row of a table's cells (in column order), with their JSON values.
pub fn to_row(table: &TableSchema, cells: Vec<Cell>) -> Result<Row, ManipulateError> {
    let values = table
        .columns
        .iter()
        .zip(cells)
        .map(|(column, cell)| to_json(column, cell))
        .collect::<Result<_, _>>()?;
    Ok(Row::new(table.names(), values))
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
    fn stored_times_read_back_as_the_parser_prints_them() {
        let stored = [
            "2020-01-02T01:04:05.500000000Z",
            "2020-01-02T01:04:05.000000000Z",
            "2026-12-05T19:11:21.068664050Z",
            "0000-01-01T00:00:00.000000001Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T12:00:00.120000000Z",
            "2023-01-31T12:00:00.000000000Z",
            "2020-01-02T01:04:05Z",
            "2020-01-02T01:04:05.5+02:00",
        ];
        for text in stored {
            let parsed = OffsetDateTime::parse(text, &Rfc3339)
                .map(|t| Value::String(elemental::timefmt::format_rfc3339(&t)));
            let read = to_json(&column(ColumnKind::Time), Cell::Text(text.into()));
            assert_eq!(read, Ok(parsed.ok()), "{text}");
        }
        assert_eq!(
            api_time("2026-12-05T19:11:21.068664050Z").as_deref(),
            Some("2026-12-05T19:11:21.06866405Z")
        );
        assert_eq!(api_time("2020-01-02T01:04:05.5+02:00"), None);
        assert_eq!(api_time("2020-13-02T01:04:05.000000000Z"), None);
    }

    #[test]
    fn api_times_are_stored_as_the_parser_stores_them() {
        let api = [
            "2020-01-02T01:04:05Z",
            "2020-01-02T01:04:05.5Z",
            "2026-12-05T19:11:21.06866405Z",
            "2026-12-05T19:11:21.123456789Z",
            "0000-01-01T00:00:00.000000001Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T12:00:00.12Z",
            "2020-01-02T01:04:05.5+02:00",
            "2020-01-02T01:04:05.Z",
            "2020-01-02T01:04:05.1234567890Z",
            "2020-13-02T01:04:05Z",
            "2020-02-30T01:04:05Z",
            "2020-01-02T24:04:05Z",
            "2020-01-02 01:04:05Z",
            "2020-01-02T01:04:05",
            "not a time",
        ];
        let time = column(ColumnKind::Time);
        for text in api {
            let parsed = OffsetDateTime::parse(text, &Rfc3339)
                .map(|t| SqlValue::Text(storage_time(t).unwrap()))
                .ok();
            assert_eq!(to_sql(&time, FieldValue::Text(text)).ok(), parsed, "{text}");
        }
        assert_eq!(
            stored_time("2026-12-05T19:11:21.06866405Z").as_deref(),
            Some("2026-12-05T19:11:21.068664050Z")
        );
        assert_eq!(stored_time("2020-01-02T01:04:05.5+02:00"), None);
        assert_eq!(stored_time("2020-01-29T01:04:05Z"), None);
    }

    #[test]
    fn null_cells_leave_the_attribute_out() {
        assert_eq!(to_json(&column(ColumnKind::Text), Cell::Null), Ok(None));
    }

    #[test]
    fn wrong_value_types_are_errors() {
        assert_eq!(
            to_sql(&column(ColumnKind::Text), FieldValue::Int(3)),
            Err(ManipulateError::Internal(
                "attribute 'a': expected a string, got Int(3)".into()
            ))
        );
    }

    #[test]
    fn values_convert_by_column_kind() {
        let cases = [
            (ColumnKind::Float, FieldValue::Int(2), SqlValue::Float(2.0)),
            (
                ColumnKind::Time,
                FieldValue::Text("2020-01-02T03:04:05+02:00"),
                SqlValue::Text("2020-01-02T01:04:05.000000000Z".into()),
            ),
            (
                ColumnKind::Time,
                FieldValue::Text(""),
                SqlValue::Null(ColumnKind::Time),
            ),
            (
                ColumnKind::Json,
                FieldValue::Text("x"),
                SqlValue::Json("\"x\"".into()),
            ),
            (
                ColumnKind::List,
                FieldValue::Json("[1]".into()),
                SqlValue::Json("[1]".into()),
            ),
            (
                ColumnKind::Boolean,
                FieldValue::Null,
                SqlValue::Null(ColumnKind::Boolean),
            ),
        ];
        for (kind, value, expected) in cases {
            assert_eq!(to_sql(&column(kind), value), Ok(expected));
        }
    }
}
