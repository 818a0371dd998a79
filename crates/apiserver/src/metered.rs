//! A store that times each of its calls into the server's metrics
//! (`storage_call_duration_seconds{backend, operation}`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bahamut::Metrics;
use elemental::Identity;
use manipulate::{
    BoxFuture, Created, Document, Fields, ManipulateError, Manipulator, Page, StoreContext,
};

/// Wraps `store` so that every call is timed into `metrics` under `backend` (`sqlite`,
/// `postgres`, `memory`).
pub fn metered_store(
    store: Arc<dyn Manipulator>,
    backend: &'static str,
    metrics: Metrics,
) -> Arc<dyn Manipulator> {
    Arc::new(Metered {
        store,
        backend,
        metrics,
    })
}

struct Metered {
    store: Arc<dyn Manipulator>,
    backend: &'static str,
    metrics: Metrics,
}

impl Metered {
    fn timed<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        call: impl Future<Output = T> + Send + 'a,
    ) -> BoxFuture<'a, T> {
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            self.metrics
                .observe_storage_call(self.backend, operation, started.elapsed());
            result
        })
    }
}

impl Manipulator for Metered {
    fn retrieve_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page, ManipulateError>> {
        self.timed("retrieve-many", self.store.retrieve_many(identity, ctx))
    }

    fn retrieve<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        self.timed("retrieve", self.store.retrieve(identity, id, ctx))
    }

    fn create<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Created, ManipulateError>> {
        self.timed("create", self.store.create(identity, id, object, ctx))
    }

    fn update<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(), ManipulateError>> {
        self.timed("update", self.store.update(identity, id, object, ctx))
    }

    fn delete<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        self.timed("delete", self.store.delete(identity, id, ctx))
    }

    fn delete_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        self.timed("delete-many", self.store.delete_many(identity, ctx))
    }

    fn count<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        self.timed("count", self.store.count(identity, ctx))
    }
}
