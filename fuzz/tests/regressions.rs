//! Every input kept in `regressions/<target>/` (crashes the fuzzers found, once fixed, and
//! inputs worth keeping) replayed through its target's checks with a plain `cargo test`.

use std::path::Path;

#[test]
fn kept_inputs_pass_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for (name, check) in apiserver_fuzz::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).expect("a kept input");
            check(&data);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no input kept under {}", root.display());
}
