//! One push session: the checks before the upgrade (401, 403), then the websocket loop: push
//! configs in, events out, keep-alive pings, and a clear close when the session falls behind
//! or the server stops.

use std::sync::Arc;
use std::time::Instant;

use elemental::namespace::{is_namespace_in_subtree, validate_namespace};
use elemental::{EncodingType, Error, Errors, Event, PushConfig};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use super::frames::{OpcodeRewriter, TextAsBinary};
use super::hub::{Subscription, frame};
use super::{Hub, Published, PushOptions, SessionInfo};
use crate::HttpResponse;
use crate::connection::Peer;
use crate::response::{Finish, bare, error_response};

/// What the push server shares with its sessions.
pub(crate) struct PushRuntime {
    pub options: PushOptions,
    pub hub: Arc<Hub>,
    pub stop: watch::Receiver<bool>,
    pub metrics: Option<crate::metrics::Metrics>,
}

/// A session's settings, from the upgrade request.
struct Settings {
    info: SessionInfo,
    encoding: EncodingType,
    errors_enabled: bool,
    since: Option<u64>,
}

fn error(title: &str, description: String, code: u16) -> Error {
    Error::new(title, description, "bahamut", code)
}

fn settings(request: &http::Request<Incoming>, peer: &Peer) -> Result<Settings, Error> {
    let query = elemental::parse_query(request.uri().query().unwrap_or_default());
    let first = |name: &str| query.get(name).and_then(|v| v.first()).map(String::as_str);
    let headers = request.headers();
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let namespace = first("namespace")
        .or_else(|| header_text("X-Namespace"))
        .filter(|ns| !ns.is_empty())
        .unwrap_or("/")
        .to_string();
    validate_namespace(&namespace)?;
    let encoding_name = first("encoding")
        .or_else(|| first("accept"))
        .or_else(|| header_text("Accept"))
        .unwrap_or_default();
    let encoding = if encoding_name.contains("msgpack") {
        EncodingType::Msgpack
    } else {
        EncodingType::Json
    };
    let since = first("since")
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                error(
                    "Bad Request",
                    format!("invalid since '{s}': it must be an event sequence number"),
                    400,
                )
            })
        })
        .transpose()?;
    let token = first("token").map(str::to_string).or_else(|| {
        header_text("Authorization").map(|a| a.strip_prefix("Bearer ").unwrap_or(a).to_string())
    });
    Ok(Settings {
        info: SessionInfo {
            namespace,
            recursive: first("mode") == Some("all") || first("recursive") == Some("true"),
            token,
            parameters: query
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
                .collect(),
            headers: owned_headers(headers),
            remote: Some(peer.remote),
            client_certificate: peer.certificate.clone(),
        },
        encoding,
        errors_enabled: first("enableErrors") == Some("true"),
        since,
    })
}

/// A copy of the upgrade request's headers that owns its bytes. hyper's header values are slices
/// of the connection's 8 KiB read buffer: a plain clone, kept for the life of the session, kept
/// that whole buffer alive with it.
fn owned_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut owned = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name.clone(), copy);
    }
    owned
}

fn refuse(
    error: Error,
    encoding: EncodingType,
    headers: &http::HeaderMap,
    request_id: &str,
) -> HttpResponse {
    let finish = Finish::new(headers, None, None);
    error_response(
        &Errors::from(error).with_trace(request_id),
        encoding,
        &finish,
    )
}

