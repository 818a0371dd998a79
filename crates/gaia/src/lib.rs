//! # gaia
//!
//! The reference model of the apiserver: `namespace`, `hostservice`, `externalnetwork`,
//! `networkaccesspolicy` and `service` under `root`, generated at build time from `specs/`,
//! plus the validations that regolithe cannot express (tags, CIDRs and host names, service
//! ports, and the entity-level rules of host services and services).
//!
//! ```
//! use elemental::{Identifiable, ModelManager};
//! use gaia::model::ExternalNetwork;
//!
//! let network = ExternalNetwork {
//!     name: "anywhere".into(),
//!     entries: vec!["0.0.0.0/0".into()],
//!     service_ports: vec!["tcp/1:65000".into()],
//!     ..ExternalNetwork::default()
//! };
//! assert!(network.validate().is_ok());
//! assert_eq!(gaia::model::manager().identity_from_alias("extnet").map(|i| i.name), Some("externalnetwork"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;

use elemental::ModelManager;

/// The generated model (see `specs/`).
#[allow(missing_docs)]
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

pub mod validation;

/// The OpenAPI 3.1 document of the model (JSON), generated at build time from `specs/` as
/// `rego gen openapi specs` prints it.
pub const OPENAPI_DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The model managers by API version: the model is version 1, also served as version 0 (a
/// request without `/v/N`), as the seed does.
pub fn managers() -> BTreeMap<u32, &'static dyn ModelManager> {
    let manager: &'static dyn ModelManager = model::manager();
    BTreeMap::from([(0, manager), (1, manager)])
}
