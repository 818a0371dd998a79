//! Model runtime: manager look-ups, relationships, validation, read-only / creation-only
//! checks, sparse forms and patches, encodings of a model.

mod common;

use common::{List, Task, User};
use elemental::{
    Encoded, EncodingType, Identifiable, Identity, Model, ModelIdentity, ModelManager, Operation,
    validate_advanced_specification,
};

#[test]
fn manager_lookups() {
    let m = common::manager();
    assert_eq!(m.identity_from_name("list"), Some(List::IDENTITY));
    assert_eq!(m.identity_from_category("tasks"), Some(Task::IDENTITY));
    assert_eq!(m.identity_from_alias("usr"), Some(User::IDENTITY));
    assert_eq!(m.identity_from_any("lst"), Some(List::IDENTITY));
    assert_eq!(m.identity_from_any("lists"), Some(List::IDENTITY));
    assert_eq!(m.identity_from_name("nope"), None);
    assert_eq!(m.aliases(&List::IDENTITY), vec!["lst"]);
    let names: Vec<_> = m.all_identities().iter().map(|i| i.name).collect();
    assert_eq!(names, vec!["root", "list", "task", "user"]);
    assert_eq!(m.version(), 1);

    let object = m.new_identifiable(&Task::IDENTITY).unwrap();
    assert_eq!(
        object.as_any().downcast_ref::<Task>().unwrap().status,
        "TODO"
    );
    assert!(m.new_identifiable(&Identity::ROOT).is_none());

    let decoded = m
        .decode_identifiable(&List::IDENTITY, EncodingType::Json, br#"{"name":"x"}"#)
        .unwrap();
    assert_eq!(decoded.identity(), List::IDENTITY);
    assert_eq!(decoded.value_for_attribute("name"), Some("x".into()));
    let e = m
        .decode_identifiable(&List::IDENTITY, EncodingType::Json, b"{")
        .unwrap_err();
    assert!(
        e.description
            .starts_with("unable to decode application/json: ")
    );
}

#[test]
fn relationships_allow_and_refuse() {
    let m = common::manager();
    let r = m.relationships();
    let root = Identity::ROOT;
    let allowed = [
        (List::IDENTITY, root, Operation::Create),
        (List::IDENTITY, root, Operation::RetrieveMany),
        (Task::IDENTITY, List::IDENTITY, Operation::Create),
        (Task::IDENTITY, List::IDENTITY, Operation::RetrieveMany),
        (User::IDENTITY, List::IDENTITY, Operation::RetrieveMany),
        (Task::IDENTITY, root, Operation::Retrieve),
    ];
    for (identity, parent, op) in allowed {
        assert!(
            r.is_operation_allowed(&identity, &parent, op),
            "{identity} under {parent}: {op}"
        );
    }
    let refused = [
        (Task::IDENTITY, root, Operation::Create),
        (List::IDENTITY, User::IDENTITY, Operation::RetrieveMany),
        (User::IDENTITY, List::IDENTITY, Operation::Create),
        (List::IDENTITY, root, Operation::Patch),
        (Identity::EMPTY, root, Operation::RetrieveMany),
    ];
    for (identity, parent, op) in refused {
        assert!(
            !r.is_operation_allowed(&identity, &parent, op),
            "{identity} under {parent}: {op}"
        );
    }
    let names: Vec<_> = r
        .parameters_for_operation(&Task::IDENTITY, &List::IDENTITY, Operation::Create)
        .iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, vec!["ltcp1", "ltcp2"]);
    assert_eq!(r.iter().count(), 20);
}

#[test]
fn validation_reports_every_error() {
    let errors = User::default().validate().unwrap_err();
    let descriptions: Vec<_> = errors.iter().map(|e| e.description.as_str()).collect();
    assert_eq!(
        descriptions,
        vec![
            "Attribute 'firstName' is required",
            "Attribute 'lastName' is required",
            "Attribute 'userName' is required"
        ]
    );
    let task = Task {
        status: "NOPE".into(),
        ..Task::default()
    };
    let json = serde_json::to_string(&task.validate().unwrap_err()).unwrap();
    assert_eq!(
        json,
        r#"[{"code":422,"data":{"attribute":"name"},"description":"Attribute 'name' is required","subject":"elemental","title":"Validation Error"},{"code":422,"data":{"attribute":"status"},"description":"Data 'NOPE' of attribute 'status' is not in list '[DONE PROGRESS TODO]'","subject":"elemental","title":"Validation Error"}]"#
    );
}

