//! The dispatch pipeline of model routes, in bahamut's order:
//! version -> parse -> rate limits -> relationships (405) -> authenticators (401) ->
//! authorizers (403) -> read-only mode (423) -> processor presence (501) -> decode (400) ->
//! validate (422) -> processor -> events -> audit -> encode.
//!
//! Everything up to the processor presence is shared ([`handle_model`]); decoding, validation,
//! the processor call and encoding are typed ([`run_typed`]), one generic function for every
//! operation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use elemental::{
    EncodingType, Error, Errors, Event, EventType, Identifiable, Operation, Request,
    RequestContext, Sparse, validate_advanced_specification,
};
use futures_util::FutureExt;

use crate::auth::{AuditRecord, AuthAction, AuthContext, IdentifiableRetriever};
use crate::processor::{Context, Handler, Output};
use crate::response::{Answer, Finish, error_response, model_response};
use crate::server::Inner;
use crate::{BoxError, HttpResponse};

/// What the typed step needs.
pub(crate) struct Job {
    pub request: Request,
    pub claims: Vec<String>,
    pub retriever: Option<Arc<dyn IdentifiableRetriever>>,
    pub recover_panics: bool,
}

/// What the typed step produced.
pub(crate) enum Outcome {
    /// An answer to encode, and the events to publish.
    Answer(Answer, Vec<Event>),
    /// The processor took over the response.
    Custom(HttpResponse, Vec<Event>),
    /// Errors to answer.
    Failed(Errors),
}

fn bahamut_error(title: &str, description: impl Into<String>, code: u16) -> Error {
    Error::new(title, description, "bahamut", code)
}

