//! Meta information: routes per API version and versions of the components.

use std::collections::{BTreeMap, BTreeSet};

use elemental::{Identity, ModelManager, Operation};
use serde::Serialize;

/// One route, as `/_meta/routes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// The category of the identity served.
    pub identity: String,
    /// The URL pattern (`/lists/:id/tasks`).
    pub url: String,
    /// The HTTP verbs, sorted.
    pub verbs: Vec<String>,
}

/// The routes a model manager serves for the operations that have a processor, in the
/// reference's form: sorted by URL, verbs sorted. As in the reference, every identity that can
/// be created under some parent also lists `POST /<category>`.
pub fn routes_for(
    manager: &dyn ModelManager,
    serves: &dyn Fn(&str, Operation) -> bool,
) -> Vec<RouteInfo> {
    let mut routes: BTreeMap<String, (String, BTreeSet<&'static str>)> = BTreeMap::new();
    let mut add = |url: String, category: &str, verb: &'static str| {
        routes
            .entry(url)
            .or_insert_with(|| (category.to_string(), BTreeSet::new()))
            .1
            .insert(verb);
    };
    let category_of = |name: &str| {
        manager
            .identity_from_name(name)
            .unwrap_or(Identity::EMPTY)
            .category
    };
    for (identity, operation, parent, _) in manager.relationships().iter() {
        if !serves(identity, operation) {
            continue;
        }
        let category = category_of(identity);
        let under_root = parent == Identity::ROOT.name;
        let child_url = format!("/{}/:id/{category}", category_of(parent));
        match operation {
            Operation::Retrieve => add(format!("/{category}/:id"), category, "GET"),
            Operation::Update => add(format!("/{category}/:id"), category, "PUT"),
            Operation::Delete => add(format!("/{category}/:id"), category, "DELETE"),
            Operation::RetrieveMany if under_root => add(format!("/{category}"), category, "GET"),
            Operation::RetrieveMany => add(child_url, category, "GET"),
            Operation::Create => {
                if !under_root {
                    add(child_url, category, "POST");
                }
                add(format!("/{category}"), category, "POST");
            }
            Operation::Patch | Operation::Info => {}
        }
    }
    routes
        .into_iter()
        .map(|(url, (identity, verbs))| RouteInfo {
            identity,
            url,
            verbs: verbs.into_iter().map(str::to_string).collect(),
        })
        .collect()
}

/// `serde_json` pretty printing with four spaces, as `/_meta/version` is written.
pub(crate) fn to_json_indented<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut serializer).is_err() {
        return b"{}".to_vec();
    }
    out
}
