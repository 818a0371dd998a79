//! # crud
//!
//! Bahamut processors for any generated identity over any [`Manipulator`]: retrieve-many (with
//! the request's filter, order, pagination, namespace and recursion), retrieve, create (server
//! ids, the request's namespace, the parent, creation and update times), update and patch
//! (merged into the stored object, whose id, namespace and creation time are kept), delete,
//! and info (count). Every read and write stays inside the request's namespace subtree: the
//! manipulator enforces it. Events are emitted by the server for every write.
//!
//! ```
//! use std::sync::Arc;
//! use gaia::model::{ExternalNetwork, manager};
//! use manipulate::MemoryManipulator;
//!
//! let store = Arc::new(MemoryManipulator::new());
//! let options = bahamut::Options::new()
//!     .with_model(0, manager())
//!     .with_retriever(Arc::new(crud::StoreRetriever::new(store.clone(), manager())));
//! let mut server = bahamut::Server::new(options);
//! server
//!     .register_processor_within_relationships(crud::processor::<ExternalNetwork>(store))
//!     .unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ids;

use std::marker::PhantomData;
use std::sync::Arc;

use bahamut::{BoxFuture, IdentifiableRetriever, Page, Processor, ProcessorContext};
use elemental::export::time::OffsetDateTime;
use elemental::{EncodingType, Error, Errors, Identifiable, Model, ModelManager, Request};
use manipulate::{Manipulator, StoreContext};

pub use ids::ObjectIds;

/// Application rules around the generic behaviour (such as namespace paths and non-empty
/// namespace deletion). Every method defaults to doing nothing.
pub trait Hooks<T>: Send + Sync + 'static {
    /// Called with the new object (id, namespace and parent set) before it is stored.
    fn before_create<'a>(
        &'a self,
        _object: &'a mut T,
        _ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    /// Called when storing a new object failed (such as a unique index refusing it): may turn
    /// the storage error into the application's.
    fn create_failed(&self, error: Error, _object: &T) -> Error {
        error
    }

    /// Called with the stored object before it is deleted.
    fn before_delete<'a>(
        &'a self,
        _object: &'a T,
        _ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// No application rule.
pub struct NoHooks;

impl<T> Hooks<T> for NoHooks {}

/// The storage-backed processor of `T`.
pub struct CrudProcessor<T> {
    store: Arc<dyn Manipulator>,
    ids: Arc<ObjectIds>,
    hooks: Arc<dyn Hooks<T>>,
    model: PhantomData<fn() -> T>,
}

impl<T: Model> CrudProcessor<T> {
    /// A processor storing in `store`, with hooks.
    pub fn new(store: Arc<dyn Manipulator>, hooks: Arc<dyn Hooks<T>>) -> Self {
        Self {
            store,
            ids: Arc::new(ObjectIds::new()),
            hooks,
            model: PhantomData,
        }
    }
}

/// Every operation of `T` served from `store` (register it with
/// `Server::register_processor_within_relationships`).
pub fn processor<T: Model>(store: Arc<dyn Manipulator>) -> CrudProcessor<T> {
    processor_with_hooks(store, Arc::new(NoHooks))
}

/// Every operation of `T` served from `store`, with application hooks.
pub fn processor_with_hooks<T: Model>(
    store: Arc<dyn Manipulator>,
    hooks: Arc<dyn Hooks<T>>,
) -> CrudProcessor<T> {
    CrudProcessor::new(store, hooks)
}

fn context(request: &Request) -> Result<StoreContext, Error> {
    StoreContext::from_request(request).map_err(Error::from)
}

/// The stored object `id`, when it also matches the request's filter (`q` is a precondition on
/// retrieve, update, patch and delete: an object that does not match is not found).
async fn retrieve_matching<T: Model>(
    store: &dyn Manipulator,
    id: &str,
    ctx: &StoreContext,
) -> Result<T, Error> {
    let object = manipulate::retrieve::<T>(store, id, ctx)
        .await
        .map_err(Error::from)?;
    let Some(filter) = &ctx.filter else {
        return Ok(object);
    };
    let matcher = elemental::filter::Matcher::new(filter)
        .map_err(|e| Error::bad_request(format!("invalid filter: {e}")))?;
    if matcher.matches(&object) {
        Ok(object)
    } else {
        Err(manipulate::ManipulateError::NotFound { id: id.to_string() }.into())
    }
}

/// Fails with a 404 unless the request's parent exists and is visible in its namespace (child
/// routes such as `/networkaccesspolicies/<id>/services`).
async fn require_parent(
    store: &dyn Manipulator,
    request: &Request,
    request_ctx: &StoreContext,
) -> Result<(), Error> {
    if request.parent_identity.is_root() {
        return Ok(());
    }
    // The request's namespace and recursion, without its filter (which is about the children).
    let mut ctx = StoreContext::in_namespace(&request_ctx.namespace);
    ctx.recursive = request_ctx.recursive;
    match store
        .retrieve(request.parent_identity, &request.parent_id, &ctx)
        .await
    {
        Ok(_) => Ok(()),
        Err(manipulate::ManipulateError::NotFound { .. }) => Err(Error::new(
            "Not Found",
            format!(
                "Parent {} with ID '{}' not found",
                request.parent_identity.name, request.parent_id
            ),
            "crud",
            404,
        )),
        Err(e) => Err(e.into()),
    }
}

