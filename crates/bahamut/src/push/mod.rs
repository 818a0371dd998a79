//! The push server: websocket sessions on `/events` receiving the change events they ask for.
//!
//! Every write the dispatch pipeline completes publishes its events to the [`PubSub`]; what the
//! pub/sub delivers goes to the [`Hub`], which numbers each event, keeps a bounded backlog for
//! resumes (`since=<sequence>`), and hands it to every session through a bounded queue.
//! A session only receives events of its namespace (and below with `recursive=true` or
//! `mode=all`), of the identities and types its push config asks for, matching its filters,
//! and that the application's [`PushDispatchHandler`] lets through.

mod frames;
mod hub;
#[cfg(feature = "nats")]
mod nats;
mod session;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use elemental::{Error, Event, PushConfig};

use crate::BoxFuture;
pub use hub::{Hub, Published, Subscription};
#[cfg(feature = "nats")]
pub use nats::NatsPubSub;
pub(crate) use session::{PushRuntime, upgrade};

/// What is known of a push session: for authenticators and dispatch handlers.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The namespace of the session (`/` by default).
    pub namespace: String,
    /// True when it receives the namespace's descendants too.
    pub recursive: bool,
    /// The token (`token` query parameter, or the `Authorization` header).
    pub token: Option<String>,
    /// The query parameters of the upgrade request.
    pub parameters: Vec<(String, String)>,
    /// The headers of the upgrade request.
    pub headers: http::HeaderMap,
    /// The client's address.
    pub remote: Option<std::net::SocketAddr>,
    /// The verified certificate the client presented on a mutual-TLS connection, if any.
    pub client_certificate: Option<std::sync::Arc<elemental::ClientCertificate>>,
}

/// Decides whether a push session may open (runs before the upgrade; a refusal is a 401).
pub trait SessionAuthenticator: Send + Sync {
    /// `Ok(true)` to let the session open, `Ok(false)` to refuse it.
    fn authenticate_session<'a>(
        &'a self,
        session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<bool, Error>>;
}

/// The application's say on push sessions.
pub trait PushDispatchHandler: Send + Sync {
    /// Runs before the upgrade: `false` refuses the session with a 403.
    fn on_push_session_init<'a>(&'a self, _session: &'a SessionInfo) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }
    /// The session is open.
    fn on_push_session_start(&self, _session: &SessionInfo) {}
    /// The session is closed.
    fn on_push_session_stop(&self, _session: &SessionInfo) {}
    /// Identities related to an event's identity: an event passes a push config that asks
    /// for one of them (as the reference's related event identities).
    fn related_identities(&self, _identity: &str) -> Vec<String> {
        Vec::new()
    }
    /// A summary of the event, computed once for all sessions and given to `should_dispatch`.
    fn summarize_event(&self, _event: &Published) -> Option<serde_json::Value> {
        None
    }
    /// Whether this event goes to this session (after namespace scoping and the push config,
    /// which the handler cannot override).
    fn should_dispatch(
        &self,
        _session: &SessionInfo,
        _event: &Published,
        _summary: Option<&serde_json::Value>,
        _config: Option<&PushConfig>,
    ) -> bool {
        true
    }
}

/// Decides which events are published at all.
pub trait PushPublishHandler: Send + Sync {
    /// `false` drops the event before it reaches the pub/sub.
    fn should_publish(&self, event: &Event) -> bool;
}

/// Called with every batch of events the pub/sub delivers.
pub type Deliver = Arc<dyn Fn(Vec<Event>) + Send + Sync>;

/// Carries events between the servers of a cluster.
pub trait PubSub: Send + Sync {
    /// Publishes events to every server of the cluster, this one included.
    fn publish(&self, events: Vec<Event>);
    /// True when the events delivered already carry their cluster-wide `sequence` (the hub
    /// then keeps it); false when the hub numbers them.
    fn numbers_events(&self) -> bool {
        false
    }
    /// Starts handing what is published to `deliver`.
    fn connect(&self, deliver: Deliver) -> BoxFuture<'_, Result<(), Error>>;
}

/// The in-process pub/sub (the default): events go straight to this server's sessions.
#[derive(Default)]
pub struct LocalPubSub {
    deliver: OnceLock<Deliver>,
}

impl PubSub for LocalPubSub {
    fn publish(&self, events: Vec<Event>) {
        match self.deliver.get() {
            Some(deliver) => deliver(events),
            None => tracing::debug!("push not started: events dropped"),
        }
    }

    fn connect(&self, deliver: Deliver) -> BoxFuture<'_, Result<(), Error>> {
        let _ = self.deliver.set(deliver);
        Box::pin(async { Ok(()) })
    }
}

/// Options of the push server, with their defaults.
#[derive(Clone)]
pub struct PushOptions {
    /// The websocket endpoint. Default `/events`.
    pub endpoint: String,
    /// Serve sessions (dispatch). Default true.
    pub dispatch: bool,
    /// Publish the events of completed writes. Default true.
    pub publish: bool,
    /// The pub/sub. Default in-process.
    pub pubsub: Arc<dyn PubSub>,
    /// Checks sessions before the upgrade (all must accept). Default none.
    pub authenticators: Vec<Arc<dyn SessionAuthenticator>>,
    /// The application's dispatch handler. Default none.
    pub dispatch_handler: Option<Arc<dyn PushDispatchHandler>>,
    /// The application's publish handler. Default none (everything is published).
    pub publish_handler: Option<Arc<dyn PushPublishHandler>>,
    /// Events kept for resumes. Default 10,000.
    pub backlog_size: usize,
    /// Events queued per session before it is cut off. Default 1,024.
    pub session_queue_size: usize,
    /// Keep-alive ping interval. Default 15 s.
    pub ping_interval: Duration,
    /// A session that answers no ping for this long is closed. Default 30 s.
    pub pong_timeout: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            endpoint: "/events".to_string(),
            dispatch: true,
            publish: true,
            pubsub: Arc::new(LocalPubSub::default()),
            authenticators: Vec::new(),
            dispatch_handler: None,
            publish_handler: None,
            backlog_size: 10_000,
            session_queue_size: 1024,
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(30),
        }
    }
}

/// Publishes events from application code (`Server::pusher`), like the events of writes.
#[derive(Clone)]
pub struct Pusher {
    pubsub: Arc<dyn PubSub>,
    handler: Option<Arc<dyn PushPublishHandler>>,
    metrics: Option<crate::metrics::Metrics>,
}

impl Pusher {
    pub(crate) fn new(options: &PushOptions, metrics: Option<crate::metrics::Metrics>) -> Self {
        Self {
            pubsub: options.pubsub.clone(),
            handler: options.publish_handler.clone(),
            metrics,
        }
    }

    /// Publishes events (those the publish handler lets through) to every session of the
    /// cluster that wants them.
    pub fn push(&self, mut events: Vec<Event>) {
        let given = events.len();
        if let Some(handler) = &self.handler {
            events.retain(|e| handler.should_publish(e));
        }
        if let Some(metrics) = &self.metrics {
            let refused = given - events.len();
            if refused > 0 {
                metrics.push_dropped(crate::metrics::Dropped::PublishHandler, refused);
            }
            metrics.push_published(events.len());
        }
        if !events.is_empty() {
            self.pubsub.publish(events);
        }
    }
}

impl crate::EventPublisher for Pusher {
    fn publish(&self, events: Vec<Event>) {
        self.push(events);
    }
}
