//! CORS: preflight answers and the headers of ordinary responses.

use http::{HeaderMap, HeaderValue};

/// The headers a browser may send (the reference's list).
pub const ALLOWED_HEADERS: &str = "Authorization, Accept, Content-Type, Cache-Control, Cookie, If-Modified-Since, X-Requested-With, X-Count-Total, X-Namespace, X-External-Tracking-Type, X-External-Tracking-ID, X-TLS-Client-Certificate, Accept-Encoding, X-Fields, X-Read-Consistency, X-Write-Consistency, Idempotency-Key, X-Request-ID, X-Count-Mode";
/// The methods a browser may use.
pub const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS";
/// The response headers a browser may read.
pub const EXPOSED_HEADERS: &str = "X-Requested-With, X-Count-Total, X-Namespace, X-Messages, X-Fields, X-Next, X-Request-ID, X-Count-Mode";

/// Which origins are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin, mirrored back (the reference's `_mirror_`).
    Mirror,
    /// Only these origins.
    List(Vec<String>),
}

/// A CORS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    /// The allowed origins.
    pub origins: AllowedOrigins,
    /// Send `Access-Control-Allow-Credentials: true`. Default true.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflights, in seconds. Default 1500.
    pub max_age: u32,
}

impl CorsPolicy {
    /// Mirrors any origin (the reference's `-cors _mirror_`).
    pub fn mirror() -> Self {
        Self {
            origins: AllowedOrigins::Mirror,
            allow_credentials: true,
            max_age: 1500,
        }
    }

    /// Allows only the given origins.
    pub fn origins(origins: &[&str]) -> Self {
        Self {
            origins: AllowedOrigins::List(origins.iter().map(|o| o.to_string()).collect()),
            ..Self::mirror()
        }
    }

    /// Parses a command-line value: `_mirror_` or a comma-separated list of origins.
    pub fn from_flag(flag: &str) -> Self {
        if flag == "_mirror_" {
            Self::mirror()
        } else {
            let origins: Vec<&str> = flag
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .collect();
            Self::origins(&origins)
        }
    }

    fn allowed_origin(&self, origin: &str) -> bool {
        match &self.origins {
            AllowedOrigins::Mirror => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    /// Adds the headers of an ordinary response to a request from `origin`.
    pub fn add_response_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        self.add_headers(origin, headers, false);
    }

    /// Adds the headers of a preflight answer.
    pub fn add_preflight_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        self.add_headers(origin, headers, true);
    }

    /// Nothing for an origin that is not allowed; else the headers, in the reference's order.
    fn add_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap, preflight: bool) {
        let Some(origin) = origin.filter(|o| o.to_str().is_ok_and(|o| self.allowed_origin(o)))
        else {
            return;
        };
        if self.allow_credentials {
            headers.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
        }
        if preflight {
            headers.insert(
                "access-control-allow-headers",
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                "access-control-allow-methods",
                HeaderValue::from_static(ALLOWED_METHODS),
            );
        }
        headers.insert("access-control-allow-origin", origin.clone());
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        if preflight {
            headers.insert("access-control-max-age", HeaderValue::from(self.max_age));
        }
    }
}
