//! Push over real websockets: the events of writes, JSON and msgpack, push configs, bad
//! filters, authentication before the upgrade, namespace scoping, resume with `since`, and a
//! stalled session cut off while others receive everything.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bahamut::push::{SessionAuthenticator, SessionInfo};
use bahamut::{BoxFuture, PushOptions};
use elemental::{EncodingType, Event, EventType};
use testkit::push::{PushClient, Received};
use testkit::{call, json};

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

async fn server(push: PushOptions) -> testkit::Running {
    let store = Arc::new(manipulate::MemoryManipulator::new());
    testkit::start(|options| apiserver::server(options.with_push(push), store)).await
}

async fn create(addr: std::net::SocketAddr, namespace: &str, name: &str) -> String {
    let body = format!(r#"{{"name":"{name}","entries":["10.0.0.0/8"]}}"#);
    let created = call(addr, "POST", "/externalnetworks", namespace, &body).await;
    assert_eq!(created.status, 200, "{}", created.text());
    json(&created)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn entity(event: &Event) -> serde_json::Value {
    event
        .decode_entity()
        .unwrap_or_else(|e| panic!("entity: {e}"))
}

async fn assert_quiet(client: &mut PushClient) {
    match client.receive(QUIET).await {
        Received::Nothing => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_produce_exactly_their_events_in_json_and_msgpack() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let mut json_client = PushClient::connect(addr, "namespace=/")
        .await
        .expect("json session");
    let mut msgpack_client = PushClient::connect(addr, "namespace=/&encoding=msgpack")
        .await
        .expect("msgpack session");
    let id = create(addr, "/", "web").await;
    // Clients update with the whole object, as read (read-only attributes included).
    let read = call(addr, "GET", &format!("/externalnetworks/{id}"), "/", "").await;
    let mut object = json(&read);
    object["description"] = "updated".into();
    let body = object.to_string();
    let updated = call(addr, "PUT", &format!("/externalnetworks/{id}"), "/", &body).await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let deleted = call(addr, "DELETE", &format!("/externalnetworks/{id}"), "/", "").await;
    assert_eq!(deleted.status, 200);

    for (client, encoding) in [
        (&mut json_client, EncodingType::Json),
        (&mut msgpack_client, EncodingType::Msgpack),
    ] {
        let mut sequences = Vec::new();
        for (expected_type, description) in [
            (EventType::Create, ""),
            (EventType::Update, "updated"),
            (EventType::Delete, "updated"),
        ] {
            let event = client.event(WAIT).await;
            assert_eq!(event.identity, "externalnetwork");
            assert_eq!(event.event_type, expected_type);
            assert_eq!(event.encoding, encoding, "the wire encoding of the session");
            let object = entity(&event);
            assert_eq!(object["ID"], id.as_str());
            assert_eq!(object["description"], description);
            sequences.push(event.sequence);
        }
        assert!(
            sequences[0] > 0
                && sequences[1] == sequences[0] + 1
                && sequences[2] == sequences[1] + 1
        );
        assert_quiet(client).await;
    }
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_configs_select_identities_types_and_entities() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let mut client = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    client
        .configure(r#"{"identities":{"externalnetwork":["create"]},"filters":{"externalnetwork":"name == b"}}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(addr, "/", "a").await;
    let b = create(addr, "/", "b").await;
    let namespace = call(addr, "POST", "/namespaces", "/", r#"{"name":"other"}"#).await;
    assert_eq!(namespace.status, 200);
    call(addr, "DELETE", &format!("/externalnetworks/{b}"), "/", "").await;
    let event = client.event(WAIT).await;
    assert_eq!(
        (event.event_type, entity(&event)["name"].clone()),
        (EventType::Create, "b".into())
    );
    assert_quiet(&mut client).await;
    running.stop().await.expect("stop");
}

/// A session reads with a 1 KiB buffer: a config of several KiB is read whole all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_config_larger_than_the_read_buffer_applies() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let mut client = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    // 200 alternatives, about 5 KiB, only the last of which matches.
    let names: Vec<String> = (0..200)
        .map(|n| format!("name == not-this-one-{n}"))
        .collect();
    let filter = format!("{} or name == wanted", names.join(" or "));
    let config = format!(r#"{{"filters":{{"externalnetwork":"{filter}"}}}}"#);
    assert!(config.len() > 4 * 1024, "{} bytes", config.len());
    client.configure(&config).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(addr, "/", "other").await;
    create(addr, "/", "wanted").await;
    let event = client.event(WAIT).await;
    assert_eq!(entity(&event)["name"], "wanted");
    assert_quiet(&mut client).await;
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_filter_gives_an_error_event_or_closes_with_1003() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let bad = r#"{"filters":{"externalnetwork":"name > a"}}"#;
    let mut with_errors = PushClient::connect(addr, "namespace=/&enableErrors=true")
        .await
        .expect("session");
    with_errors.configure(bad).await;
    let event = with_errors.event(WAIT).await;
    assert_eq!(event.event_type, EventType::Error);
    let error = entity(&event);
    assert_eq!(error["code"], 400);
    assert_eq!(error["title"], "Bad request");
    let description = error["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("unable to parse identity filters: externalnetwork: "),
        "{description}"
    );
    // The session stays open, in an error state: nothing is delivered until a valid config
    // arrives (as Go bahamut).
    create(addr, "/", "held-back").await;
    assert_quiet(&mut with_errors).await;
    with_errors.configure("{}").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(addr, "/", "still-here").await;
    let event = with_errors.event(WAIT).await;
    assert_eq!(
        (event.event_type, entity(&event)["name"].clone()),
        (EventType::Create, serde_json::json!("still-here"))
    );

    let mut without = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    without.configure(bad).await;
    match without.receive(WAIT).await {
        Received::Closed(code, reason) => {
            assert_eq!(code, 1003);
            assert!(
                reason.starts_with("unable to parse identity filters"),
                "{reason}"
            );
        }
        other => panic!("expected a close, got {other:?}"),
    }
    running.stop().await.expect("stop");
}

struct Tokens;

impl SessionAuthenticator for Tokens {
    fn authenticate_session<'a>(
        &'a self,
        session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<bool, elemental::Error>> {
        Box::pin(async move { Ok(session.token.as_deref() == Some("secret")) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticators_refuse_with_401_before_the_upgrade() {
    let push = PushOptions {
        authenticators: vec![Arc::new(Tokens)],
        ..PushOptions::default()
    };
    let running = server(push).await;
    let upgrade = |query: &str| {
        testkit::request(
            "GET",
            &format!("/events?{query}"),
            &[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            "",
        )
    };
    let refused = testkit::send(running.addr, &upgrade("token=wrong")).await;
    assert_eq!(refused.status, 401);
    let trace = refused.header("X-Request-ID").unwrap_or_default();
    assert_eq!(trace.len(), 36, "a request id");
    assert_eq!(
        refused.text(),
        format!(
            r#"[{{"code":401,"description":"You are not authorized to access this resource.","subject":"bahamut","title":"Unauthorized","trace":"{trace}"}}]"#
        )
    );
    assert!(
        PushClient::connect(running.addr, "token=wrong")
            .await
            .is_err()
    );
    let client = PushClient::connect(running.addr, "token=secret").await;
    assert!(client.is_ok());
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_only_see_their_namespace_subtree() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    for (parent, name) in [("/", "a"), ("/a", "b"), ("/", "ab")] {
        let r = testkit::call(
            addr,
            "POST",
            "/namespaces",
            parent,
            &format!(r#"{{"name":"{name}"}}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mut a_recursive = PushClient::connect(addr, "namespace=/a&mode=all")
        .await
        .expect("session");
    let mut a_only = PushClient::connect(addr, "namespace=/a")
        .await
        .expect("session");
    let mut a_child = PushClient::connect(addr, "namespace=/a/b&recursive=true")
        .await
        .expect("session");
    let mut sibling = PushClient::connect(addr, "namespace=/ab&mode=all")
        .await
        .expect("session");
    let mut root_only = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    create(addr, "/a", "in-a").await;
    create(addr, "/a/b", "in-ab").await;
    let names = |events: Vec<Event>| -> Vec<String> {
        events
            .iter()
            .map(|e| entity(e)["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut got = Vec::new();
    got.push(a_recursive.event(WAIT).await);
    got.push(a_recursive.event(WAIT).await);
    assert_eq!(names(got), vec!["in-a", "in-ab"]);
    assert_eq!(names(vec![a_only.event(WAIT).await]), vec!["in-a"]);
    assert_eq!(names(vec![a_child.event(WAIT).await]), vec!["in-ab"]);
    for client in [
        &mut a_recursive,
        &mut a_only,
        &mut a_child,
        &mut sibling,
        &mut root_only,
    ] {
        assert_quiet(client).await;
    }
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_since_has_no_gap_and_no_duplicate() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let mut first = Some(
        PushClient::connect(addr, "namespace=/")
            .await
            .expect("session"),
    );
    let writer = tokio::spawn(async move {
        for n in 0..60 {
            create(addr, "/", &format!("n{n}")).await;
        }
    });
    let mut names = Vec::new();
    let mut since = None;
    // Reconnect three times during the burst, each time resuming after the last event seen.
    for round in 0..4 {
        let query = match since {
            Some(s) => format!("namespace=/&since={s}"),
            None => "namespace=/".to_string(),
        };
        let mut client = match first.take() {
            Some(client) => client,
            None => PushClient::connect(addr, &query).await.expect("session"),
        };
        let take = if round < 3 { 10 } else { usize::MAX };
        let mut taken = 0;
        while taken < take {
            match client.receive(Duration::from_millis(700)).await {
                Received::Event(event) => {
                    assert_ne!(event.event_type, EventType::Error, "{:?}", entity(&event));
                    names.push(
                        entity(&event)["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                    since = Some(event.sequence);
                    taken += 1;
                }
                Received::Nothing if round == 3 => break,
                other => panic!("round {round}: {other:?}"),
            }
        }
        client.close().await;
    }
    writer.await.expect("writer");
    // The first session started before the first write, so nothing is missing from the start.
    let expected: Vec<String> = (0..60).map(|n| format!("n{n}")).collect();
    assert_eq!(names, expected);
    running.stop().await.expect("stop");
}

/// Concurrent writers publish faster than one event per wake-up of the session, so events queue
/// behind each other and leave in batches: every one arrives, once, in sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_writes_arrives_whole_and_in_order() {
    let running = server(PushOptions::default()).await;
    let addr = running.addr;
    let mut client = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    let writers: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(async move {
                for n in 0..25 {
                    create(addr, "/", &format!("w{w}-{n}")).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let mut names = Vec::new();
    let mut sequences = Vec::new();
    for _ in 0..200 {
        let event = client.event(WAIT).await;
        assert_eq!(event.event_type, EventType::Create);
        names.push(
            entity(&event)["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        sequences.push(event.sequence);
    }
    assert_quiet(&mut client).await;
    let consecutive: Vec<u64> = (0..200).map(|n| sequences[0] + n).collect();
    assert_eq!(sequences, consecutive, "in order, no gap, no duplicate");
    names.sort();
    let mut expected: Vec<String> = (0..8)
        .flat_map(|w| (0..25).map(move |n| format!("w{w}-{n}")))
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_older_than_the_backlog_gets_a_resync_error_then_live_events() {
    let push = PushOptions {
        backlog_size: 2,
        ..PushOptions::default()
    };
    let running = server(push).await;
    let addr = running.addr;
    let mut first = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    create(addr, "/", "one").await;
    let seen = first.event(WAIT).await.sequence;
    first.close().await;
    for name in ["two", "three", "four"] {
        create(addr, "/", name).await;
    }
    let mut late = PushClient::connect(addr, &format!("namespace=/&since={seen}"))
        .await
        .expect("session");
    let error = late.event(WAIT).await;
    assert_eq!(error.event_type, EventType::Error);
    assert_eq!(entity(&error)["code"], 410);
    assert_eq!(entity(&error)["title"], "Resync Required");
    create(addr, "/", "five").await;
    let live = late.event(WAIT).await;
    assert_eq!(entity(&live)["name"], "five");
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_session_is_cut_off_while_ten_others_receive_everything() {
    const EVENTS: usize = 200;
    let push = PushOptions {
        session_queue_size: 16,
        ..PushOptions::default()
    };
    let store = Arc::new(manipulate::MemoryManipulator::new());
    let mut pusher = None;
    let running = testkit::start(|options| {
        let server = apiserver::server(options.with_push(push), store)?;
        pusher = server.pusher();
        Ok(server)
    })
    .await;
    let pusher = pusher.expect("push is on");
    let addr = running.addr;
    let mut stalled = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    let mut readers = Vec::new();
    for _ in 0..10 {
        let mut client = PushClient::connect(addr, "namespace=/")
            .await
            .expect("session");
        readers.push(tokio::spawn(async move {
            let mut count = 0;
            while count < EVENTS {
                match client.receive(WAIT).await {
                    Received::Event(_) => count += 1,
                    other => panic!("reader after {count}: {other:?}"),
                }
            }
            count
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Large events, so that the stalled session's socket buffers fill quickly.
    let padding = "x".repeat(64 * 1024);
    for batch in 0..EVENTS / 4 {
        let events = (0..4)
            .map(|n| {
                let entity = serde_json::json!({"name": format!("e{}", batch * 4 + n), "namespace": "/", "description": padding});
                Event::new(EventType::Create, "externalnetwork", &entity, EncodingType::Json)
                    .expect("event")
            })
            .collect();
        pusher.push(events);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for reader in readers {
        assert_eq!(reader.await.expect("reader"), EVENTS);
    }
    let mut received = 0;
    loop {
        match stalled.receive(WAIT).await {
            Received::Event(_) => received += 1,
            Received::Closed(code, reason) => {
                assert_eq!(code, 1013);
                assert!(
                    reason.starts_with("too slow: events were lost; resume with since="),
                    "{reason}"
                );
                break;
            }
            Received::Nothing => panic!("the stalled session was not closed"),
        }
    }
    assert!(
        received < EVENTS,
        "the stalled session got {received} events"
    );
    running.stop().await.expect("stop");
}

/// Refuses sessions asking for `forbidden`, lets services through only with a `service`
/// parameter, makes services related to external networks, and never publishes hostservices.
struct Rules;

impl bahamut::push::PushDispatchHandler for Rules {
    fn on_push_session_init<'a>(&'a self, session: &'a SessionInfo) -> BoxFuture<'a, bool> {
        Box::pin(async move { !session.parameters.iter().any(|(k, _)| k == "forbidden") })
    }

    fn related_identities(&self, identity: &str) -> Vec<String> {
        match identity {
            "service" => vec!["externalnetwork".to_string()],
            _ => Vec::new(),
        }
    }

    fn summarize_event(&self, event: &bahamut::push::Published) -> Option<serde_json::Value> {
        event.document().get("name").cloned()
    }

    fn should_dispatch(
        &self,
        _session: &SessionInfo,
        _event: &bahamut::push::Published,
        summary: Option<&serde_json::Value>,
        _config: Option<&elemental::PushConfig>,
    ) -> bool {
        summary.and_then(|s| s.as_str()) != Some("hidden")
    }
}

impl bahamut::push::PushPublishHandler for Rules {
    fn should_publish(&self, event: &Event) -> bool {
        event.identity != "hostservice"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_and_publish_handlers_have_their_say() {
    let push = PushOptions {
        dispatch_handler: Some(Arc::new(Rules)),
        publish_handler: Some(Arc::new(Rules)),
        ..PushOptions::default()
    };
    let running = server(push).await;
    let addr = running.addr;
    let upgrade = testkit::request(
        "GET",
        "/events?forbidden=1",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "",
    );
    let refused = testkit::send(addr, &upgrade).await;
    assert_eq!(refused.status, 403);
    assert_eq!(json(&refused)[0]["title"], "Forbidden");

    let mut client = PushClient::connect(addr, "namespace=/")
        .await
        .expect("session");
    client
        .configure(r#"{"identities":{"externalnetwork":[]}}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(addr, "/", "hidden").await;
    let ssh = call(
        addr,
        "POST",
        "/hostservices",
        "/",
        r#"{"name":"ssh","services":["tcp/22"]}"#,
    )
    .await;
    assert_eq!(ssh.status, 200);
    let service = call(
        addr,
        "POST",
        "/services",
        "/",
        r#"{"name":"api","hosts":["api.acme.com"],"exposedPort":443,"port":8443}"#,
    )
    .await;
    assert_eq!(service.status, 200, "{}", service.text());
    create(addr, "/", "shown").await;
    let first = client.event(WAIT).await;
    assert_eq!(
        (first.identity.as_str(), entity(&first)["name"].clone()),
        ("service", "api".into())
    );
    let second = client.event(WAIT).await;
    assert_eq!(entity(&second)["name"], "shown");
    assert_quiet(&mut client).await;
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sessions_are_closed_and_shutdown_closes_the_rest() {
    let push = PushOptions {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..PushOptions::default()
    };
    let running = server(push).await;
    let mut silent = PushClient::connect(running.addr, "namespace=/")
        .await
        .expect("session");
    let mut alive = PushClient::connect(running.addr, "namespace=/")
        .await
        .expect("session");
    // `alive` reads (and so answers pings); `silent` does not read for a second.
    let reader = tokio::spawn(async move { alive.receive(Duration::from_secs(3)).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    match silent.receive(WAIT).await {
        Received::Closed(code, reason) => {
            assert_eq!((code, reason.as_str()), (1001, "no answer to pings"))
        }
        other => panic!("expected a close, got {other:?}"),
    }
    running.stop().await.expect("stop");
    match reader.await.expect("reader") {
        Received::Closed(code, reason) => {
            assert_eq!((code, reason.as_str()), (1001, "server shutting down"))
        }
        other => panic!("expected a close, got {other:?}"),
    }
}
