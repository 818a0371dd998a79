//! # elemental
//!
//! The model runtime of the stack, wire-compatible with the Go `elemental` package: identities,
//! the traits generated models implement, model managers and the relationships registry,
//! requests read from HTTP parts, responses, events, errors, JSON/msgpack encodings and their
//! negotiation, the filter language (parser, printer, matcher), validators, declared
//! parameters, push configurations and namespace helpers.
//!
//! It is pure: no async and no I/O, so it is fast to test and safe to fuzz.
//!
//! ```
//! use bytes::Bytes;
//! use elemental::filter::Filter;
//! use elemental::{
//!     Identity, ModelRegistry, Operation, ParameterDefinition, ParameterType, RelationshipInfo,
//!     RelationshipsRegistry, Request, RequestContext,
//! };
//!
//! // What generated code provides: identities and the relationships between them.
//! const LIST: Identity = Identity::new("list", "lists");
//! static LIST_PARAMETERS: [ParameterDefinition; 1] =
//!     [ParameterDefinition::new("q", ParameterType::String).with_multiple(true)];
//! let mut relationships = RelationshipsRegistry::new();
//! relationships.allow("list", Operation::RetrieveMany, "root", RelationshipInfo::with_parameters(&LIST_PARAMETERS));
//! let mut manager = ModelRegistry::new(1, relationships);
//! manager.add_identity(LIST, &["lst"]);
//!
//! // A request read from HTTP.
//! let (parts, _) = http::Request::get("/v/1/lists?q=name%20%3D%3D%20groceries&recursive=true")
//!     .header("X-Namespace", "/acme")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let request = Request::from_http(&parts, Bytes::new(), &manager, &RequestContext::default()).unwrap();
//! assert_eq!(request.operation, Operation::RetrieveMany);
//! assert_eq!(request.identity, LIST);
//! assert_eq!((request.version, request.recursive, request.namespace.as_str()), (1, true, "/acme"));
//!
//! // Its filter, parsed and printed canonically.
//! let q = request.parameters.get("q").unwrap().string_value().unwrap();
//! assert_eq!(Filter::parse(q).unwrap().to_string(), r#"name == "groceries""#);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attribute;
pub mod body_budget;
mod certificate;
mod conventions;
mod count_mode;
mod duration;
mod encoded;
mod encoding;
mod error;
mod event;
pub mod filter;
mod identifiable;
mod identity;
mod manager;
pub mod namespace;
mod operation;
mod parameters;
mod pushconfig;
mod random;
mod relationships;
mod request;
mod response;
pub mod serde_time;
pub mod timefmt;
mod trace_context;
pub mod validators;
mod value;

pub use attribute::{AttributeSpecification, AttributeType, DefaultValue, IndexSpecification};
pub use certificate::{ClientCertificate, SubjectAltName};
pub use conventions::{Parented, Timestamped};
pub use count_mode::{COUNT_MODE_HEADER, CountMode};
pub use duration::{DurationError, GoDuration};
pub use encoded::{Encoded, json_array};
pub use encoding::{
    ACCEPTED_ENCODINGS, EncodingType, convert, decode, encode, encodings_from_headers,
    is_object_body, parse_media_type,
};
pub use error::{Error, Errors};
pub use event::{Event, EventType};
pub use identifiable::{
    Identifiable, Model, ModelIdentity, read_only_error, validate_advanced_specification,
};
pub use identity::Identity;
pub use manager::{ModelManager, ModelRegistry, NameHasher, NameMap};
pub use operation::Operation;
pub use parameters::{
    Parameter, ParameterDefinition, ParameterType, ParameterValue, Parameters,
    ParametersRequirement, parse_bool,
};
pub use pushconfig::PushConfig;
pub use relationships::{Relationship, RelationshipInfo, RelationshipsRegistry};
pub use request::{
    ArrivalHeaders, MAX_REQUEST_ID_LEN, ModelPath, PathShape, Request, RequestContext,
    api_version_from_path, parse_query, request_id,
};
pub use response::Response;
pub use serde_time::null_as_default;
pub use trace_context::{Hex, TRACEPARENT_HEADER, TraceContext, hex};
pub use value::{AttributeValues, Value};

/// Crates that generated code refers to, so that a crate using generated models only needs to
/// depend on `elemental`.
#[doc(hidden)]
pub mod export {
    pub use regex;
    pub use serde;
    pub use serde_json;
    pub use time;
}
