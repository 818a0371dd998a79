//! Where the events of completed writes go (the push server plugs in here).

use elemental::Event;

/// Receives the events of every completed write, processor-enqueued ones first.
pub trait EventPublisher: Send + Sync {
    /// Publishes events. Must not block.
    fn publish(&self, events: Vec<Event>);
}
