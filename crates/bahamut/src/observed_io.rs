//! A socket whose reads are observed: every chunk of bytes read is shown to an observer, which
//! may note it (the connection watchdog's activity) or rewrite it in place (the opcodes of a
//! msgpack push session). Writes pass through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Sees the bytes of each read, in order.
pub(crate) trait ReadObserver: Unpin {
    /// Called with the bytes one read added (never empty).
    fn observe(&mut self, bytes: &mut [u8]);
}

impl<O: ReadObserver> ReadObserver for Option<O> {
    fn observe(&mut self, bytes: &mut [u8]) {
        if let Some(observer) = self {
            observer.observe(bytes);
        }
    }
}

/// `inner`, with its reads shown to `observer`.
pub(crate) struct ObservedIo<S, O> {
    inner: S,
    observer: O,
}

impl<S, O> ObservedIo<S, O> {
    pub(crate) fn new(inner: S, observer: O) -> Self {
        Self { inner, observer }
    }
}

impl<S: AsyncRead + Unpin, O: ReadObserver> AsyncRead for ObservedIo<S, O> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.observer.observe(&mut buf.filled_mut()[before..]);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin, O: Unpin> AsyncWrite for ObservedIo<S, O> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
