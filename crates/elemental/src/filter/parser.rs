//! The filter parser: tokens to [`Filter`], with the reference's error messages.
//!
//! `and` and `or` have equal precedence and group from left to right, as in the reference:
//! `a and b or c` is `(a and b) or c`. Unlike the reference, an unmatched `(` or `)` and a
//! dangling `and`/`or` are errors.

use super::lexer::{Lexer, Token};
use super::{Comparator, Comparison, Filter, FilterValue};
use crate::GoDuration;
use crate::timefmt::parse_filter_date;

/// Deepest filter tree accepted: each `and`/`or` group and each list is one level, whatever
/// the mix of parentheses and switches between `and` and `or` that builds it. Every consumer of
/// a filter (matcher, printer, SQL compiler, drop) recurses at most this deep.
pub const MAX_DEPTH: usize = 32;

/// Deepest nesting of parentheses accepted: enough for the canonical printing of the deepest
/// tree (two parentheses per level), so that printing always parses back.
pub const MAX_PARENTHESES: usize = 2 * MAX_DEPTH;

/// Size limits of one filter; the defaults keep a filter cheap to parse, match and compile to
/// SQL (SQLite refuses expressions deeper than 1,000 and more than 32,766 parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest filter text, in bytes (default 65,536).
    pub max_bytes: usize,
    /// Most comparisons (`a == 1` is one; default 1,000).
    pub max_comparisons: usize,
    /// Most values, list items included (default 10,000).
    pub max_values: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 10,
            max_comparisons: 1_000,
            max_values: 10_000,
        }
    }
}

/// Why a filter could not be parsed; the Display text is the message sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// Options of the parser.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions<'a> {
    /// When set, only these comparators are accepted (push filters use [`Comparator::PUSH`]).
    pub allowed_comparators: Option<&'a [Comparator]>,
    /// Size limits (the defaults when not set).
    pub limits: FilterLimits,
}

#[derive(Clone, Copy, PartialEq)]
enum Conjunction {
    And,
    Or,
}

/// A parsed sub-filter and the depth of its tree.
struct Node {
    filter: Filter,
    depth: usize,
}

fn too_deep<T>() -> Result<T, FilterError> {
    err(format!(
        "expression too deeply nested (at most {MAX_DEPTH} levels)"
    ))
}

fn combine(conjunction: Conjunction, mut nodes: Vec<Node>) -> Result<Node, FilterError> {
    if nodes.len() == 1 {
        return Ok(nodes.remove(0));
    }
    let depth = 1 + nodes.iter().map(|n| n.depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return too_deep();
    }
    let filters = nodes.into_iter().map(|n| n.filter).collect();
    let filter = match conjunction {
        Conjunction::And => Filter::And(filters),
        Conjunction::Or => Filter::Or(filters),
    };
    Ok(Node { filter, depth })
}

impl Filter {
    /// Parses a filter with every comparator allowed.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        Self::parse_with(input, &ParseOptions::default())
    }

    /// Parses a filter with options.
    pub fn parse_with(input: &str, options: &ParseOptions<'_>) -> Result<Filter, FilterError> {
        let limits = options.limits;
        if input.len() > limits.max_bytes {
            return err(format!(
                "filter too long: {} bytes (at most {})",
                input.len(),
                limits.max_bytes
            ));
        }
        let mut parser = Parser {
            lexer: Lexer::new(input),
            options,
            comparisons: 0,
            values: 0,
        };
        parser.parse_expression(0).map(|node| node.filter)
    }
}

struct Parser<'a> {
    lexer: Lexer,
    options: &'a ParseOptions<'a>,
    comparisons: usize,
    values: usize,
}

