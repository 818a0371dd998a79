//! Names: attribute names to Rust field names.

/// Rust keywords that cannot be field names as they are.
const KEYWORDS: [&str; 51] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `parentID` -> `parent_id`, `JWTCertificateType` -> `jwt_certificate_type`, `IPs` -> `ips`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let after_next = chars.get(i + 2).copied();
            let prev_lower = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            // An acronym ends before an upper case letter followed by lower case, except for a
            // plural `s` closing the acronym (`IPs`, `URLs`).
            let plural_s = next == Some('s') && !after_next.is_some_and(|a| a.is_ascii_lowercase());
            let acronym_end = prev.is_some_and(|p| p.is_ascii_uppercase())
                && next.is_some_and(|n| n.is_ascii_lowercase())
                && !plural_s;
            if !out.is_empty() && (prev_lower || acronym_end) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The Rust field name of an attribute: snake case, `r#type` for keywords that allow it,
/// `self_` for the others.
pub fn field_name(attribute: &str) -> String {
    let snake = snake_case(attribute);
    match snake.as_str() {
        "self" | "super" | "crate" | "Self" => format!("{snake}_"),
        s if KEYWORDS.contains(&s) => format!("r#{snake}"),
        _ => snake,
    }
}

/// `NetworkAccessPolicy` -> `NETWORK_ACCESS_POLICY`.
pub fn screaming_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let cases = [
            ("ID", "id"),
            ("parentID", "parent_id"),
            ("parentType", "parent_type"),
            ("JWTCertificateType", "jwt_certificate_type"),
            ("SSHCAEnabled", "sshca_enabled"),
            ("IPs", "ips"),
            ("OIDCClientID", "oidc_client_id"),
            ("TLSType", "tls_type"),
            ("createTime", "create_time"),
            (
                "defaultPUIncomingTrafficAction",
                "default_pu_incoming_traffic_action",
            ),
            ("name", "name"),
            ("zHash", "z_hash"),
            ("allAPITags", "all_api_tags"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "{input}");
        }
        assert_eq!(field_name("type"), "r#type");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(
            screaming_case("NetworkAccessPolicy"),
            "NETWORK_ACCESS_POLICY"
        );
    }
}
