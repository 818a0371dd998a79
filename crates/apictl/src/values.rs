//! Attribute values: flag text read by type, and an object checked with the rules of the specs
//! before anything is sent.

use anyhow::bail;
use elemental::export::time::OffsetDateTime;
use elemental::export::time::format_description::well_known::Rfc3339;
use elemental::{AttributeType, EncodingType};
use serde_json::{Map, Value};

use crate::catalog::{Attribute, Catalog, Kind};

/// The value of one flag occurrence, typed by the attribute (a list element for lists).
pub fn parse_flag(attribute: &Attribute, text: &str) -> anyhow::Result<Value> {
    let kind = match attribute.kind {
        AttributeType::List => element_type(&attribute.subtype),
        other => other,
    };
    let flag = &attribute.flag;
    Ok(match kind {
        AttributeType::String | AttributeType::Enum => Value::String(text.to_string()),
        AttributeType::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| anyhow::anyhow!("--{flag}: '{text}' is not an integer"))?,
        AttributeType::Float => text
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| anyhow::anyhow!("--{flag}: '{text}' is not a number"))?,
        AttributeType::Boolean => match text {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => bail!("--{flag}: '{text}' is not true or false"),
        },
        AttributeType::Time => {
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| anyhow::anyhow!("--{flag}: '{text}' is not an RFC 3339 time"))?;
            Value::String(text.to_string())
        }
        _ => serde_json::from_str(text)
            .map_err(|_| anyhow::anyhow!("--{flag}: '{text}' is not JSON"))?,
    })
}

/// The type of a list's elements, from its subtype (strings unless it names a scalar type).
fn element_type(subtype: &str) -> AttributeType {
    match subtype {
        "integer" => AttributeType::Integer,
        "float" => AttributeType::Float,
        "boolean" => AttributeType::Boolean,
        "time" => AttributeType::Time,
        "string" | "" => AttributeType::String,
        _ => AttributeType::Object,
    }
}

/// What is being checked: a whole new object, or the attributes of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A create: required attributes must be there.
    Create,
    /// An update of some attributes.
    Update,
}

/// Checks `object` with the rules of the specs (types, enums, lengths, bounds, patterns,
/// required attributes on create, attributes the server owns), and for the built-in model,
/// with the model's own validation as the server runs it. Every problem is reported at once.
pub fn check(
    catalog: &Catalog,
    kind: &Kind,
    object: &Map<String, Value>,
    check: Check,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (name, value) in object {
        let Some(attribute) = kind.attribute(name) else {
            problems.push(format!("{}: no attribute '{name}'", kind.identity.name));
            continue;
        };
        if attribute.server_owned {
            problems.push(format!("{name}: set by the server, it cannot be given"));
            continue;
        }
        if check == Check::Update && attribute.creation_only {
            problems.push(format!("{name}: can only be set on create"));
            continue;
        }
        problems.extend(check_value(attribute, value).err());
    }
    if check == Check::Create {
        for attribute in &kind.attributes {
            let missing = attribute.required
                && !attribute.server_owned
                && !attribute.has_default
                && object.get(&attribute.name).is_none_or(is_empty);
            if missing {
                problems.push(format!(
                    "{}: required (--{})",
                    attribute.name, attribute.flag
                ));
            }
        }
        if problems.is_empty() {
            problems.extend(model_rules(catalog, kind, object));
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => bail!(
            "invalid {}:\n  {}",
            kind.identity.name,
            problems.join("\n  ")
        ),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The built-in model's validation of the whole object (custom rules included).
fn model_rules(catalog: &Catalog, kind: &Kind, object: &Map<String, Value>) -> Vec<String> {
    let Some(manager) = catalog.manager else {
        return Vec::new();
    };
    let Ok(bytes) = serde_json::to_vec(object) else {
        return Vec::new();
    };
    match manager.decode_identifiable(&kind.identity, EncodingType::Json, &bytes) {
        Err(e) => vec![e.description],
        Ok(decoded) => match decoded.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.description.clone()).collect(),
        },
    }
}

fn check_value(attribute: &Attribute, value: &Value) -> Result<(), String> {
    let name = &attribute.name;
    if let Value::Array(items) = value {
        if attribute.kind == AttributeType::List {
            return items
                .iter()
                .try_for_each(|item| check_scalar(attribute, item));
        }
        return Err(format!("{name}: a list where one value is expected"));
    }
    if attribute.kind == AttributeType::List && !value.is_null() {
        return Err(format!("{name}: a list is expected"));
    }
    check_scalar(attribute, value)
}

fn check_scalar(attribute: &Attribute, value: &Value) -> Result<(), String> {
    let name = &attribute.name;
    if let Value::String(text) = value {
        if !attribute.choices.is_empty() && !attribute.choices.iter().any(|c| c == text) {
            return Err(format!(
                "{name}: '{text}' is not one of {}",
                attribute.choices.join(", ")
            ));
        }
        let length = text.chars().count();
        if let Some(min) = attribute.min_length.filter(|min| length < *min) {
            return Err(format!("{name}: at least {min} characters"));
        }
        if let Some(max) = attribute.max_length.filter(|max| length > *max) {
            return Err(format!("{name}: at most {max} characters"));
        }
        if let Some((pattern, message)) = &attribute.pattern {
            if !pattern.is_match(text) {
                let why = message
                    .clone()
                    .unwrap_or_else(|| format!("must match {pattern}"));
                return Err(format!("{name}: {why}"));
            }
        }
    }
    if let Some(number) = value.as_f64() {
        if let Some(min) = attribute.min_value.filter(|min| number < *min) {
            return Err(format!("{name}: at least {min}"));
        }
        if let Some(max) = attribute.max_value.filter(|max| number > *max) {
            return Err(format!("{name}: at most {max}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin()
    }

    #[test]
    fn flags_are_read_by_type() {
        let catalog = catalog();
        let service = catalog.kind("service").unwrap();
        let ports = service.attribute("exposedPort").unwrap();
        assert_eq!(parse_flag(ports, "443").unwrap(), Value::from(443));
        assert_eq!(
            parse_flag(ports, "x").unwrap_err().to_string(),
            "--exposed-port: 'x' is not an integer"
        );
    }

    #[test]
    fn problems_are_reported_together() {
        let catalog = catalog();
        let network = catalog.kind("externalnetwork").unwrap();
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"type":"Nope","createTime":"2020-01-01T00:00:00Z","bogus":1}"#,
        )
        .unwrap();
        let error = check(&catalog, network, &object, Check::Create).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid externalnetwork:\n  externalnetwork: no attribute 'bogus'\n  \
             createTime: set by the server, it cannot be given\n  \
             type: 'Nope' is not one of ENI, RDSCluster, RDSInstance, SecurityGroup, Subnet\n  name: required (--name)"
        );
        let exported: Map<String, Value> =
            serde_json::from_str(r#"{"ID":"x1","name":"web","entries":["10.0.0.0/8"]}"#).unwrap();
        assert_eq!(
            check(&catalog, network, &exported, Check::Create)
                .unwrap_err()
                .to_string(),
            "invalid externalnetwork:\n  ID: set by the server, it cannot be given"
        );
        let mut fine = exported.clone();
        fine.remove("ID");
        assert!(check(&catalog, network, &fine, Check::Create).is_ok());
    }
}
