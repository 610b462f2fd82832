// Shared by the integration tests.
use std::path::PathBuf;

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

pub fn load(name: &str) -> sim::scenario::Scenario {
    sim::scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"))
}
