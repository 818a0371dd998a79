//! OpenAPI 3.1 generation: one document for the whole spec set, describing what a bahamut server
//! reads and answers: the `X-Namespace`, `X-Fields` and `Idempotency-Key` headers, the built-in
//! query parameters (`page`, `pagesize`, `order`, `recursive`, ...), the declared parameters,
//! JSON and msgpack bodies, and links from a create to the object's operations and from a
//! parent to its children.
//!
//! Each model has three schemas: `<Entity>` (what the server answers; read-only attributes are
//! `readOnly`, nothing is required since `X-Fields` may leave attributes out), `<Entity>Input`
//! (create and update bodies, with the required attributes) and `<Entity>Patch` (nothing
//! required). Read-only attributes stay in the request schemas, since Go clients send whole
//! objects back.

use serde_json::{Map, Value, json};

use crate::load::{Spec, SpecSet};
use crate::spec::{AttributeKind, AttributeSpec, OperationSpec, ParameterKind, ParameterSpec};

/// The `_type.mapping` language whose `type` is the JSON Schema of an external type.
const OPENAPI_LANGUAGE: &str = "openapi3";

/// A namespace path as the server accepts it: empty (`/`), `/`, or `/`-separated segments that
/// are neither empty, `.` nor `..`, without control characters.
const NAMESPACE_PATTERN: &str = r"^$|^/$|^(/(?!\.\.?(/|$))[^/\u0000-\u001f\u007f-\u009f]+)+$";

/// The values the server reads as a boolean in a query (case-insensitive; empty means true).
const BOOLEAN_VALUES: [&str; 7] = ["true", "false", "yes", "no", "1", "0", ""];

/// The OpenAPI 3.1 document of a checked spec set, as pretty JSON.
pub fn generate_openapi(set: &SpecSet) -> String {
    serde_json::to_string_pretty(&document(set)).unwrap_or_default()
}

/// Which side of the wire a schema describes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// What the server answers.
    Response,
    /// A create or update body.
    Input,
    /// A patch body.
    Patch,
}

impl Mode {
    fn suffix(self) -> &'static str {
        match self {
            Mode::Response => "",
            Mode::Input => "Input",
            Mode::Patch => "Patch",
        }
    }
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
        for mode in [Mode::Response, Mode::Input, Mode::Patch] {
            schemas.insert(
                format!("{}{}", spec.model.entity_name, mode.suffix()),
                schema(set, spec, mode),
            );
        }
    }
    schemas.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": set.info.version.to_string() },
        "paths": paths(set),
        "components": {
            "schemas": schemas,
            "parameters": common_parameters(),
            "responses": {
                "Error": {
                    "description": "One or more errors.",
                    "content": content(json!({
                        "type": "array", "items": { "$ref": "#/components/schemas/Error" }
                    }))
                }
            }
        }
    })
}

