//! Server options, in the bahamut style: a builder where every setting has a documented default.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use elemental::{Identity, ModelManager};

use crate::auth::{Auditer, IdentifiableRetriever, RequestAuthenticator, RequestAuthorizer};
use crate::cors::CorsPolicy;
use crate::events::EventPublisher;
use crate::ratelimit::RateLimit;
use crate::{BoxFuture, HttpResponse};

/// A hook run after start or before stop.
pub type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;
/// A custom handler for a route: receives the request parts and body.
pub type RouteHandler = Arc<
    dyn Fn(http::request::Parts, bytes::Bytes) -> BoxFuture<'static, HttpResponse> + Send + Sync,
>;
/// A custom health check: `Err` answers 500 with the message.
pub type HealthHandler = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
/// A custom health stat: the JSON document served on the health listener's `/<name>`.
pub type HealthStat = Arc<dyn Fn() -> BoxFuture<'static, serde_json::Value> + Send + Sync>;
/// Transforms the errors a processor returns before they are answered (Go bahamut's
/// `OptErrorTransformer`): to map an application's errors onto the client's, or add details.
pub type ErrorTransformer = Arc<dyn Fn(elemental::Errors) -> elemental::Errors + Send + Sync>;
/// Encodes the answer of one identity's requests instead of the model's own JSON or msgpack
/// (Go bahamut's `OptMarshallers`); the answer keeps the negotiated `Content-Type`.
pub type Marshaller = Arc<
    dyn Fn(&elemental::Request, Marshal<'_>) -> Result<Vec<u8>, elemental::Error> + Send + Sync,
>;
/// Decodes the body of one identity's creates and updates instead of the model's decoder (Go
/// bahamut's `OptUnmarshallers`); the object must be of the identity's model, and is validated
/// as a decoded one would be.
pub type Unmarshaller = Arc<
    dyn Fn(&elemental::Request) -> Result<Box<dyn elemental::Identifiable>, elemental::Error>
        + Send
        + Sync,
>;

/// What a [`Marshaller`] encodes: the object answered, or the page of a retrieve-many.
pub enum Marshal<'a> {
    /// One object (retrieve, create, update, patch, delete).
    One(&'a dyn elemental::Identifiable),
    /// The objects of a retrieve-many.
    Many(Vec<&'a dyn elemental::Identifiable>),
}

/// Decides whether a request counts against an identity's rate limit.
pub type RateLimitCondition = Arc<dyn Fn(&elemental::Request) -> bool + Send + Sync>;

/// A per-identity rate limit, optionally applied only to some requests.
#[derive(Clone)]
pub struct IdentityRateLimit {
    /// The limit.
    pub limit: RateLimit,
    /// When set, only requests for which it returns true are counted.
    pub condition: Option<RateLimitCondition>,
}

/// Every option of a server. Build with [`Options::new`] and the `with_*` methods.
#[derive(Clone)]
pub struct Options {
    // ReST server
    /// ReST listen address. Default `127.0.0.1:8080`.
    pub(crate) listen: SocketAddr,
    /// Time allowed to receive a request head once its first byte has arrived; past it the
    /// connection is closed. Default 10 s.
    pub(crate) header_timeout: Duration,
    /// Time allowed to receive a request body once its head is read; past it the request gets a
    /// 408 and the connection is closed. Default 30 s.
    pub(crate) body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request. Default 60 s.
    pub(crate) idle_timeout: Duration,
    /// Time allowed to process a request and write its response; 0 disables. Default 0.
    pub(crate) write_timeout: Duration,
    /// Largest accepted request body, in bytes. Default 16 MiB.
    pub(crate) max_body_size: usize,
    /// Most connections served at once; further ones are answered 503 at once and closed (and
    /// health reports the saturation). Default 10,000.
    pub(crate) max_connections: usize,
    /// Most connections from one client IP (its socket address, not `X-Forwarded-For`); further
    /// ones are answered 503 and closed. Default 1,024.
    pub(crate) max_connections_per_ip: usize,
    /// Gzip responses larger than `compression_threshold` when the client accepts it.
    /// Default on.
    pub(crate) compression: bool,
    /// Smallest body, in bytes, that is compressed. Default 1400.
    pub(crate) compression_threshold: usize,
    /// HTTP keep-alive. Default on.
    pub(crate) keep_alive: bool,
    /// Prefix of the model routes (`api` serves `/api/lists`). Default none.
    pub(crate) api_prefix: String,
    /// Handler of `GET /`. Default: 200 with an empty body.
    pub(crate) root_handler: Option<RouteHandler>,
    /// How long to wait for in-flight requests at shutdown. Default 60 s.
    pub(crate) drain_timeout: Duration,
    /// TLS on the ReST listener. Default none (plain HTTP).
    pub(crate) tls: Option<crate::tls::TlsOptions>,
    /// One info line per request on the `bahamut::access` target. Default off.
    pub(crate) access_log: bool,
    /// HTTP/2 over plain TCP (h2c, prior knowledge) beside HTTP/1.1. Default off. With TLS,
    /// HTTP/2 is chosen by ALPN whatever this says.
    pub(crate) h2c: bool,
    // Model
    /// Model managers by API version (`/v/N`). Version 0 serves requests without `/v/N`.
    pub(crate) model_managers: BTreeMap<u32, &'static dyn ModelManager>,
    /// Read-only mode: every write answers 423, except on `read_only_exclusions`.
    pub(crate) read_only: bool,
    /// Identities that stay writable in read-only mode.
    pub(crate) read_only_exclusions: BTreeSet<&'static str>,
    /// Loads the stored object for update and patch, so that read-only and creation-only
    /// attributes are checked against it and patches are merged into it. Default none.
    pub(crate) retriever: Option<Arc<dyn IdentifiableRetriever>>,
    // Health
    /// Health listen address. Default none (no health server).
    pub(crate) health_listen: Option<SocketAddr>,
    /// The address of the profiling listener (none by default).
    #[cfg(feature = "profiling")]
    pub(crate) profiling_listen: Option<SocketAddr>,
    /// Custom health check. Default: always healthy.
    pub(crate) health_handler: Option<HealthHandler>,
    /// Custom health stats, by path name. Default none.
    pub(crate) health_stats: BTreeMap<String, HealthStat>,
    /// Metrics, served on the health listener's `/metrics`. Default none (not recorded).
    pub(crate) metrics: Option<crate::metrics::Metrics>,
    // Service info
    /// Service name, served on `/_meta/name`. Default `bahamut`.
    pub(crate) service_name: String,
    /// Service version, added to `/_meta/version` when set.
    pub(crate) service_version: Option<String>,
    /// More versions for `/_meta/version` (component -> version).
    pub(crate) sub_versions: BTreeMap<String, String>,
    /// The OpenAPI document of the model, served on `/_meta/openapi` kept to the registered
    /// operations. Default none (no such route).
    pub(crate) openapi: Option<serde_json::Value>,
    // Security
    /// Request authenticators, in order. Default none (everything is authenticated).
    pub(crate) authenticators: Vec<Arc<dyn RequestAuthenticator>>,
    /// Request authorizers, in order. Default none (everything is authorized).
    pub(crate) authorizers: Vec<Arc<dyn RequestAuthorizer>>,
    /// Called once per model request, with its error if any. Default none.
    pub(crate) auditer: Option<Arc<dyn Auditer>>,
    /// CORS policy. Default none (no CORS headers, `OPTIONS` answers 405).
    pub(crate) cors: Option<CorsPolicy>,
    // Rate limiting
    /// A limit on all model requests. Default none.
    pub(crate) rate_limit: Option<RateLimit>,
    /// Limits per identity name. Default none.
    pub(crate) identity_rate_limits: BTreeMap<&'static str, IdentityRateLimit>,
    // Hooks and events
    /// Run once the listeners are ready.
    pub(crate) post_start_hook: Option<Hook>,
    /// Run when shutdown starts, before draining.
    pub(crate) pre_stop_hook: Option<Hook>,
    /// Catch panics of processors and answer 500. Default on.
    pub(crate) recover_panics: bool,
    /// Transforms the errors processors return before they are answered. Default none.
    pub(crate) error_transformer: Option<ErrorTransformer>,
    /// Custom encoders of answers, by identity name. Default none.
    pub(crate) marshallers: BTreeMap<&'static str, Marshaller>,
    /// Custom decoders of create and update bodies, by identity name. Default none.
    pub(crate) unmarshallers: BTreeMap<&'static str, Unmarshaller>,
    /// Where the events of completed writes go. Default none (events are dropped).
    pub(crate) event_publisher: Option<Arc<dyn EventPublisher>>,
    /// Routes served by custom handlers (exact path -> handler), checked before model routes.
    pub(crate) custom_routes: BTreeMap<String, RouteHandler>,
    /// The push server (websocket sessions on `/events`). Default off.
    pub(crate) push: Option<crate::push::PushOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// Options with every default.
    pub fn new() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::ZERO,
            max_body_size: 16 << 20,
            max_connections: 10_000,
            max_connections_per_ip: 1_024,
            compression: true,
            compression_threshold: 1400,
            keep_alive: true,
            api_prefix: String::new(),
            root_handler: None,
            drain_timeout: Duration::from_secs(60),
            tls: None,
            h2c: false,
            access_log: false,
            model_managers: BTreeMap::new(),
            read_only: false,
            read_only_exclusions: BTreeSet::new(),
            retriever: None,
            health_listen: None,
            #[cfg(feature = "profiling")]
            profiling_listen: None,
            health_handler: None,
            health_stats: BTreeMap::new(),
            metrics: None,
            service_name: "bahamut".to_string(),
            service_version: None,
            sub_versions: BTreeMap::new(),
            openapi: None,
            authenticators: Vec::new(),
            authorizers: Vec::new(),
            auditer: None,
            cors: None,
            rate_limit: None,
            identity_rate_limits: BTreeMap::new(),
            post_start_hook: None,
            pre_stop_hook: None,
            recover_panics: true,
            error_transformer: None,
            marshallers: BTreeMap::new(),
            unmarshallers: BTreeMap::new(),
            event_publisher: None,
            custom_routes: BTreeMap::new(),
            push: None,
        }
    }

    /// The service name (`/_meta/name`).
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The TLS settings of the ReST listener, when TLS is on.
    pub fn tls(&self) -> Option<&crate::tls::TlsOptions> {
        self.tls.as_ref()
    }

    /// The push server's options, when push is on.
    pub fn push(&self) -> Option<&crate::push::PushOptions> {
        self.push.as_ref()
    }

    /// Serves the ReST (and push) listener over TLS: HTTP/1.1 and HTTP/2 (ALPN), certificates
    /// reloaded when their files change (see [`crate::tls`]). The health listener stays plain.
    /// Default off.
    pub fn with_tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Writes one line per request at info level on the `bahamut::access` target: method,
    /// path template (ids left out, as `/namespaces/:id/services`; the path itself for routes
    /// that are not model routes), status, duration, response bytes and request id. Default
    /// off.
    pub fn with_access_log(mut self, on: bool) -> Self {
        self.access_log = on;
        self
    }

    /// Serves HTTP/2 without TLS (h2c with prior knowledge) beside HTTP/1.1 on a plain
    /// listener. Default off.
    pub fn with_h2c(mut self, on: bool) -> Self {
        self.h2c = on;
        self
    }

    /// Sets the ReST listen address.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets the time allowed to receive a request head.
    pub fn with_header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets the time allowed to receive a request body.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets how long a kept-alive connection may wait for its next request.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how long a model request's decoding and processor may take (0, the default,
    /// disables it); past it the request answers 503 `The request took too long to process`.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets the largest accepted body.
    pub fn with_max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Sets the most connections served at once.
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Sets the most connections from one client IP.
    pub fn with_max_connections_per_ip(mut self, connections: usize) -> Self {
        self.max_connections_per_ip = connections.max(1);
        self
    }

    /// Turns gzip compression on or off.
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Turns keep-alive on or off.
    pub fn with_keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Serves model routes under a prefix.
    pub fn with_api_prefix(mut self, prefix: &str) -> Self {
        self.api_prefix = prefix.trim_matches('/').to_string();
        self
    }

    /// Answers `GET /` with a custom handler.
    pub fn with_root_handler(mut self, handler: RouteHandler) -> Self {
        self.root_handler = Some(handler);
        self
    }

    /// Sets how long shutdown waits for in-flight requests.
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Serves a model manager as API version `version`.
    pub fn with_model(mut self, version: u32, manager: &'static dyn ModelManager) -> Self {
        self.model_managers.insert(version, manager);
        self
    }

    /// Turns read-only mode on, keeping some identities writable.
    pub fn with_read_only(mut self, on: bool, exclusions: &[Identity]) -> Self {
        self.read_only = on;
        self.read_only_exclusions = exclusions.iter().map(|i| i.name).collect();
        self
    }

    /// Loads stored objects for update and patch.
    pub fn with_retriever(mut self, retriever: Arc<dyn IdentifiableRetriever>) -> Self {
        self.retriever = Some(retriever);
        self
    }

    /// Starts a health server on this address (`None`: no health server, the default).
    pub fn with_health_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.health_listen = addr;
        self
    }

    /// Starts the profiling listener on this address (`None`: none, the default): CPU profiles
    /// as pprof protobuf and flamegraph SVG on Go's `/debug/pprof/profile?seconds=N` (see
    /// [`crate::profiling`]). Plain HTTP: bind it to a private address. Feature `profiling`.
    #[cfg(feature = "profiling")]
    pub fn with_profiling_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.profiling_listen = addr;
        self
    }

    /// Sets a custom health check.
    pub fn with_health_handler(mut self, handler: HealthHandler) -> Self {
        self.health_handler = Some(handler);
        self
    }

    /// Serves a custom health stat as JSON on the health listener's `/<name>` (Go's
    /// `OptHealthCustomStats`). The name must not be empty, start with `_`, contain `/` or be
    /// `metrics`: the server refuses to start otherwise ([`crate::ServerError::HealthStat`]).
    pub fn with_health_stat(mut self, name: &str, stat: HealthStat) -> Self {
        self.health_stats.insert(name.to_string(), stat);
        self
    }

    /// Records metrics into `metrics` and serves them on the health listener's `/metrics`
    /// (OpenMetrics text; see [`crate::metrics`]). Default: no metrics.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics, when on.
    pub fn metrics(&self) -> Option<&crate::metrics::Metrics> {
        self.metrics.as_ref()
    }

    /// Sets the service name, version and sub-versions.
    pub fn with_service_info(
        mut self,
        name: &str,
        version: Option<&str>,
        sub_versions: &[(&str, &str)],
    ) -> Self {
        self.service_name = name.to_string();
        self.service_version = version.map(str::to_string);
        self.sub_versions = sub_versions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Serves `document`, the model's OpenAPI document (regolithe's `rego gen openapi`, or
    /// `regolithe::build_openapi` at build time), on `GET /_meta/openapi`, kept to the
    /// operations that have a processor: the paths and methods of the others are left out, with
    /// the response links that name them.
    pub fn with_openapi(mut self, document: serde_json::Value) -> Self {
        self.openapi = Some(document);
        self
    }

    /// Sets the service name alone (`/_meta/name`, and the key of its version).
    pub fn with_service_name(mut self, name: &str) -> Self {
        self.service_name = name.to_string();
        self
    }

    /// Adds a request authenticator.
    pub fn with_authenticator(mut self, authenticator: Arc<dyn RequestAuthenticator>) -> Self {
        self.authenticators.push(authenticator);
        self
    }

    /// Adds a request authorizer.
    pub fn with_authorizer(mut self, authorizer: Arc<dyn RequestAuthorizer>) -> Self {
        self.authorizers.push(authorizer);
        self
    }

    /// Sets the auditer.
    pub fn with_auditer(mut self, auditer: Arc<dyn Auditer>) -> Self {
        self.auditer = Some(auditer);
        self
    }

    /// Sets the CORS policy.
    pub fn with_cors(mut self, policy: CorsPolicy) -> Self {
        self.cors = Some(policy);
        self
    }

    /// Limits all model requests.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Limits the requests on one identity, optionally only those matching `condition`.
    pub fn with_identity_rate_limit(
        mut self,
        identity: Identity,
        limit: RateLimit,
        condition: Option<RateLimitCondition>,
    ) -> Self {
        self.identity_rate_limits
            .insert(identity.name, IdentityRateLimit { limit, condition });
        self
    }

    /// Runs a hook once the server is ready.
    pub fn with_post_start_hook(mut self, hook: Hook) -> Self {
        self.post_start_hook = Some(hook);
        self
    }

    /// Runs a hook when shutdown starts.
    pub fn with_pre_stop_hook(mut self, hook: Hook) -> Self {
        self.pre_stop_hook = Some(hook);
        self
    }

    /// Turns panic recovery on or off.
    pub fn with_panic_recovery(mut self, on: bool) -> Self {
        self.recover_panics = on;
        self
    }

    /// Transforms the errors processors return (not those of the pipeline, such as 401 or
    /// 422) before they are answered.
    pub fn with_error_transformer(mut self, transformer: ErrorTransformer) -> Self {
        self.error_transformer = Some(transformer);
        self
    }

    /// Encodes the answers of `identity` with `marshaller`.
    pub fn with_marshaller(mut self, identity: Identity, marshaller: Marshaller) -> Self {
        self.marshallers.insert(identity.name, marshaller);
        self
    }

    /// Decodes the create and update bodies of `identity` with `unmarshaller`.
    pub fn with_unmarshaller(mut self, identity: Identity, unmarshaller: Unmarshaller) -> Self {
        self.unmarshallers.insert(identity.name, unmarshaller);
        self
    }

    /// Sends the events of completed writes to a publisher.
    pub fn with_event_publisher(mut self, publisher: Arc<dyn EventPublisher>) -> Self {
        self.event_publisher = Some(publisher);
        self
    }

    /// Turns the push server on. Unless an event publisher is set, the events of completed
    /// writes are published to its pub/sub (when `publish` is on).
    pub fn with_push(mut self, push: crate::push::PushOptions) -> Self {
        self.push = Some(push);
        self
    }
}
