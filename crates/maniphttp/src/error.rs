//! The client's errors: the server's error array decoded into typed errors, and what can go
//! wrong before an answer arrives.

use std::fmt;
use std::time::Duration;

use elemental::Errors;
use manipulate::ManipulateError;

/// The errors a server answered with, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// The error array of the body (one error made from the status when the body held none).
    pub errors: Errors,
    /// The answer's `X-Request-ID`: the `trace` of the errors, to find the server's log lines.
    pub request_id: Option<String>,
    /// How long the server asked to wait (`Retry-After`, in seconds).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The description of the first error.
    pub fn description(&self) -> &str {
        self.errors
            .iter()
            .next()
            .map_or("", |e| e.description.as_str())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.status)?;
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.title, error.description)?;
        }
        Ok(())
    }
}

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 400: the server could not read the request.
    #[error("bad request: {0}")]
    BadRequest(ApiError),
    /// 401: no valid credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(ApiError),
    /// 403: the credentials do not allow the operation.
    #[error("forbidden: {0}")]
    Forbidden(ApiError),
    /// 404: no such object (or parent) in the namespaces the request may see.
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// 405: the operation is not served for this identity.
    #[error("method not allowed: {0}")]
    MethodNotAllowed(ApiError),
    /// 409: the write conflicts with stored objects (such as a unique index).
    #[error("conflict: {0}")]
    Conflict(ApiError),
    /// 413: the body is larger than the server takes.
    #[error("payload too large: {0}")]
    PayloadTooLarge(ApiError),
    /// 422: the object breaks rules of the specs (one error per attribute).
    #[error("validation failed: {0}")]
    Validation(ApiError),
    /// 423: storage is locked.
    #[error("locked: {0}")]
    Locked(ApiError),
    /// 429: too many requests (retried while the policy allows).
    #[error("rate limited: {0}")]
    RateLimited(ApiError),
    /// 502, 503, 504: the server or what is behind it is unavailable (retried while the policy
    /// allows).
    #[error("service unavailable: {0}")]
    Unavailable(ApiError),
    /// 500 and any other error status.
    #[error("server error: {0}")]
    Server(ApiError),
    /// The server could not be reached, or the connection broke (retried while the policy
    /// allows).
    #[error("cannot communicate with {api}: {reason}")]
    Transport {
        /// The API address.
        api: String,
        /// What failed.
        reason: String,
    },
    /// No answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer could not be read.
    #[error("cannot read the answer: {0}")]
    Decode(String),
    /// The request could not be built (such as an object that does not encode).
    #[error("cannot build the request: {0}")]
    Request(String),
    /// The client's configuration is unusable (a bad address, an unreadable certificate).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The token manager could not issue a token.
    #[error("cannot get a token: {0}")]
    Token(String),
}

/// Makes the typed error of an answer.
type MakeError = fn(ApiError) -> Error;

/// Which typed error an error status is, for the statuses that have one.
static STATUS_KINDS: &[(u16, MakeError)] = &[
    (400, Error::BadRequest),
    (401, Error::Unauthorized),
    (403, Error::Forbidden),
    (404, Error::NotFound),
    (405, Error::MethodNotAllowed),
    (409, Error::Conflict),
    (413, Error::PayloadTooLarge),
    (422, Error::Validation),
    (423, Error::Locked),
    (429, Error::RateLimited),
    (502, Error::Unavailable),
    (503, Error::Unavailable),
    (504, Error::Unavailable),
];

impl Error {
    /// The typed error of an error answer.
    pub fn from_api(api: ApiError) -> Self {
        match STATUS_KINDS
            .iter()
            .find(|(status, _)| *status == api.status)
        {
            Some((_, make)) => make(api),
            None => Self::Server(api),
        }
    }

