//! `apiserver`: options -> server -> one processor per identity -> routes and versions ->
//! run until SIGINT or SIGTERM.

mod allocator;
mod telemetry;

use std::net::SocketAddr;
use std::process::ExitCode;

use apiserver::StoreSpec;
use clap::Parser;

/// The seed's API server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// ReST listen address.
    #[arg(long, env = "APISERVER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Health listen address.
    #[arg(long, env = "APISERVER_HEALTH", default_value = "127.0.0.1:8081")]
    health: SocketAddr,
    /// Storage: sqlite:PATH (one embedded file), postgres:URL, or memory (nothing kept).
    #[arg(long, env = "APISERVER_STORE", default_value = "sqlite:./apiserver.db")]
    store: StoreSpec,
    /// With a PostgreSQL store: the schema that holds the tables (created if missing).
    #[arg(long, env = "APISERVER_POSTGRES_SCHEMA")]
    postgres_schema: Option<String>,
    /// NATS server for push events (nats://host:4222): every apiserver sharing it delivers
    /// every write to its push sessions. Default: push within this process only.
    #[arg(long, env = "APISERVER_NATS")]
    nats: Option<String>,
    /// NATS subject of the push events (and name of their JetStream stream, upper-cased).
    #[arg(long, env = "APISERVER_NATS_TOPIC", default_value = "apiserver.events")]
    nats_topic: String,
    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, env = "APISERVER_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, env = "APISERVER_LOG_FORMAT", value_enum, default_value_t = telemetry::LogFormat::Text)]
    log_format: telemetry::LogFormat,
    /// One info line per request (method, path template, status, duration, bytes, request
    /// id) on the `bahamut::access` target (`true` or `false`).
    #[arg(long, env = "APISERVER_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    access_log: bool,
    /// Export spans to this OpenTelemetry collector (OTLP/HTTP with JSON bodies:
    /// http://host:4318). Needs a build with the `otlp` feature. Default: no export.
    #[arg(long, env = "APISERVER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Serve CPU profiles (Go's /debug/pprof/profile?seconds=N: pprof protobuf, or a flamegraph
    /// SVG with &format=svg) on this address, over plain HTTP. Needs a build with the
    /// `profiling` feature. Default: off.
    #[arg(long, env = "APISERVER_PROFILING_LISTEN")]
    profiling_listen: Option<SocketAddr>,
    /// How long to wait for in-flight requests at shutdown, in seconds.
    #[arg(long, env = "APISERVER_DRAIN_SECONDS", default_value_t = 60)]
    drain_seconds: u64,
    /// Most connections served at once; past it clients get a 503 and health reports it.
    #[arg(long, env = "APISERVER_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Most connections from one client IP.
    #[arg(
        long,
        env = "APISERVER_MAX_CONNECTIONS_PER_IP",
        default_value_t = 1_024
    )]
    max_connections_per_ip: usize,
    /// Seconds allowed to receive a request head.
    #[arg(long, env = "APISERVER_HEADER_TIMEOUT", default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds allowed to receive a request body (408 past it).
    #[arg(long, env = "APISERVER_BODY_TIMEOUT", default_value_t = 30.0)]
    body_timeout: f64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "APISERVER_IDLE_TIMEOUT", default_value_t = 60.0)]
    idle_timeout: f64,
    /// Largest request body, in bytes (413 past it).
    #[arg(long, env = "APISERVER_MAX_BODY_SIZE", default_value_t = 16 << 20)]
    max_body_size: usize,
    /// Record metrics and serve them on the health address's `/metrics` (`true` or `false`).
    #[arg(long, env = "APISERVER_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    metrics: bool,
    /// TLS on the ReST address: the certificate chain (PEM, the server's certificate first).
    /// Reloaded when the file changes or on SIGHUP. The health address stays plain.
    #[arg(long, env = "APISERVER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "APISERVER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Mutual TLS: the CAs (PEM bundle) that client certificates must chain to.
    #[arg(long, env = "APISERVER_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// Mutual TLS: off, request (verified when given) or require (refused without one).
    #[arg(long, env = "APISERVER_TLS_CLIENT_AUTH", default_value = "off")]
    tls_client_auth: bahamut::tls::ClientAuth,
    /// Serve HTTP/2 without TLS (h2c, prior knowledge) beside HTTP/1.1 (`true` or `false`).
    /// With TLS, HTTP/2 is offered by ALPN whatever this says.
    #[arg(long, env = "APISERVER_H2C", default_value_t = false, action = clap::ArgAction::Set)]
    h2c: bool,
}

