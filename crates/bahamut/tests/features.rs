//! Server features over real sockets: read-only mode, rate limits, authentication and
//! authorization chains, audit, custom root handler and routes, panics, events, the
//! identifiable retriever, body limits, processor outputs, and the graceful drain.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bahamut::{
    AuditRecord, Auditer, AuthAction, AuthContext, BoxFuture, Errors, EventPublisher,
    IdentifiableRetriever, Options, Page, Processor, ProcessorContext, RateLimit,
    RequestAuthenticator, RequestAuthorizer, Server, ServerError,
};
use elemental::{Event, EventType, Identifiable, ModelIdentity, Request};
use testkit::{RawResponse, request, send};
use todo::model::{List, Task, manager};

/// A list processor whose behaviour depends on the object id.
struct Probe {
    started: Arc<tokio::sync::Notify>,
}

fn list(name: &str) -> List {
    List {
        name: name.into(),
        ..List::default()
    }
}

#[bahamut::processor]
impl Processor<List> for Probe {
    async fn retrieve_many(&self, ctx: &mut ProcessorContext<List>) -> Result<Page<List>, Errors> {
        ctx.add_message("first");
        ctx.add_message("second");
        let claims = ctx.claims().join(",");
        Ok(Page::new(vec![list(&claims)], 42, Some("cursor-2".into())))
    }

    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        match ctx.request().object_id.as_str() {
            "panic" => panic!("boom"),
            "slow" => {
                self.started.notify_one();
                tokio::time::sleep(Duration::from_millis(600)).await;
                Ok(list("slow"))
            }
            "redirect" => {
                ctx.set_redirect("https://example.com/elsewhere");
                Ok(list("elsewhere"))
            }
            "teapot" => {
                ctx.set_status(418);
                Ok(list("tea"))
            }
            "foreign" => Err(elemental::Error::new(
                "Internal Server Error",
                "disk on fire",
                "elemental",
                500,
            )
            .into()),
            id => Ok(List {
                id: id.into(),
                name: "found".into(),
                secret: "hidden".into(),
                ..List::default()
            }),
        }
    }

    async fn create(
        &self,
        ctx: &mut ProcessorContext<List>,
        mut list: List,
    ) -> Result<List, Errors> {
        list.set_id("new-id");
        ctx.enqueue_event(Event::new(
            EventType::Create,
            "audit",
            &serde_json::json!({"note": "first"}),
            elemental::EncodingType::Json,
        )?);
        Ok(list)
    }

    async fn update(
        &self,
        ctx: &mut ProcessorContext<List>,
        mut list: List,
    ) -> Result<List, Errors> {
        list.description = format!(
            "stored was {}",
            ctx.stored().map_or("none", |s| s.name.as_str())
        );
        Ok(list)
    }

    async fn delete(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        ctx.set_status(204);
        Ok(list("deleted"))
    }
}

struct Tasks;

#[bahamut::processor]
impl Processor<Task> for Tasks {
    async fn create(&self, _: &mut ProcessorContext<Task>, task: Task) -> Result<Task, Errors> {
        Ok(task)
    }
}

fn probe_server(
    options: Options,
    started: Arc<tokio::sync::Notify>,
) -> Result<Server, ServerError> {
    let mut server = Server::new(options.with_model(0, manager()).with_model(1, manager()));
    server.register_processor(Probe { started })?;
    server.register_processor(Tasks)?;
    Ok(server)
}

async fn start(options: impl FnOnce(Options) -> Options) -> testkit::Running {
    testkit::start(|o| probe_server(options(o), Arc::new(tokio::sync::Notify::new()))).await
}

async fn get(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    send(addr, &request("GET", path, headers, "")).await
}

fn only_error(r: &RawResponse) -> (u16, String, String, String) {
    let errors: elemental::Errors = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("not an error array: {}", r.text()));
    assert_eq!(errors.len(), 1, "{}", r.text());
    let e = errors.iter().next().unwrap();
    (
        e.code,
        e.title.clone(),
        e.description.clone(),
        e.subject.clone(),
    )
}

