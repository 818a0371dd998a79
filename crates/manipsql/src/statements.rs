//! The statements of each manipulation, built from the context: visibility (namespace, parent),
//! filter, order, pagination.

use elemental::filter::{Comparator, Filter};
use elemental::namespace::namespace_ancestors;
use manipulate::{FieldValue, Fields, ManipulateError, StoreContext};

use crate::codec::RowBuilder;
use crate::filter::compile;
pub use crate::schema::SEQUENCE;
use crate::schema::{Column, TableSchema};
use crate::sql::{Dialect, Sql, SqlValue, quote};

/// The table of idempotency keys.
pub const IDEMPOTENCY_TABLE: &str = "_apiserver_idempotency";
/// The table recording the columns added so far.
pub const SCHEMA_TABLE: &str = "_apiserver_schema";

fn id_column() -> String {
    quote(manipulate::query::ID)
}

/// The columns read back, in schema order (built once per table and dialect).
pub fn read_list(table: &TableSchema, dialect: Dialect) -> &str {
    let slot = match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1,
    };
    table.texts.read_lists[slot].get_or_init(|| {
        table
            .columns
            .iter()
            .map(|c| dialect.read_column(&c.name, c.kind))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Appends the namespace and parent conditions: the object is in the context's namespace (or
/// below when recursive, or a propagating ancestor's when propagated) and under its parent.
pub fn visibility(table: &TableSchema, ctx: &StoreContext, sql: &mut Sql) {
    visibility_with(table, ctx, SubtreeTest::Exact, sql);
}

/// How a recursive namespace condition is written. Each form selects the same rows as
/// [`SubtreeTest::Exact`] in a table that meets its condition (see [`count`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubtreeTest {
    /// The namespace's range, less the texts in it that are not below it (`/a-b` in `[/a, /a0)`).
    Exact,
    /// The namespace's range alone: exact when no row's namespace lies between the namespace
    /// and its descendants (`/a-b` between `/a` and `/a/`).
    Range,
    /// No namespace condition: exact when every row of the table lies in the subtree.
    Omitted,
}

fn visibility_with(table: &TableSchema, ctx: &StoreContext, test: SubtreeTest, sql: &mut Sql) {
    sql.push(sql.dialect.true_literal());
    if table.has("namespace") && !ctx.namespace.is_empty() && test != SubtreeTest::Omitted {
        namespace_condition(table, ctx, test, sql);
    }
    if let (Some((_, parent_id)), true) = (&ctx.parent, table.has("parentID")) {
        sql.push(" AND (\"parentID\" IS NULL OR \"parentID\" = ")
            .push_param(SqlValue::Text(parent_id.clone()))
            .push(")");
    }
}

fn namespace_condition(table: &TableSchema, ctx: &StoreContext, test: SubtreeTest, sql: &mut Sql) {
    let namespace = ctx.namespace.as_str();
    if ctx.recursive && namespace == "/" {
        return;
    }
    let own = sql.param(SqlValue::Text(namespace.to_string()));
    let condition = match (ctx.recursive, test) {
        // The namespace and its descendants, /a and the texts in [/a/, /a0) ('0' follows '/'),
        // as one indexed range [/a, /a0) that drops its other texts (/a-b, /a.b): a composite
        // index that ends with the namespace serves the whole condition, and no LIKE pattern
        // needs escaping. The descendants' test comes first: most rows of a recursive list
        // are below the namespace, and a count then compares each one once less.
        (true, SubtreeTest::Exact) => {
            let (below, end) = subtree_bounds(namespace);
            let below = sql.param(SqlValue::Text(below));
            let end = sql.param(SqlValue::Text(end));
            format!(
                "(\"namespace\" >= {own} AND \"namespace\" < {end} AND (\"namespace\" >= {below} OR \"namespace\" = {own}))"
            )
        }
        (true, _) => {
            let end = sql.param(SqlValue::Text(subtree_bounds(namespace).1));
            format!("(\"namespace\" >= {own} AND \"namespace\" < {end})")
        }
        (false, _) => format!("\"namespace\" = {own}"),
    };
    sql.push(" AND (").push(&condition);
    let ancestors = match ctx.propagated && table.has("propagate") {
        true => namespace_ancestors(namespace),
        false => Vec::new(),
    };
    if !ancestors.is_empty() {
        sql.push(" OR (\"propagate\" = ")
            .push_param(SqlValue::Bool(true))
            .push(" AND \"namespace\" IN (");
        for (i, ancestor) in ancestors.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push_param(SqlValue::Text((*ancestor).to_string()));
        }
        sql.push("))");
    }
    sql.push(")");
}

