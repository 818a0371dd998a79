//! The push subscriber: a websocket session on the server's `/events` that reconnects by
//! itself and resumes with `since=<last sequence>`, so that events are neither lost nor
//! repeated across disconnections; events and status changes come out of two streams.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use elemental::{EncodingType, Event, EventType, PushConfig};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Bytes, Message};

use crate::{Client, RetryPolicy, wire};

/// Events the subscriber holds for a consumer that reads slower than they come; past it the
/// subscriber stops reading, the server cuts the session (1013) and the subscriber resumes.
const EVENT_QUEUE: usize = 1024;
/// Status changes kept for a consumer that does not read them (older ones are dropped).
const STATUS_QUEUE: usize = 64;

/// What happened to the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The websocket is open (and the push config, if any, sent).
    Connected,
    /// The session ended; the subscriber reconnects unless it is closed.
    Disconnected {
        /// The close code (1006 when the connection broke without one).
        code: u16,
        /// Why, as the server or the transport said.
        reason: String,
    },
    /// Waiting before the next connection attempt.
    Reconnecting {
        /// The attempt number (from 1).
        attempt: u32,
        /// The wait before it.
        wait: Duration,
    },
    /// The server no longer keeps the events after `since`: some were missed, reload the
    /// objects you show; live events follow.
    ResyncRequired {
        /// The last sequence received before the gap.
        since: u64,
        /// The server's message.
        description: String,
    },
    /// The server refused the push config (an error event): the session receives nothing until
    /// a valid config is set.
    ConfigRefused {
        /// The server's message.
        description: String,
    },
    /// The subscriber stopped for good: closed by the program, or refused by the server (a bad
    /// namespace, forbidden).
    Closed {
        /// Why.
        reason: String,
    },
}

/// The settings of a subscriber (from [`Client::subscriber`]).
pub struct SubscriberBuilder {
    client: Client,
    namespace: String,
    recursive: bool,
    encoding: EncodingType,
    config: Option<PushConfig>,
    since: Option<u64>,
    reconnect: RetryPolicy,
}

impl Client {
    /// A push subscriber on the client's server (same address, token and TLS settings), in the
    /// namespace `/` and the client's encoding until told otherwise.
    pub fn subscriber(&self) -> SubscriberBuilder {
        SubscriberBuilder {
            client: self.clone(),
            namespace: "/".into(),
            recursive: false,
            encoding: self.encoding(),
            config: None,
            since: None,
            reconnect: RetryPolicy {
                max_attempts: u32::MAX,
                first_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
            },
        }
    }
}

impl SubscriberBuilder {
    /// The session's namespace (default `/`).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Also the namespace's descendants (`mode=all`; default off).
    pub fn with_recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }

    /// The encoding of events (default: the client's).
    pub fn with_encoding(mut self, encoding: EncodingType) -> Self {
        self.encoding = encoding;
        self
    }

    /// The push config sent when the session opens (default: none, every event).
    pub fn with_config(mut self, config: PushConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Start after this sequence (the last one a previous run processed).
    pub fn with_since(mut self, since: u64) -> Self {
        self.since = Some(since);
        self
    }

    /// The waits between connection attempts (default: 200 ms doubling up to 10 s, without
    /// end); `max_attempts` bounds the attempts in a row that fail.
    pub fn with_reconnect(mut self, policy: RetryPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Starts the session on the current tokio runtime.
    pub fn start(self) -> Subscriber {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (statuses_tx, statuses) = mpsc::channel(STATUS_QUEUE);
        let (config_tx, config_rx) = watch::channel(self.config.clone());
        let last = Arc::new(AtomicU64::new(self.since.unwrap_or(0)));
        let session = Session {
            settings: self,
            last: last.clone(),
            events: events_tx,
            statuses: statuses_tx,
            config: config_rx,
        };
        let task = tokio::spawn(session.run());
        Subscriber {
            events: Events(events),
            statuses: Statuses(statuses),
            config: config_tx,
            last,
            task,
        }
    }
}

/// A running push session. Dropping it ends the session.
pub struct Subscriber {
    events: Events,
    statuses: Statuses,
    config: watch::Sender<Option<PushConfig>>,
    last: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// The next event, in sequence order, each once; `None` once the subscriber stopped.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.0.recv().await
    }

    /// The next status change; `None` once the subscriber stopped.
    pub async fn next_status(&mut self) -> Option<Status> {
        self.statuses.0.recv().await
    }

    /// Both streams at once, to wait on either (in a `select!`).
    pub fn streams(&mut self) -> (&mut Events, &mut Statuses) {
        (&mut self.events, &mut self.statuses)
    }

    /// Sends a new push config now, and on every reconnection after.
    pub fn set_config(&self, config: PushConfig) {
        self.config.send_replace(Some(config));
    }

    /// The sequence of the last event delivered (0 before the first): keep it to resume a later
    /// run with [`SubscriberBuilder::with_since`].
    pub fn last_sequence(&self) -> u64 {
        self.last.load(Ordering::SeqCst)
    }

    /// Ends the session: the connection is closed and nothing more is received.
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The stream of events of a [`Subscriber`].
pub struct Events(mpsc::Receiver<Event>);

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}

