//! The tables of a model: one per identity, one typed column per stored, exposed attribute.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use elemental::{AttributeType, Identity, ModelManager};

use crate::SqlError;

/// The column keeping insertion order.
pub const SEQUENCE: &str = "_seq";

/// How an attribute is kept in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `string` and `enum`: text, compared byte-wise.
    Text,
    /// `integer`: 64-bit integer.
    Integer,
    /// `float`: double precision.
    Float,
    /// `boolean`.
    Boolean,
    /// `time`: fixed-width UTC text (`2006-01-02T15:04:05.000000000Z`), so that text order is
    /// time order.
    Time,
    /// `list` of scalars: a JSON array whose elements filters look into.
    List,
    /// `object`, `ref`, `refList`, `refMap`, `external`: JSON, only `exists` filters apply.
    Json,
}

impl ColumnKind {
    /// The kind of an attribute type.
    pub fn of(attribute_type: AttributeType) -> Self {
        match attribute_type {
            AttributeType::String | AttributeType::Enum => Self::Text,
            AttributeType::Integer => Self::Integer,
            AttributeType::Float => Self::Float,
            AttributeType::Boolean => Self::Boolean,
            AttributeType::Time => Self::Time,
            AttributeType::List => Self::List,
            AttributeType::Object
            | AttributeType::Ref
            | AttributeType::RefList
            | AttributeType::RefMap
            | AttributeType::External => Self::Json,
        }
    }

    /// The name recorded in the schema table.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Time => "time",
            Self::List => "list",
            Self::Json => "json",
        }
    }

    /// True for the kinds that can be ordered and indexed.
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Self::List | Self::Json)
    }
}

/// The kind of the elements of a list column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    /// Strings (and anything else, compared as text).
    Text,
    /// Numbers.
    Number,
}

/// One column: an attribute as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The attribute name, as on the wire and in the documents (`ID`, `createTime`).
    pub name: String,
    /// How it is stored.
    pub kind: ColumnKind,
    /// For lists: the kind of the elements.
    pub element: ElementKind,
    /// Indexed: identifier, filterable or orderable scalar.
    pub indexed: bool,
}

/// The table of one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The identity stored.
    pub identity: Identity,
    /// The table name: the identity's category (`externalnetworks`).
    pub table: String,
    /// The attribute columns, in spec order.
    pub columns: Vec<Column>,
    /// The indexes of the specs (`indexes`), over scalar columns.
    pub indexes: Vec<TableIndex>,
    /// Statement texts that are the same in every statement of the table, built the first
    /// time one needs them.
    pub(crate) texts: TableTexts,
}

/// The cached statement texts of a table. A cache: two tables compare equal whatever their
/// caches hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableTexts {
    /// The column list of a read (`"ID", "name", ...`), one slot per SQL dialect.
    pub(crate) read_lists: [OnceLock<String>; 2],
    /// The start of an insert: `INSERT INTO "table" ("ID", ...) `.
    pub(crate) insert_head: OnceLock<String>,
    /// The attribute names of the columns, shared by the rows read.
    pub(crate) names: OnceLock<Arc<[String]>>,
}

impl PartialEq for TableTexts {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for TableTexts {}

/// An index the specs ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableIndex {
    /// The index name: `<table>_<key column>_..._idx` (`_uniq` for unique ones).
    pub name: String,
    /// The spec's attributes, in order.
    pub columns: Vec<String>,
    /// The columns of the index key: the attributes, then, for a non-unique index of a
    /// namespaced table that does not name the namespace, the insertion sequence and the
    /// namespace, so that a list's page walks the matches in insertion order and a count
    /// checks the namespace from the index alone.
    pub key: Vec<String>,
    /// No two rows may share the values of all the columns.
    pub unique: bool,
}

/// The key of a spec index. A list is read in insertion order within a namespace (and its
/// descendants), so a non-unique index of a namespaced table that does not name the namespace
/// ends with `_seq, namespace`: equality on its attributes then walks the matches in list order
/// (a page needs no sort) and checks the namespace from the index alone (a count reads no row).
fn index_key(attributes: &[&str], unique: bool, namespaced: bool) -> Vec<String> {
    let mut key: Vec<String> = attributes.iter().map(|a| a.to_string()).collect();
    if namespaced && !unique && !attributes.contains(&"namespace") {
        key.push(SEQUENCE.to_string());
        key.push("namespace".to_string());
    }
    key
}

impl TableIndex {
    /// What a client is told when a write breaks this unique index.
    pub fn violation(&self) -> String {
        format!("another object has the same {}", self.columns.join(" and "))
    }