/// Answers an upgrade request on the push endpoint: checks, then 101 and the session.
pub(crate) async fn upgrade(
    push: Arc<PushRuntime>,
    mut request: http::Request<Incoming>,
    peer: &Peer,
    request_id: &str,
) -> HttpResponse {
    let headers = request.headers().clone();
    let key = match (
        headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()),
        headers.get(header::SEC_WEBSOCKET_KEY),
    ) {
        (Some(upgrade), Some(key)) if upgrade.eq_ignore_ascii_case("websocket") => key.clone(),
        _ => {
            let e = error(
                "Bad Request",
                "the push endpoint expects a websocket upgrade".into(),
                400,
            );
            return refuse(e, EncodingType::Json, &headers, request_id);
        }
    };
    let settings = match settings(&request, peer) {
        Ok(settings) => settings,
        Err(e) => return refuse(e, EncodingType::Json, &headers, request_id),
    };
    for authenticator in &push.options.authenticators {
        match authenticator.authenticate_session(&settings.info).await {
            Ok(true) => {}
            Ok(false) => {
                let e = error(
                    "Unauthorized",
                    "You are not authorized to access this resource.".into(),
                    401,
                );
                return refuse(e, settings.encoding, &headers, request_id);
            }
            Err(e) => return refuse(e, settings.encoding, &headers, request_id),
        }
    }
    if let Some(handler) = &push.options.dispatch_handler {
        if !handler.on_push_session_init(&settings.info).await {
            let e = error(
                "Forbidden",
                "You are not allowed to access this resource.".into(),
                403,
            );
            return refuse(e, settings.encoding, &headers, request_id);
        }
    }
    let accept = derive_accept_key(key.as_bytes());
    // Subscribed before the 101 is sent: an event published once the client holds its
    // answer reaches the session.
    let subscription = push.hub.subscribe(settings.since);
    // Only the upgrade moves into the session's task: the request (its headers, its URI) is
    // dropped here rather than held for the life of the session.
    let upgrading = hyper::upgrade::on(&mut request);
    drop(request);
    // The socket and the settings live on the heap: an async function keeps a copy of each
    // argument in its state, and the session's task holds that state for as long as it lives.
    let settings = Box::new(settings);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                // The Go client writes msgpack configs in TEXT frames: read them as BINARY.
                let msgpack = settings.encoding == EncodingType::Msgpack;
                let socket = Box::new(
                    WebSocketStream::from_raw_socket(
                        TextAsBinary::new(
                            TokioIo::new(upgraded),
                            msgpack.then(OpcodeRewriter::new),
                        ),
                        Role::Server,
                        Some(socket_config()),
                    )
                    .await,
                );
                run(push, socket, settings, subscription).await;
            }
            Err(e) => {
                push.hub.unsubscribe(subscription.id);
                tracing::debug!(error = %e, "push upgrade failed");
            }
        }
    });
    let mut response = bare(StatusCode::SWITCHING_PROTOCOLS);
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// How long a closing session waits for the client's close reply.
const CLOSE_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The most events written in one flush by a session catching up.
const BATCH: usize = 64;

/// Small buffers (an idle session costs little), and push configs of at most 1 MiB. A client
/// sends only configs, pings and its close, so a 1 KiB read buffer is plenty (a larger frame
/// grows it while it is read). Frames are buffered up to 16 KiB between flushes, so that a
/// batch of queued events leaves in few writes (the buffer is allocated by the first event,
/// not by an idle session).
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(1024 * 1024))
        .max_frame_size(Some(1024 * 1024))
}

type Socket = WebSocketStream<TextAsBinary<TokioIo<hyper::upgrade::Upgraded>>>;

/// Why a session ends.
enum End {
    /// The client left.
    Left,
    /// The client closed: its close is echoed.
    Echo(Option<CloseFrame>),
    /// Close with this code and reason.
    Close(CloseCode, String),
}

/// A frame that cannot be read ends the session with the close code of its fault, logged with
/// the session's namespace (never a silent drop).
fn unreadable(settings: &Settings, e: &tokio_tungstenite::tungstenite::Error) -> End {
    use tokio_tungstenite::tungstenite::Error;
    let (code, reason) = match e {
        Error::Utf8(_) => (
            CloseCode::Invalid,
            "invalid UTF-8 in a text frame".to_string(),
        ),
        Error::Capacity(e) => (CloseCode::Size, format!("frame too large: {e}")),
        Error::Protocol(e) => (CloseCode::Protocol, format!("protocol error: {e}")),
        Error::ConnectionClosed | Error::AlreadyClosed | Error::Io(_) => {
            tracing::debug!(namespace = %settings.info.namespace, error = %e, "push session dropped");
            return End::Left;
        }
        other => (CloseCode::Protocol, other.to_string()),
    };
    tracing::info!(namespace = %settings.info.namespace, %reason, "push session closed: unreadable frame");
    End::Close(code, reason)
}

