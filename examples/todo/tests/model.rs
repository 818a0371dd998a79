//! The generated todo model, checked against the bytes of the reference Go session
//! (`shared/reference/go-bahamut-session.md`).

use elemental::{
    EncodingType, Identifiable, Identity, Model, ModelIdentity, ModelManager, Operation,
    validate_advanced_specification,
};
use todo::model::{List, SparseList, Task, User, manager};

fn groceries() -> List {
    List {
        id: "6b04eb4daab2dd015af7b8a5".into(),
        name: "groceries".into(),
        description: "weekly".into(),
        secret: "s3cr3t".into(),
        slice: vec!["a".into(), "b".into()],
        unexposed: "kept on the server".into(),
        ..List::default()
    }
}

#[test]
fn json_matches_the_reference_session() {
    let mut list = groceries();
    list.blank_secrets();
    let json = String::from_utf8(list.encode(EncodingType::Json).unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"ID":"6b04eb4daab2dd015af7b8a5","creationOnly":"","date":null,"description":"weekly","name":"groceries","parentID":"","parentType":"","readOnly":"","secret":"","slice":["a","b"]}"#
    );
    let task = Task {
        id: "6b04eb4daab2dd015af7b8a7".into(),
        name: "milk".into(),
        parent_id: "6b04eb4daab2dd015af7b8a5".into(),
        parent_type: "list".into(),
        ..Task::default()
    };
    assert_eq!(
        serde_json::to_string(&task).unwrap(),
        r#"{"ID":"6b04eb4daab2dd015af7b8a7","description":"","name":"milk","parentID":"6b04eb4daab2dd015af7b8a5","parentType":"list","status":"TODO"}"#
    );
}

#[test]
fn encoding_without_secrets_blanks_them_in_the_bytes_only() {
    let mut list = groceries();
    let mut blanked = groceries();
    blanked.blank_secrets();
    for encoding in [EncodingType::Json, EncodingType::Msgpack] {
        let bytes = list.encode_without_secrets(encoding).unwrap();
        assert_eq!(bytes, blanked.encode(encoding).unwrap(), "{encoding}");
        assert_eq!(list, groceries(), "the secret is put back");
    }
    let mut task = Task::default();
    let bytes = task.encode_without_secrets(EncodingType::Json).unwrap();
    assert_eq!(bytes, task.encode(EncodingType::Json).unwrap());
}

