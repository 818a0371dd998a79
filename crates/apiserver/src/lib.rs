//! # apiserver
//!
//! The seed's API server, readable side by side with it: model managers for versions 0 and 1,
//! options (ReST listen, model, a custom root handler answering 418 `hello world`, health),
//! `Server::new`, one processor per identity (namespace, hostservice, externalnetwork,
//! networkaccesspolicy, service), routes and versions printed, then run until SIGINT/SIGTERM.
//!
//! ```
//! use std::sync::Arc;
//! let store = Arc::new(manipulate::MemoryManipulator::new());
//! let server = apiserver::server(bahamut::Options::new(), store).unwrap();
//! assert_eq!(server.processors_count(), 5);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod namespaces;
mod observed;
mod store;

use std::sync::Arc;

use bahamut::options::RouteHandler;
use bahamut::{Options, Server, ServerError};
use gaia::model::{ExternalNetwork, HostService, Namespace, NetworkAccessPolicy, Service};
use manipulate::Manipulator;

pub use observed::observed_store;
pub use store::{StoreSpec, open_store};

/// Answers `GET /` with 418 `hello world`, as the seed does.
pub fn root_handler() -> RouteHandler {
    Arc::new(|_, _| {
        Box::pin(async {
            let mut response = http::Response::new(bahamut::Body::from("hello world"));
            *response.status_mut() = http::StatusCode::IM_A_TEAPOT;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        })
    })
}

/// The apiserver: `options` completed with the gaia model (versions 0 and 1) and its OpenAPI
/// document (`/_meta/openapi`), the root handler, a retriever over `store`, push on `/events`
/// (the given push options, or the defaults), and one storage-backed processor per identity.
pub fn server(options: Options, store: Arc<dyn Manipulator>) -> Result<Server, ServerError> {
    let existing = Arc::new(namespaces::ExistingNamespace::new(store.clone()));
    let mut push = options.push().cloned().unwrap_or_default();
    push.authenticators.push(existing.clone());
    let mut options = options
        .with_push(push)
        .with_root_handler(root_handler())
        .with_retriever(Arc::new(crud::StoreRetriever::new(
            store.clone(),
            gaia::model::manager(),
        )));
    for (version, manager) in gaia::managers() {
        options = options.with_model(version, manager);
    }
    match elemental::export::serde_json::from_str(gaia::OPENAPI_DOCUMENT) {
        Ok(document) => options = options.with_openapi(document),
        Err(e) => tracing::warn!(error = %e, "the generated OpenAPI document does not parse"),
    }
    if options.service_name() == "bahamut" {
        options = options.with_service_name("apiserver");
    }
    let mut server = Server::new(options);
    let rules = Arc::new(namespaces::NamespaceRules::new(store.clone()));
    server.register_processor_within_relationships(crud::processor_with_hooks::<Namespace>(
        store.clone(),
        rules,
    ))?;
    server.register_processor_within_relationships(crud::processor_with_hooks::<HostService>(
        store.clone(),
        existing.clone(),
    ))?;
    server.register_processor_within_relationships(
        crud::processor_with_hooks::<ExternalNetwork>(store.clone(), existing.clone()),
    )?;
    server.register_processor_within_relationships(crud::processor_with_hooks::<
        NetworkAccessPolicy,
    >(store.clone(), existing.clone()))?;
    server.register_processor_within_relationships(crud::processor_with_hooks::<Service>(
        store, existing,
    ))?;
    Ok(server)
}
