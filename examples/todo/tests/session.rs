//! The reference Go session (`shared/reference/go-bahamut-session.md`), replayed against the
//! todo demo server over real sockets: every status, header (but `Date`) and body, with object
//! ids, request ids (`trace`) and lengths that depend on them normalised. Deliberate
//! differences (CONTRACT.md fixes and docs/compatibility.md) are marked `fix:` or `differs:`.

use std::net::SocketAddr;

use elemental::export::regex::Regex;
use testkit::{RawResponse, request, send};

fn normalise(text: &str) -> String {
    let ids = Regex::new("[0-9a-f]{24}").unwrap();
    let traces = Regex::new(r#""trace":"[^"]*""#).unwrap();
    traces
        .replace_all(&ids.replace_all(text, "<id>"), r#""trace":"unknown""#)
        .into_owned()
}

/// Checks status, headers (but `Date`, `Content-Length` which must equal the body length, and
/// `X-Request-ID`) and the normalised body.
///
/// differs: every answer carries `X-Request-ID` (a UUID here: the session sends none), and the
/// `trace` of every error is that id (the reference has no such header and says `unknown`).
fn check<S: AsRef<str>>(step: &str, r: &RawResponse, status: u16, headers: &[S], body: &str) {
    assert_eq!(r.status, status, "{step}: status");
    let id = r.header("X-Request-ID").unwrap_or_default();
    assert_eq!(id.len(), 36, "{step}: X-Request-ID {id:?}");
    let traces = Regex::new(r#""trace":"([^"]*)""#).unwrap();
    for trace in traces.captures_iter(&r.text()) {
        assert_eq!(&trace[1], id, "{step}: the trace is the request id");
    }
    let lines: Vec<String> = r
        .header_lines()
        .into_iter()
        .filter(|l| !l.starts_with("Content-Length:") && !l.starts_with("X-Request-Id:"))
        .collect();
    let expected: Vec<&str> = headers.iter().map(AsRef::as_ref).collect();
    assert_eq!(lines, expected, "{step}: headers");
    if let Some(length) = r.header("Content-Length") {
        if !r.body.is_empty() {
            assert_eq!(length, r.body.len().to_string(), "{step}: Content-Length");
        }
    }
    assert_eq!(normalise(&r.text()), body, "{step}: body");
}

const NONE: &[&str] = &[];

const MODEL: [&str; 4] = [
    "Accept: application/msgpack,application/json",
    "Content-Type: application/json; charset=UTF-8",
    "Vary: Accept-Encoding",
    "X-Count-Total: 0",
];

/// differs: every 405 carries `Allow` with the methods of its route (CONTRACT, beyond the
/// reference), after the reference's headers.
fn model_with_allow(allow: &str) -> Vec<String> {
    let mut h: Vec<String> = MODEL.iter().map(|s| s.to_string()).collect();
    h.push(format!("Allow: {allow}"));
    h
}

/// differs: the router's 405 (a path served with other methods) is an error array like every
/// other error, with `Allow` (the reference answers an empty body).
fn router_not_allowed(method: &str) -> String {
    format!(
        r#"[{{"code":405,"description":"Method {method} is not allowed on this path","subject":"bahamut","title":"Not allowed","trace":"unknown"}}]"#
    )
}

fn model_with_count(count: u64) -> Vec<String> {
    let mut h: Vec<String> = MODEL.iter().map(|s| s.to_string()).collect();
    h[3] = format!("X-Count-Total: {count}");
    h
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    send(addr, &request(method, path, headers, body)).await
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn list_json(name: &str, description: &str, slice: &str) -> String {
    format!(
        r#"{{"ID":"<id>","creationOnly":"","date":null,"description":"{description}","name":"{name}","parentID":"","parentType":"","readOnly":"","secret":"","slice":{slice}}}"#
    )
}

fn id_of(r: &RawResponse) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["ID"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_session() {
    let server =
        testkit::start(|o| todo::demo::server(o.with_service_info("demo", None, &[]))).await;
    let a = server.addr;

    // 1-4: meta routes.
    check("1 root", &call(a, "GET", "/", &[], "").await, 200, NONE, "");
    check(
        "2 name",
        &call(a, "GET", "/_meta/name", &[], "").await,
        200,
        &[MODEL[0], "Content-Type: text/plain"],
        "demo",
    );
    let r = call(a, "GET", "/_meta/version", &[], "").await;
    let version = format!(
        "{{\n    \"bahamut\": \"{0}\",\n    \"elemental\": \"{0}\"\n}}",
        env!("CARGO_PKG_VERSION")
    );
    check("3 version", &r, 200, &MODEL[..2], &version);
    let routes = r#"{"0":[{"identity":"lists","url":"/lists","verbs":["GET","POST"]},{"identity":"lists","url":"/lists/:id","verbs":["DELETE","GET","PUT"]},{"identity":"tasks","url":"/lists/:id/tasks","verbs":["GET","POST"]},{"identity":"users","url":"/lists/:id/users","verbs":["GET"]},{"identity":"tasks","url":"/tasks","verbs":["POST"]},{"identity":"tasks","url":"/tasks/:id","verbs":["DELETE","GET","PUT"]},{"identity":"users","url":"/users","verbs":["GET","POST"]},{"identity":"users","url":"/users/:id","verbs":["DELETE","GET","PUT"]}],"1":[{"identity":"lists","url":"/lists","verbs":["GET","POST"]},{"identity":"lists","url":"/lists/:id","verbs":["DELETE","GET","PUT"]},{"identity":"tasks","url":"/lists/:id/tasks","verbs":["GET","POST"]},{"identity":"users","url":"/lists/:id/users","verbs":["GET"]},{"identity":"tasks","url":"/tasks","verbs":["POST"]},{"identity":"tasks","url":"/tasks/:id","verbs":["DELETE","GET","PUT"]},{"identity":"users","url":"/users","verbs":["GET","POST"]},{"identity":"users","url":"/users/:id","verbs":["DELETE","GET","PUT"]}]}"#;
    let r = call(a, "GET", "/_meta/routes", &[], "").await;
    check("4 routes", &r, 200, &MODEL[..2], routes);
    assert_eq!(r.header("Content-Length"), Some("1043"));

    // 5-11: CRUD on lists.
    let r = call(
        a,
        "POST",
        "/lists",
        &[JSON],
        r#"{"name":"groceries","description":"weekly","secret":"s3cr3t","slice":["a","b"]}"#,
    )
    .await;
    check(
        "5 create",
        &r,
        200,
        &MODEL,
        &list_json("groceries", "weekly", r#"["a","b"]"#),
    );
    assert_eq!(r.header("Content-Length"), Some("179"));
    let groceries = id_of(&r);
    let r = call(a, "POST", "/lists", &[JSON], r#"{"name":"chores"}"#).await;
    check("6 create", &r, 200, &MODEL, &list_json("chores", "", "[]"));
    let chores = id_of(&r);
    let both = format!(
        "[{},{}]",
        list_json("groceries", "weekly", r#"["a","b"]"#),
        list_json("chores", "", "[]")
    );
    check(
        "7 list",
        &call(a, "GET", "/lists", &[], "").await,
        200,
        &model_with_count(2),
        &both,
    );
    check(
        "8 paged",
        &call(a, "GET", "/lists?page=1&pagesize=1", &[], "").await,
        200,
        &model_with_count(2),
        &both,
    );
    let one = format!("/lists/{groceries}");
    check(
        "9 get",
        &call(a, "GET", &one, &[], "").await,
        200,
        &MODEL,
        &list_json("groceries", "weekly", r#"["a","b"]"#),
    );
    let updated = list_json("groceries-2", "updated", "[]");
    check(
        "10 put",
        &call(
            a,
            "PUT",
            &one,
            &[JSON],
            r#"{"name":"groceries-2","description":"updated"}"#,
        )
        .await,
        200,
        &MODEL,
        &updated,
    );
    check(
        "11 get",
        &call(a, "GET", &one, &[], "").await,
        200,
        &MODEL,
        &updated,
    );

    // 12-15: children, versions, sparse output.
    let milk = r#"{"ID":"<id>","description":"","name":"milk","parentID":"<id>","parentType":"list","status":"TODO"}"#;
    let r = call(
        a,
        "POST",
        &format!("{one}/tasks"),
        &[JSON],
        r#"{"name":"milk","status":"TODO"}"#,
    )
    .await;
    check("12 child create", &r, 200, &MODEL, milk);
    assert!(r.text().contains(&format!(r#""parentID":"{groceries}""#)));
    check(
        "13 children",
        &call(a, "GET", &format!("{one}/tasks"), &[], "").await,
        200,
        &model_with_count(1),
        &format!("[{milk}]"),
    );
    check(
        "14 versioned",
        &call(a, "GET", &format!("/v/1{one}"), &[], "").await,
        200,
        &MODEL,
        &updated,
    );
    check(
        "15 sparse",
        &call(a, "GET", "/lists", &[("X-Fields", "name")], "").await,
        200,
        &model_with_count(2),
        r#"[{"name":"groceries-2"},{"name":"chores"}]"#,
    );

    // 16-18: gzip and msgpack.
    let r = call(a, "GET", "/lists", &[("Accept-Encoding", "gzip")], "").await;
    check(
        "16 small gzip",
        &r,
        200,
        &model_with_count(2),
        r#"[{"ID":"<id>","creationOnly":"","date":null,"description":"updated","name":"groceries-2","parentID":"","parentType":"","readOnly":"","secret":"","slice":[]},{"ID":"<id>","creationOnly":"","date":null,"description":"","name":"chores","parentID":"","parentType":"","readOnly":"","secret":"","slice":[]}]"#,
    );
    assert_eq!(r.header("Content-Length"), Some("341"));
    for i in 1..=12 {
        let body = format!(
            r#"{{"name":"bulk-{i}","description":"padding padding padding padding padding padding padding"}}"#
        );
        assert_eq!(call(a, "POST", "/lists", &[JSON], &body).await.status, 200);
    }
    let r = call(a, "GET", "/lists", &[("Accept-Encoding", "gzip")], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header_lines()
            .into_iter()
            .filter(|l| !l.starts_with("Content-Length:") && !l.starts_with("X-Request-Id:"))
            .collect::<Vec<_>>(),
        vec![
            MODEL[0],
            "Content-Encoding: gzip",
            MODEL[1],
            MODEL[2],
            "X-Count-Total: 14"
        ]
    );
    assert_eq!(&r.body[..2], &[0x1f, 0x8b], "17: gzip magic");
    let r = call(a, "GET", "/lists", &[("Accept", "application/msgpack")], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header_lines()[..4],
        [
            MODEL[0].to_string(),
            "Content-Type: application/msgpack".into(),
            MODEL[2].into(),
            "X-Count-Total: 14".into()
        ],
        "18 msgpack"
    );
    let lists: Vec<todo::model::List> =
        elemental::decode(elemental::EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(lists.len(), 14);

    // 19-20: delete, then 404 from the processor.
    let two = format!("/lists/{chores}");
    check(
        "19 delete",
        &call(a, "DELETE", &two, &[], "").await,
        200,
        &MODEL,
        &list_json("chores", "", "[]"),
    );
    check(
        "20 gone",
        &call(a, "GET", &two, &[], "").await,
        404,
        &MODEL,
        r#"[{"code":404,"description":"Object with ID '<id>' not found","subject":"demo","title":"Not Found","trace":"unknown"}]"#,
    );

    // 21-31: errors.
    let r = call(a, "POST", "/lists", &[JSON], r#"{"name": bad"#).await;
    assert_eq!(r.status, 400, "21");
    assert_eq!(
        r.header_lines()
            .into_iter()
            .filter(|l| !l.starts_with("Content-Length:") && !l.starts_with("X-Request-Id:"))
            .collect::<Vec<_>>(),
        MODEL
    );
    let errors: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (errors[0]["title"].as_str(), errors[0]["subject"].as_str()),
        (Some("Bad Request"), Some("bahamut"))
    );
    assert!(
        errors[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("unable to decode application/json: "),
        "21: decoder message"
    );
    let name_required = r#"[{"code":422,"data":{"attribute":"name"},"description":"Attribute 'name' is required","subject":"elemental","title":"Validation Error","trace":"unknown"}]"#;
    check(
        "22",
        &call(a, "POST", "/lists", &[JSON], r#"{"description":"no name"}"#).await,
        422,
        &MODEL,
        name_required,
    );
    let not_allowed = r#"[{"code":405,"description":"Create operation not allowed on task","subject":"bahamut","title":"Not allowed","trace":"unknown"}]"#;
    check(
        "23",
        &call(a, "POST", "/tasks", &[JSON], r#"{"status":"NOPE"}"#).await,
        405,
        &model_with_allow(""),
        not_allowed,
    );
    check(
        "24",
        &call(
            a,
            "POST",
            "/tasks",
            &[JSON],
            r#"{"name":"x","status":"NOPE"}"#,
        )
        .await,
        405,
        &model_with_allow(""),
        not_allowed,
    );
    let tasks = format!("{one}/tasks");
    check(
        "25",
        &call(
            a,
            "POST",
            &tasks,
            &[JSON],
            r#"{"name":"x","status":"NOPE"}"#,
        )
        .await,
        422,
        &MODEL,
        r#"[{"code":422,"data":{"attribute":"status"},"description":"Data 'NOPE' of attribute 'status' is not in list '[DONE PROGRESS TODO]'","subject":"elemental","title":"Validation Error","trace":"unknown"}]"#,
    );
    // fix: every violated rule is reported (the reference only reports the missing name).
    check(
        "26",
        &call(a, "POST", &tasks, &[JSON], r#"{"status":"NOPE"}"#).await,
        422,
        &MODEL,
        r#"[{"code":422,"data":{"attribute":"name"},"description":"Attribute 'name' is required","subject":"elemental","title":"Validation Error","trace":"unknown"},{"code":422,"data":{"attribute":"status"},"description":"Data 'NOPE' of attribute 'status' is not in list '[DONE PROGRESS TODO]'","subject":"elemental","title":"Validation Error","trace":"unknown"}]"#,
    );
    check(
        "27",
        &call(a, "POST", "/users", &[JSON], "{}").await,
        422,
        &MODEL,
        r#"[{"code":422,"data":{"attribute":"firstName"},"description":"Attribute 'firstName' is required","subject":"elemental","title":"Validation Error","trace":"unknown"},{"code":422,"data":{"attribute":"lastName"},"description":"Attribute 'lastName' is required","subject":"elemental","title":"Validation Error","trace":"unknown"},{"code":422,"data":{"attribute":"userName"},"description":"Attribute 'userName' is required","subject":"elemental","title":"Validation Error","trace":"unknown"}]"#,
    );
    // differs: a number for a string attribute is refused (the reference stores "123").
    assert_eq!(
        call(a, "POST", "/lists", &[JSON], r#"{"name":123}"#)
            .await
            .status,
        400,
        "28"
    );
    check(
        "29",
        &call(
            a,
            "POST",
            "/lists",
            &[JSON],
            r#"{"name":"u","notAnAttribute":1}"#,
        )
        .await,
        200,
        &MODEL,
        &list_json("u", "", "[]"),
    );
    check(
        "30",
        &call(a, "POST", "/lists", &[JSON], "").await,
        422,
        &MODEL,
        name_required,
    );
    check(
        "31",
        &call(
            a,
            "POST",
            "/lists",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            r#"{"name":"noct"}"#,
        )
        .await,
        415,
        &MODEL,
        r#"[{"code":415,"description":"Cannot find any acceptable Content-Type media type in provided header: application/x-www-form-urlencoded","subject":"elemental","title":"Unsupported Media Type","trace":"unknown"}]"#,
    );

    // 32-42: routing errors.
    check(
        "32",
        &call(a, "GET", "/unknowns", &[], "").await,
        405,
        &model_with_allow(""),
        r#"[{"code":405,"description":"RetrieveMany operation not allowed on ","subject":"bahamut","title":"Not allowed","trace":"unknown"}]"#,
    );
    check(
        "33",
        &call(a, "GET", "/unknowns/123", &[], "").await,
        405,
        &model_with_allow(""),
        r#"[{"code":405,"description":"Retrieve operation not allowed on ","subject":"bahamut","title":"Not allowed","trace":"unknown"}]"#,
    );
    check(
        "34",
        &call(a, "GET", "/a/b/c/d", &[], "").await,
        404,
        &[MODEL[0], MODEL[1], MODEL[3]],
        r#"[{"code":404,"description":"Unable to find the requested resource","subject":"bahamut","title":"Not Found","trace":"unknown"}]"#,
    );
    check(
        "35",
        &call(a, "GET", "/users/123/lists", &[], "").await,
        405,
        &model_with_allow(""),
        r#"[{"code":405,"description":"RetrieveMany operation not allowed on lists","subject":"bahamut","title":"Not allowed","trace":"unknown"}]"#,
    );
    check(
        "36",
        &call(a, "PATCH", &one, &[JSON], r#"{"name":"p"}"#).await,
        501,
        &MODEL,
        r#"[{"code":501,"description":"No handler for operation patch on list","subject":"bahamut","title":"Not implemented","trace":"unknown"}]"#,
    );
    let r = call(a, "HEAD", "/lists", &[], "").await;
    check("37", &r, 501, &MODEL, "");
    assert!(
        r.header("Content-Length").is_some_and(|l| l != "0"),
        "37: HEAD keeps the length of the error"
    );
    check(
        "38",
        &call(a, "DELETE", "/lists", &[], "").await,
        405,
        &model_with_allow("GET, POST, HEAD"),
        &router_not_allowed("DELETE"),
    );
    check(
        "39",
        &call(
            a,
            "OPTIONS",
            "/lists",
            &[
                ("Origin", "http://example.com"),
                ("Access-Control-Request-Method", "POST"),
            ],
            "",
        )
        .await,
        405,
        &model_with_allow("GET, POST, HEAD"),
        &router_not_allowed("OPTIONS"),
    );
    let r = call(a, "GET", "/lists", &[("Origin", "http://example.com")], "").await;
    assert_eq!(
        (r.status, r.header("Access-Control-Allow-Origin")),
        (200, None),
        "40: no CORS without a policy"
    );
    check(
        "41",
        &call(a, "PUT", "/lists/doesnotexist", &[JSON], r#"{"name":"zz"}"#).await,
        404,
        &MODEL,
        r#"[{"code":404,"description":"Object with ID 'doesnotexist' not found","subject":"demo","title":"Not Found","trace":"unknown"}]"#,
    );
    check(
        "42",
        &call(a, "GET", "/v/9/lists", &[], "").await,
        400,
        &MODEL,
        r#"[{"code":400,"description":"Unknown api version","subject":"bahamut","title":"Bad Request","trace":"unknown"}]"#,
    );

    // 46: health.
    let r = send(server.health, &request("GET", "/", &[], "")).await;
    assert_eq!(
        (r.status, r.header_lines()),
        (204, Vec::<String>::new()),
        "46 health"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_session_with_cors() {
    let server =
        testkit::start(|o| todo::demo::server(o.with_cors(bahamut::CorsPolicy::mirror()))).await;
    let a = server.addr;
    let origin = ("Origin", "http://example.com");
    let r = call(
        a,
        "OPTIONS",
        "/lists",
        &[origin, ("Access-Control-Request-Method", "POST")],
        "",
    )
    .await;
    check(
        "43 preflight",
        &r,
        200,
        &[
            MODEL[0],
            "Access-Control-Allow-Credentials: true",
            // differs: X-Request-ID and X-Count-Mode are allowed and exposed (beyond the reference).
            "Access-Control-Allow-Headers: Authorization, Accept, Content-Type, Cache-Control, Cookie, If-Modified-Since, X-Requested-With, X-Count-Total, X-Namespace, X-External-Tracking-Type, X-External-Tracking-ID, X-TLS-Client-Certificate, Accept-Encoding, X-Fields, X-Read-Consistency, X-Write-Consistency, Idempotency-Key, X-Request-ID, X-Count-Mode",
            "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS",
            "Access-Control-Allow-Origin: http://example.com",
            "Access-Control-Expose-Headers: X-Requested-With, X-Count-Total, X-Namespace, X-Messages, X-Fields, X-Next, X-Request-ID, X-Count-Mode",
            "Access-Control-Max-Age: 1500",
            MODEL[1],
        ],
        "",
    );
    assert_eq!(r.header("Content-Length"), Some("0"));
    check(
        "44 with origin",
        &call(a, "GET", "/lists", &[origin], "").await,
        200,
        &[
            MODEL[0],
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: http://example.com",
            "Access-Control-Expose-Headers: X-Requested-With, X-Count-Total, X-Namespace, X-Messages, X-Fields, X-Next, X-Request-ID, X-Count-Mode",
            MODEL[1],
            MODEL[2],
            MODEL[3],
        ],
        "[]",
    );
    check(
        "45 unknown path",
        &call(a, "GET", "/a/b/c/d", &[origin], "").await,
        405,
        &[
            MODEL[0],
            "Access-Control-Allow-Credentials: true",
            "Access-Control-Allow-Origin: http://example.com",
            "Access-Control-Expose-Headers: X-Requested-With, X-Count-Total, X-Namespace, X-Messages, X-Fields, X-Next, X-Request-ID, X-Count-Mode",
            MODEL[1],
            MODEL[2],
            MODEL[3],
            "Allow: ",
        ],
        &router_not_allowed("GET"),
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_fixes() {
    let server = testkit::start(todo::demo::server).await;
    let a = server.addr;
    // fix: a bare /v is a 400, not a crash.
    let r = call(a, "GET", "/v", &[], "").await;
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains(r#""description":"Invalid api version number ''""#),
        "{}",
        r.text()
    );
    let r = call(a, "GET", "/v/x/lists", &[], "").await;
    assert!(
        r.text()
            .contains(r#""description":"Invalid api version number 'x'""#)
    );
    // fix: recursive=false is false, anything else not a boolean is refused.
    assert_eq!(
        call(a, "GET", "/lists?recursive=false", &[], "")
            .await
            .status,
        200
    );
    let r = call(a, "GET", "/lists?recursive=maybe", &[], "").await;
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("Parameter `recursive` must be a boolean, got 'maybe'")
    );
    // Unknown parameters and bad pagination are 400 arrays.
    let r = call(a, "GET", "/lists?nope=1", &[], "").await;
    assert_eq!(
        (r.status, normalise(&r.text()).as_str()),
        (
            400,
            r#"[{"code":400,"description":"Unknown parameter: `nope`","subject":"elemental","title":"Bad Request","trace":"unknown"}]"#
        )
    );
    assert!(
        call(a, "GET", "/lists?page=x", &[], "")
            .await
            .text()
            .contains("Parameter `page` must be an integer")
    );
    // Required parameters of the spec (user delete needs confirm).
    let r = call(a, "DELETE", "/users/x", &[], "").await;
    assert!(
        r.text()
            .contains("Missing Required parameters: `(confirm)`"),
        "{}",
        r.text()
    );
    // Errors follow the accepted encoding.
    let r = call(
        a,
        "GET",
        "/unknowns",
        &[("Accept", "application/msgpack")],
        "",
    )
    .await;
    assert_eq!(r.header("Content-Type"), Some("application/msgpack"));
    let errors: elemental::Errors =
        elemental::decode(elemental::EncodingType::Msgpack, &r.body).unwrap();
    assert_eq!(errors.code(), 405);
    server.stop().await.unwrap();
}
