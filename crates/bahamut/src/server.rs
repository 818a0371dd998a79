//! The server: processors, routes info, and `run` until the shutdown signal, then a graceful
//! drain.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use bytes::Bytes;
use elemental::{Errors, Identity, Model, Operation, TraceContext};
use futures_util::FutureExt;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::HttpResponse;
use crate::connection::{
    AcceptBackoff, Activity, ConnectionLimits, ConnectionSlot, ConnectionWatch, Peer, Signal,
    TrackedIo,
};
use crate::endpoint::Endpoint;
use crate::meta::{RouteInfo, openapi_for, routes_for, to_json_indented};
use crate::options::{Options, RouteHandler};
use crate::processor::Processor;
use crate::request_span::{RequestFields, RequestSpan};
use crate::response::{
    Finish, X_REQUEST_ID, bare, error_response, meta, method_not_allowed, not_found, preflight,
    set_request_id,
};
use crate::router::{Route, route};
use crate::state::ServerState;
use crate::typed::{ErasedProcessor, Typed};

/// Why the server could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A processor is already registered for this identity.
    #[error("a processor is already registered for identity '{0}'")]
    AlreadyRegistered(&'static str),
    /// No processor is registered for this identity.
    #[error("no processor is registered for identity '{0}'")]
    NotRegistered(&'static str),
    /// A processor serves an operation that no relationship of the model allows.
    #[error("operation {operation} is not allowed on '{identity}' by the model's relationships")]
    OperationNotAllowed {
        /// The identity.
        identity: &'static str,
        /// The operation.
        operation: Operation,
    },
    /// No model manager was given.
    #[error("no model manager: add one with Options::with_model")]
    NoModel,
    /// A listener could not be set up.
    #[error("cannot listen on {what}: {source}")]
    Listen {
        /// Which listener.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The push server's pub/sub could not be connected.
    #[error("cannot connect the push pub/sub: {0}")]
    PubSub(String),
    /// The TLS certificate, key or client CA cannot be used.
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A custom health stat has a name that cannot be a path of the health listener.
    #[error(
        "health stat name '{0}' is invalid: it must not be empty, start with '_', contain '/' or be 'metrics'"
    )]
    HealthStat(String),
}

/// An API server: create it with options, register one processor per identity, then run it.
pub struct Server {
    options: Options,
    processors: elemental::NameMap<Arc<dyn ErasedProcessor>>,
}

impl Server {
    /// A server with these options and no processor.
    pub fn new(mut options: Options) -> Self {
        if let Some(push) = &options.push {
            if push.publish && options.event_publisher.is_none() {
                let pusher = crate::push::Pusher::new(push, options.metrics.clone());
                options.event_publisher = Some(Arc::new(pusher));
            }
        }
        Self {
            options,
            processors: elemental::NameMap::default(),
        }
    }

    /// Publishes events from application code to the push sessions (of every server sharing
    /// the pub/sub); `None` when push is off.
    pub fn pusher(&self) -> Option<crate::push::Pusher> {
        let metrics = &self.options.metrics;
        self.options
            .push
            .as_ref()
            .map(|push| crate::push::Pusher::new(push, metrics.clone()))
    }

    /// Registers the processor of the identity `T`: it serves the operations its
    /// `#[bahamut::processor]` block writes (501 for the others). An operation that no
    /// relationship of the model allows for `T` is refused
    /// ([`ServerError::OperationNotAllowed`]); a generic processor that writes every operation
    /// registers with [`Self::register_processor_within_relationships`].
    pub fn register_processor<T: Model, P: Processor<T>>(
        &mut self,
        processor: P,
    ) -> Result<(), ServerError> {
        if self.options.model_managers.is_empty() {
            return Err(ServerError::NoModel);
        }
        if let Some(operation) = P::OPERATIONS
            .iter()
            .copied()
            .find(|operation| !self.allows(T::IDENTITY, *operation))
        {
            return Err(ServerError::OperationNotAllowed {
                identity: T::IDENTITY.name,
                operation,
            });
        }
        self.insert(T::IDENTITY, Typed::new(processor, P::OPERATIONS.to_vec()))
    }

