//! Processors: the business logic of one identity, one trait per operation, with typed access
//! to the decoded, validated input and to the output.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use elemental::{Event, Operation, Request, Sparse};

use crate::{BoxError, BoxFuture, HttpResponse};

/// What a processor returns. Any error converts: an `elemental::Error` or `Errors` is answered
/// with its code, anything else is a 500.
pub type ProcessorResult = Result<(), BoxError>;

/// What a processor answers with.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Output<T> {
    /// Nothing: the answer is 204 (unless a status is set).
    #[default]
    None,
    /// One object.
    One(T),
    /// A list of objects.
    Many(Vec<T>),
}

/// The context of one request, as a processor of `T` sees it.
pub struct Context<T: Sparse> {
    pub(crate) request: Request,
    pub(crate) input: Option<T>,
    pub(crate) sparse_input: Option<T::Sparse>,
    pub(crate) stored: Option<T>,
    pub(crate) output: Output<T>,
    pub(crate) count: Option<u64>,
    pub(crate) next: Option<String>,
    pub(crate) status: Option<u16>,
    pub(crate) redirect: Option<String>,
    pub(crate) messages: Vec<String>,
    pub(crate) claims: Vec<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) events: Vec<Event>,
    pub(crate) response: Option<HttpResponse>,
}

