//! Requests: an HTTP request read into elemental terms (operation, identities, parameters).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;

use crate::encoding::encodings_from_values;
use crate::parameters::parse_bool;
use crate::{
    ClientCertificate, CountMode, EncodingType, Error, Errors, Identity, ModelManager, Operation,
    Parameters, TraceContext,
};

/// Where the request comes from, beyond its HTTP parts.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    /// The API prefix to strip from the path (`api` strips `/api`); empty for none.
    pub api_prefix: &'a str,
    /// The peer address, used as client IP when no forwarding header is present.
    pub remote_addr: Option<SocketAddr>,
    /// The request id chosen by the server (see [`request_id`]); `None` chooses one from the
    /// headers.
    pub request_id: Option<&'a str>,
    /// The verified certificate the client presented on a mutual-TLS connection.
    pub client_certificate: Option<&'a Arc<ClientCertificate>>,
    /// The server's span of this request in a distributed trace (see [`TraceContext`]);
    /// `None` reads the client's `traceparent` and starts a span under it.
    pub trace: Option<TraceContext>,
}

/// The longest client-sent `X-Request-ID` that is kept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of a request: the client's `X-Request-ID` when it is sane (1 to
/// [`MAX_REQUEST_ID_LEN`] visible ASCII characters), else a fresh UUID.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", http::HeaderValue::from_static("abc-1"));
/// assert_eq!(elemental::request_id(&headers), "abc-1");
/// headers.insert("x-request-id", http::HeaderValue::from_static("two words"));
/// assert_eq!(elemental::request_id(&headers).len(), 36);
/// ```
pub fn request_id(headers: &HeaderMap) -> String {
    let arrival = ArrivalHeaders {
        request_id: headers.get(&names::X_REQUEST_ID),
        traceparent: None,
    };
    arrival.request_id()
}

/// The headers a server reads of every request as it arrives (its id, its trace), found in
/// one pass over the headers: a request has few, and two lookups by name would hash each name.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", http::HeaderValue::from_static("abc-1"));
/// let arrival = elemental::ArrivalHeaders::read(&headers);
/// assert_eq!(arrival.request_id(), "abc-1");
/// assert!(arrival.trace_parent().is_none());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct ArrivalHeaders<'a> {
    /// The first `X-Request-ID`.
    pub request_id: Option<&'a HeaderValue>,
    /// The first `traceparent`.
    pub traceparent: Option<&'a HeaderValue>,
}

