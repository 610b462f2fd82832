//! What the checkers read out of CLUSTER NODES replies: one entry per line, and the per-node snapshot a
//! `settle` or `wait-consistent` step collects.

use std::collections::BTreeSet;

/// One line of a CLUSTER NODES reply:
/// `<id> <ip:port@bus> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub flags: BTreeSet<String>,
    /// The master's id for a replica (`-` otherwise).
    pub master: Option<String>,
    pub config_epoch: u64,
    /// Slot tokens as written (`0-5460`, `5461`; importing/migrating `[..]` tokens left out).
    pub slot_tokens: Vec<String>,
}

impl Entry {
    pub fn is_master(&self) -> bool {
        self.flags.contains("master")
    }

    pub fn is_replica(&self) -> bool {
        self.flags.contains("slave")
    }

    pub fn is_myself(&self) -> bool {
        self.flags.contains("myself")
    }

    /// The slot ranges the line claims (inclusive, clamped to 16,383; unparsable tokens skipped).
    pub fn slot_ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.slot_tokens.iter().filter_map(|t| {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
            (a <= 16_383).then_some((a, b.min(16_383)))
        })
    }

    /// Every slot the line claims, expanded (at most 16,384).
    pub fn slots(&self) -> Vec<u16> {
        self.slot_ranges().flat_map(|(a, b)| a..=b).collect()
    }
}

/// Number of slots in Redis Cluster.
pub const SLOTS: usize = 16_384;

/// A slot and the indexes of the two entries that both claim it.
pub type SlotConflict = (u16, usize, usize);

/// Each slot's owner as an index into `entries` (one flat array: checkers run this on every NODES reply of a
/// history, settle polls included), and the first slot that two different entries claim, with both indexes.
pub fn slot_owners(entries: &[Entry]) -> (Vec<Option<u16>>, Option<SlotConflict>) {
    let mut owner: Vec<Option<u16>> = vec![None; SLOTS];
    if let Some(ranges) = disjoint_ranges(entries) {
        for &(a, b, i) in &ranges {
            owner[usize::from(a)..=usize::from(b)].fill(Some(i));
        }
        return (owner, None);
    }
    let mut conflict = None;
    // A reply of more than 65,535 lines is not judged for owners (no cluster here comes near).
    for (i, e) in entries.iter().enumerate().take(usize::from(u16::MAX)) {
        let index = i as u16;
        for (a, b) in e.slot_ranges() {
            for slot in a..=b {
                match owner[usize::from(slot)] {
                    Some(first) if first != index && entries[usize::from(first)].id != e.id => {
                        conflict = conflict.or(Some((slot, usize::from(first), i)));
                    }
                    _ => owner[usize::from(slot)] = Some(index),
                }
            }
        }
    }
    (owner, conflict)
}

/// Consecutive slots with one owner (an index into the entries or ids of a view, or none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnerRun {
    pub start: u16,
    pub end: u16,
    pub owner: Option<u16>,
}

/// [`slot_owners`] as runs covering slots 0..=16383 in order: straight from the lines' ranges when they are
/// disjoint (almost every reply), folded from the per-slot table otherwise.
pub fn slot_owner_runs(entries: &[Entry]) -> (Vec<OwnerRun>, Option<SlotConflict>) {
    let Some(ranges) = disjoint_ranges(entries) else {
        let (owners, conflict) = slot_owners(entries);
        return (runs_of(&owners), conflict);
    };
    let mut runs = Vec::with_capacity(2 * ranges.len() + 1);
    let mut next = 0u16; // the first slot no run covers yet
    for (a, b, i) in ranges {
        if a > next {
            runs.push(OwnerRun { start: next, end: a - 1, owner: None });
        }
        match runs.last_mut() {
            Some(last) if last.owner == Some(i) && last.end.checked_add(1) == Some(a) => last.end = b,
            _ => runs.push(OwnerRun { start: a, end: b, owner: Some(i) }),
        }
        next = b.saturating_add(1);
    }
    if usize::from(next) < SLOTS {
        runs.push(OwnerRun { start: next, end: (SLOTS - 1) as u16, owner: None });
    }
    (runs, None)
}

/// The first slot two different entries claim (see [`slot_owners`]); no table built when the ranges are
/// disjoint.
pub fn slot_conflict(entries: &[Entry]) -> Option<SlotConflict> {
    disjoint_ranges(entries).map_or_else(|| slot_owners(entries).1, |_| None)
}

/// Every entry's slot ranges as `(first, last, entry index)` in slot order, if no two overlap (then each slot has
/// the one owner its range names, and there is no conflict); `None` otherwise (a conflict, one id on two lines, a
/// range repeated), which [`slot_owners`] judges slot by slot. Inverted ranges name no slot and are left out.
fn disjoint_ranges(entries: &[Entry]) -> Option<Vec<(u16, u16, u16)>> {
    let mut ranges: Vec<(u16, u16, u16)> = Vec::new();
    for (i, e) in entries.iter().enumerate().take(usize::from(u16::MAX)) {
        ranges.extend(e.slot_ranges().filter(|(a, b)| a <= b).map(|(a, b)| (a, b, i as u16)));
    }
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 < w[1].0).then_some(ranges)
}

/// The runs of a per-slot owner table, in slot order, covering every slot of it.
pub fn runs_of(owners: &[Option<u16>]) -> Vec<OwnerRun> {
    let mut runs: Vec<OwnerRun> = Vec::new();
    for (slot, owner) in owners.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if run.owner == *owner => run.end = slot as u16,
            _ => runs.push(OwnerRun { start: slot as u16, end: slot as u16, owner: *owner }),
        }
    }
    runs
}

