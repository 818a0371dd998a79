//! Meta information: routes per API version and versions of the components.

use std::collections::{BTreeMap, BTreeSet};

use elemental::{Identity, ModelManager, ModelPath, Operation};
use serde::Serialize;
use serde_json::Value;

/// One route, as `/_meta/routes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// The category of the identity served.
    pub identity: String,
    /// The URL pattern (`/lists/:id/tasks`).
    pub url: String,
    /// The HTTP verbs, sorted.
    pub verbs: Vec<String>,
}

/// The routes a model manager serves for the operations that have a processor, in the
/// reference's form: sorted by URL, verbs sorted. As in the reference, every identity that can
/// be created under some parent also lists `POST /<category>`.
pub fn routes_for(
    manager: &dyn ModelManager,
    serves: &dyn Fn(&str, Operation) -> bool,
) -> Vec<RouteInfo> {
    let mut routes: BTreeMap<String, (String, BTreeSet<&'static str>)> = BTreeMap::new();
    let mut add = |url: String, category: &str, verb: &'static str| {
        routes
            .entry(url)
            .or_insert_with(|| (category.to_string(), BTreeSet::new()))
            .1
            .insert(verb);
    };
    let category_of = |name: &str| {
        manager
            .identity_from_name(name)
            .unwrap_or(Identity::EMPTY)
            .category
    };
    for (identity, operation, parent, _) in manager.relationships().iter() {
        if !serves(identity, operation) {
            continue;
        }
        let category = category_of(identity);
        let under_root = parent == Identity::ROOT.name;
        let child_url = format!("/{}/:id/{category}", category_of(parent));
        match operation {
            Operation::Retrieve => add(format!("/{category}/:id"), category, "GET"),
            Operation::Update => add(format!("/{category}/:id"), category, "PUT"),
            Operation::Delete => add(format!("/{category}/:id"), category, "DELETE"),
            Operation::RetrieveMany if under_root => add(format!("/{category}"), category, "GET"),
            Operation::RetrieveMany => add(child_url, category, "GET"),
            Operation::Create => {
                if !under_root {
                    add(child_url, category, "POST");
                }
                add(format!("/{category}"), category, "POST");
            }
            Operation::Patch | Operation::Info => {}
        }
    }
    routes
        .into_iter()
        .map(|(url, (identity, verbs))| RouteInfo {
            identity,
            url,
            verbs: verbs.into_iter().map(str::to_string).collect(),
        })
        .collect()
}

/// The methods an OpenAPI path item may hold.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// An OpenAPI document (paths without the API prefix, as regolithe writes them) kept to the
/// operations that have a processor: the methods of other operations are left out, then the
/// paths left without a method, then the response links that name an operation left out.
pub fn openapi_for(
    document: &Value,
    manager: &dyn ModelManager,
    serves: &dyn Fn(&str, Operation) -> bool,
) -> Value {
    let mut document = document.clone();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return document;
    };
    let mut kept = BTreeSet::new();
    paths.retain(|path, item| {
        let Some(item) = item.as_object_mut() else {
            return false;
        };
        item.retain(|key, operation| {
            if !OPENAPI_METHODS.contains(&key.as_str()) {
                return true;
            }
            let served = served(path, key, manager, serves);
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                if served {
                    kept.insert(id.to_string());
                }
            }
            served
        });
        item.keys()
            .any(|key| OPENAPI_METHODS.contains(&key.as_str()))
    });
    for operation in operations_mut(paths) {
        let responses = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut);
        for response in responses.into_iter().flat_map(|r| r.values_mut()) {
            if let Some(links) = response.get_mut("links").and_then(Value::as_object_mut) {
                links.retain(|_, link| {
                    link.get("operationId")
                        .and_then(Value::as_str)
                        .is_none_or(|id| kept.contains(id))
                });
            }
        }
    }
    document
}

/// Whether the operation of `method` on the templated `path` has a processor.
fn served(
    path: &str,
    method: &str,
    manager: &dyn ModelManager,
    serves: &dyn Fn(&str, Operation) -> bool,
) -> bool {
    let Ok(method) = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return false;
    };
    let Some(model) = ModelPath::parse(path, "") else {
        return false;
    };
    match (model.identities(manager), model.operation(&method)) {
        (Some((identity, _, _)), Ok(operation)) => serves(identity.name, operation),
        _ => false,
    }
}

/// The operations of the path items, to change.
fn operations_mut(paths: &mut serde_json::Map<String, Value>) -> impl Iterator<Item = &mut Value> {
    paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| {
            item.iter_mut()
                .filter(|(key, _)| OPENAPI_METHODS.contains(&key.as_str()))
                .map(|(_, operation)| operation)
        })
}

/// `serde_json` pretty printing with four spaces, as `/_meta/version` is written.
pub(crate) fn to_json_indented<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut serializer).is_err() {
        return b"{}".to_vec();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(operation: &str) -> Value {
        json!({ "operationId": operation, "parameters": { "id": "$response.body#/ID" } })
    }

    #[test]
    fn the_openapi_document_keeps_only_the_operations_served() {
        let document = json!({
            "openapi": "3.1.0",
            "paths": {
                "/lists": {
                    "get": { "operationId": "get-all-lists" },
                    "post": {
                        "operationId": "create-list",
                        "responses": { "200": { "links": {
                            "get-list": link("get-list"),
                            "delete-list": link("delete-list"),
                        } } },
                    },
                },
                "/lists/{id}": {
                    "parameters": [],
                    "get": { "operationId": "get-list" },
                    "delete": { "operationId": "delete-list" },
                },
                "/lists/{id}/tasks": { "get": { "operationId": "get-all-tasks" } },
            },
        });
        let serves = |identity: &str, operation: Operation| {
            identity == "list"
                && matches!(
                    operation,
                    Operation::RetrieveMany | Operation::Create | Operation::Retrieve
                )
        };
        let kept = openapi_for(&document, todo::model::manager(), &serves);
        assert_eq!(
            kept,
            json!({
                "openapi": "3.1.0",
                "paths": {
                    "/lists": {
                        "get": { "operationId": "get-all-lists" },
                        "post": {
                            "operationId": "create-list",
                            "responses": { "200": { "links": { "get-list": link("get-list") } } },
                        },
                    },
                    "/lists/{id}": {
                        "parameters": [],
                        "get": { "operationId": "get-list" },
                    },
                },
            })
        );
    }
}
