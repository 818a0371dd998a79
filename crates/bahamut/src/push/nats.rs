//! The NATS pub/sub (feature `nats`): events go through a JetStream stream, so that every
//! server of the cluster receives every event, in the same order, numbered by the stream.
//!
//! On the bus, each event is a message on `<topic>` (or `<topic>.<identity>.<type>` with
//! subject hierarchies) whose payload is the event in its JSON push form:
//! `{"encoding":"application/json","entity":{...},"identity":"...","timestamp":"...","type":"create"}`.
//! The stream (`<TOPIC>` upper-cased, `.` as `_`) keeps the last `stream_size` events in memory;
//! its sequence numbers are the events' `sequence`, the same on every server, so a session can
//! resume on any of them.

use std::sync::OnceLock;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use elemental::{EncodingType, Error, Event};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Deliver, PubSub};
use crate::BoxFuture;

/// How long `connect` waits for the backlog to be read back from the stream.
const PREFILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Events through NATS JetStream.
pub struct NatsPubSub {
    url: String,
    topic: String,
    subject_hierarchies: bool,
    stream_size: i64,
    prefill: u64,
    publisher: OnceLock<mpsc::UnboundedSender<Vec<Event>>>,
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        "Service Unavailable",
        format!("NATS: {what}: {e}"),
        "bahamut",
        503,
    )
}

impl NatsPubSub {
    /// Events on `topic` of the NATS server at `url`. Defaults: no subject hierarchies, a
    /// stream of 100,000 events, the last 10,000 read back at start (for resumes).
    pub fn new(url: &str, topic: &str) -> Self {
        Self {
            url: url.to_string(),
            topic: topic.to_string(),
            subject_hierarchies: false,
            stream_size: 100_000,
            prefill: 10_000,
            publisher: OnceLock::new(),
        }
    }

    /// Publishes on `<topic>.<identity>.<type>` instead of `<topic>`.
    pub fn with_subject_hierarchies(mut self, on: bool) -> Self {
        self.subject_hierarchies = on;
        self
    }

    /// How many events the stream keeps, and how many are read back at start.
    pub fn with_sizes(mut self, stream_size: i64, prefill: u64) -> Self {
        self.stream_size = stream_size.max(1);
        self.prefill = prefill;
        self
    }

    /// The JetStream stream name of the topic.
    pub fn stream_name(&self) -> String {
        self.topic
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// The subject of an event: the topic, or `<topic>.<identity>.<type>`.
fn subject_of(topic: &str, hierarchies: bool, event: &Event) -> String {
    if hierarchies {
        format!("{topic}.{}.{}", event.identity, event.event_type)
    } else {
        topic.to_string()
    }
}

fn decode(message: &jetstream::Message) -> Option<Event> {
    let sequence = message.info().ok()?.stream_sequence;
    match Event::decode(EncodingType::Json, &message.payload) {
        Ok(mut event) => {
            event.sequence = sequence;
            Some(event)
        }
        Err(e) => {
            tracing::warn!(sequence, error = %e, "NATS: not an event: skipped");
            None
        }
    }
}

impl PubSub for NatsPubSub {
    fn publish(&self, events: Vec<Event>) {
        match self.publisher.get() {
            Some(publisher) => {
                if publisher.send(events).is_err() {
                    tracing::warn!("NATS publisher stopped: events dropped");
                }
            }
            None => tracing::warn!("NATS not connected yet: events dropped"),
        }
    }

    fn numbers_events(&self) -> bool {
        true
    }

    fn connect(&self, deliver: Deliver) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let client = async_nats::connect(&self.url)
                .await
                .map_err(|e| nats_error(&format!("cannot connect to {}", self.url), e))?;
            let js = jetstream::new(client.clone());
            let mut stream = js
                .get_or_create_stream(stream::Config {
                    name: self.stream_name(),
                    subjects: vec![self.topic.clone(), format!("{}.>", self.topic)],
                    max_messages: self.stream_size,
                    storage: stream::StorageType::Memory,
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error("cannot create the event stream", e))?;
            let last = stream
                .info()
                .await
                .map_err(|e| nats_error("cannot read the event stream", e))?
                .state
                .last_sequence;
            let start = last.saturating_sub(self.prefill).max(1);
            let ordered = stream
                .create_consumer(consumer::push::OrderedConfig {
                    deliver_subject: client.new_inbox(),
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: start,
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error("cannot consume the event stream", e))?;
            let mut messages = ordered
                .messages()
                .await
                .map_err(|e| nats_error("cannot consume the event stream", e))?;
            // Read the backlog back before serving, so that sessions only get live events.
            if last >= start {
                let prefill = async {
                    while let Some(Ok(message)) = messages.next().await {
                        let sequence = message.info().map_or(0, |i| i.stream_sequence);
                        if let Some(event) = decode(&message) {
                            deliver(vec![event]);
                        }
                        if sequence >= last {
                            break;
                        }
                    }
                };
                if tokio::time::timeout(PREFILL_TIMEOUT, prefill)
                    .await
                    .is_err()
                {
                    tracing::warn!("NATS: the event backlog could not be read back in time");
                }
            }
            tokio::spawn(async move {
                while let Some(next) = messages.next().await {
                    match next {
                        Ok(message) => {
                            if let Some(event) = decode(&message) {
                                deliver(vec![event]);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "NATS: event stream"),
                    }
                }
                tracing::warn!("NATS: the event stream ended");
            });
            let (publisher, mut queue) = mpsc::unbounded_channel::<Vec<Event>>();
            let (topic, hierarchies) = (self.topic.clone(), self.subject_hierarchies);
            tokio::spawn(async move {
                while let Some(events) = queue.recv().await {
                    let mut acks = Vec::with_capacity(events.len());
                    for event in events {
                        let payload = match event.encode(EncodingType::Json) {
                            Ok(payload) => payload,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot encode an event");
                                continue;
                            }
                        };
                        match js
                            .publish(subject_of(&topic, hierarchies, &event), payload.into())
                            .await
                        {
                            Ok(ack) => acks.push(ack),
                            Err(e) => tracing::warn!(error = %e, "NATS: publish failed"),
                        }
                    }
                    for ack in acks {
                        if let Err(e) = ack.await {
                            tracing::warn!(error = %e, "NATS: publish not acknowledged");
                        }
                    }
                }
            });
            let _ = self.publisher.set(publisher);
            tracing::info!(url = %self.url, topic = %self.topic, stream = %self.stream_name(), "NATS pub/sub connected");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_stream_names() {
        let pubsub = NatsPubSub::new("nats://127.0.0.1:4222", "apiserver.events");
        assert_eq!(pubsub.stream_name(), "APISERVER_EVENTS");
        let event = Event::new(
            elemental::EventType::Create,
            "service",
            &serde_json::json!({}),
            EncodingType::Json,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            subject_of("apiserver.events", false, &event),
            "apiserver.events"
        );
        assert_eq!(
            subject_of("apiserver.events", true, &event),
            "apiserver.events.service.create"
        );
    }
}
