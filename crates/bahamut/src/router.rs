//! The router: which kind of route a method and path reach. Model routes are matched by shape
//! (`/:category`, `/:category/:id`, `/:parent/:id/:category`, with an optional `/v/:n`), and
//! dispatched by the relationships registry, not by one route per identity.

use elemental::{ModelPath, PathShape};
use http::Method;

use crate::options::{Options, RouteHandler};

/// What a request reaches.
pub(crate) enum Route {
    /// `GET /`.
    Root,
    /// `GET /_meta/name`.
    MetaName,
    /// `GET /_meta/version`.
    MetaVersion,
    /// `GET /_meta/routes`.
    MetaRoutes,
    /// `GET /_meta/openapi`, when the options give a document.
    MetaOpenApi,
    /// A custom route.
    Custom(RouteHandler),
    /// A model path, read once: the dispatch builds the request from it.
    Model(ModelPath),
    /// A CORS preflight.
    Preflight,
    /// A known path, but not with this method (405, the methods in `Allow`): a path served with other methods: those of its shape, and the model path if it is one
    /// (its relationships then say which methods are allowed).
    MethodNotAllowed(&'static [Method], Option<ModelPath>),
    /// No route: 404 error array.
    NotFound,
}

const COLLECTION_METHODS: &[Method] = &[Method::GET, Method::POST, Method::HEAD];
const OBJECT_METHODS: &[Method] = &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE];
const META_METHODS: &[Method] = &[Method::GET];
const NO_METHODS: &[Method] = &[];

/// The methods of a model path's shape.
fn shape_methods(shape: PathShape) -> &'static [Method] {
    match shape {
        PathShape::Collection | PathShape::Children => COLLECTION_METHODS,
        PathShape::Object => OBJECT_METHODS,
    }
}

pub(crate) fn route(method: &Method, path: &str, options: &Options) -> Route {
    if let Some(handler) = options.custom_routes.get(path) {
        return Route::Custom(handler.clone());
    }
    let meta = match path {
        "/" => Some(Route::Root),
        "/_meta/name" => Some(Route::MetaName),
        "/_meta/version" => Some(Route::MetaVersion),
        "/_meta/routes" => Some(Route::MetaRoutes),
        "/_meta/openapi" if options.openapi.is_some() => Some(Route::MetaOpenApi),
        _ => None,
    };
    let model = match meta {
        Some(_) => None,
        None => ModelPath::parse(path, &options.api_prefix).filter(|p| p.shape().is_some()),
    };
    let methods = match (&meta, &model) {
        (Some(_), _) => Some(META_METHODS),
        (None, Some(model)) => model.shape().map(shape_methods),
        (None, None) => None,
    };
    if *method == Method::OPTIONS {
        return match (&options.cors, methods) {
            (Some(_), _) => Route::Preflight,
            (None, Some(methods)) => Route::MethodNotAllowed(methods, model),
            (None, None) => Route::NotFound,
        };
    }
    match (meta, methods, model) {
        (Some(meta), _, _) if *method == Method::GET => meta,
        (None, Some(methods), Some(model)) if methods.contains(method) => Route::Model(model),
        (_, Some(methods), model) => Route::MethodNotAllowed(methods, model),
        // With CORS on, the reference's router matches every path for OPTIONS, so an unknown
        // path answers 405 rather than 404.
        (_, None, _) if options.cors.is_some() => Route::MethodNotAllowed(NO_METHODS, None),
        (_, None, _) => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, path: &str, options: &Options) -> &'static str {
        match route(&method, path, options) {
            Route::Root => "root",
            Route::MetaName | Route::MetaVersion | Route::MetaRoutes | Route::MetaOpenApi => "meta",
            Route::Custom(_) => "custom",
            Route::Model(_) => "model",
            Route::Preflight => "preflight",
            Route::MethodNotAllowed(..) => "405",
            Route::NotFound => "404",
        }
    }

    #[test]
    fn shapes_and_methods() {
        let o = Options::new();
        assert_eq!(kind(Method::GET, "/lists", &o), "model");
        assert_eq!(kind(Method::DELETE, "/lists", &o), "405");
        assert_eq!(kind(Method::POST, "/lists/x", &o), "405");
        assert_eq!(kind(Method::GET, "/lists/x/tasks", &o), "model");
        assert_eq!(kind(Method::GET, "/v/1/lists/x/tasks", &o), "model");
        assert_eq!(kind(Method::GET, "/a/b/c/d", &o), "404");
        assert_eq!(kind(Method::GET, "/v", &o), "model");
        assert_eq!(kind(Method::OPTIONS, "/lists", &o), "405");
        assert_eq!(kind(Method::GET, "/", &o), "root");
        assert_eq!(kind(Method::GET, "/_meta/routes", &o), "meta");
        let cors = Options::new().with_cors(crate::CorsPolicy::mirror());
        assert_eq!(kind(Method::OPTIONS, "/lists", &cors), "preflight");
        assert_eq!(kind(Method::GET, "/a/b/c/d", &cors), "405");
        let prefixed = Options::new().with_api_prefix("api");
        assert_eq!(kind(Method::GET, "/api/lists", &prefixed), "model");
        assert_eq!(kind(Method::GET, "/lists", &prefixed), "404");
    }
}
