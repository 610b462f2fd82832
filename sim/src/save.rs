//! `sweep --save-failures DIR`: each failing seed as a scenario file of its own, for long unattended runs. The
//! file is the original scenario's text, byte for byte, under a comment header naming the seed, the strategy and
//! profile, the violations and the command that replays it; the same seed replays the same run (the header only
//! moves the scenario lines down, which the header says).

use std::path::{Path, PathBuf};

use crate::report::{replay_command, Header};
use crate::sweep::{seed_line, SeedResult};

/// Writes `seed`'s file under `dir` (created if missing) and returns its path:
/// `<stem>-<strategy>-<profile>-seed<S>.scn`.
pub fn save_failure(dir: &Path, header: &Header, seed: u64, result: &SeedResult) -> Result<PathBuf, String> {
    let (strategy, profile) = header.sweep_cell()?;
    let original = Path::new(&header.file);
    let text = std::fs::read_to_string(original).map_err(|e| format!("{}: {e}", original.display()))?;
    let stem = original.file_stem().map_or("scenario".into(), |s| s.to_string_lossy());
    let path = dir.join(format!("{stem}-{strategy}-{profile}-seed{seed}.scn"));
    let replay =
        replay_command(&path.display().to_string(), seed, strategy, profile, header.strict_flag, header.buggify);
    let mut lines = vec![
        format!("# Saved by `sim sweep --save-failures`: seed {seed} of {} failed.", header.file),
        format!("# seed: {seed}"),
        format!("# strategy: {strategy}"),
        format!("# profile: {profile}"),
        format!("# verdict: {}", seed_line(result)),
    ];
    let findings = result.findings();
    lines.extend(findings.iter().skip(1).take(9).map(|f| format!("#   also: {f}")));
    if findings.len() > 10 {
        lines.push(format!("#   … and {} more", findings.len() - 10));
    }
    lines.push(format!("# replay: {replay}"));
    // This note's own line is counted too.
    let shift = lines.len() + 1;
    lines.push(format!(
        "# Scenario lines below are the original's + {shift} (the violations above name the original's)."
    ));
    let saved = format!("{}\n{text}", lines.join("\n"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&path, saved).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
