//! Processors: the business logic of one identity. A processor gets the operation's input as an
//! argument (the decoded, validated object for create and update) and answers with its return
//! value; [`ProcessorContext`] carries the request and the side channels (claims, messages,
//! metadata, extra events, status, redirect, cookies, the automatic event, a custom response).
//!
//! Write the methods of the operations served in an `impl Processor<T>` block marked
//! `#[bahamut::processor]`: the attribute declares them as the processor's
//! [`Processor::OPERATIONS`], so the server knows them from the registration alone (501 for the
//! others) and `routes_info` lists only them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;

use elemental::{
    CountMode, Encoded, EncodingType, Errors, Event, Identifiable, Model, Operation, Request,
};

use crate::body::Body;
use crate::cookie::Cookie;

/// One page of a retrieve-many answer: the objects, the total count (`X-Count-Total`) and the
/// cursor of the next page (`X-Next`), if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The objects of the page.
    pub items: Items<T>,
    /// How many objects match in all (`X-Count-Total`).
    pub total: u64,
    /// The cursor of the next page (`X-Next`).
    pub next: Option<String>,
    /// How `total` was counted, answered in `X-Count-Mode` to a client that sent that header.
    pub count_mode: CountMode,
}

impl<T> Page<T> {
    /// A page holding every match: the total is the number of items, there is no next page.
    pub fn all(items: Vec<T>) -> Self {
        let total = items.len() as u64;
        Self::new(items, total, None)
    }

    /// A page of `total` matches (counted exactly), with the cursor of the next page.
    pub fn new(items: Vec<T>, total: u64, next: Option<String>) -> Self {
        Self {
            items: Items::Objects(items),
            total,
            next,
            count_mode: CountMode::Exact,
        }
    }

    /// A page holding every match, as objects encoded once beforehand: a JSON answer without
    /// `X-Fields` or a custom marshaller is their bytes joined, with no encoding.
    pub fn all_encoded(items: Vec<Encoded<T>>) -> Self {
        Self {
            total: items.len() as u64,
            items: Items::Encoded(items),
            next: None,
            count_mode: CountMode::Exact,
        }
    }

    /// The same page, its total counted in `mode`.
    pub fn with_count_mode(mut self, mode: CountMode) -> Self {
        self.count_mode = mode;
        self
    }
}

/// The objects of a [`Page`]: typed, or already encoded as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Items<T> {
    /// Objects the server encodes for the answer.
    Objects(Vec<T>),
    /// Objects encoded once beforehand (secrets blank), served as they are to JSON clients.
    Encoded(Vec<Encoded<T>>),
}

impl<T: Model> Items<T> {
    /// How many objects there are.
    pub fn len(&self) -> usize {
        match self {
            Items::Objects(objects) => objects.len(),
            Items::Encoded(encoded) => encoded.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects, decoded from their JSON form when they are encoded.
    pub fn objects(&self) -> Result<Cow<'_, [T]>, elemental::Error> {
        match self {
            Items::Objects(objects) => Ok(Cow::Borrowed(objects)),
            Items::Encoded(encoded) => encoded
                .iter()
                .map(Encoded::decode)
                .collect::<Result<Vec<T>, _>>()
                .map(Cow::Owned),
        }
    }

    /// Clears the secret attributes of typed objects (encoded ones have them blank already).
    pub fn blank_secrets(&mut self) {
        if let Items::Objects(objects) = self {
            objects.iter_mut().for_each(Identifiable::blank_secrets);
        }
    }
}

/// The answer of a retrieve, a create or an update ([`Processor::retrieve_encoded`],
/// [`Processor::create_encoded`], [`Processor::update_encoded`]): the object, or its JSON form
/// encoded beforehand.
///
/// ```
/// use bahamut::{Encoded, Errors, Processor, ProcessorContext, Retrieved};
/// use todo::model::List;
///
/// /// Keeps one list's JSON form, encoded once.
/// struct OneList(Encoded<List>);
///
/// #[bahamut::processor]
/// impl Processor<List> for OneList {
///     async fn retrieve_encoded(
///         &self,
///         _: &mut ProcessorContext<List>,
///     ) -> Result<Retrieved<List>, Errors> {
///         Ok(self.0.clone().into())
///     }
/// }
///
/// let list = List { name: "groceries".into(), ..List::default() };
/// let _served = OneList(Encoded::new(&list)?);
/// assert_eq!(<OneList as Processor<List>>::OPERATIONS, &[bahamut::Operation::Retrieve]);
/// # Ok::<(), elemental::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Retrieved<T> {
    /// An object the server encodes for the answer.
    Object(T),
    /// An object encoded once beforehand (secrets blank): a JSON answer without `X-Fields` or a
    /// custom marshaller is its bytes, with no encoding; the others decode it back.
    Encoded(Encoded<T>),
}

impl<T> From<Encoded<T>> for Retrieved<T> {
    fn from(encoded: Encoded<T>) -> Self {
        Retrieved::Encoded(encoded)
    }
}