    /// Registers the processor of the identity `T` for those of its operations that the
    /// model's relationships allow for `T` (the others answer 405 before reaching it): the
    /// registration of generic processors, such as storage-backed ones.
    pub fn register_processor_within_relationships<T: Model, P: Processor<T>>(
        &mut self,
        processor: P,
    ) -> Result<(), ServerError> {
        let allowed = P::OPERATIONS
            .iter()
            .copied()
            .filter(|operation| self.allows(T::IDENTITY, *operation))
            .collect();
        self.insert(T::IDENTITY, Typed::new(processor, allowed))
    }

    fn insert(
        &mut self,
        identity: Identity,
        processor: impl ErasedProcessor + 'static,
    ) -> Result<(), ServerError> {
        if self.processors.contains_key(identity.name) {
            return Err(ServerError::AlreadyRegistered(identity.name));
        }
        self.processors.insert(identity.name, Arc::new(processor));
        Ok(())
    }

    /// Whether a relationship of some model version allows `operation` on `identity` (under
    /// any parent). A `PATCH` served through `update` (with a retriever) needs `patch` allowed
    /// at request time, like any other request.
    fn allows(&self, identity: Identity, operation: Operation) -> bool {
        self.options.model_managers.values().any(|manager| {
            manager
                .relationships()
                .iter()
                .any(|(name, allowed, _, _)| name == identity.name && allowed == operation)
        })
    }

    /// Removes the processor of an identity.
    pub fn unregister_processor(&mut self, identity: Identity) -> Result<(), ServerError> {
        self.processors
            .remove(identity.name)
            .map(|_| ())
            .ok_or(ServerError::NotRegistered(identity.name))
    }

    /// The operations served for an identity, if it has a processor.
    pub fn processor_for_identity(&self, identity: Identity) -> Option<Vec<Operation>> {
        self.processors
            .get(identity.name)
            .map(|p| p.operations().to_vec())
    }

    /// How many processors are registered.
    pub fn processors_count(&self) -> usize {
        self.processors.len()
    }

    /// Serves `path` (exact match, any method) with a custom handler, before model routes.
    pub fn add_route(&mut self, path: &str, handler: RouteHandler) {
        self.options.custom_routes.insert(path.to_string(), handler);
    }

    /// Whether the identity named `name` has a processor for `operation`.
    fn serves(&self, name: &str, operation: Operation) -> bool {
        self.processors
            .get(name)
            .is_some_and(|p| p.operations().contains(&operation))
    }

    /// The routes served, by API version.
    pub fn routes_info(&self) -> BTreeMap<String, Vec<RouteInfo>> {
        let has = |name: &str, operation: Operation| self.serves(name, operation);
        self.options
            .model_managers
            .iter()
            .map(|(version, manager)| (version.to_string(), routes_for(*manager, &has)))
            .collect()
    }

    /// The OpenAPI document given to the options (`Options::with_openapi`), kept to the
    /// registered operations of the latest API version, as `/_meta/openapi` serves it.
    pub fn openapi_info(&self) -> Option<serde_json::Value> {
        let document = self.options.openapi.as_ref()?;
        let manager = self.options.model_managers.values().next_back()?;
        let has = |name: &str, operation: Operation| self.serves(name, operation);
        Some(openapi_for(document, *manager, &has))
    }

