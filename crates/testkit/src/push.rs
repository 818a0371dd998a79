//! A push client for tests: a websocket session on a server's push endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use elemental::{EncodingType, Event};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// An open push session.
pub struct PushClient {
    socket: WebSocketStream<TcpStream>,
    encoding: EncodingType,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Received {
    /// An event.
    Event(Event),
    /// A close frame (code and reason).
    Closed(u16, String),
    /// Nothing within the wait.
    Nothing,
}

impl PushClient {
    /// Opens `/events?{query}` (JSON unless the query asks for msgpack with `encoding=msgpack`).
    pub async fn connect(addr: SocketAddr, query: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let url = format!("ws://{addr}/events?{query}");
        // A 4 KiB read buffer: tungstenite zeroes the whole buffer before each read, and its
        // 128 KiB default made a thousand sessions spend most of their time in memset.
        let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
        let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        let encoding = if query.contains("msgpack") {
            EncodingType::Msgpack
        } else {
            EncodingType::Json
        };
        Ok(Self { socket, encoding })
    }

    /// Sends a push config (JSON text, or msgpack of the same JSON for msgpack sessions).
    pub async fn configure(&mut self, config: &str) {
        let message = match self.encoding {
            EncodingType::Json => Message::Text(config.to_string().into()),
            EncodingType::Msgpack => {
                let value: serde_json::Value =
                    serde_json::from_str(config).expect("push config JSON");
                let bytes = elemental::encode(EncodingType::Msgpack, &value).expect("msgpack");
                Message::Binary(Bytes::from(bytes))
            }
        };
        self.socket.send(message).await.expect("send push config");
    }

    /// The next event or close, waiting at most `wait`.
    pub async fn receive(&mut self, wait: Duration) -> Received {
        loop {
            let next = match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return Received::Nothing,
                Ok(next) => next,
            };
            match next {
                Some(Ok(Message::Text(text))) => {
                    let event = Event::decode(EncodingType::Json, text.as_bytes())
                        .unwrap_or_else(|e| panic!("not an event ({e}): {}", text.as_str()));
                    return Received::Event(event);
                }
                Some(Ok(Message::Binary(data))) => {
                    let event = Event::decode(EncodingType::Msgpack, &data)
                        .unwrap_or_else(|e| panic!("not a msgpack event ({e})"));
                    return Received::Event(event);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Received::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Received::Closed(1006, e.to_string()),
                None => return Received::Closed(1006, "connection closed".into()),
            }
        }
    }

    /// The next text frame as it came, not decoded (a load benchmark reads only what it
    /// measures); `None` on a close, an error or the end of the stream. Other frames are skipped.
    pub async fn next_text(&mut self) -> Option<Utf8Bytes> {
        loop {
            match self.socket.next().await? {
                Ok(Message::Text(text)) => return Some(text),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next event; panics on a close or after `wait`.
    pub async fn event(&mut self, wait: Duration) -> Event {
        match self.receive(wait).await {
            Received::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Closes the session.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