/// The error a processor returned, as the client sees it.
pub(crate) fn processor_errors(error: BoxError) -> Errors {
    let error = match error.downcast::<Errors>() {
        Ok(errors) => return *errors,
        Err(other) => other,
    };
    match error.downcast::<Error>() {
        Ok(e) => Errors::from(*e),
        Err(other) => Errors::from(Error::new(
            "Internal Server Error",
            other.to_string(),
            "elemental",
            500,
        )),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn decode_error(e: Error) -> Errors {
    Errors::from(bahamut_error("Bad Request", e.description, 400))
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

/// The typed step: decode and validate the input, call the processor, encode the output.
pub(crate) async fn run_typed<T: Sparse>(
    handlers: Arc<BTreeMap<Operation, Handler<T>>>,
    job: Job,
) -> Outcome {
    let operation = job.request.operation;
    let fields = job.request.fields.clone();
    let accept = job.request.accept;
    let mut ctx = Context::<T>::new(job.request, job.claims);
    let handler_operation = match prepare(&mut ctx, job.retriever.as_deref()).await {
        Ok(op) => op,
        Err(errors) => return Outcome::Failed(errors),
    };
    // Decoded: the body's bytes are released now rather than at the end of the request.
    ctx.request.data = Bytes::new();
    let Some(handler) = handlers.get(&handler_operation).cloned() else {
        return Outcome::Failed(Errors::from(bahamut_error(
            "Not implemented",
            format!(
                "No handler for operation {} on {}",
                operation,
                T::IDENTITY.name
            ),
            501,
        )));
    };
    let result = if job.recover_panics {
        AssertUnwindSafe(handler(ctx)).catch_unwind().await
    } else {
        Ok(handler(ctx).await)
    };
    let mut ctx = match result {
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(panic = %message, operation = %operation, identity = T::IDENTITY.name, "processor panicked");
            return Outcome::Failed(Errors::from(bahamut_error(
                "Internal Server Error",
                format!("panic: {message}"),
                500,
            )));
        }
        Ok((_, Err(e))) => return Outcome::Failed(processor_errors(e)),
        Ok((ctx, Ok(()))) => ctx,
    };
    let mut events = std::mem::take(&mut ctx.events);
    if let Some(response) = ctx.response.take() {
        return Outcome::Custom(response, events);
    }
    match encode_output(&mut ctx, operation, accept, &fields, &mut events) {
        Ok(answer) => Outcome::Answer(answer, events),
        Err(e) => Outcome::Failed(Errors::from(e)),
    }
}

/// Decodes and validates the input; returns the operation whose handler must run (patch runs
/// the update handler when a retriever is configured).
async fn prepare<T: Sparse>(
    ctx: &mut Context<T>,
    retriever: Option<&dyn IdentifiableRetriever>,
) -> Result<Operation, Errors> {
    let request = &ctx.request;
    if matches!(
        request.operation,
        Operation::Create | Operation::Update | Operation::Patch
    ) {
        elemental::body_budget::check_body_budget(request.content_type, &request.data)?;
    }
    match request.operation {
        Operation::Create => {
            let object: T = if request.data.is_empty() {
                T::default()
            } else {
                decode_object(request)?
            };
            check(&object, None, Operation::Create)?;
            ctx.input = Some(object);
            Ok(Operation::Create)
        }
        Operation::Update => {
            let mut object: T = decode_object(request)?;
            refuse_other_id(&object, request)?;
            object.set_id(&request.object_id);
            let stored = load::<T>(retriever, request).await?;
            if let Some(stored) = &stored {
                keep_omitted_protected(&mut object, stored, request)?;
            }
            check(&object, stored.as_ref(), Operation::Update)?;
            ctx.input = Some(object);
            ctx.stored = stored;
            Ok(Operation::Update)
        }
        Operation::Patch => {
            let sparse: T::Sparse = decode_object(request)?;
            let Some(stored) = load::<T>(retriever, request).await? else {
                ctx.sparse_input = Some(sparse);
                return Ok(Operation::Patch);
            };
            let mut merged = stored.clone();
            merged.patch(&sparse);
            refuse_other_id(&merged, request)?;
            merged.set_id(&request.object_id);
            check(&merged, Some(&stored), Operation::Update)?;
            ctx.input = Some(merged);
            ctx.stored = Some(stored);
            ctx.sparse_input = Some(sparse);
            Ok(Operation::Update)
        }
        other => Ok(other),
    }
}

/// The path names the object: a body naming another one is refused, not ignored.
fn refuse_other_id<T: Sparse>(object: &T, request: &Request) -> Result<(), Errors> {
    if object.id().is_empty() || object.id() == request.object_id {
        return Ok(());
    }
    let name = object
        .attribute_specifications()
        .iter()
        .find(|spec| spec.identifier)
        .map_or("ID", |spec| spec.name.as_str());
    Err(Errors::from(elemental::read_only_error(name, "modify")))
}

/// PUT carries the user's attributes: the read-only and creation-only ones that the body leaves
/// out keep their stored values (only a different value sent is an error).
fn keep_omitted_protected<T: Sparse>(
    object: &mut T,
    stored: &T,
    request: &Request,
) -> Result<(), Errors> {
    let sent: BTreeMap<String, serde::de::IgnoredAny> = request.decode().map_err(decode_error)?;
    let omitted: Vec<String> = object
        .attribute_specifications()
        .iter()
        .filter(|spec| spec.exposed && (spec.read_only || spec.creation_only))
        .filter(|spec| !sent.contains_key(&spec.name))
        .map(|spec| spec.name.clone())
        .collect();
    if !omitted.is_empty() {
        object.patch(&stored.to_sparse(&omitted));
    }
    Ok(())
}

fn check<T: Sparse>(object: &T, stored: Option<&T>, operation: Operation) -> Result<(), Errors> {
    let mut errors = Errors::new();
    errors.record_all(object.validate());
    errors.record_all(validate_advanced_specification(
        object,
        stored.map(|s| s as &dyn Identifiable),
        operation,
    ));
    errors.into_result()
}

async fn load<T: Sparse>(
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

fn encode_output<T: Sparse>(
    ctx: &mut Context<T>,
    operation: Operation,
    accept: EncodingType,
    fields: &[String],
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let output = std::mem::take(&mut ctx.output);
    let (body, count) = match output {
        Output::None => (None, 0),
        Output::One(mut object) => {
            object.blank_secrets();
            if let Some(kind) = event_type(operation) {
                events.push(Event::from_identifiable(kind, &object, EncodingType::Json)?);
            }
            let body = if fields.is_empty() {
                elemental::encode(accept, &object)?
            } else {
                elemental::encode(accept, &object.to_sparse(fields))?
            };
            (Some(body), 0)
        }
        Output::Many(mut objects) => {
            objects.iter_mut().for_each(Identifiable::blank_secrets);
            let count = objects.len() as u64;
            let body = if fields.is_empty() {
                elemental::encode(accept, &objects)?
            } else {
                let sparse: Vec<T::Sparse> = objects.iter().map(|o| o.to_sparse(fields)).collect();
                elemental::encode(accept, &sparse)?
            };
            (Some(body), count)
        }
    };
    let status = match (&ctx.redirect, &body) {
        (Some(_), _) => 302,
        _ if operation == Operation::Info => 204,
        (None, None) => ctx.status.unwrap_or(204),
        (None, Some(_)) => ctx.status.unwrap_or(200),
    };
    Ok(Answer {
        status,
        body: if status == 204 {
            Vec::new()
        } else {
            body.unwrap_or_default()
        },
        encoding: accept,
        count: ctx.count.unwrap_or(count),
        next: ctx.next.take(),
        messages: std::mem::take(&mut ctx.messages),
        location: ctx.redirect.take(),
    })
}

/// The shared part of the pipeline, for a request on a model route.
pub(crate) async fn handle_model(
    inner: Arc<Inner>,
    parts: http::request::Parts,
    body: Bytes,
    remote: Option<SocketAddr>,
) -> HttpResponse {
    let finish = Finish {
        request_headers: &parts.headers,
        cors: inner.options.cors.as_ref(),
        compression: inner
            .options
            .compression
            .then_some(inner.options.compression_threshold),
    };
    let (response, request, errors) = pipeline(&inner, &parts, body, remote, &finish).await;
    if let Some(auditer) = &inner.options.auditer {
        auditer.audit(&AuditRecord {
            request: request.as_ref(),
            status: response.status().as_u16(),
            errors: errors.as_ref(),
        });
    }
    response
}

type PipelineResult = (HttpResponse, Option<Request>, Option<Errors>);

async fn pipeline(
    inner: &Inner,
    parts: &http::request::Parts,
    body: Bytes,
    remote: Option<SocketAddr>,
    finish: &Finish<'_>,
) -> PipelineResult {
    let fail = |errors: Errors, request: Option<Request>| -> PipelineResult {
        let trace = request
            .as_ref()
            .map_or("unknown", |r| r.request_id.as_str());
        let errors = conceal_internal(errors, trace, request.as_ref()).with_trace(trace);
        let encoding = request.as_ref().map_or(EncodingType::Json, |r| r.accept);
        (
            error_response(&errors, encoding, finish),
            request,
            Some(errors),
        )
    };
    let options = &inner.options;
    let path = parts.uri.path();
    let stripped = crate::router::strip_prefix(path, &options.api_prefix).unwrap_or(path);
    let version = match elemental::api_version_from_path(stripped) {
        Ok((version, _)) => version,
        Err(e) => return fail(Errors::from(e), None),
    };
    let Some(manager) = options.model_managers.get(&version) else {
        return fail(
            Errors::from(bahamut_error("Bad Request", "Unknown api version", 400)),
            None,
        );
    };
    let context = RequestContext {
        api_prefix: &options.api_prefix,
        remote_addr: remote,
    };
    let request = match Request::from_http(parts, body, *manager, &context) {
        Ok(r) => r,
        Err(errors) => return fail(errors, None),
    };
    if let Some(errors) = rate_limited(inner, &request) {
        return fail(errors, Some(request));
    }
    if !manager.relationships().is_operation_allowed(
        &request.identity,
        &request.parent_identity,
        request.operation,
    ) {
        let target = match request.operation {
            Operation::RetrieveMany | Operation::Info | Operation::Patch => {
                request.identity.category
            }
            _ => request.identity.name,
        };
        let description = format!(
            "{} operation not allowed on {target}",
            request.operation.camel_name()
        );
        let allowed = allowed_methods(
            *manager,
            request.identity,
            request.parent_identity,
            !request.object_id.is_empty(),
        );
        let mut failed = fail(
            Errors::from(bahamut_error("Not allowed", description, 405)),
            Some(request),
        );
        failed
            .0
            .headers_mut()
            .insert(http::header::ALLOW, crate::response::allow_header(&allowed));
        return failed;
    }
    if let Err(e) = request.validate_namespace() {
        return fail(Errors::from(e), Some(request));
    }
    let mut claims = Vec::new();
    if let Err(errors) = authenticate(inner, &request, &mut claims).await {
        return fail(errors, Some(request));
    }
    if options.read_only
        && request.operation.is_write()
        && !options.read_only_exclusions.contains(request.identity.name)
    {
        let e = bahamut_error(
            "Locked",
            "This api is currently locked. Please try again later",
            423,
        );
        return fail(Errors::from(e), Some(request));
    }
    let processor = inner.processors.get(request.identity.name).cloned();
    let needed = match request.operation {
        Operation::Patch if options.retriever.is_some() => Operation::Update,
        op => op,
    };
    let Some(processor) = processor.filter(|p| p.operations().contains(&needed)) else {
        let description = format!(
            "No handler for operation {} on {}",
            request.operation, request.identity.name
        );
        return fail(
            Errors::from(bahamut_error("Not implemented", description, 501)),
            Some(request),
        );
    };
    let job = Job {
        request: request.clone(),
        claims,
        retriever: options.retriever.clone(),
        recover_panics: options.recover_panics,
    };
    // The typed step owns the body from here (and releases it once decoded).
    let mut request = request;
    request.data = Bytes::new();
    let outcome = match options.write_timeout.is_zero() {
        true => processor.run(job).await,
        false => match tokio::time::timeout(options.write_timeout, processor.run(job)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed(Errors::from(bahamut_error(
                "Service Unavailable",
                "The request took too long to process",
                503,
            ))),
        },
    };
    match outcome {
        Outcome::Failed(errors) => fail(errors, Some(request)),
        Outcome::Custom(response, events) => {
            publish(inner, events);
            (response, Some(request), None)
        }
        Outcome::Answer(answer, events) => {
            publish(inner, events);
            (model_response(answer, finish), Some(request), None)
        }
    }
}

/// The description of every 500 a client sees: the detail stays in the logs.
pub(crate) fn internal_description(trace: &str) -> String {
    format!(
        "The server could not process the request; its logs have the details under trace {trace}"
    )
}

/// Internal errors (500, and storage that cannot be reached) are logged at error level with
/// their detail and the request's trace id, and reach the client with a generic description.
fn conceal_internal(errors: Errors, trace: &str, request: Option<&Request>) -> Errors {
    let hidden = |e: &Error| e.code == 500 || (e.code == 503 && e.subject == "manipulate");
    if !errors.iter().any(hidden) {
        return errors;
    }
    errors
        .into_iter()
        .map(|mut e| {
            if hidden(&e) {
                tracing::error!(
                    trace,
                    code = e.code,
                    title = %e.title,
                    subject = %e.subject,
                    detail = %e.description,
                    operation = request.map(|r| r.operation.to_string()),
                    identity = request.map(|r| r.identity.name),
                    "internal error"
                );
                e.description = internal_description(trace);
            }
            e
        })
        .collect()
}

/// The methods the relationships allow on a model path, if it is one (for the `Allow` of the
/// router's 405).
pub(crate) fn path_allowed_methods(
    options: &crate::Options,
    path: &str,
) -> Option<Vec<http::Method>> {
    let stripped = crate::router::strip_prefix(path, &options.api_prefix)?;
    let (version, rest) = elemental::api_version_from_path(stripped).ok()?;
    let manager = *options.model_managers.get(&version)?;
    let (identity, parent, object) = elemental::path_identities(rest, manager)?;
    Some(allowed_methods(manager, identity, parent, object))
}

/// The methods the relationships allow on a route (for `Allow`).
fn allowed_methods(
    manager: &dyn elemental::ModelManager,
    identity: elemental::Identity,
    parent: elemental::Identity,
    object: bool,
) -> Vec<http::Method> {
    use http::Method;
    let operations: &[(Operation, Method)] = if !object {
        &[
            (Operation::RetrieveMany, Method::GET),
            (Operation::Create, Method::POST),
            (Operation::Info, Method::HEAD),
        ]
    } else {
        &[
            (Operation::Retrieve, Method::GET),
            (Operation::Update, Method::PUT),
            (Operation::Patch, Method::PATCH),
            (Operation::Delete, Method::DELETE),
        ]
    };
    let relationships = manager.relationships();
    operations
        .iter()
        .filter(|(operation, _)| relationships.is_operation_allowed(&identity, &parent, *operation))
        .map(|(_, method)| method.clone())
        .collect()
}

fn publish(inner: &Inner, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    match &inner.options.event_publisher {
        Some(publisher) => publisher.publish(events),
        None => tracing::debug!(count = events.len(), "no event publisher: events dropped"),
    }
}

fn rate_limited(inner: &Inner, request: &Request) -> Option<Errors> {
    let exceeded = || {
        Errors::from(bahamut_error(
            "Rate Limit",
            "You have exceeded your rate limit",
            429,
        ))
    };
    if inner
        .options
        .rate_limit
        .as_ref()
        .is_some_and(|l| !l.allow())
    {
        return Some(exceeded());
    }
    let limit = inner
        .options
        .identity_rate_limits
        .get(request.identity.name)?;
    let counted = limit.condition.as_ref().is_none_or(|c| c(request));
    (counted && !limit.limit.allow()).then(exceeded)
}

/// The two chains of the pipeline.
enum Chain<'o> {
    Authenticators(&'o [Arc<dyn crate::RequestAuthenticator>]),
    Authorizers(&'o [Arc<dyn crate::RequestAuthorizer>]),
}

/// Runs a chain: the first `Ok` or `Ko` decides; a chain where every member continues refuses.
/// An empty chain lets everything through.
async fn passes(
    chain: Chain<'_>,
    request: &Request,
    claims: &mut Vec<String>,
) -> Result<bool, Errors> {
    let len = match chain {
        Chain::Authenticators(members) => members.len(),
        Chain::Authorizers(members) => members.len(),
    };
    if len == 0 {
        return Ok(true);
    }
    for i in 0..len {
        let mut ctx = AuthContext {
            request,
            claims: &mut *claims,
        };
        let decision = match chain {
            Chain::Authenticators(members) => members[i].authenticate(&mut ctx).await,
            Chain::Authorizers(members) => members[i].authorize(&mut ctx).await,
        };
        match decision.map_err(Errors::from)? {
            AuthAction::Continue => continue,
            decision => return Ok(decision == AuthAction::Ok),
        }
    }
    Ok(false)
}

async fn authenticate(
    inner: &Inner,
    request: &Request,
    claims: &mut Vec<String>,
) -> Result<(), Errors> {
    let options = &inner.options;
    if !passes(
        Chain::Authenticators(&options.authenticators),
        request,
        claims,
    )
    .await?
    {
        return Err(Errors::from(bahamut_error(
            "Unauthorized",
            "You are not authorized to access this resource.",
            401,
        )));
    }
    if !passes(Chain::Authorizers(&options.authorizers), request, claims).await? {
        return Err(Errors::from(bahamut_error(
            "Forbidden",
            "You are not allowed to access this resource.",
            403,
        )));
    }
    Ok(())
}