    /// On PostgreSQL, the index that counts this list index's matches: the spec's attributes and
    /// the namespace, without the insertion sequence (`<table>_<a>_<b>_namespace_idx`). Without
    /// the sequence, every entry of one namespace has the same key, and PostgreSQL's B-tree keeps
    /// equal keys once with the list of their rows (up to a few hundred per entry): a fraction
    /// of the list index's size, so a count walks fewer pages, compares a key once for many
    /// rows, and has the namespace's range bound the walk. `None` for an index that is not a
    /// list index (unique, or naming the namespace, or of a table without namespaces).
    pub fn count_index(&self, table: &str) -> Option<TableIndex> {
        if self.unique
            || !self
                .key
                .ends_with(&[SEQUENCE.to_string(), "namespace".to_string()])
        {
            return None;
        }
        let mut key = self.columns.clone();
        key.push("namespace".to_string());
        Some(TableIndex {
            name: format!("{table}_{}_idx", key.join("_")),
            columns: key.clone(),
            key,
            unique: false,
        })
    }

    /// True when the database's message names this index: PostgreSQL names the index,
    /// SQLite lists its columns (`UNIQUE constraint failed: t.a, t.b`).
    pub fn named_in(&self, table: &str, message: &str) -> bool {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{table}.{c}"))
            .collect();
        message.contains(&format!("\"{}\"", self.name))
            || message.ends_with(&format!("failed: {}", columns.join(", ")))
    }
}

impl TableSchema {
    /// The column of an attribute.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// True when the table has a column for the attribute.
    pub fn has(&self, name: &str) -> bool {
        self.column(name).is_some()
    }

    /// The attribute names of the columns, in column order (built once, shared by every row
    /// read from the table).
    pub fn names(&self) -> Arc<[String]> {
        self.texts
            .names
            .get_or_init(|| self.columns.iter().map(|c| c.name.clone()).collect())
            .clone()
    }
}

/// The tables of every identity of a model.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: BTreeMap<&'static str, Arc<TableSchema>>,
}

/// Names used as SQL identifiers: letters, digits and `_`, not starting with a digit.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Schema {
    /// The tables of every identity of `manager` (but `root`).
    pub fn from_manager(manager: &dyn ModelManager) -> Result<Self, SqlError> {
        let mut tables = BTreeMap::new();
        for identity in manager.all_identities() {
            if identity.is_root() {
                continue;
            }
            let Some(object) = manager.new_identifiable(identity) else {
                continue;
            };
            let table = identity.category.to_string();
            if !is_plain_identifier(&table) || table.starts_with('_') {
                return Err(SqlError::Schema(format!(
                    "identity '{}': category '{table}' cannot name a table (letters, digits and '_' only)",
                    identity.name
                )));
            }
            let mut columns = Vec::new();
            for spec in object.attribute_specifications() {
                if !(spec.stored && spec.exposed) {
                    continue;
                }
                if !is_plain_identifier(spec.name) {
                    return Err(SqlError::Schema(format!(
                        "{}: attribute '{}' cannot name a column (letters, digits and '_' only)",
                        identity.name, spec.name
                    )));
                }
                let kind = ColumnKind::of(spec.attribute_type);
                let element = match spec.subtype {
                    "integer" | "float" => ElementKind::Number,
                    _ => ElementKind::Text,
                };
                columns.push(Column {
                    name: spec.name.to_string(),
                    kind,
                    element,
                    indexed: kind.is_scalar()
                        && (spec.identifier || spec.filterable || spec.orderable || spec.index),
                });
            }
            let indexes = spec_indexes(identity.name, &table, object.indexes(), &columns)?;
            if !columns.iter().any(|c| c.name == manipulate::query::ID) {
                return Err(SqlError::Schema(format!(
                    "identity '{}' has no stored attribute 'ID'",
                    identity.name
                )));
            }
            tables.insert(
                identity.name,
                Arc::new(TableSchema {
                    identity: *identity,
                    table,
                    columns,
                    indexes,
                    texts: Default::default(),
                }),
            );
        }
        Ok(Self { tables })
    }

    /// The table of an identity.
    pub fn table(&self, identity: Identity) -> Result<Arc<TableSchema>, SqlError> {
        self.tables
            .get(identity.name)
            .cloned()
            .ok_or_else(|| SqlError::Schema(format!("no table for identity '{}'", identity.name)))
    }

    /// Every table.
    pub fn tables(&self) -> impl Iterator<Item = &TableSchema> {
        self.tables.values().map(|t| t.as_ref())
    }
}

