//! Operations: what a request does to an identity.

use std::fmt;

/// An operation on an identity, as the reference names them on the wire (`retrieve-many`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `GET /{resources}` or `GET /{parents}/{id}/{children}`.
    RetrieveMany,
    /// `GET /{resources}/{id}`.
    Retrieve,
    /// `POST /{resources}`.
    Create,
    /// `PUT /{resources}/{id}`.
    Update,
    /// `DELETE /{resources}/{id}`.
    Delete,
    /// `PATCH /{resources}/{id}`.
    Patch,
    /// `HEAD /{resources}`: counts.
    Info,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 7] = [
        Operation::RetrieveMany,
        Operation::Retrieve,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Patch,
        Operation::Info,
    ];

    /// The wire name: `retrieve-many`, `retrieve`, `create`, `update`, `delete`, `patch`, `info`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::RetrieveMany => "retrieve-many",
            Operation::Retrieve => "retrieve",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Patch => "patch",
            Operation::Info => "info",
        }
    }

    /// The CamelCase name used in `405` descriptions (`RetrieveMany operation not allowed on lists`).
    pub fn camel_name(&self) -> &'static str {
        match self {
            Operation::RetrieveMany => "RetrieveMany",
            Operation::Retrieve => "Retrieve",
            Operation::Create => "Create",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
            Operation::Patch => "Patch",
            Operation::Info => "Info",
        }
    }

    /// Parses a wire name.
    pub fn from_wire(s: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// True for the operations that change data.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Operation::Create | Operation::Update | Operation::Delete | Operation::Patch
        )
    }

    /// True for the operations that address one object by id.
    pub fn targets_object(&self) -> bool {
        matches!(
            self,
            Operation::Retrieve | Operation::Update | Operation::Delete | Operation::Patch
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Operation::RetrieveMany.as_str(), "retrieve-many");
        assert_eq!(Operation::RetrieveMany.camel_name(), "RetrieveMany");
        assert_eq!(Operation::from_wire("patch"), Some(Operation::Patch));
        assert_eq!(Operation::from_wire("nope"), None);
        assert!(Operation::Patch.is_write());
        assert!(!Operation::Info.is_write());
    }
}
