//! The options of a manipulation: namespace, filter, pagination, ordering, parent...

use elemental::filter::{Filter, FilterError};
use elemental::{CountMode, Identity, Parameters, Request};

use crate::ManipulateError;

/// How fresh reads must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadConsistency {
    /// The backend's default.
    #[default]
    Default,
    /// Possibly stale.
    Eventual,
    /// Never older than a previous read.
    Monotonic,
    /// Up to date.
    Strong,
}

/// How durable writes must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteConsistency {
    /// The backend's default.
    #[default]
    Default,
    /// Acknowledged without waiting.
    None,
    /// Durable.
    Strong,
}

/// The options of one manipulation.
#[derive(Debug, Clone, Default)]
pub struct StoreContext {
    /// The namespace: objects are read, changed and counted only there (and below when
    /// `recursive`). Empty for models without namespaces.
    pub namespace: String,
    /// Extend reads to the namespace's descendants.
    pub recursive: bool,
    /// Also read objects propagated from parent namespaces.
    pub propagated: bool,
    /// Only objects matching the filter.
    pub filter: Option<Filter>,
    /// Page number (from 1); 0 with `page_size` 0 means everything.
    pub page: u64,
    /// Page size.
    pub page_size: u64,
    /// Cursor: continue after this object.
    pub after: Option<String>,
    /// With `after`: how many objects.
    pub limit: u64,
    /// Attributes to order by (`-name` for descending).
    pub order: Vec<String>,
    /// The parent the objects live under, as (identity, id).
    pub parent: Option<(Identity, String)>,
    /// Declared parameters of the request.
    pub parameters: Parameters,
    /// Attributes wanted (all when empty).
    pub fields: Vec<String>,
    /// A key that makes a retried write happen once.
    pub idempotency_key: Option<String>,
    /// Read consistency.
    pub read_consistency: ReadConsistency,
    /// Write consistency.
    pub write_consistency: WriteConsistency,
    /// Ask the server to change objects that are protected (`override=true`).
    pub override_protection: bool,
    /// The caller's tracking id of the operation (`X-External-Tracking-ID`).
    pub external_tracking_id: String,
    /// The kind of the tracking id (`X-External-Tracking-Type`).
    pub external_tracking_type: String,
    /// How the total of a retrieve-many is counted (`X-Count-Mode`; exact by default).
    pub count_mode: CountMode,
}

impl StoreContext {
    /// A context in a namespace.
    pub fn in_namespace(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            ..Self::default()
        }
    }

    /// The same context with a filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The context of a request: namespace (`/` when absent), recursive, propagated, the `q`
    /// filters (several are ORed; an empty one is no filter), pagination, order, parent, fields, idempotency key,
    /// consistency headers, override, tracking id and count mode.
    pub fn from_request(request: &Request) -> Result<Self, ManipulateError> {
        let filters: Vec<Filter> = request
            .parameters
            .get("q")
            .map(|q| {
                q.string_values()
                    .into_iter()
                    .filter(|text| !text.trim().is_empty())
                    .map(Filter::parse)
                    .collect::<Result<_, FilterError>>()
            })
            .transpose()
            .map_err(|e| ManipulateError::InvalidQuery(format!("invalid filter: {e}")))?
            .unwrap_or_default();
        let filter = match filters.len() {
            0 => None,
            1 => filters.into_iter().next(),
            _ => Some(Filter::Or(filters)),
        };
        let parent = (!request.parent_identity.is_root() && !request.parent_id.is_empty())
            .then(|| (request.parent_identity, request.parent_id.clone()));
        Ok(Self {
            namespace: if request.namespace.is_empty() {
                "/".to_string()
            } else {
                request.namespace.clone()
            },
            recursive: request.recursive,
            propagated: request.propagated,
            filter,
            page: request.page,
            page_size: request.page_size,
            after: request.after.clone(),
            limit: request.limit,
            order: request.order.clone(),
            parent,
            parameters: request.parameters.clone(),
            fields: request.fields.clone(),
            idempotency_key: request.idempotency_key.clone(),
            read_consistency: match request.read_consistency.as_deref() {
                Some("eventual") => ReadConsistency::Eventual,
                Some("monotonic") => ReadConsistency::Monotonic,
                Some("strong") => ReadConsistency::Strong,
                _ => ReadConsistency::Default,
            },
            write_consistency: match request.write_consistency.as_deref() {
                Some("none") => WriteConsistency::None,
                Some("strong" | "strongest") => WriteConsistency::Strong,
                _ => WriteConsistency::Default,
            },
            override_protection: request.override_protection,
            external_tracking_id: request.external_tracking_id.clone(),
            external_tracking_type: request.external_tracking_type.clone(),
            count_mode: request.count_mode.unwrap_or_default(),
        })
    }
}
