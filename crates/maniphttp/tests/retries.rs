//! Retries, proven with a server that fails N times: backoff on 503 and 429, `Retry-After`
//! honoured, the same idempotency key on every attempt, no retry of a request that is not safe
//! to send twice, connection errors, the deadline; and the typed errors of statuses the
//! apiserver does not produce on demand (401, 403, 405, 423, 429, 500, 504).

mod common;

use std::time::{Duration, Instant};

use common::{Scripted, ScriptedServer};
use gaia::model::ExternalNetwork;
use maniphttp::{Client, Error, RetryPolicy};
use manipulate::StoreContext;

const OBJECT: &str = r#"{"ID":"5f0000000000000000000001","name":"web","namespace":"/"}"#;

fn unavailable() -> Scripted {
    Scripted::new(
        503,
        r#"[{"code":503,"description":"busy","subject":"test","title":"Service Unavailable"}]"#,
    )
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(3),
    }
}

fn client(server: &ScriptedServer) -> Client {
    Client::builder(server.url())
        .with_retry(quick())
        .build()
        .unwrap()
}

fn root() -> StoreContext {
    StoreContext::in_namespace("/")
}

fn network() -> ExternalNetwork {
    ExternalNetwork {
        name: "web".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_read_is_retried_until_it_succeeds() {
    let server = ScriptedServer::start(
        vec![
            unavailable(),
            unavailable(),
            Scripted::new(502, "bad gateway"),
        ],
        Scripted::new(200, OBJECT),
    )
    .await;
    let read: ExternalNetwork = client(&server)
        .retrieve("5f0000000000000000000001", &root())
        .await
        .expect("the fourth attempt succeeds");
    assert_eq!(read.name, "web");
    assert_eq!(server.received().len(), 4);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = ScriptedServer::start(
        vec![Scripted::new(429, "[]").header("retry-after", "1")],
        Scripted::new(200, OBJECT),
    )
    .await;
    let started = Instant::now();
    client(&server)
        .retrieve::<ExternalNetwork>("x", &root())
        .await
        .expect("the second attempt succeeds");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_error_is_typed() {
    let server = ScriptedServer::start(vec![], unavailable()).await;
    let result = client(&server)
        .retrieve::<ExternalNetwork>("x", &root())
        .await;
    let Err(Error::Unavailable(answer)) = result else {
        panic!("not a 503: {result:?}");
    };
    assert_eq!((answer.status, answer.description()), (503, "busy"));
    assert_eq!(server.received().len(), 4);
}

#[tokio::test]
async fn a_create_is_retried_with_the_same_idempotency_key() {
    let server = ScriptedServer::start(vec![unavailable()], Scripted::new(200, OBJECT)).await;
    let created = client(&server).create(&network(), &root()).await.unwrap();
    assert_eq!(created.id, "5f0000000000000000000001");
    let keys: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].len(), 36, "a UUID: {keys:?}");
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn a_create_without_a_key_is_not_retried() {
    let server = ScriptedServer::start(vec![unavailable()], Scripted::new(200, OBJECT)).await;
    let client = Client::builder(server.url())
        .with_retry(quick())
        .with_automatic_idempotency_keys(false)
        .build()
        .unwrap();
    let result = client.create(&network(), &root()).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(server.received().len(), 1);
    assert!(
        server.received()[0]
            .headers
            .get("idempotency-key")
            .is_none()
    );
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port that was just free: nothing listens.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = Client::builder(format!("http://{addr}"))
        .with_retry(quick())
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client.retrieve::<ExternalNetwork>("x", &root()).await;
    let Err(Error::Transport { api, reason }) = result else {
        panic!("not a transport error: {result:?}");
    };
    assert_eq!(api, format!("http://{addr}"));
    assert!(reason.contains("onnection refused"), "{reason}");
    // Three waits of 5-10, 10-20 and 20-40 ms.
    assert!(started.elapsed() >= Duration::from_millis(35));
}

#[tokio::test]
async fn the_deadline_bounds_retries() {
    let server = ScriptedServer::start(vec![], unavailable()).await;
    let client = Client::builder(server.url())
        .with_retry(RetryPolicy {
            max_attempts: 100,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(100),
        })
        .with_timeout(Duration::from_millis(350))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client.retrieve::<ExternalNetwork>("x", &root()).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    let attempts = server.received().len();
    assert!((3..=7).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            kept.push(stream);
        }
    });
    let client = Client::builder(format!("http://{addr}"))
        .with_retry(RetryPolicy::never())
        .with_request_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = client.retrieve::<ExternalNetwork>("x", &root()).await;
    assert_eq!(result, Err(Error::Timeout(Duration::from_millis(200))));
}

