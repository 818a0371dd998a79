//! The push subscriber against a real apiserver, through a TCP relay the test can cut: a write
//! burst received across three forced disconnections with no gap and no duplicate, a resync
//! reported when the backlog was exceeded, push configs applied and refused, the status stream,
//! and a server shutdown.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bahamut::push::PushOptions;
use common::Apiserver;
use elemental::{EventType, PushConfig};
use futures_util::StreamExt;
use gaia::model::{ExternalNetwork, NetworkAccessPolicy};
use maniphttp::{Client, RetryPolicy, Status, Subscriber};
use manipulate::StoreContext;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(10);

/// Relays TCP connections to a server; `cut` breaks every open one, `refuse` makes new ones
/// fail until `accept`.
struct Relay {
    addr: SocketAddr,
    cuts: broadcast::Sender<()>,
    refusing: Arc<AtomicBool>,
}

impl Relay {
    async fn start(server: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cuts, _) = broadcast::channel(4);
        let refusing = Arc::new(AtomicBool::new(false));
        let (cut, refused) = (cuts.clone(), refusing.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if refused.load(Ordering::SeqCst) {
                    continue; // Dropped: the client sees the connection closed.
                }
                let mut cut = cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(server).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cut.recv() => {}
                    }
                });
            }
        });
        Self {
            addr,
            cuts,
            refusing,
        }
    }

    fn cut(&self) {
        let _ = self.cuts.send(());
    }

    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

fn network(name: &str) -> ExternalNetwork {
    ExternalNetwork {
        name: name.into(),
        entries: vec!["10.0.0.0/8".into()],
        ..Default::default()
    }
}

fn quick_reconnect() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1000,
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

async fn subscribe(relay: &Relay) -> Subscriber {
    let mut subscriber = Client::builder(format!("http://{}", relay.addr))
        .build()
        .unwrap()
        .subscriber()
        .with_reconnect(quick_reconnect())
        .start();
    assert_eq!(next_status(&mut subscriber).await, Status::Connected);
    subscriber
}

async fn next_status(subscriber: &mut Subscriber) -> Status {
    tokio::time::timeout(WAIT, subscriber.next_status())
        .await
        .expect("a status in time")
        .expect("the subscriber runs")
}