/// Where the descendants of `namespace` begin and where its range ends: its texts below it are
/// those in `[namespace/, namespace0)`, as '0' follows '/'.
fn subtree_bounds(namespace: &str) -> (String, String) {
    (format!("{namespace}/"), format!("{namespace}0"))
}

/// Appends `WHERE` with visibility and the filter.
pub fn where_clause(table: &TableSchema, ctx: &StoreContext, sql: &mut Sql) {
    where_clause_with(table, ctx, SubtreeTest::Exact, sql);
}

fn where_clause_with(table: &TableSchema, ctx: &StoreContext, test: SubtreeTest, sql: &mut Sql) {
    sql.push(" WHERE ");
    visibility_with(table, ctx, test, sql);
    if let Some(filter) = &ctx.filter {
        sql.push(" AND ");
        compile(filter, table, sql);
    }
}

/// One key of an order: a scalar column, going up or down.
struct OrderKey<'a> {
    column: &'a Column,
    descending: bool,
}

/// The context's order keys that the table can sort by (scalar attributes; `-name` is
/// descending); insertion order follows them.
fn order_keys<'a>(table: &'a TableSchema, ctx: &StoreContext) -> Vec<OrderKey<'a>> {
    ctx.order
        .iter()
        .filter_map(|key| {
            let (descending, name) = match key.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, key.as_str()),
            };
            let column = table.column(name).filter(|c| c.kind.is_scalar())?;
            Some(OrderKey { column, descending })
        })
        .collect()
}

/// The `ORDER BY` list: the context's scalar attributes (`-name` descending; nulls first going
/// up, last going down, as the in-memory backend), then insertion order.
pub fn order_list(table: &TableSchema, ctx: &StoreContext) -> String {
    let mut keys: Vec<String> = order_keys(table, ctx)
        .iter()
        .map(|key| {
            let column = quote(&key.column.name);
            if key.descending {
                format!("{column} DESC NULLS LAST")
            } else {
                format!("{column} ASC NULLS FIRST")
            }
        })
        .collect();
    keys.push(format!("{SEQUENCE} ASC"));
    keys.join(", ")
}

/// How much of a table a query reads: a backend may run a one-row read where a longer one would
/// hold up other work (SQLite runs it on the request's thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// At most one row, found through a unique index.
    OneRow,
    /// Any number of rows.
    Rows,
}

/// The reach of a query with the context's conditions: one row when they pin every column of
/// a unique index (the `ID`, or one of the specs' unique indexes) to a value, through the
/// namespace (not recursive, not propagated) and the filter's `==` clauses (alone or joined by
/// `and`).
pub fn reach(table: &TableSchema, ctx: &StoreContext) -> Reach {
    let mut pinned: Vec<&str> = Vec::new();
    if table.has("namespace") && !ctx.namespace.is_empty() && !ctx.recursive && !ctx.propagated {
        pinned.push("namespace");
    }
    let clauses = match &ctx.filter {
        Some(Filter::And(all)) => all.as_slice(),
        Some(one) => std::slice::from_ref(one),
        None => &[],
    };
    for clause in clauses {
        if let Filter::Comparison(c) = clause {
            if c.comparator == Comparator::Equal && c.value.is_some() {
                pinned.push(&c.key);
            }
        }
    }
    let is_pinned = |column: &String| pinned.contains(&column.as_str());
    let unique_pinned = table
        .indexes
        .iter()
        .any(|index| index.unique && index.columns.iter().all(is_pinned));
    if pinned.contains(&manipulate::query::ID) || unique_pinned {
        Reach::OneRow
    } else {
        Reach::Rows
    }
}

