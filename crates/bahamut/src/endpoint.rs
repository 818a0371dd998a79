//! What a request was, as its metrics label it and its access log line names it: a small, fixed
//! set of values (never ids), whatever clients send.

use std::fmt;

use elemental::{Identity, Operation};

/// The route a request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    /// The identity of a model route (empty for other routes and unknown categories).
    pub(crate) identity: &'static str,
    /// The operation of a model route, or the kind of another route (`meta`, `push`, ...).
    pub(crate) operation: &'static str,
    /// The path template of a model route (`None` for other routes).
    pub(crate) template: Option<Template>,
}

/// The path of a model route with its ids left out: `/services`, `/services/:id`,
/// `/namespaces/:id/services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Template {
    category: &'static str,
    parent_category: Option<&'static str>,
    object: bool,
}

impl Endpoint {
    /// A route that is not a model route.
    pub(crate) const fn other(kind: &'static str) -> Self {
        Self {
            identity: "",
            operation: kind,
            template: None,
        }
    }

    /// A model route: `operation` on `identity`, under `parent` ([`Identity::ROOT`] for a top
    /// level route).
    pub(crate) fn model(identity: Identity, parent: Identity, operation: Operation) -> Self {
        let object = matches!(
            operation,
            Operation::Retrieve | Operation::Update | Operation::Patch | Operation::Delete
        );
        Self {
            identity: identity.name,
            operation: operation.as_str(),
            template: Some(Template {
                category: identity.category,
                parent_category: (!parent.is_root()).then_some(parent.category),
                object,
            }),
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent_category {
            write!(f, "/{parent}/:id")?;
        }
        write!(f, "/{}", self.category)?;
        if self.object {
            f.write_str("/:id")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_leave_ids_out() {
        let list = Identity::new("list", "lists");
        let task = Identity::new("task", "tasks");
        let show = |e: Endpoint| e.template.map(|t| t.to_string());
        let root = Identity::ROOT;
        assert_eq!(
            show(Endpoint::model(list, root, Operation::Create)).as_deref(),
            Some("/lists")
        );
        assert_eq!(
            show(Endpoint::model(list, root, Operation::Patch)).as_deref(),
            Some("/lists/:id")
        );
        assert_eq!(
            show(Endpoint::model(task, list, Operation::RetrieveMany)).as_deref(),
            Some("/lists/:id/tasks")
        );
        assert_eq!(show(Endpoint::other("meta")), None);
    }
}