impl<'a> ArrivalHeaders<'a> {
    /// Finds the headers in `headers`.
    pub fn read(headers: &'a HeaderMap) -> Self {
        let mut found = Self::default();
        for (name, value) in headers {
            let slot = match name.as_str() {
                "x-request-id" => &mut found.request_id,
                "traceparent" => &mut found.traceparent,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }

    /// The request's id, as [`request_id`] chooses it.
    pub fn request_id(&self) -> String {
        self.request_id
            .map(HeaderValue::as_bytes)
            .filter(|id| is_sane_request_id(id))
            .and_then(|id| std::str::from_utf8(id).ok())
            .map_or_else(crate::random::random_uuid, str::to_string)
    }

    /// The client's span, as [`TraceContext::from_headers`] reads it.
    pub fn trace_parent(&self) -> Option<TraceContext> {
        TraceContext::from_value(self.traceparent?)
    }
}

/// The request headers looked up by name, as constants: a lookup by a constant name skips
/// parsing the name.
mod names {
    use http::HeaderName;

    pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
}

fn is_sane_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// An abstract request on an elemental model.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request's id: the server's choice ([`RequestContext::request_id`]), else a sane
    /// client-sent `X-Request-ID`, else a fresh UUID (see [`request_id`]).
    pub request_id: String,
    /// The namespace from `X-Namespace` (empty when absent).
    pub namespace: String,
    /// Reads extend to the namespace's descendants (`recursive=true`).
    pub recursive: bool,
    /// Reads include objects propagated from parent namespaces (`propagated=true`).
    pub propagated: bool,
    /// Writes may override protection (`override=true`).
    pub override_protection: bool,
    /// The operation.
    pub operation: Operation,
    /// The identity the operation is on ([`Identity::EMPTY`] for an unknown category).
    pub identity: Identity,
    /// The object id for single-object operations.
    pub object_id: String,
    /// The parent identity ([`Identity::ROOT`] for top-level routes).
    pub parent_identity: Identity,
    /// The parent object id for child routes.
    pub parent_id: String,
    /// The body, for create, update and patch.
    pub data: Bytes,
    /// The declared parameters, parsed and typed.
    pub parameters: Parameters,
    /// All request headers.
    pub headers: HeaderMap,
    /// The scheme of `Authorization: <scheme> <token>`.
    pub auth_scheme: String,
    /// The token of `Authorization: <scheme> <token>`.
    pub auth_token: String,
    /// `page` (0 when absent).
    pub page: u64,
    /// `pagesize` (0 when absent).
    pub page_size: u64,
    /// `after`: the cursor to continue from.
    pub after: Option<String>,
    /// `limit`: how many objects after the cursor (0 when absent).
    pub limit: u64,
    /// `order`, one entry per attribute, in query order.
    pub order: Vec<String>,
    /// The model version from `/v/N` (0 when absent).
    pub version: u32,
    /// `X-External-Tracking-ID`.
    pub external_tracking_id: String,
    /// `X-External-Tracking-Type`.
    pub external_tracking_type: String,
    /// The body encoding, from `Content-Type`.
    pub content_type: EncodingType,
    /// The response encoding, from `Accept`.
    pub accept: EncodingType,
    /// The client IP: first `X-Forwarded-For` entry, else `X-Real-IP`, else the peer address.
    pub client_ip: String,
    /// The verified certificate the client presented on a mutual-TLS connection, if any.
    pub client_certificate: Option<Arc<ClientCertificate>>,
    /// The server's span of this request in its distributed trace: the client's `traceparent`
    /// trace id (a new trace without one) and a span id of the server's; `None` only for a
    /// request not read from HTTP. A processor that calls another service sends it on as
    /// `traceparent` (its `Display`).
    pub trace: Option<TraceContext>,
    /// `X-Fields`: the attributes to send back (all when empty).
    pub fields: Vec<String>,
    /// `X-Read-Consistency`, as sent.
    pub read_consistency: Option<String>,
    /// `X-Write-Consistency`, as sent.
    pub write_consistency: Option<String>,
    /// `Idempotency-Key`, as sent.
    pub idempotency_key: Option<String>,
    /// `X-Count-Mode`: how the client wants the total of a retrieve-many counted (`None` when
    /// it did not ask; the answer then carries no `X-Count-Mode`).
    pub count_mode: Option<CountMode>,
}

impl Request {
    /// A blank request for `operation` on `identity` under root, with a fresh id.
    pub fn new(operation: Operation, identity: Identity) -> Self {
        Self::with_id(operation, identity, crate::random::random_uuid())
    }

    /// A blank request for `operation` on `identity` under root, with the id `request_id`.
    fn with_id(operation: Operation, identity: Identity, request_id: String) -> Self {
        Self {
            request_id,
            namespace: String::new(),
            recursive: false,
            propagated: false,
            override_protection: false,
            operation,
            identity,
            object_id: String::new(),
            parent_identity: Identity::ROOT,
            parent_id: String::new(),
            data: Bytes::new(),
            parameters: Parameters::default(),
            headers: HeaderMap::new(),
            auth_scheme: String::new(),
            auth_token: String::new(),
            page: 0,
            page_size: 0,
            after: None,
            limit: 0,
            order: Vec::new(),
            version: 0,
            external_tracking_id: String::new(),
            external_tracking_type: String::new(),
            content_type: EncodingType::Json,
            accept: EncodingType::Json,
            client_ip: String::new(),
            client_certificate: None,
            trace: None,
            fields: Vec::new(),
            read_consistency: None,
            write_consistency: None,
            idempotency_key: None,
            count_mode: None,
        }
    }