/// `SELECT COUNT(*)` of the matching objects.
///
/// A count below a namespace, recursive, tests each row it reads. When no other namespace lies
/// between the namespace and its descendants (`/a-b` between `/a` and `/a/`), the namespace's
/// range alone selects the same rows; when the whole table lies in the subtree, no test does.
/// Probes of the namespace index, one lookup each, tell which applies, and the count runs in
/// the cheapest form, in one statement: the probes and the count see the same rows.
pub fn count(table: &TableSchema, ctx: &StoreContext, dialect: Dialect) -> Sql {
    let subtree = table.has("namespace")
        && ctx.recursive
        && !ctx.namespace.is_empty()
        && ctx.namespace != "/";
    let mut sql = Sql::new(dialect);
    match subtree {
        true => push_subtree_count(table, ctx, &mut sql),
        false => push_count(table, ctx, SubtreeTest::Exact, &mut sql),
    }
    sql
}

fn push_count(table: &TableSchema, ctx: &StoreContext, test: SubtreeTest, sql: &mut Sql) {
    sql.push(&format!("SELECT COUNT(*) FROM {}", quote(&table.table)));
    where_clause_with(table, ctx, test, sql);
}

/// The count of [`count`] below a namespace, recursive: the exact test when some row lies
/// between the namespace and its descendants, the range when some row lies outside the range
/// (or has no namespace), else none.
fn push_subtree_count(table: &TableSchema, ctx: &StoreContext, sql: &mut Sql) {
    let name = quote(&table.table);
    let namespace = ctx.namespace.as_str();
    let (below, end) = subtree_bounds(namespace);
    let own = sql.param(SqlValue::Text(namespace.to_string()));
    let below = sql.param(SqlValue::Text(below));
    let end = sql.param(SqlValue::Text(end));
    let any = |condition: String| format!("EXISTS (SELECT 1 FROM {name} WHERE {condition})");
    let between = any(format!("\"namespace\" > {own} AND \"namespace\" < {below}"));
    let outside = [
        format!("\"namespace\" < {own}"),
        format!("\"namespace\" >= {end}"),
        "\"namespace\" IS NULL".to_string(),
    ]
    .map(any)
    .join(" OR ");
    sql.push(&format!("SELECT CASE WHEN {between} THEN ("));
    push_count(table, ctx, SubtreeTest::Exact, sql);
    sql.push(&format!(") WHEN {outside} THEN ("));
    push_count(table, ctx, SubtreeTest::Range, sql);
    sql.push(") ELSE (");
    push_count(table, ctx, SubtreeTest::Omitted, sql);
    sql.push(") END");
}

/// Counts the matching objects, stopping at `most`: a count that reads no more than `most`
/// matching rows.
pub fn count_at_most(table: &TableSchema, ctx: &StoreContext, dialect: Dialect, most: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {}",
        quote(&table.table)
    ));
    where_clause(table, ctx, &mut sql);
    sql.push(" LIMIT ")
        .push_param(SqlValue::Int(clamp(most)))
        .push(") AS _matches");
    sql
}

/// Estimates how many objects match from `samples` random probes of the insertion sequence:
/// the span of sequence numbers times the share of probes that land on a matching row (a
/// deleted row's number is a probe that does not match). Each probe is one primary-key
/// lookup, so the cost does not grow with the table; the relative error is about
/// `sqrt((1 - p) / (samples * p))` for a share `p` of matching rows.
pub fn estimated_count(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    samples: u32,
) -> Sql {
    let name = quote(&table.table);
    // Two subqueries: SQLite reads a lone MIN or MAX from the end of the key, but scans the
    // table for both in one SELECT.
    let bounds = format!(
        "_ends(_lo, _hi) AS (SELECT (SELECT MIN({SEQUENCE}) FROM {name}), \
         (SELECT MAX({SEQUENCE}) FROM {name})), \
         _bounds(_lo, _span) AS (SELECT _lo, _hi - _lo + 1 FROM _ends)"
    );
    // Sampling with replacement: a number may come twice, as each probe is independent.
    let probes = match dialect {
        Dialect::Sqlite => format!(
            "WITH RECURSIVE {bounds}, _probes(_n, _probe) AS (\
             SELECT 1, _lo + ABS(RANDOM() % _span) FROM _bounds \
             UNION ALL SELECT _n + 1, _lo + ABS(RANDOM() % _span) FROM _probes, _bounds \
             WHERE _n < {samples})"
        ),
        Dialect::Postgres => format!(
            "WITH {bounds}, _probes(_probe) AS (\
             SELECT _lo + FLOOR(RANDOM() * _span)::BIGINT FROM _bounds, \
             generate_series(1, {samples}))"
        ),
    };
    // One correlated lookup per probe, by primary key: written as a join, both planners would
    // rather scan the matching rows once the filter has an index (a hash join over the set).
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "{probes} SELECT COALESCE((SELECT _span FROM _bounds), 0) * COUNT(*) / {samples} \
         FROM _probes WHERE (SELECT 1 FROM {name}"
    ));
    where_clause(table, ctx, &mut sql);
    sql.push(&format!(
        " AND {name}.{SEQUENCE} = _probes._probe LIMIT 1) IS NOT NULL"
    ));
    sql
}

