//! Snapshot of the Rust generated for the todo spec set, so that every change to the
//! generator is reviewed. After an intended change, refresh it with
//! `UPDATE_SNAPSHOTS=1 cargo test -p regolithe --test snapshot` and review the diff.

use std::path::Path;

#[test]
fn generated_rust_for_todo_matches_the_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs = root.join("../../examples/todo/specs");
    let set = regolithe::load_and_check(&specs).expect("the todo specs are valid");
    let generated = regolithe::generate_rust(&set).expect("generation succeeds");
    let snapshot = root.join("tests/snapshots/todo.rs.snap");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &generated).expect("snapshot written");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot)
        .expect("snapshot exists (UPDATE_SNAPSHOTS=1 creates it)");
    if generated != expected {
        let first = generated
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(generated.lines().count().min(expected.lines().count()));
        panic!(
            "generated Rust differs from {} from line {}:\n  generated: {:?}\n  snapshot:  {:?}\nrun with UPDATE_SNAPSHOTS=1 to accept",
            snapshot.display(),
            first + 1,
            generated.lines().nth(first),
            expected.lines().nth(first)
        );
    }
}
