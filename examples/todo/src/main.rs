//! `todo`: the demo server of the reference session, serving the todo model from memory.
//!
//! ```text
//! todo [--listen 127.0.0.1:18080] [--health 127.0.0.1:18081] [--cors _mirror_|ORIGIN,...] [--name demo]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use bahamut::{CorsPolicy, Options};

const USAGE: &str =
    "usage: todo [--listen ADDR] [--health ADDR] [--cors _mirror_|ORIGIN,...] [--name NAME]

  --listen ADDR   ReST address (default 127.0.0.1:18080)
  --health ADDR   health address (default 127.0.0.1:18081; 'none' disables it)
  --cors VALUE    CORS policy: _mirror_ mirrors any origin, or a comma-separated list of origins
  --name NAME     service name shown on /_meta/name and in errors (default demo)";

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
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
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
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(options)
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
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