    /// Reads an HTTP request, following the reference algorithm step by step:
    /// path components (after the API prefix), optional `/v/N`, encodings, identities, method
    /// to operation, built-in query parameters, declared parameters with their types and
    /// required sets, unknown parameters, client IP, namespace, tracking and other headers.
    ///
    /// Every failure is a 400 (or 415 for encodings) with the reference's exact description.
    pub fn from_http(
        parts: &http::request::Parts,
        body: Bytes,
        manager: &dyn ModelManager,
        context: &RequestContext<'_>,
    ) -> Result<Request, Errors> {
        let path = ModelPath::parse(parts.uri.path(), context.api_prefix)
            .ok_or_else(|| invalid_path(parts))?;
        Self::from_model_path(parts.clone(), path, body, manager, context)
    }

    /// Reads an HTTP request whose path the router has already read into `path` (the same
    /// steps as [`Request::from_http`] after the path); the request keeps the headers, and the
    /// path's ids.
    pub fn from_model_path(
        parts: http::request::Parts,
        path: ModelPath,
        body: Bytes,
        manager: &dyn ModelManager,
        context: &RequestContext<'_>,
    ) -> Result<Request, Errors> {
        let version = *path.version.as_ref().map_err(|e| Error::clone(e))?;
        let known = KnownHeaders::read(&parts.headers);
        let (content_type, accept) = encodings_from_values(known.content_type, known.accept)?;

        let (identity, parent_identity, _) = path
            .identities(manager)
            .ok_or_else(|| invalid_path(&parts))?;
        let operation = operation_for(&parts.method, path.count)?;
        let (object_id, parent_id) = match path.count {
            2 => (path.into_id(), String::new()),
            3 => (String::new(), path.into_id()),
            _ => (String::new(), String::new()),
        };

        let id = context
            .request_id
            .map_or_else(|| request_id(&parts.headers), str::to_string);
        let mut request = Request::with_id(operation, identity, id);
        request.version = version;
        request.content_type = content_type;
        request.accept = accept;
        request.object_id = object_id;
        request.parent_identity = parent_identity;
        request.parent_id = parent_id;
        if matches!(
            operation,
            Operation::Create | Operation::Update | Operation::Patch
        ) {
            request.data = body;
        }

        let mut query = parse_query(parts.uri.query().unwrap_or(""));
        request.read_builtin_parameters(&mut query)?;
        request.read_declared_parameters(manager, &mut query)?;
        request.read_headers(&known, &parts.headers, context);
        request.count_mode = known
            .count_mode
            .map(|v| CountMode::parse(&String::from_utf8_lossy(v.as_bytes())))
            .transpose()?;
        request.headers = parts.headers;
        Ok(request)
    }

    fn read_builtin_parameters(&mut self, query: &mut Query) -> Result<(), Error> {
        if query.is_empty() {
            // Most requests have no query: nothing to look up, eight times.
            return Ok(());
        }
        if let Some(v) = take_integer(query, "page") {
            self.page = parse_count("page", &v)?;
        }
        if let Some(v) = take_integer(query, "pagesize") {
            self.page_size = parse_count("pagesize", &v)?;
        }
        if let Some(v) = take_first(query, "recursive") {
            self.recursive = parse_flag("recursive", &v)?;
        }
        if let Some(v) = take_first(query, "override") {
            self.override_protection = parse_flag("override", &v)?;
        }
        if let Some(v) = query.get("propagated").and_then(|v| v.first()) {
            // Not removed: gaia also declares it as a parameter (`$propagatable`).
            self.propagated = parse_flag("propagated", v)?;
        }
        if let Some(order) = query.remove("order") {
            if order.iter().any(|o| o.is_empty() || o == "\u{0}") {
                return Err(Error::bad_request(
                    "Parameter `order` must be set when provided",
                ));
            }
            self.order = order;
        }
        if let Some(v) = take_integer(query, "limit") {
            if self.page_size != 0 {
                return Err(Error::bad_request(
                    "You cannot set 'limit' and 'pagesize' at the same time",
                ));
            }
            self.limit = parse_count("limit", &v)?;
        }
        if let Some(v) = query.remove("after") {
            let v = v.into_iter().next().unwrap_or_default();
            if v.is_empty() || v == "\u{0}" {
                return Err(Error::bad_request(
                    "Parameter `after` must be set when provided",
                ));
            }
            if self.order.len() > 1 {
                return Err(Error::bad_request(
                    "You can only order on a single field when using 'after'",
                ));
            }
            if self.page != 0 {
                return Err(Error::bad_request(
                    "You cannot set 'after' and 'page' at the same time",
                ));
            }
            self.after = Some(v);
        }
        Ok(())
    }

