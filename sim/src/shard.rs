//! Shards: a deterministic split of a sweep's seeds (or a compare's seeds per cell) over N processes, so a fleet
//! can run what one machine cannot. Shard `I/N` (0-based) runs the seeds at positions I, I+N, I+2N, … of the
//! range: every seed is in exactly one shard, and each shard gets a fair share of early and late seeds.
//!
//! When `--shard` is not given, the standard batch variables name it: a Kubernetes Indexed Job's
//! `JOB_COMPLETION_INDEX` (with the count passed as `--shards N`, the Job's `completions`), or a Slurm array's
//! `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT` (less `SLURM_ARRAY_TASK_MIN` when the array does not start
//! at 0).

use std::fmt;
use std::ops::Range;

/// Shard `index` of `count` (`index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole range (one shard of one).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `I/N` with 0 <= I < N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("expected a shard I/N with 0 <= I < N (e.g. 0/4), found '{text}'");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u64>().map_err(|_| bad())?, n.trim().parse::<u64>().map_err(|_| bad())?);
        Shard::new(index, count).ok_or_else(bad)
    }

    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// The shard to run: `explicit` (`--shard I/N`) if given, else the batch variables `var` finds (`--shards N`
    /// is the count for `JOB_COMPLETION_INDEX`), else the whole range. `source` says where it came from.
    pub fn choose(
        explicit: Option<Shard>,
        shards: Option<u64>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Shard, &'static str), String> {
        if let Some(shard) = explicit {
            return Ok((shard, "--shard"));
        }
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("{name}={v} is not a whole number")))
                .transpose()
        };
        if let (Some(id), Some(count)) = (number("SLURM_ARRAY_TASK_ID")?, number("SLURM_ARRAY_TASK_COUNT")?) {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).filter(|i| *i < count).ok_or_else(|| {
                format!(
                    "SLURM_ARRAY_TASK_ID={id} (min {min}) is not one of {count} consecutive tasks: \
                     use an array without a step (e.g. --array=0-{}) or pass --shard I/N",
                    count.saturating_sub(1)
                )
            })?;
            return Ok((Shard { index, count }, "SLURM_ARRAY_TASK_ID"));
        }
        match (number("JOB_COMPLETION_INDEX")?, shards) {
            (Some(index), Some(count)) => Shard::new(index, count)
                .map(|s| (s, "JOB_COMPLETION_INDEX"))
                .ok_or_else(|| format!("JOB_COMPLETION_INDEX={index} is not below --shards {count}")),
            (Some(index), None) => Err(format!(
                "JOB_COMPLETION_INDEX={index} is set: pass --shards N (the Job's completions) to run shard {index}/N, \
                 or --shard 0/1 to run every seed here"
            )),
            (None, Some(count)) => Err(format!(
                "--shards {count} needs a shard index: pass --shard I/{count}, or run as a Kubernetes Indexed Job \
                 (JOB_COMPLETION_INDEX)"
            )),
            (None, None) => Ok((Shard::ALL, "")),
        }
    }

    /// The seeds of `range` in this shard, in order.
    pub fn seeds(self, range: Range<u64>) -> Vec<u64> {
        range.clone().filter(|s| (s - range.start) % self.count == self.index).collect()
    }

    pub fn is_all(self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn every_seed_is_in_exactly_one_shard() {
        let range = 5..1006;
        let mut all: Vec<u64> = (0..4).flat_map(|i| Shard { index: i, count: 4 }.seeds(range.clone())).collect();
        all.sort_unstable();
        assert_eq!(all, range.collect::<Vec<_>>());
        assert_eq!(Shard { index: 1, count: 4 }.seeds(5..14), [6, 10]);
        assert_eq!(Shard::ALL.seeds(3..6), [3, 4, 5]);
    }

    #[test]
    fn a_shard_is_written_i_slash_n_with_i_below_n() {
        assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_batch_variables() {
        let vars = [("JOB_COMPLETION_INDEX", "2")];
        let explicit = Shard::new(1, 3);
        assert_eq!(Shard::choose(explicit, None, &env(&vars)), Ok((Shard { index: 1, count: 3 }, "--shard")));
    }

    #[test]
    fn a_kubernetes_indexed_job_names_the_shard_with_the_count_passed() {
        let vars = [("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(
            Shard::choose(None, Some(4), &env(&vars)),
            Ok((Shard { index: 2, count: 4 }, "JOB_COMPLETION_INDEX"))
        );
        assert!(Shard::choose(None, None, &env(&vars)).unwrap_err().contains("--shards N"));
        assert!(Shard::choose(None, Some(2), &env(&vars)).unwrap_err().contains("not below --shards 2"));
        assert!(Shard::choose(None, Some(2), &env(&[])).unwrap_err().contains("needs a shard index"));
    }

    #[test]
    fn a_slurm_array_names_the_shard_from_its_first_task() {
        let vars = [("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "5")];
        assert_eq!(Shard::choose(None, None, &env(&vars)), Ok((Shard { index: 2, count: 4 }, "SLURM_ARRAY_TASK_ID")));
        let stepped = [("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert!(Shard::choose(None, None, &env(&stepped)).unwrap_err().contains("consecutive"));
        let garbage = [("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert!(Shard::choose(None, None, &env(&garbage)).unwrap_err().contains("SLURM_ARRAY_TASK_ID=x"));
    }

    #[test]
    fn without_flag_or_variables_every_seed_runs() {
        assert_eq!(Shard::choose(None, None, &env(&[])), Ok((Shard::ALL, "")));
    }
}
