//! Semantic checks of a loaded spec set. Every problem is reported with its location.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use crate::load::{Spec, SpecSet};
use crate::problem::{Problem, Problems};
use crate::spec::{AttributeKind, AttributeSpec, OperationSpec, ParameterKind, YamlValue};

/// Scalar element types a `list` may hold (besides type mappings).
pub const LIST_SUBTYPES: [&str; 7] = [
    "string", "integer", "float", "boolean", "time", "object", "list",
];

struct Checker<'a> {
    set: &'a SpecSet,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(location, message));
    }
}

/// Checks a loaded set.
pub fn check(set: &SpecSet) -> Result<(), Problems> {
    let mut c = Checker {
        set,
        problems: Vec::new(),
    };
    check_names(&mut c);
    for spec in &set.specs {
        check_model(&mut c, spec);
        for attribute in &spec.attributes {
            check_attribute(&mut c, spec, attribute);
        }
    }
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(c.problems))
    }
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_names(c: &mut Checker<'_>) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for spec in &c.set.specs {
        let m = &spec.model;
        for (key, value) in [
            ("rest_name", &m.rest_name),
            ("resource_name", &m.resource_name),
            ("entity_name", &m.entity_name),
        ] {
            if value.is_empty() {
                c.report(format!("{}: model", spec.file), format!("missing {key}"));
            }
        }
        let type_name = is_identifier(&m.entity_name)
            && m.entity_name
                .starts_with(|ch: char| ch.is_ascii_uppercase());
        if !m.entity_name.is_empty() && !type_name {
            c.report(
                format!("{}: model", spec.file),
                format!("entity_name '{}' must be a type name (letters and digits, starting with a capital)", m.entity_name),
            );
        }
        let mut names: BTreeSet<&String> = BTreeSet::new();
        names.insert(&m.rest_name);
        names.insert(&m.resource_name);
        names.extend(m.aliases.iter());
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            if let Some(other) = seen.insert(name.clone(), spec.file.clone()) {
                c.report(
                    format!("{}: model", spec.file),
                    format!("name '{name}' is already used by {other}"),
                );
            }
        }
    }
    let roots: Vec<&Spec> = c.set.specs.iter().filter(|s| s.model.root).collect();
    match roots.as_slice() {
        [root] if root.model.rest_name == c.set.info.root => {}
        [root] => c.report(
            "_api.info",
            format!(
                "root '{}' is not the root model (the root model is '{}')",
                c.set.info.root, root.model.rest_name
            ),
        ),
        [] => c.report(
            "_api.info",
            format!("root '{}': no model has 'root: true'", c.set.info.root),
        ),
        _ => c.report("_api.info", "several models have 'root: true'"),
    }
}

fn check_model(c: &mut Checker<'_>, spec: &Spec) {
    let m = &spec.model;
    for validation in &m.validations {
        if !c.set.validation_mapping.contains_key(validation) {
            c.report(
                format!("{}: model", spec.file),
                format!("unknown validation '{validation}' (not in _validation.mapping)"),
            );
        }
    }
    for (i, index) in m.indexes.iter().enumerate() {
        let (attributes, _) = crate::rust::index_entries(index);
        let location = format!("{}: model.indexes[{i}]", spec.file);
        if attributes.is_empty() {
            c.report(location.clone(), "an index needs at least one attribute");
        }
        for name in attributes {
            match spec.attributes.iter().find(|a| a.name == name) {
                None => c.report(location.clone(), format!("unknown attribute '{name}'")),
                Some(a) if !a.stored => c.report(
                    location.clone(),
                    format!("attribute '{name}' is not stored, so it cannot be indexed"),
                ),
                Some(_) => {}
            }
        }
    }
    let identifiers = spec.attributes.iter().filter(|a| a.identifier).count();
    if identifiers > 1 {
        c.report(
            format!("{}: model", spec.file),
            "more than one identifier attribute",
        );
    }
    for (name, op) in [
        ("get", &m.get),
        ("update", &m.update),
        ("delete", &m.delete),
    ] {
        if let Some(op) = op {
            check_operation(c, &format!("{}: model.{name}", spec.file), op);
        }
    }
    for relation in &spec.relations {
        let location = format!("{}: relation '{}'", spec.file, relation.rest_name);
        if c.set.spec(&relation.rest_name).is_none() {
            c.report(location.clone(), "unknown model");
        }
        for (name, op) in [
            ("get", &relation.get),
            ("create", &relation.create),
            ("update", &relation.update),
            ("delete", &relation.delete),
        ] {
            if let Some(op) = op {
                check_operation(c, &format!("{location}.{name}"), op);
            }
        }
    }
}

