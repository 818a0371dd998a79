//! The typed step, called once per request on a model route: decode the body into the
//! generated model, validate it, call the processor's method with it, encode the answer and
//! the automatic event. [`ErasedProcessor`] is the processor with its model type erased, as the
//! server keeps it; it returns an [`Outcome`] and the request it was given (so the dispatch
//! keeps no copy of it), and never calls the dispatch back.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elemental::{
    EncodingType, Error, Errors, Event, EventType, Identifiable, Model, Operation, Request,
    validate_advanced_specification,
};
use futures_util::FutureExt;
use futures_util::future::Either;

use crate::auth::IdentifiableRetriever;
use crate::options::{ErrorTransformer, Marshal, Marshaller, Unmarshaller};
use crate::processor::{Items, Page, Processor, ProcessorContext, Retrieved};
use crate::response::Answer;
use crate::{BoxFuture, HttpResponse};

/// What the typed step needs besides the processor.
pub(crate) struct Job {
    pub request: Box<Request>,
    pub claims: Vec<String>,
    pub retriever: Option<Arc<dyn IdentifiableRetriever>>,
    pub recover_panics: bool,
    pub error_transformer: Option<ErrorTransformer>,
    pub marshaller: Option<Marshaller>,
    pub unmarshaller: Option<Unmarshaller>,
    /// How long decoding and the processor may take (the server's write timeout; zero: no
    /// limit).
    pub timeout: Duration,
}

/// What the typed step produced.
pub(crate) enum Outcome {
    /// An answer to write, and the events to publish.
    Answer(Answer, Vec<Event>),
    /// The processor took over the response.
    Custom(HttpResponse, Vec<Event>),
    /// Errors to answer.
    Failed(Errors),
}

/// A registered processor, its model type erased.
pub(crate) trait ErasedProcessor: Send + Sync {
    /// The operations served.
    fn operations(&self) -> &[Operation];
    /// Runs the typed step of one request; gives its request back with the outcome.
    fn run(&self, job: Job) -> BoxFuture<'static, (Outcome, Box<Request>)>;
}

/// The processor `P` of the model `T`, serving `operations` (its own, or those of them that
/// the relationships allow).
pub(crate) struct Typed<T, P> {
    processor: Arc<P>,
    operations: Vec<Operation>,
    model: std::marker::PhantomData<fn() -> T>,
}

impl<T: Model, P: Processor<T>> Typed<T, P> {
    pub(crate) fn new(processor: P, operations: Vec<Operation>) -> Self {
        Self {
            processor: Arc::new(processor),
            operations,
            model: std::marker::PhantomData,
        }
    }
}

impl<T: Model, P: Processor<T>> ErasedProcessor for Typed<T, P> {
    fn operations(&self) -> &[Operation] {
        &self.operations
    }

    fn run(&self, job: Job) -> BoxFuture<'static, (Outcome, Box<Request>)> {
        Box::pin(run::<T, P>(self.processor.clone(), job))
    }
}

/// The processor method to call, with its input (boxed: the call is moved through the
/// layers of the typed step's future, and a move copies the whole enum, whatever its variant).
enum Call<T: Model> {
    RetrieveMany,
    Retrieve,
    Create(Box<T>),
    Update(Box<T>),
    Patch(Box<T::Sparse>),
    Delete,
    Info,
}

/// What the processor answered (one object boxed, for the same reason as [`Call`]'s input).
enum Answered<T> {
    One(Box<T>),
    /// A retrieved object as its JSON form, encoded beforehand.
    Encoded(elemental::Encoded<T>),
    Page(Page<T>),
    Count(u64),
}

impl<T> From<Retrieved<T>> for Answered<T> {
    fn from(retrieved: Retrieved<T>) -> Self {
        match retrieved {
            Retrieved::Object(object) => Answered::One(Box::new(object)),
            Retrieved::Encoded(encoded) => Answered::Encoded(encoded),
        }
    }
}

