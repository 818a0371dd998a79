//! The filter AST and its canonical printing.

use std::fmt;

use time::OffsetDateTime;

use super::lexer::{is_word_char, keyword};
use crate::GoDuration;
use crate::timefmt::format_rfc3339;

/// A comparison operator: the 13 of the filter language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Lesser,
    /// `<=`
    LesserOrEqual,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `contains`
    Contains,
    /// `not contains`
    NotContains,
    /// `matches` (regular expression)
    Matches,
    /// `exists`
    Exists,
    /// `not exists`
    NotExists,
}

impl Comparator {
    /// Every comparator.
    pub const ALL: [Comparator; 13] = [
        Comparator::Equal,
        Comparator::NotEqual,
        Comparator::Greater,
        Comparator::GreaterOrEqual,
        Comparator::Lesser,
        Comparator::LesserOrEqual,
        Comparator::In,
        Comparator::NotIn,
        Comparator::Contains,
        Comparator::NotContains,
        Comparator::Matches,
        Comparator::Exists,
        Comparator::NotExists,
    ];

    /// The comparators allowed in push filters: `==`, `!=`, `matches`, `exists`, `not exists`.
    pub const PUSH: [Comparator; 5] = [
        Comparator::Equal,
        Comparator::NotEqual,
        Comparator::Matches,
        Comparator::Exists,
        Comparator::NotExists,
    ];

    /// The text of the comparator as written in filters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Comparator::Equal => "==",
            Comparator::NotEqual => "!=",
            Comparator::Greater => ">",
            Comparator::GreaterOrEqual => ">=",
            Comparator::Lesser => "<",
            Comparator::LesserOrEqual => "<=",
            Comparator::In => "in",
            Comparator::NotIn => "not in",
            Comparator::Contains => "contains",
            Comparator::NotContains => "not contains",
            Comparator::Matches => "matches",
            Comparator::Exists => "exists",
            Comparator::NotExists => "not exists",
        }
    }

    /// True for `exists` and `not exists`, which take no value.
    pub fn takes_no_value(&self) -> bool {
        matches!(self, Comparator::Exists | Comparator::NotExists)
    }
}

/// A value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A quoted string or a bare word.
    String(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `date("2018-04-26 23:50")`.
    Date(OffsetDateTime),
    /// `now("-1h")`: the time of evaluation plus the duration.
    Now(GoDuration),
    /// `[a, "b", 3]`.
    List(Vec<FilterValue>),
}

impl FilterValue {
    /// The operand as text, for string comparisons and regular expressions (`3`, `1.5`,
    /// `true`; lists and times in their filter form).
    pub fn as_text(&self) -> String {
        match self {
            FilterValue::String(s) => s.clone(),
            FilterValue::Int(i) => i.to_string(),
            FilterValue::Float(f) => format!("{f:?}"),
            FilterValue::Bool(b) => b.to_string(),
            other => other.to_string(),
        }
    }

    /// The operand as a number: integers, floats and numeric strings.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            FilterValue::Int(i) => Some(*i as f64),
            FilterValue::Float(f) => Some(*f),
            FilterValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The operand as a time: `date()`, `now()` (evaluated now) or a date string.
    pub fn as_time(&self) -> Option<OffsetDateTime> {
        match self {
            FilterValue::Date(t) => Some(*t),
            FilterValue::Now(d) => OffsetDateTime::now_utc().checked_add(d.to_time_duration()),
            FilterValue::String(s) => crate::timefmt::parse_filter_date(s),
            _ => None,
        }
    }

    /// The operand as a boolean: `true`, `false` and their strings.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FilterValue::Bool(b) => Some(*b),
            FilterValue::String(s) if s == "true" => Some(true),
            FilterValue::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }
}

/// One `attribute OP value` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The attribute name.
    pub key: String,
    /// The operator.
    pub comparator: Comparator,
    /// The value (`None` for `exists` / `not exists`).
    pub value: Option<FilterValue>,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One clause.
    Comparison(Comparison),
    /// All sub-filters hold (two or more).
    And(Vec<Filter>),
    /// One of the sub-filters holds (two or more).
    Or(Vec<Filter>),
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::String(s) => write_quoted(f, s),
            FilterValue::Int(i) => write!(f, "{i}"),
            FilterValue::Float(x) => write!(f, "{x:?}"),
            FilterValue::Bool(b) => write!(f, "{b}"),
            FilterValue::Date(t) => write!(f, "date(\"{}\")", format_rfc3339(t)),
            FilterValue::Now(d) if d.as_nanos() == 0 => f.write_str("now()"),
            FilterValue::Now(d) => write!(f, "now(\"{d}\")"),
            FilterValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// True when `key` reads back as the same single word.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| is_word_char(c) && !"<>=!\\".contains(c))
        && keyword(key).is_none()
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_bare_key(&self.key) {
            f.write_str(&self.key)?;
        } else {
            write_quoted(f, &self.key)?;
        }
        write!(f, " {}", self.comparator.as_str())?;
        match &self.value {
            Some(v) if !self.comparator.takes_no_value() => write!(f, " {v}"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Filter {
    /// The canonical form: `a == 1`, `((a == 1) and (b == 2))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (children, conjunction) = match self {
            Filter::Comparison(c) => return write!(f, "{c}"),
            Filter::And(children) => (children, " and "),
            Filter::Or(children) => (children, " or "),
        };
        f.write_str("(")?;
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(conjunction)?;
            }
            write!(f, "({child})")?;
        }
        f.write_str(")")
    }
}
