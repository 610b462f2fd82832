//! Property: log matching and state-machine safety — no two nodes apply different entries at one index of a
//! group, and a log id names one entry.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 3: "State Machine Safety: if a server has applied
//! a log entry at a given index to its state machine, no other server will ever apply a different log entry for
//! the same index" (§5.4.3), and "Log Matching: if two logs contain an entry with the same index and term, then
//! the logs are identical in all entries up through the given index" (§5.3), whose base is that a leader creates
//! at most one entry per index in its term. With openraft's advanced leader ids, an entry's "term" is its leader
//! id (term and leader node).
//!
//! Judged on every `apply` (log id and payload hash, per group and index, across all nodes, incarnations and
//! restarts), every `snapshot` installed (its last log id against what was applied there) and every `append`
//! (one payload per log id).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Class, Property, Violation};
use crate::raft_events::{secs, Kind, LogId, RaftEvent};

pub const PROPERTY: Property = Property { name: "log_matching", class: Class::Safety };

/// Checks the run's applies, snapshots and appends. One violation per (group, index).
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    // (group, index) -> the first entry applied there: log id, hash, node, time.
    let mut applied: BTreeMap<(u64, u64), (&LogId, u64, &str, Duration)> = BTreeMap::new();
    // (group, log id) -> the first payload appended under it.
    let mut created: BTreeMap<(u64, &LogId), (u64, &str, Duration)> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    for e in events {
        let found = match &e.kind {
            Kind::Apply { id, hash } => {
                let first = *applied.entry((e.group, id.index)).or_insert((id, *hash, &e.node, e.at));
                (first.0 != id || first.1 != *hash).then(|| {
                    let (fid, fhash, fnode, fat) = first;
                    let fact = format!(
                        "{}: {} applied {id} ({hash:016x}) in group {:016x}, where {fnode} applied {fid} ({fhash:016x}) at {}",
                        secs(e.at),
                        e.node,
                        e.group,
                        secs(fat)
                    );
                    ("AppliedDifferentEntries", id.index, fact)
                })
            }
            Kind::Snapshot { last: Some(id) } => applied.get(&(e.group, id.index)).and_then(|(fid, _, fnode, fat)| {
                (*fid != id).then(|| {
                    let fact = format!(
                        "{}: {} installed a snapshot up to {id} in group {:016x}, where {fnode} applied {fid} at {}",
                        secs(e.at),
                        e.node,
                        e.group,
                        secs(*fat)
                    );
                    ("SnapshotOfOtherEntries", id.index, fact)
                })
            }),
            Kind::Append { id, hash } => {
                let (fhash, fnode, fat) = *created.entry((e.group, id)).or_insert((*hash, &e.node, e.at));
                (fhash != *hash).then(|| {
                    let fact = format!(
                        "{}: {} appended {id} with payload {hash:016x} in group {:016x}, where {fnode} appended {fhash:016x} under that id at {}",
                        secs(e.at),
                        e.node,
                        e.group,
                        secs(fat)
                    );
                    ("OneLogIdTwoEntries", id.index, fact)
                })
            }
            _ => None,
        };
        if let Some((kind, index, fact)) = found {
            if reported.insert((e.group, index)) {
                out.push(Violation::Broken { property: PROPERTY, kind, line: 0, fact });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    #[test]
    fn two_nodes_applying_different_payloads_at_one_index_are_reported() {
        let events = [apply(1_000, "a", 7, id(4, 2, "a"), 0xaa), apply(2_000, "b", 7, id(4, 2, "a"), 0xbb)];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "AppliedDifferentEntries");
    }

    #[test]
    fn two_nodes_applying_entries_of_different_leaders_at_one_index_are_reported() {
        let events = [apply(1_000, "a", 7, id(4, 2, "a"), 0xaa), apply(2_000, "b", 7, id(4, 3, "b"), 0xaa)];
        assert_eq!(check(&events).len(), 1);
    }

    #[test]
    fn one_log_id_with_two_payloads_is_reported() {
        let events = [append(1_000, "a", 7, id(4, 2, "a"), 0xaa), append(2_000, "b", 7, id(4, 2, "a"), 0xbb)];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "OneLogIdTwoEntries");
    }

    #[test]
    fn a_snapshot_ending_on_another_entry_than_the_applied_one_is_reported() {
        let events = [
            apply(1_000, "a", 7, id(4, 2, "a"), 0xaa),
            ev(2_000, "b", 7, Kind::Snapshot { last: Some(id(4, 3, "b")) }),
        ];
        assert_eq!(check(&events)[0].kind(), "SnapshotOfOtherEntries");
    }

    #[test]
    fn agreeing_nodes_overwritten_appends_and_other_groups_pass() {
        let events = [
            append(500, "a", 7, id(4, 2, "a"), 0xaa),
            // A later leader overwrites index 4 on b: another log id, allowed (never applied).
            append(600, "b", 7, id(4, 3, "b"), 0xcc),
            append(700, "b", 7, id(4, 2, "a"), 0xaa),
            apply(1_000, "a", 7, id(4, 2, "a"), 0xaa),
            apply(2_000, "b", 7, id(4, 2, "a"), 0xaa),
            apply(2_500, "c", 8, id(4, 5, "c"), 0xdd),
            ev(3_000, "c", 7, Kind::Snapshot { last: Some(id(4, 2, "a")) }),
        ];
        assert!(check(&events).is_empty());
    }
}