/// What the automatic event of a write is made from: the answered object, or its JSON form.
enum EventSource<'a, T> {
    Object(&'a T),
    Encoded(&'a elemental::Encoded<T>),
}

fn bahamut_error(title: &str, description: impl Into<String>, code: u16) -> Error {
    Error::new(title, description, "bahamut", code)
}

/// The typed step of one request. A plain function returning an `async` block, not an `async
/// fn`: an `async fn` keeps its arguments in its future beside the locals they are moved to,
/// and this future is boxed for every request (docs/benchmarks.md, "A smaller typed step").
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep the job twice in the boxed future"
)]
fn run<T: Model, P: Processor<T>>(
    processor: Arc<P>,
    job: Job,
) -> impl Future<Output = (Outcome, Box<Request>)> + Send {
    let Job {
        mut request,
        claims,
        retriever,
        recover_panics,
        error_transformer,
        marshaller,
        unmarshaller,
        timeout,
    } = job;
    async move {
        let deadline = Deadline::after(timeout);
        let operation = request.operation;
        // Scoped, so that the decoded input, once moved out, takes no room in the future
        // while the processor runs.
        let (call, stored) = {
            let decoder = Decoder {
                unmarshaller: unmarshaller.as_ref(),
            };
            let prepared = deadline.bound(prepare::<T>(&request, retriever.as_deref(), decoder));
            let prepared = prepared.await.and_then(|prepared| prepared);
            // Decoded (or refused): the body's bytes are released now rather than at the end
            // of the request, and the audit sees the request without them.
            request.data = Bytes::new();
            match prepared {
                Ok(prepared) => prepared,
                Err(errors) => return (Outcome::Failed(errors), request),
            }
        };
        let mut ctx = ProcessorContext::<T>::with_boxed(request, claims);
        ctx.marshalled = marshaller.is_some();
        ctx.stored = stored;
        let called = AssertUnwindSafe(call_processor(processor.as_ref(), &mut ctx, call));
        let result = match recover_panics {
            true => deadline.bound(called.catch_unwind()).await,
            false => {
                let unwound = called.map(Ok::<_, Box<dyn std::any::Any + Send>>);
                deadline.bound(unwound).await
            }
        };
        let outcome = match result {
            Ok(Ok(Ok(answered))) => finish(&mut ctx, answered, operation, marshaller.as_ref()),
            Ok(Ok(Err(error))) => {
                let errors: Errors = error.into();
                Outcome::Failed(match &error_transformer {
                    Some(transform) => transform(errors),
                    None => errors,
                })
            }
            Ok(Err(payload)) => Outcome::Failed(panicked::<T>(payload.as_ref(), operation)),
            Err(too_long) => Outcome::Failed(too_long),
        };
        (outcome, ctx.request)
    }
}

/// When the typed step must be done by, if ever.
#[derive(Clone, Copy)]
struct Deadline(Option<tokio::time::Instant>);

impl Deadline {
    /// `timeout` from now; zero is none.
    fn after(timeout: Duration) -> Self {
        Self((!timeout.is_zero()).then(|| tokio::time::Instant::now() + timeout))
    }

    /// `work`'s output, or the 503 of a request that took too long (the same future either
    /// way, no bigger than `work` and a timer, as `.await` moves it).
    fn bound<F: Future>(self, work: F) -> impl Future<Output = Result<F::Output, Errors>> {
        match self.0 {
            None => Either::Left(work.map(Ok)),
            Some(deadline) => {
                let timed = tokio::time::timeout_at(deadline, work);
                Either::Right(timed.map(|done| done.map_err(|_| too_long())))
            }
        }
    }
}

fn too_long() -> Errors {
    Errors::from(bahamut_error(
        "Service Unavailable",
        "The request took too long to process",
        503,
    ))
}

fn panicked<T: Model>(payload: &(dyn std::any::Any + Send), operation: Operation) -> Errors {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    tracing::error!(panic = %message, operation = %operation, identity = T::IDENTITY.name, "processor panicked");
    Errors::from(bahamut_error(
        "Internal Server Error",
        format!("panic: {message}"),
        500,
    ))
}

/// The processor's method for `call`. A plain function returning an `async` block: as an
/// `async fn` its future kept `call` twice (as passed, and as matched).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep the call's input twice in its future"
)]
fn call_processor<'a, T: Model, P: Processor<T>>(
    processor: &'a P,
    ctx: &'a mut ProcessorContext<T>,
    call: Call<T>,
) -> impl Future<Output = Result<Answered<T>, P::Error>> + Send + 'a {
    async move {
        Ok(match call {
            Call::RetrieveMany => Answered::Page(processor.retrieve_many(ctx).await?),
            Call::Retrieve => processor.retrieve_encoded(ctx).await?.into(),
            Call::Create(object) => processor.create_encoded(ctx, *object).await?.into(),
            Call::Update(object) => processor.update_encoded(ctx, *object).await?.into(),
            Call::Patch(patch) => Answered::One(Box::new(processor.patch(ctx, *patch).await?)),
            Call::Delete => Answered::One(Box::new(processor.delete(ctx).await?)),
            Call::Info => Answered::Count(processor.info(ctx).await?),
        })
    }
}

