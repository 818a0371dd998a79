//! The options of Go bahamut that a processor uses, over real sockets: the error transformer,
//! output cookies, no automatic event, and a response taken over by the processor; and what
//! registration knows from the processor alone (501 for the operations it does not write,
//! operations the relationships do not allow refused).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bahamut::{
    Body, Cookie, Errors, EventPublisher, Options, Page, Processor, ProcessorContext, SameSite,
    Server, ServerError,
};
use elemental::{Event, EventType};
use testkit::{request, send};
use todo::model::{List, Task, User, manager};

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        match ctx.request().object_id.as_str() {
            "refused" => Err(elemental::Error::new("Conflict", "taken", "lists", 409).into()),
            "download" => {
                let mut response = http::Response::new(Body::from("a,b\n1,2\n"));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/csv"),
                );
                ctx.set_response(response);
                ctx.add_cookie(Cookie::new("downloaded", "yes"));
                Ok(List::default())
            }
            _ => {
                ctx.add_cookie(
                    Cookie::new("session", "abc")
                        .with_path("/")
                        .with_max_age(Duration::from_secs(60))
                        .http_only()
                        .with_same_site(SameSite::Lax),
                );
                ctx.add_cookie(Cookie::new("theme", "dark"));
                Ok(List {
                    name: "found".into(),
                    ..List::default()
                })
            }
        }
    }

    async fn create(&self, ctx: &mut ProcessorContext<List>, list: List) -> Result<List, Errors> {
        if list.name == "quiet" {
            ctx.disable_automatic_event();
            ctx.enqueue_event(Event::new(
                EventType::Create,
                "audit",
                &serde_json::json!({"note": "kept"}),
                elemental::EncodingType::Json,
            )?);
        }
        Ok(list)
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<Event>>);

impl EventPublisher for Collect {
    fn publish(&self, events: Vec<Event>) {
        if let Ok(mut collected) = self.0.lock() {
            collected.extend(events);
        }
    }
}

