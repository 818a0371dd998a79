//! The filter matcher: evaluates a [`Filter`] against any [`AttributeValues`].
//!
//! Semantics (the same for every storage backend):
//! - a missing attribute, or a null one, satisfies only `not exists`, `!=`, `not in` and
//!   `not contains`;
//! - on a list attribute, a comparison holds when it holds for one element (`==` against a
//!   list value compares whole lists);
//! - `in` holds when the value equals one of the listed values; `contains` holds when a list
//!   attribute has one of the values as element, or a string attribute has one as substring;
//! - `matches` takes one regular expression or a list of them, and holds when one matches;
//! - values are compared in the attribute's type: numbers numerically, strings as text
//!   (`name == 123` matches the name `"123"`), times against `date()`, `now()` or a time
//!   string.

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};

use super::{Comparator, Comparison, Filter, FilterError, FilterValue};
use crate::timefmt::parse_filter_date;
use crate::{AttributeValues, Value};

/// Largest compiled size of one `matches` expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A filter ready to be evaluated many times (regular expressions compiled once).
#[derive(Debug, Clone)]
pub struct Matcher {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Compare {
        key: String,
        comparator: Comparator,
        operands: Vec<FilterValue>,
        whole: Option<FilterValue>,
        regexes: Vec<Regex>,
    },
    All(Vec<Node>),
    Any(Vec<Node>),
}

impl Matcher {
    /// Prepares `filter`; fails on an invalid regular expression.
    pub fn new(filter: &Filter) -> Result<Self, FilterError> {
        Ok(Self {
            root: compile(filter)?,
        })
    }

    /// True when `object` satisfies the filter.
    pub fn matches<T: AttributeValues + ?Sized>(&self, object: &T) -> bool {
        eval(&self.root, object)
    }
}

impl Filter {
    /// Evaluates the filter once against `object` (see [`Matcher`] to evaluate it many times).
    pub fn matches<T: AttributeValues + ?Sized>(&self, object: &T) -> Result<bool, FilterError> {
        Ok(Matcher::new(self)?.matches(object))
    }
}

fn compile(filter: &Filter) -> Result<Node, FilterError> {
    match filter {
        Filter::And(children) => Ok(Node::All(
            children.iter().map(compile).collect::<Result<_, _>>()?,
        )),
        Filter::Or(children) => Ok(Node::Any(
            children.iter().map(compile).collect::<Result<_, _>>()?,
        )),
        Filter::Comparison(c) => compile_comparison(c),
    }
}

fn compile_comparison(c: &Comparison) -> Result<Node, FilterError> {
    let operands = match &c.value {
        Some(FilterValue::List(items)) => items.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    };
    let regexes = if c.comparator == Comparator::Matches {
        operands
            .iter()
            .map(|o| {
                let pattern = o.as_text();
                RegexBuilder::new(&pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| FilterError(format!("invalid regular expression {pattern}: {e}")))
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    Ok(Node::Compare {
        key: c.key.clone(),
        comparator: c.comparator,
        operands,
        whole: c.value.clone(),
        regexes,
    })
}

fn eval<T: AttributeValues + ?Sized>(node: &Node, object: &T) -> bool {
    match node {
        Node::All(children) => children.iter().all(|c| eval(c, object)),
        Node::Any(children) => children.iter().any(|c| eval(c, object)),
        Node::Compare {
            key,
            comparator,
            operands,
            whole,
            regexes,
        } => {
            let value = object.value_for_attribute(key).filter(|v| !v.is_null());
            let holds = |positive: Comparator| {
                value
                    .as_ref()
                    .is_some_and(|v| holds(v, positive, operands, whole.as_ref(), regexes))
            };
            match comparator {
                Comparator::Exists => value.is_some(),
                Comparator::NotExists => value.is_none(),
                Comparator::NotEqual => !holds(Comparator::Equal),
                Comparator::NotIn => !holds(Comparator::In),
                Comparator::NotContains => !holds(Comparator::Contains),
                positive => holds(*positive),
            }
        }
    }
}

fn holds(
    value: &Value,
    comparator: Comparator,
    operands: &[FilterValue],
    whole: Option<&FilterValue>,
    regexes: &[Regex],
) -> bool {
    match (comparator, value) {
        (Comparator::Equal, Value::List(items)) => match whole {
            Some(FilterValue::List(expected)) => lists_equal(items, expected),
            Some(w) => items.iter().any(|i| equals(i, w)),
            None => false,
        },
        (Comparator::Matches, Value::List(items)) => {
            items.iter().any(|i| regex_matches(i, regexes))
        }
        (Comparator::Matches, v) => regex_matches(v, regexes),
        (Comparator::In | Comparator::Contains, Value::List(items)) => {
            items.iter().any(|i| operands.iter().any(|o| equals(i, o)))
        }
        (Comparator::Contains, Value::String(s)) => {
            operands.iter().any(|o| s.contains(o.as_text().as_str()))
        }
        (Comparator::In | Comparator::Contains, v) => operands.iter().any(|o| equals(v, o)),
        (_, Value::List(items)) => items
            .iter()
            .any(|i| holds(i, comparator, operands, whole, regexes)),
        (_, v) => whole.is_some_and(|w| ordering_holds(comparator, compare(v, w))),
    }
}

fn ordering_holds(comparator: Comparator, ordering: Option<Ordering>) -> bool {
    let Some(ordering) = ordering else {
        return false;
    };
    match comparator {
        Comparator::Equal => ordering == Ordering::Equal,
        Comparator::Greater => ordering == Ordering::Greater,
        Comparator::GreaterOrEqual => ordering != Ordering::Less,
        Comparator::Lesser => ordering == Ordering::Less,
        Comparator::LesserOrEqual => ordering != Ordering::Greater,
        _ => false,
    }
}

fn lists_equal(items: &[Value], expected: &[FilterValue]) -> bool {
    items.len() == expected.len() && items.iter().zip(expected).all(|(i, e)| equals(i, e))
}

fn equals(value: &Value, operand: &FilterValue) -> bool {
    compare(value, operand) == Some(Ordering::Equal)
}

fn regex_matches(value: &Value, regexes: &[Regex]) -> bool {
    match value {
        Value::String(s) => regexes.iter().any(|r| r.is_match(s)),
        _ => false,
    }
}

/// Compares an attribute value with an operand, in the attribute's type.
fn compare(value: &Value, operand: &FilterValue) -> Option<Ordering> {
    match (value, operand) {
        (Value::Int(a), FilterValue::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), o) => (*a as f64).partial_cmp(&o.as_number()?),
        (Value::Float(a), o) => a.partial_cmp(&o.as_number()?),
        (Value::Bool(a), o) => Some(a.cmp(&o.as_bool()?)),
        (Value::Time(a), o) => Some(a.cmp(&o.as_time()?)),
        (Value::String(s), o @ (FilterValue::Date(_) | FilterValue::Now(_))) => {
            Some(parse_filter_date(s)?.cmp(&o.as_time()?))
        }
        (Value::String(_), FilterValue::List(_)) => None,
        (Value::String(s), o) => Some(s.as_str().cmp(o.as_text().as_str())),
        _ => None,
    }
}