    /// The versions of the server's components, as `/_meta/version` shows them.
    pub fn versions_info(&self) -> BTreeMap<String, String> {
        let mut versions = BTreeMap::from([
            ("bahamut".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (
                "elemental".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]);
        if let Some(v) = &self.options.service_version {
            versions.insert(self.options.service_name.clone(), v.clone());
        }
        versions.extend(self.options.sub_versions.clone());
        versions
    }

    /// Binds the ReST address (`Options::with_listen`) and the health address, if any
    /// (`Options::with_health_listen`), then serves them as [`Self::serve`] does.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let rest = bind(self.options.listen, "the ReST address")?;
        let health = match self.options.health_listen {
            Some(addr) => Some(bind(addr, "the health address")?),
            None => None,
        };
        self.serve(rest, health, shutdown).await
    }

    /// Serves the ReST (and push) API on `rest` and health checks on `health` until `shutdown`
    /// completes, then drains: health turns 503, the pre-stop hook runs, no new connection is
    /// accepted, and in-flight requests finish (up to the drain timeout). The ReST and health
    /// addresses of the options are not used; the profiling address (feature `profiling`) is
    /// bound here. `shutdown` is first polled before the first connection is accepted: a
    /// signal handler that it installs when first polled (`tokio::signal`) is in place before
    /// any request is answered.
    pub async fn serve(
        self,
        rest: std::net::TcpListener,
        health: Option<std::net::TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        if self.options.model_managers.is_empty() {
            return Err(ServerError::NoModel);
        }
        if let Some(name) = self
            .options
            .health_stats
            .keys()
            .find(|name| !crate::health::is_valid_stat_name(name))
        {
            return Err(ServerError::HealthStat(name.clone()));
        }
        let tls = match &self.options.tls {
            Some(options) => Some(crate::tls::TlsState::new(options)?),
            None => None,
        };
        #[cfg(feature = "profiling")]
        let profiling = match self.options.profiling_listen {
            Some(addr) => Some(into_tokio(
                bind(addr, "the profiling address")?,
                "the profiling address",
            )?),
            None => None,
        };
        let rest = into_tokio(rest, "the ReST address")?;
        let health = match health {
            Some(listener) => Some(into_tokio(listener, "the health address")?),
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let push = match &self.options.push {
            Some(options) => {
                let metrics = self.options.metrics.clone();
                Some(start_push(options, stop_rx.clone(), metrics).await?)
            }
            None => None,
        };
        let limits = ConnectionLimits::new(
            self.options.max_connections,
            self.options.max_connections_per_ip,
        );
        let inner = Arc::new(ServerState {
            routes: self.routes_info(),
            versions: self.versions_info(),
            openapi: self
                .openapi_info()
                .map(|d| serde_json::to_vec(&d).unwrap_or_default()),
            limits,
            watch: ConnectionWatch::new(self.options.header_timeout, self.options.idle_timeout),
            tls,
            options: self.options,
            processors: self.processors,
            healthy: AtomicBool::new(true),
            push,
        });
        tracing::info!(address = %rest.local_addr().map_or_else(|_| "?".into(), |a| a.to_string()), "ReST server listening");
        let health_task =
            health.map(|listener| tokio::spawn(serve_health(inner.clone(), listener)));
        #[cfg(feature = "profiling")]
        let profiling_task = profiling.map(|listener| {
            let address = listener
                .local_addr()
                .map_or_else(|_| "?".into(), |a| a.to_string());
            tracing::info!(%address, "profiling server listening");
            tokio::spawn(crate::profiling::serve(listener))
        });
        if let Some(tls) = &inner.tls {
            tokio::spawn(tls.clone().watch(stop_rx.clone()));
        }
        if let Some(hook) = &inner.options.post_start_hook {
            hook().await;
        }
        let watch_task = tokio::spawn(inner.watch.clone().run());
        let connections = accept_until(inner.clone(), rest, shutdown).await;
        // The listener is closed now: new connections are refused, push sessions close, the
        // open connections close once their request in flight is answered.
        let _ = stop_tx.send(true);
        inner.watch.stop_all();
        if let Some(push) = &inner.push {
            push.hub.close_all();
        }
        drain(connections, inner.options.drain_timeout).await;
        watch_task.abort();
        if let Some(task) = health_task {
            task.abort();
        }
        #[cfg(feature = "profiling")]
        if let Some(task) = profiling_task {
            task.abort();
        }
        tracing::info!("server stopped");
        Ok(())
    }
}

/// Starts the hub and connects it to the pub/sub.
async fn start_push(
    options: &crate::push::PushOptions,
    stop: watch::Receiver<bool>,
    metrics: Option<crate::metrics::Metrics>,
) -> Result<Arc<crate::push::PushRuntime>, ServerError> {
    let hub = crate::push::Hub::new(
        options.backlog_size,
        options.session_queue_size,
        options.pubsub.numbers_events(),
    );
    let hub = Arc::new(hub.with_metrics(metrics.clone()));
    let deliver_to = hub.clone();
    options
        .pubsub
        .connect(Arc::new(move |events| deliver_to.deliver(events)))
        .await
        .map_err(|e| ServerError::PubSub(e.to_string()))?;
    tracing::info!(endpoint = %options.endpoint, "push server ready");
    Ok(Arc::new(crate::push::PushRuntime {
        options: options.clone(),
        hub,
        stop,
        metrics,
    }))
}

fn bind(addr: SocketAddr, what: &str) -> Result<std::net::TcpListener, ServerError> {
    std::net::TcpListener::bind(addr).map_err(|source| ServerError::Listen {
        what: what.to_string(),
        source,
    })
}

fn into_tokio(listener: std::net::TcpListener, what: &str) -> Result<TcpListener, ServerError> {
    let error = |source| ServerError::Listen {
        what: what.to_string(),
        source,
    };
    listener.set_nonblocking(true).map_err(error)?;
    TcpListener::from_std(listener).map_err(error)
}

async fn accept_until(
    inner: Arc<ServerState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> JoinSet<()> {
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::new();
    tokio::pin!(shutdown);
    loop {
        // Biased: `shutdown` is polled before each accept, the first one included, so that a
        // signal handler it installs at its first poll is in place before any request is
        // answered (else a SIGTERM sent right after an answer could find none, and end the
        // process without the drain).
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        if let Some(metrics) = &inner.options.metrics {
            metrics.connection_accepted();
        }
        match inner.limits.admit(remote.ip()) {
            Ok(slot) => {
                connections.spawn(serve_connection(inner.clone(), stream, remote, slot));
            }
            Err(refusal) => {
                tracing::debug!(%remote, ?refusal, "connection refused: over the cap");
                inner.limits.refuse(stream, refusal);
            }
        }
    }
    tracing::info!("shutdown started");
    if let Some(hook) = &inner.options.pre_stop_hook {
        hook().await;
    }
    inner.healthy.store(false, Ordering::SeqCst);
    connections
}

async fn drain(mut connections: JoinSet<()>, timeout: std::time::Duration) {
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(timeout, all_done).await.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "drain timeout: closing the remaining connections"
        );
        connections.shutdown().await;
    }
}

/// Which HTTP versions a connection may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
    /// Either, told by the first bytes (h2c prior knowledge).
    Sniffed,
}

