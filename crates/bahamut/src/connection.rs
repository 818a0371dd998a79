//! Connection limits: how many connections the server holds (in all and per client IP), how
//! long a client may take to send a request head, how long a keep-alive connection may stay
//! idle, and the fast refusal of connections past the caps.
//!
//! A connection's socket is read through [`TrackedIo`], which notes when bytes arrive; the
//! connection's [`Activity`] also counts the requests in flight. One [`ConnectionWatch`] per
//! server looks over every connection's activity at each tick, and signals a connection to
//! close when a request head takes longer than the header timeout, or when no request arrives
//! within the idle timeout; it also signals shutdown to all. A connection reads its signal
//! when it is polled (an atomic load), instead of polling timers and a shutdown channel of its
//! own beside the socket each time. Body timeouts are per request (see `server`).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::observed_io::{ObservedIo, ReadObserver};

/// How many refusals (503 answers past the caps) may be written at once; past that, a
/// connection over the cap is closed without an answer.
const MAX_CONCURRENT_REFUSALS: usize = 256;
/// How long a refusal may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The open connections, in all and per client IP.
pub(crate) struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    open: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    refusing: Arc<AtomicUsize>,
}

/// Who is at the other end of a connection.
#[derive(Clone)]
pub(crate) struct Peer {
    /// The peer address.
    pub(crate) remote: SocketAddr,
    /// The verified client certificate (mutual TLS).
    pub(crate) certificate: Option<Arc<elemental::ClientCertificate>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server holds its maximum of connections.
    Total,
    /// This client IP holds its maximum of connections.
    PerIp,
}