/// Waits for a status matching `wanted`, returning it and those before it.
async fn status_until(
    subscriber: &mut Subscriber,
    wanted: impl Fn(&Status) -> bool,
) -> Vec<Status> {
    let mut seen = Vec::new();
    loop {
        let status = next_status(subscriber).await;
        let done = wanted(&status);
        seen.push(status);
        if done {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_burst_across_three_disconnections_arrives_whole_and_once() {
    let api = Apiserver::start().await;
    let relay = Relay::start(api.running.addr).await;
    let mut subscriber = subscribe(&relay).await;
    let writer = Client::builder(api.url()).build().unwrap();
    let root = StoreContext::in_namespace("/");

    const WRITES: usize = 600;
    let writes = tokio::spawn({
        let writer = writer.clone();
        async move {
            for i in 0..WRITES {
                writer
                    .create(&network(&format!("n{i}")), &root)
                    .await
                    .unwrap();
                if i % 150 == 149 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    let mut names = Vec::new();
    let mut sequences = Vec::new();
    let mut cuts = 0;
    while names.len() < WRITES {
        let event = tokio::time::timeout(WAIT, subscriber.next_event())
            .await
            .expect("an event in time")
            .expect("the subscriber runs");
        let entity: ExternalNetwork = event.decode_entity().unwrap();
        names.push(entity.name);
        sequences.push(event.sequence);
        if names.len() % 150 == 75 && cuts < 3 {
            relay.cut();
            cuts += 1;
        }
    }
    writes.await.unwrap();
    assert_eq!(cuts, 3);
    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), WRITES, "no duplicate");
    let expected: Vec<String> = (0..WRITES).map(|i| format!("n{i}")).collect();
    assert_eq!(names, expected, "every write, in order");
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive sequences: no gap"
    );
    assert_eq!(subscriber.last_sequence(), *sequences.last().unwrap());

    // The status stream saw each disconnection and the reconnections.
    let mut statuses = Vec::new();
    while let Ok(Some(status)) =
        tokio::time::timeout(Duration::from_millis(200), subscriber.next_status()).await
    {
        statuses.push(status);
    }
    let disconnected = statuses
        .iter()
        .filter(|s| matches!(s, Status::Disconnected { .. }))
        .count();
    let connected = statuses.iter().filter(|s| **s == Status::Connected).count();
    assert_eq!((disconnected, connected), (3, 3), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, Status::Reconnecting { .. }))
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_is_reported_when_the_backlog_was_exceeded() {
    let api = Apiserver::start_with(|o| {
        o.with_push(PushOptions {
            backlog_size: 10,
            ..PushOptions::default()
        })
    })
    .await;
    let relay = Relay::start(api.running.addr).await;
    let mut subscriber = subscribe(&relay).await;
    let writer = Client::builder(api.url()).build().unwrap();
    let root = StoreContext::in_namespace("/");
    writer.create(&network("first"), &root).await.unwrap();
    let first = subscriber.next_event().await.unwrap();
    assert_eq!(
        first.decode_entity::<ExternalNetwork>().unwrap().name,
        "first"
    );

    relay.refuse(true);
    relay.cut();
    status_until(&mut subscriber, |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    for i in 0..30 {
        writer
            .create(&network(&format!("missed{i}")), &root)
            .await
            .unwrap();
    }
    relay.refuse(false);
    let seen = status_until(&mut subscriber, |s| {
        matches!(s, Status::ResyncRequired { .. })
    })
    .await;
    let Some(Status::ResyncRequired { since, description }) = seen.last() else {
        unreachable!();
    };
    assert_eq!(*since, first.sequence);
    assert!(description.contains("no longer kept"), "{description}");

    // Live events follow.
    writer.create(&network("live"), &root).await.unwrap();
    let live = tokio::time::timeout(WAIT, subscriber.next_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        live.decode_entity::<ExternalNetwork>().unwrap().name,
        "live"
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_configs_are_applied_and_refusals_reported() {
    let api = Apiserver::start().await;
    let relay = Relay::start(api.running.addr).await;
    let mut subscriber = subscribe(&relay).await;
    let writer = Client::builder(api.url()).build().unwrap();
    let root = StoreContext::in_namespace("/");

    let mut policies_only = PushConfig::default();
    policies_only
        .identities
        .insert("networkaccesspolicy".into(), vec![EventType::Create]);
    subscriber.set_config(policies_only.clone());
    // The config applies before the next write is seen: wait until a policy arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    writer.create(&network("ignored"), &root).await.unwrap();
    let policy = NetworkAccessPolicy {
        name: "p".into(),
        ..Default::default()
    };
    writer.create(&policy, &root).await.unwrap();
    let event = tokio::time::timeout(WAIT, subscriber.next_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.identity.as_str(), event.event_type),
        ("networkaccesspolicy", EventType::Create)
    );

    // The config is sent again after a reconnection.
    relay.cut();
    status_until(&mut subscriber, |s| *s == Status::Connected).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    writer.create(&network("ignored too"), &root).await.unwrap();
    writer.create(&policy, &root).await.unwrap();
    let event = tokio::time::timeout(WAIT, subscriber.next_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.identity, "networkaccesspolicy");

    let mut bad = PushConfig::default();
    bad.identity_filters
        .insert("externalnetwork".into(), "name >= 3".into());
    subscriber.set_config(bad);
    let refused = status_until(&mut subscriber, |s| {
        matches!(s, Status::ConfigRefused { .. })
    })
    .await;
    let Some(Status::ConfigRefused { description }) = refused.last() else {
        unreachable!();
    };
    assert!(
        description.starts_with("unable to parse identity filters"),
        "{description}"
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_is_a_disconnection_then_reconnection_attempts() {
    let mut api = Apiserver::start().await;
    let relay = Relay::start(api.running.addr).await;
    let mut subscriber = subscribe(&relay).await;
    api.running.begin_stop();
    let seen = status_until(&mut subscriber, |s| {
        matches!(s, Status::Reconnecting { .. })
    })
    .await;
    assert!(
        seen.contains(&Status::Disconnected {
            code: 1001,
            reason: "server shutting down".into()
        }),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_session_stops_the_subscriber() {
    let api = Apiserver::start().await;
    let mut subscriber = Client::builder(api.url())
        .build()
        .unwrap()
        .subscriber()
        .with_namespace("/nowhere")
        .start();
    let status = next_status(&mut subscriber).await;
    let Status::Closed { reason } = status else {
        panic!("not closed: {status:?}");
    };
    assert!(
        reason.starts_with("the server refused the session: 404"),
        "{reason}"
    );
    assert_eq!(subscriber.next_event().await, None);
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_msgpack_session_in_a_namespace_and_below() {
    let api = Apiserver::start().await;
    let writer = Client::builder(api.url()).build().unwrap();
    let acme = gaia::model::Namespace {
        name: "acme".into(),
        ..Default::default()
    };
    writer
        .create(&acme, &StoreContext::in_namespace("/"))
        .await
        .unwrap();
    let prod = gaia::model::Namespace {
        name: "prod".into(),
        ..Default::default()
    };
    writer
        .create(&prod, &StoreContext::in_namespace("/acme"))
        .await
        .unwrap();
    let mut subscriber = writer
        .subscriber()
        .with_namespace("/acme")
        .with_recursive(true)
        .with_encoding(elemental::EncodingType::Msgpack)
        .start();
    assert_eq!(next_status(&mut subscriber).await, Status::Connected);
    writer
        .create(&network("outside"), &StoreContext::in_namespace("/"))
        .await
        .unwrap();
    let inside = writer
        .create(
            &network("inside"),
            &StoreContext::in_namespace("/acme/prod"),
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(WAIT, subscriber.next_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.encoding, elemental::EncodingType::Msgpack);
    let entity: ExternalNetwork = event.decode_entity().unwrap();
    assert_eq!(
        (entity.name.as_str(), entity.create_time),
        ("inside", inside.create_time)
    );
    api.running.stop().await.unwrap();
}

/// A push server that plays `script`: for each connection in turn, the events (sequences) it
/// sends then the close code and reason; it records each session's query.
async fn scripted_push_server(
    script: Vec<(Vec<u64>, u16, &'static str)>,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = queries.clone();
    tokio::spawn(async move {
        for (sequences, code, reason) in script {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            // The callback's signature is tungstenite's (its error is an HTTP response).
            #[allow(clippy::result_large_err)]
            let callback =
                move |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                      response| {
                    seen.lock()
                        .unwrap()
                        .push(request.uri().query().unwrap_or_default().to_string());
                    Ok(response)
                };
            let mut socket = tokio_tungstenite::accept_hdr_async(stream, callback)
                .await
                .unwrap();
            for sequence in sequences {
                let event = format!(
                    r#"{{"encoding":"application/json","entity":{{"ID":"x{sequence}","name":"n{sequence}"}},"identity":"externalnetwork","sequence":{sequence},"timestamp":"2026-12-04T00:00:00Z","type":"create"}}"#
                );
                socket.send(Message::Text(event.into())).await.unwrap();
            }
            let frame = CloseFrame {
                code: code.into(),
                reason: reason.into(),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
            // Read until the client's close answer, so that the close is delivered.
            while let Some(Ok(_)) = socket.next().await {}
        }
    });
    (addr, queries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1013_close_resumes_with_since_and_repeats_nothing() {
    let (addr, queries) = scripted_push_server(vec![
        (
            vec![1, 2, 3],
            1013,
            "too slow: events were lost; resume with since=3",
        ),
        // The server sends 3 again: the subscriber drops it.
        (vec![3, 4, 5], 1001, "server shutting down"),
    ])
    .await;
    let mut subscriber = Client::builder(format!("http://{addr}"))
        .build()
        .unwrap()
        .subscriber()
        .with_namespace("/a b")
        .with_reconnect(quick_reconnect())
        .start();
    let mut sequences = Vec::new();
    while sequences.len() < 5 {
        let event = tokio::time::timeout(WAIT, subscriber.next_event())
            .await
            .unwrap()
            .unwrap();
        sequences.push(event.sequence);
    }
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    let statuses = status_until(&mut subscriber, |s| {
        matches!(s, Status::Disconnected { code: 1001, .. })
    })
    .await;
    assert_eq!(
        statuses[..2],
        [
            Status::Connected,
            Status::Disconnected {
                code: 1013,
                reason: "too slow: events were lost; resume with since=3".into()
            },
        ]
    );
    assert!(matches!(
        statuses[2],
        Status::Reconnecting { attempt: 1, .. }
    ));
    assert_eq!(statuses[3], Status::Connected);
    assert_eq!(
        *queries.lock().unwrap(),
        [
            "namespace=%2Fa%20b&enableErrors=true",
            "namespace=%2Fa%20b&enableErrors=true&since=3"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1003_close_stops_the_subscriber() {
    let (addr, _) =
        scripted_push_server(vec![(vec![], 1003, "unable to parse identity filters")]).await;
    let mut subscriber = Client::builder(format!("http://{addr}"))
        .build()
        .unwrap()
        .subscriber()
        .start();
    let statuses = status_until(&mut subscriber, |s| matches!(s, Status::Closed { .. })).await;
    assert_eq!(
        statuses.last(),
        Some(&Status::Closed {
            reason: "closed by the server: 1003 unable to parse identity filters".into()
        })
    );
    assert_eq!(subscriber.next_event().await, None);
}
