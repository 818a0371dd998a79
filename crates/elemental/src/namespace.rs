//! Namespace paths: `/`, `/acme`, `/acme/prod`.

use crate::Error;

/// The parent of a namespace: `/a/b` -> `/a`, `/a` -> `/`, `/` -> none.
pub fn parent_namespace(namespace: &str) -> Option<&str> {
    if namespace == "/" || namespace.is_empty() {
        return None;
    }
    match namespace.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&namespace[..i]),
        None => None,
    }
}

/// The last segment of a namespace: `/a/b` -> `b`, `/` -> ``.
pub fn namespace_name(namespace: &str) -> &str {
    namespace.rsplit('/').next().unwrap_or("")
}

/// Joins a parent namespace and a child name: (`/a`, `b`) -> `/a/b`, (`/`, `b`) -> `/b`.
pub fn join_namespace(parent: &str, name: &str) -> String {
    if parent == "/" || parent.is_empty() {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// True when `child` is a strict descendant of `parent` (`/ab` is not a child of `/a`).
pub fn is_namespace_child_of(parent: &str, child: &str) -> bool {
    if parent == child {
        return false;
    }
    if parent == "/" {
        return child.starts_with('/') && child.len() > 1;
    }
    child
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// True when `namespace` is `root` or one of its descendants.
pub fn is_namespace_in_subtree(root: &str, namespace: &str) -> bool {
    root == namespace || is_namespace_child_of(root, namespace)
}

/// True when the two namespaces are equal, or one is an ancestor of the other.
pub fn is_namespace_related(a: &str, b: &str) -> bool {
    a == b || is_namespace_child_of(a, b) || is_namespace_child_of(b, a)
}

/// The ancestors of a namespace, nearest first: `/a/b/c` -> [`/a/b`, `/a`, `/`].
pub fn namespace_ancestors(namespace: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut current = namespace;
    while let Some(parent) = parent_namespace(current) {
        out.push(parent);
        current = parent;
    }
    out
}

/// Checks a namespace path: starts with `/`, no empty segment, no trailing `/` (but `/`).
pub fn validate_namespace(namespace: &str) -> Result<(), Error> {
    let valid = namespace == "/"
        || (namespace.starts_with('/') && namespace[1..].split('/').all(|s| !s.is_empty()));
    if valid {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Invalid namespace '{namespace}': it must start with '/' and have no empty segment"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_names() {
        assert_eq!(parent_namespace("/a/b"), Some("/a"));
        assert_eq!(parent_namespace("/a"), Some("/"));
        assert_eq!(parent_namespace("/"), None);
        assert_eq!(namespace_name("/a/b"), "b");
        assert_eq!(join_namespace("/", "a"), "/a");
        assert_eq!(join_namespace("/a", "b"), "/a/b");
        assert_eq!(namespace_ancestors("/a/b/c"), vec!["/a/b", "/a", "/"]);
    }

    #[test]
    fn relations() {
        assert!(is_namespace_child_of("/a", "/a/b"));
        assert!(is_namespace_child_of("/", "/a"));
        assert!(!is_namespace_child_of("/a", "/ab"));
        assert!(!is_namespace_child_of("/a", "/a"));
        assert!(is_namespace_in_subtree("/a", "/a"));
        assert!(is_namespace_in_subtree("/a", "/a/b/c"));
        assert!(!is_namespace_in_subtree("/a/b", "/a"));
        assert!(is_namespace_related("/a/b", "/a"));
        assert!(!is_namespace_related("/a/b", "/a/c"));
    }

    #[test]
    fn validation() {
        assert!(validate_namespace("/").is_ok());
        assert!(validate_namespace("/a/b").is_ok());
        for bad in ["", "a", "/a/", "//a", "/a//b"] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }
}
