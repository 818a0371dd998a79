//! The body of every response the server writes: bytes held in memory, or a stream that is
//! sent as it is produced (chunked), so that a processor can answer with more data than it
//! wants to hold.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{Full, StreamBody};
use hyper::body::{Frame, SizeHint};

use crate::BoxError;

/// A response body: [`Body::from`] bytes, or [`Body::from_stream`].
///
/// ```
/// use bahamut::Body;
/// use futures_util::stream;
///
/// let small = Body::from("hello");
/// let chunks = stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"a"))]);
/// let streamed = Body::from_stream(chunks);
/// # let _ = (small, streamed);
/// ```
pub struct Body(Kind);

enum Kind {
    Full(Full<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self::from(Bytes::new())
    }

    /// A body sent chunk by chunk as `stream` yields them; an error ends the response early
    /// (the client sees a truncated body, and the connection is closed).
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures_util::StreamExt;
        let frames = stream.map(|chunk| chunk.map(Frame::data).map_err(Into::into));
        Self(Kind::Stream(UnsyncBoxBody::new(StreamBody::new(frames))))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Full(_) => f.write_str("Body(full)"),
            Kind::Stream(_) => f.write_str("Body(stream)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self(Kind::Full(Full::new(bytes)))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self::from(Bytes::from_static(text.as_bytes()))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Kind::Stream(stream) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Full(full) => full.is_end_stream(),
            Kind::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(full) => full.size_hint(),
            Kind::Stream(stream) => stream.size_hint(),
        }
    }
}