/// Decodes and validates the input; a patch with a retriever is merged into the stored object
/// and becomes an update.
async fn prepare<T: Model>(
    request: &Request,
    retriever: Option<&dyn IdentifiableRetriever>,
    decoder: Decoder<'_>,
) -> Result<(Call<T>, Option<Box<T>>), Errors> {
    if matches!(
        request.operation,
        Operation::Create | Operation::Update | Operation::Patch
    ) {
        elemental::body_budget::check_body_budget(request.content_type, &request.data)?;
    }
    match request.operation {
        Operation::RetrieveMany => Ok((Call::RetrieveMany, None)),
        Operation::Retrieve => Ok((Call::Retrieve, None)),
        Operation::Delete => Ok((Call::Delete, None)),
        Operation::Info => Ok((Call::Info, None)),
        Operation::Create => {
            let object: T = match request.data.is_empty() && decoder.unmarshaller.is_none() {
                true => T::default(),
                false => decoder.object(request)?,
            };
            check(&object, None, Operation::Create)?;
            Ok((Call::Create(Box::new(object)), None))
        }
        Operation::Update => {
            let mut object: T = decoder.object(request)?;
            refuse_other_id(&object, request)?;
            object.set_id(&request.object_id);
            let stored = load::<T>(retriever, request).await?;
            if let Some(stored) = &stored {
                keep_omitted_protected(&mut object, stored, request)?;
            }
            check(&object, stored.as_ref(), Operation::Update)?;
            Ok((Call::Update(Box::new(object)), stored.map(Box::new)))
        }
        Operation::Patch => {
            let sparse: T::Sparse = decode_object(request)?;
            let Some(stored) = load::<T>(retriever, request).await? else {
                return Ok((Call::Patch(Box::new(sparse)), None));
            };
            let mut merged = stored.clone();
            merged.patch(&sparse);
            refuse_other_id(&merged, request)?;
            merged.set_id(&request.object_id);
            check(&merged, Some(&stored), Operation::Update)?;
            Ok((Call::Update(Box::new(merged)), Some(Box::new(stored))))
        }
    }
}

/// How the bodies of creates and updates are decoded: the model's decoder, or the identity's
/// custom unmarshaller.
#[derive(Clone, Copy)]
struct Decoder<'a> {
    unmarshaller: Option<&'a Unmarshaller>,
}

impl Decoder<'_> {
    fn object<T: Model>(&self, request: &Request) -> Result<T, Errors> {
        let Some(unmarshal) = self.unmarshaller else {
            return decode_object(request);
        };
        let object = unmarshal(request).map_err(decode_error)?;
        object.as_any().downcast_ref::<T>().cloned().ok_or_else(|| {
            Errors::from(bahamut_error(
                "Internal Server Error",
                format!(
                    "the unmarshaller of {} returned a {}",
                    T::IDENTITY.name,
                    object.identity().name
                ),
                500,
            ))
        })
    }
}

/// Decodes the request's body, which must be an object (a model or its sparse form).
fn decode_object<D: serde::de::DeserializeOwned>(request: &Request) -> Result<D, Errors> {
    if !elemental::is_object_body(request.content_type, &request.data) {
        return Err(Errors::from(bahamut_error(
            "Bad Request",
            format!(
                "unable to decode {}: the body must be an object",
                request.content_type
            ),
            400,
        )));
    }
    request.decode().map_err(decode_error)
}

fn decode_error(e: Error) -> Errors {
    Errors::from(bahamut_error("Bad Request", e.description, 400))
}

/// The path names the object: a body naming another one is refused, not ignored.
fn refuse_other_id<T: Model>(object: &T, request: &Request) -> Result<(), Errors> {
    if object.id().is_empty() || object.id() == request.object_id {
        return Ok(());
    }
    let name = object
        .attribute_specifications()
        .iter()
        .find(|spec| spec.identifier)
        .map_or("ID", |spec| spec.name);
    Err(Errors::from(elemental::read_only_error(name, "modify")))
}