/// The error of an operation a processor does not serve, answered 501. The default methods of
/// [`Processor`] return it (the server never calls them: it answers 501 before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("No handler for operation {operation} on {identity}")]
pub struct NotImplemented {
    /// The operation asked for.
    pub operation: Operation,
    /// The identity's name.
    pub identity: &'static str,
}

impl From<NotImplemented> for elemental::Error {
    fn from(e: NotImplemented) -> Self {
        elemental::Error::new("Not implemented", e.to_string(), "bahamut", 501)
    }
}

impl From<NotImplemented> for Errors {
    fn from(e: NotImplemented) -> Self {
        Errors::from(elemental::Error::from(e))
    }
}

fn not_implemented<T: Model, E: From<NotImplemented>>(operation: Operation) -> E {
    E::from(NotImplemented {
        operation,
        identity: T::IDENTITY.name,
    })
}

/// The business logic of the identity `T`: one method per operation served.
///
/// Mark the `impl` block with `#[bahamut::processor]`: it declares [`Self::OPERATIONS`] from
/// the methods written (a method that is not an operation does not compile) and sets
/// `type Error = elemental::Errors` unless the block names its own error type, which converts
/// into [`Errors`] (its codes are the answer's) and from [`NotImplemented`].
///
/// ```
/// use bahamut::{Errors, Page, Processor, ProcessorContext};
/// use todo::model::List;
///
/// struct Lists;
///
/// #[bahamut::processor]
/// impl Processor<List> for Lists {
///     async fn retrieve_many(&self, _: &mut ProcessorContext<List>) -> Result<Page<List>, Errors> {
///         Ok(Page::all(vec![List { name: "groceries".into(), ..List::default() }]))
///     }
///
///     async fn create(&self, _: &mut ProcessorContext<List>, list: List) -> Result<List, Errors> {
///         Ok(list)
///     }
/// }
///
/// assert_eq!(<Lists as Processor<List>>::OPERATIONS.len(), 2);
/// ```
///
/// A retrieve is written as [`Processor::retrieve`] (the object) or as
/// [`Processor::retrieve_encoded`] (the object, or its JSON form stored beforehand), a create
/// as [`Processor::create`] or [`Processor::create_encoded`], an update as
/// [`Processor::update`] or [`Processor::update_encoded`]; a block that writes both methods of
/// one operation does not compile:
///
/// ```compile_fail
/// use bahamut::{Encoded, Errors, Processor, ProcessorContext, Retrieved};
/// use todo::model::List;
///
/// struct Lists;
///
/// #[bahamut::processor]
/// impl Processor<List> for Lists {
///     async fn retrieve(&self, _: &mut ProcessorContext<List>) -> Result<List, Errors> {
///         Ok(List::default())
///     }
///
///     async fn retrieve_encoded(
///         &self,
///         _: &mut ProcessorContext<List>,
///     ) -> Result<Retrieved<List>, Errors> {
///         Ok(Retrieved::Encoded(Encoded::new(&List::default())?))
///     }
/// }
/// ```
///
/// With a retriever configured ([`crate::Options::with_retriever`]), a `PATCH` is merged into
/// the stored object, validated, and served by [`Processor::update`]; without one, by
/// [`Processor::patch`] with the sparse body.
pub trait Processor<T: Model>: Send + Sync + 'static {
    /// The operations served (declared by `#[bahamut::processor]`).
    const OPERATIONS: &'static [Operation];

    /// The error the methods return.
    type Error: Into<Errors> + From<NotImplemented> + Send + 'static;

    /// `GET /resources` and `GET /parents/:id/resources`.
    fn retrieve_many(
        &self,
        _ctx: &mut ProcessorContext<T>,
    ) -> impl Future<Output = Result<Page<T>, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::RetrieveMany)) }
    }

    /// `GET /resources/:id`.
    fn retrieve(
        &self,
        _ctx: &mut ProcessorContext<T>,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Retrieve)) }
    }

    /// `GET /resources/:id`, answered with the object or with its JSON form encoded
    /// beforehand (write this method instead of [`Processor::retrieve`] to serve stored bytes;
    /// writing both does not compile). By default, [`Processor::retrieve`]'s object.
    fn retrieve_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
    ) -> impl Future<Output = Result<Retrieved<T>, Self::Error>> + Send {
        async move { self.retrieve(ctx).await.map(Retrieved::Object) }
    }

    /// `POST /resources`, with the decoded and validated object.
    fn create(
        &self,
        _ctx: &mut ProcessorContext<T>,
        _object: T,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Create)) }
    }

    /// `POST /resources`, answered with the created object or with its JSON form (write this
    /// method instead of [`Processor::create`] to answer with the bytes a store encoded once
    /// as it wrote the object; writing both does not compile). The automatic event takes the
    /// same bytes. By default, [`Processor::create`]'s object.
    fn create_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
        object: T,
    ) -> impl Future<Output = Result<Retrieved<T>, Self::Error>> + Send {
        async move { self.create(ctx, object).await.map(Retrieved::Object) }
    }

    /// `PUT /resources/:id` (and a `PATCH` merged into the stored object when a retriever is
    /// configured), with the decoded and validated object, its id set from the path.
    fn update(
        &self,
        _ctx: &mut ProcessorContext<T>,
        _object: T,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Update)) }
    }

    /// An update answered with the object or with its JSON form, as
    /// [`Processor::create_encoded`] is to [`Processor::create`]. By default,
    /// [`Processor::update`]'s object.
    fn update_encoded(
        &self,
        ctx: &mut ProcessorContext<T>,
        object: T,
    ) -> impl Future<Output = Result<Retrieved<T>, Self::Error>> + Send {
        async move { self.update(ctx, object).await.map(Retrieved::Object) }
    }

    /// `PATCH /resources/:id` without a retriever, with the sparse body.
    fn patch(
        &self,
        _ctx: &mut ProcessorContext<T>,
        _patch: T::Sparse,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Patch)) }
    }

    /// `DELETE /resources/:id`: answers with the deleted object.
    fn delete(
        &self,
        _ctx: &mut ProcessorContext<T>,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Delete)) }
    }

    /// `HEAD /resources`: answers with the count (`X-Count-Total`).
    fn info(
        &self,
        _ctx: &mut ProcessorContext<T>,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send {
        async { Err(not_implemented::<T, _>(Operation::Info)) }
    }
}

