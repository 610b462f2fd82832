//! Scenarios: the AST, its parser (errors at file:line:column) and its printer.
//!
//! Format reference: docs/SCENARIOS.md.

mod ast;
mod parse;
mod print;

pub use ast::*;
pub use parse::{parse, ScenarioError, ARGS_MAX, LATENCY_MS_MAX, LOSS_PERCENT_MAX, SLEEP_MS_MAX, STEPS_MAX};
pub use print::{print, word as print_word};

/// Reads and parses a scenario file.
pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: label.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(&label, &text)
}

#[cfg(test)]
mod tests;