#[bahamut::processor]
impl<T: Model> Processor<T> for CrudProcessor<T> {
    async fn retrieve_many(&self, ctx: &mut ProcessorContext<T>) -> Result<Page<T>, Errors> {
        let store_ctx = context(ctx.request())?;
        require_parent(self.store.as_ref(), ctx.request(), &store_ctx).await?;
        let page = manipulate::retrieve_many::<T>(self.store.as_ref(), &store_ctx)
            .await
            .map_err(Error::from)?;
        Ok(Page::new(page.objects, page.total, page.next).with_count_mode(page.count_mode))
    }

    async fn retrieve(&self, ctx: &mut ProcessorContext<T>) -> Result<T, Errors> {
        let store_ctx = context(ctx.request())?;
        let id = &ctx.request().object_id;
        Ok(retrieve_matching::<T>(self.store.as_ref(), id, &store_ctx).await?)
    }

    async fn create(&self, ctx: &mut ProcessorContext<T>, mut object: T) -> Result<T, Errors> {
        let store_ctx = context(ctx.request())?;
        require_parent(self.store.as_ref(), ctx.request(), &store_ctx).await?;
        object.set_id(&self.ids.next_id());
        object.set_namespace(&store_ctx.namespace);
        let now = Some(OffsetDateTime::now_utc());
        if let Some(times) = object.as_timestamped_mut() {
            times.set_create_time(now);
            times.set_update_time(now);
        }
        let request = ctx.request();
        if let Some(parent) = object
            .as_parented_mut()
            .filter(|_| !request.parent_identity.is_root())
        {
            parent.set_parent(&request.parent_id, request.parent_identity.name);
        }
        self.hooks.before_create(&mut object, &store_ctx).await?;
        let created = self
            .store
            .create(T::IDENTITY, object.id(), &object, &store_ctx)
            .await
            .map_err(|e| self.hooks.create_failed(Error::from(e), &object))?;
        Ok(created.into_object(object).map_err(Error::from)?)
    }

    async fn update(&self, ctx: &mut ProcessorContext<T>, object: T) -> Result<T, Errors> {
        self.replace(ctx, object).await
    }

    async fn patch(&self, ctx: &mut ProcessorContext<T>, patch: T::Sparse) -> Result<T, Errors> {
        let store_ctx = context(ctx.request())?;
        let id = &ctx.request().object_id;
        let mut object = retrieve_matching::<T>(self.store.as_ref(), id, &store_ctx).await?;
        object.patch(&patch);
        object.validate()?;
        self.replace(ctx, object).await
    }

    async fn delete(&self, ctx: &mut ProcessorContext<T>) -> Result<T, Errors> {
        let store_ctx = context(ctx.request())?;
        let id = &ctx.request().object_id;
        let stored = retrieve_matching::<T>(self.store.as_ref(), id, &store_ctx).await?;
        self.hooks.before_delete(&stored, &store_ctx).await?;
        let deleted = manipulate::delete::<T>(self.store.as_ref(), id, &store_ctx)
            .await
            .map_err(Error::from)?;
        Ok(deleted)
    }

    async fn info(&self, ctx: &mut ProcessorContext<T>) -> Result<u64, Errors> {
        let store_ctx = context(ctx.request())?;
        require_parent(self.store.as_ref(), ctx.request(), &store_ctx).await?;
        let count = self
            .store
            .count(T::IDENTITY, &store_ctx)
            .await
            .map_err(Error::from)?;
        Ok(count)
    }
}

impl<T: Model> CrudProcessor<T> {
    /// Stores `object` over the stored version: id, namespace, parent and creation time are kept.
    async fn replace(&self, ctx: &ProcessorContext<T>, object: T) -> Result<T, Errors> {
        let store_ctx = context(ctx.request())?;
        let id = ctx.request().object_id.clone();
        let stored = retrieve_matching::<T>(self.store.as_ref(), &id, &store_ctx).await?;
        let mut object = object;
        if let (Some(stored), Some(times)) = (stored.as_timestamped(), object.as_timestamped_mut())
        {
            times.set_create_time(stored.create_time());
            times.set_update_time(Some(OffsetDateTime::now_utc()));
        }
        if let (Some(stored), Some(parent)) = (stored.as_parented(), object.as_parented_mut()) {
            parent.set_parent(stored.parent_id(), stored.parent_type());
        }
        object.set_id(&id);
        if let Some(namespace) = stored.namespace() {
            object.set_namespace(namespace);
        }
        let updated = manipulate::update(self.store.as_ref(), object, &store_ctx)
            .await
            .map_err(Error::from)?;
        Ok(updated)
    }
}

/// Loads stored objects for bahamut (read-only and creation-only checks, patches).
pub struct StoreRetriever {
    store: Arc<dyn Manipulator>,
    manager: &'static dyn ModelManager,
}

impl StoreRetriever {
    /// A retriever reading from `store`, decoding with `manager`.
    pub fn new(store: Arc<dyn Manipulator>, manager: &'static dyn ModelManager) -> Self {
        Self { store, manager }
    }
}

impl IdentifiableRetriever for StoreRetriever {
    fn retrieve<'a>(
        &'a self,
        request: &'a Request,
    ) -> BoxFuture<'a, Result<Box<dyn Identifiable>, Error>> {
        Box::pin(async move {
            let ctx = context(request)?;
            let document = self
                .store
                .retrieve(request.identity, &request.object_id, &ctx)
                .await
                .map_err(Error::from)?;
            let bytes = serde_json::to_vec(&document)
                .map_err(|e| Error::new("Internal Server Error", e.to_string(), "crud", 500))?;
            self.manager
                .decode_identifiable(&request.identity, EncodingType::Json, &bytes)
        })
    }
}
