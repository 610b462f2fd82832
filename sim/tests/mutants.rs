//! The planted bugs of tests/mutants/ (measured by scripts/mutants.sh, docs/RESULTS.md "Bug-finding power") stay
//! usable: each is a patch of the node (src/) only, opens with its header (what the bug is, the real-world class
//! it models, the property that should catch it), and still applies to the tree as it is. A change to src/ that
//! makes one stop applying fails here: refresh the patch (apply it by hand, resolve, `git diff > …`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sim/ has a parent").to_path_buf()
}

fn patches() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("tests/mutants"))
        .expect("tests/mutants/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    found.sort();
    found
}

#[test]
fn at_least_twelve_planted_bugs_numbered_from_01() {
    let names: Vec<String> = patches().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.len() >= 12, "only {} mutants: {names:?}", names.len());
    for (i, name) in names.iter().enumerate() {
        let number = format!("{:02}-", i + 1);
        assert!(name.starts_with(&number), "{name} should be numbered {number}… (no gaps, no duplicates)");
    }
}

#[test]
fn every_mutant_has_a_header_and_patches_only_the_node() {
    for patch in patches() {
        let text = std::fs::read_to_string(&patch).unwrap();
        let name = patch.display();
        let (header, diff) = text.split_once("diff --git ").unwrap_or_else(|| panic!("{name}: no diff"));
        for field in ["Bug:", "Models:", "Should be caught by:"] {
            assert!(header.contains(field), "{name}: header lacks '{field}'");
        }
        for file in diff.lines().filter_map(|l| l.strip_prefix("+++ b/")) {
            assert!(file.starts_with("src/"), "{name} patches {file}: mutants plant bugs in the node (src/) only");
        }
    }
}

#[test]
fn every_mutant_applies_to_the_current_tree() {
    for patch in patches() {
        let out =
            Command::new("git").current_dir(root()).args(["apply", "--check"]).arg(&patch).output().expect("git runs");
        assert!(
            out.status.success(),
            "{} no longer applies: {}",
            patch.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