/// The stream of status changes of a [`Subscriber`].
pub struct Statuses(mpsc::Receiver<Status>);

impl Stream for Statuses {
    type Item = Status;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Status>> {
        self.0.poll_recv(cx)
    }
}

/// The task behind a [`Subscriber`].
struct Session {
    settings: SubscriberBuilder,
    last: Arc<AtomicU64>,
    events: mpsc::Sender<Event>,
    statuses: mpsc::Sender<Status>,
    config: watch::Receiver<Option<PushConfig>>,
}

/// How one connection ended.
enum Ended {
    /// Reconnect (after a wait when `failed`, that is when no session was opened).
    Reconnect { failed: bool },
    /// Stop for good.
    Stop(String),
}

impl Session {
    async fn run(mut self) {
        let mut failures = 0;
        loop {
            let ended = match self.connect().await {
                Ok(socket) => {
                    failures = 0;
                    self.serve(socket).await
                }
                Err(ended) => ended,
            };
            match ended {
                Ended::Stop(reason) => {
                    self.status(Status::Closed { reason });
                    return;
                }
                Ended::Reconnect { failed } => {
                    if self.events.is_closed() {
                        return;
                    }
                    if failed {
                        failures += 1;
                    }
                    if failures >= self.settings.reconnect.max_attempts {
                        self.status(Status::Closed {
                            reason: format!("{failures} connection attempts in a row failed"),
                        });
                        return;
                    }
                    let wait = self.settings.reconnect.backoff(failures.max(1), None);
                    self.status(Status::Reconnecting {
                        attempt: failures + 1,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn status(&self, status: Status) {
        if self.statuses.try_send(status).is_err() {
            tracing::debug!("push subscriber: a status change was dropped (nobody reads them)");
        }
    }

    /// The session's URL: namespace, recursion, encoding, error events, and `since`.
    fn url(&self) -> String {
        let api = self.settings.client.api_parts();
        let scheme = if api.scheme == "https" { "wss" } else { "ws" };
        let mut url = format!(
            "{scheme}://{}{}/events?namespace=",
            api.authority, api.prefix
        );
        wire::push_encoded(&mut url, &self.settings.namespace);
        if self.settings.recursive {
            url.push_str("&mode=all");
        }
        if self.settings.encoding == EncodingType::Msgpack {
            url.push_str("&encoding=msgpack");
        }
        url.push_str("&enableErrors=true");
        let last = self.last.load(Ordering::SeqCst);
        if last > 0 {
            url.push_str(&format!("&since={last}"));
        }
        url
    }

    async fn connect(&self) -> Result<WebSocketStream<Box<dyn ByteStream>>, Ended> {
        let retry = |reason: String| {
            self.status(Status::Disconnected { code: 1006, reason });
            Ended::Reconnect { failed: true }
        };
        let mut request = self
            .url()
            .into_client_request()
            .map_err(|e| Ended::Stop(format!("invalid session address: {e}")))?;
        if let Some(token) = self.settings.client.token() {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| Ended::Stop("the token is not a valid header value".into()))?;
            request.headers_mut().insert("authorization", value);
        }
        let api = self.settings.client.api_parts();
        let tcp = TcpStream::connect((api.host.as_str(), api.port))
            .await
            .map_err(|e| retry(format!("cannot connect to {}: {e}", api.authority)))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn ByteStream> = if api.scheme == "https" {
            let config = self
                .settings
                .client
                .tls_settings()
                .client_config(&[b"http/1.1"])
                .map_err(|e| Ended::Stop(e.to_string()))?;
            let name = rustls::pki_types::ServerName::try_from(api.host.clone())
                .map_err(|e| Ended::Stop(format!("server name '{}': {e}", api.host)))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| retry(format!("TLS handshake: {e}")))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((socket, _)) => Ok(socket),
            Err(tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response.body().as_deref().unwrap_or_default();
                let description = elemental::decode::<elemental::Errors>(EncodingType::Json, body)
                    .ok()
                    .and_then(|e| e.iter().next().map(|e| e.description.clone()))
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
                let reason = format!("the server refused the session: {status} {description}");
                match status {
                    // The same request would be refused again.
                    400 | 403 | 404 => Err(Ended::Stop(reason)),
                    _ => Err(retry(reason)),
                }
            }
            Err(e) => Err(retry(format!("websocket handshake: {e}"))),
        }
    }

    /// Reads events until the session ends; sends the push config at start and on change.
    async fn serve(&mut self, mut socket: WebSocketStream<Box<dyn ByteStream>>) -> Ended {
        let config = self.config.borrow_and_update().clone();
        if let Some(config) = config {
            if let Err(e) = send_config(&mut socket, &config, self.settings.encoding).await {
                return self.disconnected(1006, e);
            }
        }
        self.status(Status::Connected);
        loop {
            tokio::select! {
                changed = self.config.changed() => {
                    if changed.is_err() {
                        let _ = socket.close(None).await;
                        return Ended::Stop("the subscriber was dropped".into());
                    }
                    let config = self.config.borrow_and_update().clone();
                    if let Some(config) = config {
                        if let Err(e) = send_config(&mut socket, &config, self.settings.encoding).await {
                            return self.disconnected(1006, e);
                        }
                    }
                }
                frame = socket.next() => {
                    if let Some(ended) = self.frame(frame).await {
                        return ended;
                    }
                }
            }
        }
    }

    /// Handles one frame; `Some` when the session is over.
    async fn frame(&mut self, frame: Option<Result<Message, tungstenite::Error>>) -> Option<Ended> {
        let (wire, data) = match frame {
            None => return Some(self.disconnected(1006, "connection closed".into())),
            Some(Err(e)) => return Some(self.disconnected(1006, e.to_string())),
            Some(Ok(Message::Text(text))) => (EncodingType::Json, Bytes::from(text)),
            Some(Ok(Message::Binary(data))) => (EncodingType::Msgpack, data),
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return Some(self.closed(code, reason));
            }
            Some(Ok(_)) => return None,
        };
        let event = match Event::decode(wire, &data) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e.description, "push subscriber: a frame is not an event");
                return None;
            }
        };
        if event.event_type == EventType::Error {
            self.error_event(&event);
            return None;
        }
        let last = self.last.load(Ordering::SeqCst);
        if event.sequence != 0 && event.sequence <= last {
            return None; // Already delivered before a reconnection.
        }
        let sequence = event.sequence;
        if self.events.send(event).await.is_err() {
            return Some(Ended::Stop("the subscriber was dropped".into()));
        }
        if sequence != 0 {
            self.last.store(sequence, Ordering::SeqCst);
        }
        None
    }

