//! Declared query parameters: definitions, typed values, and requirement expressions.

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use crate::{Error, GoDuration, timefmt};

/// The type of a declared parameter, as regolithe names it (`string`, `boolean`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    /// Any string.
    #[default]
    String,
    /// `true`/`false` (also `yes`/`no`, `1`/`0`, and empty for true).
    Boolean,
    /// A signed integer.
    Integer,
    /// A float.
    Float,
    /// A time (RFC 3339, `YYYY-MM-DD[ HH:MM]`, or Unix seconds).
    Time,
    /// A Go-style duration (`1h30m`).
    Duration,
    /// One of `allowed_choices`.
    Enum,
}

/// One parameter an operation accepts: constant data, as generated models declare it in
/// `static` tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParameterDefinition {
    /// The query key.
    pub name: &'static str,
    /// The type of its values.
    pub parameter_type: ParameterType,
    /// For enums, the allowed values.
    pub allowed_choices: &'static [&'static str],
    /// The value used when the parameter is absent.
    pub default_value: Option<&'static str>,
    /// Whether the key may be repeated (`q` is).
    pub multiple: bool,
    /// A short description.
    pub description: &'static str,
}

impl Default for ParameterDefinition {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One typed value of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    /// A string or enum value.
    String(String),
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A time.
    Time(OffsetDateTime),
    /// A duration.
    Duration(GoDuration),
}

/// The parsed values of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The declared type.
    pub parameter_type: ParameterType,
    /// The values, in query order.
    pub values: Vec<ParameterValue>,
}

