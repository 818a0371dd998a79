//! Pages of objects encoded beforehand (`Page::all_encoded`), and retrieves and creates
//! answered with one (`Retrieved::Encoded`): a JSON client gets the stored bytes (joined for a
//! page), exactly what the server would have encoded, and a create's event carries them; msgpack
//! and `X-Fields` clients get the objects decoded back and encoded their way; secrets never
//! leave.

use std::sync::Arc;

use bahamut::{Encoded, Errors, Marshal, Page, Processor, ProcessorContext, Retrieved, Server};
use elemental::{EncodingType, Identifiable, ModelIdentity, Value};
use testkit::{RawResponse, request, send};
use todo::model::{List, manager};

fn lists() -> Vec<List> {
    ["groceries", "chores"]
        .iter()
        .enumerate()
        .map(|(i, name)| List {
            id: format!("5f0000000000000000000{i:03}"),
            name: (*name).into(),
            secret: "s3cr3t".into(),
            slice: vec!["a".into()],
            ..List::default()
        })
        .collect()
}

fn blanked() -> Vec<List> {
    let mut lists = lists();
    lists.iter_mut().for_each(Identifiable::blank_secrets);
    lists
}

struct Stored;

#[bahamut::processor]
impl Processor<List> for Stored {
    async fn retrieve_many(&self, _: &mut ProcessorContext<List>) -> Result<Page<List>, Errors> {
        let encoded = lists()
            .iter()
            .map(Encoded::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::all_encoded(encoded))
    }

    async fn retrieve_encoded(
        &self,
        ctx: &mut ProcessorContext<List>,
    ) -> Result<Retrieved<List>, Errors> {
        let id = &ctx.request().object_id;
        let found = lists().into_iter().find(|list| &list.id == id);
        let list = found.ok_or_else(|| elemental::Error::new("Not Found", "no", "test", 404))?;
        Ok(Retrieved::Encoded(Encoded::new(&list)?))
    }
}