/// What a session delivers, set by the client's push configs.
enum Configured {
    /// No config yet: everything in the session's scope.
    Everything,
    /// The last config, valid.
    Config(PushConfig),
    /// The last config was refused: nothing until a valid one arrives (as Go bahamut).
    Refused,
}

struct Session {
    settings: Box<Settings>,
    push: Arc<PushRuntime>,
    configured: Configured,
    last_sent: u64,
}

impl Session {
    fn wants(&self, published: &Published) -> bool {
        let info = &self.settings.info;
        let in_scope = if info.recursive {
            is_namespace_in_subtree(&info.namespace, &published.namespace)
        } else {
            info.namespace == published.namespace
        };
        if !in_scope {
            return false;
        }
        let event = &published.event;
        let handler = self.push.options.dispatch_handler.as_ref();
        let config = match &self.configured {
            Configured::Refused => return false,
            Configured::Everything => None,
            Configured::Config(config) => Some(config),
        };
        let configured = config.is_none_or(|c| {
            if c.accepts(&event.identity, event.event_type, published.document()) {
                return true;
            }
            // An event of an identity related to one the config asks for passes too.
            handler.is_some_and(|h| {
                h.related_identities(&event.identity)
                    .iter()
                    .any(|related| !c.is_filtered_out(related, event.event_type))
            })
        });
        configured
            && handler.is_none_or(|h| {
                let summary = published.summary(|p| h.summarize_event(p));
                h.should_dispatch(info, published, summary, config)
            })
    }

    /// Queues an event's frame on the socket (written once the write buffer fills or on the
    /// next flush).
    async fn feed(&mut self, socket: &mut Socket, published: &Published) -> Result<(), End> {
        self.last_sent = published.event.sequence;
        if !self.wants(published) {
            return Ok(());
        }
        let Some(message) = published.frame(self.settings.encoding) else {
            return Ok(());
        };
        socket.feed(message).await.map_err(|_| End::Left)?;
        if let Some(metrics) = &self.push.metrics {
            metrics.push_delivered();
        }
        Ok(())
    }

    /// Sends `first` and the events already queued behind it (at most [`BATCH`]), then
    /// flushes once: a session that fell behind catches up in a few writes instead of one
    /// system call per event.
    async fn send_queued(
        &mut self,
        socket: &mut Socket,
        first: Arc<Published>,
        queue: &mut tokio::sync::mpsc::Receiver<Arc<Published>>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut fed = 0;
        while let Some(published) = next {
            self.feed(socket, &published).await?;
            fed += 1;
            next = match fed < BATCH {
                true => queue.try_recv().ok(),
                false => None,
            };
        }
        socket.flush().await.map_err(|_| End::Left)
    }

    async fn send_error(&mut self, socket: &mut Socket, e: &Error) -> Result<(), End> {
        let wire = Event::error(e, self.settings.encoding)
            .and_then(|ev| ev.encode(self.settings.encoding));
        match wire.ok().and_then(|w| frame(self.settings.encoding, w)) {
            Some(message) => socket.send(message).await.map_err(|_| End::Left),
            None => Ok(()),
        }
    }

    /// A push config from the client: applied, or an error event / close 1003.
    async fn configure(&mut self, socket: &mut Socket, data: &[u8]) -> Result<(), End> {
        let parsed = elemental::decode::<PushConfig>(self.settings.encoding, data)
            .map_err(|e| {
                error(
                    "Bad request",
                    format!("unable to decode push config: {}", e.description),
                    400,
                )
            })
            .and_then(|mut config| config.parse_identity_filters().map(|()| config));
        match parsed {
            Ok(config) => {
                self.configured = Configured::Config(config);
                Ok(())
            }
            Err(e) => {
                tracing::info!(
                    namespace = %self.settings.info.namespace,
                    reason = %e.description,
                    "push config refused"
                );
                self.configured = Configured::Refused;
                if self.settings.errors_enabled {
                    self.send_error(socket, &e).await
                } else {
                    Err(End::Close(CloseCode::Unsupported, e.description))
                }
            }
        }
    }
}

fn close_reason(reason: String) -> Utf8Bytes {
    // A close reason holds at most 123 bytes.
    let mut reason = reason;
    while reason.len() > 123 {
        reason.pop();
    }
    reason.into()
}

