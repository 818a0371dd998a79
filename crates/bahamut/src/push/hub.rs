//! The hub: numbers the events it receives, keeps a bounded backlog of them, and fans them out
//! to the sessions, each through a bounded queue. A session whose queue is full is cut off
//! (and told so) instead of slowing the others.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use elemental::{EncodingType, Event};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// An event as the hub hands it to sessions: numbered, with its namespace, and its wire forms
/// and entity document computed once for all sessions.
#[derive(Debug)]
pub struct Published {
    /// The event, its `sequence` set.
    pub event: Event,
    /// The namespace of the entity (`/` when it has none).
    pub namespace: String,
    json: OnceLock<Option<Message>>,
    msgpack: OnceLock<Option<Message>>,
    document: OnceLock<serde_json::Map<String, serde_json::Value>>,
    summary: OnceLock<Option<serde_json::Value>>,
}

impl Published {
    fn new(event: Event) -> Self {
        // Only the namespace is read here (on the writer's path); the whole document is decoded
        // later, and only for sessions whose push config has a filter.
        let namespace = event
            .decode_entity::<EntityNamespace>()
            .ok()
            .and_then(|e| e.namespace)
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "/".to_string());
        Self {
            event,
            namespace,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
            document: OnceLock::new(),
            summary: OnceLock::new(),
        }
    }

    /// The websocket frame of the event in an encoding, encoded once for every session
    /// (frames share their bytes); `None` if it cannot be encoded.
    pub(crate) fn frame(&self, encoding: EncodingType) -> Option<Message> {
        let cell = match encoding {
            EncodingType::Json => &self.json,
            EncodingType::Msgpack => &self.msgpack,
        };
        cell.get_or_init(|| {
            self.event
                .encode(encoding)
                .ok()
                .and_then(|wire| frame(encoding, wire))
        })
        .clone()
    }

    /// The summary of the dispatch handler, computed by `summarize` the first time.
    pub fn summary(
        &self,
        summarize: impl FnOnce(&Published) -> Option<serde_json::Value>,
    ) -> Option<&serde_json::Value> {
        self.summary.get_or_init(|| summarize(self)).as_ref()
    }

    /// The entity as a JSON document, for filters (empty if it cannot be decoded).
    pub fn document(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.document
            .get_or_init(|| self.event.decode_entity().unwrap_or_default())
    }
}

/// The namespace of an entity, the one attribute read from every event.
#[derive(serde::Deserialize)]
struct EntityNamespace {
    namespace: Option<String>,
}

/// A websocket frame: JSON as text, msgpack as binary.
pub(crate) fn frame(encoding: EncodingType, wire: Vec<u8>) -> Option<Message> {
    match encoding {
        EncodingType::Json => Utf8Bytes::try_from(Bytes::from(wire))
            .ok()
            .map(Message::Text),
        EncodingType::Msgpack => Some(Message::Binary(Bytes::from(wire))),
    }
}

struct SessionSlot {
    queue: mpsc::Sender<Arc<Published>>,
    cut_off: Arc<AtomicBool>,
}

struct State {
    next_sequence: u64,
    backlog: VecDeque<Arc<Published>>,
    sessions: HashMap<u64, SessionSlot>,
    next_session: u64,
}

/// What a new session gets from the hub.
pub struct Subscription {
    /// Its id, to unsubscribe.
    pub id: u64,
    /// The events after `since` from the backlog, oldest first.
    pub replay: Vec<Arc<Published>>,
    /// True when `since` is older than the backlog (or unknown): the client must resync.
    pub resync: bool,
    /// Live events.
    pub queue: mpsc::Receiver<Arc<Published>>,
    /// Set when the hub cut the session off because its queue was full.
    pub cut_off: Arc<AtomicBool>,
}

/// Numbers, keeps and fans out events.
pub struct Hub {
    state: Mutex<State>,
    backlog_size: usize,
    queue_size: usize,
    metrics: Option<crate::metrics::Metrics>,
}