    fn read_declared_parameters(
        &mut self,
        manager: &dyn ModelManager,
        query: &mut Query,
    ) -> Result<(), Errors> {
        let relationships = manager.relationships();
        let info = relationships.info(&self.identity, &self.parent_identity, self.operation);
        if info.is_none() {
            // The operation is not allowed here: the pipeline answers 405, whatever the query.
            return Ok(());
        }
        for definition in info.map_or(&[][..], |i| i.parameters) {
            if query.is_empty() && definition.default_value.is_none() {
                // Nothing left to read, and no default to apply (most requests).
                continue;
            }
            let raw = query.remove(definition.name).unwrap_or_default();
            let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
            if let Some(parameter) = definition.parse(&raw)? {
                self.parameters.insert(definition.name, parameter);
            }
        }
        query.remove("propagated");
        if !query.is_empty() {
            return Err(query
                .keys()
                .map(|k| Error::bad_request(format!("Unknown parameter: `{k}`")))
                .collect());
        }
        if let Some(info) = info {
            info.required_parameters.validate(&self.parameters)?;
        }
        Ok(())
    }

    fn read_headers(
        &mut self,
        known: &KnownHeaders<'_>,
        headers: &HeaderMap,
        context: &RequestContext<'_>,
    ) {
        let text = |value: Option<&HeaderValue>| {
            value
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(auth) = text(known.authorization) {
            let parts: Vec<&str> = auth.split(' ').collect();
            if let [scheme, token] = parts.as_slice() {
                self.auth_scheme = scheme.to_string();
                self.auth_token = token.to_string();
            }
        }
        self.client_ip = text(known.forwarded_for)
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
            .filter(|v| !v.is_empty())
            .or_else(|| text(known.real_ip))
            .or_else(|| context.remote_addr.map(|a| ip_text(a.ip())))
            .unwrap_or_default();
        self.client_certificate = context.client_certificate.cloned();
        self.trace = Some(context.trace.unwrap_or_else(|| {
            TraceContext::child_of(TraceContext::from_headers(headers).as_ref())
        }));
        self.namespace = text(known.namespace).unwrap_or_default();
        self.external_tracking_id = text(known.tracking_id).unwrap_or_default();
        self.external_tracking_type = text(known.tracking_type).unwrap_or_default();
        self.read_consistency = text(known.read_consistency);
        self.write_consistency = text(known.write_consistency);
        self.idempotency_key = text(known.idempotency_key);
        self.fields = known
            .fields
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect();
    }

    /// Checks the namespace of `X-Namespace` (absent or empty is `/`); the server runs it once
    /// the operation is known to be allowed (see [`crate::namespace::validate_namespace`]).
    pub fn validate_namespace(&self) -> Result<(), Error> {
        if self.namespace.is_empty() {
            return Ok(());
        }
        crate::namespace::validate_namespace(&self.namespace)
    }

    /// Decodes the body in the request's encoding.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::decode(self.content_type, &self.data)
    }
}

/// The headers a request reads, found in one pass over the request's headers
/// (one lookup by name each cost more, most of them for headers that a request does not have):
/// the first value of each, and every value of `X-Fields`.
#[derive(Default)]
struct KnownHeaders<'a> {
    content_type: Option<&'a HeaderValue>,
    accept: Option<&'a HeaderValue>,
    authorization: Option<&'a HeaderValue>,
    forwarded_for: Option<&'a HeaderValue>,
    real_ip: Option<&'a HeaderValue>,
    namespace: Option<&'a HeaderValue>,
    tracking_id: Option<&'a HeaderValue>,
    tracking_type: Option<&'a HeaderValue>,
    read_consistency: Option<&'a HeaderValue>,
    write_consistency: Option<&'a HeaderValue>,
    idempotency_key: Option<&'a HeaderValue>,
    count_mode: Option<&'a HeaderValue>,
    fields: Vec<&'a HeaderValue>,
}

