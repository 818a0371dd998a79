//! OpenAPI 3.1 generation: one document for the whole spec set.

use serde_json::{Map, Value, json};

use crate::load::{Spec, SpecSet};
use crate::spec::{AttributeKind, AttributeSpec, OperationSpec, ParameterKind, ParameterSpec};

/// The OpenAPI 3.1 document of a checked spec set, as pretty JSON.
pub fn generate_openapi(set: &SpecSet) -> String {
    serde_json::to_string_pretty(&document(set)).unwrap_or_default()
}

/// The OpenAPI 3.1 document of a checked spec set.
pub fn document(set: &SpecSet) -> Value {
    let title = set
        .ini
        .get("regolithe")
        .and_then(|s| s.get("product_name"))
        .cloned()
        .unwrap_or_else(|| "API".to_string());
    let mut schemas = Map::new();
    for spec in set.specs.iter().filter(|s| !s.model.root) {
        schemas.insert(spec.model.entity_name.clone(), schema(set, spec));
    }
    schemas.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": set.info.version.to_string() },
        "paths": paths(set),
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "One or more errors.",
                    "content": { "application/json": { "schema": {
                        "type": "array", "items": { "$ref": "#/components/schemas/Error" }
                    } } }
                }
            }
        }
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error, always sent inside an array.",
        "properties": {
            "code": { "type": "integer" },
            "data": { "type": "object" },
            "description": { "type": "string" },
            "subject": { "type": "string" },
            "title": { "type": "string" },
            "trace": { "type": "string" }
        },
        "required": ["code", "description", "subject", "title"]
    })
}

fn reference(set: &SpecSet, rest_name: &str) -> Value {
    let entity = set
        .spec(rest_name)
        .map_or("Error", |s| s.model.entity_name.as_str());
    json!({ "$ref": format!("#/components/schemas/{entity}") })
}

fn scalar_schema(kind: &str) -> Value {
    match kind {
        "integer" => json!({ "type": "integer" }),
        "float" => json!({ "type": "number" }),
        "boolean" => json!({ "type": "boolean" }),
        "time" => json!({ "type": "string", "format": "date-time" }),
        "object" => json!({ "type": "object" }),
        "list" => json!({ "type": "array", "items": { "type": "string" } }),
        "string" => json!({ "type": "string" }),
        _ => json!({}),
    }
}

fn attribute_schema(set: &SpecSet, a: &AttributeSpec) -> Value {
    let mut s = match a.kind {
        AttributeKind::String => json!({ "type": "string" }),
        AttributeKind::Enum => json!({ "type": "string", "enum": a.allowed_choices }),
        AttributeKind::Integer => json!({ "type": "integer" }),
        AttributeKind::Float => json!({ "type": "number" }),
        AttributeKind::Boolean => json!({ "type": "boolean" }),
        AttributeKind::Time => json!({ "type": ["string", "null"], "format": "date-time" }),
        AttributeKind::List => json!({ "type": "array", "items": scalar_schema(&a.subtype) }),
        AttributeKind::Object => json!({ "type": "object" }),
        AttributeKind::Ref => reference(set, &a.subtype),
        AttributeKind::RefList => json!({ "type": "array", "items": reference(set, &a.subtype) }),
        AttributeKind::RefMap => {
            json!({ "type": "object", "additionalProperties": reference(set, &a.subtype) })
        }
        AttributeKind::External => json!({}),
    };
    let Some(object) = s.as_object_mut() else {
        return s;
    };
    if !a.description.is_empty() && !object.contains_key("$ref") {
        object.insert("description".into(), json!(a.description.trim()));
    }
    let mut set_if = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            object.insert(key.into(), v);
        }
    };
    set_if("readOnly", a.read_only.then_some(json!(true)));
    set_if("deprecated", a.deprecated.then_some(json!(true)));
    set_if(
        "default",
        a.default_value
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok()),
    );
    set_if(
        "examples",
        a.example_value
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok())
            .map(|v| json!([v])),
    );
    set_if("pattern", a.allowed_chars.as_ref().map(|p| json!(p)));
    set_if("minLength", a.min_length.map(|v| json!(v)));
    set_if("maxLength", a.max_length.map(|v| json!(v)));
    set_if("minimum", a.min_value.map(|v| json!(v)));
    set_if("maximum", a.max_value.map(|v| json!(v)));
    s
}

