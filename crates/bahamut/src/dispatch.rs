//! The dispatch pipeline of model routes, in bahamut's order:
//! version -> parse -> rate limits -> relationships (405) -> authenticators (401) ->
//! authorizers (403) -> read-only mode (423) -> processor presence (501) -> the typed step
//! ([`crate::typed`]: decode, validate, processor, encode) -> events -> audit.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use elemental::{
    EncodingType, Error, Errors, Event, ModelPath, Operation, Request, RequestContext,
};

use tracing::Instrument;

use crate::HttpResponse;
use crate::auth::{AuditRecord, AuthAction, AuthContext};
use crate::endpoint::Endpoint;
use crate::response::{Finish, error_response, model_response};
use crate::state::ServerState;
use crate::typed::{Job, Outcome};

fn bahamut_error(title: &str, description: impl Into<String>, code: u16) -> Error {
    Error::new(title, description, "bahamut", code)
}

/// Where a request comes from, as the connection knows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// The peer address.
    pub(crate) remote: Option<SocketAddr>,
    /// The verified client certificate (mutual TLS).
    pub(crate) certificate: Option<&'a Arc<elemental::ClientCertificate>>,
    /// The request id chosen for it ([`elemental::request_id`]).
    pub(crate) request_id: &'a str,
    /// The server's span of it in its distributed trace.
    pub(crate) trace: elemental::TraceContext,
}

/// The shared part of the pipeline, for a request on a model route. The request is read and
/// admitted (version, path, rate limits, relationships, namespace) before the returned future
/// is made: the future holds the admitted request, not the parts it was read from, and stays
/// small enough to be boxed cheaply.
pub(crate) fn handle_model<'a>(
    inner: &'a ServerState,
    parts: http::request::Parts,
    path: ModelPath,
    body: Bytes,
    origin: Origin<'a>,
) -> impl Future<Output = (HttpResponse, Endpoint)> + 'a {
    let finish = Finish::new(
        &parts.headers,
        inner.options.cors.as_ref(),
        inner
            .options
            .compression
            .then_some(inner.options.compression_threshold),
    );
    let admitted = admit(inner, parts, path, body, &origin);
    async move {
        let (response, request, errors) = match admitted {
            Ok(request) => pipeline(inner, request, &origin, &finish).await,
            Err(refused) => refused.answer(origin.request_id, &finish),
        };
        if let Some(auditer) = &inner.options.auditer {
            auditer.audit(&AuditRecord {
                request: request.as_deref(),
                status: response.status().as_u16(),
                errors: errors.as_ref(),
            });
        }
        let endpoint = request.as_ref().map_or(Endpoint::other("unknown"), |r| {
            Endpoint::model(r.identity, r.parent_identity, r.operation)
        });
        (response, endpoint)
    }
}

/// The response, the request (boxed: it is moved several times on its way) and the errors.
type PipelineResult = (HttpResponse, Option<Box<Request>>, Option<Errors>);

/// The error answer of a request, with its errors concealed where internal and traced.
fn failed(
    errors: Errors,
    request: Option<Box<Request>>,
    trace: &str,
    finish: &Finish<'_>,
) -> PipelineResult {
    let errors = conceal_internal(errors, trace, request.as_deref()).with_trace(trace);
    let encoding = request.as_ref().map_or(EncodingType::Json, |r| r.accept);
    (
        error_response(&errors, encoding, finish),
        request,
        Some(errors),
    )
}

/// A request refused before its processor is looked up: why, the request if it could be
/// read, and the methods its path allows when the refusal is a 405.
struct Refused {
    errors: Errors,
    request: Option<Box<Request>>,
    allow: Option<Vec<http::Method>>,
}

impl Refused {
    fn new(error: Error, request: Option<Box<Request>>) -> Self {
        Self {
            errors: Errors::from(error),
            request,
            allow: None,
        }
    }

    fn answer(self, trace: &str, finish: &Finish<'_>) -> PipelineResult {
        let mut answer = failed(self.errors, self.request, trace, finish);
        if let Some(allowed) = self.allow {
            answer
                .0
                .headers_mut()
                .insert(http::header::ALLOW, crate::response::allow_header(&allowed));
        }
        answer
    }
}

