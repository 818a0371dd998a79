//! Filters compiled to SQL conditions, with the matcher's semantics (see
//! `elemental::filter::Matcher`): a missing or null attribute satisfies only `not exists`, `!=`,
//! `not in` and `not contains`; on a list, a comparison holds when it holds for one element;
//! `contains` on a string is a substring test. Every value is a parameter.

use elemental::filter::{Comparator, Comparison, Filter, FilterValue};

use crate::codec::storage_time;
use crate::schema::{Column, ColumnKind, ElementKind, TableSchema};
use crate::sql::{Dialect, Sql, SqlValue, quote};

/// Appends the condition of `filter` on `table` to `sql`.
pub fn compile(filter: &Filter, table: &TableSchema, sql: &mut Sql) {
    match filter {
        Filter::Comparison(c) => comparison(c, table, sql),
        Filter::And(children) => join(children, " AND ", table, sql),
        Filter::Or(children) => join(children, " OR ", table, sql),
    }
}

/// Joins the conditions of `children` as a balanced tree of parentheses (`((a AND b) AND (c AND
/// d))`): the databases parse `a AND b AND c ...` as a chain as deep as it is long, and SQLite
/// refuses expressions deeper than 1,000.
fn join(children: &[Filter], conjunction: &str, table: &TableSchema, sql: &mut Sql) {
    match children {
        [only] => compile(only, table, sql),
        _ => {
            let (left, right) = children.split_at(children.len() / 2);
            sql.push("(");
            join(left, conjunction, table, sql);
            sql.push(conjunction);
            join(right, conjunction, table, sql);
            sql.push(")");
        }
    }
}

fn comparison(c: &Comparison, table: &TableSchema, sql: &mut Sql) {
    let negated = match c.comparator {
        Comparator::NotEqual => Some(Comparator::Equal),
        Comparator::NotIn => Some(Comparator::In),
        Comparator::NotContains => Some(Comparator::Contains),
        _ => None,
    };
    let Some(column) = table.column(&c.key) else {
        let holds = negated.is_some() || c.comparator == Comparator::NotExists;
        let dialect = sql.dialect;
        sql.push(literal(dialect, holds));
        return;
    };
    let name = quote(&column.name);
    match (c.comparator, negated) {
        (Comparator::Exists, _) => {
            sql.push(&format!("{name} IS NOT NULL"));
        }
        (Comparator::NotExists, _) => {
            sql.push(&format!("{name} IS NULL"));
        }
        (_, Some(positive)) => {
            sql.push("NOT COALESCE(");
            holds(column, positive, c.value.as_ref(), sql);
            let dialect = sql.dialect;
            sql.push(", ").push(dialect.false_literal()).push(")");
        }
        (positive, None) => holds(column, positive, c.value.as_ref(), sql),
    }
}

fn literal(dialect: Dialect, holds: bool) -> &'static str {
    if holds {
        dialect.true_literal()
    } else {
        dialect.false_literal()
    }
}