impl Hub {
    /// A hub keeping `backlog_size` events for resumes, with `queue_size` events of queue per
    /// session. When `numbered` is false the hub numbers events itself, starting at the
    /// current time in microseconds so that sequences keep increasing across restarts; when
    /// true, events come numbered (by the pub/sub) and the hub keeps their numbers.
    pub fn new(backlog_size: usize, queue_size: usize, numbered: bool) -> Self {
        let start = if numbered {
            1
        } else {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_micros() as u64)
        };
        Self {
            state: Mutex::new(State {
                next_sequence: start.max(1),
                backlog: VecDeque::with_capacity(backlog_size.min(4096)),
                sessions: HashMap::new(),
                next_session: 1,
            }),
            backlog_size,
            queue_size: queue_size.max(1),
            metrics: None,
        }
    }

    /// Counts the events dropped for slow sessions in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: Option<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers the events and hands them to every session.
    pub fn deliver(&self, events: Vec<Event>) {
        let mut state = self.state();
        for mut event in events {
            if event.sequence == 0 {
                event.sequence = state.next_sequence;
            } else if event.sequence < state.next_sequence {
                // Already delivered (a pub/sub redelivery).
                continue;
            }
            state.next_sequence = event.sequence + 1;
            let published = Arc::new(Published::new(event));
            if self.backlog_size > 0 {
                if state.backlog.len() == self.backlog_size {
                    state.backlog.pop_front();
                }
                state.backlog.push_back(published.clone());
            }
            state
                .sessions
                .retain(|id, slot| match slot.queue.try_send(published.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(session = id, "push session too slow: cut off");
                        slot.cut_off.store(true, Ordering::Release);
                        if let Some(metrics) = &self.metrics {
                            metrics.push_dropped(crate::metrics::Dropped::SlowConsumer, 1);
                        }
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
        }
    }

    /// Registers a session; with `since`, also returns the backlog after it.
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let mut state = self.state();
        let (replay, resync) = match since {
            None => (Vec::new(), false),
            Some(since) => {
                let last = state.next_sequence - 1;
                let oldest = state
                    .backlog
                    .front()
                    .map_or(state.next_sequence, |p| p.event.sequence);
                if since > last || since.saturating_add(1) < oldest {
                    (Vec::new(), since != last)
                } else {
                    let replay = state
                        .backlog
                        .iter()
                        .filter(|p| p.event.sequence > since)
                        .cloned()
                        .collect();
                    (replay, false)
                }
            }
        };
        let (queue, receiver) = mpsc::channel(self.queue_size);
        let cut_off = Arc::new(AtomicBool::new(false));
        let id = state.next_session;
        state.next_session += 1;
        state.sessions.insert(
            id,
            SessionSlot {
                queue,
                cut_off: cut_off.clone(),
            },
        );
        Subscription {
            id,
            replay,
            resync,
            queue: receiver,
            cut_off,
        }
    }

    /// Forgets a session.
    pub fn unsubscribe(&self, id: u64) {
        self.state().sessions.remove(&id);
    }

    /// Closes every session's queue (at shutdown).
    pub fn close_all(&self) {
        self.state().sessions.clear();
    }

    /// How many sessions are registered.
    pub fn sessions(&self) -> usize {
        self.state().sessions.len()
    }

    /// The sequence of the last event delivered.
    pub fn last_sequence(&self) -> u64 {
        self.state().next_sequence - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> Event {
        Event::new(
            elemental::EventType::Create,
            "list",
            &serde_json::json!({"name": name, "namespace": "/a"}),
            EncodingType::Json,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resume_replays_the_backlog_without_gap_or_duplicate() {
        let hub = Hub::new(3, 10, false);
        hub.deliver(vec![event("1"), event("2")]);
        let first = hub.last_sequence() - 1;
        hub.deliver(vec![event("3")]);
        let sub = hub.subscribe(Some(first));
        let names: Vec<&str> = sub
            .replay
            .iter()
            .map(|p| p.document()["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!((names, sub.resync), (vec!["2", "3"], false));
        assert_eq!(sub.replay[0].namespace, "/a");
        hub.deliver(vec![event("4"), event("5")]);
        // 1 and 2 left the backlog of 3: resuming after 1 is a resync.
        assert!(hub.subscribe(Some(first)).resync);
        // Up to date: nothing to replay, no resync.
        let current = hub.subscribe(Some(hub.last_sequence()));
        assert_eq!((current.replay.len(), current.resync), (0, false));
    }

    #[test]
    fn a_full_queue_cuts_the_session_off() {
        let hub = Hub::new(0, 2, false);
        let slow = hub.subscribe(None);
        let mut fast = hub.subscribe(None);
        for n in 0..3 {
            hub.deliver(vec![event(&n.to_string())]);
            assert!(fast.queue.try_recv().is_ok());
        }
        assert!(slow.cut_off.load(Ordering::Acquire));
        assert_eq!(hub.sessions(), 1);
    }
}