/// Serves one connection: the TLS handshake first when TLS is on, then HTTP.
async fn serve_connection(
    inner: Arc<ServerState>,
    stream: TcpStream,
    remote: SocketAddr,
    slot: ConnectionSlot,
) {
    match inner.tls.clone() {
        None => {
            let protocol = match inner.options.h2c {
                true => Protocol::Sniffed,
                false => Protocol::Http1,
            };
            let peer = Peer {
                remote,
                certificate: None,
            };
            serve_http(inner, stream, peer, protocol).await;
        }
        Some(tls) => {
            let timeout = inner.options.header_timeout;
            let metrics = inner.options.metrics.as_ref();
            let accepted = crate::tls::accept(&tls, stream, remote, timeout, metrics).await;
            if let Some(accepted) = accepted {
                let peer = Peer {
                    remote,
                    certificate: accepted.certificate,
                };
                let protocol = match accepted.http2 {
                    true => Protocol::Http2,
                    false => Protocol::Http1,
                };
                serve_http(inner, accepted.stream, peer, protocol).await;
            }
        }
    }
    drop(slot);
}

/// Serves HTTP on one connection until the client closes it, a timeout of
/// [`crate::connection`] closes it, or shutdown: then the request in progress (or one whose
/// head is arriving) is answered with `Connection: close` (HTTP/2: a `GOAWAY`), and the
/// connection closes once idle.
async fn serve_http<S>(inner: Arc<ServerState>, stream: S, peer: Peer, protocol: Protocol)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    if protocol == Protocol::Http2 {
        activity.set_multiplexed();
    }
    let remote = peer.remote;
    let io = TokioIo::new(TrackedIo::new(stream, activity.clone()));
    let (service_inner, service_activity) = (inner.clone(), activity.clone());
    let service = service_fn(move |request: http::Request<Incoming>| {
        let (inner, activity, peer) = (
            service_inner.clone(),
            service_activity.clone(),
            peer.clone(),
        );
        if request.version() == http::Version::HTTP_2 {
            activity.set_multiplexed();
        }
        activity.request_started();
        // A combinator rather than an `async` block: the block would keep its captured
        // request and peer (320 bytes) beside `handle`'s future, which holds them already,
        // and hyper moves this future several times per request.
        handle(inner, request, peer).map(move |response| {
            activity.request_finished();
            Ok::<_, Infallible>(response)
        })
    });
    let options = &inner.options;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(options.keep_alive)
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let builder = match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
        Protocol::Sniffed => builder,
    };
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let _watched = inner.watch.watch(activity.clone());
    let mut shutting_down = false;
    let ended = std::future::poll_fn(|cx| {
        let signal = activity.signal(cx.waker());
        if let Some(close) = signal.filter(|s| *s != Signal::Stop) {
            return Poll::Ready(Err(close));
        }
        let stopping = signal == Some(Signal::Stop);
        loop {
            if stopping && !shutting_down && activity.is_idle() {
                // Nothing in flight: hyper closes the connection at its next poll.
                connection.as_mut().graceful_shutdown();
                shutting_down = true;
            }
            match connection.as_mut().poll(cx) {
                Poll::Ready(result) => return Poll::Ready(Ok(result)),
                // The request in flight was just answered: shut down now.
                Poll::Pending if stopping && !shutting_down && activity.is_idle() => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    activity.task_ended();
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, %remote, "connection ended with an error"),
        Err(signal) => tracing::debug!(%remote, reason = signal.reason(), "connection closed"),
    }
}

async fn read_body(inner: &ServerState, body: Incoming) -> Result<Bytes, Errors> {
    use hyper::body::Body as _;
    if body.is_end_stream() {
        // No body at all (most GETs): nothing to wait for, no timer to set.
        return Ok(Bytes::new());
    }
    let max = inner.options.max_body_size;
    let timeout = inner.options.body_timeout;
    let mut collecting = std::pin::pin!(Limited::new(body, max).collect());
    // A small body usually arrives with the head: then it is read at the first poll, and no
    // timer is set. Setting one that is due sooner than the runtime's next wake-up wakes the
    // thread that sleeps on the sockets: a system call and a thread switch per request. The
    // timer is boxed: this future is part of every request's, and most never need one.
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let finished = std::future::poll_fn(|cx| {
        if let Poll::Ready(collected) = collecting.as_mut().poll(cx) {
            return Poll::Ready(Some(collected));
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await;
    let Some(collected) = finished else {
        return Err(Errors::from(elemental::Error::new(
            "Request Timeout",
            format!(
                "The request body was not received within {} s",
                timeout.as_secs_f64()
            ),
            "bahamut",
            408,
        )));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Errors::from(elemental::Error::new(
                "Payload Too Large",
                format!("The request body is larger than {max} bytes"),
                "bahamut",
                413,
            )))
        }
        Err(e) => Err(Errors::from(elemental::Error::new(
            "Bad Request",
            format!("Unable to read body of request: {e}"),
            "bahamut",
            400,
        ))),
    }
}

/// Answers one request: its id ([`elemental::request_id`]) goes into the `X-Request-ID`
/// response header, the `trace` of its errors and a `request` span around its log lines
/// ([`crate::request_span`]); the span is the server's in the client's W3C trace
/// (`traceparent`), and records the identity, operation, namespace and status.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its future"
)]
fn handle(
    inner: Arc<ServerState>,
    request: http::Request<Incoming>,
    peer: Peer,
) -> impl Future<Output = HttpResponse> {
    // An `async` block in a plain function, not an `async fn`: an `async fn` keeps each
    // argument twice in its future (as passed, and as the local it is moved to).
    async move {
        let arrival = elemental::ArrivalHeaders::read(request.headers());
        let (request_id, parent) = (arrival.request_id(), arrival.trace_parent());
        let trace = TraceContext::child_of(parent.as_ref());
        let method = request.method().clone();
        let fields = RequestFields::new(request_id.clone(), method.clone(), trace, parent.as_ref());
        let mut span = RequestSpan::start(fields);
        let metrics = inner.options.metrics.clone();
        let version = request.version();
        let uri = inner.options.access_log.then(|| request.uri().clone());
        // The clock is read only when the duration goes somewhere (two reads per request).
        let started = (metrics.is_some() || uri.is_some()).then(std::time::Instant::now);
        if let Some(metrics) = &metrics {
            metrics.request_started();
        }
        let draining = !inner.healthy.load(Ordering::SeqCst);
        let (mut response, endpoint) = {
            let origin = Origin {
                peer: &peer,
                request_id: &request_id,
                trace,
            };
            let mut responding = std::pin::pin!(respond(inner.clone(), request, origin));
            std::future::poll_fn(|cx| span.poll_in(responding.as_mut(), cx)).await
        };
        let headers = response.headers_mut();
        if version >= http::Version::HTTP_2 {
            // HTTP/2 has no connection-level headers; a drain sends GOAWAY instead.
            headers.remove(http::header::CONNECTION);
        } else if draining || !inner.healthy.load(Ordering::SeqCst) {
            headers.insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let code = response.status().as_u16();
        span.record_status(code);
        let took = started.map(|started| started.elapsed()).unwrap_or_default();
        if let Some(metrics) = &metrics {
            metrics.request_finished(&method, endpoint, code, took);
        }
        if let Some(uri) = uri {
            access_log(&method, &uri, endpoint, &response, took, &request_id);
        }
        // The value takes the id's own bytes: no copy.
        match http::HeaderValue::from_maybe_shared(Bytes::from(request_id)) {
            Ok(value) => set_request_id(response.headers_mut(), value),
            Err(_) => {
                response.headers_mut().remove(X_REQUEST_ID);
            }
        };
        response
    }
}

/// Where a request comes from, as [`handle`] passes it on.
#[derive(Clone, Copy)]
struct Origin<'a> {
    peer: &'a Peer,
    request_id: &'a str,
    trace: TraceContext,
}

