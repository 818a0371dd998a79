//! Namespace rules: a namespace `prod` created in `/acme` is `/acme/prod`; a namespace that
//! still holds objects cannot be deleted.

use std::sync::Arc;

use bahamut::BoxFuture;
use elemental::filter::{Comparator, Comparison, Filter, FilterValue};
use elemental::namespace::join_namespace;
use elemental::{Error, Identity, ModelIdentity};
use gaia::model::{ExternalNetwork, HostService, Namespace, NetworkAccessPolicy, Service};
use manipulate::{Context, Manipulator};

/// Every identity that lives in namespaces.
pub const NAMESPACED: [Identity; 5] = [
    Namespace::IDENTITY,
    HostService::IDENTITY,
    ExternalNetwork::IDENTITY,
    NetworkAccessPolicy::IDENTITY,
    Service::IDENTITY,
];

/// The crud hooks of namespaces.
pub struct NamespaceRules {
    store: Arc<dyn Manipulator>,
}

impl NamespaceRules {
    /// Rules checking against `store`.
    pub fn new(store: Arc<dyn Manipulator>) -> Self {
        Self { store }
    }
}

fn invalid_name(name: &str, message: &str) -> Error {
    Error::validation(
        "name",
        format!("Data '{name}' of attribute 'name' {message}"),
    )
}

impl crud::Hooks<Namespace> for NamespaceRules {
    fn before_create<'a>(
        &'a self,
        namespace: &'a mut Namespace,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let parent = ctx.namespace.as_str();
            let prefix = join_namespace(parent, "");
            let short = namespace
                .name
                .strip_prefix(&prefix)
                .unwrap_or(&namespace.name)
                .to_string();
            if short.is_empty() || short.contains('/') {
                return Err(invalid_name(
                    &namespace.name,
                    &format!(
                        "must be a single name, created in the namespace of the request ({parent})"
                    ),
                ));
            }
            let full = join_namespace(parent, &short);
            let filter = Filter::Comparison(Comparison {
                key: "name".to_string(),
                comparator: Comparator::Equal,
                value: Some(FilterValue::String(full.clone())),
            });
            let existing = self
                .store
                .count(
                    Namespace::IDENTITY,
                    &Context::in_namespace(parent).with_filter(filter),
                )
                .await?;
            if existing > 0 {
                return Err(Error::new(
                    "Conflict",
                    format!("Namespace '{full}' already exists"),
                    "apiserver",
                    409,
                )
                .with_attribute("name"));
            }
            namespace.name = full;
            Ok(())
        })
    }

    fn before_delete<'a>(
        &'a self,
        namespace: &'a Namespace,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut inside = Context::in_namespace(&namespace.name);
            inside.recursive = true;
            let mut held = 0;
            for identity in NAMESPACED {
                held += self.store.count(identity, &inside).await?;
            }
            if held > 0 {
                return Err(Error::new(
                    "Conflict",
                    format!(
                        "Namespace '{}' is not empty: it still holds {held} object(s); delete them first",
                        namespace.name
                    ),
                    "apiserver",
                    409,
                ));
            }
            Ok(())
        })
    }
}