/// Counts the matching objects with that id (to check a cursor).
pub fn count_cursor(table: &TableSchema, ctx: &StoreContext, dialect: Dialect, after: &str) -> Sql {
    let mut sql = Sql::new(dialect);
    push_count(table, ctx, SubtreeTest::Exact, &mut sql);
    sql.push(&format!(" AND {} = ", id_column()))
        .push_param(SqlValue::Text(after.to_string()));
    sql
}

/// The matching objects, ordered, limited to `limit` (and skipping `offset`) when given.
pub fn select(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    limit: Option<u64>,
    offset: u64,
) -> Sql {
    let mut sql = select_matching(table, ctx, dialect);
    sql.push(&format!(" ORDER BY {}", order_list(table, ctx)));
    push_limit(&mut sql, limit, offset);
    sql
}

/// `SELECT` of the read columns of the objects matching the context, unordered.
fn select_matching(table: &TableSchema, ctx: &StoreContext, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "SELECT {} FROM {}",
        read_list(table, dialect),
        quote(&table.table)
    ));
    where_clause(table, ctx, &mut sql);
    sql
}

fn push_limit(sql: &mut Sql, limit: Option<u64>, offset: u64) {
    if let Some(limit) = limit {
        sql.push(" LIMIT ").push_param(SqlValue::Int(clamp(limit)));
        if offset > 0 {
            sql.push(" OFFSET ")
                .push_param(SqlValue::Int(clamp(offset)));
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The matching objects that follow the object `after` in order. In insertion order or by one
/// key, a keyset query: it starts from the cursor's position in the order and reads no object
/// before it. By several keys, the objects are numbered in order and those past the cursor's
/// number are kept.
pub fn select_after(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    after: &str,
    limit: Option<u64>,
) -> Sql {
    match order_keys(table, ctx).as_slice() {
        [] => keyset_after(table, ctx, dialect, after, limit, None),
        [key] => keyset_after(table, ctx, dialect, after, limit, Some(key)),
        _ => numbered_after(table, ctx, dialect, after, limit),
    }
}

/// The objects after the cursor's row, for an order by `key` (or insertion order alone), with
/// the nulls where [`order_list`] puts them. The cursor row's key and sequence are scalar
/// subqueries by its ID: values the planner has before the scan, so the scan starts at the
/// cursor (as a join, PostgreSQL read the table from its start and compared every row with the
/// cursor's).
fn keyset_after(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    after: &str,
    limit: Option<u64>,
    key: Option<&OrderKey<'_>>,
) -> Sql {
    let mut sql = select_matching(table, ctx, dialect);
    // One parameter, its placeholder used by every subquery.
    let cursor = sql.param(SqlValue::Text(after.to_string()));
    let of_cursor = |column: &str| {
        format!(
            "(SELECT {column} FROM {} WHERE {} = {cursor})",
            quote(&table.table),
            id_column()
        )
    };
    let later = format!("{SEQUENCE} > {}", of_cursor(SEQUENCE));
    let after_cursor = match key {
        None => later,
        Some(key) => {
            let k = quote(&key.column.name);
            let ck = of_cursor(&k);
            if key.descending {
                // k DESC NULLS LAST: smaller keys, then the nulls.
                format!(
                    "(({ck} IS NULL AND {k} IS NULL AND {later}) OR ({ck} IS NOT NULL AND ({k} < {ck} OR ({k} = {ck} AND {later}) OR {k} IS NULL)))"
                )
            } else {
                // k ASC NULLS FIRST: the nulls, then greater keys.
                format!(
                    "(({ck} IS NULL AND ({k} IS NOT NULL OR {later})) OR {k} > {ck} OR ({k} = {ck} AND {later}))"
                )
            }
        }
    };
    sql.push(&format!(
        " AND {after_cursor} ORDER BY {}",
        order_list(table, ctx)
    ));
    push_limit(&mut sql, limit, 0);
    sql
}

/// The objects after the cursor, by their number in the order (any number of keys).
fn numbered_after(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    after: &str,
    limit: Option<u64>,
) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "WITH m AS (SELECT *, ROW_NUMBER() OVER (ORDER BY {}) AS _rn FROM {}",
        order_list(table, ctx),
        quote(&table.table)
    ));
    where_clause(table, ctx, &mut sql);
    sql.push(&format!(
        ") SELECT {} FROM m WHERE _rn > (SELECT _rn FROM m WHERE {} = ",
        read_list(table, dialect),
        id_column()
    ))
    .push_param(SqlValue::Text(after.to_string()))
    .push(") ORDER BY _rn");
    push_limit(&mut sql, limit, 0);
    sql
}

