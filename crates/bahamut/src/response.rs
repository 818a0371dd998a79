//! Writing responses: the headers every bahamut answer carries, error arrays, gzip.

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use elemental::{ACCEPTED_ENCODINGS, CountMode, EncodingType, Errors};
use flate2::Compression;
use flate2::write::GzEncoder;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::HttpResponse;
use crate::body::Body;
use crate::cookie::Cookie;
use crate::cors::CorsPolicy;

/// The response headers of the reference beyond the standard ones, as constants (a name given
/// as a string is parsed at each use).
const X_COUNT_TOTAL: HeaderName = HeaderName::from_static("x-count-total");
const X_COUNT_MODE: HeaderName = HeaderName::from_static("x-count-mode");
const X_MESSAGES: HeaderName = HeaderName::from_static("x-messages");
const X_NEXT: HeaderName = HeaderName::from_static("x-next");
/// The header of the request id, which the server sets on every answer.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a model answer is made of, before headers are written.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub encoding: EncodingType,
    pub count: u64,
    /// `X-Count-Mode`, for a client that asked how the total is counted.
    pub count_mode: Option<CountMode>,
    pub next: Option<String>,
    pub messages: Vec<String>,
    pub location: Option<String>,
    pub cookies: Vec<Cookie>,
}

/// What the server needs of the request to finish an answer: read from its headers first, so
/// that the request can take the headers.
pub(crate) struct Finish<'a> {
    /// The request's `Origin`, when there is a CORS policy to answer it.
    pub origin: Option<HeaderValue>,
    pub cors: Option<&'a CorsPolicy>,
    /// The size above which a body is compressed, when compression is on and the client
    /// takes gzip.
    pub compression: Option<usize>,
}

impl<'a> Finish<'a> {
    /// What `cors` and a compression `threshold` (if on) need of the request's `headers`.
    pub fn new(
        headers: &HeaderMap,
        cors: Option<&'a CorsPolicy>,
        threshold: Option<usize>,
    ) -> Self {
        Self {
            // Looked up only when there is a policy.
            origin: cors.and_then(|_| headers.get(http::header::ORIGIN).cloned()),
            cors,
            compression: threshold.filter(|_| accepts_gzip(headers)),
        }
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',').any(|item| {
                    let mut parts = item.trim().split(';');
                    let coding = parts.next().unwrap_or_default().trim();
                    let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
                    (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
                })
            })
        })
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The `X-Count-Total` value: the `0` of every answer that is not a list is a constant (a
/// number's value is built in a new buffer).
fn count_total(count: u64) -> HeaderValue {
    match count {
        0 => HeaderValue::from_static("0"),
        n => HeaderValue::from(n),
    }
}

/// An answer of a model route: `Accept`, CORS, `Content-Type`, `Vary`, `X-Count-Total`,
/// `X-Messages`, `X-Next` (in the reference's order), gzip above the threshold.
pub(crate) fn model_response(answer: Answer, finish: &Finish<'_>) -> HttpResponse {
    let code = status(answer.status);
    if is_plain(&answer, finish) {
        let headers = plain_headers(answer.encoding, answer.count);
        return build(code, headers, answer.body);
    }
    let (headers, body) = model_headers(answer, finish);
    build(code, headers, body)
}

/// True when an answer has only the headers that every answer has: no CORS, no compression,
/// no `Location`, `X-Count-Mode`, `X-Messages`, `X-Next` or cookies (most answers).
fn is_plain(answer: &Answer, finish: &Finish<'_>) -> bool {
    finish.cors.is_none()
        && finish
            .compression
            .is_none_or(|threshold| answer.body.len() <= threshold)
        && answer.location.is_none()
        && answer.count_mode.is_none()
        && answer.messages.is_empty()
        && answer.next.is_none()
        && answer.cookies.is_empty()
}

/// The headers of a plain answer in `encoding` with the total `count`: a copy of those that
/// [`model_headers`] wrote once for that encoding (copying a map costs less than building it),
/// and an empty `X-Request-ID` at the end for the server to fill in.
fn plain_headers(encoding: EncodingType, count: u64) -> HeaderMap {
    static JSON: OnceLock<HeaderMap> = OnceLock::new();
    static MSGPACK: OnceLock<HeaderMap> = OnceLock::new();
    let written = match encoding {
        EncodingType::Json => &JSON,
        EncodingType::Msgpack => &MSGPACK,
    };
    let written = written.get_or_init(|| {
        let answer = Answer {
            encoding,
            ..Answer::default()
        };
        let finish = Finish {
            origin: None,
            cors: None,
            compression: None,
        };
        let (mut headers, _) = model_headers(answer, &finish);
        headers.insert(X_REQUEST_ID, HeaderValue::from_static(""));
        headers
    });
    let mut headers = written.clone();
    if count != 0 {
        headers.insert(X_COUNT_TOTAL, count_total(count));
    }
    headers
}

/// Sets an answer's `X-Request-ID` to `id`: in place when the headers end with the empty one
/// of [`plain_headers`] (reached by walking the few entries, without hashing the name), else
/// inserted (replacing any other).
pub(crate) fn set_request_id(headers: &mut HeaderMap, id: HeaderValue) {
    match headers.iter_mut().last() {
        Some((name, value)) if value.is_empty() && *name == X_REQUEST_ID => *value = id,
        _ => {
            headers.insert(X_REQUEST_ID, id);
        }
    }
}

/// The headers of any model answer, and its body (compressed if it is to be).
fn model_headers(answer: Answer, finish: &Finish<'_>) -> (HeaderMap, Bytes) {
    // Room for these and the server's own (`X-Request-ID`) without growing.
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    if let Some(cors) = finish.cors {
        cors.add_response_headers(finish.origin.as_ref(), &mut headers);
    }
    let mut body = answer.body;
    if let Some(threshold) = finish.compression {
        if body.len() > threshold {
            if let Some(compressed) = gzip(&body) {
                body = compressed.into();
                headers.insert(
                    http::header::CONTENT_ENCODING,
                    HeaderValue::from_static("gzip"),
                );
            }
        }
    }
    if let Some(location) = answer
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        headers.insert(http::header::LOCATION, location);
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(answer.encoding.content_type_header()),
    );
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    headers.insert(X_COUNT_TOTAL, count_total(answer.count));
    if let Some(mode) = answer.count_mode {
        headers.insert(X_COUNT_MODE, HeaderValue::from_static(mode.as_str()));
    }
    if !answer.messages.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&answer.messages.join(";")) {
            headers.insert(X_MESSAGES, v);
        }
    }
    if let Some(next) = answer
        .next
        .as_deref()
        .and_then(|n| HeaderValue::from_str(n).ok())
    {
        headers.insert(X_NEXT, next);
    }
    crate::cookie::add_cookies(&mut headers, &answer.cookies);
    (headers, body)
}

