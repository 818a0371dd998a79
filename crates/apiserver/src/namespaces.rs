//! Namespace rules: objects are created only in namespaces that exist (`/` always does); a
//! namespace `prod` created in `/acme` is `/acme/prod`; a namespace that still holds objects
//! cannot be deleted.

use std::sync::Arc;

use bahamut::BoxFuture;
use elemental::filter::{Comparator, Comparison, Filter, FilterValue};
use elemental::namespace::{join_namespace, parent_namespace};
use elemental::{Error, Identifiable, Identity, ModelIdentity};
use gaia::model::{ExternalNetwork, HostService, Namespace, NetworkAccessPolicy, Service};
use manipulate::{Manipulator, StoreContext};

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

/// How many namespaces named `full` (a whole path) live in `parent`.
async fn count_named(store: &dyn Manipulator, parent: &str, full: &str) -> Result<u64, Error> {
    let filter = Filter::Comparison(Comparison {
        key: "name".to_string(),
        comparator: Comparator::Equal,
        value: Some(FilterValue::String(full.to_string())),
    });
    let ctx = StoreContext::in_namespace(parent).with_filter(filter);
    Ok(store.count(Namespace::IDENTITY, &ctx).await?)
}

/// Fails with a 404 unless `namespace` is `/` or a namespace object exists for it.
pub async fn require_namespace(store: &dyn Manipulator, namespace: &str) -> Result<(), Error> {
    let Some(parent) = parent_namespace(namespace) else {
        return Ok(());
    };
    if count_named(store, parent, namespace).await? > 0 {
        return Ok(());
    }
    Err(Error::new(
        "Not Found",
        format!("Namespace '{namespace}' does not exist"),
        "apiserver",
        404,
    ))
}

/// The crud hooks of every other identity: created only in namespaces that exist.
pub struct ExistingNamespace {
    store: Arc<dyn Manipulator>,
}

impl ExistingNamespace {
    /// Checks against `store`.
    pub fn new(store: Arc<dyn Manipulator>) -> Self {
        Self { store }
    }
}

impl<T: Send + Sync + 'static> crud::Hooks<T> for ExistingNamespace {
    fn before_create<'a>(
        &'a self,
        _object: &'a mut T,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(require_namespace(self.store.as_ref(), &ctx.namespace))
    }
}

/// Push sessions open only on namespaces that exist (else a 404 before the upgrade).
impl bahamut::push::SessionAuthenticator for ExistingNamespace {
    fn authenticate_session<'a>(
        &'a self,
        session: &'a bahamut::push::SessionInfo,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            require_namespace(self.store.as_ref(), &session.namespace).await?;
            Ok(true)
        })
    }
}

fn already_exists(full: &str) -> Error {
    Error::new(
        "Conflict",
        format!("Namespace '{full}' already exists"),
        "apiserver",
        409,
    )
    .with_attribute("name")
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
        ctx: &'a StoreContext,
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
            require_namespace(self.store.as_ref(), parent).await?;
            let full = join_namespace(parent, &short);
            // The stored name is the whole path: the spec's length limit applies to it.
            if let Some(max) = namespace
                .specification_for_attribute("name")
                .and_then(|spec| spec.max_length)
            {
                elemental::validators::validate_maximum_length("name", &full, max, false)?;
            }
            if count_named(self.store.as_ref(), parent, &full).await? > 0 {
                return Err(already_exists(&full));
            }
            namespace.name = full;
            Ok(())
        })
    }

    /// Two creates of one name that both passed the check above: the unique index on
    /// (namespace, name) refuses the second, which gets the same answer as if it had come later.
    fn create_failed(&self, error: Error, namespace: &Namespace) -> Error {
        if error.code == 409 {
            already_exists(&namespace.name)
        } else {
            error
        }
    }

    fn before_delete<'a>(
        &'a self,
        namespace: &'a Namespace,
        _ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut inside = StoreContext::in_namespace(&namespace.name);
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
