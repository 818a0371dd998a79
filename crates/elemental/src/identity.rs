//! Identities: what kind of object a thing is (`list` / `lists`).

use std::fmt;

/// The identity of a model: its singular name, its plural category (the URL segment),
/// its package, and whether it is private (not exposed in documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Singular name, for example `list`.
    pub name: &'static str,
    /// Plural name used in URLs, for example `lists`.
    pub category: &'static str,
    /// The package the model belongs to.
    pub package: &'static str,
    /// Private identities are hidden from generated documentation.
    pub private: bool,
}

impl Identity {
    /// The empty identity, used where a request names an unknown category.
    pub const EMPTY: Identity = Identity::new("", "");
    /// The identity of the root object, parent of all top-level objects.
    pub const ROOT: Identity = Identity::new("root", "root");
    /// The wildcard identity.
    pub const ALL: Identity = Identity::new("*", "*");

    /// An identity with the given name and category, no package, public.
    pub const fn new(name: &'static str, category: &'static str) -> Self {
        Self {
            name,
            category,
            package: "",
            private: false,
        }
    }

    /// The same identity in another package.
    pub const fn with_package(mut self, package: &'static str) -> Self {
        self.package = package;
        self
    }

    /// The same identity marked private.
    pub const fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// True for the empty identity.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.category.is_empty()
    }

    /// True for the root identity.
    pub fn is_root(&self) -> bool {
        self.name == Self::ROOT.name
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
