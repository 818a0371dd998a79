//! The router: which kind of route a method and path reach. Model routes are matched by shape
//! (`/:category`, `/:category/:id`, `/:parent/:id/:category`, with an optional `/v/:n`), and
//! dispatched by the relationships registry, not by one route per identity.

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
    /// A custom route.
    Custom(RouteHandler),
    /// A model route.
    Model,
    /// A CORS preflight.
    Preflight,
    /// A known path, but not with this method: 405 with the methods of the path in `Allow`.
    MethodNotAllowed(&'static [Method]),
    /// No route: 404 error array.
    NotFound,
}

/// `path` without the API prefix; `None` when a prefix is set and the path lacks it.
pub(crate) fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix('/')?.strip_prefix(prefix)?;
    match rest {
        "" => Some("/"),
        r if r.starts_with('/') => Some(r),
        _ => None,
    }
}

const COLLECTION_METHODS: &[Method] = &[Method::GET, Method::POST, Method::HEAD];
const OBJECT_METHODS: &[Method] = &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE];
const META_METHODS: &[Method] = &[Method::GET];
const NO_METHODS: &[Method] = &[];

/// The methods a model path of this shape accepts, or `None` when it is not a model path.
fn model_methods(path: &str) -> Option<&'static [Method]> {
    let trimmed = path.strip_prefix('/')?;
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let mut segments: Vec<&str> = trimmed.split('/').collect();
    if segments.len() >= 2 && segments[0] == "v" {
        segments.drain(..2);
    }
    if segments.iter().any(|s| s.is_empty()) {
        return (segments.len() <= 1).then_some(COLLECTION_METHODS);
    }
    match segments.len() {
        0 | 1 | 3 => Some(COLLECTION_METHODS),
        2 => Some(OBJECT_METHODS),
        _ => None,
    }
}

/// Routes one request.
pub(crate) fn route(method: &Method, path: &str, options: &Options) -> Route {
    if let Some(handler) = options.custom_routes.get(path) {
        return Route::Custom(handler.clone());
    }
    let meta = match path {
        "/" => Some(Route::Root),
        "/_meta/name" => Some(Route::MetaName),
        "/_meta/version" => Some(Route::MetaVersion),
        "/_meta/routes" => Some(Route::MetaRoutes),
        _ => None,
    };
    let methods = match meta {
        Some(_) => Some(META_METHODS),
        None => strip_prefix(path, &options.api_prefix).and_then(model_methods),
    };
    if *method == Method::OPTIONS {
        return match (&options.cors, methods) {
            (Some(_), _) => Route::Preflight,
            (None, Some(methods)) => Route::MethodNotAllowed(methods),
            (None, None) => Route::NotFound,
        };
    }
    match (meta, methods) {
        (Some(meta), _) if *method == Method::GET => meta,
        (None, Some(methods)) if methods.contains(method) => Route::Model,
        (_, Some(methods)) => Route::MethodNotAllowed(methods),
        // With CORS on, the reference's router matches every path for OPTIONS, so an unknown
        // path answers 405 rather than 404.
        (_, None) if options.cors.is_some() => Route::MethodNotAllowed(NO_METHODS),
        (_, None) => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, path: &str, options: &Options) -> &'static str {
        match route(&method, path, options) {
            Route::Root => "root",
            Route::MetaName | Route::MetaVersion | Route::MetaRoutes => "meta",
            Route::Custom(_) => "custom",
            Route::Model => "model",
            Route::Preflight => "preflight",
            Route::MethodNotAllowed(_) => "405",
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
