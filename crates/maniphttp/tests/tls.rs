//! The client over TLS against an apiserver with certificates made in the test (rcgen): a
//! custom CA, mutual TLS with a client certificate, a refusal without one, an unknown CA
//! refused, the `insecure` switch, and the push subscriber over `wss` with a client certificate.

mod common;

use std::path::PathBuf;

use bahamut::tls::{ClientAuth, TlsOptions};
use common::Apiserver;
use gaia::model::ExternalNetwork;
use maniphttp::{Client, Error, RetryPolicy, Status, TlsSettings};
use manipulate::StoreContext;
use rcgen::DnType;
use testkit::pki::TestCa;

/// A CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    ca: TestCa,
}

impl Pki {
    fn new() -> Self {
        let ca = TestCa::new("maniphttp_tls");
        let server = TestCa::server_params(&["localhost"], (DnType::CommonName, "server"));
        ca.write("server", server);
        // The client's certificate has the same shape: a DNS name, 127.0.0.1 and a CN.
        let client = TestCa::server_params(&["client.test"], (DnType::CommonName, "client"));
        ca.write("client", client);
        Self { ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ca.path(name)
    }

    fn server(&self, mode: ClientAuth) -> TlsOptions {
        TlsOptions::new(self.path("server.pem"), self.path("server-key.pem"))
            .with_client_ca(self.path("ca.pem"), mode)
    }

    fn trusted(&self) -> TlsSettings {
        TlsSettings {
            ca_files: vec![self.path("ca.pem")],
            ..TlsSettings::default()
        }
    }

    fn with_certificate(&self) -> TlsSettings {
        TlsSettings {
            client_certificate: Some((self.path("client.pem"), self.path("client-key.pem"))),
            ..self.trusted()
        }
    }
}

fn client(api: &Apiserver, tls: TlsSettings) -> Client {
    Client::builder(format!("https://{}", api.running.addr))
        .with_tls(tls)
        .with_retry(RetryPolicy::never())
        .build()
        .expect("client")
}

async fn create(client: &Client) -> Result<ExternalNetwork, Error> {
    let web = ExternalNetwork {
        name: "web".into(),
        entries: vec!["10.0.0.0/8".into()],
        ..Default::default()
    };
    client.create(&web, &StoreContext::in_namespace("/")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let api = Apiserver::start_with(|o| o.with_tls(pki.server(ClientAuth::Require))).await;

    let client = client(&api, pki.with_certificate());
    let mut subscriber = client.subscriber().start();
    assert_eq!(subscriber.next_status().await, Some(Status::Connected));
    let created = create(&client).await.expect("over mTLS");
    assert_eq!(created.name, "web");
    let event = subscriber.next_event().await.expect("an event over wss");
    assert_eq!(
        event.decode_entity::<ExternalNetwork>().unwrap().id,
        created.id
    );

    let refused = create(&self::client(&api, pki.trusted())).await;
    assert!(
        matches!(refused, Err(Error::Transport { .. })),
        "{refused:?}"
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_refused_unless_insecure() {
    let pki = Pki::new();
    let api = Apiserver::start_with(|o| o.with_tls(pki.server(ClientAuth::Off))).await;

    let unknown = create(&client(&api, TlsSettings::default())).await;
    let Err(Error::Transport { reason, .. }) = unknown else {
        panic!("not refused: {unknown:?}");
    };
    assert!(reason.contains("certificate"), "{reason}");

    let insecure = TlsSettings {
        insecure: true,
        ..TlsSettings::default()
    };
    assert!(create(&client(&api, insecure)).await.is_ok());
    assert!(create(&client(&api, pki.trusted())).await.is_ok());
    api.running.stop().await.unwrap();
}

#[test]
fn unusable_settings_are_configuration_errors() {
    let missing = Client::builder("https://127.0.0.1:1")
        .with_tls(TlsSettings {
            ca_files: vec!["/nonexistent/ca.pem".into()],
            ..TlsSettings::default()
        })
        .build();
    assert!(
        matches!(&missing, Err(Error::Config(m)) if m.starts_with("/nonexistent/ca.pem")),
        "{:?}",
        missing.err()
    );
    let scheme = Client::builder("ftp://127.0.0.1").build();
    assert_eq!(
        scheme.err(),
        Some(Error::Config(
            "API address 'ftp://127.0.0.1': the scheme must be http or https".into()
        ))
    );
}
