//! `todo --push`: the binary serves push sessions on `/events`, and every write's event reaches
//! every session, as the Go demo server does.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use elemental::EventType;
use testkit::push::PushClient;

/// Starts the todo binary on port 0 and returns it with its ReST address (from its log).
fn start(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_todo"))
        .args(["--listen", "127.0.0.1:0", "--health", "none"])
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the todo binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line
                .contains("ReST server listening")
                .then(|| line.split("address=").nth(1))
                .flatten()
            {
                let _ = found.send(addr.trim().to_string());
            }
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(30))
        .expect("todo logs its address")
        .parse()
        .expect("an address");
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_receives_every_write() {
    let (mut child, addr) = start(&["--push"]);
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(PushClient::connect(addr, "").await.expect("a push session"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let created = testkit::call(addr, "POST", "/lists", "", r#"{"name":"groceries"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    for session in &mut sessions {
        let event = session.event(Duration::from_secs(5)).await;
        assert_eq!(
            (event.identity.as_str(), event.event_type),
            ("list", EventType::Create)
        );
        let entity: serde_json::Value = event.decode_entity().unwrap();
        assert_eq!(entity["name"], "groceries");
    }
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_push_there_is_no_events_endpoint() {
    let (mut child, addr) = start(&[]);
    assert!(PushClient::connect(addr, "").await.is_err());
    child.kill().unwrap();
    let _ = child.wait();
}
