//! Two apiserver processes on one PostgreSQL and one NATS: a create sent to the first reaches
//! push sessions on both, with the same cluster-wide sequence number, and reads on the second.
//! Needs APISERVER_TEST_POSTGRES_URL and APISERVER_TEST_NATS_URL.

mod common;

use std::time::Duration;

use common::Process;
use elemental::EventType;
use testkit::env::{nats_url, postgres_url, unique_name};
use testkit::push::PushClient;
use testkit::{call, json};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_apiserver_reaches_sessions_on_the_other() {
    const TEST: &str = "a_write_on_one_apiserver_reaches_sessions_on_the_other";
    let Some(postgres) = postgres_url(TEST) else {
        return;
    };
    let Some(nats) = nats_url(TEST) else {
        return;
    };
    let schema = unique_name("cluster");
    let topic = unique_name("cluster_events");
    let args = [
        "--postgres-schema",
        schema.as_str(),
        "--nats",
        nats.as_str(),
        "--nats-topic",
        topic.as_str(),
    ];
    let first = Process::start_with(&postgres, &args);
    let second = Process::start_with(&postgres, &args);
    let mut on_second = PushClient::connect(second.addr, "namespace=/&mode=all")
        .await
        .expect("session on the second apiserver");
    let mut on_first = PushClient::connect(first.addr, "namespace=/&mode=all")
        .await
        .expect("session on the first apiserver");

    let created = call(
        first.addr,
        "POST",
        "/externalnetworks",
        "/",
        r#"{"name":"shared","entries":["10.0.0.0/8"]}"#,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let id = json(&created)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let remote = on_second.event(WAIT).await;
    let local = on_first.event(WAIT).await;
    for event in [&remote, &local] {
        assert_eq!(event.event_type, EventType::Create);
        let entity: serde_json::Value = event.decode_entity().expect("entity");
        assert_eq!(entity["ID"], id.as_str());
    }
    assert!(remote.sequence > 0);
    assert_eq!(
        remote.sequence, local.sequence,
        "one sequence for the cluster"
    );

    let read = call(
        second.addr,
        "GET",
        &format!("/externalnetworks/{id}"),
        "/",
        "",
    )
    .await;
    assert_eq!(
        read.status, 200,
        "the second apiserver reads the same database"
    );

    on_first.close().await;
    on_second.close().await;
    first.terminate();
    second.terminate();
    cleanup(&postgres, &nats, &schema, &topic).await;
}

async fn cleanup(postgres: &str, nats: &str, schema: &str, topic: &str) {
    if let Ok((client, connection)) = tokio_postgres::connect(postgres, tokio_postgres::NoTls).await
    {
        tokio::spawn(connection);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
    }
    let stream = bahamut::push::NatsPubSub::new(nats, topic).stream_name();
    if let Ok(client) = async_nats::connect(nats).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(stream)
            .await;
    }
}