/// PUT carries the user's attributes: the read-only and creation-only ones that the body leaves
/// out keep their stored values (only a different value sent is an error).
fn keep_omitted_protected<T: Model>(
    object: &mut T,
    stored: &T,
    request: &Request,
) -> Result<(), Errors> {
    let sent: BTreeMap<String, serde::de::IgnoredAny> = request.decode().map_err(decode_error)?;
    let omitted: Vec<String> = object
        .attribute_specifications()
        .iter()
        .filter(|spec| spec.exposed && (spec.read_only || spec.creation_only))
        .filter(|spec| !sent.contains_key(spec.name))
        .map(|spec| spec.name.to_string())
        .collect();
    if !omitted.is_empty() {
        object.patch(&stored.to_sparse(&omitted));
    }
    Ok(())
}

fn check<T: Model>(object: &T, stored: Option<&T>, operation: Operation) -> Result<(), Errors> {
    let mut errors = Errors::new();
    errors.record_all(object.validate());
    errors.record_all(validate_advanced_specification(
        object,
        stored.map(|s| s as &dyn Identifiable),
        operation,
    ));
    errors.into_result()
}

async fn load<T: Model>(
    retriever: Option<&dyn IdentifiableRetriever>,
    request: &Request,
) -> Result<Option<T>, Errors> {
    let Some(retriever) = retriever else {
        return Ok(None);
    };
    let stored = retriever.retrieve(request).await.map_err(Errors::from)?;
    Ok(stored.as_any().downcast_ref::<T>().cloned())
}

fn event_type(operation: Operation) -> Option<EventType> {
    match operation {
        Operation::Create => Some(EventType::Create),
        Operation::Update | Operation::Patch => Some(EventType::Update),
        Operation::Delete => Some(EventType::Delete),
        _ => None,
    }
}

/// The outcome of an answered request: the processor's custom response, or the encoded
/// answer; the processor's events, then the automatic one.
fn finish<T: Model>(
    ctx: &mut ProcessorContext<T>,
    mut answered: Answered<T>,
    operation: Operation,
    marshaller: Option<&Marshaller>,
) -> Outcome {
    match &mut answered {
        Answered::One(object) => object.blank_secrets(),
        Answered::Page(page) => page.items.blank_secrets(),
        Answered::Encoded(_) | Answered::Count(_) => {}
    }
    let mut events = std::mem::take(&mut ctx.answer.events);
    let source = match &answered {
        Answered::One(object) => Some(EventSource::Object(&**object)),
        Answered::Encoded(encoded) => Some(EventSource::Encoded(encoded)),
        Answered::Page(_) | Answered::Count(_) => None,
    };
    let automatic = source
        .filter(|_| ctx.answer.automatic_event)
        .and_then(|source| event_type(operation).map(|kind| (kind, source)));
    if let Some(response) = ctx.answer.response.take() {
        if let Some((kind, source)) = automatic {
            match automatic_event(kind, source, None) {
                Ok(event) => events.push(event),
                Err(e) => return Outcome::Failed(Errors::from(e)),
            }
        }
        let mut response = (*response).into_inner().unwrap_or_else(|p| p.into_inner());
        crate::cookie::add_cookies(response.headers_mut(), &ctx.answer.cookies);
        return Outcome::Custom(response, events);
    }
    let answer = match encode(ctx, &answered, operation, marshaller) {
        Ok(answer) => answer,
        Err(e) => return Outcome::Failed(Errors::from(e)),
    };
    if let Some((kind, source)) = automatic {
        // The answer is the object's whole JSON form when the client asked for JSON, without
        // X-Fields or a custom marshaller: the event takes those bytes instead of encoding the
        // object a second time.
        let shared = ctx.sends_json_as_stored() && !answer.body.is_empty();
        match automatic_event(kind, source, shared.then_some(&answer.body)) {
            Ok(event) => events.push(event),
            Err(e) => return Outcome::Failed(Errors::from(e)),
        }
    }
    Outcome::Answer(answer, events)
}

