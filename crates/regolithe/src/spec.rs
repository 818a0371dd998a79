//! The files of a spec set, exactly as written (serde types).
//!
//! Unknown keys are refused, so a typo in a spec is an error with its line and column rather
//! than a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A YAML value as written (defaults, examples, extensions).
pub type YamlValue = serde_norway::Value;

/// A `*.spec` or `@*.abs` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The model section (absent in abstracts).
    pub model: Option<ModelSpec>,
    /// Attributes, keyed by version (`v1`, `v2`, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<AttributeSpec>>,
    /// Children of this model.
    #[serde(default)]
    pub relations: Vec<RelationSpec>,
}

/// The `model:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Singular name (`list`).
    #[serde(default)]
    pub rest_name: String,
    /// Plural name used in URLs (`lists`).
    #[serde(default)]
    pub resource_name: String,
    /// Type name (`List`).
    #[serde(default)]
    pub entity_name: String,
    /// Package.
    #[serde(default)]
    pub package: String,
    /// Documentation group.
    #[serde(default)]
    pub group: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Other names clients may use.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Hidden from documentation.
    #[serde(default)]
    pub private: bool,
    /// The root model.
    #[serde(default)]
    pub root: bool,
    /// Not addressable on its own.
    #[serde(default)]
    pub detached: bool,
    /// Deprecated.
    #[serde(default)]
    pub deprecated: bool,
    /// `GET /resources/:id`.
    pub get: Option<OperationSpec>,
    /// `PUT /resources/:id` (and `PATCH`).
    pub update: Option<OperationSpec>,
    /// `DELETE /resources/:id`.
    pub delete: Option<OperationSpec>,
    /// Abstracts whose attributes this model includes (`'@base'`).
    #[serde(default)]
    pub extends: Vec<String>,
    /// Entity-level validations (`$name` from `_validation.mapping`).
    #[serde(default)]
    pub validations: Vec<String>,
    /// Storage indexes.
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
    /// Default ordering.
    #[serde(default)]
    pub default_order: Vec<String>,
    /// Free extensions.
    #[serde(default)]
    pub extensions: Option<YamlValue>,
}

/// An operation (`get`, `create`, ...) with its parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Shared parameter sets from `_parameter.mapping`.
    #[serde(default)]
    pub global_parameters: Vec<String>,
    /// Own parameters.
    pub parameters: Option<ParameterSet>,
    /// Deprecated.
    #[serde(default)]
    pub deprecated: bool,
}

/// A set of parameters with their requirement expression.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSet {
    /// AND of groups, OR of combinations, AND of names.
    #[serde(default)]
    pub required: Vec<Vec<Vec<String>>>,
    /// The parameters.
    #[serde(default)]
    pub entries: Vec<ParameterSpec>,
}

/// The type of a parameter (elemental's).
pub use elemental::ParameterType as ParameterKind;

/// One query parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// The query key.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// May be repeated.
    #[serde(default)]
    pub multiple: bool,
    /// Enum choices.
    #[serde(default)]
    pub allowed_choices: Vec<String>,
    /// Default.
    pub default_value: Option<YamlValue>,
    /// Example for documentation.
    pub example_value: Option<YamlValue>,
}

/// The type of an attribute (elemental's).
pub use elemental::AttributeType as AttributeKind;

/// One attribute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    /// Wire name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: AttributeKind,
    /// Element type (list), model (ref*), or mapping name (external).
    #[serde(default)]
    pub subtype: String,
    /// Sent and accepted on the API.
    #[serde(default)]
    pub exposed: bool,
    /// Kept by storage.
    #[serde(default)]
    pub stored: bool,
    /// Must be set.
    #[serde(default)]
    pub required: bool,
    /// Clients cannot change it.
    #[serde(default)]
    pub read_only: bool,
    /// Clients can set it only on create.
    #[serde(default)]
    pub creation_only: bool,
    /// Filled by the server.
    #[serde(default)]
    pub autogenerated: bool,
    /// Usable in filters.
    #[serde(default)]
    pub filterable: bool,
    /// Usable in `order`.
    #[serde(default)]
    pub orderable: bool,
    /// The object's identifier.
    #[serde(default)]
    pub identifier: bool,
    /// Storage primary key.
    #[serde(default)]
    pub primary_key: bool,
    /// Refers to a parent.
    #[serde(default)]
    pub foreign_key: bool,
    /// Never sent back.
    #[serde(default)]
    pub secret: bool,
    /// Not stored.
    #[serde(default)]
    pub transient: bool,
    /// Encrypted at rest.
    #[serde(default)]
    pub encrypted: bool,
    /// Deprecated.
    #[serde(default)]
    pub deprecated: bool,
    /// Omitted from output when empty.
    #[serde(default)]
    pub omit_empty: bool,
    /// Generate a getter (Go only; accepted and ignored).
    #[serde(default)]
    pub getter: bool,
    /// Generate a setter (Go only; accepted and ignored).
    #[serde(default)]
    pub setter: bool,
    /// Part of the signature (accepted and ignored).
    #[serde(default)]
    pub signed: bool,
    /// Storage should index it.
    #[serde(default)]
    pub index: bool,
    /// Enum choices.
    #[serde(default)]
    pub allowed_choices: Vec<String>,
    /// Regular expression the value must match.
    pub allowed_chars: Option<String>,
    /// Message when `allowed_chars` does not match.
    pub allowed_chars_message: Option<String>,
    /// Default value.
    pub default_value: Option<YamlValue>,
    /// Example value.
    pub example_value: Option<YamlValue>,
    /// Minimum length.
    pub min_length: Option<u64>,
    /// Maximum length.
    pub max_length: Option<u64>,
    /// Minimum value.
    pub min_value: Option<f64>,
    /// Maximum value.
    pub max_value: Option<f64>,
    /// Validations (`$name` from `_validation.mapping`).
    #[serde(default)]
    pub validations: Vec<String>,
    /// Free extensions.
    #[serde(default)]
    pub extensions: Option<YamlValue>,
}

/// A child relation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationSpec {
    /// The child's rest name.
    pub rest_name: String,
    /// `GET /parents/:id/children` (and `HEAD`).
    pub get: Option<OperationSpec>,
    /// `POST /parents/:id/children`.
    pub create: Option<OperationSpec>,
    /// Update through the parent.
    pub update: Option<OperationSpec>,
    /// Delete through the parent.
    pub delete: Option<OperationSpec>,
    /// Deprecated.
    #[serde(default)]
    pub deprecated: bool,
}

/// `_api.info`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiInfo {
    /// URL prefix.
    #[serde(default)]
    pub prefix: String,
    /// Rest name of the root model.
    pub root: String,
    /// API version.
    pub version: u32,
}

/// One language's entry of `_type.mapping`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeMappingEntry {
    /// The type.
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// How to initialise it.
    #[serde(default)]
    pub init: String,
    /// What to import.
    #[serde(default)]
    pub import: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// One language's entry of `_validation.mapping`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationMappingEntry {
    /// The function to call.
    pub name: String,
    /// What to import.
    #[serde(default)]
    pub import: String,
}

/// `_type.mapping`: mapping name -> language -> entry.
pub type TypeMapping = BTreeMap<String, BTreeMap<String, TypeMappingEntry>>;
/// `_validation.mapping`: `$name` -> language -> entry.
pub type ValidationMapping = BTreeMap<String, BTreeMap<String, ValidationMappingEntry>>;
/// `_parameter.mapping`: set name -> parameters.
pub type ParameterMapping = BTreeMap<String, ParameterSet>;
