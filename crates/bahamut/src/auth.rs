//! Authentication, authorization, audit and the identifiable retriever.

use elemental::{Errors, Identifiable, Request};

use crate::BoxFuture;

/// What an authenticator or authorizer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    /// Accepted: the chain stops here, the request goes on.
    Ok,
    /// Refused: the chain stops here, the request is answered 401 (or 403).
    Ko,
    /// No opinion: the next one in the chain decides. When every one continues, the request is
    /// refused.
    Continue,
}

/// What authenticators and authorizers see of a request, and where they leave claims.
pub struct AuthContext<'a> {
    /// The request.
    pub request: &'a Request,
    /// Claims about the caller, set by authenticators and readable by processors.
    pub claims: &'a mut Vec<String>,
}

/// Decides who is calling (the chain answers 401 `Unauthorized`).
pub trait RequestAuthenticator: Send + Sync {
    /// Authenticates one request.
    fn authenticate<'a>(
        &'a self,
        ctx: &'a mut AuthContext<'_>,
    ) -> BoxFuture<'a, Result<AuthAction, elemental::Error>>;
}

/// Decides whether the caller may do this (the chain answers 403 `Forbidden`).
pub trait RequestAuthorizer: Send + Sync {
    /// Authorizes one request.
    fn authorize<'a>(
        &'a self,
        ctx: &'a mut AuthContext<'_>,
    ) -> BoxFuture<'a, Result<AuthAction, elemental::Error>>;
}

/// What an auditer is told about a model request.
pub struct AuditRecord<'a> {
    /// The request (absent when it could not even be parsed).
    pub request: Option<&'a Request>,
    /// The HTTP status answered.
    pub status: u16,
    /// The errors answered, if any.
    pub errors: Option<&'a Errors>,
}

/// Records every model request once, with its error if any.
pub trait Auditer: Send + Sync {
    /// Called once per request, after the response is decided.
    fn audit(&self, record: &AuditRecord<'_>);
}

/// Loads the stored version of the object a request addresses (update and patch).
pub trait IdentifiableRetriever: Send + Sync {
    /// The stored object, or an error (such as a 404) that is answered as is.
    fn retrieve<'a>(
        &'a self,
        request: &'a Request,
    ) -> BoxFuture<'a, Result<Box<dyn Identifiable>, elemental::Error>>;
}
