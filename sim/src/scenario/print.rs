//! AST → scenario text. `parse(print(s)) == s` for every scenario `parse` or the generator produces (a property
//! test holds it to that; an `expect` command word holding a space could not come back, and neither makes one).

use std::fmt::Write as _;

use super::ast::*;

/// Renders a scenario as a file.
pub fn print(s: &Scenario) -> String {
    let mut out = String::new();
    for line in &s.intro {
        push_comment(&mut out, line);
    }
    let _ = write!(out, "cluster {}", s.header.nodes);
    if let Some(strategy) = s.header.strategy {
        let _ = write!(out, " strategy={strategy}");
    }
    if let Some(profile) = s.header.profile {
        let _ = write!(out, " profile={profile}");
    }
    if s.header.base_port != Header::DEFAULT_BASE_PORT {
        let _ = write!(out, " base-port={}", s.header.base_port);
    }
    if !s.header.drift.is_empty() {
        let items: Vec<String> = s.header.drift.iter().map(|(n, p)| format!("n{n}:{p:+}%")).collect();
        let _ = write!(out, " drift={}", items.join(","));
    }
    if s.header.strict {
        out.push_str(" strict");
    }
    out.push('\n');
    for step in &s.steps {
        match step {
            Step::Comment(text) => push_comment(&mut out, text),
            Step::Call { target, command } => {
                let _ = write!(out, "call {target}");
                for w in command {
                    out.push(' ');
                    out.push_str(&quote_if_needed(&word(w)));
                }
                out.push('\n');
            }
            Step::Sleep { ms } => {
                let _ = writeln!(out, "sleep {}", duration(*ms));
            }
            Step::Expect { target, command, check } => {
                let command: Vec<String> = command.iter().map(word).collect();
                let value = match check {
                    Check::Reply(w) | Check::Knows(w) | Check::Contains(w) => quote_if_needed(&word(w)),
                    Check::KnownNodes(n) => n.to_string(),
                };
                let _ = writeln!(out, "expect {target} {} {}={value}", quote(&command.join(" ")), check.key());
            }
            Step::Fault(fault) => {
                let _ = writeln!(out, "{fault}");
            }
            Step::WaitConsistent { within_ms } => {
                let _ = writeln!(out, "wait-consistent within={}", duration(*within_ms));
            }
            Step::Settle { within_ms } => {
                let _ = writeln!(out, "settle within={}", duration(*within_ms));
            }
            Step::Workload(workload) => {
                let _ = writeln!(out, "{workload}");
            }
        }
    }
    out
}

/// `2s` for whole seconds, else `1500ms`.
fn duration(ms: u64) -> String {
    if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn push_comment(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("#\n");
    } else {
        let _ = writeln!(out, "# {text}");
    }
}

/// A word as written in a file (variables and ranges in braces).
pub fn word(w: &Word) -> String {
    match w {
        Word::Range { start, end } => format!("{{{start}..{end}}}"),
        Word::Pieces(pieces) => pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Var { node, field } => format!("{{n{node}.{}}}", field.name()),
            })
            .collect(),
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quote_if_needed(text: &str) -> String {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') || text.starts_with('#') {
        quote(text)
    } else {
        text.to_string()
    }
}
