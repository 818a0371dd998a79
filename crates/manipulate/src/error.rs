//! Errors of manipulators, with their HTTP mapping.

use elemental::Error;

/// What can go wrong talking to storage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManipulateError {
    /// No object with that id (in the namespaces the context may see).
    #[error("Object with ID '{id}' not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// Several objects where one was expected.
    #[error("multiple objects found: {0}")]
    MultipleFound(String),
    /// A uniqueness or integrity rule refused the write.
    #[error("constraint violation: {0}")]
    ConstraintViolation(String),
    /// The write conflicts with the state of storage (such as deleting a non-empty namespace).
    #[error("{0}")]
    Conflict(String),
    /// Storage could not be reached (retryable).
    #[error("cannot communicate with storage: {0}")]
    CannotCommunicate(String),
    /// Storage is locked (retryable).
    #[error("storage is locked: {0}")]
    Locked(String),
    /// Storage asked to slow down (retryable).
    #[error("too many requests")]
    TooManyRequests,
    /// The query cannot be run (bad filter, unknown attribute, bad cursor).
    #[error("{0}")]
    InvalidQuery(String),
    /// Anything else.
    #[error("storage error: {0}")]
    Internal(String),
    /// A remote store (a server reached over HTTP) refused the operation with this error; it
    /// is passed on as it is, status included.
    #[error("{}", .0.description)]
    Remote(Box<Error>),
}

impl ManipulateError {
    /// True for the errors worth retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::CannotCommunicate(_) | Self::Locked(_) | Self::TooManyRequests
        )
    }

    /// The HTTP status of the error.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::MultipleFound(_) | Self::ConstraintViolation(_) | Self::Conflict(_) => 409,
            Self::CannotCommunicate(_) => 503,
            Self::Locked(_) => 423,
            Self::TooManyRequests => 429,
            Self::InvalidQuery(_) => 400,
            Self::Internal(_) => 500,
            Self::Remote(e) => e.code,
        }
    }

    /// The error as clients see it.
    pub fn to_elemental(&self) -> Error {
        if let Self::Remote(error) = self {
            return Error::clone(error);
        }
        let title = match self {
            Self::NotFound { .. } => "Not Found",
            Self::MultipleFound(_) => "Multiple Objects Found",
            Self::ConstraintViolation(_) => "Constraint Violation",
            Self::Conflict(_) => "Conflict",
            Self::CannotCommunicate(_) => "Service Unavailable",
            Self::Locked(_) => "Locked",
            Self::TooManyRequests => "Too Many Requests",
            Self::InvalidQuery(_) => "Bad Request",
            Self::Internal(_) | Self::Remote(_) => "Internal Server Error",
        };
        Error::new(title, self.to_string(), "manipulate", self.status())
    }
}

impl From<ManipulateError> for Error {
    fn from(e: ManipulateError) -> Self {
        e.to_elemental()
    }
}