#[test]
fn decoding_applies_defaults_and_ignores_unknown_attributes() {
    let list: List = elemental::decode(
        EncodingType::Json,
        br#"{"name":"u","notAnAttribute":1,"slice":null,"date":null}"#,
    )
    .unwrap();
    assert_eq!(
        (list.name.as_str(), list.slice.len(), list.date),
        ("u", 0, None)
    );
    let task: Task = elemental::decode(EncodingType::Json, br#"{"name":"x"}"#).unwrap();
    assert_eq!(task.status, "TODO");
    let with_date: List = elemental::decode(
        EncodingType::Json,
        br#"{"date":"2026-11-24T01:41:33.123Z"}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&with_date).unwrap()["date"],
        serde_json::json!("2026-11-24T01:41:33.123Z")
    );
    // The non-exposed attribute is never read from or written to the wire.
    let list: List = elemental::decode(EncodingType::Json, br#"{"unexposed":"x"}"#).unwrap();
    assert_eq!(list.unexposed, "");
    assert!(
        !String::from_utf8(groceries().encode(EncodingType::Json).unwrap())
            .unwrap()
            .contains("unexposed")
    );
}

#[test]
fn msgpack_round_trip() {
    let list = List {
        date: Some(time_of("2026-11-24T01:41:33.5Z")),
        ..groceries()
    };
    let bytes = list.encode(EncodingType::Msgpack).unwrap();
    let mut back: List = elemental::decode(EncodingType::Msgpack, &bytes).unwrap();
    back.unexposed = list.unexposed.clone();
    assert_eq!(back, list);
}

fn time_of(text: &str) -> elemental::export::time::OffsetDateTime {
    elemental::timefmt::parse_filter_date(text).unwrap()
}

#[test]
fn validation_messages_match_the_reference() {
    let errors = serde_json::to_string(&List::default().validate().unwrap_err()).unwrap();
    assert_eq!(
        errors,
        r#"[{"code":422,"data":{"attribute":"name"},"description":"Attribute 'name' is required","subject":"elemental","title":"Validation Error"}]"#
    );
    let task = Task {
        name: "x".into(),
        status: "NOPE".into(),
        ..Task::default()
    };
    assert_eq!(
        serde_json::to_string(&task.validate().unwrap_err()).unwrap(),
        r#"[{"code":422,"data":{"attribute":"status"},"description":"Data 'NOPE' of attribute 'status' is not in list '[DONE PROGRESS TODO]'","subject":"elemental","title":"Validation Error"}]"#
    );
    // fix: every violated rule is reported (the reference stops at the required ones).
    let task = Task {
        status: "NOPE".into(),
        ..Task::default()
    };
    let descriptions: Vec<String> = task
        .validate()
        .unwrap_err()
        .iter()
        .map(|e| e.description.clone())
        .collect();
    assert_eq!(
        descriptions,
        vec![
            "Attribute 'name' is required".to_string(),
            "Data 'NOPE' of attribute 'status' is not in list '[DONE PROGRESS TODO]'".to_string()
        ]
    );
    let errors = User::default().validate().unwrap_err();
    assert_eq!(
        serde_json::to_string(&errors).unwrap(),
        r#"[{"code":422,"data":{"attribute":"firstName"},"description":"Attribute 'firstName' is required","subject":"elemental","title":"Validation Error"},{"code":422,"data":{"attribute":"lastName"},"description":"Attribute 'lastName' is required","subject":"elemental","title":"Validation Error"},{"code":422,"data":{"attribute":"userName"},"description":"Attribute 'userName' is required","subject":"elemental","title":"Validation Error"}]"#
    );
}

#[test]
fn read_only_and_creation_only_errors() {
    let stored = List {
        read_only: "r".into(),
        creation_only: "c".into(),
        ..groceries()
    };
    let changed = List {
        read_only: "r2".into(),
        creation_only: "c2".into(),
        ..stored.clone()
    };
    let errors =
        validate_advanced_specification(&changed, Some(&stored), Operation::Update).unwrap_err();
    let descriptions: Vec<&str> = errors.iter().map(|e| e.description.as_str()).collect();
    assert_eq!(
        descriptions,
        vec![
            "Field creationOnly can only be set during creation. You cannot modify its value.",
            "Field readOnly is read only. You cannot modify its value.",
        ]
    );
    let new = List {
        id: "chosen-by-client".into(),
        ..List::default()
    };
    let errors = validate_advanced_specification(&new, None, Operation::Create).unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().description,
        "Field ID is read only. You cannot set its value."
    );
}

#[test]
fn sparse_output_and_patch() {
    let list = List {
        name: "groceries-2".into(),
        ..groceries()
    };
    let sparse = list.to_sparse(&["name".to_string()]);
    assert_eq!(
        serde_json::to_string(&sparse).unwrap(),
        r#"{"name":"groceries-2"}"#
    );
    let all = serde_json::to_value(list.to_sparse(&[])).unwrap();
    assert_eq!(all.as_object().unwrap().len(), 10);

    let mut target = groceries();
    let patch: SparseList =
        serde_json::from_str(r#"{"name":"p","date":"2020-01-01T00:00:00Z"}"#).unwrap();
    target.patch(&patch);
    assert_eq!(
        (target.name.as_str(), target.description.as_str()),
        ("p", "weekly")
    );
    assert_eq!(target.date, Some(time_of("2020-01-01T00:00:00Z")));
    let clear: SparseList = serde_json::from_str(r#"{"date":null}"#).unwrap();
    target.patch(&clear);
    assert_eq!(target.date, None);
}

#[test]
fn manager_lookups() {
    let m = manager();
    assert_eq!(m.identity_from_name("list"), Some(List::IDENTITY));
    assert_eq!(m.identity_from_category("tasks"), Some(Task::IDENTITY));
    assert_eq!(m.identity_from_alias("usr"), Some(User::IDENTITY));
    assert_eq!(m.identity_from_any("tsk"), Some(Task::IDENTITY));
    assert_eq!(m.identity_from_name("nope"), None);
    assert_eq!(
        List::IDENTITY,
        Identity::new("list", "lists").with_package("todo-list")
    );
    assert_eq!(m.version(), 1);
    assert_eq!(todo::model::API_PREFIX, "api");
    let object = m.new_identifiable(&Task::IDENTITY).unwrap();
    assert_eq!(object.value_for_attribute("status"), Some("TODO".into()));
}

#[test]
fn relationships_allowed_and_refused() {
    let r = manager().relationships();
    let (root, list, task, user) = (
        Identity::ROOT,
        List::IDENTITY,
        Task::IDENTITY,
        User::IDENTITY,
    );
    for (identity, parent, op) in [
        (list, root, Operation::RetrieveMany),
        (list, root, Operation::Create),
        (list, root, Operation::Retrieve),
        (list, root, Operation::Update),
        (list, root, Operation::Patch),
        (list, root, Operation::Delete),
        (list, root, Operation::Info),
        (task, list, Operation::RetrieveMany),
        (task, list, Operation::Create),
        (user, list, Operation::RetrieveMany),
        (user, root, Operation::Create),
    ] {
        assert!(
            r.is_operation_allowed(&identity, &parent, op),
            "{identity} under {parent}: {op}"
        );
    }
    for (identity, parent, op) in [
        (task, root, Operation::Create),
        (task, root, Operation::RetrieveMany),
        (list, user, Operation::RetrieveMany),
        (user, list, Operation::Create),
    ] {
        assert!(
            !r.is_operation_allowed(&identity, &parent, op),
            "{identity} under {parent}: {op}"
        );
    }
    let names = |identity, parent, op| -> Vec<String> {
        r.parameters_for_operation(&identity, &parent, op)
            .iter()
            .map(|p| p.name.to_string())
            .collect()
    };
    assert_eq!(
        names(list, root, Operation::Retrieve),
        vec!["sAp1", "sAp2", "sBp1", "sBp2", "lgp1", "lgp2"]
    );
    assert_eq!(names(task, list, Operation::Create), vec!["ltcp1", "ltcp2"]);
    let delete = r.info(&user, &root, Operation::Delete).unwrap();
    assert_eq!(delete.required_parameters.to_string(), "(confirm)");
}

#[test]
fn convention_traits_follow_the_attributes_of_the_specs() {
    // Lists and tasks have parentID and parentType: they are parented, with typed access.
    let mut task = Task::default();
    let parent = task.as_parented_mut().expect("a task is parented");
    parent.set_parent("6b04eb4daab2dd015af7b8a5", "list");
    assert_eq!(
        (task.parent_id.as_str(), task.parent_type.as_str()),
        ("6b04eb4daab2dd015af7b8a5", "list")
    );
    let read = task.as_parented().expect("a task is parented");
    assert_eq!(read.parent_id(), "6b04eb4daab2dd015af7b8a5");
    // No todo model has createTime and updateTime: none is timestamped.
    assert!(groceries().as_timestamped().is_none());
    assert!(User::default().as_timestamped().is_none());
}
