//! The typed helpers against a real apiserver (SQLite, port 0): every operation, every context
//! option the server reads, JSON and msgpack, and the server's errors as typed errors.

mod common;

use common::Apiserver;
use elemental::filter::Filter;
use elemental::{EncodingType, Model, ModelIdentity, Parameter, ParameterType, ParameterValue};
use gaia::model::{ExternalNetwork, Namespace, NetworkAccessPolicy};
use maniphttp::{Client, Error};
use manipulate::{ReadConsistency, StoreContext, WriteConsistency};

fn client(api: &Apiserver) -> Client {
    Client::builder(api.url()).build().expect("client")
}

fn network(name: &str) -> ExternalNetwork {
    ExternalNetwork {
        name: name.into(),
        entries: vec!["10.0.0.0/8".into()],
        ..Default::default()
    }
}

fn filtered(namespace: &str, filter: &str) -> StoreContext {
    StoreContext::in_namespace(namespace).with_filter(Filter::parse(filter).expect("filter"))
}

async fn namespace(client: &Client, parent: &str, name: &str) -> Namespace {
    let ns = Namespace {
        name: name.into(),
        ..Default::default()
    };
    client
        .create(&ns, &StoreContext::in_namespace(parent))
        .await
        .expect("namespace created")
}

fn names(objects: &[ExternalNetwork]) -> Vec<&str> {
    objects.iter().map(|o| o.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_with_every_context_option() {
    let api = Apiserver::start().await;
    let client = client(&api);
    assert_eq!(namespace(&client, "/", "acme").await.name, "/acme");
    namespace(&client, "/acme", "prod").await;

    let acme = StoreContext::in_namespace("/acme");
    let web = client.create(&network("web"), &acme).await.expect("create");
    assert_eq!((web.id.len(), web.namespace.as_str()), (24, "/acme"));
    assert!(web.create_time.is_some());
    let db = client
        .create(&network("db"), &StoreContext::in_namespace("/acme/prod"))
        .await
        .expect("create in /acme/prod");

    // Retrieve, with a filter as a precondition.
    let read: ExternalNetwork = client.retrieve(&web.id, &acme).await.expect("retrieve");
    assert_eq!(read.name, "web");
    let missed = client
        .retrieve::<ExternalNetwork>(&web.id, &filtered("/acme", "name == other"))
        .await;
    assert!(matches!(missed, Err(Error::NotFound(_))), "{missed:?}");

    // Retrieve many: namespace, recursion, filter, order, pages, fields.
    let own = client
        .retrieve_many::<ExternalNetwork>(&acme)
        .await
        .unwrap();
    assert_eq!((names(&own.objects), own.total), (vec!["web"], 1));
    let mut all = acme.clone();
    all.recursive = true;
    all.order = vec!["name".into()];
    let page = client.retrieve_many::<ExternalNetwork>(&all).await.unwrap();
    assert_eq!((names(&page.objects), page.total), (vec!["db", "web"], 2));
    let mut second = all.clone();
    second.page = 2;
    second.page_size = 1;
    let page = client
        .retrieve_many::<ExternalNetwork>(&second)
        .await
        .unwrap();
    assert_eq!((names(&page.objects), page.total), (vec!["web"], 2));
    let mut web_only = filtered("/acme", "name == web");
    web_only.recursive = true;
    let page = client
        .retrieve_many::<ExternalNetwork>(&web_only)
        .await
        .unwrap();
    assert_eq!(names(&page.objects), ["web"]);
    let mut sparse = all.clone();
    sparse.fields = vec!["name".into()];
    let page = client
        .retrieve_many::<ExternalNetwork>(&sparse)
        .await
        .unwrap();
    assert_eq!(names(&page.objects), ["db", "web"]);
    assert_eq!(page.objects[0].id, "", "X-Fields leaves the ID out");

    // Cursor paging: limit, then after the cursor.
    let mut cursor = acme.clone();
    cursor.recursive = true;
    cursor.limit = 1;
    let first = client
        .retrieve_many::<ExternalNetwork>(&cursor)
        .await
        .unwrap();
    assert_eq!(first.objects.len(), 1);
    cursor.after = Some(first.next.clone().expect("a next cursor"));
    let rest = client
        .retrieve_many::<ExternalNetwork>(&cursor)
        .await
        .unwrap();
    assert_eq!(rest.objects.len(), 1);
    assert_ne!(rest.objects[0].id, first.objects[0].id);

    // Count (HEAD, X-Count-Total).
    assert_eq!(client.count::<ExternalNetwork>(&all).await.unwrap(), 2);
    assert_eq!(client.count::<ExternalNetwork>(&acme).await.unwrap(), 1);

    // Declared parameters, propagation, override, consistency and tracking are accepted.
    let mut options = acme.clone();
    options.parameters.insert(
        "archived",
        Parameter {
            parameter_type: ParameterType::Boolean,
            values: vec![ParameterValue::Boolean(true)],
        },
    );
    options.propagated = true;
    options.read_consistency = ReadConsistency::Strong;
    options.external_tracking_id = "t-1".into();
    options.external_tracking_type = "test".into();
    let read: ExternalNetwork = client.retrieve(&web.id, &options).await.unwrap();
    assert_eq!(read.id, web.id);

    // Update and patch answer the stored object.
    let mut changed = read.clone();
    changed.description = "updated".into();
    let mut writing = acme.clone();
    writing.override_protection = true;
    writing.write_consistency = WriteConsistency::Strong;
    let updated = client.update(&changed, &writing).await.expect("update");
    assert_eq!(
        (updated.description.as_str(), updated.create_time),
        ("updated", web.create_time)
    );
    let patch: <ExternalNetwork as Model>::Sparse =
        serde_json::from_str(r#"{"description":"patched"}"#).unwrap();
    let patched: ExternalNetwork = client.patch(&web.id, &patch, &acme).await.expect("patch");
    assert_eq!(
        (patched.description.as_str(), patched.name.as_str()),
        ("patched", "web")
    );

    // The same idempotency key creates once.
    let mut keyed = acme.clone();
    keyed.idempotency_key = Some("once".into());
    let a = client.create(&network("keyed"), &keyed).await.unwrap();
    let b = client.create(&network("keyed"), &keyed).await.unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(client.count::<ExternalNetwork>(&acme).await.unwrap(), 2);

    // Delete answers the object; it is gone after.
    let deleted: ExternalNetwork = client
        .delete(&db.id, &StoreContext::in_namespace("/acme/prod"))
        .await
        .unwrap();
    assert_eq!(deleted.name, "db");
    let gone = client
        .retrieve::<ExternalNetwork>(&db.id, &StoreContext::in_namespace("/acme/prod"))
        .await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_of_a_parent_and_declared_parameters_of_the_relation() {
    let api = Apiserver::start().await;
    let client = client(&api);
    let acme = StoreContext::in_namespace("/");
    let policy = client
        .create(
            &NetworkAccessPolicy {
                name: "p".into(),
                ..Default::default()
            },
            &acme,
        )
        .await
        .unwrap();
    let mut children = acme.clone();
    children.parent = Some((NetworkAccessPolicy::IDENTITY, policy.id.clone()));
    children.parameters.insert(
        "mode",
        Parameter {
            parameter_type: ParameterType::Enum,
            values: vec![ParameterValue::String("subject".into())],
        },
    );
    let page = client
        .retrieve_many::<ExternalNetwork>(&children)
        .await
        .unwrap();
    assert_eq!((page.objects.len(), page.total), (0, 0));
    children.parent = Some((
        NetworkAccessPolicy::IDENTITY,
        "5f0000000000000000000000".into(),
    ));
    let missing = client.retrieve_many::<ExternalNetwork>(&children).await;
    let Err(Error::NotFound(answer)) = missing else {
        panic!("not a 404: {missing:?}");
    };
    assert_eq!(
        answer.description(),
        "Parent networkaccesspolicy with ID '5f0000000000000000000000' not found"
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_round_trips_objects_and_times() {
    let api = Apiserver::start().await;
    let client = Client::builder(api.url())
        .with_encoding(EncodingType::Msgpack)
        .build()
        .unwrap();
    let root = StoreContext::in_namespace("/");
    let created = client.create(&network("packed"), &root).await.unwrap();
    assert_eq!(created.name, "packed");
    let page = client
        .retrieve_many::<ExternalNetwork>(&root)
        .await
        .unwrap();
    assert_eq!(page.objects, vec![created.clone()]);
    let read: ExternalNetwork = client.retrieve(&created.id, &root).await.unwrap();
    assert_eq!(read.create_time, created.create_time);
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_become_typed_errors() {
    let api = Apiserver::start().await;
    let client = client(&api);
    let root = StoreContext::in_namespace("/");

    // 422: a rule of the specs, with the attribute.
    let invalid = client.create(&ExternalNetwork::default(), &root).await;
    let Err(Error::Validation(answer)) = invalid else {
        panic!("not a 422: {invalid:?}");
    };
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.errors.iter().next().map(|e| e.title.as_str()),
        Some("Validation Error")
    );
    assert!(answer.request_id.is_some());
    assert_eq!(
        answer.errors.iter().next().map(|e| e.trace.clone()),
        answer.request_id.clone()
    );

    // 409: a namespace name taken.
    namespace(&client, "/", "taken").await;
    let taken = client
        .create(
            &Namespace {
                name: "taken".into(),
                ..Default::default()
            },
            &root,
        )
        .await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");

    // 400: an invalid namespace; 404: a missing object or namespace.
    let bad = client
        .retrieve_many::<ExternalNetwork>(&StoreContext::in_namespace("a/../b"))
        .await;
    let Err(Error::BadRequest(answer)) = bad else {
        panic!("not a 400: {bad:?}");
    };
    assert!(
        answer
            .description()
            .starts_with("Invalid namespace 'a/../b'"),
        "{answer}"
    );
    let missing = client
        .retrieve::<ExternalNetwork>("5f0000000000000000000000", &root)
        .await;
    let Err(Error::NotFound(answer)) = missing else {
        panic!("not a 404: {missing:?}");
    };
    assert_eq!(
        answer.description(),
        "Object with ID '5f0000000000000000000000' not found"
    );
    let nowhere = client
        .create(&network("x"), &StoreContext::in_namespace("/nowhere"))
        .await;
    assert!(matches!(nowhere, Err(Error::NotFound(_))), "{nowhere:?}");
    api.running.stop().await.unwrap();
}