/// One object by id, if visible.
pub fn select_one(table: &TableSchema, ctx: &StoreContext, dialect: Dialect, id: &str) -> Sql {
    let columns = read_list(table, dialect);
    // Every read by ID builds this statement: its text is written in one buffer, with room
    // for the column list and the usual conditions.
    let mut sql = Sql::with_capacity(dialect, columns.len() + 256);
    sql.push("SELECT ")
        .push(columns)
        .push(" FROM ")
        .push_quoted(&table.table)
        .push(" WHERE ")
        .push_quoted(manipulate::query::ID)
        .push(" = ")
        .push_param(SqlValue::Text(id.to_string()))
        .push(" AND ");
    visibility(table, ctx, &mut sql);
    sql
}

/// Claims an idempotency key for `id` (does nothing when the key is taken).
pub fn claim_key(table: &TableSchema, dialect: Dialect, key: &str, id: &str) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "INSERT INTO {IDEMPOTENCY_TABLE} (table_name, idempotency_key, object_id) VALUES ("
    ))
    .push_param(SqlValue::Text(table.table.clone()))
    .push(", ")
    .push_param(SqlValue::Text(key.to_string()))
    .push(", ")
    .push_param(SqlValue::Text(id.to_string()))
    .push(") ON CONFLICT DO NOTHING");
    sql
}

/// The id an idempotency key was claimed for.
pub fn key_owner(table: &TableSchema, dialect: Dialect, key: &str) -> Sql {
    let mut sql = Sql::new(dialect);
    push_key_owner(&mut sql, table, key);
    sql
}

/// Appends the query of the id an idempotency key was claimed for.
fn push_key_owner(sql: &mut Sql, table: &TableSchema, key: &str) {
    sql.push(&format!(
        "SELECT object_id FROM {IDEMPOTENCY_TABLE} WHERE table_name = "
    ))
    .push_param(SqlValue::Text(table.table.clone()))
    .push(" AND idempotency_key = ")
    .push_param(SqlValue::Text(key.to_string()));
}

/// The values to store for an object, one per column, in column order; `id` is the ID
/// column's.
pub fn row_values(
    table: &TableSchema,
    object: &dyn Fields,
    id: &str,
) -> Result<Vec<SqlValue>, ManipulateError> {
    let mut row = RowBuilder::new(&table.columns);
    object.write_fields(&mut row)?;
    row.set(manipulate::query::ID, FieldValue::Text(id))?;
    Ok(row.finish())
}

/// `INSERT INTO "table" ("ID", ...) ` (built once per table).
fn insert_head(table: &TableSchema) -> &str {
    table.texts.insert_head.get_or_init(|| {
        let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
        format!(
            "INSERT INTO {} ({}) ",
            quote(&table.table),
            names.join(", ")
        )
    })
}

/// Inserts a row (`values` in column order); with a key, only if the key was claimed for the
/// object `id`. Nothing is returned: the caller counts the rows inserted.
pub fn insert(
    table: &TableSchema,
    dialect: Dialect,
    values: Vec<SqlValue>,
    id: &str,
    key: Option<&str>,
) -> Sql {
    let mut sql = Sql::new(dialect);
    // A single-row VALUES insert needs no statement journal in SQLite; the keyed insert is a
    // SELECT, for its condition.
    sql.push(insert_head(table))
        .push(if key.is_some() { "SELECT " } else { "VALUES (" });
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push_param(value);
    }
    match key {
        None => {
            sql.push(")");
        }
        Some(key) => {
            sql.push(" WHERE (");
            push_key_owner(&mut sql, table, key);
            sql.push(") = ").push_param(SqlValue::Text(id.to_string()));
        }
    }
    sql
}