/// Parses the lines of a CLUSTER NODES reply; lines that do not have the nine-plus fields are skipped.
pub fn parse_nodes(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 8 {
                return None;
            }
            Some(Entry {
                id: fields[0].to_string(),
                flags: fields[2].split(',').map(str::to_string).collect(),
                master: (fields[3] != "-").then(|| fields[3].to_string()),
                config_epoch: fields[6].parse().ok()?,
                slot_tokens: fields[8..]
                    .iter()
                    .filter(|t| !t.starts_with('[') && !t.is_empty())
                    .map(|t| t.to_string())
                    .collect(),
            })
        })
        .collect()
}

/// redis-cli's config signature (`clusterManagerGetConfigSignature`): for every line that has slots,
/// `id:` + its slot tokens sorted as strings and joined by `,`; the entries sorted and joined by `|`.
/// Flags, epochs and replica links are not part of it.
pub fn config_signature(text: &str) -> String {
    let mut entries: Vec<String> = parse_nodes(text)
        .into_iter()
        .filter(|e| !e.slot_tokens.is_empty())
        .map(|e| {
            let mut tokens = e.slot_tokens.clone();
            tokens.sort();
            format!("{}:{}", e.id, tokens.join(","))
        })
        .collect();
    entries.sort();
    entries.join("|")
}

/// What one node answered at one moment of a `settle` / `wait-consistent` poll. Errors are kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// 1-based node index.
    pub node: usize,
    /// CLUSTER NODES, or the error it answered.
    pub nodes: Result<String, String>,
    /// CLUSTER SLOTS as shown in traces, or the error it answered (`None`: not asked).
    pub slots: Option<Result<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
b 10.0.0.2:6380@16380 master - 0 1 2 connected 5461-10922
a 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460 [93->-c]
c 10.0.0.3:6381@16381 slave a 0 1 1 connected
";

    #[test]
    fn nodes_lines_parse_into_entries() {
        let e = parse_nodes(NODES);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].id, "a");
        assert!(e[1].is_myself() && e[1].is_master());
        assert_eq!(e[1].slot_tokens, vec!["0-5460"]);
        assert_eq!(e[1].slots().len(), 5461);
        assert_eq!(e[2].master.as_deref(), Some("a"));
        assert!(e[2].is_replica());
        assert_eq!(e[0].config_epoch, 2);
    }

    #[test]
    fn signature_lists_slot_owners_sorted_and_skips_slotless_lines() {
        assert_eq!(config_signature(NODES), "a:0-5460|b:5461-10922");
        assert_eq!(config_signature("x 1:1@2 myself,master - 0 0 0 connected 7 10-11 3\n"), "x:10-11,3,7");
        assert_eq!(config_signature(""), "");
    }

    fn line(id: &str, slots: &str) -> String {
        format!("{id} 10.0.0.1:6379@16379 master - 0 0 1 connected {slots}\n")
    }

    /// The owners slot by slot, as the rule reads: each line's slots in order; a slot another id took first
    /// stays its and is the conflict (the first one met); a slot the same id took (a line listed twice) moves.
    fn owners_one_by_one(entries: &[Entry]) -> (Vec<Option<u16>>, Option<SlotConflict>) {
        let mut owner = vec![None; SLOTS];
        let mut conflict = None;
        for (i, e) in entries.iter().enumerate() {
            for slot in e.slot_ranges().flat_map(|(a, b)| a..=b) {
                match owner[usize::from(slot)] {
                    Some(first) if usize::from(first) != i && entries[usize::from(first)].id != e.id => {
                        conflict = conflict.or(Some((slot, usize::from(first), i)))
                    }
                    _ => owner[usize::from(slot)] = Some(i as u16),
                }
            }
        }
        (owner, conflict)
    }

    #[test]
    fn slot_owners_fill_disjoint_ranges_and_find_the_first_conflict_slot_by_slot() {
        let cases = [
            // disjoint, out of order, single slots, an inverted range (ignored), the last slot
            vec![line("a", "0-5460 9000"), line("b", "5461-8999 9001-16383"), line("c", "20-10")],
            // two ids claim 100-200 and 150-300: slot 150 is the first conflict and stays a's
            vec![line("a", "0-99 100-200"), line("b", "150-300"), line("c", "301-400")],
            // one id on two lines (the model checker's ListedTwice): no conflict, the later line owns
            vec![line("a", "0-10"), line("a", "5-20")],
            // ranges adjacent, not overlapping; one repeated within a line
            vec![line("a", "0-9 10-19"), line("b", "20-29 20-29")],
            vec![line("a", "0-9 10-19 16383"), line("b", "20-29")],
            vec![],
        ];
        for lines in cases {
            let entries = parse_nodes(&lines.concat());
            let (owners, conflict) = owners_one_by_one(&entries);
            assert_eq!(slot_owners(&entries), (owners.clone(), conflict), "{lines:?}");
            assert_eq!(slot_owner_runs(&entries), (runs_of(&owners), conflict), "{lines:?}");
            assert_eq!(slot_conflict(&entries), conflict, "{lines:?}");
            let runs = slot_owner_runs(&entries).0;
            assert!(runs.first().is_some_and(|r| r.start == 0) && runs.last().is_some_and(|r| r.end == 16_383));
        }
        let entries = parse_nodes(&[line("a", "0-99 100-200"), line("b", "150-300")].concat());
        assert_eq!(slot_owners(&entries).1, Some((150, 0, 1)));
    }
}
