//! The `Manipulator` trait: storage of model objects behind one interface; objects go in
//! typed ([`Fields`]) and come out as documents.

use std::future::Future;
use std::pin::Pin;

use elemental::{CountMode, Identity, Model};

use crate::{Fields, ManipulateError, Record, StoreContext};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An object as stored: its JSON form (attribute names as in the specs).
pub type Document = serde_json::Map<String, serde_json::Value>;

/// One page of objects: stored documents, or typed objects from [`retrieve_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page<D = Document> {
    /// The objects of the page.
    pub objects: Vec<D>,
    /// How many objects match in all (for `X-Count-Total`).
    pub total: u64,
    /// The cursor of the next page, with `after`/`limit` paging.
    pub next: Option<String>,
    /// How `total` was counted: [`CountMode::Exact`] unless the context asked for an estimate
    /// and the backend made one.
    pub count_mode: CountMode,
}

impl<D> Page<D> {
    /// The page with each object changed by `f`.
    pub fn map<E>(self, f: impl FnMut(D) -> E) -> Page<E> {
        Page {
            objects: self.objects.into_iter().map(f).collect(),
            total: self.total,
            next: self.next,
            count_mode: self.count_mode,
        }
    }
}

impl<D> Default for Page<D> {
    fn default() -> Self {
        Self {
            objects: Vec::new(),
            total: 0,
            next: None,
            count_mode: CountMode::Exact,
        }
    }
}

/// Stores objects of any identity. Every read, change and count is limited to the context's
/// namespace (and its descendants when recursive); an object outside is "not found".
pub trait Manipulator: Send + Sync {
    /// The objects matching the context.
    fn retrieve_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page, ManipulateError>>;
    /// The objects matching the context, as the store read them: rows from a store that reads
    /// rows, which [`retrieve_many`] deserializes into the model without a document in
    /// between. The default answers with [`Manipulator::retrieve_many`]'s documents.
    fn retrieve_many_records<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page<Record>, ManipulateError>> {
        Box::pin(async move {
            let page = self.retrieve_many(identity, ctx).await?;
            Ok(page.map(Record::Document))
        })
    }
    /// One object by id.
    fn retrieve<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>>;
    /// One object by id, as the store read it: a store that reads rows answers with the row,
    /// which [`retrieve`] deserializes into the model without a document in between. The
    /// default answers with [`Manipulator::retrieve`]'s document.
    fn retrieve_record<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Record, ManipulateError>> {
        Box::pin(async move { self.retrieve(identity, id, ctx).await.map(Record::Document) })
    }
    /// Stores a new object under `id`; with an idempotency key already seen, stores nothing and
    /// returns the object created the first time.
    fn create<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Created, ManipulateError>>;
    /// Replaces an object.
    fn update<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Updated, ManipulateError>>;
    /// Deletes an object and returns it.
    fn delete<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>>;
    /// Deletes every object matching the context; returns how many.
    fn delete_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>>;
    /// Counts the objects matching the context.
    fn count<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>>;
}

/// What a create did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The object given is stored, as given.
    Stored,
    /// The idempotency key was seen before: nothing is stored, and this is the object created
    /// the first time.
    Replayed(Document),
    /// A remote store (a server reached over HTTP) stored the object and answered with it as
    /// stored: its own id, times and defaults.
    Answered(Document),
}

impl Created {
    /// The object the create answers with: `given` when it was stored as given, else the
    /// object of the document.
    pub fn into_object<T: Model>(self, given: T) -> Result<T, ManipulateError> {
        match self {
            Self::Stored => Ok(given),
            Self::Replayed(document) | Self::Answered(document) => from_document(document),
        }
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// The object given is stored, as given.
    Stored,
    /// A remote store (a server reached over HTTP) stored the object and answered with it as
    /// stored: its own update time, what it kept of the previous version.
    Answered(Document),
}

impl Updated {
    /// The object the update answers with: `given` when it was stored as given, else the
    /// object of the document.
    pub fn into_object<T: Model>(self, given: T) -> Result<T, ManipulateError> {
        match self {
            Self::Stored => Ok(given),
            Self::Answered(document) => from_document(document),
        }
    }
}

/// The model object of a document.
pub fn from_document<T: Model>(document: Document) -> Result<T, ManipulateError> {
    serde_json::from_value(serde_json::Value::Object(document))
        .map_err(|e| ManipulateError::Internal(format!("cannot read a stored object: {e}")))
}

/// Typed retrieve-many: the page with its documents read into `T`.
pub async fn retrieve_many<T: Model>(
    m: &dyn Manipulator,
    ctx: &StoreContext,
) -> Result<Page<T>, ManipulateError> {
    let page = m.retrieve_many_records(T::IDENTITY, ctx).await?;
    let objects = page
        .objects
        .into_iter()
        .map(Record::into_object)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        objects,
        total: page.total,
        next: page.next,
        count_mode: page.count_mode,
    })
}

/// Typed retrieve.
pub async fn retrieve<T: Model>(
    m: &dyn Manipulator,
    id: &str,
    ctx: &StoreContext,
) -> Result<T, ManipulateError> {
    m.retrieve_record(T::IDENTITY, id, ctx).await?.into_object()
}

/// Typed create (the object must have its id): the object as stored, or with an idempotency
/// key seen before, the object created the first time.
pub async fn create<T: Model>(
    m: &dyn Manipulator,
    object: T,
    ctx: &StoreContext,
) -> Result<T, ManipulateError> {
    m.create(T::IDENTITY, object.id(), &object, ctx)
        .await?
        .into_object(object)
}

/// Typed update: the object as stored.
pub async fn update<T: Model>(
    m: &dyn Manipulator,
    object: T,
    ctx: &StoreContext,
) -> Result<T, ManipulateError> {
    m.update(T::IDENTITY, object.id(), &object, ctx)
        .await?
        .into_object(object)
}

/// Typed delete.
pub async fn delete<T: Model>(
    m: &dyn Manipulator,
    id: &str,
    ctx: &StoreContext,
) -> Result<T, ManipulateError> {
    from_document(m.delete(T::IDENTITY, id, ctx).await?)
}