#[tokio::test]
async fn the_token_and_the_context_headers_are_sent() {
    let server = ScriptedServer::start(
        vec![],
        Scripted::new(200, "[]").header("x-count-total", "0"),
    )
    .await;
    let client = Client::builder(server.url())
        .with_token("s3cret")
        .build()
        .unwrap();
    let mut ctx = StoreContext::in_namespace("/acme");
    ctx.fields = vec!["ID".into(), "name".into()];
    client.retrieve_many::<ExternalNetwork>(&ctx).await.unwrap();
    let received = &server.received()[0];
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(received.method, "GET");
    assert_eq!(received.path, "/externalnetworks");
    assert_eq!(header("authorization").as_deref(), Some("Bearer s3cret"));
    assert_eq!(header("x-namespace").as_deref(), Some("/acme"));
    assert_eq!(header("x-fields").as_deref(), Some("ID, name"));
    assert_eq!(header("accept").as_deref(), Some("application/json"));
}

#[tokio::test]
async fn each_error_status_has_its_type() {
    let statuses = [401, 403, 405, 423, 429, 500, 504];
    let answers = statuses
        .iter()
        .map(|status| {
            Scripted::new(
                *status,
                &format!(
                    r#"[{{"code":{status},"description":"d{status}","subject":"s","title":"t"}}]"#
                ),
            )
            .header("x-request-id", &format!("r{status}"))
        })
        .collect();
    let server = ScriptedServer::start(answers, Scripted::new(200, "{}")).await;
    let client = Client::builder(server.url())
        .with_retry(RetryPolicy::never())
        .build()
        .unwrap();
    let mut kinds = Vec::new();
    for status in statuses {
        let error = client
            .retrieve::<ExternalNetwork>("x", &root())
            .await
            .expect_err("an error");
        let answer = error.api().expect("an answer").clone();
        assert_eq!(answer.status, status);
        assert_eq!(answer.description(), format!("d{status}"));
        assert_eq!(answer.request_id, Some(format!("r{status}")));
        let kind = match error {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::MethodNotAllowed(_) => "method not allowed",
            Error::Locked(_) => "locked",
            Error::RateLimited(_) => "rate limited",
            Error::Server(_) => "server",
            Error::Unavailable(_) => "unavailable",
            _ => "other",
        };
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "forbidden",
            "method not allowed",
            "locked",
            "rate limited",
            "server",
            "unavailable"
        ]
    );
}

#[tokio::test]
async fn an_answer_without_an_error_array_is_still_typed() {
    let server = ScriptedServer::start(
        vec![Scripted::new(403, "go away").header("content-type", "text/plain")],
        Scripted::new(200, "{}"),
    )
    .await;
    let result = client(&server)
        .retrieve::<ExternalNetwork>("x", &root())
        .await;
    let Err(Error::Forbidden(answer)) = result else {
        panic!("not a 403: {result:?}");
    };
    assert_eq!(answer.description(), "go away");
    assert_eq!(
        answer.errors.iter().next().map(|e| e.title.as_str()),
        Some("Forbidden")
    );
}