/// Replaces the visible object `id` with a row of `values` (in column order; the id stays).
/// Nothing is returned: the caller counts the rows changed.
pub fn update(
    table: &TableSchema,
    ctx: &StoreContext,
    dialect: Dialect,
    id: &str,
    values: Vec<SqlValue>,
) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!("UPDATE {} SET ", quote(&table.table)));
    let mut first = true;
    for (column, value) in table.columns.iter().zip(values) {
        if column.name == manipulate::query::ID {
            continue;
        }
        if !first {
            sql.push(", ");
        }
        first = false;
        sql.push(&format!("{} = ", quote(&column.name)))
            .push_param(value);
    }
    sql.push(&format!(" WHERE {} = ", id_column()))
        .push_param(SqlValue::Text(id.to_string()))
        .push(" AND ");
    visibility(table, ctx, &mut sql);
    sql
}

/// Deletes the visible object `id`, returning it.
pub fn delete_one(table: &TableSchema, ctx: &StoreContext, dialect: Dialect, id: &str) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!(
        "DELETE FROM {} WHERE {} = ",
        quote(&table.table),
        id_column()
    ))
    .push_param(SqlValue::Text(id.to_string()))
    .push(" AND ");
    visibility(table, ctx, &mut sql);
    sql.push(&format!(" RETURNING {}", read_list(table, dialect)));
    sql
}