/// The request as a processor of `T` sees it, and the side channels of its answer.
pub struct ProcessorContext<T> {
    /// Boxed: the request goes from the dispatch to the typed step and back, by pointer.
    pub(crate) request: Box<Request>,
    /// Boxed: most requests have none, and the context lives in every request's future.
    pub(crate) stored: Option<Box<T>>,
    pub(crate) claims: Vec<String>,
    /// A custom marshaller encodes the answer (`crate::Options::with_marshaller`).
    pub(crate) marshalled: bool,
    pub(crate) answer: SideChannels,
}

/// What a processor may add to its answer besides the object.
#[derive(Default)]
pub(crate) struct SideChannels {
    pub status: Option<u16>,
    pub redirect: Option<String>,
    pub messages: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub events: Vec<Event>,
    pub cookies: Vec<Cookie>,
    pub automatic_event: bool,
    /// In a mutex only so that the context is `Sync` (a streamed body need not be); boxed,
    /// as few answers take over the response and the context lives in every request's future.
    pub response: Option<Box<std::sync::Mutex<http::Response<Body>>>>,
}

impl<T> ProcessorContext<T> {
    /// A context for `request`, with the claims left by the authenticators.
    pub fn new(request: Request, claims: Vec<String>) -> Self {
        Self::with_boxed(Box::new(request), claims)
    }

    /// [`ProcessorContext::new`] for a request already boxed.
    pub(crate) fn with_boxed(request: Box<Request>, claims: Vec<String>) -> Self {
        Self {
            request,
            stored: None,
            claims,
            marshalled: false,
            answer: SideChannels {
                automatic_event: true,
                ..SideChannels::default()
            },
        }
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// True when objects encoded beforehand ([`Encoded`]) are answered as their bytes: the
    /// client asked for JSON, without `X-Fields`, and no custom marshaller is set. Otherwise
    /// the server decodes them back into objects first, work that a processor holding the
    /// objects themselves saves by answering with those.
    pub fn sends_json_as_stored(&self) -> bool {
        self.request.accept == EncodingType::Json
            && self.request.fields.is_empty()
            && !self.marshalled
    }

    /// The stored object loaded by the retriever (update and merged patch), if one is
    /// configured.
    pub fn stored(&self) -> Option<&T> {
        self.stored.as_deref()
    }

    /// The claims left by the authenticators.
    pub fn claims(&self) -> &[String] {
        &self.claims
    }

    /// Sets the status code of a successful answer (204 sends no body).
    pub fn set_status(&mut self, status: u16) {
        self.answer.status = Some(status);
    }

    /// Answers 302 with `Location`.
    pub fn set_redirect(&mut self, location: impl Into<String>) {
        self.answer.redirect = Some(location.into());
    }

    /// Adds a message, sent in `X-Messages` (joined with `;`).
    pub fn add_message(&mut self, message: impl Into<String>) {
        self.answer.messages.push(message.into());
    }

    /// Free metadata, for the application's own use during the request.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.answer.metadata
    }

    /// Publishes an extra event with the write's own (sent before it).
    pub fn enqueue_event(&mut self, event: Event) {
        self.answer.events.push(event);
    }

    /// Adds a `Set-Cookie` header to the answer.
    pub fn add_cookie(&mut self, cookie: Cookie) {
        self.answer.cookies.push(cookie);
    }

    /// No automatic event (create, update, delete) for this request; events enqueued with
    /// [`Self::enqueue_event`] are still published.
    pub fn disable_automatic_event(&mut self) {
        self.answer.automatic_event = false;
    }

    /// Takes over the response: it is sent as is, after the processor returns (file downloads,
    /// custom formats, or a [`Body::from_stream`] too large to hold in memory). The object the
    /// processor returns is then only used for the automatic event.
    pub fn set_response(&mut self, response: http::Response<Body>) {
        self.answer.response = Some(Box::new(std::sync::Mutex::new(response)));
    }
}