impl<'a> KnownHeaders<'a> {
    fn read(headers: &'a HeaderMap) -> Self {
        let mut known = Self::default();
        for (name, value) in headers {
            let first = match name.as_str() {
                "content-type" => &mut known.content_type,
                "accept" => &mut known.accept,
                "authorization" => &mut known.authorization,
                "x-forwarded-for" => &mut known.forwarded_for,
                "x-real-ip" => &mut known.real_ip,
                "x-namespace" => &mut known.namespace,
                "x-external-tracking-id" => &mut known.tracking_id,
                "x-external-tracking-type" => &mut known.tracking_type,
                "x-read-consistency" => &mut known.read_consistency,
                "x-write-consistency" => &mut known.write_consistency,
                "idempotency-key" => &mut known.idempotency_key,
                "x-count-mode" => &mut known.count_mode,
                "x-fields" => {
                    known.fields.push(value);
                    continue;
                }
                _ => continue,
            };
            first.get_or_insert(value);
        }
        known
    }
}

/// An IP address as text: an IPv4 one written digit by digit (the formatter's `Display` costs
/// about ten times as much, once per request); an IPv6 one by its `Display`.
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

type Query = BTreeMap<String, Vec<String>>;

fn take_first(query: &mut Query, key: &str) -> Option<String> {
    query
        .remove(key)
        .and_then(|v| v.into_iter().next())
        .filter(|v| !v.is_empty())
}

/// The first value of an integer parameter: an empty one is kept, so that it is refused.
fn take_integer(query: &mut Query, key: &str) -> Option<String> {
    query.remove(key).and_then(|v| v.into_iter().next())
}

fn parse_count(name: &str, raw: &str) -> Result<u64, Error> {
    let value: i64 = raw
        .parse()
        .map_err(|_| Error::bad_request(format!("Parameter `{name}` must be an integer")))?;
    u64::try_from(value)
        .map_err(|_| Error::bad_request(format!("Parameter `{name}` must be a positive integer")))
}

fn parse_flag(name: &str, raw: &str) -> Result<bool, Error> {
    parse_bool(raw).ok_or_else(|| {
        Error::bad_request(format!("Parameter `{name}` must be a boolean, got '{raw}'"))
    })
}

fn invalid_path(parts: &http::request::Parts) -> Error {
    let shown = parts.uri.path_and_query().map_or("", |p| p.as_str());
    Error::bad_request(format!("{shown} is not a valid elemental request path"))
}

/// The path after the API prefix (`api` or `/api/` strips `/api`); `None` when the path is
/// not under it.
fn strip_api_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        return Some(path);
    }
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(prefix)) {
        Some("") => Some("/"),
        Some(rest) if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// The shape of a model path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathShape {
    /// `/categories` (or no category at all): retrieve-many, create, info.
    Collection,
    /// `/categories/:id`: retrieve, update, patch, delete.
    Object,
    /// `/parents/:id/categories`: the children of one object.
    Children,
}

/// A request path read once, by the router, for everything after it: the API version and
/// the path's components after the API prefix and `/v/N`.
///
/// ```
/// use elemental::{ModelPath, PathShape};
///
/// let path = ModelPath::parse("/api/v/1/lists/x/tasks", "api").unwrap();
/// assert_eq!(path.version, Ok(1));
/// assert_eq!(path.components().collect::<Vec<_>>(), ["lists", "x", "tasks"]);
/// assert_eq!(path.shape(), Some(PathShape::Children));
/// assert!(ModelPath::parse("/lists", "api").is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPath {
    /// The API version (`/v/N`, 0 without); the 400 to answer when `N` is not a number
    /// (boxed: the path is moved along with the request, and most paths have no error).
    pub version: Result<u32, Box<Error>>,
    /// The components, `/`-separated: `category`, `category/id` or `parent/id/category` on a
    /// model route (one text, not one per component: a request allocates it once).
    text: String,
    /// Where each of the first three components ends in `text`.
    ends: [usize; 3],
    /// How many components there are (more than three on a path that is no model route).
    count: usize,
}