fn check_operation(c: &mut Checker<'_>, location: &str, op: &OperationSpec) {
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for set_name in &op.global_parameters {
        match c.set.parameter_mapping.get(set_name) {
            Some(set) => declared.extend(set.entries.iter().map(|p| p.name.clone())),
            None => c.report(
                location,
                format!("unknown global parameter set '{set_name}' (not in _parameter.mapping)"),
            ),
        }
    }
    let Some(parameters) = &op.parameters else {
        return;
    };
    for p in &parameters.entries {
        let at = format!("{location}: parameter '{}'", p.name);
        if !declared.insert(p.name.clone()) {
            c.report(at.clone(), "declared more than once");
        }
        if p.kind == ParameterKind::Enum && p.allowed_choices.is_empty() {
            c.report(at.clone(), "enum without allowed_choices");
        }
        if let (ParameterKind::Enum, Some(default)) = (p.kind, &p.default_value) {
            let text = yaml_text(default);
            if !p.allowed_choices.contains(&text) {
                c.report(
                    at,
                    format!("default_value '{text}' is not in allowed_choices"),
                );
            }
        }
    }
    for name in parameters.required.iter().flatten().flatten() {
        if !declared.contains(name) {
            c.report(
                location,
                format!("required parameter '{name}' is not declared"),
            );
        }
    }
}

/// A YAML scalar as text (`TODO`, `3`, `true`).
pub fn yaml_text(value: &YamlValue) -> String {
    match value {
        YamlValue::String(s) => s.clone(),
        YamlValue::Bool(b) => b.to_string(),
        YamlValue::Number(n) => n.to_string(),
        YamlValue::Null => String::new(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn default_matches(kind: AttributeKind, value: &YamlValue) -> bool {
    match kind {
        AttributeKind::String | AttributeKind::Enum | AttributeKind::Time => value.is_string(),
        AttributeKind::Integer => value.is_i64() || value.is_u64(),
        AttributeKind::Float => value.is_number(),
        AttributeKind::Boolean => value.is_bool(),
        AttributeKind::List | AttributeKind::RefList => value.is_sequence(),
        AttributeKind::Object | AttributeKind::RefMap => value.is_mapping(),
        AttributeKind::Ref | AttributeKind::External => true,
    }
}

/// What is wrong with the type-specific settings of an attribute, if anything.
fn kind_problem(set: &SpecSet, a: &AttributeSpec) -> Option<String> {
    let subtype = a.subtype.as_str();
    match a.kind {
        AttributeKind::Enum if a.allowed_choices.is_empty() => {
            Some("enum without allowed_choices".into())
        }
        AttributeKind::Enum => a
            .default_value
            .as_ref()
            .map(yaml_text)
            .filter(|text| !a.allowed_choices.contains(text))
            .map(|text| format!("default_value '{text}' is not in allowed_choices")),
        AttributeKind::List if subtype.is_empty() => Some("list without subtype".into()),
        AttributeKind::List
            if !LIST_SUBTYPES.contains(&subtype) && !set.type_mapping.contains_key(subtype) =>
        {
            Some(format!("unknown list subtype '{subtype}'"))
        }
        AttributeKind::Ref | AttributeKind::RefList | AttributeKind::RefMap
            if set.spec(subtype).is_none() =>
        {
            Some(format!("unknown model '{subtype}' in subtype"))
        }
        AttributeKind::External if !set.type_mapping.contains_key(subtype) => Some(format!(
            "unknown type mapping '{subtype}' (not in _type.mapping)"
        )),
        _ => None,
    }
}

fn check_attribute(c: &mut Checker<'_>, spec: &Spec, a: &AttributeSpec) {
    let at = format!("{}: attribute '{}'", spec.file, a.name);
    if !is_identifier(&a.name) {
        c.report(
            at.clone(),
            "name must contain only letters, digits and '_', and not start with a digit",
        );
    }
    if a.required && a.default_value.is_none() && a.example_value.is_none() {
        c.report(
            at.clone(),
            "required but has no default_value or example_value",
        );
    }
    if let Some(default) = &a.default_value {
        if !default_matches(a.kind, default) {
            c.report(
                at.clone(),
                format!("default_value does not match the type {:?}", a.kind).to_lowercase(),
            );
        }
    }
    if let Some(message) = kind_problem(c.set, a) {
        c.report(at.clone(), message);
    }
    if let Some(pattern) = &a.allowed_chars {
        if let Err(e) = Regex::new(pattern) {
            c.report(at.clone(), format!("invalid allowed_chars: {e}"));
        }
    }
    if (a.min_length.is_some() || a.max_length.is_some()) && a.kind != AttributeKind::String {
        c.report(
            at.clone(),
            "min_length and max_length apply to strings only",
        );
    }
    if (a.min_value.is_some() || a.max_value.is_some())
        && !matches!(a.kind, AttributeKind::Integer | AttributeKind::Float)
    {
        c.report(
            at.clone(),
            "min_value and max_value apply to integers and floats only",
        );
    }
    if let (Some(min), Some(max)) = (a.min_length, a.max_length) {
        if min > max {
            c.report(
                at.clone(),
                format!("min_length {min} is greater than max_length {max}"),
            );
        }
    }
    if let (Some(min), Some(max)) = (a.min_value, a.max_value) {
        if min > max {
            c.report(
                at.clone(),
                format!("min_value {min} is greater than max_value {max}"),
            );
        }
    }
    for validation in &a.validations {
        if !c.set.validation_mapping.contains_key(validation) {
            c.report(
                at.clone(),
                format!("unknown validation '{validation}' (not in _validation.mapping)"),
            );
        }
    }
}
