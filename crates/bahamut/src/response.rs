//! Writing responses: the headers every bahamut answer carries, error arrays, gzip.

use std::io::Write;

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
            origin: cors.and(headers.get(http::header::ORIGIN)).cloned(),
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

/// An answer of a model route: `Accept`, CORS, `Content-Type`, `Vary`, `X-Count-Total`,
/// `X-Messages`, `X-Next` (in the reference's order), gzip above the threshold.
/// The `X-Count-Total` value: the `0` of every answer that is not a list is a constant (a
/// number's value is built in a new buffer).
fn count_total(count: u64) -> HeaderValue {
    match count {
        0 => HeaderValue::from_static("0"),
        n => HeaderValue::from(n),
    }
}

pub(crate) fn model_response(answer: Answer, finish: &Finish<'_>) -> HttpResponse {
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
    build(status(answer.status), headers, body)
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