    fn error_event(&self, event: &Event) {
        let error: elemental::Error = match event.decode_entity() {
            Ok(error) => error,
            Err(e) => {
                tracing::warn!(error = %e.description, "push subscriber: an unreadable error event");
                return;
            }
        };
        if error.code == 410 {
            self.status(Status::ResyncRequired {
                since: self.last.load(Ordering::SeqCst),
                description: error.description,
            });
        } else {
            self.status(Status::ConfigRefused {
                description: error.description,
            });
        }
    }

    fn disconnected(&self, code: u16, reason: String) -> Ended {
        self.status(Status::Disconnected { code, reason });
        Ended::Reconnect { failed: false }
    }

    /// A close from the server: 1003 (a config it cannot read) stops, anything else (1001
    /// shutdown or no pong, 1013 too slow, ...) reconnects with `since`.
    fn closed(&self, code: u16, reason: String) -> Ended {
        self.status(Status::Disconnected {
            code,
            reason: reason.clone(),
        });
        match code {
            1003 | 1008 => Ended::Stop(format!("closed by the server: {code} {reason}")),
            _ => Ended::Reconnect { failed: false },
        }
    }
}

async fn send_config(
    socket: &mut WebSocketStream<Box<dyn ByteStream>>,
    config: &PushConfig,
    encoding: EncodingType,
) -> Result<(), String> {
    let bytes = elemental::encode(encoding, config).map_err(|e| e.description)?;
    let message = match encoding {
        EncodingType::Json => Message::Text(String::from_utf8_lossy(&bytes).into_owned().into()),
        EncodingType::Msgpack => Message::Binary(Bytes::from(bytes)),
    };
    socket
        .send(message)
        .await
        .map_err(|e| format!("sending the push config: {e}"))
}

/// A byte stream a session runs on: TCP, or TLS over TCP.
trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}
