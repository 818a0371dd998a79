//! The relationships registry: which operation is allowed on which identity under which
//! parent, with which declared parameters.

use std::collections::BTreeMap;

use crate::{Identity, Operation, ParameterDefinition, ParametersRequirement};

/// What the specs declare for one (identity, operation, parent) triple: constant data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelationshipInfo {
    /// The query parameters the operation accepts.
    pub parameters: &'static [ParameterDefinition],
    /// The combinations of parameters that must be present.
    pub required_parameters: ParametersRequirement,
    /// The operation is deprecated.
    pub deprecated: bool,
}

impl Default for RelationshipInfo {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RelationshipInfo {
    /// No parameter, no requirement, not deprecated.
    pub const DEFAULT: Self = Self {
        parameters: &[],
        required_parameters: ParametersRequirement::NONE,
        deprecated: false,
    };

    /// Info with the given parameters and no requirement.
    pub const fn with_parameters(parameters: &'static [ParameterDefinition]) -> Self {
        Self {
            parameters,
            ..Self::DEFAULT
        }
    }

    /// The same info with a requirement expression.
    pub const fn with_required(mut self, required: ParametersRequirement) -> Self {
        self.required_parameters = required;
        self
    }

    /// The same info marked deprecated.
    pub const fn with_deprecated(mut self, deprecated: bool) -> Self {
        self.deprecated = deprecated;
        self
    }
}

/// One allowed triple, as a generated `static` table lists them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relationship {
    /// The identity's name.
    pub identity: &'static str,
    /// The operation allowed.
    pub operation: Operation,
    /// The parent identity's name (`root` for top-level routes and single objects).
    pub parent: &'static str,
    /// Its parameters.
    pub info: RelationshipInfo,
}

type ByParent = BTreeMap<&'static str, RelationshipInfo>;

/// Allowed operations, keyed by identity name, operation, then parent identity name.
///
/// Operations on one object (`retrieve`, `update`, `delete`, `patch`) are registered under the
/// parent `root`, as the reference does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationshipsRegistry {
    entries: BTreeMap<&'static str, BTreeMap<Operation, ByParent>>,
}

impl RelationshipsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry of a table of relationships (a generated model's `RELATIONSHIPS`).
    pub fn from_table(table: &[Relationship]) -> Self {
        let mut registry = Self::new();
        for r in table {
            registry.allow(r.identity, r.operation, r.parent, r.info);
        }
        registry
    }

    /// Allows `operation` on `identity` under `parent`.
    pub fn allow(
        &mut self,
        identity: &'static str,
        operation: Operation,
        parent: &'static str,
        info: RelationshipInfo,
    ) -> &mut Self {
        self.entries
            .entry(identity)
            .or_default()
            .entry(operation)
            .or_default()
            .insert(parent, info);
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
            .map_or(&[], |i| i.parameters)
    }

    /// Every registered triple: `(identity name, operation, parent name, info)`, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Operation, &str, &RelationshipInfo)> {
        self.entries.iter().flat_map(|(identity, ops)| {
            ops.iter().flat_map(move |(op, parents)| {
                parents
                    .iter()
                    .map(move |(parent, info)| (*identity, *op, *parent, info))
            })
        })
    }
}
