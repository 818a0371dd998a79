//! `todo`: the demo server of the reference session, serving the todo model from memory.
//!
//! ```text
//! todo [--listen 127.0.0.1:18080] [--health 127.0.0.1:18081] [--cors _mirror_|ORIGIN,...] [--name demo]
//!      [--push] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM] [--tls-client-auth off|request|require]]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use bahamut::{CorsPolicy, Options};
use tracing_subscriber::util::SubscriberInitExt;

const USAGE: &str =
    "usage: todo [--listen ADDR] [--health ADDR] [--cors _mirror_|ORIGIN,...] [--name NAME] [--push]
            [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM] [--tls-client-auth MODE]]

  --listen ADDR   ReST address (default 127.0.0.1:18080)
  --health ADDR   health address (default 127.0.0.1:18081; 'none' disables it)
  --cors VALUE    CORS policy: _mirror_ mirrors any origin, or a comma-separated list of origins
  --name NAME     service name shown on /_meta/name and in errors (default demo)
  --push          push sessions on /events: every write's event goes to every session of the
                  root namespace, the default (the todo model has no namespaces), as in the Go
                  demo server
  --tls-cert PEM  serve the ReST address over TLS with this certificate chain (HTTP/1.1 and
                  HTTP/2 by ALPN; reloaded when the file changes or on SIGHUP)
  --tls-key PEM   the private key of --tls-cert
  --tls-client-ca PEM       mutual TLS: the CAs that client certificates must chain to
  --tls-client-auth MODE    off (default), request or require";

/// The TLS flags, applied once all are read.
#[derive(Default)]
struct TlsFlags {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    client_auth: bahamut::tls::ClientAuth,
}

impl TlsFlags {
    fn apply(self, options: Options) -> Result<Options, String> {
        use bahamut::tls::{ClientAuth, TlsOptions};
        let tls = match (self.cert, self.key) {
            (Some(cert), Some(key)) => TlsOptions::new(cert, key),
            (None, None) if self.client_ca.is_none() && self.client_auth == ClientAuth::Off => {
                return Ok(options);
            }
            _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
        };
        let tls = match (self.client_ca, self.client_auth) {
            (None, ClientAuth::Off) => tls,
            (None, _) => return Err("--tls-client-auth needs --tls-client-ca".into()),
            (Some(bundle), mode) => tls.with_client_ca(bundle, mode),
        };
        Ok(options.with_tls(tls))
    }
}

fn parse_addr(flag: &str, value: Option<String>) -> Result<SocketAddr, String> {
    let value = value.ok_or(format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|e| format!("{flag}: '{value}' is not an address like 127.0.0.1:18080: {e}"))
}

fn options(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::new()
        .with_listen(SocketAddr::from(([127, 0, 0, 1], 18080)))
        .with_health_listen(Some(SocketAddr::from(([127, 0, 0, 1], 18081))))
        .with_service_info("demo", None, &[]);
    let mut tls = TlsFlags::default();
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => options = options.with_listen(parse_addr(&flag, args.next())?),
            "--health" => match args.next().as_deref() {
                Some("none") => options = options.with_health_listen(None),
                other => {
                    options = options
                        .with_health_listen(Some(parse_addr(&flag, other.map(str::to_string))?))
                }
            },
            "--cors" => {
                options = options.with_cors(CorsPolicy::from_flag(
                    &args.next().ok_or("--cors needs a value")?,
                ))
            }
            "--name" => {
                let name = args.next().ok_or("--name needs a value")?;
                options = options.with_service_name(&name);
            }
            "--push" => options = options.with_push(bahamut::PushOptions::default()),
            "--tls-cert" => tls.cert = Some(value()?),
            "--tls-key" => tls.key = Some(value()?),
            "--tls-client-ca" => tls.client_ca = Some(value()?),
            "--tls-client-auth" => tls.client_auth = value()?.parse()?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    tls.apply(options)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let logs = tracing_subscriber::fmt()
        .with_ansi(colours)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        );
    // A request's span opens with its first line, if it writes one.
    match colours {
        true => bahamut::DeferredSpans::new(logs.finish()).init(),
        // The same text for less work per request.
        false => bahamut::DeferredSpans::new(logs.fmt_fields(bahamut::PlainFields).finish()).init(),
    }
    let options = match options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("todo: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match todo::demo::server(options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("todo: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (version, routes) in server.routes_info() {
        for route in routes {
            tracing::info!(version, url = %route.url, verbs = %route.verbs.join(","), "route");
        }
    }
    tracing::info!(versions = ?server.versions_info(), "versions");
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("todo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        options(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn tls_flags_turn_tls_on_or_say_what_is_missing() {
        assert!(parse(&[]).unwrap().tls().is_none());
        assert!(
            parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"])
                .unwrap()
                .tls()
                .is_some()
        );
        let errors = [
            (
                &["--tls-cert", "c.pem"][..],
                "TLS needs both --tls-cert and --tls-key",
            ),
            (
                &["--tls-client-ca", "ca.pem"][..],
                "TLS needs both --tls-cert and --tls-key",
            ),
            (
                &[
                    "--tls-cert",
                    "c.pem",
                    "--tls-key",
                    "k.pem",
                    "--tls-client-auth",
                    "require",
                ][..],
                "--tls-client-auth needs --tls-client-ca",
            ),
            (
                &["--tls-client-auth", "always"][..],
                "unknown client authentication mode 'always': expected off, request or require",
            ),
            (&["--tls-key"][..], "--tls-key needs a value"),
        ];
        for (args, expected) in errors {
            assert_eq!(parse(args).err().as_deref(), Some(expected), "{args:?}");
        }
    }
}
