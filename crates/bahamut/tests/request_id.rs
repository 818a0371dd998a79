//! Every response carries `X-Request-ID`: the client's when it is sane (1 to 128 visible ASCII
//! characters), else a fresh UUID; error bodies carry the same value as `trace`, whichever step
//! of the server answers.

use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use testkit::{RawResponse, request, send};
use todo::model::{List, manager};

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        Ok(List {
            id: ctx.request().object_id.clone(),
            name: "found".into(),
            ..List::default()
        })
    }
}

async fn start() -> testkit::Running {
    testkit::start(|o: Options| {
        let mut server = Server::new(o.with_model(0, manager()).with_max_body_size(16));
        server.register_processor(Lists)?;
        Ok(server)
    })
    .await
}

fn trace(r: &RawResponse) -> String {
    let errors: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("not an error array: {}", r.text()));
    errors[0]["trace"].as_str().unwrap_or_default().to_string()
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.bytes().filter(|b| *b == b'-').count() == 4
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sane_client_id_is_kept_on_every_kind_of_answer_and_is_the_error_trace() {
    let s = start().await;
    let id = [("X-Request-ID", "client-42")];
    let answers = [
        ("GET", "/lists/a", "", 200),
        ("GET", "/a/b/c/d/e", "", 404),
        ("DELETE", "/lists", "", 405),
        ("GET", "/v/9/lists", "", 400),
        ("GET", "/lists?unknown=1", "", 400),
        ("POST", "/lists", "a body longer than sixteen bytes", 413),
    ];
    for (method, path, body, status) in answers {
        let r = send(s.addr, &request(method, path, &id, body)).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert_eq!(
            r.header("X-Request-ID"),
            Some("client-42"),
            "{method} {path}"
        );
        if status >= 400 {
            assert_eq!(trace(&r), "client-42", "{method} {path}: {}", r.text());
        }
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_insane_client_id_is_replaced_by_a_fresh_uuid() {
    let s = start().await;
    let longest = "r".repeat(128);
    let r = send(
        s.addr,
        &request("GET", "/lists/a", &[("X-Request-ID", &longest)], ""),
    )
    .await;
    assert_eq!(r.header("X-Request-ID"), Some(longest.as_str()));
    let too_long = "r".repeat(129);
    let mut seen = Vec::new();
    for headers in [
        vec![],
        vec![("X-Request-ID", too_long.as_str())],
        vec![("X-Request-ID", "two words")],
        vec![("X-Request-ID", "caf\u{e9}")],
    ] {
        let r = send(s.addr, &request("GET", "/a/b/c/d/e", &headers, "")).await;
        let id = r.header("X-Request-ID").unwrap_or_default().to_string();
        assert!(is_uuid(&id), "{headers:?}: {id}");
        assert_eq!(trace(&r), id, "{headers:?}");
        seen.push(id);
    }
    seen.dedup();
    assert_eq!(seen.len(), 4, "each request gets its own id: {seen:?}");
    s.stop().await.unwrap();
}