async fn run(
    push: Arc<PushRuntime>,
    mut socket: Box<Socket>,
    settings: Box<Settings>,
    subscription: Subscription,
) {
    let socket: &mut Socket = &mut socket;
    if let Some(handler) = &push.options.dispatch_handler {
        handler.on_push_session_start(&settings.info);
    }
    let since = settings.since;
    let id = subscription.id;
    let mut session = Session {
        settings,
        push: push.clone(),
        configured: Configured::Everything,
        last_sent: since.unwrap_or(0),
    };
    let end = serve(&mut session, socket, subscription).await;
    push.hub.unsubscribe(id);
    if let End::Echo(frame) = end {
        // The websocket layer queued the echo of the client's close: write it out.
        let echo = async {
            let _ = socket.flush().await;
            let _ = socket.close(frame).await;
        };
        let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, echo).await;
    } else if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: close_reason(reason),
        };
        if socket.close(Some(frame)).await.is_ok() {
            // Wait (briefly) for the client's close reply, so that it reads the reason.
            let reply = async {
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, reply).await;
        }
    }
    if let Some(handler) = &push.options.dispatch_handler {
        handler.on_push_session_stop(&session.settings.info);
    }
}

async fn serve(
    session: &mut Session,
    socket: &mut Socket,
    mut subscription: super::Subscription,
) -> End {
    if subscription.resync {
        let e = error(
            "Resync Required",
            format!(
                "the events after sequence {} are no longer kept: reload the objects; live events follow",
                session.last_sent
            ),
            410,
        );
        if let Err(end) = session.send_error(socket, &e).await {
            return end;
        }
    }
    for published in std::mem::take(&mut subscription.replay) {
        if let Err(end) = session.feed(socket, &published).await {
            return end;
        }
    }
    if socket.flush().await.is_err() {
        return End::Left;
    }
    let options = session.push.options.clone();
    let mut stop = session.push.stop.clone();
    // One wait for the whole session: a wait made anew at each turn of the loop would join
    // and leave the stop signal's list of waiters (shared by every session) at each event.
    let mut stopped = std::pin::pin!(stopping(&mut stop));
    let mut ping = tokio::time::interval(options.ping_interval);
    ping.tick().await;
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            incoming = socket.next() => {
                last_seen = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Err(end) = session.configure(socket, text.as_bytes()).await {
                            return end;
                        }
                    }
                    Some(Ok(Message::Binary(data))) => {
                        if let Err(end) = session.configure(socket, &data).await {
                            return end;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => return End::Echo(frame),
                    None => return End::Left,
                    Some(Err(e)) => return unreadable(&session.settings, &e),
                    Some(Ok(_)) => {}
                }
            }
            published = subscription.queue.recv() => match published {
                Some(published) => {
                    let queue = &mut subscription.queue;
                    if let Err(end) = session.send_queued(socket, published, queue).await {
                        return end;
                    }
                }
                None if subscription.cut_off.load(std::sync::atomic::Ordering::Acquire) => {
                    return End::Close(
                        CloseCode::Again,
                        format!("too slow: events were lost; resume with since={}", session.last_sent),
                    );
                }
                None => return End::Close(CloseCode::Away, "server shutting down".into()),
            },
            _ = ping.tick() => {
                if last_seen.elapsed() > options.pong_timeout {
                    return End::Close(CloseCode::Away, "no answer to pings".into());
                }
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return End::Left;
                }
            }
            () = &mut stopped => {
                return End::Close(CloseCode::Away, "server shutting down".into());
            }
        }
    }
}

/// Completes when the server stops.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await.is_ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_headers_keep_every_value_and_its_sensitivity() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, secret);
        let owned = owned_headers(&headers);
        let tags: Vec<&str> = owned
            .get_all("x-tag")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(tags, ["a", "b"]);
        let authorization = owned.get(header::AUTHORIZATION);
        assert_eq!(authorization.map(|v| v.as_bytes()), Some(&b"Bearer t"[..]));
        assert_eq!(authorization.map(HeaderValue::is_sensitive), Some(true));
        assert_eq!(owned.len(), 3);
    }
}