impl ModelPath {
    /// Reads `path` under `api_prefix`; `None` when it is not under the prefix.
    pub fn parse(path: &str, api_prefix: &str) -> Option<ModelPath> {
        let path = strip_api_prefix(path, api_prefix)?;
        let (version, rest) = split_version(path);
        let text = components_text(rest);
        let (mut ends, mut count, mut start) = ([0; 3], 0, 0);
        let bytes = text.as_bytes();
        while !text.is_empty() && start <= bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|b| *b == b'/')
                .map_or(bytes.len(), |i| start + i);
            if let Some(slot) = ends.get_mut(count) {
                *slot = end;
            }
            count += 1;
            start = end + 1;
        }
        Some(ModelPath {
            version: version.map_err(Box::new),
            text: text.to_string(),
            ends,
            count,
        })
    }

    /// The components: `[category]`, `[category, id]` or `[parent, id, category]` on a model
    /// route.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        (self.count > 0)
            .then(|| self.text.split('/'))
            .into_iter()
            .flatten()
    }

    /// Where component `i` of the first three lies in the text.
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] + 1,
        };
        start..self.ends[i]
    }

    /// Component `i` of the first three.
    fn component(&self, i: usize) -> &str {
        &self.text[self.range(i)]
    }

    /// The id the path names (its second component), in the path's own text.
    fn into_id(self) -> String {
        let id = self.range(1);
        let mut text = self.text;
        text.truncate(id.end);
        text.replace_range(..id.start, "");
        text
    }

    /// The operation `method` asks for on this path (a 405 error for a method that names
    /// none).
    pub fn operation(&self, method: &Method) -> Result<Operation, Error> {
        operation_for(method, self.count)
    }

    /// The shape of the path; `None` when it is not a model path (more than three components,
    /// or an empty one).
    pub fn shape(&self) -> Option<PathShape> {
        // More than three components is no model path either way; of up to three, none empty.
        if self.count > 1 && (0..self.count.min(3)).any(|i| self.range(i).is_empty()) {
            return None;
        }
        match self.count {
            0 | 1 => Some(PathShape::Collection),
            2 => Some(PathShape::Object),
            3 => Some(PathShape::Children),
            _ => None,
        }
    }

    /// The identities the path names: the identity, its parent (`root` at the top), and
    /// whether it names one object. `None` when it is not a model path.
    pub fn identities(&self, manager: &dyn ModelManager) -> Option<(Identity, Identity, bool)> {
        let category = |i: usize| {
            manager
                .identity_from_category(self.component(i))
                .unwrap_or(Identity::EMPTY)
        };
        match self.count {
            1 => Some((category(0), Identity::ROOT, false)),
            2 => Some((category(0), Identity::ROOT, true)),
            3 => Some((category(2), category(0), false)),
            _ => None,
        }
    }
}

/// Splits an optional `/v/N` off the path: the version (0 when absent, an error when `N` is
/// not a number) and the rest.
fn split_version(path: &str) -> (Result<u32, Error>, &str) {
    let Some(rest) = path
        .strip_prefix("/v")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return (Ok(0), path);
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let (number, rest) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let version = number
        .parse::<u32>()
        .map_err(|_| Error::bad_request(format!("Invalid api version number '{number}'")));
    (version, rest)
}

/// Reads an optional `/v/N` prefix: returns the version (0 when absent) and the rest of the
/// path. Errors: 400 `Invalid api version number 'x'` (also for a bare `/v`, which the
/// reference crashes on).
pub fn api_version_from_path(path: &str) -> Result<(u32, &str), Error> {
    let (version, rest) = split_version(path);
    Ok((version?, rest))
}

/// The components' text of a path after its prefix and version: empty for `""` or `"/"`,
/// without the leading slash, and one trailing slash ignored (`/lists/` is `lists`).
fn components_text(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.len() > 1 {
        true => path.strip_suffix('/').unwrap_or(path),
        false => path,
    }
}