fn schema(set: &SpecSet, spec: &Spec) -> Value {
    let exposed: Vec<&AttributeSpec> = spec.attributes.iter().filter(|a| a.exposed).collect();
    let properties: Map<String, Value> = exposed
        .iter()
        .map(|a| (a.name.clone(), attribute_schema(set, a)))
        .collect();
    let required: Vec<&str> = exposed
        .iter()
        .filter(|a| a.required)
        .map(|a| a.name.as_str())
        .collect();
    let mut s = json!({
        "type": "object",
        "description": spec.model.description.trim(),
        "properties": properties,
    });
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

fn parameter_schema(p: &ParameterSpec) -> Value {
    let one = match p.kind {
        ParameterKind::String | ParameterKind::Duration => json!({ "type": "string" }),
        ParameterKind::Boolean => json!({ "type": "boolean" }),
        ParameterKind::Integer => json!({ "type": "integer" }),
        ParameterKind::Float => json!({ "type": "number" }),
        ParameterKind::Time => json!({ "type": "string", "format": "date-time" }),
        ParameterKind::Enum => json!({ "type": "string", "enum": p.allowed_choices }),
    };
    if p.multiple {
        json!({ "type": "array", "items": one })
    } else {
        one
    }
}

fn query_parameters(set: &SpecSet, op: &OperationSpec) -> Vec<Value> {
    let shared = op
        .global_parameters
        .iter()
        .filter_map(|n| set.parameter_mapping.get(n))
        .flat_map(|s| s.entries.iter());
    let own = op.parameters.iter().flat_map(|p| p.entries.iter());
    shared
        .chain(own)
        .map(|p| {
            json!({
                "name": p.name,
                "in": "query",
                "description": p.description.trim(),
                "schema": parameter_schema(p),
            })
        })
        .collect()
}

fn id_parameter() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "The identifier of the object.", "schema": { "type": "string" } })
}

struct OperationDoc<'a> {
    id: String,
    summary: &'a str,
    tag: &'a str,
    parameters: Vec<Value>,
    body: Option<Value>,
    response: Value,
}

fn operation(doc: OperationDoc<'_>) -> Value {
    let mut op = json!({
        "operationId": doc.id,
        "summary": doc.summary.trim(),
        "tags": [doc.tag],
        "responses": {
            "200": { "description": "Success.", "content": { "application/json": { "schema": doc.response } } },
            "default": { "$ref": "#/components/responses/Error" }
        }
    });
    if !doc.parameters.is_empty() {
        op["parameters"] = json!(doc.parameters);
    }
    if let Some(body) = doc.body {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body } } });
    }
    op
}

fn paths(set: &SpecSet) -> Map<String, Value> {
    let mut paths = Map::new();
    let mut add = |path: String, method: &str, op: Value| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = op;
    };
    for spec in &set.specs {
        let m = &spec.model;
        if !m.root {
            let path = format!("/{}/{{id}}", m.resource_name);
            let one = json!({ "$ref": format!("#/components/schemas/{}", m.entity_name) });
            for (method, verb, op) in [
                ("get", "get", &m.get),
                ("put", "update", &m.update),
                ("patch", "patch", &m.update),
                ("delete", "delete", &m.delete),
            ] {
                if let Some(op) = op {
                    let mut parameters = vec![id_parameter()];
                    parameters.extend(query_parameters(set, op));
                    let body = matches!(method, "put" | "patch").then(|| one.clone());
                    add(
                        path.clone(),
                        method,
                        operation(OperationDoc {
                            id: format!("{verb}-{}", m.rest_name),
                            summary: &op.description,
                            tag: &m.rest_name,
                            parameters,
                            body,
                            response: one.clone(),
                        }),
                    );
                }
            }
        }
        for r in &spec.relations {
            let Some(child) = set.spec(&r.rest_name) else {
                continue;
            };
            let (path, suffix, mut base) = if m.root {
                (
                    format!("/{}", child.model.resource_name),
                    String::new(),
                    Vec::new(),
                )
            } else {
                (
                    format!("/{}/{{id}}/{}", m.resource_name, child.model.resource_name),
                    format!("-in-{}", m.rest_name),
                    vec![id_parameter()],
                )
            };
            let one =
                json!({ "$ref": format!("#/components/schemas/{}", child.model.entity_name) });
            if let Some(op) = &r.get {
                let mut parameters = base.clone();
                parameters.extend(query_parameters(set, op));
                add(
                    path.clone(),
                    "get",
                    operation(OperationDoc {
                        id: format!("list-{}{suffix}", child.model.resource_name),
                        summary: &op.description,
                        tag: &child.model.rest_name,
                        parameters,
                        body: None,
                        response: json!({ "type": "array", "items": one.clone() }),
                    }),
                );
            }
            if let Some(op) = &r.create {
                base.extend(query_parameters(set, op));
                add(
                    path.clone(),
                    "post",
                    operation(OperationDoc {
                        id: format!("create-{}{suffix}", child.model.rest_name),
                        summary: &op.description,
                        tag: &child.model.rest_name,
                        parameters: base,
                        body: Some(one.clone()),
                        response: one,
                    }),
                );
            }
        }
    }
    paths
}
