// Shared by the integration tests.
use std::path::PathBuf;

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

#[allow(dead_code)] // not every test binary loads by name
pub fn load(name: &str) -> sim::scenario::Scenario {
    sim::scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"))
}