fn operation_for(method: &Method, components: usize) -> Result<Operation, Error> {
    Ok(match *method {
        Method::GET if components == 2 => Operation::Retrieve,
        Method::GET => Operation::RetrieveMany,
        Method::POST => Operation::Create,
        Method::PUT => Operation::Update,
        Method::DELETE => Operation::Delete,
        Method::PATCH => Operation::Patch,
        Method::HEAD => Operation::Info,
        _ => {
            return Err(Error::new(
                "Not allowed",
                format!("Method {method} is not allowed"),
                "elemental",
                405,
            ));
        }
    })
}

/// Decodes an `application/x-www-form-urlencoded` query into key -> values (in order).
/// Malformed percent escapes are kept as written.
pub fn parse_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(k))
            .or_default()
            .push(percent_decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_headers_read_what_the_lookups_by_name_read() {
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.insert("traceparent", HeaderValue::from_static(traceparent));
        headers.append("x-request-id", HeaderValue::from_static("first"));
        headers.append("x-request-id", HeaderValue::from_static("second"));
        let arrival = ArrivalHeaders::read(&headers);
        assert_eq!(arrival.request_id(), "first");
        assert_eq!(arrival.request_id(), request_id(&headers));
        let parent = arrival.trace_parent().map(|t| t.to_string());
        assert_eq!(parent.as_deref(), Some(traceparent));
        assert_eq!(
            parent,
            TraceContext::from_headers(&headers).map(|t| t.to_string())
        );
    }

    #[test]
    fn a_model_path_has_the_components_and_shape_of_its_text() {
        let read = |path: &str| {
            let path = ModelPath::parse(path, "").unwrap();
            let components: Vec<String> = path.components().map(str::to_string).collect();
            (components, path.shape())
        };
        let cases: [(&str, &[&str], Option<PathShape>); 10] = [
            ("", &[], Some(PathShape::Collection)),
            ("/", &[], Some(PathShape::Collection)),
            ("/lists", &["lists"], Some(PathShape::Collection)),
            ("/lists/", &["lists"], Some(PathShape::Collection)),
            ("/lists/x", &["lists", "x"], Some(PathShape::Object)),
            ("/lists/x/", &["lists", "x"], Some(PathShape::Object)),
            (
                "/lists/x/tasks",
                &["lists", "x", "tasks"],
                Some(PathShape::Children),
            ),
            ("/lists//x", &["lists", "", "x"], None),
            ("//", &["", ""], None),
            ("/a/b/c/d", &["a", "b", "c", "d"], None),
        ];
        for (path, components, shape) in cases {
            assert_eq!(
                read(path),
                (components.iter().map(|c| c.to_string()).collect(), shape),
                "{path}"
            );
        }
    }

    #[test]
    fn ip_text_writes_what_display_writes() {
        let addresses = [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.1.100",
            "9.99.100.199",
            "::1",
            "2001:db8::ff00:42:8329",
            "::ffff:10.0.0.1",
        ];
        for text in addresses {
            let ip: std::net::IpAddr = text.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
            assert_eq!(ip_text(ip), text);
        }
    }

    #[test]
    fn query_decoding() {
        let q = parse_query("q=name%20%3D%3D%20a&q=b+c&x&bad=%zz&end=%4");
        assert_eq!(q["q"], vec!["name == a", "b c"]);
        assert_eq!(q["x"], vec![""]);
        assert_eq!(q["bad"], vec!["%zz"]);
        assert_eq!(q["end"], vec!["%4"]);
    }

    #[test]
    fn api_versions() {
        assert_eq!(api_version_from_path("/v/1/lists").unwrap(), (1, "/lists"));
        assert_eq!(api_version_from_path("/lists").unwrap(), (0, "/lists"));
        assert_eq!(api_version_from_path("/vlists").unwrap(), (0, "/vlists"));
        assert_eq!(
            api_version_from_path("/v/x/lists").unwrap_err().description,
            "Invalid api version number 'x'"
        );
        assert_eq!(
            api_version_from_path("/v").unwrap_err().description,
            "Invalid api version number ''"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(strip_api_prefix("/api/lists", "api"), Some("/lists"));
        assert_eq!(strip_api_prefix("/api", "/api/"), Some("/"));
        assert_eq!(strip_api_prefix("/apis/lists", "api"), None);
        assert_eq!(strip_api_prefix("/lists", ""), Some("/lists"));
    }
}