/// The access log line of one request (`bahamut::access`, info level).
fn access_log(
    method: &http::Method,
    uri: &http::Uri,
    endpoint: Endpoint,
    response: &HttpResponse,
    took: std::time::Duration,
    request_id: &str,
) {
    use hyper::body::Body as _;
    let bytes = response.body().size_hint().exact();
    let status = response.status().as_u16();
    // Milliseconds, to the microsecond.
    let duration_ms = (took.as_secs_f64() * 1e6).round() / 1e3;
    match endpoint.template {
        Some(route) => tracing::info!(
            target: "bahamut::access",
            %method, route = %route, status, duration_ms, bytes, id = %request_id, "request"
        ),
        // Not a model route: the path as sent (escaped), without its query.
        None => tracing::info!(
            target: "bahamut::access",
            %method, route = ?uri.path(), status, duration_ms, bytes, id = %request_id, "request"
        ),
    }
}

fn respond(
    inner: Arc<ServerState>,
    request: http::Request<Incoming>,
    origin: Origin<'_>,
) -> impl Future<Output = (HttpResponse, Endpoint)> {
    // Taken apart before the future is made: what it holds is what it uses, once.
    let Origin {
        peer,
        request_id,
        trace,
    } = origin;
    let (parts, body) = request.into_parts();
    async move {
        if let Some(push) = &inner.push {
            if push.options.dispatch
                && parts.method == http::Method::GET
                && parts.uri.path() == push.options.endpoint
            {
                // Boxed, as the model pipeline below: rare, and large.
                let request = http::Request::from_parts(parts, body);
                let upgrade = crate::push::upgrade(push.clone(), request, peer, request_id);
                return (Box::pin(upgrade).await, Endpoint::other("push"));
            }
        }
        // For the errors answered here (a model route's pipeline reads its own).
        let finish = || Finish::new(&parts.headers, inner.options.cors.as_ref(), None);
        let body = match read_body(&inner, body).await {
            Ok(body) => body,
            Err(errors) => {
                // The rest of the body is not read: the connection cannot carry another request.
                let mut response = error_response(
                    &errors.with_trace(request_id),
                    elemental::EncodingType::Json,
                    &finish(),
                );
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                return (response, Endpoint::other("body"));
            }
        };
        let route = route(&parts.method, parts.uri.path(), &inner.options);
        let endpoint = match &route {
            Route::Model(_) => Endpoint::other("unknown"),
            Route::Root => Endpoint::other("root"),
            Route::Custom(_) => Endpoint::other("custom"),
            Route::MetaName | Route::MetaVersion | Route::MetaRoutes | Route::MetaOpenApi => {
                Endpoint::other("meta")
            }
            Route::Preflight => Endpoint::other("preflight"),
            Route::MethodNotAllowed(..) => Endpoint::other("method-not-allowed"),
            Route::NotFound => Endpoint::other("not-found"),
        };
        let response = match route {
            Route::Model(path) => {
                let origin = crate::dispatch::Origin {
                    remote: Some(peer.remote),
                    certificate: peer.certificate.as_ref(),
                    request_id,
                    trace,
                };
                // Boxed: the model pipeline's state is large, and the future of every request
                // (static files and health included) would otherwise carry it and be copied whole
                // each time hyper moves it.
                let model = crate::dispatch::handle_model(&inner, parts, path, body, origin);
                return Box::pin(model).await;
            }
            Route::Root => match &inner.options.root_handler {
                Some(handler) => custom(handler, parts, body).await,
                None => bare(StatusCode::OK),
            },
            Route::Custom(handler) => custom(&handler, parts, body).await,
            Route::MetaName => meta(
                "text/plain",
                inner.options.service_name.clone().into_bytes(),
            ),
            Route::MetaVersion => meta(
                elemental::EncodingType::Json.content_type_header(),
                to_json_indented(&inner.versions),
            ),
            Route::MetaRoutes => meta(
                elemental::EncodingType::Json.content_type_header(),
                serde_json::to_vec(&inner.routes).unwrap_or_default(),
            ),
            Route::MetaOpenApi => meta(
                elemental::EncodingType::Json.content_type_header(),
                inner.openapi.clone().unwrap_or_default(),
            ),
            Route::Preflight => match &inner.options.cors {
                Some(cors) => preflight(cors, &parts.headers),
                None => method_not_allowed(&parts.method, &[], &finish(), request_id),
            },
            Route::MethodNotAllowed(shape, path) => {
                // A model path: the methods its relationships allow; another path: its own.
                let allowed = path
                    .and_then(|path| crate::dispatch::path_allowed_methods(&inner.options, &path))
                    .unwrap_or_else(|| shape.to_vec());
                method_not_allowed(&parts.method, &allowed, &finish(), request_id)
            }
            Route::NotFound => not_found(inner.options.cors.as_ref(), &parts.headers, request_id),
        };
        (response, endpoint)
    }
}

/// The answer of a custom route. The handler is called before the returned future is first
/// polled, so that the future holds the handler's boxed future, not the request's parts.
fn custom(
    handler: &RouteHandler,
    parts: http::request::Parts,
    body: Bytes,
) -> impl Future<Output = HttpResponse> + use<> {
    let answering = AssertUnwindSafe(handler(parts, body)).catch_unwind();
    async move {
        match answering.await {
            Ok(response) => response,
            Err(_) => {
                tracing::error!("custom route handler panicked");
                bare(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Serves health checks until the task is aborted (after the drain, so that it answers 503
/// while ReST drains).
async fn serve_health(inner: Arc<ServerState>, listener: TcpListener) {
    let mut backoff = AcceptBackoff::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.succeeded();
                stream
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<Incoming>| {
                let inner = inner.clone();
                async move {
                    Ok::<_, Infallible>(
                        crate::health::handle(inner, request.method(), request.uri().path()).await,
                    )
                }
            });
            let _ = http1::Builder::new()
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