/// A connection counted in the limits; uncounted when dropped.
pub(crate) struct ConnectionSlot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limits.open.fetch_sub(1, Ordering::SeqCst);
        if let Ok(mut per_ip) = self.limits.per_ip.lock() {
            if let Some(count) = per_ip.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

impl ConnectionLimits {
    /// Limits of `max_total` connections, and `max_per_ip` for one client IP.
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_ip: max_per_ip.max(1),
            open: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            refusing: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Counts a new connection from `ip`, or says why it is refused.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let mut per_ip = self.per_ip.lock().map_err(|_| Refusal::Total)?;
        if self.open.load(Ordering::SeqCst) >= self.max_total {
            return Err(Refusal::Total);
        }
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *count += 1;
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(ConnectionSlot {
            limits: self.clone(),
            ip,
        })
    }

    /// How many connections are open.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// True when the server holds its maximum of connections (health reports it).
    pub(crate) fn saturated(&self) -> bool {
        self.open() >= self.max_total
    }

    /// The maximum of connections.
    pub(crate) fn max_total(&self) -> usize {
        self.max_total
    }

    /// Answers a refused connection with a 503 error array and closes it, without waiting for
    /// its request; when too many refusals are being written already, just closes it.
    pub(crate) fn refuse(&self, mut stream: TcpStream, refusal: Refusal) {
        if self.refusing.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT_REFUSALS {
            self.refusing.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let refusing = self.refusing.clone();
        tokio::spawn(async move {
            let answer = refusal_response(refusal);
            let write = async {
                stream.write_all(&answer).await?;
                stream.shutdown().await
            };
            let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
            refusing.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// The raw 503 answer written to a refused connection.
fn refusal_response(refusal: Refusal) -> Vec<u8> {
    let description = match refusal {
        Refusal::Total => "The server holds its maximum number of connections",
        Refusal::PerIp => "Too many connections from this client address",
    };
    raw_error_response(503, "Service Unavailable", description)
}

/// A whole HTTP/1.1 answer, written on a socket that hyper does not serve: an error array of
/// one error, then the connection closes.
pub(crate) fn raw_error_response(code: u16, title: &str, description: &str) -> Vec<u8> {
    let error = elemental::Error::new(title, description, "bahamut", code);
    let body = elemental::encode(
        elemental::EncodingType::Json,
        &elemental::Errors::from(error),
    )
    .unwrap_or_else(|_| b"[]".to_vec());
    let retry = if code == 503 {
        "Retry-After: 1\r\n"
    } else {
        ""
    };
    let mut answer = format!(
        "HTTP/1.1 {code} {title}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n{retry}\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// What the server asks of a connection. A later signal replaces an earlier one only when it
/// ranks higher: a timeout during shutdown still closes the connection at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Signal {
    /// Shutdown started: finish the request in flight (or arriving), then close.
    Stop = 1,
    /// No request arrived within the idle timeout: close now.
    IdleTimeout = 2,
    /// A request head took longer than the header timeout: close now.
    HeadTimeout = 3,
}

impl Signal {
    fn from_u8(value: u8) -> Option<Self> {
        [Self::Stop, Self::IdleTimeout, Self::HeadTimeout]
            .into_iter()
            .find(|signal| *signal as u8 == value)
    }

    /// Why the connection closes, for the log.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Stop => "shutdown",
            Self::IdleTimeout => "idle timeout",
            Self::HeadTimeout => "request head not received in time",
        }
    }
}

/// What a connection is doing, shared by its socket wrapper, its service and the server's
/// [`ConnectionWatch`]; and the signal the watch left for it.
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or the last answer.
    last: AtomicU64,
    /// Milliseconds since `start` (plus one) of the first byte of a request head being read;
    /// 0 when no head is being read.
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    /// HTTP/2: control frames arrive between requests, so bytes read do not start a request
    /// head (only the idle timeout applies between requests).
    multiplexed: AtomicBool,
    /// The [`Signal`] sent, as its number; 0 for none.
    signal: AtomicU8,
    /// The task that serves the connection, woken by a signal.
    waker: AtomicWaker,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            multiplexed: AtomicBool::new(false),
            signal: AtomicU8::new(0),
            waker: AtomicWaker::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bytes_read(&self) {
        let now = self.now();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::SeqCst) == 0 && !self.multiplexed.load(Ordering::Relaxed) {
            let _ =
                self.head_started
                    .compare_exchange(0, now + 1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// The connection speaks HTTP/2 (see `multiplexed`).
    pub(crate) fn set_multiplexed(&self) {
        self.multiplexed.store(true, Ordering::Relaxed);
        self.head_started.store(0, Ordering::SeqCst);
    }

    /// A request head was read: the service runs.
    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
    }

    /// The service answered.
    pub(crate) fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// No request is in flight and no request head is arriving.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.head_started.load(Ordering::SeqCst) == 0
    }

    /// The signal sent to the connection, if any; `waker` is woken by the next one.
    pub(crate) fn signal(&self, waker: &Waker) -> Option<Signal> {
        // Registered before the load: a signal sent in between wakes the task again.
        self.waker.register(waker);
        Signal::from_u8(self.signal.load(Ordering::Acquire))
    }

    /// The task that served the connection has ended: its waker is dropped. An upgraded
    /// connection (a push session) keeps its activity for as long as the socket lives, and a
    /// waker kept here would keep the ended task's memory (its whole future) with it.
    pub(crate) fn task_ended(&self) {
        drop(self.waker.take());
    }

    /// Sends `signal`, unless one that ranks as high was sent already.
    fn send(&self, signal: Signal) {
        if self.signal.fetch_max(signal as u8, Ordering::AcqRel) < signal as u8 {
            self.waker.wake();
        }
    }

    /// Why the connection should be closed now, if it should.
    fn expired(&self, header_timeout: Duration, idle_timeout: Duration) -> Option<Signal> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let now = self.now();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.head_started.load(Ordering::SeqCst) {
            0 => (now.saturating_sub(self.last.load(Ordering::Relaxed)) >= millis(idle_timeout))
                .then_some(Signal::IdleTimeout),
            started => (now.saturating_sub(started - 1) >= millis(header_timeout))
                .then_some(Signal::HeadTimeout),
        }
    }
}

/// The activities of a server's open connections: [`ConnectionWatch::run`] checks them at
/// each tick and signals the connections past a timeout; [`ConnectionWatch::stop_all`] signals
/// shutdown to all, and to those that open after it.
pub(crate) struct ConnectionWatch {
    header_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    next_id: u64,
    open: HashMap<u64, Arc<Activity>>,
    stopping: bool,
}

/// A connection in the watch; it leaves the watch when this is dropped.
pub(crate) struct Watched {
    watch: Arc<ConnectionWatch>,
    id: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.watch.state().open.remove(&self.id);
    }
}

impl ConnectionWatch {
    /// A watch that closes connections past `header_timeout` (a request head arriving) or
    /// `idle_timeout` (no request).
    pub(crate) fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            header_timeout,
            idle_timeout,
            state: Mutex::new(WatchState::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, WatchState> {
        // The state stays consistent through a panic elsewhere: each change is one map call.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches a connection's `activity` until the returned guard is dropped.
    pub(crate) fn watch(self: &Arc<Self>, activity: Arc<Activity>) -> Watched {
        let mut state = self.state();
        if state.stopping {
            activity.send(Signal::Stop);
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, activity);
        Watched {
            watch: self.clone(),
            id,
        }
    }

    /// Signals shutdown to every connection, open now or later.
    pub(crate) fn stop_all(&self) {
        let mut state = self.state();
        state.stopping = true;
        for activity in state.open.values() {
            activity.send(Signal::Stop);
        }
    }

    /// Signals the connections past a timeout.
    fn sweep(&self) {
        for activity in self.state().open.values() {
            if let Some(signal) = activity.expired(self.header_timeout, self.idle_timeout) {
                activity.send(signal);
            }
        }
    }

    /// Checks the connections at each tick (a quarter of the shorter timeout, between 50 ms
    /// and 1 s), for as long as the task runs.
    pub(crate) async fn run(self: Arc<Self>) {
        let tick = (self.header_timeout.min(self.idle_timeout) / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.sweep();
        }
    }
}

/// The connection's activity notes when bytes arrive.
impl ReadObserver for Arc<Activity> {
    fn observe(&mut self, _bytes: &mut [u8]) {
        self.bytes_read();
    }
}

/// A connection's stream (TCP, or TLS over TCP), reporting the bytes it reads to its
/// [`Activity`].
pub(crate) type TrackedIo<S> = ObservedIo<S, Arc<Activity>>;

/// Waits before the next accept after an error, doubling up to one second; logs the first
/// error of a streak at warn level and the end of the streak at info.
pub(crate) struct AcceptBackoff {
    delay: Duration,
    failures: u64,
}

impl AcceptBackoff {
    pub(crate) fn new() -> Self {
        Self {
            delay: Duration::ZERO,
            failures: 0,
        }
    }

    /// An accept failed: log (once per streak) and wait.
    pub(crate) async fn failed(&mut self, error: &io::Error) {
        if self.failures == 0 {
            tracing::warn!(%error, "accept failed: backing off until connections can be accepted again");
        }
        self.failures += 1;
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::time::sleep(self.delay).await;
    }

    /// An accept succeeded.
    pub(crate) fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                "accepting connections again after accept errors"
            );
        }
        self.failures = 0;
        self.delay = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_in_all_and_per_ip() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err(), Some(Refusal::PerIp));
        let _third = limits.admit(b).unwrap();
        assert!(limits.saturated());
        assert_eq!(limits.admit(b).err(), Some(Refusal::Total));
        drop(first);
        assert_eq!(limits.open(), 2);
        assert!(limits.admit(a).is_ok());
    }

    /// A waker that counts, through its `Arc`, who holds it.
    struct CountedWaker;

    impl std::task::Wake for CountedWaker {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn an_ended_task_is_no_longer_held_by_its_activity() {
        let task = Arc::new(CountedWaker);
        let waker = Waker::from(task.clone());
        let activity = Activity::new();
        assert_eq!(activity.signal(&waker), None);
        drop(waker);
        // The activity holds the task's waker (the socket of an upgraded connection keeps the
        // activity for as long as the session lives).
        assert_eq!(Arc::strong_count(&task), 2);
        activity.task_ended();
        assert_eq!(Arc::strong_count(&task), 1);
    }

    #[test]
    fn refusal_is_an_error_array() {
        let text = String::from_utf8(refusal_response(Refusal::PerIp)).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(text.ends_with(
            r#"[{"code":503,"description":"Too many connections from this client address","subject":"bahamut","title":"Service Unavailable"}]"#
        ));
    }
}