async fn start(options: impl FnOnce(Options) -> Options) -> testkit::Running {
    testkit::start(|o| {
        let mut server = Server::new(options(o.with_model(0, manager())));
        server.register_processor(Lists)?;
        Ok(server)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_error_transformer_rewrites_processor_errors_only() {
    let transform: bahamut::ErrorTransformer = Arc::new(|errors: Errors| {
        errors
            .into_iter()
            .map(|mut e| {
                e.description = format!("transformed: {}", e.description);
                e.code = 422;
                e
            })
            .collect()
    });
    let s = start(|o| o.with_error_transformer(transform)).await;
    let r = send(s.addr, &request("GET", "/lists/refused", &[], "")).await;
    assert_eq!(r.status, 422);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("an error array");
    assert_eq!(
        body,
        serde_json::json!([{
            "code": 422,
            "description": "transformed: taken",
            "subject": "lists",
            "title": "Conflict",
            "trace": body[0]["trace"].clone(),
        }])
    );
    // The pipeline's own errors are not the processor's: a 501 stays as it is.
    let r = send(s.addr, &request("DELETE", "/lists/x", &[], "")).await;
    assert_eq!(r.status, 501, "{}", r.text());
    assert!(
        r.text()
            .contains(r#""description":"No handler for operation delete on list""#),
        "{}",
        r.text()
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_are_sent_as_set_cookie_headers() {
    let s = start(|o| o).await;
    let r = send(s.addr, &request("GET", "/lists/x", &[], "")).await;
    assert_eq!(r.status, 200);
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        [
            "session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
            "theme=dark"
        ]
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_response_is_sent_as_is_with_the_cookies() {
    let s = start(|o| o).await;
    let r = send(s.addr, &request("GET", "/lists/download", &[], "")).await;
    assert_eq!(
        (r.status, r.header("Content-Type"), r.text().as_str()),
        (200, Some("text/csv"), "a,b\n1,2\n")
    );
    assert_eq!(r.header("Set-Cookie"), Some("downloaded=yes"));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_can_suppress_the_automatic_event() {
    let collect = Arc::new(Collect::default());
    let publisher = collect.clone();
    let s = start(move |o| o.with_event_publisher(publisher)).await;
    let json = [("Content-Type", "application/json")];
    let r = send(
        s.addr,
        &request("POST", "/lists", &json, r#"{"name":"quiet"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        s.addr,
        &request("POST", "/lists", &json, r#"{"name":"loud"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.stop().await.unwrap();
    let events = collect.0.lock().unwrap();
    let seen: Vec<(&str, EventType)> = events
        .iter()
        .map(|e| (e.identity.as_str(), e.event_type))
        .collect();
    assert_eq!(
        seen,
        [("audit", EventType::Create), ("list", EventType::Create)]
    );
    let loud: serde_json::Value = serde_json::from_slice(&events[1].entity).expect("a JSON entity");
    assert_eq!(loud["name"], "loud");
}

/// Lists read from `{"title": ...}` and written as `name=<name>` lines.
fn custom_codecs(options: Options) -> Options {
    let identity = <List as elemental::ModelIdentity>::IDENTITY;
    let unmarshal: bahamut::Unmarshaller = Arc::new(|request: &elemental::Request| {
        let body: serde_json::Value = serde_json::from_slice(&request.data)
            .map_err(|e| elemental::Error::bad_request(e.to_string()))?;
        let name = body["title"].as_str().unwrap_or_default().to_string();
        Ok(Box::new(List {
            name,
            ..List::default()
        }))
    });
    let marshal: bahamut::Marshaller = Arc::new(|_request, answer| {
        let name = |o: &dyn elemental::Identifiable| match o.value_for_attribute("name") {
            Some(elemental::Value::String(name)) => format!("name={name}\n"),
            _ => String::new(),
        };
        Ok(match answer {
            bahamut::Marshal::One(object) => name(object),
            bahamut::Marshal::Many(objects) => objects.into_iter().map(name).collect(),
        }
        .into_bytes())
    });
    options
        .with_unmarshaller(identity, unmarshal)
        .with_marshaller(identity, marshal)
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_marshallers_and_unmarshallers_per_identity() {
    let s = start(custom_codecs).await;
    let json = [("Content-Type", "application/json")];
    let r = send(
        s.addr,
        &request("POST", "/lists", &json, r#"{"title":"from the title"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "name=from the title\n")
    );
    // What the unmarshaller builds is validated like a decoded body: a list needs a name
    // (here the body has none under "title").
    let r = send(s.addr, &request("POST", "/lists", &json, r#"{"name":"x"}"#)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = send(s.addr, &request("GET", "/lists/x", &[], "")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "name=found\n"));
    s.stop().await.unwrap();
}

struct Users;

#[bahamut::processor]
impl Processor<User> for Users {
    async fn retrieve_many(&self, _: &mut ProcessorContext<User>) -> Result<Page<User>, Errors> {
        Ok(Page::all(Vec::new()))
    }

    async fn patch(
        &self,
        _: &mut ProcessorContext<User>,
        _: <User as elemental::Model>::Sparse,
    ) -> Result<User, Errors> {
        Ok(User::default())
    }
}

struct Tasks;

#[bahamut::processor]
impl Processor<Task> for Tasks {
    async fn create(&self, _: &mut ProcessorContext<Task>, task: Task) -> Result<Task, Errors> {
        Ok(task)
    }
}

/// A model where users may only be listed (under the root).
fn users_listed_only() -> &'static dyn elemental::ModelManager {
    let mut relationships = elemental::RelationshipsRegistry::new();
    relationships.allow(
        "user",
        elemental::Operation::RetrieveMany,
        "root",
        elemental::RelationshipInfo::default(),
    );
    let mut registry = elemental::ModelRegistry::new(0, relationships);
    registry.register::<User>(&[]);
    Box::leak(Box::new(registry))
}

#[test]
fn registration_knows_the_operations_written_and_refuses_what_relationships_forbid() {
    let mut server = Server::new(Options::new().with_model(0, manager()));
    server.register_processor(Tasks).unwrap();
    assert_eq!(
        server.processor_for_identity(<Task as elemental::ModelIdentity>::IDENTITY),
        Some(vec![elemental::Operation::Create])
    );
    let mut server = Server::new(Options::new().with_model(0, users_listed_only()));
    let refused = server.register_processor(Users).unwrap_err();
    assert!(matches!(
        refused,
        ServerError::OperationNotAllowed {
            identity: "user",
            operation: elemental::Operation::Patch
        }
    ));
    assert_eq!(
        refused.to_string(),
        "operation patch is not allowed on 'user' by the model's relationships"
    );
    // Within the relationships: the patch is left out, the rest served.
    server
        .register_processor_within_relationships(Users)
        .unwrap();
    assert_eq!(
        server.processor_for_identity(<User as elemental::ModelIdentity>::IDENTITY),
        Some(vec![elemental::Operation::RetrieveMany])
    );
}