#[test]
fn read_only_and_creation_only() {
    let stored = List {
        id: "1".into(),
        name: "a".into(),
        read_only: "r".into(),
        creation_only: "c".into(),
        ..List::default()
    };
    let mut changed = stored.clone();
    changed.read_only = "r2".into();
    changed.creation_only = "c2".into();
    changed.name = "b".into();
    let errors =
        validate_advanced_specification(&changed, Some(&stored), Operation::Update).unwrap_err();
    let descriptions: Vec<_> = errors
        .iter()
        .map(|e| (e.title.as_str(), e.description.as_str()))
        .collect();
    assert_eq!(
        descriptions,
        vec![
            (
                "Creation Only Error",
                "Field creationOnly can only be set during creation. You cannot modify its value."
            ),
            (
                "Read Only Error",
                "Field readOnly is read only. You cannot modify its value."
            ),
        ]
    );
    assert!(errors.iter().all(|e| e.code == 422));
    assert!(validate_advanced_specification(&stored, Some(&stored), Operation::Update).is_ok());

    let created = List {
        name: "a".into(),
        read_only: "x".into(),
        ..List::default()
    };
    let errors = validate_advanced_specification(&created, None, Operation::Create).unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().description,
        "Field readOnly is read only. You cannot set its value."
    );
    let created = List {
        name: "a".into(),
        creation_only: "x".into(),
        ..List::default()
    };
    assert!(validate_advanced_specification(&created, None, Operation::Create).is_ok());
}

#[test]
fn sparse_and_patch() {
    let mut list = List {
        id: "1".into(),
        name: "a".into(),
        description: "d".into(),
        ..List::default()
    };
    let sparse = list.to_sparse(&["name".to_string()]);
    assert_eq!(serde_json::to_string(&sparse).unwrap(), r#"{"name":"a"}"#);
    let patch: common::SparseList = serde_json::from_str(r#"{"description":"new"}"#).unwrap();
    list.patch(&patch);
    assert_eq!(
        (list.name.as_str(), list.description.as_str()),
        ("a", "new")
    );
}

#[test]
fn an_encoded_object_is_its_json_with_secrets_blank_and_decodes_back() {
    let list = List {
        id: "6b04eb4daab2dd015af7b8a5".into(),
        name: "groceries".into(),
        secret: "s3cr3t".into(),
        slice: vec!["a".into()],
        ..List::default()
    };
    let encoded = Encoded::new(&list).unwrap();
    assert_eq!(list.secret, "s3cr3t");
    let json = r#"{"ID":"6b04eb4daab2dd015af7b8a5","archived":false,"count":0,"creationOnly":"","date":null,"description":"","name":"groceries","parentID":"","parentType":"","ratio":0.0,"readOnly":"","secret":"","slice":["a"]}"#;
    assert_eq!(encoded.json().as_ref(), json.as_bytes());
    let back = encoded.decode().unwrap();
    assert_eq!(
        back,
        List {
            secret: String::new(),
            ..list.clone()
        }
    );

    let other = List {
        id: "6b04eb4daab2dd015af7b8a6".into(),
        ..back.clone()
    };
    let mut blanked = list.clone();
    blanked.blank_secrets();
    let both = vec![blanked, other.clone()];
    let joined = elemental::json_array(&[encoded, Encoded::new(&other).unwrap()]);
    assert_eq!(joined, serde_json::to_vec(&both).unwrap());
    assert_eq!(elemental::json_array::<List>(&[]), b"[]".to_vec());
}

#[test]
fn model_encodings_round_trip() {
    let mut list = List {
        id: "6b04eb4daab2dd015af7b8a5".into(),
        name: "groceries".into(),
        secret: "s3cr3t".into(),
        slice: vec!["a".into()],
        ..List::default()
    };
    list.blank_secrets();
    let json = String::from_utf8(list.encode(EncodingType::Json).unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"ID":"6b04eb4daab2dd015af7b8a5","archived":false,"count":0,"creationOnly":"","date":null,"description":"","name":"groceries","parentID":"","parentType":"","ratio":0.0,"readOnly":"","secret":"","slice":["a"]}"#
    );
    let mp = list.encode(EncodingType::Msgpack).unwrap();
    let back: List = elemental::decode(EncodingType::Msgpack, &mp).unwrap();
    assert_eq!(back, list);
}
