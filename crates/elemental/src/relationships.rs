//! The relationships registry: which operation is allowed on which identity under which
//! parent, with which declared parameters.

use std::collections::BTreeMap;

use crate::{Identity, Operation, ParameterDefinition, ParametersRequirement};

/// What the specs declare for one (identity, operation, parent) triple.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationshipInfo {
    /// The query parameters the operation accepts.
    pub parameters: Vec<ParameterDefinition>,
    /// The combinations of parameters that must be present.
    pub required_parameters: ParametersRequirement,
    /// The operation is deprecated.
    pub deprecated: bool,
}

impl RelationshipInfo {
    /// Info with the given parameters and no requirement.
    pub fn with_parameters(parameters: Vec<ParameterDefinition>) -> Self {
        Self {
            parameters,
            ..Self::default()
        }
    }
}

impl RelationshipInfo {
    /// The same info with a requirement expression.
    pub fn with_required(mut self, required: ParametersRequirement) -> Self {
        self.required_parameters = required;
        self
    }

    /// The same info marked deprecated.
    pub fn with_deprecated(mut self, deprecated: bool) -> Self {
        self.deprecated = deprecated;
        self
    }
}

type ByParent = BTreeMap<String, RelationshipInfo>;

/// Allowed operations, keyed by identity name, operation, then parent identity name.
///
/// Operations on one object (`retrieve`, `update`, `delete`, `patch`) are registered under the
/// parent `root`, as the reference does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationshipsRegistry {
    entries: BTreeMap<String, BTreeMap<Operation, ByParent>>,
}

impl RelationshipsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `operation` on `identity` under `parent`.
    pub fn allow(
        &mut self,
        identity: &str,
        operation: Operation,
        parent: &str,
        info: RelationshipInfo,
    ) -> &mut Self {
        self.entries
            .entry(identity.to_string())
            .or_default()
            .entry(operation)
            .or_default()
            .insert(parent.to_string(), info);
        self
    }

    /// The info registered for the triple, if the operation is allowed.
    pub fn info(
        &self,
        identity: &Identity,
        parent: &Identity,
        operation: Operation,
    ) -> Option<&RelationshipInfo> {
        self.entries
            .get(identity.name)?
            .get(&operation)?
            .get(parent.name)
    }

    /// True when `operation` is allowed on `identity` under `parent`.
    pub fn is_operation_allowed(
        &self,
        identity: &Identity,
        parent: &Identity,
        operation: Operation,
    ) -> bool {
        self.info(identity, parent, operation).is_some()
    }

    /// The parameters declared for the triple (none when it is not allowed).
    pub fn parameters_for_operation(
        &self,
        identity: &Identity,
        parent: &Identity,
        operation: Operation,
    ) -> &[ParameterDefinition] {
        self.info(identity, parent, operation)
            .map_or(&[], |i| i.parameters.as_slice())
    }

    /// Every registered triple: `(identity name, operation, parent name, info)`, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Operation, &str, &RelationshipInfo)> {
        self.entries.iter().flat_map(|(identity, ops)| {
            ops.iter().flat_map(move |(op, parents)| {
                parents
                    .iter()
                    .map(move |(parent, info)| (identity.as_str(), *op, parent.as_str(), info))
            })
        })
    }
}