/// The automatic event of a write, in JSON: from the object's JSON form when there is one
/// (`answer_json`, the answer's bytes, or the processor's encoded answer), else encoded from the
/// object.
fn automatic_event<T: Model>(
    kind: EventType,
    source: EventSource<'_, T>,
    answer_json: Option<&Bytes>,
) -> Result<Event, Error> {
    let json = match (source, answer_json) {
        (_, Some(json)) => json.clone(),
        (EventSource::Encoded(encoded), None) => encoded.json().clone(),
        (EventSource::Object(object), None) => {
            return Event::from_identifiable(kind, object, EncodingType::Json);
        }
    };
    Ok(Event::from_encoded(
        kind,
        T::IDENTITY.name,
        json,
        EncodingType::Json,
    ))
}

fn encode<T: Model>(
    ctx: &mut ProcessorContext<T>,
    answered: &Answered<T>,
    operation: Operation,
    marshaller: Option<&Marshaller>,
) -> Result<Answer, Error> {
    let request = &ctx.request;
    let (accept, fields) = (request.accept, &request.fields);
    let (body, count, next) = match (answered, marshaller) {
        (Answered::One(object), Some(marshal)) => (
            Some(marshal(request, Marshal::One(&**object))?.into()),
            0,
            None,
        ),
        (Answered::Encoded(encoded), Some(marshal)) => (
            Some(marshal(request, Marshal::One(&encoded.decode()?))?.into()),
            0,
            None,
        ),
        (Answered::Page(page), Some(marshal)) => {
            let objects = page.items.objects()?;
            let items = objects.iter().map(|o| o as &dyn Identifiable).collect();
            (
                Some(marshal(request, Marshal::Many(items))?.into()),
                page.total,
                page.next.clone(),
            )
        }
        (answered, _) => encode_model(answered, accept, fields, ctx.sends_json_as_stored())?,
    };
    // The mode is answered only to a client that asked (Go clients see the reference headers).
    let count_mode = match answered {
        Answered::Page(page) => request.count_mode.map(|_| page.count_mode),
        Answered::Count(_) => request.count_mode.map(|_| elemental::CountMode::Exact),
        Answered::One(_) | Answered::Encoded(_) => None,
    };
    let answer = &mut ctx.answer;
    let status = match (&answer.redirect, &body) {
        (Some(_), _) => 302,
        _ if operation == Operation::Info => 204,
        (None, None) => answer.status.unwrap_or(204),
        (None, Some(_)) => answer.status.unwrap_or(200),
    };
    Ok(Answer {
        status,
        body: match status {
            204 => Bytes::new(),
            _ => body.unwrap_or_default(),
        },
        encoding: accept,
        count,
        count_mode,
        next,
        messages: std::mem::take(&mut answer.messages),
        location: answer.redirect.take(),
        cookies: std::mem::take(&mut answer.cookies),
    })
}

/// An encoded answer: body (none for a count), `X-Count-Total`, `X-Next`.
type EncodedAnswer = (Option<Bytes>, u64, Option<String>);

/// The model's own encoding of an answer; `as_stored`: objects encoded beforehand are sent as
/// their JSON bytes ([`ProcessorContext::sends_json_as_stored`]).
fn encode_model<T: Model>(
    answered: &Answered<T>,
    accept: EncodingType,
    fields: &[String],
    as_stored: bool,
) -> Result<EncodedAnswer, Error> {
    Ok(match answered {
        Answered::Count(count) => (None, *count, None),
        Answered::One(object) => (Some(encode_one(&**object, accept, fields)?.into()), 0, None),
        Answered::Encoded(encoded) => {
            let body = match as_stored {
                true => encoded.json().clone(),
                false => encode_one(&encoded.decode()?, accept, fields)?.into(),
            };
            (Some(body), 0, None)
        }
        Answered::Page(page) => {
            let body = match (&page.items, fields.is_empty()) {
                (Items::Encoded(items), true) if as_stored => elemental::json_array(items),
                (items, true) => elemental::encode(accept, &*items.objects()?)?,
                (items, false) => {
                    let sparse: Vec<T::Sparse> = items
                        .objects()?
                        .iter()
                        .map(|o| o.to_sparse(fields))
                        .collect();
                    elemental::encode(accept, &sparse)?
                }
            };
            (Some(body.into()), page.total, page.next.clone())
        }
    })
}

/// One object in `accept`, only its `fields` if some are asked for.
fn encode_one<T: Model>(
    object: &T,
    accept: EncodingType,
    fields: &[String],
) -> Result<Vec<u8>, Error> {
    match fields.is_empty() {
        true => elemental::encode(accept, object),
        false => elemental::encode(accept, &object.to_sparse(fields)),
    }
}
