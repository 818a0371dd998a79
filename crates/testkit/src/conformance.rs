//! The backend conformance suite: the same checks for every [`Manipulator`], with gaia objects.
//! A backend's test calls [`run_all`] with a function that makes a fresh, empty store.

use std::future::Future;

use elemental::filter::Filter;
use elemental::{Identity, ModelIdentity};
use gaia::model::{ExternalNetwork, Service};
use manipulate::{ManipulateError, Manipulator, Record, StoreContext};

fn network(id: &str, namespace: &str, name: &str) -> ExternalNetwork {
    ExternalNetwork {
        id: id.into(),
        namespace: namespace.into(),
        name: name.into(),
        entries: vec!["10.0.0.0/8".into()],
        ..ExternalNetwork::default()
    }
}

fn ctx(namespace: &str) -> StoreContext {
    StoreContext::in_namespace(namespace)
}

fn filtered(namespace: &str, filter: &str) -> StoreContext {
    ctx(namespace).with_filter(Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")))
}

async fn names(m: &dyn Manipulator, c: &StoreContext) -> Vec<String> {
    let page = manipulate::retrieve_many::<ExternalNetwork>(m, c)
        .await
        .expect("retrieve-many");
    page.objects.into_iter().map(|n| n.name).collect()
}

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<M, F, Fut>(make: F)
where
    M: Manipulator,
    F: Fn() -> Fut,
    Fut: Future<Output = M>,
{
    crud(&make().await).await;
    filters(&make().await).await;
    literal_values(&make().await).await;
    order_and_pagination(&make().await).await;
    cursor_walks(&make().await).await;
    namespaces_and_isolation(&make().await).await;
    recursive_counts(&make().await).await;
    constraints_and_idempotency(&make().await).await;
}

/// Create, retrieve, update, delete, counts.
pub async fn crud(m: &dyn Manipulator) {
    let c = ctx("/acme");
    let created = manipulate::create(m, network("n1", "/acme", "web"), &c)
        .await
        .expect("create");
    assert_eq!(created.name, "web");
    let read: ExternalNetwork = manipulate::retrieve(m, "n1", &c).await.expect("retrieve");
    assert_eq!(read, created);
    // The record a store reads holds the document it answers with.
    let identity = ExternalNetwork::IDENTITY;
    let record = m.retrieve_record(identity, "n1", &c).await.expect("record");
    let document = m.retrieve(identity, "n1", &c).await.expect("document");
    assert_eq!(record.into_document(), document);
    assert_eq!(document["name"], "web");
    let mut changed = read.clone();
    changed.description = "updated".into();
    manipulate::update(m, changed.clone(), &c)
        .await
        .expect("update");
    let read: ExternalNetwork = manipulate::retrieve(m, "n1", &c).await.expect("retrieve");
    assert_eq!(read.description, "updated");
    assert_eq!(m.count(ExternalNetwork::IDENTITY, &c).await, Ok(1));
    let deleted: ExternalNetwork = manipulate::delete(m, "n1", &c).await.expect("delete");
    assert_eq!(deleted.description, "updated");
    let gone = manipulate::retrieve::<ExternalNetwork>(m, "n1", &c).await;
    assert_eq!(gone, Err(ManipulateError::NotFound { id: "n1".into() }));
    assert_eq!(m.count(ExternalNetwork::IDENTITY, &c).await, Ok(0));
    let missing = manipulate::update(m, changed, &c).await;
    assert_eq!(
        missing.map(|_| ()),
        Err(ManipulateError::NotFound { id: "n1".into() })
    );
}

/// Every operator, on strings, numbers, booleans, times and lists, with missing values.
pub async fn filters(m: &dyn Manipulator) {
    let c = ctx("/");
    let mut a = network("a", "/", "alpha");
    a.entries = vec!["10.0.0.0/8".into(), "example.com".into()];
    a.protected = true;
    a.r#type = "ENI".into();
    a.create_time = elemental::timefmt::parse_filter_date("2020-01-01");
    let mut b = network("b", "/", "beta");
    b.entries = vec!["192.168.0.0/16".into()];
    b.description = "second".into();
    b.create_time = elemental::timefmt::parse_filter_date("2022-01-01");
    let g = network("g", "/", "gamma");
    for n in [a, b, g] {
        manipulate::create(m, n, &c).await.expect("create");
    }
    let cases = [
        ("name == alpha", vec!["alpha"]),
        ("name != alpha", vec!["beta", "gamma"]),
        ("name < beta", vec!["alpha"]),
        ("name <= beta", vec!["alpha", "beta"]),
        ("name > beta", vec!["gamma"]),
        ("name >= beta", vec!["beta", "gamma"]),
        ("name in [alpha, gamma]", vec!["alpha", "gamma"]),
        ("name not in [alpha, gamma]", vec!["beta"]),
        ("name contains amm", vec!["gamma"]),
        ("name not contains a", vec![]),
        ("name matches \"^[ab]\"", vec!["alpha", "beta"]),
        ("description exists", vec!["alpha", "beta", "gamma"]),
        ("createTime exists", vec!["alpha", "beta"]),
        ("createTime not exists", vec!["gamma"]),
        ("createTime > date(\"2021-01-01\")", vec!["beta"]),
        ("createTime < now()", vec!["alpha", "beta"]),
        ("protected == true", vec!["alpha"]),
        ("protected == false", vec!["beta", "gamma"]),
        ("entries contains \"example.com\"", vec!["alpha"]),
        ("entries == \"192.168.0.0/16\"", vec!["beta"]),
        ("entries not contains \"10.0.0.0/8\"", vec!["beta"]),
        ("entries in [\"example.com\", \"nothing\"]", vec!["alpha"]),
        ("type == Subnet and name != gamma", vec!["beta"]),
        (
            "type == ENI or description == second",
            vec!["alpha", "beta"],
        ),
        ("nope exists", vec![]),
        ("nope not exists", vec!["alpha", "beta", "gamma"]),
        ("nope != x", vec!["alpha", "beta", "gamma"]),
    ];
    for (filter, expected) in cases {
        assert_eq!(names(m, &filtered("/", filter)).await, expected, "{filter}");
    }
    let mut ports = Service {
        id: "s1".into(),
        namespace: "/".into(),
        name: "web".into(),
        exposed_port: 443,
        port: 80,
        ..Service::default()
    };
    manipulate::create(m, ports.clone(), &c)
        .await
        .expect("create service");
    ports.id = "s2".into();
    ports.exposed_port = 8443;
    manipulate::create(m, ports, &c)
        .await
        .expect("create service");
    for (filter, expected) in [
        ("exposedPort > 500", 1),
        ("exposedPort <= 8443", 2),
        ("exposedPort == 443.0", 1),
        ("exposedPort in [1, 443]", 1),
    ] {
        let page = manipulate::retrieve_many::<Service>(m, &filtered("/", filter))
            .await
            .expect("services");
        assert_eq!(page.objects.len(), expected, "{filter}");
    }
}

/// Quotes, `%`, `_` and SQL in values are matched literally.
pub async fn literal_values(m: &dyn Manipulator) {
    let c = ctx("/");
    for (id, name) in [
        ("1", "it's"),
        ("2", "100%"),
        ("3", "a_b"),
        ("4", "axb"),
        ("5", "'; DROP TABLE externalnetworks; --"),
        ("6", "say \"hi\""),
    ] {
        manipulate::create(m, network(id, "/", name), &c)
            .await
            .expect("create");
    }
    assert_eq!(
        names(m, &filtered("/", "name == \"it's\"")).await,
        vec!["it's"]
    );
    assert_eq!(
        names(m, &filtered("/", "name contains \"%\"")).await,
        vec!["100%"]
    );
    assert_eq!(
        names(m, &filtered("/", "name contains \"_\"")).await,
        vec!["a_b"]
    );
    assert_eq!(
        names(
            m,
            &filtered("/", "name == \"'; DROP TABLE externalnetworks; --\"")
        )
        .await,
        vec!["'; DROP TABLE externalnetworks; --"]
    );
    assert_eq!(
        names(m, &filtered("/", r#"name == 'say "hi"'"#)).await,
        vec!["say \"hi\""]
    );
    assert_eq!(
        m.count(ExternalNetwork::IDENTITY, &c).await,
        Ok(6),
        "nothing was dropped"
    );
}

/// Ordering, page/pagesize, after/limit with the next cursor, totals.
pub async fn order_and_pagination(m: &dyn Manipulator) {
    let c = ctx("/");
    for (id, name) in [
        ("i1", "delta"),
        ("i2", "alpha"),
        ("i3", "echo"),
        ("i4", "bravo"),
        ("i5", "charlie"),
    ] {
        manipulate::create(m, network(id, "/", name), &c)
            .await
            .expect("create");
    }
    let mut ordered = ctx("/");
    ordered.order = vec!["name".into()];
    assert_eq!(
        names(m, &ordered).await,
        vec!["alpha", "bravo", "charlie", "delta", "echo"]
    );
    ordered.order = vec!["-name".into()];
    assert_eq!(
        names(m, &ordered).await,
        vec!["echo", "delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names(m, &ctx("/")).await,
        vec!["delta", "alpha", "echo", "bravo", "charlie"],
        "insertion order by default"
    );

    let mut paged = ctx("/");
    paged.order = vec!["name".into()];
    paged.page = 2;
    paged.page_size = 2;
    let page = m
        .retrieve_many(ExternalNetwork::IDENTITY, &paged)
        .await
        .expect("page");
    assert_eq!(page.total, 5);
    let got: Vec<&str> = page
        .objects
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(got, vec!["charlie", "delta"]);

    let mut cursor = ctx("/");
    cursor.order = vec!["name".into()];
    cursor.limit = 2;
    let first = m
        .retrieve_many(ExternalNetwork::IDENTITY, &cursor)
        .await
        .expect("first page");
    assert_eq!(first.next.as_deref(), Some("i4"));
    cursor.after = first.next.clone();
    let second = m
        .retrieve_many(ExternalNetwork::IDENTITY, &cursor)
        .await
        .expect("second page");
    let got: Vec<&str> = second
        .objects
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        (got, second.next.as_deref()),
        (vec!["charlie", "delta"], Some("i1"))
    );
    cursor.after = second.next.clone();
    let last = m
        .retrieve_many(ExternalNetwork::IDENTITY, &cursor)
        .await
        .expect("last page");
    assert_eq!((last.objects.len(), last.next), (1, None));
    assert_eq!(
        m.count(ExternalNetwork::IDENTITY, &filtered("/", "name > b"))
            .await,
        Ok(4)
    );
}

/// Walking a filtered list with `after`/`limit` pages of 2 gives the same objects, in the same
/// order, as one unpaged request, for insertion order and for each order key up and down, with
/// ties (`description`) and missing values (`createTime`, set on the first objects only).
pub async fn cursor_walks(m: &dyn Manipulator) {
    let c = ctx("/");
    for i in 0..11 {
        let mut n = network(&format!("w{i:02}"), "/", &format!("net-{}", (i * 7) % 11));
        n.description = ["b", "a", "c"][i % 3].into();
        n.protected = i == 4;
        // Times on the first objects only: a null cursor is followed by earlier non-null rows.
        if i < 6 {
            n.create_time =
                elemental::timefmt::parse_filter_date(&format!("2020-01-{:02}", 20 - i));
        }
        manipulate::create(m, n, &c).await.expect("create");
    }
    for order in [
        "",
        "name",
        "-name",
        "description",
        "-description",
        "createTime",
        "-createTime",
    ] {
        let mut all = filtered("/", "protected == false");
        all.order = (!order.is_empty())
            .then(|| order.to_string())
            .into_iter()
            .collect();
        let expected: Vec<String> = m
            .retrieve_many(ExternalNetwork::IDENTITY, &all)
            .await
            .expect("everything")
            .objects
            .iter()
            .map(|d| d["ID"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(expected.len(), 10, "order {order:?}");
        let mut walked = Vec::new();
        let mut cursor = all.clone();
        cursor.limit = 2;
        loop {
            let page = m
                .retrieve_many(ExternalNetwork::IDENTITY, &cursor)
                .await
                .unwrap_or_else(|e| panic!("order {order:?} after {:?}: {e}", cursor.after));
            assert_eq!(page.total, 10, "order {order:?}");
            // The records of the page, as the store read them, are the same page.
            let records = m
                .retrieve_many_records(ExternalNetwork::IDENTITY, &cursor)
                .await
                .unwrap_or_else(|e| panic!("records, order {order:?}: {e}"));
            assert_eq!(records.map(Record::into_document), page, "order {order:?}");
            walked.extend(
                page.objects
                    .iter()
                    .map(|d| d["ID"].as_str().unwrap_or_default().to_string()),
            );
            match page.next {
                Some(next) if walked.len() <= expected.len() => cursor.after = Some(next),
                _ => break,
            }
        }
        assert_eq!(walked, expected, "order {order:?}");
    }
}

/// Recursive or not, propagation, and isolation of reads, changes and counts.
pub async fn namespaces_and_isolation(m: &dyn Manipulator) {
    let all = StoreContext::default();
    for (id, ns, name) in [
        ("r", "/", "root"),
        ("a", "/a", "in-a"),
        ("ab", "/a/b", "in-ab"),
        ("ab2", "/ab", "in-ab-sibling"),
        ("adash", "/a-b", "in-a-dash-sibling"),
        ("c", "/c", "in-c"),
    ] {
        manipulate::create(m, network(id, ns, name), &all)
            .await
            .expect("create");
    }
    assert_eq!(names(m, &ctx("/a")).await, vec!["in-a"]);
    let mut recursive = ctx("/a");
    recursive.recursive = true;
    assert_eq!(
        names(m, &recursive).await,
        vec!["in-a", "in-ab"],
        "/ab and /a-b are not below /a"
    );
    assert_eq!(m.count(ExternalNetwork::IDENTITY, &recursive).await, Ok(2));
    // Isolation: nothing outside the subtree is read, changed or deleted.
    let outside = manipulate::retrieve::<ExternalNetwork>(m, "c", &recursive).await;
    assert_eq!(outside, Err(ManipulateError::NotFound { id: "c".into() }));
    let mut c = network("c", "/c", "hijacked");
    c.description = "x".into();
    assert_eq!(
        manipulate::update(m, c, &recursive).await.map(|_| ()),
        Err(ManipulateError::NotFound { id: "c".into() })
    );
    assert_eq!(
        manipulate::delete::<ExternalNetwork>(m, "c", &recursive)
            .await
            .map(|_| ()),
        Err(ManipulateError::NotFound { id: "c".into() })
    );
    assert_eq!(
        m.delete_many(ExternalNetwork::IDENTITY, &ctx("/a")).await,
        Ok(1)
    );
    assert_eq!(names(m, &ctx("/c")).await, vec!["in-c"], "untouched");
    // Propagation: an object of an ancestor that propagates is seen from below.
    let mut shared = network("p", "/", "shared");
    shared.propagate = true;
    manipulate::create(m, shared, &all).await.expect("create");
    let mut propagated = ctx("/a/b");
    propagated.propagated = true;
    assert_eq!(names(m, &propagated).await, vec!["in-ab", "shared"]);
}

/// A recursive count, with and without a filter, as the table fills: first with every object
/// in the subtree, then with objects outside it (`/s`, `/t0`), then with one between the
/// namespace and its descendants (`/t-b`). A page's total is the same count.
pub async fn recursive_counts(m: &dyn Manipulator) {
    let all = StoreContext::default();
    let mut subtree = ctx("/t");
    subtree.recursive = true;
    let mut kept = filtered("/t", "name == keep");
    kept.recursive = true;
    let stages: [&[(&str, &str, &str)]; 3] = [
        &[
            ("t1", "/t", "keep"),
            ("t2", "/t/x", "keep"),
            ("t3", "/t/x/y", "drop"),
        ],
        &[("s1", "/s", "keep"), ("t0", "/t0", "keep")],
        &[("tb", "/t-b", "keep")],
    ];
    for (stage, objects) in stages.iter().enumerate() {
        for (id, ns, name) in objects.iter() {
            manipulate::create(m, network(id, ns, name), &all)
                .await
                .expect("create");
        }
        let count = |c| m.count(ExternalNetwork::IDENTITY, c);
        assert_eq!(count(&subtree).await, Ok(3), "stage {stage}");
        assert_eq!(count(&kept).await, Ok(2), "stage {stage}, filtered");
        let page = manipulate::retrieve_many::<ExternalNetwork>(m, &kept)
            .await
            .expect("retrieve-many");
        assert_eq!(page.total, 2, "stage {stage}, a page's total");
    }
}

/// Duplicate ids are constraint violations; a replayed idempotency key creates once.
pub async fn constraints_and_idempotency(m: &dyn Manipulator) {
    let c = ctx("/");
    manipulate::create(m, network("dup", "/", "one"), &c)
        .await
        .expect("create");
    let again = manipulate::create(m, network("dup", "/", "two"), &c).await;
    assert!(
        matches!(again, Err(ManipulateError::ConstraintViolation(_))),
        "{again:?}"
    );
    let mut keyed = ctx("/");
    keyed.idempotency_key = Some("key-1".into());
    manipulate::create(m, network("k1", "/", "first"), &keyed)
        .await
        .expect("create");
    let replay: ExternalNetwork = manipulate::create(m, network("k2", "/", "second"), &keyed)
        .await
        .expect("replay");
    assert_eq!(replay.id, "k1");
    assert_eq!(m.count(ExternalNetwork::IDENTITY, &c).await, Ok(2));
    let _ = Identity::ROOT;
}
