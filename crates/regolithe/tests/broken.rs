//! A broken spec set gives every problem at once, each with its exact location, and
//! `rego check` exits non-zero.

use std::path::PathBuf;
use std::process::Command;

fn spec_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regolithe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn problems(dir: &PathBuf) -> Vec<String> {
    regolithe::load_and_check(dir)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

const API_INFO: (&str, &str) = ("_api.info", "prefix: api\nroot: root\nversion: 1\n");

const ROOT: (&str, &str) = (
    "root.spec",
    "model:
  rest_name: root
  resource_name: root
  entity_name: Root
  root: true
relations:
- rest_name: task
  get:
    description: all tasks.
- rest_name: ghost
  create:
    description: nothing.
",
);

const TASK: (&str, &str) = (
    "task.spec",
    "model:
  rest_name: task
  resource_name: tasks
  entity_name: Task
  validations:
  - $unknown
  indexes:
  - - ':unique'
    - name
    - ghost
  - - ':unique'
  delete:
    parameters:
      required:
      - - - confirm
      entries:
      - name: mode
        type: enum
attributes:
  v1:
  - name: name
    type: string
    required: true
  - name: status
    type: enum
    allowed_choices: [DONE, TODO]
    default_value: NOPE
  - name: tags
    type: list
  - name: owner
    type: ref
    subtype: user
  - name: code
    type: string
    allowed_chars: '[a-z'
  - name: size
    type: integer
    max_length: 3
",
);

#[test]
fn semantic_problems_are_all_reported_with_their_location() {
    let dir = spec_dir("semantic", &[API_INFO, ROOT, TASK]);
    assert_eq!(
        problems(&dir),
        vec![
            "root.spec: relation 'ghost': unknown model",
            "task.spec: model: unknown validation '$unknown' (not in _validation.mapping)",
            "task.spec: model.indexes[0]: attribute 'name' is not stored, so it cannot be indexed",
            "task.spec: model.indexes[0]: unknown attribute 'ghost'",
            "task.spec: model.indexes[1]: an index needs at least one attribute",
            "task.spec: model.delete: parameter 'mode': enum without allowed_choices",
            "task.spec: model.delete: required parameter 'confirm' is not declared",
            "task.spec: attribute 'code': invalid allowed_chars: regex parse error:\n    [a-z\n    ^\nerror: unclosed character class",
            "task.spec: attribute 'name': required but has no default_value or example_value",
            "task.spec: attribute 'owner': unknown model 'user' in subtype",
            "task.spec: attribute 'size': min_length and max_length apply to strings only",
            "task.spec: attribute 'status': default_value 'NOPE' is not in allowed_choices",
            "task.spec: attribute 'tags': list without subtype",
        ]
    );
}

#[test]
fn load_problems_are_all_reported_with_their_location() {
    let duplicate = (
        "task.spec",
        "model:\n  rest_name: task\n  resource_name: tasks\n  entity_name: Task\n  extends: ['@missing']\nattributes:\n  v1:\n  - name: a\n    type: string\n  - name: a\n    type: string\n",
    );
    let typo = (
        "user.spec",
        "model:\n  rest_name: user\n  resource_nme: users\n",
    );
    let dir = spec_dir("load", &[API_INFO, ROOT, duplicate, typo]);
    let found = problems(&dir);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with("user.spec: model: unknown field `resource_nme`, expected one of"),
        "{}",
        found[0]
    );
    assert!(found[0].ends_with("at line 3 column 3"), "{}", found[0]);
    assert_eq!(found[1], "task.spec: extends unknown abstract '@missing'");
    assert_eq!(
        found[2],
        "task.spec: attribute 'a': defined more than once (in the spec or its abstracts)"
    );
}

#[test]
fn missing_api_info_and_root() {
    let dir = spec_dir(
        "noinfo",
        &[(
            "task.spec",
            "model:\n  rest_name: task\n  resource_name: tasks\n  entity_name: Task\n",
        )],
    );
    let found = problems(&dir);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("_api.info: cannot read: "),
        "{}",
        found[0]
    );
    let dir = spec_dir(
        "noroot",
        &[
            API_INFO,
            (
                "task.spec",
                "model:\n  rest_name: task\n  resource_name: tasks\n  entity_name: Task\n",
            ),
        ],
    );
    assert_eq!(
        problems(&dir),
        vec!["_api.info: root 'root': no model has 'root: true'"]
    );
}

#[test]
fn rego_check_exits_non_zero_with_the_list() {
    let dir = spec_dir("rego", &[API_INFO, ROOT, TASK]);
    let output = Command::new(env!("CARGO_BIN_EXE_rego"))
        .arg("check")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("task.spec: attribute 'tags': list without subtype\n"),
        "{stderr}"
    );
    assert!(stderr.ends_with(": 13 problem(s)\n"), "{stderr}");

    let good = Command::new(env!("CARGO_BIN_EXE_rego"))
        .args([
            "check",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/todo/specs"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let usage = Command::new(env!("CARGO_BIN_EXE_rego"))
        .arg("nope")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