/// The same schema in JSON and msgpack.
fn content(schema: Value) -> Value {
    json!({
        "application/json": { "schema": schema.clone() },
        "application/msgpack": { "schema": schema }
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

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn reference(set: &SpecSet, rest_name: &str, mode: Mode) -> Value {
    let entity = set
        .spec(rest_name)
        .map_or("Error", |s| s.model.entity_name.as_str());
    let mode = if mode == Mode::Response {
        Mode::Response
    } else {
        Mode::Input
    };
    schema_ref(&format!("{entity}{}", mode.suffix()))
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

/// The schema of an external type from `_type.mapping` (`openapi3: type: <JSON Schema>`), or
/// any value when the mapping has none.
fn external_schema(set: &SpecSet, subtype: &str) -> Value {
    set.type_mapping
        .get(subtype)
        .and_then(|m| m.get(OPENAPI_LANGUAGE))
        .and_then(|entry| serde_json::from_str(&entry.type_name).ok())
        .unwrap_or_else(|| json!({}))
}

/// Adds `null` to the types of a schema (lists, maps and objects read `null` as empty).
fn nullable(mut schema: Value) -> Value {
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    match object.get("type").cloned() {
        Some(Value::String(t)) => {
            object.insert("type".into(), json!([t, "null"]));
            schema
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            object.insert("type".into(), Value::Array(types));
            schema
        }
        _ if object.is_empty() => schema,
        _ => json!({ "anyOf": [schema, { "type": "null" }] }),
    }
}

/// A time: RFC 3339, or `null`; bodies may also carry `""` or Go's zero time for "unset".
fn time_schema(a: &AttributeSpec, mode: Mode) -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    if a.required && mode == Mode::Input {
        return time;
    }
    json!({ "anyOf": [time, { "const": "" }, { "type": "null" }] })
}

fn attribute_schema(set: &SpecSet, a: &AttributeSpec, mode: Mode) -> Value {
    // A read-only attribute in a request may only be its zero value on create and the stored
    // value on update (Go clients send whole objects): rules of the server's state, so the
    // request schemas give its type only.
    let required = a.required && mode == Mode::Input && !a.read_only;
    let mut s = match a.kind {
        AttributeKind::String => string_schema(a, required),
        AttributeKind::Enum => {
            let mut choices: Vec<Value> = a.allowed_choices.iter().map(|c| json!(c)).collect();
            if a.autogenerated {
                choices.push(json!(""));
            }
            json!({ "type": "string", "enum": choices })
        }
        AttributeKind::Integer => number_schema("integer", a, required),
        AttributeKind::Float => number_schema("number", a, required),
        AttributeKind::Boolean => json!({ "type": "boolean" }),
        AttributeKind::Time => time_schema(a, mode),
        AttributeKind::List => {
            let mut list = json!({ "type": "array", "items": scalar_schema(&a.subtype) });
            if let Some(external) = set
                .type_mapping
                .get(&a.subtype)
                .map(|_| external_schema(set, &a.subtype))
            {
                list["items"] = external;
            }
            if required {
                list["minItems"] = json!(1);
                list
            } else {
                nullable(list)
            }
        }
        AttributeKind::Object => nullable(json!({ "type": "object" })),
        AttributeKind::Ref if required => reference(set, &a.subtype, mode),
        AttributeKind::Ref => nullable(reference(set, &a.subtype, mode)),
        AttributeKind::RefList => {
            nullable(json!({ "type": "array", "items": reference(set, &a.subtype, mode) }))
        }
        AttributeKind::RefMap => nullable(json!({
            "type": "object",
            "additionalProperties": reference(set, &a.subtype, mode)
        })),
        AttributeKind::External => nullable(external_schema(set, &a.subtype)),
    };
    let Some(object) = s.as_object_mut() else {
        return s;
    };
    if !a.description.is_empty() && !object.contains_key("$ref") {
        let description = if a.read_only && mode != Mode::Response {
            format!("Read-only: set by the server. {}", a.description.trim())
        } else {
            a.description.trim().to_string()
        };
        object.insert("description".into(), json!(description));
    }
    if mode == Mode::Response {
        if a.read_only {
            object.insert("readOnly".into(), json!(true));
        }
        if let Some(default) = a
            .default_value
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok())
        {
            object.insert("default".into(), default);
        }
    }
    if a.deprecated {
        object.insert("deprecated".into(), json!(true));
    }
    if let Some(example) = a
        .example_value
        .as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
    {
        object.insert("examples".into(), json!([example]));
    }
    s
}

/// A string: the pattern holds for a non-empty value (an empty one is "unset"), lengths in
/// characters; a required one is not empty.
fn string_schema(a: &AttributeSpec, required: bool) -> Value {
    let mut s = json!({ "type": "string" });
    if let Some(pattern) = &a.allowed_chars {
        s["pattern"] = if required {
            json!(pattern)
        } else {
            json!(format!("^$|{pattern}"))
        };
    }
    let min = match (a.min_length, required) {
        (Some(min), true) => Some(min.max(1)),
        (None, true) => Some(1),
        (min, false) => min,
    };
    if let Some(min) = min {
        s["minLength"] = json!(min);
    }
    if let Some(max) = a.max_length {
        s["maxLength"] = json!(max);
    }
    s
}

/// A number with its inclusive bounds; a required one is not 0.
fn number_schema(kind: &str, a: &AttributeSpec, required: bool) -> Value {
    let mut s = json!({ "type": kind });
    if let Some(min) = a.min_value {
        s["minimum"] = json!(min);
    }
    if let Some(max) = a.max_value {
        s["maximum"] = json!(max);
    }
    if required {
        s["not"] = json!({ "const": 0 });
    }
    s
}

/// The attributes whose absence the server reports (`Attribute 'x' is required`): booleans and
/// external types have no such check.
fn checked_when_required(a: &AttributeSpec) -> bool {
    a.required && !matches!(a.kind, AttributeKind::Boolean | AttributeKind::External)
}

fn schema(set: &SpecSet, spec: &Spec, mode: Mode) -> Value {
    let exposed: Vec<&AttributeSpec> = spec.attributes.iter().filter(|a| a.exposed).collect();
    let properties: Map<String, Value> = exposed
        .iter()
        .map(|a| (a.name.clone(), attribute_schema(set, a, mode)))
        .collect();
    let description = match mode {
        Mode::Response => spec.model.description.trim().to_string(),
        Mode::Input => format!(
            "The body of a create or update of {}.",
            spec.model.rest_name
        ),
        Mode::Patch => format!(
            "The body of a patch of {}: only the attributes to change.",
            spec.model.rest_name
        ),
    };
    let mut s = json!({
        "type": "object",
        "description": description,
        "properties": properties,
    });
    let required: Vec<&str> = exposed
        .iter()
        // An answer may be sparse (`X-Fields`), so it requires nothing.
        .filter(|a| mode == Mode::Input && checked_when_required(a))
        .map(|a| a.name.as_str())
        .collect();
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

fn parameter_schema(p: &ParameterSpec) -> Value {
    let one = match p.kind {
        ParameterKind::String | ParameterKind::Duration => json!({ "type": "string" }),
        ParameterKind::Boolean => boolean_schema(),
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

/// A boolean in a query, as the server reads it.
fn boolean_schema() -> Value {
    json!({ "type": "string", "enum": BOOLEAN_VALUES })
}

/// The parameters every operation may take, referenced by name.
fn common_parameters() -> Value {
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "description": description, "schema": schema });
    let header = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "header", "description": description, "schema": schema });
    let count = json!({ "type": "integer", "minimum": 0 });
    json!({
        "namespace": header(
            "X-Namespace",
            "The namespace of the request (`/` when absent).",
            json!({ "type": "string", "pattern": NAMESPACE_PATTERN, "maxLength": 1024 })
        ),
        "fields": header(
            "X-Fields",
            "Only these attributes in the answer (comma-separated).",
            json!({ "type": "string" })
        ),
        "idempotencyKey": header(
            "Idempotency-Key",
            "A replayed key answers the first create again instead of creating a second object.",
            json!({ "type": "string" })
        ),
        "countMode": header(
            "X-Count-Mode",
            "How to count `X-Count-Total`: `exact` (the default) or `estimated` (sets of more than 1,000 matching objects are estimated from random samples); the answer's `X-Count-Mode` says which was done.",
            json!({ "type": "string", "enum": ["exact", "estimated"] })
        ),
        "page": query("page", "The page to return (from 1).", count.clone()),
        "pagesize": query("pagesize", "How many objects a page holds.", count.clone()),
        "limit": query("limit", "How many objects to return after the cursor (not with pagesize).", count),
        "after": query(
            "after",
            "The cursor of the previous page (`X-Next`); not with `page`.",
            json!({ "type": "string", "minLength": 1 })
        ),
        "order": {
            "name": "order", "in": "query", "style": "form", "explode": true,
            "description": "Attributes to order by (a leading `-` for descending); repeatable.",
            "schema": { "type": "array", "items": { "type": "string", "minLength": 1 } }
        },
        "recursive": query(
            "recursive",
            "Also the objects of the namespace's descendants.",
            boolean_schema()
        ),
        "override": query("override", "Override protection.", boolean_schema())
    })
}

fn common(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// The built-in parameters of an operation of this kind.
fn builtin_parameters(kind: OperationKind) -> Vec<Value> {
    let names: &[&str] = match kind {
        OperationKind::List => &[
            "namespace",
            "fields",
            "page",
            "pagesize",
            "limit",
            "after",
            "order",
            "recursive",
            "countMode",
        ],
        OperationKind::Retrieve => &["namespace", "fields", "recursive"],
        OperationKind::Create => &["namespace", "idempotencyKey", "override"],
        OperationKind::Write => &["namespace", "override"],
    };
    names.iter().map(|n| common(n)).collect()
}

#[derive(Clone, Copy)]
enum OperationKind {
    List,
    Retrieve,
    Create,
    Write,
}

fn required_parameter(op: &OperationSpec, name: &str) -> bool {
    op.parameters.as_ref().is_some_and(|set| {
        set.required
            .iter()
            .any(|group| matches!(group.as_slice(), [one] if one.len() == 1 && one[0] == name))
    })
}

fn query_parameters(set: &SpecSet, op: &OperationSpec) -> Vec<Value> {
    let shared = op
        .global_parameters
        .iter()
        .filter_map(|n| set.parameter_mapping.get(n))
        .flat_map(|s| s.entries.iter());
    let own = op.parameters.iter().flat_map(|p| p.entries.iter());
    let mut seen = std::collections::BTreeSet::new();
    shared
        .chain(own)
        .filter(|p| seen.insert(p.name.clone()))
        .map(|p| {
            let mut parameter = json!({
                "name": p.name,
                "in": "query",
                "description": p.description.trim(),
                "schema": parameter_schema(p),
            });
            if p.multiple {
                parameter["style"] = json!("form");
                parameter["explode"] = json!(true);
            }
            if required_parameter(op, &p.name) {
                parameter["required"] = json!(true);
            }
            parameter
        })
        .collect()
}

/// The operation's parameters: path id (if any), built-ins, then declared ones; a declared
/// parameter replaces a built-in of the same name.
fn parameters(set: &SpecSet, op: &OperationSpec, kind: OperationKind, id: bool) -> Vec<Value> {
    let declared = query_parameters(set, op);
    let declared_names: Vec<&str> = declared.iter().filter_map(|p| p["name"].as_str()).collect();
    let common_parameters = common_parameters();
    let mut out = Vec::new();
    if id {
        out.push(id_parameter());
    }
    out.extend(builtin_parameters(kind).into_iter().filter(|p| {
        let name = p["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|key| common_parameters[key]["name"].as_str())
            .unwrap_or_default();
        !declared_names.contains(&name)
    }));
    out.extend(declared.iter().cloned());
    out
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
    list: bool,
    links: Option<Value>,
}

fn operation(doc: OperationDoc<'_>) -> Value {
    let mut success = json!({ "description": "Success.", "content": content(doc.response) });
    if doc.list {
        success["headers"] = json!({
            "X-Count-Total": {
                "description": "How many objects match, whatever the page.",
                "schema": { "type": "integer", "minimum": 0 }
            },
            "X-Count-Mode": {
                "description": "How `X-Count-Total` was counted, when the request sent `X-Count-Mode`.",
                "schema": { "type": "string", "enum": ["exact", "estimated"] }
            }
        });
    }
    if let Some(links) = doc.links {
        success["links"] = links;
    }
    let mut op = json!({
        "operationId": doc.id,
        "summary": doc.summary.trim(),
        "tags": [doc.tag],
        "parameters": doc.parameters,
        "responses": {
            "200": success,
            "default": { "$ref": "#/components/responses/Error" }
        }
    });
    if let Some(body) = doc.body {
        op["requestBody"] = json!({ "required": true, "content": content(body) });
    }
    op
}

/// Links from an answer holding one object to the operations on it, in the same namespace.
fn object_links(rest_name: &str, operations: &[&str]) -> Value {
    let links: Map<String, Value> = operations
        .iter()
        .map(|verb| {
            (
                format!("{verb}-{rest_name}"),
                json!({
                    "operationId": format!("{verb}-{rest_name}"),
                    "parameters": {
                        "id": "$response.body#/ID",
                        "header.X-Namespace": "$request.header.X-Namespace"
                    }
                }),
            )
        })
        .collect();
    Value::Object(links)
}

/// The verbs served on `/<resources>/{id}` of a model.
fn object_verbs(spec: &Spec) -> Vec<&'static str> {
    let m = &spec.model;
    let mut verbs = Vec::new();
    if m.get.is_some() {
        verbs.push("get");
    }
    if m.update.is_some() {
        verbs.extend(["update", "patch"]);
    }
    if m.delete.is_some() {
        verbs.push("delete");
    }
    verbs
}

/// Links from a parent's answer to the lists of its children.
fn children_links(set: &SpecSet, spec: &Spec) -> Option<Value> {
    let links: Map<String, Value> = spec
        .relations
        .iter()
        .filter(|r| r.get.is_some())
        .filter_map(|r| set.spec(&r.rest_name))
        .map(|child| {
            let id = format!(
                "list-{}-in-{}",
                child.model.resource_name, spec.model.rest_name
            );
            (
                id.clone(),
                json!({
                    "operationId": id,
                    "parameters": {
                        "id": "$response.body#/ID",
                        "header.X-Namespace": "$request.header.X-Namespace"
                    }
                }),
            )
        })
        .collect();
    (!links.is_empty()).then_some(Value::Object(links))
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
            let one = schema_ref(&m.entity_name);
            for (method, verb, op) in [
                ("get", "get", &m.get),
                ("put", "update", &m.update),
                ("patch", "patch", &m.update),
                ("delete", "delete", &m.delete),
            ] {
                let Some(op) = op else { continue };
                let (kind, body) = match method {
                    "get" => (OperationKind::Retrieve, None),
                    "put" => (
                        OperationKind::Write,
                        Some(schema_ref(&format!("{}Input", m.entity_name))),
                    ),
                    "patch" => (
                        OperationKind::Write,
                        Some(schema_ref(&format!("{}Patch", m.entity_name))),
                    ),
                    _ => (OperationKind::Write, None),
                };
                add(
                    path.clone(),
                    method,
                    operation(OperationDoc {
                        id: format!("{verb}-{}", m.rest_name),
                        summary: &op.description,
                        tag: &m.rest_name,
                        parameters: parameters(set, op, kind, true),
                        body,
                        response: one.clone(),
                        list: false,
                        links: (method == "get")
                            .then(|| children_links(set, spec))
                            .flatten(),
                    }),
                );
            }
        }
        for r in &spec.relations {
            let Some(child) = set.spec(&r.rest_name) else {
                continue;
            };
            let (path, suffix, id) = if m.root {
                (
                    format!("/{}", child.model.resource_name),
                    String::new(),
                    false,
                )
            } else {
                (
                    format!("/{}/{{id}}/{}", m.resource_name, child.model.resource_name),
                    format!("-in-{}", m.rest_name),
                    true,
                )
            };
            let one = schema_ref(&child.model.entity_name);
            if let Some(op) = &r.get {
                add(
                    path.clone(),
                    "get",
                    operation(OperationDoc {
                        id: format!("list-{}{suffix}", child.model.resource_name),
                        summary: &op.description,
                        tag: &child.model.rest_name,
                        parameters: parameters(set, op, OperationKind::List, id),
                        body: None,
                        response: json!({ "type": "array", "items": one.clone() }),
                        list: true,
                        links: None,
                    }),
                );
            }
            if let Some(op) = &r.create {
                add(
                    path.clone(),
                    "post",
                    operation(OperationDoc {
                        id: format!("create-{}{suffix}", child.model.rest_name),
                        summary: &op.description,
                        tag: &child.model.rest_name,
                        parameters: parameters(set, op, OperationKind::Create, id),
                        body: Some(schema_ref(&format!("{}Input", child.model.entity_name))),
                        response: one,
                        list: false,
                        links: Some(object_links(&child.model.rest_name, &object_verbs(child))),
                    }),
                );
            }
        }
    }
    paths
}
