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
    let params: Vec<&str> = doc["paths"]["/users/{id}"]["delete"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, vec!["id", "confirm"]);
    let list = &doc["components"]["schemas"]["List"];
    assert_eq!(list["required"], serde_json::json!(["name"]));
    assert_eq!(list["properties"]["ID"]["readOnly"], true);
    assert_eq!(list["properties"]["date"]["format"], "date-time");
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