/// An error array answer of a model route, in the client's encoding.
pub(crate) fn error_response(
    errors: &Errors,
    encoding: EncodingType,
    finish: &Finish<'_>,
) -> HttpResponse {
    let body = elemental::encode(encoding, errors)
        .or_else(|_| elemental::encode(EncodingType::Json, errors))
        .unwrap_or_default();
    model_response(
        Answer {
            status: errors.code(),
            body: body.into(),
            encoding,
            ..Answer::default()
        },
        finish,
    )
}

/// The 404 of a path no route serves (no `Vary`, as in the reference).
pub(crate) fn not_found(
    cors: Option<&CorsPolicy>,
    request_headers: &HeaderMap,
    request_id: &str,
) -> HttpResponse {
    let errors = Errors::from(
        elemental::Error::new(
            "Not Found",
            "Unable to find the requested resource",
            "bahamut",
            404,
        )
        .with_trace(request_id),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    if let Some(cors) = cors {
        cors.add_response_headers(request_headers.get(http::header::ORIGIN), &mut headers);
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(EncodingType::Json.content_type_header()),
    );
    headers.insert(X_COUNT_TOTAL, count_total(0));
    let body = serde_json::to_vec(&errors).unwrap_or_default();
    build(StatusCode::NOT_FOUND, headers, body.into())
}

/// The `Allow` header value of a list of methods: `GET, POST, HEAD`.
pub(crate) fn allow_header(methods: &[http::Method]) -> HeaderValue {
    let text: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
    HeaderValue::from_str(&text.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The 405 of the router: a path served with other methods. An error array, with the path's
/// methods in `Allow`.
pub(crate) fn method_not_allowed(
    method: &http::Method,
    allowed: &[http::Method],
    finish: &Finish<'_>,
    request_id: &str,
) -> HttpResponse {
    let errors = Errors::from(
        elemental::Error::new(
            "Not allowed",
            format!("Method {method} is not allowed on this path"),
            "bahamut",
            405,
        )
        .with_trace(request_id),
    );
    let mut response = error_response(&errors, EncodingType::Json, finish);
    response
        .headers_mut()
        .insert(http::header::ALLOW, allow_header(allowed));
    response
}

/// A bare answer with no header but `Date` and `Content-Length` (root, preflights).
pub(crate) fn bare(code: StatusCode) -> HttpResponse {
    build(code, HeaderMap::new(), Bytes::new())
}

/// A meta answer: `Accept` and the given content type.
pub(crate) fn meta(content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    build(StatusCode::OK, headers, body.into())
}

/// A CORS preflight answer.
pub(crate) fn preflight(cors: &CorsPolicy, request_headers: &HeaderMap) -> HttpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    cors.add_preflight_headers(request_headers.get(http::header::ORIGIN), &mut headers);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(EncodingType::Json.content_type_header()),
    );
    build(StatusCode::OK, headers, Bytes::new())
}

fn build(status: StatusCode, headers: HeaderMap, body: Bytes) -> HttpResponse {
    let mut response = http::Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(headers: &HeaderMap) -> Vec<String> {
        headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
            .collect()
    }

    #[test]
    fn a_plain_answer_has_the_headers_written_for_any_answer_in_their_order() {
        let finish = Finish {
            origin: None,
            cors: None,
            compression: None,
        };
        for encoding in [EncodingType::Json, EncodingType::Msgpack] {
            for count in [0, 7] {
                let answer = || Answer {
                    status: 200,
                    body: Bytes::from_static(b"{}"),
                    encoding,
                    count,
                    ..Answer::default()
                };
                assert!(is_plain(&answer(), &finish));
                let mut plain = model_response(answer(), &finish).headers().clone();
                let (mut written, _) = model_headers(answer(), &finish);
                plain.insert(X_REQUEST_ID, HeaderValue::from_static("id"));
                written.insert(X_REQUEST_ID, HeaderValue::from_static("id"));
                assert_eq!(lines(&plain), lines(&written), "{encoding:?}, {count}");
            }
        }
        let answer = Answer {
            status: 200,
            count: 12,
            ..Answer::default()
        };
        assert_eq!(
            lines(model_response(answer, &finish).headers()),
            [
                "accept: application/msgpack,application/json",
                "content-type: application/json; charset=UTF-8",
                "vary: Accept-Encoding",
                "x-count-total: 12",
                "x-request-id: ",
            ]
        );
    }

    #[test]
    fn an_answer_with_a_message_is_not_plain_and_says_it() {
        let finish = Finish {
            origin: None,
            cors: None,
            compression: None,
        };
        let answer = Answer {
            status: 200,
            messages: vec!["hello".into()],
            ..Answer::default()
        };
        assert!(!is_plain(&answer, &finish));
        let response = model_response(answer, &finish);
        assert_eq!(
            response.headers().get(X_MESSAGES),
            Some(&HeaderValue::from_static("hello"))
        );
        assert_eq!(response.headers().get(X_REQUEST_ID), None);
    }

    #[test]
    fn the_request_id_fills_the_plain_answers_place_or_is_added() {
        let id = || HeaderValue::from_static("r-9");
        let mut plain = plain_headers(EncodingType::Json, 3);
        set_request_id(&mut plain, id());
        assert_eq!(
            lines(&plain),
            [
                "accept: application/msgpack,application/json",
                "content-type: application/json; charset=UTF-8",
                "vary: Accept-Encoding",
                "x-count-total: 3",
                "x-request-id: r-9",
            ]
        );
        // No place kept: added at the end; one already set: replaced where it is.
        let earlier = ("x-request-id", "earlier");
        let text = ("content-type", "text/plain");
        for (before, after) in [
            (
                vec![text],
                ["content-type: text/plain", "x-request-id: r-9"],
            ),
            (
                vec![earlier, text],
                ["x-request-id: r-9", "content-type: text/plain"],
            ),
        ] {
            let mut headers = HeaderMap::new();
            for (name, value) in before {
                headers.insert(name, HeaderValue::from_static(value));
            }
            set_request_id(&mut headers, id());
            assert_eq!(lines(&headers), after);
        }
    }

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip;q=1.0"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn count_total_is_the_decimal_count() {
        for (count, text) in [
            (0, "0"),
            (1, "1"),
            (100, "100"),
            (u64::MAX, "18446744073709551615"),
        ] {
            assert_eq!(count_total(count), text);
        }
    }
}