/// Deletes every matching object.
pub fn delete_many(table: &TableSchema, ctx: &StoreContext, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(&format!("DELETE FROM {}", quote(&table.table)));
    where_clause(table, ctx, &mut sql);
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ColumnKind, test_table};

    fn table() -> TableSchema {
        test_table(&[
            ("ID", ColumnKind::Text),
            ("namespace", ColumnKind::Text),
            ("propagate", ColumnKind::Boolean),
            ("name", ColumnKind::Text),
        ])
    }

    #[test]
    fn a_read_by_id_selects_the_object_in_its_namespace_or_a_propagating_ancestor() {
        let mut ctx = StoreContext::in_namespace("/a/b");
        let sql = select_one(&table(), &ctx, Dialect::Sqlite, "x1");
        assert_eq!(
            sql.text,
            "SELECT \"ID\", \"namespace\", \"propagate\", \"name\" FROM \"things\" WHERE \"ID\" = ?1 AND 1 AND (\"namespace\" = ?2)"
        );
        assert_eq!(
            sql.params,
            vec![SqlValue::Text("x1".into()), SqlValue::Text("/a/b".into())]
        );
        ctx.propagated = true;
        let sql = select_one(&table(), &ctx, Dialect::Sqlite, "x1");
        assert_eq!(
            sql.text,
            "SELECT \"ID\", \"namespace\", \"propagate\", \"name\" FROM \"things\" WHERE \"ID\" = ?1 AND 1 AND (\"namespace\" = ?2 OR (\"propagate\" = ?3 AND \"namespace\" IN (?4, ?5)))"
        );
        assert_eq!(
            sql.params[2..],
            [
                SqlValue::Bool(true),
                SqlValue::Text("/a".into()),
                SqlValue::Text("/".into())
            ]
        );
    }

    #[test]
    fn recursive_namespaces_are_a_range() {
        let mut ctx = StoreContext::in_namespace("/a");
        ctx.recursive = true;
        let mut sql = Sql::new(Dialect::Sqlite);
        where_clause(&table(), &ctx, &mut sql);
        assert_eq!(
            sql.text,
            " WHERE 1 AND ((\"namespace\" >= ?1 AND \"namespace\" < ?3 AND (\"namespace\" >= ?2 OR \"namespace\" = ?1)))"
        );
        assert_eq!(
            sql.params,
            vec![
                SqlValue::Text("/a".into()),
                SqlValue::Text("/a/".into()),
                SqlValue::Text("/a0".into())
            ]
        );
    }

    #[test]
    fn a_recursive_count_tests_the_namespace_only_where_the_table_needs_it() {
        let mut ctx = StoreContext::in_namespace("/a");
        ctx.recursive = true;
        let sql = count(&table(), &ctx, Dialect::Sqlite);
        let t = "\"things\"";
        let exists = |condition: &str| format!("EXISTS (SELECT 1 FROM {t} WHERE {condition})");
        assert_eq!(
            sql.text,
            [
                format!(
                    "SELECT CASE WHEN {} THEN (",
                    exists("\"namespace\" > ?1 AND \"namespace\" < ?2")
                ),
                format!("SELECT COUNT(*) FROM {t} WHERE 1 AND ((\"namespace\" >= ?4 AND \"namespace\" < ?6 AND (\"namespace\" >= ?5 OR \"namespace\" = ?4)))"),
                format!(
                    ") WHEN {} OR {} OR {} THEN (",
                    exists("\"namespace\" < ?1"),
                    exists("\"namespace\" >= ?3"),
                    exists("\"namespace\" IS NULL")
                ),
                format!("SELECT COUNT(*) FROM {t} WHERE 1 AND ((\"namespace\" >= ?7 AND \"namespace\" < ?8))"),
                format!(") ELSE (SELECT COUNT(*) FROM {t} WHERE 1) END"),
            ]
            .concat()
        );
        let texts = ["/a", "/a/", "/a0", "/a", "/a/", "/a0", "/a", "/a0"];
        let expected: Vec<SqlValue> = texts
            .iter()
            .map(|t| SqlValue::Text(t.to_string()))
            .collect();
        assert_eq!(sql.params, expected);
        // A count in one namespace, or below the root, needs no probe.
        let sql = count(&table(), &StoreContext::in_namespace("/a"), Dialect::Sqlite);
        assert_eq!(
            sql.text,
            "SELECT COUNT(*) FROM \"things\" WHERE 1 AND (\"namespace\" = ?1)"
        );
        ctx.namespace = "/".to_string();
        let sql = count(&table(), &ctx, Dialect::Sqlite);
        assert_eq!(sql.text, "SELECT COUNT(*) FROM \"things\" WHERE 1");
    }

    #[test]
    fn propagation_reads_ancestors() {
        let mut ctx = StoreContext::in_namespace("/a/b");
        ctx.propagated = true;
        let sql = count(&table(), &ctx, Dialect::Postgres);
        assert!(
            sql.text.ends_with(
                "(\"namespace\" = $1::text OR (\"propagate\" = $2::bool AND \"namespace\" IN ($3::text, $4::text)))"
            ),
            "{}",
            sql.text
        );
    }

    #[test]
    fn order_skips_unknown_attributes() {
        let ctx = StoreContext {
            order: vec!["-name".into(), "nope".into()],
            ..StoreContext::default()
        };
        assert_eq!(
            order_list(&table(), &ctx),
            "\"name\" DESC NULLS LAST, _seq ASC"
        );
    }

    #[test]
    fn a_query_pinning_a_unique_index_reads_one_row() {
        let mut table = table();
        table.indexes.push(crate::schema::TableIndex {
            name: "things_namespace_name_uniq".into(),
            columns: vec!["namespace".into(), "name".into()],
            key: vec!["namespace".into(), "name".into()],
            unique: true,
        });
        let with = |namespace: &str, recursive: bool, filter: &str| {
            let mut ctx = StoreContext::in_namespace(namespace);
            ctx.recursive = recursive;
            if !filter.is_empty() {
                ctx = ctx.with_filter(Filter::parse(filter).unwrap());
            }
            reach(&table, &ctx)
        };
        assert_eq!(with("/a", false, "name == web"), Reach::OneRow);
        assert_eq!(
            with("/a", false, "name == web and propagate == true"),
            Reach::OneRow
        );
        assert_eq!(with("", false, "ID == x"), Reach::OneRow);
        assert_eq!(
            with("/a", true, "name == web"),
            Reach::Rows,
            "recursive: a range"
        );
        assert_eq!(with("/a", false, "name != web"), Reach::Rows);
        assert_eq!(with("/a", false, "name == web or name == api"), Reach::Rows);
        assert_eq!(with("/a", false, ""), Reach::Rows);
    }
}