async fn get(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> RawResponse {
    send(addr, &request("GET", "/lists", headers, "")).await
}

/// A server of the todo model whose lists are served by `Stored`.
async fn start_stored() -> testkit::Running {
    testkit::start(|o| {
        let mut server = Server::new(o.with_model(0, manager()).with_model(1, manager()));
        server.register_processor(Stored)?;
        Ok(server)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_page_answers_each_encoding_and_x_fields_like_typed_objects() {
    let s = start_stored().await;

    let r = get(s.addr, &[]).await;
    assert_eq!((r.status, r.header("X-Count-Total")), (200, Some("2")));
    assert_eq!(r.body, serde_json::to_vec(&blanked()).unwrap());
    assert!(!r.text().contains("s3cr3t"), "{}", r.text());

    let r = get(s.addr, &[("Accept", "application/msgpack")]).await;
    assert_eq!(r.header("Content-Type"), Some("application/msgpack"));
    let decoded: Vec<List> = elemental::decode(EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(decoded, blanked());

    let r = get(s.addr, &[("X-Fields", "name")]).await;
    assert_eq!(r.text(), r#"[{"name":"groceries"},{"name":"chores"}]"#);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_retrieve_answers_each_encoding_and_x_fields_like_a_typed_object() {
    let s = start_stored().await;
    let path = "/lists/5f0000000000000000000001";
    let get = |headers: &'static [(&'static str, &'static str)]| {
        let raw = request("GET", path, headers, "");
        async move { send(s.addr, &raw).await }
    };

    let r = get(&[]).await;
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("application/json; charset=UTF-8"))
    );
    assert_eq!(r.body, serde_json::to_vec(&blanked()[1]).unwrap());
    assert!(!r.text().contains("s3cr3t"), "{}", r.text());

    let r = get(&[("Accept", "application/msgpack")]).await;
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("application/msgpack"))
    );
    let decoded: List = elemental::decode(EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(decoded, blanked()[1]);

    let r = get(&[("X-Fields", "name")]).await;
    assert_eq!(r.text(), r#"{"name":"chores"}"#);

    let r = send(s.addr, &request("GET", "/lists/nope", &[], "")).await;
    assert_eq!(r.status, 404);
    s.stop().await.unwrap();
}

/// Answers a retrieve with a list named after what `sends_json_as_stored` said.
struct Asks;

#[bahamut::processor]
impl Processor<List> for Asks {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        Ok(List {
            name: ctx.sends_json_as_stored().to_string(),
            ..List::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_json_is_sent_as_is_only_to_json_clients_without_x_fields_or_a_marshaller() {
    let start = |marshalled: bool| {
        testkit::start(move |o| {
            let mut o = o.with_model(0, manager()).with_model(1, manager());
            if marshalled {
                // Answers the name the processor gave, as plain text.
                let marshal: bahamut::Marshaller = Arc::new(|_, answer| match answer {
                    Marshal::One(object) => match object.value_for_attribute("name") {
                        Some(Value::String(name)) => Ok(name.into_bytes()),
                        other => panic!("name: {other:?}"),
                    },
                    Marshal::Many(_) => panic!("one object is retrieved"),
                });
                o = o.with_marshaller(List::IDENTITY, marshal);
            }
            let mut server = Server::new(o);
            server.register_processor(Asks)?;
            Ok(server)
        })
    };
    let s = start(false).await;
    let name_in = |r: RawResponse| -> String {
        let list: List = serde_json::from_slice(&r.body).unwrap();
        list.name
    };
    let path = "/lists/x";
    let r = send(s.addr, &request("GET", path, &[], "")).await;
    assert_eq!(name_in(r), "true");
    let r = send(s.addr, &request("GET", path, &[("Accept", "*/*")], "")).await;
    assert_eq!(name_in(r), "true");
    let r = send(s.addr, &request("GET", path, &[("X-Fields", "name")], "")).await;
    assert_eq!(r.text(), r#"{"name":"false"}"#);
    let msgpack = [("Accept", "application/msgpack")];
    let r = send(s.addr, &request("GET", path, &msgpack, "")).await;
    let list: List = elemental::decode(EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(list.name, "false");
    s.stop().await.unwrap();

    let s = start(true).await;
    let r = send(s.addr, &request("GET", path, &[], "")).await;
    assert_eq!((r.status, r.text()), (200, "false".to_string()));
    s.stop().await.unwrap();
}

/// Answers every create with the object's JSON form, whatever the client asked for.
struct Written;

#[bahamut::processor]
impl Processor<List> for Written {
    async fn create_encoded(
        &self,
        _: &mut ProcessorContext<List>,
        mut list: List,
    ) -> Result<Retrieved<List>, Errors> {
        list.id = "5f0000000000000000000042".into();
        Ok(Retrieved::Encoded(Encoded::from_mut(&mut list)?))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_create_answers_each_encoding_and_is_the_bytes_of_its_event() {
    let s = testkit::start(|o| {
        let o = o.with_model(0, manager()).with_model(1, manager());
        let mut server = Server::new(o.with_push(bahamut::PushOptions::default()));
        server.register_processor(Written)?;
        Ok(server)
    })
    .await;
    let mut session = testkit::push::PushClient::connect(s.addr, "namespace=/")
        .await
        .expect("push session");
    let body = r#"{"name":"groceries","secret":"s3cr3t"}"#;
    let post = |headers: &'static [(&'static str, &'static str)]| {
        let raw = request("POST", "/lists", headers, body);
        async move { send(s.addr, &raw).await }
    };
    let created = List {
        id: "5f0000000000000000000042".into(),
        name: "groceries".into(),
        ..List::default()
    };

    let r = post(&[("Content-Type", "application/json")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, serde_json::to_vec(&created).unwrap());
    let event = session.event(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        (event.identity.as_str(), event.event_type),
        ("list", elemental::EventType::Create)
    );
    assert_eq!(event.decode_entity::<List>().unwrap(), created);

    let r = post(&[("Content-Type", "application/json"), ("X-Fields", "name")]).await;
    assert_eq!(
        (r.status, r.text()),
        (200, r#"{"name":"groceries"}"#.to_string())
    );
    let r = post(&[
        ("Content-Type", "application/json"),
        ("Accept", "application/msgpack"),
    ])
    .await;
    let decoded: List = elemental::decode(EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(decoded, created);
    s.stop().await.unwrap();
}