    /// The server's answer, for errors that come from one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::BadRequest(a)
            | Self::Unauthorized(a)
            | Self::Forbidden(a)
            | Self::NotFound(a)
            | Self::MethodNotAllowed(a)
            | Self::Conflict(a)
            | Self::PayloadTooLarge(a)
            | Self::Validation(a)
            | Self::Locked(a)
            | Self::RateLimited(a)
            | Self::Unavailable(a)
            | Self::Server(a) => Some(a),
            _ => None,
        }
    }

    /// The HTTP status of the answer, for errors that come from one.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }

    /// True for the errors worth sending the request again: connection errors, timeouts of
    /// one attempt, 429, 502, 503 and 504.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited(_) | Self::Unavailable(_) | Self::Transport { .. } | Self::Timeout(_)
        )
    }

    /// The error as storage errors read it, for code written against `Manipulator`: 404 on an
    /// object is [`ManipulateError::NotFound`] (with `id`, which is not empty), 423, 429 and
    /// unreachable servers are the retryable ones, and any other answer (a 404 on a collection
    /// included: a missing parent or namespace) keeps the server's first error as it is.
    pub fn into_manipulate(self, id: &str) -> ManipulateError {
        match self {
            Self::NotFound(_) if !id.is_empty() => ManipulateError::NotFound { id: id.to_string() },
            Self::Locked(a) => ManipulateError::Locked(a.description().to_string()),
            Self::RateLimited(_) => ManipulateError::TooManyRequests,
            Self::Unavailable(a) => ManipulateError::CannotCommunicate(a.to_string()),
            Self::Transport { .. } | Self::Timeout(_) => {
                ManipulateError::CannotCommunicate(self.to_string())
            }
            other => match other.api().and_then(|a| a.errors.iter().next()) {
                Some(first) => ManipulateError::Remote(Box::new(first.clone())),
                None => ManipulateError::Internal(other.to_string()),
            },
        }
    }
}

impl From<Error> for ManipulateError {
    fn from(error: Error) -> Self {
        error.into_manipulate("")
    }
}

impl From<Error> for Errors {
    /// The server's errors as they are, or one error with the status a proxy should answer
    /// (502 for an unreachable server, 504 for a timeout, 500 otherwise).
    fn from(error: Error) -> Self {
        if let Some(api) = error.api() {
            return api.errors.clone();
        }
        let (title, code) = match error {
            Error::Transport { .. } => ("Bad Gateway", 502),
            Error::Timeout(_) => ("Gateway Timeout", 504),
            _ => ("Internal Server Error", 500),
        };
        Errors::from(elemental::Error::new(
            title,
            error.to_string(),
            "maniphttp",
            code,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> ApiError {
        ApiError {
            status,
            errors: Errors::from(elemental::Error::new("T", "d", "s", status)),
            request_id: None,
            retry_after: None,
        }
    }

    #[test]
    fn statuses_become_typed_errors() {
        let kinds: Vec<String> = [
            400, 401, 403, 404, 405, 409, 413, 422, 423, 429, 500, 502, 418,
        ]
        .into_iter()
        .map(|s| {
            let text = Error::from_api(answer(s)).to_string();
            text.split(':').next().unwrap_or_default().to_string()
        })
        .collect();
        assert_eq!(
            kinds,
            [
                "bad request",
                "unauthorized",
                "forbidden",
                "not found",
                "method not allowed",
                "conflict",
                "payload too large",
                "validation failed",
                "locked",
                "rate limited",
                "server error",
                "service unavailable",
                "server error"
            ]
        );
    }

    #[test]
    fn storage_errors_keep_not_found_and_the_first_error() {
        assert_eq!(
            Error::from_api(answer(404)).into_manipulate("x1"),
            ManipulateError::NotFound { id: "x1".into() }
        );
        assert_eq!(
            Error::from_api(answer(429)).into_manipulate(""),
            ManipulateError::TooManyRequests
        );
        let remote = Error::from_api(answer(422)).into_manipulate("");
        assert_eq!(remote.status(), 422);
        assert_eq!(
            remote.to_elemental(),
            elemental::Error::new("T", "d", "s", 422)
        );
    }
}