/// The indexes of the specs as table indexes; an index over a column that is not a stored
/// scalar stops the start.
fn spec_indexes(
    identity: &str,
    table: &str,
    specs: &[elemental::IndexSpecification],
    columns: &[Column],
) -> Result<Vec<TableIndex>, SqlError> {
    let namespaced = columns.iter().any(|c| c.name == "namespace");
    specs
        .iter()
        .map(|spec| {
            for name in spec.attributes {
                match columns.iter().find(|c| c.name == *name) {
                    Some(c) if c.kind.is_scalar() => {}
                    _ => {
                        return Err(SqlError::Schema(format!(
                            "{identity}: index on '{name}': only stored scalar attributes can be indexed"
                        )));
                    }
                }
            }
            let suffix = if spec.unique { "uniq" } else { "idx" };
            let key = index_key(spec.attributes, spec.unique, namespaced);
            let named: Vec<&str> = key.iter().map(|c| c.trim_start_matches('_')).collect();
            Ok(TableIndex {
                name: format!("{table}_{}_{suffix}", named.join("_")),
                columns: spec.attributes.iter().map(|a| a.to_string()).collect(),
                key,
                unique: spec.unique,
            })
        })
        .collect()
}

/// A table for unit tests: `things` with the given (name, kind) columns, text list elements.
#[cfg(test)]
pub(crate) fn test_table(columns: &[(&str, ColumnKind)]) -> TableSchema {
    TableSchema {
        identity: Identity::new("thing", "things"),
        table: "things".into(),
        columns: columns
            .iter()
            .map(|(name, kind)| Column {
                name: (*name).into(),
                kind: *kind,
                element: ElementKind::Text,
                indexed: false,
            })
            .collect(),
        indexes: Vec::new(),
        texts: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespaced_list_index_ends_with_the_sequence_and_the_namespace() {
        let schema = Schema::from_manager(gaia::model::manager()).unwrap();
        let networks = schema
            .tables()
            .find(|t| t.table == "externalnetworks")
            .unwrap();
        let keys: Vec<(&str, Vec<&str>)> = networks
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.key.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (
                    "externalnetworks_namespace_type_idx",
                    vec!["namespace", "type"]
                ),
                (
                    "externalnetworks_type_protected_seq_namespace_idx",
                    vec!["type", "protected", "_seq", "namespace"]
                ),
            ]
        );
        let namespaces = schema.tables().find(|t| t.table == "namespaces").unwrap();
        let unique = namespaces.indexes.iter().find(|i| i.unique).unwrap();
        assert_eq!(unique.key, vec!["namespace", "name"]);
    }

    #[test]
    fn a_list_index_has_a_count_index_without_the_sequence() {
        let schema = Schema::from_manager(gaia::model::manager()).unwrap();
        let counts = |table: &str| -> Vec<(String, Vec<String>)> {
            let table = schema.tables().find(|t| t.table == table).unwrap();
            table
                .indexes
                .iter()
                .filter_map(|i| i.count_index(&table.table))
                .map(|i| (i.name, i.key))
                .collect()
        };
        assert_eq!(
            counts("externalnetworks"),
            vec![(
                "externalnetworks_type_protected_namespace_idx".to_string(),
                vec![
                    "type".to_string(),
                    "protected".to_string(),
                    "namespace".to_string()
                ]
            )]
        );
        // `(name, type)` is a list index too; the unique `(namespace, name)` is not.
        assert_eq!(
            counts("namespaces"),
            vec![(
                "namespaces_name_type_namespace_idx".to_string(),
                vec![
                    "name".to_string(),
                    "type".to_string(),
                    "namespace".to_string()
                ]
            )]
        );
    }

    #[test]
    fn unique_indexes_come_from_the_specs_and_name_their_violations() {
        let schema = Schema::from_manager(gaia::model::manager()).unwrap();
        let namespaces = schema.tables().find(|t| t.table == "namespaces").unwrap();
        let unique = namespaces.indexes.iter().find(|i| i.unique).unwrap();
        assert_eq!(unique.name, "namespaces_namespace_name_uniq");
        assert_eq!(unique.columns, vec!["namespace", "name"]);
        assert_eq!(
            unique.violation(),
            "another object has the same namespace and name"
        );
        assert!(unique.named_in(
            "namespaces",
            "UNIQUE constraint failed: namespaces.namespace, namespaces.name"
        ));
        assert!(unique.named_in(
            "namespaces",
            "duplicate key value violates unique constraint \"namespaces_namespace_name_uniq\""
        ));
        assert!(!unique.named_in("namespaces", "UNIQUE constraint failed: namespaces.ID"));
    }
}
