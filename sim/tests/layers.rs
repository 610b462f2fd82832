//! The harness's modules point one way: each may use only modules in lower layers (and its own). The layer list
//! is docs/ARCHITECTURE.md's; this test reads every source file of sim/src and fails on a `crate::<module>`
//! path (outside comments) that reaches the same layer or above — which also rules out import cycles.

use std::path::Path;

/// Lowest first. Modules on one line share a layer and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["coverage", "raft_events", "shard"],
    &["trace"],
    &["profile"],
    &["scenario"],
    &["hosts"],
    &["history"],
    &["client"],
    &["check"],
    &["verdict"],
    &["outcome"],
    &["executor"],
    &["faults", "real"],
    &["schedule"],
    &["run"],
    &["gen", "sweep"],
    &["fuzz", "report"],
    &["battery", "save"],
    &["html"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file of sim/src belongs to (`check/durability.rs` → `check`); `None` for the crate
/// root and the binary, which may use everything.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Every `crate::<module>` a source text names outside `//` comments.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.push((number + 1, name));
            rest = after;
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("sim/src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_modules_of_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let mut broken = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let Some(module) = module_of(relative) else { continue };
        let own = layer_of(&module).unwrap_or_else(|| panic!("{}: module `{module}` is in no layer", file.display()));
        for (line, used) in uses(&std::fs::read_to_string(file).expect("readable source")) {
            let Some(theirs) = layer_of(&used) else {
                panic!("{}:{line}: `crate::{used}` is in no layer", relative.display())
            };
            if used != module && theirs >= own {
                broken.push(format!("{}:{line}: `{module}` uses `crate::{used}`, not below it", relative.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layers point one way (docs/ARCHITECTURE.md):\n{}", broken.join("\n"));
}

#[test]
fn the_layer_reader_sees_uses_and_skips_comments() {
    let text = "use crate::check::Violation; // crate::run\n/// see `crate::verdict`\nlet x = crate::hosts::hosts(s);";
    let names: Vec<String> = uses(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["check", "hosts"]);
    assert_eq!(module_of(Path::new("check/durability.rs")).as_deref(), Some("check"));
    assert_eq!(module_of(Path::new("lib.rs")), None);
}