impl Parameter {
    /// The first value as a string (string and enum parameters).
    pub fn string_value(&self) -> Option<&str> {
        match self.values.first()? {
            ParameterValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Every value as a string (string and enum parameters).
    pub fn string_values(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter_map(|v| match v {
                ParameterValue::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The first value as a boolean.
    pub fn bool_value(&self) -> Option<bool> {
        match self.values.first()? {
            ParameterValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The first value as an integer.
    pub fn int_value(&self) -> Option<i64> {
        match self.values.first()? {
            ParameterValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The first value as a float.
    pub fn float_value(&self) -> Option<f64> {
        match self.values.first()? {
            ParameterValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The first value as a time.
    pub fn time_value(&self) -> Option<OffsetDateTime> {
        match self.values.first()? {
            ParameterValue::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// The first value as a duration.
    pub fn duration_value(&self) -> Option<GoDuration> {
        match self.values.first()? {
            ParameterValue::Duration(d) => Some(*d),
            _ => None,
        }
    }
}

fn invalid_parameter(description: String) -> Error {
    Error::new("Invalid Parameter", description, "elemental", 400)
}

/// Parses a boolean the way parameters do: `true`/`yes`/`1`/empty, `false`/`no`/`0`
/// (case-insensitive). `None` for anything else.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

impl ParameterDefinition {
    /// An unnamed string parameter, for `..ParameterDefinition::DEFAULT` in tables.
    pub const DEFAULT: Self = Self {
        name: "",
        parameter_type: ParameterType::String,
        allowed_choices: &[],
        default_value: None,
        multiple: false,
        description: "",
    };

    /// A definition of the given name and type.
    pub const fn new(name: &'static str, parameter_type: ParameterType) -> Self {
        Self {
            name,
            parameter_type,
            ..Self::DEFAULT
        }
    }

    /// The same definition, repeatable or not.
    pub const fn with_multiple(mut self, multiple: bool) -> Self {
        self.multiple = multiple;
        self
    }

    /// The same definition with enum choices.
    pub const fn with_choices(mut self, choices: &'static [&'static str]) -> Self {
        self.allowed_choices = choices;
        self
    }

    /// The same definition with a default value.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default_value = Some(default);
        self
    }

    /// The same definition with a description.
    pub const fn with_description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Parses the raw query values of this parameter. `Ok(None)` when absent with no default.
    pub fn parse(&self, raw: &[&str]) -> Result<Option<Parameter>, Error> {
        if !self.multiple && raw.len() > 1 {
            return Err(invalid_parameter(format!(
                "Parameter '{}' must be set only once",
                self.name
            )));
        }
        let default;
        let raw = match (raw.is_empty(), self.default_value) {
            (true, Some(d)) => {
                default = [d];
                &default[..]
            }
            (true, None) => return Ok(None),
            (false, _) => raw,
        };
        let values = raw
            .iter()
            .map(|v| self.parse_one(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Parameter {
            parameter_type: self.parameter_type,
            values,
        }))
    }

    fn parse_one(&self, raw: &str) -> Result<ParameterValue, Error> {
        let name = self.name;
        let fail = |what: &str| {
            invalid_parameter(format!("Parameter '{name}' must be {what}, got '{raw}'"))
        };
        Ok(match self.parameter_type {
            ParameterType::String => ParameterValue::String(raw.to_string()),
            ParameterType::Boolean => {
                ParameterValue::Boolean(parse_bool(raw).ok_or_else(|| fail("a boolean"))?)
            }
            ParameterType::Integer => {
                ParameterValue::Integer(raw.parse().map_err(|_| fail("an integer"))?)
            }
            ParameterType::Float => ParameterValue::Float(
                raw.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| fail("a float"))?,
            ),
            ParameterType::Time => ParameterValue::Time(
                timefmt::parse_any_time(raw).ok_or_else(|| fail("a valid date"))?,
            ),
            ParameterType::Duration => ParameterValue::Duration(
                GoDuration::parse(raw).map_err(|_| fail("a valid duration"))?,
            ),
            ParameterType::Enum => {
                if !self.allowed_choices.contains(&raw) {
                    let choices = self.allowed_choices.join(", ");
                    return Err(fail(&format!("one of '{choices}'")));
                }
                ParameterValue::String(raw.to_string())
            }
        })
    }
}

/// The parsed parameters of a request, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters(pub BTreeMap<String, Parameter>);

impl Parameters {
    /// The parameter of that name, if given (or defaulted).
    pub fn get(&self, name: &str) -> Option<&Parameter> {
        self.0.get(name)
    }

    /// True when the parameter is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets a parameter.
    pub fn insert(&mut self, name: impl Into<String>, parameter: Parameter) {
        self.0.insert(name.into(), parameter);
    }

    /// True when there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A requirement expression over parameter names: an AND of groups, each group an OR of
/// combinations, each combination an AND of names. Printed `((a) or (b and c)) and (d)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParametersRequirement {
    groups: &'static [&'static [&'static [&'static str]]],
}

/// The groups of a requirement: an AND of ORs of ANDs of names.
type Groups = &'static [&'static [&'static [&'static str]]];

impl ParametersRequirement {
    /// Nothing required.
    pub const NONE: Self = Self { groups: &[] };

    /// A requirement from its groups (as written in specs: `required: [[[a], [b, c]], [[d]]]`).
    pub const fn new(groups: Groups) -> Self {
        Self { groups }
    }

    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Checks that every group has one combination whose names are all present.
    ///
    /// The error is a 400 ``Missing Required parameters: `<unsatisfied groups>` ``.
    pub fn validate(&self, parameters: &Parameters) -> Result<(), Error> {
        let unsatisfied: Vec<&[&[&str]]> = self
            .groups
            .iter()
            .copied()
            .filter(|group| {
                !group
                    .iter()
                    .any(|combo| combo.iter().all(|n| parameters.contains(n)))
            })
            .collect();
        if unsatisfied.is_empty() {
            return Ok(());
        }
        let text = unsatisfied
            .iter()
            .map(|g| format_group(g))
            .collect::<Vec<_>>()
            .join(" and ");
        Err(Error::bad_request(format!(
            "Missing Required parameters: `{text}`"
        )))
    }
}

fn format_group(group: &[&[&str]]) -> String {
    let combos: Vec<String> = group
        .iter()
        .map(|c| format!("({})", c.join(" and ")))
        .collect();
    if combos.len() == 1 {
        combos.join("")
    } else {
        format!("({})", combos.join(" or "))
    }
}

impl fmt::Display for ParametersRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<String> = self.groups.iter().map(|g| format_group(g)).collect();
        f.write_str(&groups.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &'static str, t: ParameterType) -> ParameterDefinition {
        ParameterDefinition::new(name, t)
    }

    fn names(groups: Groups) -> ParametersRequirement {
        ParametersRequirement::new(groups)
    }

    #[test]
    fn typed_values() {
        let p = def("b", ParameterType::Boolean)
            .parse(&["no"])
            .unwrap()
            .unwrap();
        assert_eq!(p.bool_value(), Some(false));
        let p = def("b", ParameterType::Boolean)
            .parse(&[""])
            .unwrap()
            .unwrap();
        assert_eq!(p.bool_value(), Some(true));
        let p = def("i", ParameterType::Integer)
            .parse(&["-3"])
            .unwrap()
            .unwrap();
        assert_eq!(p.int_value(), Some(-3));
        let p = def("f", ParameterType::Float)
            .parse(&["1.5"])
            .unwrap()
            .unwrap();
        assert_eq!(p.float_value(), Some(1.5));
        let p = def("d", ParameterType::Duration)
            .parse(&["1h"])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.duration_value(),
            Some(GoDuration::from_nanos(3_600_000_000_000))
        );
        let p = def("t", ParameterType::Time)
            .parse(&["2020-01-02"])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.time_value().map(|t| t.unix_timestamp()),
            Some(1_577_923_200)
        );
        assert_eq!(def("s", ParameterType::String).parse(&[]).unwrap(), None);
    }

    #[test]
    fn exact_error_messages() {
        let cases = [
            (
                ParameterType::Boolean,
                "maybe",
                "Parameter 'x' must be a boolean, got 'maybe'",
            ),
            (
                ParameterType::Integer,
                "1.5",
                "Parameter 'x' must be an integer, got '1.5'",
            ),
            (
                ParameterType::Float,
                "abc",
                "Parameter 'x' must be a float, got 'abc'",
            ),
            (
                ParameterType::Time,
                "abc",
                "Parameter 'x' must be a valid date, got 'abc'",
            ),
            (
                ParameterType::Duration,
                "1",
                "Parameter 'x' must be a valid duration, got '1'",
            ),
        ];
        for (t, raw, message) in cases {
            let e = def("x", t).parse(&[raw]).unwrap_err();
            assert_eq!(e.description, message);
            assert_eq!(e.title, "Invalid Parameter");
            assert_eq!(e.code, 400);
        }
        let mut e = def("mode", ParameterType::Enum);
        e.allowed_choices = &["subject", "object"];
        assert_eq!(
            e.parse(&["both"]).unwrap_err().description,
            "Parameter 'mode' must be one of 'subject, object', got 'both'"
        );
        assert_eq!(
            def("x", ParameterType::String)
                .parse(&["a", "b"])
                .unwrap_err()
                .description,
            "Parameter 'x' must be set only once"
        );
    }

    #[test]
    fn defaults_and_multiple() {
        let mut d = def("mode", ParameterType::Enum);
        d.allowed_choices = &["subject", "object"];
        d.default_value = Some("object");
        assert_eq!(
            d.parse(&[]).unwrap().unwrap().string_value(),
            Some("object")
        );
        let mut q = def("q", ParameterType::String);
        q.multiple = true;
        let p = q.parse(&["a == 1", "b == 2"]).unwrap().unwrap();
        assert_eq!(p.string_values(), vec!["a == 1", "b == 2"]);
    }

    #[test]
    fn requirement_expressions() {
        let r = names(&[&[&["a"], &["b", "c"]], &[&["d"]]]);
        assert_eq!(r.to_string(), "((a) or (b and c)) and (d)");
        let mut params = Parameters::default();
        let one = Parameter {
            parameter_type: ParameterType::String,
            values: vec![ParameterValue::String("v".into())],
        };
        assert_eq!(
            r.validate(&params).unwrap_err().description,
            "Missing Required parameters: `((a) or (b and c)) and (d)`"
        );
        params.insert("b", one.clone());
        params.insert("d", one.clone());
        assert_eq!(
            r.validate(&params).unwrap_err().description,
            "Missing Required parameters: `((a) or (b and c))`"
        );
        params.insert("c", one);
        assert!(r.validate(&params).is_ok());
    }
}
