//! A store whose every call is a `storage` span (debug level: backend and operation) and, with
//! metrics, is timed into `storage_call_duration_seconds{backend, operation}`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bahamut::Metrics;
use elemental::Identity;
use manipulate::{
    BoxFuture, Created, Document, Fields, ManipulateError, Manipulator, Page, Record, StoreContext,
    Updated,
};
use tracing::Instrument;

/// Wraps `store` so that every call is traced, and timed into `metrics` when given, under
/// `backend` (`sqlite`, `postgres`, `memory`).
pub fn observed_store(
    store: Arc<dyn Manipulator>,
    backend: &'static str,
    metrics: Option<Metrics>,
) -> Arc<dyn Manipulator> {
    Arc::new(Observed {
        store,
        backend,
        metrics,
    })
}

struct Observed {
    store: Arc<dyn Manipulator>,
    backend: &'static str,
    metrics: Option<Metrics>,
}

impl Observed {
    fn observed<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        call: impl Future<Output = T> + Send + 'a,
    ) -> BoxFuture<'a, T> {
        let span = tracing::debug_span!("storage", backend = self.backend, operation);
        Box::pin(
            async move {
                let started = Instant::now();
                let result = call.await;
                if let Some(metrics) = &self.metrics {
                    metrics.observe_storage_call(self.backend, operation, started.elapsed());
                }
                result
            }
            .instrument(span),
        )
    }
}

impl Manipulator for Observed {
    fn retrieve_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page, ManipulateError>> {
        self.observed("retrieve-many", self.store.retrieve_many(identity, ctx))
    }

    fn retrieve_many_records<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page<Record>, ManipulateError>> {
        self.observed(
            "retrieve-many",
            self.store.retrieve_many_records(identity, ctx),
        )
    }

    fn retrieve<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        self.observed("retrieve", self.store.retrieve(identity, id, ctx))
    }

    fn retrieve_record<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Record, ManipulateError>> {
        self.observed("retrieve", self.store.retrieve_record(identity, id, ctx))
    }

    fn create<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Created, ManipulateError>> {
        self.observed("create", self.store.create(identity, id, object, ctx))
    }

    fn update<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Updated, ManipulateError>> {
        self.observed("update", self.store.update(identity, id, object, ctx))
    }

    fn delete<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        self.observed("delete", self.store.delete(identity, id, ctx))
    }

    fn delete_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        self.observed("delete-many", self.store.delete_many(identity, ctx))
    }

    fn count<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        self.observed("count", self.store.count(identity, ctx))
    }
}