impl<T: Sparse> Context<T> {
    /// A context for `request`, with the claims left by the authenticators.
    pub fn new(request: Request, claims: Vec<String>) -> Self {
        Self {
            request,
            input: None,
            sparse_input: None,
            stored: None,
            output: Output::None,
            count: None,
            next: None,
            status: None,
            redirect: None,
            messages: Vec::new(),
            claims,
            metadata: BTreeMap::new(),
            events: Vec::new(),
            response: None,
        }
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The decoded and validated body (create, update, and patch with a retriever, where it is
    /// the stored object with the patch applied).
    pub fn input(&self) -> Option<&T> {
        self.input.as_ref()
    }

    /// Takes the decoded body out of the context.
    pub fn take_input(&mut self) -> Option<T> {
        self.input.take()
    }

    /// The sparse body of a patch.
    pub fn sparse_input(&self) -> Option<&T::Sparse> {
        self.sparse_input.as_ref()
    }

    /// The stored object loaded by the retriever (update and patch), if one is configured.
    pub fn stored(&self) -> Option<&T> {
        self.stored.as_ref()
    }

    /// Answers with one object.
    pub fn set_output(&mut self, object: T) {
        self.output = Output::One(object);
    }

    /// Answers with a list of objects.
    pub fn set_output_many(&mut self, objects: Vec<T>) {
        self.output = Output::Many(objects);
    }

    /// The output set so far.
    pub fn output(&self) -> &Output<T> {
        &self.output
    }

    /// Sets `X-Count-Total` (by default the length of a list output, else 0).
    pub fn set_count(&mut self, count: u64) {
        self.count = Some(count);
    }

    /// Sets `X-Next`, the cursor of the next page.
    pub fn set_next(&mut self, cursor: impl Into<String>) {
        self.next = Some(cursor.into());
    }

    /// Sets the status code of a successful answer.
    pub fn set_status(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// Answers 302 with `Location`.
    pub fn set_redirect(&mut self, location: impl Into<String>) {
        self.redirect = Some(location.into());
    }

    /// Adds a message, sent in `X-Messages` (joined with `;`).
    pub fn add_message(&mut self, message: impl Into<String>) {
        self.messages.push(message.into());
    }

    /// The claims left by the authenticators.
    pub fn claims(&self) -> &[String] {
        &self.claims
    }

    /// Replaces the claims.
    pub fn set_claims(&mut self, claims: Vec<String>) {
        self.claims = claims;
    }

    /// Free metadata, for the application's own use during the request.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.metadata
    }

    /// Publishes an extra event with the write's own (sent first).
    pub fn enqueue_event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Takes over the response: it is sent as is (file downloads, streams, custom formats).
    pub fn set_response(&mut self, response: HttpResponse) {
        self.response = Some(response);
    }
}

macro_rules! processor_trait {
    ($(#[$doc:meta])* $trait_name:ident, $method:ident) => {
        $(#[$doc])*
        pub trait $trait_name<T: Sparse>: Send + Sync + 'static {
            /// Processes one request.
            fn $method(&self, ctx: &mut Context<T>) -> impl Future<Output = ProcessorResult> + Send;
        }
    };
}

processor_trait!(
    /// `GET /resources` and `GET /parents/:id/resources`.
    RetrieveManyProcessor, process_retrieve_many
);
processor_trait!(
    /// `GET /resources/:id`.
    RetrieveProcessor, process_retrieve
);
processor_trait!(
    /// `POST /resources`: the input is decoded and validated.
    CreateProcessor, process_create
);
processor_trait!(
    /// `PUT /resources/:id` (and `PATCH` when a retriever is configured): the input is decoded
    /// and validated.
    UpdateProcessor, process_update
);
processor_trait!(
    /// `DELETE /resources/:id`.
    DeleteProcessor, process_delete
);
processor_trait!(
    /// `PATCH /resources/:id` without a retriever: the sparse input is decoded.
    PatchProcessor, process_patch
);
processor_trait!(
    /// `HEAD /resources`: set the count.
    InfoProcessor, process_info
);

pub(crate) type Handler<T> =
    Arc<dyn Fn(Context<T>) -> BoxFuture<'static, (Context<T>, ProcessorResult)> + Send + Sync>;

type HandlerFn<T, P> = fn(Arc<P>, Context<T>) -> BoxFuture<'static, (Context<T>, ProcessorResult)>;

/// A processor registered for the operations it implements:
/// `ProcessorSet::<List, _>::new(processor).retrieve_many().create()`.
/// An operation that is not added answers 501.
pub struct ProcessorSet<T: Sparse, P> {
    processor: Arc<P>,
    pub(crate) handlers: BTreeMap<Operation, Handler<T>>,
}

impl<T: Sparse, P: Send + Sync + 'static> ProcessorSet<T, P> {
    /// A set with no operation yet.
    pub fn new(processor: P) -> Self {
        Self {
            processor: Arc::new(processor),
            handlers: BTreeMap::new(),
        }
    }

    fn with(mut self, operation: Operation, f: HandlerFn<T, P>) -> Self {
        let processor = self.processor.clone();
        self.handlers
            .insert(operation, Arc::new(move |ctx| f(processor.clone(), ctx)));
        self
    }

    /// Serves retrieve-many.
    pub fn retrieve_many(self) -> Self
    where
        P: RetrieveManyProcessor<T>,
    {
        self.with(Operation::RetrieveMany, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_retrieve_many(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves retrieve.
    pub fn retrieve(self) -> Self
    where
        P: RetrieveProcessor<T>,
    {
        self.with(Operation::Retrieve, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_retrieve(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves create.
    pub fn create(self) -> Self
    where
        P: CreateProcessor<T>,
    {
        self.with(Operation::Create, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_create(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves update.
    pub fn update(self) -> Self
    where
        P: UpdateProcessor<T>,
    {
        self.with(Operation::Update, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_update(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves delete.
    pub fn delete(self) -> Self
    where
        P: DeleteProcessor<T>,
    {
        self.with(Operation::Delete, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_delete(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves patch (without a retriever).
    pub fn patch(self) -> Self
    where
        P: PatchProcessor<T>,
    {
        self.with(Operation::Patch, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_patch(&mut ctx).await;
                (ctx, r)
            })
        })
    }

    /// Serves info.
    pub fn info(self) -> Self
    where
        P: InfoProcessor<T>,
    {
        self.with(Operation::Info, |p, mut ctx| {
            Box::pin(async move {
                let r = p.process_info(&mut ctx).await;
                (ctx, r)
            })
        })
    }
}

/// A processor set with its model type erased, as the server keeps it.
pub(crate) trait ErasedProcessor: Send + Sync {
    fn operations(&self) -> Vec<Operation>;
    fn run(&self, job: crate::dispatch::Job) -> BoxFuture<'static, crate::dispatch::Outcome>;
}

/// The handlers of a registered processor set.
pub(crate) struct Registered<T: Sparse> {
    handlers: Arc<BTreeMap<Operation, Handler<T>>>,
}

impl<T: Sparse> Registered<T> {
    pub(crate) fn new<P: Send + Sync + 'static>(set: ProcessorSet<T, P>) -> Self {
        Self {
            handlers: Arc::new(set.handlers),
        }
    }
}

impl<T: Sparse> ErasedProcessor for Registered<T> {
    fn operations(&self) -> Vec<Operation> {
        self.handlers.keys().copied().collect()
    }

    fn run(&self, job: crate::dispatch::Job) -> BoxFuture<'static, crate::dispatch::Outcome> {
        Box::pin(crate::dispatch::run_typed::<T>(self.handlers.clone(), job))
    }
}
