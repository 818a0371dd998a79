//! OpenAPI and Markdown generation for the todo spec set.

use std::path::Path;

fn todo() -> regolithe::SpecSet {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/todo/specs");
    regolithe::load_and_check(specs).expect("valid specs")
}

#[test]
fn openapi_paths_operations_and_schemas() {
    let doc = regolithe::openapi::document(&todo());
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Fixture");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        vec![
            "/lists",
            "/lists/{id}",
            "/lists/{id}/tasks",
            "/lists/{id}/users",
            "/tasks/{id}",
            "/users",
            "/users/{id}"
        ]
    );
    let methods: Vec<&String> = doc["paths"]["/lists/{id}"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(methods, vec!["delete", "get", "patch", "put"]);
    assert_eq!(
        doc["paths"]["/lists/{id}/tasks"]["post"]["operationId"],
        "create-task-in-list"
    );
    let params = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["name"]
                    .as_str()
                    .or_else(|| p["$ref"].as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        params("/users/{id}", "delete"),
        vec![
            "id",
            "#/components/parameters/namespace",
            "#/components/parameters/override",
            "confirm"
        ]
    );
    let builtins: Vec<String> = params("/lists", "get").into_iter().take(9).collect();
    assert_eq!(
        builtins,
        [
            "namespace",
            "fields",
            "page",
            "pagesize",
            "limit",
            "after",
            "order",
            "recursive",
            "countMode"
        ]
        .iter()
        .map(|n| format!("#/components/parameters/{n}"))
        .collect::<Vec<_>>()
    );
    let common = &doc["components"]["parameters"];
    assert_eq!(common["namespace"]["name"], "X-Namespace");
    assert_eq!(common["namespace"]["in"], "header");
    assert_eq!(
        common["recursive"]["schema"]["enum"],
        serde_json::json!(["true", "false", "yes", "no", "1", "0", ""])
    );
    // JSON and msgpack bodies and answers; the count header on lists.
    let create = &doc["paths"]["/lists"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/msgpack"]["schema"]["$ref"],
        "#/components/schemas/ListInput"
    );
    assert_eq!(
        doc["paths"]["/lists"]["get"]["responses"]["200"]["headers"]["X-Count-Total"]["schema"]["type"],
        "integer"
    );
    assert_eq!(common["countMode"]["name"], "X-Count-Mode");
    assert_eq!(
        doc["paths"]["/lists"]["get"]["responses"]["200"]["headers"]["X-Count-Mode"]["schema"]["enum"],
        serde_json::json!(["exact", "estimated"])
    );
    // Links: create -> the object's operations, parent -> its children.
    let links = &create["responses"]["200"]["links"];
    assert_eq!(links["get-list"]["operationId"], "get-list");
    assert_eq!(links["get-list"]["parameters"]["id"], "$response.body#/ID");
    assert_eq!(links["delete-list"]["operationId"], "delete-list");
    assert_eq!(
        doc["paths"]["/lists/{id}"]["get"]["responses"]["200"]["links"]["list-tasks-in-list"]["operationId"],
        "list-tasks-in-list"
    );
    let list = &doc["components"]["schemas"]["List"];
    assert!(list.get("required").is_none(), "answers may be sparse");
    let input = &doc["components"]["schemas"]["ListInput"];
    assert_eq!(input["required"], serde_json::json!(["name"]));
    assert_eq!(input["properties"]["name"]["minLength"], 1);
    assert!(
        doc["components"]["schemas"]["ListPatch"]
            .get("required")
            .is_none()
    );
    assert_eq!(list["properties"]["ID"]["readOnly"], true);
    assert_eq!(
        list["properties"]["slice"]["type"],
        serde_json::json!(["array", "null"])
    );
    assert_eq!(
        list["properties"]["date"]["anyOf"][0]["format"],
        "date-time"
    );
    assert!(list["properties"].get("unexposed").is_none());
    assert_eq!(
        doc["components"]["schemas"]["Task"]["properties"]["status"]["enum"],
        serde_json::json!(["DONE", "PROGRESS", "TODO"])
    );
}

#[test]
fn markdown_lists_models_and_attributes() {
    let doc = regolithe::markdown::generate_markdown(&todo());
    assert!(doc.starts_with("# Fixture API (version 1)\n"));
    assert!(doc.contains("## Task\n"));
    assert!(doc.contains("- aliases: `tsk`"));
    assert!(doc.contains("- children of: `list`"));
    assert!(doc.contains("| `status` | enum (DONE, PROGRESS, TODO) | filterable, orderable | The status of the task. |"));
    assert!(!doc.contains("unexposed"));
}
