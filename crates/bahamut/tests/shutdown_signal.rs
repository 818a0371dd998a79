//! The shutdown future is first polled before the first connection is accepted: a signal
//! handler that it installs when first polled (as `tokio::signal` does) is in place before any
//! request is answered, so a SIGTERM sent right after an answer starts the drain instead of
//! ending the process.

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use todo::model::{List, manager};

/// What happened, in order.
type Order = Arc<Mutex<Vec<&'static str>>>;

fn note(order: &Order, what: &'static str) {
    order.lock().unwrap_or_else(|e| e.into_inner()).push(what);
}

struct Lists(Order);

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        note(&self.0, "request answered");
        Ok(List {
            id: ctx.request().object_id.clone(),
            ..List::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_future_is_polled_before_the_first_request_is_answered() {
    // Ten servers, each with a client already waiting when it starts. The shutdown future takes
    // 50 ms at its first poll (as a thread the system runs late would): were the connection
    // accepted before that poll, a worker would answer it first.
    for _ in 0..10 {
        let order = Order::default();
        let (rest, addr) = testkit::listener();
        let mut client = std::net::TcpStream::connect(addr).expect("connect");
        let request = testkit::request("GET", "/lists/x", &[], "");
        client.write_all(request.as_bytes()).expect("write");

        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (polled, mut first) = (order.clone(), true);
        let shutdown = std::future::poll_fn(move |cx| {
            if std::mem::take(&mut first) {
                std::thread::sleep(Duration::from_millis(50));
                note(&polled, "shutdown polled");
            }
            Pin::new(&mut stopped).poll(cx).map(|_| ())
        });
        let mut server = Server::new(Options::new().with_model(0, manager()));
        server
            .register_processor(Lists(order.clone()))
            .expect("register");
        // Served outside the runtime's workers, as a `#[tokio::main]` function's `run` is:
        // the connections it spawns go to the workers, which answer them while it goes on.
        let runtime = tokio::runtime::Handle::current();
        let serving =
            std::thread::spawn(move || runtime.block_on(server.serve(rest, None, shutdown)));

        let answer = tokio::task::spawn_blocking(move || {
            let mut raw = String::new();
            client.read_to_string(&mut raw).expect("read");
            raw
        })
        .await
        .expect("reader");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        let seen = order.lock().map(|o| o.clone()).unwrap_or_default();
        assert_eq!(seen, ["shutdown polled", "request answered"]);
        let _ = stop.send(());
        let ended = tokio::task::spawn_blocking(move || serving.join());
        ended
            .await
            .expect("joiner")
            .expect("server thread")
            .expect("server ends");
    }
}
