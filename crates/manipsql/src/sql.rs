//! SQL text with its parameters, for the two dialects. Values are always parameters, never
//! spliced into the text; identifiers come from the schema (checked plain names) and are quoted.

use std::fmt::Write as _;

use crate::schema::ColumnKind;

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or newer (bundled).
    Sqlite,
    /// PostgreSQL 12 or newer (and wire-compatible databases).
    Postgres,
}

impl Dialect {
    /// The column type of a kind.
    pub fn column_type(&self, kind: ColumnKind) -> &'static str {
        match (self, kind) {
            (Self::Sqlite, ColumnKind::Text | ColumnKind::Time) => "TEXT",
            (Self::Sqlite, ColumnKind::Integer | ColumnKind::Boolean) => "INTEGER",
            (Self::Sqlite, ColumnKind::Float) => "REAL",
            (Self::Sqlite, ColumnKind::List | ColumnKind::Json) => "TEXT",
            (Self::Postgres, ColumnKind::Text | ColumnKind::Time) => "TEXT COLLATE \"C\"",
            (Self::Postgres, ColumnKind::Integer) => "BIGINT",
            (Self::Postgres, ColumnKind::Float) => "DOUBLE PRECISION",
            (Self::Postgres, ColumnKind::Boolean) => "BOOLEAN",
            (Self::Postgres, ColumnKind::List | ColumnKind::Json) => "JSONB",
        }
    }

    /// A condition that always holds.
    pub fn true_literal(&self) -> &'static str {
        match self {
            Self::Sqlite => "1",
            Self::Postgres => "TRUE",
        }
    }

    /// A condition that never holds.
    pub fn false_literal(&self) -> &'static str {
        match self {
            Self::Sqlite => "0",
            Self::Postgres => "FALSE",
        }
    }

    /// The expression reading a column back (JSON columns as text).
    pub fn read_column(&self, column: &str, kind: ColumnKind) -> String {
        match (self, kind) {
            (Self::Postgres, ColumnKind::List | ColumnKind::Json) => {
                format!("{}::text", quote(column))
            }
            _ => quote(column),
        }
    }
}

/// Quotes an identifier (the schema only lets plain names through).
pub fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Text (strings, enums, times).
    Text(String),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// JSON text, for JSON columns.
    Json(String),
    /// No value, for a column of that kind.
    Null(ColumnKind),
}

/// SQL text being built, with its parameters.
#[derive(Debug, Clone)]
pub struct Sql {
    /// The dialect.
    pub dialect: Dialect,
    /// The text.
    pub text: String,
    /// The parameters, in placeholder order.
    pub params: Vec<SqlValue>,
}

impl Sql {
    /// Empty SQL in `dialect`, with room for a usual statement (a statement grows its text a
    /// few times otherwise).
    pub fn new(dialect: Dialect) -> Self {
        Self::with_capacity(dialect, 256)
    }

    /// Empty SQL in `dialect`, with room for `bytes` of text.
    pub fn with_capacity(dialect: Dialect, bytes: usize) -> Self {
        Self {
            dialect,
            text: String::with_capacity(bytes),
            params: Vec::with_capacity(4),
        }
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `identifier` in double quotes, the text [`quote`] returns, without building it
    /// apart first.
    pub fn push_quoted(&mut self, identifier: &str) -> &mut Self {
        self.text.push('"');
        self.text.push_str(identifier);
        self.text.push('"');
        self
    }

    /// Adds a parameter and returns its placeholder (`?3` in SQLite; `$3::text` in
    /// PostgreSQL, typed so that the driver knows what it sends).
    pub fn param(&mut self, value: SqlValue) -> String {
        let mut placeholder = String::new();
        self.add_param(value, &mut placeholder);
        placeholder
    }

    /// Appends a parameter's placeholder.
    pub fn push_param(&mut self, value: SqlValue) -> &mut Self {
        let mut text = std::mem::take(&mut self.text);
        self.add_param(value, &mut text);
        self.text = text;
        self
    }

    /// Adds a parameter and writes its placeholder to `out`.
    fn add_param(&mut self, value: SqlValue, out: &mut String) {
        let cast = match (&value, self.dialect) {
            (_, Dialect::Sqlite) => "",
            (SqlValue::Text(_) | SqlValue::Null(ColumnKind::Text | ColumnKind::Time), _) => {
                "::text"
            }
            (SqlValue::Int(_) | SqlValue::Null(ColumnKind::Integer), _) => "::int8",
            (SqlValue::Float(_) | SqlValue::Null(ColumnKind::Float), _) => "::float8",
            (SqlValue::Bool(_) | SqlValue::Null(ColumnKind::Boolean), _) => "::bool",
            (SqlValue::Json(_) | SqlValue::Null(ColumnKind::List | ColumnKind::Json), _) => {
                "::text::jsonb"
            }
        };
        self.params.push(value);
        let n = self.params.len();
        // Writing to a String cannot fail.
        let _ = match self.dialect {
            Dialect::Sqlite => write!(out, "?{n}"),
            Dialect::Postgres => write!(out, "${n}{cast}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_typed() {
        let mut sql = Sql::new(Dialect::Postgres);
        sql.push("a = ")
            .push_param(SqlValue::Text("x".into()))
            .push(" AND b = ")
            .push_param(SqlValue::Int(1))
            .push(" AND c = ")
            .push_param(SqlValue::Null(ColumnKind::Json));
        assert_eq!(
            sql.text,
            "a = $1::text AND b = $2::int8 AND c = $3::text::jsonb"
        );
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("a = ")
            .push_param(SqlValue::Text("x".into()))
            .push(" AND b = ")
            .push_param(SqlValue::Bool(true));
        assert_eq!(sql.text, "a = ?1 AND b = ?2");
        assert_eq!(sql.params.len(), 2);
    }
}
