//! Scenarios: the AST, its parser (errors at file:line:column) and its printer.
//!
//! Format reference: docs/SCENARIOS.md.

mod ast;
mod parse;
mod print;

pub use ast::*;
pub use parse::{parse, verbs, ScenarioError, ARGS_MAX, LATENCY_MS_MAX, LOSS_PERCENT_MAX, SLEEP_MS_MAX, STEPS_MAX};
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

/// What of `scenario`, run under `profile`, only the simulator can do, one message per setting or step
/// (`line 10: \`partition n1,n2 n3\` needs madsim's network`). Real mode (`sim real`) refuses a scenario for
/// which this is not empty: it runs `kill`, `restart`, `pause` and `resume` on real processes, and nothing else.
pub fn simulator_only(scenario: &Scenario, profile: crate::profile::Profile) -> Vec<String> {
    let mut out = Vec::new();
    if profile != crate::profile::Profile::Lan {
        out.push(format!("profile {profile}: network profiles drive madsim's network"));
    }
    if !scenario.header.drift.is_empty() {
        out.push("header drift: clock drift is the simulator's (the real nodes share the machine's clock)".to_string());
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Step::Fault(fault) = step {
            if !matches!(fault, Fault::Kill(_) | Fault::Restart(_) | Fault::Pause(_) | Fault::Resume(_)) {
                out.push(format!("line {}: `{fault}` needs madsim's network", scenario.line_of(index)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
