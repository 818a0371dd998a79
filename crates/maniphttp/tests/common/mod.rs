//! Servers for the client's tests: the apiserver on SQLite, and a scripted server that answers
//! what the test tells it and records what it received.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use testkit::env::TempDir;

/// An apiserver on a SQLite file in a scratch folder, on 127.0.0.1 port 0.
pub struct Apiserver {
    pub running: testkit::Running,
    _dir: TempDir,
}

impl Apiserver {
    pub async fn start() -> Self {
        Self::start_with(|o| o).await
    }

    pub async fn start_with(options: impl FnOnce(bahamut::Options) -> bahamut::Options) -> Self {
        let dir = TempDir::new("maniphttp");
        let path = dir.path().join("api.db");
        let spec = apiserver::StoreSpec::Sqlite(path.display().to_string());
        let store = apiserver::open_store(&spec, None).await.expect("store");
        let running = testkit::start(|o| apiserver::server(options(o), store)).await;
        Self { running, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }
}

/// What the scripted server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Scripted {
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A server answering the queued answers in order, then `fallback`.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    queue: Arc<Mutex<VecDeque<Scripted>>>,
}

impl ScriptedServer {
    pub async fn start(answers: Vec<Scripted>, fallback: Scripted) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
        let (seen, next) = (received.clone(), queue.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, next, fallback) = (seen.clone(), next.clone(), fallback.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            seen.lock().unwrap().push(Received {
                                method: request.method().to_string(),
                                path: request.uri().to_string(),
                                headers: request.headers().clone(),
                            });
                            let answer =
                                next.lock().unwrap().pop_front().unwrap_or(fallback.clone());
                            let mut response = http::Response::builder().status(answer.status);
                            for (name, value) in &answer.headers {
                                response = response.header(*name, value);
                            }
                            let response =
                                response.body(Full::new(Bytes::from(answer.body))).unwrap();
                            async move { Ok::<_, Infallible>(response) }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            queue,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