/// A duration flag, in seconds; refused when negative, not finite or zero.
fn seconds(name: &str, value: f64) -> Result<std::time::Duration, String> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} must be a positive number of seconds, got {value}"))
}

/// The connection limits of the flags.
fn with_limits(options: bahamut::Options, args: &Args) -> Result<bahamut::Options, String> {
    Ok(options
        .with_max_connections(args.max_connections)
        .with_max_connections_per_ip(args.max_connections_per_ip)
        .with_header_timeout(seconds("header-timeout", args.header_timeout)?)
        .with_body_timeout(seconds("body-timeout", args.body_timeout)?)
        .with_idle_timeout(seconds("idle-timeout", args.idle_timeout)?)
        .with_max_body_size(args.max_body_size))
}

/// The profiling listener of the flags.
fn with_profiling(options: bahamut::Options, args: &Args) -> Result<bahamut::Options, String> {
    #[cfg(feature = "profiling")]
    return Ok(options.with_profiling_listen(args.profiling_listen));
    #[cfg(not(feature = "profiling"))]
    match args.profiling_listen {
        Some(_) => Err(
            "--profiling-listen: this apiserver was built without profiling; build it with `cargo build --release -p apiserver --features profiling`"
                .into(),
        ),
        None => Ok(options),
    }
}

/// TLS, mutual TLS and h2c of the flags.
fn with_transport(options: bahamut::Options, args: &Args) -> Result<bahamut::Options, String> {
    use bahamut::tls::{ClientAuth, TlsOptions};
    let options = options.with_h2c(args.h2c);
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        if args.tls_client_auth != ClientAuth::Off {
            return Err("--tls-client-auth needs --tls-cert, --tls-key and --tls-client-ca".into());
        }
        return Ok(options);
    };
    let tls = TlsOptions::new(cert, key);
    let tls = match (&args.tls_client_ca, args.tls_client_auth) {
        (None, ClientAuth::Off) => tls,
        (None, _) => {
            return Err("--tls-client-auth request or require needs --tls-client-ca".into());
        }
        (Some(bundle), mode) => tls.with_client_ca(bundle, mode),
    };
    Ok(options.with_tls(tls))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Push on `/events`, through NATS when `--nats` is given.
fn push_options(args: &Args) -> bahamut::PushOptions {
    let mut push = bahamut::PushOptions::default();
    if let Some(url) = &args.nats {
        push.pubsub = std::sync::Arc::new(bahamut::push::NatsPubSub::new(url, &args.nats_topic));
    }
    push
}

fn main() -> ExitCode {
    allocator::tune();
    serve()
}

#[tokio::main]
async fn serve() -> ExitCode {
    let args = Args::parse();
    let telemetry = match telemetry::init(
        &args.log_level,
        args.log_format,
        args.otlp_endpoint.as_deref(),
    ) {
        Ok(telemetry) => telemetry,
        Err(message) => {
            eprintln!("apiserver: {message}");
            return ExitCode::from(2);
        }
    };
    let store = match apiserver::open_store(&args.store, args.postgres_schema.as_deref()).await {
        Ok(store) => store,
        Err(message) => {
            eprintln!("apiserver: {message}");
            return ExitCode::FAILURE;
        }
    };
    let metrics = args.metrics.then(bahamut::Metrics::new);
    let store = apiserver::observed_store(store, args.store.backend(), metrics.clone());
    let mut options = bahamut::Options::new();
    if let Some(metrics) = metrics {
        options = options.with_metrics(metrics);
    }
    let options = options
        .with_listen(args.listen)
        .with_health_listen(Some(args.health))
        .with_drain_timeout(std::time::Duration::from_secs(args.drain_seconds))
        .with_access_log(args.access_log)
        .with_service_info("apiserver", Some(env!("CARGO_PKG_VERSION")), &[])
        .with_push(push_options(&args));
    let options = match with_limits(options, &args)
        .and_then(|o| with_transport(o, &args))
        .and_then(|o| with_profiling(o, &args))
    {
        Ok(options) => options,
        Err(message) => {
            eprintln!("apiserver: {message}");
            return ExitCode::from(2);
        }
    };
    let server = match apiserver::server(options, store) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("apiserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (version, routes) in server.routes_info() {
        for route in routes {
            tracing::info!(version, url = %route.url, verbs = %route.verbs.join(","), "route");
        }
    }
    tracing::info!(versions = ?server.versions_info(), store = %args.store.describe(), "versions");
    let outcome = server.run(shutdown_signal()).await;
    telemetry.shutdown().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apiserver: {e}");
            ExitCode::FAILURE
        }
    }
}
