//! `sim compare --html`: strategies × profiles as a heat map, one self-contained page.
//!
//! Each cell is coloured by its share of failed seeds (green: none failed) and shows the counts `sim compare`
//! prints and its `--json` holds: failed/total, the seeds by worst class (S safety, L liveness, U only
//! availability), the seeds with a stale read and with a lost write, and the first failing seed with the command
//! that replays it (the cell's tooltip, and a copy-able field in the detail pane when clicked).

use serde::Serialize;

use super::{escape_html, header_row, page};
use crate::sweep::{CompareCell, CompareMatrix};

/// The page's script.
pub(crate) const SCRIPT: &str = include_str!("matrix.js");

#[derive(Serialize)]
struct Data<'m> {
    strategies: Vec<String>,
    profiles: Vec<String>,
    cells: Vec<Cell<'m>>,
}

/// A cell as `--json` writes it, with the replay command of its first failing seed.
#[derive(Serialize)]
struct Cell<'m> {
    #[serde(flatten)]
    cell: &'m CompareCell,
    replay: Option<String>,
}

/// Each distinct value of `key` over the cells, in order of first appearance.
fn distinct(cells: &[CompareCell], key: impl Fn(&CompareCell) -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cell in cells {
        let value = key(cell);
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// The heat-map page of a compare; `replay` gives a cell's replay command of its first failing seed (`None`:
/// none failed). Deterministic: built from the matrix alone.
pub fn matrix(matrix: &CompareMatrix, replay: &dyn Fn(&CompareCell) -> Option<String>) -> String {
    let cells = &matrix.cells;
    let data = Data {
        strategies: distinct(cells, |c| c.strategy.to_string()),
        profiles: distinct(cells, |c| c.profile.to_string()),
        cells: cells.iter().map(|cell| Cell { cell, replay: replay(cell) }).collect(),
    };
    let json = serde_json::to_string(&data).expect("strings, numbers and lists always serialize");
    let seeds = distinct(cells, |c| c.seeds.to_string()).join(", ");
    let failing = cells.iter().filter(|c| c.failed > 0).count();
    let title = format!("compare: {}", matrix.file);
    let mut header = format!("<header>\n<h1>{}</h1>\n<dl>\n", escape_html(&title));
    header.push_str(&header_row("file", &matrix.file, false));
    header.push_str(&header_row("seeds per cell", &seeds, false));
    let strict = if matrix.strict { "yes: availability violations fail a seed too" } else { "no" };
    header.push_str(&header_row("strict", strict, false));
    header.push_str(&header_row("cells", &format!("{} ({failing} with a failing seed)", cells.len()), false));
    header.push_str("</dl>\n</header>\n");
    page(&title, &header, BODY, &json, SCRIPT)
}

const BODY: &str = r#"<section>
<div class="scale"><span>failed share: 0</span><span class="bar" id="scale-bar"></span><span>100%</span></div>
<table class="matrix" id="matrix"></table>
<p class="mono">per cell: failed/total (share) · S safety, L liveness, U only availability (seeds by their worst violation) · seeds with a stale read, with a lost write · the first failing seed. Green: no seed failed (yellow-green: some had availability violations only).</p>
</section>
<section><h2>Selected cell</h2>
<input id="cell-replay" readonly value="" placeholder="click a cell: the replay command of its first failing seed">
<button id="copy">copy</button>
<pre id="cell-detail">Click a cell.</pre>
</section>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::data_block;
    use crate::profile::Profile;
    use clustersim::server::Strategy;

    fn cell(strategy: Strategy, profile: Profile, failed: usize) -> CompareCell {
        CompareCell {
            strategy,
            profile,
            seeds: 3,
            failed,
            safety: failed,
            liveness: 0,
            unavailable: 1,
            stale: failed,
            lost_write: 0,
            calls: 30,
            errors: 1,
            errors_in_fault_windows: 1,
            first_failed: (failed > 0).then_some(1),
        }
    }

    fn compare() -> CompareMatrix {
        let mut cells = Vec::new();
        for s in [Strategy::FireAndForget, Strategy::ReadIndex] {
            for p in [Profile::Lan, Profile::Wan] {
                cells.push(cell(s, p, if s == Strategy::ReadIndex { 0 } else { 2 }));
            }
        }
        CompareMatrix { file: "scenarios/</script>.scn".into(), strict: false, cells }
    }

    fn replay(c: &CompareCell) -> Option<String> {
        c.first_failed.map(|s| format!("sim replay x.scn --seed {s} --strategy {} --profile {}", c.strategy, c.profile))
    }

    #[test]
    fn every_cell_carries_its_counts_and_the_replay_command_of_its_first_failing_seed() {
        let html = matrix(&compare(), &replay);
        let data = data_block(&html);
        assert_eq!(data["strategies"], serde_json::json!(["fire-and-forget", "read-index"]));
        assert_eq!(data["profiles"], serde_json::json!(["lan", "wan"]));
        let cells = data["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[1]["replay"], "sim replay x.scn --seed 1 --strategy fire-and-forget --profile wan");
        assert_eq!((cells[1]["failed"].as_u64(), cells[1]["stale"].as_u64()), (Some(2), Some(2)));
        assert!(cells[3]["replay"].is_null(), "no failing seed, no command");
    }

    #[test]
    fn a_file_name_holding_a_script_end_tag_stays_text() {
        let html = matrix(&compare(), &replay);
        assert_eq!(data_block(&html)["cells"].as_array().unwrap().len(), 4);
        assert!(html.contains("scenarios/&lt;/script&gt;.scn"), "escaped in the header");
        assert_eq!(html.matches("</script>").count(), 3, "guard, data, page script: none closed early");
    }

    #[test]
    fn the_same_matrix_gives_the_same_bytes() {
        assert_eq!(matrix(&compare(), &replay), matrix(&compare(), &replay));
    }
}
