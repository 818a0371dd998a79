//! A minimal INI reader for `regolithe.ini`: `[section]` headers and `key = value` lines.

use std::collections::BTreeMap;

/// Section -> key -> value.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Parses INI text; `Err((line number, message))` on a malformed line.
pub fn parse_ini(text: &str) -> Result<Ini, (usize, String)> {
    let mut ini = Ini::new();
    let mut section = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            ini.entry(section.clone()).or_default();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err((index + 1, format!("expected 'key = value', found '{line}'")));
        };
        ini.entry(section.clone())
            .or_default()
            .insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(ini)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keys() {
        let ini =
            parse_ini("[regolithe]\nproduct_name = Fixture\n# c\n[test]\nkey=value\n").unwrap();
        assert_eq!(ini["regolithe"]["product_name"], "Fixture");
        assert_eq!(ini["test"]["key"], "value");
        assert_eq!(
            parse_ini("[a]\nnope\n").unwrap_err(),
            (2, "expected 'key = value', found 'nope'".to_string())
        );
    }
}