impl Parser<'_> {
    fn parse_expression(&mut self, depth: usize) -> Result<Node, FilterError> {
        let mut stack = vec![self.parse_term(depth)?];
        let mut conjunction: Option<Conjunction> = None;
        loop {
            let token = self.lexer.peek_token();
            let next = match token {
                Token::And => Conjunction::And,
                Token::Or => Conjunction::Or,
                Token::Eof => break,
                Token::RightParen if depth > 0 => break,
                Token::RightParen => return err("unmatched closing parenthesis"),
                other => {
                    let last = stack
                        .last()
                        .map(|n| n.filter.to_string())
                        .unwrap_or_default();
                    return err(format!(
                        "invalid keyword after {last}. found {}",
                        other.literal()
                    ));
                }
            };
            self.lexer.next_token();
            if let Some(previous) = conjunction {
                if previous != next && stack.len() > 1 {
                    stack = vec![combine(previous, std::mem::take(&mut stack))?];
                }
            }
            conjunction = Some(next);
            stack.push(self.parse_term(depth)?);
        }
        combine(conjunction.unwrap_or(Conjunction::And), stack)
    }

    fn parse_term(&mut self, depth: usize) -> Result<Node, FilterError> {
        match self.lexer.next_token() {
            Token::LeftParen => {
                if depth >= MAX_PARENTHESES {
                    return err(format!(
                        "expression too deeply nested (at most {MAX_PARENTHESES} parentheses)"
                    ));
                }
                let inner = self.parse_expression(depth + 1)?;
                match self.lexer.next_token() {
                    Token::RightParen => Ok(inner),
                    _ => err("missing closing parenthesis"),
                }
            }
            Token::Word(key) => self.parse_comparison(key),
            Token::Quote(q) => {
                let key = self
                    .lexer
                    .read_quoted(q)
                    .or_else(|read| err(format!("missing quote after {read}")))?;
                self.parse_comparison(key)
            }
            other => err(format!(
                "invalid start of expression. found {}",
                other.literal()
            )),
        }
    }

    fn parse_comparison(&mut self, key: String) -> Result<Node, FilterError> {
        if key.starts_with('$') {
            return err(format!("could not start a parameter with $. Found {key}"));
        }
        self.comparisons += 1;
        let max = self.options.limits.max_comparisons;
        if self.comparisons > max {
            return err(format!("filter too large: more than {max} comparisons"));
        }
        let comparator = self.parse_comparator()?;
        if let Some(allowed) = self.options.allowed_comparators {
            if !allowed.contains(&comparator) {
                return err(format!("unsupported comparator: {}", comparator.as_str()));
            }
        }
        let (value, depth) = if comparator.takes_no_value() {
            (None, 1)
        } else {
            let (value, list_depth) = self.parse_value(1)?;
            (Some(value), 1 + list_depth)
        };
        let filter = Filter::Comparison(Comparison {
            key,
            comparator,
            value,
        });
        Ok(Node { filter, depth })
    }

    fn parse_comparator(&mut self) -> Result<Comparator, FilterError> {
        let mut token = self.lexer.next_token();
        let negated = token == Token::Not;
        if negated {
            token = self.lexer.next_token();
        }
        let Token::Operator(comparator) = token else {
            return err(format!(
                "invalid operator. found {} instead of (==, !=, <, <=, >, >=, contains, in, matches, exists)",
                token.literal()
            ));
        };
        if !negated {
            return Ok(comparator);
        }
        match comparator {
            Comparator::Contains => Ok(Comparator::NotContains),
            Comparator::In => Ok(Comparator::NotIn),
            Comparator::Exists => Ok(Comparator::NotExists),
            other => err(format!(
                "invalid usage of operator NOT before {}",
                other.as_str()
            )),
        }
    }

    /// A value at tree level `level` (the comparison is level 1), and how many list levels it
    /// holds (0 for a scalar).
    fn parse_value(&mut self, level: usize) -> Result<(FilterValue, usize), FilterError> {
        self.values += 1;
        let max = self.options.limits.max_values;
        if self.values > max {
            return err(format!("filter too large: more than {max} values"));
        }
        let scalar = match self.lexer.next_token() {
            Token::Quote(q) => self
                .lexer
                .read_quoted(q)
                .map(FilterValue::String)
                .or_else(|read| err(format!("missing quote after {read}"))),
            Token::LeftBracket => return self.parse_list(level),
            Token::True => Ok(FilterValue::Bool(true)),
            Token::False => Ok(FilterValue::Bool(false)),
            Token::Word(word) => self.parse_word_value(word),
            other => err(format!("invalid value. found {}", other.literal())),
        };
        scalar.map(|value| (value, 0))
    }

    fn parse_word_value(&mut self, word: String) -> Result<FilterValue, FilterError> {
        if let Some(number) = parse_number(&word) {
            return Ok(number);
        }
        let next = self.lexer.peek_token();
        if next == Token::LeftParen && (word == "date" || word == "now") {
            self.lexer.next_token();
            let Some(inner) = self.lexer.read_until_right_paren() else {
                return err(format!("missing closing parenthesis after {word}("));
            };
            let inner = inner.trim_matches(|c: char| c == ' ' || c == '"');
            return if word == "date" {
                parse_filter_date(inner)
                    .map(FilterValue::Date)
                    .ok_or_else(|| FilterError(format!("unable to parse date format {inner}")))
            } else if inner.is_empty() {
                Ok(FilterValue::Now(GoDuration::default()))
            } else {
                GoDuration::parse(inner)
                    .map(FilterValue::Now)
                    .map_err(|e| FilterError(format!("unable to parse duration {inner}: {e}")))
            };
        }
        match next {
            Token::Quote(_) => err(format!("missing quote before the value: {word}")),
            Token::Word(other) => err(format!(
                "missing parentheses to protect value: {word} {other}"
            )),
            _ => Ok(FilterValue::String(word)),
        }
    }

    fn parse_list(&mut self, level: usize) -> Result<(FilterValue, usize), FilterError> {
        if level + 1 > MAX_DEPTH {
            return too_deep();
        }
        let mut values = Vec::new();
        let mut inner_depth = 0;
        loop {
            match self.lexer.peek_token() {
                Token::RightBracket => {
                    self.lexer.next_token();
                    return Ok((FilterValue::List(values), 1 + inner_depth));
                }
                Token::Comma => {
                    self.lexer.next_token();
                }
                token @ (Token::Eof | Token::LeftParen | Token::RightParen) => {
                    return err(format!("invalid end of array. found {}", token.literal()));
                }
                _ => {
                    let (value, depth) = self.parse_value(level + 1)?;
                    inner_depth = inner_depth.max(depth);
                    values.push(value);
                }
            }
        }
    }
}

/// An integer or a finite float, when the word is written as a number.
fn parse_number(word: &str) -> Option<FilterValue> {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    let digits = digits.strip_prefix('.').unwrap_or(digits);
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Ok(i) = word.parse::<i64>() {
        return Some(FilterValue::Int(i));
    }
    word.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(FilterValue::Float)
}