fn operands(value: Option<&FilterValue>) -> Vec<&FilterValue> {
    match value {
        Some(FilterValue::List(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// The positive comparison on a column.
fn holds(column: &Column, comparator: Comparator, value: Option<&FilterValue>, sql: &mut Sql) {
    let name = quote(&column.name);
    match column.kind {
        ColumnKind::Json => {
            let dialect = sql.dialect;
            sql.push(dialect.false_literal());
        }
        ColumnKind::List => list_holds(&name, column.element, comparator, value, sql),
        kind => scalar_holds(&name, Scalar::Column(kind), comparator, value, sql),
    }
}

fn list_holds(
    name: &str,
    element: ElementKind,
    comparator: Comparator,
    value: Option<&FilterValue>,
    sql: &mut Sql,
) {
    if let (Comparator::Equal, Some(FilterValue::List(expected))) = (comparator, value) {
        let items: Option<Vec<serde_json::Value>> = expected
            .iter()
            .map(|item| match element {
                ElementKind::Text => Some(serde_json::Value::String(item.as_text())),
                ElementKind::Number => match item {
                    FilterValue::Int(i) => Some(serde_json::Value::from(*i)),
                    _ => None,
                },
            })
            .collect();
        let Some(items) = items else {
            let dialect = sql.dialect;
            sql.push(dialect.false_literal());
            return;
        };
        let json = serde_json::Value::Array(items).to_string();
        sql.push(&format!("{name} = "))
            .push_param(SqlValue::Json(json));
        return;
    }
    let (elements, element_expr) = match (sql.dialect, element) {
        (Dialect::Sqlite, _) => (format!("json_each({name}) AS e"), "e.value"),
        (Dialect::Postgres, ElementKind::Text) => (
            format!("jsonb_array_elements_text({name}) AS e(value)"),
            "e.value",
        ),
        (Dialect::Postgres, ElementKind::Number) => (
            format!("jsonb_array_elements_text({name}) AS e(value)"),
            "(e.value)::float8",
        ),
    };
    // On an element, `contains` is membership, like `in`.
    let comparator = match comparator {
        Comparator::Contains => Comparator::In,
        other => other,
    };
    sql.push(&format!("EXISTS (SELECT 1 FROM {elements} WHERE "));
    scalar_holds(
        element_expr,
        Scalar::Element(element),
        comparator,
        value,
        sql,
    );
    sql.push(")");
}

/// What a scalar expression is: a column of a kind, or a list element.
#[derive(Clone, Copy)]
enum Scalar {
    Column(ColumnKind),
    Element(ElementKind),
}

impl Scalar {
    fn is_text(&self) -> bool {
        matches!(
            self,
            Scalar::Column(ColumnKind::Text) | Scalar::Element(ElementKind::Text)
        )
    }

    /// The operand as a parameter of this expression's type; `None` when it cannot compare.
    fn operand(&self, operand: &FilterValue) -> Option<SqlValue> {
        match self {
            Scalar::Column(ColumnKind::Text) | Scalar::Element(ElementKind::Text) => {
                match operand {
                    FilterValue::List(_) | FilterValue::Date(_) | FilterValue::Now(_) => None,
                    other => Some(SqlValue::Text(other.as_text())),
                }
            }
            Scalar::Column(ColumnKind::Integer) => match operand {
                FilterValue::Int(i) => Some(SqlValue::Int(*i)),
                other => other.as_number().map(SqlValue::Float),
            },
            Scalar::Column(ColumnKind::Float) | Scalar::Element(ElementKind::Number) => {
                operand.as_number().map(SqlValue::Float)
            }
            Scalar::Column(ColumnKind::Boolean) => operand.as_bool().map(SqlValue::Bool),
            Scalar::Column(ColumnKind::Time) => operand
                .as_time()
                .and_then(|t| storage_time(t).ok())
                .map(SqlValue::Text),
            Scalar::Column(ColumnKind::List | ColumnKind::Json) => None,
        }
    }
}

fn scalar_holds(
    expr: &str,
    scalar: Scalar,
    comparator: Comparator,
    value: Option<&FilterValue>,
    sql: &mut Sql,
) {
    let dialect = sql.dialect;
    let mut any = Vec::new();
    match comparator {
        Comparator::Matches if scalar.is_text() => {
            for operand in operands(value) {
                let pattern = sql.param(SqlValue::Text(operand.as_text()));
                any.push(match dialect {
                    Dialect::Sqlite => format!("regexp({pattern}, {expr})"),
                    Dialect::Postgres => format!("{expr} ~ {pattern}"),
                });
            }
        }
        Comparator::Contains if scalar.is_text() => {
            for operand in operands(value) {
                if let Some(v) = scalar.operand(operand) {
                    let p = sql.param(v);
                    any.push(match dialect {
                        Dialect::Sqlite => format!("instr({expr}, {p}) > 0"),
                        Dialect::Postgres => format!("strpos({expr}, {p}) > 0"),
                    });
                }
            }
        }
        Comparator::In | Comparator::Contains => {
            for operand in operands(value) {
                if let Some(v) = scalar.operand(operand) {
                    let p = sql.param(v);
                    any.push(format!("{expr} = {p}"));
                }
            }
        }
        Comparator::Equal
        | Comparator::Greater
        | Comparator::GreaterOrEqual
        | Comparator::Lesser
        | Comparator::LesserOrEqual => {
            if let Some(v) = value.and_then(|v| scalar.operand(v)) {
                let p = sql.param(v);
                any.push(format!("{expr} {} {p}", sql_operator(comparator)));
            }
        }
        _ => {}
    }
    if any.is_empty() {
        sql.push(dialect.false_literal());
    } else {
        let mut text = String::new();
        balanced_or(&any, &mut text);
        sql.push(&text);
    }
}

/// `(a OR b)`, `((a OR b) OR (c OR d))`: one alternative per operand, nested as a balanced tree
/// (a list of 10,000 values must not become an expression 10,000 deep).
fn balanced_or(alternatives: &[String], out: &mut String) {
    match alternatives {
        [] => {}
        [only] => out.push_str(only),
        _ => {
            let (left, right) = alternatives.split_at(alternatives.len() / 2);
            out.push('(');
            balanced_or(left, out);
            out.push_str(" OR ");
            balanced_or(right, out);
            out.push(')');
        }
    }
}

fn sql_operator(comparator: Comparator) -> &'static str {
    match comparator {
        Comparator::Greater => ">",
        Comparator::GreaterOrEqual => ">=",
        Comparator::Lesser => "<",
        Comparator::LesserOrEqual => "<=",
        _ => "=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::test_table;

    fn table() -> TableSchema {
        test_table(&[
            ("ID", ColumnKind::Text),
            ("name", ColumnKind::Text),
            ("port", ColumnKind::Integer),
            ("tags", ColumnKind::List),
        ])
    }

    fn compiled(dialect: Dialect, filter: &str) -> Sql {
        let mut sql = Sql::new(dialect);
        let filter = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        compile(&filter, &table(), &mut sql);
        sql
    }

    #[test]
    fn values_are_parameters() {
        let sql = compiled(Dialect::Postgres, "name == \"'; DROP TABLE things; --\"");
        assert_eq!(sql.text, "\"name\" = $1::text");
        assert_eq!(
            sql.params,
            vec![SqlValue::Text("'; DROP TABLE things; --".into())]
        );
    }

    #[test]
    fn negations_hold_on_missing_values() {
        let sql = compiled(Dialect::Sqlite, "name != a and nope != b and nope == c");
        assert_eq!(sql.text, "(NOT COALESCE(\"name\" = ?1, 0) AND (1 AND 0))");
    }

    #[test]
    fn lists_look_into_elements() {
        let sql = compiled(Dialect::Postgres, "tags contains [a, b]");
        assert_eq!(
            sql.text,
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(\"tags\") AS e(value) WHERE (e.value = $1::text OR e.value = $2::text))"
        );
        let sql = compiled(Dialect::Sqlite, "tags == [a, b]");
        assert_eq!(sql.text, "\"tags\" = ?1");
        assert_eq!(sql.params, vec![SqlValue::Json("[\"a\",\"b\"]".into())]);
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let sql = compiled(
            Dialect::Postgres,
            "port > 80 and port == 80.5 and port == x",
        );
        assert_eq!(
            sql.text,
            "(\"port\" > $1::int8 AND (\"port\" = $2::float8 AND FALSE))"
        );
    }
}