/// Reads the request of a model route and checks what needs no processor and no waiting:
/// the API version, the path, the rate limits, the relationships and the namespace.
fn admit(
    inner: &ServerState,
    parts: http::request::Parts,
    path: ModelPath,
    body: Bytes,
    origin: &Origin<'_>,
) -> Result<Box<Request>, Refused> {
    let options = &inner.options;
    let version = match &path.version {
        Ok(version) => *version,
        Err(e) => return Err(Refused::new(Error::clone(e), None)),
    };
    let Some(manager) = options.model_managers.get(&version) else {
        let error = bahamut_error("Bad Request", "Unknown api version", 400);
        return Err(Refused::new(error, None));
    };
    let context = RequestContext {
        api_prefix: &options.api_prefix,
        remote_addr: origin.remote,
        request_id: Some(origin.request_id),
        client_certificate: origin.certificate,
        trace: Some(origin.trace),
    };
    let request = match Request::from_model_path(parts, path, body, *manager, &context) {
        Ok(r) => Box::new(r),
        Err(errors) => {
            return Err(Refused {
                errors,
                request: None,
                allow: None,
            });
        }
    };
    crate::request_span::record_model(
        request.identity.name,
        request.operation.as_str(),
        &request.namespace,
    );
    if let Some(errors) = rate_limited(inner, &request) {
        if let Some(metrics) = &options.metrics {
            metrics.rate_limited();
        }
        return Err(Refused {
            errors,
            request: Some(request),
            allow: None,
        });
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
        return Err(Refused {
            errors: Errors::from(bahamut_error("Not allowed", description, 405)),
            request: Some(request),
            allow: Some(allowed),
        });
    }
    if let Err(e) = request.validate_namespace() {
        return Err(Refused::new(e, Some(request)));
    }
    Ok(request)
}

/// The admitted request's way through authorization, the typed step and the events.
async fn pipeline(
    inner: &ServerState,
    request: Box<Request>,
    origin: &Origin<'_>,
    finish: &Finish<'_>,
) -> PipelineResult {
    let fail = |errors: Errors, request: Option<Box<Request>>| {
        failed(errors, request, origin.request_id, finish)
    };
    let options = &inner.options;
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
    let processor = inner.processors.get(request.identity.name);
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
        marshaller: options.marshallers.get(request.identity.name).cloned(),
        unmarshaller: options.unmarshallers.get(request.identity.name).cloned(),
        request,
        claims,
        retriever: options.retriever.clone(),
        recover_panics: options.recover_panics,
        error_transformer: options.error_transformer.clone(),
        timeout: options.write_timeout,
    };
    // The typed step owns the request (and releases the body once decoded), and gives it back.
    let (outcome, request) = processor
        .run(job)
        .instrument(tracing::debug_span!("processor"))
        .await;
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
    path: &ModelPath,
) -> Option<Vec<http::Method>> {
    let version = path.version.as_ref().ok()?;
    let manager = *options.model_managers.get(version)?;
    let (identity, parent, object) = path.identities(manager)?;
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

fn publish(inner: &ServerState, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let _span = tracing::debug_span!("push_publish", events = events.len()).entered();
    match &inner.options.event_publisher {
        Some(publisher) => publisher.publish(events),
        None => tracing::debug!(count = events.len(), "no event publisher: events dropped"),
    }
}

fn rate_limited(inner: &ServerState, request: &Request) -> Option<Errors> {
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
    inner: &ServerState,
    request: &Request,
    claims: &mut Vec<String>,
) -> Result<(), Errors> {
    let options = &inner.options;
    let authenticated = passes(
        Chain::Authenticators(&options.authenticators),
        request,
        claims,
    )
    .instrument(tracing::debug_span!("authenticate"))
    .await?;
    if !authenticated {
        return Err(Errors::from(bahamut_error(
            "Unauthorized",
            "You are not authorized to access this resource.",
            401,
        )));
    }
    let authorized = passes(Chain::Authorizers(&options.authorizers), request, claims)
        .instrument(tracing::debug_span!("authorize"))
        .await?;
    if !authorized {
        return Err(Errors::from(bahamut_error(
            "Forbidden",
            "You are not allowed to access this resource.",
            403,
        )));
    }
    Ok(())
}