/// The generic description of a 500, naming the trace of the response.
fn concealed(r: &RawResponse) -> String {
    let errors: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let trace = errors[0]["trace"].as_str().unwrap_or_default();
    assert_eq!(trace.len(), 36, "a request id: {trace}");
    format!(
        "The server could not process the request; its logs have the details under trace {trace}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_and_info() {
    let mut server = probe_server(Options::new(), Arc::new(tokio::sync::Notify::new())).unwrap();
    assert_eq!(server.processors_count(), 2);
    let again = server.register_processor(Tasks);
    assert_eq!(
        again.unwrap_err().to_string(),
        "a processor is already registered for identity 'task'"
    );
    assert_eq!(
        server.processor_for_identity(Task::IDENTITY),
        Some(vec![elemental::Operation::Create])
    );
    server.unregister_processor(Task::IDENTITY).unwrap();
    assert!(server.unregister_processor(Task::IDENTITY).is_err());
    assert_eq!(server.processors_count(), 1);
    assert_eq!(server.routes_info()["1"].len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn processor_outputs_and_headers() {
    let s = start(|o| o).await;
    let r = get(s.addr, "/lists", &[]).await;
    assert_eq!(r.header("X-Messages"), Some("first;second"));
    assert_eq!(r.header("X-Next"), Some("cursor-2"));
    assert_eq!(r.header("X-Count-Total"), Some("42"));
    let r = get(s.addr, "/lists/redirect", &[]).await;
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("https://example.com/elsewhere"))
    );
    let r = get(s.addr, "/lists/teapot", &[]).await;
    assert_eq!(r.status, 418);
    // Secrets never leave.
    let r = get(s.addr, "/lists/abc", &[]).await;
    assert!(r.text().contains(r#""secret":"""#), "{}", r.text());
    // A 204 status: no body.
    let r = send(s.addr, &request("DELETE", "/lists/abc", &[], "")).await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    // A foreign error is a 500 from elemental; its text stays in the logs.
    let r = get(s.addr, "/lists/foreign", &[]).await;
    assert_eq!(
        only_error(&r),
        (
            500,
            "Internal Server Error".into(),
            concealed(&r),
            "elemental".into()
        )
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn panicking_processor_answers_500_and_the_server_keeps_serving() {
    let s = start(|o| o).await;
    let r = get(s.addr, "/lists/panic", &[]).await;
    assert_eq!(
        only_error(&r),
        (
            500,
            "Internal Server Error".into(),
            concealed(&r),
            "bahamut".into()
        )
    );
    assert_eq!(get(s.addr, "/lists/abc", &[]).await.status, 200);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_with_exclusions() {
    let s = start(|o| o.with_read_only(true, &[Task::IDENTITY])).await;
    let body = r#"{"name":"x"}"#;
    let r = send(
        s.addr,
        &request(
            "POST",
            "/lists",
            &[("Content-Type", "application/json")],
            body,
        ),
    )
    .await;
    assert_eq!(
        only_error(&r),
        (
            423,
            "Locked".into(),
            "This api is currently locked. Please try again later".into(),
            "bahamut".into()
        )
    );
    assert_eq!(
        get(s.addr, "/lists/abc", &[]).await.status,
        200,
        "reads are allowed"
    );
    let r = send(
        s.addr,
        &request(
            "POST",
            "/lists/l1/tasks",
            &[("Content-Type", "application/json")],
            body,
        ),
    )
    .await;
    assert_eq!(
        r.status,
        200,
        "excluded identity stays writable: {}",
        r.text()
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits() {
    let s = start(|o| o.with_rate_limit(RateLimit::new(0.0, 2))).await;
    assert_eq!(get(s.addr, "/lists", &[]).await.status, 200);
    assert_eq!(get(s.addr, "/lists", &[]).await.status, 200);
    let r = get(s.addr, "/lists", &[]).await;
    assert_eq!(
        only_error(&r),
        (
            429,
            "Rate Limit".into(),
            "You have exceeded your rate limit".into(),
            "bahamut".into()
        )
    );
    s.stop().await.unwrap();

    let only_writes: bahamut::options::RateLimitCondition =
        Arc::new(|r: &Request| r.operation.is_write());
    let s = start(|o| {
        o.with_identity_rate_limit(List::IDENTITY, RateLimit::new(0.0, 1), Some(only_writes))
    })
    .await;
    let create = request(
        "POST",
        "/lists",
        &[("Content-Type", "application/json")],
        r#"{"name":"x"}"#,
    );
    assert_eq!(send(s.addr, &create).await.status, 200);
    assert_eq!(send(s.addr, &create).await.status, 429);
    assert_eq!(
        get(s.addr, "/lists", &[]).await.status,
        200,
        "reads are not counted"
    );
    s.stop().await.unwrap();
}

struct Fixed(AuthAction, &'static str);

impl RequestAuthenticator for Fixed {
    fn authenticate<'a>(
        &'a self,
        ctx: &'a mut AuthContext<'_>,
    ) -> BoxFuture<'a, Result<AuthAction, elemental::Error>> {
        Box::pin(async move {
            ctx.claims.push(self.1.to_string());
            Ok(self.0)
        })
    }
}

impl RequestAuthorizer for Fixed {
    fn authorize<'a>(
        &'a self,
        ctx: &'a mut AuthContext<'_>,
    ) -> BoxFuture<'a, Result<AuthAction, elemental::Error>> {
        Box::pin(async move {
            let allowed = ctx.request.auth_token == "good" || self.0 != AuthAction::Ok;
            Ok(if allowed { self.0 } else { AuthAction::Ko })
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_and_authorization_chains() {
    let unauthorized = (
        401,
        "Unauthorized".to_string(),
        "You are not authorized to access this resource.".to_string(),
        "bahamut".to_string(),
    );
    let forbidden = (
        403,
        "Forbidden".to_string(),
        "You are not allowed to access this resource.".to_string(),
        "bahamut".to_string(),
    );

    let s = start(|o| {
        o.with_authenticator(Arc::new(Fixed(AuthAction::Continue, "a")))
            .with_authenticator(Arc::new(Fixed(AuthAction::Ok, "b")))
    })
    .await;
    let r = get(s.addr, "/lists", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains(r#""name":"a,b""#),
        "claims reach the processor: {}",
        r.text()
    );
    s.stop().await.unwrap();

    let s = start(|o| {
        o.with_authenticator(Arc::new(Fixed(AuthAction::Ko, "a")))
            .with_authenticator(Arc::new(Fixed(AuthAction::Ok, "b")))
    })
    .await;
    assert_eq!(only_error(&get(s.addr, "/lists", &[]).await), unauthorized);
    s.stop().await.unwrap();

    let s = start(|o| o.with_authenticator(Arc::new(Fixed(AuthAction::Continue, "a")))).await;
    assert_eq!(
        only_error(&get(s.addr, "/lists", &[]).await),
        unauthorized,
        "nobody vouched"
    );
    s.stop().await.unwrap();

    let s = start(|o| {
        o.with_authorizer(Arc::new(Fixed(AuthAction::Continue, "")))
            .with_authorizer(Arc::new(Fixed(AuthAction::Ok, "")))
    })
    .await;
    assert_eq!(
        get(s.addr, "/lists", &[("Authorization", "Bearer good")])
            .await
            .status,
        200
    );
    assert_eq!(
        only_error(&get(s.addr, "/lists", &[("Authorization", "Bearer bad")]).await),
        forbidden
    );
    // Relationships come before authentication: a 405 is not hidden by a 403.
    assert_eq!(get(s.addr, "/users/1/lists", &[]).await.status, 405);
    s.stop().await.unwrap();
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(u16, Option<String>)>>);

impl Auditer for Recorder {
    fn audit(&self, record: &AuditRecord<'_>) {
        let error = record
            .errors
            .and_then(|e| e.iter().next())
            .map(|e| e.description.clone());
        self.0.lock().unwrap().push((record.status, error));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_once_per_request_with_its_error() {
    let recorder = Arc::new(Recorder::default());
    let auditer = recorder.clone();
    let s = start(move |o| o.with_auditer(auditer)).await;
    get(s.addr, "/lists", &[]).await;
    get(s.addr, "/users/1/lists", &[]).await;
    send(
        s.addr,
        &request(
            "POST",
            "/lists",
            &[("Content-Type", "application/json")],
            "{}",
        ),
    )
    .await;
    get(s.addr, "/_meta/name", &[]).await;
    s.stop().await.unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![
            (200, None),
            (
                405,
                Some("RetrieveMany operation not allowed on lists".to_string())
            ),
            (422, Some("Attribute 'name' is required".to_string())),
        ]
    );
}

/// The request of each audit record: its identity, object id and body size.
#[derive(Default)]
struct RequestRecorder(Mutex<Vec<(u16, String, String, usize)>>);

impl Auditer for RequestRecorder {
    fn audit(&self, record: &AuditRecord<'_>) {
        let (identity, id, body) = record.request.map_or_else(Default::default, |r| {
            (
                r.identity.name.to_string(),
                r.object_id.clone(),
                r.data.len(),
            )
        });
        self.0
            .lock()
            .unwrap()
            .push((record.status, identity, id, body));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_past_the_write_timeout_answers_503_and_is_audited_with_its_request() {
    let recorder = Arc::new(RequestRecorder::default());
    let auditer = recorder.clone();
    let s = start(move |o| {
        o.with_write_timeout(Duration::from_millis(100))
            .with_auditer(auditer)
    })
    .await;
    let slow = get(s.addr, "/lists/slow", &[]).await;
    assert_eq!(
        only_error(&slow),
        (
            503,
            "Service Unavailable".to_string(),
            "The request took too long to process".to_string(),
            "bahamut".to_string()
        )
    );
    let fast = get(s.addr, "/lists/l1", &[]).await;
    assert_eq!(fast.status, 200, "{}", fast.text());
    // A refused body: the audit's request no longer holds it.
    let json = [("Content-Type", "application/json")];
    let refused = send(s.addr, &request("POST", "/lists", &json, "{}")).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    s.stop().await.unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![
            (503, "list".to_string(), "slow".to_string(), 0),
            (200, "list".to_string(), "l1".to_string(), 0),
            (422, "list".to_string(), String::new(), 0),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_root_handler_and_custom_route() {
    let root: bahamut::options::RouteHandler = Arc::new(|_, _| {
        Box::pin(async {
            let mut r = http::Response::new(bahamut::Body::from(bytes::Bytes::from_static(
                b"hello world",
            )));
            *r.status_mut() = http::StatusCode::IM_A_TEAPOT;
            r
        })
    });
    let s = testkit::start(move |o| {
        let mut server = probe_server(
            o.with_root_handler(root),
            Arc::new(tokio::sync::Notify::new()),
        )?;
        server.add_route(
            "/custom/echo",
            Arc::new(|parts, body| {
                Box::pin(async move {
                    let text = format!("{} {}", parts.method, String::from_utf8_lossy(&body));
                    http::Response::new(bahamut::Body::from(text))
                })
            }),
        );
        Ok(server)
    })
    .await;
    let r = get(s.addr, "/", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (418, "hello world"));
    let r = send(s.addr, &request("POST", "/custom/echo", &[], "ping")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "POST ping"));
    s.stop().await.unwrap();
}

#[derive(Default)]
struct Collect(Mutex<Vec<Event>>);

impl EventPublisher for Collect {
    fn publish(&self, events: Vec<Event>) {
        self.0.lock().unwrap().extend(events);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_publish_their_events_processor_ones_first() {
    let collect = Arc::new(Collect::default());
    let publisher = collect.clone();
    let s = start(move |o| o.with_event_publisher(publisher)).await;
    let r = send(
        s.addr,
        &request(
            "POST",
            "/lists",
            &[("Content-Type", "application/json")],
            r#"{"name":"n","secret":"s"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    send(
        s.addr,
        &request(
            "POST",
            "/lists",
            &[("Content-Type", "application/json")],
            "{}",
        ),
    )
    .await;
    get(s.addr, "/lists", &[]).await;
    s.stop().await.unwrap();
    let events = collect.0.lock().unwrap();
    let summary: Vec<(EventType, &str)> = events
        .iter()
        .map(|e| (e.event_type, e.identity.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![(EventType::Create, "audit"), (EventType::Create, "list")]
    );
    let list: List = events[1].decode_entity().unwrap();
    assert_eq!(
        (list.id.as_str(), list.name.as_str(), list.secret.as_str()),
        ("new-id", "n", "")
    );
}

struct Stored;

impl IdentifiableRetriever for Stored {
    fn retrieve<'a>(
        &'a self,
        request: &'a Request,
    ) -> BoxFuture<'a, Result<Box<dyn Identifiable>, elemental::Error>> {
        Box::pin(async move {
            match request.object_id.as_str() {
                "missing" => Err(elemental::Error::new(
                    "Not Found",
                    "Object with ID 'missing' not found",
                    "test",
                    404,
                )),
                id => Ok(Box::new(List {
                    id: id.into(),
                    name: "stored".into(),
                    description: "old".into(),
                    read_only: "r".into(),
                    ..List::default()
                }) as Box<dyn Identifiable>),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retriever_checks_read_only_and_merges_patches() {
    let s = start(|o| o.with_retriever(Arc::new(Stored))).await;
    let json = [("Content-Type", "application/json")];
    let r = send(
        s.addr,
        &request("PATCH", "/lists/l1", &json, r#"{"slice":["x"]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list: List = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (
            list.id.as_str(),
            list.name.as_str(),
            list.slice.clone(),
            list.description.as_str()
        ),
        ("l1", "stored", vec!["x".to_string()], "stored was stored")
    );
    let r = send(
        s.addr,
        &request(
            "PUT",
            "/lists/l1",
            &json,
            r#"{"name":"n","readOnly":"changed"}"#,
        ),
    )
    .await;
    assert_eq!(
        only_error(&r),
        (
            422,
            "Read Only Error".into(),
            "Field readOnly is read only. You cannot modify its value.".into(),
            "elemental".into()
        )
    );
    let r = send(s.addr, &request("PATCH", "/lists/missing", &json, "{}")).await;
    assert_eq!(r.status, 404);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn body_limit() {
    let s = start(|o| o.with_max_body_size(16)).await;
    let r = send(
        s.addr,
        &request(
            "POST",
            "/lists",
            &[("Content-Type", "application/json")],
            r#"{"name":"way too long for the limit"}"#,
        ),
    )
    .await;
    assert_eq!(
        only_error(&r),
        (
            413,
            "Payload Too Large".into(),
            "The request body is larger than 16 bytes".into(),
            "bahamut".into()
        )
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_drain() {
    let started = Arc::new(tokio::sync::Notify::new());
    let hooks = Arc::new(AtomicUsize::new(0));
    let (pre_stop, post_start) = (hooks.clone(), hooks.clone());
    let notify = started.clone();
    let mut s = testkit::start(move |o| {
        let o = o
            .with_post_start_hook(Arc::new(move || {
                post_start.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {})
            }))
            .with_pre_stop_hook(Arc::new(move || {
                pre_stop.fetch_add(10, Ordering::SeqCst);
                Box::pin(async {})
            }));
        probe_server(o, notify)
    })
    .await;
    let (addr, health) = (s.addr, s.health);
    assert_eq!(
        send(health, &request("GET", "/", &[], "")).await.status,
        204
    );
    let slow =
        tokio::spawn(async move { send(addr, &request("GET", "/lists/slow", &[], "")).await });
    started.notified().await;
    s.begin_stop();
    // Health turns 503 first, while the slow request is still in flight.
    let mut unhealthy = false;
    for _ in 0..50 {
        if send(health, &request("GET", "/", &[], "")).await.status == 503 {
            unhealthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(unhealthy, "health did not turn 503");
    assert!(!slow.is_finished(), "the slow request is still in flight");
    // New connections are refused.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "new connections are refused"
    );
    // The request in flight completes.
    let r = slow.await.unwrap();
    assert_eq!(
        (r.status, r.text().contains(r#""name":"slow""#)),
        (200, true)
    );
    s.stop().await.unwrap();
    assert_eq!(
        hooks.load(Ordering::SeqCst),
        11,
        "post-start and pre-stop hooks ran once"
    );
}
