//! The baseline of the load benchmark: a bare hyper server that answers the benchmark's three
//! requests with fixed bytes recorded from the todo server, with the same headers, and does
//! nothing else (no parsing, no validation, no encoding).
//!
//! `bare_hyper LISTEN DIR`: DIR holds `one.json` (GET /lists/:id), `many.json` (GET /lists)
//! and `create.json` (POST /lists).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

struct Bodies {
    one: Bytes,
    many: Bytes,
    create: Bytes,
}

fn answer(body: Bytes, count: usize) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body));
    let h = response.headers_mut();
    h.insert(
        "accept",
        http::HeaderValue::from_static("application/msgpack,application/json"),
    );
    h.insert(
        "content-type",
        http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert("vary", http::HeaderValue::from_static("Accept-Encoding"));
    h.insert("x-count-total", http::HeaderValue::from(count));
    response
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: bare_hyper LISTEN DIR");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse()?;
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).map(Bytes::from);
    let bodies = Arc::new(Bodies {
        one: read("one.json")?,
        many: read("many.json")?,
        create: read("create.json")?,
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let bodies = bodies.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let bodies = bodies.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let _ = body.collect().await;
                    let response = match (parts.method.as_str(), parts.uri.path()) {
                        ("POST", _) => answer(bodies.create.clone(), 0),
                        ("GET", "/lists") => answer(bodies.many.clone(), 100),
                        _ => answer(bodies.one.clone(), 0),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
