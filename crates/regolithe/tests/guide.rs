//! The spec files shown in `docs/specs.md` form a valid spec set that generates Rust, so the
//! guide cannot drift from what the generator accepts.

use std::path::Path;

/// The YAML blocks of the guide whose preceding line names a spec-set file.
fn guide_files() -> Vec<(String, String)> {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/specs.md"))
            .expect("docs/specs.md exists");
    let lines: Vec<&str> = guide.lines().collect();
    let mut files = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if *line != "```yaml" {
            continue;
        }
        let label = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .copied()
            .unwrap_or_default();
        let Some(name) = label.split('`').nth(1) else {
            continue;
        };
        if !(name.ends_with(".spec") || name.ends_with(".abs") || name.starts_with('_')) {
            continue;
        }
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| **l != "```")
            .copied()
            .collect();
        files.push((name.to_string(), body.join("\n") + "\n"));
    }
    files
}

#[test]
fn the_guide_spec_set_checks_and_generates() {
    let files = guide_files();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["_api.info", "book.spec", "@identifiable.abs", "root.spec"]
    );
    let dir = std::env::temp_dir().join(format!("regolithe-guide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in &files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let set = regolithe::load_and_check(&dir).unwrap_or_else(|p| panic!("{p}"));
    let code = regolithe::generate_rust(&set).unwrap();
    assert!(code.contains("pub struct Book {"));
    assert!(code.contains("pub type BookList = Vec<Book>;"));
    assert!(code.contains("registry.register::<Book>(&[\"bk\"]);"));
}
