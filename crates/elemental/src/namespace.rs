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

/// Longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_LENGTH: usize = 1024;

/// Checks a namespace path: absolute (`/` or `/a/b`), no empty, `.` or `..` segment, no control
/// character, at most [`MAX_NAMESPACE_LENGTH`] bytes. The error is a 400 `Bad Request`
/// `Invalid namespace '<value>': <reason>` (a long value is shown cut).
pub fn validate_namespace(namespace: &str) -> Result<(), Error> {
    let reason = if namespace.len() > MAX_NAMESPACE_LENGTH {
        Some(format!("it is longer than {MAX_NAMESPACE_LENGTH} bytes"))
    } else if !namespace.starts_with('/') {
        Some("it must start with '/'".to_string())
    } else if namespace.chars().any(char::is_control) {
        Some("it must not contain control characters".to_string())
    } else if namespace == "/" {
        None
    } else {
        namespace[1..].split('/').find_map(|segment| match segment {
            "" => Some("it must not have an empty segment".to_string()),
            "." | ".." => Some(format!("it must not have a '{segment}' segment")),
            _ => None,
        })
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::bad_request(format!(
            "Invalid namespace '{}': {reason}",
            shown(namespace)
        ))),
    }
}

/// The namespace as shown in an error: at most 128 characters.
fn shown(namespace: &str) -> String {
    let mut chars = namespace.chars();
    let head: String = chars.by_ref().take(128).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
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
        for (bad, reason) in [
            ("", "it must start with '/'"),
            ("a", "it must start with '/'"),
            ("probe", "it must start with '/'"),
            ("../..", "it must start with '/'"),
            ("/a/", "it must not have an empty segment"),
            ("//", "it must not have an empty segment"),
            ("//a", "it must not have an empty segment"),
            ("/a//b", "it must not have an empty segment"),
            ("/b/../a", "it must not have a '..' segment"),
            ("/a/.", "it must not have a '.' segment"),
            ("/a\tb", "it must not contain control characters"),
        ] {
            assert_eq!(
                validate_namespace(bad).unwrap_err().description,
                format!("Invalid namespace '{bad}': {reason}")
            );
        }
        let long = format!("/{}", "a".repeat(1024));
        assert_eq!(
            validate_namespace(&long).unwrap_err().description,
            format!(
                "Invalid namespace '/{}...': it is longer than 1024 bytes",
                "a".repeat(127)
            )
        );
        assert!(validate_namespace(&long[..1024]).is_ok());
    }
}
