//! Additive migrations: tables and columns the model has and the database lacks are created on
//! start, and recorded in the schema table. A column whose kind changed stops the start with an
//! error (that needs a hand-written migration); a column the model dropped is left in place.

use std::collections::HashMap;

use crate::SqlError;
use crate::schema::{Schema, TableIndex};
use crate::sql::{Dialect, Sql, SqlValue, quote};
use crate::statements::{IDEMPOTENCY_TABLE, SCHEMA_TABLE, SEQUENCE};

/// The columns recorded so far: (table, column) -> kind.
pub type Recorded = HashMap<(String, String), String>;

/// The bookkeeping tables, created first.
pub fn bookkeeping_tables() -> [String; 2] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (table_name TEXT NOT NULL, column_name TEXT NOT NULL, column_kind TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (table_name, column_name))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {IDEMPOTENCY_TABLE} (table_name TEXT NOT NULL, idempotency_key TEXT NOT NULL, object_id TEXT NOT NULL, PRIMARY KEY (table_name, idempotency_key))"
        ),
    ]
}

/// The query reading the recorded columns (table, column, kind).
pub fn recorded_columns() -> String {
    format!("SELECT table_name, column_name, column_kind FROM {SCHEMA_TABLE}")
}

/// The statements that bring the database to `schema`, given what is recorded.
pub fn plan(schema: &Schema, dialect: Dialect, recorded: &Recorded) -> Result<Vec<Sql>, SqlError> {
    let now = elemental::timefmt::format_rfc3339(&time::OffsetDateTime::now_utc());
    let mut statements = Vec::new();
    let raw = |text: String| {
        let mut sql = Sql::new(dialect);
        sql.push(&text);
        sql
    };
    for table in schema.tables() {
        let name = quote(&table.table);
        let sequence = match dialect {
            Dialect::Sqlite => format!("{SEQUENCE} INTEGER PRIMARY KEY AUTOINCREMENT"),
            Dialect::Postgres => {
                format!("{SEQUENCE} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
            }
        };
        statements.push(raw(format!(
            "CREATE TABLE IF NOT EXISTS {name} ({sequence})"
        )));
        for column in &table.columns {
            match recorded.get(&(table.table.clone(), column.name.clone())) {
                Some(kind) if kind == column.kind.as_str() => continue,
                Some(kind) => {
                    return Err(SqlError::Schema(format!(
                        "table {}: column '{}' is stored as {kind} but the model now says {}; only additive changes are migrated automatically",
                        table.table,
                        column.name,
                        column.kind.as_str()
                    )));
                }
                None => {}
            }
            statements.push(raw(format!(
                "ALTER TABLE {name} ADD COLUMN {} {}",
                quote(&column.name),
                dialect.column_type(column.kind)
            )));
            let mut record = Sql::new(dialect);
            record
                .push(&format!("INSERT INTO {SCHEMA_TABLE} VALUES ("))
                .push_param(SqlValue::Text(table.table.clone()))
                .push(", ")
                .push_param(SqlValue::Text(column.name.clone()))
                .push(", ")
                .push_param(SqlValue::Text(column.kind.as_str().to_string()))
                .push(", ")
                .push_param(SqlValue::Text(now.clone()))
                .push(")");
            statements.push(record);
        }
        for column in &table.columns {
            let index = quote(&format!("{}_{}_idx", table.table, column.name));
            let target = quote(&column.name);
            if column.name == manipulate::query::ID {
                statements.push(raw(format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {name} ({target})"
                )));
            } else if column.indexed || column.name == "namespace" {
                statements.push(raw(format!(
                    "CREATE INDEX IF NOT EXISTS {index} ON {name} ({target})"
                )));
            }
        }
        // PostgreSQL also gets each list index's count index (`TableIndex::count_index`);
        // SQLite, which keeps every entry whole, counts from the list index itself.
        let counts: Vec<TableIndex> = match dialect {
            Dialect::Postgres => table
                .indexes
                .iter()
                .filter_map(|index| index.count_index(&table.table))
                .collect(),
            Dialect::Sqlite => Vec::new(),
        };
        for index in table.indexes.iter().chain(&counts) {
            statements.push(raw(create_index(&name, index)));
        }
    }
    Ok(statements)
}

/// `CREATE [UNIQUE] INDEX IF NOT EXISTS` of a spec's index on the table `name` (quoted).
fn create_index(name: &str, index: &TableIndex) -> String {
    let columns: Vec<String> = index.key.iter().map(|c| quote(c)).collect();
    let unique = if index.unique { "UNIQUE " } else { "" };
    format!(
        "CREATE {unique}INDEX IF NOT EXISTS {} ON {name} ({})",
        quote(&index.name),
        columns.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of a first start in `dialect`, as text.
    fn first_start(dialect: Dialect) -> Vec<String> {
        let schema = Schema::from_manager(gaia::model::manager()).unwrap();
        let statements = plan(&schema, dialect, &Recorded::new()).unwrap();
        statements.into_iter().map(|sql| sql.text).collect()
    }

    #[test]
    fn postgres_gets_the_count_index_of_a_list_index_and_sqlite_does_not() {
        let list = "CREATE INDEX IF NOT EXISTS \"externalnetworks_type_protected_seq_namespace_idx\" \
                    ON \"externalnetworks\" (\"type\", \"protected\", \"_seq\", \"namespace\")";
        let count = "CREATE INDEX IF NOT EXISTS \"externalnetworks_type_protected_namespace_idx\" \
                     ON \"externalnetworks\" (\"type\", \"protected\", \"namespace\")";
        let postgres = first_start(Dialect::Postgres);
        assert!(postgres.iter().any(|s| s == list));
        assert!(postgres.iter().any(|s| s == count));
        let sqlite = first_start(Dialect::Sqlite);
        assert!(sqlite.iter().any(|s| s == list));
        assert!(!sqlite.iter().any(|s| s == count));
        assert!(
            !sqlite
                .iter()
                .any(|s| s.contains("namespaces_name_type_namespace_idx"))
        );
    }
}
